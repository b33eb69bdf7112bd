// Domain <-> wire round trips and the client's checks of malformed responses.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "domain/strv.h"
#include "evrepl/v1/replicator.pb-c.h"
#include "rpc/wire.h"

static void
fill_receipt(evrepl_receipt *r)
{
    memset(r, 0, sizeof(*r));
    strcpy(r->event_id, "0b3c2d1e-aaaa-4bbb-8ccc-0123456789ab");
    r->status = EVREPL_REPLICATION_STATUS_FAILED;
    r->timestamp = (evrepl_timestamp){1767225600, 123456789};
    memset(r->content_hash, 0x11, 32);
    r->content_hash_len = 32;
    evri_strv_push(&r->replica_ids, &r->n_replica_ids, "us-east");
    r->acks = calloc(2, sizeof(*r->acks));
    r->n_acks = 2;
    r->acks[0] = (evrepl_replica_ack){.replica_id = evri_strdup("us-east"),
                                      .state = EVREPL_ACK_STATE_CONFIRMED,
                                      .observed_content_hash_len = 32,
                                      .detail = evri_strdup("")};
    memset(r->acks[0].observed_content_hash, 0x11, 32);
    r->acks[1] = (evrepl_replica_ack){.replica_id = evri_strdup("eu-west"),
                                      .state = EVREPL_ACK_STATE_MISMATCH,
                                      .observed_content_hash_len = 32,
                                      .detail = evri_strdup("holds another version")};
    memset(r->acks[1].observed_content_hash, 0x22, 32);
    memset(r->signature, 0x33, 64);
    r->signature_len = 64;
    strcpy(r->signer_key_id, "00112233445566778899aabbccddeeff");
}

static void
test_wire_receipt_roundtrip(void **state)
{
    (void)state;
    evrepl_receipt a, b = {0};
    evri_wbuf buf;
    evrepl_status st;
    fill_receipt(&a);
    evri_wbuf_init(&buf);
    assert_true(evri_wire_pack_receipt(&a, &buf.base));
    assert_int_equal(evri_wire_unpack_receipt(buf.data, buf.len, &b, &st), EVREPL_CODE_OK);
    assert_string_equal(b.event_id, a.event_id);
    assert_int_equal(b.status, a.status);
    assert_int_equal(b.timestamp.seconds, a.timestamp.seconds);
    assert_int_equal(b.timestamp.nanos, a.timestamp.nanos);
    assert_int_equal(b.n_acks, 2);
    assert_string_equal(b.acks[1].detail, "holds another version");
    assert_int_equal(b.acks[1].state, EVREPL_ACK_STATE_MISMATCH);
    assert_memory_equal(b.acks[1].observed_content_hash, a.acks[1].observed_content_hash, 32);
    assert_memory_equal(b.signature, a.signature, 64);
    assert_string_equal(b.signer_key_id, a.signer_key_id);
    assert_int_equal(b.n_replica_ids, 1);
    evrepl_receipt_clear(&a);
    evrepl_receipt_clear(&b);
    evri_wbuf_free(&buf);
}

static void
test_wire_rejects_bad_lengths(void **state)
{
    (void)state;
    Evrepl__V1__ReplicationReceipt m = EVREPL__V1__REPLICATION_RECEIPT__INIT;
    uint8_t hash[31] = {0};
    m.content_hash.len = sizeof(hash);
    m.content_hash.data = hash;
    uint8_t buf[256];
    size_t len = evrepl__v1__replication_receipt__pack(&m, buf);
    evrepl_receipt r = {0};
    evrepl_status st;
    assert_int_equal(evri_wire_unpack_receipt(buf, len, &r, &st), EVREPL_CODE_INTERNAL);
    assert_non_null(strstr(st.message, "malformed response"));
    static const uint8_t junk[] = {0xff, 0xff, 0xff};
    assert_int_equal(evri_wire_unpack_receipt(junk, sizeof(junk), &r, &st), EVREPL_CODE_INTERNAL);
    evrepl_verification v = {0};
    assert_int_equal(evri_wire_unpack_verification(junk, sizeof(junk), &v, &st),
                     EVREPL_CODE_INTERNAL);
    evrepl_server_description d = {0};
    assert_int_equal(evri_wire_unpack_description(junk, sizeof(junk), &d, &st),
                     EVREPL_CODE_INTERNAL);
    // Nothing was written on failure.
    assert_int_equal(r.n_acks, 0);
    assert_null(v.replicas);
    assert_null(d.version);
}

static void
test_wire_verification_roundtrip(void **state)
{
    (void)state;
    evrepl_verification a = {0}, b = {0};
    evrepl_status st;
    a.head_hash_match = true;
    a.schema_version_match = true;
    a.primary_head_sequence = 1ull << 40;
    a.schema_version = evri_strdup("0002");
    evri_strv_push(&a.errors, &a.n_errors, "eu-west: diverged at sequence 17");
    a.replicas = calloc(1, sizeof(*a.replicas));
    a.n_replicas = 1;
    a.replicas[0].replica_id = evri_strdup("eu-west");
    a.replicas[0].schema_version = evri_strdup("0002");
    a.replicas[0].diverged_at_sequence = 17;
    a.replicas[0].lag_events = 3;
    a.replicas[0].events_checked = 99;
    a.replicas[0].head_hash_len = 32;
    evri_wbuf buf;
    evri_wbuf_init(&buf);
    assert_true(evri_wire_pack_verification(&a, &buf.base));
    assert_int_equal(evri_wire_unpack_verification(buf.data, buf.len, &b, &st), EVREPL_CODE_OK);
    assert_int_equal(b.primary_head_sequence, 1ull << 40);
    assert_false(b.signature_valid);
    assert_int_equal(b.n_replicas, 1);
    assert_int_equal(b.replicas[0].diverged_at_sequence, 17);
    assert_int_equal(b.replicas[0].lag_events, 3);
    assert_int_equal(b.replicas[0].events_checked, 99);
    assert_string_equal(b.errors[0], "eu-west: diverged at sequence 17");
    assert_false(evrepl_verification_is_valid(&b));
    evrepl_verification_clear(&a);
    evrepl_verification_clear(&b);
    evri_wbuf_free(&buf);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_wire_receipt_roundtrip),
        cmocka_unit_test(test_wire_rejects_bad_lengths),
        cmocka_unit_test(test_wire_verification_roundtrip),
    };
    return cmocka_run_group_tests_name("wire", tests, NULL, NULL);
}
