// libpq helpers shared by everything in src/adapters/postgres/: connection parameters, the one
// SQLSTATE -> evrepl_code translator, error messages without secrets, binary-format decoding of
// events rows, and the schema-version query. Internal to this folder (it exposes libpq types);
// code outside it uses admin.h and writer.h.
//
// Conninfos are secrets: no message made here ever contains one, nor a password libpq knows.
//
// Thread safety: pure functions; a PGconn belongs to one thread.
#ifndef EVREPL_ADAPTERS_POSTGRES_PGCONN_H
#define EVREPL_ADAPTERS_POSTGRES_PGCONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "domain/event.h"
#include "evrepl/status.h"

// Seconds libpq may take to connect when the conninfo sets no connect_timeout.
#define EVRI_PG_DEFAULT_CONNECT_TIMEOUT_S "10"

// Number of keyword/value slots evri_pg_conn_params() fills, the terminating NULLs included.
#define EVRI_PG_CONN_PARAMS 6

// Fills keys/vals for PQconnectdbParams() or PQconnectStartParams() with expand_dbname = 1:
// a default connect_timeout, then conninfo (a key=value string or a URI; its settings override
// the default), then client_encoding=UTF8 (evrepl's text is UTF-8 whatever the environment
// says) and application_name, which override the conninfo's. Borrows conninfo and app_name.
void evri_pg_conn_params(const char *conninfo, const char *app_name,
                         const char *keys[EVRI_PG_CONN_PARAMS],
                         const char *vals[EVRI_PG_CONN_PARAMS]);

// Connects (blocking) and checks the session: integer datetimes, so timestamptz travels as an
// exact int64 in binary format. Server notices are dropped (they never reach stderr).
// Codes: INVALID_ARGUMENT (libpq cannot parse conninfo), UNAVAILABLE (cannot connect; the
// message is libpq's first line with any password masked), FAILED_PRECONDITION. Writes *out
// only on success; the caller PQfinish()es it.
EVREPL_NODISCARD evrepl_code evri_pg_connect(PGconn **out, const char *conninfo,
                                             const char *app_name, evrepl_status *st);

// Checks a connection that PQconnectPoll() reports as made (the same session checks as
// evri_pg_connect) and installs the notice processor. For asynchronous callers.
EVREPL_NODISCARD evrepl_code evri_pg_session_check(PGconn *conn, evrepl_status *st);

// Fills st from a failed connection: UNAVAILABLE, "cannot connect to the database: <libpq's
// first line, password masked>". conninfo (may be NULL) is parsed only to find secrets to mask.
evrepl_code evri_pg_connect_error(const PGconn *conn, const char *conninfo, evrepl_status *st);

// The translator from SQLSTATE to evrepl codes (style.md: one per foreign error set). NULL or
// "" (no SQLSTATE, e.g. a lost connection) maps to UNAVAILABLE.
evrepl_code evri_pg_code_from_sqlstate(const char *sqlstate);

// Checks res (may be NULL) for `want` (PGRES_COMMAND_OK or PGRES_TUPLES_OK). Otherwise fills
// st with the translated code and "WHAT: <server's primary message> (SQLSTATE xxxxx)", or
// the connection's first error line when there is no result. Never returns OK for a NULL res.
evrepl_code evri_pg_result_check(const PGconn *conn, const PGresult *res, ExecStatusType want,
                                 const char *what, evrepl_status *st);

// The SQLSTATE of a failed result ("" when none). Borrowed from res.
const char *evri_pg_sqlstate(const PGresult *res);

// Microseconds between the Unix epoch and PostgreSQL's (2000-01-01), for binary timestamptz.
#define EVRI_PG_EPOCH_OFFSET_US 946684800000000LL

// Binary-format helpers (network byte order).
void evri_pg_put_u64(uint8_t out[8], uint64_t v);
uint64_t evri_pg_get_u64(const uint8_t in[8]);

// Converts created_at_us to binary timestamptz and back. The reverse refuses +-infinity and
// values outside int64 Unix microseconds (INVALID_ARGUMENT).
void evri_pg_put_timestamptz(uint8_t out[8], int64_t unix_us);
EVREPL_NODISCARD evrepl_code evri_pg_get_timestamptz(const uint8_t in[8], int64_t *unix_us,
                                                     evrepl_status *st);

// The events columns, in the order evri_pg_event_from_row() expects; select them with
// resultFormat = 1 (binary): "SELECT " EVRI_PG_EVENT_COLUMNS " FROM events WHERE ...".
#define EVRI_PG_EVENT_COLUMNS                                                                      \
    "event_id, sequence, event_type, payload, prev_hash, content_hash, signature, "                \
    "signing_key_id, created_at"
#define EVRI_PG_EVENT_NCOLUMNS 9

// Fills *out from row `row` of a binary result whose first columns are EVRI_PG_EVENT_COLUMNS
// (any columns after them are the caller's).
// out->payload borrows from res (valid until PQclear). Checks only what must hold to fill the
// struct (sizes, no NULLs, finite time); judge the event with evri_event_check().
// INVALID_ARGUMENT names the column; *out is written only on success.
EVREPL_NODISCARD evrepl_code evri_pg_event_from_row(const PGresult *res, int row, evri_event *out,
                                                    evrepl_status *st);

// The node's schema version: the newest version in schema_migrations. Send this query (text
// results) and pass its result to evri_pg_schema_version_from_result().
#define EVRI_PG_SCHEMA_VERSION_SQL "SELECT max(version) FROM schema_migrations"
#define EVRI_PG_VERSION_MAX        32 // bytes of a version string, NUL included

// Reads EVRI_PG_SCHEMA_VERSION_SQL's result into out: the version, or "" when the node has no
// schema_migrations table or an empty one (never migrated). Other failures: the translated
// code. out is written only on success.
EVREPL_NODISCARD evrepl_code evri_pg_schema_version_from_result(const PGconn *conn,
                                                                const PGresult *res,
                                                                char out[EVRI_PG_VERSION_MAX],
                                                                evrepl_status *st);

// The connection inside an admin.h handle, for the code of this folder that needs libpq
// calls admin.h does not offer (the writer's prepared statements). Borrowed.
struct evri_pg_db;
PGconn *evri_pg_db_conn(struct evri_pg_db *db);

#endif // EVREPL_ADAPTERS_POSTGRES_PGCONN_H
