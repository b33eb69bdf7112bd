// Handler functions, bound to methods in handlers.c.
#ifndef EVREPL_HANDLERS_HANDLERS_INT_H
#define EVREPL_HANDLERS_HANDLERS_INT_H

#include "handlers/handlers.h"
#include "rpc/call.h"

evrepl_code evri_handle_propagate_event(evri_call *call, const ProtobufCMessage *in,
                                        ProtobufCBuffer *out, evrepl_status *st);
evrepl_code evri_handle_verify_replicas(evri_call *call, const ProtobufCMessage *in,
                                        ProtobufCBuffer *out, evrepl_status *st);
evrepl_code evri_handle_health_check(evri_call *call, const ProtobufCMessage *in,
                                     ProtobufCBuffer *out, evrepl_status *st);
evrepl_code evri_handle_describe(evri_call *call, const ProtobufCMessage *in, ProtobufCBuffer *out,
                                 evrepl_status *st);

#endif // EVREPL_HANDLERS_HANDLERS_INT_H
