// Helpers of the pg suites that test the data layer: the fixture's trio (tools/trio writes
// $EVREPL_TRIO_DIR/nodes, one "NODE CONNINFO" line per node, once it is up), SQL through
// src/adapters/postgres/admin.h, and the evrepl program.
#ifndef EVREPL_TESTS_PG_PGTEST_H
#define EVREPL_TESTS_PG_PGTEST_H

#include <stdbool.h>
#include <stddef.h>

#include "adapters/postgres/admin.h"
#include "adapters/postgres/writer.h"
#include "domain/keys.h"
#include "evrepl/types.h"
#include "server/server.h"

#define PGT_PRIMARY  "primary"
#define PGT_US_EAST  "us-east"
#define PGT_EU_WEST  "eu-west"
#define PGT_AP_SOUTH "ap-south"

// Reads the trio's nodes file. False (with the reason in why) when there is no trio.
bool pgt_trio_ready(char *why, size_t why_size);

// What a suite's main() returns when the trio is not there: 77 (ctest SKIP_RETURN_CODE), or
// 1 under CI=true. Prints why.
int pgt_unavailable(const char *suite, const char *why);

// The conninfo of a node's evrepl database (after pgt_trio_ready()). Static storage.
const char *pgt_conninfo(const char *node);

// The conninfo of database db on a node, into out.
void pgt_conninfo_db(const char *node, const char *db, char *out, size_t size);

// Opens a connection or fails the test.
evri_pg_db *pgt_open(const char *conninfo);

// Runs SQL or fails the test.
void pgt_exec(const char *conninfo, const char *sql);

// Runs SQL that must fail with SQLSTATE want, or fails the test.
void pgt_exec_fails(const char *conninfo, const char *sql, const char *want);

// The first value of a query as a number, or fails the test.
long long pgt_number(const char *conninfo, const char *sql);

// The first value of a query as text ("" for NULL) into out, or fails the test.
void pgt_text(const char *conninfo, const char *sql, char *out, size_t size);

// Stops / starts one node through tools/trio (fault tests), or fails the test.
void pgt_stop(const char *node);
void pgt_start(const char *node);

// The folder that holds the nodes' data directories (DIR, or where DIR/data points).
void pgt_data_dir(char *out, size_t size);

// Registers the signer's public key on the primary (idempotent), or fails the test.
void pgt_register_key(const evri_signer *s);

// Appends count events of event_type signed by s through the single writer, calling on_batch
// (may be NULL) after each committed batch, or fails the test.
void pgt_append(const evri_signer *s, const char *event_type, uint64_t count,
                evri_pg_appended_fn on_batch, void *arg);

// Starts an in-process evrepld on url: the postgres backend on the trio (primary and the three
// replicas in order), log level warn, plus the NULL-terminated name, value, ... settings that
// follow (evrepld's flag names). Fails the test when it cannot.
evri_server *pgt_server_start(const char *url, ...);

// The replica called id in a verification result, or fails the test.
const evrepl_replica_verification *pgt_replica(const evrepl_verification *v, const char *id);

// Sleeps ms milliseconds.
void pgt_sleep_ms(int ms);

// Runs $EVREPL_BIN_DIR/evrepl with the NULL-terminated arguments that follow, in dir (for its
// output files), and returns its exit code; its stdout and stderr land in out and err.
int pgt_evrepl(const char *dir, char *out, size_t out_size, char *err, size_t err_size, ...);

#endif // EVREPL_TESTS_PG_PGTEST_H
