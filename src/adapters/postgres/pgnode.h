// Non-blocking libpq for the backend: a node is one connection (the primary or a replica)
// that connects, LISTENs and queries asynchronously; pgn_run() drives every node of a call at
// once with poll(), so a call costs about one round trip to the slowest node, and never waits
// past its deadline. A node that fails, or whose statement is still out at a deadline, is
// reset (its connection dropped; PostgreSQL 14 and later stop the abandoned statement within a
// second, see PGN_CHECK_CLIENT_SQL) and reconnects on its next use. A connect or session
// set-up that a deadline interrupts goes on at the next use instead, so that calls with
// deadlines shorter than connecting still get connected after a few tries; one left
// unfinished longer than PGN_ORPHAN_MAX_NS (a dead peer) is dropped and started afresh.
//
// Thread safety: a node belongs to the instance (worker) that owns it.
#ifndef EVREPL_ADAPTERS_POSTGRES_PGNODE_H
#define EVREPL_ADAPTERS_POSTGRES_PGNODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "evrepl/status.h"

// The channel evrepl's apply trigger notifies (migrations/0002_apply_notify.sql).
#define EVRI_PG_NOTIFY_CHANNEL "evrepl_event"

#define PGN_MAX_PARAMS 4

// Statements prepared per session (see pgn_set_query); queries beyond this many run unnamed.
#define PGN_MAX_PREPARED 16

// How long a connect or set-up a run abandoned at its deadline may stay unfinished before the
// next use gives it up and connects afresh.
#define PGN_ORPHAN_MAX_NS (10ULL * 1000 * 1000 * 1000)

typedef enum pgn_phase {
    PGN_DOWN,       // no connection
    PGN_CONNECTING, // PQconnectPoll in progress
    PGN_SETUP,      // the session's set-up (settings, LISTEN) in flight
    PGN_PREPARE,    // the query's statement is being prepared on this session
    PGN_IDLE,       // connected, nothing in flight
    PGN_BUSY,       // a query in flight
} pgn_phase;

typedef struct pgn {
    const char *id;       // "primary" or the replica id (borrowed)
    const char *conninfo; // secret (borrowed)
    bool listen;          // LISTEN EVRI_PG_NOTIFY_CHANNEL on every new session
    PGconn *conn;
    pgn_phase phase;
    PostgresPollingStatusType poll; // while connecting
    bool setup;                     // this session ran its set-up (settings, LISTEN)
    bool listening;                 // this session LISTENs
    // Statements this session has prepared, by the address of their SQL text (queries are
    // static strings); statement i is named "evrepl_<i>".
    const char *prepared[PGN_MAX_PREPARED];
    size_t n_prepared;
    bool stale;            // a prepared statement failed in a way that calls for a fresh session
    const char *preparing; // the SQL whose statement is being prepared (PGN_PREPARE)
    // When a run's deadline first left this session's connect or set-up (settings, LISTEN,
    // a statement's preparation) unfinished; 0: nothing abandoned.
    uint64_t orphan_since;

    // The query of the current run (set with pgn_set_query), NULL for none.
    const char *sql;
    int n_params;
    const char *params[PGN_MAX_PARAMS]; // text parameters
    bool sent;
    bool reused;  // the session existed before this run (it may have broken while idle)
    bool retried; // a broken idle session was replaced once in this run

    // Outcome of the current run.
    bool done;
    PGresult *res;    // the query's result, owned (NULL when it failed)
    evrepl_code code; // OK, or why the node failed (UNAVAILABLE, DEADLINE_EXCEEDED, ...)
    char error[200];  // one line, no secrets

    // Notifications seen since pgn_take_notified() last cleared them.
    bool notified;
    char notified_payload[64]; // the last payload (an event id)
    const char *want;          // a payload to look out for (borrowed), or NULL
    bool notified_want;        // a notification carried `want`
    uint64_t n_notes;          // notifications taken on this node, ever (pgn_step)
} pgn;

// Initialises a node; it connects on first use.
void pgn_init(pgn *n, const char *id, const char *conninfo, bool listen);
// Drops the connection and frees results. Idempotent.
void pgn_fini(pgn *n);

// Sets the query for the next pgn_run(): sql with up to PGN_MAX_PARAMS text parameters
// (borrowed until the run ends); results come in binary format. sql must be a string that
// lives as long as the node (a literal): each session prepares it once, on its first use
// (one extra round trip then), and afterwards runs the prepared statement, which skips the
// server's parsing and, once PostgreSQL settles on a generic plan, its planning.
void pgn_set_query(pgn *n, const char *sql, int n_params, const char *const *params);
// Clears the query (the node takes no part in the next run).
void pgn_clear_query(pgn *n);

// Runs the set queries on all nodes at once, connecting nodes that need it, until every node
// with a query has its result or failed, or deadline_ns passes (those nodes are abandoned,
// code DEADLINE_EXCEEDED, as pgn_abort() does). Afterwards each node's done/res/code/error
// tell its outcome.
void pgn_run(pgn *const *nodes, size_t n, uint64_t deadline_ns);

// One step of an event loop over nodes: advances every node whose query is in flight and
// watches idle listening nodes for notifications, until a query finishes, a notification
// arrives, or until_ns passes. Nothing is reset: queries still in flight stay in flight (step
// again, or pgn_abort() them). Returns true when a query finished or a notification came
// during this step (flags set by earlier notifications do not count again).
// Handles at most 16 nodes.
bool pgn_step(pgn *const *nodes, size_t n, uint64_t until_ns);

// Abandons every node whose query is still in flight: DEADLINE_EXCEEDED for this run. A
// statement still out is dropped with its session; a connect or set-up goes on at the next
// use (see the top of this file).
void pgn_abort(pgn *const *nodes, size_t n);

// Waits until a notification arrives on any of the idle, listening nodes, or until until_ns.
// Returns true when one arrived (see each node's notified flag).
bool pgn_wait_notify(pgn *const *nodes, size_t n, uint64_t until_ns);

// Reads and clears pending notifications of an idle node without waiting (what one read
// brings: libpq reads at most its buffer, 16 kB).
void pgn_poll_notify(pgn *n);
// Upkeep of a node nobody is using (the worker is idle), now_ns being the current time: reads
// an idle session's backlog of notifications until the socket is empty (at most 16 MB), and
// drops a connect or set-up that a deadline cut more than PGN_ORPHAN_MAX_NS ago.
void pgn_idle(pgn *n, uint64_t now_ns);

// Drops a node's connection (after a failure); it reconnects on next use.
void pgn_reset(pgn *n, evrepl_code code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

// True when the node's last run produced a result with at least `row + 1` rows and the column
// is not NULL.
bool pgn_has(const pgn *n, int row, int col);
// Binary-format accessors for the current result (the caller checked pgn_has).
uint64_t pgn_u64(const pgn *n, int row, int col);
// Copies a bytea column of exactly `len` bytes; false when its length differs.
bool pgn_bytes(const pgn *n, int row, int col, uint8_t *out, size_t len);
// Copies a text column into out (NUL-terminated, truncated to size).
void pgn_text(const pgn *n, int row, int col, char *out, size_t size);
int pgn_rows(const pgn *n);

#endif // EVREPL_ADAPTERS_POSTGRES_PGNODE_H
