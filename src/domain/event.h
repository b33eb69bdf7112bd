// Events of the log: canonical bytes, content hash, signature and chain link
// (docs/event-format.md is the normative description, with test vectors).
//
//   canonical = str "evrepl.event.v1" | bytes event_id (16) | u64 sequence | str event_type
//             | bytes payload | bytes prev_hash (32) | str signing_key_id | i64 created_at_us
//   content_hash = SHA-256(canonical)
//   signature    = Ed25519 detached signature of the 32-byte content_hash
//
// An evri_event is a plain value: fixed arrays for the small fields and a borrowed payload
// pointer, so filling one from a database row or from canonical bytes copies nothing big and
// needs no clear(). Whoever fills `payload` says how long it stays valid.
//
// Thread safety: pure; every function may be called from any thread on distinct events.
#ifndef EVREPL_DOMAIN_EVENT_H
#define EVREPL_DOMAIN_EVENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "domain/canon.h"
#include "domain/keys.h"
#include "evrepl/status.h"
#include "evrepl/types.h"

#define EVRI_EVENT_TAG            "evrepl.event.v1"
#define EVRI_EVENT_ID_BYTES       16  // raw UUID
#define EVRI_EVENT_TYPE_MAX_BYTES 255 // UTF-8 bytes, without NUL
// Oldest created_at_us PostgreSQL's timestamptz can hold (4714-11-24 00:00:00 UTC BC), so that
// every valid event round-trips through the database exactly.
#define EVRI_EVENT_CREATED_AT_MIN_US (-210866803200000000LL)

typedef struct evri_event {
    uint8_t event_id[EVRI_EVENT_ID_BYTES];
    uint64_t sequence;                              // 1 for the first event, then +1
    char event_type[EVRI_EVENT_TYPE_MAX_BYTES + 1]; // UTF-8, 1..255 bytes, NUL-terminated
    const uint8_t *payload;                         // borrowed; may be NULL when payload_len = 0
    size_t payload_len;                             // any length up to UINT32_MAX
    uint8_t prev_hash[EVREPL_HASH_BYTES];           // zeros for sequence 1 (genesis rule)
    char signing_key_id[EVRI_KEY_ID_LEN + 1];       // keys.h key id: 32 lowercase hex
    int64_t created_at_us;                          // microseconds since 1970-01-01T00:00Z
    uint8_t content_hash[EVREPL_HASH_BYTES];        // SHA-256 of the canonical bytes
    uint8_t signature[EVREPL_SIGNATURE_BYTES];      // Ed25519 over content_hash
} evri_event;

// What evri_event_check() found. The event is sound only when all four hold
// (evri_event_verdict_ok()).
typedef struct evri_event_verdict {
    bool fields_ok;    // evri_event_validate() accepts the fields
    bool hash_ok;      // content_hash equals SHA-256 of the canonical bytes
    bool signature_ok; // the public key's id is signing_key_id and the signature over the
                       // stored content_hash verifies under it
    bool link_ok;      // prev_hash is the predecessor's content hash (zeros for sequence 1)
} evri_event_verdict;

// Checks the field rules of docs/event-format.md: sequence in 1..INT64_MAX, event_type
// 1..255 bytes of well-formed UTF-8 without NUL, payload_len <= UINT32_MAX (and payload not
// NULL when payload_len > 0), signing_key_id 32 lowercase hex digits, created_at_us >=
// EVRI_EVENT_CREATED_AT_MIN_US, prev_hash all zero when sequence is 1. Returns OK or
// INVALID_ARGUMENT naming the first broken rule (never quoting payload bytes).
EVREPL_NODISCARD evrepl_code evri_event_validate(const evri_event *ev, evrepl_status *st);

// Copies type into ev->event_type. INVALID_ARGUMENT (ev unchanged) when it is empty, longer
// than EVRI_EVENT_TYPE_MAX_BYTES or not well-formed UTF-8.
EVREPL_NODISCARD evrepl_code evri_event_set_type(evri_event *ev, const char *type,
                                                 evrepl_status *st);

// Appends ev's canonical bytes to c (content_hash and signature are not part of them). Sets
// c->failed when memory runs out or the payload is longer than UINT32_MAX; the bytes are then
// unusable. Does not validate: any field values have an encoding.
void evri_event_canonical(const evri_event *ev, evri_canon *c);

// Writes SHA-256(canonical bytes of ev) into out. INTERNAL when memory runs out,
// INVALID_ARGUMENT when the payload is longer than UINT32_MAX. out is written only on success.
EVREPL_NODISCARD evrepl_code evri_event_hash(const evri_event *ev, uint8_t out[EVREPL_HASH_BYTES],
                                             evrepl_status *st);

// Seals ev with signer s: sets signing_key_id to s's key id, checks the fields
// (INVALID_ARGUMENT), computes content_hash and signs it. On failure content_hash and
// signature are left as they were.
EVREPL_NODISCARD evrepl_code evri_event_sign(evri_event *ev, const evri_signer *s,
                                             evrepl_status *st);

// Checks a stored event. public_key: the key named by ev->signing_key_id, or NULL when it is
// unknown (signature_ok is then false). prev_content_hash: the content hash of the event at
// ev->sequence - 1, or NULL when it is unknown (link_ok is then false unless sequence is 1,
// where the genesis rule applies and prev_content_hash is ignored). Fills *out on OK;
// INTERNAL only when memory runs out. A bad event is an OK return with flags false.
EVREPL_NODISCARD evrepl_code evri_event_check(const evri_event *ev, const uint8_t *public_key,
                                              const uint8_t *prev_content_hash,
                                              evri_event_verdict *out, evrepl_status *st);

// True when every flag of v holds.
bool evri_event_verdict_ok(const evri_event_verdict *v);

// Decodes canonical bytes into *out, strictly: the tag must be EVRI_EVENT_TAG, every length
// must fit, event_id and prev_hash must have their sizes, nothing may follow created_at_us,
// and the fields must pass evri_event_validate(). So for every accepted input,
// evri_event_canonical(out) gives back exactly data. out->payload points into data (borrowed:
// valid while data is); content_hash and signature are zeroed (they are not in the canonical
// bytes). INVALID_ARGUMENT otherwise; *out is written only on success.
EVREPL_NODISCARD evrepl_code evri_event_decode(evri_event *out, const uint8_t *data, size_t len,
                                               evrepl_status *st);

// A fresh random (version 4, RFC 4122 variant) UUID for an event id, from libsodium's
// randombytes.
void evri_event_id_new(uint8_t out[EVRI_EVENT_ID_BYTES]);

// n fresh ids at once: one randombytes call for the lot (a system call each, with Debian's
// libsodium), which matters to a writer that makes tens of thousands a second.
void evri_event_ids_new(uint8_t (*ids)[EVRI_EVENT_ID_BYTES], size_t n);

#endif // EVREPL_DOMAIN_EVENT_H
