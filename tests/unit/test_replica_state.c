// A replica's state in one word (domain/replica_state.h), and backends reporting it through
// the port's observer.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "adapters/stub/stub.h"
#include "domain/replica_state.h"
#include "ports/replicator.h"

static evrepl_replica_verification
good_replica(void)
{
    return (evrepl_replica_verification){.replica_id = "r",
                                         .reachable = true,
                                         .head_hash_match = true,
                                         .signature_valid = true,
                                         .chain_valid = true,
                                         .schema_version_match = true};
}

static void
test_replica_state_of_each_case(void **state)
{
    (void)state;
    char *err[] = {"r: something"};
    evrepl_replica_verification r = good_replica();
    assert_int_equal(evri_replica_state_of(&r), EVRI_REPLICA_STATE_VALID);

    r = (evrepl_replica_verification){.replica_id = "r"}; // the contract's unreachable shape
    assert_int_equal(evri_replica_state_of(&r), EVRI_REPLICA_STATE_UNREACHABLE);

    r = good_replica();
    r.head_hash_match = false;
    r.lag_events = 3;
    r.errors = err;
    r.n_errors = 1;
    assert_int_equal(evri_replica_state_of(&r), EVRI_REPLICA_STATE_LAGGING);

    r.diverged_at_sequence = 7; // behind and different: diverged wins
    assert_int_equal(evri_replica_state_of(&r), EVRI_REPLICA_STATE_DIVERGED);

    r = good_replica();
    r.head_hash_match = false;
    r.chain_valid = false;
    r.diverged_at_sequence = 1;
    assert_int_equal(evri_replica_state_of(&r), EVRI_REPLICA_STATE_DIVERGED);

    r = good_replica();
    r.lag_events = 2;
    r.schema_version_match = false; // a lagging replica whose schema differs is not just late
    assert_int_equal(evri_replica_state_of(&r), EVRI_REPLICA_STATE_INVALID);

    r = good_replica();
    r.signature_valid = false; // a bad signature the primary shares: not diverged, not valid
    assert_int_equal(evri_replica_state_of(&r), EVRI_REPLICA_STATE_INVALID);

    r = good_replica();
    r.errors = err; // e.g. "checked 10 of 20 events before the deadline"
    r.n_errors = 1;
    assert_int_equal(evri_replica_state_of(&r), EVRI_REPLICA_STATE_INVALID);

    const char *names[] = {"unknown", "valid", "lagging", "diverged", "unreachable", "invalid"};
    for (int s = 0; s < EVRI_REPLICA_STATE_COUNT; s++) {
        assert_string_equal(evri_replica_state_name((evri_replica_state)s), names[s]);
    }
    assert_string_equal(evri_replica_state_name((evri_replica_state)99), "unknown");
}

typedef struct heard {
    evrepl_replica_report reports[8];
    char ids[8][16];
    size_t n;
} heard;

static void
hear(void *ctx, const evrepl_replica_report *r)
{
    heard *h = ctx;
    assert_true(h->n < 8);
    h->reports[h->n] = *r;
    snprintf(h->ids[h->n], sizeof(h->ids[h->n]), "%s", r->replica_id);
    h->reports[h->n].replica_id = h->ids[h->n];
    h->n++;
}

static void
test_replica_state_stub_reports_each_verification(void **state)
{
    (void)state;
    heard h = {0};
    char *replicas[] = {"us-east", "eu-west"};
    evrepl_replicator_config cfg = {.stub_replicas = replicas,
                                    .n_stub_replicas = 2,
                                    .stub_fail_code = EVREPL_CODE_UNAVAILABLE,
                                    .stub_fail_after = 1,
                                    .schema_version = "0002",
                                    .observer = {.replica_report = hear, .ctx = &h}};
    void *shared;
    evrepl_replicator r;
    evrepl_status st;
    assert_int_equal(evri_stub_backend.shared_create(&cfg, &shared, &st), EVREPL_CODE_OK);
    assert_int_equal(evri_stub_backend.create(shared, &r, &st), EVREPL_CODE_OK);
    evrepl_verification v = {0};
    evrepl_verify_request vr = {0};
    assert_int_equal(r.ops->verify_replicas(r.self, &vr, 0, &v, &st), EVREPL_CODE_OK);
    evrepl_verification_clear(&v);
    assert_int_equal(h.n, 2);
    assert_int_equal(h.reports[0].index, 0);
    assert_string_equal(h.reports[0].replica_id, "us-east");
    assert_int_equal(h.reports[0].state, EVRI_REPLICA_STATE_VALID);
    assert_true(h.reports[0].reachable);
    assert_int_equal(h.reports[1].index, 1);
    assert_string_equal(h.reports[1].replica_id, "eu-west");
    // A failed call reports nothing: the state stays what the last verification saw.
    assert_int_equal(r.ops->verify_replicas(r.self, &vr, 0, &v, &st), EVREPL_CODE_UNAVAILABLE);
    evrepl_verification_clear(&v);
    assert_int_equal(h.n, 2);
    evrepl_replicator_destroy(&r);
    evri_stub_backend.shared_destroy(shared);
}

// The backend leaves out the replicas whose verdict the deadline left open; no observer, or
// an observer without a callback, hears nothing and nothing breaks.
static void
test_replica_state_open_verdicts_are_not_reported(void **state)
{
    (void)state;
    evrepl_replica_verification reps[3] = {
        {.replica_id = "a",
         .reachable = true,
         .head_hash_match = true,
         .signature_valid = true,
         .chain_valid = true,
         .schema_version_match = true},
        {.replica_id = "b"}, // "unreachable", but only because the caller's deadline was short
        {.replica_id = "c", .reachable = true, .diverged_at_sequence = 7},
    };
    evrepl_verification v = {.replicas = reps, .n_replicas = 3};
    bool open[3] = {false, true, false};
    heard h = {0};
    evrepl_replicator_observer o = {.replica_report = hear, .ctx = &h};
    evrepl_observer_report_verification(&o, &v, open);
    assert_int_equal(h.n, 2);
    assert_int_equal(h.reports[0].index, 0);
    assert_int_equal(h.reports[0].state, EVRI_REPLICA_STATE_VALID);
    assert_int_equal(h.reports[1].index, 2);
    assert_string_equal(h.reports[1].replica_id, "c");
    assert_int_equal(h.reports[1].state, EVRI_REPLICA_STATE_DIVERGED);
    assert_int_equal(h.reports[1].diverged_at_sequence, 7);
    // Without the list every verdict stands.
    evrepl_observer_report_verification(&o, &v, NULL);
    assert_int_equal(h.n, 5);
    assert_int_equal(h.reports[3].state, EVRI_REPLICA_STATE_UNREACHABLE);
    evrepl_observer_report_verification(NULL, &v, NULL);
    evrepl_replicator_observer none = {0};
    evrepl_observer_report_verification(&none, &v, open);
    assert_int_equal(h.n, 5);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_replica_state_of_each_case),
        cmocka_unit_test(test_replica_state_stub_reports_each_verification),
        cmocka_unit_test(test_replica_state_open_verdicts_are_not_reported),
    };
    return cmocka_run_group_tests_name("replica_state", tests, NULL, NULL);
}
