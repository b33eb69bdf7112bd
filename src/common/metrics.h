// evrepld's metrics: per-call counters and latency histograms that the call path updates with a
// few relaxed atomic adds, counters of receipts and verifications, the replicas' last verified
// state, and their rendering in the Prometheus text exposition format (version 0.0.4) that the
// metrics endpoint serves. docs/operations.md lists every metric.
//
// One evri_metrics belongs to the server, which hands it to the rpc layer, the handlers and its
// backend's observer; there is no global registry. Label sets are bounded: methods are the
// server's own (plus one "unknown" for every name it does not serve), codes the 17 status
// codes, replicas the configured ones.
//
// Thread safety: the set-up calls (evri_metrics_add_method, evri_metrics_set_backend,
// evri_metrics_set_source) come from one thread before the server serves; everything else may
// be called from any thread at any time. Call-path updates take no lock; replica updates and
// rendering take the metrics' mutex.
#ifndef EVREPL_COMMON_METRICS_H
#define EVREPL_COMMON_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "domain/replica_state.h"
#include "evrepl/status.h"
#include "evrepl/types.h"

typedef struct evri_metrics evri_metrics;

#define EVRI_METRICS_MAX_METHODS    16 // method labels, "unknown" included
#define EVRI_METRICS_METHOD_UNKNOWN 0u // the label of calls to a method the server lacks

typedef struct evri_metrics_config {
    const char *version;        // evrepld's version (build info)
    const char *schema_version; // the schema version it expects (build info)
    char *const *replica_ids;   // configured replicas, in order (copied)
    size_t n_replicas;
} evri_metrics_config;

// Creates the metrics; INTERNAL when memory runs out. Writes *out only on success.
EVREPL_NODISCARD evrepl_code evri_metrics_create(evri_metrics **out, const evri_metrics_config *cfg,
                                                 evrepl_status *st);

// Frees. Accepts NULL.
void evri_metrics_destroy(evri_metrics *m);

// Set-up: the backend's name and whether it fakes its answers (build info).
void evri_metrics_set_backend(evri_metrics *m, const char *backend, bool dev_mode);

// Set-up: adds a method label (copied) and returns its index for evri_metrics_call_end(). When
// the table is full, or m is NULL, returns EVRI_METRICS_METHOD_UNKNOWN.
unsigned evri_metrics_add_method(evri_metrics *m, const char *path);

// Gauges read from their owners when the metrics are rendered.
typedef struct evri_metrics_gauges {
    uint64_t workers;        // worker threads (0: every call runs inline)
    uint64_t queue_depth;    // calls waiting for a worker
    uint64_t queue_capacity; // how many may wait before RESOURCE_EXHAUSTED
    bool draining;           // shutting down
    bool primary_reachable;  // the backend serves (Health of the EventReplicator service)
} evri_metrics_gauges;

// Fills *out. Called while rendering, from the thread that renders; must not block long.
typedef void (*evri_metrics_source_fn)(void *arg, evri_metrics_gauges *out);

// Set-up: where the gauges above come from (none: they render as zero).
void evri_metrics_set_source(evri_metrics *m, evri_metrics_source_fn fn, void *arg);

// The call path; m may be NULL (metrics off: nothing happens). A call is in flight from
// evri_metrics_call_begin() to evri_metrics_call_end(), which counts it by method and code
// and adds its duration to the method's histogram.
void evri_metrics_call_begin(evri_metrics *m);
void evri_metrics_call_end(evri_metrics *m, unsigned method, evrepl_code code,
                           uint64_t duration_ns);

// Receipts issued by status, and verification results by validity. m may be NULL.
void evri_metrics_receipt(evri_metrics *m, evrepl_replication_status status);
void evri_metrics_verification(evri_metrics *m, bool valid);

// What one verification saw of one replica.
typedef struct evri_metrics_replica {
    evri_replica_state state;
    bool reachable;
    uint64_t head_sequence;
    uint64_t lag_events;
    uint64_t diverged_at_sequence;
    uint64_t events_checked; // added to the replica's audit counter
    evrepl_timestamp at;     // when
} evri_metrics_replica;

// Records replica i's latest verification and returns the state it had before (UNKNOWN the
// first time, and for an i beyond the configured replicas, which is ignored).
evri_replica_state evri_metrics_replica_update(evri_metrics *m, size_t i,
                                               const evri_metrics_replica *r);

// Renders every metric in the text exposition format into a new NUL-terminated buffer (free()
// it); *len receives its length. NULL when memory runs out.
char *evri_metrics_render(evri_metrics *m, size_t *len);

// The media type of the rendering.
#define EVRI_METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

#endif // EVREPL_COMMON_METRICS_H
