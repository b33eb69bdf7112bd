// The evrepl CLI's argument handling and output, driven in-process (no server needed for
// usage errors; an unreachable server for transport errors).
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <json-c/json.h>

#include "cli.h"
#include "output.h"

typedef struct run {
    int rc;
    char *out;
    char *err;
} run;

static run
cli(int argc, char **argv)
{
    run r;
    size_t ol, el;
    FILE *out = open_memstream(&r.out, &ol);
    FILE *err = open_memstream(&r.err, &el);
    r.rc = evri_cli_main(argc, argv, out, err);
    fclose(out);
    fclose(err);
    return r;
}

static void
run_free(run *r)
{
    free(r->out);
    free(r->err);
}

static void
test_cli_usage_errors_exit_2(void **state)
{
    (void)state;
    struct {
        char *argv[8];
        const char *want;
    } cases[] = {
        {{"evrepl", NULL}, "no command"},
        {{"evrepl", "bogus", NULL}, "unknown command"},
        {{"evrepl", "--nope", "health", NULL}, "unknown or incomplete option"},
        {{"evrepl", "--timeout", "abc", "health", NULL}, "--timeout"},
        {{"evrepl", "--timeout", "-5", "health", NULL}, "--timeout"},
        {{"evrepl", "--server", NULL}, "incomplete"},
        {{"evrepl", "propagate", NULL}, "exactly one EVENT_ID"},
        {{"evrepl", "propagate", "a", "b", NULL}, "exactly one EVENT_ID"},
        {{"evrepl", "propagate", "zzz", NULL}, "canonical UUID"},
        {{"evrepl", "propagate", "--receipt-public-key", "beef",
          "0b3c2d1e-aaaa-4bbb-8ccc-0123456789ab", NULL},
         "64 hex digits"},
        {{"evrepl", "verify", "--tail", "x", NULL}, "--tail"},
        {{"evrepl", "verify", "extra", NULL}, "unexpected argument"},
        {{"evrepl", "health", "--bad", NULL}, "unknown option"},
        {{"evrepl", "describe", "x", NULL}, "unexpected argument"},
        {{"evrepl", "keygen", NULL}, "--out FILE"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int argc = 0;
        while (cases[i].argv[argc] != NULL) {
            argc++;
        }
        run r = cli(argc, cases[i].argv);
        if (r.rc != EVRI_EXIT_USAGE || strstr(r.err, cases[i].want) == NULL) {
            fail_msg("case %zu: rc %d, stderr '%s' (want '%s')", i, r.rc, r.err, cases[i].want);
        }
        assert_non_null(strstr(r.err, "usage:"));
        assert_string_equal(r.out, ""); // nothing on stdout for usage errors
        run_free(&r);
    }
}

static void
test_cli_help_and_version(void **state)
{
    (void)state;
    char *help[] = {"evrepl", "--help", NULL};
    run r = cli(2, help);
    assert_int_equal(r.rc, 0);
    for (const char *cmd = "propagate"; cmd != NULL; cmd = NULL) {
        assert_non_null(strstr(r.out, cmd));
    }
    assert_non_null(strstr(r.out, "verify"));
    assert_non_null(strstr(r.out, "exit codes"));
    run_free(&r);
    char *ver[] = {"evrepl", "--version", NULL};
    r = cli(2, ver);
    assert_int_equal(r.rc, 0);
    assert_non_null(strstr(r.out, "evrepl "));
    run_free(&r);
}

static void
test_cli_transport_error_exit_3_and_json_error(void **state)
{
    (void)state;
    char *argv[] = {"evrepl", "--server", "ipc:///nonexistent/evrepl-test.sock",
                    "--json", "health",   NULL};
    run r = cli(5, argv);
    assert_int_equal(r.rc, EVRI_EXIT_ERROR);
    assert_non_null(strstr(r.err, "UNAVAILABLE"));
    assert_int_equal(strchr(r.err, '\n') - r.err + 1, (long)strlen(r.err)); // one line
    json_object *j = json_tokener_parse(r.out);
    assert_non_null(j);
    json_object *e, *code;
    assert_true(json_object_object_get_ex(j, "error", &e));
    assert_true(json_object_object_get_ex(e, "code", &code));
    assert_int_equal(json_object_get_int(code), EVREPL_CODE_UNAVAILABLE);
    json_object_put(j);
    run_free(&r);
}

static void
test_cli_env_server_default(void **state)
{
    (void)state;
    setenv("EVREPL_SERVER", "ipc:///nonexistent/from-env.sock", 1);
    char *argv[] = {"evrepl", "health", NULL};
    run r = cli(2, argv);
    assert_int_equal(r.rc, EVRI_EXIT_ERROR);
    assert_non_null(strstr(r.err, "from-env.sock"));
    run_free(&r);
    unsetenv("EVREPL_SERVER");
}

static void
test_cli_receipt_json_shape(void **state)
{
    (void)state;
    evrepl_replica_ack ack = {.replica_id = "us-east",
                              .state = EVREPL_ACK_STATE_MISMATCH,
                              .observed_content_hash_len = 32,
                              .detail = "holds another version"};
    memset(ack.observed_content_hash, 0xab, 32);
    evrepl_receipt r = {.status = EVREPL_REPLICATION_STATUS_FAILED,
                        .timestamp = {1767225600, 5000},
                        .acks = &ack,
                        .n_acks = 1,
                        .content_hash_len = 32};
    strcpy(r.event_id, "0b3c2d1e-aaaa-4bbb-8ccc-0123456789ab");
    memset(r.content_hash, 0x01, 32);
    evri_sig_check sig = {.code = EVREPL_CODE_FAILED_PRECONDITION, .message = "unsigned"};
    char *buf;
    size_t len;
    FILE *f = open_memstream(&buf, &len);
    evri_out_receipt_json(f, &r, &sig);
    fclose(f);
    json_object *j = json_tokener_parse(buf);
    assert_non_null(j);
    json_object *v, *a0;
    assert_true(json_object_object_get_ex(j, "status", &v));
    assert_string_equal(json_object_get_string(v), "REPLICATION_STATUS_FAILED");
    assert_true(json_object_object_get_ex(j, "timestamp", &v));
    assert_string_equal(json_object_get_string(v), "2026-01-01T00:00:00.000005Z");
    assert_true(json_object_object_get_ex(j, "content_hash", &v));
    assert_int_equal(strlen(json_object_get_string(v)), 64);
    assert_string_equal(json_object_get_string(v),
                        "0101010101010101010101010101010101010101010101010101010101010101");
    assert_true(json_object_object_get_ex(j, "acks", &v));
    a0 = json_object_array_get_idx(v, 0);
    assert_true(json_object_object_get_ex(a0, "state", &v));
    assert_string_equal(json_object_get_string(v), "ACK_STATE_MISMATCH");
    assert_true(json_object_object_get_ex(a0, "observed_content_hash", &v));
    assert_string_equal(json_object_get_string(v),
                        "abababababababababababababababababababababababababababababababab");
    assert_true(json_object_object_get_ex(j, "signature", &v));
    assert_string_equal(json_object_get_string(v), "");
    json_object_put(j);
    free(buf);
}

static void
test_cli_verification_json_numbers(void **state)
{
    (void)state;
    evrepl_replica_verification rv = {.replica_id = "eu-west",
                                      .head_sequence = UINT64_MAX,
                                      .lag_events = 3,
                                      .schema_version = "0002",
                                      .diverged_at_sequence = 42};
    evrepl_verification v = {
        .replicas = &rv, .n_replicas = 1, .schema_version = "0002", .primary_head_sequence = 1000};
    char *buf;
    size_t len;
    FILE *f = open_memstream(&buf, &len);
    evri_out_verification_json(f, &v, NULL);
    fclose(f);
    json_object *j = json_tokener_parse(buf);
    assert_non_null(j);
    json_object *reps, *r0, *n;
    assert_true(json_object_object_get_ex(j, "primary_head_sequence", &n));
    assert_int_equal(json_object_get_type(n), json_type_int);
    assert_int_equal(json_object_get_int64(n), 1000);
    assert_true(json_object_object_get_ex(j, "replicas", &reps));
    r0 = json_object_array_get_idx(reps, 0);
    assert_true(json_object_object_get_ex(r0, "head_sequence", &n));
    assert_int_equal(json_object_get_uint64(n), UINT64_MAX);
    assert_true(json_object_object_get_ex(r0, "diverged_at_sequence", &n));
    assert_int_equal(json_object_get_int64(n), 42);
    assert_true(json_object_object_get_ex(j, "valid", &n));
    assert_false(json_object_get_boolean(n));
    json_object_put(j);
    free(buf);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cli_usage_errors_exit_2),
        cmocka_unit_test(test_cli_help_and_version),
        cmocka_unit_test(test_cli_transport_error_exit_3_and_json_error),
        cmocka_unit_test(test_cli_env_server_default),
        cmocka_unit_test(test_cli_receipt_json_shape),
        cmocka_unit_test(test_cli_verification_json_numbers),
    };
    return cmocka_run_group_tests_name("cli", tests, NULL, NULL);
}
