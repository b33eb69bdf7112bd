// The SQL migrations of migrations/, embedded at build time (cmake/EmbedMigrations.cmake).
//
// Thread safety: read-only data.
#ifndef EVREPL_MIGRATIONS_MIGRATIONS_H
#define EVREPL_MIGRATIONS_MIGRATIONS_H

#include <stddef.h>

typedef struct evri_migration {
    const char *version; // "0001": the file's number, recorded in schema_migrations
    const char *name;    // "0001_events.sql"
    const char *sql;     // the whole file
} evri_migration;

// Every migration, oldest first.
extern const evri_migration evri_migrations[];
extern const size_t evri_n_migrations;

// The schema version this build expects: the newest migration's number.
extern const char evri_schema_version[];

#endif // EVREPL_MIGRATIONS_MIGRATIONS_H
