// The method table: protoc-c's service descriptors name the methods and their message types;
// this table binds each method, by name, to its handler.
#include "handlers/handlers.h"

#include "evrepl/v1/health.pb-c.h"
#include "evrepl/v1/replicator.pb-c.h"
#include "evrepl/v1/server.pb-c.h"
#include "handlers/handlers_int.h"

static const evri_service_binding bindings[] = {
    {&evrepl__v1__event_replicator__descriptor, "PropagateEvent", evri_handle_propagate_event,
     EVRI_METHOD_BACKEND},
    {&evrepl__v1__event_replicator__descriptor, "VerifyReplicas", evri_handle_verify_replicas,
     EVRI_METHOD_BACKEND},
    {&evrepl__v1__health__descriptor, "Check", evri_handle_health_check, EVRI_METHOD_HEALTH},
    {&evrepl__v1__server__descriptor, "Describe", evri_handle_describe, 0},
};

const evri_service_binding *
evri_handler_bindings(size_t *n)
{
    *n = sizeof(bindings) / sizeof(bindings[0]);
    return bindings;
}
