// evrepl domain types: receipts, verification results, server descriptions.
//
// These plain structs are shared by the client library, the server's replicator port and the
// backends. They are owned by the caller: a function that fills one expects it zeroed (or
// cleared) and allocates its heap parts, which the matching idempotent `_clear()` frees.
//
// Thread safety: a struct may be read from several threads; functions here keep no state.
#ifndef EVREPL_TYPES_H
#define EVREPL_TYPES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "evrepl/status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define EVREPL_HASH_BYTES       32 // SHA-256 content hash
#define EVREPL_SIGNATURE_BYTES  64 // Ed25519 signature
#define EVREPL_PUBLIC_KEY_BYTES 32 // Ed25519 public key
#define EVREPL_UUID_STR_LEN     36 // canonical UUID text, without NUL
#define EVREPL_KEY_ID_MAX       64 // longest key id, without NUL

typedef enum evrepl_replication_status {
    EVREPL_REPLICATION_STATUS_UNSPECIFIED = 0,
    EVREPL_REPLICATION_STATUS_PENDING = 1,
    EVREPL_REPLICATION_STATUS_CONFIRMED = 2,
    EVREPL_REPLICATION_STATUS_FAILED = 3,
    EVREPL_REPLICATION_STATUS_NOT_CONFIGURED = 4,
} evrepl_replication_status;

typedef enum evrepl_ack_state {
    EVREPL_ACK_STATE_UNSPECIFIED = 0,
    EVREPL_ACK_STATE_CONFIRMED = 1,
    EVREPL_ACK_STATE_PENDING = 2,
    EVREPL_ACK_STATE_MISMATCH = 3,
    EVREPL_ACK_STATE_UNREACHABLE = 4,
} evrepl_ack_state;

typedef enum evrepl_serving_status {
    EVREPL_SERVING_STATUS_UNKNOWN = 0,
    EVREPL_SERVING_STATUS_SERVING = 1,
    EVREPL_SERVING_STATUS_NOT_SERVING = 2,
    EVREPL_SERVING_STATUS_SERVICE_UNKNOWN = 3,
} evrepl_serving_status;

// Full enum names as the contract spells them ("REPLICATION_STATUS_CONFIRMED",
// "ACK_STATE_PENDING", "SERVING"); "UNKNOWN_VALUE" for a number outside the enum. Static.
const char *evrepl_replication_status_name(evrepl_replication_status s);
const char *evrepl_ack_state_name(evrepl_ack_state s);
const char *evrepl_serving_status_name(evrepl_serving_status s);

// Seconds and nanoseconds since the Unix epoch, UTC (google.protobuf.Timestamp).
typedef struct evrepl_timestamp {
    int64_t seconds;
    int32_t nanos;
} evrepl_timestamp;

typedef struct evrepl_replica_ack {
    char *replica_id;
    evrepl_ack_state state;
    uint8_t observed_content_hash[EVREPL_HASH_BYTES];
    size_t observed_content_hash_len; // 0 (nothing observed) or EVREPL_HASH_BYTES
    char *detail;                     // never NULL once filled; may be ""
} evrepl_replica_ack;

// PropagateEvent's answer: which replicas hold the event, unaltered.
typedef struct evrepl_receipt {
    char event_id[EVREPL_UUID_STR_LEN + 1]; // lowercase canonical UUID
    char **replica_ids;                     // replicas holding the primary's content hash
    size_t n_replica_ids;
    evrepl_replication_status status;
    evrepl_timestamp timestamp;
    evrepl_replica_ack *acks; // one per configured replica, in configuration order
    size_t n_acks;
    uint8_t content_hash[EVREPL_HASH_BYTES];
    size_t content_hash_len; // 0 (stub) or EVREPL_HASH_BYTES
    uint8_t signature[EVREPL_SIGNATURE_BYTES];
    size_t signature_len;                      // 0 (unsigned) or EVREPL_SIGNATURE_BYTES
    char signer_key_id[EVREPL_KEY_ID_MAX + 1]; // "" when unsigned
} evrepl_receipt;

// Frees the heap parts and zeroes *r. Accepts NULL and zeroed structs; idempotent.
void evrepl_receipt_clear(evrepl_receipt *r);

typedef struct evrepl_verify_request {
    uint32_t tail;   // newest events to re-check; 0 and 1 both mean the head alone
    bool full_audit; // every event from sequence 1; overrides tail
} evrepl_verify_request;

typedef struct evrepl_replica_verification {
    char *replica_id;
    bool reachable;
    uint64_t head_sequence;
    uint8_t head_hash[EVREPL_HASH_BYTES];
    size_t head_hash_len; // 0 or EVREPL_HASH_BYTES
    bool head_hash_match;
    uint64_t lag_events;
    bool signature_valid;
    bool chain_valid;
    char *schema_version; // never NULL once filled; may be ""
    bool schema_version_match;
    char **errors;
    size_t n_errors;
    uint64_t events_checked;
    uint64_t diverged_at_sequence; // 0 = no divergence found
} evrepl_replica_verification;

// VerifyReplicas' answer. Valid only when evrepl_verification_is_valid() says so.
typedef struct evrepl_verification {
    bool head_hash_match;
    bool signature_valid;
    bool schema_version_match;
    char **errors;
    size_t n_errors;
    evrepl_replica_verification *replicas; // in configuration order
    size_t n_replicas;
    evrepl_timestamp checked_at;
    uint64_t primary_head_sequence;
    uint8_t primary_head_hash[EVREPL_HASH_BYTES];
    size_t primary_head_hash_len; // 0 (empty log or stub) or EVREPL_HASH_BYTES
    char *schema_version;         // the version the server expects; never NULL once filled
    uint8_t signature[EVREPL_SIGNATURE_BYTES];
    size_t signature_len;
    char signer_key_id[EVREPL_KEY_ID_MAX + 1];
} evrepl_verification;

// True when the three booleans are true and there are no errors (contract.md).
bool evrepl_verification_is_valid(const evrepl_verification *v);

// Frees the heap parts and zeroes *v. Accepts NULL and zeroed structs; idempotent.
void evrepl_verification_clear(evrepl_verification *v);

// Server/Describe's answer.
typedef struct evrepl_server_description {
    char *version;
    char *backend;
    char **methods; // path form, "/evrepl.v1.Health/Check"
    size_t n_methods;
    char **replica_ids;
    size_t n_replica_ids;
    char *schema_version;
    bool dev_mode;
    char *receipt_key_id; // "" without a receipt key
    uint8_t receipt_public_key[EVREPL_PUBLIC_KEY_BYTES];
    size_t receipt_public_key_len; // 0 or EVREPL_PUBLIC_KEY_BYTES
} evrepl_server_description;

// Frees the heap parts and zeroes *d. Accepts NULL and zeroed structs; idempotent.
void evrepl_server_description_clear(evrepl_server_description *d);

// Checks a receipt's signature offline against the server's receipt public key (Describe's
// receipt_public_key, or one the auditor pinned). Returns OK when the signature is valid,
// FAILED_PRECONDITION when the receipt is unsigned, INVALID_ARGUMENT when it does not verify
// (tampered, or signed by another key). docs/receipt-format.md defines the signed bytes.
EVREPL_NODISCARD evrepl_code evrepl_receipt_verify_signature(
    const evrepl_receipt *r, const uint8_t public_key[EVREPL_PUBLIC_KEY_BYTES], evrepl_status *st);

// The same for a verification result: a signed checkpoint of the replicas' heads.
EVREPL_NODISCARD evrepl_code evrepl_verification_verify_signature(
    const evrepl_verification *v, const uint8_t public_key[EVREPL_PUBLIC_KEY_BYTES],
    evrepl_status *st);

// Writes the canonical lowercase text of a 16-byte UUID into out (37 bytes with NUL).
void evrepl_uuid_format(const uint8_t uuid[16], char out[EVREPL_UUID_STR_LEN + 1]);

// Parses canonical UUID text (8-4-4-4-12 hex digits, either case, nothing else). Returns
// INVALID_ARGUMENT for anything else; writes *out only on success.
EVREPL_NODISCARD evrepl_code evrepl_uuid_parse(const char *text, uint8_t out[16],
                                               evrepl_status *st);

#ifdef __cplusplus
}
#endif

#endif // EVREPL_TYPES_H
