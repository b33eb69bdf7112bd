// A replica's state in one word, as one verification saw it: what the metrics export, what a
// state-change log line names, and what `evrepl verify --watch` prints. Derived only from the
// replica's part of a VerificationResult, so the server and any client agree on it.
//
// Thread safety: pure; safe from any thread.
#ifndef EVREPL_DOMAIN_REPLICA_STATE_H
#define EVREPL_DOMAIN_REPLICA_STATE_H

#include "evrepl/types.h"

typedef enum evri_replica_state {
    EVRI_REPLICA_STATE_UNKNOWN = 0,     // not verified yet
    EVRI_REPLICA_STATE_VALID = 1,       // holds the primary's head; every check passed
    EVRI_REPLICA_STATE_LAGGING = 2,     // behind the primary; nothing it holds differs
    EVRI_REPLICA_STATE_DIVERGED = 3,    // holds what the primary does not (diverged_at > 0)
    EVRI_REPLICA_STATE_UNREACHABLE = 4, // could not be reached
    EVRI_REPLICA_STATE_INVALID = 5,     // not behind, nothing diverged, yet a check failed:
                                        // schema version, a signature or the chain (rows the
                                        // primary holds too), or the deadline cut the check
} evri_replica_state;

#define EVRI_REPLICA_STATE_COUNT 6

// The state of one replica of a verification result, the first that applies: unreachable;
// diverged (diverged_at_sequence > 0); invalid (signature, chain or schema check false);
// lagging (lag_events > 0); valid (head hash matches and no error line); else invalid.
evri_replica_state evri_replica_state_of(const evrepl_replica_verification *r);

// "unknown", "valid", "lagging", "diverged", "unreachable", "invalid" (static).
const char *evri_replica_state_name(evri_replica_state s);

#endif // EVREPL_DOMAIN_REPLICA_STATE_H
