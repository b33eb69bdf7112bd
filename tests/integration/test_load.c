// evrepld under load, from outside: SIGTERM while 32 clients call (no torn or wrong replies,
// exit 0), and a million calls with the server's memory flat.
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "common/clock.h"
#include "evrepl/client.h"
#include "support/proc.h"
#include "support/support.h"

#define VALID_ID "0b3c2d1e-aaaa-4bbb-8ccc-0123456789ab"

#ifdef __SANITIZE_ADDRESS__
#define MILLION 100000 // ASan is ~10x slower; its leak check covers what RSS cannot see
#else
#define MILLION 1000000
#endif

typedef struct server {
    char dir[256];
    char url[64];
    tproc proc;
} server;

static void
server_start(server *s)
{
    char bin[512], listen[80];
    assert_true(evri_test_tmpdir(s->dir));
    snprintf(s->url, sizeof(s->url), "tcp://127.0.0.1:%d", tproc_free_port());
    snprintf(bin, sizeof(bin), "%s/evrepld", tproc_bin_dir());
    snprintf(listen, sizeof(listen), "--listen=%s", s->url);
    char *argv[] = {bin, listen, "--stub-replicas=us-east,eu-west,ap-south", "--log-level=warn",
                    NULL};
    assert_true(tproc_start(&s->proc, s->dir, argv));
    if (tproc_await_serving(s->url, 10000)) {
        return;
    }
    fail_msg("evrepld did not start");
}

typedef struct caller {
    const server *s;
    const atomic_bool *stop;
    uint64_t calls; // 0: until stop or failure
    uint64_t ok;
    uint64_t wrong;       // an OK reply that is not the answer to this call
    uint64_t unavailable; // draining, or the connection closed
    uint64_t other;       // anything else: a failure of the test
    evrepl_code other_code;
    char other_msg[EVREPL_STATUS_MESSAGE_MAX];
    bool stop_on_error;
} caller;

static void *
caller_main(void *arg)
{
    caller *k = arg;
    evrepl_client_opts o = {.url = k->s->url, .timeout_ms = 3000};
    evrepl_client *c = NULL;
    evrepl_status st;
    if (evrepl_client_create(&c, &o, &st) != EVREPL_CODE_OK) {
        k->other++;
        return NULL;
    }
    char id[EVREPL_UUID_STR_LEN + 1];
    for (uint64_t i = 0; k->calls == 0 || i < k->calls; i++) {
        if (k->stop != NULL && atomic_load(k->stop)) {
            break;
        }
        // Every call asks for a different event, so a reply to another call shows.
        snprintf(id, sizeof(id), "0b3c2d1e-aaaa-4bbb-8ccc-%012llx", (unsigned long long)i);
        evrepl_receipt r = {0};
        evrepl_code code = evrepl_client_propagate_event(c, id, NULL, &r, &st);
        if (code == EVREPL_CODE_OK) {
            if (strcmp(r.event_id, id) != 0 || r.n_acks != 3 ||
                r.status != EVREPL_REPLICATION_STATUS_CONFIRMED) {
                k->wrong++;
            } else {
                k->ok++;
            }
        } else if (code == EVREPL_CODE_UNAVAILABLE) {
            k->unavailable++;
        } else {
            k->other++;
            k->other_code = code;
            snprintf(k->other_msg, sizeof(k->other_msg), "%s", st.message);
        }
        evrepl_receipt_clear(&r);
        if (code != EVREPL_CODE_OK && k->stop_on_error) {
            break;
        }
    }
    evrepl_client_destroy(c);
    return NULL;
}

static void
test_load_sigterm_while_32_clients_call(void **state)
{
    (void)state;
    server s;
    server_start(&s);
    caller k[32];
    pthread_t th[32];
    for (int i = 0; i < 32; i++) {
        k[i] = (caller){.s = &s, .stop_on_error = true};
        pthread_create(&th[i], NULL, caller_main, &k[i]);
    }
    struct timespec ts = {1, 0};
    nanosleep(&ts, NULL);
    kill(s.proc.pid, SIGTERM);
    int rc = tproc_wait(&s.proc, 15000);
    uint64_t ok = 0, wrong = 0, unavailable = 0, other = 0;
    for (int i = 0; i < 32; i++) {
        pthread_join(th[i], NULL);
        ok += k[i].ok;
        wrong += k[i].wrong;
        unavailable += k[i].unavailable;
        other += k[i].other;
        if (k[i].other > 0) {
            print_message("caller %d: %s: %s\n", i, evrepl_code_name(k[i].other_code),
                          k[i].other_msg);
        }
    }
    print_message("%llu answered, %llu turned away (UNAVAILABLE), exit %d\n",
                  (unsigned long long)ok, (unsigned long long)unavailable, rc);
    assert_int_equal(rc, 0);
    assert_int_equal(wrong, 0);
    assert_int_equal(other, 0);
    assert_true(ok > 32);
    assert_int_equal(unavailable, 32); // every caller ended on a clean refusal
    evri_test_rmdir(s.dir);
}

static void
test_load_million_calls_memory_flat(void **state)
{
    (void)state;
    server s;
    server_start(&s);
    enum { N = 8 };
    caller k[N];
    pthread_t th[N];
    // Warm up: connections, contexts and allocator caches reach their working size.
    for (int i = 0; i < N; i++) {
        k[i] = (caller){.s = &s, .calls = MILLION / 10 / N};
        pthread_create(&th[i], NULL, caller_main, &k[i]);
    }
    for (int i = 0; i < N; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(k[i].ok, MILLION / 10 / N);
    }
    long before = tproc_rss_kb(s.proc.pid);
    uint64_t t0 = evri_now_ns();
    for (int i = 0; i < N; i++) {
        k[i] = (caller){.s = &s, .calls = MILLION / N};
        pthread_create(&th[i], NULL, caller_main, &k[i]);
    }
    uint64_t ok = 0;
    for (int i = 0; i < N; i++) {
        pthread_join(th[i], NULL);
        ok += k[i].ok;
        assert_int_equal(k[i].wrong + k[i].other + k[i].unavailable, 0);
    }
    long after = tproc_rss_kb(s.proc.pid);
    double secs = (double)(evri_now_ns() - t0) / 1e9;
    print_message("%llu calls in %.1f s; evrepld RSS %ld kB -> %ld kB\n", (unsigned long long)ok,
                  secs, before, after);
    assert_int_equal(ok, (MILLION / N) * N);
#ifndef __SANITIZE_ADDRESS__
    // malloc arenas wander by a few MB; a leak of 6 bytes per call would show.
    assert_true(after - before < 6 * 1024);
#endif
    kill(s.proc.pid, SIGTERM);
    assert_int_equal(tproc_wait(&s.proc, 10000), 0); // also: no leak at exit under LSan
    evri_test_rmdir(s.dir);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_load_sigterm_while_32_clients_call),
        cmocka_unit_test(test_load_million_calls_memory_flat),
    };
    return cmocka_run_group_tests_name("load", tests, NULL, NULL);
}
