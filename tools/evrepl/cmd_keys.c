// Key commands: keygen, token-new, token-hash.
#include <getopt.h>
#include <stdio.h>

#include <sodium.h>

#include "cli.h"
#include "common/keyfile.h"
#include "domain/keys.h"
#include "handlers/handlers.h"
#include "rpc/auth.h"

int
evri_cmd_keygen(evri_cli *cli, int argc, char **argv)
{
    static const struct option opts[] = {
        {"out", required_argument, NULL, 'o'},
        {NULL, 0, NULL, 0},
    };
    const char *path = NULL;
    int opt;
    while ((opt = getopt_long(argc, argv, "+", opts, NULL)) != -1) {
        if (opt != 'o') {
            return evri_cli_usage_error(cli, "keygen", "unknown option '%s'", argv[optind - 1]);
        }
        path = optarg;
    }
    if (path == NULL || optind != argc) {
        return evri_cli_usage_error(cli, "keygen", "want --out FILE and nothing else");
    }
    evrepl_status st;
    evri_signer *s = NULL;
    if (evri_signer_generate(&s, &st) != EVREPL_CODE_OK) {
        return evri_cli_fail(cli, &st);
    }
    evrepl_code code = evri_keyfile_write(s, path, &st);
    if (code == EVREPL_CODE_OK) {
        fprintf(cli->out, "%s\n", evri_signer_key_id(s));
    }
    evri_signer_destroy(s);
    if (code == EVREPL_CODE_ALREADY_EXISTS) {
        return evri_cli_usage_error(cli, "keygen", "%s (refusing to overwrite a key)", st.message);
    }
    return code == EVREPL_CODE_OK ? EVRI_EXIT_OK : evri_cli_fail(cli, &st);
}

// Token commands: token-new, token-hash. The method names are checked against the server's
// own method table (rpc/auth.h), so a typo is a usage error here rather than a refused start.

// Parses `--methods M[,M...]` (and `--token TOKEN` when token is not NULL).
static int
token_flags(evri_cli *cli, const char *cmd, int argc, char **argv, const char **methods,
            const char **token)
{
    static const struct option opts[] = {
        {"methods", required_argument, NULL, 'm'},
        {"token", required_argument, NULL, 't'},
        {NULL, 0, NULL, 0},
    };
    int opt;
    while ((opt = getopt_long(argc, argv, "+", opts, NULL)) != -1) {
        if (opt == 'm') {
            *methods = optarg;
        } else if (opt == 't' && token != NULL) {
            *token = optarg;
        } else {
            return evri_cli_usage_error(cli, cmd, "unknown option '%s'", argv[optind - 1]);
        }
    }
    if (*methods == NULL || (token != NULL && *token == NULL) || optind != argc) {
        return evri_cli_usage_error(cli, cmd, "want %s and nothing else",
                                    token != NULL ? "--token TOKEN --methods M[,M...]"
                                                  : "--methods M[,M...]");
    }
    return EVRI_EXIT_OK;
}

// Writes the tokens-file line for token into line; a usage error for an unknown method.
static int
token_line(evri_cli *cli, const char *cmd, const char *token, const char *methods, char *line,
           size_t size)
{
    size_t n_bindings;
    const evri_service_binding *bindings = evri_handler_bindings(&n_bindings);
    evri_auth *a = NULL;
    evrepl_status st;
    if (evri_auth_create(&a, bindings, n_bindings, &st) != EVREPL_CODE_OK) {
        return evri_cli_fail(cli, &st);
    }
    evrepl_code code = evri_auth_token_line(a, token, methods, line, size, &st);
    evri_auth_destroy(a);
    if (code != EVREPL_CODE_OK) {
        return evri_cli_usage_error(cli, cmd, "%s", st.message);
    }
    return EVRI_EXIT_OK;
}

int
evri_cmd_token_new(evri_cli *cli, int argc, char **argv)
{
    const char *methods = NULL;
    char token[EVRI_TOKEN_NEW_CHARS + 1];
    char line[EVRI_TOKEN_LINE_MAX];
    int rc = token_flags(cli, "token-new", argc, argv, &methods, NULL);
    if (rc != EVRI_EXIT_OK) {
        return rc;
    }
    evri_auth_token_new(token);
    rc = token_line(cli, "token-new", token, methods, line, sizeof(line));
    if (rc == EVRI_EXIT_OK) {
        fprintf(cli->out, "%s\n%s\n", token, line);
    }
    sodium_memzero(token, sizeof(token));
    return rc;
}

int
evri_cmd_token_hash(evri_cli *cli, int argc, char **argv)
{
    const char *methods = NULL, *token = NULL;
    char line[EVRI_TOKEN_LINE_MAX];
    int rc = token_flags(cli, "token-hash", argc, argv, &methods, &token);
    if (rc != EVRI_EXIT_OK) {
        return rc;
    }
    rc = token_line(cli, "token-hash", token, methods, line, sizeof(line));
    if (rc == EVRI_EXIT_OK) {
        fprintf(cli->out, "%s\n", line);
    }
    return rc;
}
