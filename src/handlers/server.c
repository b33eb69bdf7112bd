// Server/Describe.
#include <string.h>

#include "domain/status.h"
#include "domain/strv.h"
#include "handlers/handlers_int.h"

evrepl_code
evri_handle_describe(evri_call *call, const ProtobufCMessage *in, ProtobufCBuffer *out,
                     evrepl_status *st)
{
    const evri_app *app = evri_call_app(call);
    const evrepl_replicator *b = &app->shared;
    evrepl_server_description d = {0};
    evrepl_code code = EVREPL_CODE_OK;
    (void)in; // DescribeRequest has no fields

    if (b->ops->describe != NULL && (code = b->ops->describe(b->self, &d, st)) != EVREPL_CODE_OK) {
        goto out;
    }
    d.dev_mode = b->ops->dev_mode;
    d.version = evri_strdup(app->version);
    d.backend = evri_strdup(b->ops->name);
    d.schema_version = evri_strdup(app->schema_version);
    d.receipt_key_id =
        evri_strdup(app->receipt_signer != NULL ? evri_signer_key_id(app->receipt_signer) : "");
    if (d.version == NULL || d.backend == NULL || d.schema_version == NULL ||
        d.receipt_key_id == NULL) {
        goto oom;
    }
    if (app->receipt_signer != NULL) {
        memcpy(d.receipt_public_key, evri_signer_public_key(app->receipt_signer),
               EVREPL_PUBLIC_KEY_BYTES);
        d.receipt_public_key_len = EVREPL_PUBLIC_KEY_BYTES;
    }
    for (size_t i = 0; i < evri_rpc_method_count(call->rpc); i++) {
        if (!evri_strv_push(&d.methods, &d.n_methods, evri_rpc_method_path(call->rpc, i))) {
            goto oom;
        }
    }
    if (!evri_wire_pack_description(&d, out)) {
        goto oom;
    }
    code = evri_status_ok(st);
    goto out;
oom:
    code = evri_status_set(st, EVREPL_CODE_INTERNAL, "out of memory describing the server");
out:
    evrepl_server_description_clear(&d);
    return code;
}
