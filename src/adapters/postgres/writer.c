#include "adapters/postgres/writer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adapters/postgres/admin.h"
#include "adapters/postgres/pgconn.h"
#include "common/clock.h"
#include "domain/status.h"

#define WRITER_NCOLS        9 // parameters per row of the INSERT
#define WRITER_MAX_PREPARED 4

// One row's binary parameters that are not in the event itself.
typedef struct writer_row {
    uint8_t sequence[8];
    uint8_t created_at[8];
} writer_row;

// A batch: its events and the INSERT parameters pointing into them.
typedef struct writer_batch {
    size_t n;
    evri_event *events;
    writer_row *rows;
    const char **values; // WRITER_NCOLS per row
    int *lengths;
    uint8_t (*ids)[EVRI_EVENT_ID_BYTES]; // fresh ids, made for the whole batch at once
    uint64_t sent_ns;
} writer_batch;

struct evri_pg_writer {
    evri_pg_db *db;
    PGconn *conn;                         // borrowed from db
    const evri_signer *signer;            // borrowed
    size_t cap;                           // rows each batch below holds
    writer_batch batch[2];                // one in flight while the other is built
    int *formats;                         // WRITER_NCOLS * cap ones: every parameter is binary
    size_t prepared[WRITER_MAX_PREPARED]; // row counts with a prepared INSERT
    size_t n_prepared;
    evri_pg_writer_stats stats;
};

static void
writer_free_arrays(evri_pg_writer *w)
{
    for (size_t b = 0; b < 2; b++) {
        writer_batch *x = &w->batch[b];
        free(x->events);
        free(x->rows);
        free(x->values);
        free(x->lengths);
        free(x->ids);
        memset(x, 0, sizeof(*x));
    }
    free(w->formats);
    w->formats = NULL;
    w->cap = 0;
}

static bool
writer_reserve(evri_pg_writer *w, size_t rows)
{
    if (rows <= w->cap) {
        return true;
    }
    writer_free_arrays(w);
    bool ok = true;
    for (size_t b = 0; b < 2; b++) {
        writer_batch *x = &w->batch[b];
        x->events = calloc(rows, sizeof(*x->events));
        x->rows = calloc(rows, sizeof(*x->rows));
        x->values = calloc(rows * WRITER_NCOLS, sizeof(*x->values));
        x->lengths = calloc(rows * WRITER_NCOLS, sizeof(*x->lengths));
        x->ids = calloc(rows, sizeof(*x->ids));
        ok = ok && x->events != NULL && x->rows != NULL && x->values != NULL &&
             x->lengths != NULL && x->ids != NULL;
    }
    w->formats = calloc(rows * WRITER_NCOLS, sizeof(*w->formats));
    if (!ok || w->formats == NULL) {
        writer_free_arrays(w);
        return false;
    }
    for (size_t i = 0; i < rows * WRITER_NCOLS; i++) {
        w->formats[i] = 1;
    }
    w->cap = rows;
    return true;
}

evrepl_code
evri_pg_writer_open(evri_pg_writer **out, const char *conninfo, const evri_signer *signer,
                    evrepl_status *st)
{
    uint8_t pk[EVREPL_PUBLIC_KEY_BYTES];
    evrepl_code code;
    if (!evri_crypto_init()) {
        return evri_status_set(st, EVREPL_CODE_INTERNAL, "libsodium cannot be initialised");
    }
    evri_pg_writer *w = calloc(1, sizeof(*w));
    if (w == NULL) {
        return evri_status_set(st, EVREPL_CODE_INTERNAL, "out of memory");
    }
    w->signer = signer;
    code = evri_pg_db_open(&w->db, conninfo, st);
    if (code != EVREPL_CODE_OK) {
        goto fail;
    }
    w->conn = evri_pg_db_conn(w->db);
    code = evri_pg_db_require_schema(w->db, st);
    if (code != EVREPL_CODE_OK) {
        goto fail;
    }
    code = evri_pg_db_signing_key(w->db, evri_signer_key_id(signer), pk, st);
    if (code == EVREPL_CODE_NOT_FOUND) {
        code = evri_status_set(st, EVREPL_CODE_FAILED_PRECONDITION,
                               "signing key %s is not registered on this database: run evrepl "
                               "register-key",
                               evri_signer_key_id(signer));
    } else if (code == EVREPL_CODE_OK &&
               memcmp(pk, evri_signer_public_key(signer), sizeof(pk)) != 0) {
        code = evri_status_set(st, EVREPL_CODE_FAILED_PRECONDITION,
                               "key id %s is registered with another public key",
                               evri_signer_key_id(signer));
    }
    if (code != EVREPL_CODE_OK) {
        goto fail;
    }
    *out = w;
    return evri_status_ok(st);
fail:
    evri_pg_writer_close(w);
    return code;
}

void
evri_pg_writer_close(evri_pg_writer *w)
{
    if (w == NULL) {
        return;
    }
    evri_pg_db_close(w->db);
    writer_free_arrays(w);
    free(w);
}

void
evri_pg_writer_stats_get(const evri_pg_writer *w, evri_pg_writer_stats *out)
{
    *out = w->stats;
}

static void
writer_stmt_name(size_t n, char name[32])
{
    snprintf(name, 32, "evrepl_append_%zu", n);
}

// Prepares "evrepl_append_N", a multi-row INSERT of n rows, unless it is already prepared on
// this connection. Only while no query is in flight.
static evrepl_code
writer_prepare(evri_pg_writer *w, size_t n, evrepl_status *st)
{
    static const char head[] = "INSERT INTO events (event_id, sequence, event_type, payload, "
                               "prev_hash, content_hash, signature, signing_key_id, created_at) "
                               "VALUES ";
    static const char row_fmt[] = "%s($%zu::uuid,$%zu::int8,$%zu::text,$%zu::bytea,$%zu::bytea,"
                                  "$%zu::bytea,$%zu::bytea,$%zu::text,$%zu::timestamptz)";
    char name[32];
    for (size_t i = 0; i < w->n_prepared; i++) {
        if (w->prepared[i] == n) {
            return evri_status_ok(st);
        }
    }
    if (w->n_prepared == WRITER_MAX_PREPARED) {
        PGresult *res = PQexec(w->conn, "DEALLOCATE ALL");
        evrepl_code code =
            evri_pg_result_check(w->conn, res, PGRES_COMMAND_OK, "preparing the insert", st);
        PQclear(res);
        if (code != EVREPL_CODE_OK) {
            return code;
        }
        w->n_prepared = 0;
    }
    size_t cap = sizeof(head) + n * 160;
    char *sql = malloc(cap);
    if (sql == NULL) {
        return evri_status_set(st, EVREPL_CODE_INTERNAL, "out of memory");
    }
    size_t len = (size_t)snprintf(sql, cap, "%s", head);
    for (size_t r = 0; r < n; r++) {
        size_t p = r * WRITER_NCOLS;
        len += (size_t)snprintf(sql + len, cap - len, row_fmt, r > 0 ? "," : "", p + 1, p + 2,
                                p + 3, p + 4, p + 5, p + 6, p + 7, p + 8, p + 9);
    }
    writer_stmt_name(n, name);
    PGresult *res = PQprepare(w->conn, name, sql, (int)(n * WRITER_NCOLS), NULL);
    free(sql);
    evrepl_code code =
        evri_pg_result_check(w->conn, res, PGRES_COMMAND_OK, "preparing the insert", st);
    PQclear(res);
    if (code == EVREPL_CODE_OK) {
        w->prepared[w->n_prepared++] = n;
    }
    return code;
}

// Runs one statement that returns rows or nothing (the lock functions return a row).
static evrepl_code
writer_exec(evri_pg_writer *w, const char *sql, const char *what, evrepl_status *st)
{
    uint64_t t0 = evri_now_ns();
    PGresult *res = PQexec(w->conn, sql);
    ExecStatusType want =
        res != NULL && PQresultStatus(res) == PGRES_TUPLES_OK ? PGRES_TUPLES_OK : PGRES_COMMAND_OK;
    evrepl_code code = evri_pg_result_check(w->conn, res, want, what, st);
    PQclear(res);
    w->stats.db_ns += evri_now_ns() - t0;
    return code;
}

static int64_t
writer_now_us(void)
{
    evrepl_timestamp t = evri_wallclock();
    return t.seconds * 1000000 + t.nanos / 1000;
}

// Builds and signs b->n events on top of (head_seq, head_hash), and points the INSERT
// parameters at them.
static evrepl_code
writer_build(evri_pg_writer *w, writer_batch *b, size_t n, uint64_t head_seq,
             const uint8_t head_hash[EVREPL_HASH_BYTES], const evri_event *proto, evrepl_status *st)
{
    uint64_t t0 = evri_now_ns();
    evrepl_code code = EVREPL_CODE_OK;
    b->n = n;
    evri_event_ids_new(b->ids, n);
    for (size_t i = 0; i < n && code == EVREPL_CODE_OK; i++) {
        evri_event *ev = &b->events[i];
        writer_row *row = &b->rows[i];
        const char **v = &b->values[i * WRITER_NCOLS];
        int *l = &b->lengths[i * WRITER_NCOLS];
        *ev = *proto;
        memcpy(ev->event_id, b->ids[i], EVRI_EVENT_ID_BYTES);
        ev->sequence = head_seq + 1 + i;
        memcpy(ev->prev_hash, i == 0 ? head_hash : b->events[i - 1].content_hash,
               EVREPL_HASH_BYTES);
        ev->created_at_us = writer_now_us();
        code = evri_event_sign(ev, w->signer, st);
        evri_pg_put_u64(row->sequence, ev->sequence);
        evri_pg_put_timestamptz(row->created_at, ev->created_at_us);
        v[0] = (const char *)ev->event_id;
        l[0] = EVRI_EVENT_ID_BYTES;
        v[1] = (const char *)row->sequence;
        l[1] = 8;
        v[2] = ev->event_type;
        l[2] = (int)strlen(ev->event_type);
        v[3] = ev->payload_len > 0 ? (const char *)ev->payload : "";
        l[3] = (int)ev->payload_len;
        v[4] = (const char *)ev->prev_hash;
        l[4] = EVREPL_HASH_BYTES;
        v[5] = (const char *)ev->content_hash;
        l[5] = EVREPL_HASH_BYTES;
        v[6] = (const char *)ev->signature;
        l[6] = EVREPL_SIGNATURE_BYTES;
        v[7] = ev->signing_key_id;
        l[7] = EVRI_KEY_ID_LEN;
        v[8] = (const char *)row->created_at;
        l[8] = 8;
    }
    w->stats.sign_ns += evri_now_ns() - t0;
    return code;
}

// Sends b's INSERT (one statement: its own transaction) without waiting for the answer.
static evrepl_code
writer_send(evri_pg_writer *w, writer_batch *b, evrepl_status *st)
{
    char name[32];
    uint64_t t0 = evri_now_ns();
    writer_stmt_name(b->n, name);
    int ok = PQsendQueryPrepared(w->conn, name, (int)(b->n * WRITER_NCOLS), b->values, b->lengths,
                                 w->formats, 0);
    b->sent_ns = evri_now_ns();
    w->stats.db_ns += b->sent_ns - t0;
    if (!ok) {
        return evri_pg_result_check(w->conn, NULL, PGRES_COMMAND_OK, "sending events", st);
    }
    return evri_status_ok(st);
}

// Waits for b's INSERT to finish.
static evrepl_code
writer_finish(evri_pg_writer *w, writer_batch *b, evrepl_status *st)
{
    uint64_t t0 = evri_now_ns();
    evrepl_code code = EVREPL_CODE_OK;
    bool first = true;
    PGresult *res;
    while ((res = PQgetResult(w->conn)) != NULL) {
        if (first) {
            code = evri_pg_result_check(w->conn, res, PGRES_COMMAND_OK, "inserting events", st);
            first = false;
        }
        PQclear(res);
    }
    if (first) {
        code = evri_pg_result_check(w->conn, NULL, PGRES_COMMAND_OK, "inserting events", st);
    }
    uint64_t t1 = evri_now_ns();
    w->stats.db_ns += t1 - t0;
    w->stats.insert_ns += t1 - b->sent_ns;
    if (code == EVREPL_CODE_UNAVAILABLE) {
        // The statement may have committed before the connection broke.
        return evri_status_set(st, code,
                               "%s (a batch of %zu events may or may not have been appended)",
                               st != NULL ? st->message : "lost the database", b->n);
    }
    return code;
}

static void
writer_unlock(evri_pg_writer *w)
{
    char sql[64];
    evrepl_status ignored;
    snprintf(sql, sizeof(sql), "SELECT pg_advisory_unlock(%lld)", (long long)EVRI_PG_LOCK_APPEND);
    // Best effort: if this fails the connection is broken, and the server drops a broken
    // session's locks by itself.
    if (writer_exec(w, sql, "releasing the writer lock", &ignored) != EVREPL_CODE_OK) {
        return;
    }
}

// One round: under the writer lock, up to EVRI_PG_WRITER_ROUND_BATCHES batches on top of the
// head, each batch built while the previous one is inserted. *left counts down.
static evrepl_code
writer_round(evri_pg_writer *w, const evri_event *proto, size_t per_batch, uint64_t *left,
             evri_pg_appended_fn on_batch, void *arg, evrepl_status *st)
{
    char sql[64];
    uint64_t head_seq = 0;
    uint8_t head_hash[EVREPL_HASH_BYTES];
    snprintf(sql, sizeof(sql), "SELECT pg_advisory_lock(%lld)", (long long)EVRI_PG_LOCK_APPEND);
    evrepl_code code = writer_exec(w, sql, "taking the writer lock", st);
    if (code != EVREPL_CODE_OK) {
        return code;
    }
    // Read under the lock: the previous holder's inserts committed before it let go, and each
    // statement here sees every committed row, so this is the head all writers agree on.
    uint64_t t0 = evri_now_ns();
    code = evri_pg_db_head(w->db, &head_seq, head_hash, st);
    w->stats.db_ns += evri_now_ns() - t0;
    if (code == EVREPL_CODE_OK && head_seq > (uint64_t)INT64_MAX - *left) {
        code = evri_status_set(st, EVREPL_CODE_OUT_OF_RANGE, "the log would pass sequence 2^63");
    }
    writer_batch *cur = &w->batch[0], *next = &w->batch[1];
    if (code == EVREPL_CODE_OK) {
        size_t n = *left < per_batch ? (size_t)*left : per_batch;
        code = writer_build(w, cur, n, head_seq, head_hash, proto, st);
    }
    if (code == EVREPL_CODE_OK) {
        code = writer_send(w, cur, st);
    }
    for (unsigned k = 1; code == EVREPL_CODE_OK; k++) {
        uint64_t after = *left - cur->n;
        bool more = after > 0 && k < EVRI_PG_WRITER_ROUND_BATCHES;
        evrepl_status build_st;
        evrepl_code build_code = EVREPL_CODE_OK;
        if (more) {
            // The overlap: sign the next batch while the server inserts this one. If this
            // one fails, the next is thrown away unsent.
            const evri_event *last = &cur->events[cur->n - 1];
            size_t n = after < per_batch ? (size_t)after : per_batch;
            build_code =
                writer_build(w, next, n, last->sequence, last->content_hash, proto, &build_st);
        }
        code = writer_finish(w, cur, st);
        if (code != EVREPL_CODE_OK) {
            break;
        }
        w->stats.events += cur->n;
        w->stats.batches++;
        *left -= cur->n;
        if (on_batch != NULL) {
            code = on_batch(arg, cur->events, cur->n, st);
        }
        if (code != EVREPL_CODE_OK || !more) {
            break;
        }
        if (build_code != EVREPL_CODE_OK) {
            code = evri_status_copy(st, &build_st);
            break;
        }
        code = writer_send(w, next, st);
        writer_batch *t = cur;
        cur = next;
        next = t;
    }
    writer_unlock(w);
    return code;
}

evrepl_code
evri_pg_writer_append(evri_pg_writer *w, const char *event_type, const uint8_t *payload,
                      size_t payload_len, uint64_t count, evri_pg_appended_fn on_batch, void *arg,
                      evrepl_status *st)
{
    evri_event proto;
    memset(&proto, 0, sizeof(proto));
    evrepl_code code = evri_event_set_type(&proto, event_type, st);
    if (code != EVREPL_CODE_OK) {
        return code;
    }
    if (payload_len > EVRI_PG_WRITER_PAYLOAD_MAX || (payload_len > 0 && payload == NULL)) {
        return evri_status_set(st, EVREPL_CODE_INVALID_ARGUMENT,
                               "the payload is larger than %u bytes", EVRI_PG_WRITER_PAYLOAD_MAX);
    }
    proto.payload = payload;
    proto.payload_len = payload_len;
    // Keep a statement's parameters to a few tens of MiB whatever the payload size.
    size_t per_batch = EVRI_PG_WRITER_BATCH_BYTES / (payload_len + 256);
    if (per_batch < 1) {
        per_batch = 1;
    }
    if (per_batch > EVRI_PG_WRITER_BATCH_ROWS) {
        per_batch = EVRI_PG_WRITER_BATCH_ROWS;
    }
    if (count < per_batch) {
        per_batch = (size_t)count;
    }
    if (count == 0) {
        return evri_status_ok(st);
    }
    if (!writer_reserve(w, per_batch)) {
        return evri_status_set(st, EVREPL_CODE_INTERNAL, "out of memory");
    }
    // Both statement sizes this call can use, prepared before any query is in flight.
    code = writer_prepare(w, per_batch, st);
    if (code == EVREPL_CODE_OK && count % per_batch != 0) {
        code = writer_prepare(w, (size_t)(count % per_batch), st);
    }
    uint64_t left = count;
    while (code == EVREPL_CODE_OK && left > 0) {
        code = writer_round(w, &proto, per_batch, &left, on_batch, arg, st);
    }
    return code == EVREPL_CODE_OK ? evri_status_ok(st) : code;
}
