// The RPC commands: propagate, verify, health, describe.
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "cli.h"
#include "output.h"

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
    evrepl_call_opts co = {.timeout_ms = cli->timeout_ms};
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
    evrepl_call_opts co = {.timeout_ms = cli->timeout_ms};
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

int
evri_cmd_verify(evri_cli *cli, int argc, char **argv)
{
    static const struct option opts[] = {
        {"tail", required_argument, NULL, 't'},
        {"full", no_argument, NULL, 'f'},
        {"receipt-public-key", required_argument, NULL, 'k'},
        {NULL, 0, NULL, 0},
    };
    evrepl_verify_request vr = {0};
    uint8_t pinned[EVREPL_PUBLIC_KEY_BYTES];
    bool have_pin = false;
    int opt;
    while ((opt = getopt_long(argc, argv, "+", opts, NULL)) != -1) {
        switch (opt) {
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
    evrepl_status st;
    evrepl_client *c = NULL;
    if (evri_cli_connect(cli, &c, &st) != EVREPL_CODE_OK) {
        return evri_cli_fail(cli, &st);
    }
    evrepl_verification v = {0};
    evrepl_call_opts co = {.timeout_ms = cli->timeout_ms};
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
    evrepl_call_opts co = {.timeout_ms = cli->timeout_ms};
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
    evrepl_call_opts co = {.timeout_ms = cli->timeout_ms};
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
