// Wire <-> domain: the only place that maps protoc-c messages to include/evrepl/types.h.
// The server packs domain results into response payloads; the client library unpacks them.
//
// Thread safety: pure.
#ifndef EVREPL_RPC_WIRE_H
#define EVREPL_RPC_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <protobuf-c/protobuf-c.h>

#include "evrepl/status.h"
#include "evrepl/types.h"

// Pack a domain value as its wire message (ReplicationReceipt, VerificationResult,
// ServerDescription, HealthCheckResponse) onto out. Return false only when memory runs out.
bool evri_wire_pack_receipt(const evrepl_receipt *r, ProtobufCBuffer *out);
bool evri_wire_pack_verification(const evrepl_verification *v, ProtobufCBuffer *out);
bool evri_wire_pack_description(const evrepl_server_description *d, ProtobufCBuffer *out);
bool evri_wire_pack_health(evrepl_serving_status s, ProtobufCBuffer *out);

// Unpack a response payload into a zeroed domain struct. INTERNAL when the bytes are not the
// expected message or break the contract (a hash that is not 32 bytes, ...); *out is written
// only on OK.
evrepl_code evri_wire_unpack_receipt(const uint8_t *buf, size_t len, evrepl_receipt *out,
                                     evrepl_status *st);
evrepl_code evri_wire_unpack_verification(const uint8_t *buf, size_t len, evrepl_verification *out,
                                          evrepl_status *st);
evrepl_code evri_wire_unpack_description(const uint8_t *buf, size_t len,
                                         evrepl_server_description *out, evrepl_status *st);
evrepl_code evri_wire_unpack_health(const uint8_t *buf, size_t len, evrepl_serving_status *out,
                                    evrepl_status *st);

// Pack a request message for the client: PropagateEventRequest, VerifyReplicasRequest,
// HealthCheckRequest, DescribeRequest. Return false only when memory runs out.
bool evri_wire_pack_propagate_request(const char *event_id, ProtobufCBuffer *out);
bool evri_wire_pack_verify_request(const evrepl_verify_request *req, ProtobufCBuffer *out);
bool evri_wire_pack_health_request(const char *service, ProtobufCBuffer *out);
bool evri_wire_pack_describe_request(ProtobufCBuffer *out);

// A growable buffer usable as a ProtobufCBuffer that records allocation failure instead of
// aborting. Free with evri_wbuf_free().
typedef struct evri_wbuf {
    ProtobufCBuffer base;
    uint8_t *data;
    size_t len;
    size_t cap;
    bool failed; // an append ran out of memory
} evri_wbuf;

void evri_wbuf_init(evri_wbuf *b);
void evri_wbuf_free(evri_wbuf *b);
// Drops the contents but keeps the allocation.
void evri_wbuf_reset(evri_wbuf *b);

// Packs any message onto out: sized once and packed in place when out is an evri_wbuf (much
// cheaper than protobuf-c's field-by-field pack_to_buffer), else through out->append. False
// only when an evri_wbuf ran out of memory.
bool evri_wire_pack_message(const ProtobufCMessage *m, ProtobufCBuffer *out);

#endif // EVREPL_RPC_WIRE_H
