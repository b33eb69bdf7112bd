// What an operator relies on, end to end with the built programs: the metrics endpoint
// (scraped and parsed strictly), state-change and call log lines without secrets, start-up
// errors of the metrics listener, `evrepl verify --watch`, and the shipped sample config and
// systemd unit.
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
#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>

#include "evrepl/client.h"
#include "support/envelope.h"
#include "support/proc.h"
#include "support/prom.h"
#include "support/support.h"

#define VALID_ID "0b3c2d1e-aaaa-4bbb-8ccc-0123456789ab"

typedef struct fixture {
    char dir[256];
    char bin[512];
    char cli[512];
    char tcp_url[64];
    int metrics_port;
    char metrics_flag[80];
    tproc server;
} fixture;

static int
setup(void **state)
{
    fixture *f = calloc(1, sizeof(*f));
    assert_true(evri_test_tmpdir(f->dir));
    snprintf(f->bin, sizeof(f->bin), "%s/evrepld", tproc_bin_dir());
    snprintf(f->cli, sizeof(f->cli), "%s/evrepl", tproc_bin_dir());
    int port = tproc_free_port();
    f->metrics_port = tproc_free_port();
    assert_true(port > 0 && f->metrics_port > 0 && port != f->metrics_port);
    snprintf(f->tcp_url, sizeof(f->tcp_url), "tcp://127.0.0.1:%d", port);
    snprintf(f->metrics_flag, sizeof(f->metrics_flag), "--metrics-listen=http://127.0.0.1:%d",
             f->metrics_port);
    *state = f;
    return 0;
}

static int
teardown(void **state)
{
    fixture *f = *state;
    if (f->server.pid > 0) {
        kill(f->server.pid, SIGKILL);
        tproc_wait(&f->server, 2000);
    }
    evri_test_rmdir(f->dir);
    free(f);
    return 0;
}

static void
start_server(fixture *f, char *const *extra, size_t n_extra)
{
    char listen[80];
    char *argv[24];
    size_t a = 0;
    snprintf(listen, sizeof(listen), "--listen=%s", f->tcp_url);
    argv[a++] = f->bin;
    argv[a++] = listen;
    for (size_t i = 0; i < n_extra; i++) {
        argv[a++] = extra[i];
    }
    argv[a] = NULL;
    assert_true(tproc_start(&f->server, f->dir, argv));
    assert_true(tproc_await_serving(f->tcp_url, 5000));
}

static int
stop_server(fixture *f)
{
    kill(f->server.pid, SIGTERM);
    int rc = tproc_wait(&f->server, 10000);
    f->server.pid = 0;
    return rc;
}

// Scrapes /metrics and parses it strictly; fails the test otherwise.
static void
scrape(fixture *f, prom_doc *doc)
{
    char *body = NULL;
    char ctype[128];
    int status = prom_http_get(f->metrics_port, "/metrics", "GET", &body, ctype, sizeof(ctype));
    assert_int_equal(status, 200);
    assert_string_equal(ctype, "text/plain; version=0.0.4; charset=utf-8");
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

// Sends one raw request for a method the server does not have.
static void
call_unknown_method(fixture *f, const char *method)
{
    nng_socket s;
    size_t len;
    assert_int_equal(nng_req0_open(&s), 0);
    assert_int_equal(nng_socket_set_ms(s, NNG_OPT_RECVTIMEO, 5000), 0);
    assert_int_equal(nng_dial(s, f->tcp_url, NULL, 0), 0);
    uint8_t *req = tenv_request(method, NULL, 0, 0, NULL, 0, &len);
    assert_int_equal(nng_send(s, req, len, 0), 0);
    free(req);
    char *buf = NULL;
    size_t got = 0;
    assert_int_equal(nng_recv(s, &buf, &got, NNG_FLAG_ALLOC), 0);
    nng_free(buf, got);
    nng_close(s);
}

static evrepl_client *
client(fixture *f)
{
    evrepl_client_opts o = {.url = f->tcp_url, .timeout_ms = 5000};
    evrepl_client *c = NULL;
    evrepl_status st;
    assert_int_equal(evrepl_client_create(&c, &o, &st), EVREPL_CODE_OK);
    return c;
}

static void
test_ops_metrics_stub_counters_move(void **state)
{
    fixture *f = *state;
    char *extra[] = {f->metrics_flag, "--stub-replicas=us-east,eu-west,ap-south"};
    start_server(f, extra, 2);

    prom_doc d;
    scrape(f, &d);
    assert_true(value(&d, "evrepl_replica_state{replica=\"us-east\",state=\"unknown\"}") == 1);
    assert_true(value(&d, "evrepl_primary_reachable") == 1);
    double before_health =
        value(&d, "evrepl_calls_total{method=\"/evrepl.v1.Health/Check\",code=\"OK\"}");
    prom_free(&d);

    evrepl_client *c = client(f);
    evrepl_status st;
    evrepl_call_opts co = {.request_id = "ops-req-7"};
    for (int i = 0; i < 3; i++) {
        evrepl_receipt r = {0};
        assert_int_equal(evrepl_client_propagate_event(c, VALID_ID, &co, &r, &st), EVREPL_CODE_OK);
        evrepl_receipt_clear(&r);
    }
    evrepl_verification v = {0};
    assert_int_equal(evrepl_client_verify_replicas(c, NULL, &co, &v, &st), EVREPL_CODE_OK);
    evrepl_verification_clear(&v);
    evrepl_serving_status h;
    assert_int_equal(evrepl_client_health_check(c, "", NULL, &h, &st), EVREPL_CODE_OK);
    evrepl_client_destroy(c);
    call_unknown_method(f, "/evrepl.v1.Nope/One");
    call_unknown_method(f, "/evrepl.v1.Nope/Two");

    scrape(f, &d);
    assert_true(value(&d, "evrepl_calls_total{method=\"/evrepl.v1.EventReplicator/PropagateEvent\","
                          "code=\"OK\"}") == 3);
    assert_true(value(&d, "evrepl_calls_total{method=\"/evrepl.v1.EventReplicator/VerifyReplicas\","
                          "code=\"OK\"}") == 1);
    assert_true(value(&d, "evrepl_calls_total{method=\"/evrepl.v1.Health/Check\",code=\"OK\"}") ==
                before_health + 1);
    assert_true(value(&d, "evrepl_calls_total{method=\"unknown\",code=\"UNIMPLEMENTED\"}") == 2);
    assert_true(value(&d, "evrepl_call_duration_seconds_count{method="
                          "\"/evrepl.v1.EventReplicator/PropagateEvent\"}") == 3);
    assert_true(value(&d, "evrepl_calls_in_flight") == 0);
    assert_true(value(&d, "evrepl_workers") == 0); // the stub answers inline
    assert_true(value(&d, "evrepl_worker_queue_depth") == 0);
    assert_true(value(&d, "evrepl_receipts_total{status=\"confirmed\"}") == 3);
    assert_true(value(&d, "evrepl_verifications_total{result=\"valid\"}") == 1);
    const char *replicas[] = {"us-east", "eu-west", "ap-south"};
    for (int i = 0; i < 3; i++) {
        char series[128];
        snprintf(series, sizeof(series), "evrepl_replica_state{replica=\"%s\",state=\"valid\"}",
                 replicas[i]);
        assert_true(value(&d, series) == 1);
        snprintf(series, sizeof(series), "evrepl_replica_reachable{replica=\"%s\"}", replicas[i]);
        assert_true(value(&d, series) == 1);
    }
    assert_true(prom_sum(&d, "evrepl_build_info") == 1);
    bool info = false;
    for (size_t i = 0; i < d.n; i++) {
        const char *want =
            "evrepl_build_info{version=\"" EVREPL_VERSION_STRING "\",backend=\"stub\",";
        info = info || (strncmp(d.samples[i].series, want, strlen(want)) == 0 &&
                        strstr(d.samples[i].series, ",dev_mode=\"true\"}") != NULL);
    }
    assert_true(info);
    prom_free(&d);

    // Only /metrics is served, by GET (and HEAD).
    char *body = NULL;
    char ctype[128];
    assert_int_equal(prom_http_get(f->metrics_port, "/", "GET", &body, ctype, sizeof(ctype)), 404);
    free(body);
    assert_int_equal(
        prom_http_get(f->metrics_port, "/metrics", "POST", &body, ctype, sizeof(ctype)), 405);
    free(body);
    assert_int_equal(
        prom_http_get(f->metrics_port, "/metrics", "HEAD", &body, ctype, sizeof(ctype)), 200);
    free(body);

    assert_int_equal(stop_server(f), 0);
    char log[65536];
    tproc_slurp(f->server.err_path, log, sizeof(log));
    char want[160];
    snprintf(want, sizeof(want), "info metrics listening url=http://127.0.0.1:%d path=/metrics",
             f->metrics_port);
    assert_non_null(strstr(log, want));
    // The first verification: one line per replica, naming the call that saw it.
    assert_non_null(strstr(log, "info replica reachable replica=ap-south state=valid "
                                "previous=unknown request_id=ops-req-7\n"));
}

static void
test_ops_metrics_listener_errors(void **state)
{
    fixture *f = *state;
    char *extra[] = {f->metrics_flag};
    start_server(f, extra, 1);
    // A second server on the same metrics address: exit 3 with one clear line.
    char out[4096], err[4096];
    char listen[80];
    snprintf(listen, sizeof(listen), "--listen=tcp://127.0.0.1:%d", tproc_free_port());
    char *taken[] = {f->bin, listen, f->metrics_flag, NULL};
    assert_int_equal(tproc_run(f->dir, taken, 5000, out, sizeof(out), err, sizeof(err)), 3);
    assert_non_null(strstr(err, "cannot serve metrics on http://127.0.0.1:"));
    assert_non_null(strstr(err, "already in use"));
    assert_int_equal(strchr(err, '\n') - err + 1, (long)strlen(err));
    assert_int_equal(stop_server(f), 0);
    // Bad URLs are usage errors.
    char bad[][64] = {"--metrics-listen=tcp://127.0.0.1:1",
                      "--metrics-listen=http://user:pw@127.0.0.1:1",
                      "--metrics-listen=http://127.0.0.1:1/?q=1", "--metrics-listen=http//x"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char *argv[] = {f->bin, bad[i], NULL};
        assert_int_equal(tproc_run(f->dir, argv, 5000, out, sizeof(out), err, sizeof(err)), 2);
        assert_non_null(strstr(err, "--metrics-listen"));
        assert_null(strstr(err, "pw@"));
    }
}

static void
test_ops_metrics_under_a_path(void **state)
{
    fixture *f = *state;
    char flag[120];
    snprintf(flag, sizeof(flag), "--metrics-listen=http://127.0.0.1:%d/evrepl/", f->metrics_port);
    char *extra[] = {flag};
    start_server(f, extra, 1);
    char *body = NULL;
    char ctype[128];
    assert_int_equal(
        prom_http_get(f->metrics_port, "/evrepl/metrics", "GET", &body, ctype, sizeof(ctype)), 200);
    prom_doc d;
    assert_true(prom_parse(&d, body));
    prom_free(&d);
    free(body);
    assert_int_equal(prom_http_get(f->metrics_port, "/metrics", "GET", &body, ctype, sizeof(ctype)),
                     404);
    free(body);
    assert_int_equal(stop_server(f), 0);
}

static void
test_ops_logs_hold_no_secrets(void **state)
{
    fixture *f = *state;
    // A token sent to a server that requires none, in JSON logs: never written.
    char *extra[] = {"--log-format=json", "--stub-replicas=us-east"};
    start_server(f, extra, 2);
    evrepl_client_opts o = {.url = f->tcp_url, .timeout_ms = 5000, .token = "s3cr3t-token-xyz"};
    evrepl_client *c = NULL;
    evrepl_status st;
    assert_int_equal(evrepl_client_create(&c, &o, &st), EVREPL_CODE_OK);
    evrepl_verification v = {0};
    evrepl_call_opts co = {.request_id = "json-1"};
    assert_int_equal(evrepl_client_verify_replicas(c, NULL, &co, &v, &st), EVREPL_CODE_OK);
    evrepl_verification_clear(&v);
    evrepl_client_destroy(c);
    assert_int_equal(stop_server(f), 0);
    char log[65536];
    tproc_slurp(f->server.err_path, log, sizeof(log));
    assert_null(strstr(log, "s3cr3t"));
    assert_non_null(strstr(log, "\"msg\":\"replica reachable\",\"replica\":\"us-east\","
                                "\"state\":\"valid\",\"previous\":\"unknown\","
                                "\"request_id\":\"json-1\"}"));

    // A primary that cannot be reached: one line, and not its password.
    char out[4096], err[4096];
    char *pg[] = {f->bin, "--backend=postgres",
                  "--primary=host=127.0.0.1 port=1 user=ev password=s3cr3t-pw connect_timeout=2",
                  "--replica=r1=postgresql://ev:s3cr3t-uri@127.0.0.1:1/evrepl", NULL};
    assert_int_equal(tproc_run(f->dir, pg, 10000, out, sizeof(out), err, sizeof(err)), 3);
    assert_non_null(strstr(err, "cannot reach the primary"));
    assert_null(strstr(err, "s3cr3t"));
    assert_null(strstr(out, "s3cr3t"));
}

// Reads p's stdout so far; returns its number of lines.
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

// Waits (at most timeout_ms) until p printed want lines.
static bool
wait_lines(const tproc *p, int want, int timeout_ms, char *buf, size_t size)
{
    for (int waited = 0; waited < timeout_ms; waited += 50) {
        if (output_lines(p, buf, size) >= want) {
            return true;
        }
        struct timespec ts = {0, 50 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    return false;
}

static void
test_ops_watch_stub_prints_changes_until_a_signal(void **state)
{
    fixture *f = *state;
    // Two good verifications, then every call fails: one first line, one change line.
    char *extra[] = {"--stub-replicas=us-east,eu-west", "--stub-fail=UNAVAILABLE",
                     "--stub-fail-after=2"};
    start_server(f, extra, 3);
    char *argv[] = {f->cli, "--server", f->tcp_url, "verify", "--watch", "1", NULL};
    tproc w;
    assert_true(tproc_start(&w, f->dir, argv));
    char out[8192];
    assert_true(wait_lines(&w, 2, 8000, out, sizeof(out)));
    struct timespec ts = {1, 500 * 1000 * 1000}; // more failing rounds: no more lines
    nanosleep(&ts, NULL);
    kill(w.pid, SIGINT);
    assert_int_equal(tproc_wait(&w, 10000), 0); // Ctrl-C without --fail-fast: 0
    assert_int_equal(output_lines(&w, out, sizeof(out)), 2);
    char *second = strchr(out, '\n') + 1;
    assert_non_null(strstr(out, "Z VALID head=0 us-east=valid eu-west=valid signature=UNSIGNED\n"));
    assert_true(strstr(out, "VALID") < second);
    assert_non_null(
        strstr(second, "Z ERROR UNAVAILABLE: stub failure mode: simulated UNAVAILABLE\n"));
    assert_int_equal(stop_server(f), 0);

    // No server at all: the watch keeps trying and says so once; SIGTERM ends it with 0, even
    // with --fail-fast (nothing diverged).
    char *json_argv[] = {f->cli,    "--server", f->tcp_url,    "--json", "verify",
                         "--watch", "1",        "--fail-fast", NULL};
    assert_true(tproc_start(&w, f->dir, json_argv));
    assert_true(wait_lines(&w, 1, 8000, out, sizeof(out)));
    nanosleep(&ts, NULL);
    kill(w.pid, SIGTERM);
    assert_int_equal(tproc_wait(&w, 10000), 0);
    assert_int_equal(output_lines(&w, out, sizeof(out)), 1);
    assert_non_null(strstr(out, "\"error\":{\"code\":14,\"name\":\"UNAVAILABLE\""));
    assert_int_equal(out[0], '{');

    // Usage errors.
    char err[4096];
    char *bad[][8] = {
        {f->cli, "verify", "--fail-fast", NULL},
        {f->cli, "verify", "--watch", "0", NULL},
        {f->cli, "verify", "--watch", "soon", NULL},
        {f->cli, "verify", "--watch", "86401", NULL},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(tproc_run(f->dir, bad[i], 5000, out, sizeof(out), err, sizeof(err)), 2);
        assert_non_null(strstr(err, "usage: evrepl"));
    }
}

// A path under the source tree ($EVREPL_SOURCE_DIR).
static void
source_path(char *out, size_t size, const char *rel)
{
    const char *src = getenv("EVREPL_SOURCE_DIR");
    snprintf(out, size, "%s/%s", src != NULL ? src : ".", rel);
}

// The value after "name = " on the line that starts with it in text, copied to out.
static bool
setting(const char *text, const char *name, char *out, size_t size)
{
    char pat[80];
    snprintf(pat, sizeof(pat), "\n%s = ", name);
    const char *at = strstr(text, pat);
    if (at == NULL && strncmp(text, pat + 1, strlen(pat) - 1) == 0) {
        at = text - 1;
    }
    if (at == NULL) {
        return false;
    }
    at += strlen(pat);
    size_t n = strcspn(at, "\n");
    snprintf(out, size, "%.*s", (int)n, at);
    return true;
}

static void
test_ops_sample_config_checks(void **state)
{
    fixture *f = *state;
    char sample[512], out[16384], err[4096], v[512];
    source_path(sample, sizeof(sample), "tools/evrepld.conf.sample");
    char *argv[] = {f->bin, "--check-config", sample, NULL};
    int rc = tproc_run(f->dir, argv, 5000, out, sizeof(out), err, sizeof(err));
    if (rc != 0) {
        fail_msg("evrepld --check-config %s: exit %d: %s", sample, rc, err);
    }
    assert_true(setting(out, "backend", v, sizeof(v)));
    assert_string_equal(v, "postgres");
    // A primary and three regional replicas, in order, with no password in sight.
    const char *want = "\nreplica = us-east=";
    const char *us = strstr(out, want);
    const char *eu = strstr(out, "\nreplica = eu-west=");
    const char *ap = strstr(out, "\nreplica = ap-south=");
    assert_true(us != NULL && eu != NULL && ap != NULL && us < eu && eu < ap);
    assert_null(strstr(out, "password="));
    assert_true(setting(out, "metrics-listen", v, sizeof(v)));
    assert_string_equal(v, "http://127.0.0.1:9464");
    assert_true(setting(out, "log-format", v, sizeof(v)));
    assert_string_equal(v, "json");
}

static void
test_ops_every_flag_is_a_config_setting(void **state)
{
    fixture *f = *state;
    char out[16384], err[4096];
    char *help[] = {f->bin, "--help", NULL};
    assert_int_equal(tproc_run(f->dir, help, 5000, out, sizeof(out), err, sizeof(err)), 0);
    static const char *const not_settings[] = {"config", "check-config", "version", "help"};
    int checked = 0;
    char path[320];
    snprintf(path, sizeof(path), "%s/one.conf", f->dir);
    for (const char *p = strstr(out, "--"); p != NULL; p = strstr(p + 2, "--")) {
        char name[64];
        size_t n = strspn(p + 2, "abcdefghijklmnopqrstuvwxyz-");
        if (n == 0 || n >= sizeof(name)) {
            continue;
        }
        snprintf(name, sizeof(name), "%.*s", (int)n, p + 2);
        bool skip = false;
        for (size_t k = 0; k < sizeof(not_settings) / sizeof(not_settings[0]); k++) {
            skip = skip || strcmp(name, not_settings[k]) == 0;
        }
        if (skip) {
            continue;
        }
        FILE *cf = fopen(path, "w");
        fprintf(cf, "%s = \"x\";\n", name);
        fclose(cf);
        char *argv[] = {f->bin, "--check-config", path, NULL};
        (void)tproc_run(f->dir, argv, 5000, out + 8192, sizeof(out) - 8192, err, sizeof(err));
        if (strstr(err, "unknown setting") != NULL) {
            fail_msg("flag --%s has no config file setting: %s", name, err);
        }
        checked++;
    }
    assert_true(checked >= 24); // every setting flag of cli.md and more
}

// The unit's Key=value (the last one when repeated), or NULL.
static bool
unit_key(const char *unit, const char *key, char *out, size_t size)
{
    char pat[64];
    snprintf(pat, sizeof(pat), "\n%s=", key);
    const char *found = NULL;
    for (const char *at = strstr(unit, pat); at != NULL; at = strstr(at + 1, pat)) {
        found = at;
    }
    if (found == NULL) {
        return false;
    }
    found += strlen(pat);
    snprintf(out, size, "%.*s", (int)strcspn(found, "\n"), found);
    return true;
}

static void
test_ops_systemd_unit_fits_the_sample(void **state)
{
    fixture *f = *state;
    char unit_path[512], sample[512], unit[8192], cfg[16384], err[4096], v[256], w[600];
    source_path(unit_path, sizeof(unit_path), "tools/systemd/evrepld.service");
    source_path(sample, sizeof(sample), "tools/evrepld.conf.sample");
    assert_true(tproc_slurp(unit_path, unit, sizeof(unit)) > 0);
    char *check[] = {f->bin, "--check-config", sample, NULL};
    cfg[0] = '\n'; // every setting line then follows a newline
    assert_int_equal(tproc_run(f->dir, check, 5000, cfg + 1, sizeof(cfg) - 1, err, sizeof(err)), 0);

    const char *hardening[][2] = {{"User", "evrepl"},          {"NoNewPrivileges", "yes"},
                                  {"ProtectSystem", "strict"}, {"ProtectHome", "yes"},
                                  {"PrivateTmp", "yes"},       {"CapabilityBoundingSet", ""},
                                  {"KillSignal", "SIGTERM"}};
    for (size_t i = 0; i < sizeof(hardening) / sizeof(hardening[0]); i++) {
        if (!unit_key(unit, hardening[i][0], v, sizeof(v)) || strcmp(v, hardening[i][1]) != 0) {
            fail_msg("the unit wants %s=%s", hardening[i][0], hardening[i][1]);
        }
    }
    // The ipc socket lives in the RuntimeDirectory, the state file in a writable directory.
    assert_true(unit_key(unit, "RuntimeDirectory", v, sizeof(v)));
    snprintf(w, sizeof(w), "\nlisten = ipc:///run/%s/", v);
    assert_non_null(strstr(cfg, w));
    assert_true(unit_key(unit, "ReadWritePaths", v, sizeof(v)));
    char state_file[512];
    assert_true(setting(cfg, "state-file", state_file, sizeof(state_file)));
    assert_int_equal(strncmp(state_file, v, strlen(v)), 0);
    assert_int_equal(state_file[strlen(v)], '/');
    assert_true(unit_key(unit, "StateDirectory", w, sizeof(w)));
    assert_non_null(strstr(v, w));
    // Both ExecStart lines read the same file; shutdown may take max-timeout-ms (plus 1 s).
    assert_true(unit_key(unit, "ExecStart", v, sizeof(v)));
    assert_non_null(strstr(v, " --config /etc/evrepl/evrepld.conf"));
    assert_true(unit_key(unit, "ExecStartPre", v, sizeof(v)));
    assert_non_null(strstr(v, " --check-config /etc/evrepl/evrepld.conf"));
    assert_true(unit_key(unit, "TimeoutStopSec", v, sizeof(v)));
    assert_true(setting(cfg, "max-timeout-ms", w, sizeof(w)));
    assert_true(atol(v) * 1000 > atol(w) + 1000);

    // systemd's own check, where systemd-analyze exists: no unknown or misspelt keys.
    if (system("command -v systemd-analyze >/dev/null 2>&1") != 0) {
        print_message("systemd-analyze not installed: the unit's syntax is not checked\n");
        return;
    }
    char copy[320], cmd[4096];
    snprintf(copy, sizeof(copy), "%s/evrepld.service", f->dir);
    snprintf(cmd, sizeof(cmd),
             "sed 's#/usr/local/bin/evrepld#%s#g' '%s' > '%s' && systemd-analyze verify '%s' "
             ">'%s/verify.out' 2>&1",
             f->bin, unit_path, copy, copy, f->dir);
    int rc = system(cmd);
    char verify_out[4096];
    snprintf(copy, sizeof(copy), "%s/verify.out", f->dir);
    tproc_slurp(copy, verify_out, sizeof(verify_out));
    if (rc != 0 || verify_out[0] != '\0') {
        fail_msg("systemd-analyze verify: %s", verify_out);
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_ops_metrics_stub_counters_move, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ops_metrics_listener_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ops_metrics_under_a_path, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ops_logs_hold_no_secrets, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ops_watch_stub_prints_changes_until_a_signal, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_ops_sample_config_checks, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ops_every_flag_is_a_config_setting, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ops_systemd_unit_fits_the_sample, setup, teardown),
    };
    return cmocka_run_group_tests_name("ops", tests, NULL, NULL);
}
