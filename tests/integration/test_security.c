// Who may call, end to end with the built programs (docs/security.md): bearer tokens made by
// the CLI, ipc socket mode and uid allow list, mutual TLS with certificates made by openssl at
// test time, and that no secret (conninfo password, token, receipt key) reaches a log line,
// an error, a response or CLI output. (evrepld's ipc watchdog: test_ipc_watchdog.c.)
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <sodium.h>

#include "evrepl/client.h"
#include "support/proc.h"
#include "support/support.h"

#define VALID_ID    "0b3c2d1e-aaaa-4bbb-8ccc-0123456789ab"
#define M_PROPAGATE "/evrepl.v1.EventReplicator/PropagateEvent"
#define M_VERIFY    "/evrepl.v1.EventReplicator/VerifyReplicas"
#define M_DESCRIBE  "/evrepl.v1.Server/Describe"
#define BIG         65536

typedef struct fixture {
    char dir[256];
    char bin[512];
    char cli[512];
    char ipc_path[300];
    char ipc_url[310];
    char tcp_url[64];
    tproc server;
} fixture;

static int
setup(void **state)
{
    fixture *f = calloc(1, sizeof(*f));
    assert_true(evri_test_tmpdir(f->dir));
    snprintf(f->bin, sizeof(f->bin), "%s/evrepld", tproc_bin_dir());
    snprintf(f->cli, sizeof(f->cli), "%s/evrepl", tproc_bin_dir());
    snprintf(f->ipc_path, sizeof(f->ipc_path), "%s/evrepld.sock", f->dir);
    snprintf(f->ipc_url, sizeof(f->ipc_url), "ipc://%s", f->ipc_path);
    int port = tproc_free_port();
    assert_true(port > 0);
    snprintf(f->tcp_url, sizeof(f->tcp_url), "tcp://127.0.0.1:%d", port);
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

static evrepl_code
health_with(const evrepl_client_opts *o, evrepl_status *st)
{
    evrepl_client *c = NULL;
    evrepl_code code = evrepl_client_create(&c, o, st);
    if (code == EVREPL_CODE_OK) {
        evrepl_serving_status h;
        code = evrepl_client_health_check(c, "", NULL, &h, st);
    }
    evrepl_client_destroy(c);
    return code;
}

static bool
wait_ready(const evrepl_client_opts *o)
{
    evrepl_status st = {EVREPL_CODE_OK, ""};
    for (int i = 0; i < 200; i++) {
        if (health_with(o, &st) == EVREPL_CODE_OK) {
            return true;
        }
        struct timespec ts = {0, 25 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    print_message("%s is not ready: %s: %s\n", o->url, evrepl_code_name(st.code), st.message);
    return false;
}

// Starts evrepld with args (NULL-terminated after the program) and waits until ready answers.
static void
start_server(fixture *f, char *const *args, const evrepl_client_opts *ready)
{
    char *argv[40];
    size_t a = 0;
    argv[a++] = f->bin;
    for (size_t i = 0; args[i] != NULL; i++) {
        argv[a++] = args[i];
    }
    argv[a] = NULL;
    assert_true(tproc_start(&f->server, f->dir, argv));
    assert_true(wait_ready(ready));
}

static int
stop_server(fixture *f, char *log, size_t size)
{
    kill(f->server.pid, SIGTERM);
    int rc = tproc_wait(&f->server, 5000);
    f->server.pid = 0;
    tproc_slurp(f->server.err_path, log, size);
    return rc;
}

// Runs the CLI with args (NULL-terminated); stdout and stderr into out and err (BIG each).
static int
run_cli(fixture *f, char *const *args, char *out, char *err)
{
    char *argv[24];
    size_t a = 0;
    argv[a++] = f->cli;
    for (size_t i = 0; args[i] != NULL; i++) {
        argv[a++] = args[i];
    }
    argv[a] = NULL;
    return tproc_run(f->dir, argv, 10000, out, BIG, err, BIG);
}

static void
write_file(const char *path, const char *text)
{
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    fputs(text, fp);
    fclose(fp);
}

static bool
one_line(const char *s)
{
    const char *nl = strchr(s, '\n');
    return nl != NULL && nl[1] == '\0';
}

// evrepl token-new: a fresh token and its file line.
static void
token_new(fixture *f, char *methods, char *token, size_t tsize, char *line, size_t lsize)
{
    char *out = malloc(BIG), *err = malloc(BIG);
    char *args[] = {"token-new", "--methods", methods, NULL};
    assert_int_equal(run_cli(f, args, out, err), 0);
    char *nl = strchr(out, '\n');
    assert_non_null(nl);
    *nl = '\0';
    snprintf(token, tsize, "%s", out);
    snprintf(line, lsize, "%s", nl + 1);
    char *end = strchr(line, '\n');
    assert_non_null(end);
    *end = '\0';
    assert_true(strlen(token) >= 32);
    assert_null(strstr(line, token)); // the file line never holds the token
    assert_int_equal(strncmp(line, "sha256:", 7), 0);
    free(out);
    free(err);
}

static void
test_security_tokens_end_to_end(void **state)
{
    fixture *f = *state;
    char *out = malloc(BIG), *err = malloc(BIG), *log = malloc(BIG);
    char t1[128], l1[512], t2[128], l2[512], path[320], text[1200];
    token_new(f, M_DESCRIBE "," M_PROPAGATE, t1, sizeof(t1), l1, sizeof(l1));
    token_new(f, "*", t2, sizeof(t2), l2, sizeof(l2));
    assert_string_not_equal(t1, t2);
    // token-hash gives the same line for the same token and methods.
    char *hash_args[] = {"token-hash", "--token", t1, "--methods", M_DESCRIBE "," M_PROPAGATE,
                         NULL};
    assert_int_equal(run_cli(f, hash_args, out, err), 0);
    assert_true(strncmp(out, l1, strlen(l1)) == 0 && out[strlen(l1)] == '\n');
    // Unknown method names and short tokens are usage errors that never echo the token.
    char *bad_method[] = {"token-new", "--methods", "/evrepl.v1.Server/Nope", NULL};
    assert_int_equal(run_cli(f, bad_method, out, err), 2);
    assert_non_null(strstr(err, "unknown method '/evrepl.v1.Server/Nope'"));
    char *short_token[] = {"token-hash", "--token", "hunter2-is-short", "--methods", "*", NULL};
    assert_int_equal(run_cli(f, short_token, out, err), 2);
    assert_null(strstr(err, "hunter2"));

    snprintf(path, sizeof(path), "%s/tokens", f->dir);
    snprintf(text, sizeof(text), "# evrepl tokens\n%s\n\n%s\n", l1, l2);
    write_file(path, text);
    char tokens_flag[340], ipc[330], tcp[80];
    snprintf(tokens_flag, sizeof(tokens_flag), "--tokens=%s", path);
    snprintf(ipc, sizeof(ipc), "--listen=%s", f->ipc_url);
    snprintf(tcp, sizeof(tcp), "--listen=%s", f->tcp_url);
    char *args[] = {ipc, tcp, tokens_flag, "--stub-replicas=us-east,eu-west", NULL};
    evrepl_client_opts ready = {.url = f->tcp_url, .timeout_ms = 500};
    start_server(f, args, &ready); // Health needs no token

    // The CLI: no token, a wrong one, a known one on its methods and on another method.
    char *describe[] = {"--server", f->tcp_url, "describe", NULL};
    assert_int_equal(run_cli(f, describe, out, err), 3);
    assert_non_null(strstr(err, "UNAUTHENTICATED"));
    char wrong[160];
    snprintf(wrong, sizeof(wrong), "%sx", t1);
    char *describe_wrong[] = {"--server", f->tcp_url, "--token", wrong, "describe", NULL};
    assert_int_equal(run_cli(f, describe_wrong, out, err), 3);
    assert_non_null(strstr(err, "UNAUTHENTICATED"));
    assert_null(strstr(err, t1));
    char *describe_t1[] = {"--server", f->ipc_url, "--token", t1, "describe", NULL};
    assert_int_equal(run_cli(f, describe_t1, out, err), 0);
    char *verify_t1[] = {"--server", f->tcp_url, "--token", t1, "verify", NULL};
    assert_int_equal(run_cli(f, verify_t1, out, err), 3);
    assert_non_null(strstr(err, "PERMISSION_DENIED"));
    assert_non_null(strstr(err, M_VERIFY));
    assert_null(strstr(err, t1));
    // $EVREPL_TOKEN, with the token that may call everything.
    setenv("EVREPL_TOKEN", t2, 1);
    char *verify_env[] = {"--server", f->tcp_url, "verify", NULL};
    assert_int_equal(run_cli(f, verify_env, out, err), 0);
    unsetenv("EVREPL_TOKEN");
    char *health[] = {"--server", f->ipc_url, "health", NULL};
    assert_int_equal(run_cli(f, health, out, err), 0);

    // libevrepl.
    evrepl_client_opts o = {.url = f->ipc_url, .timeout_ms = 2000, .token = t1};
    evrepl_client *c = NULL;
    evrepl_status st;
    assert_int_equal(evrepl_client_create(&c, &o, &st), EVREPL_CODE_OK);
    evrepl_receipt r = {0};
    assert_int_equal(evrepl_client_propagate_event(c, VALID_ID, NULL, &r, &st), EVREPL_CODE_OK);
    evrepl_receipt_clear(&r);
    evrepl_verification v = {0};
    assert_int_equal(evrepl_client_verify_replicas(c, NULL, NULL, &v, &st),
                     EVREPL_CODE_PERMISSION_DENIED);
    evrepl_client_destroy(c);
    o.token = NULL;
    assert_int_equal(evrepl_client_create(&c, &o, &st), EVREPL_CODE_OK);
    evrepl_server_description d = {0};
    assert_int_equal(evrepl_client_describe(c, NULL, &d, &st), EVREPL_CODE_UNAUTHENTICATED);
    evrepl_client_destroy(c);

    assert_int_equal(stop_server(f, log, BIG), 0);
    assert_non_null(strstr(log, "method=/evrepl.v1.Server/Describe code=UNAUTHENTICATED"));
    assert_non_null(strstr(log, "code=PERMISSION_DENIED"));
    assert_null(strstr(log, t1));
    assert_null(strstr(log, t2));
    free(out);
    free(err);
    free(log);
}

static void
test_security_bad_tokens_file_refuses_start(void **state)
{
    fixture *f = *state;
    char *out = malloc(BIG), *err = malloc(BIG);
    char t[128], line[512], path[320], text[1024], flag[340], tcp[80];
    token_new(f, "*", t, sizeof(t), line, sizeof(line));
    snprintf(path, sizeof(path), "%s/tokens", f->dir);
    snprintf(flag, sizeof(flag), "--tokens=%s", path);
    snprintf(tcp, sizeof(tcp), "--listen=%s", f->tcp_url);
    char *argv[] = {f->bin, tcp, flag, NULL};
    // The token itself where its hash belongs (the classic mistake), an unknown method, a
    // missing file.
    for (size_t i = 0; i < 2; i++) {
        if (i == 0) {
            snprintf(text, sizeof(text), "%s *\n", t);
        } else {
            snprintf(text, sizeof(text), "# ok\nsha256:00 *\n");
        }
        write_file(path, text);
        assert_int_equal(tproc_run(f->dir, argv, 5000, out, BIG, err, BIG), 3);
        assert_true(one_line(err));
        assert_non_null(strstr(err, path));
        assert_non_null(strstr(err, i == 0 ? "line 1" : "line 2"));
        assert_null(strstr(err, t));
    }
    snprintf(text, sizeof(text), "%.71s /evrepl.v1.Nope/Nope\n", line);
    write_file(path, text);
    assert_int_equal(tproc_run(f->dir, argv, 5000, out, BIG, err, BIG), 3);
    assert_true(one_line(err));
    assert_non_null(strstr(err, "unknown method"));
    unlink(path);
    assert_int_equal(tproc_run(f->dir, argv, 5000, out, BIG, err, BIG), 3);
    assert_true(one_line(err));
    assert_non_null(strstr(err, "cannot open tokens file"));
    free(out);
    free(err);
}

static void
test_security_ipc_mode_and_uid_allow_list(void **state)
{
    fixture *f = *state;
    char *log = malloc(BIG);
    char ipc[330], tcp[80], other_uid[64], own_uid[64];
    snprintf(ipc, sizeof(ipc), "--listen=%s", f->ipc_url);
    snprintf(tcp, sizeof(tcp), "--listen=%s", f->tcp_url);
    snprintf(other_uid, sizeof(other_uid), "--ipc-allow-uid=%u", (unsigned)getuid() + 1);
    snprintf(own_uid, sizeof(own_uid), "--ipc-allow-uid=%u", (unsigned)getuid());
    evrepl_client_opts tcp_o = {.url = f->tcp_url, .timeout_ms = 2000};
    evrepl_client_opts ipc_o = {.url = f->ipc_url, .timeout_ms = 2000};
    evrepl_status st;

    // Only another uid is allowed: this process's ipc calls are refused, Health included,
    // and tcp is not affected.
    char *args[] = {ipc, tcp, "--ipc-mode=0660", other_uid, NULL};
    start_server(f, args, &tcp_o);
    struct stat sb;
    assert_int_equal(stat(f->ipc_path, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0660);
    assert_int_equal(health_with(&ipc_o, &st), EVREPL_CODE_PERMISSION_DENIED);
    char want[64];
    snprintf(want, sizeof(want), "uid %u", (unsigned)getuid());
    assert_non_null(strstr(st.message, want));
    evrepl_client *c = NULL;
    assert_int_equal(evrepl_client_create(&c, &ipc_o, &st), EVREPL_CODE_OK);
    evrepl_receipt r = {0};
    assert_int_equal(evrepl_client_propagate_event(c, VALID_ID, NULL, &r, &st),
                     EVREPL_CODE_PERMISSION_DENIED);
    evrepl_client_destroy(c);
    assert_int_equal(health_with(&tcp_o, &st), EVREPL_CODE_OK);
    assert_int_equal(stop_server(f, log, BIG), 0);

    // This uid listed (among others): served.
    char *args2[] = {ipc, tcp, other_uid, own_uid, NULL};
    start_server(f, args2, &tcp_o);
    assert_int_equal(health_with(&ipc_o, &st), EVREPL_CODE_OK);
    assert_int_equal(evrepl_client_create(&c, &ipc_o, &st), EVREPL_CODE_OK);
    assert_int_equal(evrepl_client_propagate_event(c, VALID_ID, NULL, &r, &st), EVREPL_CODE_OK);
    evrepl_receipt_clear(&r);
    evrepl_client_destroy(c);
    assert_int_equal(stat(f->ipc_path, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0600); // the default
    assert_int_equal(stop_server(f, log, BIG), 0);
    free(log);
}

// Makes the test CA and certificates with openssl (tests/integration/mkcerts.sh). False (the
// test is skipped) only outside CI when openssl is missing.
static bool
make_certs(fixture *f)
{
    char script[600];
    const char *src = getenv("EVREPL_SOURCE_DIR");
    snprintf(script, sizeof(script), "%s/tests/integration/mkcerts.sh", src != NULL ? src : ".");
    if (system("command -v openssl >/dev/null 2>&1") != 0) {
        assert_false(evri_test_in_ci()); // tools/deps installs openssl
        return false;
    }
    char *argv[] = {"/bin/sh", script, f->dir, NULL};
    char out[1024], err[4096];
    int rc = tproc_run(f->dir, argv, 60000, out, sizeof(out), err, sizeof(err));
    if (rc != 0) {
        print_message("mkcerts.sh failed (%d): %s\n", rc, err);
    }
    assert_int_equal(rc, 0);
    return true;
}

static void
tls_paths(const fixture *f, const char *name, char *cert, char *key, size_t size)
{
    snprintf(cert, size, "%s/%s.crt", f->dir, name);
    snprintf(key, size, "%s/%s.key", f->dir, name);
}

static void
test_security_mutual_tls(void **state)
{
    fixture *f = *state;
    if (!make_certs(f)) {
        skip();
    }
    char *out = malloc(BIG), *err = malloc(BIG), *log = malloc(BIG);
    char s_cert[320], s_key[320], c_cert[320], c_key[320], r_cert[320], r_key[320];
    char ca[320], other_ca[320];
    tls_paths(f, "server", s_cert, s_key, sizeof(s_cert));
    tls_paths(f, "client", c_cert, c_key, sizeof(c_cert));
    tls_paths(f, "rogue", r_cert, r_key, sizeof(r_cert));
    snprintf(ca, sizeof(ca), "%s/ca.crt", f->dir);
    snprintf(other_ca, sizeof(other_ca), "%s/other-ca.crt", f->dir);
    int port = tproc_free_port();
    char url[80], listen[100], f_cert[340], f_key[340], f_ca[340];
    snprintf(url, sizeof(url), "tls+tcp://127.0.0.1:%d", port);
    snprintf(listen, sizeof(listen), "--listen=%s", url);
    snprintf(f_cert, sizeof(f_cert), "--tls-cert=%s", s_cert);
    snprintf(f_key, sizeof(f_key), "--tls-key=%s", s_key);
    snprintf(f_ca, sizeof(f_ca), "--tls-ca=%s", ca);

    // A tls+tcp:// listener without the client CA is refused at start.
    char *no_ca[] = {f->bin, listen, f_cert, f_key, NULL};
    assert_int_equal(tproc_run(f->dir, no_ca, 5000, out, BIG, err, BIG), 2);
    assert_non_null(strstr(err, "--tls-ca"));

    evrepl_client_opts good = {.url = url,
                               .timeout_ms = 2000,
                               .tls_cert_file = c_cert,
                               .tls_key_file = c_key,
                               .tls_ca_file = ca};
    char *args[] = {listen, f_cert, f_key, f_ca, "--stub-replicas=us-east", NULL};
    start_server(f, args, &good);

    // A client with a certificate from the CA: libevrepl and the CLI are served.
    evrepl_client *c = NULL;
    evrepl_status st;
    assert_int_equal(evrepl_client_create(&c, &good, &st), EVREPL_CODE_OK);
    evrepl_receipt r = {0};
    assert_int_equal(evrepl_client_propagate_event(c, VALID_ID, NULL, &r, &st), EVREPL_CODE_OK);
    assert_int_equal(r.status, EVREPL_REPLICATION_STATUS_CONFIRMED);
    evrepl_receipt_clear(&r);
    evrepl_client_destroy(c);
    char *cli_good[] = {"--server", url, "--tls-cert", c_cert,   "--tls-key", c_key,
                        "--tls-ca", ca,  "--json",     "verify", NULL};
    assert_int_equal(run_cli(f, cli_good, out, err), 0);
    assert_non_null(strstr(out, "us-east"));

    // No client certificate, one from another CA, a server checked against the wrong CA or
    // the wrong name: no service, and a TLS error that says so.
    evrepl_client_opts bad[] = {
        {.url = url, .timeout_ms = 1500, .tls_ca_file = ca},
        {.url = url,
         .timeout_ms = 1500,
         .tls_cert_file = r_cert,
         .tls_key_file = r_key,
         .tls_ca_file = ca},
        {.url = url,
         .timeout_ms = 1500,
         .tls_cert_file = c_cert,
         .tls_key_file = c_key,
         .tls_ca_file = other_ca},
        {.url = url,
         .timeout_ms = 1500,
         .tls_cert_file = c_cert,
         .tls_key_file = c_key,
         .tls_ca_file = ca,
         .tls_server_name = "not-this-server.example"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        evrepl_code code = health_with(&bad[i], &st);
        print_message("bad TLS client %zu: %s: %s\n", i, evrepl_code_name(code), st.message);
        assert_int_equal(code, EVREPL_CODE_UNAVAILABLE);
        assert_non_null(strstr(st.message, "TLS"));
    }
    char *cli_nocert[] = {"--server", url, "--tls-ca", ca, "--timeout", "1500", "health", NULL};
    assert_int_equal(run_cli(f, cli_nocert, out, err), 3);
    assert_non_null(strstr(err, "TLS"));
    char *cli_rogue[] = {"--server", url, "--tls-cert", r_cert, "--tls-key", r_key,
                         "--tls-ca", ca,  "--timeout",  "1500", "health",    NULL};
    assert_int_equal(run_cli(f, cli_rogue, out, err), 3);
    // A plain tcp:// client on the TLS port gets nothing either.
    char plain[80];
    snprintf(plain, sizeof(plain), "tcp://127.0.0.1:%d", port);
    evrepl_client_opts plain_o = {.url = plain, .timeout_ms = 1000};
    assert_int_not_equal(health_with(&plain_o, &st), EVREPL_CODE_OK);

    // The server still serves good clients after all that.
    assert_int_equal(health_with(&good, &st), EVREPL_CODE_OK);
    assert_int_equal(stop_server(f, log, BIG), 0);
    free(out);
    free(err);
    free(log);
}

// True when hay (len bytes) holds needle anywhere.
static bool
holds(const char *hay, size_t len, const void *needle, size_t nlen)
{
    for (size_t i = 0; nlen > 0 && i + nlen <= len; i++) {
        if (memcmp(hay + i, needle, nlen) == 0) {
            return true;
        }
    }
    return false;
}

// Asserts that text holds none of the secrets.
typedef struct secrets {
    const char *strings[8];
    size_t n;
    uint8_t seed[32]; // the receipt key's secret half
} secrets;

static void
assert_no_secret(const secrets *s, const char *what, const char *text)
{
    size_t len = strlen(text);
    for (size_t i = 0; i < s->n; i++) {
        if (holds(text, len, s->strings[i], strlen(s->strings[i]))) {
            fail_msg("%s holds the secret '%s'", what, s->strings[i]);
        }
    }
    char hex[65], b64[64];
    sodium_bin2hex(hex, sizeof(hex), s->seed, sizeof(s->seed));
    sodium_bin2base64(b64, sizeof(b64), s->seed, sizeof(s->seed), sodium_base64_VARIANT_ORIGINAL);
    assert_false(holds(text, len, s->seed, sizeof(s->seed)));
    assert_false(holds(text, len, hex, 16)); // even a prefix of the hex
    assert_false(holds(text, len, b64, 16));
    for (char *p = hex; *p != '\0'; p++) {
        *p = (char)(*p >= 'a' ? *p - 'a' + 'A' : *p);
    }
    assert_false(holds(text, len, hex, 16));
}

static void
test_security_secrets_never_leak(void **state)
{
    fixture *f = *state;
    char *out = malloc(BIG), *err = malloc(BIG), *log = malloc(BIG);
    secrets s = {.n = 0};
    static const char password[] = "pw-S3cr3t-Do-Not-Leak-4242";
    static const char uri_password[] = "uriS3cr3tPassw0rd";

    // A receipt key and two tokens.
    char key[320], key_flag[340];
    snprintf(key, sizeof(key), "%s/receipt.key", f->dir);
    char *keygen[] = {"keygen", "--out", key, NULL};
    assert_int_equal(run_cli(f, keygen, out, err), 0);
    FILE *kf = fopen(key, "rb");
    assert_non_null(kf);
    assert_int_equal(fread(s.seed, 1, sizeof(s.seed), kf), sizeof(s.seed));
    fclose(kf);
    snprintf(key_flag, sizeof(key_flag), "--receipt-key=%s", key);
    char t1[128], l1[512], t2[128], l2[512], tokens[320], tokens_flag[340], text[1200];
    token_new(f, "*", t1, sizeof(t1), l1, sizeof(l1));
    token_new(f, M_DESCRIBE, t2, sizeof(t2), l2, sizeof(l2));
    snprintf(tokens, sizeof(tokens), "%s/tokens", f->dir);
    snprintf(text, sizeof(text), "%s\n%s\n", l1, l2);
    write_file(tokens, text);
    snprintf(tokens_flag, sizeof(tokens_flag), "--tokens=%s", tokens);
    s.strings[s.n++] = password;
    s.strings[s.n++] = uri_password;
    s.strings[s.n++] = t1;
    s.strings[s.n++] = t2;

    // --check-config with conninfos holding passwords, the key and the tokens file.
    int closed_port = tproc_free_port(); // nothing listens there
    char conf[320], conf_text[2048];
    snprintf(conf, sizeof(conf), "%s/evrepld.conf", f->dir);
    snprintf(conf_text, sizeof(conf_text),
             "backend = \"postgres\";\n"
             "primary = \"host=127.0.0.1 port=%d dbname=evrepl user=ev password=%s "
             "connect_timeout=2\";\n"
             "replica = [\"us-east=postgresql://ev:%s@127.0.0.1:%d/evrepl\"];\n"
             "receipt-key = \"%s\";\n"
             "tokens = \"%s\";\n",
             closed_port, password, uri_password, closed_port, key, tokens);
    write_file(conf, conf_text);
    char *check[] = {f->bin, "--check-config", conf, NULL};
    assert_int_equal(tproc_run(f->dir, check, 5000, out, BIG, err, BIG), 0);
    assert_non_null(strstr(out, "password="));
    assert_no_secret(&s, "--check-config stdout", out);
    assert_no_secret(&s, "--check-config stderr", err);

    // The postgres backend pointed at a closed port: a one-line start-up error, no password.
    char *pg_start[] = {f->bin, "--config", conf, "--log-level=debug", NULL};
    int rc = tproc_run(f->dir, pg_start, 20000, out, BIG, err, BIG);
    print_message("postgres at a closed port: exit %d: %s", rc, err);
    assert_int_equal(rc, 3);
    assert_true(one_line(err));
    assert_no_secret(&s, "postgres start-up error", err);
    assert_no_secret(&s, "postgres start-up stdout", out);

    // The stub with the key and the tokens, json logs at debug level; calls with and without
    // tokens through libevrepl and the CLI.
    char ipc[330], tcp[80];
    snprintf(ipc, sizeof(ipc), "--listen=%s", f->ipc_url);
    snprintf(tcp, sizeof(tcp), "--listen=%s", f->tcp_url);
    char *args[] = {ipc,
                    tcp,
                    key_flag,
                    tokens_flag,
                    "--stub-replicas=us-east",
                    "--log-level=debug",
                    "--log-format=json",
                    NULL};
    evrepl_client_opts o = {.url = f->tcp_url, .timeout_ms = 2000};
    start_server(f, args, &o);
    const char *auth[] = {NULL, t1, t2, "evrepl_not-a-known-token-but-long-enough-000"};
    for (size_t i = 0; i < sizeof(auth) / sizeof(auth[0]); i++) {
        evrepl_client_opts co = {
            .url = i % 2 ? f->ipc_url : f->tcp_url, .timeout_ms = 2000, .token = auth[i]};
        evrepl_client *c = NULL;
        evrepl_status st;
        assert_int_equal(evrepl_client_create(&c, &co, &st), EVREPL_CODE_OK);
        evrepl_receipt r = {0};
        evrepl_call_opts call = {.request_id = "leak-check"};
        evrepl_code code = evrepl_client_propagate_event(c, VALID_ID, &call, &r, &st);
        assert_int_equal(code, i == 1   ? EVREPL_CODE_OK
                               : i == 2 ? EVREPL_CODE_PERMISSION_DENIED
                                        : EVREPL_CODE_UNAUTHENTICATED);
        assert_no_secret(&s, "a status message", st.message);
        evrepl_receipt_clear(&r);
        evrepl_server_description d = {0};
        code = evrepl_client_describe(c, NULL, &d, &st);
        assert_no_secret(&s, "a status message", st.message);
        if (code == EVREPL_CODE_OK) {
            assert_int_equal(d.receipt_public_key_len, 32);
            assert_false(holds((const char *)d.receipt_public_key, 32, s.seed, 32));
            assert_no_secret(&s, "Describe's key id", d.receipt_key_id);
            for (size_t m = 0; m < d.n_methods; m++) {
                assert_no_secret(&s, "Describe's methods", d.methods[m]);
            }
            evrepl_server_description_clear(&d);
        }
        evrepl_client_destroy(c);
    }
    char *cli_tokens[] = {t1, t2, "evrepl_not-a-known-token-but-long-enough-000"};
    char *commands[] = {"describe", "propagate", "verify", "health"};
    for (size_t i = 0; i < 3; i++) {
        for (size_t k = 0; k < 4; k++) {
            char *cargs[] = {"--server", f->tcp_url,  "--token", cli_tokens[i],
                             "--json",   commands[k], VALID_ID,  NULL};
            if (k != 1) {
                cargs[6] = NULL;
            }
            rc = run_cli(f, cargs, out, err);
            assert_no_secret(&s, "CLI stdout", out);
            assert_no_secret(&s, "CLI stderr", err);
        }
    }
    assert_int_equal(stop_server(f, log, BIG), 0);
    assert_non_null(strstr(log, "UNAUTHENTICATED"));
    assert_non_null(strstr(log, "leak-check"));
    assert_no_secret(&s, "the server log", log);
    free(out);
    free(err);
    free(log);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_security_tokens_end_to_end, setup, teardown),
        cmocka_unit_test_setup_teardown(test_security_bad_tokens_file_refuses_start, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_security_ipc_mode_and_uid_allow_list, setup, teardown),
        cmocka_unit_test_setup_teardown(test_security_mutual_tls, setup, teardown),
        cmocka_unit_test_setup_teardown(test_security_secrets_never_leak, setup, teardown),
    };
    return cmocka_run_group_tests_name("security", tests, NULL, NULL);
}
