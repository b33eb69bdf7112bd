#include "adapters/postgres/admin.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adapters/postgres/pgconn.h"
#include "common/clock.h"
#include "domain/keys.h"
#include "domain/status.h"

_Static_assert(EVRI_PG_SCHEMA_VERSION_MAX == EVRI_PG_VERSION_MAX, "one version size");

#define ADMIN_READ_PAGE 1000 // events per round trip in evri_pg_db_read_events()

struct evri_pg_db {
    PGconn *conn;
};

evrepl_code
evri_pg_db_open(evri_pg_db **out, const char *conninfo, evrepl_status *st)
{
    evri_pg_db *db = calloc(1, sizeof(*db));
    if (db == NULL) {
        return evri_status_set(st, EVREPL_CODE_INTERNAL, "out of memory");
    }
    evrepl_code code = evri_pg_connect(&db->conn, conninfo, "evrepl", st);
    if (code != EVREPL_CODE_OK) {
        free(db);
        return code;
    }
    *out = db;
    return evri_status_ok(st);
}

PGconn *
evri_pg_db_conn(evri_pg_db *db)
{
    return db->conn;
}

void
evri_pg_db_close(evri_pg_db *db)
{
    if (db == NULL) {
        return;
    }
    PQfinish(db->conn);
    free(db);
}

// Runs sql and checks that it ended in a command or a row set. Returns the result on OK (the
// caller PQclear()s it), NULL otherwise.
static PGresult *
admin_run(evri_pg_db *db, const char *sql, const char *what, char sqlstate[6], evrepl_code *code,
          evrepl_status *st)
{
    PGresult *res = PQexec(db->conn, sql);
    ExecStatusType s = res != NULL ? PQresultStatus(res) : PGRES_FATAL_ERROR;
    if (s == PGRES_COMMAND_OK || s == PGRES_TUPLES_OK) {
        *code = evri_status_ok(st);
        if (sqlstate != NULL) {
            sqlstate[0] = '\0';
        }
        return res;
    }
    *code = evri_pg_result_check(db->conn, res, PGRES_COMMAND_OK, what, st);
    if (sqlstate != NULL) {
        snprintf(sqlstate, 6, "%s", evri_pg_sqlstate(res));
    }
    PQclear(res);
    return NULL;
}

evrepl_code
evri_pg_db_exec(evri_pg_db *db, const char *sql, char sqlstate[6], evrepl_status *st)
{
    evrepl_code code;
    PQclear(admin_run(db, sql, "query", sqlstate, &code, st));
    return code;
}

evrepl_code
evri_pg_db_query_value(evri_pg_db *db, const char *sql, char *out, size_t out_size,
                       evrepl_status *st)
{
    evrepl_code code;
    PGresult *res = admin_run(db, sql, "query", NULL, &code, st);
    if (res == NULL) {
        return code;
    }
    if (PQntuples(res) < 1 || PQnfields(res) < 1) {
        PQclear(res);
        return evri_status_set(st, EVREPL_CODE_NOT_FOUND, "query: no row");
    }
    snprintf(out, out_size, "%s", PQgetisnull(res, 0, 0) ? "" : PQgetvalue(res, 0, 0));
    PQclear(res);
    return evri_status_ok(st);
}

evrepl_code
evri_pg_db_schema_version(evri_pg_db *db, char out[EVRI_PG_SCHEMA_VERSION_MAX], evrepl_status *st)
{
    PGresult *res = PQexec(db->conn, EVRI_PG_SCHEMA_VERSION_SQL);
    evrepl_code code = evri_pg_schema_version_from_result(db->conn, res, out, st);
    PQclear(res);
    return code;
}

evrepl_code
evri_pg_db_require_schema(evri_pg_db *db, evrepl_status *st)
{
    char v[EVRI_PG_SCHEMA_VERSION_MAX];
    evrepl_code code = evri_pg_db_schema_version(db, v, st);
    if (code != EVREPL_CODE_OK) {
        return code;
    }
    int cmp = strcmp(v, evri_schema_version);
    if (v[0] == '\0') {
        return evri_status_set(st, EVREPL_CODE_FAILED_PRECONDITION,
                               "the database has no evrepl schema: run evrepl migrate");
    }
    if (cmp < 0) {
        return evri_status_set(st, EVREPL_CODE_FAILED_PRECONDITION,
                               "the database schema is at version %s, older than this evrepl's "
                               "%s: run evrepl migrate",
                               v, evri_schema_version);
    }
    if (cmp > 0) {
        return evri_status_set(st, EVREPL_CODE_FAILED_PRECONDITION,
                               "the database schema is at version %s, newer than this evrepl's "
                               "%s: upgrade evrepl",
                               v, evri_schema_version);
    }
    return evri_status_ok(st);
}

// Inside the migration transaction: how many embedded migrations the node has applied, after
// checking that they are a prefix of ours.
static evrepl_code
admin_applied_prefix(evri_pg_db *db, size_t *n_applied, evrepl_status *st)
{
    evrepl_code code;
    PGresult *res = admin_run(db,
                              "SELECT version, coalesce(name, '') FROM schema_migrations "
                              "ORDER BY version",
                              "reading schema_migrations", NULL, &code, st);
    if (res == NULL) {
        return code;
    }
    int n = PQntuples(res);
    for (int i = 0; i < n; i++) {
        const char *v = PQgetvalue(res, i, 0);
        const char *name = PQgetvalue(res, i, 1);
        if ((size_t)i >= evri_n_migrations) {
            code = evri_status_set(st, EVREPL_CODE_FAILED_PRECONDITION,
                                   "the database has migration %.16s, newer than this evrepl's "
                                   "schema %s: upgrade evrepl",
                                   v, evri_schema_version);
            break;
        }
        const evri_migration *m = &evri_migrations[i];
        if (strcmp(v, m->version) != 0 || strcmp(name, m->name) != 0) {
            code = evri_status_set(st, EVREPL_CODE_FAILED_PRECONDITION,
                                   "the database's migration %.16s (%.64s) is not this evrepl's "
                                   "migration %s (%s): it was migrated by another evrepl",
                                   v, name, m->version, m->name);
            break;
        }
    }
    if (code == EVREPL_CODE_OK) {
        *n_applied = (size_t)n;
    }
    PQclear(res);
    return code;
}

static void
admin_rollback(evri_pg_db *db)
{
    // Best effort: on a broken connection there is nothing to roll back, and the caller
    // already reports the first error.
    PQclear(PQexec(db->conn, "ROLLBACK"));
}

// One step: in one transaction holding the migrate lock, apply the next missing migration.
// *done is set when nothing was missing.
static evrepl_code
admin_migrate_step(evri_pg_db *db, const evri_migration **applied, bool *done, evrepl_status *st)
{
    char sql[256];
    evrepl_code code;
    size_t n = 0;
    *applied = NULL;
    *done = false;
    snprintf(sql, sizeof(sql),
             "BEGIN; SELECT pg_advisory_xact_lock(%lld); "
             "CREATE TABLE IF NOT EXISTS schema_migrations (version text PRIMARY KEY, "
             "name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())",
             (long long)EVRI_PG_LOCK_MIGRATE);
    PQclear(admin_run(db, sql, "preparing schema_migrations", NULL, &code, st));
    if (code != EVREPL_CODE_OK) {
        goto fail;
    }
    code = admin_applied_prefix(db, &n, st);
    if (code != EVREPL_CODE_OK) {
        goto fail;
    }
    if (n == evri_n_migrations) {
        PQclear(admin_run(db, "COMMIT", "committing", NULL, &code, st));
        *done = code == EVREPL_CODE_OK;
        return code;
    }
    const evri_migration *m = &evri_migrations[n];
    PQclear(admin_run(db, m->sql, m->name, NULL, &code, st));
    if (code != EVREPL_CODE_OK) {
        goto fail;
    }
    const char *params[2] = {m->version, m->name};
    PGresult *res =
        PQexecParams(db->conn, "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)", 2,
                     NULL, params, NULL, NULL, 0);
    code = evri_pg_result_check(db->conn, res, PGRES_COMMAND_OK, "recording the migration", st);
    PQclear(res);
    if (code != EVREPL_CODE_OK) {
        goto fail;
    }
    PQclear(admin_run(db, "COMMIT", m->name, NULL, &code, st));
    if (code != EVREPL_CODE_OK) {
        return code;
    }
    *applied = m;
    return evri_status_ok(st);
fail:
    admin_rollback(db);
    return code;
}

evrepl_code
evri_pg_db_migrate(evri_pg_db *db, evri_pg_migrated_fn on_applied, void *arg,
                   evri_pg_migrate_result *out, evrepl_status *st)
{
    evri_pg_migrate_result r = {0};
    const char *enc = PQparameterStatus(db->conn, "server_encoding");
    if (enc == NULL || strcmp(enc, "UTF8") != 0) {
        return evri_status_set(st, EVREPL_CODE_FAILED_PRECONDITION,
                               "the database encoding is %.32s; evrepl needs UTF8 (CREATE "
                               "DATABASE ... ENCODING 'UTF8' TEMPLATE template0)",
                               enc != NULL ? enc : "unknown");
    }
    for (;;) {
        const evri_migration *m = NULL;
        bool done = false;
        evrepl_code code = admin_migrate_step(db, &m, &done, st);
        if (code != EVREPL_CODE_OK) {
            return code;
        }
        if (done) {
            break;
        }
        r.n_applied++;
        if (on_applied != NULL) {
            on_applied(arg, m);
        }
    }
    evrepl_code code = evri_pg_db_schema_version(db, r.version, st);
    if (code == EVREPL_CODE_OK && out != NULL) {
        *out = r;
    }
    return code;
}

evrepl_code
evri_pg_db_signing_key(evri_pg_db *db, const char *key_id, uint8_t out[EVREPL_PUBLIC_KEY_BYTES],
                       evrepl_status *st)
{
    const char *params[1] = {key_id};
    PGresult *res = PQexecParams(db->conn, "SELECT public_key FROM signing_keys WHERE key_id = $1",
                                 1, NULL, params, NULL, NULL, 1);
    evrepl_code code =
        evri_pg_result_check(db->conn, res, PGRES_TUPLES_OK, "reading signing_keys", st);
    if (code == EVREPL_CODE_OK) {
        if (PQntuples(res) == 0) {
            code = evri_status_set(st, EVREPL_CODE_NOT_FOUND, "signing key %.32s is not registered",
                                   key_id);
        } else if (PQgetisnull(res, 0, 0) || PQgetlength(res, 0, 0) != EVREPL_PUBLIC_KEY_BYTES) {
            code =
                evri_status_set(st, EVREPL_CODE_INVALID_ARGUMENT,
                                "signing key %.32s: the stored public key is not 32 bytes", key_id);
        } else {
            memcpy(out, PQgetvalue(res, 0, 0), EVREPL_PUBLIC_KEY_BYTES);
        }
    }
    PQclear(res);
    return code;
}

evrepl_code
evri_pg_db_register_key(evri_pg_db *db, const uint8_t public_key[EVREPL_PUBLIC_KEY_BYTES],
                        bool *inserted, evrepl_status *st)
{
    char id[EVRI_KEY_ID_LEN + 1];
    uint8_t stored[EVREPL_PUBLIC_KEY_BYTES];
    evrepl_code code = evri_pg_db_require_schema(db, st);
    if (code != EVREPL_CODE_OK) {
        return code;
    }
    evri_key_id(public_key, id);
    const char *params[2] = {id, (const char *)public_key};
    const int lengths[2] = {0, EVREPL_PUBLIC_KEY_BYTES};
    const int formats[2] = {0, 1};
    PGresult *res = PQexecParams(db->conn,
                                 "INSERT INTO signing_keys (key_id, public_key) VALUES ($1, $2) "
                                 "ON CONFLICT DO NOTHING RETURNING key_id",
                                 2, NULL, params, lengths, formats, 0);
    code = evri_pg_result_check(db->conn, res, PGRES_TUPLES_OK, "storing the signing key", st);
    bool stored_now = code == EVREPL_CODE_OK && PQntuples(res) == 1;
    PQclear(res);
    if (code != EVREPL_CODE_OK) {
        return code;
    }
    if (!stored_now) {
        // A conflict: the same key (fine), or the id or the key taken by another row.
        code = evri_pg_db_signing_key(db, id, stored, st);
        if (code == EVREPL_CODE_NOT_FOUND) {
            return evri_status_set(st, EVREPL_CODE_FAILED_PRECONDITION,
                                   "this public key is registered under another key id than "
                                   "%s",
                                   id);
        }
        if (code != EVREPL_CODE_OK) {
            return code;
        }
        if (memcmp(stored, public_key, sizeof(stored)) != 0) {
            return evri_status_set(st, EVREPL_CODE_FAILED_PRECONDITION,
                                   "key id %s is registered with another public key", id);
        }
    }
    if (inserted != NULL) {
        *inserted = stored_now;
    }
    return evri_status_ok(st);
}

evrepl_code
evri_pg_db_head(evri_pg_db *db, uint64_t *sequence, uint8_t hash[EVREPL_HASH_BYTES],
                evrepl_status *st)
{
    PGresult *res = PQexecParams(db->conn,
                                 "SELECT sequence, content_hash FROM events "
                                 "ORDER BY sequence DESC LIMIT 1",
                                 0, NULL, NULL, NULL, NULL, 1);
    evrepl_code code = evri_pg_result_check(db->conn, res, PGRES_TUPLES_OK, "reading the head", st);
    if (code == EVREPL_CODE_OK) {
        if (PQntuples(res) == 0) {
            *sequence = 0;
            memset(hash, 0, EVREPL_HASH_BYTES);
        } else if (PQgetlength(res, 0, 0) != 8 || PQgetlength(res, 0, 1) != EVREPL_HASH_BYTES) {
            code = evri_status_set(st, EVREPL_CODE_INVALID_ARGUMENT,
                                   "reading the head: the head row is malformed");
        } else {
            *sequence = evri_pg_get_u64((const uint8_t *)PQgetvalue(res, 0, 0));
            memcpy(hash, PQgetvalue(res, 0, 1), EVREPL_HASH_BYTES);
        }
    }
    PQclear(res);
    return code;
}

// Calls fn for every row of a binary events result; *last gets the last sequence seen.
static evrepl_code
admin_each_event(PGresult *res, evri_pg_event_fn fn, void *arg, uint64_t *last, evrepl_status *st)
{
    for (int i = 0; i < PQntuples(res); i++) {
        evri_event ev;
        evrepl_code code = evri_pg_event_from_row(res, i, &ev, st);
        if (code == EVREPL_CODE_OK) {
            code = fn(arg, &ev, st);
        }
        if (code != EVREPL_CODE_OK) {
            return code;
        }
        *last = ev.sequence;
    }
    return evri_status_ok(st);
}

evrepl_code
evri_pg_db_read_events(evri_pg_db *db, uint64_t first, uint64_t max, evri_pg_event_fn fn, void *arg,
                       evrepl_status *st)
{
    uint64_t next = first;
    uint64_t left = max;
    while (left > 0) {
        uint8_t from[8], limit[8];
        uint64_t page = left < ADMIN_READ_PAGE ? left : ADMIN_READ_PAGE;
        uint64_t last = 0;
        evri_pg_put_u64(from, next > (uint64_t)INT64_MAX ? (uint64_t)INT64_MAX : next);
        evri_pg_put_u64(limit, page);
        const char *params[2] = {(const char *)from, (const char *)limit};
        const int lengths[2] = {8, 8};
        const int formats[2] = {1, 1};
        PGresult *res = PQexecParams(db->conn,
                                     "SELECT " EVRI_PG_EVENT_COLUMNS " FROM events "
                                     "WHERE sequence >= $1::int8 ORDER BY sequence LIMIT $2::int8",
                                     2, NULL, params, lengths, formats, 1);
        evrepl_code code =
            evri_pg_result_check(db->conn, res, PGRES_TUPLES_OK, "reading events", st);
        uint64_t got = code == EVREPL_CODE_OK ? (uint64_t)PQntuples(res) : 0;
        if (code == EVREPL_CODE_OK) {
            code = admin_each_event(res, fn, arg, &last, st);
        }
        PQclear(res);
        if (code != EVREPL_CODE_OK) {
            return code;
        }
        if (got < page || last == UINT64_MAX) {
            break;
        }
        left -= got;
        next = last + 1;
    }
    return evri_status_ok(st);
}

evrepl_code
evri_pg_db_read_event(evri_pg_db *db, const uint8_t event_id[EVRI_EVENT_ID_BYTES],
                      evri_pg_event_fn fn, void *arg, evrepl_status *st)
{
    uint64_t last = 0;
    const char *params[1] = {(const char *)event_id};
    const int lengths[1] = {EVRI_EVENT_ID_BYTES};
    const int formats[1] = {1};
    PGresult *res = PQexecParams(db->conn,
                                 "SELECT " EVRI_PG_EVENT_COLUMNS " FROM events "
                                 "WHERE event_id = $1::uuid",
                                 1, NULL, params, lengths, formats, 1);
    evrepl_code code = evri_pg_result_check(db->conn, res, PGRES_TUPLES_OK, "reading an event", st);
    if (code == EVREPL_CODE_OK && PQntuples(res) == 0) {
        char text[EVREPL_UUID_STR_LEN + 1];
        evrepl_uuid_format(event_id, text);
        code = evri_status_set(st, EVREPL_CODE_NOT_FOUND, "event %s is not on this node", text);
    }
    if (code == EVREPL_CODE_OK) {
        code = admin_each_event(res, fn, arg, &last, st);
    }
    PQclear(res);
    return code;
}

evrepl_code
evri_pg_db_listen(evri_pg_db *db, const char *channel, evrepl_status *st)
{
    char sql[96];
    size_t len = channel != NULL ? strlen(channel) : 0;
    bool ok = len > 0 && len < 64 && !(channel[0] >= '0' && channel[0] <= '9');
    for (size_t i = 0; ok && i < len; i++) {
        char c = channel[i];
        ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
    }
    if (!ok) {
        return evri_status_set(st, EVREPL_CODE_INVALID_ARGUMENT,
                               "a channel name is [a-z_][a-z0-9_]*, at most 63 characters");
    }
    snprintf(sql, sizeof(sql), "LISTEN %s", channel);
    return evri_pg_db_exec(db, sql, NULL, st);
}

evrepl_code
evri_pg_db_wait_notify(evri_pg_db *db, int timeout_ms, char *payload, size_t payload_size,
                       evrepl_status *st)
{
    uint64_t wait_ns = timeout_ms > 0 ? (uint64_t)timeout_ms * (uint64_t)EVRI_NS_PER_MS : 0;
    uint64_t deadline = evri_now_ns() + wait_ns;
    for (;;) {
        if (PQconsumeInput(db->conn) == 0) {
            return evri_pg_result_check(db->conn, NULL, PGRES_COMMAND_OK, "waiting", st);
        }
        PGnotify *n = PQnotifies(db->conn);
        if (n != NULL) {
            snprintf(payload, payload_size, "%s", n->extra != NULL ? n->extra : "");
            PQfreemem(n);
            return evri_status_ok(st);
        }
        int left = evri_ms_left(deadline);
        if (left == 0) {
            return evri_status_set(st, EVREPL_CODE_DEADLINE_EXCEEDED,
                                   "no notification within %d ms", timeout_ms);
        }
        struct pollfd pfd = {.fd = PQsocket(db->conn), .events = POLLIN};
        if (pfd.fd < 0) {
            return evri_status_set(st, EVREPL_CODE_UNAVAILABLE, "waiting: the connection is gone");
        }
        if (poll(&pfd, 1, left) < 0 && errno != EINTR) {
            return evri_status_set(st, EVREPL_CODE_INTERNAL, "waiting: poll: %s", strerror(errno));
        }
    }
}

evrepl_code
evri_pg_migrate(const char *conninfo, evri_pg_migrated_fn on_applied, void *arg,
                evri_pg_migrate_result *out, evrepl_status *st)
{
    evri_pg_db *db = NULL;
    evrepl_code code = evri_pg_db_open(&db, conninfo, st);
    if (code == EVREPL_CODE_OK) {
        code = evri_pg_db_migrate(db, on_applied, arg, out, st);
    }
    evri_pg_db_close(db);
    return code;
}

evrepl_code
evri_pg_schema_version(const char *conninfo, char out[EVRI_PG_SCHEMA_VERSION_MAX],
                       evrepl_status *st)
{
    evri_pg_db *db = NULL;
    evrepl_code code = evri_pg_db_open(&db, conninfo, st);
    if (code == EVREPL_CODE_OK) {
        code = evri_pg_db_schema_version(db, out, st);
    }
    evri_pg_db_close(db);
    return code;
}
