// The metrics endpoint (--metrics-listen): NNG's HTTP server (NNG 1.5 supplemental API)
// answering `GET URL/metrics` with the text exposition of an evri_metrics. It is a separate
// listener from the RPC sockets and serves nothing else (other paths: 404, other methods: 405).
//
// Thread safety: create and destroy from one controlling thread; scrapes run on NNG's threads.
#ifndef EVREPL_TRANSPORT_METRICS_HTTP_H
#define EVREPL_TRANSPORT_METRICS_HTTP_H

#include "common/metrics.h"
#include "evrepl/status.h"

typedef struct evri_metrics_http evri_metrics_http;

// Checks a --metrics-listen URL: http://HOST:PORT, optionally with a path under which
// /metrics is served, and nothing else (no user info, query or fragment). INVALID_ARGUMENT
// says what is wrong.
EVREPL_NODISCARD evrepl_code evri_metrics_http_url_check(const char *url, evrepl_status *st);

// Starts serving m at URL/metrics. INVALID_ARGUMENT for a bad URL, UNAVAILABLE when the address
// is taken or cannot be bound. m is borrowed until evri_metrics_http_destroy() returns. Writes
// *out only on success.
EVREPL_NODISCARD evrepl_code evri_metrics_http_create(evri_metrics_http **out, const char *url,
                                                      evri_metrics *m, evrepl_status *st);

// The path that serves the metrics ("/metrics", or "/prefix/metrics"). Borrowed.
const char *evri_metrics_http_path(const evri_metrics_http *h);

// Stops serving. When it returns, no scrape is running or will start that reads the metrics.
// Accepts NULL.
void evri_metrics_http_destroy(evri_metrics_http *h);

#endif // EVREPL_TRANSPORT_METRICS_HTTP_H
