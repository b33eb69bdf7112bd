// UUIDs, status helpers, untrusted-text quoting, UTF-8 and wire string checks.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "domain/status.h"
#include "evrepl/types.h"
#include "evrepl/v1/health.pb-c.h"
#include "rpc/utf8.h"

static void
test_uuid_parse_accepts_any_case(void **state)
{
    (void)state;
    uint8_t a[16], b[16];
    char out[37];
    assert_int_equal(evrepl_uuid_parse("0b3c2d1e-aaaa-4bbb-8ccc-0123456789ab", a, NULL), 0);
    assert_int_equal(evrepl_uuid_parse("0B3C2D1E-AaAa-4BBB-8CCC-0123456789AB", b, NULL), 0);
    assert_memory_equal(a, b, 16);
    assert_int_equal(a[0], 0x0b);
    assert_int_equal(a[15], 0xab);
    evrepl_uuid_format(b, out);
    assert_string_equal(out, "0b3c2d1e-aaaa-4bbb-8ccc-0123456789ab");
    // The nil UUID is syntactically canonical.
    assert_int_equal(evrepl_uuid_parse("00000000-0000-0000-0000-000000000000", a, NULL), 0);
}

static void
test_uuid_parse_rejects_non_canonical(void **state)
{
    (void)state;
    const char *bad[] = {"",
                         "0b3c2d1eaaaa4bbb8ccc0123456789ab",
                         "0b3c2d1e-aaaa-4bbb-8ccc-0123456789a",
                         "0b3c2d1e-aaaa-4bbb-8ccc-0123456789abc",
                         "0b3c2d1e-aaaa-4bbb-8ccc0-123456789ab",
                         "0b3c2d1e-aaaa-4bbb-8ccc-0123456789ax",
                         "0b3c2d1e-aaaa-4bbb-8ccc-0123456789a-",
                         "{0b3c2d1e-aaaa-4bbb-8ccc-0123456789}",
                         "0b3c2d1e--aaa-4bbb-8ccc-0123456789ab",
                         "urn:uuid:0b3c2d1e-aaaa-4bbb-8ccc-01234"};
    uint8_t out[16];
    memset(out, 0x5a, sizeof(out));
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        evrepl_status st;
        assert_int_equal(evrepl_uuid_parse(bad[i], out, &st), EVREPL_CODE_INVALID_ARGUMENT);
        assert_int_equal(st.code, EVREPL_CODE_INVALID_ARGUMENT);
        assert_non_null(strstr(st.message, "canonical UUID"));
    }
    assert_int_equal(evrepl_uuid_parse(NULL, out, NULL), EVREPL_CODE_INVALID_ARGUMENT);
    for (size_t i = 0; i < sizeof(out); i++) {
        assert_int_equal(out[i], 0x5a); // written only on success
    }
}

static void
test_status_names_and_set(void **state)
{
    (void)state;
    assert_string_equal(evrepl_code_name(EVREPL_CODE_OK), "OK");
    assert_string_equal(evrepl_code_name(EVREPL_CODE_UNAUTHENTICATED), "UNAUTHENTICATED");
    assert_string_equal(evrepl_code_name((evrepl_code)17), "UNKNOWN_CODE");
    assert_string_equal(evrepl_code_name((evrepl_code)-1), "UNKNOWN_CODE");
    evrepl_status st;
    char big[600];
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    assert_int_equal(evri_status_set(&st, EVREPL_CODE_INTERNAL, "%s", big), EVREPL_CODE_INTERNAL);
    assert_int_equal(strlen(st.message), EVREPL_STATUS_MESSAGE_MAX - 1);
    assert_int_equal(evri_status_set(NULL, EVREPL_CODE_NOT_FOUND, "x"), EVREPL_CODE_NOT_FOUND);
    assert_int_equal(evri_status_ok(&st), EVREPL_CODE_OK);
    assert_string_equal(st.message, "");
}

static void
test_quote_untrusted(void **state)
{
    (void)state;
    char out[32];
    evri_quote_untrusted(out, sizeof(out), "ab\x01\\c\xff", 6);
    assert_string_equal(out, "ab\\x01\\\\c\\xff");
    char longer[100];
    memset(longer, 'y', sizeof(longer));
    evri_quote_untrusted(out, sizeof(out), longer, sizeof(longer));
    assert_true(strlen(out) < sizeof(out));
    assert_non_null(strstr(out, "..."));
}

static void
test_utf8_valid(void **state)
{
    (void)state;
    assert_true(evri_utf8_valid("plain", 5));
    assert_true(evri_utf8_valid("\xc3\xa4\xe2\x82\xac\xf0\x9f\x98\x80", 9));
    assert_false(evri_utf8_valid("\xc0\xaf", 2));         // overlong '/'
    assert_false(evri_utf8_valid("\xed\xa0\x80", 3));     // surrogate
    assert_false(evri_utf8_valid("\xf4\x90\x80\x80", 4)); // past U+10FFFF
    assert_false(evri_utf8_valid("\xe2\x82", 2));         // truncated
    assert_false(evri_utf8_valid("\x80", 1));             // lone continuation
    assert_false(evri_utf8_valid("\xff", 1));
}

static void
test_wire_strings_checks_nested_and_nul(void **state)
{
    (void)state;
    const ProtobufCMessageDescriptor *d = &evrepl__v1__health_check_request__descriptor;
    static const uint8_t ok[] = {0x0a, 0x02, 'o', 'k'};
    static const uint8_t nul[] = {0x0a, 0x03, 'o', 0, 'k'};
    static const uint8_t bad[] = {0x0a, 0x01, 0xff};
    static const uint8_t unknown_bytes[] = {0x12, 0x01, 0xff}; // field 2: not a string here
    assert_true(evri_wire_strings_valid(d, ok, sizeof(ok), 4));
    assert_false(evri_wire_strings_valid(d, nul, sizeof(nul), 4));
    assert_false(evri_wire_strings_valid(d, bad, sizeof(bad), 4));
    assert_true(evri_wire_strings_valid(d, unknown_bytes, sizeof(unknown_bytes), 4));
    assert_false(evri_wire_strings_valid(d, ok, sizeof(ok), 0));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_uuid_parse_accepts_any_case),
        cmocka_unit_test(test_uuid_parse_rejects_non_canonical),
        cmocka_unit_test(test_status_names_and_set),
        cmocka_unit_test(test_quote_untrusted),
        cmocka_unit_test(test_utf8_valid),
        cmocka_unit_test(test_wire_strings_checks_nested_and_nul),
    };
    return cmocka_run_group_tests_name("domain", tests, NULL, NULL);
}
