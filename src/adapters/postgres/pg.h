// The postgres backend's internals: shared state (one per server), instances (one per
// worker) and the two operations. Only this folder includes it.
#ifndef EVREPL_ADAPTERS_POSTGRES_PG_H
#define EVREPL_ADAPTERS_POSTGRES_PG_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "adapters/postgres/heads.h"
#include "adapters/postgres/pgnode.h"
#include "common/keyfile.h"
#include "common/log.h"
#include "ports/replicator.h"

// Shared by all instances. Immutable after creation except where a comment says otherwise.
typedef struct pg_shared {
    char *primary;            // conninfo: secret
    char **replica_ids;       // configuration order
    char **replica_conninfos; // secret
    size_t n_replicas;
    char *schema_version; // what this server expects
    evri_log *log;
    evrepl_replicator_observer observer; // told each replica's state after a verification

    bool pinned; // --trusted-keys: only these keys count
    pthread_mutex_t keys_mu;
    evri_keyset keys; // pinned keys, or the primary's signing_keys (refreshed under keys_mu)

    evri_pg_heads *heads; // remembered replica heads (thread-safe)

    // The primary's reachability for Health: 1 up, 0 down; and when a call last talked to it.
    atomic_int primary_up;
    atomic_uint_fast64_t primary_contact_ns;

    // The prober: keeps primary_up fresh while no calls come, and flushes the state file.
    pthread_t prober;
    bool prober_started;
    pthread_mutex_t stop_mu;
    pthread_cond_t stop_cv;
    bool stopping;
} pg_shared;

// Signatures an instance has already checked (verify.c).
typedef struct pg_sig_seen pg_sig_seen;

typedef struct pg_instance {
    pg_shared *sh;
    pgn primary;
    pgn *replicas;     // sh->n_replicas
    pg_sig_seen *sigs; // NULL until the first verification needs it
} pg_instance;

// Frees an instance's signature cache. Accepts NULL.
void pg_sig_seen_free(pg_sig_seen *s);

// Records the outcome of talking to the primary (for Health).
void pg_primary_seen(pg_shared *sh, bool up);

// The public key for key_id: from the pinned list, or the primary's signing_keys table as last
// read. Returns false when unknown.
bool pg_key_lookup(pg_shared *sh, const char *key_id, uint8_t out[EVREPL_PUBLIC_KEY_BYTES]);

// Re-reads the primary's signing_keys table through the instance's primary node (no-op with
// pinned keys). Returns OK or the node's failure.
evrepl_code pg_keys_refresh(pg_instance *in, uint64_t deadline_ns, evrepl_status *st);

// The replicator slots.
evrepl_code pg_propagate_event(void *self, const char *event_id, uint64_t deadline_ns,
                               evrepl_receipt *out, evrepl_status *st);
evrepl_code pg_verify_replicas(void *self, const evrepl_verify_request *req, uint64_t deadline_ns,
                               evrepl_verification *out, evrepl_status *st);

// Maps the primary node's failure to the call's status: UNAVAILABLE (unreachable),
// DEADLINE_EXCEEDED, or its code. `what` says what was being asked.
evrepl_code pg_primary_failed(pg_instance *in, const char *what, evrepl_status *st);

// FAILED_PRECONDITION unless version (the primary's) is the expected one.
evrepl_code pg_check_primary_schema(pg_instance *in, const char *version, evrepl_status *st);

#endif // EVREPL_ADAPTERS_POSTGRES_PG_H
