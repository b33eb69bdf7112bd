// The transport floor: a bare rep0 server with the same shape as evrepld's transport (a pool
// of contexts on aio completion callbacks), minus everything evrepl adds: no protobuf, no
// method table, no handler, no log line. Each request is answered with fixed bytes, one real
// response of the measured method captured by the bench, so both sides move the same bytes
// and the client decodes the same reply.
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nng/nng.h>
#include <nng/protocol/reqrep0/rep.h>

#include "bench.h"

typedef struct echo_ctx {
    nng_ctx ctx;
    nng_aio *aio;
    bool sending;
    const uint8_t *reply;
    size_t reply_len;
} echo_ctx;

static void
echo_cb(void *arg)
{
    echo_ctx *e = arg;
    int rv = nng_aio_result(e->aio);
    if (e->sending) {
        e->sending = false;
        if (rv != 0) {
            nng_msg_free(nng_aio_get_msg(e->aio));
        }
        if (rv == NNG_ECLOSED) {
            return;
        }
        nng_ctx_recv(e->ctx, e->aio);
        return;
    }
    if (rv != 0) {
        if (rv != NNG_ECLOSED && rv != NNG_ECANCELED) {
            nng_ctx_recv(e->ctx, e->aio);
        }
        return;
    }
    // The request's message carries the reply: rep0 keeps the routing header itself.
    nng_msg *m = nng_aio_get_msg(e->aio);
    nng_msg_clear(m);
    if (nng_msg_append(m, e->reply, e->reply_len) != 0) {
        nng_msg_free(m);
        nng_ctx_recv(e->ctx, e->aio);
        return;
    }
    e->sending = true;
    nng_aio_set_msg(e->aio, m);
    nng_ctx_send(e->ctx, e->aio);
}

static uint8_t *
echo_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        return NULL;
    }
    size_t cap = 1u << 16, n = 0;
    uint8_t *buf = malloc(cap);
    while (buf != NULL) {
        if (n == cap) {
            uint8_t *b = realloc(buf, cap * 2);
            if (b == NULL) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = b;
            cap *= 2;
        }
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (got == 0) {
            break;
        }
    }
    fclose(f);
    *len = n;
    return buf;
}

int
bench_echo_main(const char *url, const char *reply_file, unsigned n_contexts)
{
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);

    size_t reply_len = 0;
    uint8_t *reply = echo_read_file(reply_file, &reply_len);
    if (reply == NULL) {
        fprintf(stderr, "evrepl-bench echo: cannot read %s\n", reply_file);
        return 3;
    }
    nng_socket sock;
    int rv;
    echo_ctx *ctxs = calloc(n_contexts, sizeof(*ctxs));
    if (ctxs == NULL || (rv = nng_rep0_open(&sock)) != 0) {
        fprintf(stderr, "evrepl-bench echo: cannot open a rep0 socket\n");
        free(ctxs);
        free(reply);
        return 3;
    }
    if ((rv = nng_listen(sock, url, NULL, 0)) != 0) {
        fprintf(stderr, "evrepl-bench echo: cannot listen on %s: %s\n", url, nng_strerror(rv));
        nng_close(sock);
        free(ctxs);
        free(reply);
        return 3;
    }
    unsigned opened = 0;
    for (; opened < n_contexts; opened++) {
        echo_ctx *e = &ctxs[opened];
        e->reply = reply;
        e->reply_len = reply_len;
        if (nng_ctx_open(&e->ctx, sock) != 0 || nng_aio_alloc(&e->aio, echo_cb, e) != 0) {
            fprintf(stderr, "evrepl-bench echo: cannot open context %u\n", opened);
            break;
        }
    }
    for (unsigned i = 0; i < opened; i++) {
        nng_ctx_recv(ctxs[i].ctx, ctxs[i].aio);
    }
    int sig = 0;
    sigwait(&sigs, &sig);
    nng_close(sock);
    for (unsigned i = 0; i < n_contexts; i++) {
        if (ctxs[i].aio != NULL) {
            nng_aio_stop(ctxs[i].aio);
            nng_aio_free(ctxs[i].aio);
        }
    }
    free(ctxs);
    free(reply);
    return 0;
}
