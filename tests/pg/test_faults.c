// Faults under the postgres backend: a replica blocked by a lock (slow), a flood of
// notifications to an idle server, a connect cut by a deadline and then left alone, a replica
// killed with SIGKILL in the middle of a full audit. Every call returns before its deadline
// with the truth about each replica, and the same server recovers by itself.
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
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
#include "adapters/postgres/pgnode.h"
#include "adapters/postgres/writer.h"
#include "common/clock.h"
#include "common/keyfile.h"
#include "domain/keys.h"
#include "domain/status.h"
#include "evrepl/client.h"
#include "pgtest.h"
#include "server/config.h"
#include "server/server.h"
#include "support/support.h"

static evri_signer *writer;
static evri_server *srv;
static char url[64];
static char last_id[EVREPL_UUID_STR_LEN + 1];

static evrepl_code
on_batch(void *arg, const evri_event *events, size_t n, evrepl_status *st)
{
    (void)arg;
    evrepl_uuid_format(events[n - 1].event_id, last_id);
    return evri_status_ok(st);
}

static void
append(uint64_t count)
{
    pgt_append(writer, "test.faults", count, on_batch, NULL);
}

static int
group_setup(void **state)
{
    (void)state;
    evrepl_status st;
    assert_int_equal(evri_signer_generate(&writer, &st), EVREPL_CODE_OK);
    pgt_register_key(writer);
    append(20000);
    snprintf(url, sizeof(url), "inproc://pg-faults-%d", (int)getpid());
    srv = pgt_server_start(url, "workers", "3", (const char *)NULL);
    return 0;
}

static int
group_teardown(void **state)
{
    (void)state;
    evri_server_destroy(srv);
    evri_signer_destroy(writer);
    return 0;
}

static evrepl_client *
client(void)
{
    evrepl_client_opts o = {.url = url, .timeout_ms = 5000};
    evrepl_client *c = NULL;
    evrepl_status st;
    assert_int_equal(evrepl_client_create(&c, &o, &st), EVREPL_CODE_OK);
    return c;
}

static void
await_valid(evrepl_client *c, unsigned seconds)
{
    uint64_t until = evri_now_ns() + (uint64_t)seconds * 1000 * EVRI_NS_PER_MS;
    for (;;) {
        evrepl_verification v = {0};
        evrepl_status st;
        evrepl_call_opts co = {.timeout_ms = 3000};
        evrepl_code code = evrepl_client_verify_replicas(c, NULL, &co, &v, &st);
        bool ok = code == EVREPL_CODE_OK && evrepl_verification_is_valid(&v);
        char why[300] = "";
        if (code != EVREPL_CODE_OK) {
            snprintf(why, sizeof(why), "%s: %s", evrepl_code_name(code), st.message);
        } else if (v.n_errors > 0) {
            snprintf(why, sizeof(why), "%s", v.errors[0]);
        }
        evrepl_verification_clear(&v);
        if (ok) {
            return;
        }
        if (evri_now_ns() > until) {
            fail_msg("the server did not recover: %s", why);
        }
        struct timespec ts = {0, 200 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
}

// How many sessions evrepld's workers hold on a node (that match an extra condition).
static int
worker_sessions_where(const char *node, const char *cond)
{
    evri_pg_db *db = pgt_open(pgt_conninfo(node));
    char sql[256], n[32];
    evrepl_status st;
    snprintf(sql, sizeof(sql),
             "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'evrepld' AND %s",
             cond);
    evrepl_code code = evri_pg_db_query_value(db, sql, n, sizeof(n), &st);
    evri_pg_db_close(db);
    if (code != EVREPL_CODE_OK) {
        fail_msg("counting sessions on %s: %s", node, st.message);
    }
    return atoi(n);
}

static int
worker_sessions(const char *node)
{
    return worker_sessions_where(node, "true");
}

// After every test, passed or failed: nodes up again.
static int
repair(void **state)
{
    (void)state;
    pgt_start(PGT_PRIMARY);
    pgt_start(PGT_US_EAST);
    pgt_start(PGT_EU_WEST);
    pgt_start(PGT_AP_SOUTH);
    return 0;
}

static void
test_faults_replica_blocked_by_a_lock(void **state)
{
    (void)state;
    evrepl_client *c = client();
    await_valid(c, 60);
    // eu-west's events table is locked by a transaction that stays open.
    evri_pg_db *locker = NULL;
    evrepl_status st;
    char sqlstate[6];
    assert_int_equal(evri_pg_db_open(&locker, pgt_conninfo(PGT_EU_WEST), &st), EVREPL_CODE_OK);
    assert_int_equal(
        evri_pg_db_exec(locker, "BEGIN; LOCK TABLE events IN ACCESS EXCLUSIVE MODE", sqlstate, &st),
        EVREPL_CODE_OK);
    append(1);
    for (int round = 0; round < 3; round++) {
        evrepl_verification v = {0};
        evrepl_call_opts co = {.timeout_ms = 1500};
        uint64_t t0 = evri_now_ns();
        assert_int_equal(evrepl_client_verify_replicas(c, NULL, &co, &v, &st), EVREPL_CODE_OK);
        uint64_t took = evri_now_ns() - t0;
        assert_true(took < 1500 * EVRI_NS_PER_MS);
        const evrepl_replica_verification *eu = pgt_replica(&v, PGT_EU_WEST);
        assert_false(eu->reachable);
        assert_non_null(strstr(eu->errors[0], "no answer before the deadline"));
        assert_true(pgt_replica(&v, PGT_US_EAST)->head_hash_match);
        assert_true(pgt_replica(&v, PGT_AP_SOUTH)->head_hash_match);
        evrepl_verification_clear(&v);

        evrepl_receipt r = {0};
        t0 = evri_now_ns();
        assert_int_equal(evrepl_client_propagate_event(c, last_id, &co, &r, &st), EVREPL_CODE_OK);
        assert_true(evri_now_ns() - t0 < 1500 * EVRI_NS_PER_MS);
        assert_int_equal(r.status, EVREPL_REPLICATION_STATUS_PENDING);
        assert_int_equal(r.acks[1].state, EVREPL_ACK_STATE_PENDING);
        assert_int_equal(r.acks[0].state, EVREPL_ACK_STATE_CONFIRMED);
        evrepl_receipt_clear(&r);
    }
    // Six calls gave up on eu-west and dropped their sessions; the statements they left
    // waiting behind the lock stop within a second (client_connection_check_interval), so
    // sessions do not pile up on the replica: soon at most one per worker (3) is left.
    int sessions = worker_sessions(PGT_EU_WEST);
    for (int i = 0; i < 30 && sessions > 3; i++) {
        pgt_sleep_ms(100);
        sessions = worker_sessions(PGT_EU_WEST);
    }
    assert_in_range(sessions, 0, 3);
    evri_pg_db_close(locker); // the lock goes with its transaction
    await_valid(c, 30);
    evrepl_client_destroy(c);
}

// Every replica session LISTENs and gets a notification per replicated row. Unread, they fill
// the socket, and the replica's server process blocks writing to it, which also stops the
// replica's notification queue from being trimmed. Idle workers read them away.
static void
test_faults_idle_sessions_read_their_notifications(void **state)
{
    (void)state;
    evrepl_client *c = client();
    await_valid(c, 60);
    int sessions = worker_sessions(PGT_US_EAST);
    assert_true(sessions >= 1);
    // About 24 MB of notifications, far more than the sockets hold, while no call runs (each
    // payload differs: PostgreSQL folds equal notifications of one transaction into one).
    evri_pg_db *db = pgt_open(pgt_conninfo(PGT_US_EAST));
    char n[32];
    evrepl_status st;
    assert_int_equal(evri_pg_db_query_value(db,
                                            "SELECT count(pg_notify('evrepl_event', "
                                            "i || repeat('x', 7900))) "
                                            "FROM generate_series(1, 3000) i",
                                            n, sizeof(n), &st),
                     EVREPL_CODE_OK);
    evri_pg_db_close(db);
    assert_int_equal(atoi(n), 3000);
    pgt_sleep_ms(2000); // the servers are writing, or blocked writing, by now
    int blocked = worker_sessions_where(PGT_US_EAST, "wait_event = 'ClientWrite'");
    for (int i = 0; i < 100 && blocked > 0; i++) {
        pgt_sleep_ms(100);
        blocked = worker_sessions_where(PGT_US_EAST, "wait_event = 'ClientWrite'");
    }
    assert_int_equal(blocked, 0);
    assert_int_equal(worker_sessions(PGT_US_EAST), sessions); // read, not dropped
    // And the next call is not slowed by a backlog.
    evrepl_verification v = {0};
    evrepl_call_opts co = {.timeout_ms = 3000};
    assert_int_equal(evrepl_client_verify_replicas(c, NULL, &co, &v, &st), EVREPL_CODE_OK);
    assert_true(evrepl_verification_is_valid(&v));
    evrepl_verification_clear(&v);
    evrepl_client_destroy(c);
}

// A connect whose set-up (settings, LISTEN) a deadline cut stays for the next call to finish;
// while its worker is idle nobody reads it, so after PGN_ORPHAN_MAX_NS the idle upkeep drops it.
static void
test_faults_idle_upkeep_drops_a_set_up_cut_long_ago(void **state)
{
    (void)state;
    pgn n;
    pgn_init(&n, PGT_US_EAST, pgt_conninfo(PGT_US_EAST), true);
    pgn *nodes[] = {&n};
    pgn_set_query(&n, "SELECT 1", 0, NULL);
    // One non-blocking step at a time until the connect is done and the set-up is sent.
    uint64_t until = evri_now_ns() + 10000 * EVRI_NS_PER_MS;
    while (n.phase != PGN_SETUP && !n.done && evri_now_ns() < until) {
        (void)pgn_step(nodes, 1, evri_now_ns());
        pgt_sleep_ms(1);
    }
    assert_int_equal(n.phase, PGN_SETUP);
    pgn_abort(nodes, 1); // the call's deadline: the set-up is left for later
    assert_non_null(n.conn);
    assert_true(n.orphan_since != 0);

    pgn_idle(&n, evri_now_ns()); // cut just now: kept for the next call
    assert_non_null(n.conn);
    assert_int_equal(n.phase, PGN_SETUP);
    pgn_idle(&n, n.orphan_since + PGN_ORPHAN_MAX_NS + 1); // as if idle since: dropped
    assert_null(n.conn);
    assert_int_equal(n.phase, PGN_DOWN);

    // The node connects afresh for the next query.
    pgn_clear_query(&n);
    pgn_set_query(&n, "SELECT 1", 0, NULL);
    pgn_run(nodes, 1, evri_now_ns() + 10000 * EVRI_NS_PER_MS);
    assert_int_equal(n.code, EVREPL_CODE_OK);
    assert_true(pgn_has(&n, 0, 0));
    assert_true(n.listening);
    pgn_fini(&n);
}

typedef struct audit {
    evrepl_code code;
    evrepl_verification v;
    uint64_t took_ns;
} audit;

static void *
audit_main(void *arg)
{
    audit *a = arg;
    evrepl_client *c = client();
    evrepl_status st;
    evrepl_verify_request vr = {.full_audit = true};
    evrepl_call_opts co = {.timeout_ms = 60000};
    uint64_t t0 = evri_now_ns();
    a->code = evrepl_client_verify_replicas(c, &vr, &co, &a->v, &st);
    a->took_ns = evri_now_ns() - t0;
    evrepl_client_destroy(c);
    return NULL;
}

static void
test_faults_replica_killed_during_full_audit(void **state)
{
    (void)state;
    evrepl_client *c = client();
    await_valid(c, 60);
    audit a = {0};
    pthread_t th;
    pthread_create(&th, NULL, audit_main, &a);
    struct timespec ts = {0, 400 * 1000 * 1000};
    nanosleep(&ts, NULL);
    // SIGKILL ap-south's postmaster (the first line of its postmaster.pid).
    char data[1024], path[1200], pid_text[32];
    pgt_data_dir(data, sizeof(data));
    snprintf(path, sizeof(path), "%s/ap-south/postmaster.pid", data);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    assert_non_null(fgets(pid_text, sizeof(pid_text), f));
    fclose(f);
    pid_t postmaster = (pid_t)atoi(pid_text);
    assert_int_equal(kill(postmaster, SIGKILL), 0);
    pthread_join(th, NULL);
    assert_int_equal(a.code, EVREPL_CODE_OK);
    const evrepl_replica_verification *ap = pgt_replica(&a.v, PGT_AP_SOUTH);
    print_message("audit ended in %.1f s; ap-south: %s\n", (double)a.took_ns / 1e9,
                  ap->n_errors > 0 ? ap->errors[0] : "(no error)");
    assert_true(ap->n_errors > 0); // the truth: it went away mid-audit
    assert_false(evrepl_verification_is_valid(&a.v));
    assert_true(pgt_replica(&a.v, PGT_US_EAST)->signature_valid);
    assert_int_equal(pgt_replica(&a.v, PGT_US_EAST)->diverged_at_sequence, 0);
    evrepl_verification_clear(&a.v);
    // Its children notice the postmaster's death and exit; then it starts again (crash
    // recovery) and the same server sees it healthy. Until the dead postmaster is reaped,
    // `pg_ctl status` (kill 0 on its pid) takes it for running and `trio start` does nothing.
    uint64_t until = evri_now_ns() + 60000 * EVRI_NS_PER_MS;
    while (kill(postmaster, 0) == 0) {
        assert_true(evri_now_ns() < until);
        pgt_sleep_ms(50);
    }
    while (system("\"$EVREPL_SOURCE_DIR/tools/trio\" start ap-south >/dev/null 2>&1") != 0) {
        assert_true(evri_now_ns() < until);
        struct timespec pause = {1, 0};
        nanosleep(&pause, NULL);
    }
    await_valid(c, 60);
    evrepl_client_destroy(c);
}

int
main(void)
{
    char why[512];
    if (!pgt_trio_ready(why, sizeof(why))) {
        return pgt_unavailable("test_pg_faults", why);
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_faults_replica_blocked_by_a_lock, repair),
        cmocka_unit_test_teardown(test_faults_idle_sessions_read_their_notifications, repair),
        cmocka_unit_test_teardown(test_faults_idle_upkeep_drops_a_set_up_cut_long_ago, repair),
        cmocka_unit_test_teardown(test_faults_replica_killed_during_full_audit, repair),
    };
    return cmocka_run_group_tests_name("pg_faults", tests, group_setup, group_teardown);
}
