#include "fuzz_rpc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adapters/stub/stub.h"
#include "common/clock.h"
#include "domain/keys.h"
#include "handlers/handlers.h"
#include "migrations/migrations.h"
#include "rpc/auth.h"

typedef struct fuzz_server {
    void *shared;
    evrepl_replicator backend;
    evri_signer *signer;
    evri_app app;
    evri_auth *auth;
    evri_rpc *rpc;
    evri_call *call;
} fuzz_server;

static void
fuzz_die(const char *what, const evrepl_status *st)
{
    fprintf(stderr, "fuzz set-up: %s: %s\n", what, st->message);
    abort();
}

static fuzz_server *
fuzz_server_get(void)
{
    // One server per process, like evrepld's; libFuzzer calls from one thread.
    static fuzz_server *srv;
    if (srv != NULL) {
        return srv;
    }
    evrepl_status st = {EVREPL_CODE_OK, ""};
    srv = calloc(1, sizeof(*srv));
    static char *replicas[] = {"us-east", "eu-west"};
    evrepl_replicator_config rc = {.stub_replicas = replicas,
                                   .n_stub_replicas = 2,
                                   .n_instances = 1,
                                   .schema_version = evri_schema_version};
    if (srv == NULL || evri_stub_backend.shared_create(&rc, &srv->shared, &st) != EVREPL_CODE_OK ||
        evri_stub_backend.create(srv->shared, &srv->backend, &st) != EVREPL_CODE_OK) {
        fuzz_die("stub backend", &st);
    }
    if (evri_signer_generate(&srv->signer, &st) != EVREPL_CODE_OK) {
        fuzz_die("receipt key", &st);
    }
    srv->app = (evri_app){.version = "fuzz",
                          .schema_version = evri_schema_version,
                          .shared = srv->backend,
                          .receipt_signer = srv->signer};
    size_t n;
    const evri_service_binding *b = evri_handler_bindings(&n);
    char line[512];
    if (evri_auth_create(&srv->auth, b, n, &st) != EVREPL_CODE_OK ||
        evri_auth_token_line(srv->auth, FUZZ_TOKEN, "*", line, sizeof(line), &st) !=
            EVREPL_CODE_OK ||
        evri_auth_load_tokens_text(srv->auth, "fuzz", line, strlen(line), &st) != EVREPL_CODE_OK ||
        evri_auth_allow_uid(srv->auth, 1000, &st) != EVREPL_CODE_OK) {
        fuzz_die("access policy", &st);
    }
    evri_rpc_config cfg = {.bindings = b,
                           .n_bindings = n,
                           .backend_name = "stub",
                           .dev_mode = true,
                           .default_timeout_ms = 5000,
                           .max_timeout_ms = 60000,
                           .max_metadata_bytes = 8192,
                           .auth = srv->auth,
                           .app = &srv->app};
    if (evri_rpc_create(&srv->rpc, &cfg, &st) != EVREPL_CODE_OK) {
        fuzz_die("rpc", &st);
    }
    if ((srv->call = evri_call_create(srv->rpc)) == NULL) {
        abort();
    }
    return srv;
}

evri_rpc *
fuzz_rpc(void)
{
    return fuzz_server_get()->rpc;
}

void
fuzz_rpc_call(const uint8_t *body, size_t len, const evri_peer *peer)
{
    fuzz_server *srv = fuzz_server_get();
    evri_call_next next = evri_call_begin(srv->call, body, len, evri_now_ns(), peer);
    if (next != EVRI_CALL_REPLY) {
        evri_call_set_backend(srv->call, srv->backend);
        evri_call_run(srv->call);
    }
    const uint8_t *out;
    size_t out_len;
    if (evri_call_encode(srv->call, &out, &out_len) && out_len > 0) {
        // Touch every byte so that a bad length shows up under ASan.
        volatile uint8_t sink = 0;
        for (size_t i = 0; i < out_len; i++) {
            sink ^= out[i];
        }
        (void)sink;
    }
    evri_call_end(srv->call);
}
