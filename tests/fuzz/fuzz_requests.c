// Fuzz target: every request message of every method, wrapped in a well-formed envelope (so
// the fuzzer spends its time in the payload decoders and handlers, not in the envelope), and
// every response message through libevrepl's decoders (what a hostile server could send).
//
// Input: one selector byte, then the message bytes. Selector bits 0-1 pick the method, bit 2
// sends the known bearer token, bit 7 switches to the response decoders.
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "evrepl/rpc/v1/envelope.pb-c.h"
#include "evrepl/types.h"
#include "fuzz.h"
#include "fuzz_rpc.h"
#include "rpc/wire.h"

static const char *const methods[] = {
    "/evrepl.v1.EventReplicator/PropagateEvent",
    "/evrepl.v1.EventReplicator/VerifyReplicas",
    "/evrepl.v1.Health/Check",
    "/evrepl.v1.Server/Describe",
};

static char *
mut(const char *s)
{
    union {
        const char *c;
        char *m;
    } u = {.c = s};
    return u.m;
}

static void
fuzz_request(unsigned sel, const uint8_t *data, size_t size)
{
    Evrepl__Rpc__V1__Request req = EVREPL__RPC__V1__REQUEST__INIT;
    Evrepl__Rpc__V1__Request__MetadataEntry auth = EVREPL__RPC__V1__REQUEST__METADATA_ENTRY__INIT;
    Evrepl__Rpc__V1__Request__MetadataEntry *meta[] = {&auth};
    auth.key = mut("authorization");
    auth.value = mut("Bearer " FUZZ_TOKEN);
    req.method = mut(methods[sel & 3u]);
    req.payload.len = size;
    union {
        const uint8_t *c;
        uint8_t *m;
    } p = {.c = data};
    req.payload.data = p.m;
    req.n_metadata = (sel & 4u) != 0 ? 1 : 0;
    req.metadata = meta;
    size_t len = evrepl__rpc__v1__request__get_packed_size(&req);
    uint8_t *body = malloc(len > 0 ? len : 1);
    if (body == NULL) {
        return;
    }
    evrepl__rpc__v1__request__pack(&req, body);
    fuzz_rpc_call(body, len, NULL);
    free(body);
}

static void
fuzz_response(unsigned sel, const uint8_t *data, size_t size)
{
    evrepl_status st;
    switch (sel & 3u) {
    case 0: {
        evrepl_receipt r;
        memset(&r, 0, sizeof(r));
        if (evri_wire_unpack_receipt(data, size, &r, &st) == EVREPL_CODE_OK) {
            evrepl_receipt_clear(&r);
        }
        break;
    }
    case 1: {
        evrepl_verification v;
        memset(&v, 0, sizeof(v));
        if (evri_wire_unpack_verification(data, size, &v, &st) == EVREPL_CODE_OK) {
            evrepl_verification_clear(&v);
        }
        break;
    }
    case 2: {
        evrepl_serving_status h;
        (void)evri_wire_unpack_health(data, size, &h, &st); // any outcome is fine
        break;
    }
    default: {
        evrepl_server_description d;
        memset(&d, 0, sizeof(d));
        if (evri_wire_unpack_description(data, size, &d, &st) == EVREPL_CODE_OK) {
            evrepl_server_description_clear(&d);
        }
        break;
    }
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0) {
        return 0;
    }
    unsigned sel = data[0];
    if ((sel & 0x80u) != 0) {
        fuzz_response(sel, data + 1, size - 1);
    } else {
        fuzz_request(sel, data + 1, size - 1);
    }
    return 0;
}
