// The stub backend through the port, as the story describes it.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "adapters/stub/stub.h"
#include "common/clock.h"

static void
make_stub(char *const *replicas, size_t n, evrepl_code fail, uint64_t after, void **shared,
          evrepl_replicator *r)
{
    evrepl_replicator_config cfg = {.stub_replicas = replicas,
                                    .n_stub_replicas = n,
                                    .stub_fail_code = fail,
                                    .stub_fail_after = after,
                                    .schema_version = "0002"};
    evrepl_status st;
    assert_int_equal(evri_stub_backend.shared_create(&cfg, shared, &st), EVREPL_CODE_OK);
    assert_int_equal(evri_stub_backend.create(*shared, r, &st), EVREPL_CODE_OK);
    assert_false(r->ops->blocking);
    assert_true(r->ops->dev_mode);
    assert_string_equal(r->ops->name, "stub");
}

static void
free_stub(void *shared, evrepl_replicator *r)
{
    evrepl_replicator_destroy(r);
    evri_stub_backend.shared_destroy(shared);
}

static void
test_stub_without_replicas_is_not_configured(void **state)
{
    (void)state;
    void *shared;
    evrepl_replicator r;
    make_stub(NULL, 0, EVREPL_CODE_OK, 0, &shared, &r);
    evrepl_receipt rec = {0};
    evrepl_status st;
    evrepl_timestamp before = evri_wallclock();
    assert_int_equal(
        r.ops->propagate_event(r.self, "0b3c2d1e-aaaa-4bbb-8ccc-0123456789ab", 0, &rec, &st),
        EVREPL_CODE_OK);
    assert_int_equal(rec.status, EVREPL_REPLICATION_STATUS_NOT_CONFIGURED);
    assert_int_equal(rec.n_acks, 0);
    assert_int_equal(rec.n_replica_ids, 0);
    assert_int_equal(rec.content_hash_len, 0);
    assert_true(rec.timestamp.seconds >= before.seconds);
    assert_string_equal(rec.event_id, "0b3c2d1e-aaaa-4bbb-8ccc-0123456789ab");
    evrepl_receipt_clear(&rec);

    evrepl_verification v = {0};
    evrepl_verify_request vr = {0};
    assert_int_equal(r.ops->verify_replicas(r.self, &vr, 0, &v, &st), EVREPL_CODE_OK);
    assert_true(v.head_hash_match && v.signature_valid && v.schema_version_match);
    assert_int_equal(v.n_replicas, 0);
    assert_int_equal(v.n_errors, 1);
    assert_non_null(strstr(v.errors[0], "no replicas configured"));
    assert_false(evrepl_verification_is_valid(&v)); // nothing was verified
    assert_string_equal(v.schema_version, "0002");
    evrepl_verification_clear(&v);
    evrepl_verification_clear(&v); // idempotent
    free_stub(shared, &r);
}

static void
test_stub_with_replicas_confirms_each(void **state)
{
    (void)state;
    char *ids[] = {"us-east", "eu-west", "ap-south"};
    void *shared;
    evrepl_replicator r;
    make_stub(ids, 3, EVREPL_CODE_OK, 0, &shared, &r);
    evrepl_receipt rec = {0};
    evrepl_status st;
    assert_int_equal(
        r.ops->propagate_event(r.self, "0b3c2d1e-aaaa-4bbb-8ccc-0123456789ab", 0, &rec, &st),
        EVREPL_CODE_OK);
    assert_int_equal(rec.status, EVREPL_REPLICATION_STATUS_CONFIRMED);
    assert_int_equal(rec.n_acks, 3);
    assert_int_equal(rec.n_replica_ids, 3);
    for (size_t i = 0; i < 3; i++) {
        assert_string_equal(rec.acks[i].replica_id, ids[i]);
        assert_string_equal(rec.replica_ids[i], ids[i]);
        assert_int_equal(rec.acks[i].state, EVREPL_ACK_STATE_CONFIRMED);
        assert_int_equal(rec.acks[i].observed_content_hash_len, 0);
    }
    evrepl_receipt_clear(&rec);

    evrepl_verification v = {0};
    evrepl_verify_request vr = {.tail = 10};
    assert_int_equal(r.ops->verify_replicas(r.self, &vr, 0, &v, &st), EVREPL_CODE_OK);
    assert_true(evrepl_verification_is_valid(&v));
    assert_int_equal(v.n_replicas, 3);
    for (size_t i = 0; i < 3; i++) {
        const evrepl_replica_verification *rv = &v.replicas[i];
        assert_string_equal(rv->replica_id, ids[i]);
        assert_true(rv->reachable && rv->head_hash_match && rv->signature_valid &&
                    rv->chain_valid && rv->schema_version_match);
        assert_int_equal(rv->head_sequence, 0);
        assert_int_equal(rv->head_hash_len, 0);
    }
    evrepl_verification_clear(&v);

    evrepl_server_description d = {0};
    assert_int_equal(r.ops->describe(r.self, &d, &st), EVREPL_CODE_OK);
    assert_int_equal(d.n_replica_ids, 3);
    evrepl_server_description_clear(&d);
    free_stub(shared, &r);
}

static void
test_stub_failure_mode(void **state)
{
    (void)state;
    void *shared;
    evrepl_replicator r;
    make_stub(NULL, 0, EVREPL_CODE_UNAVAILABLE, 2, &shared, &r);
    evrepl_receipt rec = {0};
    evrepl_status st;
    for (int i = 0; i < 2; i++) {
        assert_int_equal(
            r.ops->propagate_event(r.self, "0b3c2d1e-aaaa-4bbb-8ccc-0123456789ab", 0, &rec, &st),
            EVREPL_CODE_OK);
        evrepl_receipt_clear(&rec);
    }
    assert_int_equal(
        r.ops->propagate_event(r.self, "0b3c2d1e-aaaa-4bbb-8ccc-0123456789ab", 0, &rec, &st),
        EVREPL_CODE_UNAVAILABLE);
    assert_int_equal(st.code, EVREPL_CODE_UNAVAILABLE);
    assert_non_null(strstr(st.message, "stub failure mode"));
    evrepl_verification v = {0};
    evrepl_verify_request vr = {0};
    assert_int_equal(r.ops->verify_replicas(r.self, &vr, 0, &v, &st), EVREPL_CODE_UNAVAILABLE);
    free_stub(shared, &r);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stub_without_replicas_is_not_configured),
        cmocka_unit_test(test_stub_with_replicas_confirms_each),
        cmocka_unit_test(test_stub_failure_mode),
    };
    return cmocka_run_group_tests_name("stub", tests, NULL, NULL);
}
