// The postgres backend: shared state, instances, Health and Describe. The two operations are
// in propagate.c and verify.c.
#include "adapters/postgres/postgres.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "adapters/postgres/pg.h"
#include "adapters/postgres/pgconn.h"
#include "common/clock.h"
#include "domain/status.h"
#include "domain/strv.h"

// A call that talked to the primary this recently makes a probe unnecessary.
#define PG_PROBE_IDLE_NS   (2000ull * EVRI_NS_PER_MS)
#define PG_PROBE_PERIOD_MS 1000
#define PG_START_TIMEOUT   "5"

void
pg_primary_seen(pg_shared *sh, bool up)
{
    int was = atomic_exchange(&sh->primary_up, up ? 1 : 0);
    atomic_store(&sh->primary_contact_ns, evri_now_ns());
    if (was != (up ? 1 : 0)) {
        evri_log_fields(sh->log, up ? EVRI_LOG_INFO : EVRI_LOG_WARN,
                        up ? "primary reachable" : "primary unreachable", NULL, 0);
    }
}

bool
pg_key_lookup(pg_shared *sh, const char *key_id, uint8_t out[EVREPL_PUBLIC_KEY_BYTES])
{
    pthread_mutex_lock(&sh->keys_mu);
    const uint8_t *k = evri_keyset_find(&sh->keys, key_id);
    if (k != NULL) {
        memcpy(out, k, EVREPL_PUBLIC_KEY_BYTES);
    }
    pthread_mutex_unlock(&sh->keys_mu);
    return k != NULL;
}

evrepl_code
pg_keys_refresh(pg_instance *in, uint64_t deadline_ns, evrepl_status *st)
{
    pg_shared *sh = in->sh;
    if (sh->pinned) {
        return evri_status_ok(st);
    }
    pgn *p = &in->primary;
    pgn *nodes[] = {p};
    pgn_set_query(p, "SELECT public_key FROM signing_keys", 0, NULL);
    pgn_run(nodes, 1, deadline_ns);
    if (p->code != EVREPL_CODE_OK || p->res == NULL) {
        return pg_primary_failed(in, "reading the signing keys", st);
    }
    evri_keyset fresh = {0};
    for (int r = 0; r < pgn_rows(p); r++) {
        uint8_t pk[EVREPL_PUBLIC_KEY_BYTES];
        // The key id is derived from the key, never taken from the table.
        if (pgn_has(p, r, 0) && pgn_bytes(p, r, 0, pk, sizeof(pk)) &&
            !evri_keyset_add(&fresh, pk)) {
            evri_keyset_clear(&fresh);
            return evri_status_set(st, EVREPL_CODE_INTERNAL, "out of memory reading keys");
        }
    }
    pthread_mutex_lock(&sh->keys_mu);
    evri_keyset_clear(&sh->keys);
    sh->keys = fresh;
    pthread_mutex_unlock(&sh->keys_mu);
    return evri_status_ok(st);
}

evrepl_code
pg_primary_failed(pg_instance *in, const char *what, evrepl_status *st)
{
    pgn *p = &in->primary;
    if (p->code == EVREPL_CODE_DEADLINE_EXCEEDED) {
        return evri_status_set(st, EVREPL_CODE_DEADLINE_EXCEEDED,
                               "the deadline passed before the primary answered (%s)", what);
    }
    if (p->code == EVREPL_CODE_UNAVAILABLE || p->code == EVREPL_CODE_OK) {
        pg_primary_seen(in->sh, false);
        return evri_status_set(st, EVREPL_CODE_UNAVAILABLE, "the primary is unreachable: %s",
                               p->error[0] != '\0' ? p->error : "no connection");
    }
    if (p->code == EVREPL_CODE_FAILED_PRECONDITION) {
        // 42P01 and friends: a relation is missing, so the schema is not evrepl's.
        return evri_status_set(st, EVREPL_CODE_FAILED_PRECONDITION,
                               "the primary has no evrepl schema (run evrepl migrate): %s",
                               p->error);
    }
    return evri_status_set(st, p->code, "the primary failed while %s: %s", what, p->error);
}

evrepl_code
pg_check_primary_schema(pg_instance *in, const char *version, evrepl_status *st)
{
    if (strcmp(version, in->sh->schema_version) == 0) {
        return evri_status_ok(st);
    }
    return evri_status_set(st, EVREPL_CODE_FAILED_PRECONDITION,
                           "the primary's schema version is '%s' but this server expects '%s' (%s)",
                           version, in->sh->schema_version,
                           strcmp(version, in->sh->schema_version) < 0 ? "run evrepl migrate on it"
                                                                       : "upgrade evrepld");
}

// One blocking probe of the primary (the prober thread and start-up).
static bool
pg_probe(pg_shared *sh, evrepl_status *st)
{
    PGconn *conn = NULL;
    evrepl_code code = evri_pg_connect(&conn, sh->primary, "evrepld-probe", st);
    if (code == EVREPL_CODE_OK) {
        PGresult *r = PQexec(conn, "SELECT 1");
        code = evri_pg_result_check(conn, r, PGRES_TUPLES_OK, "probe", st);
        PQclear(r);
        PQfinish(conn);
    }
    return code == EVREPL_CODE_OK;
}

static void *
pg_prober_main(void *arg)
{
    pg_shared *sh = arg;
    pthread_mutex_lock(&sh->stop_mu);
    while (!sh->stopping) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += PG_PROBE_PERIOD_MS / 1000;
        (void)pthread_cond_timedwait(&sh->stop_cv, &sh->stop_mu, &ts);
        if (sh->stopping) {
            break;
        }
        pthread_mutex_unlock(&sh->stop_mu);
        uint64_t last = atomic_load(&sh->primary_contact_ns);
        if (evri_now_ns() - last > PG_PROBE_IDLE_NS) {
            evrepl_status st;
            pg_primary_seen(sh, pg_probe(sh, &st));
        }
        evrepl_status st;
        if (evri_pg_heads_flush(sh->heads, &st) != EVREPL_CODE_OK) {
            evri_log_fields(sh->log, EVRI_LOG_ERROR, "cannot save replica heads",
                            (evri_log_field[]){evri_lf_str("error", st.message)}, 1);
        }
        pthread_mutex_lock(&sh->stop_mu);
    }
    pthread_mutex_unlock(&sh->stop_mu);
    return NULL;
}

static void
pg_shared_destroy(void *arg)
{
    pg_shared *sh = arg;
    if (sh == NULL) {
        return;
    }
    if (sh->prober_started) {
        pthread_mutex_lock(&sh->stop_mu);
        sh->stopping = true;
        pthread_cond_signal(&sh->stop_cv);
        pthread_mutex_unlock(&sh->stop_mu);
        pthread_join(sh->prober, NULL);
    }
    evri_pg_heads_close(sh->heads);
    evri_keyset_clear(&sh->keys);
    size_t n = sh->n_replicas;
    evri_strv_free(&sh->replica_ids, &n);
    n = sh->n_replicas;
    evri_strv_free(&sh->replica_conninfos, &n);
    free(sh->primary);
    free(sh->schema_version);
    pthread_mutex_destroy(&sh->keys_mu);
    pthread_mutex_destroy(&sh->stop_mu);
    pthread_cond_destroy(&sh->stop_cv);
    free(sh);
}

static evrepl_code
pg_shared_create(const evrepl_replicator_config *cfg, void **out, evrepl_status *st)
{
    evrepl_code code;
    pg_shared *sh = calloc(1, sizeof(*sh));
    if (sh == NULL) {
        return evri_status_set(st, EVREPL_CODE_INTERNAL, "out of memory");
    }
    pthread_mutex_init(&sh->keys_mu, NULL);
    pthread_mutex_init(&sh->stop_mu, NULL);
    pthread_cond_init(&sh->stop_cv, NULL);
    atomic_init(&sh->primary_up, 0);
    atomic_init(&sh->primary_contact_ns, 0);
    sh->log = cfg->log;
    sh->observer = cfg->observer;
    if (cfg->primary_conninfo == NULL) {
        code = evri_status_set(st, EVREPL_CODE_INVALID_ARGUMENT,
                               "the postgres backend needs a primary");
        goto fail;
    }
    sh->primary = evri_strdup(cfg->primary_conninfo);
    sh->schema_version = evri_strdup(cfg->schema_version != NULL ? cfg->schema_version : "");
    if (sh->primary == NULL || sh->schema_version == NULL) {
        code = evri_status_set(st, EVREPL_CODE_INTERNAL, "out of memory");
        goto fail;
    }
    for (size_t i = 0; i < cfg->n_replicas; i++) {
        size_t n = sh->n_replicas;
        if (!evri_strv_push(&sh->replica_ids, &n, cfg->replicas[i].id)) {
            code = evri_status_set(st, EVREPL_CODE_INTERNAL, "out of memory");
            goto fail;
        }
        n = sh->n_replicas;
        if (!evri_strv_push(&sh->replica_conninfos, &n, cfg->replicas[i].conninfo)) {
            free(sh->replica_ids[sh->n_replicas]);
            code = evri_status_set(st, EVREPL_CODE_INTERNAL, "out of memory");
            goto fail;
        }
        sh->n_replicas++;
    }
    if (cfg->trusted_keys_file != NULL) {
        sh->pinned = true;
        if ((code = evri_keyset_read(&sh->keys, cfg->trusted_keys_file, st)) != EVREPL_CODE_OK) {
            goto fail;
        }
    }
    if ((code = evri_pg_heads_open(&sh->heads, cfg->state_file, sh->replica_ids, sh->n_replicas,
                                   st)) != EVREPL_CODE_OK) {
        goto fail;
    }
    // The primary must be reachable at start (cli.md); replicas need not be.
    evrepl_status pst;
    if (!pg_probe(sh, &pst)) {
        code = evri_status_set(st, EVREPL_CODE_UNAVAILABLE, "cannot reach the primary: %s",
                               pst.message);
        goto fail;
    }
    pg_primary_seen(sh, true);
    if (pthread_create(&sh->prober, NULL, pg_prober_main, sh) != 0) {
        code = evri_status_set(st, EVREPL_CODE_INTERNAL, "cannot start the prober thread");
        goto fail;
    }
    sh->prober_started = true;
    *out = sh;
    return evri_status_ok(st);
fail:
    pg_shared_destroy(sh);
    return code;
}

static evrepl_code
pg_check_health(void *self, evrepl_serving_status *out, evrepl_status *st)
{
    pg_instance *in = self;
    *out = atomic_load(&in->sh->primary_up) == 1 ? EVREPL_SERVING_STATUS_SERVING
                                                 : EVREPL_SERVING_STATUS_NOT_SERVING;
    return evri_status_ok(st);
}

static evrepl_code
pg_describe(void *self, evrepl_server_description *out, evrepl_status *st)
{
    pg_instance *in = self;
    if (!evri_strv_copy(&out->replica_ids, &out->n_replica_ids, in->sh->replica_ids,
                        in->sh->n_replicas)) {
        return evri_status_set(st, EVREPL_CODE_INTERNAL, "out of memory");
    }
    return evri_status_ok(st);
}

static void
pg_instance_destroy(void *self)
{
    pg_instance *in = self;
    if (in == NULL) {
        return;
    }
    pgn_fini(&in->primary);
    for (size_t i = 0; in->replicas != NULL && i < in->sh->n_replicas; i++) {
        pgn_fini(&in->replicas[i]);
    }
    free(in->replicas);
    pg_sig_seen_free(in->sigs);
    free(in);
}

// Every replica session LISTENs, and the apply trigger notifies each replicated row: a
// session nobody reads fills its socket, and then its server process blocks writing to it,
// which pins the replica's notification queue (it grows on disk until NOTIFY, and with it the
// apply, fails). Reading them away while the worker is idle keeps every session drained.
static void
pg_idle(void *self)
{
    pg_instance *in = self;
    uint64_t now = evri_now_ns();
    pgn_idle(&in->primary, now);
    for (size_t i = 0; i < in->sh->n_replicas; i++) {
        pgn_idle(&in->replicas[i], now);
    }
}

static const evrepl_replicator_ops pg_ops = {
    .version = EVREPL_REPLICATOR_OPS_VERSION,
    .name = "postgres",
    .blocking = true,
    .dev_mode = false,
    .propagate_event = pg_propagate_event,
    .verify_replicas = pg_verify_replicas,
    .check_health = pg_check_health,
    .describe = pg_describe,
    .idle = pg_idle,
    .destroy = pg_instance_destroy,
};

static evrepl_code
pg_create(void *shared, evrepl_replicator *out, evrepl_status *st)
{
    pg_shared *sh = shared;
    pg_instance *in = calloc(1, sizeof(*in));
    if (in == NULL ||
        (sh->n_replicas > 0 && (in->replicas = calloc(sh->n_replicas, sizeof(pgn))) == NULL)) {
        free(in);
        return evri_status_set(st, EVREPL_CODE_INTERNAL, "out of memory");
    }
    in->sh = sh;
    // Connections open on first use, so a worker costs nothing until it works.
    pgn_init(&in->primary, "primary", sh->primary, false);
    for (size_t i = 0; i < sh->n_replicas; i++) {
        pgn_init(&in->replicas[i], sh->replica_ids[i], sh->replica_conninfos[i], true);
    }
    out->ops = &pg_ops;
    out->self = in;
    return evri_status_ok(st);
}

const evrepl_backend_def evri_pg_backend = {
    .name = "postgres",
    .shared_create = pg_shared_create,
    .shared_destroy = pg_shared_destroy,
    .create = pg_create,
};
