#include "pgtest.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "server/config.h"
#include "support/proc.h"
#include "support/support.h"

#define PGT_NODES 4

static const char *const pgt_names[PGT_NODES] = {PGT_PRIMARY, PGT_US_EAST, PGT_EU_WEST,
                                                 PGT_AP_SOUTH};
static char pgt_conninfos[PGT_NODES][1024];

bool
pgt_trio_ready(char *why, size_t why_size)
{
    char path[1024], line[1200];
    const char *dir = getenv("EVREPL_TRIO_DIR");
    if (dir == NULL || dir[0] == '\0') {
        snprintf(why, why_size, "EVREPL_TRIO_DIR is not set (run through ctest)");
        return false;
    }
    snprintf(path, sizeof(path), "%s/nodes", dir);
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        snprintf(why, why_size, "no trio is up in %s (the trio_up fixture skipped or failed)", dir);
        return false;
    }
    size_t found = 0;
    while (fgets(line, sizeof(line), f) != NULL) {
        line[strcspn(line, "\n")] = '\0';
        char *sp = strchr(line, ' ');
        if (sp == NULL) {
            continue;
        }
        *sp = '\0';
        for (size_t i = 0; i < PGT_NODES; i++) {
            if (strcmp(line, pgt_names[i]) == 0) {
                snprintf(pgt_conninfos[i], sizeof(pgt_conninfos[i]), "%s", sp + 1);
                found++;
            }
        }
    }
    fclose(f);
    if (found != PGT_NODES) {
        snprintf(why, why_size, "%s does not list the four nodes", path);
        return false;
    }
    return true;
}

int
pgt_unavailable(const char *suite, const char *why)
{
    if (evri_test_in_ci()) {
        fprintf(stderr, "%s: FAILED: %s, and CI=true\n", suite, why);
        return 1;
    }
    fprintf(stderr, "%s: skipped: %s\n", suite, why);
    return 77;
}

const char *
pgt_conninfo(const char *node)
{
    for (size_t i = 0; i < PGT_NODES; i++) {
        if (strcmp(node, pgt_names[i]) == 0) {
            return pgt_conninfos[i];
        }
    }
    fail_msg("unknown trio node %s", node);
    return NULL;
}

void
pgt_conninfo_db(const char *node, const char *db, char *out, size_t size)
{
    // A keyword given twice: libpq keeps the last.
    snprintf(out, size, "%s dbname=%s", pgt_conninfo(node), db);
}

evri_pg_db *
pgt_open(const char *conninfo)
{
    evri_pg_db *db = NULL;
    evrepl_status st;
    if (evri_pg_db_open(&db, conninfo, &st) != EVREPL_CODE_OK) {
        fail_msg("cannot connect: %s", st.message);
    }
    return db;
}

void
pgt_exec(const char *conninfo, const char *sql)
{
    evrepl_status st;
    evri_pg_db *db = pgt_open(conninfo);
    evrepl_code code = evri_pg_db_exec(db, sql, NULL, &st);
    evri_pg_db_close(db);
    if (code != EVREPL_CODE_OK) {
        fail_msg("%s: %s", sql, st.message);
    }
}

void
pgt_exec_fails(const char *conninfo, const char *sql, const char *want)
{
    evrepl_status st;
    char state[6];
    evri_pg_db *db = pgt_open(conninfo);
    evrepl_code code = evri_pg_db_exec(db, sql, state, &st);
    evri_pg_db_close(db);
    if (code == EVREPL_CODE_OK) {
        fail_msg("%s: succeeded, want SQLSTATE %s", sql, want);
    }
    if (strcmp(state, want) != 0) {
        fail_msg("%s: SQLSTATE %s (%s), want %s", sql, state, st.message, want);
    }
}

long long
pgt_number(const char *conninfo, const char *sql)
{
    char v[64];
    evrepl_status st;
    evri_pg_db *db = pgt_open(conninfo);
    evrepl_code code = evri_pg_db_query_value(db, sql, v, sizeof(v), &st);
    evri_pg_db_close(db);
    if (code != EVREPL_CODE_OK) {
        fail_msg("%s: %s", sql, st.message);
    }
    return strtoll(v, NULL, 10);
}

int
pgt_evrepl(const char *dir, char *out, size_t out_size, char *err, size_t err_size, ...)
{
    char bin[1024];
    char *argv[32];
    size_t n = 0;
    va_list ap;
    snprintf(bin, sizeof(bin), "%s/evrepl", tproc_bin_dir());
    argv[n++] = bin;
    va_start(ap, err_size);
    const char *a;
    while ((a = va_arg(ap, const char *)) != NULL && n < 31) {
        argv[n++] = (char *)(uintptr_t)a; // posix_spawn's argv is not const; it is not written
    }
    va_end(ap);
    argv[n] = NULL;
    return tproc_run(dir, argv, 120000, out, out_size, err, err_size);
}

void
pgt_text(const char *conninfo, const char *sql, char *out, size_t size)
{
    evri_pg_db *db = pgt_open(conninfo);
    evrepl_status st;
    if (evri_pg_db_query_value(db, sql, out, size, &st) != EVREPL_CODE_OK) {
        evri_pg_db_close(db);
        fail_msg("%s: %s", sql, st.message);
    }
    evri_pg_db_close(db);
}

static void
pgt_trio(const char *cmd, const char *node)
{
    char line[2048];
    const char *src = getenv("EVREPL_SOURCE_DIR");
    snprintf(line, sizeof(line), "'%s/tools/trio' %s %s >/dev/null 2>&1", src != NULL ? src : ".",
             cmd, node);
    if (system(line) != 0) {
        fail_msg("tools/trio %s %s failed", cmd, node);
    }
}

void
pgt_stop(const char *node)
{
    pgt_trio("stop", node);
}

void
pgt_start(const char *node)
{
    pgt_trio("start", node);
}

void
pgt_data_dir(char *out, size_t size)
{
    char path[1024];
    const char *dir = getenv("EVREPL_TRIO_DIR");
    snprintf(path, sizeof(path), "%s/data", dir);
    FILE *f = fopen(path, "r");
    if (f == NULL || fgets(out, (int)size, f) == NULL) {
        snprintf(out, size, "%s", dir);
    } else {
        out[strcspn(out, "\n")] = '\0';
    }
    if (f != NULL) {
        fclose(f);
    }
}

void
pgt_register_key(const evri_signer *s)
{
    evri_pg_db *db = pgt_open(pgt_conninfo(PGT_PRIMARY));
    evrepl_status st;
    if (evri_pg_db_register_key(db, evri_signer_public_key(s), NULL, &st) != EVREPL_CODE_OK) {
        evri_pg_db_close(db);
        fail_msg("register-key: %s", st.message);
    }
    evri_pg_db_close(db);
}

void
pgt_append(const evri_signer *s, const char *event_type, uint64_t count,
           evri_pg_appended_fn on_batch, void *arg)
{
    static const uint8_t payload[] = "{\"test\":\"pg\",\"bytes\":\"\x01\x00\x02\"}";
    evri_pg_writer *w = NULL;
    evrepl_status st;
    if (evri_pg_writer_open(&w, pgt_conninfo(PGT_PRIMARY), s, &st) != EVREPL_CODE_OK) {
        fail_msg("writer: %s", st.message);
    }
    if (evri_pg_writer_append(w, event_type, payload, sizeof(payload), count, on_batch, arg, &st) !=
        EVREPL_CODE_OK) {
        evri_pg_writer_close(w);
        fail_msg("append: %s", st.message);
    }
    evri_pg_writer_close(w);
}

static void
pgt_set(evri_config *c, const char *name, const char *value)
{
    evrepl_status st;
    if (evri_config_set(c, name, value, &st) != EVREPL_CODE_OK) {
        fail_msg("setting %s: %s", name, st.message);
    }
}

evri_server *
pgt_server_start(const char *url, ...)
{
    evri_config c;
    evrepl_status st;
    char replica[1200];
    evri_server *srv = NULL;
    evri_config_init(&c);
    pgt_set(&c, "listen", url);
    pgt_set(&c, "backend", "postgres");
    pgt_set(&c, "primary", pgt_conninfo(PGT_PRIMARY));
    for (size_t i = 1; i < PGT_NODES; i++) {
        snprintf(replica, sizeof(replica), "%s=%s", pgt_names[i], pgt_conninfos[i]);
        pgt_set(&c, "replica", replica);
    }
    pgt_set(&c, "log-level", "warn");
    va_list ap;
    va_start(ap, url);
    const char *name;
    while ((name = va_arg(ap, const char *)) != NULL) {
        pgt_set(&c, name, va_arg(ap, const char *));
    }
    va_end(ap);
    if (evri_config_finish(&c, &st) != EVREPL_CODE_OK ||
        evri_server_create(&srv, &c, stderr, &st) != EVREPL_CODE_OK) {
        evri_config_clear(&c);
        fail_msg("evrepld: %s", st.message);
    }
    evri_config_clear(&c);
    return srv;
}

void
pgt_sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

const evrepl_replica_verification *
pgt_replica(const evrepl_verification *v, const char *id)
{
    for (size_t i = 0; i < v->n_replicas; i++) {
        if (strcmp(v->replicas[i].replica_id, id) == 0) {
            return &v->replicas[i];
        }
    }
    fail_msg("no replica %s in the result", id);
    return NULL;
}
