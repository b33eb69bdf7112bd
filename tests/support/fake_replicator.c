#include "support/fake_replicator.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/clock.h"
#include "domain/status.h"
#include "domain/strv.h"

static bool
fake_enter(fake_replicator *f, uint64_t deadline_ns, evrepl_status *st)
{
    uint64_t n = atomic_fetch_add(&f->calls, 1) + 1;
    uint64_t now_running = atomic_fetch_add(&f->concurrent, 1) + 1;
    uint64_t max = atomic_load(&f->max_concurrent);
    while (now_running > max &&
           !atomic_compare_exchange_weak(&f->max_concurrent, &max, now_running)) {
    }
    if (f->script.sleep_ms > 0) {
        uint64_t until = evri_now_ns() + (uint64_t)f->script.sleep_ms * EVRI_NS_PER_MS;
        if (f->script.honour_deadline && deadline_ns < until) {
            until = deadline_ns;
        }
        while (evri_now_ns() < until) {
            struct timespec ts = {0, 1000 * 1000};
            nanosleep(&ts, NULL);
        }
    }
    atomic_fetch_sub(&f->concurrent, 1);
    if (f->script.fail_code != EVREPL_CODE_OK && f->script.fail_from_call > 0 &&
        n >= f->script.fail_from_call) {
        evri_status_set(st, f->script.fail_code, "fake failure %s on call %llu",
                        evrepl_code_name(f->script.fail_code), (unsigned long long)n);
        return false;
    }
    return true;
}

static evrepl_code
fake_propagate(void *self, const char *event_id, uint64_t deadline_ns, evrepl_receipt *out,
               evrepl_status *st)
{
    fake_replicator *f = self;
    if (!fake_enter(f, deadline_ns, st)) {
        return st->code;
    }
    snprintf(out->event_id, sizeof(out->event_id), "%s", event_id);
    out->status = f->script.n_replicas > 0 ? EVREPL_REPLICATION_STATUS_PENDING
                                           : EVREPL_REPLICATION_STATUS_NOT_CONFIGURED;
    out->timestamp = evri_wallclock();
    memset(out->content_hash, 0xab, sizeof(out->content_hash));
    out->content_hash_len = EVREPL_HASH_BYTES;
    if (f->script.n_replicas > 0) {
        out->acks = calloc(f->script.n_replicas, sizeof(*out->acks));
        for (size_t i = 0; i < f->script.n_replicas; i++) {
            out->acks[i].replica_id = evri_strdup(f->script.replica_ids[i]);
            out->acks[i].detail = evri_strdup(i == 0 ? "confirmed" : "not yet applied");
            out->acks[i].state = i == 0 ? EVREPL_ACK_STATE_CONFIRMED : EVREPL_ACK_STATE_PENDING;
            if (i == 0) {
                memcpy(out->acks[i].observed_content_hash, out->content_hash, EVREPL_HASH_BYTES);
                out->acks[i].observed_content_hash_len = EVREPL_HASH_BYTES;
                evri_strv_push(&out->replica_ids, &out->n_replica_ids, f->script.replica_ids[0]);
            }
            out->n_acks++;
        }
    }
    return evri_status_ok(st);
}

static evrepl_code
fake_verify(void *self, const evrepl_verify_request *req, uint64_t deadline_ns,
            evrepl_verification *out, evrepl_status *st)
{
    fake_replicator *f = self;
    if (!fake_enter(f, deadline_ns, st)) {
        return st->code;
    }
    out->head_hash_match = true;
    out->signature_valid = req->tail < 1000; // lets a test see the request arrived intact
    out->schema_version_match = true;
    out->primary_head_sequence = req->full_audit ? 77 : req->tail;
    out->schema_version = evri_strdup("0002");
    out->checked_at = evri_wallclock();
    evri_strv_push(&out->errors, &out->n_errors, "fake: replica x lagging at sequence 5");
    return evri_status_ok(st);
}

static evrepl_code
fake_health(void *self, evrepl_serving_status *out, evrepl_status *st)
{
    fake_replicator *f = self;
    *out = f->script.health;
    return evri_status_ok(st);
}

static evrepl_code
fake_describe(void *self, evrepl_server_description *out, evrepl_status *st)
{
    fake_replicator *f = self;
    for (size_t i = 0; i < f->script.n_replicas; i++) {
        evri_strv_push(&out->replica_ids, &out->n_replica_ids, f->script.replica_ids[i]);
    }
    return evri_status_ok(st);
}

static void
fake_idle(void *self)
{
    fake_replicator *f = self;
    atomic_fetch_add(&f->idle_calls, 1);
}

static void
fake_destroy(void *self)
{
    (void)self;
}

evrepl_replicator
fake_replicator_init(fake_replicator *f, const fake_script *script)
{
    memset(f, 0, sizeof(*f));
    f->script = *script;
    atomic_init(&f->calls, 0);
    atomic_init(&f->concurrent, 0);
    atomic_init(&f->max_concurrent, 0);
    atomic_init(&f->idle_calls, 0);
    f->ops = (evrepl_replicator_ops){
        .version = EVREPL_REPLICATOR_OPS_VERSION,
        .name = "fake",
        .blocking = script->blocking,
        .dev_mode = false,
        .propagate_event = fake_propagate,
        .verify_replicas = fake_verify,
        .check_health = fake_health,
        .describe = fake_describe,
        .idle = script->no_idle_op ? NULL : fake_idle,
        .destroy = fake_destroy,
    };
    return (evrepl_replicator){.ops = &f->ops, .self = f};
}
