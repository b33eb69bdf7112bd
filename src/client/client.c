// libevrepl: one req0 socket and context per client, one request in flight at a time.
#include "evrepl/client.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>
#include <nng/supplemental/tls/tls.h>

#include "common/clock.h"
#include "domain/status.h"
#include "domain/strv.h"
#include "evrepl/rpc/v1/envelope.pb-c.h"
#include "nngx/nngx.h"
#include "rpc/wire.h"

#define CLIENT_DEFAULT_MAX_RESPONSE (64u * 1024u * 1024u)
#define BEARER_PREFIX               "Bearer "

struct evrepl_client {
    nng_socket sock;
    nng_ctx ctx;
    nng_aio *aio;
    nng_dialer dialer;
    nng_tls_config *tls;
    char *url;
    uint32_t timeout_ms;
    char *authorization; // "Bearer TOKEN" or NULL
    size_t max_response_bytes;
    // Metadata of the last response (borrowed out by evrepl_client_response_metadata).
    char **meta_keys;
    char **meta_vals;
    size_t n_meta;
    evri_wbuf payload;
    evri_wbuf request;
};

void
evrepl_free(void *p)
{
    free(p);
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

static void
client_meta_clear(evrepl_client *c)
{
    size_t n = c->n_meta;
    evri_strv_free(&c->meta_keys, &n);
    evri_strv_free(&c->meta_vals, &c->n_meta);
}

void
evrepl_client_destroy(evrepl_client *c)
{
    if (c == NULL) {
        return;
    }
    nng_close(c->sock);
    if (c->aio != NULL) {
        nng_aio_free(c->aio);
    }
    if (c->tls != NULL) {
        nng_tls_config_free(c->tls);
    }
    if (c->authorization != NULL) {
        memset(c->authorization, 0, strlen(c->authorization));
    }
    free(c->authorization);
    free(c->url);
    client_meta_clear(c);
    evri_wbuf_free(&c->payload);
    evri_wbuf_free(&c->request);
    free(c);
}

static evrepl_code
client_tls(evrepl_client *c, const evrepl_client_opts *o, evrepl_status *st)
{
    nng_url *u = NULL;
    int rv = nng_url_parse(&u, o->url);
    if (rv != 0) {
        return evri_status_set(st, EVREPL_CODE_INVALID_ARGUMENT, "bad server URL %s: %s", o->url,
                               nng_strerror(rv));
    }
    const char *name = o->tls_server_name != NULL ? o->tls_server_name : u->u_hostname;
    evrepl_code code = evri_tls_config_create(&c->tls, NNG_TLS_MODE_CLIENT, o->tls_cert_file,
                                              o->tls_key_file, o->tls_ca_file, name, st);
    nng_url_free(u);
    if (code != EVREPL_CODE_OK) {
        return code;
    }
    if ((rv = nng_dialer_set_ptr(c->dialer, NNG_OPT_TLS_CONFIG, c->tls)) != 0) {
        return evri_status_set(st, EVREPL_CODE_INTERNAL, "cannot use TLS: %s", nng_strerror(rv));
    }
    return EVREPL_CODE_OK;
}

// Errors NNG 1.5.2 reports when a TLS handshake fails: a certificate the peer rejects is
// NNG_ECRYPTO or NNG_EPEERAUTH on this side, and the peer hanging up mid-handshake (the server
// refusing a client without a certificate) NNG_ECONNSHUT, NNG_ECLOSED or NNG_ECONNRESET.
static bool
client_tls_failure(int rv)
{
    return rv == NNG_ECRYPTO || rv == NNG_EPEERAUTH || rv == NNG_ECONNSHUT || rv == NNG_ECLOSED ||
           rv == NNG_ECONNRESET;
}

evrepl_code
evrepl_client_create(evrepl_client **out, const evrepl_client_opts *o, evrepl_status *st)
{
    evrepl_code code;
    int rv;
    if (o == NULL || o->url == NULL || o->url[0] == '\0') {
        return evri_status_set(st, EVREPL_CODE_INVALID_ARGUMENT, "no server URL given");
    }
    evrepl_client *c = calloc(1, sizeof(*c));
    if (c == NULL) {
        return evri_status_set(st, EVREPL_CODE_INTERNAL, "out of memory creating a client");
    }
    evri_wbuf_init(&c->payload);
    evri_wbuf_init(&c->request);
    c->timeout_ms = o->timeout_ms > 0 ? o->timeout_ms : EVREPL_CLIENT_DEFAULT_TIMEOUT_MS;
    c->max_response_bytes =
        o->max_response_bytes > 0 ? o->max_response_bytes : CLIENT_DEFAULT_MAX_RESPONSE;
    c->url = evri_strdup(o->url);
    if (c->url == NULL) {
        code = evri_status_set(st, EVREPL_CODE_INTERNAL, "out of memory creating a client");
        goto fail;
    }
    if (o->token != NULL) {
        size_t len = strlen(BEARER_PREFIX) + strlen(o->token) + 1;
        if ((c->authorization = malloc(len)) == NULL) {
            code = evri_status_set(st, EVREPL_CODE_INTERNAL, "out of memory creating a client");
            goto fail;
        }
        snprintf(c->authorization, len, "%s%s", BEARER_PREFIX, o->token);
    }
    if ((rv = nng_req0_open(&c->sock)) != 0 || (rv = nng_ctx_open(&c->ctx, c->sock)) != 0 ||
        (rv = nng_aio_alloc(&c->aio, NULL, NULL)) != 0) {
        code = evri_status_set(st, EVREPL_CODE_INTERNAL, "cannot open a req0 socket: %s",
                               nng_strerror(rv));
        goto fail;
    }
    // REQ resends an unanswered request after 60 s by default, which would run a call twice.
    // Each call's own deadline bounds the wait instead.
    if ((rv = nng_ctx_set_ms(c->ctx, NNG_OPT_REQ_RESENDTIME, NNG_DURATION_INFINITE)) != 0 ||
        (rv = nng_socket_set_ms(c->sock, NNG_OPT_REQ_RESENDTIME, NNG_DURATION_INFINITE)) != 0 ||
        (rv = nng_socket_set_size(c->sock, NNG_OPT_RECVMAXSZ, c->max_response_bytes)) != 0) {
        code = evri_status_set(st, EVREPL_CODE_INTERNAL, "cannot set socket options: %s",
                               nng_strerror(rv));
        goto fail;
    }
    if ((rv = nng_dialer_create(&c->dialer, c->sock, o->url)) != 0) {
        code = evri_status_set(st, EVREPL_CODE_INVALID_ARGUMENT,
                               "bad server URL %s: %s (want ipc://, tcp://, tls+tcp:// or "
                               "inproc://)",
                               o->url, nng_strerror(rv));
        goto fail;
    }
    if (evri_url_is_tls(o->url) && (code = client_tls(c, o, st)) != EVREPL_CODE_OK) {
        goto fail;
    }
    // Connect once now so that a wrong URL or a server that is down is reported at once;
    // afterwards the dialer reconnects by itself.
    if ((rv = nng_dialer_start(c->dialer, 0)) != 0) {
        if (evri_url_is_tls(o->url) && client_tls_failure(rv)) {
            code = evri_status_set(st, EVREPL_CODE_UNAVAILABLE,
                                   "cannot connect to %s: the TLS handshake failed (%s): the "
                                   "server's certificate must chain to --tls-ca and name the "
                                   "URL's host, and the server must accept this client's "
                                   "certificate (--tls-cert, --tls-key)",
                                   o->url, nng_strerror(rv));
            goto fail;
        }
        code = evri_status_set(st,
                               evri_code_from_nng(rv) == EVREPL_CODE_INVALID_ARGUMENT
                                   ? EVREPL_CODE_INVALID_ARGUMENT
                                   : EVREPL_CODE_UNAVAILABLE,
                               "cannot connect to %s: %s", o->url, nng_strerror(rv));
        goto fail;
    }
    *out = c;
    return evri_status_ok(st);
fail:
    evrepl_client_destroy(c);
    return code;
}

static evrepl_code
client_keep_metadata(evrepl_client *c, const Evrepl__Rpc__V1__Response *resp)
{
    client_meta_clear(c);
    for (size_t i = 0; i < resp->n_metadata; i++) {
        size_t n = c->n_meta;
        if (!evri_strv_push(&c->meta_keys, &n, resp->metadata[i]->key)) {
            return EVREPL_CODE_INTERNAL;
        }
        if (!evri_strv_push(&c->meta_vals, &c->n_meta, resp->metadata[i]->value)) {
            free(c->meta_keys[n - 1]);
            return EVREPL_CODE_INTERNAL;
        }
    }
    return EVREPL_CODE_OK;
}

const char *
evrepl_client_response_metadata(const evrepl_client *c, const char *key)
{
    // The last of a repeated key wins, as protobuf maps do.
    for (size_t i = c->n_meta; i > 0; i--) {
        if (strcmp(c->meta_keys[i - 1], key) == 0) {
            return c->meta_vals[i - 1];
        }
    }
    return NULL;
}

// Builds the Request envelope in c->request.
static evrepl_code
client_envelope(evrepl_client *c, const char *method, const void *payload, size_t payload_len,
                const evrepl_call_opts *co, uint32_t timeout_ms, evrepl_status *st)
{
    Evrepl__Rpc__V1__Request req = EVREPL__RPC__V1__REQUEST__INIT;
    size_t n_extra = co != NULL ? co->n_metadata : 0;
    size_t n_meta = 0;
    Evrepl__Rpc__V1__Request__MetadataEntry *meta = calloc(n_extra + 2, sizeof(*meta));
    Evrepl__Rpc__V1__Request__MetadataEntry **metap = calloc(n_extra + 2, sizeof(*metap));
    evrepl_code code = EVREPL_CODE_OK;
    if (meta == NULL || metap == NULL) {
        code = evri_status_set(st, EVREPL_CODE_INTERNAL, "out of memory building a request");
        goto out;
    }
    for (size_t i = 0; i < n_extra; i++) {
        evrepl__rpc__v1__request__metadata_entry__init(&meta[n_meta]);
        meta[n_meta].key = mutable_str(co->metadata[i].key != NULL ? co->metadata[i].key : "");
        meta[n_meta].value =
            mutable_str(co->metadata[i].value != NULL ? co->metadata[i].value : "");
        n_meta++;
    }
    if (co != NULL && co->request_id != NULL) {
        evrepl__rpc__v1__request__metadata_entry__init(&meta[n_meta]);
        meta[n_meta].key = mutable_str("x-request-id");
        meta[n_meta].value = mutable_str(co->request_id);
        n_meta++;
    }
    if (c->authorization != NULL) {
        evrepl__rpc__v1__request__metadata_entry__init(&meta[n_meta]);
        meta[n_meta].key = mutable_str("authorization");
        meta[n_meta].value = c->authorization;
        n_meta++;
    }
    for (size_t i = 0; i < n_meta; i++) {
        metap[i] = &meta[i];
    }
    req.method = mutable_str(method);
    req.payload.len = payload_len;
    union {
        const void *c;
        uint8_t *m;
    } p = {.c = payload};
    req.payload.data = p.m;
    req.timeout_ms = timeout_ms;
    req.n_metadata = n_meta;
    req.metadata = metap;
    evri_wbuf_reset(&c->request);
    evrepl__rpc__v1__request__pack_to_buffer(&req, &c->request.base);
    if (c->request.failed) {
        code = evri_status_set(st, EVREPL_CODE_INTERNAL, "out of memory building a request");
    }
out:
    free(meta);
    free(metap);
    return code;
}

// Sends c->request and waits for the reply until deadline_ns. On OK *reply holds the message.
static evrepl_code
client_roundtrip(evrepl_client *c, uint64_t deadline_ns, nng_msg **reply, evrepl_status *st)
{
    nng_msg *m = NULL;
    int rv = nng_msg_alloc(&m, 0);
    if (rv != 0 || (rv = nng_msg_append(m, c->request.data, c->request.len)) != 0) {
        nng_msg_free(m);
        return evri_status_set(st, EVREPL_CODE_INTERNAL, "out of memory sending a request");
    }
    nng_aio_set_msg(c->aio, m);
    nng_aio_set_timeout(c->aio, evri_ms_left(deadline_ns));
    nng_ctx_send(c->ctx, c->aio);
    nng_aio_wait(c->aio);
    if ((rv = nng_aio_result(c->aio)) != 0) {
        nng_msg_free(m); // not consumed on failure
        if (rv == NNG_ETIMEDOUT) {
            return evri_status_set(st, EVREPL_CODE_UNAVAILABLE,
                                   "cannot reach %s: not connected before the deadline", c->url);
        }
        return evri_status_set(st, evri_code_from_nng(rv), "cannot send to %s: %s", c->url,
                               nng_strerror(rv));
    }
    nng_aio_set_timeout(c->aio, evri_ms_left(deadline_ns));
    nng_ctx_recv(c->ctx, c->aio);
    nng_aio_wait(c->aio);
    if ((rv = nng_aio_result(c->aio)) != 0) {
        if (rv == NNG_ETIMEDOUT) {
            return evri_status_set(st, EVREPL_CODE_DEADLINE_EXCEEDED,
                                   "no answer from %s before the deadline", c->url);
        }
        return evri_status_set(st, evri_code_from_nng(rv), "no answer from %s: %s", c->url,
                               nng_strerror(rv));
    }
    *reply = nng_aio_get_msg(c->aio);
    return EVREPL_CODE_OK;
}

// Sends one call and leaves the response payload in c->payload on OK.
static evrepl_code
client_call(evrepl_client *c, const char *method, const void *payload, size_t payload_len,
            const evrepl_call_opts *co, evrepl_status *st)
{
    uint32_t timeout_ms = co != NULL && co->timeout_ms > 0 ? co->timeout_ms : c->timeout_ms;
    uint64_t deadline = evri_now_ns() + (uint64_t)timeout_ms * EVRI_NS_PER_MS;
    nng_msg *reply = NULL;
    evrepl_code code;

    client_meta_clear(c);
    if ((code = client_envelope(c, method, payload, payload_len, co, timeout_ms, st)) !=
        EVREPL_CODE_OK) {
        return code;
    }
    if ((code = client_roundtrip(c, deadline, &reply, st)) != EVREPL_CODE_OK) {
        return code;
    }
    Evrepl__Rpc__V1__Response *resp =
        evrepl__rpc__v1__response__unpack(NULL, nng_msg_len(reply), nng_msg_body(reply));
    nng_msg_free(reply);
    if (resp == NULL) {
        return evri_status_set(st, EVREPL_CODE_INTERNAL,
                               "malformed response from server: not an evrepl.rpc.v1.Response");
    }
    if (client_keep_metadata(c, resp) != EVREPL_CODE_OK) {
        code = evri_status_set(st, EVREPL_CODE_INTERNAL, "out of memory reading a response");
    } else if (resp->status != NULL && resp->status->code != 0) {
        // Any code, even one this library does not know, is an error.
        code = evri_status_set(st, (evrepl_code)resp->status->code, "%s",
                               resp->status->message[0] != '\0'
                                   ? resp->status->message
                                   : evrepl_code_name((evrepl_code)resp->status->code));
    } else {
        evri_wbuf_reset(&c->payload);
        c->payload.base.append(&c->payload.base, resp->payload.len, resp->payload.data);
        code = c->payload.failed
                   ? evri_status_set(st, EVREPL_CODE_INTERNAL, "out of memory reading a response")
                   : evri_status_ok(st);
    }
    evrepl__rpc__v1__response__free_unpacked(resp, NULL);
    return code;
}

evrepl_code
evrepl_client_call(evrepl_client *c, const char *method, const void *payload, size_t payload_len,
                   const evrepl_call_opts *co, uint8_t **resp, size_t *resp_len, evrepl_status *st)
{
    evrepl_code code = client_call(c, method, payload, payload_len, co, st);
    if (code != EVREPL_CODE_OK) {
        return code;
    }
    uint8_t *copy = malloc(c->payload.len > 0 ? c->payload.len : 1);
    if (copy == NULL) {
        return evri_status_set(st, EVREPL_CODE_INTERNAL, "out of memory reading a response");
    }
    if (c->payload.len > 0) {
        memcpy(copy, c->payload.data, c->payload.len);
    }
    *resp = copy;
    *resp_len = c->payload.len;
    return EVREPL_CODE_OK;
}

// Packs a request message into a scratch buffer and calls.
static evrepl_code
client_call_packed(evrepl_client *c, const char *method, evri_wbuf *req, const evrepl_call_opts *co,
                   evrepl_status *st)
{
    if (req->failed) {
        return evri_status_set(st, EVREPL_CODE_INTERNAL, "out of memory building a request");
    }
    return client_call(c, method, req->data, req->len, co, st);
}

evrepl_code
evrepl_client_propagate_event(evrepl_client *c, const char *event_id, const evrepl_call_opts *co,
                              evrepl_receipt *out, evrepl_status *st)
{
    evri_wbuf req;
    evri_wbuf_init(&req);
    evri_wire_pack_propagate_request(event_id != NULL ? event_id : "", &req.base);
    evrepl_code code = client_call_packed(c, EVREPL_METHOD_PROPAGATE_EVENT, &req, co, st);
    evri_wbuf_free(&req);
    if (code != EVREPL_CODE_OK) {
        return code;
    }
    return evri_wire_unpack_receipt(c->payload.data, c->payload.len, out, st);
}

evrepl_code
evrepl_client_verify_replicas(evrepl_client *c, const evrepl_verify_request *vr,
                              const evrepl_call_opts *co, evrepl_verification *out,
                              evrepl_status *st)
{
    evri_wbuf req;
    evri_wbuf_init(&req);
    evri_wire_pack_verify_request(vr, &req.base);
    evrepl_code code = client_call_packed(c, EVREPL_METHOD_VERIFY_REPLICAS, &req, co, st);
    evri_wbuf_free(&req);
    if (code != EVREPL_CODE_OK) {
        return code;
    }
    return evri_wire_unpack_verification(c->payload.data, c->payload.len, out, st);
}

evrepl_code
evrepl_client_health_check(evrepl_client *c, const char *service, const evrepl_call_opts *co,
                           evrepl_serving_status *out, evrepl_status *st)
{
    evri_wbuf req;
    evri_wbuf_init(&req);
    evri_wire_pack_health_request(service != NULL ? service : "", &req.base);
    evrepl_code code = client_call_packed(c, EVREPL_METHOD_HEALTH_CHECK, &req, co, st);
    evri_wbuf_free(&req);
    if (code != EVREPL_CODE_OK) {
        return code;
    }
    return evri_wire_unpack_health(c->payload.data, c->payload.len, out, st);
}

evrepl_code
evrepl_client_describe(evrepl_client *c, const evrepl_call_opts *co, evrepl_server_description *out,
                       evrepl_status *st)
{
    evri_wbuf req;
    evri_wbuf_init(&req);
    evri_wire_pack_describe_request(&req.base);
    evrepl_code code = client_call_packed(c, EVREPL_METHOD_DESCRIBE, &req, co, st);
    evri_wbuf_free(&req);
    if (code != EVREPL_CODE_OK) {
        return code;
    }
    return evri_wire_unpack_description(c->payload.data, c->payload.len, out, st);
}
