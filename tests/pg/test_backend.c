// The postgres backend against a real primary and three replicas (the tools/trio fixture):
// receipts and verification results in every case of the backend issue. Each test leaves the
// trio as it found it (what it breaks on a replica, it repairs).
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "adapters/postgres/admin.h"
#include "adapters/postgres/writer.h"
#include "common/clock.h"
#include "common/keyfile.h"
#include "domain/keys.h"
#include "domain/status.h"
#include "evrepl/client.h"
#include "migrations/migrations.h"
#include "pgtest.h"
#include "server/config.h"
#include "server/server.h"
#include "support/support.h"

typedef struct fixture {
    char dir[256];
    char key_path[300];
    char state_path[300];
    char url[64];
    evri_signer *writer;
    evri_server *srv;
    evrepl_client *client;
    uint8_t receipt_pk[EVREPL_PUBLIC_KEY_BYTES];
    // The events appended last.
    char last_id[EVREPL_UUID_STR_LEN + 1];
    uint8_t last_hash[EVREPL_HASH_BYTES];
    uint64_t last_seq;
} fixture;

static fixture *F;

static evrepl_code
on_batch(void *arg, const evri_event *events, size_t n, evrepl_status *st)
{
    fixture *f = arg;
    const evri_event *ev = &events[n - 1];
    evrepl_uuid_format(ev->event_id, f->last_id);
    memcpy(f->last_hash, ev->content_hash, EVREPL_HASH_BYTES);
    f->last_seq = ev->sequence;
    return evri_status_ok(st);
}

static void
append(fixture *f, uint64_t count)
{
    pgt_append(f->writer, "test.backend", count, on_batch, f);
}

static void
server_start(fixture *f)
{
    evrepl_status st;
    snprintf(f->url, sizeof(f->url), "inproc://pg-backend-%d", (int)getpid());
    f->srv = pgt_server_start(f->url, "receipt-key", f->key_path, "state-file", f->state_path,
                              "workers", "2", (const char *)NULL);
    evrepl_client_opts o = {.url = f->url, .timeout_ms = 5000};
    assert_int_equal(evrepl_client_create(&f->client, &o, &st), EVREPL_CODE_OK);
}

static void
server_stop(fixture *f)
{
    evrepl_client_destroy(f->client);
    f->client = NULL;
    evri_server_destroy(f->srv);
    f->srv = NULL;
}

static int
group_setup(void **state)
{
    (void)state;
    fixture *f = calloc(1, sizeof(*f));
    evrepl_status st;
    assert_true(evri_test_tmpdir(f->dir));
    snprintf(f->key_path, sizeof(f->key_path), "%s/receipt.key", f->dir);
    snprintf(f->state_path, sizeof(f->state_path), "%s/heads.json", f->dir);
    evri_signer *rk;
    assert_int_equal(evri_signer_generate(&rk, &st), EVREPL_CODE_OK);
    assert_int_equal(evri_keyfile_write(rk, f->key_path, &st), EVREPL_CODE_OK);
    memcpy(f->receipt_pk, evri_signer_public_key(rk), EVREPL_PUBLIC_KEY_BYTES);
    evri_signer_destroy(rk);
    assert_int_equal(evri_signer_generate(&f->writer, &st), EVREPL_CODE_OK);
    pgt_register_key(f->writer);
    append(f, 5);
    server_start(f);
    F = f;
    return 0;
}

static int
group_teardown(void **state)
{
    (void)state;
    if (F != NULL) {
        server_stop(F);
        evri_signer_destroy(F->writer);
        evri_test_rmdir(F->dir);
        free(F);
    }
    return 0;
}

static evrepl_code
propagate(const char *id, uint32_t timeout_ms, evrepl_receipt *r, evrepl_status *st)
{
    evrepl_call_opts co = {.timeout_ms = timeout_ms};
    memset(r, 0, sizeof(*r));
    return evrepl_client_propagate_event(F->client, id, &co, r, st);
}

static evrepl_code
verify(uint32_t tail, bool full, uint32_t timeout_ms, evrepl_verification *v, evrepl_status *st)
{
    evrepl_call_opts co = {.timeout_ms = timeout_ms};
    evrepl_verify_request vr = {.tail = tail, .full_audit = full};
    memset(v, 0, sizeof(*v));
    return evrepl_client_verify_replicas(F->client, &vr, &co, v, st);
}

static bool
errors_mention(const evrepl_verification *v, const char *a, const char *b)
{
    for (size_t i = 0; i < v->n_errors; i++) {
        if (strstr(v->errors[i], a) != NULL && (b == NULL || strstr(v->errors[i], b) != NULL)) {
            return true;
        }
    }
    return false;
}

static const evrepl_replica_ack *
ack(const evrepl_receipt *r, const char *id)
{
    for (size_t i = 0; i < r->n_acks; i++) {
        if (strcmp(r->acks[i].replica_id, id) == 0) {
            return &r->acks[i];
        }
    }
    fail_msg("no ack for %s", id);
    return NULL;
}

// Waits (bounded) until every replica holds the primary's head and a verification is valid.
static void
await_valid(uint32_t seconds)
{
    uint64_t until = evri_now_ns() + (uint64_t)seconds * 1000 * EVRI_NS_PER_MS;
    evrepl_verification v;
    evrepl_status st;
    for (;;) {
        evrepl_code code = verify(0, false, 2000, &v, &st);
        bool ok = code == EVREPL_CODE_OK && evrepl_verification_is_valid(&v);
        if (!ok && evri_now_ns() > until) {
            for (size_t i = 0; code == EVREPL_CODE_OK && i < v.n_errors; i++) {
                print_message("  %s\n", v.errors[i]);
            }
            fail_msg("the trio did not become valid (%s)", code == 0 ? "result" : st.message);
        }
        evrepl_verification_clear(&v);
        if (ok) {
            return;
        }
        struct timespec ts = {0, 100 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
}

// Runs after every test, passed or failed: a failed assertion leaves the test half way, so
// what it may have broken is put right here (nodes up, subscriptions on), and the next test
// starts from a working trio.
static int
repair(void **state)
{
    (void)state;
    const char *reps[] = {PGT_US_EAST, PGT_EU_WEST, PGT_AP_SOUTH};
    const char *subs[] = {"evrepl_us_east", "evrepl_eu_west", "evrepl_ap_south"};
    char sql[128];
    pgt_start(PGT_PRIMARY);
    for (int i = 0; i < 3; i++) {
        pgt_start(reps[i]);
        snprintf(sql, sizeof(sql), "ALTER SUBSCRIPTION %s ENABLE", subs[i]);
        pgt_exec(pgt_conninfo(reps[i]), sql);
    }
    // Rows the rollback test took off us-east go back.
    pgt_exec(pgt_conninfo(PGT_US_EAST),
             "DO $$ BEGIN IF to_regclass('rollback_copy') IS NOT NULL THEN "
             "PERFORM set_config('session_replication_role', 'replica', true); "
             "INSERT INTO events SELECT * FROM rollback_copy ON CONFLICT DO NOTHING; "
             "DROP TABLE rollback_copy; END IF; END $$");
    return 0;
}

static void
test_pg_confirmed_and_signed(void **state)
{
    (void)state;
    append(F, 1);
    evrepl_receipt r;
    evrepl_status st;
    assert_int_equal(propagate(F->last_id, 5000, &r, &st), EVREPL_CODE_OK);
    assert_int_equal(r.status, EVREPL_REPLICATION_STATUS_CONFIRMED);
    assert_string_equal(r.event_id, F->last_id);
    assert_int_equal(r.n_acks, 3);
    assert_int_equal(r.n_replica_ids, 3);
    assert_int_equal(r.content_hash_len, 32);
    assert_memory_equal(r.content_hash, F->last_hash, 32);
    for (size_t i = 0; i < 3; i++) {
        assert_int_equal(r.acks[i].state, EVREPL_ACK_STATE_CONFIRMED);
        assert_memory_equal(r.acks[i].observed_content_hash, F->last_hash, 32);
    }
    assert_string_equal(r.acks[0].replica_id, PGT_US_EAST); // configuration order
    assert_string_equal(r.acks[2].replica_id, PGT_AP_SOUTH);
    assert_int_equal(evrepl_receipt_verify_signature(&r, F->receipt_pk, &st), EVREPL_CODE_OK);
    evrepl_receipt_clear(&r);

    evrepl_verification v;
    assert_int_equal(verify(3, false, 5000, &v, &st), EVREPL_CODE_OK);
    assert_true(evrepl_verification_is_valid(&v));
    assert_int_equal(v.primary_head_sequence, F->last_seq);
    assert_memory_equal(v.primary_head_hash, F->last_hash, 32);
    assert_string_equal(v.schema_version, evri_schema_version);
    for (size_t i = 0; i < 3; i++) {
        assert_int_equal(v.replicas[i].events_checked, 3);
        assert_int_equal(v.replicas[i].head_sequence, F->last_seq);
        assert_int_equal(v.replicas[i].lag_events, 0);
    }
    assert_int_equal(evrepl_verification_verify_signature(&v, F->receipt_pk, &st), EVREPL_CODE_OK);
    evrepl_verification_clear(&v);
}

static void
test_pg_not_found_and_bad_id(void **state)
{
    (void)state;
    evrepl_receipt r;
    evrepl_status st;
    assert_int_equal(propagate("00000000-0000-4000-8000-000000000000", 3000, &r, &st),
                     EVREPL_CODE_NOT_FOUND);
    assert_non_null(strstr(st.message, "not on the primary"));
    assert_int_equal(propagate("nope", 3000, &r, &st), EVREPL_CODE_INVALID_ARGUMENT);
}

static void
test_pg_pending_while_subscription_disabled(void **state)
{
    (void)state;
    pgt_exec(pgt_conninfo(PGT_EU_WEST), "ALTER SUBSCRIPTION evrepl_eu_west DISABLE");
    append(F, 2);
    evrepl_receipt r;
    evrepl_status st;
    uint64_t t0 = evri_now_ns();
    assert_int_equal(propagate(F->last_id, 2000, &r, &st), EVREPL_CODE_OK);
    uint64_t took = evri_now_ns() - t0;
    assert_true(took < 2000 * EVRI_NS_PER_MS); // answered before the caller's deadline
    assert_int_equal(r.status, EVREPL_REPLICATION_STATUS_PENDING);
    assert_int_equal(ack(&r, PGT_EU_WEST)->state, EVREPL_ACK_STATE_PENDING);
    assert_int_equal(ack(&r, PGT_US_EAST)->state, EVREPL_ACK_STATE_CONFIRMED);
    assert_int_equal(r.n_replica_ids, 2);
    evrepl_receipt_clear(&r);

    evrepl_verification v;
    assert_int_equal(verify(0, false, 2000, &v, &st), EVREPL_CODE_OK);
    const evrepl_replica_verification *eu = pgt_replica(&v, PGT_EU_WEST);
    assert_int_equal(eu->lag_events, 2);
    assert_int_equal(eu->diverged_at_sequence, 0); // lagging, not diverged
    assert_false(eu->head_hash_match);
    assert_true(eu->reachable);
    assert_true(errors_mention(&v, "eu-west", "lagging"));
    assert_false(evrepl_verification_is_valid(&v));
    evrepl_verification_clear(&v);

    // Re-enabled, the waiting call confirms as soon as the apply notifies.
    pgt_exec(pgt_conninfo(PGT_EU_WEST), "ALTER SUBSCRIPTION evrepl_eu_west ENABLE");
    assert_int_equal(propagate(F->last_id, 10000, &r, &st), EVREPL_CODE_OK);
    assert_int_equal(r.status, EVREPL_REPLICATION_STATUS_CONFIRMED);
    evrepl_receipt_clear(&r);
    await_valid(20);
}

static void
test_pg_failed_on_tampered_copy(void **state)
{
    (void)state;
    char sql[512];
    append(F, 1);
    await_valid(20);
    // A superuser on ap-south replaces the stored content hash of the newest event.
    snprintf(sql, sizeof(sql),
             "SET session_replication_role = replica; UPDATE events SET content_hash = "
             "sha256(content_hash) WHERE event_id = '%s'",
             F->last_id);
    pgt_exec(pgt_conninfo(PGT_AP_SOUTH), sql);
    evrepl_receipt r;
    evrepl_status st;
    assert_int_equal(propagate(F->last_id, 3000, &r, &st), EVREPL_CODE_OK);
    assert_int_equal(r.status, EVREPL_REPLICATION_STATUS_FAILED);
    const evrepl_replica_ack *a = ack(&r, PGT_AP_SOUTH);
    assert_int_equal(a->state, EVREPL_ACK_STATE_MISMATCH);
    assert_int_equal(a->observed_content_hash_len, 32);
    assert_memory_not_equal(a->observed_content_hash, F->last_hash, 32);
    assert_int_equal(r.n_replica_ids, 2);
    evrepl_receipt_clear(&r);

    evrepl_verification v;
    assert_int_equal(verify(0, false, 3000, &v, &st), EVREPL_CODE_OK);
    assert_false(v.head_hash_match);
    assert_int_equal(pgt_replica(&v, PGT_AP_SOUTH)->diverged_at_sequence, F->last_seq);
    assert_int_equal(pgt_replica(&v, PGT_US_EAST)->diverged_at_sequence, 0);
    evrepl_verification_clear(&v);
    // Repair.
    char hex[65];
    for (int i = 0; i < 32; i++) {
        snprintf(hex + 2 * i, 3, "%02x", F->last_hash[i]);
    }
    snprintf(sql, sizeof(sql),
             "SET session_replication_role = replica; UPDATE events SET content_hash = "
             "'\\x%s'::bytea WHERE event_id = '%s'",
             hex, F->last_id);
    pgt_exec(pgt_conninfo(PGT_AP_SOUTH), sql);
    await_valid(10);
}

static void
test_pg_altered_payload_named_by_sequence(void **state)
{
    (void)state;
    char sql[512];
    char old[256];
    // Sequence 2's payload changes on us-east; its stored hashes stay as they were.
    pgt_text(pgt_conninfo(PGT_US_EAST),
             "SELECT encode(payload, 'hex') FROM events WHERE sequence = 2", old, sizeof(old));
    pgt_exec(pgt_conninfo(PGT_US_EAST), "SET session_replication_role = replica; "
                                        "UPDATE events SET payload = 'forged' WHERE sequence = 2");
    evrepl_verification v;
    evrepl_status st;
    // The head alone cannot see it...
    assert_int_equal(verify(0, false, 5000, &v, &st), EVREPL_CODE_OK);
    assert_true(evrepl_verification_is_valid(&v));
    evrepl_verification_clear(&v);
    // ...a full audit does, and says where.
    assert_int_equal(verify(0, true, 20000, &v, &st), EVREPL_CODE_OK);
    const evrepl_replica_verification *us = pgt_replica(&v, PGT_US_EAST);
    assert_false(us->signature_valid);
    assert_false(v.signature_valid);
    assert_int_equal(us->diverged_at_sequence, 2);
    assert_true(errors_mention(&v, "us-east: sequence 2:", "recompute"));
    assert_true(pgt_replica(&v, PGT_EU_WEST)->signature_valid);
    assert_int_equal(pgt_replica(&v, PGT_EU_WEST)->events_checked, v.primary_head_sequence);
    evrepl_verification_clear(&v);
    snprintf(sql, sizeof(sql),
             "SET session_replication_role = replica; "
             "UPDATE events SET payload = decode('%s', 'hex') WHERE sequence = 2",
             old);
    pgt_exec(pgt_conninfo(PGT_US_EAST), sql);
    assert_int_equal(verify(0, true, 20000, &v, &st), EVREPL_CODE_OK);
    assert_true(evrepl_verification_is_valid(&v));
    evrepl_verification_clear(&v);
}

static void
test_pg_extra_row_is_diverged_not_lagging(void **state)
{
    (void)state;
    await_valid(10);
    // eu-west grows a row the primary never had.
    pgt_exec(pgt_conninfo(PGT_EU_WEST),
             "SET session_replication_role = replica; INSERT INTO events "
             "SELECT gen_random_uuid(), sequence + 1, 'forged', payload, content_hash, "
             "sha256(content_hash), signature, signing_key_id, created_at FROM events "
             "ORDER BY sequence DESC LIMIT 1");
    evrepl_verification v;
    evrepl_status st;
    assert_int_equal(verify(0, false, 5000, &v, &st), EVREPL_CODE_OK);
    const evrepl_replica_verification *eu = pgt_replica(&v, PGT_EU_WEST);
    assert_int_equal(eu->head_sequence, v.primary_head_sequence + 1);
    assert_int_equal(eu->lag_events, 0);
    assert_int_equal(eu->diverged_at_sequence, v.primary_head_sequence + 1);
    assert_true(errors_mention(&v, "eu-west", "primary lacks"));
    assert_false(errors_mention(&v, "eu-west", "lagging"));
    assert_false(evrepl_verification_is_valid(&v));
    char sql[256];
    snprintf(sql, sizeof(sql),
             "SET session_replication_role = replica; DELETE FROM events WHERE sequence > %llu",
             (unsigned long long)v.primary_head_sequence);
    evrepl_verification_clear(&v);
    pgt_exec(pgt_conninfo(PGT_EU_WEST), sql);
    await_valid(10);
}

static void
test_pg_rolled_back_replica_is_diverged_across_restarts(void **state)
{
    (void)state;
    append(F, 3);
    await_valid(20); // remembers every replica at the head
    uint64_t head = F->last_seq;
    // Copy the newest rows aside, then take them off us-east (a restore from an old backup).
    pgt_exec(pgt_conninfo(PGT_US_EAST), "CREATE TABLE IF NOT EXISTS rollback_copy AS "
                                        "SELECT * FROM events WHERE false");
    char sql[512];
    snprintf(sql, sizeof(sql),
             "SET session_replication_role = replica; TRUNCATE rollback_copy; "
             "INSERT INTO rollback_copy SELECT * FROM events WHERE sequence > %llu; "
             "DELETE FROM events WHERE sequence > %llu",
             (unsigned long long)(head - 2), (unsigned long long)(head - 2));
    pgt_exec(pgt_conninfo(PGT_US_EAST), "ALTER SUBSCRIPTION evrepl_us_east DISABLE");
    pgt_exec(pgt_conninfo(PGT_US_EAST), sql);
    // Also across a restart of the server: the state file remembers.
    server_stop(F);
    server_start(F);
    evrepl_verification v;
    evrepl_status st;
    assert_int_equal(verify(0, false, 1500, &v, &st), EVREPL_CODE_OK);
    const evrepl_replica_verification *us = pgt_replica(&v, PGT_US_EAST);
    assert_int_equal(us->head_sequence, head - 2);
    assert_int_equal(us->diverged_at_sequence, head - 1);
    assert_true(errors_mention(&v, "us-east", "went backwards"));
    assert_false(errors_mention(&v, "us-east", "lagging"));
    evrepl_verification_clear(&v);
    // Repair: the rows come back, and with them a valid result.
    pgt_exec(pgt_conninfo(PGT_US_EAST), "SET session_replication_role = replica; "
                                        "INSERT INTO events SELECT * FROM rollback_copy; "
                                        "DROP TABLE rollback_copy");
    pgt_exec(pgt_conninfo(PGT_US_EAST), "ALTER SUBSCRIPTION evrepl_us_east ENABLE");
    await_valid(20);
}

static void
test_pg_missing_migration(void **state)
{
    (void)state;
    // ap-south loses the record of the newest migration: it reports the one before.
    char name[128], sql[256];
    assert_true(evri_n_migrations >= 2);
    const evri_migration *newest = &evri_migrations[evri_n_migrations - 1];
    const evri_migration *before = &evri_migrations[evri_n_migrations - 2];
    snprintf(sql, sizeof(sql), "SELECT name FROM schema_migrations WHERE version = '%s'",
             newest->version);
    pgt_text(pgt_conninfo(PGT_AP_SOUTH), sql, name, sizeof(name));
    snprintf(sql, sizeof(sql), "DELETE FROM schema_migrations WHERE version = '%s'",
             newest->version);
    pgt_exec(pgt_conninfo(PGT_AP_SOUTH), sql);
    evrepl_verification v;
    evrepl_status st;
    assert_int_equal(verify(0, false, 5000, &v, &st), EVREPL_CODE_OK);
    const evrepl_replica_verification *ap = pgt_replica(&v, PGT_AP_SOUTH);
    assert_string_equal(ap->schema_version, before->version);
    assert_false(ap->schema_version_match);
    assert_false(v.schema_version_match);
    assert_true(pgt_replica(&v, PGT_US_EAST)->schema_version_match);
    assert_true(errors_mention(&v, "ap-south", "schema version"));
    assert_false(evrepl_verification_is_valid(&v));
    evrepl_verification_clear(&v);
    snprintf(sql, sizeof(sql), "INSERT INTO schema_migrations (version, name) VALUES ('%s', '%s')",
             newest->version, name);
    pgt_exec(pgt_conninfo(PGT_AP_SOUTH), sql);
    await_valid(10);
}

static void
test_pg_replica_stopped_then_restarted(void **state)
{
    (void)state;
    pgt_stop(PGT_AP_SOUTH);
    append(F, 1);
    evrepl_receipt r;
    evrepl_status st;
    assert_int_equal(propagate(F->last_id, 3000, &r, &st), EVREPL_CODE_OK);
    assert_int_equal(r.status, EVREPL_REPLICATION_STATUS_PENDING);
    const evrepl_replica_ack *a = ack(&r, PGT_AP_SOUTH);
    assert_int_equal(a->state, EVREPL_ACK_STATE_UNREACHABLE);
    assert_non_null(strstr(a->detail, "unreachable"));
    assert_null(strstr(a->detail, "passfile")); // never the conninfo
    evrepl_receipt_clear(&r);
    evrepl_verification v;
    assert_int_equal(verify(0, false, 3000, &v, &st), EVREPL_CODE_OK);
    const evrepl_replica_verification *ap = pgt_replica(&v, PGT_AP_SOUTH);
    assert_false(ap->reachable);
    assert_false(ap->head_hash_match || ap->signature_valid || ap->chain_valid ||
                 ap->schema_version_match);
    assert_int_equal(ap->head_sequence, 0);
    assert_int_equal(ap->head_hash_len, 0);
    assert_true(errors_mention(&v, "ap-south", "unreachable"));
    evrepl_verification_clear(&v);
    // Back up: the same server reconnects by itself.
    pgt_start(PGT_AP_SOUTH);
    assert_int_equal(propagate(F->last_id, 10000, &r, &st), EVREPL_CODE_OK);
    assert_int_equal(r.status, EVREPL_REPLICATION_STATUS_CONFIRMED);
    evrepl_receipt_clear(&r);
    await_valid(20);
}

static void
test_pg_primary_stopped(void **state)
{
    (void)state;
    pgt_stop(PGT_PRIMARY);
    evrepl_receipt r;
    evrepl_status st;
    assert_int_equal(propagate(F->last_id, 3000, &r, &st), EVREPL_CODE_UNAVAILABLE);
    assert_non_null(strstr(st.message, "primary"));
    evrepl_verification v;
    assert_int_equal(verify(0, false, 3000, &v, &st), EVREPL_CODE_UNAVAILABLE);
    // The server itself still serves; the EventReplicator service says NOT_SERVING.
    evrepl_serving_status h;
    assert_int_equal(evrepl_client_health_check(F->client, "", NULL, &h, &st), EVREPL_CODE_OK);
    assert_int_equal(h, EVREPL_SERVING_STATUS_SERVING);
    assert_int_equal(
        evrepl_client_health_check(F->client, "evrepl.v1.EventReplicator", NULL, &h, &st),
        EVREPL_CODE_OK);
    assert_int_equal(h, EVREPL_SERVING_STATUS_NOT_SERVING);
    pgt_start(PGT_PRIMARY);
    // Health comes back without any call (the prober), then calls work again.
    uint64_t until = evri_now_ns() + 10000 * EVRI_NS_PER_MS;
    do {
        struct timespec ts = {0, 200 * 1000 * 1000};
        nanosleep(&ts, NULL);
        assert_int_equal(
            evrepl_client_health_check(F->client, "evrepl.v1.EventReplicator", NULL, &h, &st),
            EVREPL_CODE_OK);
    } while (h != EVREPL_SERVING_STATUS_SERVING && evri_now_ns() < until);
    assert_int_equal(h, EVREPL_SERVING_STATUS_SERVING);
    assert_int_equal(propagate(F->last_id, 5000, &r, &st), EVREPL_CODE_OK);
    evrepl_receipt_clear(&r);
    await_valid(20);
}

static void
test_pg_full_audit_of_100000_events(void **state)
{
    (void)state;
    append(F, 100000);
    await_valid(120);
    evrepl_verification v;
    evrepl_status st;
    uint64_t t0 = evri_now_ns();
    assert_int_equal(verify(0, true, 300000, &v, &st), EVREPL_CODE_OK);
    double secs = (double)(evri_now_ns() - t0) / 1e9;
    if (!evrepl_verification_is_valid(&v)) {
        for (size_t i = 0; i < v.n_errors; i++) {
            print_message("  %s\n", v.errors[i]);
        }
    }
    assert_true(evrepl_verification_is_valid(&v));
    assert_true(v.primary_head_sequence >= 100000);
    for (size_t i = 0; i < 3; i++) {
        assert_int_equal(v.replicas[i].events_checked, v.primary_head_sequence);
        assert_true(v.replicas[i].chain_valid);
    }
    print_message("full audit: %llu events on 3 replicas in %.1f s\n",
                  (unsigned long long)v.primary_head_sequence, secs);
    evrepl_verification_clear(&v);
}

int
main(void)
{
    char why[512];
    if (!pgt_trio_ready(why, sizeof(why))) {
        return pgt_unavailable("test_pg_backend", why);
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_pg_confirmed_and_signed, repair),
        cmocka_unit_test_teardown(test_pg_not_found_and_bad_id, repair),
        cmocka_unit_test_teardown(test_pg_pending_while_subscription_disabled, repair),
        cmocka_unit_test_teardown(test_pg_failed_on_tampered_copy, repair),
        cmocka_unit_test_teardown(test_pg_altered_payload_named_by_sequence, repair),
        cmocka_unit_test_teardown(test_pg_extra_row_is_diverged_not_lagging, repair),
        cmocka_unit_test_teardown(test_pg_rolled_back_replica_is_diverged_across_restarts, repair),
        cmocka_unit_test_teardown(test_pg_missing_migration, repair),
        cmocka_unit_test_teardown(test_pg_replica_stopped_then_restarted, repair),
        cmocka_unit_test_teardown(test_pg_primary_stopped, repair),
        cmocka_unit_test_teardown(test_pg_full_audit_of_100000_events, repair),
    };
    return cmocka_run_group_tests_name("pg_backend", tests, group_setup, group_teardown);
}
