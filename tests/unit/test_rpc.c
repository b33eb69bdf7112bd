// The rpc layer, driven directly: every row of the contract's error table, metadata rules,
// deadlines, draining, and the inline/worker split, with a scripted backend.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/clock.h"
#include "domain/keys.h"
#include "domain/receipt.h"
#include "evrepl/v1/health.pb-c.h"
#include "evrepl/v1/replicator.pb-c.h"
#include "evrepl/v1/server.pb-c.h"
#include "handlers/handlers.h"
#include "rpc/call.h"
#include "support/envelope.h"
#include "support/fake_replicator.h"

#define VALID_ID "0b3c2d1e-aaaa-4bbb-8ccc-0123456789ab"

typedef struct fixture {
    fake_replicator fake;
    evri_app app;
    evri_rpc *rpc;
    evri_call *call;
    Evrepl__Rpc__V1__Response *resp;
    evri_signer *signer;
} fixture;

static int
setup_with(void **state, bool blocking, bool sign)
{
    fixture *f = calloc(1, sizeof(*f));
    fake_script script = {.blocking = blocking,
                          .health = EVREPL_SERVING_STATUS_SERVING,
                          .replica_ids = {"us-east", "eu-west"},
                          .n_replicas = 2};
    evrepl_status st;
    evrepl_replicator r = fake_replicator_init(&f->fake, &script);
    if (sign) {
        assert_int_equal(evri_signer_generate(&f->signer, &st), EVREPL_CODE_OK);
    }
    f->app = (evri_app){
        .version = "9.9.9", .schema_version = "0002", .shared = r, .receipt_signer = f->signer};
    size_t n;
    const evri_service_binding *b = evri_handler_bindings(&n);
    evri_rpc_config rc = {.bindings = b,
                          .n_bindings = n,
                          .backend_name = "fake",
                          .dev_mode = true,
                          .backend_blocking = blocking,
                          .default_timeout_ms = 5000,
                          .max_timeout_ms = 60000,
                          .max_metadata_bytes = 8192,
                          .app = &f->app};
    assert_int_equal(evri_rpc_create(&f->rpc, &rc, &st), EVREPL_CODE_OK);
    f->call = evri_call_create(f->rpc);
    assert_non_null(f->call);
    *state = f;
    return 0;
}

static int
setup(void **state)
{
    return setup_with(state, false, false);
}

static int
setup_blocking(void **state)
{
    return setup_with(state, true, false);
}

static int
setup_signed(void **state)
{
    return setup_with(state, false, true);
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
    evri_signer_destroy(f->signer);
    free(f);
    return 0;
}

// Runs one request body through the rpc as the transport would; returns the Response.
static const Evrepl__Rpc__V1__Response *
roundtrip_at(fixture *f, const uint8_t *body, size_t len, uint64_t run_at_offset_ns)
{
    if (f->resp != NULL) {
        evrepl__rpc__v1__response__free_unpacked(f->resp, NULL);
        f->resp = NULL;
    }
    uint64_t now = evri_now_ns();
    evri_call_next next = evri_call_begin(f->call, body, len, now - run_at_offset_ns, NULL);
    if (next != EVRI_CALL_REPLY) {
        evri_call_set_backend(f->call, f->app.shared);
        evri_call_run(f->call);
    }
    const uint8_t *out;
    size_t out_len;
    assert_true(evri_call_encode(f->call, &out, &out_len));
    f->resp = evrepl__rpc__v1__response__unpack(NULL, out_len, out);
    evri_call_end(f->call);
    assert_non_null(f->resp);
    assert_non_null(f->resp->status);
    return f->resp;
}

static const Evrepl__Rpc__V1__Response *
roundtrip(fixture *f, const uint8_t *body, size_t len)
{
    return roundtrip_at(f, body, len, 0);
}

// Sends method + payload with optional metadata; frees the bytes.
static const Evrepl__Rpc__V1__Response *
call_method(fixture *f, const char *method, uint8_t *payload, size_t payload_len,
            const tenv_meta *meta, size_t n_meta)
{
    size_t len;
    uint8_t *req = tenv_request(method, payload, payload_len, 0, meta, n_meta, &len);
    const Evrepl__Rpc__V1__Response *r = roundtrip(f, req, len);
    free(req);
    free(payload);
    return r;
}

static const Evrepl__Rpc__V1__Response *
propagate(fixture *f, const char *event_id)
{
    size_t pl;
    uint8_t *p = tenv_propagate(event_id, &pl);
    return call_method(f, "/evrepl.v1.EventReplicator/PropagateEvent", p, pl, NULL, 0);
}

static void
assert_error(const Evrepl__Rpc__V1__Response *r, int code)
{
    assert_int_equal(r->status->code, code);
    assert_true(strlen(r->status->message) > 10); // one human-readable sentence
    assert_int_equal(r->payload.len, 0);          // payload only with code 0
}

static void
test_rpc_undecodable_body_is_invalid_argument(void **state)
{
    fixture *f = *state;
    static const uint8_t garbage[] = {0xff, 0xff, 0xff, 0xff, 0x0f, 0x01, 0x02};
    assert_error(roundtrip(f, garbage, sizeof(garbage)), EVREPL_CODE_INVALID_ARGUMENT);
    // A truncated length-delimited field.
    static const uint8_t truncated[] = {0x0a, 0x20, 'a', 'b'};
    assert_error(roundtrip(f, truncated, sizeof(truncated)), EVREPL_CODE_INVALID_ARGUMENT);
    // A group wire type.
    static const uint8_t group[] = {0x0b, 0x0c};
    assert_error(roundtrip(f, group, sizeof(group)), EVREPL_CODE_INVALID_ARGUMENT);
}

static void
test_rpc_empty_body_is_unimplemented(void **state)
{
    fixture *f = *state;
    const Evrepl__Rpc__V1__Response *r = roundtrip(f, (const uint8_t *)"", 0);
    assert_error(r, EVREPL_CODE_UNIMPLEMENTED);
    // Errors carry the backend metadata too.
    assert_string_equal(tenv_meta_get(r, "x-evrepl-backend"), "fake");
    assert_string_equal(tenv_meta_get(r, "x-evrepl-dev-mode"), "true");
}

static void
test_rpc_unknown_method_is_unimplemented(void **state)
{
    fixture *f = *state;
    const char *methods[] = {"/evrepl.v1.EventReplicator/Nope", "evrepl.v1.Health/Check",
                             "/evrepl.v1.Health/check", "/evrepl.v1.Health/Check/",
                             "/evrepl.v2.Health/Check"};
    for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++) {
        size_t pl;
        uint8_t *p = tenv_health("", &pl);
        const Evrepl__Rpc__V1__Response *r = call_method(f, methods[i], p, pl, NULL, 0);
        assert_error(r, EVREPL_CODE_UNIMPLEMENTED);
    }
}

static void
test_rpc_unknown_method_message_is_printable(void **state)
{
    fixture *f = *state;
    size_t pl;
    uint8_t *p = tenv_health("", &pl);
    const Evrepl__Rpc__V1__Response *r = call_method(f, "/x\x1b[31mred\x7f", p, pl, NULL, 0);
    assert_error(r, EVREPL_CODE_UNIMPLEMENTED);
    for (const char *c = r->status->message; *c != '\0'; c++) {
        assert_true(*c >= 0x20 && *c < 0x7f);
    }
}

static void
test_rpc_invalid_utf8_is_invalid_argument(void **state)
{
    fixture *f = *state;
    size_t pl;
    uint8_t *p = tenv_health("", &pl);
    assert_error(call_method(f, "/evrepl.v1.Health/\xc0\xaf", p, pl, NULL, 0),
                 EVREPL_CODE_INVALID_ARGUMENT);
    tenv_meta bad_value[] = {{"x-request-id", "\xed\xa0\x80"}}; // a surrogate
    p = tenv_health("", &pl);
    assert_error(call_method(f, "/evrepl.v1.Health/Check", p, pl, bad_value, 1),
                 EVREPL_CODE_INVALID_ARGUMENT);
}

static void
test_rpc_metadata_key_rule(void **state)
{
    fixture *f = *state;
    const char *bad_keys[] = {"",
                              "X-Request-Id",
                              "has space",
                              "slash/key",
                              "colon:key",
                              "umlaut-\xc3\xa4",
                              "k12345678901234567890123456789012345678901234567890123456789012345"};
    for (size_t i = 0; i < sizeof(bad_keys) / sizeof(bad_keys[0]); i++) {
        tenv_meta m[] = {{"x-request-id", "r1"}, {bad_keys[i], "v"}};
        size_t pl;
        uint8_t *p = tenv_health("", &pl);
        const Evrepl__Rpc__V1__Response *r = call_method(f, "/evrepl.v1.Health/Check", p, pl, m, 2);
        assert_error(r, EVREPL_CODE_INVALID_ARGUMENT);
        // The request id is echoed even on errors.
        assert_string_equal(tenv_meta_get(r, "x-request-id"), "r1");
    }
    // The longest and the odd-but-legal keys pass.
    tenv_meta ok[] = {{"k123456789012345678901234567890123456789012345678901234567890123", "v"},
                      {"a.b_c-d.0", "v"}};
    size_t pl;
    uint8_t *p = tenv_health("", &pl);
    assert_int_equal(call_method(f, "/evrepl.v1.Health/Check", p, pl, ok, 2)->status->code,
                     EVREPL_CODE_OK);
}

static void
test_rpc_metadata_limit(void **state)
{
    fixture *f = *state;
    char *big = malloc(8192);
    // key "k" (1) + value: exactly 8192 bytes in all passes, one more fails.
    memset(big, 'v', 8191);
    big[8191] = '\0';
    tenv_meta m[] = {{"k", big}};
    size_t pl;
    uint8_t *p = tenv_health("", &pl);
    assert_int_equal(call_method(f, "/evrepl.v1.Health/Check", p, pl, m, 1)->status->code,
                     EVREPL_CODE_OK);
    tenv_meta m2[] = {{"k", big}, {"a", ""}};
    p = tenv_health("", &pl);
    assert_error(call_method(f, "/evrepl.v1.Health/Check", p, pl, m2, 2),
                 EVREPL_CODE_RESOURCE_EXHAUSTED);
    free(big);
}

static void
test_rpc_request_id_echo_last_wins(void **state)
{
    fixture *f = *state;
    tenv_meta m[] = {{"x-request-id", "first"}, {"other", "x"}, {"x-request-id", "second"}};
    size_t pl;
    uint8_t *p = tenv_health("", &pl);
    const Evrepl__Rpc__V1__Response *r = call_method(f, "/evrepl.v1.Health/Check", p, pl, m, 3);
    assert_int_equal(r->status->code, EVREPL_CODE_OK);
    assert_string_equal(tenv_meta_get(r, "x-request-id"), "second");
    // Without one, none is sent back.
    p = tenv_health("", &pl);
    r = call_method(f, "/evrepl.v1.Health/Check", p, pl, NULL, 0);
    assert_null(tenv_meta_get(r, "x-request-id"));
}

static void
test_rpc_undecodable_payload_is_invalid_argument(void **state)
{
    fixture *f = *state;
    const char *methods[] = {"/evrepl.v1.EventReplicator/PropagateEvent",
                             "/evrepl.v1.EventReplicator/VerifyReplicas", "/evrepl.v1.Health/Check",
                             "/evrepl.v1.Server/Describe"};
    for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++) {
        uint8_t *p = malloc(3);
        memcpy(p, "\x0a\x7f\x01", 3); // a string field claiming 127 bytes
        assert_error(call_method(f, methods[i], p, 3, NULL, 0), EVREPL_CODE_INVALID_ARGUMENT);
    }
    assert_int_equal(atomic_load(&f->fake.calls), 0);
}

static void
test_rpc_event_id_must_be_canonical_uuid(void **state)
{
    fixture *f = *state;
    const char *bad[] = {"",
                         "nope",
                         "0b3c2d1eaaaa4bbb8ccc0123456789ab",
                         "{0b3c2d1e-aaaa-4bbb-8ccc-0123456789ab}",
                         "0b3c2d1e-aaaa-4bbb-8ccc-0123456789ag",
                         "0b3c2d1e-aaaa-4bbb-8ccc-0123456789abc",
                         " 0b3c2d1e-aaaa-4bbb-8ccc-0123456789a",
                         "0b3c2d1e_aaaa-4bbb-8ccc-0123456789ab"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_error(propagate(f, bad[i]), EVREPL_CODE_INVALID_ARGUMENT);
    }
    assert_int_equal(atomic_load(&f->fake.calls), 0);
}

static void
test_rpc_event_id_with_nul_is_invalid_argument(void **state)
{
    fixture *f = *state;
    // protobuf-c would cut the string at the NUL and see a valid UUID; the server must not.
    static const char with_nul[] = VALID_ID "\0junk";
    Evrepl__V1__PropagateEventRequest m = EVREPL__V1__PROPAGATE_EVENT_REQUEST__INIT;
    (void)m;
    size_t id_len = sizeof(with_nul) - 1;
    uint8_t *p = malloc(2 + id_len);
    p[0] = 0x0a;
    p[1] = (uint8_t)id_len;
    memcpy(p + 2, with_nul, id_len);
    assert_error(
        call_method(f, "/evrepl.v1.EventReplicator/PropagateEvent", p, 2 + id_len, NULL, 0),
        EVREPL_CODE_INVALID_ARGUMENT);
}

static void
test_rpc_propagate_ok_lowercases_id(void **state)
{
    fixture *f = *state;
    const Evrepl__Rpc__V1__Response *r = propagate(f, "0B3C2D1E-AAAA-4BBB-8CCC-0123456789AB");
    assert_int_equal(r->status->code, EVREPL_CODE_OK);
    assert_string_equal(r->status->message, "");
    Evrepl__V1__ReplicationReceipt *rr =
        evrepl__v1__replication_receipt__unpack(NULL, r->payload.len, r->payload.data);
    assert_non_null(rr);
    assert_string_equal(rr->event_id, VALID_ID);
    assert_int_equal(rr->n_acks, 2);
    assert_string_equal(rr->acks[0]->replica_id, "us-east");
    assert_int_equal(rr->acks[1]->state, EVREPL__V1__ACK_STATE__ACK_STATE_PENDING);
    assert_int_equal(rr->status, EVREPL__V1__REPLICATION_STATUS__REPLICATION_STATUS_PENDING);
    assert_int_equal(rr->content_hash.len, 32);
    assert_int_equal(rr->signature.len, 0); // no receipt key
    evrepl__v1__replication_receipt__free_unpacked(rr, NULL);
}

static void
test_rpc_backend_codes_pass_through(void **state)
{
    fixture *f = *state;
    const evrepl_code codes[] = {EVREPL_CODE_NOT_FOUND, EVREPL_CODE_UNAVAILABLE,
                                 EVREPL_CODE_FAILED_PRECONDITION, EVREPL_CODE_DEADLINE_EXCEEDED,
                                 EVREPL_CODE_INTERNAL};
    for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++) {
        f->fake.script.fail_code = codes[i];
        f->fake.script.fail_from_call = 1;
        const Evrepl__Rpc__V1__Response *r = propagate(f, VALID_ID);
        assert_error(r, (int)codes[i]);
        assert_non_null(strstr(r->status->message, "fake failure"));
    }
}

static void
test_rpc_verify_passes_request(void **state)
{
    fixture *f = *state;
    size_t pl;
    uint8_t *p = tenv_verify(3, 1, &pl);
    const Evrepl__Rpc__V1__Response *r =
        call_method(f, "/evrepl.v1.EventReplicator/VerifyReplicas", p, pl, NULL, 0);
    assert_int_equal(r->status->code, EVREPL_CODE_OK);
    Evrepl__V1__VerificationResult *v =
        evrepl__v1__verification_result__unpack(NULL, r->payload.len, r->payload.data);
    assert_non_null(v);
    assert_int_equal(v->primary_head_sequence, 77); // full_audit reached the backend
    assert_true(v->signature_valid);
    assert_int_equal(v->n_errors, 1);
    assert_non_null(v->checked_at);
    evrepl__v1__verification_result__free_unpacked(v, NULL);
}

static void
test_rpc_health(void **state)
{
    fixture *f = *state;
    struct {
        const char *service;
        evrepl_serving_status backend;
        int code;
        int status;
    } cases[] = {
        {"", EVREPL_SERVING_STATUS_NOT_SERVING, 0, 1}, // the server itself
        {"evrepl.v1.EventReplicator", EVREPL_SERVING_STATUS_SERVING, 0, 1},
        {"evrepl.v1.EventReplicator", EVREPL_SERVING_STATUS_NOT_SERVING, 0, 2},
        {"evrepl.v1.Nope", EVREPL_SERVING_STATUS_SERVING, EVREPL_CODE_NOT_FOUND, 0},
        {"grpc.health.v1.Health", EVREPL_SERVING_STATUS_SERVING, EVREPL_CODE_NOT_FOUND, 0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        f->fake.script.health = cases[i].backend;
        size_t pl;
        uint8_t *p = tenv_health(cases[i].service, &pl);
        const Evrepl__Rpc__V1__Response *r =
            call_method(f, "/evrepl.v1.Health/Check", p, pl, NULL, 0);
        assert_int_equal(r->status->code, cases[i].code);
        if (cases[i].code == 0) {
            Evrepl__V1__HealthCheckResponse *h =
                evrepl__v1__health_check_response__unpack(NULL, r->payload.len, r->payload.data);
            assert_non_null(h);
            assert_int_equal(h->status, cases[i].status);
            evrepl__v1__health_check_response__free_unpacked(h, NULL);
        }
    }
}

static void
test_rpc_describe(void **state)
{
    fixture *f = *state;
    const Evrepl__Rpc__V1__Response *r =
        call_method(f, "/evrepl.v1.Server/Describe", NULL, 0, NULL, 0);
    assert_int_equal(r->status->code, EVREPL_CODE_OK);
    Evrepl__V1__ServerDescription *d =
        evrepl__v1__server_description__unpack(NULL, r->payload.len, r->payload.data);
    assert_non_null(d);
    assert_string_equal(d->version, "9.9.9");
    assert_string_equal(d->backend, "fake");
    assert_string_equal(d->schema_version, "0002");
    assert_int_equal(d->n_methods, 4);
    assert_string_equal(d->methods[0], "/evrepl.v1.EventReplicator/PropagateEvent");
    assert_string_equal(d->methods[2], "/evrepl.v1.Health/Check");
    assert_string_equal(d->methods[3], "/evrepl.v1.Server/Describe");
    assert_int_equal(d->n_replica_ids, 2);
    assert_string_equal(d->replica_ids[1], "eu-west");
    assert_int_equal(d->receipt_public_key.len, 0);
    evrepl__v1__server_description__free_unpacked(d, NULL);
}

static void
test_rpc_draining(void **state)
{
    fixture *f = *state;
    evri_rpc_drain(f->rpc);
    assert_error(propagate(f, VALID_ID), EVREPL_CODE_UNAVAILABLE);
    const Evrepl__Rpc__V1__Response *r =
        call_method(f, "/evrepl.v1.Server/Describe", NULL, 0, NULL, 0);
    assert_error(r, EVREPL_CODE_UNAVAILABLE);
    size_t pl;
    uint8_t *p = tenv_health("", &pl);
    r = call_method(f, "/evrepl.v1.Health/Check", p, pl, NULL, 0);
    assert_int_equal(r->status->code, EVREPL_CODE_OK);
    Evrepl__V1__HealthCheckResponse *h =
        evrepl__v1__health_check_response__unpack(NULL, r->payload.len, r->payload.data);
    assert_int_equal(h->status, EVREPL__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__NOT_SERVING);
    evrepl__v1__health_check_response__free_unpacked(h, NULL);
}

static void
test_rpc_backend_calls_go_to_workers_when_blocking(void **state)
{
    fixture *f = *state;
    size_t pl, len;
    uint8_t *p = tenv_propagate(VALID_ID, &pl);
    uint8_t *req =
        tenv_request("/evrepl.v1.EventReplicator/PropagateEvent", p, pl, 0, NULL, 0, &len);
    assert_int_equal(evri_call_begin(f->call, req, len, evri_now_ns(), NULL), EVRI_CALL_RUN_WORKER);
    evri_call_end(f->call);
    free(req);
    free(p);
    // Health and Describe never wait for a worker.
    p = tenv_health("", &pl);
    req = tenv_request("/evrepl.v1.Health/Check", p, pl, 0, NULL, 0, &len);
    assert_int_equal(evri_call_begin(f->call, req, len, evri_now_ns(), NULL), EVRI_CALL_RUN_INLINE);
    evri_call_end(f->call);
    free(req);
    free(p);
}

static void
test_rpc_deadline_passed_before_worker(void **state)
{
    fixture *f = *state;
    size_t pl, len;
    uint8_t *p = tenv_propagate(VALID_ID, &pl);
    uint8_t *req =
        tenv_request("/evrepl.v1.EventReplicator/PropagateEvent", p, pl, 50, NULL, 0, &len);
    // Received 60 ms ago with a 50 ms deadline: the worker is too late.
    const Evrepl__Rpc__V1__Response *r = roundtrip_at(f, req, len, 60 * EVRI_NS_PER_MS);
    assert_error(r, EVREPL_CODE_DEADLINE_EXCEEDED);
    assert_int_equal(atomic_load(&f->fake.calls), 0);
    free(req);
    free(p);
}

static void
test_rpc_timeout_default_and_clamp(void **state)
{
    fixture *f = *state;
    size_t pl, len;
    uint8_t *p = tenv_health("", &pl);
    uint8_t *req = tenv_request("/evrepl.v1.Health/Check", p, pl, 0, NULL, 0, &len);
    uint64_t now = evri_now_ns();
    (void)evri_call_begin(f->call, req, len, now, NULL);
    // The server's budget is the timeout less a margin for the reply's trip back (100 ms cap).
    assert_int_equal(evri_call_deadline_ns(f->call), now + 4900 * EVRI_NS_PER_MS);
    evri_call_end(f->call);
    free(req);
    req = tenv_request("/evrepl.v1.Health/Check", p, pl, UINT32_MAX, NULL, 0, &len);
    (void)evri_call_begin(f->call, req, len, now, NULL);
    assert_int_equal(evri_call_deadline_ns(f->call), now + 59900 * EVRI_NS_PER_MS);
    evri_call_end(f->call);
    free(req);
    free(p);
}

static void
test_rpc_signed_receipt_verifies(void **state)
{
    fixture *f = *state;
    const Evrepl__Rpc__V1__Response *r = propagate(f, VALID_ID);
    assert_int_equal(r->status->code, EVREPL_CODE_OK);
    evrepl_receipt rec = {0};
    evrepl_status st;
    assert_int_equal(evri_wire_unpack_receipt(r->payload.data, r->payload.len, &rec, &st),
                     EVREPL_CODE_OK);
    assert_int_equal(rec.signature_len, 64);
    assert_string_equal(rec.signer_key_id, evri_signer_key_id(f->signer));
    assert_int_equal(evrepl_receipt_verify_signature(&rec, evri_signer_public_key(f->signer), &st),
                     EVREPL_CODE_OK);
    rec.acks[1].state = EVREPL_ACK_STATE_CONFIRMED; // tamper
    assert_int_equal(evrepl_receipt_verify_signature(&rec, evri_signer_public_key(f->signer), &st),
                     EVREPL_CODE_INVALID_ARGUMENT);
    evrepl_receipt_clear(&rec);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_rpc_undecodable_body_is_invalid_argument, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_rpc_empty_body_is_unimplemented, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rpc_unknown_method_is_unimplemented, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rpc_unknown_method_message_is_printable, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_rpc_invalid_utf8_is_invalid_argument, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rpc_metadata_key_rule, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rpc_metadata_limit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rpc_request_id_echo_last_wins, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rpc_undecodable_payload_is_invalid_argument, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_rpc_event_id_must_be_canonical_uuid, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rpc_event_id_with_nul_is_invalid_argument, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_rpc_propagate_ok_lowercases_id, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rpc_backend_codes_pass_through, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rpc_verify_passes_request, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rpc_health, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rpc_describe, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rpc_draining, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rpc_backend_calls_go_to_workers_when_blocking,
                                        setup_blocking, teardown),
        cmocka_unit_test_setup_teardown(test_rpc_deadline_passed_before_worker, setup_blocking,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_rpc_timeout_default_and_clamp, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rpc_signed_receipt_verifies, setup_signed, teardown),
    };
    return cmocka_run_group_tests_name("rpc", tests, NULL, NULL);
}
