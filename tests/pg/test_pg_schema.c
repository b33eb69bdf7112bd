// The schema on real clusters (the tools/trio fixture): evrepl migrate, the schema version,
// the append-only guards on the primary and on a replica, the replica guard of 0003, the
// notification that 0002's trigger sends when a replica applies an event, and connection
// errors that never show a password.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "adapters/postgres/admin.h"
#include "domain/event.h"
#include "domain/keys.h"
#include "migrations/migrations.h"
#include "pgtest.h"
#include "support/proc.h"
#include "support/support.h"

typedef struct fixture {
    char dir[256];    // scratch files (evrepl's output)
    char scratch[48]; // a database of our own on the primary
    char scratch_ci[1200];
    char key_path[300];
} fixture;

static int
setup(void **state)
{
    fixture *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    assert_true(evri_crypto_init());
    assert_true(evri_test_tmpdir(f->dir));
    snprintf(f->scratch, sizeof(f->scratch), "evrepl_schema_%d", (int)getpid());
    pgt_conninfo_db(PGT_PRIMARY, f->scratch, f->scratch_ci, sizeof(f->scratch_ci));
    char sql[128];
    snprintf(sql, sizeof(sql), "DROP DATABASE IF EXISTS %s", f->scratch);
    pgt_exec(pgt_conninfo(PGT_PRIMARY), sql);
    snprintf(sql, sizeof(sql), "CREATE DATABASE %s TEMPLATE template0 ENCODING 'UTF8'", f->scratch);
    pgt_exec(pgt_conninfo(PGT_PRIMARY), sql);
    snprintf(f->key_path, sizeof(f->key_path), "%s/writer.key", f->dir);
    char out[256], err[1024];
    assert_int_equal(pgt_evrepl(f->dir, out, sizeof(out), err, sizeof(err), "keygen", "--out",
                                f->key_path, NULL),
                     0);
    *state = f;
    return 0;
}

static int
teardown(void **state)
{
    fixture *f = *state;
    char sql[128];
    snprintf(sql, sizeof(sql), "DROP DATABASE IF EXISTS %s WITH (FORCE)", f->scratch);
    pgt_exec(pgt_conninfo(PGT_PRIMARY), sql);
    evri_test_rmdir(f->dir);
    free(f);
    return 0;
}

// Counts the lines of s that start with prefix.
static int
count_lines(const char *s, const char *prefix)
{
    int n = 0;
    size_t plen = strlen(prefix);
    for (const char *p = s; p != NULL && *p != '\0';) {
        if (strncmp(p, prefix, plen) == 0) {
            n++;
        }
        p = strchr(p, '\n');
        p = p != NULL ? p + 1 : NULL;
    }
    return n;
}

static void
test_pg_migrate_fresh_then_noop(void **state)
{
    fixture *f = *state;
    char out[2048], err[1024], version[EVRI_PG_SCHEMA_VERSION_MAX];
    evrepl_status st;

    assert_int_equal(evri_pg_schema_version(f->scratch_ci, version, &st), EVREPL_CODE_OK);
    assert_string_equal(version, ""); // never migrated: no schema_migrations table

    assert_int_equal(pgt_evrepl(f->dir, out, sizeof(out), err, sizeof(err), "migrate", "--db",
                                f->scratch_ci, NULL),
                     0);
    assert_int_equal(count_lines(out, "applied "), (int)evri_n_migrations);
    for (size_t i = 0; i < evri_n_migrations; i++) {
        assert_non_null(strstr(out, evri_migrations[i].name));
    }
    assert_int_equal(evri_pg_schema_version(f->scratch_ci, version, &st), EVREPL_CODE_OK);
    assert_string_equal(version, evri_schema_version);

    // Twice: nothing to do, and it says so.
    assert_int_equal(pgt_evrepl(f->dir, out, sizeof(out), err, sizeof(err), "migrate", "--db",
                                f->scratch_ci, NULL),
                     0);
    assert_int_equal(count_lines(out, "applied "), 0);
    assert_non_null(strstr(out, "nothing to apply"));
    assert_int_equal(pgt_number(f->scratch_ci, "SELECT count(*) FROM schema_migrations"),
                     (long long)evri_n_migrations);
    // schema_migrations is every node's own: never published.
    assert_int_equal(pgt_number(f->scratch_ci, "SELECT count(*) FROM pg_publication_tables "
                                               "WHERE tablename = 'schema_migrations'"),
                     0);

    // --json: one object.
    assert_int_equal(pgt_evrepl(f->dir, out, sizeof(out), err, sizeof(err), "--json", "migrate",
                                "--db", f->scratch_ci, NULL),
                     0);
    assert_non_null(strstr(out, "\"applied\":[]"));
    assert_non_null(strstr(out, evri_schema_version));
}

static void
test_pg_migrate_trio_nodes_are_current(void **state)
{
    fixture *f = *state;
    const char *nodes[] = {PGT_PRIMARY, PGT_US_EAST, PGT_EU_WEST, PGT_AP_SOUTH};
    for (size_t i = 0; i < 4; i++) {
        char out[1024], err[1024], version[EVRI_PG_SCHEMA_VERSION_MAX];
        evrepl_status st;
        assert_int_equal(pgt_evrepl(f->dir, out, sizeof(out), err, sizeof(err), "migrate", "--db",
                                    pgt_conninfo(nodes[i]), NULL),
                         0);
        assert_int_equal(count_lines(out, "applied "), 0);
        evri_pg_db *db = pgt_open(pgt_conninfo(nodes[i]));
        assert_int_equal(evri_pg_db_schema_version(db, version, &st), EVREPL_CODE_OK);
        assert_string_equal(version, evri_schema_version);
        assert_int_equal(evri_pg_db_require_schema(db, &st), EVREPL_CODE_OK);
        evri_pg_db_close(db);
    }
}

static void
test_pg_migrate_concurrent_migrators_apply_once(void **state)
{
    fixture *f = *state;
    char db[96], ci[1200], sql[200];
    snprintf(db, sizeof(db), "%s_race", f->scratch);
    pgt_conninfo_db(PGT_PRIMARY, db, ci, sizeof(ci));
    snprintf(sql, sizeof(sql), "DROP DATABASE IF EXISTS %s", db);
    pgt_exec(pgt_conninfo(PGT_PRIMARY), sql);
    snprintf(sql, sizeof(sql), "CREATE DATABASE %s TEMPLATE template0 ENCODING 'UTF8'", db);
    pgt_exec(pgt_conninfo(PGT_PRIMARY), sql);

    enum { N = 4 };
    tproc p[N];
    char bin[1024];
    snprintf(bin, sizeof(bin), "%s/evrepl", tproc_bin_dir());
    char *argv[] = {bin, "migrate", "--db", ci, NULL};
    for (int i = 0; i < N; i++) {
        assert_true(tproc_start(&p[i], f->dir, argv));
    }
    int applied = 0;
    for (int i = 0; i < N; i++) {
        char out[2048], err[1024];
        int rc = tproc_wait(&p[i], 120000);
        tproc_slurp(p[i].out_path, out, sizeof(out));
        tproc_slurp(p[i].err_path, err, sizeof(err));
        if (rc != 0) {
            fail_msg("migrator %d exited %d: %s", i, rc, err);
        }
        applied += count_lines(out, "applied ");
    }
    assert_int_equal(applied, (int)evri_n_migrations); // each migration by exactly one
    assert_int_equal(pgt_number(ci, "SELECT count(*) FROM schema_migrations"),
                     (long long)evri_n_migrations);
    snprintf(sql, sizeof(sql), "DROP DATABASE %s WITH (FORCE)", db);
    pgt_exec(pgt_conninfo(PGT_PRIMARY), sql);
}

static void
test_pg_migrate_refuses_foreign_history_and_non_utf8(void **state)
{
    fixture *f = *state;
    char db[96], ci[1200], sql[240];
    evrepl_status st;

    // A database migrated by a newer evrepl: a migration this build does not know.
    snprintf(db, sizeof(db), "%s_newer", f->scratch);
    pgt_conninfo_db(PGT_PRIMARY, db, ci, sizeof(ci));
    snprintf(sql, sizeof(sql), "CREATE DATABASE %s TEMPLATE template0 ENCODING 'UTF8'", db);
    pgt_exec(pgt_conninfo(PGT_PRIMARY), sql);
    assert_int_equal(evri_pg_migrate(ci, NULL, NULL, NULL, &st), EVREPL_CODE_OK);
    pgt_exec(ci, "INSERT INTO schema_migrations (version, name) VALUES ('9999', '9999_x.sql')");
    assert_int_equal(evri_pg_migrate(ci, NULL, NULL, NULL, &st), EVREPL_CODE_FAILED_PRECONDITION);
    assert_non_null(strstr(st.message, "upgrade evrepl"));
    evri_pg_db *h = pgt_open(ci);
    assert_int_equal(evri_pg_db_require_schema(h, &st), EVREPL_CODE_FAILED_PRECONDITION);
    assert_non_null(strstr(st.message, "newer"));
    evri_pg_db_close(h);
    snprintf(sql, sizeof(sql), "DROP DATABASE %s WITH (FORCE)", db);
    pgt_exec(pgt_conninfo(PGT_PRIMARY), sql);

    // A database that is not UTF8: event types would not round-trip.
    snprintf(db, sizeof(db), "%s_latin1", f->scratch);
    pgt_conninfo_db(PGT_PRIMARY, db, ci, sizeof(ci));
    snprintf(sql, sizeof(sql),
             "CREATE DATABASE %s TEMPLATE template0 ENCODING 'LATIN1' LC_COLLATE 'C' "
             "LC_CTYPE 'C'",
             db);
    pgt_exec(pgt_conninfo(PGT_PRIMARY), sql);
    char out[1024], err[1024];
    assert_int_equal(
        pgt_evrepl(f->dir, out, sizeof(out), err, sizeof(err), "migrate", "--db", ci, NULL), 3);
    assert_non_null(strstr(err, "UTF8"));
    assert_int_equal(pgt_number(ci, "SELECT count(*) FROM pg_tables WHERE tablename = 'events'"),
                     0);
    snprintf(sql, sizeof(sql), "DROP DATABASE %s WITH (FORCE)", db);
    pgt_exec(pgt_conninfo(PGT_PRIMARY), sql);
}

static void
test_pg_guards_refuse_mutation_on_primary_and_replica(void **state)
{
    fixture *f = *state;
    char out[1024], err[1024];
    // Make sure there is a row to protect.
    assert_int_equal(pgt_evrepl(f->dir, out, sizeof(out), err, sizeof(err), "register-key", "--db",
                                pgt_conninfo(PGT_PRIMARY), "--key", f->key_path, NULL),
                     0);
    assert_int_equal(pgt_evrepl(f->dir, out, sizeof(out), err, sizeof(err), "append", "--db",
                                pgt_conninfo(PGT_PRIMARY), "--key", f->key_path, "--type",
                                "guard.test", "--payload", "x", NULL),
                     0);
    const char *nodes[] = {PGT_PRIMARY, PGT_US_EAST};
    for (size_t i = 0; i < 2; i++) {
        const char *ci = pgt_conninfo(nodes[i]);
        // The row may still be on its way to the replica.
        for (int t = 0; t < 300 && pgt_number(ci, "SELECT count(*) FROM events") == 0; t++) {
            pgt_sleep_ms(100);
        }
        long long before = pgt_number(ci, "SELECT count(*) FROM events");
        assert_true(before > 0);
        pgt_exec_fails(ci, "UPDATE events SET event_type = 'x'", "42501");
        pgt_exec_fails(ci, "DELETE FROM events", "42501");
        pgt_exec_fails(ci, "TRUNCATE events", "42501");
        pgt_exec_fails(ci, "TRUNCATE events CASCADE", "42501");
        pgt_exec_fails(ci, "UPDATE signing_keys SET created_at = now()", "42501");
        pgt_exec_fails(ci, "DELETE FROM signing_keys", "42501");
        pgt_exec_fails(ci, "TRUNCATE signing_keys", "42501");
        assert_int_equal(pgt_number(ci, "SELECT count(*) FROM events"), before);
    }
}

static void
test_pg_replica_refuses_local_inserts(void **state)
{
    fixture *f = *state;
    char out[1024], err[2048];
    const char *ci = pgt_conninfo(PGT_EU_WEST);
    pgt_exec_fails(ci,
                   "INSERT INTO signing_keys (key_id, public_key) VALUES "
                   "(repeat('a', 32), decode(repeat('ab', 32), 'hex'))",
                   "25006");
    // The tools pointed at a replica by mistake fail cleanly, and apply goes on.
    assert_int_equal(pgt_evrepl(f->dir, out, sizeof(out), err, sizeof(err), "register-key", "--db",
                                ci, "--key", f->key_path, NULL),
                     3);
    assert_non_null(strstr(err, "replica"));
    assert_int_equal(pgt_evrepl(f->dir, out, sizeof(out), err, sizeof(err), "register-key", "--db",
                                pgt_conninfo(PGT_PRIMARY), "--key", f->key_path, NULL),
                     0);
    long long seq = pgt_number(pgt_conninfo(PGT_PRIMARY), "SELECT max(sequence) FROM events");
    assert_int_equal(pgt_evrepl(f->dir, out, sizeof(out), err, sizeof(err), "append", "--db", ci,
                                "--key", f->key_path, "--type", "misdirected", "--payload", "x",
                                NULL),
                     3);
    assert_non_null(strstr(err, "replica"));
    assert_int_equal(pgt_evrepl(f->dir, out, sizeof(out), err, sizeof(err), "append", "--db",
                                pgt_conninfo(PGT_PRIMARY), "--key", f->key_path, "--type",
                                "after.misdirected", "--payload", "x", NULL),
                     0);
    long long got = 0;
    for (int t = 0; t < 300; t++) {
        got = pgt_number(ci, "SELECT coalesce(max(sequence), 0) FROM events");
        if (got > seq) {
            break;
        }
        pgt_sleep_ms(100);
    }
    assert_true(got > seq); // replication still flows
}

static void
test_pg_replica_apply_notifies_listeners(void **state)
{
    fixture *f = *state;
    char out[1024], err[1024], payload[128];
    evrepl_status st;
    const char *replicas[] = {PGT_US_EAST, PGT_EU_WEST, PGT_AP_SOUTH};
    evri_pg_db *l[3];
    for (size_t i = 0; i < 3; i++) {
        l[i] = pgt_open(pgt_conninfo(replicas[i]));
        assert_int_equal(evri_pg_db_listen(l[i], "evrepl_event", &st), EVREPL_CODE_OK);
    }
    assert_int_equal(pgt_evrepl(f->dir, out, sizeof(out), err, sizeof(err), "register-key", "--db",
                                pgt_conninfo(PGT_PRIMARY), "--key", f->key_path, NULL),
                     0);
    uint64_t t0 = (uint64_t)time(NULL);
    assert_int_equal(pgt_evrepl(f->dir, out, sizeof(out), err, sizeof(err), "append", "--db",
                                pgt_conninfo(PGT_PRIMARY), "--key", f->key_path, "--type",
                                "notify.test", "--payload", "ping", NULL),
                     0);
    out[strcspn(out, "\n")] = '\0';
    assert_int_equal(strlen(out), EVREPL_UUID_STR_LEN);
    for (size_t i = 0; i < 3; i++) {
        // Other events may be applied meanwhile: wait for ours.
        for (;;) {
            assert_int_equal(evri_pg_db_wait_notify(l[i], 30000, payload, sizeof(payload), &st),
                             EVREPL_CODE_OK);
            if (strcmp(payload, out) == 0) {
                break;
            }
            assert_true((uint64_t)time(NULL) - t0 < 60);
        }
        // The notification came from the apply: the row is there when it arrives.
        char sql[160];
        snprintf(sql, sizeof(sql), "SELECT count(*) FROM events WHERE event_id = '%.36s'", out);
        assert_int_equal(pgt_number(pgt_conninfo(replicas[i]), sql), 1);
        evri_pg_db_close(l[i]);
    }
    // No listener is left hanging on a timeout either.
    evri_pg_db *idle = pgt_open(pgt_conninfo(PGT_US_EAST));
    assert_int_equal(evri_pg_db_listen(idle, "evrepl_nothing_here", &st), EVREPL_CODE_OK);
    assert_int_equal(evri_pg_db_wait_notify(idle, 200, payload, sizeof(payload), &st),
                     EVREPL_CODE_DEADLINE_EXCEEDED);
    assert_int_equal(evri_pg_db_listen(idle, "Bad-Name", &st), EVREPL_CODE_INVALID_ARGUMENT);
    evri_pg_db_close(idle);
}

// A failed connection: exit 3, one line on stderr, and neither the password nor the
// conninfo in it.
static void
expect_db_error(fixture *f, const char *cmd, const char *conninfo, const char *secret)
{
    char out[1024], err[2048];
    int rc;
    if (strcmp(cmd, "append") == 0) {
        rc = pgt_evrepl(f->dir, out, sizeof(out), err, sizeof(err), cmd, "--db", conninfo, "--key",
                        f->key_path, "--type", "t", "--payload", "x", NULL);
    } else if (strcmp(cmd, "register-key") == 0) {
        rc = pgt_evrepl(f->dir, out, sizeof(out), err, sizeof(err), cmd, "--db", conninfo, "--key",
                        f->key_path, NULL);
    } else {
        rc = pgt_evrepl(f->dir, out, sizeof(out), err, sizeof(err), cmd, "--db", conninfo, NULL);
    }
    if (rc != 3) {
        fail_msg("%s exited %d, want 3: %s", cmd, rc, err);
    }
    assert_null(strstr(err, secret));
    assert_null(strstr(err, "password="));
    assert_null(strstr(err, conninfo));
    assert_int_equal(count_lines(err, ""), 1); // one line
    assert_non_null(strstr(err, "evrepl: "));
    assert_string_equal(out, "");
}

static void
test_pg_bad_conninfo_exit_3_without_password(void **state)
{
    fixture *f = *state;
    char ci[1400];
    int closed = tproc_free_port();
    const char *cmds[] = {"migrate", "register-key", "append"};
    for (size_t i = 0; i < 3; i++) {
        // Nothing listens there.
        snprintf(ci, sizeof(ci),
                 "host=127.0.0.1 port=%d user=evrepl password=Sup3rS3cretPw dbname=evrepl "
                 "connect_timeout=5",
                 closed);
        expect_db_error(f, cmds[i], ci, "Sup3rS3cretPw");
        snprintf(ci, sizeof(ci), "postgresql://evrepl:UriS3cretPw@127.0.0.1:%d/evrepl", closed);
        expect_db_error(f, cmds[i], ci, "UriS3cretPw");
        // A live server and a wrong password (the passfile is overridden by password=).
        snprintf(ci, sizeof(ci), "%s password=Wr0ngS3cretPw", pgt_conninfo(PGT_PRIMARY));
        expect_db_error(f, cmds[i], ci, "Wr0ngS3cretPw");
        // Not a conninfo at all.
        expect_db_error(f, cmds[i], "host=127.0.0.1 password=Br0kenS3cretPw oops",
                        "Br0kenS3cretPw");
    }
}

int
main(void)
{
    char why[512];
    if (!pgt_trio_ready(why, sizeof(why))) {
        return pgt_unavailable("test_pg_schema", why);
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pg_migrate_fresh_then_noop),
        cmocka_unit_test(test_pg_migrate_trio_nodes_are_current),
        cmocka_unit_test(test_pg_migrate_concurrent_migrators_apply_once),
        cmocka_unit_test(test_pg_migrate_refuses_foreign_history_and_non_utf8),
        cmocka_unit_test(test_pg_guards_refuse_mutation_on_primary_and_replica),
        cmocka_unit_test(test_pg_replica_refuses_local_inserts),
        cmocka_unit_test(test_pg_replica_apply_notifies_listeners),
        cmocka_unit_test(test_pg_bad_conninfo_exit_3_without_password),
    };
    return cmocka_run_group_tests_name("pg_schema", tests, setup, teardown);
}
