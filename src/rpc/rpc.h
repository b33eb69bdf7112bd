// The rpc layer: envelope decode -> method table lookup -> handler -> envelope encode, with
// status codes, deadlines, metadata and request ids. The transport hands it message bodies and
// gets response bodies back; this header shows no protobuf and no NNG.
//
// A call's life: evri_call_begin() decodes and checks a request and says how to run it;
// evri_call_run() runs the handler (inline, or on a worker with that worker's backend);
// evri_call_encode() builds the Response; evri_call_end() logs and releases the request.
// evri_call_fail() sets the outcome of a call that will not run (busy, draining).
#ifndef EVREPL_RPC_RPC_H
#define EVREPL_RPC_RPC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/log.h"
#include "common/metrics.h"
#include "evrepl/status.h"
#include "ports/replicator.h"

typedef struct evri_call evri_call;
typedef struct evri_rpc evri_rpc;
typedef struct evri_auth evri_auth;
typedef struct evri_service_binding evri_service_binding; // one method: rpc/call.h

typedef struct evri_rpc_config {
    const evri_service_binding *bindings; // every method and its handler
    size_t n_bindings;
    const char *backend_name; // x-evrepl-backend
    bool dev_mode;            // x-evrepl-dev-mode: true
    bool backend_blocking;    // backend calls go to workers
    uint32_t default_timeout_ms;
    uint32_t max_timeout_ms;   // larger timeouts are clamped to it
    size_t max_metadata_bytes; // all keys and values together
    evri_log *log;             // per-call lines; may be NULL
    evri_metrics *metrics;     // per-call counters and latencies; may be NULL
    const evri_auth *auth;     // NULL: no tokens required
    void *app;                 // the handlers' shared context (handlers/handlers.h); borrowed
} evri_rpc_config;

// What the transport knows about the peer of a call.
typedef struct evri_peer {
    bool has_uid; // an ipc:// peer whose uid the kernel reported
    uint64_t uid;
} evri_peer;

typedef enum evri_call_next {
    EVRI_CALL_REPLY,      // the outcome is known (an error, usually): encode and send
    EVRI_CALL_RUN_INLINE, // run now, on this thread, with the shared backend instance
    EVRI_CALL_RUN_WORKER, // run on a worker thread with that worker's backend instance
} evri_call_next;

// Builds the method table. Writes *out only on success.
// Thread safety: after creation, evri_call_* on distinct calls may run concurrently.
EVREPL_NODISCARD evrepl_code evri_rpc_create(evri_rpc **out, const evri_rpc_config *cfg,
                                             evrepl_status *st);
// Frees the rpc state. Accepts NULL.
void evri_rpc_destroy(evri_rpc *rpc);

// Stops accepting calls: from now on every call but Health gets UNAVAILABLE.
void evri_rpc_drain(evri_rpc *rpc);
bool evri_rpc_draining(const evri_rpc *rpc);

// True when calls need their ipc peer's uid (the access policy checks uids): asking the kernel
// for it costs a system call per message, so the transport does that only then.
bool evri_rpc_needs_peer_uid(const evri_rpc *rpc);

// The paths of every method, in table order (for Describe). Borrowed for the rpc's life.
size_t evri_rpc_method_count(const evri_rpc *rpc);
const char *evri_rpc_method_path(const evri_rpc *rpc, size_t i);

// A reusable call slot (one per transport context). NULL when out of memory.
evri_call *evri_call_create(const evri_rpc *rpc);
// Frees the slot and anything it still holds. Accepts NULL.
void evri_call_destroy(evri_call *call);

// Decodes and checks one request body received at now_ns (monotonic) from peer.
evri_call_next evri_call_begin(evri_call *call, const uint8_t *body, size_t len, uint64_t now_ns,
                               const evri_peer *peer);

// The backend instance the handler will use.
void evri_call_set_backend(evri_call *call, evrepl_replicator backend);

// The call's absolute deadline (monotonic ns).
uint64_t evri_call_deadline_ns(const evri_call *call);

// Runs the handler. When the deadline passed before the handler could start (a worker took
// the call too late) the outcome is DEADLINE_EXCEEDED instead.
void evri_call_run(evri_call *call);

// Sets the outcome of a call that will not run.
void evri_call_fail(evri_call *call, evrepl_code code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

// Encodes the Response; *data (borrowed until the next call on this slot) and *len. False when
// memory ran out: then send nothing (the caller's deadline covers it).
bool evri_call_encode(evri_call *call, const uint8_t **data, size_t *len);

// The outcome so far.
evrepl_code evri_call_code(const evri_call *call);

// Logs the call (method, code, duration, request id), counts it in the metrics and releases
// the request; buffers are kept for the next call.
void evri_call_end(evri_call *call);

#endif // EVREPL_RPC_RPC_H
