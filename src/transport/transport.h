// The transport: one NNG rep0 socket listening on every URL, a pool of contexts driven by aio
// completion callbacks, and a fixed pool of worker threads for calls that block.
//
// Calls that never block (Health, Describe, any call on a non-blocking backend) run inline on
// the callback. Blocking calls wait in a bounded queue for a worker, each of which owns one
// backend instance; a full queue answers RESOURCE_EXHAUSTED at once, a call whose deadline
// passes in the queue DEADLINE_EXCEEDED.
//
// Thread safety: create/drain/destroy from one controlling thread.
#ifndef EVREPL_TRANSPORT_TRANSPORT_H
#define EVREPL_TRANSPORT_TRANSPORT_H

#include <stddef.h>
#include <stdint.h>

#include "common/log.h"
#include "evrepl/status.h"
#include "ports/replicator.h"
#include "rpc/rpc.h"

typedef struct evri_transport evri_transport;

// How often the ipc:// listeners are probed (see ipc_probe_ms below).
#define EVRI_IPC_PROBE_MS_DEFAULT 1000u
#define EVRI_IPC_PROBE_OFF        UINT32_MAX

typedef struct evri_transport_config {
    const char *const *urls; // ipc://, tcp://, tls+tcp://, inproc://
    size_t n_urls;
    size_t max_message_bytes; // NNG_OPT_RECVMAXSZ: larger messages are dropped by NNG
    unsigned n_contexts;      // receiving contexts (0: workers + max_queue + 32)
    unsigned max_queue;       // calls waiting for a worker before RESOURCE_EXHAUSTED
    evri_rpc *rpc;
    evrepl_replicator shared;           // runs inline calls
    const evrepl_replicator *instances; // one per worker; NULL/0 when nothing blocks
    unsigned n_workers;
    unsigned ipc_mode; // file mode of ipc:// sockets (e.g. 0600)
    // NNG 1.5.2 (nanomsg/nng#1518, fixed in 1.6.0): a peer that closes during the SP header
    // exchange stops an ipc:// listener from ever accepting again. A watchdog thread probes
    // each ipc listener every ipc_probe_ms (0: EVRI_IPC_PROBE_MS_DEFAULT) with an in-process
    // connection and re-creates a listener whose probe is not taken within twice that time
    // (its established connections are dropped; clients reconnect). EVRI_IPC_PROBE_OFF turns
    // the watchdog off (tests that show the hazard).
    uint32_t ipc_probe_ms;
    const char *tls_cert_file; // tls+tcp:// server certificate chain (PEM)
    const char *tls_key_file;  // its private key (PEM)
    const char *tls_ca_file;   // CA that client certificates must chain to
    evri_log *log;
} evri_transport_config;

// Opens the socket, starts every listener and the contexts and workers. INVALID_ARGUMENT for
// a bad URL or TLS file, UNAVAILABLE when an address is taken. Writes *out only on success.
EVREPL_NODISCARD evrepl_code evri_transport_create(evri_transport **out,
                                                   const evri_transport_config *cfg,
                                                   evrepl_status *st);

// Graceful stop: the rpc stops taking calls (new ones get UNAVAILABLE), the calls already
// taken are answered, then the socket closes. Waits at most timeout_ms for the calls in
// flight. Returns how many calls were still in flight when it gave up (0: all answered).
unsigned evri_transport_drain(evri_transport *t, uint32_t timeout_ms);

// How many calls wait for a worker now (for the metrics). Thread safety: any thread; takes the
// queue's lock briefly.
unsigned evri_transport_queue_depth(evri_transport *t);

// Stops everything and frees. Accepts NULL.
void evri_transport_destroy(evri_transport *t);

#endif // EVREPL_TRANSPORT_TRANSPORT_H
