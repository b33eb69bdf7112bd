// What an operator sees of evrepld on real clusters (the tools/trio fixture): the metrics of
// the postgres backend, scraped and parsed strictly after real calls; the state-change log
// lines; and `evrepl verify --watch --fail-fast` ending within one interval when a replica is
// made to diverge (then repaired, so the trio is as it was).
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "evrepl/client.h"
#include "pgtest.h"
#include "support/proc.h"
#include "support/prom.h"
#include "support/support.h"

// The replica the divergence test alters (and restores).
#define VICTIM PGT_AP_SOUTH

typedef struct fixture {
    char dir[256];
    char bin[512];
    char key_path[320];
    char last_event[64]; // the newest event this suite appended
    char tcp_url[64];
    int metrics_port;
    tproc server;
} fixture;

// Appends n signed events on the primary; remembers the last id.
static void
append_events(fixture *f, int n)
{
    char out[8192], err[2048], count[16];
    snprintf(count, sizeof(count), "%d", n);
    int rc = pgt_evrepl(f->dir, out, sizeof(out), err, sizeof(err), "append", "--db",
                        pgt_conninfo(PGT_PRIMARY), "--key", f->key_path, "--type", "ops.test",
                        "--payload", "{\"ops\":true}", "--count", count, NULL);
    if (rc != 0) {
        fail_msg("evrepl append: exit %d: %s", rc, err);
    }
    char *last = NULL;
    for (char *line = strtok(out, "\n"); line != NULL; line = strtok(NULL, "\n")) {
        last = line;
    }
    assert_non_null(last);
    snprintf(f->last_event, sizeof(f->last_event), "%s", last);
}

static int
setup_suite(void **state)
{
    fixture *f = calloc(1, sizeof(*f));
    assert_true(evri_test_tmpdir(f->dir));
    snprintf(f->bin, sizeof(f->bin), "%s/evrepld", tproc_bin_dir());
    snprintf(f->key_path, sizeof(f->key_path), "%s/writer.key", f->dir);
    char out[1024], err[1024];
    assert_int_equal(pgt_evrepl(f->dir, out, sizeof(out), err, sizeof(err), "keygen", "--out",
                                f->key_path, NULL),
                     0);
    assert_int_equal(pgt_evrepl(f->dir, out, sizeof(out), err, sizeof(err), "register-key", "--db",
                                pgt_conninfo(PGT_PRIMARY), "--key", f->key_path, NULL),
                     0);
    // More events by a key evrepld learns only when it meets them than a replica's error list
    // holds (8): the first verification of a fresh evrepld re-checks them after reading the
    // keys, and must not crash doing so.
    append_events(f, 12);
    *state = f;
    return 0;
}

static int
teardown_suite(void **state)
{
    fixture *f = *state;
    evri_test_rmdir(f->dir);
    free(f);
    return 0;
}

static int
teardown_server(void **state)
{
    fixture *f = *state;
    if (f->server.pid > 0) {
        kill(f->server.pid, SIGKILL);
        tproc_wait(&f->server, 5000);
        f->server.pid = 0;
    }
    return 0;
}

static evrepl_client *
client(const fixture *f)
{
    evrepl_client_opts o = {.url = f->tcp_url, .timeout_ms = 15000};
    evrepl_client *c = NULL;
    evrepl_status st;
    assert_int_equal(evrepl_client_create(&c, &o, &st), EVREPL_CODE_OK);
    return c;
}

// Starts evrepld on the trio with 2 workers and metrics; waits until it serves.
static void
start_server(fixture *f)
{
    char listen[80], metrics[80], primary[1200], r[3][1200];
    int port = tproc_free_port();
    f->metrics_port = tproc_free_port();
    snprintf(f->tcp_url, sizeof(f->tcp_url), "tcp://127.0.0.1:%d", port);
    snprintf(listen, sizeof(listen), "--listen=%s", f->tcp_url);
    snprintf(metrics, sizeof(metrics), "--metrics-listen=http://127.0.0.1:%d", f->metrics_port);
    snprintf(primary, sizeof(primary), "--primary=%s", pgt_conninfo(PGT_PRIMARY));
    const char *ids[] = {PGT_US_EAST, PGT_EU_WEST, PGT_AP_SOUTH};
    for (int i = 0; i < 3; i++) {
        snprintf(r[i], sizeof(r[i]), "--replica=%s=%s", ids[i], pgt_conninfo(ids[i]));
    }
    char *argv[] = {f->bin,        listen,  "--backend=postgres",     primary, r[0], r[1], r[2],
                    "--workers=2", metrics, "--max-timeout-ms=30000", NULL};
    assert_true(tproc_start(&f->server, f->dir, argv));
    if (tproc_await_serving(f->tcp_url, 20000)) {
        return;
    }
    char log[4096];
    tproc_slurp(f->server.err_path, log, sizeof(log));
    fail_msg("evrepld did not serve on the trio within 20 s; its log:\n%s", log);
}

static int
stop_server(fixture *f)
{
    kill(f->server.pid, SIGTERM);
    int rc = tproc_wait(&f->server, 40000);
    f->server.pid = 0;
    return rc;
}

static void
scrape(const fixture *f, prom_doc *doc)
{
    char *body = NULL;
    char ctype[128];
    assert_int_equal(prom_http_get(f->metrics_port, "/metrics", "GET", &body, ctype, sizeof(ctype)),
                     200);
    if (!prom_parse(doc, body)) {
        fail_msg("exposition rejected: %s\n%s", doc->error, body);
    }
    free(body);
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

// Verifies until the result is valid (replication may still be bringing the newest events).
static void
verify_until_valid(const fixture *f, const char *request_id)
{
    evrepl_client *c = client(f);
    evrepl_status st;
    evrepl_call_opts co = {.request_id = request_id};
    evrepl_verify_request vr = {.tail = 12};
    for (int i = 0; i < 50; i++) {
        evrepl_verification v = {0};
        if (evrepl_client_verify_replicas(c, &vr, &co, &v, &st) != EVREPL_CODE_OK) {
            char log[4096];
            tproc_slurp(f->server.err_path, log, sizeof(log));
            fail_msg("VerifyReplicas: %s: %s\nevrepld's log:\n%s", evrepl_code_name(st.code),
                     st.message, log);
        }
        bool valid = evrepl_verification_is_valid(&v);
        evrepl_verification_clear(&v);
        if (valid) {
            evrepl_client_destroy(c);
            return;
        }
        pgt_sleep_ms(200);
    }
    fail_msg("the trio never verified valid");
}

static void
test_pg_ops_metrics_of_the_postgres_backend(void **state)
{
    fixture *f = *state;
    start_server(f);
    verify_until_valid(f, "pg-ops-verify");
    evrepl_client *c = client(f);
    evrepl_status st;
    for (int i = 0; i < 2; i++) {
        evrepl_receipt r = {0};
        assert_int_equal(evrepl_client_propagate_event(c, f->last_event, NULL, &r, &st),
                         EVREPL_CODE_OK);
        assert_int_equal(r.status, EVREPL_REPLICATION_STATUS_CONFIRMED);
        evrepl_receipt_clear(&r);
    }
    evrepl_receipt r = {0};
    assert_int_equal(
        evrepl_client_propagate_event(c, "00000000-0000-4000-8000-000000000000", NULL, &r, &st),
        EVREPL_CODE_NOT_FOUND);
    evrepl_receipt_clear(&r);
    evrepl_verification v = {0};
    evrepl_verify_request tail = {.tail = 12};
    if (evrepl_client_verify_replicas(c, &tail, NULL, &v, &st) != EVREPL_CODE_OK) {
        fail_msg("VerifyReplicas: %s: %s", evrepl_code_name(st.code), st.message);
    }
    uint64_t head = v.primary_head_sequence;
    evrepl_verification_clear(&v);
    evrepl_client_destroy(c);

    prom_doc d;
    scrape(f, &d);
    assert_true(value(&d, "evrepl_calls_total{method=\"/evrepl.v1.EventReplicator/PropagateEvent\","
                          "code=\"OK\"}") == 2);
    assert_true(value(&d, "evrepl_calls_total{method=\"/evrepl.v1.EventReplicator/PropagateEvent\","
                          "code=\"NOT_FOUND\"}") == 1);
    assert_true(value(&d, "evrepl_calls_total{method=\"/evrepl.v1.EventReplicator/VerifyReplicas\","
                          "code=\"OK\"}") >= 2);
    assert_true(value(&d, "evrepl_call_duration_seconds_count{method="
                          "\"/evrepl.v1.EventReplicator/PropagateEvent\"}") == 3);
    assert_true(value(&d, "evrepl_receipts_total{status=\"confirmed\"}") == 2);
    assert_true(value(&d, "evrepl_verifications_total{result=\"valid\"}") >= 2);
    assert_true(value(&d, "evrepl_workers") == 2);
    assert_true(value(&d, "evrepl_worker_queue_capacity") == 16); // workers x 8
    assert_true(value(&d, "evrepl_worker_queue_depth") == 0);
    assert_true(value(&d, "evrepl_calls_in_flight") == 0);
    assert_true(value(&d, "evrepl_primary_reachable") == 1);
    const char *ids[] = {PGT_US_EAST, PGT_EU_WEST, PGT_AP_SOUTH};
    for (int i = 0; i < 3; i++) {
        char s[160];
        snprintf(s, sizeof(s), "evrepl_replica_state{replica=\"%s\",state=\"valid\"}", ids[i]);
        assert_true(value(&d, s) == 1);
        snprintf(s, sizeof(s), "evrepl_replica_head_sequence{replica=\"%s\"}", ids[i]);
        assert_true(value(&d, s) == (double)head);
        snprintf(s, sizeof(s), "evrepl_replica_lag_events{replica=\"%s\"}", ids[i]);
        assert_true(value(&d, s) == 0);
        // Each tail verification re-checked the 12 newest events on every replica.
        snprintf(s, sizeof(s), "evrepl_audit_events_checked_total{replica=\"%s\"}", ids[i]);
        assert_true(value(&d, s) >= 24);
    }
    bool info = false;
    for (size_t i = 0; i < d.n; i++) {
        info = info || (strstr(d.samples[i].series, "evrepl_build_info{") != NULL &&
                        strstr(d.samples[i].series, ",backend=\"postgres\",") != NULL &&
                        strstr(d.samples[i].series, ",dev_mode=\"false\"}") != NULL);
    }
    assert_true(info);
    prom_free(&d);

    assert_int_equal(stop_server(f), 0);
    char log[131072];
    tproc_slurp(f->server.err_path, log, sizeof(log));
    for (int i = 0; i < 3; i++) {
        char want[160];
        snprintf(want, sizeof(want), "replica=%s state=", ids[i]);
        assert_non_null(strstr(log, want));
    }
    assert_non_null(strstr(log, " request_id=pg-ops-verify\n"));
    assert_null(strstr(log, "password"));
}

// Reads the victim's newest row: its sequence and content hash (hex).
static long long
victim_head(char *hash_hex, size_t size)
{
    evrepl_status st;
    evri_pg_db *db = pgt_open(pgt_conninfo(VICTIM));
    char seq[32];
    evrepl_code code =
        evri_pg_db_query_value(db, "SELECT max(sequence) FROM events", seq, sizeof(seq), &st);
    char sql[160];
    snprintf(sql, sizeof(sql), "SELECT encode(content_hash, 'hex') FROM events WHERE sequence = %s",
             seq);
    if (code == EVREPL_CODE_OK) {
        code = evri_pg_db_query_value(db, sql, hash_hex, size, &st);
    }
    evri_pg_db_close(db);
    if (code != EVREPL_CODE_OK) {
        fail_msg("reading %s's head: %s", VICTIM, st.message);
    }
    return strtoll(seq, NULL, 10);
}

// Sets the victim's content hash at seq, bypassing the append-only guards the way only a
// superuser can (as a tampered replica would).
static void
victim_set_hash(long long seq, const char *hash_hex)
{
    char sql[512];
    snprintf(sql, sizeof(sql),
             "SET session_replication_role = replica; "
             "UPDATE events SET content_hash = decode('%s', 'hex') WHERE sequence = %lld; "
             "RESET session_replication_role",
             hash_hex, seq);
    pgt_exec(pgt_conninfo(VICTIM), sql);
}

static int
output_lines(const tproc *p, char *buf, size_t size)
{
    tproc_slurp(p->out_path, buf, size);
    int n = 0;
    for (const char *c = buf; *c != '\0'; c++) {
        n += *c == '\n';
    }
    return n;
}

static void
test_pg_ops_watch_fails_fast_on_divergence(void **state)
{
    fixture *f = *state;
    start_server(f);
    verify_until_valid(f, "pg-ops-before");
    char cli[600], out[16384];
    snprintf(cli, sizeof(cli), "%s/evrepl", tproc_bin_dir());
    char *argv[] = {cli,      "--server", f->tcp_url, "--timeout",   "10000",
                    "verify", "--watch",  "1",        "--fail-fast", NULL};
    tproc w;
    assert_true(tproc_start(&w, f->dir, argv));
    for (int i = 0; i < 200 && output_lines(&w, out, sizeof(out)) < 1; i++) {
        pgt_sleep_ms(50);
    }
    assert_int_equal(output_lines(&w, out, sizeof(out)), 1);
    assert_non_null(strstr(out, " VALID head="));

    char original[80];
    long long seq = victim_head(original, sizeof(original));
    victim_set_hash(seq, "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff");
    // The next round (at most 1 s away, plus the call: at most its 10 s timeout on a loaded
    // machine) sees it; --fail-fast ends with 1.
    int rc = tproc_wait(&w, 15000);
    victim_set_hash(seq, original); // repaired before anything can fail
    assert_int_equal(rc, 1);
    output_lines(&w, out, sizeof(out));
    char want[80];
    snprintf(want, sizeof(want), " %s=diverged(at=%lld)", VICTIM, seq);
    assert_non_null(strstr(out, want));
    assert_non_null(strstr(out, " NOT_VALID head="));

    prom_doc d;
    scrape(f, &d);
    char s[160];
    snprintf(s, sizeof(s), "evrepl_replica_state{replica=\"%s\",state=\"diverged\"}", VICTIM);
    assert_true(value(&d, s) == 1);
    snprintf(s, sizeof(s), "evrepl_replica_diverged_at_sequence{replica=\"%s\"}", VICTIM);
    assert_true(value(&d, s) == (double)seq);
    prom_free(&d);

    // Repaired: the next verification says so, once.
    verify_until_valid(f, "pg-ops-after");
    scrape(f, &d);
    snprintf(s, sizeof(s), "evrepl_replica_state{replica=\"%s\",state=\"valid\"}", VICTIM);
    assert_true(value(&d, s) == 1);
    snprintf(s, sizeof(s), "evrepl_replica_state_changes_total{replica=\"%s\"}", VICTIM);
    assert_true(value(&d, s) == 2);
    prom_free(&d);
    assert_int_equal(stop_server(f), 0);
    char log[131072];
    tproc_slurp(f->server.err_path, log, sizeof(log));
    snprintf(want, sizeof(want), " error replica diverged replica=%s state=diverged", VICTIM);
    assert_non_null(strstr(log, want));
    snprintf(want, sizeof(want), " info replica recovered replica=%s state=valid", VICTIM);
    assert_non_null(strstr(log, want));
    assert_non_null(strstr(log, "previous=diverged request_id=pg-ops-after\n"));
}

// A caller's short deadline says nothing about the replicas: full audits cut short by it must
// leave every replica's state (metrics and log) as the last complete verification found it.
static void
test_pg_ops_short_deadlines_change_no_state(void **state)
{
    fixture *f = *state;
    evri_signer *signer = NULL;
    evrepl_status st;
    assert_int_equal(evri_signer_generate(&signer, &st), EVREPL_CODE_OK);
    pgt_register_key(signer);
    pgt_append(signer, "ops.bulk", 20000, NULL, NULL); // a full audit takes seconds
    evri_signer_destroy(signer);
    start_server(f);
    evrepl_client *c = client(f);
    // A fresh evrepld connects on first use; a deadline that ends a connect does not end the
    // connect, so calls with deadlines shorter than connecting get answered after a few tries.
    int tries = 0;
    for (evrepl_code code = EVREPL_CODE_UNKNOWN; code != EVREPL_CODE_OK && tries < 50; tries++) {
        evrepl_call_opts co = {.timeout_ms = 40, .request_id = "pg-ops-short-connect"};
        evrepl_verification v = {0};
        code = evrepl_client_verify_replicas(c, NULL, &co, &v, &st);
        evrepl_verification_clear(&v);
    }
    assert_in_range(tries, 1, 49);
    verify_until_valid(f, "pg-ops-short-before");

    evrepl_verify_request full = {.full_audit = true};
    int answered = 0, cut = 0;
    // From deadlines too short for anything to ones that reconnect (a cut call drops the
    // sessions whose statements were still out) but still cut the audit (20,000 signatures).
    for (uint32_t t = 2; t <= 1600 && !(answered > 0 && cut > 0); t += t / 2) {
        evrepl_call_opts co = {.timeout_ms = t, .request_id = "pg-ops-short"};
        evrepl_verification v = {0};
        evrepl_code code = evrepl_client_verify_replicas(c, &full, &co, &v, &st);
        if (code == EVREPL_CODE_OK) {
            answered++;
            for (size_t i = 0; i < v.n_errors; i++) {
                cut += strstr(v.errors[i], "before the deadline") != NULL;
            }
            assert_false(evrepl_verification_is_valid(&v)); // nothing was fully checked
        } else {
            // Nothing came back in time (the primary, or the server), or the client could not
            // even reconnect in time after a call it gave up on: the server reports nothing.
            if (code != EVREPL_CODE_DEADLINE_EXCEEDED && code != EVREPL_CODE_UNAVAILABLE) {
                fail_msg("full audit, %u ms: %s: %s", t, evrepl_code_name(code), st.message);
            }
        }
        evrepl_verification_clear(&v);
    }
    evrepl_client_destroy(c);
    assert_true(answered > 0);
    assert_true(cut > 0);

    prom_doc d;
    scrape(f, &d);
    const char *ids[] = {PGT_US_EAST, PGT_EU_WEST, PGT_AP_SOUTH};
    bool steady = true;
    for (int i = 0; i < 3; i++) {
        char s[160];
        snprintf(s, sizeof(s), "evrepl_replica_state{replica=\"%s\",state=\"valid\"}", ids[i]);
        steady = steady && value(&d, s) == 1;
        snprintf(s, sizeof(s), "evrepl_replica_state_changes_total{replica=\"%s\"}", ids[i]);
        steady = steady && value(&d, s) == 0;
    }
    assert_true(value(&d, "evrepl_verifications_total{result=\"not_valid\"}") >= answered);
    prom_free(&d);
    assert_int_equal(stop_server(f), 0);
    char log[131072];
    tproc_slurp(f->server.err_path, log, sizeof(log));
    if (!steady || strstr(log, "replica unreachable") != NULL ||
        strstr(log, "replica invalid") != NULL || strstr(log, "replica lagging") != NULL) {
        fprintf(stderr, "evrepld's log:\n%s\n", log);
        fail_msg("a replica's state changed under short deadlines (evrepld's log above)");
    }
}

int
main(void)
{
    char why[512];
    if (!pgt_trio_ready(why, sizeof(why))) {
        return pgt_unavailable("test_pg_ops", why);
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_pg_ops_metrics_of_the_postgres_backend, teardown_server),
        cmocka_unit_test_teardown(test_pg_ops_watch_fails_fast_on_divergence, teardown_server),
        cmocka_unit_test_teardown(test_pg_ops_short_deadlines_change_no_state, teardown_server),
    };
    return cmocka_run_group_tests_name("pg_ops", tests, setup_suite, teardown_suite);
}
