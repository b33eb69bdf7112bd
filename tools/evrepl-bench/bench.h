// evrepl-bench internals: the latency histogram, the NNG closed-loop driver, the echo server,
// /proc sampling and spawning, and the database floors. One program (tools/evrepl-bench/);
// nothing here is a library.
//
// Thread safety: a bench_hist and a phase result belong to one thread at a time; the driver
// keeps one of each per context and merges them when a phase ends.
#ifndef EVREPL_TOOLS_EVREPL_BENCH_BENCH_H
#define EVREPL_TOOLS_EVREPL_BENCH_BENCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "evrepl/status.h"

// ---- histogram -------------------------------------------------------------------------------

// Log-linear buckets over nanoseconds: exact below 128 ns, then 64 buckets per power of two
// (at most 1.6 % error), up to 2^41 ns (about 36 minutes).
#define BENCH_HIST_SUB     64u
#define BENCH_HIST_BUCKETS (2u * BENCH_HIST_SUB + 35u * BENCH_HIST_SUB)

typedef struct bench_hist {
    uint64_t n;
    uint64_t sum_ns;
    uint64_t max_ns;
    uint64_t counts[BENCH_HIST_BUCKETS];
} bench_hist;

void bench_hist_add(bench_hist *h, uint64_t ns);
void bench_hist_merge(bench_hist *into, const bench_hist *from);
// The value at quantile q (0..1), in ns (the middle of its bucket); 0 when empty.
uint64_t bench_hist_quantile(const bench_hist *h, double q);

// ---- one measured phase -------------------------------------------------------------------

// Outcomes: gRPC status codes 0..16 as the server answered them, then what the client saw.
enum {
    BENCH_OUT_CODES = 17,      // 0..16: the Response's status code
    BENCH_OUT_OTHER_CODE = 17, // a status code outside 0..16
    BENCH_OUT_TIMEOUT = 18,    // no answer before the call's timeout
    BENCH_OUT_TRANSPORT = 19,  // NNG failed the send or the receive
    BENCH_OUT_MALFORMED = 20,  // the reply is not a Response
    BENCH_OUT_NEGATIVE = 21,   // OK, but the answer is not the one wanted (not CONFIRMED)
    BENCH_OUT_N = 22,
};

// Extra per-call figures that an inspector may add (see bench_inspect_fn).
enum {
    BENCH_X_EVENTS_CHECKED = 0, // VerifyReplicas: sum of events_checked over replicas
    BENCH_X_LOG_EVENTS = 1,     // VerifyReplicas: the primary's head sequence
    BENCH_X_PENDING = 2,        // PropagateEvent: receipts that were not CONFIRMED
    BENCH_X_N = 4,
};

typedef struct bench_result {
    bench_hist hist;           // latency of every finished call, errors included
    uint64_t calls;            // calls finished (any outcome)
    uint64_t out[BENCH_OUT_N]; // per outcome
    uint64_t x[BENCH_X_N];     // inspector figures
    uint64_t elapsed_ns;       // wall time of the phase
    uint64_t thread_cpu_ns;    // CPU time of the measuring thread (in-process floors only)
} bench_result;

void bench_result_merge(bench_result *into, const bench_result *from);
// Calls that did not end with the status wanted (OK and, for --fresh, CONFIRMED).
uint64_t bench_result_errors(const bench_result *r);

// Looks at an OK response's payload; may count into x[] and may turn the call into
// BENCH_OUT_NEGATIVE by returning false. Runs on NNG's callback threads; x belongs to the
// calling context.
typedef bool (*bench_inspect_fn)(const uint8_t *payload, size_t len, uint64_t x[BENCH_X_N]);

// Bounds of a phase: it ends when max_calls calls were started (0: no count bound) and
// finished, or when duration_ns passed (always set), whichever comes first.
typedef struct bench_bounds {
    uint64_t max_calls;
    uint64_t duration_ns;
} bench_bounds;

// ---- the NNG closed-loop driver (load.c) ------------------------------------------------------

typedef struct bench_load bench_load;

// Opens a req0 socket to url with `concurrency` contexts, each with its own aio, and connects
// (waiting up to 10 s for the listener). Every call has timeout_ms. Writes *out on success.
EVREPL_NODISCARD evrepl_code bench_load_open(bench_load **out, const char *url,
                                             unsigned concurrency, uint32_t timeout_ms,
                                             evrepl_status *st);
void bench_load_close(bench_load *l);

// Runs one phase: every context sends body (a serialized Request), waits for the answer,
// records it and sends again, until the bounds say stop. inspect may be NULL.
void bench_load_run(bench_load *l, const uint8_t *body, size_t len, const bench_bounds *b,
                    bench_inspect_fn inspect, bench_result *out);

// One call, for capturing a real response (the echo server replays its bytes). On OK *reply
// is malloc'd.
EVREPL_NODISCARD evrepl_code bench_call_once(const char *url, const uint8_t *body, size_t len,
                                             uint32_t timeout_ms, uint8_t **reply,
                                             size_t *reply_len, evrepl_status *st);

// ---- the echo server (echo.c) -------------------------------------------------------------

// Serves url with a bare rep0 socket: n_contexts contexts on aio callbacks, each answering
// every request with the bytes of reply_file, without decoding anything. Runs until SIGTERM
// or SIGINT. Returns an exit code.
int bench_echo_main(const char *url, const char *reply_file, unsigned n_contexts);

// ---- processes (proc.c) -------------------------------------------------------------------

typedef struct bench_proc_sample {
    bool ok;
    uint64_t cpu_ns; // user + system time of every thread, alive or exited
    uint64_t rss_kb;
} bench_proc_sample;

void bench_proc_read(pid_t pid, bench_proc_sample *out);

// Starts argv[0] with argv; stdout and stderr go to log_path. Returns the pid, or -1.
pid_t bench_spawn(char *const argv[], const char *log_path);
// SIGTERM, then SIGKILL after timeout_ms; reaps. Returns the exit status (128+signal when
// killed), or -1.
int bench_stop(pid_t pid, int timeout_ms);
// True while the child has not exited (reaps it when it has).
bool bench_alive(pid_t pid);

// ---- database floors (pgfloor.c) ----------------------------------------------------------

typedef struct bench_pg_targets {
    const char *primary;         // conninfo
    const char *const *replicas; // conninfos
    size_t n_replicas;
} bench_pg_targets;

typedef struct bench_pg_floor bench_pg_floor;

// The floor of a verification: `concurrency` threads, each with its own non-blocking
// connection to the primary and to every replica, each op one parallel round trip of a
// trivial query (SELECT 1, extended protocol, binary results, as the backend queries).
EVREPL_NODISCARD evrepl_code bench_pg_floor_open(bench_pg_floor **out, const bench_pg_targets *t,
                                                 unsigned concurrency, evrepl_status *st);
void bench_pg_floor_run(bench_pg_floor *f, const bench_bounds *b, bench_result *out);
void bench_pg_floor_close(bench_pg_floor *f);

typedef struct bench_fresh bench_fresh;

// Fresh events: each op appends one event as the single writer (key_file must be registered
// on the primary) and then, from the moment its insert committed, either waits until every
// replica holds it (the replication floor: polled tightly, or with notify each replica's apply
// notification awaited) or calls PropagateEvent on url until the receipt comes (the measured
// path; a receipt that is not CONFIRMED counts as negative).
EVREPL_NODISCARD evrepl_code bench_fresh_open(bench_fresh **out, const bench_pg_targets *t,
                                              const char *key_file, const char *url,
                                              uint32_t timeout_ms, bool notify, evrepl_status *st);
void bench_fresh_run(bench_fresh *f, bool via_server, const bench_bounds *b, bench_result *out);
void bench_fresh_close(bench_fresh *f);

// A recent event id on the primary (the head's), for PropagateEvent. NOT_FOUND on an empty log.
EVREPL_NODISCARD evrepl_code bench_pg_recent_event(const char *primary, char out[37],
                                                   evrepl_status *st);

// ---- crypto floor (crypto.c) --------------------------------------------------------------

typedef struct bench_crypto bench_crypto;

// An event like the log's (the primary's head event when primary is not NULL and the log is
// not empty, else a small synthetic one), signed by a fresh key.
EVREPL_NODISCARD evrepl_code bench_crypto_open(bench_crypto **out, const char *primary,
                                               evrepl_status *st);
// One thread: per op, SHA-256 of the event's canonical bytes and one Ed25519 verify (the
// floor of auditing one event). Calls are ops.
void bench_crypto_run_verify(bench_crypto *c, const bench_bounds *b, bench_result *out);
// One thread: per op, SHA-256 of the canonical bytes and one Ed25519 signature (the floor of
// appending one event).
void bench_crypto_run_sign(bench_crypto *c, const bench_bounds *b, bench_result *out);
size_t bench_crypto_event_bytes(const bench_crypto *c);
void bench_crypto_close(bench_crypto *c);

#endif // EVREPL_TOOLS_EVREPL_BENCH_BENCH_H
