// evrepld settings: the one setter, config files, cross-checks, the masked printout.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "server/config.h"
#include "support/support.h"

static void
test_config_defaults(void **state)
{
    (void)state;
    evri_config c;
    evrepl_status st;
    evri_config_init(&c);
    assert_int_equal(evri_config_finish(&c, &st), EVREPL_CODE_OK);
    assert_int_equal(c.n_listen, 1);
    assert_string_equal(c.listen[0], "tcp://127.0.0.1:7450");
    assert_string_equal(c.backend, "stub");
    assert_int_equal(c.max_message_bytes, 4194304);
    assert_int_equal(c.default_timeout_ms, 5000);
    assert_int_equal(c.ipc_mode, 0600);
    assert_true(c.workers >= 2);
    assert_int_equal(c.max_queue, c.workers * 8);
    evri_config_clear(&c);
    evri_config_clear(&c); // idempotent
}

static void
test_config_setter_rejects_bad_values(void **state)
{
    (void)state;
    struct {
        const char *name, *value, *want;
    } cases[] = {
        {"workers", "0", "--workers"},
        {"workers", "-1", "--workers"},
        {"workers", "4x", "--workers"},
        {"workers", "99999999999999999999", "--workers"},
        {"backend", "mysql", "stub or postgres"},
        {"ipc-mode", "0800", "octal"},
        {"ipc-allow-uid", "root", "uid"},
        {"max-message-bytes", "10", "1024"},
        {"default-timeout-ms", "0", "milliseconds"},
        {"replica", "no-equals-sign", "ID=CONNINFO"},
        {"replica", "=host=x", "ID=CONNINFO"},
        {"replica", "bad id=host=x", "only letters"},
        {"replica", "r1=host='unterminated", "not valid libpq syntax"},
        {"primary", "host='unterminated password=secret", "not valid libpq syntax"},
        {"stub-replicas", "a,,b", "--stub-replicas"},
        {"stub-replicas", "a,", "trailing comma"},
        {"stub-fail", "SOMETIMES", "status code"},
        {"log-level", "loud", "debug"},
        {"metrics-listen", "tcp://x:1", "http://"},
        {"no-such", "1", "unknown setting"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        evri_config c;
        evrepl_status st;
        evri_config_init(&c);
        assert_int_equal(evri_config_set(&c, cases[i].name, cases[i].value, &st),
                         EVREPL_CODE_INVALID_ARGUMENT);
        if (strstr(st.message, cases[i].want) == NULL) {
            fail_msg("%s=%s: '%s' lacks '%s'", cases[i].name, cases[i].value, st.message,
                     cases[i].want);
        }
        assert_null(strstr(st.message, "secret")); // conninfos never echoed
        evri_config_clear(&c);
    }
}

static void
test_config_replicas_keep_order_and_refuse_duplicates(void **state)
{
    (void)state;
    evri_config c;
    evrepl_status st;
    evri_config_init(&c);
    assert_int_equal(evri_config_set(&c, "backend", "postgres", &st), EVREPL_CODE_OK);
    assert_int_equal(evri_config_set(&c, "primary", "host=p dbname=e", &st), EVREPL_CODE_OK);
    assert_int_equal(evri_config_set(&c, "replica", "us-east=host=a", &st), EVREPL_CODE_OK);
    assert_int_equal(evri_config_set(&c, "replica", "eu-west=postgresql://u:pw@b/e", &st),
                     EVREPL_CODE_OK);
    assert_int_equal(evri_config_set(&c, "replica", "us-east=host=c", &st),
                     EVREPL_CODE_INVALID_ARGUMENT);
    assert_non_null(strstr(st.message, "twice"));
    assert_int_equal(c.n_replicas, 2);
    assert_string_equal(c.replica_ids[1], "eu-west");
    assert_string_equal(c.replica_conninfos[1], "postgresql://u:pw@b/e");
    assert_int_equal(evri_config_finish(&c, &st), EVREPL_CODE_OK);
    evri_config_reset_list(&c, "replica");
    assert_int_equal(c.n_replicas, 0);
    evri_config_clear(&c);
}

static void
test_config_cross_checks(void **state)
{
    (void)state;
    struct {
        const char *settings[4][2];
        const char *want;
    } cases[] = {
        {{{"backend", "postgres"}}, "--primary"},
        {{{"primary", "host=x"}}, "--backend postgres"},
        {{{"backend", "postgres"}, {"primary", "host=x"}, {"stub-replicas", "a"}}, "stub only"},
        {{{"listen", "tls+tcp://127.0.0.1:1"}}, "--tls-cert"},
        {{{"default-timeout-ms", "9000"}, {"max-timeout-ms", "8000"}}, "exceeds"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        evri_config c;
        evrepl_status st;
        evri_config_init(&c);
        for (size_t k = 0; k < 4 && cases[i].settings[k][0] != NULL; k++) {
            assert_int_equal(
                evri_config_set(&c, cases[i].settings[k][0], cases[i].settings[k][1], &st),
                EVREPL_CODE_OK);
        }
        assert_int_equal(evri_config_finish(&c, &st), EVREPL_CODE_INVALID_ARGUMENT);
        assert_non_null(strstr(st.message, cases[i].want));
        evri_config_clear(&c);
    }
}

static void
test_config_file_and_masked_print(void **state)
{
    (void)state;
    char dir[256], path[300];
    assert_true(evri_test_tmpdir(dir));
    snprintf(path, sizeof(path), "%s/c.conf", dir);
    FILE *f = fopen(path, "w");
    fprintf(f, "listen = \"ipc:///run/evrepl.sock\";\n"
               "backend = \"postgres\";\n"
               "primary = \"postgresql://evrepl:hunter2@db/evrepl\";\n"
               "replica = [\"ap-south=host=r1 password=hunter3\"];\n"
               "ipc-allow-uid = [1000, 1001];\n"
               "ipc-mode = \"0660\";\n"
               "log-format = \"json\";\n");
    fclose(f);
    evri_config c;
    evrepl_status st;
    evri_config_init(&c);
    assert_int_equal(evri_config_load_file(&c, path, &st), EVREPL_CODE_OK);
    assert_int_equal(evri_config_finish(&c, &st), EVREPL_CODE_OK);
    assert_int_equal(c.n_ipc_allow_uids, 2);
    assert_int_equal(c.ipc_allow_uids[1], 1001);
    assert_int_equal(c.ipc_mode, 0660);
    assert_int_equal(c.log_format, EVRI_LOG_JSON);
    char *buf = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&buf, &len);
    evri_config_print(&c, m);
    fclose(m);
    assert_null(strstr(buf, "hunter"));
    assert_non_null(strstr(buf, "password=*****"));
    assert_non_null(strstr(buf, "replica = ap-south="));
    assert_non_null(strstr(buf, "ipc-mode = 0660"));
    free(buf);
    evri_config_clear(&c);

    // Errors name the file and the line.
    f = fopen(path, "w");
    fprintf(f, "backend = \"stub\";\nlisten = 5;\nworkers = [1, 2];\n");
    fclose(f);
    evri_config_init(&c);
    assert_int_equal(evri_config_load_file(&c, path, &st), EVREPL_CODE_INVALID_ARGUMENT);
    assert_non_null(strstr(st.message, "line 3"));
    assert_non_null(strstr(st.message, "not a list"));
    evri_config_clear(&c);
    snprintf(path, sizeof(path), "%s/missing.conf", dir);
    evri_config_init(&c);
    assert_int_equal(evri_config_load_file(&c, path, &st), EVREPL_CODE_INVALID_ARGUMENT);
    assert_non_null(strstr(st.message, "missing.conf"));
    evri_config_clear(&c);
    evri_test_rmdir(dir);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_config_defaults),
        cmocka_unit_test(test_config_setter_rejects_bad_values),
        cmocka_unit_test(test_config_replicas_keep_order_and_refuse_duplicates),
        cmocka_unit_test(test_config_cross_checks),
        cmocka_unit_test(test_config_file_and_masked_print),
    };
    return cmocka_run_group_tests_name("config", tests, NULL, NULL);
}
