// Receipt and verification-result signatures: the shared vectors (captured from evrepld,
// rebuilt independently by the Python client), tamper detection, wrong keys, unsigned answers.
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
#include "domain/receipt.h"
#include "domain/strv.h"
#include "rpc/wire.h"

static json_object *vectors;

static int
load_vectors(void **state)
{
    (void)state;
    char path[1024];
    const char *src = getenv("EVREPL_SOURCE_DIR");
    snprintf(path, sizeof(path), "%s/tests/clients/vectors/receipt-vectors.json",
             src != NULL ? src : ".");
    vectors = json_object_from_file(path);
    return vectors == NULL ? -1 : 0;
}

static int
free_vectors(void **state)
{
    (void)state;
    json_object_put(vectors);
    return 0;
}

static uint8_t *
unhex(const char *hex, size_t *len)
{
    size_t n = strlen(hex) / 2;
    uint8_t *b = malloc(n + 1);
    assert_int_equal(sodium_hex2bin(b, n, hex, strlen(hex), NULL, len, NULL), 0);
    return b;
}

static const char *
jstr(json_object *o, const char *key)
{
    json_object *v;
    assert_true(json_object_object_get_ex(o, key, &v));
    return json_object_get_string(v);
}

static void
public_key(uint8_t pk[32])
{
    size_t len;
    uint8_t *k = unhex(jstr(vectors, "public_key_hex"), &len);
    assert_int_equal(len, 32);
    memcpy(pk, k, 32);
    free(k);
}

static void
test_receipt_vectors(void **state)
{
    (void)state;
    uint8_t pk[32];
    public_key(pk);
    json_object *list;
    assert_true(json_object_object_get_ex(vectors, "receipts", &list));
    assert_true(json_object_array_length(list) >= 2);
    for (size_t i = 0; i < json_object_array_length(list); i++) {
        json_object *v = json_object_array_get_idx(list, i);
        size_t mlen, clen;
        uint8_t *msg = unhex(jstr(v, "message_hex"), &mlen);
        uint8_t *canon = unhex(jstr(v, "canonical_hex"), &clen);
        evrepl_receipt r = {0};
        evrepl_status st;
        assert_int_equal(evri_wire_unpack_receipt(msg, mlen, &r, &st), EVREPL_CODE_OK);
        evri_canon c;
        evri_canon_init(&c);
        evri_receipt_canonical(&r, &c);
        assert_int_equal(c.len, clen);
        assert_memory_equal(c.data, canon, clen);
        assert_string_equal(r.signer_key_id, jstr(vectors, "key_id"));
        assert_int_equal(evrepl_receipt_verify_signature(&r, pk, &st), EVREPL_CODE_OK);
        // Any change breaks it.
        r.timestamp.nanos ^= 1;
        assert_int_equal(evrepl_receipt_verify_signature(&r, pk, &st),
                         EVREPL_CODE_INVALID_ARGUMENT);
        evri_canon_free(&c);
        evrepl_receipt_clear(&r);
        free(msg);
        free(canon);
    }
}

static void
test_verification_vectors(void **state)
{
    (void)state;
    uint8_t pk[32];
    public_key(pk);
    json_object *list;
    assert_true(json_object_object_get_ex(vectors, "verifications", &list));
    for (size_t i = 0; i < json_object_array_length(list); i++) {
        json_object *v = json_object_array_get_idx(list, i);
        size_t mlen, clen;
        uint8_t *msg = unhex(jstr(v, "message_hex"), &mlen);
        uint8_t *canon = unhex(jstr(v, "canonical_hex"), &clen);
        evrepl_verification r = {0};
        evrepl_status st;
        assert_int_equal(evri_wire_unpack_verification(msg, mlen, &r, &st), EVREPL_CODE_OK);
        evri_canon c;
        evri_canon_init(&c);
        evri_verification_canonical(&r, &c);
        assert_int_equal(c.len, clen);
        assert_memory_equal(c.data, canon, clen);
        assert_int_equal(evrepl_verification_verify_signature(&r, pk, &st), EVREPL_CODE_OK);
        r.head_hash_match = !r.head_hash_match;
        assert_int_equal(evrepl_verification_verify_signature(&r, pk, &st),
                         EVREPL_CODE_INVALID_ARGUMENT);
        evri_canon_free(&c);
        evrepl_verification_clear(&r);
        free(msg);
        free(canon);
    }
}

static void
test_receipt_tamper_each_field(void **state)
{
    (void)state;
    evri_signer *s;
    evrepl_status st;
    assert_int_equal(evri_signer_generate(&s, &st), EVREPL_CODE_OK);
    const uint8_t *pk = evri_signer_public_key(s);
    for (int field = 0; field < 9; field++) {
        evrepl_receipt r = {0};
        strcpy(r.event_id, "0b3c2d1e-aaaa-4bbb-8ccc-0123456789ab");
        r.status = EVREPL_REPLICATION_STATUS_CONFIRMED;
        r.timestamp = (evrepl_timestamp){1767225600, 1};
        r.content_hash_len = 32;
        evri_strv_push(&r.replica_ids, &r.n_replica_ids, "us-east");
        r.acks = calloc(1, sizeof(*r.acks));
        r.n_acks = 1;
        r.acks[0].replica_id = evri_strdup("us-east");
        r.acks[0].detail = evri_strdup("confirmed");
        r.acks[0].state = EVREPL_ACK_STATE_CONFIRMED;
        r.acks[0].observed_content_hash_len = 32;
        assert_int_equal(evri_receipt_sign(&r, s, &st), EVREPL_CODE_OK);
        assert_int_equal(evrepl_receipt_verify_signature(&r, pk, &st), EVREPL_CODE_OK);
        switch (field) {
        case 0:
            r.event_id[0] = '1';
            break;
        case 1:
            r.status = EVREPL_REPLICATION_STATUS_PENDING;
            break;
        case 2:
            r.timestamp.seconds++;
            break;
        case 3:
            r.content_hash[31] ^= 1;
            break;
        case 4:
            r.replica_ids[0][0] = 'x';
            break;
        case 5:
            r.acks[0].state = EVREPL_ACK_STATE_PENDING;
            break;
        case 6:
            r.acks[0].observed_content_hash[0] ^= 0x80;
            break;
        case 7:
            r.acks[0].detail[0] = 'C';
            break;
        case 8:
            r.signature[0] ^= 1;
            break;
        }
        assert_int_equal(evrepl_receipt_verify_signature(&r, pk, &st),
                         EVREPL_CODE_INVALID_ARGUMENT);
        evrepl_receipt_clear(&r);
    }
    evri_signer_destroy(s);
}

static void
test_receipt_wrong_key_and_unsigned(void **state)
{
    (void)state;
    evri_signer *a, *b;
    evrepl_status st;
    assert_int_equal(evri_signer_generate(&a, &st), EVREPL_CODE_OK);
    assert_int_equal(evri_signer_generate(&b, &st), EVREPL_CODE_OK);
    evrepl_receipt r = {0};
    strcpy(r.event_id, "0b3c2d1e-aaaa-4bbb-8ccc-0123456789ab");
    assert_int_equal(evrepl_receipt_verify_signature(&r, evri_signer_public_key(a), &st),
                     EVREPL_CODE_FAILED_PRECONDITION);
    assert_int_equal(evri_receipt_sign(&r, a, &st), EVREPL_CODE_OK);
    assert_int_equal(evrepl_receipt_verify_signature(&r, evri_signer_public_key(b), &st),
                     EVREPL_CODE_INVALID_ARGUMENT);
    assert_non_null(strstr(st.message, "signed by key"));
    // A forged key id does not help: the id is inside the signed bytes.
    strcpy(r.signer_key_id, evri_signer_key_id(b));
    assert_int_equal(evrepl_receipt_verify_signature(&r, evri_signer_public_key(b), &st),
                     EVREPL_CODE_INVALID_ARGUMENT);
    evri_signer_destroy(a);
    evri_signer_destroy(b);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_receipt_vectors),
        cmocka_unit_test(test_verification_vectors),
        cmocka_unit_test(test_receipt_tamper_each_field),
        cmocka_unit_test(test_receipt_wrong_key_and_unsigned),
    };
    return cmocka_run_group_tests_name("receipt", tests, load_vectors, free_vectors);
}
