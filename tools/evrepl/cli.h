// The evrepl command-line tool: shared context, exit codes and the command table.
// Everything but main() is in the evrepl_cli library so that tests can drive it.
#ifndef EVREPL_TOOLS_EVREPL_CLI_H
#define EVREPL_TOOLS_EVREPL_CLI_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "evrepl/evrepl.h"

// Exit codes (cli.md).
typedef enum evri_exit {
    EVRI_EXIT_OK = 0,       // success
    EVRI_EXIT_NEGATIVE = 1, // a negative answer: not confirmed, not valid, not serving
    EVRI_EXIT_USAGE = 2,    // usage error: message and usage on stderr
    EVRI_EXIT_ERROR = 3,    // an RPC, transport or database error: one line on stderr
} evri_exit;

#define EVRI_CLI_DEFAULT_SERVER "tcp://127.0.0.1:7450"

// Global options, parsed before the command.
typedef struct evri_cli {
    const char *server;
    uint32_t timeout_ms;
    bool json;
    const char *tls_cert;
    const char *tls_key;
    const char *tls_ca;
    const char *token;
    const char *request_id; // sent as x-request-id on every call, or NULL
    FILE *out;              // stdout
    FILE *err;              // stderr
} evri_cli;

typedef int (*evri_cmd_fn)(evri_cli *cli, int argc, char **argv);

typedef struct evri_cmd {
    const char *name;
    evri_cmd_fn run;
    const char *args; // usage text after the name
    const char *help; // one line
} evri_cmd;

// Parses the global options and runs the command. argv[0] is the program name. Returns the
// exit code. Reads $EVREPL_SERVER and $EVREPL_TOKEN for defaults.
int evri_cli_main(int argc, char **argv, FILE *out, FILE *err);

// The command table, for usage and tests.
const evri_cmd *evri_cli_find(const char *name);
void evri_cli_usage(FILE *f);

// Helpers for commands.
int evri_cli_usage_error(evri_cli *cli, const char *cmd, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
int evri_cli_fail(evri_cli *cli, const evrepl_status *st);
EVREPL_NODISCARD evrepl_code evri_cli_connect(evri_cli *cli, evrepl_client **out,
                                              evrepl_status *st);
// The per-call options every RPC command uses (the global --timeout and --request-id).
evrepl_call_opts evri_cli_call_opts(const evri_cli *cli);

// Parses a decimal uint32 (whole string); false otherwise.
bool evri_cli_parse_u32(const char *s, uint32_t *out);

// Commands.
int evri_cmd_health(evri_cli *cli, int argc, char **argv);
int evri_cmd_describe(evri_cli *cli, int argc, char **argv);
int evri_cmd_propagate(evri_cli *cli, int argc, char **argv);
int evri_cmd_verify(evri_cli *cli, int argc, char **argv);
int evri_cmd_keygen(evri_cli *cli, int argc, char **argv);
int evri_cmd_token_new(evri_cli *cli, int argc, char **argv);
int evri_cmd_token_hash(evri_cli *cli, int argc, char **argv);
int evri_cmd_migrate(evri_cli *cli, int argc, char **argv);
int evri_cmd_register_key(evri_cli *cli, int argc, char **argv);
int evri_cmd_append(evri_cli *cli, int argc, char **argv);

#endif // EVREPL_TOOLS_EVREPL_CLI_H
