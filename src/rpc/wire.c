#include "rpc/wire.h"

#include <stdlib.h>
#include <string.h>

#include "domain/status.h"
#include "domain/strv.h"
#include "evrepl/rpc/v1/envelope.pb-c.h"
#include "evrepl/v1/health.pb-c.h"
#include "evrepl/v1/replicator.pb-c.h"
#include "evrepl/v1/server.pb-c.h"
#include "google/protobuf/timestamp.pb-c.h"

// protoc-c declares string and bytes fields non-const although packing only reads them. These
// two helpers are the one place where borrowed const data is handed to such a field.
static char *
pb_str(const char *s)
{
    union {
        const char *c;
        char *m;
    } u = {.c = s != NULL ? s : ""};
    return u.m;
}

static ProtobufCBinaryData
pb_bytes(const uint8_t *p, size_t len)
{
    union {
        const uint8_t *c;
        uint8_t *m;
    } u = {.c = p};
    return (ProtobufCBinaryData){.len = len, .data = len > 0 ? u.m : NULL};
}

static char **
pb_strv(char *const *v)
{
    union {
        char *const *c;
        char **m;
    } u = {.c = v};
    return u.m;
}

// ---- evri_wbuf ---------------------------------------------------------------------------

// Makes room for n more bytes; false (and failed set) when memory runs out.
static bool
wbuf_reserve(evri_wbuf *b, size_t n)
{
    if (b->failed) {
        return false;
    }
    if (n > b->cap - b->len) {
        size_t cap = b->cap > 0 ? b->cap : 256;
        while (cap - b->len < n) {
            if (cap > SIZE_MAX / 2) {
                b->failed = true;
                return false;
            }
            cap *= 2;
        }
        uint8_t *d = realloc(b->data, cap);
        if (d == NULL) {
            b->failed = true;
            return false;
        }
        b->data = d;
        b->cap = cap;
    }
    return true;
}

static void
wbuf_append(ProtobufCBuffer *base, size_t len, const uint8_t *data)
{
    evri_wbuf *b = (evri_wbuf *)base;
    if (len == 0 || !wbuf_reserve(b, len)) {
        return;
    }
    memcpy(b->data + b->len, data, len);
    b->len += len;
}

void
evri_wbuf_init(evri_wbuf *b)
{
    memset(b, 0, sizeof(*b));
    b->base.append = wbuf_append;
}

void
evri_wbuf_free(evri_wbuf *b)
{
    free(b->data);
    evri_wbuf_init(b);
}

void
evri_wbuf_reset(evri_wbuf *b)
{
    b->len = 0;
    b->failed = false;
}

static bool
wbuf_ok(ProtobufCBuffer *out)
{
    return out->append != wbuf_append || !((evri_wbuf *)out)->failed;
}

bool
evri_wire_pack_message(const ProtobufCMessage *m, ProtobufCBuffer *out)
{
    if (out->append != wbuf_append) {
        protobuf_c_message_pack_to_buffer(m, out);
        return true;
    }
    // Into our own buffer: size it once and pack in place. protobuf-c's pack_to_buffer
    // appends field by field (tag, length and value separately, through a function pointer),
    // which costs several times more for the small messages that every call sends.
    evri_wbuf *b = (evri_wbuf *)out;
    size_t n = protobuf_c_message_get_packed_size(m);
    if (!wbuf_reserve(b, n)) {
        return false;
    }
    b->len += protobuf_c_message_pack(m, b->data + b->len);
    return true;
}

// ---- domain -> wire ----------------------------------------------------------------------

// Repeated sub-messages packed from the stack up to this many, from the heap beyond.
#define WIRE_LOCAL_ITEMS 16

static Google__Protobuf__Timestamp
pb_timestamp(evrepl_timestamp t)
{
    Google__Protobuf__Timestamp ts = GOOGLE__PROTOBUF__TIMESTAMP__INIT;
    ts.seconds = t.seconds;
    ts.nanos = t.nanos;
    return ts;
}

bool
evri_wire_pack_receipt(const evrepl_receipt *r, ProtobufCBuffer *out)
{
    Evrepl__V1__ReplicationReceipt m = EVREPL__V1__REPLICATION_RECEIPT__INIT;
    Google__Protobuf__Timestamp ts = pb_timestamp(r->timestamp);
    // Receipts name a few replicas: the acks fit on the stack, without two allocations per
    // call.
    Evrepl__V1__ReplicaAck acks_local[WIRE_LOCAL_ITEMS];
    Evrepl__V1__ReplicaAck *ackp_local[WIRE_LOCAL_ITEMS];
    Evrepl__V1__ReplicaAck *acks = acks_local;
    Evrepl__V1__ReplicaAck **ackp = ackp_local;
    if (r->n_acks > WIRE_LOCAL_ITEMS) {
        acks = calloc(r->n_acks, sizeof(*acks));
        ackp = calloc(r->n_acks, sizeof(*ackp));
        if (acks == NULL || ackp == NULL) {
            free(acks);
            free(ackp);
            return false;
        }
    }
    for (size_t i = 0; i < r->n_acks; i++) {
        const evrepl_replica_ack *a = &r->acks[i];
        evrepl__v1__replica_ack__init(&acks[i]);
        acks[i].replica_id = pb_str(a->replica_id);
        acks[i].state = (Evrepl__V1__AckState)a->state;
        acks[i].observed_content_hash =
            pb_bytes(a->observed_content_hash, a->observed_content_hash_len);
        acks[i].detail = pb_str(a->detail);
        ackp[i] = &acks[i];
    }
    m.event_id = pb_str(r->event_id);
    m.n_replica_ids = r->n_replica_ids;
    m.replica_ids = pb_strv(r->replica_ids);
    m.status = (Evrepl__V1__ReplicationStatus)r->status;
    m.timestamp = &ts;
    m.n_acks = r->n_acks;
    m.acks = ackp;
    m.content_hash = pb_bytes(r->content_hash, r->content_hash_len);
    m.signature = pb_bytes(r->signature, r->signature_len);
    m.signer_key_id = pb_str(r->signer_key_id);
    evri_wire_pack_message(&m.base, out);
    if (acks != acks_local) {
        free(acks);
        free(ackp);
    }
    return wbuf_ok(out);
}

bool
evri_wire_pack_verification(const evrepl_verification *v, ProtobufCBuffer *out)
{
    Evrepl__V1__VerificationResult m = EVREPL__V1__VERIFICATION_RESULT__INIT;
    Google__Protobuf__Timestamp ts = pb_timestamp(v->checked_at);
    Evrepl__V1__ReplicaVerification reps_local[WIRE_LOCAL_ITEMS];
    Evrepl__V1__ReplicaVerification *repp_local[WIRE_LOCAL_ITEMS];
    Evrepl__V1__ReplicaVerification *reps = reps_local;
    Evrepl__V1__ReplicaVerification **repp = repp_local;
    if (v->n_replicas > WIRE_LOCAL_ITEMS) {
        reps = calloc(v->n_replicas, sizeof(*reps));
        repp = calloc(v->n_replicas, sizeof(*repp));
        if (reps == NULL || repp == NULL) {
            free(reps);
            free(repp);
            return false;
        }
    }
    for (size_t i = 0; i < v->n_replicas; i++) {
        const evrepl_replica_verification *s = &v->replicas[i];
        Evrepl__V1__ReplicaVerification *d = &reps[i];
        evrepl__v1__replica_verification__init(d);
        d->replica_id = pb_str(s->replica_id);
        d->reachable = s->reachable;
        d->head_sequence = s->head_sequence;
        d->head_hash = pb_bytes(s->head_hash, s->head_hash_len);
        d->head_hash_match = s->head_hash_match;
        d->lag_events = s->lag_events;
        d->signature_valid = s->signature_valid;
        d->chain_valid = s->chain_valid;
        d->schema_version = pb_str(s->schema_version);
        d->schema_version_match = s->schema_version_match;
        d->n_errors = s->n_errors;
        d->errors = pb_strv(s->errors);
        d->events_checked = s->events_checked;
        d->diverged_at_sequence = s->diverged_at_sequence;
        repp[i] = d;
    }
    m.head_hash_match = v->head_hash_match;
    m.signature_valid = v->signature_valid;
    m.schema_version_match = v->schema_version_match;
    m.n_errors = v->n_errors;
    m.errors = pb_strv(v->errors);
    m.n_replicas = v->n_replicas;
    m.replicas = repp;
    m.checked_at = &ts;
    m.primary_head_sequence = v->primary_head_sequence;
    m.primary_head_hash = pb_bytes(v->primary_head_hash, v->primary_head_hash_len);
    m.schema_version = pb_str(v->schema_version);
    m.signature = pb_bytes(v->signature, v->signature_len);
    m.signer_key_id = pb_str(v->signer_key_id);
    evri_wire_pack_message(&m.base, out);
    if (reps != reps_local) {
        free(reps);
        free(repp);
    }
    return wbuf_ok(out);
}

bool
evri_wire_pack_description(const evrepl_server_description *d, ProtobufCBuffer *out)
{
    Evrepl__V1__ServerDescription m = EVREPL__V1__SERVER_DESCRIPTION__INIT;
    m.version = pb_str(d->version);
    m.backend = pb_str(d->backend);
    m.n_methods = d->n_methods;
    m.methods = pb_strv(d->methods);
    m.n_replica_ids = d->n_replica_ids;
    m.replica_ids = pb_strv(d->replica_ids);
    m.schema_version = pb_str(d->schema_version);
    m.dev_mode = d->dev_mode;
    m.receipt_key_id = pb_str(d->receipt_key_id);
    m.receipt_public_key = pb_bytes(d->receipt_public_key, d->receipt_public_key_len);
    evri_wire_pack_message(&m.base, out);
    return wbuf_ok(out);
}

bool
evri_wire_pack_health(evrepl_serving_status s, ProtobufCBuffer *out)
{
    Evrepl__V1__HealthCheckResponse m = EVREPL__V1__HEALTH_CHECK_RESPONSE__INIT;
    m.status = (Evrepl__V1__HealthCheckResponse__ServingStatus)s;
    evri_wire_pack_message(&m.base, out);
    return wbuf_ok(out);
}

bool
evri_wire_pack_propagate_request(const char *event_id, ProtobufCBuffer *out)
{
    Evrepl__V1__PropagateEventRequest m = EVREPL__V1__PROPAGATE_EVENT_REQUEST__INIT;
    m.event_id = pb_str(event_id);
    evri_wire_pack_message(&m.base, out);
    return wbuf_ok(out);
}

bool
evri_wire_pack_verify_request(const evrepl_verify_request *req, ProtobufCBuffer *out)
{
    Evrepl__V1__VerifyReplicasRequest m = EVREPL__V1__VERIFY_REPLICAS_REQUEST__INIT;
    if (req != NULL) {
        m.tail = req->tail;
        m.full_audit = req->full_audit;
    }
    evri_wire_pack_message(&m.base, out);
    return wbuf_ok(out);
}

bool
evri_wire_pack_health_request(const char *service, ProtobufCBuffer *out)
{
    Evrepl__V1__HealthCheckRequest m = EVREPL__V1__HEALTH_CHECK_REQUEST__INIT;
    m.service = pb_str(service);
    evri_wire_pack_message(&m.base, out);
    return wbuf_ok(out);
}

bool
evri_wire_pack_describe_request(ProtobufCBuffer *out)
{
    Evrepl__V1__DescribeRequest m = EVREPL__V1__DESCRIBE_REQUEST__INIT;
    evri_wire_pack_message(&m.base, out);
    return wbuf_ok(out);
}

// ---- wire -> domain ----------------------------------------------------------------------

static evrepl_code
bad_response(evrepl_status *st, const char *what)
{
    return evri_status_set(st, EVREPL_CODE_INTERNAL, "malformed response from server: %s", what);
}

// Copies a bytes field that must be empty or exactly `want` bytes long.
static bool
copy_fixed(uint8_t *dst, size_t *dst_len, ProtobufCBinaryData src, size_t want)
{
    if (src.len != 0 && src.len != want) {
        return false;
    }
    if (src.len > 0) {
        memcpy(dst, src.data, src.len);
    }
    *dst_len = src.len;
    return true;
}

static evrepl_timestamp
dom_timestamp(const Google__Protobuf__Timestamp *ts)
{
    evrepl_timestamp t = {0, 0};
    if (ts != NULL) {
        t.seconds = ts->seconds;
        t.nanos = ts->nanos;
    }
    return t;
}

evrepl_code
evri_wire_unpack_receipt(const uint8_t *buf, size_t len, evrepl_receipt *out, evrepl_status *st)
{
    Evrepl__V1__ReplicationReceipt *m = evrepl__v1__replication_receipt__unpack(NULL, len, buf);
    evrepl_receipt r = {0};
    const char *why = "not a ReplicationReceipt";
    if (m == NULL) {
        goto bad;
    }
    why = "event_id or signer_key_id too long";
    if (strlen(m->event_id) > EVREPL_UUID_STR_LEN || strlen(m->signer_key_id) > EVREPL_KEY_ID_MAX) {
        goto bad;
    }
    strcpy(r.event_id, m->event_id);
    strcpy(r.signer_key_id, m->signer_key_id);
    r.status = (evrepl_replication_status)m->status;
    r.timestamp = dom_timestamp(m->timestamp);
    why = "content_hash or signature has the wrong length";
    if (!copy_fixed(r.content_hash, &r.content_hash_len, m->content_hash, EVREPL_HASH_BYTES) ||
        !copy_fixed(r.signature, &r.signature_len, m->signature, EVREPL_SIGNATURE_BYTES)) {
        goto bad;
    }
    why = "out of memory";
    if (!evri_strv_copy(&r.replica_ids, &r.n_replica_ids, m->replica_ids, m->n_replica_ids)) {
        goto bad;
    }
    if (m->n_acks > 0 && (r.acks = calloc(m->n_acks, sizeof(*r.acks))) == NULL) {
        goto bad;
    }
    for (size_t i = 0; i < m->n_acks; i++) {
        const Evrepl__V1__ReplicaAck *a = m->acks[i];
        evrepl_replica_ack *d = &r.acks[i];
        r.n_acks++;
        d->state = (evrepl_ack_state)a->state;
        d->replica_id = evri_strdup(a->replica_id);
        d->detail = evri_strdup(a->detail);
        why = "out of memory";
        if (d->replica_id == NULL || d->detail == NULL) {
            goto bad;
        }
        why = "observed_content_hash has the wrong length";
        if (!copy_fixed(d->observed_content_hash, &d->observed_content_hash_len,
                        a->observed_content_hash, EVREPL_HASH_BYTES)) {
            goto bad;
        }
    }
    evrepl__v1__replication_receipt__free_unpacked(m, NULL);
    *out = r;
    return evri_status_ok(st);
bad:
    evrepl_receipt_clear(&r);
    if (m != NULL) {
        evrepl__v1__replication_receipt__free_unpacked(m, NULL);
    }
    return bad_response(st, why);
}

static bool
dom_replica(evrepl_replica_verification *d, const Evrepl__V1__ReplicaVerification *s,
            const char **why)
{
    *why = "out of memory";
    d->replica_id = evri_strdup(s->replica_id);
    d->schema_version = evri_strdup(s->schema_version);
    if (d->replica_id == NULL || d->schema_version == NULL ||
        !evri_strv_copy(&d->errors, &d->n_errors, s->errors, s->n_errors)) {
        return false;
    }
    d->reachable = s->reachable;
    d->head_sequence = s->head_sequence;
    d->head_hash_match = s->head_hash_match;
    d->lag_events = s->lag_events;
    d->signature_valid = s->signature_valid;
    d->chain_valid = s->chain_valid;
    d->schema_version_match = s->schema_version_match;
    d->events_checked = s->events_checked;
    d->diverged_at_sequence = s->diverged_at_sequence;
    *why = "a replica's head_hash has the wrong length";
    return copy_fixed(d->head_hash, &d->head_hash_len, s->head_hash, EVREPL_HASH_BYTES);
}

evrepl_code
evri_wire_unpack_verification(const uint8_t *buf, size_t len, evrepl_verification *out,
                              evrepl_status *st)
{
    Evrepl__V1__VerificationResult *m = evrepl__v1__verification_result__unpack(NULL, len, buf);
    evrepl_verification v = {0};
    const char *why = "not a VerificationResult";
    if (m == NULL) {
        goto bad;
    }
    why = "signer_key_id too long";
    if (strlen(m->signer_key_id) > EVREPL_KEY_ID_MAX) {
        goto bad;
    }
    strcpy(v.signer_key_id, m->signer_key_id);
    v.head_hash_match = m->head_hash_match;
    v.signature_valid = m->signature_valid;
    v.schema_version_match = m->schema_version_match;
    v.checked_at = dom_timestamp(m->checked_at);
    v.primary_head_sequence = m->primary_head_sequence;
    why = "primary_head_hash or signature has the wrong length";
    if (!copy_fixed(v.primary_head_hash, &v.primary_head_hash_len, m->primary_head_hash,
                    EVREPL_HASH_BYTES) ||
        !copy_fixed(v.signature, &v.signature_len, m->signature, EVREPL_SIGNATURE_BYTES)) {
        goto bad;
    }
    why = "out of memory";
    if ((v.schema_version = evri_strdup(m->schema_version)) == NULL ||
        !evri_strv_copy(&v.errors, &v.n_errors, m->errors, m->n_errors)) {
        goto bad;
    }
    if (m->n_replicas > 0 && (v.replicas = calloc(m->n_replicas, sizeof(*v.replicas))) == NULL) {
        goto bad;
    }
    for (size_t i = 0; i < m->n_replicas; i++) {
        v.n_replicas++;
        if (!dom_replica(&v.replicas[i], m->replicas[i], &why)) {
            goto bad;
        }
    }
    evrepl__v1__verification_result__free_unpacked(m, NULL);
    *out = v;
    return evri_status_ok(st);
bad:
    evrepl_verification_clear(&v);
    if (m != NULL) {
        evrepl__v1__verification_result__free_unpacked(m, NULL);
    }
    return bad_response(st, why);
}

evrepl_code
evri_wire_unpack_description(const uint8_t *buf, size_t len, evrepl_server_description *out,
                             evrepl_status *st)
{
    Evrepl__V1__ServerDescription *m = evrepl__v1__server_description__unpack(NULL, len, buf);
    evrepl_server_description d = {0};
    const char *why = "not a ServerDescription";
    if (m == NULL) {
        goto bad;
    }
    why = "receipt_public_key has the wrong length";
    if (!copy_fixed(d.receipt_public_key, &d.receipt_public_key_len, m->receipt_public_key,
                    EVREPL_PUBLIC_KEY_BYTES)) {
        goto bad;
    }
    why = "out of memory";
    d.dev_mode = m->dev_mode;
    if ((d.version = evri_strdup(m->version)) == NULL ||
        (d.backend = evri_strdup(m->backend)) == NULL ||
        (d.schema_version = evri_strdup(m->schema_version)) == NULL ||
        (d.receipt_key_id = evri_strdup(m->receipt_key_id)) == NULL ||
        !evri_strv_copy(&d.methods, &d.n_methods, m->methods, m->n_methods) ||
        !evri_strv_copy(&d.replica_ids, &d.n_replica_ids, m->replica_ids, m->n_replica_ids)) {
        goto bad;
    }
    evrepl__v1__server_description__free_unpacked(m, NULL);
    *out = d;
    return evri_status_ok(st);
bad:
    evrepl_server_description_clear(&d);
    if (m != NULL) {
        evrepl__v1__server_description__free_unpacked(m, NULL);
    }
    return bad_response(st, why);
}

evrepl_code
evri_wire_unpack_health(const uint8_t *buf, size_t len, evrepl_serving_status *out,
                        evrepl_status *st)
{
    Evrepl__V1__HealthCheckResponse *m = evrepl__v1__health_check_response__unpack(NULL, len, buf);
    if (m == NULL) {
        return bad_response(st, "not a HealthCheckResponse");
    }
    *out = (evrepl_serving_status)m->status;
    evrepl__v1__health_check_response__free_unpacked(m, NULL);
    return evri_status_ok(st);
}
