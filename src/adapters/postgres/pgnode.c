#include "adapters/postgres/pgnode.h"

#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "adapters/postgres/pgconn.h"
#include "common/clock.h"
#include "domain/status.h"

#define PGN_APP_NAME "evrepld"
// pgn_drain_notify: at most this many reads (libpq takes up to 16 kB per read).
#define PGN_DRAIN_MAX_READS 1024
#define PGN_SETUP_SQL       "SET plan_cache_mode = force_generic_plan"
// PostgreSQL 14 and later: a backend running a statement whose client went away notices it
// within this many ms and stops, instead of holding its slot (and its locks) until the
// statement ends.
#define PGN_CHECK_CLIENT_SQL "; SET client_connection_check_interval = 1000"

void
pgn_init(pgn *n, const char *id, const char *conninfo, bool listen)
{
    memset(n, 0, sizeof(*n));
    n->id = id;
    n->conninfo = conninfo;
    n->listen = listen;
    n->phase = PGN_DOWN;
}

static void
pgn_clear_result(pgn *n)
{
    if (n->res != NULL) {
        PQclear(n->res);
        n->res = NULL;
    }
}

void
pgn_reset(pgn *n, evrepl_code code, const char *fmt, ...)
{
    if (n->conn != NULL) {
        PQfinish(n->conn); // also after a failed connect (libpq's rule)
        n->conn = NULL;
    }
    n->phase = PGN_DOWN;
    n->listening = false;
    n->setup = false;
    n->n_prepared = 0;
    n->orphan_since = 0;
    pgn_clear_result(n);
    n->done = true;
    n->code = code;
    if (fmt != NULL) {
        va_list ap;
        va_start(ap, fmt);
        (void)vsnprintf(n->error, sizeof(n->error), fmt, ap);
        va_end(ap);
    }
}

void
pgn_fini(pgn *n)
{
    pgn_reset(n, EVREPL_CODE_OK, NULL);
}

void
pgn_set_query(pgn *n, const char *sql, int n_params, const char *const *params)
{
    n->sql = sql;
    n->n_params = n_params;
    for (int i = 0; i < n_params && i < PGN_MAX_PARAMS; i++) {
        n->params[i] = params[i];
    }
    n->sent = false;
    n->retried = false;
    n->reused = n->conn != NULL;
    n->done = false;
    n->code = EVREPL_CODE_OK;
    n->error[0] = '\0';
    pgn_clear_result(n);
}

void
pgn_clear_query(pgn *n)
{
    n->sql = NULL;
    n->done = true;
}

static void
pgn_take_notifies(pgn *n)
{
    PGnotify *note;
    while ((note = PQnotifies(n->conn)) != NULL) {
        n->notified = true;
        n->n_notes++;
        snprintf(n->notified_payload, sizeof(n->notified_payload), "%s", note->extra);
        if (n->want != NULL && strcmp(note->extra, n->want) == 0) {
            n->notified_want = true;
        }
        PQfreemem(note);
    }
}

static void pgn_advance(pgn *n);

// Fails the node with libpq's (masked) message for its connection.
static void
pgn_fail_conn(pgn *n, const char *what)
{
    evrepl_status st;
    evri_pg_connect_error(n->conn, n->conninfo, &st);
    // "cannot connect to the database: ..." -> keep libpq's reason, say what we were doing.
    const char *reason = strstr(st.message, ": ");
    pgn_reset(n, EVREPL_CODE_UNAVAILABLE, "%s: %s", what, reason != NULL ? reason + 2 : st.message);
}

static void
pgn_start_connect(pgn *n)
{
    const char *keys[EVRI_PG_CONN_PARAMS];
    const char *vals[EVRI_PG_CONN_PARAMS];
    evri_pg_conn_params(n->conninfo, PGN_APP_NAME, keys, vals);
    n->conn = PQconnectStartParams(keys, vals, 1);
    n->listening = false;
    n->setup = false;
    n->n_prepared = 0;
    if (n->conn == NULL || PQstatus(n->conn) == CONNECTION_BAD) {
        pgn_fail_conn(n, "cannot connect");
        return;
    }
    n->phase = PGN_CONNECTING;
    n->poll = PGRES_POLLING_WRITING;
}

// A session that was idle before this run may have broken meanwhile (the server restarted):
// replace it once and resend; a fresh session that fails is a real failure.
static void
pgn_retry_or_fail(pgn *n, const char *what)
{
    if (n->reused && !n->retried) {
        n->retried = true;
        n->reused = false;
        PQfinish(n->conn);
        n->conn = NULL;
        n->phase = PGN_DOWN;
        n->listening = false;
        n->setup = false;
        n->n_prepared = 0;
        n->orphan_since = 0;
        n->code = EVREPL_CODE_OK;
        n->error[0] = '\0';
        pgn_advance(n);
        return;
    }
    pgn_fail_conn(n, what);
}

static void
pgn_stmt_name(size_t i, char name[16])
{
    snprintf(name, 16, "evrepl_%zu", i);
}

// The index of the query's prepared statement on this session, or -1.
static int
pgn_prepared_index(const pgn *n)
{
    for (size_t i = 0; i < n->n_prepared; i++) {
        if (n->prepared[i] == n->sql) {
            return (int)i;
        }
    }
    return -1;
}

static void
pgn_send(pgn *n)
{
    char name[16];
    int ok;
    pgn_phase next = PGN_BUSY;
    if (!n->setup) {
        // Once per session. Generic plans: every query here is an index lookup or an index
        // range whatever its parameters, but PostgreSQL's default keeps re-planning statements
        // whose generic plan it misjudges (a LIMIT $1 it takes for 10% of the table), which
        // costs more than running them.
        char setup[200];
        snprintf(setup, sizeof(setup), "%s%s%s", PGN_SETUP_SQL,
                 PQserverVersion(n->conn) >= 140000 ? PGN_CHECK_CLIENT_SQL : "",
                 n->listen ? "; LISTEN " EVRI_PG_NOTIFY_CHANNEL : "");
        ok = PQsendQuery(n->conn, setup);
        next = PGN_SETUP;
    } else {
        int idx = pgn_prepared_index(n);
        const char *const *params = n->n_params > 0 ? n->params : NULL;
        if (idx >= 0) {
            pgn_stmt_name((size_t)idx, name);
            ok = PQsendQueryPrepared(n->conn, name, n->n_params, params, NULL, NULL, 1);
        } else if (n->n_prepared < PGN_MAX_PREPARED) {
            // First use on this session: prepare it (pgn_read then sends the query).
            pgn_stmt_name(n->n_prepared, name);
            ok = PQsendPrepare(n->conn, name, n->sql, n->n_params, NULL);
            n->preparing = n->sql;
            next = PGN_PREPARE;
        } else {
            ok = PQsendQueryParams(n->conn, n->sql, n->n_params, NULL, params, NULL, NULL, 1);
        }
    }
    if (!ok) {
        pgn_retry_or_fail(n, "cannot send a query");
        return;
    }
    n->phase = next;
    if (PQflush(n->conn) < 0) {
        pgn_retry_or_fail(n, "cannot send a query");
    }
}

// Reads what arrived; completes the query or the LISTEN when its results are in.
static void
pgn_read(pgn *n)
{
    if (!PQconsumeInput(n->conn)) {
        pgn_retry_or_fail(n, "lost the connection");
        return;
    }
    pgn_take_notifies(n);
    if (PQflush(n->conn) < 0) {
        pgn_retry_or_fail(n, "lost the connection");
        return;
    }
    while (!PQisBusy(n->conn)) {
        PGresult *r = PQgetResult(n->conn);
        if (r == NULL) {
            // The statement is complete.
            n->orphan_since = 0; // whatever was abandoned is over: the session is current
            if (n->phase == PGN_SETUP) {
                n->phase = PGN_IDLE;
                if (n->code != EVREPL_CODE_OK) {
                    pgn_reset(n, n->code, "%s", n->error);
                    return;
                }
                n->setup = true;
                n->listening = n->listen;
                pgn_send(n);
                return;
            }
            if (n->phase == PGN_PREPARE) {
                n->phase = PGN_IDLE;
                if (n->preparing != n->sql) {
                    // An abandoned run's statement: kept when it prepared; its failure is
                    // not this run's (this run's query prepares, or fails, by itself).
                    if (n->code == EVREPL_CODE_OK && n->preparing != NULL) {
                        n->prepared[n->n_prepared++] = n->preparing;
                    }
                    n->code = EVREPL_CODE_OK;
                    n->error[0] = '\0';
                    n->preparing = NULL;
                    pgn_send(n);
                    return;
                }
                n->preparing = NULL;
                if (n->code != EVREPL_CODE_OK) {
                    // The statement does not prepare (a missing table, say): the query's
                    // failure, as running it unprepared would have reported it.
                    n->done = true;
                    return;
                }
                n->prepared[n->n_prepared++] = n->sql;
                pgn_send(n);
                return;
            }
            n->phase = PGN_IDLE;
            n->done = true;
            if (n->stale) {
                // The session's prepared statements no longer fit the schema: start afresh
                // (this query's failure stands; the next one prepares again).
                n->stale = false;
                pgn_reset(n, n->code, "%s", n->error);
            }
            return;
        }
        ExecStatusType s = PQresultStatus(r);
        if (s == PGRES_TUPLES_OK || s == PGRES_COMMAND_OK) {
            if (n->phase == PGN_BUSY) {
                pgn_clear_result(n);
                n->res = r;
            } else {
                PQclear(r);
            }
        } else {
            evrepl_status st;
            evri_pg_result_check(n->conn, r, PGRES_TUPLES_OK,
                                 n->phase == PGN_SETUP ? "session set-up" : "query", &st);
            n->code = st.code;
            snprintf(n->error, sizeof(n->error), "%.190s", st.message);
            // 0A000: a cached plan would change its result type (the schema changed under
            // it); 26000: the statement is gone.
            const char *state = evri_pg_sqlstate(r);
            n->stale = n->phase == PGN_BUSY &&
                       (strcmp(state, "0A000") == 0 || strcmp(state, "26000") == 0);
            pgn_clear_result(n);
            PQclear(r);
        }
    }
}

static void
pgn_advance(pgn *n)
{
    if (n->done || n->sql == NULL) {
        return;
    }
    switch (n->phase) {
    case PGN_DOWN:
        pgn_start_connect(n);
        return;
    case PGN_CONNECTING:
        n->poll = PQconnectPoll(n->conn);
        if (n->poll == PGRES_POLLING_FAILED) {
            pgn_fail_conn(n, "cannot connect");
            return;
        }
        if (n->poll == PGRES_POLLING_OK) {
            evrepl_status st;
            if (evri_pg_session_check(n->conn, &st) != EVREPL_CODE_OK) {
                pgn_reset(n, st.code, "%s", st.message);
                return;
            }
            if (PQsetnonblocking(n->conn, 1) != 0) {
                pgn_fail_conn(n, "cannot use the connection");
                return;
            }
            n->phase = PGN_IDLE;
            n->orphan_since = 0;
            pgn_send(n);
        }
        return;
    case PGN_IDLE:
        pgn_send(n);
        return;
    case PGN_SETUP:
    case PGN_PREPARE:
    case PGN_BUSY:
        pgn_read(n);
        return;
    }
}

void
pgn_run(pgn *const *nodes, size_t n, uint64_t deadline_ns)
{
    struct pollfd pfd[16];
    pgn *who[16];
    for (size_t i = 0; i < n; i++) {
        if (nodes[i]->sql != NULL && !nodes[i]->done) {
            pgn_advance(nodes[i]);
        }
    }
    for (;;) {
        size_t k = 0;
        for (size_t i = 0; i < n && k < 16; i++) {
            pgn *nd = nodes[i];
            if (nd->sql == NULL || nd->done || nd->conn == NULL) {
                continue;
            }
            short ev = POLLIN;
            if (nd->phase == PGN_CONNECTING) {
                ev = nd->poll == PGRES_POLLING_WRITING ? POLLOUT : POLLIN;
            } else if (PQisnonblocking(nd->conn) && PQflush(nd->conn) == 1) {
                ev |= POLLOUT;
            }
            pfd[k] = (struct pollfd){.fd = PQsocket(nd->conn), .events = ev};
            who[k++] = nd;
        }
        if (k == 0) {
            return;
        }
        int left = evri_ms_left(deadline_ns);
        if (left <= 0) {
            pgn_abort(who, k);
            return;
        }
        int rc = poll(pfd, (nfds_t)k, left);
        if (rc < 0) {
            continue; // EINTR
        }
        for (size_t i = 0; i < k; i++) {
            if (pfd[i].revents != 0) {
                pgn_advance(who[i]);
            }
        }
    }
}

// Waits on pfd[0..k) until one is ready or until_ns; sleeps when there is nothing to wait on.
// Returns poll()'s result, or -1 with errno EINTR to go round again, or PGN_WAIT_OVER when
// until_ns has passed.
#define PGN_WAIT_OVER (-2)
static int
pgn_wait(struct pollfd *pfd, size_t k, uint64_t until_ns)
{
    int left = evri_ms_left(until_ns);
    if (left <= 0) {
        return PGN_WAIT_OVER;
    }
    if (k == 0) {
        struct timespec ts = {left / 1000, (long)(left % 1000) * 1000000L};
        nanosleep(&ts, NULL);
        return PGN_WAIT_OVER;
    }
    return poll(pfd, (nfds_t)k, left);
}

bool
pgn_step(pgn *const *nodes, size_t n, uint64_t until_ns)
{
    struct pollfd pfd[16];
    pgn *who[16];
    bool was_done[16];
    bool happened = false;
    if (n > 16) {
        n = 16;
    }
    // Only notifications taken in this step count: `notified` stays set until the caller
    // clears it, and counting it again would make the caller's loop spin on a busy CPU.
    uint64_t notes = 0;
    for (size_t i = 0; i < n; i++) {
        notes += nodes[i]->n_notes;
    }
    for (size_t i = 0; i < n; i++) {
        pgn *nd = nodes[i];
        was_done[i] = nd->sql == NULL || nd->done;
        if (!was_done[i]) {
            pgn_advance(nd); // starts what has not started; reads what has arrived
            happened = happened || nd->done;
        } else {
            pgn_poll_notify(nd);
        }
    }
    uint64_t now_notes = 0;
    for (size_t i = 0; i < n; i++) {
        now_notes += nodes[i]->n_notes;
    }
    happened = happened || now_notes != notes;
    while (!happened) {
        size_t k = 0;
        for (size_t i = 0; i < n; i++) {
            pgn *nd = nodes[i];
            if (nd->conn == NULL) {
                continue;
            }
            short ev = POLLIN;
            if (nd->sql != NULL && !nd->done) {
                if (nd->phase == PGN_CONNECTING) {
                    ev = nd->poll == PGRES_POLLING_WRITING ? POLLOUT : POLLIN;
                } else if (PQisnonblocking(nd->conn) && PQflush(nd->conn) == 1) {
                    ev |= POLLOUT;
                }
            } else if (nd->phase != PGN_IDLE || !nd->listening) {
                continue; // idle and deaf: nothing can happen on it
            }
            pfd[k] = (struct pollfd){.fd = PQsocket(nd->conn), .events = ev};
            who[k++] = nd;
        }
        int rc = pgn_wait(pfd, k, until_ns);
        if (rc == PGN_WAIT_OVER) {
            return false;
        }
        if (rc < 0) {
            continue; // EINTR
        }
        for (size_t i = 0; i < k; i++) {
            if (pfd[i].revents == 0) {
                continue;
            }
            pgn *nd = who[i];
            uint64_t before = nd->n_notes;
            if (nd->sql != NULL && !nd->done) {
                pgn_advance(nd);
                happened = happened || nd->done;
            } else {
                pgn_poll_notify(nd);
            }
            happened = happened || nd->n_notes != before;
        }
    }
    return true;
}

// The run's deadline passed with n's query still out (see the top of pgnode.h).
static void
pgn_abandon(pgn *n)
{
    static const char why[] = "no answer before the deadline";
    if (n->phase == PGN_BUSY) {
        // A statement still out is dropped with its session: its rows would otherwise stay
        // in the server's send buffer, holding its backend (and snapshot) until next use.
        pgn_reset(n, EVREPL_CODE_DEADLINE_EXCEEDED, why);
        return;
    }
    if (n->phase == PGN_CONNECTING || n->phase == PGN_SETUP || n->phase == PGN_PREPARE) {
        uint64_t now = evri_now_ns();
        if (n->orphan_since == 0) {
            n->orphan_since = now;
        } else if (now - n->orphan_since > PGN_ORPHAN_MAX_NS) {
            pgn_reset(n, EVREPL_CODE_DEADLINE_EXCEEDED, why);
            return;
        }
    }
    // (PGN_DOWN or PGN_IDLE: nothing of this run was sent; the session, if any, is intact.)
    pgn_clear_result(n);
    n->done = true;
    n->code = EVREPL_CODE_DEADLINE_EXCEEDED;
    snprintf(n->error, sizeof(n->error), "%s", why);
}

void
pgn_abort(pgn *const *nodes, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (nodes[i]->sql != NULL && !nodes[i]->done) {
            pgn_abandon(nodes[i]);
        }
    }
}

void
pgn_poll_notify(pgn *n)
{
    if (n->conn == NULL || n->phase != PGN_IDLE) {
        return;
    }
    if (!PQconsumeInput(n->conn)) {
        pgn_fail_conn(n, "lost the connection");
        return;
    }
    pgn_take_notifies(n);
}

void
pgn_idle(pgn *n, uint64_t now_ns)
{
    if (n->conn != NULL && n->orphan_since != 0 && now_ns > n->orphan_since &&
        now_ns - n->orphan_since > PGN_ORPHAN_MAX_NS) {
        // A connect or set-up that a deadline cut and no call has continued since: its LISTEN
        // may be live with nobody reading (the drain below needs an idle session), and the
        // next call would drop it anyway (pgn_abandon).
        pgn_reset(n, EVREPL_CODE_DEADLINE_EXCEEDED, "no answer before the deadline");
        return;
    }
    for (int i = 0; i < PGN_DRAIN_MAX_READS && n->conn != NULL && n->phase == PGN_IDLE; i++) {
        pgn_poll_notify(n);
        if (n->conn == NULL) {
            return;
        }
        struct pollfd pfd = {.fd = PQsocket(n->conn), .events = POLLIN};
        if (poll(&pfd, 1, 0) <= 0) {
            return; // read up
        }
    }
}

bool
pgn_wait_notify(pgn *const *nodes, size_t n, uint64_t until_ns)
{
    struct pollfd pfd[16];
    for (;;) {
        size_t k = 0;
        bool any = false;
        for (size_t i = 0; i < n; i++) {
            pgn_poll_notify(nodes[i]);
            any = any || nodes[i]->notified;
        }
        if (any) {
            return true;
        }
        for (size_t i = 0; i < n && k < 16; i++) {
            if (nodes[i]->conn != NULL && nodes[i]->phase == PGN_IDLE && nodes[i]->listening) {
                pfd[k++] = (struct pollfd){.fd = PQsocket(nodes[i]->conn), .events = POLLIN};
            }
        }
        if (pgn_wait(pfd, k, until_ns) == PGN_WAIT_OVER) {
            return false;
        }
    }
}

int
pgn_rows(const pgn *n)
{
    return n->res != NULL ? PQntuples(n->res) : 0;
}

bool
pgn_has(const pgn *n, int row, int col)
{
    return n->res != NULL && row < PQntuples(n->res) && col < PQnfields(n->res) &&
           !PQgetisnull(n->res, row, col);
}

uint64_t
pgn_u64(const pgn *n, int row, int col)
{
    if (PQgetlength(n->res, row, col) != 8) {
        return 0;
    }
    return evri_pg_get_u64((const uint8_t *)PQgetvalue(n->res, row, col));
}

bool
pgn_bytes(const pgn *n, int row, int col, uint8_t *out, size_t len)
{
    if ((size_t)PQgetlength(n->res, row, col) != len) {
        return false;
    }
    memcpy(out, PQgetvalue(n->res, row, col), len);
    return true;
}

void
pgn_text(const pgn *n, int row, int col, char *out, size_t size)
{
    int len = PQgetlength(n->res, row, col);
    snprintf(out, size, "%.*s", len, PQgetvalue(n->res, row, col));
}
