#include "server/server.h"

#include <stdlib.h>
#include <string.h>

#include "adapters/postgres/postgres.h"
#include "adapters/stub/stub.h"
#include "common/keyfile.h"
#include "domain/status.h"
#include "handlers/handlers.h"
#include "migrations/migrations.h"
#include "rpc/auth.h"
#include "server/observer.h"
#include "transport/metrics_http.h"
#include "transport/transport.h"

// The backends this build knows, by --backend name.
static const evrepl_backend_def *const backends[] = {&evri_stub_backend, &evri_pg_backend};

struct evri_server {
    evri_log *log;
    const evrepl_backend_def *def;
    void *shared;
    evrepl_replicator *instances;
    unsigned n_instances;
    evri_signer *signer;
    evri_app app;
    evri_auth *auth; // NULL: everyone may call everything
    evri_rpc *rpc;
    evri_transport *transport;
    evrepl_replica_config *replicas;
    evri_metrics *metrics;           // always kept: it holds each replica's last state
    evri_observer observer;          // the backend's reports -> metrics and state-change lines
    evri_metrics_http *metrics_http; // --metrics-listen; NULL when off
    unsigned max_queue;
};

static const evrepl_backend_def *
backend_find(const char *name)
{
    for (size_t i = 0; i < sizeof(backends) / sizeof(backends[0]); i++) {
        if (strcmp(backends[i]->name, name) == 0) {
            return backends[i];
        }
    }
    return NULL;
}

static evrepl_code
server_backend(evri_server *srv, const evri_config *cfg, evrepl_status *st)
{
    evrepl_code code;
    srv->def = backend_find(cfg->backend);
    if (srv->def == NULL) {
        return evri_status_set(st, EVREPL_CODE_INVALID_ARGUMENT, "unknown backend '%s'",
                               cfg->backend);
    }
    if (cfg->n_replicas > 0) {
        srv->replicas = calloc(cfg->n_replicas, sizeof(*srv->replicas));
        if (srv->replicas == NULL) {
            return evri_status_set(st, EVREPL_CODE_INTERNAL, "out of memory");
        }
        for (size_t i = 0; i < cfg->n_replicas; i++) {
            srv->replicas[i].id = cfg->replica_ids[i];
            srv->replicas[i].conninfo = cfg->replica_conninfos[i];
        }
    }
    bool blocking_hint = strcmp(cfg->backend, "stub") != 0;
    evrepl_replicator_config rc = {
        .stub_replicas = cfg->stub_replicas,
        .n_stub_replicas = cfg->n_stub_replicas,
        .stub_fail_code = cfg->stub_fail_code,
        .stub_fail_after = cfg->stub_fail_after,
        .primary_conninfo = cfg->primary,
        .replicas = srv->replicas,
        .n_replicas = cfg->n_replicas,
        .trusted_keys_file = cfg->trusted_keys,
        .state_file = cfg->state_file,
        .n_instances = blocking_hint ? cfg->workers : 1,
        .schema_version = evri_schema_version,
        .log = srv->log,
        .observer = evri_observer_port(&srv->observer),
    };
    if ((code = srv->def->shared_create(&rc, &srv->shared, st)) != EVREPL_CODE_OK) {
        srv->def = NULL;
        return code;
    }
    // The first instance tells whether the backend blocks; blocking backends get one instance
    // per worker, non-blocking ones share the first.
    evrepl_replicator first;
    if ((code = srv->def->create(srv->shared, &first, st)) != EVREPL_CODE_OK) {
        return code;
    }
    unsigned n = first.ops->blocking ? cfg->workers : 1;
    srv->instances = calloc(n, sizeof(*srv->instances));
    if (srv->instances == NULL) {
        evrepl_replicator_destroy(&first);
        return evri_status_set(st, EVREPL_CODE_INTERNAL, "out of memory");
    }
    srv->instances[srv->n_instances++] = first;
    while (srv->n_instances < n) {
        code = srv->def->create(srv->shared, &srv->instances[srv->n_instances], st);
        if (code != EVREPL_CODE_OK) {
            return code;
        }
        srv->n_instances++;
    }
    return evri_status_ok(st);
}

// The access policy (rpc/auth.h) from --tokens and --ipc-allow-uid; none when neither is set.
static evrepl_code
server_auth(evri_server *srv, const evri_config *cfg, evrepl_status *st)
{
    evrepl_code code;
    size_t n_bindings;
    const evri_service_binding *bindings = evri_handler_bindings(&n_bindings);
    if (cfg->tokens == NULL && cfg->n_ipc_allow_uids == 0) {
        return evri_status_ok(st);
    }
    if ((code = evri_auth_create(&srv->auth, bindings, n_bindings, st)) != EVREPL_CODE_OK) {
        return code;
    }
    for (size_t i = 0; i < cfg->n_ipc_allow_uids; i++) {
        if ((code = evri_auth_allow_uid(srv->auth, cfg->ipc_allow_uids[i], st)) != EVREPL_CODE_OK) {
            return code;
        }
    }
    if (cfg->tokens != NULL) {
        return evri_auth_load_tokens(srv->auth, cfg->tokens, st);
    }
    return evri_status_ok(st);
}

// The metrics, labelled with the configured replicas of either backend.
static evrepl_code
server_metrics(evri_server *srv, const evri_config *cfg, evrepl_status *st)
{
    bool pg = strcmp(cfg->backend, "postgres") == 0;
    evri_metrics_config mc = {
        .version = EVREPL_VERSION_STRING,
        .schema_version = evri_schema_version,
        .replica_ids = pg ? cfg->replica_ids : cfg->stub_replicas,
        .n_replicas = pg ? cfg->n_replicas : cfg->n_stub_replicas,
    };
    evrepl_code code = evri_metrics_create(&srv->metrics, &mc, st);
    srv->observer = (evri_observer){.metrics = srv->metrics, .log = srv->log};
    return code;
}

// The gauges the metrics read from their owners at each scrape.
static void
server_gauges(void *arg, evri_metrics_gauges *out)
{
    evri_server *srv = arg;
    evrepl_replicator shared = srv->instances[0];
    evrepl_serving_status health = EVREPL_SERVING_STATUS_SERVING;
    evrepl_status st;
    if (shared.ops->check_health != NULL &&
        shared.ops->check_health(shared.self, &health, &st) != EVREPL_CODE_OK) {
        health = EVREPL_SERVING_STATUS_UNKNOWN;
    }
    bool blocking = shared.ops->blocking;
    *out = (evri_metrics_gauges){
        .workers = blocking ? srv->n_instances : 0,
        .queue_depth = evri_transport_queue_depth(srv->transport),
        .queue_capacity = blocking ? srv->max_queue : 0,
        .draining = evri_rpc_draining(srv->rpc),
        .primary_reachable = health == EVREPL_SERVING_STATUS_SERVING,
    };
}

// Serves the metrics at --metrics-listen, when set.
static evrepl_code
server_metrics_http(evri_server *srv, const evri_config *cfg, evrepl_status *st)
{
    if (cfg->metrics_listen == NULL) {
        return evri_status_ok(st);
    }
    evri_metrics_set_source(srv->metrics, server_gauges, srv);
    return evri_metrics_http_create(&srv->metrics_http, cfg->metrics_listen, srv->metrics, st);
}

evrepl_code
evri_server_create(evri_server **out, const evri_config *cfg, FILE *log_sink, evrepl_status *st)
{
    evrepl_code code;
    evri_server *srv = calloc(1, sizeof(*srv));
    if (srv == NULL) {
        return evri_status_set(st, EVREPL_CODE_INTERNAL, "out of memory starting the server");
    }
    srv->log = evri_log_create(log_sink, cfg->log_format, cfg->log_level);
    if (srv->log == NULL) {
        code = evri_status_set(st, EVREPL_CODE_INTERNAL, "out of memory starting the server");
        goto fail;
    }
    if (cfg->receipt_key != NULL &&
        (code = evri_keyfile_read(&srv->signer, cfg->receipt_key, st)) != EVREPL_CODE_OK) {
        goto fail;
    }
    // The policy before the backend: a bad tokens file stops the start before any database is
    // contacted.
    if ((code = server_auth(srv, cfg, st)) != EVREPL_CODE_OK) {
        goto fail;
    }
    if ((code = server_metrics(srv, cfg, st)) != EVREPL_CODE_OK) {
        goto fail;
    }
    if ((code = server_backend(srv, cfg, st)) != EVREPL_CODE_OK) {
        goto fail;
    }
    const evrepl_replicator_ops *ops = srv->instances[0].ops;
    evri_metrics_set_backend(srv->metrics, ops->name, ops->dev_mode);
    // Calls are counted only when someone can read the counts: off, the call path skips them.
    evri_metrics *exported = cfg->metrics_listen != NULL ? srv->metrics : NULL;
    srv->max_queue = cfg->max_queue;
    srv->app = (evri_app){
        .version = EVREPL_VERSION_STRING,
        .schema_version = evri_schema_version,
        .shared = srv->instances[0],
        .receipt_signer = srv->signer,
        .metrics = exported,
    };
    size_t n_bindings;
    const evri_service_binding *bindings = evri_handler_bindings(&n_bindings);
    evri_rpc_config rc = {
        .bindings = bindings,
        .n_bindings = n_bindings,
        .backend_name = ops->name,
        .dev_mode = ops->dev_mode,
        .backend_blocking = ops->blocking,
        .default_timeout_ms = cfg->default_timeout_ms,
        .max_timeout_ms = cfg->max_timeout_ms,
        .max_metadata_bytes = cfg->max_metadata_bytes,
        .log = srv->log,
        .metrics = exported,
        .auth = srv->auth,
        .app = &srv->app,
    };
    if ((code = evri_rpc_create(&srv->rpc, &rc, st)) != EVREPL_CODE_OK) {
        goto fail;
    }
    evri_transport_config tc = {
        .urls = (const char *const *)cfg->listen,
        .n_urls = cfg->n_listen,
        .max_message_bytes = cfg->max_message_bytes,
        .max_queue = cfg->max_queue,
        .rpc = srv->rpc,
        .shared = srv->instances[0],
        .instances = ops->blocking ? srv->instances : NULL,
        .n_workers = ops->blocking ? srv->n_instances : 0,
        .ipc_mode = cfg->ipc_mode,
        .tls_cert_file = cfg->tls_cert,
        .tls_key_file = cfg->tls_key,
        .tls_ca_file = cfg->tls_ca,
        .log = srv->log,
    };
    if ((code = evri_transport_create(&srv->transport, &tc, st)) != EVREPL_CODE_OK) {
        goto fail;
    }
    if ((code = server_metrics_http(srv, cfg, st)) != EVREPL_CODE_OK) {
        goto fail;
    }
    if (ops->dev_mode) {
        evri_log_fields(srv->log, EVRI_LOG_WARN,
                        "DEV MODE: the stub backend fakes every answer; receipts and "
                        "verifications prove nothing",
                        (evri_log_field[]){evri_lf_str("backend", ops->name)}, 1);
    }
    for (size_t i = 0; i < cfg->n_listen; i++) {
        evri_log_fields(srv->log, EVRI_LOG_INFO, "listening",
                        (evri_log_field[]){evri_lf_str("url", cfg->listen[i])}, 1);
    }
    if (srv->metrics_http != NULL) {
        evri_log_fields(
            srv->log, EVRI_LOG_INFO, "metrics listening",
            (evri_log_field[]){evri_lf_str("url", cfg->metrics_listen),
                               evri_lf_str("path", evri_metrics_http_path(srv->metrics_http))},
            2);
    }
    evri_log_fields(
        srv->log, EVRI_LOG_INFO, "serving",
        (evri_log_field[]){evri_lf_str("backend", ops->name),
                           evri_lf_str("version", EVREPL_VERSION_STRING),
                           evri_lf_str("schema_version", evri_schema_version),
                           evri_lf_uint("workers", ops->blocking ? srv->n_instances : 0),
                           evri_lf_bool("receipts_signed", srv->signer != NULL)},
        5);
    *out = srv;
    return evri_status_ok(st);
fail:
    evri_server_destroy(srv);
    return code;
}

unsigned
evri_server_drain(evri_server *srv, uint32_t timeout_ms)
{
    evri_log_fields(srv->log, EVRI_LOG_INFO, "draining", NULL, 0);
    unsigned left = evri_transport_drain(srv->transport, timeout_ms);
    if (left > 0) {
        evri_log_fields(srv->log, EVRI_LOG_WARN, "drain timed out",
                        (evri_log_field[]){evri_lf_uint("unanswered", left)}, 1);
    }
    return left;
}

void
evri_server_destroy(evri_server *srv)
{
    if (srv == NULL) {
        return;
    }
    evri_metrics_http_destroy(srv->metrics_http); // no scrape reads what is freed below
    evri_transport_destroy(srv->transport);
    evri_rpc_destroy(srv->rpc);
    evri_auth_destroy(srv->auth);
    for (unsigned i = 0; i < srv->n_instances; i++) {
        evrepl_replicator_destroy(&srv->instances[i]);
    }
    free(srv->instances);
    if (srv->def != NULL) {
        srv->def->shared_destroy(srv->shared);
    }
    free(srv->replicas);
    evri_metrics_destroy(srv->metrics); // after the backend, which reports into it
    evri_signer_destroy(srv->signer);
    evri_log_destroy(srv->log);
    free(srv);
}
