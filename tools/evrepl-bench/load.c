// The closed-loop driver: one req0 socket, `concurrency` contexts, each driven by its aio's
// completion callback (send -> receive -> record -> send again), as NNG's own throughput tools
// do. Each context records into its own result, so the hot path takes no lock.
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>

#include "bench.h"
#include "common/clock.h"
#include "domain/status.h"
#include "evrepl/rpc/v1/envelope.pb-c.h"
#include "nngx/nngx.h"

#define LOAD_CONNECT_WAIT_MS 10000
#define LOAD_MAX_REPLY_BYTES (64u << 20)

typedef struct load_ctx {
    bench_load *l;
    nng_ctx ctx;
    nng_aio *aio;
    bool sending;
    uint64_t t0;
    bench_result res;
} load_ctx;

struct bench_load {
    nng_socket sock;
    bool open;
    nng_dialer dialer;
    load_ctx *ctxs;
    unsigned n_ctxs;
    uint32_t timeout_ms;

    // The phase in progress.
    const uint8_t *body;
    size_t len;
    bench_inspect_fn inspect;
    uint64_t end_ns;
    uint64_t max_calls;
    atomic_uint_fast64_t started;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    unsigned active; // contexts still looping (under mu)
};

static void
load_finished(bench_load *l)
{
    pthread_mutex_lock(&l->mu);
    if (--l->active == 0) {
        pthread_cond_signal(&l->cv);
    }
    pthread_mutex_unlock(&l->mu);
}

// Starts the context's next call, or ends its loop when the bounds say so.
static void
load_next(load_ctx *c)
{
    bench_load *l = c->l;
    nng_msg *m = NULL;
    uint64_t now = evri_now_ns();
    if (now >= l->end_ns ||
        (l->max_calls > 0 && atomic_fetch_add(&l->started, 1) >= l->max_calls)) {
        load_finished(l);
        return;
    }
    if (nng_msg_alloc(&m, l->len) != 0) {
        c->res.calls++;
        c->res.out[BENCH_OUT_TRANSPORT]++;
        load_finished(l);
        return;
    }
    memcpy(nng_msg_body(m), l->body, l->len);
    c->sending = true;
    c->t0 = evri_now_ns();
    nng_aio_set_msg(c->aio, m);
    nng_aio_set_timeout(c->aio, (nng_duration)l->timeout_ms);
    nng_ctx_send(c->ctx, c->aio);
}

static void
load_record(load_ctx *c, unsigned outcome)
{
    c->res.calls++;
    c->res.out[outcome]++;
    bench_hist_add(&c->res.hist, evri_now_ns() - c->t0);
}

static unsigned
load_outcome_of(bench_load *l, load_ctx *c, nng_msg *reply)
{
    Evrepl__Rpc__V1__Response *resp =
        evrepl__rpc__v1__response__unpack(NULL, nng_msg_len(reply), nng_msg_body(reply));
    if (resp == NULL) {
        return BENCH_OUT_MALFORMED;
    }
    int32_t code = resp->status != NULL ? resp->status->code : 0;
    unsigned outcome = code >= 0 && code < BENCH_OUT_CODES ? (unsigned)code : BENCH_OUT_OTHER_CODE;
    if (code == 0 && l->inspect != NULL &&
        !l->inspect(resp->payload.data, resp->payload.len, c->res.x)) {
        outcome = BENCH_OUT_NEGATIVE;
    }
    evrepl__rpc__v1__response__free_unpacked(resp, NULL);
    return outcome;
}

static void
load_cb(void *arg)
{
    load_ctx *c = arg;
    bench_load *l = c->l;
    int rv = nng_aio_result(c->aio);
    if (c->sending) {
        c->sending = false;
        if (rv != 0) {
            nng_msg_free(nng_aio_get_msg(c->aio)); // not consumed on failure
            load_record(c, rv == NNG_ETIMEDOUT ? BENCH_OUT_TIMEOUT : BENCH_OUT_TRANSPORT);
            load_next(c);
            return;
        }
        nng_aio_set_timeout(c->aio, (nng_duration)l->timeout_ms);
        nng_ctx_recv(c->ctx, c->aio);
        return;
    }
    if (rv != 0) {
        load_record(c, rv == NNG_ETIMEDOUT ? BENCH_OUT_TIMEOUT : BENCH_OUT_TRANSPORT);
        load_next(c);
        return;
    }
    nng_msg *reply = nng_aio_get_msg(c->aio);
    uint64_t t1 = evri_now_ns();
    unsigned outcome = load_outcome_of(l, c, reply);
    nng_msg_free(reply);
    c->res.calls++;
    c->res.out[outcome]++;
    bench_hist_add(&c->res.hist, t1 - c->t0);
    load_next(c);
}

static int
load_dial(nng_socket sock, const char *url, nng_dialer *d)
{
    uint64_t until = evri_now_ns() + LOAD_CONNECT_WAIT_MS * EVRI_NS_PER_MS;
    int rv;
    for (;;) {
        if ((rv = nng_dialer_create(d, sock, url)) != 0) {
            return rv;
        }
        if ((rv = nng_dialer_start(*d, 0)) == 0) {
            return 0;
        }
        nng_dialer_close(*d);
        if ((rv != NNG_ECONNREFUSED && rv != NNG_ENOENT) || evri_now_ns() >= until) {
            return rv;
        }
        struct timespec ts = {0, 20 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
}

static int
load_socket(nng_socket *sock, const char *url, nng_dialer *d)
{
    int rv;
    if ((rv = nng_req0_open(sock)) != 0) {
        return rv;
    }
    // REQ resends an unanswered request after 60 s by default: it would run a call twice.
    if ((rv = nng_socket_set_ms(*sock, NNG_OPT_REQ_RESENDTIME, NNG_DURATION_INFINITE)) != 0 ||
        (rv = nng_socket_set_size(*sock, NNG_OPT_RECVMAXSZ, LOAD_MAX_REPLY_BYTES)) != 0 ||
        (rv = load_dial(*sock, url, d)) != 0) {
        nng_close(*sock);
        return rv;
    }
    return 0;
}

evrepl_code
bench_load_open(bench_load **out, const char *url, unsigned concurrency, uint32_t timeout_ms,
                evrepl_status *st)
{
    int rv;
    bench_load *l = calloc(1, sizeof(*l));
    if (l == NULL || concurrency == 0 ||
        (l->ctxs = calloc(concurrency, sizeof(*l->ctxs))) == NULL) {
        free(l);
        return evri_status_set(st, EVREPL_CODE_INTERNAL, "out of memory");
    }
    pthread_mutex_init(&l->mu, NULL);
    pthread_cond_init(&l->cv, NULL);
    l->timeout_ms = timeout_ms;
    atomic_init(&l->started, 0);
    if ((rv = load_socket(&l->sock, url, &l->dialer)) != 0) {
        bench_load_close(l);
        return evri_status_set(st, evri_code_from_nng(rv), "cannot connect to %s: %s", url,
                               nng_strerror(rv));
    }
    l->open = true;
    for (unsigned i = 0; i < concurrency; i++) {
        load_ctx *c = &l->ctxs[i];
        c->l = l;
        if ((rv = nng_ctx_open(&c->ctx, l->sock)) != 0 ||
            (rv = nng_aio_alloc(&c->aio, load_cb, c)) != 0) {
            bench_load_close(l);
            return evri_status_set(st, EVREPL_CODE_INTERNAL, "cannot open context %u: %s", i,
                                   nng_strerror(rv));
        }
        l->n_ctxs++;
    }
    *out = l;
    return evri_status_ok(st);
}

void
bench_load_close(bench_load *l)
{
    if (l == NULL) {
        return;
    }
    if (l->open) {
        nng_close(l->sock);
    }
    for (unsigned i = 0; i < l->n_ctxs; i++) {
        if (l->ctxs[i].aio != NULL) {
            nng_aio_stop(l->ctxs[i].aio);
            nng_aio_free(l->ctxs[i].aio);
        }
    }
    pthread_mutex_destroy(&l->mu);
    pthread_cond_destroy(&l->cv);
    free(l->ctxs);
    free(l);
}

void
bench_load_run(bench_load *l, const uint8_t *body, size_t len, const bench_bounds *b,
               bench_inspect_fn inspect, bench_result *out)
{
    uint64_t t0 = evri_now_ns();
    l->body = body;
    l->len = len;
    l->inspect = inspect;
    l->max_calls = b->max_calls;
    l->end_ns = t0 + b->duration_ns;
    atomic_store(&l->started, 0);
    for (unsigned i = 0; i < l->n_ctxs; i++) {
        memset(&l->ctxs[i].res, 0, sizeof(l->ctxs[i].res));
    }
    l->active = l->n_ctxs;
    for (unsigned i = 0; i < l->n_ctxs; i++) {
        load_next(&l->ctxs[i]);
    }
    // Every call has a timeout, so every context ends by end_ns + timeout.
    pthread_mutex_lock(&l->mu);
    while (l->active > 0) {
        pthread_cond_wait(&l->cv, &l->mu);
    }
    pthread_mutex_unlock(&l->mu);
    uint64_t t1 = evri_now_ns();
    memset(out, 0, sizeof(*out));
    for (unsigned i = 0; i < l->n_ctxs; i++) {
        bench_result_merge(out, &l->ctxs[i].res);
    }
    out->elapsed_ns = t1 - t0;
}

evrepl_code
bench_call_once(const char *url, const uint8_t *body, size_t len, uint32_t timeout_ms,
                uint8_t **reply, size_t *reply_len, evrepl_status *st)
{
    nng_socket sock;
    nng_dialer d;
    nng_msg *m = NULL;
    int rv = load_socket(&sock, url, &d);
    if (rv != 0) {
        return evri_status_set(st, evri_code_from_nng(rv), "cannot connect to %s: %s", url,
                               nng_strerror(rv));
    }
    evrepl_code code = EVREPL_CODE_OK;
    if ((rv = nng_socket_set_ms(sock, NNG_OPT_SENDTIMEO, (nng_duration)timeout_ms)) != 0 ||
        (rv = nng_socket_set_ms(sock, NNG_OPT_RECVTIMEO, (nng_duration)timeout_ms)) != 0 ||
        (rv = nng_msg_alloc(&m, len)) != 0) {
        code =
            evri_status_set(st, EVREPL_CODE_INTERNAL, "cannot call %s: %s", url, nng_strerror(rv));
        goto out;
    }
    memcpy(nng_msg_body(m), body, len);
    if ((rv = nng_sendmsg(sock, m, 0)) != 0) {
        nng_msg_free(m);
        code = evri_status_set(st, evri_code_from_nng(rv), "cannot send to %s: %s", url,
                               nng_strerror(rv));
        goto out;
    }
    if ((rv = nng_recvmsg(sock, &m, 0)) != 0) {
        code = evri_status_set(st, evri_code_from_nng(rv), "no answer from %s: %s", url,
                               nng_strerror(rv));
        goto out;
    }
    *reply = malloc(nng_msg_len(m) > 0 ? nng_msg_len(m) : 1);
    if (*reply == NULL) {
        nng_msg_free(m);
        code = evri_status_set(st, EVREPL_CODE_INTERNAL, "out of memory");
        goto out;
    }
    memcpy(*reply, nng_msg_body(m), nng_msg_len(m));
    *reply_len = nng_msg_len(m);
    nng_msg_free(m);
out:
    nng_close(sock);
    return code;
}
