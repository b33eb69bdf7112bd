// Blocking database operations for the tools and tests: migrations, the schema version,
// signing keys, reading events and waiting for notifications. Plain C over libpq: callers
// never see libpq types, and only src/adapters/postgres/ includes <libpq-fe.h>.
//
// Every function returns an evrepl_code and fills the optional evrepl_status; messages never
// contain a conninfo or a password. Codes common to all: INVALID_ARGUMENT (the conninfo does
// not parse), UNAVAILABLE (cannot connect, or the connection broke), FAILED_PRECONDITION (the
// schema is missing or not the one this build expects), INTERNAL; other SQLSTATEs as
// evri_pg_code_from_sqlstate() maps them.
//
// Thread safety: an evri_pg_db belongs to one thread at a time; distinct handles are
// independent.
#ifndef EVREPL_ADAPTERS_POSTGRES_ADMIN_H
#define EVREPL_ADAPTERS_POSTGRES_ADMIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "domain/event.h"
#include "evrepl/status.h"
#include "evrepl/types.h"
#include "migrations/migrations.h"

// Bytes of a schema version string, NUL included (same as EVRI_PG_VERSION_MAX).
#define EVRI_PG_SCHEMA_VERSION_MAX 32

// pg_advisory_xact_lock() keys. Every migrator takes the first in each migration's
// transaction; every writer takes the second in each append transaction. ("evrepl" in ASCII
// followed by 0x0001 / 0x0002.)
#define EVRI_PG_LOCK_MIGRATE 0x65767265706c0001LL
#define EVRI_PG_LOCK_APPEND  0x65767265706c0002LL

// One database connection.
typedef struct evri_pg_db evri_pg_db;

// Connects to conninfo (libpq key=value or URI). Writes *out only on success.
EVREPL_NODISCARD evrepl_code evri_pg_db_open(evri_pg_db **out, const char *conninfo,
                                             evrepl_status *st);

// Closes the connection. Accepts NULL.
void evri_pg_db_close(evri_pg_db *db);

// Runs sql (one or more statements, simple query protocol). On failure, sqlstate (if not NULL,
// 6 bytes) receives the SQLSTATE, "" when there is none.
EVREPL_NODISCARD evrepl_code evri_pg_db_exec(evri_pg_db *db, const char *sql, char sqlstate[6],
                                             evrepl_status *st);

// Runs a query and copies the first column of its first row, as text, into out (truncated to
// out_size; "" for NULL). NOT_FOUND when it returns no row.
EVREPL_NODISCARD evrepl_code evri_pg_db_query_value(evri_pg_db *db, const char *sql, char *out,
                                                    size_t out_size, evrepl_status *st);

// The schema version of the node: the newest version recorded in schema_migrations, "" when
// it was never migrated.
EVREPL_NODISCARD evrepl_code evri_pg_db_schema_version(evri_pg_db *db,
                                                       char out[EVRI_PG_SCHEMA_VERSION_MAX],
                                                       evrepl_status *st);

// FAILED_PRECONDITION unless the node's schema version is evri_schema_version (the embedded
// migrations'); the message says whether to run `evrepl migrate` or upgrade evrepl.
EVREPL_NODISCARD evrepl_code evri_pg_db_require_schema(evri_pg_db *db, evrepl_status *st);

// Called after each migration is committed.
typedef void (*evri_pg_migrated_fn)(void *arg, const evri_migration *m);

typedef struct evri_pg_migrate_result {
    size_t n_applied;                         // migrations applied by this call
    char version[EVRI_PG_SCHEMA_VERSION_MAX]; // the node's schema version afterwards
} evri_pg_migrate_result;

// Applies the embedded migrations (migrations/migrations.h) that the node lacks, in order,
// each in its own transaction holding EVRI_PG_LOCK_MIGRATE, recording each in
// schema_migrations (created here: it is not a migration and is never published). Concurrent
// migrators of one database serialise; each migration is applied exactly once.
// FAILED_PRECONDITION when the database is not UTF8, or when its recorded migrations are not
// a prefix of the embedded ones (a newer evrepl migrated it, or they were renamed). A
// migration that fails is rolled back and named in the message. on_applied may be NULL.
// Fills *out (may be NULL) on OK.
EVREPL_NODISCARD evrepl_code evri_pg_db_migrate(evri_pg_db *db, evri_pg_migrated_fn on_applied,
                                                void *arg, evri_pg_migrate_result *out,
                                                evrepl_status *st);

// Stores public_key in signing_keys under its key id (keys.h). *inserted (may be NULL) says
// whether this call stored it (false: it was already there). FAILED_PRECONDITION when the
// table holds the id with another key, or the key under another id.
EVREPL_NODISCARD evrepl_code
evri_pg_db_register_key(evri_pg_db *db, const uint8_t public_key[EVREPL_PUBLIC_KEY_BYTES],
                        bool *inserted, evrepl_status *st);

// Looks up the public key registered under key_id. NOT_FOUND when there is none.
EVREPL_NODISCARD evrepl_code evri_pg_db_signing_key(evri_pg_db *db, const char *key_id,
                                                    uint8_t out[EVREPL_PUBLIC_KEY_BYTES],
                                                    evrepl_status *st);

// The head of the log: its sequence and content hash; 0 and 32 zero bytes for an empty log.
EVREPL_NODISCARD evrepl_code evri_pg_db_head(evri_pg_db *db, uint64_t *sequence,
                                             uint8_t hash[EVREPL_HASH_BYTES], evrepl_status *st);

// Called for each event read. ev (and its payload) is valid during the call only. Returning
// anything but OK stops the read, and evri_pg_db_read_events() returns that code.
typedef evrepl_code (*evri_pg_event_fn)(void *arg, const evri_event *ev, evrepl_status *st);

// Reads up to max events with sequence >= first, in sequence order, in pages. A row that
// cannot fill an evri_event stops the read with INVALID_ARGUMENT.
EVREPL_NODISCARD evrepl_code evri_pg_db_read_events(evri_pg_db *db, uint64_t first, uint64_t max,
                                                    evri_pg_event_fn fn, void *arg,
                                                    evrepl_status *st);

// Reads one event by id. NOT_FOUND when the node does not hold it.
EVREPL_NODISCARD evrepl_code evri_pg_db_read_event(evri_pg_db *db,
                                                   const uint8_t event_id[EVRI_EVENT_ID_BYTES],
                                                   evri_pg_event_fn fn, void *arg,
                                                   evrepl_status *st);

// LISTENs on channel (an SQL identifier: [a-z_][a-z0-9_]*, else INVALID_ARGUMENT).
EVREPL_NODISCARD evrepl_code evri_pg_db_listen(evri_pg_db *db, const char *channel,
                                               evrepl_status *st);

// Waits up to timeout_ms for the next notification on a LISTENed channel and copies its
// payload into payload (truncated to payload_size). DEADLINE_EXCEEDED when none came.
EVREPL_NODISCARD evrepl_code evri_pg_db_wait_notify(evri_pg_db *db, int timeout_ms, char *payload,
                                                    size_t payload_size, evrepl_status *st);

// Convenience wrappers that open and close their own connection.
EVREPL_NODISCARD evrepl_code evri_pg_migrate(const char *conninfo, evri_pg_migrated_fn on_applied,
                                             void *arg, evri_pg_migrate_result *out,
                                             evrepl_status *st);
EVREPL_NODISCARD evrepl_code evri_pg_schema_version(const char *conninfo,
                                                    char out[EVRI_PG_SCHEMA_VERSION_MAX],
                                                    evrepl_status *st);

#endif // EVREPL_ADAPTERS_POSTGRES_ADMIN_H
