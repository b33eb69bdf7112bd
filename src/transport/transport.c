#include "transport/transport.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <nng/nng.h>
#include <nng/protocol/reqrep0/rep.h>
#include <nng/protocol/reqrep0/req.h>
#include <nng/supplemental/tls/tls.h>
#include <nng/transport/ipc/ipc.h>

#include "common/clock.h"
#include "domain/status.h"
#include "domain/strv.h"
#include "nngx/nngx.h"

typedef enum slot_state {
    SLOT_RECV,
    SLOT_SEND,
} slot_state;

// One receiving context: its aio, the message in hand and the call slot.
typedef struct slot {
    evri_transport *t;
    nng_ctx ctx;
    nng_aio *aio;
    nng_msg *msg;
    evri_call *call;
    slot_state state;
    bool admitted; // counted in t->active until its reply is sent
} slot;

typedef struct worker {
    evri_transport *t;
    pthread_t thread;
    bool started;
    evrepl_replicator backend;
    pthread_cond_t cv; // CLOCK_MONOTONIC; signalled when a call is queued for it, or on close
    bool idle;         // on t->idle, waiting for a call (under t->mu)
    bool coming;       // counted in t->coming (under t->mu)
} worker;

struct evri_transport {
    evri_transport_config cfg;
    nng_socket sock;
    bool sock_open;
    nng_listener *listeners;
    size_t n_listeners;
    nng_tls_config *tls;
    slot *slots;
    unsigned n_slots;
    worker *workers;
    unsigned n_workers;

    // The worker queue: a ring of slots waiting for a worker, and the idle workers, the one
    // that went idle last on top. A call wakes that one: its thread, its database sessions
    // and their server processes are the likeliest to be in cache (handing calls round the
    // workers in turn made a VerifyReplicas at one caller 1.7x slower than always using one).
    // A worker that is replying, or was just woken, looks at the queue before it sleeps
    // again: those are counted in `coming`, and a call wakes an idle worker only when more
    // calls wait than workers are coming (at one caller, the next call often arrives before
    // the worker that answered the last one is back on the stack).
    pthread_mutex_t mu;
    worker **idle;
    unsigned n_idle;
    unsigned coming;
    slot **queue;
    unsigned q_head;
    unsigned q_len;
    bool q_closed;

    // Calls taken (not turned away by draining) whose reply is not yet handed to NNG.
    atomic_uint active;
    atomic_bool closing;

    // The ipc listener watchdog (transport.h, ipc_probe_ms). The listeners' URLs are copied
    // because the watchdog re-creates listeners long after create returned.
    char **urls;
    size_t n_urls;
    pthread_t wd_thread;
    bool wd_started;
    pthread_mutex_t wd_mu;
    pthread_cond_t wd_cv; // CLOCK_MONOTONIC
    bool wd_stop;
    int wd_seen; // id of the listener that last took one of this process's own ipc pipes
};

// How long a worker waits for a call before it lets its backend instance do its idle chores
// (evrepl_replicator_ops.idle), and how often it does them while idle.
#define TRANSPORT_IDLE_MS 1000u

static void slot_cb(void *arg);

// A condition variable whose timed waits take CLOCK_MONOTONIC times (mono_after).
static void
cond_init_mono(pthread_cond_t *cv)
{
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(cv, &attr);
    pthread_condattr_destroy(&attr);
}

// The absolute CLOCK_MONOTONIC time ms from now, for pthread_cond_timedwait.
static struct timespec
mono_after(uint32_t ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    uint64_t ns = (uint64_t)ts.tv_nsec + (uint64_t)(ms % 1000u) * EVRI_NS_PER_MS;
    ts.tv_sec += (time_t)(ms / 1000u) + (time_t)(ns / 1000000000u);
    ts.tv_nsec = (long)(ns % 1000000000u);
    return ts;
}

static void
slot_recv(slot *s)
{
    s->state = SLOT_RECV;
    s->msg = NULL;
    nng_ctx_recv(s->ctx, s->aio);
}

// Builds the reply message. Its own function so that the one known NNG 1.5.2 leak can be
// named exactly (tests/lsan.supp): rep0 closes a pipe's send aio before unlinking the pipe,
// so a reply handed to nng_ctx_send() in that instant is never freed by NNG. It needs a peer
// that disconnects while its reply is being sent, and costs one reply's bytes.
static nng_msg *
transport_reply_msg_alloc(const uint8_t *data, size_t len)
{
    nng_msg *m = NULL;
    if (nng_msg_alloc(&m, len) != 0) {
        return NULL;
    }
    if (len > 0) {
        memcpy(nng_msg_body(m), data, len);
    }
    return m;
}

static void
slot_unadmit(slot *s)
{
    if (s->admitted) {
        s->admitted = false;
        atomic_fetch_sub(&s->t->active, 1);
    }
}

// Encodes the call's outcome and sends it in place of the request in hand.
static void
slot_reply(slot *s)
{
    const uint8_t *data;
    size_t len;
    nng_msg *reply = NULL;
    if (evri_call_encode(s->call, &data, &len)) {
        reply = transport_reply_msg_alloc(data, len);
    }
    evri_call_end(s->call);
    nng_msg_free(s->msg);
    s->msg = NULL;
    if (reply == NULL) {
        // Out of memory: no reply can be built; the caller's deadline covers it.
        slot_unadmit(s);
        slot_recv(s);
        return;
    }
    nng_aio_set_msg(s->aio, reply);
    s->state = SLOT_SEND;
    nng_ctx_send(s->ctx, s->aio);
}

static bool
queue_push(evri_transport *t, slot *s)
{
    bool ok = false;
    worker *w = NULL;
    pthread_mutex_lock(&t->mu);
    if (!t->q_closed && t->q_len < t->cfg.max_queue) {
        t->queue[(t->q_head + t->q_len) % t->cfg.max_queue] = s;
        t->q_len++;
        ok = true;
        if (t->q_len > t->coming && t->n_idle > 0) {
            w = t->idle[--t->n_idle];
            w->idle = false;
            w->coming = true;
            t->coming++;
        }
    }
    pthread_mutex_unlock(&t->mu);
    // After unlocking, so that the worker does not wake only to wait for the lock. A signal
    // that comes late finds w waiting again, or not waiting: queue_pop re-checks w->idle.
    if (w != NULL) {
        pthread_cond_signal(&w->cv);
    }
    return ok;
}

// The next queued call for worker w, or NULL once the queue is closed. A worker that finds
// nothing waits on the idle stack until queue_push picks it; another worker may take that
// call first, and then it goes back on the stack.
static slot *
queue_pop(worker *w)
{
    evri_transport *t = w->t;
    slot *s = NULL;
    pthread_mutex_lock(&t->mu);
    for (;;) {
        if (w->coming) {
            w->coming = false;
            t->coming--;
        }
        if (t->q_len > 0 || t->q_closed) {
            break;
        }
        w->idle = true;
        t->idle[t->n_idle++] = w;
        struct timespec until = mono_after(TRANSPORT_IDLE_MS);
        while (w->idle && !t->q_closed) {
            if (pthread_cond_timedwait(&w->cv, &t->mu, &until) != ETIMEDOUT) {
                continue;
            }
            if (w->backend.ops->idle != NULL) {
                // Still on the stack: a call queued meanwhile finds this worker and waits
                // for the (short) chore rather than the worker losing its place.
                pthread_mutex_unlock(&t->mu);
                w->backend.ops->idle(w->backend.self);
                pthread_mutex_lock(&t->mu);
            }
            until = mono_after(TRANSPORT_IDLE_MS);
        }
    }
    if (t->q_len > 0) {
        s = t->queue[t->q_head];
        t->q_head = (t->q_head + 1) % t->cfg.max_queue;
        t->q_len--;
    }
    pthread_mutex_unlock(&t->mu);
    return s;
}

static void *
worker_main(void *arg)
{
    worker *w = arg;
    slot *s;
    while ((s = queue_pop(w)) != NULL) {
        evri_call_set_backend(s->call, w->backend);
        evri_call_run(s->call);
        pthread_mutex_lock(&w->t->mu);
        w->coming = true; // back in queue_pop in a moment
        w->t->coming++;
        pthread_mutex_unlock(&w->t->mu);
        slot_reply(s);
    }
    return NULL;
}

static void
slot_peer(const slot *s, evri_peer *peer)
{
    uint64_t uid;
    *peer = (evri_peer){0};
    // NNG asks the kernel (getsockopt SO_PEERCRED, after a pipe lookup under a global lock) on
    // every message: only when the policy checks uids.
    if (!evri_rpc_needs_peer_uid(s->t->cfg.rpc)) {
        return;
    }
    nng_pipe p = nng_msg_get_pipe(s->msg);
    // Only ipc:// pipes report a peer uid; for the others this fails and has_uid stays false.
    if (nng_pipe_id(p) > 0 && nng_pipe_get_uint64(p, NNG_OPT_IPC_PEER_UID, &uid) == 0) {
        peer->has_uid = true;
        peer->uid = uid;
    }
}

static void
slot_received(slot *s)
{
    evri_transport *t = s->t;
    evri_peer peer;
    s->msg = nng_aio_get_msg(s->aio);
    slot_peer(s, &peer);
    // Count the call before looking at the drain flag: evri_transport_drain() sets the flag
    // before it reads the count, so either it waits for this call or the call sees the flag
    // (and the rpc answers it UNAVAILABLE).
    atomic_fetch_add(&t->active, 1);
    s->admitted = true;
    if (evri_rpc_draining(t->cfg.rpc)) {
        s->admitted = false;
        atomic_fetch_sub(&t->active, 1);
    }
    evri_call_next next =
        evri_call_begin(s->call, nng_msg_body(s->msg), nng_msg_len(s->msg), evri_now_ns(), &peer);
    switch (next) {
    case EVRI_CALL_REPLY:
        break;
    case EVRI_CALL_RUN_INLINE:
        evri_call_set_backend(s->call, t->cfg.shared);
        evri_call_run(s->call);
        break;
    case EVRI_CALL_RUN_WORKER:
        if (queue_push(t, s)) {
            return; // a worker replies
        }
        evri_call_fail(s->call, EVREPL_CODE_RESOURCE_EXHAUSTED,
                       "the server is busy: all %u workers are working and %u calls wait; "
                       "retry later",
                       t->n_workers, t->cfg.max_queue);
        break;
    }
    slot_reply(s);
}

static void
slot_cb(void *arg)
{
    slot *s = arg;
    evri_transport *t = s->t;
    int rv = nng_aio_result(s->aio);
    switch (s->state) {
    case SLOT_RECV:
        if (rv == NNG_ECLOSED || rv == NNG_ECANCELED || atomic_load(&t->closing)) {
            return; // the socket is closing: this context stops
        }
        if (rv != 0) {
            evri_logf(t->cfg.log, EVRI_LOG_WARN, "receive failed: %s", nng_strerror(rv));
            slot_recv(s);
            return;
        }
        slot_received(s);
        return;
    case SLOT_SEND:
        if (rv != 0) {
            // NNG keeps a message it could not send; the peer is gone.
            nng_msg_free(nng_aio_get_msg(s->aio));
        }
        slot_unadmit(s);
        if (rv == NNG_ECLOSED || atomic_load(&t->closing)) {
            return;
        }
        slot_recv(s);
        return;
    }
}

static evrepl_code
listen_one(evri_transport *t, const char *url, nng_listener *l, evrepl_status *st)
{
    int rv = nng_listener_create(l, t->sock, url);
    if (rv != 0) {
        return evri_status_set(st, EVREPL_CODE_INVALID_ARGUMENT,
                               "cannot listen on %s: %s (want ipc://PATH, tcp://HOST:PORT, "
                               "tls+tcp://HOST:PORT or inproc://NAME)",
                               url, nng_strerror(rv));
    }
    if (strncmp(url, "ipc://", 6) == 0 &&
        (rv = nng_listener_set_int(*l, NNG_OPT_IPC_PERMISSIONS, (int)t->cfg.ipc_mode)) != 0) {
        return evri_status_set(st, EVREPL_CODE_INVALID_ARGUMENT, "cannot set the mode of %s: %s",
                               url, nng_strerror(rv));
    }
    if (evri_url_is_tls(url)) {
        if (t->tls == NULL) {
            evrepl_code code =
                evri_tls_config_create(&t->tls, NNG_TLS_MODE_SERVER, t->cfg.tls_cert_file,
                                       t->cfg.tls_key_file, t->cfg.tls_ca_file, NULL, st);
            if (code != EVREPL_CODE_OK) {
                return code;
            }
        }
        if ((rv = nng_listener_set_ptr(*l, NNG_OPT_TLS_CONFIG, t->tls)) != 0) {
            return evri_status_set(st, EVREPL_CODE_INTERNAL, "cannot use TLS on %s: %s", url,
                                   nng_strerror(rv));
        }
    }
    if ((rv = nng_listener_start(*l, 0)) != 0) {
        if (rv == NNG_EADDRINUSE) {
            return evri_status_set(st, EVREPL_CODE_UNAVAILABLE,
                                   "cannot listen on %s: the address is already in use", url);
        }
        return evri_status_set(st, evri_code_from_nng(rv), "cannot listen on %s: %s", url,
                               nng_strerror(rv));
    }
    return EVREPL_CODE_OK;
}

static bool
url_is_ipc(const char *url)
{
    return strncmp(url, "ipc://", 6) == 0;
}

// NNG_PIPE_EV_ADD_POST: a pipe joined the socket. When this process dialed it (a probe: its
// ipc peer pid is ours), note which listener took it.
static void
wd_pipe_added(nng_pipe p, nng_pipe_ev ev, void *arg)
{
    evri_transport *t = arg;
    uint64_t pid;
    (void)ev;
    if (nng_pipe_get_uint64(p, NNG_OPT_IPC_PEER_PID, &pid) != 0 || pid != (uint64_t)getpid()) {
        return;
    }
    pthread_mutex_lock(&t->wd_mu);
    t->wd_seen = nng_listener_id(nng_pipe_listener(p));
    pthread_cond_broadcast(&t->wd_cv);
    pthread_mutex_unlock(&t->wd_mu);
}

// Dials listener i from a throwaway req0 socket and waits up to timeout_ms for the rep socket
// to take the pipe. False when it did not: the listener accepts at the transport level (the
// SP headers are exchanged) but no longer hands pipes to the socket, issue 1518's symptom; or
// its socket file is gone.
static bool
wd_probe(evri_transport *t, size_t i, uint32_t timeout_ms)
{
    nng_socket ps;
    nng_dialer d;
    bool taken = false;
    int id = nng_listener_id(t->listeners[i]);
    if (nng_req0_open(&ps) != 0) {
        return true; // no probe possible now (out of memory): try again next round
    }
    pthread_mutex_lock(&t->wd_mu);
    t->wd_seen = -1;
    pthread_mutex_unlock(&t->wd_mu);
    if (nng_dialer_create(&d, ps, t->urls[i]) == 0 && nng_dialer_start(d, 0) == 0) {
        struct timespec deadline = mono_after(timeout_ms);
        pthread_mutex_lock(&t->wd_mu);
        while (t->wd_seen != id && !t->wd_stop &&
               pthread_cond_timedwait(&t->wd_cv, &t->wd_mu, &deadline) == 0) {
        }
        taken = t->wd_seen == id || t->wd_stop;
        pthread_mutex_unlock(&t->wd_mu);
    }
    nng_close(ps);
    return taken;
}

static evrepl_code listen_one(evri_transport *t, const char *url, nng_listener *l,
                              evrepl_status *st);

// Replaces listener i by a new one on the same URL. Closing the old listener closes the
// connections it had accepted; their clients reconnect.
static void
wd_recreate(evri_transport *t, size_t i)
{
    evrepl_status st;
    evri_log_fields(t->cfg.log, EVRI_LOG_WARN,
                    "ipc listener stopped taking connections (NNG 1.5.2 issue 1518); "
                    "re-creating it",
                    (evri_log_field[]){evri_lf_str("url", t->urls[i])}, 1);
    nng_listener_close(t->listeners[i]);
    if (listen_one(t, t->urls[i], &t->listeners[i], &st) != EVREPL_CODE_OK) {
        // The next round probes (and so retries) again.
        evri_log_fields(
            t->cfg.log, EVRI_LOG_ERROR, "cannot re-create the ipc listener",
            (evri_log_field[]){evri_lf_str("url", t->urls[i]), evri_lf_str("error", st.message)},
            2);
    }
}

static void *
wd_main(void *arg)
{
    evri_transport *t = arg;
    uint32_t interval = t->cfg.ipc_probe_ms;
    pthread_mutex_lock(&t->wd_mu);
    while (!t->wd_stop) {
        struct timespec next = mono_after(interval);
        while (!t->wd_stop && pthread_cond_timedwait(&t->wd_cv, &t->wd_mu, &next) == 0) {
        }
        if (t->wd_stop) {
            break;
        }
        pthread_mutex_unlock(&t->wd_mu);
        for (size_t i = 0; i < t->n_listeners; i++) {
            if (url_is_ipc(t->urls[i]) && !wd_probe(t, i, 2 * interval)) {
                wd_recreate(t, i);
            }
        }
        pthread_mutex_lock(&t->wd_mu);
    }
    pthread_mutex_unlock(&t->wd_mu);
    return NULL;
}

// Starts the watchdog when some listener is ipc:// and it is not turned off.
static evrepl_code
wd_start(evri_transport *t, evrepl_status *st)
{
    bool ipc = false;
    for (size_t i = 0; i < t->n_urls; i++) {
        ipc = ipc || url_is_ipc(t->urls[i]);
    }
    if (!ipc || t->cfg.ipc_probe_ms == EVRI_IPC_PROBE_OFF) {
        return EVREPL_CODE_OK;
    }
    if (t->cfg.ipc_probe_ms == 0) {
        t->cfg.ipc_probe_ms = EVRI_IPC_PROBE_MS_DEFAULT;
    }
    int rv = nng_pipe_notify(t->sock, NNG_PIPE_EV_ADD_POST, wd_pipe_added, t);
    if (rv != 0 || pthread_create(&t->wd_thread, NULL, wd_main, t) != 0) {
        return evri_status_set(st, EVREPL_CODE_INTERNAL, "cannot start the ipc watchdog");
    }
    t->wd_started = true;
    return EVREPL_CODE_OK;
}

static void
wd_shutdown(evri_transport *t)
{
    if (!t->wd_started) {
        return;
    }
    pthread_mutex_lock(&t->wd_mu);
    t->wd_stop = true;
    pthread_cond_broadcast(&t->wd_cv);
    pthread_mutex_unlock(&t->wd_mu);
    pthread_join(t->wd_thread, NULL);
    t->wd_started = false;
}

evrepl_code
evri_transport_create(evri_transport **out, const evri_transport_config *cfg, evrepl_status *st)
{
    evrepl_code code = EVREPL_CODE_OK;
    int rv;
    evri_transport *t = calloc(1, sizeof(*t));
    if (t == NULL) {
        return evri_status_set(st, EVREPL_CODE_INTERNAL, "out of memory starting the server");
    }
    t->cfg = *cfg;
    if (t->cfg.max_queue == 0) {
        t->cfg.max_queue = 1;
    }
    if (t->cfg.n_contexts == 0) {
        t->cfg.n_contexts = cfg->n_workers + t->cfg.max_queue + 32;
    }
    atomic_init(&t->active, 0);
    atomic_init(&t->closing, false);
    pthread_mutex_init(&t->mu, NULL);
    pthread_mutex_init(&t->wd_mu, NULL);
    cond_init_mono(&t->wd_cv);

    if ((rv = nng_rep0_open(&t->sock)) != 0) {
        code = evri_status_set(st, EVREPL_CODE_INTERNAL, "cannot open a rep0 socket: %s",
                               nng_strerror(rv));
        goto fail;
    }
    t->sock_open = true;
    // NNG 1.5 accepts messages of any declared size by default; this bound applies to every
    // pipe before NNG allocates the message.
    if ((rv = nng_socket_set_size(t->sock, NNG_OPT_RECVMAXSZ, cfg->max_message_bytes)) != 0) {
        code = evri_status_set(st, EVREPL_CODE_INTERNAL, "cannot limit message size: %s",
                               nng_strerror(rv));
        goto fail;
    }

    t->queue = calloc(t->cfg.max_queue, sizeof(*t->queue));
    t->slots = calloc(t->cfg.n_contexts, sizeof(*t->slots));
    t->listeners = calloc(cfg->n_urls > 0 ? cfg->n_urls : 1, sizeof(*t->listeners));
    t->workers = calloc(cfg->n_workers > 0 ? cfg->n_workers : 1, sizeof(*t->workers));
    t->idle = calloc(cfg->n_workers > 0 ? cfg->n_workers : 1, sizeof(*t->idle));
    if (t->queue == NULL || t->slots == NULL || t->listeners == NULL || t->workers == NULL ||
        t->idle == NULL) {
        code = evri_status_set(st, EVREPL_CODE_INTERNAL, "out of memory starting the server");
        goto fail;
    }
    for (unsigned i = 0; i < t->cfg.n_contexts; i++) {
        slot *s = &t->slots[i];
        s->t = t;
        if ((s->call = evri_call_create(cfg->rpc)) == NULL ||
            (rv = nng_aio_alloc(&s->aio, slot_cb, s)) != 0 ||
            (rv = nng_ctx_open(&s->ctx, t->sock)) != 0) {
            code = evri_status_set(st, EVREPL_CODE_INTERNAL, "cannot create context %u", i);
            goto fail;
        }
        t->n_slots++;
    }
    for (unsigned i = 0; i < cfg->n_workers; i++) {
        worker *w = &t->workers[i];
        w->t = t;
        w->backend = cfg->instances[i];
        cond_init_mono(&w->cv);
        if (pthread_create(&w->thread, NULL, worker_main, w) != 0) {
            pthread_cond_destroy(&w->cv);
            code = evri_status_set(st, EVREPL_CODE_INTERNAL, "cannot start worker %u", i);
            goto fail;
        }
        w->started = true;
        t->n_workers++;
    }
    for (size_t i = 0; i < cfg->n_urls; i++) {
        if (!evri_strv_push(&t->urls, &t->n_urls, cfg->urls[i])) {
            code = evri_status_set(st, EVREPL_CODE_INTERNAL, "out of memory starting the server");
            goto fail;
        }
        if ((code = listen_one(t, cfg->urls[i], &t->listeners[i], st)) != EVREPL_CODE_OK) {
            goto fail;
        }
        t->n_listeners++;
    }
    if ((code = wd_start(t, st)) != EVREPL_CODE_OK) {
        goto fail;
    }
    for (unsigned i = 0; i < t->n_slots; i++) {
        slot_recv(&t->slots[i]);
    }
    *out = t;
    return evri_status_ok(st);
fail:
    evri_transport_destroy(t);
    return code;
}

unsigned
evri_transport_drain(evri_transport *t, uint32_t timeout_ms)
{
    uint64_t deadline = evri_now_ns() + (uint64_t)timeout_ms * EVRI_NS_PER_MS;
    evri_rpc_drain(t->cfg.rpc);
    // Calls already taken run to their answers; new ones are answered UNAVAILABLE meanwhile.
    while (atomic_load(&t->active) > 0 && evri_now_ns() < deadline) {
        struct timespec ts = {0, 5 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    unsigned left = atomic_load(&t->active);
    // A reply handed to NNG is queued on its pipe; give the pipes a moment to write it out
    // before the socket closes and drops what is still queued.
    struct timespec grace = {0, 100 * 1000 * 1000};
    nanosleep(&grace, NULL);
    return left;
}

unsigned
evri_transport_queue_depth(evri_transport *t)
{
    pthread_mutex_lock(&t->mu);
    unsigned n = t->q_len;
    pthread_mutex_unlock(&t->mu);
    return n;
}

void
evri_transport_destroy(evri_transport *t)
{
    if (t == NULL) {
        return;
    }
    atomic_store(&t->closing, true);
    wd_shutdown(t); // first: it re-creates listeners
    pthread_mutex_lock(&t->mu);
    t->q_closed = true;
    for (unsigned i = 0; i < t->n_workers; i++) {
        pthread_cond_signal(&t->workers[i].cv);
    }
    pthread_mutex_unlock(&t->mu);
    for (unsigned i = 0; i < t->n_workers; i++) {
        if (t->workers[i].started) {
            pthread_join(t->workers[i].thread, NULL);
        }
    }
    // Calls still queued when the workers stopped get no reply; free their messages.
    while (t->q_len > 0) {
        slot *s = t->queue[t->q_head];
        t->q_head = (t->q_head + 1) % t->cfg.max_queue;
        t->q_len--;
        evri_call_end(s->call);
        nng_msg_free(s->msg);
        s->msg = NULL;
    }
    if (t->sock_open) {
        nng_close(t->sock); // aborts every pending aio with NNG_ECLOSED
    }
    for (unsigned i = 0; i < t->n_slots; i++) {
        slot *s = &t->slots[i];
        if (s->aio != NULL) {
            nng_aio_stop(s->aio);
        }
    }
    for (unsigned i = 0; t->slots != NULL && i < t->cfg.n_contexts; i++) {
        slot *s = &t->slots[i];
        if (s->aio != NULL) {
            nng_aio_free(s->aio);
        }
        evri_call_destroy(s->call);
    }
    if (t->tls != NULL) {
        nng_tls_config_free(t->tls);
    }
    free(t->slots);
    free(t->queue);
    free(t->listeners);
    for (unsigned i = 0; i < t->n_workers; i++) {
        pthread_cond_destroy(&t->workers[i].cv);
    }
    free(t->workers);
    free(t->idle);
    pthread_mutex_destroy(&t->mu);
    pthread_mutex_destroy(&t->wd_mu);
    pthread_cond_destroy(&t->wd_cv);
    evri_strv_free(&t->urls, &t->n_urls);
    free(t);
}
