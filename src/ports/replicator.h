// The replicator port: what the handlers ask of a backend, and what a backend implements.
//
// A backend is one file that fills a `static const evrepl_replicator_ops` table and exposes
// one `evrepl_backend_def`. Backends never see protobuf, NNG or the rpc layer; they get and
// return the domain types of include/evrepl/types.h.
//
// Lifecycle: the server calls def->shared_create() once with the configuration, then
// def->create() once per worker thread (blocking backends) or once in all (non-blocking
// ones), and destroys instances before the shared state.
#ifndef EVREPL_PORTS_REPLICATOR_H
#define EVREPL_PORTS_REPLICATOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/log.h"
#include "domain/replica_state.h"
#include "evrepl/status.h"
#include "evrepl/types.h"

#define EVREPL_REPLICATOR_OPS_VERSION 1u

// Ops table of a backend instance.
//
// Thread safety: when `blocking` is false every slot returns promptly and may be called
// concurrently on one instance (the transport calls it inline on its callbacks). When
// `blocking` is true each instance is used by one worker thread at a time and slots may block,
// but never past the deadline they are given (a monotonic time in ns, common/clock.h).
typedef struct evrepl_replicator_ops {
    uint32_t version; // EVREPL_REPLICATOR_OPS_VERSION
    const char *name; // "stub", "postgres": x-evrepl-backend and Describe's backend
    bool blocking;    // see above
    bool dev_mode;    // true for backends that fake their answers (x-evrepl-dev-mode)

    // Has event_id (lowercase canonical UUID) reached every replica unaltered? On OK fills
    // *out (zeroed by the caller; the caller clears it). Codes: OK (including PENDING, FAILED,
    // NOT_CONFIGURED receipts), NOT_FOUND (not on the primary), DEADLINE_EXCEEDED (the event
    // on the primary was not known by the deadline), UNAVAILABLE (primary unreachable),
    // FAILED_PRECONDITION (primary schema version differs), INTERNAL. Required.
    evrepl_code (*propagate_event)(void *self, const char *event_id, uint64_t deadline_ns,
                                   evrepl_receipt *out, evrepl_status *st);

    // Verifies every replica against the primary. On OK fills *out as contract.md describes
    // (replica problems are result fields, not errors) and reports each replica to the
    // configuration's observer. The caller signs the result. Codes as for propagate_event
    // (DEADLINE_EXCEEDED: the primary's head was not known in time). Required.
    evrepl_code (*verify_replicas)(void *self, const evrepl_verify_request *req,
                                   uint64_t deadline_ns, evrepl_verification *out,
                                   evrepl_status *st);

    // Serving status of the EventReplicator service (NOT_SERVING while the primary is
    // unreachable). Must not block: report what is known. Optional: NULL means SERVING.
    evrepl_code (*check_health)(void *self, evrepl_serving_status *out, evrepl_status *st);

    // Fills the backend's part of Describe: replica_ids (configuration order). Must not block.
    // Optional: NULL means no replicas.
    evrepl_code (*describe)(void *self, evrepl_server_description *out, evrepl_status *st);

    // Blocking backends only: called by the worker thread that owns the instance after about
    // a second without a call, and every second while that lasts. Reads what the servers sent
    // meanwhile (notifications) so that they never block writing to an idle session; must not
    // wait. Optional.
    void (*idle)(void *self);
    // Frees the instance. Required; must accept a half-built instance.
    void (*destroy)(void *self);
} evrepl_replicator_ops;

// A backend instance: an ops table and its state.
typedef struct evrepl_replicator {
    const evrepl_replicator_ops *ops;
    void *self;
} evrepl_replicator;

// One replica of the postgres backend: an id and a libpq conninfo (secret: never logged).
typedef struct evrepl_replica_config {
    const char *id;
    const char *conninfo;
} evrepl_replica_config;

// What a backend saw of one replica in one verification.
typedef struct evrepl_replica_report {
    size_t index;           // the replica's place in configuration order
    const char *replica_id; // borrowed for the callback
    evri_replica_state state;
    bool reachable;
    uint64_t head_sequence;
    uint64_t lag_events;
    uint64_t events_checked; // by this verification
    uint64_t diverged_at_sequence;
} evrepl_replica_report;

// Where a backend tells the server what it saw of its replicas (the server keeps the metrics
// and logs state changes), so that a backend knows about neither. Optional: a NULL slot means
// nobody listens.
//
// Thread safety: replica_report is called on the thread that runs the call, from several
// workers at once; it returns promptly and never calls back into the backend.
typedef struct evrepl_replicator_observer {
    void (*replica_report)(void *ctx, const evrepl_replica_report *r);
    void *ctx;
} evrepl_replicator_observer;

// Reports the replicas of a finished verification, in order. Backends call it before
// returning OK from verify_replicas. A replica whose verdict the call's deadline left open
// (open[i] true: it found nothing wrong, but could not finish, or was not given time to
// answer) is not reported, so that a caller's short deadline never makes a replica look
// unreachable, lagging or invalid to the operator. open may be NULL: every verdict stands.
static inline void
evrepl_observer_report_verification(const evrepl_replicator_observer *o,
                                    const evrepl_verification *v, const bool *open)
{
    if (o == NULL || o->replica_report == NULL) {
        return;
    }
    for (size_t i = 0; i < v->n_replicas; i++) {
        const evrepl_replica_verification *rv = &v->replicas[i];
        if (open != NULL && open[i]) {
            continue;
        }
        evrepl_replica_report r = {
            .index = i,
            .replica_id = rv->replica_id,
            .state = evri_replica_state_of(rv),
            .reachable = rv->reachable,
            .head_sequence = rv->head_sequence,
            .lag_events = rv->lag_events,
            .events_checked = rv->events_checked,
            .diverged_at_sequence = rv->diverged_at_sequence,
        };
        o->replica_report(o->ctx, &r);
    }
}

// What a backend may need from the server's configuration. Borrowed for the duration of
// shared_create(); a backend copies what it keeps.
typedef struct evrepl_replicator_config {
    // stub
    char *const *stub_replicas; // simulated replica ids, in order
    size_t n_stub_replicas;
    evrepl_code stub_fail_code; // OK = never fail; else every call from the Nth fails so
    uint64_t stub_fail_after;   // ... after this many successful calls (0 = from the first)
    // postgres
    const char *primary_conninfo;
    const evrepl_replica_config *replicas;
    size_t n_replicas;
    const char *trusted_keys_file; // NULL: trust the primary's signing_keys table
    const char *state_file;        // NULL: remember verified heads in memory only
    unsigned n_instances;          // how many instances create() will be asked for
    // both
    const char *schema_version; // the version this server expects (embedded migrations)
    evri_log *log;              // for state changes; may be NULL
    // Where verify_replicas reports each replica (copied by the backend).
    evrepl_replicator_observer observer;
} evrepl_replicator_config;

// A backend's entry in the server's static table of backends.
typedef struct evrepl_backend_def {
    const char *name;
    // Creates the state shared by all instances. May check that the backend can work at all
    // (UNAVAILABLE: the primary cannot be reached; INVALID_ARGUMENT: bad configuration).
    // Writes *shared only on success.
    evrepl_code (*shared_create)(const evrepl_replicator_config *cfg, void **shared,
                                 evrepl_status *st);
    // Frees the shared state after every instance is destroyed. Accepts NULL.
    void (*shared_destroy)(void *shared);
    // Creates one instance. Writes *out only on success.
    evrepl_code (*create)(void *shared, evrepl_replicator *out, evrepl_status *st);
} evrepl_backend_def;

// Calls the slots with the checks every caller needs (NULL optional slots). Thread safety: as
// the slot's.
static inline void
evrepl_replicator_destroy(evrepl_replicator *r)
{
    if (r != NULL && r->ops != NULL && r->ops->destroy != NULL) {
        r->ops->destroy(r->self);
    }
    if (r != NULL) {
        r->ops = NULL;
        r->self = NULL;
    }
}

#endif // EVREPL_PORTS_REPLICATOR_H
