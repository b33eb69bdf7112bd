// Lifetimes and names of the public domain types (include/evrepl/types.h).
#include <stdlib.h>
#include <string.h>

#include "domain/strv.h"
#include "evrepl/types.h"

const char *
evrepl_replication_status_name(evrepl_replication_status s)
{
    switch (s) {
    case EVREPL_REPLICATION_STATUS_UNSPECIFIED:
        return "REPLICATION_STATUS_UNSPECIFIED";
    case EVREPL_REPLICATION_STATUS_PENDING:
        return "REPLICATION_STATUS_PENDING";
    case EVREPL_REPLICATION_STATUS_CONFIRMED:
        return "REPLICATION_STATUS_CONFIRMED";
    case EVREPL_REPLICATION_STATUS_FAILED:
        return "REPLICATION_STATUS_FAILED";
    case EVREPL_REPLICATION_STATUS_NOT_CONFIGURED:
        return "REPLICATION_STATUS_NOT_CONFIGURED";
    }
    return "UNKNOWN_VALUE";
}

const char *
evrepl_ack_state_name(evrepl_ack_state s)
{
    switch (s) {
    case EVREPL_ACK_STATE_UNSPECIFIED:
        return "ACK_STATE_UNSPECIFIED";
    case EVREPL_ACK_STATE_CONFIRMED:
        return "ACK_STATE_CONFIRMED";
    case EVREPL_ACK_STATE_PENDING:
        return "ACK_STATE_PENDING";
    case EVREPL_ACK_STATE_MISMATCH:
        return "ACK_STATE_MISMATCH";
    case EVREPL_ACK_STATE_UNREACHABLE:
        return "ACK_STATE_UNREACHABLE";
    }
    return "UNKNOWN_VALUE";
}

const char *
evrepl_serving_status_name(evrepl_serving_status s)
{
    switch (s) {
    case EVREPL_SERVING_STATUS_UNKNOWN:
        return "UNKNOWN";
    case EVREPL_SERVING_STATUS_SERVING:
        return "SERVING";
    case EVREPL_SERVING_STATUS_NOT_SERVING:
        return "NOT_SERVING";
    case EVREPL_SERVING_STATUS_SERVICE_UNKNOWN:
        return "SERVICE_UNKNOWN";
    }
    return "UNKNOWN_VALUE";
}

void
evrepl_receipt_clear(evrepl_receipt *r)
{
    if (r == NULL) {
        return;
    }
    evri_strv_free(&r->replica_ids, &r->n_replica_ids);
    for (size_t i = 0; r->acks != NULL && i < r->n_acks; i++) {
        free(r->acks[i].replica_id);
        free(r->acks[i].detail);
    }
    free(r->acks);
    memset(r, 0, sizeof(*r));
}

bool
evrepl_verification_is_valid(const evrepl_verification *v)
{
    return v != NULL && v->head_hash_match && v->signature_valid && v->schema_version_match &&
           v->n_errors == 0;
}

void
evrepl_verification_clear(evrepl_verification *v)
{
    if (v == NULL) {
        return;
    }
    evri_strv_free(&v->errors, &v->n_errors);
    for (size_t i = 0; v->replicas != NULL && i < v->n_replicas; i++) {
        evrepl_replica_verification *rv = &v->replicas[i];
        free(rv->replica_id);
        free(rv->schema_version);
        evri_strv_free(&rv->errors, &rv->n_errors);
    }
    free(v->replicas);
    free(v->schema_version);
    memset(v, 0, sizeof(*v));
}

void
evrepl_server_description_clear(evrepl_server_description *d)
{
    if (d == NULL) {
        return;
    }
    free(d->version);
    free(d->backend);
    evri_strv_free(&d->methods, &d->n_methods);
    evri_strv_free(&d->replica_ids, &d->n_replica_ids);
    free(d->schema_version);
    free(d->receipt_key_id);
    memset(d, 0, sizeof(*d));
}
