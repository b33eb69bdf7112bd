// The access policy (rpc/auth.h): the tokens file format, bearer token checks, ipc uid allow
// lists, and both through the rpc layer as the transport drives it (contract.md rows 16 and 7).
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "common/clock.h"
#include "handlers/handlers.h"
#include "rpc/auth.h"
#include "rpc/call.h"
#include "support/envelope.h"
#include "support/fake_replicator.h"
#include "support/support.h"

#define M_PROPAGATE "/evrepl.v1.EventReplicator/PropagateEvent"
#define M_VERIFY    "/evrepl.v1.EventReplicator/VerifyReplicas"
#define M_HEALTH    "/evrepl.v1.Health/Check"
#define M_DESCRIBE  "/evrepl.v1.Server/Describe"
#define VALID_ID    "0b3c2d1e-aaaa-4bbb-8ccc-0123456789ab"

// Two tokens: one for Describe and PropagateEvent, one for everything.
#define TOKEN_SOME "evrepl_test-token-some-methods-0123456789abcdef"
#define TOKEN_ALL  "evrepl_test-token-all-methods-0123456789abcdefgh"
#define TOKEN_GONE "evrepl_test-token-that-is-not-listed-0123456789"

static evri_auth *
auth_new(void)
{
    size_t n;
    const evri_service_binding *b = evri_handler_bindings(&n);
    evri_auth *a = NULL;
    evrepl_status st;
    assert_int_equal(evri_auth_create(&a, b, n, &st), EVREPL_CODE_OK);
    return a;
}

// The tokens-file line for token, made the way an operator would (evrepl token-hash).
static void
line_for(const evri_auth *a, const char *token, const char *methods, char *out, size_t size)
{
    evrepl_status st;
    assert_int_equal(evri_auth_token_line(a, token, methods, out, size, &st), EVREPL_CODE_OK);
}

static evri_auth *
auth_with_tokens(void)
{
    evri_auth *a = auth_new();
    char l1[512], l2[512], text[2048];
    line_for(a, TOKEN_SOME, M_DESCRIBE "," M_PROPAGATE, l1, sizeof(l1));
    line_for(a, TOKEN_ALL, "*", l2, sizeof(l2));
    snprintf(text, sizeof(text), "# tokens for the test\n\n  %s  \n\t# ops\r\n%s\r\n", l1, l2);
    evrepl_status st;
    assert_int_equal(evri_auth_load_tokens_text(a, "t", text, strlen(text), &st), EVREPL_CODE_OK);
    assert_true(evri_auth_active(a));
    return a;
}

static evrepl_code
check(const evri_auth *a, const char *authz, const char *method, evrepl_status *st)
{
    return evri_auth_check(a, NULL, authz, method, strcmp(method, M_HEALTH) == 0, st);
}

static void
test_auth_token_line_is_sha256_of_the_token(void **state)
{
    (void)state;
    evri_auth *a = auth_new();
    char line[512];
    line_for(a, TOKEN_SOME, M_DESCRIBE, line, sizeof(line));
    uint8_t h[crypto_hash_sha256_BYTES];
    char hex[65], want[512];
    crypto_hash_sha256(h, (const unsigned char *)TOKEN_SOME, strlen(TOKEN_SOME));
    sodium_bin2hex(hex, sizeof(hex), h, sizeof(h));
    snprintf(want, sizeof(want), "sha256:%s %s", hex, M_DESCRIBE);
    assert_string_equal(line, want);
    assert_null(strstr(line, TOKEN_SOME));
    evri_auth_destroy(a);
}

static void
test_auth_token_line_rejects_bad_input(void **state)
{
    (void)state;
    evri_auth *a = auth_new();
    char line[512];
    evrepl_status st;
    // Unknown or malformed method names.
    const char *bad_methods[] = {"/evrepl.v1.Health/Nope",
                                 "",
                                 M_DESCRIBE ",",
                                 "," M_DESCRIBE,
                                 M_DESCRIBE ",,"
                                            "" M_HEALTH,
                                 "**",
                                 "evrepl.v1.Health/Check"};
    for (size_t i = 0; i < sizeof(bad_methods) / sizeof(bad_methods[0]); i++) {
        assert_int_equal(
            evri_auth_token_line(a, TOKEN_SOME, bad_methods[i], line, sizeof(line), &st),
            EVREPL_CODE_INVALID_ARGUMENT);
        assert_non_null(strstr(st.message, "unknown method"));
        assert_null(strstr(st.message, TOKEN_SOME));
    }
    // Short tokens and tokens with characters outside the alphabet.
    const char *bad_tokens[] = {"short", "evrepl_0123456789012345678901234 space",
                                "evrepl_01234567890123456789012345\n"};
    for (size_t i = 0; i < sizeof(bad_tokens) / sizeof(bad_tokens[0]); i++) {
        assert_int_equal(evri_auth_token_line(a, bad_tokens[i], "*", line, sizeof(line), &st),
                         EVREPL_CODE_INVALID_ARGUMENT);
        assert_null(strstr(st.message, bad_tokens[i]));
    }
    evri_auth_destroy(a);
}

static void
test_auth_token_new_is_random_and_valid(void **state)
{
    (void)state;
    evri_auth *a = auth_new();
    char t1[EVRI_TOKEN_NEW_CHARS + 1], t2[EVRI_TOKEN_NEW_CHARS + 1], line[512];
    evri_auth_token_new(t1);
    evri_auth_token_new(t2);
    assert_int_equal(strlen(t1), EVRI_TOKEN_NEW_CHARS);
    assert_memory_equal(t1, EVRI_TOKEN_PREFIX, strlen(EVRI_TOKEN_PREFIX));
    assert_string_not_equal(t1, t2);
    line_for(a, t1, "*", line, sizeof(line));
    evri_auth_destroy(a);
}

static void
test_auth_tokens_file_errors_name_the_line(void **state)
{
    (void)state;
    evri_auth *a = auth_new();
    char good[512];
    line_for(a, TOKEN_ALL, "*", good, sizeof(good));
    struct {
        const char *text;
        const char *want;
    } cases[] = {
        {"sha256:abcd *\n", "line 1: the hash"},
        {"\n" TOKEN_ALL " *\n", "line 2: the hash"}, // a token where its hash belongs
        {"sha1:0123456789012345678901234567890123456789 *\n", "line 1: the hash"},
        {"sha256:zz23456789012345678901234567890123456789012345678901234567890123 *\n",
         "line 1: the hash"},
        {"sha256:0123456789012345678901234567890123456789012345678901234567890123\n",
         "line 1: want"},
        {"sha256:0123456789012345678901234567890123456789012345678901234567890123 * extra\n",
         "line 1: want"},
        {"sha256:0123456789012345678901234567890123456789012345678901234567890123 /x/Y\n",
         "line 1: unknown method '/x/Y'"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        evrepl_status st;
        assert_int_equal(
            evri_auth_load_tokens_text(a, "tokens.txt", cases[i].text, strlen(cases[i].text), &st),
            EVREPL_CODE_INVALID_ARGUMENT);
        print_message("%s\n", st.message);
        assert_non_null(strstr(st.message, "tokens.txt"));
        assert_non_null(strstr(st.message, cases[i].want));
        assert_null(strstr(st.message, TOKEN_ALL));
    }
    // The same hash twice.
    char dup[1200];
    snprintf(dup, sizeof(dup), "%s\n#\n%s\n", good, good);
    evrepl_status st;
    assert_int_equal(evri_auth_load_tokens_text(a, "tokens.txt", dup, strlen(dup), &st),
                     EVREPL_CODE_INVALID_ARGUMENT);
    assert_non_null(strstr(st.message, "line 3: the same token hash as line 1"));
    // A NUL byte inside a line.
    static const char nul[] = "sha256:01\0 *\n";
    assert_int_equal(evri_auth_load_tokens_text(a, "tokens.txt", nul, sizeof(nul) - 1, &st),
                     EVREPL_CODE_INVALID_ARGUMENT);
    // Nothing was loaded by the failures.
    assert_false(evri_auth_active(a));
    // A file without tokens locks everything but Health.
    static const char none[] = "# nobody for now\n\n";
    assert_int_equal(evri_auth_load_tokens_text(a, "tokens.txt", none, sizeof(none) - 1, &st),
                     EVREPL_CODE_OK);
    assert_true(evri_auth_active(a));
    assert_int_equal(check(a, "Bearer " TOKEN_ALL, M_DESCRIBE, &st), EVREPL_CODE_UNAUTHENTICATED);
    assert_int_equal(check(a, NULL, M_HEALTH, &st), EVREPL_CODE_OK);
    evri_auth_destroy(a);
}

static void
test_auth_tokens_file_from_disk(void **state)
{
    (void)state;
    char dir[256], path[300];
    assert_true(evri_test_tmpdir(dir));
    snprintf(path, sizeof(path), "%s/tokens", dir);
    evri_auth *a = auth_new();
    evrepl_status st;
    assert_int_equal(evri_auth_load_tokens(a, path, &st), EVREPL_CODE_INVALID_ARGUMENT);
    assert_non_null(strstr(st.message, "cannot open tokens file"));
    char line[512];
    line_for(a, TOKEN_SOME, M_VERIFY, line, sizeof(line));
    FILE *f = fopen(path, "w");
    fprintf(f, "%s", line); // no final newline
    fclose(f);
    assert_int_equal(evri_auth_load_tokens(a, path, &st), EVREPL_CODE_OK);
    assert_int_equal(check(a, "Bearer " TOKEN_SOME, M_VERIFY, &st), EVREPL_CODE_OK);
    evri_auth_destroy(a);
    evri_test_rmdir(dir);
}

static void
test_auth_check_tokens(void **state)
{
    (void)state;
    evri_auth *a = auth_with_tokens();
    evrepl_status st;
    // No token, an unknown one, a malformed header: UNAUTHENTICATED.
    assert_int_equal(check(a, NULL, M_DESCRIBE, &st), EVREPL_CODE_UNAUTHENTICATED);
    assert_non_null(strstr(st.message, "needs a bearer token"));
    assert_int_equal(check(a, "Bearer " TOKEN_GONE, M_DESCRIBE, &st), EVREPL_CODE_UNAUTHENTICATED);
    assert_null(strstr(st.message, TOKEN_GONE));
    const char *malformed[] = {"",
                               "Bearer",
                               "Bearer ",
                               "Basic " TOKEN_ALL,
                               TOKEN_ALL,
                               "Bearer" TOKEN_ALL,
                               "Bearer  " TOKEN_ALL "x",
                               "Bearer\t" TOKEN_ALL};
    for (size_t i = 0; i < sizeof(malformed) / sizeof(malformed[0]); i++) {
        assert_int_equal(check(a, malformed[i], M_DESCRIBE, &st), EVREPL_CODE_UNAUTHENTICATED);
        assert_null(strstr(st.message, TOKEN_ALL));
    }
    // A known token on a method it may not call: PERMISSION_DENIED, naming the method only.
    assert_int_equal(check(a, "Bearer " TOKEN_SOME, M_VERIFY, &st), EVREPL_CODE_PERMISSION_DENIED);
    assert_non_null(strstr(st.message, M_VERIFY));
    assert_null(strstr(st.message, TOKEN_SOME));
    // Allowed: listed methods, `*`, the scheme in any case, several spaces.
    assert_int_equal(check(a, "Bearer " TOKEN_SOME, M_DESCRIBE, &st), EVREPL_CODE_OK);
    assert_int_equal(check(a, "bearer " TOKEN_SOME, M_PROPAGATE, &st), EVREPL_CODE_OK);
    assert_int_equal(check(a, "BEARER   " TOKEN_ALL, M_VERIFY, &st), EVREPL_CODE_OK);
    // Health is open.
    assert_int_equal(check(a, NULL, M_HEALTH, &st), EVREPL_CODE_OK);
    assert_int_equal(check(a, "Bearer " TOKEN_GONE, M_HEALTH, &st), EVREPL_CODE_OK);
    // A NULL policy and an empty one allow everything.
    assert_int_equal(check(NULL, NULL, M_DESCRIBE, &st), EVREPL_CODE_OK);
    evri_auth *empty = auth_new();
    assert_false(evri_auth_active(empty));
    assert_int_equal(check(empty, NULL, M_DESCRIBE, &st), EVREPL_CODE_OK);
    evri_auth_destroy(empty);
    evri_auth_destroy(a);
}

static void
test_auth_check_ipc_uids(void **state)
{
    (void)state;
    evri_auth *a = auth_new();
    evrepl_status st;
    evri_peer ipc_1000 = {.has_uid = true, .uid = 1000};
    evri_peer ipc_0 = {.has_uid = true, .uid = 0};
    evri_peer tcp = {.has_uid = false};
    // No list: every uid may call.
    assert_int_equal(evri_auth_check(a, &ipc_1000, NULL, M_DESCRIBE, false, &st), EVREPL_CODE_OK);
    assert_int_equal(evri_auth_allow_uid(a, 1000, &st), EVREPL_CODE_OK);
    assert_int_equal(evri_auth_allow_uid(a, 1001, &st), EVREPL_CODE_OK);
    assert_true(evri_auth_active(a));
    assert_int_equal(evri_auth_check(a, &ipc_1000, NULL, M_DESCRIBE, false, &st), EVREPL_CODE_OK);
    // An unlisted uid is refused on every method, Health included.
    assert_int_equal(evri_auth_check(a, &ipc_0, NULL, M_DESCRIBE, false, &st),
                     EVREPL_CODE_PERMISSION_DENIED);
    assert_non_null(strstr(st.message, "uid 0"));
    assert_int_equal(evri_auth_check(a, &ipc_0, NULL, M_HEALTH, true, &st),
                     EVREPL_CODE_PERMISSION_DENIED);
    // Peers without a uid (tcp, tls+tcp, inproc) are not affected.
    assert_int_equal(evri_auth_check(a, &tcp, NULL, M_DESCRIBE, false, &st), EVREPL_CODE_OK);
    assert_int_equal(evri_auth_check(a, NULL, NULL, M_DESCRIBE, false, &st), EVREPL_CODE_OK);
    evri_auth_destroy(a);
}

// The same policy through the rpc layer, as evrepld wires it.
typedef struct fixture {
    fake_replicator fake;
    evri_app app;
    evri_auth *auth;
    evri_rpc *rpc;
    evri_call *call;
    Evrepl__Rpc__V1__Response *resp;
} fixture;

static int
setup(void **state)
{
    fixture *f = calloc(1, sizeof(*f));
    fake_script script = {
        .health = EVREPL_SERVING_STATUS_SERVING, .replica_ids = {"us-east"}, .n_replicas = 1};
    evrepl_status st;
    f->app = (evri_app){.version = "9.9.9",
                        .schema_version = "0002",
                        .shared = fake_replicator_init(&f->fake, &script)};
    f->auth = auth_with_tokens();
    assert_int_equal(evri_auth_allow_uid(f->auth, 4242, &st), EVREPL_CODE_OK);
    size_t n;
    const evri_service_binding *b = evri_handler_bindings(&n);
    evri_rpc_config rc = {.bindings = b,
                          .n_bindings = n,
                          .backend_name = "fake",
                          .default_timeout_ms = 5000,
                          .max_timeout_ms = 60000,
                          .max_metadata_bytes = 8192,
                          .auth = f->auth,
                          .app = &f->app};
    assert_int_equal(evri_rpc_create(&f->rpc, &rc, &st), EVREPL_CODE_OK);
    f->call = evri_call_create(f->rpc);
    *state = f;
    return 0;
}

static int
teardown(void **state)
{
    fixture *f = *state;
    if (f->resp != NULL) {
        evrepl__rpc__v1__response__free_unpacked(f->resp, NULL);
    }
    evri_call_destroy(f->call);
    evri_rpc_destroy(f->rpc);
    evri_auth_destroy(f->auth);
    free(f);
    return 0;
}

// One call as the transport makes it; returns the status code of the Response.
static int
rpc_call(fixture *f, const char *method, const char *authz, const evri_peer *peer)
{
    size_t pl, len;
    uint8_t *p = strcmp(method, M_HEALTH) == 0      ? tenv_health("", &pl)
                 : strcmp(method, M_PROPAGATE) == 0 ? tenv_propagate(VALID_ID, &pl)
                                                    : (pl = 0, calloc(1, 1));
    tenv_meta meta[] = {{"x-request-id", "r1"}, {"authorization", authz}};
    uint8_t *req = tenv_request(method, p, pl, 0, meta, authz != NULL ? 2 : 1, &len);
    if (evri_call_begin(f->call, req, len, evri_now_ns(), peer) != EVRI_CALL_REPLY) {
        evri_call_set_backend(f->call, f->app.shared);
        evri_call_run(f->call);
    }
    const uint8_t *out;
    size_t out_len;
    assert_true(evri_call_encode(f->call, &out, &out_len));
    if (f->resp != NULL) {
        evrepl__rpc__v1__response__free_unpacked(f->resp, NULL);
    }
    f->resp = evrepl__rpc__v1__response__unpack(NULL, out_len, out);
    evri_call_end(f->call);
    free(req);
    free(p);
    assert_non_null(f->resp);
    if (authz != NULL) {
        assert_null(strstr(f->resp->status->message, authz));
    }
    return f->resp->status->code;
}

static void
test_auth_through_rpc(void **state)
{
    fixture *f = *state;
    assert_int_equal(rpc_call(f, M_DESCRIBE, NULL, NULL), EVREPL_CODE_UNAUTHENTICATED);
    assert_int_equal(f->resp->payload.len, 0);
    assert_int_equal(rpc_call(f, M_DESCRIBE, "Bearer " TOKEN_GONE, NULL),
                     EVREPL_CODE_UNAUTHENTICATED);
    assert_int_equal(rpc_call(f, M_VERIFY, "Bearer " TOKEN_SOME, NULL),
                     EVREPL_CODE_PERMISSION_DENIED);
    assert_int_equal(rpc_call(f, M_PROPAGATE, "Bearer " TOKEN_SOME, NULL), EVREPL_CODE_OK);
    assert_int_equal(rpc_call(f, M_VERIFY, "Bearer " TOKEN_ALL, NULL), EVREPL_CODE_OK);
    assert_int_equal(rpc_call(f, M_HEALTH, NULL, NULL), EVREPL_CODE_OK);
    // The request id still comes back on refused calls.
    assert_int_equal(rpc_call(f, M_DESCRIBE, NULL, NULL), EVREPL_CODE_UNAUTHENTICATED);
    assert_string_equal(tenv_meta_get(f->resp, "x-request-id"), "r1");
    // A refused call never reaches the backend: only the two allowed backend calls counted.
    assert_int_equal(atomic_load(&f->fake.calls), 2);
    // ipc uids: listed, not listed, and a tcp peer.
    evri_peer ok = {.has_uid = true, .uid = 4242};
    evri_peer other = {.has_uid = true, .uid = 7};
    evri_peer tcp = {.has_uid = false};
    assert_int_equal(rpc_call(f, M_PROPAGATE, "Bearer " TOKEN_ALL, &ok), EVREPL_CODE_OK);
    assert_int_equal(rpc_call(f, M_PROPAGATE, "Bearer " TOKEN_ALL, &other),
                     EVREPL_CODE_PERMISSION_DENIED);
    assert_int_equal(rpc_call(f, M_HEALTH, NULL, &other), EVREPL_CODE_PERMISSION_DENIED);
    assert_int_equal(rpc_call(f, M_PROPAGATE, "Bearer " TOKEN_ALL, &tcp), EVREPL_CODE_OK);
    // The token is checked before the payload is decoded: a garbage payload without a token
    // is UNAUTHENTICATED, not INVALID_ARGUMENT.
    size_t len;
    static const uint8_t junk[] = {0xff, 0xff, 0xff};
    uint8_t *req = tenv_request(M_PROPAGATE, junk, sizeof(junk), 0, NULL, 0, &len);
    assert_int_equal(evri_call_begin(f->call, req, len, evri_now_ns(), NULL), EVRI_CALL_REPLY);
    assert_int_equal(evri_call_code(f->call), EVREPL_CODE_UNAUTHENTICATED);
    evri_call_end(f->call);
    free(req);
    // An unknown method is still UNIMPLEMENTED.
    assert_int_equal(rpc_call(f, "/evrepl.v1.Nope/Nope", NULL, NULL), EVREPL_CODE_UNIMPLEMENTED);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_auth_token_line_is_sha256_of_the_token),
        cmocka_unit_test(test_auth_token_line_rejects_bad_input),
        cmocka_unit_test(test_auth_token_new_is_random_and_valid),
        cmocka_unit_test(test_auth_tokens_file_errors_name_the_line),
        cmocka_unit_test(test_auth_tokens_file_from_disk),
        cmocka_unit_test(test_auth_check_tokens),
        cmocka_unit_test(test_auth_check_ipc_uids),
        cmocka_unit_test_setup_teardown(test_auth_through_rpc, setup, teardown),
    };
    return cmocka_run_group_tests_name("auth", tests, NULL, NULL);
}
