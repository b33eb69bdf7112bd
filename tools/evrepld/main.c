// evrepld: the evrepl server. Flags (cli.md) and an optional config file, signals, exit codes.
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/config.h"
#include "server/server.h"

enum {
    EXIT_OK = 0,
    EXIT_FAILED = 1,
    EXIT_USAGE = 2,
    EXIT_ERROR = 3,
};

// Every long option is a setting of evri_config_set() except these.
enum {
    OPT_CONFIG = 1000,
    OPT_CHECK_CONFIG,
    OPT_VERSION,
    OPT_HELP,
    OPT_SETTING,
};

static const struct option long_opts[] = {
    {"listen", required_argument, NULL, OPT_SETTING},
    {"backend", required_argument, NULL, OPT_SETTING},
    {"stub-replicas", required_argument, NULL, OPT_SETTING},
    {"stub-fail", required_argument, NULL, OPT_SETTING},
    {"stub-fail-after", required_argument, NULL, OPT_SETTING},
    {"primary", required_argument, NULL, OPT_SETTING},
    {"replica", required_argument, NULL, OPT_SETTING},
    {"workers", required_argument, NULL, OPT_SETTING},
    {"max-queue", required_argument, NULL, OPT_SETTING},
    {"max-message-bytes", required_argument, NULL, OPT_SETTING},
    {"max-metadata-bytes", required_argument, NULL, OPT_SETTING},
    {"default-timeout-ms", required_argument, NULL, OPT_SETTING},
    {"max-timeout-ms", required_argument, NULL, OPT_SETTING},
    {"receipt-key", required_argument, NULL, OPT_SETTING},
    {"state-file", required_argument, NULL, OPT_SETTING},
    {"trusted-keys", required_argument, NULL, OPT_SETTING},
    {"ipc-mode", required_argument, NULL, OPT_SETTING},
    {"ipc-allow-uid", required_argument, NULL, OPT_SETTING},
    {"tokens", required_argument, NULL, OPT_SETTING},
    {"tls-cert", required_argument, NULL, OPT_SETTING},
    {"tls-key", required_argument, NULL, OPT_SETTING},
    {"tls-ca", required_argument, NULL, OPT_SETTING},
    {"metrics-listen", required_argument, NULL, OPT_SETTING},
    {"log-format", required_argument, NULL, OPT_SETTING},
    {"log-level", required_argument, NULL, OPT_SETTING},
    {"config", required_argument, NULL, OPT_CONFIG},
    {"check-config", required_argument, NULL, OPT_CHECK_CONFIG},
    {"version", no_argument, NULL, OPT_VERSION},
    {"help", no_argument, NULL, OPT_HELP},
    {NULL, 0, NULL, 0},
};

static void
usage(FILE *f)
{
    fputs("usage: evrepld [--listen URL]... [--backend stub|postgres] [options]\n"
          "\n"
          "  --listen URL              ipc://PATH, tcp://HOST:PORT, tls+tcp://HOST:PORT,\n"
          "                            inproc://NAME; repeatable (default tcp://127.0.0.1:7450)\n"
          "  --backend stub|postgres   replicator backend (default stub)\n"
          "  --stub-replicas ID,...    stub: simulated replicas\n"
          "  --stub-fail CODE          stub: fail calls with this status code (tests)\n"
          "  --stub-fail-after N       stub: ... after N successful calls\n"
          "  --primary CONNINFO        postgres: the primary\n"
          "  --replica ID=CONNINFO     postgres: a replica; repeatable, order kept\n"
          "  --workers N               concurrent blocking handlers (default cores x 2)\n"
          "  --max-queue N             calls waiting for a worker (default workers x 8)\n"
          "  --max-message-bytes N     largest request accepted (default 4194304)\n"
          "  --max-metadata-bytes N    request metadata limit (default 8192)\n"
          "  --default-timeout-ms N    deadline of calls that carry none (default 5000)\n"
          "  --max-timeout-ms N        longest deadline honoured (default 600000)\n"
          "  --receipt-key FILE        Ed25519 key that signs receipts (evrepl keygen)\n"
          "  --state-file FILE         remembers verified replica heads across restarts\n"
          "  --trusted-keys FILE       pinned event-signing public keys\n"
          "  --ipc-mode OCTAL          ipc socket file mode (default 0600)\n"
          "  --ipc-allow-uid UID       ipc peers allowed to call; repeatable\n"
          "  --tokens FILE             require bearer tokens (see docs/security.md)\n"
          "  --tls-cert/--tls-key/--tls-ca FILE   tls+tcp:// identity and client CA\n"
          "  --metrics-listen URL      Prometheus metrics at URL/metrics\n"
          "  --log-format text|json    (default text)\n"
          "  --log-level LEVEL         debug, info, warn, error (default info)\n"
          "  --config FILE             read settings from FILE (flags override it)\n"
          "  --check-config FILE       validate FILE, print effective settings, exit\n"
          "  --version, --help\n",
          f);
}

typedef struct flag_setting {
    const char *name;
    const char *value;
} flag_setting;

int
main(int argc, char **argv)
{
    evri_config cfg;
    evrepl_status st = {EVREPL_CODE_OK, ""};
    const char *config_file = NULL;
    bool check_only = false;
    flag_setting *flags = calloc((size_t)argc + 1, sizeof(*flags));
    size_t n_flags = 0;
    int opt, idx, rc = EXIT_USAGE;
    evri_server *srv = NULL;

    evri_config_init(&cfg);
    if (flags == NULL) {
        fprintf(stderr, "evrepld: out of memory\n");
        return EXIT_ERROR;
    }
    opterr = 0;
    while ((opt = getopt_long(argc, argv, "", long_opts, &idx)) != -1) {
        switch (opt) {
        case OPT_SETTING:
            flags[n_flags++] = (flag_setting){long_opts[idx].name, optarg};
            break;
        case OPT_CONFIG:
            config_file = optarg;
            break;
        case OPT_CHECK_CONFIG:
            config_file = optarg;
            check_only = true;
            break;
        case OPT_VERSION:
            printf("evrepld %s\n", EVREPL_VERSION_STRING);
            rc = EXIT_OK;
            goto out;
        case OPT_HELP:
            usage(stdout);
            rc = EXIT_OK;
            goto out;
        default:
            fprintf(stderr, "evrepld: unknown or incomplete option '%s'\n", argv[optind - 1]);
            usage(stderr);
            goto out;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "evrepld: unexpected argument '%s'\n", argv[optind]);
        usage(stderr);
        goto out;
    }
    if (config_file != NULL && evri_config_load_file(&cfg, config_file, &st) != EVREPL_CODE_OK) {
        fprintf(stderr, "evrepld: %s\n", st.message);
        goto out;
    }
    // Flags override the file; a repeatable flag replaces the file's whole list.
    for (size_t i = 0; i < n_flags; i++) {
        bool first = true;
        for (size_t k = 0; k < i; k++) {
            first = first && strcmp(flags[k].name, flags[i].name) != 0;
        }
        if (first && evri_config_is_list(flags[i].name)) {
            evri_config_reset_list(&cfg, flags[i].name);
        }
        if (evri_config_set(&cfg, flags[i].name, flags[i].value, &st) != EVREPL_CODE_OK) {
            fprintf(stderr, "evrepld: %s\n", st.message);
            goto out;
        }
    }
    if (evri_config_finish(&cfg, &st) != EVREPL_CODE_OK) {
        fprintf(stderr, "evrepld: %s\n", st.message);
        goto out;
    }
    if (check_only) {
        evri_config_print(&cfg, stdout);
        rc = EXIT_OK;
        goto out;
    }

    // Signals are taken synchronously by this thread; every other thread inherits the mask.
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);

    if (evri_server_create(&srv, &cfg, stderr, &st) != EVREPL_CODE_OK) {
        fprintf(stderr, "evrepld: %s\n", st.message);
        rc = EXIT_ERROR;
        goto out;
    }
    int sig = 0;
    sigwait(&sigs, &sig);
    // Answer every call already taken; calls have deadlines, so this ends.
    unsigned left = evri_server_drain(srv, cfg.max_timeout_ms + 1000);
    evri_server_destroy(srv);
    rc = left == 0 ? EXIT_OK : EXIT_FAILED;
out:
    evri_config_clear(&cfg);
    free(flags);
    return rc;
}
