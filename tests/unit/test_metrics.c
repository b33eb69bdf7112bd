// The metrics: counters moved by the rpc layer and the handlers, replica states from the
// backend's observer with one log line per change, and a rendering that a strict parser of the
// text exposition format accepts (tests/support/prom.c), with hostile label values escaped.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/clock.h"
#include "common/metrics.h"
#include "handlers/handlers.h"
#include "rpc/call.h"
#include "server/observer.h"
#include "support/envelope.h"
#include "support/fake_replicator.h"
#include "support/prom.h"

#define VALID_ID "0b3c2d1e-aaaa-4bbb-8ccc-0123456789ab"

static evri_metrics *
make_metrics(char *const *ids, size_t n)
{
    evri_metrics *m = NULL;
    evrepl_status st;
    evri_metrics_config mc = {
        .version = "9.9.9", .schema_version = "0002", .replica_ids = ids, .n_replicas = n};
    assert_int_equal(evri_metrics_create(&m, &mc, &st), EVREPL_CODE_OK);
    evri_metrics_set_backend(m, "fake", true);
    return m;
}

// Renders m and parses it strictly; fails the test when the text is not valid exposition.
static void
scrape(evri_metrics *m, prom_doc *doc)
{
    size_t len = 0;
    char *text = evri_metrics_render(m, &len);
    assert_non_null(text);
    assert_int_equal(strlen(text), len);
    if (!prom_parse(doc, text)) {
        fail_msg("exposition rejected: %s\n%s", doc->error, text);
    }
    free(text);
}

static double
value(const prom_doc *doc, const char *series)
{
    double v;
    if (!prom_get(doc, series, &v)) {
        fail_msg("no series %s", series);
    }
    return v;
}

static void
gauges(void *arg, evri_metrics_gauges *out)
{
    (void)arg;
    *out = (evri_metrics_gauges){.workers = 4,
                                 .queue_depth = 3,
                                 .queue_capacity = 32,
                                 .draining = false,
                                 .primary_reachable = true};
}

static void
test_metrics_counters_histograms_and_gauges(void **state)
{
    (void)state;
    evri_metrics *m = make_metrics(NULL, 0);
    unsigned health = evri_metrics_add_method(m, "/evrepl.v1.Health/Check");
    evri_metrics_set_source(m, gauges, NULL);
    for (int i = 0; i < 3; i++) {
        evri_metrics_call_begin(m);
        evri_metrics_call_end(m, health, EVREPL_CODE_OK, 150 * EVRI_NS_PER_US); // 0.25 bucket
    }
    evri_metrics_call_begin(m);
    evri_metrics_call_end(m, health, EVREPL_CODE_UNAVAILABLE, 40ull * 1000 * EVRI_NS_PER_MS);
    evri_metrics_call_begin(m);
    evri_metrics_call_end(m, 99, (evrepl_code)77, 1); // an index and code out of range
    evri_metrics_call_begin(m);                       // still in flight
    evri_metrics_receipt(m, EVREPL_REPLICATION_STATUS_CONFIRMED);
    evri_metrics_receipt(m, EVREPL_REPLICATION_STATUS_PENDING);
    evri_metrics_receipt(m, EVREPL_REPLICATION_STATUS_CONFIRMED);
    evri_metrics_verification(m, false);

    prom_doc d;
    scrape(m, &d);
    assert_true(value(&d, "evrepl_build_info{version=\"9.9.9\",backend=\"fake\","
                          "schema_version=\"0002\",dev_mode=\"true\"}") == 1);
    assert_true(value(&d, "evrepl_calls_total{method=\"/evrepl.v1.Health/Check\",code=\"OK\"}") ==
                3);
    assert_true(value(&d, "evrepl_calls_total{method=\"/evrepl.v1.Health/Check\","
                          "code=\"UNAVAILABLE\"}") == 1);
    assert_true(value(&d, "evrepl_calls_total{method=\"unknown\",code=\"UNKNOWN\"}") == 1);
    double absent;
    assert_false(prom_get(&d, "evrepl_calls_total{method=\"unknown\",code=\"OK\"}", &absent));
    const char *h = "evrepl_call_duration_seconds_bucket{method=\"/evrepl.v1.Health/Check\",";
    char series[256];
    snprintf(series, sizeof(series), "%sle=\"0.0001\"}", h);
    assert_true(value(&d, series) == 0);
    snprintf(series, sizeof(series), "%sle=\"0.00025\"}", h);
    assert_true(value(&d, series) == 3);
    snprintf(series, sizeof(series), "%sle=\"30\"}", h);
    assert_true(value(&d, series) == 3); // the 40 s call is above every bound
    snprintf(series, sizeof(series), "%sle=\"+Inf\"}", h);
    assert_true(value(&d, series) == 4);
    double sum = value(&d, "evrepl_call_duration_seconds_sum{method=\"/evrepl.v1.Health/Check\"}");
    assert_true(sum > 40.00044 && sum < 40.00046);
    assert_true(value(&d, "evrepl_calls_in_flight") == 1);
    assert_true(value(&d, "evrepl_workers") == 4);
    assert_true(value(&d, "evrepl_worker_queue_depth") == 3);
    assert_true(value(&d, "evrepl_worker_queue_capacity") == 32);
    assert_true(value(&d, "evrepl_draining") == 0);
    assert_true(value(&d, "evrepl_primary_reachable") == 1);
    assert_true(value(&d, "evrepl_receipts_total{status=\"confirmed\"}") == 2);
    assert_true(value(&d, "evrepl_receipts_total{status=\"pending\"}") == 1);
    assert_true(value(&d, "evrepl_receipts_total{status=\"failed\"}") == 0);
    assert_true(value(&d, "evrepl_verifications_total{result=\"not_valid\"}") == 1);
    assert_true(value(&d, "evrepl_start_time_seconds") > 1.7e9);
    prom_free(&d);
    evri_metrics_destroy(m);
}

static void
test_metrics_hostile_labels_stay_valid(void **state)
{
    (void)state;
    char *ids[] = {"quote\"back\\slash", "new\nline", "bad\xff\xfeutf8", "\xc3\xa9t\xc3\xa9"};
    evri_metrics *m = make_metrics(ids, 4);
    evri_metrics_add_method(m, "/x.Y/Z");
    prom_doc d;
    scrape(m, &d);
    assert_true(value(&d, "evrepl_replica_state{replica=\"quote\\\"back\\\\slash\","
                          "state=\"unknown\"}") == 1);
    assert_true(value(&d, "evrepl_replica_state{replica=\"new\\nline\",state=\"unknown\"}") == 1);
    assert_true(value(&d, "evrepl_replica_state{replica=\"bad\xef\xbf\xbd\xef\xbf\xbdutf8\","
                          "state=\"unknown\"}") == 1);
    assert_true(
        value(&d, "evrepl_replica_state{replica=\"\xc3\xa9t\xc3\xa9\",state=\"unknown\"}") == 1);
    // Before any verification only the state (unknown) and the counters exist.
    double v;
    assert_false(prom_get(&d, "evrepl_replica_reachable{replica=\"new\\nline\"}", &v));
    assert_true(value(&d, "evrepl_audit_events_checked_total{replica=\"new\\nline\"}") == 0);
    prom_free(&d);
    evri_metrics_destroy(m);
}

static void
test_metrics_parser_is_strict(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "# TYPE a_total counter\na_total 1",                        // no final newline
        "a 1\n",                                                    // no TYPE
        "# TYPE a gauge\na{l=\"x\\q\"} 1\n",                        // bad escape
        "# TYPE a gauge\na{l=\"x\"} 1\na{l=\"x\"} 2\n",             // repeated series
        "# TYPE a gauge\n# TYPE a gauge\na 1\n",                    // two TYPEs
        "# TYPE a counter\na 1\n",                                  // counter not *_total
        "# TYPE a_total counter\na_total -1\n",                     // negative counter
        "# TYPE a gauge\na one\n",                                  // not a number
        "# TYPE a gauge\n# TYPE b gauge\na 1\nb 1\na{x=\"1\"} 1\n", // not contiguous
        "# TYPE h histogram\nh_bucket{le=\"1\"} 2\nh_bucket{le=\"+Inf\"} 1\nh_sum 0\nh_count 1\n",
        "# TYPE h histogram\nh_bucket{le=\"+Inf\"} 2\nh_sum 0\nh_count 1\n", // +Inf != count
        "# TYPE h histogram\nh_bucket{le=\"+Inf\"} 1\nh_count 1\n",          // no _sum
        "# TYPE a gauge\na{l=\"x\",l=\"y\"} 1\n",                            // label twice
        "# HELP a x\\y\n# TYPE a gauge\na 1\n",                              // HELP escape
        "# TYPE a gauge\na  1\n",                                            // two spaces
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        prom_doc d;
        if (prom_parse(&d, bad[i])) {
            fail_msg("accepted bad exposition #%zu:\n%s", i, bad[i]);
        }
        prom_free(&d);
    }
    prom_doc d;
    assert_true(prom_parse(&d, "# HELP h a \\\\ \\n help\n# TYPE h histogram\n"
                               "h_bucket{m=\"a\",le=\"1\"} 1\nh_bucket{m=\"a\",le=\"+Inf\"} 2\n"
                               "h_sum{m=\"a\"} 3.5\nh_count{m=\"a\"} 2\n# a comment\n\n"
                               "# TYPE g gauge\ng{x=\"q\\\"\"} +Inf 123\n"));
    prom_free(&d);
}

typedef struct rpc_fixture {
    fake_replicator fake;
    evri_app app;
    evri_metrics *metrics;
    evri_rpc *rpc;
    evri_call *call;
} rpc_fixture;

static void
rpc_roundtrip(rpc_fixture *f, const char *method, uint8_t *payload, size_t payload_len)
{
    size_t len;
    uint8_t *req = tenv_request(method, payload, payload_len, 0, NULL, 0, &len);
    if (evri_call_begin(f->call, req, len, evri_now_ns(), NULL) != EVRI_CALL_REPLY) {
        evri_call_set_backend(f->call, f->app.shared);
        evri_call_run(f->call);
    }
    const uint8_t *out;
    size_t out_len;
    assert_true(evri_call_encode(f->call, &out, &out_len));
    evri_call_end(f->call);
    free(req);
    free(payload);
}

static void
test_metrics_rpc_counts_calls_with_one_unknown_label(void **state)
{
    (void)state;
    rpc_fixture f = {0};
    fake_script script = {.health = EVREPL_SERVING_STATUS_SERVING,
                          .replica_ids = {"us-east", "eu-west"},
                          .n_replicas = 2};
    evrepl_status st;
    evrepl_replicator r = fake_replicator_init(&f.fake, &script);
    f.metrics = make_metrics(NULL, 0);
    f.app =
        (evri_app){.version = "9.9.9", .schema_version = "0002", .shared = r, .metrics = f.metrics};
    size_t n;
    const evri_service_binding *b = evri_handler_bindings(&n);
    evri_rpc_config rc = {.bindings = b,
                          .n_bindings = n,
                          .backend_name = "fake",
                          .default_timeout_ms = 5000,
                          .max_timeout_ms = 60000,
                          .max_metadata_bytes = 8192,
                          .metrics = f.metrics,
                          .app = &f.app};
    assert_int_equal(evri_rpc_create(&f.rpc, &rc, &st), EVREPL_CODE_OK);
    f.call = evri_call_create(f.rpc);
    size_t len;
    for (int i = 0; i < 2; i++) {
        uint8_t *p = tenv_propagate(VALID_ID, &len);
        rpc_roundtrip(&f, "/evrepl.v1.EventReplicator/PropagateEvent", p, len);
    }
    uint8_t *p = tenv_verify(0, 0, &len);
    rpc_roundtrip(&f, "/evrepl.v1.EventReplicator/VerifyReplicas", p, len);
    // Many names the server lacks: one label.
    for (int i = 0; i < 50; i++) {
        char name[64];
        snprintf(name, sizeof(name), "/evrepl.v1.Nope/Call%d", i);
        rpc_roundtrip(&f, name, NULL, 0);
    }
    prom_doc d;
    scrape(f.metrics, &d);
    assert_true(value(&d, "evrepl_calls_total{method=\"/evrepl.v1.EventReplicator/PropagateEvent\","
                          "code=\"OK\"}") == 2);
    assert_true(value(&d, "evrepl_calls_total{method=\"/evrepl.v1.EventReplicator/VerifyReplicas\","
                          "code=\"OK\"}") == 1);
    assert_true(value(&d, "evrepl_calls_total{method=\"unknown\",code=\"UNIMPLEMENTED\"}") == 50);
    assert_true(value(&d, "evrepl_calls_total{method=\"/evrepl.v1.Server/Describe\","
                          "code=\"OK\"}") == 0);
    assert_true(prom_sum(&d, "evrepl_calls_total") == 53);
    assert_true(value(&d, "evrepl_calls_in_flight") == 0);
    assert_true(value(&d, "evrepl_receipts_total{status=\"pending\"}") == 2); // the fake's
    assert_true(prom_sum(&d, "evrepl_verifications_total") == 1);
    // Method labels: the server's four and "unknown", nothing else.
    size_t labels = 0;
    for (size_t i = 0; i < d.n; i++) {
        if (strcmp(d.samples[i].name, "evrepl_call_duration_seconds_count") == 0) {
            labels++;
        }
    }
    assert_int_equal(labels, 5);
    prom_free(&d);
    evri_call_destroy(f.call);
    evri_rpc_destroy(f.rpc);
    evri_metrics_destroy(f.metrics);
}

static void
test_metrics_observer_logs_each_change_once(void **state)
{
    (void)state;
    char *ids[] = {"us-east", "eu-west"};
    char *buf = NULL;
    size_t buf_len = 0;
    FILE *sink = open_memstream(&buf, &buf_len);
    evri_observer o = {.metrics = make_metrics(ids, 2),
                       .log = evri_log_create(sink, EVRI_LOG_TEXT, EVRI_LOG_INFO)};
    evrepl_replicator_observer port = evri_observer_port(&o);
    evrepl_replica_report r = {.index = 0,
                               .replica_id = "us-east",
                               .state = EVRI_REPLICA_STATE_VALID,
                               .reachable = true,
                               .head_sequence = 10,
                               .events_checked = 10};
    evri_log_set_request_id(o.log, "req-1");
    port.replica_report(port.ctx, &r); // unknown -> valid: "replica reachable"
    evri_log_set_request_id(o.log, NULL);
    port.replica_report(port.ctx, &r); // no change: no line
    r.state = EVRI_REPLICA_STATE_LAGGING;
    r.lag_events = 4;
    port.replica_report(port.ctx, &r);
    r.state = EVRI_REPLICA_STATE_DIVERGED;
    r.lag_events = 0;
    r.diverged_at_sequence = 9;
    port.replica_report(port.ctx, &r);
    r.state = EVRI_REPLICA_STATE_VALID;
    r.diverged_at_sequence = 0;
    port.replica_report(port.ctx, &r); // "replica recovered"
    r.state = EVRI_REPLICA_STATE_UNREACHABLE;
    r.reachable = false;
    port.replica_report(port.ctx, &r);
    r.state = EVRI_REPLICA_STATE_VALID;
    r.reachable = true;
    port.replica_report(port.ctx, &r); // "replica reachable" again
    fflush(sink);
    const char *want[] = {
        " info replica reachable replica=us-east state=valid previous=unknown request_id=req-1\n",
        " warn replica lagging replica=us-east state=lagging previous=valid lag_events=4\n",
        " error replica diverged replica=us-east state=diverged previous=lagging "
        "diverged_at_sequence=9\n",
        " info replica recovered replica=us-east state=valid previous=diverged\n",
        " warn replica unreachable replica=us-east state=unreachable previous=valid\n",
        " info replica reachable replica=us-east state=valid previous=unreachable\n",
    };
    const char *at = buf;
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        const char *hit = strstr(at, want[i]);
        if (hit == NULL) {
            fail_msg("missing, or out of order: %s\nlog:\n%s", want[i], buf);
        }
        at = hit + strlen(want[i]);
    }
    size_t lines = 0;
    for (const char *c = buf; *c != '\0'; c++) {
        lines += *c == '\n';
    }
    assert_int_equal(lines, 6);

    prom_doc d;
    scrape(o.metrics, &d);
    assert_true(value(&d, "evrepl_replica_state{replica=\"us-east\",state=\"valid\"}") == 1);
    assert_true(value(&d, "evrepl_replica_state{replica=\"us-east\",state=\"diverged\"}") == 0);
    assert_true(value(&d, "evrepl_replica_state{replica=\"eu-west\",state=\"unknown\"}") == 1);
    assert_true(value(&d, "evrepl_replica_reachable{replica=\"us-east\"}") == 1);
    assert_true(value(&d, "evrepl_replica_head_sequence{replica=\"us-east\"}") == 10);
    assert_true(value(&d, "evrepl_replica_state_changes_total{replica=\"us-east\"}") == 5);
    assert_true(value(&d, "evrepl_audit_events_checked_total{replica=\"us-east\"}") == 70);
    assert_true(
        value(&d, "evrepl_replica_last_verification_timestamp_seconds{replica=\"us-east\"}") >
        1.7e9);
    double v;
    assert_false(prom_get(&d, "evrepl_replica_reachable{replica=\"eu-west\"}", &v));
    prom_free(&d);
    evri_log_destroy(o.log);
    evri_metrics_destroy(o.metrics);
    fclose(sink);
    free(buf);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_metrics_counters_histograms_and_gauges),
        cmocka_unit_test(test_metrics_hostile_labels_stay_valid),
        cmocka_unit_test(test_metrics_parser_is_strict),
        cmocka_unit_test(test_metrics_rpc_counts_calls_with_one_unknown_label),
        cmocka_unit_test(test_metrics_observer_logs_each_change_once),
    };
    return cmocka_run_group_tests_name("metrics", tests, NULL, NULL);
}
