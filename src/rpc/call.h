// The handler side of the rpc layer: the call struct, handler signature and method table.
// Only rpc/ and handlers/ include this header.
#ifndef EVREPL_RPC_CALL_H
#define EVREPL_RPC_CALL_H

#include <stdatomic.h>

#include <protobuf-c/protobuf-c.h>

#include "evrepl/rpc/v1/envelope.pb-c.h"
#include "rpc/rpc.h"
#include "rpc/wire.h"

// Handles one method: reads the unpacked request, asks the port, packs the response message
// onto out. Returns OK, or a code with st filled. Runs inline on a transport callback (must
// not block) unless its method has EVRI_METHOD_BACKEND and the backend is blocking.
typedef evrepl_code (*evri_handler_fn)(evri_call *call, const ProtobufCMessage *req,
                                       ProtobufCBuffer *out, evrepl_status *st);

enum evri_method_flags {
    EVRI_METHOD_BACKEND = 1u << 0, // calls propagate_event/verify_replicas of the port
    EVRI_METHOD_HEALTH = 1u << 1,  // answers while draining (with NOT_SERVING)
};

// One method of a protoc-c service, bound to its handler by name.
struct evri_service_binding {
    const ProtobufCServiceDescriptor *service;
    const char *method; // the method's name in the .proto, "PropagateEvent"
    evri_handler_fn handler;
    unsigned flags; // enum evri_method_flags
};

typedef struct evri_method {
    char *path; // "/evrepl.v1.Health/Check"
    const ProtobufCMethodDescriptor *desc;
    evri_handler_fn handler;
    unsigned flags;
    unsigned metric; // its method label in evri_metrics
} evri_method;

struct evri_rpc {
    evri_rpc_config cfg;
    evri_method *methods;
    size_t n_methods;
    atomic_bool draining;
};

// Deepest message nesting accepted on input (envelope -> metadata entry is 2).
#define EVRI_MAX_NESTING 8

// Bytes of a call's decode arena: the unpacked Request and payload of every call this
// server answers fit (a few hundred bytes); larger ones take the rest from malloc.
#define EVRI_CALL_ARENA_BYTES 2048

struct evri_call {
    const evri_rpc *rpc;
    // protobuf-c allocates the unpacked messages here (bump allocation, reset per call), so a
    // call's decode costs no malloc/free pairs.
    ProtobufCAllocator alloc;
    size_t arena_used;
    _Alignas(16) uint8_t arena[EVRI_CALL_ARENA_BYTES];
    uint64_t received_ns;
    uint64_t deadline_ns;
    Evrepl__Rpc__V1__Request *req; // NULL when the body did not decode
    const evri_method *method;     // NULL when unknown
    ProtobufCMessage *in;          // the method's unpacked request
    const char *request_id;        // borrowed from req; NULL when absent
    const char *authorization;     // borrowed from req; NULL when absent
    evri_peer peer;
    evrepl_replicator backend; // the instance the handler uses
    evrepl_status status;
    evri_wbuf out;  // the packed response message
    evri_wbuf resp; // the packed Response envelope
};

// The handlers' shared context, as given in evri_rpc_config.app.
static inline void *
evri_call_app(const evri_call *call)
{
    return call->rpc->cfg.app;
}

#endif // EVREPL_RPC_CALL_H
