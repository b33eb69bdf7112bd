#include "cli.h"

#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "output.h"

static const evri_cmd commands[] = {
    {"propagate", evri_cmd_propagate, "EVENT_ID",
     "PropagateEvent: print the receipt and whether its signature checks"},
    {"verify", evri_cmd_verify, "[--tail N] [--full] [--watch SECONDS [--fail-fast]]",
     "VerifyReplicas: a per-replica table, or with --watch a line per change"},
    {"health", evri_cmd_health, "[--service NAME]", "Health/Check"},
    {"describe", evri_cmd_describe, "", "Server/Describe"},
    {"keygen", evri_cmd_keygen, "--out FILE", "make an Ed25519 key pair (FILE, FILE.pub)"},
    {"token-new", evri_cmd_token_new, "--methods M[,M...]|*",
     "make a bearer token; print it, then its --tokens file line"},
    {"token-hash", evri_cmd_token_hash, "--token TOKEN --methods M[,M...]|*",
     "print the --tokens file line of a token"},
    {"migrate", evri_cmd_migrate, "--db CONNINFO", "apply the embedded schema migrations"},
    {"register-key", evri_cmd_register_key, "--db CONNINFO --key FILE",
     "store a signing key's public half in signing_keys"},
    {"append", evri_cmd_append,
     "--db CONNINFO --key FILE --type TYPE (--payload TEXT | --payload-file FILE) [--count N] "
     "[--stats]",
     "append signed, chained events as the single writer; print their ids"},
};

const evri_cmd *
evri_cli_find(const char *name)
{
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
        if (strcmp(commands[i].name, name) == 0) {
            return &commands[i];
        }
    }
    return NULL;
}

void
evri_cli_usage(FILE *f)
{
    fputs("usage: evrepl [--server URL] [--timeout MS] [--json] [--tls-cert FILE --tls-key FILE\n"
          "              --tls-ca FILE] [--token TOKEN] [--request-id ID] COMMAND "
          "[ARGS]\n\ncommands:\n",
          f);
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
        fprintf(f, "  %s%s%s\n      %s\n", commands[i].name, commands[i].args[0] != '\0' ? " " : "",
                commands[i].args, commands[i].help);
    }
    fputs("\n--server defaults to $EVREPL_SERVER, else " EVRI_CLI_DEFAULT_SERVER
          "; --token to $EVREPL_TOKEN.\n"
          "exit codes: 0 success, 1 negative answer, 2 usage error, 3 RPC/transport/database "
          "error\n",
          f);
}

int
evri_cli_usage_error(evri_cli *cli, const char *cmd, const char *fmt, ...)
{
    va_list ap;
    fprintf(cli->err, "evrepl: ");
    va_start(ap, fmt);
    vfprintf(cli->err, fmt, ap);
    va_end(ap);
    fputc('\n', cli->err);
    const evri_cmd *c = cmd != NULL ? evri_cli_find(cmd) : NULL;
    if (c != NULL) {
        fprintf(cli->err, "usage: evrepl [global options] %s %s\n", c->name, c->args);
    } else {
        evri_cli_usage(cli->err);
    }
    return EVRI_EXIT_USAGE;
}

int
evri_cli_fail(evri_cli *cli, const evrepl_status *st)
{
    fprintf(cli->err, "evrepl: %s: %s\n", evrepl_code_name(st->code), st->message);
    if (cli->json) {
        evri_out_error_json(cli->out, st);
    }
    return EVRI_EXIT_ERROR;
}

bool
evri_cli_parse_u32(const char *s, uint32_t *out)
{
    char *end = NULL;
    if (s == NULL || s[0] < '0' || s[0] > '9') {
        return false;
    }
    errno = 0;
    unsigned long v = strtoul(s, &end, 10);
    if (errno != 0 || *end != '\0' || v > UINT32_MAX) {
        return false;
    }
    *out = (uint32_t)v;
    return true;
}

evrepl_call_opts
evri_cli_call_opts(const evri_cli *cli)
{
    return (evrepl_call_opts){.timeout_ms = cli->timeout_ms, .request_id = cli->request_id};
}

evrepl_code
evri_cli_connect(evri_cli *cli, evrepl_client **out, evrepl_status *st)
{
    evrepl_client_opts o = {
        .url = cli->server,
        .timeout_ms = cli->timeout_ms,
        .tls_cert_file = cli->tls_cert,
        .tls_key_file = cli->tls_key,
        .tls_ca_file = cli->tls_ca,
        .token = cli->token,
    };
    return evrepl_client_create(out, &o, st);
}

enum {
    G_SERVER = 1000,
    G_TIMEOUT,
    G_JSON,
    G_TLS_CERT,
    G_TLS_KEY,
    G_TLS_CA,
    G_TOKEN,
    G_REQUEST_ID,
    G_HELP,
    G_VERSION,
};

int
evri_cli_main(int argc, char **argv, FILE *out, FILE *err)
{
    static const struct option opts[] = {
        {"server", required_argument, NULL, G_SERVER},
        {"timeout", required_argument, NULL, G_TIMEOUT},
        {"json", no_argument, NULL, G_JSON},
        {"tls-cert", required_argument, NULL, G_TLS_CERT},
        {"tls-key", required_argument, NULL, G_TLS_KEY},
        {"tls-ca", required_argument, NULL, G_TLS_CA},
        {"token", required_argument, NULL, G_TOKEN},
        {"request-id", required_argument, NULL, G_REQUEST_ID},
        {"help", no_argument, NULL, G_HELP},
        {"version", no_argument, NULL, G_VERSION},
        {NULL, 0, NULL, 0},
    };
    const char *env_server = getenv("EVREPL_SERVER");
    const char *env_token = getenv("EVREPL_TOKEN");
    evri_cli cli = {
        .server =
            env_server != NULL && env_server[0] != '\0' ? env_server : EVRI_CLI_DEFAULT_SERVER,
        .timeout_ms = EVREPL_CLIENT_DEFAULT_TIMEOUT_MS,
        .token = env_token != NULL && env_token[0] != '\0' ? env_token : NULL,
        .out = out,
        .err = err,
    };
    int opt;
    // "+": stop at the command; its own flags come after it.
    optind = 1;
    opterr = 0;
    while ((opt = getopt_long(argc, argv, "+", opts, NULL)) != -1) {
        switch (opt) {
        case G_SERVER:
            cli.server = optarg;
            break;
        case G_TIMEOUT:
            if (!evri_cli_parse_u32(optarg, &cli.timeout_ms) || cli.timeout_ms == 0) {
                return evri_cli_usage_error(&cli, NULL,
                                            "--timeout wants milliseconds > 0, "
                                            "not '%s'",
                                            optarg);
            }
            break;
        case G_JSON:
            cli.json = true;
            break;
        case G_TLS_CERT:
            cli.tls_cert = optarg;
            break;
        case G_TLS_KEY:
            cli.tls_key = optarg;
            break;
        case G_TLS_CA:
            cli.tls_ca = optarg;
            break;
        case G_TOKEN:
            cli.token = optarg;
            break;
        case G_REQUEST_ID:
            cli.request_id = optarg;
            break;
        case G_HELP:
            evri_cli_usage(out);
            return EVRI_EXIT_OK;
        case G_VERSION:
            fprintf(out, "evrepl %s\n", EVREPL_VERSION_STRING);
            return EVRI_EXIT_OK;
        default:
            return evri_cli_usage_error(&cli, NULL, "unknown or incomplete option '%s'",
                                        argv[optind - 1]);
        }
    }
    if (optind >= argc) {
        return evri_cli_usage_error(&cli, NULL, "no command given");
    }
    const evri_cmd *cmd = evri_cli_find(argv[optind]);
    if (cmd == NULL) {
        return evri_cli_usage_error(&cli, NULL, "unknown command '%s'", argv[optind]);
    }
    // The command sees argv from its own name on, and parses its flags with getopt again.
    int cargc = argc - optind;
    char **cargv = argv + optind;
    optind = 1;
    return cmd->run(&cli, cargc, cargv);
}
