// Server and client in one process over inproc:// (nng's MARRY style): the transport's
// worker pool, queue limits, deadlines, draining and concurrency, with a scripted backend.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>
#include <pthread.h>
#include <sys/resource.h>

#include "common/clock.h"
#include "evrepl/client.h"
#include "evrepl/rpc/v1/envelope.pb-c.h"
#include "handlers/handlers.h"
#include "support/envelope.h"
#include "support/fake_replicator.h"
#include "transport/transport.h"

#define VALID_ID "0b3c2d1e-aaaa-4bbb-8ccc-0123456789ab"

typedef struct server {
    fake_replicator fake;
    fake_replicator own[8]; // server_start_with(..., own = true): one fake per worker
    evrepl_replicator inst[8];
    evri_app app;
    evri_rpc *rpc;
    evri_transport *t;
    char url[64];
} server;

static unsigned url_seq;

static void
server_start_with(server *s, const fake_script *script, unsigned workers, unsigned max_queue,
                  bool own)
{
    evrepl_status st;
    memset(s, 0, sizeof(*s));
    evrepl_replicator r = fake_replicator_init(&s->fake, script);
    for (unsigned i = 0; i < workers; i++) {
        // The fake is thread-safe, so workers may share it; with `own`, each worker's calls
        // are counted apart.
        s->inst[i] = own ? fake_replicator_init(&s->own[i], script) : r;
    }
    s->app = (evri_app){.version = "t", .schema_version = "0002", .shared = r};
    size_t n;
    const evri_service_binding *b = evri_handler_bindings(&n);
    evri_rpc_config rc = {.bindings = b,
                          .n_bindings = n,
                          .backend_name = "fake",
                          .backend_blocking = script->blocking,
                          .default_timeout_ms = 5000,
                          .max_timeout_ms = 60000,
                          .max_metadata_bytes = 8192,
                          .app = &s->app};
    assert_int_equal(evri_rpc_create(&s->rpc, &rc, &st), EVREPL_CODE_OK);
    snprintf(s->url, sizeof(s->url), "inproc://transport-%u", ++url_seq);
    const char *urls[] = {s->url};
    evri_transport_config tc = {.urls = urls,
                                .n_urls = 1,
                                .max_message_bytes = 65536,
                                .max_queue = max_queue,
                                .rpc = s->rpc,
                                .shared = r,
                                .instances = script->blocking ? s->inst : NULL,
                                .n_workers = script->blocking ? workers : 0,
                                .ipc_mode = 0600};
    assert_int_equal(evri_transport_create(&s->t, &tc, &st), EVREPL_CODE_OK);
}

static void
server_start(server *s, const fake_script *script, unsigned workers, unsigned max_queue)
{
    server_start_with(s, script, workers, max_queue, false);
}

static void
server_stop(server *s)
{
    evri_transport_destroy(s->t);
    evri_rpc_destroy(s->rpc);
}

static evrepl_client *
client_open(const server *s, uint32_t timeout_ms)
{
    evrepl_client_opts o = {.url = s->url, .timeout_ms = timeout_ms};
    evrepl_client *c = NULL;
    evrepl_status st;
    assert_int_equal(evrepl_client_create(&c, &o, &st), EVREPL_CODE_OK);
    return c;
}

static void
test_transport_worker_path_answers(void **state)
{
    (void)state;
    server s;
    fake_script script = {.blocking = true, .replica_ids = {"a", "b"}, .n_replicas = 2};
    server_start(&s, &script, 2, 4);
    evrepl_client *c = client_open(&s, 2000);
    evrepl_receipt r = {0};
    evrepl_status st;
    evrepl_call_opts co = {.request_id = "req-1"};
    assert_int_equal(evrepl_client_propagate_event(c, VALID_ID, &co, &r, &st), EVREPL_CODE_OK);
    assert_int_equal(r.status, EVREPL_REPLICATION_STATUS_PENDING);
    assert_int_equal(r.n_acks, 2);
    assert_string_equal(evrepl_client_response_metadata(c, "x-request-id"), "req-1");
    assert_string_equal(evrepl_client_response_metadata(c, "x-evrepl-backend"), "fake");
    assert_null(evrepl_client_response_metadata(c, "x-evrepl-dev-mode"));
    evrepl_receipt_clear(&r);
    evrepl_client_destroy(c);
    server_stop(&s);
}

// Waits (10 s at most) until each of the first `workers` own fakes has run its idle op at least
// `times` times.
static void
await_idle_calls(const server *s, unsigned workers, uint64_t times)
{
    uint64_t until = evri_now_ns() + 10000 * EVRI_NS_PER_MS;
    for (unsigned i = 0; i < workers; i++) {
        while (atomic_load(&s->own[i].idle_calls) < times && evri_now_ns() < until) {
            struct timespec ts = {0, 20 * 1000 * 1000};
            nanosleep(&ts, NULL);
        }
        assert_true(atomic_load(&s->own[i].idle_calls) >= times);
    }
}

static void
test_transport_calls_one_at_a_time_stay_on_one_worker(void **state)
{
    (void)state;
    server s;
    fake_script script = {.blocking = true, .replica_ids = {"a"}, .n_replicas = 1};
    server_start_with(&s, &script, 4, 8, true);
    // Every worker thread waiting first (each has done its first idle chore): one that starts
    // late would land on top of the idle stack and take the next call.
    await_idle_calls(&s, 4, 1);
    evrepl_client *c = client_open(&s, 2000);
    enum { CALLS = 24 };
    for (unsigned i = 0; i < CALLS; i++) {
        evrepl_receipt r = {0};
        evrepl_status st;
        assert_int_equal(evrepl_client_propagate_event(c, VALID_ID, NULL, &r, &st), EVREPL_CODE_OK);
        evrepl_receipt_clear(&r);
    }
    // The worker that went idle last takes the next call: its caches are the warm ones. With
    // the workers taking turns, each would have run about a quarter of them.
    uint64_t most = 0, total = 0;
    for (unsigned i = 0; i < 4; i++) {
        uint64_t n = atomic_load(&s.own[i].calls);
        most = n > most ? n : most;
        total += n;
    }
    assert_int_equal(total, CALLS);
    assert_int_equal(most, CALLS);
    evrepl_client_destroy(c);
    server_stop(&s);
}

static void
test_transport_idle_workers_do_their_chores(void **state)
{
    (void)state;
    server s;
    fake_script script = {.blocking = true, .replica_ids = {"a"}, .n_replicas = 1};
    server_start_with(&s, &script, 2, 4, true);
    // Every worker, busy once or never, calls its instance's idle op about once a second.
    evrepl_client *c = client_open(&s, 2000);
    evrepl_receipt r = {0};
    evrepl_status st;
    assert_int_equal(evrepl_client_propagate_event(c, VALID_ID, NULL, &r, &st), EVREPL_CODE_OK);
    evrepl_receipt_clear(&r);
    await_idle_calls(&s, 2, 2);
    evrepl_client_destroy(c);
    server_stop(&s);
    // Not on start: the first chore comes after a second without calls.
    server_start_with(&s, &script, 1, 4, true);
    assert_int_equal(atomic_load(&s.own[0].idle_calls), 0);
    server_stop(&s);
}

static double
cpu_seconds(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
           (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

static void
test_transport_idle_workers_without_chores_sleep(void **state)
{
    (void)state;
    server s;
    fake_script script = {
        .blocking = true, .replica_ids = {"a"}, .n_replicas = 1, .no_idle_op = true};
    server_start_with(&s, &script, 2, 4, true);
    // Past the first idle second: the workers wait again instead of spinning on a timeout
    // that has passed.
    double before = cpu_seconds();
    struct timespec ts = {2, 500 * 1000 * 1000};
    nanosleep(&ts, NULL);
    double used = cpu_seconds() - before;
    assert_true(used < 0.5);
    assert_int_equal(atomic_load(&s.own[0].idle_calls), 0);
    server_stop(&s);
}

typedef struct caller {
    const server *s;
    uint32_t timeout_ms;
    const char *method; // "propagate" or "health"
    unsigned calls;     // 0: run until *stop
    const atomic_bool *stop;
    unsigned ok;
    unsigned errors[17];
    unsigned other;
    uint64_t max_ns;
} caller;

static void *
caller_main(void *arg)
{
    caller *k = arg;
    evrepl_client *c = client_open(k->s, k->timeout_ms);
    for (unsigned i = 0; k->calls == 0 || i < k->calls; i++) {
        if (k->stop != NULL && atomic_load(k->stop)) {
            break;
        }
        evrepl_status st;
        evrepl_code code;
        uint64_t t0 = evri_now_ns();
        if (strcmp(k->method, "propagate") == 0) {
            evrepl_receipt r = {0};
            code = evrepl_client_propagate_event(c, VALID_ID, NULL, &r, &st);
            if (code == EVREPL_CODE_OK && strcmp(r.event_id, VALID_ID) != 0) {
                k->other++; // a wrong or torn reply
            }
            evrepl_receipt_clear(&r);
        } else {
            evrepl_serving_status h;
            code = evrepl_client_health_check(c, "", NULL, &h, &st);
            if (code == EVREPL_CODE_OK && h != EVREPL_SERVING_STATUS_SERVING) {
                k->other++;
            }
        }
        uint64_t dt = evri_now_ns() - t0;
        k->max_ns = dt > k->max_ns ? dt : k->max_ns;
        if (code == EVREPL_CODE_OK) {
            k->ok++;
        } else if ((unsigned)code < 17) {
            k->errors[code]++;
        } else {
            k->other++;
        }
    }
    evrepl_client_destroy(c);
    return NULL;
}

static void
test_transport_full_queue_is_prompt_resource_exhausted(void **state)
{
    (void)state;
    server s;
    fake_script script = {.blocking = true, .sleep_ms = 400};
    server_start(&s, &script, 1, 1);
    // One call runs, one waits; the others must be turned away at once.
    caller k[6];
    pthread_t th[6];
    for (int i = 0; i < 6; i++) {
        k[i] = (caller){.s = &s, .timeout_ms = 3000, .method = "propagate", .calls = 1};
        pthread_create(&th[i], NULL, caller_main, &k[i]);
    }
    unsigned ok = 0, busy = 0;
    uint64_t fastest_busy = UINT64_MAX;
    for (int i = 0; i < 6; i++) {
        pthread_join(th[i], NULL);
        ok += k[i].ok;
        busy += k[i].errors[EVREPL_CODE_RESOURCE_EXHAUSTED];
        if (k[i].errors[EVREPL_CODE_RESOURCE_EXHAUSTED] > 0 && k[i].max_ns < fastest_busy) {
            fastest_busy = k[i].max_ns;
        }
        assert_int_equal(k[i].other, 0);
    }
    assert_int_equal(ok + busy, 6);
    assert_true(ok >= 2);
    assert_true(busy >= 1);
    assert_true(fastest_busy < 200 * EVRI_NS_PER_MS); // prompt, not after the 400 ms work
    // Health is answered inline even while every worker is busy.
    server_stop(&s);
}

static void
test_transport_health_inline_while_workers_busy(void **state)
{
    (void)state;
    server s;
    fake_script script = {.blocking = true, .sleep_ms = 600};
    server_start(&s, &script, 1, 8);
    caller slow = {.s = &s, .timeout_ms = 3000, .method = "propagate", .calls = 1};
    pthread_t th;
    pthread_create(&th, NULL, caller_main, &slow);
    struct timespec ts = {0, 100 * 1000 * 1000};
    nanosleep(&ts, NULL);
    caller h = {.s = &s, .timeout_ms = 3000, .method = "health", .calls = 20};
    caller_main(&h);
    assert_int_equal(h.ok, 20);
    assert_true(h.max_ns < 200 * EVRI_NS_PER_MS);
    pthread_join(th, NULL);
    assert_int_equal(slow.ok, 1);
    server_stop(&s);
}

// Sends one raw request with its own timeout_ms and waits wait_ms for the answer.
static Evrepl__Rpc__V1__Response *
raw_call(const char *url, const char *method, const uint8_t *payload, size_t pl,
         uint32_t timeout_ms, uint32_t wait_ms)
{
    nng_socket sock;
    assert_int_equal(nng_req0_open(&sock), 0);
    assert_int_equal(nng_socket_set_ms(sock, NNG_OPT_REQ_RESENDTIME, NNG_DURATION_INFINITE), 0);
    assert_int_equal(nng_socket_set_ms(sock, NNG_OPT_RECVTIMEO, (nng_duration)wait_ms), 0);
    assert_int_equal(nng_dial(sock, url, NULL, 0), 0);
    size_t len;
    uint8_t *req = tenv_request(method, payload, pl, timeout_ms, NULL, 0, &len);
    assert_int_equal(nng_send(sock, req, len, 0), 0);
    free(req);
    char *buf = NULL;
    size_t sz = 0;
    Evrepl__Rpc__V1__Response *r = NULL;
    if (nng_recv(sock, &buf, &sz, NNG_FLAG_ALLOC) == 0) {
        r = evrepl__rpc__v1__response__unpack(NULL, sz, (uint8_t *)buf);
        nng_free(buf, sz);
    }
    nng_close(sock);
    return r;
}

static void
test_transport_deadline_passed_in_queue(void **state)
{
    (void)state;
    server s;
    fake_script script = {.blocking = true, .sleep_ms = 400};
    server_start(&s, &script, 1, 4);
    caller slow = {.s = &s, .timeout_ms = 3000, .method = "propagate", .calls = 1};
    pthread_t th;
    pthread_create(&th, NULL, caller_main, &slow);
    struct timespec ts = {0, 50 * 1000 * 1000};
    nanosleep(&ts, NULL);
    size_t pl;
    uint8_t *p = tenv_propagate(VALID_ID, &pl);
    Evrepl__Rpc__V1__Response *r =
        raw_call(s.url, "/evrepl.v1.EventReplicator/PropagateEvent", p, pl, 100, 2000);
    free(p);
    assert_non_null(r);
    assert_int_equal(r->status->code, EVREPL_CODE_DEADLINE_EXCEEDED);
    assert_non_null(strstr(r->status->message, "before a worker took the request"));
    evrepl__rpc__v1__response__free_unpacked(r, NULL);
    pthread_join(th, NULL);
    assert_int_equal(slow.ok, 1);
    assert_int_equal(atomic_load(&s.fake.calls), 1); // the late call never reached the backend
    server_stop(&s);
}

static void
test_transport_client_deadline(void **state)
{
    (void)state;
    server s;
    fake_script script = {.blocking = true, .sleep_ms = 1000};
    server_start(&s, &script, 1, 4);
    evrepl_client *c = client_open(&s, 150);
    evrepl_receipt r = {0};
    evrepl_status st;
    uint64_t t0 = evri_now_ns();
    assert_int_equal(evrepl_client_propagate_event(c, VALID_ID, NULL, &r, &st),
                     EVREPL_CODE_DEADLINE_EXCEEDED);
    uint64_t dt = evri_now_ns() - t0;
    assert_true(dt >= 140 * EVRI_NS_PER_MS && dt < 600 * EVRI_NS_PER_MS);
    evrepl_client_destroy(c);
    server_stop(&s);
}

static void
test_transport_32_concurrent_callers(void **state)
{
    (void)state;
    const char *modes[] = {"inline", "workers"};
    for (int m = 0; m < 2; m++) {
        server s;
        fake_script script = {.blocking = m == 1, .replica_ids = {"a"}, .n_replicas = 1};
        server_start(&s, &script, 4, 64);
        atomic_bool stop;
        atomic_init(&stop, false);
        caller k[32];
        pthread_t th[32];
        for (int i = 0; i < 32; i++) {
            k[i] = (caller){.s = &s,
                            .timeout_ms = 5000,
                            .method = i % 4 == 0 ? "health" : "propagate",
                            .stop = &stop};
            pthread_create(&th[i], NULL, caller_main, &k[i]);
        }
        struct timespec ts = {1, 500 * 1000 * 1000};
        nanosleep(&ts, NULL);
        atomic_store(&stop, true);
        unsigned ok = 0, bad = 0;
        for (int i = 0; i < 32; i++) {
            pthread_join(th[i], NULL);
            ok += k[i].ok;
            for (int c = 0; c < 17; c++) {
                bad += k[i].errors[c];
            }
            bad += k[i].other;
        }
        print_message("%s: %u calls by 32 callers in 1.5 s, %u errors\n", modes[m], ok, bad);
        assert_int_equal(bad, 0);
        assert_true(ok > 32 * 10);
        server_stop(&s);
    }
}

static void
test_transport_drain_answers_calls_in_flight(void **state)
{
    (void)state;
    server s;
    fake_script script = {.blocking = true, .sleep_ms = 300};
    server_start(&s, &script, 2, 8);
    caller slow[2];
    pthread_t th[2];
    for (int i = 0; i < 2; i++) {
        slow[i] = (caller){.s = &s, .timeout_ms = 3000, .method = "propagate", .calls = 1};
        pthread_create(&th[i], NULL, caller_main, &slow[i]);
    }
    struct timespec ts = {0, 80 * 1000 * 1000};
    nanosleep(&ts, NULL);
    evri_rpc_drain(s.rpc);
    // New calls are turned away while the old ones finish; Health says NOT_SERVING.
    evrepl_client *c = client_open(&s, 2000);
    evrepl_receipt r = {0};
    evrepl_status st;
    assert_int_equal(evrepl_client_propagate_event(c, VALID_ID, NULL, &r, &st),
                     EVREPL_CODE_UNAVAILABLE);
    evrepl_serving_status h;
    assert_int_equal(evrepl_client_health_check(c, "", NULL, &h, &st), EVREPL_CODE_OK);
    assert_int_equal(h, EVREPL_SERVING_STATUS_NOT_SERVING);
    evrepl_client_destroy(c);
    assert_int_equal(evri_transport_drain(s.t, 3000), 0);
    for (int i = 0; i < 2; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(slow[i].ok, 1);
    }
    server_stop(&s);
}

static void
test_transport_url_errors(void **state)
{
    (void)state;
    fake_replicator fake;
    fake_script script = {0};
    evrepl_replicator r = fake_replicator_init(&fake, &script);
    evri_app app = {.version = "t", .schema_version = "0002", .shared = r};
    size_t n;
    const evri_service_binding *b = evri_handler_bindings(&n);
    evri_rpc_config rc = {.bindings = b,
                          .n_bindings = n,
                          .backend_name = "fake",
                          .default_timeout_ms = 5000,
                          .max_timeout_ms = 6000,
                          .max_metadata_bytes = 8192,
                          .app = &app};
    evri_rpc *rpc;
    evrepl_status st;
    assert_int_equal(evri_rpc_create(&rpc, &rc, &st), EVREPL_CODE_OK);
    const char *bad[] = {"http://127.0.0.1:1", "nonsense", "tcp://", "tls+tcp://127.0.0.1:1"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        const char *urls[] = {bad[i]};
        evri_transport_config tc = {.urls = urls,
                                    .n_urls = 1,
                                    .max_message_bytes = 1024,
                                    .max_queue = 1,
                                    .rpc = rpc,
                                    .shared = r,
                                    .ipc_mode = 0600};
        evri_transport *t = NULL;
        evrepl_code code = evri_transport_create(&t, &tc, &st);
        assert_int_not_equal(code, EVREPL_CODE_OK);
        assert_null(t);
        // One sentence naming the URL, or (for TLS) the missing files.
        assert_true(strstr(st.message, bad[i]) != NULL || strstr(st.message, "--tls-"));
    }
    // A taken address.
    const char *urls[] = {"inproc://taken"};
    evri_transport_config tc = {.urls = urls,
                                .n_urls = 1,
                                .max_message_bytes = 1024,
                                .max_queue = 1,
                                .rpc = rpc,
                                .shared = r,
                                .ipc_mode = 0600};
    evri_transport *t1 = NULL, *t2 = NULL;
    assert_int_equal(evri_transport_create(&t1, &tc, &st), EVREPL_CODE_OK);
    assert_int_equal(evri_transport_create(&t2, &tc, &st), EVREPL_CODE_UNAVAILABLE);
    assert_non_null(strstr(st.message, "already in use"));
    evri_transport_destroy(t1);
    evri_rpc_destroy(rpc);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_transport_worker_path_answers),
        cmocka_unit_test(test_transport_calls_one_at_a_time_stay_on_one_worker),
        cmocka_unit_test(test_transport_idle_workers_do_their_chores),
        cmocka_unit_test(test_transport_idle_workers_without_chores_sleep),
        cmocka_unit_test(test_transport_full_queue_is_prompt_resource_exhausted),
        cmocka_unit_test(test_transport_health_inline_while_workers_busy),
        cmocka_unit_test(test_transport_deadline_passed_in_queue),
        cmocka_unit_test(test_transport_client_deadline),
        cmocka_unit_test(test_transport_32_concurrent_callers),
        cmocka_unit_test(test_transport_drain_answers_calls_in_flight),
        cmocka_unit_test(test_transport_url_errors),
    };
    return cmocka_run_group_tests_name("transport", tests, NULL, NULL);
}
