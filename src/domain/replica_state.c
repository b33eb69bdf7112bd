#include "domain/replica_state.h"

static const char *const state_names[EVRI_REPLICA_STATE_COUNT] = {
    "unknown", "valid", "lagging", "diverged", "unreachable", "invalid",
};

evri_replica_state
evri_replica_state_of(const evrepl_replica_verification *r)
{
    if (!r->reachable) {
        return EVRI_REPLICA_STATE_UNREACHABLE;
    }
    if (r->diverged_at_sequence > 0) {
        return EVRI_REPLICA_STATE_DIVERGED;
    }
    if (!r->signature_valid || !r->chain_valid || !r->schema_version_match) {
        return EVRI_REPLICA_STATE_INVALID;
    }
    if (r->lag_events > 0) {
        return EVRI_REPLICA_STATE_LAGGING; // its error line says it did not catch up in time
    }
    return r->head_hash_match && r->n_errors == 0 ? EVRI_REPLICA_STATE_VALID
                                                  : EVRI_REPLICA_STATE_INVALID;
}

const char *
evri_replica_state_name(evri_replica_state s)
{
    return (unsigned)s < EVRI_REPLICA_STATE_COUNT ? state_names[s] : "unknown";
}
