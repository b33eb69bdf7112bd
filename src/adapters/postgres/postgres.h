// The postgres backend: confirms and verifies replicas fed by PostgreSQL logical
// replication (libpq, non-blocking, all nodes at once).
#ifndef EVREPL_ADAPTERS_POSTGRES_POSTGRES_H
#define EVREPL_ADAPTERS_POSTGRES_POSTGRES_H

#include "ports/replicator.h"

extern const evrepl_backend_def evri_pg_backend;

#endif // EVREPL_ADAPTERS_POSTGRES_POSTGRES_H
