// Handlers: wire messages <-> domain types for each service, calling the replicator port.
//
// Thread safety: handlers keep no state of their own; evri_app is read-only while serving.
#ifndef EVREPL_HANDLERS_HANDLERS_H
#define EVREPL_HANDLERS_HANDLERS_H

#include <stddef.h>

#include "common/metrics.h"
#include "domain/keys.h"
#include "ports/replicator.h"
#include "rpc/rpc.h"

// What every handler may read: given to the rpc layer as evri_rpc_config.app.
typedef struct evri_app {
    const char *version;        // the server's version string
    const char *schema_version; // the schema version this server expects
    // The instance that answers inline calls and the non-blocking slots (check_health,
    // describe) from any thread.
    evrepl_replicator shared;
    const evri_signer *receipt_signer; // NULL: receipts and results go unsigned
    evri_metrics *metrics;             // receipts and results counted; may be NULL
} evri_app;

// The services this server offers, bound to their handlers: EventReplicator, Health, Server.
// Returns the table and writes its length to *n.
const evri_service_binding *evri_handler_bindings(size_t *n);

// The name Health/Check uses for the EventReplicator service.
#define EVRI_SERVICE_EVENT_REPLICATOR "evrepl.v1.EventReplicator"

#endif // EVREPL_HANDLERS_HANDLERS_H
