// Health/Check, shaped like grpc.health.v1.
#include <string.h>

#include "domain/status.h"
#include "evrepl/v1/health.pb-c.h"
#include "handlers/handlers_int.h"

evrepl_code
evri_handle_health_check(evri_call *call, const ProtobufCMessage *in, ProtobufCBuffer *out,
                         evrepl_status *st)
{
    const Evrepl__V1__HealthCheckRequest *req = (const Evrepl__V1__HealthCheckRequest *)in;
    const evri_app *app = evri_call_app(call);
    evrepl_serving_status s = EVREPL_SERVING_STATUS_SERVING;

    if (req->service[0] != '\0' && strcmp(req->service, EVRI_SERVICE_EVENT_REPLICATOR) != 0) {
        char q[96];
        evri_quote_untrusted(q, sizeof(q), req->service, strlen(req->service));
        return evri_status_set(st, EVREPL_CODE_NOT_FOUND,
                               "unknown service '%s' (known: '' and '%s')", q,
                               EVRI_SERVICE_EVENT_REPLICATOR);
    }
    if (evri_rpc_draining(call->rpc)) {
        s = EVREPL_SERVING_STATUS_NOT_SERVING;
    } else if (req->service[0] != '\0' && app->shared.ops->check_health != NULL) {
        evrepl_code code = app->shared.ops->check_health(app->shared.self, &s, st);
        if (code != EVREPL_CODE_OK) {
            return code;
        }
    }
    if (!evri_wire_pack_health(s, out)) {
        return evri_status_set(st, EVREPL_CODE_INTERNAL, "out of memory packing a response");
    }
    return evri_status_ok(st);
}
