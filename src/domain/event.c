#include "domain/event.h"

#include <string.h>

#include <sodium.h>

#include "domain/status.h"
#include "domain/utf8.h"

_Static_assert(sizeof(EVRI_EVENT_TAG) - 1 == 15, "the tag docs/event-format.md names");

static bool
event_key_id_valid(const char *id, size_t len)
{
    if (len != EVRI_KEY_ID_LEN) {
        return false;
    }
    for (size_t i = 0; i < len; i++) {
        char c = id[i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
            return false;
        }
    }
    return true;
}

static bool
event_all_zero(const uint8_t *p, size_t len)
{
    return sodium_is_zero(p, len) == 1;
}

// The event_type rule on raw bytes (the decoder sees them before they are a C string).
static bool
event_type_valid(const uint8_t *p, size_t len)
{
    return len >= 1 && len <= EVRI_EVENT_TYPE_MAX_BYTES && memchr(p, 0, len) == NULL &&
           evri_utf8_valid((const char *)p, len);
}

evrepl_code
evri_event_validate(const evri_event *ev, evrepl_status *st)
{
    if (ev->sequence < 1 || ev->sequence > (uint64_t)INT64_MAX) {
        return evri_status_set(st, EVREPL_CODE_INVALID_ARGUMENT,
                               "event sequence %llu is outside 1..2^63-1",
                               (unsigned long long)ev->sequence);
    }
    size_t type_len = strnlen(ev->event_type, sizeof(ev->event_type));
    if (type_len == sizeof(ev->event_type) ||
        !event_type_valid((const uint8_t *)ev->event_type, type_len)) {
        return evri_status_set(st, EVREPL_CODE_INVALID_ARGUMENT,
                               "event type must be 1..%d bytes of UTF-8",
                               EVRI_EVENT_TYPE_MAX_BYTES);
    }
    if (ev->payload_len > UINT32_MAX || (ev->payload_len > 0 && ev->payload == NULL)) {
        return evri_status_set(st, EVREPL_CODE_INVALID_ARGUMENT,
                               "event payload must be at most %lu bytes",
                               (unsigned long)UINT32_MAX);
    }
    size_t id_len = strnlen(ev->signing_key_id, sizeof(ev->signing_key_id));
    if (!event_key_id_valid(ev->signing_key_id, id_len)) {
        return evri_status_set(st, EVREPL_CODE_INVALID_ARGUMENT,
                               "event signing key id must be %d lowercase hex digits",
                               EVRI_KEY_ID_LEN);
    }
    if (ev->created_at_us < EVRI_EVENT_CREATED_AT_MIN_US) {
        return evri_status_set(st, EVREPL_CODE_INVALID_ARGUMENT,
                               "event created_at is before 4714 BC, which PostgreSQL cannot "
                               "store");
    }
    if (ev->sequence == 1 && !event_all_zero(ev->prev_hash, sizeof(ev->prev_hash))) {
        return evri_status_set(st, EVREPL_CODE_INVALID_ARGUMENT,
                               "event 1 must have an all-zero prev_hash (genesis rule)");
    }
    return evri_status_ok(st);
}

evrepl_code
evri_event_set_type(evri_event *ev, const char *type, evrepl_status *st)
{
    size_t len = type != NULL ? strnlen(type, EVRI_EVENT_TYPE_MAX_BYTES + 1) : 0;
    if (len > EVRI_EVENT_TYPE_MAX_BYTES || !event_type_valid((const uint8_t *)type, len)) {
        return evri_status_set(st, EVREPL_CODE_INVALID_ARGUMENT,
                               "event type must be 1..%d bytes of UTF-8",
                               EVRI_EVENT_TYPE_MAX_BYTES);
    }
    memcpy(ev->event_type, type, len);
    ev->event_type[len] = '\0';
    return evri_status_ok(st);
}

void
evri_event_canonical(const evri_event *ev, evri_canon *c)
{
    evri_canon_str(c, EVRI_EVENT_TAG);
    evri_canon_bytes(c, ev->event_id, sizeof(ev->event_id));
    evri_canon_u64(c, ev->sequence);
    evri_canon_str(c, ev->event_type);
    evri_canon_bytes(c, ev->payload, ev->payload_len);
    evri_canon_bytes(c, ev->prev_hash, sizeof(ev->prev_hash));
    evri_canon_str(c, ev->signing_key_id);
    evri_canon_i64(c, ev->created_at_us);
}

evrepl_code
evri_event_hash(const evri_event *ev, uint8_t out[EVREPL_HASH_BYTES], evrepl_status *st)
{
    if (ev->payload_len > UINT32_MAX) {
        return evri_status_set(st, EVREPL_CODE_INVALID_ARGUMENT,
                               "event payload is longer than %lu bytes", (unsigned long)UINT32_MAX);
    }
    evri_canon c;
    evri_canon_init(&c);
    evri_event_canonical(ev, &c);
    if (c.failed) {
        evri_canon_free(&c);
        return evri_status_set(st, EVREPL_CODE_INTERNAL, "out of memory hashing an event");
    }
    crypto_hash_sha256(out, c.data, c.len);
    evri_canon_free(&c);
    return evri_status_ok(st);
}

evrepl_code
evri_event_sign(evri_event *ev, const evri_signer *s, evrepl_status *st)
{
    uint8_t hash[EVREPL_HASH_BYTES];
    char saved_id[sizeof(ev->signing_key_id)];
    memcpy(saved_id, ev->signing_key_id, sizeof(saved_id));
    memcpy(ev->signing_key_id, evri_signer_key_id(s), sizeof(ev->signing_key_id));
    evrepl_code code = evri_event_validate(ev, st);
    if (code == EVREPL_CODE_OK) {
        code = evri_event_hash(ev, hash, st);
    }
    if (code != EVREPL_CODE_OK) {
        memcpy(ev->signing_key_id, saved_id, sizeof(saved_id));
        return code;
    }
    memcpy(ev->content_hash, hash, sizeof(hash));
    evri_signer_sign(s, ev->content_hash, sizeof(ev->content_hash), ev->signature);
    return evri_status_ok(st);
}

evrepl_code
evri_event_check(const evri_event *ev, const uint8_t *public_key, const uint8_t *prev_content_hash,
                 evri_event_verdict *out, evrepl_status *st)
{
    evri_event_verdict v = {0};
    uint8_t hash[EVREPL_HASH_BYTES];
    evrepl_status vst;

    v.fields_ok = evri_event_validate(ev, &vst) == EVREPL_CODE_OK;
    if (ev->payload_len <= UINT32_MAX && (ev->payload_len == 0 || ev->payload != NULL)) {
        evrepl_code code = evri_event_hash(ev, hash, st);
        if (code != EVREPL_CODE_OK) {
            return code;
        }
        v.hash_ok = sodium_memcmp(hash, ev->content_hash, sizeof(hash)) == 0;
    }
    if (public_key != NULL) {
        char id[EVRI_KEY_ID_LEN + 1];
        evri_key_id(public_key, id);
        v.signature_ok = strncmp(id, ev->signing_key_id, sizeof(id)) == 0 &&
                         evri_signature_valid(public_key, ev->content_hash,
                                              sizeof(ev->content_hash), ev->signature);
    }
    if (ev->sequence == 1) {
        v.link_ok = event_all_zero(ev->prev_hash, sizeof(ev->prev_hash));
    } else if (prev_content_hash != NULL) {
        v.link_ok = memcmp(ev->prev_hash, prev_content_hash, EVREPL_HASH_BYTES) == 0;
    }
    *out = v;
    return evri_status_ok(st);
}

bool
evri_event_verdict_ok(const evri_event_verdict *v)
{
    return v->fields_ok && v->hash_ok && v->signature_ok && v->link_ok;
}

// A cursor over canonical bytes: the inverse of canon.h, for the decoder only.
typedef struct event_reader {
    const uint8_t *p;
    size_t left;
    bool failed;
} event_reader;

static uint64_t
reader_uint(event_reader *r, size_t n)
{
    uint64_t v = 0;
    if (r->failed || r->left < n) {
        r->failed = true;
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        v = (v << 8) | r->p[i];
    }
    r->p += n;
    r->left -= n;
    return v;
}

// A u32 length and that many bytes; returns a pointer into the input (NULL when it fails).
static const uint8_t *
reader_bytes(event_reader *r, size_t *len)
{
    size_t n = (size_t)reader_uint(r, 4);
    if (r->failed || r->left < n) {
        r->failed = true;
        *len = 0;
        return NULL;
    }
    const uint8_t *b = r->p;
    r->p += n;
    r->left -= n;
    *len = n;
    return b;
}

evrepl_code
evri_event_decode(evri_event *out, const uint8_t *data, size_t len, evrepl_status *st)
{
    evri_event ev;
    event_reader r = {.p = data, .left = len, .failed = data == NULL};
    size_t n;
    memset(&ev, 0, sizeof(ev));

    const uint8_t *tag = reader_bytes(&r, &n);
    if (r.failed || n != sizeof(EVRI_EVENT_TAG) - 1 || memcmp(tag, EVRI_EVENT_TAG, n) != 0) {
        return evri_status_set(st, EVREPL_CODE_INVALID_ARGUMENT,
                               "not the canonical bytes of an event: the tag is not '%s'",
                               EVRI_EVENT_TAG);
    }
    const uint8_t *id = reader_bytes(&r, &n);
    if (r.failed || n != sizeof(ev.event_id)) {
        return evri_status_set(st, EVREPL_CODE_INVALID_ARGUMENT,
                               "canonical event: event_id must be %d bytes", EVRI_EVENT_ID_BYTES);
    }
    memcpy(ev.event_id, id, n);
    ev.sequence = reader_uint(&r, 8);
    const uint8_t *type = reader_bytes(&r, &n);
    if (r.failed || !event_type_valid(type, n)) {
        return evri_status_set(st, EVREPL_CODE_INVALID_ARGUMENT,
                               "canonical event: event_type must be 1..%d bytes of UTF-8",
                               EVRI_EVENT_TYPE_MAX_BYTES);
    }
    memcpy(ev.event_type, type, n);
    ev.event_type[n] = '\0';
    ev.payload = reader_bytes(&r, &ev.payload_len);
    if (r.failed) {
        return evri_status_set(st, EVREPL_CODE_INVALID_ARGUMENT,
                               "canonical event: the payload runs past the end");
    }
    const uint8_t *prev = reader_bytes(&r, &n);
    if (r.failed || n != sizeof(ev.prev_hash)) {
        return evri_status_set(st, EVREPL_CODE_INVALID_ARGUMENT,
                               "canonical event: prev_hash must be %d bytes", EVREPL_HASH_BYTES);
    }
    memcpy(ev.prev_hash, prev, n);
    const uint8_t *key_id = reader_bytes(&r, &n);
    if (r.failed || !event_key_id_valid((const char *)key_id, n)) {
        return evri_status_set(st, EVREPL_CODE_INVALID_ARGUMENT,
                               "canonical event: signing_key_id must be %d lowercase hex digits",
                               EVRI_KEY_ID_LEN);
    }
    memcpy(ev.signing_key_id, key_id, n);
    ev.signing_key_id[n] = '\0';
    ev.created_at_us = (int64_t)reader_uint(&r, 8);
    if (r.failed) {
        return evri_status_set(st, EVREPL_CODE_INVALID_ARGUMENT,
                               "canonical event: it ends before created_at");
    }
    if (r.left != 0) {
        return evri_status_set(st, EVREPL_CODE_INVALID_ARGUMENT,
                               "canonical event: %zu bytes follow created_at", r.left);
    }
    evrepl_code code = evri_event_validate(&ev, st);
    if (code != EVREPL_CODE_OK) {
        return code;
    }
    *out = ev;
    return evri_status_ok(st);
}

void
evri_event_ids_new(uint8_t (*ids)[EVRI_EVENT_ID_BYTES], size_t n)
{
    if (n == 0) {
        return;
    }
    randombytes_buf(ids, n * EVRI_EVENT_ID_BYTES);
    for (size_t i = 0; i < n; i++) {
        ids[i][6] = (uint8_t)((ids[i][6] & 0x0f) | 0x40); // version 4
        ids[i][8] = (uint8_t)((ids[i][8] & 0x3f) | 0x80); // RFC 4122 variant
    }
}

void
evri_event_id_new(uint8_t out[EVRI_EVENT_ID_BYTES])
{
    evri_event_ids_new((uint8_t(*)[EVRI_EVENT_ID_BYTES])out, 1);
}
