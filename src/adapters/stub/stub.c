#include "adapters/stub/stub.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "domain/status.h"
#include "domain/strv.h"

typedef struct stub_state {
    char **replicas;
    size_t n_replicas;
    char *schema_version;
    evrepl_code fail_code;
    uint64_t fail_after;
    atomic_uint_fast64_t calls; // counts calls for the failure mode
    evri_log *log;
    evrepl_replicator_observer observer;
} stub_state;

static void
stub_shared_destroy(void *shared)
{
    stub_state *s = shared;
    if (s == NULL) {
        return;
    }
    evri_strv_free(&s->replicas, &s->n_replicas);
    free(s->schema_version);
    free(s);
}

static evrepl_code
stub_shared_create(const evrepl_replicator_config *cfg, void **shared, evrepl_status *st)
{
    stub_state *s = calloc(1, sizeof(*s));
    if (s == NULL) {
        return evri_status_set(st, EVREPL_CODE_INTERNAL, "out of memory creating the stub");
    }
    if (!evri_strv_copy(&s->replicas, &s->n_replicas, cfg->stub_replicas, cfg->n_stub_replicas) ||
        (s->schema_version = evri_strdup(cfg->schema_version != NULL ? cfg->schema_version : "")) ==
            NULL) {
        stub_shared_destroy(s);
        return evri_status_set(st, EVREPL_CODE_INTERNAL, "out of memory creating the stub");
    }
    s->fail_code = cfg->stub_fail_code;
    s->fail_after = cfg->stub_fail_after;
    s->log = cfg->log;
    s->observer = cfg->observer;
    atomic_init(&s->calls, 0);
    *shared = s;
    return evri_status_ok(st);
}

// The failure mode: every call from the (fail_after+1)th on fails with fail_code.
static bool
stub_should_fail(stub_state *s, evrepl_status *st)
{
    uint64_t n = atomic_fetch_add(&s->calls, 1);
    if (s->fail_code == EVREPL_CODE_OK || n < s->fail_after) {
        return false;
    }
    evri_status_set(st, s->fail_code, "stub failure mode: simulated %s",
                    evrepl_code_name(s->fail_code));
    return true;
}

static evrepl_code
stub_propagate_event(void *self, const char *event_id, uint64_t deadline_ns, evrepl_receipt *out,
                     evrepl_status *st)
{
    stub_state *s = self;
    (void)deadline_ns; // the stub answers at once
    if (stub_should_fail(s, st)) {
        return st != NULL ? st->code : s->fail_code;
    }
    evrepl_receipt r = {0};
    snprintf(r.event_id, sizeof(r.event_id), "%s", event_id);
    r.timestamp = evri_wallclock();
    r.status = s->n_replicas == 0 ? EVREPL_REPLICATION_STATUS_NOT_CONFIGURED
                                  : EVREPL_REPLICATION_STATUS_CONFIRMED;
    if (s->n_replicas > 0) {
        r.acks = calloc(s->n_replicas, sizeof(*r.acks));
        if (r.acks == NULL ||
            !evri_strv_copy(&r.replica_ids, &r.n_replica_ids, s->replicas, s->n_replicas)) {
            goto oom;
        }
        for (size_t i = 0; i < s->n_replicas; i++) {
            r.n_acks++;
            r.acks[i].state = EVREPL_ACK_STATE_CONFIRMED;
            r.acks[i].replica_id = evri_strdup(s->replicas[i]);
            r.acks[i].detail = evri_strdup("simulated replica (stub backend)");
            if (r.acks[i].replica_id == NULL || r.acks[i].detail == NULL) {
                goto oom;
            }
        }
    }
    *out = r;
    return evri_status_ok(st);
oom:
    evrepl_receipt_clear(&r);
    return evri_status_set(st, EVREPL_CODE_INTERNAL, "out of memory building a stub receipt");
}

static evrepl_code
stub_verify_replicas(void *self, const evrepl_verify_request *req, uint64_t deadline_ns,
                     evrepl_verification *out, evrepl_status *st)
{
    stub_state *s = self;
    (void)req;
    (void)deadline_ns;
    if (stub_should_fail(s, st)) {
        return st != NULL ? st->code : s->fail_code;
    }
    evrepl_verification v = {0};
    v.head_hash_match = true;
    v.signature_valid = true;
    v.schema_version_match = true;
    v.checked_at = evri_wallclock();
    if ((v.schema_version = evri_strdup(s->schema_version)) == NULL) {
        goto oom;
    }
    if (s->n_replicas == 0) {
        if (!evri_strv_push(&v.errors, &v.n_errors,
                            "no replicas configured: nothing was verified")) {
            goto oom;
        }
    } else {
        v.replicas = calloc(s->n_replicas, sizeof(*v.replicas));
        if (v.replicas == NULL) {
            goto oom;
        }
        for (size_t i = 0; i < s->n_replicas; i++) {
            evrepl_replica_verification *rv = &v.replicas[i];
            v.n_replicas++;
            rv->replica_id = evri_strdup(s->replicas[i]);
            rv->schema_version = evri_strdup(s->schema_version);
            if (rv->replica_id == NULL || rv->schema_version == NULL) {
                goto oom;
            }
            rv->reachable = true;
            rv->head_hash_match = true;
            rv->signature_valid = true;
            rv->chain_valid = true;
            rv->schema_version_match = true;
        }
    }
    // Its simulated replicas are reported like real ones, so dev mode shows the metrics too.
    evrepl_observer_report_verification(&s->observer, &v, NULL);
    *out = v;
    return evri_status_ok(st);
oom:
    evrepl_verification_clear(&v);
    return evri_status_set(st, EVREPL_CODE_INTERNAL, "out of memory building a stub result");
}

static evrepl_code
stub_describe(void *self, evrepl_server_description *out, evrepl_status *st)
{
    stub_state *s = self;
    if (!evri_strv_copy(&out->replica_ids, &out->n_replica_ids, s->replicas, s->n_replicas)) {
        return evri_status_set(st, EVREPL_CODE_INTERNAL, "out of memory describing the stub");
    }
    return evri_status_ok(st);
}

static void
stub_destroy(void *self)
{
    (void)self; // instances are the shared state, freed by stub_shared_destroy
}

static const evrepl_replicator_ops stub_ops = {
    .version = EVREPL_REPLICATOR_OPS_VERSION,
    .name = "stub",
    .blocking = false,
    .dev_mode = true,
    .propagate_event = stub_propagate_event,
    .verify_replicas = stub_verify_replicas,
    .check_health = NULL, // always SERVING
    .describe = stub_describe,
    .destroy = stub_destroy,
};

static evrepl_code
stub_create(void *shared, evrepl_replicator *out, evrepl_status *st)
{
    out->ops = &stub_ops;
    out->self = shared;
    return evri_status_ok(st);
}

const evrepl_backend_def evri_stub_backend = {
    .name = "stub",
    .shared_create = stub_shared_create,
    .shared_destroy = stub_shared_destroy,
    .create = stub_create,
};
