// The logger: text and JSON lines, untrusted values escaped, and the per-thread request id
// that a call's handler and backend lines carry.
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <json-c/json.h>

#include "common/log.h"

typedef struct sink {
    char *buf;
    size_t len;
    FILE *f;
    evri_log *log;
} sink;

static void
sink_open(sink *s, evri_log_format format)
{
    memset(s, 0, sizeof(*s));
    s->f = open_memstream(&s->buf, &s->len);
    assert_non_null(s->f);
    s->log = evri_log_create(s->f, format, EVRI_LOG_DEBUG);
    assert_non_null(s->log);
}

static void
sink_close(sink *s)
{
    evri_log_destroy(s->log);
    fclose(s->f);
    free(s->buf);
}

static void
test_log_request_id_follows_the_thread(void **state)
{
    (void)state;
    sink s;
    sink_open(&s, EVRI_LOG_TEXT);
    evri_log_fields(s.log, EVRI_LOG_INFO, "before", NULL, 0);
    evri_log_set_request_id(s.log, "req-42");
    evri_log_fields(s.log, EVRI_LOG_WARN, "replica lagging",
                    (evri_log_field[]){evri_lf_str("replica", "eu-west")}, 1);
    // A line that names its own request id keeps it, once.
    evri_log_fields(s.log, EVRI_LOG_INFO, "call",
                    (evri_log_field[]){evri_lf_str("request_id", "own")}, 1);
    evri_log_set_request_id(s.log, NULL);
    evri_log_fields(s.log, EVRI_LOG_INFO, "after", NULL, 0);
    fflush(s.f);
    assert_non_null(strstr(s.buf, " info before\n"));
    assert_non_null(strstr(s.buf, " warn replica lagging replica=eu-west request_id=req-42\n"));
    assert_non_null(strstr(s.buf, " info call request_id=own\n"));
    assert_non_null(strstr(s.buf, " info after\n"));
    sink_close(&s);
}

typedef struct other_thread {
    evri_log *log;
} other_thread;

static void *
log_from_other_thread(void *arg)
{
    other_thread *o = arg;
    evri_log_fields(o->log, EVRI_LOG_INFO, "elsewhere", NULL, 0);
    return NULL;
}

static void
test_log_request_id_is_per_thread(void **state)
{
    (void)state;
    sink s;
    sink_open(&s, EVRI_LOG_TEXT);
    evri_log_set_request_id(s.log, "mine");
    other_thread o = {s.log};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, log_from_other_thread, &o), 0);
    pthread_join(t, NULL);
    evri_log_set_request_id(s.log, NULL);
    fflush(s.f);
    assert_non_null(strstr(s.buf, " info elsewhere\n"));
    assert_null(strstr(s.buf, "mine"));
    sink_close(&s);
}

static void
test_log_json_carries_request_id_escaped(void **state)
{
    (void)state;
    sink s;
    sink_open(&s, EVRI_LOG_JSON);
    evri_log_set_request_id(s.log, "a\"b\n");
    evri_log_fields(s.log, EVRI_LOG_ERROR, "replica diverged",
                    (evri_log_field[]){evri_lf_str("replica", "ap-south"),
                                       evri_lf_uint("diverged_at_sequence", 17)},
                    2);
    evri_log_set_request_id(s.log, NULL);
    fflush(s.f);
    assert_non_null(strchr(s.buf, '\n'));
    assert_ptr_equal(strchr(s.buf, '\n'), s.buf + s.len - 1); // one line
    json_object *j = json_tokener_parse(s.buf);
    assert_non_null(j);
    json_object *v;
    assert_true(json_object_object_get_ex(j, "msg", &v));
    assert_string_equal(json_object_get_string(v), "replica diverged");
    assert_true(json_object_object_get_ex(j, "request_id", &v));
    assert_string_equal(json_object_get_string(v), "a\"b\\x0a");
    assert_true(json_object_object_get_ex(j, "diverged_at_sequence", &v));
    assert_int_equal(json_object_get_int64(v), 17);
    json_object_put(j);
    sink_close(&s);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_log_request_id_follows_the_thread),
        cmocka_unit_test(test_log_request_id_is_per_thread),
        cmocka_unit_test(test_log_json_carries_request_id_escaped),
    };
    return cmocka_run_group_tests_name("log", tests, NULL, NULL);
}
