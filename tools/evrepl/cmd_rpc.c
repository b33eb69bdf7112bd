// The RPC commands: propagate, verify (once, or --watch), health, describe.
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "cli.h"
#include "common/clock.h"
#include "domain/replica_state.h"
#include "output.h"

#define WATCH_MAX_SECONDS 86400u

// Parses --receipt-public-key HEX (64 hex digits) into pk.
static bool
parse_public_key(const char *hex, uint8_t pk[EVREPL_PUBLIC_KEY_BYTES])
{
    size_t len = 0;
    const char *end = NULL;
    return sodium_hex2bin(pk, EVREPL_PUBLIC_KEY_BYTES, hex, strlen(hex), NULL, &len, &end) == 0 &&
           len == EVREPL_PUBLIC_KEY_BYTES && *end == '\0';
}

// Finds the key to check a signature with: the pinned one, else the server's (Describe).
static bool
signature_key(evri_cli *cli, evrepl_client *c, const uint8_t *pinned,
              uint8_t pk[EVREPL_PUBLIC_KEY_BYTES], evri_sig_check *sig)
{
    if (pinned != NULL) {
        memcpy(pk, pinned, EVREPL_PUBLIC_KEY_BYTES);
        sig->key_source = "pinned";
        return true;
    }
    evrepl_server_description d = {0};
    evrepl_status st;
    evrepl_call_opts co = evri_cli_call_opts(cli);
    if (evrepl_client_describe(c, &co, &d, &st) != EVREPL_CODE_OK) {
        sig->code = st.code;
        snprintf(sig->message, sizeof(sig->message), "cannot fetch the server's key: %.200s",
                 st.message);
        return false;
    }
    bool ok = d.receipt_public_key_len == EVREPL_PUBLIC_KEY_BYTES;
    if (ok) {
        memcpy(pk, d.receipt_public_key, EVREPL_PUBLIC_KEY_BYTES);
        sig->key_source = "server";
    } else {
        sig->code = EVREPL_CODE_UNAVAILABLE;
        snprintf(sig->message, sizeof(sig->message), "the server publishes no receipt key");
    }
    evrepl_server_description_clear(&d);
    return ok;
}

int
evri_cmd_propagate(evri_cli *cli, int argc, char **argv)
{
    static const struct option opts[] = {
        {"receipt-public-key", required_argument, NULL, 'k'},
        {NULL, 0, NULL, 0},
    };
    uint8_t pinned[EVREPL_PUBLIC_KEY_BYTES];
    bool have_pin = false;
    int opt;
    while ((opt = getopt_long(argc, argv, "+", opts, NULL)) != -1) {
        if (opt == 'k' && parse_public_key(optarg, pinned)) {
            have_pin = true;
            continue;
        }
        if (opt == 'k') {
            return evri_cli_usage_error(cli, "propagate",
                                        "--receipt-public-key wants 64 hex digits");
        }
        return evri_cli_usage_error(cli, "propagate", "unknown option '%s'", argv[optind - 1]);
    }
    if (optind != argc - 1) {
        return evri_cli_usage_error(cli, "propagate", "want exactly one EVENT_ID");
    }
    const char *event_id = argv[optind];
    uint8_t uuid[16];
    evrepl_status st;
    if (evrepl_uuid_parse(event_id, uuid, &st) != EVREPL_CODE_OK) {
        return evri_cli_usage_error(cli, "propagate", "%s", st.message);
    }

    evrepl_client *c = NULL;
    if (evri_cli_connect(cli, &c, &st) != EVREPL_CODE_OK) {
        return evri_cli_fail(cli, &st);
    }
    evrepl_receipt r = {0};
    evrepl_call_opts co = evri_cli_call_opts(cli);
    if (evrepl_client_propagate_event(c, event_id, &co, &r, &st) != EVREPL_CODE_OK) {
        evrepl_client_destroy(c);
        return evri_cli_fail(cli, &st);
    }
    evri_sig_check sig = {.code = EVREPL_CODE_FAILED_PRECONDITION};
    snprintf(sig.message, sizeof(sig.message), "the server signs no receipts");
    if (r.signature_len > 0) {
        uint8_t pk[EVREPL_PUBLIC_KEY_BYTES];
        if (signature_key(cli, c, have_pin ? pinned : NULL, pk, &sig)) {
            evrepl_status vs;
            sig.code = evrepl_receipt_verify_signature(&r, pk, &vs);
            snprintf(sig.message, sizeof(sig.message), "%s", vs.message);
        }
    }
    if (cli->json) {
        evri_out_receipt_json(cli->out, &r, &sig);
    } else {
        evri_out_receipt(cli->out, &r, &sig);
    }
    bool good = (r.status == EVREPL_REPLICATION_STATUS_CONFIRMED ||
                 r.status == EVREPL_REPLICATION_STATUS_NOT_CONFIGURED) &&
                (r.signature_len == 0 || sig.code == EVREPL_CODE_OK);
    evrepl_receipt_clear(&r);
    evrepl_client_destroy(c);
    return good ? EVRI_EXIT_OK : EVRI_EXIT_NEGATIVE;
}

// Checks a result's signature: with the pinned key, else the server's (fetched once into
// *pk, *have_pk).
static void
verification_sig(evri_cli *cli, evrepl_client *c, const evrepl_verification *v,
                 const uint8_t *pinned, uint8_t pk[EVREPL_PUBLIC_KEY_BYTES], bool *have_pk,
                 evri_sig_check *sig)
{
    *sig = (evri_sig_check){.code = EVREPL_CODE_FAILED_PRECONDITION};
    snprintf(sig->message, sizeof(sig->message), "the server signs no results");
    if (v->signature_len == 0) {
        return;
    }
    if (!*have_pk && !signature_key(cli, c, pinned, pk, sig)) {
        return;
    }
    *have_pk = true;
    sig->key_source = pinned != NULL ? "pinned" : "server";
    evrepl_status vs;
    sig->code = evrepl_verification_verify_signature(v, pk, &vs);
    snprintf(sig->message, sizeof(sig->message), "%s", vs.message);
}

// Waits until deadline_ns (monotonic) or one of sigs; true when a signal came.
static bool
watch_sleep(const sigset_t *sigs, uint64_t deadline_ns)
{
    for (;;) {
        uint64_t now = evri_now_ns();
        uint64_t left = deadline_ns > now ? deadline_ns - now : 0;
        struct timespec ts = {.tv_sec = (time_t)(left / 1000000000u),
                              .tv_nsec = (long)(left % 1000000000u)};
        int sig = sigtimedwait(sigs, NULL, &ts);
        if (sig > 0) {
            return true;
        }
        if (errno != EINTR || evri_now_ns() >= deadline_ns) {
            return false; // EAGAIN: the time is up
        }
    }
}

// `verify --watch`: verifies every interval_s seconds and prints a first line, then one line
// each time the outcome changes (the result's validity and signature, a replica's state, or
// the error). SIGINT or SIGTERM ends it with 0; with fail_fast the first diverged replica ends
// it with 1. For cron and alerting: the exit code and the lines are the interface.
static int
verify_watch(evri_cli *cli, const evrepl_verify_request *vr, uint32_t interval_s, bool fail_fast,
             const uint8_t *pinned)
{
    sigset_t sigs, old;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    // Blocked before the client starts NNG's threads, which inherit the mask: the signals
    // then wait for sigtimedwait() here instead of killing the process.
    pthread_sigmask(SIG_BLOCK, &sigs, &old);
    evrepl_status st;
    evrepl_client *c = NULL;
    int rc = EVRI_EXIT_OK;
    char last[EVRI_WATCH_KEY_MAX] = "";
    uint8_t pk[EVREPL_PUBLIC_KEY_BYTES];
    bool have_pk = false;
    if (pinned != NULL) {
        memcpy(pk, pinned, sizeof(pk));
        have_pk = true;
    }
    for (;;) {
        uint64_t started = evri_now_ns();
        char key[EVRI_WATCH_KEY_MAX];
        bool diverged = false;
        evrepl_verification v = {0};
        evrepl_call_opts co = evri_cli_call_opts(cli);
        // A server that is down (at start too) is a line and a retry, not the end; a URL or
        // TLS file that cannot work is.
        if (c == NULL && evri_cli_connect(cli, &c, &st) != EVREPL_CODE_OK &&
            st.code != EVREPL_CODE_UNAVAILABLE) {
            rc = evri_cli_fail(cli, &st);
            break;
        }
        if (c != NULL && evrepl_client_verify_replicas(c, vr, &co, &v, &st) == EVREPL_CODE_OK) {
            evri_sig_check sig;
            verification_sig(cli, c, &v, pinned, pk, &have_pk, &sig);
            evri_out_watch_key(key, sizeof(key), &v, &sig);
            if (strcmp(key, last) != 0) {
                evri_out_watch_line(cli->out, &v, &sig, cli->json);
            }
            for (size_t i = 0; i < v.n_replicas; i++) {
                diverged = diverged ||
                           evri_replica_state_of(&v.replicas[i]) == EVRI_REPLICA_STATE_DIVERGED;
            }
        } else {
            snprintf(key, sizeof(key), "error %s", evrepl_code_name(st.code));
            if (strcmp(key, last) != 0) {
                evri_out_watch_error(cli->out, &st, cli->json);
            }
        }
        evrepl_verification_clear(&v);
        fflush(cli->out);
        snprintf(last, sizeof(last), "%s", key);
        if (diverged && fail_fast) {
            rc = EVRI_EXIT_NEGATIVE;
            break;
        }
        if (watch_sleep(&sigs, started + (uint64_t)interval_s * 1000000000u)) {
            break;
        }
    }
    evrepl_client_destroy(c);
    // A signal that came meanwhile is taken here, not delivered when the mask is restored.
    struct timespec zero = {0, 0};
    while (sigtimedwait(&sigs, NULL, &zero) > 0) {
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return rc;
}

int
evri_cmd_verify(evri_cli *cli, int argc, char **argv)
{
    static const struct option opts[] = {
        {"tail", required_argument, NULL, 't'},
        {"full", no_argument, NULL, 'f'},
        {"receipt-public-key", required_argument, NULL, 'k'},
        {"watch", required_argument, NULL, 'w'},
        {"fail-fast", no_argument, NULL, 'F'},
        {NULL, 0, NULL, 0},
    };
    evrepl_verify_request vr = {0};
    uint8_t pinned[EVREPL_PUBLIC_KEY_BYTES];
    bool have_pin = false;
    uint32_t watch_s = 0;
    bool fail_fast = false;
    int opt;
    while ((opt = getopt_long(argc, argv, "+", opts, NULL)) != -1) {
        switch (opt) {
        case 'w':
            if (!evri_cli_parse_u32(optarg, &watch_s) || watch_s == 0 ||
                watch_s > WATCH_MAX_SECONDS) {
                return evri_cli_usage_error(cli, "verify",
                                            "--watch wants seconds from 1 to %u, not '%s'",
                                            WATCH_MAX_SECONDS, optarg);
            }
            break;
        case 'F':
            fail_fast = true;
            break;
        case 't':
            if (!evri_cli_parse_u32(optarg, &vr.tail)) {
                return evri_cli_usage_error(cli, "verify", "--tail wants a number, not '%s'",
                                            optarg);
            }
            break;
        case 'f':
            vr.full_audit = true;
            break;
        case 'k':
            if (!parse_public_key(optarg, pinned)) {
                return evri_cli_usage_error(cli, "verify",
                                            "--receipt-public-key wants 64 hex digits");
            }
            have_pin = true;
            break;
        default:
            return evri_cli_usage_error(cli, "verify", "unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind != argc) {
        return evri_cli_usage_error(cli, "verify", "unexpected argument '%s'", argv[optind]);
    }
    if (fail_fast && watch_s == 0) {
        return evri_cli_usage_error(cli, "verify", "--fail-fast needs --watch SECONDS");
    }
    if (watch_s > 0) {
        return verify_watch(cli, &vr, watch_s, fail_fast, have_pin ? pinned : NULL);
    }
    evrepl_status st;
    evrepl_client *c = NULL;
    if (evri_cli_connect(cli, &c, &st) != EVREPL_CODE_OK) {
        return evri_cli_fail(cli, &st);
    }
    evrepl_verification v = {0};
    evrepl_call_opts co = evri_cli_call_opts(cli);
    if (evrepl_client_verify_replicas(c, &vr, &co, &v, &st) != EVREPL_CODE_OK) {
        evrepl_client_destroy(c);
        return evri_cli_fail(cli, &st);
    }
    evri_sig_check sig = {.code = EVREPL_CODE_FAILED_PRECONDITION};
    snprintf(sig.message, sizeof(sig.message), "the server signs no results");
    if (v.signature_len > 0) {
        uint8_t pk[EVREPL_PUBLIC_KEY_BYTES];
        if (signature_key(cli, c, have_pin ? pinned : NULL, pk, &sig)) {
            evrepl_status vs;
            sig.code = evrepl_verification_verify_signature(&v, pk, &vs);
            snprintf(sig.message, sizeof(sig.message), "%s", vs.message);
        }
    }
    if (cli->json) {
        evri_out_verification_json(cli->out, &v, &sig);
    } else {
        evri_out_verification(cli->out, &v, &sig);
    }
    bool good =
        evrepl_verification_is_valid(&v) && (v.signature_len == 0 || sig.code == EVREPL_CODE_OK);
    evrepl_verification_clear(&v);
    evrepl_client_destroy(c);
    return good ? EVRI_EXIT_OK : EVRI_EXIT_NEGATIVE;
}

int
evri_cmd_health(evri_cli *cli, int argc, char **argv)
{
    static const struct option opts[] = {
        {"service", required_argument, NULL, 's'},
        {NULL, 0, NULL, 0},
    };
    const char *service = "";
    int opt;
    while ((opt = getopt_long(argc, argv, "+", opts, NULL)) != -1) {
        if (opt != 's') {
            return evri_cli_usage_error(cli, "health", "unknown option '%s'", argv[optind - 1]);
        }
        service = optarg;
    }
    if (optind != argc) {
        return evri_cli_usage_error(cli, "health", "unexpected argument '%s'", argv[optind]);
    }
    evrepl_status st;
    evrepl_client *c = NULL;
    if (evri_cli_connect(cli, &c, &st) != EVREPL_CODE_OK) {
        return evri_cli_fail(cli, &st);
    }
    evrepl_serving_status s;
    evrepl_call_opts co = evri_cli_call_opts(cli);
    evrepl_code code = evrepl_client_health_check(c, service, &co, &s, &st);
    evrepl_client_destroy(c);
    if (code != EVREPL_CODE_OK) {
        return evri_cli_fail(cli, &st);
    }
    if (cli->json) {
        evri_out_health_json(cli->out, s);
    } else {
        fprintf(cli->out, "%s\n", evrepl_serving_status_name(s));
    }
    return s == EVREPL_SERVING_STATUS_SERVING ? EVRI_EXIT_OK : EVRI_EXIT_NEGATIVE;
}

int
evri_cmd_describe(evri_cli *cli, int argc, char **argv)
{
    if (argc > 1) {
        return evri_cli_usage_error(cli, "describe", "unexpected argument '%s'", argv[1]);
    }
    evrepl_status st;
    evrepl_client *c = NULL;
    if (evri_cli_connect(cli, &c, &st) != EVREPL_CODE_OK) {
        return evri_cli_fail(cli, &st);
    }
    evrepl_server_description d = {0};
    evrepl_call_opts co = evri_cli_call_opts(cli);
    evrepl_code code = evrepl_client_describe(c, &co, &d, &st);
    evrepl_client_destroy(c);
    if (code != EVREPL_CODE_OK) {
        return evri_cli_fail(cli, &st);
    }
    if (cli->json) {
        evri_out_description_json(cli->out, &d);
    } else {
        evri_out_description(cli->out, &d);
    }
    evrepl_server_description_clear(&d);
    return EVRI_EXIT_OK;
}
