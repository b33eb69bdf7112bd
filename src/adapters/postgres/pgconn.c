#include "adapters/postgres/pgconn.h"

#include <stdio.h>
#include <string.h>

#include "domain/status.h"

void
evri_pg_conn_params(const char *conninfo, const char *app_name,
                    const char *keys[EVRI_PG_CONN_PARAMS], const char *vals[EVRI_PG_CONN_PARAMS])
{
    // With expand_dbname, the expanded dbname overrides what came before it and later keywords
    // override it: so the timeout is a default and the encoding is evrepl's.
    keys[0] = "connect_timeout";
    vals[0] = EVRI_PG_DEFAULT_CONNECT_TIMEOUT_S;
    keys[1] = "dbname";
    vals[1] = conninfo;
    keys[2] = "client_encoding";
    vals[2] = "UTF8";
    keys[3] = "application_name";
    vals[3] = app_name != NULL ? app_name : "evrepl";
    keys[4] = NULL;
    vals[4] = NULL;
    keys[5] = NULL;
    vals[5] = NULL;
}

static void
pg_notice_drop(void *arg, const char *message)
{
    // Notices ("relation already exists, skipping") are not errors, and a library must not
    // write to the caller's stderr.
    (void)arg;
    (void)message;
}

// Replaces every occurrence of secret in buf (NUL-terminated) by "*****", in place, as long as
// the result fits.
static void
pg_mask(char *buf, size_t size, const char *secret)
{
    static const char mask[] = "*****";
    size_t slen = secret != NULL ? strlen(secret) : 0;
    if (slen == 0) {
        return;
    }
    char *p = buf;
    while ((p = strstr(p, secret)) != NULL) {
        size_t tail = strlen(p + slen);
        size_t pos = (size_t)(p - buf);
        if (pos + sizeof(mask) - 1 + tail + 1 > size) {
            // No room to expand: blank the secret instead (it is longer than the mask here).
            memset(p, '*', slen);
            p += slen;
            continue;
        }
        memmove(p + sizeof(mask) - 1, p + slen, tail + 1);
        memcpy(p, mask, sizeof(mask) - 1);
        p += sizeof(mask) - 1;
    }
}

// The first non-empty line of libpq's message, trimmed, with every secret that the conninfo or
// the connection holds masked.
static void
pg_safe_message(char *out, size_t size, const char *msg, const PGconn *conn, const char *conninfo)
{
    const char *p = msg != NULL ? msg : "";
    while (*p == '\n' || *p == ' ' || *p == '\t') {
        p++;
    }
    size_t n = strcspn(p, "\n");
    while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\t' || p[n - 1] == '\r')) {
        n--;
    }
    if (n == 0) {
        snprintf(out, size, "no reason given");
    } else {
        snprintf(out, size, "%.*s", (int)(n < size ? n : size - 1), p);
    }
    if (conninfo != NULL) {
        char *err = NULL;
        PQconninfoOption *opts = PQconninfoParse(conninfo, &err);
        PQfreemem(err); // it may quote the conninfo
        for (PQconninfoOption *o = opts; o != NULL && o->keyword != NULL; o++) {
            if (o->val != NULL && o->dispchar != NULL && strchr(o->dispchar, '*') != NULL) {
                pg_mask(out, size, o->val);
            }
        }
        PQconninfoFree(opts);
    }
    if (conn != NULL) {
        pg_mask(out, size, PQpass(conn)); // e.g. read from a passfile
    }
}

evrepl_code
evri_pg_connect_error(const PGconn *conn, const char *conninfo, evrepl_status *st)
{
    char line[192];
    pg_safe_message(line, sizeof(line), conn != NULL ? PQerrorMessage(conn) : "out of memory", conn,
                    conninfo);
    return evri_status_set(st, EVREPL_CODE_UNAVAILABLE, "cannot connect to the database: %s", line);
}

evrepl_code
evri_pg_session_check(PGconn *conn, evrepl_status *st)
{
    PQsetNoticeProcessor(conn, pg_notice_drop, NULL);
    const char *idt = PQparameterStatus(conn, "integer_datetimes");
    if (idt == NULL || strcmp(idt, "on") != 0) {
        return evri_status_set(st, EVREPL_CODE_FAILED_PRECONDITION,
                               "the database server does not use integer timestamps");
    }
    return evri_status_ok(st);
}

evrepl_code
evri_pg_connect(PGconn **out, const char *conninfo, const char *app_name, evrepl_status *st)
{
    const char *keys[EVRI_PG_CONN_PARAMS];
    const char *vals[EVRI_PG_CONN_PARAMS];
    char *err = NULL;
    if (conninfo == NULL) {
        return evri_status_set(st, EVREPL_CODE_INVALID_ARGUMENT, "no database connection string");
    }
    PQconninfoOption *opts = PQconninfoParse(conninfo, &err);
    PQfreemem(err); // libpq's reason may quote the conninfo: never shown
    if (opts == NULL) {
        return evri_status_set(st, EVREPL_CODE_INVALID_ARGUMENT,
                               "the database connection string is not valid (libpq cannot "
                               "parse it)");
    }
    PQconninfoFree(opts);
    evri_pg_conn_params(conninfo, app_name, keys, vals);
    PGconn *conn = PQconnectdbParams(keys, vals, 1);
    if (conn == NULL || PQstatus(conn) != CONNECTION_OK) {
        evrepl_code code = evri_pg_connect_error(conn, conninfo, st);
        PQfinish(conn);
        return code;
    }
    evrepl_code code = evri_pg_session_check(conn, st);
    if (code != EVREPL_CODE_OK) {
        PQfinish(conn);
        return code;
    }
    *out = conn;
    return evri_status_ok(st);
}

evrepl_code
evri_pg_code_from_sqlstate(const char *s)
{
    if (s == NULL || strlen(s) != 5) {
        return EVREPL_CODE_UNAVAILABLE;
    }
    if (strncmp(s, "08", 2) == 0 || strcmp(s, "57P01") == 0 || strcmp(s, "57P02") == 0 ||
        strcmp(s, "57P03") == 0 || strcmp(s, "53300") == 0) {
        return EVREPL_CODE_UNAVAILABLE; // connection problems, shutdown, too many connections
    }
    if (strcmp(s, "57014") == 0) {
        return EVREPL_CODE_DEADLINE_EXCEEDED; // query_canceled: statement_timeout or cancel
    }
    if (strncmp(s, "28", 2) == 0) {
        return EVREPL_CODE_UNAUTHENTICATED; // invalid authorization specification
    }
    if (strcmp(s, "42501") == 0) {
        return EVREPL_CODE_PERMISSION_DENIED; // insufficient_privilege (and the guards)
    }
    if (strcmp(s, "42P01") == 0 || strcmp(s, "42703") == 0 || strcmp(s, "42883") == 0 ||
        strcmp(s, "25006") == 0) {
        return EVREPL_CODE_FAILED_PRECONDITION; // schema missing; read-only node
    }
    if (strcmp(s, "23505") == 0) {
        return EVREPL_CODE_ALREADY_EXISTS;
    }
    if (strncmp(s, "23", 2) == 0) {
        return EVREPL_CODE_FAILED_PRECONDITION; // integrity: e.g. the chain trigger
    }
    if (strncmp(s, "40", 2) == 0 || strcmp(s, "55P03") == 0) {
        return EVREPL_CODE_ABORTED; // serialization failure, deadlock, lock not available
    }
    if (strncmp(s, "22", 2) == 0) {
        return EVREPL_CODE_INVALID_ARGUMENT; // data exception
    }
    if (strncmp(s, "53", 2) == 0) {
        return EVREPL_CODE_RESOURCE_EXHAUSTED;
    }
    return EVREPL_CODE_INTERNAL;
}

const char *
evri_pg_sqlstate(const PGresult *res)
{
    const char *s = res != NULL ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    return s != NULL ? s : "";
}

evrepl_code
evri_pg_result_check(const PGconn *conn, const PGresult *res, ExecStatusType want, const char *what,
                     evrepl_status *st)
{
    char line[160];
    if (res != NULL && PQresultStatus(res) == want) {
        return evri_status_ok(st);
    }
    if (res == NULL || PQresultErrorField(res, PG_DIAG_SQLSTATE) == NULL) {
        // No server error: the connection broke, or the result is of an unexpected kind.
        pg_safe_message(line, sizeof(line),
                        res != NULL && PQresultErrorMessage(res)[0] != '\0'
                            ? PQresultErrorMessage(res)
                            : (conn != NULL ? PQerrorMessage(conn) : ""),
                        conn, NULL);
        if (res != NULL && PQresultStatus(res) != PGRES_FATAL_ERROR &&
            PQresultStatus(res) != PGRES_NONFATAL_ERROR &&
            (conn == NULL || PQstatus(conn) == CONNECTION_OK)) {
            return evri_status_set(st, EVREPL_CODE_INTERNAL, "%s: unexpected result %s", what,
                                   PQresStatus(PQresultStatus(res)));
        }
        return evri_status_set(st, EVREPL_CODE_UNAVAILABLE, "%s: lost the database: %s", what,
                               line);
    }
    const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
    const char *primary = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
    pg_safe_message(line, sizeof(line), primary, conn, NULL);
    return evri_status_set(st, evri_pg_code_from_sqlstate(state), "%s: %s (SQLSTATE %s)", what,
                           line, state);
}

void
evri_pg_put_u64(uint8_t out[8], uint64_t v)
{
    for (int i = 7; i >= 0; i--) {
        out[i] = (uint8_t)v;
        v >>= 8;
    }
}

uint64_t
evri_pg_get_u64(const uint8_t in[8])
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) {
        v = (v << 8) | in[i];
    }
    return v;
}

void
evri_pg_put_timestamptz(uint8_t out[8], int64_t unix_us)
{
    // Valid events have unix_us >= EVRI_EVENT_CREATED_AT_MIN_US, so this cannot underflow;
    // saturate anyway rather than overflow on a caller's bad value.
    int64_t pg = unix_us < INT64_MIN + EVRI_PG_EPOCH_OFFSET_US ? INT64_MIN + 1
                                                               : unix_us - EVRI_PG_EPOCH_OFFSET_US;
    evri_pg_put_u64(out, (uint64_t)pg);
}

evrepl_code
evri_pg_get_timestamptz(const uint8_t in[8], int64_t *unix_us, evrepl_status *st)
{
    int64_t pg = (int64_t)evri_pg_get_u64(in);
    // PostgreSQL spells -infinity and infinity as the extreme int64 values.
    if (pg == INT64_MIN || pg == INT64_MAX || pg > INT64_MAX - EVRI_PG_EPOCH_OFFSET_US) {
        return evri_status_set(st, EVREPL_CODE_INVALID_ARGUMENT,
                               "created_at is infinite or out of range");
    }
    *unix_us = pg + EVRI_PG_EPOCH_OFFSET_US;
    return evri_status_ok(st);
}

// Copies a binary column of exactly `want` bytes.
static bool
pg_fixed(const PGresult *res, int row, int col, void *out, size_t want)
{
    if (PQgetisnull(res, row, col) || PQgetlength(res, row, col) != (int)want) {
        return false;
    }
    memcpy(out, PQgetvalue(res, row, col), want);
    return true;
}

// Copies a binary text column of at most max bytes into out (max + 1 bytes), NUL-terminated.
static bool
pg_text(const PGresult *res, int row, int col, char *out, size_t max)
{
    int len = PQgetlength(res, row, col);
    if (PQgetisnull(res, row, col) || len < 0 || (size_t)len > max) {
        return false;
    }
    memcpy(out, PQgetvalue(res, row, col), (size_t)len);
    out[len] = '\0';
    return true;
}

evrepl_code
evri_pg_event_from_row(const PGresult *res, int row, evri_event *out, evrepl_status *st)
{
    evri_event ev;
    uint8_t u64[8];
    const char *bad = NULL;
    memset(&ev, 0, sizeof(ev));
    if (PQnfields(res) < EVRI_PG_EVENT_NCOLUMNS || PQbinaryTuples(res) != 1 || row < 0 ||
        row >= PQntuples(res)) {
        return evri_status_set(st, EVREPL_CODE_INTERNAL,
                               "events row: not a binary result of the event columns");
    }
    if (!pg_fixed(res, row, 0, ev.event_id, sizeof(ev.event_id))) {
        bad = "event_id";
    } else if (!pg_fixed(res, row, 1, u64, sizeof(u64))) {
        bad = "sequence";
    } else if (!pg_text(res, row, 2, ev.event_type, EVRI_EVENT_TYPE_MAX_BYTES)) {
        bad = "event_type";
    } else if (PQgetisnull(res, row, 3)) {
        bad = "payload";
    } else if (!pg_fixed(res, row, 4, ev.prev_hash, sizeof(ev.prev_hash))) {
        bad = "prev_hash";
    } else if (!pg_fixed(res, row, 5, ev.content_hash, sizeof(ev.content_hash))) {
        bad = "content_hash";
    } else if (!pg_fixed(res, row, 6, ev.signature, sizeof(ev.signature))) {
        bad = "signature";
    } else if (!pg_text(res, row, 7, ev.signing_key_id, EVRI_KEY_ID_LEN)) {
        bad = "signing_key_id";
    }
    if (bad != NULL) {
        return evri_status_set(st, EVREPL_CODE_INVALID_ARGUMENT,
                               "events row: column %s is NULL or has the wrong size", bad);
    }
    ev.sequence = evri_pg_get_u64(u64);
    ev.payload = (const uint8_t *)PQgetvalue(res, row, 3);
    ev.payload_len = (size_t)PQgetlength(res, row, 3);
    if (!pg_fixed(res, row, 8, u64, sizeof(u64))) {
        return evri_status_set(st, EVREPL_CODE_INVALID_ARGUMENT,
                               "events row: column created_at is NULL or has the wrong size");
    }
    evrepl_code code = evri_pg_get_timestamptz(u64, &ev.created_at_us, st);
    if (code != EVREPL_CODE_OK) {
        return evri_status_set(st, code, "events row %llu: %s", (unsigned long long)ev.sequence,
                               st != NULL ? st->message : "bad created_at");
    }
    *out = ev;
    return evri_status_ok(st);
}

evrepl_code
evri_pg_schema_version_from_result(const PGconn *conn, const PGresult *res,
                                   char out[EVRI_PG_VERSION_MAX], evrepl_status *st)
{
    if (res != NULL && PQresultStatus(res) == PGRES_FATAL_ERROR &&
        strcmp(evri_pg_sqlstate(res), "42P01") == 0) {
        out[0] = '\0'; // undefined_table: never migrated
        return evri_status_ok(st);
    }
    evrepl_code code =
        evri_pg_result_check(conn, res, PGRES_TUPLES_OK, "reading the schema version", st);
    if (code != EVREPL_CODE_OK) {
        return code;
    }
    if (PQntuples(res) != 1 || PQnfields(res) != 1) {
        return evri_status_set(st, EVREPL_CODE_INTERNAL, "reading the schema version: bad result");
    }
    if (PQgetisnull(res, 0, 0)) {
        out[0] = '\0';
        return evri_status_ok(st);
    }
    const char *v = PQgetvalue(res, 0, 0);
    if (strlen(v) >= EVRI_PG_VERSION_MAX) {
        return evri_status_set(st, EVREPL_CODE_FAILED_PRECONDITION,
                               "the schema version recorded in the database is too long");
    }
    snprintf(out, EVRI_PG_VERSION_MAX, "%s", v);
    return evri_status_ok(st);
}
