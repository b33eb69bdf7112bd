#include "support/trio.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "adapters/postgres/admin.h"

static const char *const nodes[] = {TRIO_PRIMARY, TRIO_US_EAST, TRIO_EU_WEST, TRIO_AP_SOUTH};

bool
trio_configured(void)
{
    return getenv("EVREPL_TRIO_DIR") != NULL && getenv("EVREPL_TRIO_PORT") != NULL;
}

const char *
trio_conninfo(const char *node)
{
    static char buf[4][512];
    const char *dir = getenv("EVREPL_TRIO_DIR");
    int port = atoi(getenv("EVREPL_TRIO_PORT"));
    for (int i = 0; i < 4; i++) {
        if (strcmp(nodes[i], node) == 0) {
            snprintf(buf[i], sizeof(buf[i]),
                     "host=127.0.0.1 port=%d dbname=evrepl user=evrepl passfile=%s/pgpass",
                     port + i, dir);
            return buf[i];
        }
    }
    fail_msg("unknown trio node %s", node);
    return NULL;
}

void
trio_exec(const char *node, const char *sql)
{
    evri_pg_db *db = NULL;
    evrepl_status st;
    if (evri_pg_db_open(&db, trio_conninfo(node), &st) != EVREPL_CODE_OK) {
        fail_msg("%s: %s", node, st.message);
    }
    char state[6];
    if (evri_pg_db_exec(db, sql, state, &st) != EVREPL_CODE_OK) {
        evri_pg_db_close(db);
        fail_msg("%s: %s: %s", node, sql, st.message);
    }
    evri_pg_db_close(db);
}

void
trio_value(const char *node, const char *sql, char *out, size_t size)
{
    evri_pg_db *db = NULL;
    evrepl_status st;
    if (evri_pg_db_open(&db, trio_conninfo(node), &st) != EVREPL_CODE_OK) {
        fail_msg("%s: %s", node, st.message);
    }
    if (evri_pg_db_query_value(db, sql, out, size, &st) != EVREPL_CODE_OK) {
        evri_pg_db_close(db);
        fail_msg("%s: %s: %s", node, sql, st.message);
    }
    evri_pg_db_close(db);
}

static void
trio_shell(const char *line)
{
    if (system(line) != 0) {
        fail_msg("failed: %s", line);
    }
}

void
trio_stop(const char *node)
{
    // What tools/trio does for each node, for one node: pg_ctl as the user that owns it.
    char line[1024];
    snprintf(line, sizeof(line),
             "%s /usr/lib/postgresql/15/bin/pg_ctl -D '%s/%s' -m fast -w -t 60 stop >/dev/null",
             getuid() == 0 ? "runuser -u postgres --" : "", getenv("EVREPL_TRIO_DIR"), node);
    trio_shell(line);
}

void
trio_start(const char *node)
{
    // `tools/trio up` starts every node that is down and checks the rest.
    char line[1024];
    const char *src = getenv("EVREPL_SOURCE_DIR");
    (void)node;
    snprintf(line, sizeof(line), "TRIO_QUIET=1 '%s/tools/trio' up >/dev/null 2>&1",
             src != NULL ? src : ".");
    trio_shell(line);
}
