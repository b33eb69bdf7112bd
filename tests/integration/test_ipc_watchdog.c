// NNG 1.5.2's ipc listener hazard (nanomsg/nng#1518, fixed in 1.6.0) and the transport's
// watchdog against it.
//
// The mechanism, in NNG 1.5.2's source: ipc_pipe_neg_cb() (src/sp/transport/ipc/ipc.c) fails
// the listener's pending accept with the negotiation's error; for an ipc peer that closes
// during the SP header exchange that error is NNG_ECLOSED (posix_ipcconn.c maps a 0-byte read,
// and posix_debug.c EPIPE, to it), and listener_accept_cb() (src/core/listener.c) takes
// NNG_ECLOSED to mean "the listener was closed" and never asks for another pipe. The kernel
// still accepts and NNG still exchanges SP headers, so clients connect, send, and wait forever.
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
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <nng/nng.h>

#include "common/log.h"
#include "evrepl/client.h"
#include "handlers/handlers.h"
#include "support/fake_replicator.h"
#include "support/proc.h"
#include "support/support.h"
#include "transport/transport.h"

typedef struct server {
    fake_replicator fake;
    evri_app app;
    evri_rpc *rpc;
    evri_transport *t;
    char dir[256];
    char path[300];
    char url[310];
    char tcp_url[64];
    FILE *log_file;
    evri_log *log;
} server;

static void
server_start(server *s, uint32_t probe_ms, const char *tcp_url)
{
    evrepl_status st;
    memset(s, 0, sizeof(*s));
    fake_script script = {.health = EVREPL_SERVING_STATUS_SERVING};
    evrepl_replicator r = fake_replicator_init(&s->fake, &script);
    s->app = (evri_app){.version = "t", .schema_version = "0002", .shared = r};
    s->log_file = tmpfile();
    s->log = evri_log_create(s->log_file, EVRI_LOG_TEXT, EVRI_LOG_INFO);
    size_t n;
    const evri_service_binding *b = evri_handler_bindings(&n);
    evri_rpc_config rc = {.bindings = b,
                          .n_bindings = n,
                          .backend_name = "fake",
                          .default_timeout_ms = 5000,
                          .max_timeout_ms = 60000,
                          .max_metadata_bytes = 8192,
                          .app = &s->app};
    assert_int_equal(evri_rpc_create(&s->rpc, &rc, &st), EVREPL_CODE_OK);
    assert_true(evri_test_tmpdir(s->dir));
    snprintf(s->path, sizeof(s->path), "%s/s.sock", s->dir);
    snprintf(s->url, sizeof(s->url), "ipc://%s", s->path);
    const char *urls[] = {s->url, tcp_url};
    evri_transport_config tc = {.urls = urls,
                                .n_urls = tcp_url != NULL ? 2 : 1,
                                .max_message_bytes = 65536,
                                .max_queue = 4,
                                .rpc = s->rpc,
                                .shared = r,
                                .ipc_mode = 0640,
                                .ipc_probe_ms = probe_ms,
                                .log = s->log};
    assert_int_equal(evri_transport_create(&s->t, &tc, &st), EVREPL_CODE_OK);
}

static void
server_stop(server *s)
{
    evri_transport_destroy(s->t);
    evri_rpc_destroy(s->rpc);
    evri_log_destroy(s->log);
    fclose(s->log_file);
    evri_test_rmdir(s->dir);
}

// One Health call on a fresh connection; its code.
static evrepl_code
health(const char *url, uint32_t timeout_ms)
{
    evrepl_client_opts o = {.url = url, .timeout_ms = timeout_ms};
    evrepl_client *c = NULL;
    evrepl_status st;
    evrepl_code code = evrepl_client_create(&c, &o, &st);
    if (code == EVREPL_CODE_OK) {
        evrepl_serving_status h;
        code = evrepl_client_health_check(c, "", NULL, &h, &st);
    }
    evrepl_client_destroy(c);
    return code;
}

// The hostile peer: a raw AF_UNIX connection that sends a REQ SP header and closes at once.
static void
hit_and_run(const char *path, bool send_header)
{
    static const uint8_t req_hdr[] = {0x00, 'S', 'P', 0x00, 0x00, 0x30, 0x00, 0x00};
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    if (send_header) {
        assert_int_equal(send(fd, req_hdr, sizeof(req_hdr), MSG_NOSIGNAL),
                         (ssize_t)sizeof(req_hdr));
    }
    close(fd);
    struct timespec ts = {0, 50 * 1000 * 1000}; // let NNG see the close
    nanosleep(&ts, NULL);
}

static bool
log_has(server *s, const char *needle)
{
    char buf[8192];
    fflush(s->log_file);
    rewind(s->log_file);
    size_t n = fread(buf, 1, sizeof(buf) - 1, s->log_file);
    buf[n] = '\0';
    return strstr(buf, needle) != NULL;
}

static bool
nng_has_1518(void)
{
    return NNG_MAJOR_VERSION == 1 && NNG_MINOR_VERSION < 6;
}

// Reproduction: with the watchdog off, one peer that connects and closes at once leaves the
// ipc listener dead (a peer that sends its SP header first races NNG's own header write, so
// it kills the listener only most of the time), while tcp:// on the same socket keeps
// serving: NNG's tcp connection maps end-of-file to NNG_ECONNSHUT, which the listener retries.
static void
test_ipc_1518_reproduces_without_the_watchdog(void **state)
{
    (void)state;
    for (int variant = 0; variant < 2; variant++) {
        server s;
        char tcp_url[64];
        int port = tproc_free_port();
        assert_true(port > 0);
        snprintf(tcp_url, sizeof(tcp_url), "tcp://127.0.0.1:%d", port);
        server_start(&s, EVRI_IPC_PROBE_OFF, tcp_url);
        assert_int_equal(health(s.url, 2000), EVREPL_CODE_OK);
        bool with_header = variant == 1;
        evrepl_code after = EVREPL_CODE_OK;
        for (int i = 0; i < 20 && after == EVREPL_CODE_OK; i++) {
            hit_and_run(s.path, with_header);
            after = health(s.url, 300);
        }
        print_message("NNG %s: ipc Health after hit-and-run peers (%s header): %s\n", nng_version(),
                      with_header ? "with" : "without", evrepl_code_name(after));
        if (nng_has_1518()) {
            assert_int_equal(after, EVREPL_CODE_DEADLINE_EXCEEDED);
            // It stays dead: new connections are accepted but never served.
            assert_int_equal(health(s.url, 1000), EVREPL_CODE_DEADLINE_EXCEEDED);
        } else {
            assert_int_equal(after, EVREPL_CODE_OK);
        }
        assert_int_equal(health(tcp_url, 2000), EVREPL_CODE_OK);
        server_stop(&s);
    }
}

// The fix: the watchdog notices the dead listener and re-creates it, with its file mode.
static void
test_ipc_watchdog_recreates_a_dead_listener(void **state)
{
    (void)state;
    server s;
    server_start(&s, 100, NULL);
    assert_int_equal(health(s.url, 2000), EVREPL_CODE_OK);
    for (int round = 0; round < 3; round++) {
        // Hit until the listener is seen dead: a hit-and-run races NNG's own header write.
        bool dead = false;
        for (int i = 0; i < 20 && !dead; i++) {
            hit_and_run(s.path, round != 1); // with and without the header
            dead = health(s.url, 100) != EVREPL_CODE_OK;
        }
        assert_true(dead || !nng_has_1518());
        bool back = false;
        for (int i = 0; i < 50 && !back; i++) { // 5 s; the watchdog needs about 0.3 s
            back = health(s.url, 100) == EVREPL_CODE_OK;
        }
        assert_true(back);
    }
    struct stat sb;
    assert_int_equal(stat(s.path, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0640);
    if (nng_has_1518()) {
        assert_true(log_has(&s, "re-creating it url=ipc://"));
    }
    server_stop(&s);
}

// A healthy listener is left alone: probes are taken, nothing is re-created, and a client's
// connection survives many probe rounds.
static void
test_ipc_watchdog_leaves_a_healthy_listener_alone(void **state)
{
    (void)state;
    server s;
    server_start(&s, 50, NULL);
    evrepl_client_opts o = {.url = s.url, .timeout_ms = 2000};
    evrepl_client *c = NULL;
    evrepl_status st;
    assert_int_equal(evrepl_client_create(&c, &o, &st), EVREPL_CODE_OK);
    for (int i = 0; i < 20; i++) {
        evrepl_serving_status h;
        assert_int_equal(evrepl_client_health_check(c, "", NULL, &h, &st), EVREPL_CODE_OK);
        struct timespec ts = {0, 50 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    evrepl_client_destroy(c);
    assert_false(log_has(&s, "re-creating"));
    // The probes never reached the rpc layer: the fake saw no call, and nothing was logged as
    // a call but the client's twenty Health checks.
    assert_int_equal(atomic_load(&s.fake.calls), 0);
    server_stop(&s);
}

// evrepld itself, end to end: a hit-and-run peer on its ipc socket, and the socket serves
// again within about three seconds (probes every second, two seconds for each), with the
// watchdog's warning in the log.
static void
test_ipc_watchdog_in_evrepld(void **state)
{
    (void)state;
    char dir[256], path[300], url[310], listen[330], bin[512];
    assert_true(evri_test_tmpdir(dir));
    snprintf(path, sizeof(path), "%s/evrepld.sock", dir);
    snprintf(url, sizeof(url), "ipc://%s", path);
    snprintf(listen, sizeof(listen), "--listen=%s", url);
    snprintf(bin, sizeof(bin), "%s/evrepld", tproc_bin_dir());
    char *argv[] = {bin, listen, NULL};
    tproc srv;
    assert_true(tproc_start(&srv, dir, argv));
    bool up = false;
    for (int i = 0; i < 200 && !up; i++) { // 10 s and more: no socket file fails at once
        up = health(url, 200) == EVREPL_CODE_OK;
        struct timespec ts = {0, 50 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    assert_true(up);
    for (int round = 0; round < 2; round++) {
        bool dead = false;
        for (int i = 0; i < 20 && !dead; i++) {
            hit_and_run(path, false);
            dead = health(url, 300) != EVREPL_CODE_OK;
        }
        assert_true(dead || !nng_has_1518());
        bool back = false;
        for (int i = 0; i < 40 && !back; i++) { // 14 s at most
            back = health(url, 300) == EVREPL_CODE_OK;
            struct timespec ts = {0, 50 * 1000 * 1000};
            nanosleep(&ts, NULL);
        }
        assert_true(back);
    }
    kill(srv.pid, SIGTERM);
    int rc = tproc_wait(&srv, 10000);
    char log[16384];
    tproc_slurp(srv.err_path, log, sizeof(log));
    if (rc != 0) {
        print_message("evrepld exit %d:\n%s\n", rc, log);
    }
    assert_int_equal(rc, 0);
    assert_true(!nng_has_1518() || strstr(log, "re-creating it url=ipc://") != NULL);
    evri_test_rmdir(dir);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ipc_1518_reproduces_without_the_watchdog),
        cmocka_unit_test(test_ipc_watchdog_recreates_a_dead_listener),
        cmocka_unit_test(test_ipc_watchdog_leaves_a_healthy_listener_alone),
        cmocka_unit_test(test_ipc_watchdog_in_evrepld),
    };
    return cmocka_run_group_tests_name("ipc_watchdog", tests, NULL, NULL);
}
