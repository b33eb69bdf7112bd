// Generic call path: one unpack -> check -> handler -> pack wrapper for every method.
#include "rpc/call.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "domain/status.h"
#include "rpc/auth.h"
#include "rpc/utf8.h"

#define META_REQUEST_ID    "x-request-id"
#define META_AUTHORIZATION "authorization"
#define META_KEY_MAX       64
// Buffers that grew past this (a large verification result) are freed after the call rather
// than kept by the slot, so memory stays flat.
#define KEEP_BUF_BYTES (256u * 1024u)

evrepl_code
evri_rpc_create(evri_rpc **out, const evri_rpc_config *cfg, evrepl_status *st)
{
    evri_rpc *rpc = calloc(1, sizeof(*rpc));
    if (rpc == NULL) {
        return evri_status_set(st, EVREPL_CODE_INTERNAL, "out of memory creating the rpc");
    }
    rpc->cfg = *cfg;
    atomic_init(&rpc->draining, false);
    rpc->methods = calloc(cfg->n_bindings > 0 ? cfg->n_bindings : 1, sizeof(*rpc->methods));
    if (rpc->methods == NULL) {
        evri_rpc_destroy(rpc);
        return evri_status_set(st, EVREPL_CODE_INTERNAL, "out of memory creating the rpc");
    }
    for (size_t b = 0; b < cfg->n_bindings; b++) {
        const evri_service_binding *sb = &cfg->bindings[b];
        const ProtobufCMethodDescriptor *md =
            protobuf_c_service_descriptor_get_method_by_name(sb->service, sb->method);
        if (md == NULL) {
            evri_rpc_destroy(rpc);
            return evri_status_set(st, EVREPL_CODE_INTERNAL, "service %s has no method %s",
                                   sb->service->name, sb->method);
        }
        evri_method *em = &rpc->methods[rpc->n_methods];
        size_t len = 1 + strlen(sb->service->name) + 1 + strlen(md->name) + 1;
        em->path = malloc(len);
        if (em->path == NULL) {
            evri_rpc_destroy(rpc);
            return evri_status_set(st, EVREPL_CODE_INTERNAL, "out of memory creating the rpc");
        }
        snprintf(em->path, len, "/%s/%s", sb->service->name, md->name);
        em->desc = md;
        em->handler = sb->handler;
        em->flags = sb->flags;
        em->metric = evri_metrics_add_method(cfg->metrics, em->path);
        rpc->n_methods++;
    }
    *out = rpc;
    return evri_status_ok(st);
}

void
evri_rpc_destroy(evri_rpc *rpc)
{
    if (rpc == NULL) {
        return;
    }
    for (size_t i = 0; i < rpc->n_methods; i++) {
        free(rpc->methods[i].path);
    }
    free(rpc->methods);
    free(rpc);
}

void
evri_rpc_drain(evri_rpc *rpc)
{
    atomic_store(&rpc->draining, true);
}

bool
evri_rpc_draining(const evri_rpc *rpc)
{
    return atomic_load(&rpc->draining);
}

bool
evri_rpc_needs_peer_uid(const evri_rpc *rpc)
{
    return evri_auth_checks_uids(rpc->cfg.auth);
}

size_t
evri_rpc_method_count(const evri_rpc *rpc)
{
    return rpc->n_methods;
}

const char *
evri_rpc_method_path(const evri_rpc *rpc, size_t i)
{
    return i < rpc->n_methods ? rpc->methods[i].path : NULL;
}

static const evri_method *
rpc_lookup(const evri_rpc *rpc, const char *path)
{
    // Four methods: a linear scan beats hashing here.
    for (size_t i = 0; i < rpc->n_methods; i++) {
        if (strcmp(rpc->methods[i].path, path) == 0) {
            return &rpc->methods[i];
        }
    }
    return NULL;
}

static void *
call_arena_alloc(void *data, size_t size)
{
    evri_call *call = data;
    size_t at = (call->arena_used + 15u) & ~(size_t)15u;
    if (size <= sizeof(call->arena) && at <= sizeof(call->arena) - size) {
        call->arena_used = at + size;
        return call->arena + at;
    }
    return malloc(size);
}

static void
call_arena_free(void *data, void *p)
{
    evri_call *call = data;
    uintptr_t a = (uintptr_t)p, lo = (uintptr_t)call->arena;
    if (a >= lo && a < lo + sizeof(call->arena)) {
        return; // reclaimed all at once when the call is released
    }
    free(p);
}

evri_call *
evri_call_create(const evri_rpc *rpc)
{
    evri_call *call = calloc(1, sizeof(*call));
    if (call == NULL) {
        return NULL;
    }
    call->rpc = rpc;
    call->alloc = (ProtobufCAllocator){
        .alloc = call_arena_alloc, .free = call_arena_free, .allocator_data = call};
    evri_wbuf_init(&call->out);
    evri_wbuf_init(&call->resp);
    return call;
}

static void
call_release(evri_call *call)
{
    if (call->in != NULL) {
        protobuf_c_message_free_unpacked(call->in, &call->alloc);
        call->in = NULL;
    }
    if (call->req != NULL) {
        evrepl__rpc__v1__request__free_unpacked(call->req, &call->alloc);
        call->req = NULL;
    }
    call->arena_used = 0;
    call->method = NULL;
    call->request_id = NULL;
    call->authorization = NULL;
    call->backend = (evrepl_replicator){0};
}

void
evri_call_destroy(evri_call *call)
{
    if (call == NULL) {
        return;
    }
    call_release(call);
    evri_wbuf_free(&call->out);
    evri_wbuf_free(&call->resp);
    free(call);
}

static bool
meta_key_valid(const char *k)
{
    size_t len = strlen(k);
    if (len < 1 || len > META_KEY_MAX) {
        return false;
    }
    for (size_t i = 0; i < len; i++) {
        char c = k[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
              c == '-')) {
            return false;
        }
    }
    return true;
}

// The time a call may take on the server: the caller's timeout less a margin for the reply's
// trip back, so that an answer made "at the deadline" still reaches a caller whose clock
// started earlier (a tenth of the timeout, at least 1 ms and at most 100 ms).
static uint64_t
rpc_budget_ns(uint32_t timeout_ms)
{
    uint64_t t = (uint64_t)timeout_ms * EVRI_NS_PER_MS;
    uint64_t margin = t / 10;
    if (margin < EVRI_NS_PER_MS) {
        margin = EVRI_NS_PER_MS;
    }
    if (margin > 100 * EVRI_NS_PER_MS) {
        margin = 100 * EVRI_NS_PER_MS;
    }
    return t > margin ? t - margin : t / 2;
}

static evri_call_next call_reply(evri_call *call, evrepl_code code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static evri_call_next
call_reply(evri_call *call, evrepl_code code, const char *fmt, ...)
{
    va_list ap;
    call->status.code = code;
    va_start(ap, fmt);
    (void)vsnprintf(call->status.message, sizeof(call->status.message), fmt, ap);
    va_end(ap);
    return EVRI_CALL_REPLY;
}

// Checks the metadata and picks out the entries the server uses (the last of a repeated key
// wins, as protobuf maps do).
static evri_call_next
call_check_metadata(evri_call *call)
{
    const Evrepl__Rpc__V1__Request *req = call->req;
    size_t total = 0;
    for (size_t i = 0; i < req->n_metadata; i++) {
        const Evrepl__Rpc__V1__Request__MetadataEntry *e = req->metadata[i];
        if (strcmp(e->key, META_REQUEST_ID) == 0) {
            call->request_id = e->value;
        } else if (strcmp(e->key, META_AUTHORIZATION) == 0) {
            call->authorization = e->value;
        }
        total += strlen(e->key) + strlen(e->value);
    }
    if (total > call->rpc->cfg.max_metadata_bytes) {
        return call_reply(call, EVREPL_CODE_RESOURCE_EXHAUSTED,
                          "request metadata is %zu bytes, over the server's limit of %zu", total,
                          call->rpc->cfg.max_metadata_bytes);
    }
    for (size_t i = 0; i < req->n_metadata; i++) {
        const char *k = req->metadata[i]->key;
        if (!meta_key_valid(k)) {
            char q[80];
            evri_quote_untrusted(q, sizeof(q), k, strlen(k));
            return call_reply(call, EVREPL_CODE_INVALID_ARGUMENT,
                              "metadata key '%s' is invalid: keys are 1-64 characters of "
                              "[a-z0-9._-]",
                              q);
        }
    }
    return EVRI_CALL_RUN_INLINE;
}

evri_call_next
evri_call_begin(evri_call *call, const uint8_t *body, size_t len, uint64_t now_ns,
                const evri_peer *peer)
{
    const evri_rpc *rpc = call->rpc;
    evri_metrics_call_begin(rpc->cfg.metrics);
    call_release(call);
    evri_wbuf_reset(&call->out);
    evri_wbuf_reset(&call->resp);
    evri_status_ok(&call->status);
    call->received_ns = now_ns;
    call->deadline_ns = now_ns + rpc_budget_ns(rpc->cfg.default_timeout_ms);
    call->peer = peer != NULL ? *peer : (evri_peer){0};

    call->req = evrepl__rpc__v1__request__unpack(&call->alloc, len, body);
    if (call->req == NULL || !evri_wire_strings_valid(&evrepl__rpc__v1__request__descriptor, body,
                                                      len, EVRI_MAX_NESTING)) {
        if (call->req != NULL) {
            evrepl__rpc__v1__request__free_unpacked(call->req, &call->alloc);
            call->req = NULL;
        }
        return call_reply(call, EVREPL_CODE_INVALID_ARGUMENT,
                          "request body is not a decodable evrepl.rpc.v1.Request");
    }
    if (call_check_metadata(call) == EVRI_CALL_REPLY) {
        return EVRI_CALL_REPLY;
    }

    uint32_t timeout_ms = call->req->timeout_ms;
    if (timeout_ms == 0) {
        timeout_ms = rpc->cfg.default_timeout_ms;
    }
    if (timeout_ms > rpc->cfg.max_timeout_ms) {
        timeout_ms = rpc->cfg.max_timeout_ms;
    }
    call->deadline_ns = now_ns + rpc_budget_ns(timeout_ms);

    call->method = rpc_lookup(rpc, call->req->method);
    if (call->method == NULL) {
        char q[96];
        evri_quote_untrusted(q, sizeof(q), call->req->method, strlen(call->req->method));
        if (call->req->method[0] == '\0') {
            return call_reply(call, EVREPL_CODE_UNIMPLEMENTED,
                              "the request names no method (expected e.g. "
                              "'/evrepl.v1.Health/Check')");
        }
        return call_reply(call, EVREPL_CODE_UNIMPLEMENTED, "unknown method '%s'", q);
    }
    // Who may call (rpc/auth.h): before the payload is decoded, so that a caller without
    // access reaches no more than the envelope decoder. Health needs no token.
    if (evri_auth_check(rpc->cfg.auth, &call->peer, call->authorization, call->method->path,
                        (call->method->flags & EVRI_METHOD_HEALTH) != 0,
                        &call->status) != EVREPL_CODE_OK) {
        return EVRI_CALL_REPLY;
    }
    if (evri_rpc_draining(rpc) && (call->method->flags & EVRI_METHOD_HEALTH) == 0) {
        return call_reply(call, EVREPL_CODE_UNAVAILABLE,
                          "the server is shutting down and takes no new calls");
    }

    const ProtobufCMessageDescriptor *in_desc = call->method->desc->input;
    const ProtobufCBinaryData *p = &call->req->payload;
    call->in = protobuf_c_message_unpack(in_desc, &call->alloc, p->len, p->data);
    if (call->in == NULL || !evri_wire_strings_valid(in_desc, p->data, p->len, EVRI_MAX_NESTING)) {
        return call_reply(call, EVREPL_CODE_INVALID_ARGUMENT,
                          "payload is not a decodable %s for %s", in_desc->name,
                          call->method->path);
    }
    if ((call->method->flags & EVRI_METHOD_BACKEND) != 0 && rpc->cfg.backend_blocking) {
        return EVRI_CALL_RUN_WORKER;
    }
    return EVRI_CALL_RUN_INLINE;
}

void
evri_call_set_backend(evri_call *call, evrepl_replicator backend)
{
    call->backend = backend;
}

uint64_t
evri_call_deadline_ns(const evri_call *call)
{
    return call->deadline_ns;
}

void
evri_call_run(evri_call *call)
{
    if (evri_now_ns() >= call->deadline_ns) {
        (void)call_reply(call, EVREPL_CODE_DEADLINE_EXCEEDED,
                         "the deadline passed before a worker took the request");
        return;
    }
    evrepl_status st = {EVREPL_CODE_OK, ""};
    // What the handler and the backend log on this thread names the call.
    if (call->request_id != NULL) {
        evri_log_set_request_id(call->rpc->cfg.log, call->request_id);
    }
    evrepl_code code = call->method->handler(call, call->in, &call->out.base, &st);
    if (call->request_id != NULL) {
        evri_log_set_request_id(call->rpc->cfg.log, NULL);
    }
    if (code == EVREPL_CODE_OK && call->out.failed) {
        code = evri_status_set(&st, EVREPL_CODE_INTERNAL, "out of memory packing the response");
    }
    if (code != EVREPL_CODE_OK) {
        st.code = code;
        if (st.message[0] == '\0') {
            snprintf(st.message, sizeof(st.message), "%s", evrepl_code_name(code));
        }
    }
    call->status = st;
}

void
evri_call_fail(evri_call *call, evrepl_code code, const char *fmt, ...)
{
    va_list ap;
    call->status.code = code;
    va_start(ap, fmt);
    (void)vsnprintf(call->status.message, sizeof(call->status.message), fmt, ap);
    va_end(ap);
}

evrepl_code
evri_call_code(const evri_call *call)
{
    return call->status.code;
}

static char *
mutable_str(const char *s)
{
    // protoc-c's string fields are non-const although packing only reads them.
    union {
        const char *c;
        char *m;
    } u = {.c = s};
    return u.m;
}

bool
evri_call_encode(evri_call *call, const uint8_t **data, size_t *len)
{
    const evri_rpc *rpc = call->rpc;
    Evrepl__Rpc__V1__Response resp = EVREPL__RPC__V1__RESPONSE__INIT;
    Evrepl__Rpc__V1__Status status = EVREPL__RPC__V1__STATUS__INIT;
    Evrepl__Rpc__V1__Response__MetadataEntry meta[3];
    Evrepl__Rpc__V1__Response__MetadataEntry *metap[3];
    size_t n_meta = 0;

    status.code = (int32_t)call->status.code;
    status.message = call->status.message;
    resp.status = &status;
    if (call->status.code == EVREPL_CODE_OK) {
        resp.payload.len = call->out.len;
        resp.payload.data = call->out.data;
    }
    if (call->request_id != NULL) {
        evrepl__rpc__v1__response__metadata_entry__init(&meta[n_meta]);
        meta[n_meta].key = mutable_str(META_REQUEST_ID);
        meta[n_meta].value = mutable_str(call->request_id);
        n_meta++;
    }
    evrepl__rpc__v1__response__metadata_entry__init(&meta[n_meta]);
    meta[n_meta].key = mutable_str("x-evrepl-backend");
    meta[n_meta].value = mutable_str(rpc->cfg.backend_name);
    n_meta++;
    if (rpc->cfg.dev_mode) {
        evrepl__rpc__v1__response__metadata_entry__init(&meta[n_meta]);
        meta[n_meta].key = mutable_str("x-evrepl-dev-mode");
        meta[n_meta].value = mutable_str("true");
        n_meta++;
    }
    for (size_t i = 0; i < n_meta; i++) {
        metap[i] = &meta[i];
    }
    resp.n_metadata = n_meta;
    resp.metadata = metap;

    evri_wbuf_reset(&call->resp);
    if (!evri_wire_pack_message(&resp.base, &call->resp.base)) {
        return false;
    }
    *data = call->resp.data;
    *len = call->resp.len;
    return true;
}

void
evri_call_end(evri_call *call)
{
    evri_log *log = call->rpc->cfg.log;
    evri_metrics *metrics = call->rpc->cfg.metrics;
    bool logged = evri_log_enabled(log, EVRI_LOG_INFO);
    uint64_t now = logged || metrics != NULL ? evri_now_ns() : 0;
    // Every name the server does not serve shares one label, so callers cannot grow the set.
    evri_metrics_call_end(metrics,
                          call->method != NULL ? call->method->metric : EVRI_METRICS_METHOD_UNKNOWN,
                          call->status.code, now - call->received_ns);
    if (logged) {
        evri_log_field f[4];
        size_t n = 0;
        f[n++] = evri_lf_str("method", call->method != NULL ? call->method->path
                                       : call->req != NULL  ? call->req->method
                                                            : "");
        f[n++] = evri_lf_str("code", evrepl_code_name(call->status.code));
        f[n++] = evri_lf_uint("duration_us", (now - call->received_ns) / EVRI_NS_PER_US);
        if (call->request_id != NULL) {
            f[n++] = evri_lf_str("request_id", call->request_id);
        }
        evri_log_fields(log, EVRI_LOG_INFO, "call", f, n);
    }
    call_release(call);
    if (call->out.cap > KEEP_BUF_BYTES) {
        evri_wbuf_free(&call->out);
    }
    if (call->resp.cap > KEEP_BUF_BYTES) {
        evri_wbuf_free(&call->resp);
    }
}
