// Key commands: keygen.
#include <getopt.h>
#include <stdio.h>

#include "cli.h"
#include "common/keyfile.h"
#include "domain/keys.h"

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
