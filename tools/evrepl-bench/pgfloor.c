// Database floors, measured with the same libpq calls the backend makes: non-blocking
// connections, one query per node sent at once, poll() until every node answered.
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "adapters/postgres/writer.h"
#include "bench.h"
#include "common/clock.h"
#include "common/keyfile.h"
#include "domain/status.h"
#include "evrepl/client.h"

#define FLOOR_MAX_NODES 16
#define FLOOR_QUERY_MS  5000

static evrepl_code
floor_connect(PGconn **out, const char *conninfo, evrepl_status *st)
{
    PGconn *c = PQconnectdb(conninfo);
    if (c == NULL || PQstatus(c) != CONNECTION_OK) {
        PQfinish(c);
        // libpq's message may quote the conninfo: never shown.
        return evri_status_set(st, EVREPL_CODE_UNAVAILABLE, "cannot connect to a database");
    }
    if (PQsetnonblocking(c, 1) != 0) {
        PQfinish(c);
        return evri_status_set(st, EVREPL_CODE_INTERNAL, "cannot make a connection non-blocking");
    }
    *out = c;
    return evri_status_ok(st);
}

// Sends query (one text parameter or none) on every connection whose want[i] is set, and
// waits until each answered or until_ns. found[i] tells whether it returned a row. Returns
// false when a node failed or missed the deadline.
static bool
floor_round(PGconn *const *conns, size_t n, const bool *want, const char *sql, const char *param,
            uint64_t until_ns, bool *found)
{
    struct pollfd pfd[FLOOR_MAX_NODES];
    bool busy[FLOOR_MAX_NODES];
    bool ok = true;
    const char *params[] = {param};
    for (size_t i = 0; i < n; i++) {
        busy[i] = false;
        found[i] = false;
        if (!want[i]) {
            continue;
        }
        if (!PQsendQueryParams(conns[i], sql, param != NULL ? 1 : 0, NULL,
                               param != NULL ? params : NULL, NULL, NULL, 1) ||
            PQflush(conns[i]) < 0) {
            ok = false;
            continue;
        }
        busy[i] = true;
    }
    for (;;) {
        nfds_t k = 0;
        size_t who[FLOOR_MAX_NODES];
        for (size_t i = 0; i < n; i++) {
            if (busy[i]) {
                short ev = POLLIN;
                if (PQflush(conns[i]) == 1) {
                    ev |= POLLOUT;
                }
                pfd[k] = (struct pollfd){.fd = PQsocket(conns[i]), .events = ev};
                who[k++] = i;
            }
        }
        if (k == 0) {
            return ok;
        }
        int left = evri_ms_left(until_ns);
        if (left <= 0) {
            return false; // the connections stay busy: the caller drops them
        }
        if (poll(pfd, k, left) < 0) {
            continue;
        }
        for (nfds_t j = 0; j < k; j++) {
            size_t i = who[j];
            if (pfd[j].revents == 0) {
                continue;
            }
            if (!PQconsumeInput(conns[i])) {
                busy[i] = false;
                ok = false;
                continue;
            }
            while (busy[i] && !PQisBusy(conns[i])) {
                PGresult *r = PQgetResult(conns[i]);
                if (r == NULL) {
                    busy[i] = false;
                    break;
                }
                if (PQresultStatus(r) != PGRES_TUPLES_OK) {
                    ok = false;
                } else if (PQntuples(r) > 0) {
                    found[i] = true;
                }
                PQclear(r);
            }
        }
    }
}

// ---- the verification floor ---------------------------------------------------------------

typedef struct floor_worker {
    struct bench_pg_floor *f;
    pthread_t thread;
    PGconn *conns[FLOOR_MAX_NODES];
    size_t n;
    bool broken;  // a round failed: its connections are in an unknown state
    bool running; // its thread was started in this phase
    bench_result res;
} floor_worker;

struct bench_pg_floor {
    floor_worker *w;
    unsigned n_w;
    uint64_t end_ns;
    uint64_t max_calls;
    atomic_uint_fast64_t started;
};

evrepl_code
bench_pg_floor_open(bench_pg_floor **out, const bench_pg_targets *t, unsigned concurrency,
                    evrepl_status *st)
{
    evrepl_code code = EVREPL_CODE_OK;
    if (1 + t->n_replicas > FLOOR_MAX_NODES) {
        return evri_status_set(st, EVREPL_CODE_INVALID_ARGUMENT, "at most %d replicas",
                               FLOOR_MAX_NODES - 1);
    }
    bench_pg_floor *f = calloc(1, sizeof(*f));
    if (f == NULL || (f->w = calloc(concurrency, sizeof(*f->w))) == NULL) {
        free(f);
        return evri_status_set(st, EVREPL_CODE_INTERNAL, "out of memory");
    }
    f->n_w = concurrency;
    for (unsigned i = 0; i < concurrency && code == EVREPL_CODE_OK; i++) {
        floor_worker *w = &f->w[i];
        w->f = f;
        code = floor_connect(&w->conns[w->n], t->primary, st);
        if (code == EVREPL_CODE_OK) {
            w->n++;
        }
        for (size_t r = 0; r < t->n_replicas && code == EVREPL_CODE_OK; r++) {
            code = floor_connect(&w->conns[w->n], t->replicas[r], st);
            if (code == EVREPL_CODE_OK) {
                w->n++;
            }
        }
    }
    if (code != EVREPL_CODE_OK) {
        bench_pg_floor_close(f);
        return code;
    }
    *out = f;
    return evri_status_ok(st);
}

void
bench_pg_floor_close(bench_pg_floor *f)
{
    if (f == NULL) {
        return;
    }
    for (unsigned i = 0; i < f->n_w; i++) {
        for (size_t k = 0; k < f->w[i].n; k++) {
            PQfinish(f->w[i].conns[k]);
        }
    }
    free(f->w);
    free(f);
}

static void *
floor_main(void *arg)
{
    floor_worker *w = arg;
    bench_pg_floor *f = w->f;
    bool want[FLOOR_MAX_NODES], found[FLOOR_MAX_NODES];
    for (size_t i = 0; i < w->n; i++) {
        want[i] = true;
    }
    while (!w->broken && evri_now_ns() < f->end_ns &&
           (f->max_calls == 0 || atomic_fetch_add(&f->started, 1) < f->max_calls)) {
        uint64_t t0 = evri_now_ns();
        bool ok = floor_round(w->conns, w->n, want, "SELECT 1", NULL,
                              t0 + FLOOR_QUERY_MS * EVRI_NS_PER_MS, found);
        bench_hist_add(&w->res.hist, evri_now_ns() - t0);
        w->res.calls++;
        w->res.out[ok ? 0 : EVREPL_CODE_UNAVAILABLE]++;
        w->broken = !ok;
    }
    return NULL;
}

void
bench_pg_floor_run(bench_pg_floor *f, const bench_bounds *b, bench_result *out)
{
    uint64_t t0 = evri_now_ns();
    f->end_ns = t0 + b->duration_ns;
    f->max_calls = b->max_calls;
    atomic_store(&f->started, 0);
    memset(out, 0, sizeof(*out));
    for (unsigned i = 0; i < f->n_w; i++) {
        memset(&f->w[i].res, 0, sizeof(f->w[i].res));
        f->w[i].running = pthread_create(&f->w[i].thread, NULL, floor_main, &f->w[i]) == 0;
    }
    for (unsigned i = 0; i < f->n_w; i++) {
        if (f->w[i].running) {
            pthread_join(f->w[i].thread, NULL);
            f->w[i].running = false;
        }
    }
    for (unsigned i = 0; i < f->n_w; i++) {
        bench_result_merge(out, &f->w[i].res);
    }
    out->elapsed_ns = evri_now_ns() - t0;
}

// ---- fresh events -------------------------------------------------------------------------

struct bench_fresh {
    evri_signer *signer;
    evri_pg_writer *writer;
    PGconn *reps[FLOOR_MAX_NODES];
    size_t n_reps;
    evrepl_client *client; // NULL without a server
    uint32_t timeout_ms;
    bool notify; // the floor waits for each replica's apply notification instead of polling
    // The op in progress.
    bool via_server;
    bench_result *res;
};

evrepl_code
bench_fresh_open(bench_fresh **out, const bench_pg_targets *t, const char *key_file,
                 const char *url, uint32_t timeout_ms, bool notify, evrepl_status *st)
{
    evrepl_code code;
    if (t->n_replicas + 1 > FLOOR_MAX_NODES) {
        return evri_status_set(st, EVREPL_CODE_INVALID_ARGUMENT, "at most %d replicas",
                               FLOOR_MAX_NODES - 1);
    }
    bench_fresh *f = calloc(1, sizeof(*f));
    if (f == NULL) {
        return evri_status_set(st, EVREPL_CODE_INTERNAL, "out of memory");
    }
    f->timeout_ms = timeout_ms;
    f->notify = notify;
    if ((code = evri_keyfile_read(&f->signer, key_file, st)) != EVREPL_CODE_OK ||
        (code = evri_pg_writer_open(&f->writer, t->primary, f->signer, st)) != EVREPL_CODE_OK) {
        goto fail;
    }
    for (size_t i = 0; i < t->n_replicas; i++) {
        if ((code = floor_connect(&f->reps[i], t->replicas[i], st)) != EVREPL_CODE_OK) {
            goto fail;
        }
        f->n_reps++;
        if (notify) {
            // The channel of evrepl's apply trigger (migrations/0002_apply_notify.sql).
            PGresult *r = PQexec(f->reps[i], "LISTEN evrepl_event");
            bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;
            PQclear(r);
            if (!ok) {
                code = evri_status_set(st, EVREPL_CODE_UNAVAILABLE, "cannot LISTEN on a replica");
                goto fail;
            }
        }
    }
    if (url != NULL) {
        evrepl_client_opts o = {.url = url, .timeout_ms = timeout_ms};
        if ((code = evrepl_client_create(&f->client, &o, st)) != EVREPL_CODE_OK) {
            goto fail;
        }
    }
    *out = f;
    return evri_status_ok(st);
fail:
    bench_fresh_close(f);
    return code;
}

void
bench_fresh_close(bench_fresh *f)
{
    if (f == NULL) {
        return;
    }
    evrepl_client_destroy(f->client);
    for (size_t i = 0; i < f->n_reps; i++) {
        PQfinish(f->reps[i]);
    }
    evri_pg_writer_close(f->writer);
    evri_signer_destroy(f->signer);
    free(f);
}

// Polls every replica, each again as soon as it answers "not yet", until all hold the event.
static unsigned
fresh_poll(bench_fresh *f, const char *id, uint64_t until_ns)
{
    bool want[FLOOR_MAX_NODES], found[FLOOR_MAX_NODES];
    size_t left = f->n_reps;
    for (size_t i = 0; i < f->n_reps; i++) {
        want[i] = true;
    }
    while (left > 0) {
        if (!floor_round(f->reps, f->n_reps, want, "SELECT 1 FROM events WHERE event_id = $1::uuid",
                         id, until_ns, found)) {
            return evri_now_ns() >= until_ns ? BENCH_OUT_TIMEOUT : EVREPL_CODE_UNAVAILABLE;
        }
        for (size_t i = 0; i < f->n_reps; i++) {
            if (want[i] && found[i]) {
                want[i] = false;
                left--;
            }
        }
    }
    return EVREPL_CODE_OK;
}

// Waits for every replica's apply notification of this event (the payload is its id).
static unsigned
fresh_wait_notify(bench_fresh *f, const char *id, uint64_t until_ns)
{
    bool seen[FLOOR_MAX_NODES] = {false};
    size_t left = f->n_reps;
    for (;;) {
        struct pollfd pfd[FLOOR_MAX_NODES];
        size_t who[FLOOR_MAX_NODES];
        nfds_t k = 0;
        for (size_t i = 0; i < f->n_reps; i++) {
            if (seen[i]) {
                continue;
            }
            if (!PQconsumeInput(f->reps[i])) {
                return EVREPL_CODE_UNAVAILABLE;
            }
            PGnotify *n;
            while ((n = PQnotifies(f->reps[i])) != NULL) {
                if (!seen[i] && strcmp(n->extra, id) == 0) {
                    seen[i] = true;
                    left--;
                }
                PQfreemem(n);
            }
            if (!seen[i]) {
                pfd[k] = (struct pollfd){.fd = PQsocket(f->reps[i]), .events = POLLIN};
                who[k++] = i;
            }
        }
        (void)who;
        if (left == 0) {
            return EVREPL_CODE_OK;
        }
        int ms = evri_ms_left(until_ns);
        if (ms <= 0) {
            return BENCH_OUT_TIMEOUT;
        }
        (void)poll(pfd, k, ms);
    }
}

// Called by the writer right after the event's insert committed: the clock starts here.
static evrepl_code
fresh_on_batch(void *arg, const evri_event *events, size_t n, evrepl_status *st)
{
    bench_fresh *f = arg;
    char id[EVREPL_UUID_STR_LEN + 1];
    uint64_t t0 = evri_now_ns();
    unsigned outcome;
    (void)st;
    if (n != 1) {
        return EVREPL_CODE_OK;
    }
    evrepl_uuid_format(events[0].event_id, id);
    if (f->via_server) {
        evrepl_receipt r = {0};
        evrepl_status cst;
        evrepl_call_opts co = {.timeout_ms = f->timeout_ms};
        evrepl_code code = evrepl_client_propagate_event(f->client, id, &co, &r, &cst);
        if (code != EVREPL_CODE_OK) {
            outcome = (unsigned)code < BENCH_OUT_CODES ? (unsigned)code : BENCH_OUT_OTHER_CODE;
        } else if (r.status != EVREPL_REPLICATION_STATUS_CONFIRMED) {
            outcome = BENCH_OUT_NEGATIVE;
            f->res->x[BENCH_X_PENDING]++;
        } else {
            outcome = EVREPL_CODE_OK;
        }
        evrepl_receipt_clear(&r);
    } else {
        uint64_t until = t0 + (uint64_t)f->timeout_ms * EVRI_NS_PER_MS;
        outcome = f->notify ? fresh_wait_notify(f, id, until) : fresh_poll(f, id, until);
    }
    bench_hist_add(&f->res->hist, evri_now_ns() - t0);
    f->res->calls++;
    f->res->out[outcome]++;
    return EVREPL_CODE_OK;
}

void
bench_fresh_run(bench_fresh *f, bool via_server, const bench_bounds *b, bench_result *out)
{
    static const char payload[] = "{\"bench\":\"fresh\"}";
    uint64_t t0 = evri_now_ns();
    uint64_t end = t0 + b->duration_ns;
    memset(out, 0, sizeof(*out));
    f->via_server = via_server && f->client != NULL;
    f->res = out;
    for (uint64_t i = 0; (b->max_calls == 0 || i < b->max_calls) && evri_now_ns() < end; i++) {
        evrepl_status st;
        if (evri_pg_writer_append(f->writer, "bench.fresh", (const uint8_t *)payload,
                                  sizeof(payload) - 1, 1, fresh_on_batch, f,
                                  &st) != EVREPL_CODE_OK) {
            fprintf(stderr, "evrepl-bench: appending a fresh event failed: %s\n", st.message);
            out->calls++;
            out->out[BENCH_OUT_TRANSPORT]++;
            break;
        }
    }
    out->elapsed_ns = evri_now_ns() - t0;
}

evrepl_code
bench_pg_recent_event(const char *primary, char out[37], evrepl_status *st)
{
    PGconn *c = PQconnectdb(primary);
    if (c == NULL || PQstatus(c) != CONNECTION_OK) {
        PQfinish(c);
        return evri_status_set(st, EVREPL_CODE_UNAVAILABLE, "cannot connect to the primary");
    }
    PGresult *r = PQexec(c, "SELECT event_id::text FROM events ORDER BY sequence DESC LIMIT 1");
    evrepl_code code;
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        code = evri_status_set(st, EVREPL_CODE_FAILED_PRECONDITION,
                               "cannot read the events table on the primary");
    } else if (PQntuples(r) == 0) {
        code = evri_status_set(st, EVREPL_CODE_NOT_FOUND,
                               "the log is empty: append events first (evrepl append)");
    } else {
        snprintf(out, 37, "%s", PQgetvalue(r, 0, 0));
        code = evri_status_ok(st);
    }
    PQclear(r);
    PQfinish(c);
    return code;
}
