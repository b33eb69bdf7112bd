// Placeholder until the postgres backend lands: refuses to start with a clear error.
#include "adapters/postgres/postgres.h"

#include "domain/status.h"

static evrepl_code
pg_shared_create(const evrepl_replicator_config *cfg, void **shared, evrepl_status *st)
{
    (void)cfg;
    (void)shared;
    return evri_status_set(st, EVREPL_CODE_UNIMPLEMENTED,
                           "the postgres backend is not built into this evrepld yet");
}

static void
pg_shared_destroy(void *shared)
{
    (void)shared;
}

static evrepl_code
pg_create(void *shared, evrepl_replicator *out, evrepl_status *st)
{
    (void)shared;
    (void)out;
    return evri_status_set(st, EVREPL_CODE_UNIMPLEMENTED, "the postgres backend is not built");
}

const evrepl_backend_def evri_pg_backend = {
    .name = "postgres",
    .shared_create = pg_shared_create,
    .shared_destroy = pg_shared_destroy,
    .create = pg_create,
};
