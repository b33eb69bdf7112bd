// The stub backend: dev mode, no database. Knows no events; confirms every receipt on its
// simulated replicas (NOT_CONFIGURED without any) and verifies every simulated replica as
// healthy. A failure mode (stub_fail_code/stub_fail_after) lets tests script errors.
#ifndef EVREPL_ADAPTERS_STUB_STUB_H
#define EVREPL_ADAPTERS_STUB_STUB_H

#include "ports/replicator.h"

extern const evrepl_backend_def evri_stub_backend;

#endif // EVREPL_ADAPTERS_STUB_STUB_H
