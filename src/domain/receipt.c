#include "domain/receipt.h"

#include <stdio.h>
#include <string.h>

#include "domain/status.h"

void
evri_receipt_canonical(const evrepl_receipt *r, evri_canon *c)
{
    evri_canon_str(c, EVRI_RECEIPT_TAG);
    evri_canon_str(c, r->event_id);
    evri_canon_u32(c, (uint32_t)r->status);
    evri_canon_i64(c, r->timestamp.seconds);
    evri_canon_u32(c, (uint32_t)r->timestamp.nanos);
    evri_canon_bytes(c, r->content_hash, r->content_hash_len);
    evri_canon_strv(c, r->replica_ids, r->n_replica_ids);
    evri_canon_u32(c, (uint32_t)r->n_acks);
    for (size_t i = 0; i < r->n_acks; i++) {
        const evrepl_replica_ack *a = &r->acks[i];
        evri_canon_str(c, a->replica_id);
        evri_canon_u32(c, (uint32_t)a->state);
        evri_canon_bytes(c, a->observed_content_hash, a->observed_content_hash_len);
        evri_canon_str(c, a->detail);
    }
    evri_canon_str(c, r->signer_key_id);
}

void
evri_verification_canonical(const evrepl_verification *v, evri_canon *c)
{
    evri_canon_str(c, EVRI_VERIFICATION_TAG);
    evri_canon_bool(c, v->head_hash_match);
    evri_canon_bool(c, v->signature_valid);
    evri_canon_bool(c, v->schema_version_match);
    evri_canon_strv(c, v->errors, v->n_errors);
    evri_canon_u32(c, (uint32_t)v->n_replicas);
    for (size_t i = 0; i < v->n_replicas; i++) {
        const evrepl_replica_verification *rv = &v->replicas[i];
        evri_canon_str(c, rv->replica_id);
        evri_canon_bool(c, rv->reachable);
        evri_canon_u64(c, rv->head_sequence);
        evri_canon_bytes(c, rv->head_hash, rv->head_hash_len);
        evri_canon_bool(c, rv->head_hash_match);
        evri_canon_u64(c, rv->lag_events);
        evri_canon_bool(c, rv->signature_valid);
        evri_canon_bool(c, rv->chain_valid);
        evri_canon_str(c, rv->schema_version);
        evri_canon_bool(c, rv->schema_version_match);
        evri_canon_strv(c, rv->errors, rv->n_errors);
        evri_canon_u64(c, rv->events_checked);
        evri_canon_u64(c, rv->diverged_at_sequence);
    }
    evri_canon_i64(c, v->checked_at.seconds);
    evri_canon_u32(c, (uint32_t)v->checked_at.nanos);
    evri_canon_u64(c, v->primary_head_sequence);
    evri_canon_bytes(c, v->primary_head_hash, v->primary_head_hash_len);
    evri_canon_str(c, v->schema_version);
    evri_canon_str(c, v->signer_key_id);
}

evrepl_code
evri_receipt_sign(evrepl_receipt *r, const evri_signer *s, evrepl_status *st)
{
    evri_canon c;
    evri_canon_init(&c);
    snprintf(r->signer_key_id, sizeof(r->signer_key_id), "%s", evri_signer_key_id(s));
    evri_receipt_canonical(r, &c);
    if (c.failed) {
        evri_canon_free(&c);
        r->signer_key_id[0] = '\0';
        return evri_status_set(st, EVREPL_CODE_INTERNAL, "out of memory signing a receipt");
    }
    evri_signer_sign(s, c.data, c.len, r->signature);
    r->signature_len = EVREPL_SIGNATURE_BYTES;
    evri_canon_free(&c);
    return evri_status_ok(st);
}

evrepl_code
evri_verification_sign(evrepl_verification *v, const evri_signer *s, evrepl_status *st)
{
    evri_canon c;
    evri_canon_init(&c);
    snprintf(v->signer_key_id, sizeof(v->signer_key_id), "%s", evri_signer_key_id(s));
    evri_verification_canonical(v, &c);
    if (c.failed) {
        evri_canon_free(&c);
        v->signer_key_id[0] = '\0';
        return evri_status_set(st, EVREPL_CODE_INTERNAL,
                               "out of memory signing a verification result");
    }
    evri_signer_sign(s, c.data, c.len, v->signature);
    v->signature_len = EVREPL_SIGNATURE_BYTES;
    evri_canon_free(&c);
    return evri_status_ok(st);
}

// Checks a signature over canonical bytes c against public_key.
static evrepl_code
check_signed(const evri_canon *c, const uint8_t *sig, size_t sig_len, const char *signer_key_id,
             const uint8_t public_key[EVREPL_PUBLIC_KEY_BYTES], const char *what, evrepl_status *st)
{
    char want_id[EVRI_KEY_ID_LEN + 1];
    if (sig_len == 0) {
        return evri_status_set(st, EVREPL_CODE_FAILED_PRECONDITION,
                               "the %s is unsigned (the server has no receipt key)", what);
    }
    if (c->failed) {
        return evri_status_set(st, EVREPL_CODE_INTERNAL, "out of memory checking a %s", what);
    }
    if (!evri_crypto_init()) {
        return evri_status_set(st, EVREPL_CODE_INTERNAL, "libsodium cannot be initialised");
    }
    evri_key_id(public_key, want_id);
    if (strcmp(want_id, signer_key_id) != 0) {
        return evri_status_set(st, EVREPL_CODE_INVALID_ARGUMENT,
                               "the %s was signed by key %.64s, not by key %s", what, signer_key_id,
                               want_id);
    }
    if (sig_len != EVREPL_SIGNATURE_BYTES ||
        !evri_signature_valid(public_key, c->data, c->len, sig)) {
        return evri_status_set(st, EVREPL_CODE_INVALID_ARGUMENT,
                               "the %s's signature does not verify: it was altered after signing",
                               what);
    }
    return evri_status_ok(st);
}

evrepl_code
evrepl_receipt_verify_signature(const evrepl_receipt *r,
                                const uint8_t public_key[EVREPL_PUBLIC_KEY_BYTES],
                                evrepl_status *st)
{
    evri_canon c;
    evri_canon_init(&c);
    evri_receipt_canonical(r, &c);
    evrepl_code code = check_signed(&c, r->signature, r->signature_len, r->signer_key_id,
                                    public_key, "receipt", st);
    evri_canon_free(&c);
    return code;
}

evrepl_code
evrepl_verification_verify_signature(const evrepl_verification *v,
                                     const uint8_t public_key[EVREPL_PUBLIC_KEY_BYTES],
                                     evrepl_status *st)
{
    evri_canon c;
    evri_canon_init(&c);
    evri_verification_canonical(v, &c);
    evrepl_code code = check_signed(&c, v->signature, v->signature_len, v->signer_key_id,
                                    public_key, "verification result", st);
    evri_canon_free(&c);
    return code;
}
