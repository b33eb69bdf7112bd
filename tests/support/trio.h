// The local trio (tools/trio) from a test: conninfos, SQL on one node, stopping and starting
// nodes. The trio is started by the ctest fixture of tests/pg (EVREPL_TRIO_DIR and
// EVREPL_TRIO_PORT in the environment).
#ifndef EVREPL_TESTS_SUPPORT_TRIO_H
#define EVREPL_TESTS_SUPPORT_TRIO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TRIO_PRIMARY  "primary"
#define TRIO_US_EAST  "us-east"
#define TRIO_EU_WEST  "eu-west"
#define TRIO_AP_SOUTH "ap-south"

// True when the environment names a trio (else the test skips, or fails under CI).
bool trio_configured(void);

// The conninfo of a node (static buffer per call site: copy it if you keep it).
const char *trio_conninfo(const char *node);

// Runs SQL on a node (superuser); fails the test on error.
void trio_exec(const char *node, const char *sql);

// Runs a query on a node and returns the first value as text ("" for NULL).
void trio_value(const char *node, const char *sql, char *out, size_t size);

// Stops / starts a node through tools/trio; fails the test on error.
void trio_stop(const char *node);
void trio_start(const char *node);

#endif // EVREPL_TESTS_SUPPORT_TRIO_H
