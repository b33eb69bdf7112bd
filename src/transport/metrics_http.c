#include "transport/metrics_http.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nng/nng.h>
#include <nng/supplemental/http/http.h>

#include "domain/status.h"
#include "nngx/nngx.h"

#define METRICS_PATH_MAX 256

// Between NNG's handler and the server's metrics. NNG keeps its handler (and so this gate)
// until its last connection is reaped, possibly after evri_metrics_http_destroy() returned; the
// gate lets destroy cut the link to the metrics and wait for scrapes in progress, and is freed
// by the handler's destructor whenever NNG lets go of it.
typedef struct gate {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    evri_metrics *metrics; // NULL once stopping
    unsigned busy;         // scrapes reading the metrics now
} gate;

struct evri_metrics_http {
    nng_http_server *server;
    nng_http_handler *handler; // the server's once added
    bool added;
    bool started;
    gate *gate;
    char path[METRICS_PATH_MAX];
};

static void
gate_free(void *arg)
{
    gate *g = arg;
    if (g == NULL) {
        return;
    }
    pthread_mutex_destroy(&g->mu);
    pthread_cond_destroy(&g->cv);
    free(g);
}

// Answers with an error page; false when not even that could be built.
static bool
http_error(nng_aio *aio, uint16_t status)
{
    nng_http_res *res = NULL;
    if (nng_http_res_alloc_error(&res, status) != 0) {
        return false;
    }
    nng_aio_set_output(aio, 0, res);
    nng_aio_finish(aio, 0);
    return true;
}

static void
http_metrics_cb(nng_aio *aio)
{
    nng_http_handler *h = nng_aio_get_input(aio, 1);
    gate *g = nng_http_handler_get_data(h);
    char *text = NULL;
    size_t len = 0;
    pthread_mutex_lock(&g->mu);
    evri_metrics *m = g->metrics;
    if (m != NULL) {
        g->busy++;
    }
    pthread_mutex_unlock(&g->mu);
    if (m == NULL) {
        if (!http_error(aio, NNG_HTTP_STATUS_SERVICE_UNAVAILABLE)) {
            nng_aio_finish(aio, NNG_ENOMEM);
        }
        return;
    }
    text = evri_metrics_render(m, &len);
    pthread_mutex_lock(&g->mu);
    g->busy--;
    pthread_cond_broadcast(&g->cv);
    pthread_mutex_unlock(&g->mu);

    nng_http_res *res = NULL;
    int rv = text == NULL ? NNG_ENOMEM : nng_http_res_alloc(&res);
    if (rv == 0) {
        rv = nng_http_res_set_header(res, "Content-Type", EVRI_METRICS_CONTENT_TYPE);
    }
    if (rv == 0) {
        rv = nng_http_res_copy_data(res, text, len);
    }
    free(text);
    if (rv != 0) {
        if (res != NULL) {
            nng_http_res_free(res);
        }
        if (!http_error(aio, NNG_HTTP_STATUS_INTERNAL_SERVER_ERROR)) {
            nng_aio_finish(aio, rv); // NNG closes the connection
        }
        return;
    }
    nng_aio_set_output(aio, 0, res);
    nng_aio_finish(aio, 0);
}

// Parses and checks url; on OK *out holds the parsed URL (nng_url_free it). Messages quote the
// URL only when it cannot hold a password (no '@').
static evrepl_code
url_parse(const char *url, nng_url **out, evrepl_status *st)
{
    nng_url *u = NULL;
    const char *shown = strchr(url, '@') == NULL ? url : "(the URL)";
    if (strncmp(url, "http://", 7) != 0 || nng_url_parse(&u, url) != 0) {
        return evri_status_set(st, EVREPL_CODE_INVALID_ARGUMENT,
                               "--metrics-listen: %s is not an http://HOST:PORT URL", shown);
    }
    const char *why = NULL;
    if (u->u_userinfo != NULL) {
        why = "user info is not supported";
    } else if (u->u_query != NULL || u->u_fragment != NULL) {
        why = "a query or fragment is not supported";
    } else if (strlen(u->u_path) + sizeof("/metrics") > METRICS_PATH_MAX) {
        why = "the path is too long";
    }
    if (why != NULL) {
        nng_url_free(u);
        return evri_status_set(st, EVREPL_CODE_INVALID_ARGUMENT, "--metrics-listen %s: %s", shown,
                               why);
    }
    *out = u;
    return evri_status_ok(st);
}

evrepl_code
evri_metrics_http_url_check(const char *url, evrepl_status *st)
{
    nng_url *u = NULL;
    evrepl_code code = url_parse(url, &u, st);
    nng_url_free(u);
    return code;
}

const char *
evri_metrics_http_path(const evri_metrics_http *h)
{
    return h->path;
}

evrepl_code
evri_metrics_http_create(evri_metrics_http **out, const char *url, evri_metrics *m,
                         evrepl_status *st)
{
    evrepl_code code;
    nng_url *u = NULL;
    int rv;
    if ((code = url_parse(url, &u, st)) != EVREPL_CODE_OK) {
        return code;
    }
    evri_metrics_http *h = calloc(1, sizeof(*h));
    gate *g = calloc(1, sizeof(*g));
    if (h == NULL || g == NULL) {
        free(g);
        code = evri_status_set(st, EVREPL_CODE_INTERNAL, "out of memory serving metrics");
        goto fail;
    }
    pthread_mutex_init(&g->mu, NULL);
    pthread_cond_init(&g->cv, NULL);
    g->metrics = m;
    // The URL's path without trailing slashes, then /metrics.
    size_t plen = strlen(u->u_path);
    while (plen > 0 && u->u_path[plen - 1] == '/') {
        plen--;
    }
    snprintf(h->path, sizeof(h->path), "%.*s/metrics", (int)plen, u->u_path);
    if ((rv = nng_http_handler_alloc(&h->handler, h->path, http_metrics_cb)) != 0) {
        gate_free(g);
        code =
            evri_status_set(st, EVREPL_CODE_INTERNAL, "cannot serve metrics: %s", nng_strerror(rv));
        goto fail;
    }
    // From here the handler owns the gate: its destructor frees it.
    if ((rv = nng_http_handler_set_data(h->handler, g, gate_free)) != 0) {
        gate_free(g);
        code =
            evri_status_set(st, EVREPL_CODE_INTERNAL, "cannot serve metrics: %s", nng_strerror(rv));
        goto fail;
    }
    h->gate = g;
    // A scrape carries no body: one that announces any is refused (400).
    if ((rv = nng_http_handler_collect_body(h->handler, true, 0)) != 0 ||
        (rv = nng_http_server_hold(&h->server, u)) != 0 ||
        (rv = nng_http_server_add_handler(h->server, h->handler)) != 0) {
        code = evri_status_set(st, EVREPL_CODE_INTERNAL, "cannot serve metrics on %s: %s", url,
                               nng_strerror(rv));
        goto fail;
    }
    h->added = true;
    if ((rv = nng_http_server_start(h->server)) != 0) {
        code = evri_status_set(
            st, rv == NNG_EADDRINUSE ? EVREPL_CODE_UNAVAILABLE : evri_code_from_nng(rv),
            "cannot serve metrics on %s: %s", url,
            rv == NNG_EADDRINUSE ? "the address is already in use" : nng_strerror(rv));
        goto fail;
    }
    h->started = true;
    nng_url_free(u);
    *out = h;
    return evri_status_ok(st);
fail:
    nng_url_free(u);
    evri_metrics_http_destroy(h);
    return code;
}

void
evri_metrics_http_destroy(evri_metrics_http *h)
{
    if (h == NULL) {
        return;
    }
    if (h->gate != NULL) {
        gate *g = h->gate;
        pthread_mutex_lock(&g->mu);
        g->metrics = NULL;
        while (g->busy > 0) {
            pthread_cond_wait(&g->cv, &g->mu);
        }
        pthread_mutex_unlock(&g->mu);
    }
    if (h->started) {
        nng_http_server_stop(h->server);
    }
    // Take the handler back, so that the path is free again even if another holder keeps the
    // server; NNG frees it (and the gate) when the last scrape in progress lets go of it.
    if (h->added && nng_http_server_del_handler(h->server, h->handler) != 0) {
        h->handler = NULL; // not found: the server still owns it
    }
    if (h->handler != NULL) {
        nng_http_handler_free(h->handler);
    }
    if (h->server != NULL) {
        nng_http_server_release(h->server);
    }
    free(h);
}
