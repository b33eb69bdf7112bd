// Event canonical bytes, hashes, signatures and the strict decoder, checked against the
// machine-readable vectors of tests/vectors/event-vectors.json (docs/event-format.md).
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <json-c/json.h>
#include <sodium.h>

#include "domain/canon.h"
#include "domain/event.h"
#include "domain/keys.h"
#include "evrepl/types.h"

typedef struct fixture {
    json_object *doc;
    json_object *vectors;
    json_object *rejects;
} fixture;

static int
setup(void **state)
{
    char path[4096];
    const char *src = getenv("EVREPL_SOURCE_DIR");
    assert_true(evri_crypto_init());
    snprintf(path, sizeof(path), "%s/tests/vectors/event-vectors.json", src != NULL ? src : ".");
    fixture *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    f->doc = json_object_from_file(path);
    if (f->doc == NULL) {
        fprintf(stderr, "cannot read %s (set EVREPL_SOURCE_DIR)\n", path);
        free(f);
        return -1;
    }
    assert_true(json_object_object_get_ex(f->doc, "vectors", &f->vectors));
    assert_true(json_object_object_get_ex(f->doc, "decode_rejects", &f->rejects));
    assert_true(json_object_array_length(f->vectors) >= 6);
    *state = f;
    return 0;
}

static int
teardown(void **state)
{
    fixture *f = *state;
    json_object_put(f->doc);
    free(f);
    return 0;
}

static json_object *
get(json_object *o, const char *key)
{
    json_object *v = NULL;
    if (!json_object_object_get_ex(o, key, &v)) {
        fail_msg("vector field %s is missing", key);
    }
    return v;
}

static const char *
get_str(json_object *o, const char *key)
{
    return json_object_get_string(get(o, key));
}

// Decodes a hex field into a fresh buffer (at least 1 byte allocated); *len gets its length.
static uint8_t *
get_hex(json_object *o, const char *key, size_t *len)
{
    const char *hex = get_str(o, key);
    size_t hex_len = strlen(hex);
    uint8_t *b = malloc(hex_len / 2 + 1);
    size_t n = 0;
    assert_non_null(b);
    assert_int_equal(sodium_hex2bin(b, hex_len / 2 + 1, hex, hex_len, NULL, &n, NULL), 0);
    assert_int_equal(n * 2, hex_len);
    *len = n;
    return b;
}

static void
get_hex_fixed(json_object *o, const char *key, uint8_t *out, size_t want)
{
    size_t n = 0;
    uint8_t *b = get_hex(o, key, &n);
    assert_int_equal(n, want);
    memcpy(out, b, n);
    free(b);
}

// The vector's fields as an event; *payload must be freed by the caller.
static void
event_of(json_object *v, evri_event *ev, uint8_t **payload)
{
    json_object *e = get(v, "event");
    size_t type_len = 0;
    memset(ev, 0, sizeof(*ev));
    get_hex_fixed(e, "event_id_hex", ev->event_id, sizeof(ev->event_id));
    ev->sequence = (uint64_t)json_object_get_int64(get(e, "sequence"));
    uint8_t *type = get_hex(e, "event_type_hex", &type_len);
    assert_true(type_len < sizeof(ev->event_type));
    memcpy(ev->event_type, type, type_len);
    free(type);
    assert_string_equal(ev->event_type, get_str(e, "event_type"));
    *payload = get_hex(e, "payload_hex", &ev->payload_len);
    ev->payload = *payload;
    get_hex_fixed(e, "prev_hash_hex", ev->prev_hash, sizeof(ev->prev_hash));
    snprintf(ev->signing_key_id, sizeof(ev->signing_key_id), "%s", get_str(e, "signing_key_id"));
    ev->created_at_us = json_object_get_int64(get(e, "created_at_us"));
    get_hex_fixed(v, "content_hash_hex", ev->content_hash, sizeof(ev->content_hash));
    get_hex_fixed(v, "signature_hex", ev->signature, sizeof(ev->signature));
}

static evri_signer *
signer_of(json_object *v)
{
    uint8_t seed[EVRI_SEED_BYTES], pk[EVREPL_PUBLIC_KEY_BYTES], sk[EVRI_SECRET_KEY_BYTES];
    evri_signer *s = NULL;
    get_hex_fixed(v, "seed_hex", seed, sizeof(seed));
    assert_int_equal(crypto_sign_seed_keypair(pk, sk, seed), 0);
    assert_int_equal(evri_signer_create(&s, sk, NULL), EVREPL_CODE_OK);
    sodium_memzero(sk, sizeof(sk));
    return s;
}

static void
test_event_vectors_encode_hash_sign(void **state)
{
    fixture *f = *state;
    for (size_t i = 0; i < json_object_array_length(f->vectors); i++) {
        json_object *v = json_object_array_get_idx(f->vectors, i);
        evri_event ev, signed_ev;
        uint8_t *payload = NULL, *want = NULL, hash[EVREPL_HASH_BYTES];
        uint8_t pk[EVREPL_PUBLIC_KEY_BYTES];
        size_t want_len = 0;
        evri_canon c;
        evrepl_status st;
        event_of(v, &ev, &payload);

        evri_signer *s = signer_of(v);
        get_hex_fixed(v, "public_key_hex", pk, sizeof(pk));
        assert_memory_equal(evri_signer_public_key(s), pk, sizeof(pk));
        assert_string_equal(evri_signer_key_id(s), get_str(v, "key_id"));

        evri_canon_init(&c);
        evri_event_canonical(&ev, &c);
        assert_false(c.failed);
        want = get_hex(v, "canonical_hex", &want_len);
        assert_int_equal(c.len, want_len);
        assert_memory_equal(c.data, want, want_len);
        evri_canon_free(&c);
        free(want);

        assert_int_equal(evri_event_hash(&ev, hash, &st), EVREPL_CODE_OK);
        assert_memory_equal(hash, ev.content_hash, sizeof(hash));

        // Signing from scratch reproduces the vector's hash and signature exactly.
        signed_ev = ev;
        memset(signed_ev.signing_key_id, 0, sizeof(signed_ev.signing_key_id));
        memset(signed_ev.content_hash, 0, sizeof(signed_ev.content_hash));
        memset(signed_ev.signature, 0, sizeof(signed_ev.signature));
        assert_int_equal(evri_event_sign(&signed_ev, s, &st), EVREPL_CODE_OK);
        assert_string_equal(signed_ev.signing_key_id, ev.signing_key_id);
        assert_memory_equal(signed_ev.content_hash, ev.content_hash, EVREPL_HASH_BYTES);
        assert_memory_equal(signed_ev.signature, ev.signature, EVREPL_SIGNATURE_BYTES);
        evri_signer_destroy(s);
        free(payload);
    }
}

static void
test_event_vectors_check(void **state)
{
    fixture *f = *state;
    uint8_t prev[EVREPL_HASH_BYTES];
    const char *prev_chain = NULL;
    uint64_t prev_seq = 0;
    size_t linked = 0;
    for (size_t i = 0; i < json_object_array_length(f->vectors); i++) {
        json_object *v = json_object_array_get_idx(f->vectors, i);
        json_object *chain = NULL;
        evri_event ev;
        evri_event_verdict vd;
        uint8_t *payload = NULL, pk[EVREPL_PUBLIC_KEY_BYTES];
        event_of(v, &ev, &payload);
        get_hex_fixed(v, "public_key_hex", pk, sizeof(pk));
        bool in_chain = json_object_object_get_ex(v, "chain", &chain);
        const char *chain_name = in_chain ? json_object_get_string(chain) : NULL;
        bool has_prev = in_chain && prev_chain != NULL && strcmp(prev_chain, chain_name) == 0 &&
                        prev_seq + 1 == ev.sequence;
        assert_int_equal(evri_event_check(&ev, pk, has_prev ? prev : NULL, &vd, NULL),
                         EVREPL_CODE_OK);
        assert_true(vd.fields_ok);
        assert_true(vd.hash_ok);
        assert_true(vd.signature_ok);
        if (ev.sequence == 1 || has_prev) {
            assert_true(vd.link_ok);
            assert_true(evri_event_verdict_ok(&vd));
            linked += has_prev ? 1 : 0;
        } else {
            assert_false(vd.link_ok); // predecessor unknown: not claimed
        }
        if (in_chain) {
            memcpy(prev, ev.content_hash, sizeof(prev));
            prev_chain = chain_name;
            prev_seq = ev.sequence;
        }
        free(payload);
    }
    assert_true(linked >= 2); // the chain of three was walked
}

static void
test_event_vectors_decode(void **state)
{
    fixture *f = *state;
    for (size_t i = 0; i < json_object_array_length(f->vectors); i++) {
        json_object *v = json_object_array_get_idx(f->vectors, i);
        evri_event ev, got;
        uint8_t *payload = NULL, *bytes = NULL;
        size_t len = 0;
        evri_canon c;
        evrepl_status st;
        event_of(v, &ev, &payload);
        bytes = get_hex(v, "canonical_hex", &len);
        assert_int_equal(evri_event_decode(&got, bytes, len, &st), EVREPL_CODE_OK);
        assert_memory_equal(got.event_id, ev.event_id, sizeof(ev.event_id));
        assert_int_equal(got.sequence, ev.sequence);
        assert_string_equal(got.event_type, ev.event_type);
        assert_int_equal(got.payload_len, ev.payload_len);
        if (ev.payload_len > 0) {
            assert_memory_equal(got.payload, ev.payload, ev.payload_len);
            assert_true(got.payload >= bytes && got.payload < bytes + len); // borrowed
        }
        assert_memory_equal(got.prev_hash, ev.prev_hash, sizeof(ev.prev_hash));
        assert_string_equal(got.signing_key_id, ev.signing_key_id);
        assert_int_equal(got.created_at_us, ev.created_at_us);
        assert_true(sodium_is_zero(got.content_hash, sizeof(got.content_hash)));
        assert_true(sodium_is_zero(got.signature, sizeof(got.signature)));
        evri_canon_init(&c);
        evri_event_canonical(&got, &c);
        assert_int_equal(c.len, len);
        assert_memory_equal(c.data, bytes, len);
        evri_canon_free(&c);
        free(bytes);
        free(payload);
    }
}

static void
test_event_vectors_decode_rejects(void **state)
{
    fixture *f = *state;
    assert_true(json_object_array_length(f->rejects) >= 10);
    for (size_t i = 0; i < json_object_array_length(f->rejects); i++) {
        json_object *r = json_object_array_get_idx(f->rejects, i);
        evri_event ev;
        evrepl_status st = {0};
        size_t len = 0;
        uint8_t *bytes = get_hex(r, "canonical_hex", &len);
        memset(&ev, 0xa5, sizeof(ev));
        evri_event before = ev;
        if (evri_event_decode(&ev, bytes, len, &st) != EVREPL_CODE_INVALID_ARGUMENT) {
            fail_msg("decode accepted %s (%s)", get_str(r, "name"), get_str(r, "reason"));
        }
        assert_true(st.message[0] != '\0');
        assert_memory_equal(&ev, &before, sizeof(ev)); // *out untouched on failure
        free(bytes);
    }
}

// A valid event with fixed fields for the rule tests.
static void
sample_event(evri_event *ev, const evri_signer *s)
{
    static const uint8_t payload[] = {'h', 'i', 0, 1};
    memset(ev, 0, sizeof(*ev));
    memset(ev->event_id, 0x11, sizeof(ev->event_id));
    ev->sequence = 5;
    assert_int_equal(evri_event_set_type(ev, "thing.done", NULL), EVREPL_CODE_OK);
    ev->payload = payload;
    ev->payload_len = sizeof(payload);
    memset(ev->prev_hash, 0x22, sizeof(ev->prev_hash));
    ev->created_at_us = 1795752466123456;
    assert_int_equal(evri_event_sign(ev, s, NULL), EVREPL_CODE_OK);
}

static void
test_event_check_detects_tampering(void **state)
{
    (void)state;
    evri_signer *s = NULL, *other = NULL;
    evri_event ev, t;
    evri_event_verdict vd;
    uint8_t prev[EVREPL_HASH_BYTES], changed_payload[4];
    assert_int_equal(evri_signer_generate(&s, NULL), EVREPL_CODE_OK);
    assert_int_equal(evri_signer_generate(&other, NULL), EVREPL_CODE_OK);
    sample_event(&ev, s);
    memset(prev, 0x22, sizeof(prev));

    assert_int_equal(evri_event_check(&ev, evri_signer_public_key(s), prev, &vd, NULL),
                     EVREPL_CODE_OK);
    assert_true(evri_event_verdict_ok(&vd));

    t = ev; // one payload byte changed: the hash no longer recomputes
    memcpy(changed_payload, ev.payload, sizeof(changed_payload));
    changed_payload[2] ^= 1;
    t.payload = changed_payload;
    assert_int_equal(evri_event_check(&t, evri_signer_public_key(s), prev, &vd, NULL),
                     EVREPL_CODE_OK);
    assert_false(vd.hash_ok);
    assert_true(vd.signature_ok); // the stored hash is still the one signed
    assert_false(evri_event_verdict_ok(&vd));

    t = ev; // created_at moved by one microsecond
    t.created_at_us++;
    assert_int_equal(evri_event_check(&t, evri_signer_public_key(s), prev, &vd, NULL),
                     EVREPL_CODE_OK);
    assert_false(vd.hash_ok);

    t = ev; // checked under another public key than the one named by the key id
    assert_int_equal(evri_event_check(&t, evri_signer_public_key(other), prev, &vd, NULL),
                     EVREPL_CODE_OK);
    assert_false(vd.signature_ok);
    assert_true(vd.hash_ok);

    t = ev; // resigned by another key: valid under that key only
    assert_int_equal(evri_event_sign(&t, other, NULL), EVREPL_CODE_OK);
    assert_int_equal(evri_event_check(&t, evri_signer_public_key(s), prev, &vd, NULL),
                     EVREPL_CODE_OK);
    assert_false(vd.signature_ok);
    assert_int_equal(evri_event_check(&t, evri_signer_public_key(other), prev, &vd, NULL),
                     EVREPL_CODE_OK);
    assert_true(evri_event_verdict_ok(&vd));

    t = ev; // a flipped signature bit
    t.signature[10] ^= 0x40;
    assert_int_equal(evri_event_check(&t, evri_signer_public_key(s), prev, &vd, NULL),
                     EVREPL_CODE_OK);
    assert_false(vd.signature_ok);

    assert_int_equal(evri_event_check(&ev, NULL, prev, &vd, NULL), EVREPL_CODE_OK);
    assert_false(vd.signature_ok); // no key: not claimed

    prev[0] ^= 1; // a different predecessor
    assert_int_equal(evri_event_check(&ev, evri_signer_public_key(s), prev, &vd, NULL),
                     EVREPL_CODE_OK);
    assert_false(vd.link_ok);
    assert_int_equal(evri_event_check(&ev, evri_signer_public_key(s), NULL, &vd, NULL),
                     EVREPL_CODE_OK);
    assert_false(vd.link_ok);

    t = ev; // genesis with a non-zero prev_hash breaks the fields and the link
    t.sequence = 1;
    assert_int_equal(evri_event_check(&t, evri_signer_public_key(s), NULL, &vd, NULL),
                     EVREPL_CODE_OK);
    assert_false(vd.fields_ok);
    assert_false(vd.link_ok);
    memset(t.prev_hash, 0, sizeof(t.prev_hash));
    assert_int_equal(evri_event_sign(&t, s, NULL), EVREPL_CODE_OK);
    assert_int_equal(evri_event_check(&t, evri_signer_public_key(s), prev, &vd, NULL),
                     EVREPL_CODE_OK);
    assert_true(evri_event_verdict_ok(&vd)); // prev_content_hash is ignored for sequence 1

    evri_signer_destroy(s);
    evri_signer_destroy(other);
}

static void
test_event_validate_rules(void **state)
{
    (void)state;
    evri_signer *s = NULL;
    evri_event ev, t;
    evrepl_status st;
    assert_int_equal(evri_signer_generate(&s, NULL), EVREPL_CODE_OK);
    sample_event(&ev, s);
    assert_int_equal(evri_event_validate(&ev, &st), EVREPL_CODE_OK);

    t = ev;
    t.sequence = 0;
    assert_int_equal(evri_event_validate(&t, &st), EVREPL_CODE_INVALID_ARGUMENT);
    t.sequence = (uint64_t)INT64_MAX + 1;
    assert_int_equal(evri_event_validate(&t, &st), EVREPL_CODE_INVALID_ARGUMENT);
    t.sequence = (uint64_t)INT64_MAX;
    assert_int_equal(evri_event_validate(&t, &st), EVREPL_CODE_OK);

    t = ev;
    t.event_type[0] = '\0';
    assert_int_equal(evri_event_validate(&t, &st), EVREPL_CODE_INVALID_ARGUMENT);
    memset(t.event_type, 'x', sizeof(t.event_type)); // no NUL inside the buffer
    assert_int_equal(evri_event_validate(&t, &st), EVREPL_CODE_INVALID_ARGUMENT);
    t.event_type[EVRI_EVENT_TYPE_MAX_BYTES] = '\0'; // exactly 255 bytes
    assert_int_equal(evri_event_validate(&t, &st), EVREPL_CODE_OK);
    memcpy(t.event_type, "a\xc3", 3); // cut UTF-8 sequence
    assert_int_equal(evri_event_validate(&t, &st), EVREPL_CODE_INVALID_ARGUMENT);

    t = ev;
    t.payload = NULL;
    assert_int_equal(evri_event_validate(&t, &st), EVREPL_CODE_INVALID_ARGUMENT);
    t.payload_len = 0;
    assert_int_equal(evri_event_validate(&t, &st), EVREPL_CODE_OK);

    t = ev;
    t.signing_key_id[3] = 'A';
    assert_int_equal(evri_event_validate(&t, &st), EVREPL_CODE_INVALID_ARGUMENT);
    t.signing_key_id[3] = '\0';
    assert_int_equal(evri_event_validate(&t, &st), EVREPL_CODE_INVALID_ARGUMENT);

    t = ev;
    t.created_at_us = EVRI_EVENT_CREATED_AT_MIN_US;
    assert_int_equal(evri_event_validate(&t, &st), EVREPL_CODE_OK);
    t.created_at_us--;
    assert_int_equal(evri_event_validate(&t, &st), EVREPL_CODE_INVALID_ARGUMENT);
    t.created_at_us = INT64_MAX;
    assert_int_equal(evri_event_validate(&t, &st), EVREPL_CODE_OK);

    t = ev;
    t.sequence = 1;
    assert_int_equal(evri_event_validate(&t, &st), EVREPL_CODE_INVALID_ARGUMENT);
    assert_non_null(strstr(st.message, "genesis"));
    // Signing refuses invalid fields and leaves the event as it was.
    memset(t.content_hash, 0x5a, sizeof(t.content_hash));
    evri_event before = t;
    assert_int_equal(evri_event_sign(&t, s, &st), EVREPL_CODE_INVALID_ARGUMENT);
    assert_memory_equal(&t, &before, sizeof(t));

    evri_signer_destroy(s);
}

static void
test_event_set_type(void **state)
{
    (void)state;
    evri_event ev;
    char long_type[EVRI_EVENT_TYPE_MAX_BYTES + 2];
    memset(&ev, 0, sizeof(ev));
    assert_int_equal(evri_event_set_type(&ev, "a.b", NULL), EVREPL_CODE_OK);
    assert_string_equal(ev.event_type, "a.b");
    assert_int_equal(evri_event_set_type(&ev, "", NULL), EVREPL_CODE_INVALID_ARGUMENT);
    assert_int_equal(evri_event_set_type(&ev, NULL, NULL), EVREPL_CODE_INVALID_ARGUMENT);
    assert_int_equal(evri_event_set_type(&ev, "\xff", NULL), EVREPL_CODE_INVALID_ARGUMENT);
    memset(long_type, 'y', sizeof(long_type));
    long_type[EVRI_EVENT_TYPE_MAX_BYTES + 1] = '\0';
    assert_int_equal(evri_event_set_type(&ev, long_type, NULL), EVREPL_CODE_INVALID_ARGUMENT);
    assert_string_equal(ev.event_type, "a.b"); // unchanged on failure
    long_type[EVRI_EVENT_TYPE_MAX_BYTES] = '\0';
    assert_int_equal(evri_event_set_type(&ev, long_type, NULL), EVREPL_CODE_OK);
    assert_int_equal(strlen(ev.event_type), EVRI_EVENT_TYPE_MAX_BYTES);
    assert_int_equal(evri_event_set_type(&ev, "😀.✓", NULL), EVREPL_CODE_OK);
}

// Every strict prefix and every one-byte extension of valid canonical bytes is rejected, and
// every accepted mutation re-encodes to itself (the decoder is the encoder's exact inverse).
static void
test_event_decode_prefixes_and_mutations(void **state)
{
    (void)state;
    evri_signer *s = NULL;
    evri_event ev, got;
    evri_canon c, again;
    size_t accepted = 0;
    assert_int_equal(evri_signer_generate(&s, NULL), EVREPL_CODE_OK);
    sample_event(&ev, s);
    evri_canon_init(&c);
    evri_event_canonical(&ev, &c);
    assert_false(c.failed);
    for (size_t n = 0; n < c.len; n++) {
        assert_int_equal(evri_event_decode(&got, c.data, n, NULL), EVREPL_CODE_INVALID_ARGUMENT);
    }
    uint8_t *longer = malloc(c.len + 1);
    assert_non_null(longer);
    memcpy(longer, c.data, c.len);
    longer[c.len] = 0;
    assert_int_equal(evri_event_decode(&got, longer, c.len + 1, NULL),
                     EVREPL_CODE_INVALID_ARGUMENT);
    free(longer);
    assert_int_equal(evri_event_decode(&got, NULL, 0, NULL), EVREPL_CODE_INVALID_ARGUMENT);

    evri_canon_init(&again);
    for (size_t i = 0; i < c.len; i++) {
        for (unsigned bit = 0; bit < 8; bit++) {
            c.data[i] ^= (uint8_t)(1u << bit);
            if (evri_event_decode(&got, c.data, c.len, NULL) == EVREPL_CODE_OK) {
                evri_canon_reset(&again);
                evri_event_canonical(&got, &again);
                assert_int_equal(again.len, c.len);
                assert_memory_equal(again.data, c.data, c.len);
                accepted++;
            }
            c.data[i] ^= (uint8_t)(1u << bit);
        }
    }
    assert_true(accepted > 0); // e.g. payload and created_at bits are free
    evri_canon_free(&again);
    evri_canon_free(&c);
    evri_signer_destroy(s);
}

static void
test_event_id_new_is_v4(void **state)
{
    (void)state;
    uint8_t a[EVRI_EVENT_ID_BYTES], b[EVRI_EVENT_ID_BYTES];
    char text[EVREPL_UUID_STR_LEN + 1];
    evri_event_id_new(a);
    evri_event_id_new(b);
    assert_memory_not_equal(a, b, sizeof(a));
    evrepl_uuid_format(a, text);
    assert_int_equal(text[14], '4');
    assert_non_null(strchr("89ab", text[19]));

    uint8_t many[64][EVRI_EVENT_ID_BYTES];
    evri_event_ids_new(many, 64);
    for (size_t i = 0; i < 64; i++) {
        evrepl_uuid_format(many[i], text);
        assert_int_equal(text[14], '4');
        assert_non_null(strchr("89ab", text[19]));
        for (size_t k = 0; k < i; k++) {
            assert_memory_not_equal(many[i], many[k], EVRI_EVENT_ID_BYTES);
        }
    }
    evri_event_ids_new(many, 0); // nothing, no crash
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_event_vectors_encode_hash_sign),
        cmocka_unit_test(test_event_vectors_check),
        cmocka_unit_test(test_event_vectors_decode),
        cmocka_unit_test(test_event_vectors_decode_rejects),
        cmocka_unit_test(test_event_check_detects_tampering),
        cmocka_unit_test(test_event_validate_rules),
        cmocka_unit_test(test_event_set_type),
        cmocka_unit_test(test_event_decode_prefixes_and_mutations),
        cmocka_unit_test(test_event_id_new_is_v4),
    };
    return cmocka_run_group_tests_name("event", tests, setup, teardown);
}
