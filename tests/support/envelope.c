#include "support/envelope.h"

#include <stdlib.h>
#include <string.h>

#include "evrepl/v1/health.pb-c.h"
#include "evrepl/v1/replicator.pb-c.h"

static char *
mut(const char *s)
{
    union {
        const char *c;
        char *m;
    } u = {.c = s};
    return u.m;
}

uint8_t *
tenv_request(const char *method, const void *payload, size_t payload_len, uint32_t timeout_ms,
             const tenv_meta *meta, size_t n_meta, size_t *len)
{
    Evrepl__Rpc__V1__Request r = EVREPL__RPC__V1__REQUEST__INIT;
    Evrepl__Rpc__V1__Request__MetadataEntry *e = calloc(n_meta + 1, sizeof(*e));
    Evrepl__Rpc__V1__Request__MetadataEntry **ep = calloc(n_meta + 1, sizeof(*ep));
    for (size_t i = 0; i < n_meta; i++) {
        evrepl__rpc__v1__request__metadata_entry__init(&e[i]);
        e[i].key = mut(meta[i].key);
        e[i].value = mut(meta[i].value);
        ep[i] = &e[i];
    }
    r.method = mut(method);
    r.payload.len = payload_len;
    union {
        const void *c;
        uint8_t *m;
    } p = {.c = payload};
    r.payload.data = p.m;
    r.timeout_ms = timeout_ms;
    r.n_metadata = n_meta;
    r.metadata = ep;
    *len = evrepl__rpc__v1__request__get_packed_size(&r);
    uint8_t *buf = malloc(*len + 1);
    evrepl__rpc__v1__request__pack(&r, buf);
    free(e);
    free(ep);
    return buf;
}

uint8_t *
tenv_propagate(const char *event_id, size_t *len)
{
    Evrepl__V1__PropagateEventRequest m = EVREPL__V1__PROPAGATE_EVENT_REQUEST__INIT;
    m.event_id = mut(event_id);
    *len = evrepl__v1__propagate_event_request__get_packed_size(&m);
    uint8_t *buf = malloc(*len + 1);
    evrepl__v1__propagate_event_request__pack(&m, buf);
    return buf;
}

uint8_t *
tenv_health(const char *service, size_t *len)
{
    Evrepl__V1__HealthCheckRequest m = EVREPL__V1__HEALTH_CHECK_REQUEST__INIT;
    m.service = mut(service);
    *len = evrepl__v1__health_check_request__get_packed_size(&m);
    uint8_t *buf = malloc(*len + 1);
    evrepl__v1__health_check_request__pack(&m, buf);
    return buf;
}

uint8_t *
tenv_verify(uint32_t tail, int full_audit, size_t *len)
{
    Evrepl__V1__VerifyReplicasRequest m = EVREPL__V1__VERIFY_REPLICAS_REQUEST__INIT;
    m.tail = tail;
    m.full_audit = full_audit != 0;
    *len = evrepl__v1__verify_replicas_request__get_packed_size(&m);
    uint8_t *buf = malloc(*len + 1);
    evrepl__v1__verify_replicas_request__pack(&m, buf);
    return buf;
}

const char *
tenv_meta_get(const Evrepl__Rpc__V1__Response *r, const char *key)
{
    const char *v = NULL;
    for (size_t i = 0; i < r->n_metadata; i++) {
        if (strcmp(r->metadata[i]->key, key) == 0) {
            v = r->metadata[i]->value;
        }
    }
    return v;
}
