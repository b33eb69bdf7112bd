// EventReplicator: PropagateEvent and VerifyReplicas.
#include "handlers/handlers_int.h"

#include "domain/receipt.h"
#include "domain/status.h"
#include "evrepl/v1/replicator.pb-c.h"

evrepl_code
evri_handle_propagate_event(evri_call *call, const ProtobufCMessage *in, ProtobufCBuffer *out,
                            evrepl_status *st)
{
    const Evrepl__V1__PropagateEventRequest *req = (const Evrepl__V1__PropagateEventRequest *)in;
    const evri_app *app = evri_call_app(call);
    uint8_t uuid[16];
    char event_id[EVREPL_UUID_STR_LEN + 1];
    evrepl_receipt r = {0};
    evrepl_code code;

    if (evrepl_uuid_parse(req->event_id, uuid, st) != EVREPL_CODE_OK) {
        return EVREPL_CODE_INVALID_ARGUMENT;
    }
    evrepl_uuid_format(uuid, event_id);
    code =
        call->backend.ops->propagate_event(call->backend.self, event_id, call->deadline_ns, &r, st);
    if (code != EVREPL_CODE_OK) {
        evrepl_receipt_clear(&r);
        return code;
    }
    evri_metrics_receipt(app->metrics, r.status);
    if (app->receipt_signer != NULL) {
        code = evri_receipt_sign(&r, app->receipt_signer, st);
    }
    if (code == EVREPL_CODE_OK && !evri_wire_pack_receipt(&r, out)) {
        code = evri_status_set(st, EVREPL_CODE_INTERNAL, "out of memory packing a receipt");
    }
    evrepl_receipt_clear(&r);
    return code;
}

evrepl_code
evri_handle_verify_replicas(evri_call *call, const ProtobufCMessage *in, ProtobufCBuffer *out,
                            evrepl_status *st)
{
    const Evrepl__V1__VerifyReplicasRequest *req = (const Evrepl__V1__VerifyReplicasRequest *)in;
    const evri_app *app = evri_call_app(call);
    evrepl_verify_request vr = {.tail = req->tail, .full_audit = req->full_audit};
    evrepl_verification v = {0};
    evrepl_code code;

    code = call->backend.ops->verify_replicas(call->backend.self, &vr, call->deadline_ns, &v, st);
    if (code != EVREPL_CODE_OK) {
        evrepl_verification_clear(&v);
        return code;
    }
    evri_metrics_verification(app->metrics, evrepl_verification_is_valid(&v));
    if (app->receipt_signer != NULL) {
        code = evri_verification_sign(&v, app->receipt_signer, st);
    }
    if (code == EVREPL_CODE_OK && !evri_wire_pack_verification(&v, out)) {
        code = evri_status_set(st, EVREPL_CODE_INTERNAL,
                               "out of memory packing a verification result");
    }
    evrepl_verification_clear(&v);
    return code;
}
