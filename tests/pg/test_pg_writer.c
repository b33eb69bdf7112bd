// The single writer on real clusters (the tools/trio fixture): evrepl register-key and
// append, every appended event read back and checked with the domain code (hash, signature,
// chain link), exact round trips, arrival on the three replicas, and concurrent appenders
// that must still make one unbroken chain.
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
#include "common/keyfile.h"
#include "domain/event.h"
#include "domain/keys.h"
#include "pgtest.h"
#include "support/proc.h"
#include "support/support.h"

typedef struct fixture {
    char dir[256];
    char key_path[300];
    evri_signer *signer; // the key in key_path
} fixture;

static int
setup(void **state)
{
    fixture *f = calloc(1, sizeof(*f));
    char out[256], err[1024];
    evrepl_status st;
    assert_non_null(f);
    assert_true(evri_crypto_init());
    assert_true(evri_test_tmpdir(f->dir));
    snprintf(f->key_path, sizeof(f->key_path), "%s/writer.key", f->dir);
    assert_int_equal(pgt_evrepl(f->dir, out, sizeof(out), err, sizeof(err), "keygen", "--out",
                                f->key_path, NULL),
                     0);
    assert_int_equal(evri_keyfile_read(&f->signer, f->key_path, &st), EVREPL_CODE_OK);
    assert_int_equal(pgt_evrepl(f->dir, out, sizeof(out), err, sizeof(err), "register-key", "--db",
                                pgt_conninfo(PGT_PRIMARY), "--key", f->key_path, NULL),
                     0);
    *state = f;
    return 0;
}

static int
teardown(void **state)
{
    fixture *f = *state;
    evri_signer_destroy(f->signer);
    evri_test_rmdir(f->dir);
    free(f);
    return 0;
}

// An event read from a node, with its payload copied out of the result.
typedef struct stored {
    evri_event ev;
    uint8_t *payload;
    bool found;
} stored;

static evrepl_code
keep_event(void *arg, const evri_event *ev, evrepl_status *st)
{
    stored *s = arg;
    (void)st;
    s->ev = *ev;
    s->payload = malloc(ev->payload_len + 1);
    assert_non_null(s->payload);
    memcpy(s->payload, ev->payload, ev->payload_len);
    s->ev.payload = s->payload;
    s->found = true;
    return EVREPL_CODE_OK;
}

// Reads event id (text) from a node; false when the node does not hold it.
static bool
read_event(const char *node, const char *id_text, stored *out)
{
    uint8_t id[EVRI_EVENT_ID_BYTES];
    evrepl_status st;
    memset(out, 0, sizeof(*out));
    assert_int_equal(evrepl_uuid_parse(id_text, id, &st), EVREPL_CODE_OK);
    evri_pg_db *db = pgt_open(pgt_conninfo(node));
    evrepl_code code = evri_pg_db_read_event(db, id, keep_event, out, &st);
    evri_pg_db_close(db);
    if (code == EVREPL_CODE_NOT_FOUND) {
        return false;
    }
    if (code != EVREPL_CODE_OK) {
        fail_msg("%s: reading %s: %s", node, id_text, st.message);
    }
    return true;
}

static void
stored_free(stored *s)
{
    free(s->payload);
    s->payload = NULL;
}

// The public key registered for key_id on a node.
static void
node_key(const char *node, const char *key_id, uint8_t pk[EVREPL_PUBLIC_KEY_BYTES])
{
    evrepl_status st;
    evri_pg_db *db = pgt_open(pgt_conninfo(node));
    if (evri_pg_db_signing_key(db, key_id, pk, &st) != EVREPL_CODE_OK) {
        fail_msg("%s: key %s: %s", node, key_id, st.message);
    }
    evri_pg_db_close(db);
}

// Splits evrepl append's output into ids; returns how many (each checked to be a UUID).
static size_t
split_ids(char *out, char ids[][EVREPL_UUID_STR_LEN + 1], size_t max)
{
    size_t n = 0;
    for (char *save = NULL, *line = strtok_r(out, "\n", &save); line != NULL;
         line = strtok_r(NULL, "\n", &save)) {
        uint8_t bin[16];
        assert_true(n < max);
        assert_int_equal(evrepl_uuid_parse(line, bin, NULL), EVREPL_CODE_OK);
        assert_int_equal(strlen(line), EVREPL_UUID_STR_LEN);
        snprintf(ids[n++], EVREPL_UUID_STR_LEN + 1, "%s", line);
    }
    return n;
}

static void
assert_same_event(const evri_event *a, const evri_event *b)
{
    assert_memory_equal(a->event_id, b->event_id, EVRI_EVENT_ID_BYTES);
    assert_int_equal(a->sequence, b->sequence);
    assert_string_equal(a->event_type, b->event_type);
    assert_int_equal(a->payload_len, b->payload_len);
    if (a->payload_len > 0) {
        assert_memory_equal(a->payload, b->payload, a->payload_len);
    }
    assert_memory_equal(a->prev_hash, b->prev_hash, EVREPL_HASH_BYTES);
    assert_string_equal(a->signing_key_id, b->signing_key_id);
    assert_int_equal(a->created_at_us, b->created_at_us);
    assert_memory_equal(a->content_hash, b->content_hash, EVREPL_HASH_BYTES);
    assert_memory_equal(a->signature, b->signature, EVREPL_SIGNATURE_BYTES);
}

static void
test_pg_register_key_is_idempotent(void **state)
{
    fixture *f = *state;
    char out[512], err[1024], path[320], pub[330], sql[200];
    snprintf(path, sizeof(path), "%s/other.key", f->dir);
    snprintf(pub, sizeof(pub), "%s.pub", path);
    assert_int_equal(
        pgt_evrepl(f->dir, out, sizeof(out), err, sizeof(err), "keygen", "--out", path, NULL), 0);
    char id[EVRI_KEY_ID_LEN + 1];
    snprintf(id, sizeof(id), "%.32s", out);

    assert_int_equal(pgt_evrepl(f->dir, out, sizeof(out), err, sizeof(err), "register-key", "--db",
                                pgt_conninfo(PGT_PRIMARY), "--key", path, NULL),
                     0);
    assert_non_null(strstr(out, "registered signing key"));
    assert_non_null(strstr(out, id));
    // Again, from the secret key file and from the .pub file: already there, still exit 0.
    assert_int_equal(pgt_evrepl(f->dir, out, sizeof(out), err, sizeof(err), "register-key", "--db",
                                pgt_conninfo(PGT_PRIMARY), "--key", path, NULL),
                     0);
    assert_non_null(strstr(out, "already registered"));
    assert_int_equal(pgt_evrepl(f->dir, out, sizeof(out), err, sizeof(err), "--json",
                                "register-key", "--db", pgt_conninfo(PGT_PRIMARY), "--key", pub,
                                NULL),
                     0);
    assert_non_null(strstr(out, "\"inserted\":false"));
    snprintf(sql, sizeof(sql), "SELECT count(*) FROM signing_keys WHERE key_id = '%s'", id);
    assert_int_equal(pgt_number(pgt_conninfo(PGT_PRIMARY), sql), 1);
    // The key reaches the replicas (the signing_keys table is published too).
    const char *replicas[] = {PGT_US_EAST, PGT_EU_WEST, PGT_AP_SOUTH};
    for (size_t i = 0; i < 3; i++) {
        long long n = 0;
        for (int t = 0; t < 300 && (n = pgt_number(pgt_conninfo(replicas[i]), sql)) == 0; t++) {
            pgt_sleep_ms(100);
        }
        assert_int_equal(n, 1);
    }
    // A key file that is not one: a usage error, nothing stored.
    assert_int_equal(pgt_evrepl(f->dir, out, sizeof(out), err, sizeof(err), "register-key", "--db",
                                pgt_conninfo(PGT_PRIMARY), "--key", "/nonexistent/key", NULL),
                     2);
}

static void
test_pg_append_three_and_check_each(void **state)
{
    fixture *f = *state;
    char out[1024], err[1024];
    char ids[3][EVREPL_UUID_STR_LEN + 1];
    assert_int_equal(pgt_evrepl(f->dir, out, sizeof(out), err, sizeof(err), "append", "--db",
                                pgt_conninfo(PGT_PRIMARY), "--key", f->key_path, "--type",
                                "order.placed", "--payload", "{\"order\": 42}", "--count", "3",
                                NULL),
                     0);
    assert_int_equal(split_ids(out, ids, 3), 3);

    uint8_t pk[EVREPL_PUBLIC_KEY_BYTES];
    node_key(PGT_PRIMARY, evri_signer_key_id(f->signer), pk);
    assert_memory_equal(pk, evri_signer_public_key(f->signer), sizeof(pk));
    stored s[3], pred;
    for (size_t i = 0; i < 3; i++) {
        assert_true(read_event(PGT_PRIMARY, ids[i], &s[i]));
        assert_string_equal(s[i].ev.event_type, "order.placed");
        assert_int_equal(s[i].ev.payload_len, strlen("{\"order\": 42}"));
        assert_memory_equal(s[i].ev.payload, "{\"order\": 42}", s[i].ev.payload_len);
        assert_string_equal(s[i].ev.signing_key_id, evri_signer_key_id(f->signer));
    }
    // The predecessor of the first: the event just before it (or the genesis rule).
    const uint8_t *prev_hash = NULL;
    if (s[0].ev.sequence > 1) {
        evrepl_status st;
        memset(&pred, 0, sizeof(pred));
        evri_pg_db *db = pgt_open(pgt_conninfo(PGT_PRIMARY));
        assert_int_equal(
            evri_pg_db_read_events(db, s[0].ev.sequence - 1, 1, keep_event, &pred, &st),
            EVREPL_CODE_OK);
        evri_pg_db_close(db);
        assert_true(pred.found);
        prev_hash = pred.ev.content_hash;
    }
    for (size_t i = 0; i < 3; i++) {
        evri_event_verdict v;
        assert_int_equal(evri_event_check(&s[i].ev, pk, prev_hash, &v, NULL), EVREPL_CODE_OK);
        assert_true(v.fields_ok);
        assert_true(v.hash_ok);
        assert_true(v.signature_ok);
        assert_true(v.link_ok);
        if (i > 0) {
            assert_int_equal(s[i].ev.sequence, s[i - 1].ev.sequence + 1); // gapless
        }
        prev_hash = s[i].ev.content_hash;
        // created_at is "now", to the microsecond, in UTC.
        int64_t now_us = (int64_t)time(NULL) * 1000000;
        assert_true(s[i].ev.created_at_us > now_us - 600 * 1000000LL);
        assert_true(s[i].ev.created_at_us < now_us + 600 * 1000000LL);
    }
    if (s[0].ev.sequence > 1) {
        stored_free(&pred);
    }
    for (size_t i = 0; i < 3; i++) {
        stored_free(&s[i]);
    }
}

typedef struct captured {
    evri_event *events;
    size_t n;
} captured;

static evrepl_code
capture_batch(void *arg, const evri_event *events, size_t n, evrepl_status *st)
{
    captured *c = arg;
    (void)st;
    evri_event *e = realloc(c->events, (c->n + n) * sizeof(*e));
    assert_non_null(e);
    memcpy(e + c->n, events, n * sizeof(*e));
    c->events = e;
    c->n += n;
    return EVREPL_CODE_OK;
}

// What the writer sent is exactly what the primary and every replica return: binary payloads
// with NUL bytes, non-ASCII types, created_at to the microsecond.
static void
test_pg_append_round_trips_exactly(void **state)
{
    fixture *f = *state;
    static const uint8_t payload[] = {0x00, 0x01, 0xff, 0x00, 'x', 0x80, 0x00};
    const char *type = "заказ.создан/注文✓😀";
    evri_pg_writer *w = NULL;
    evrepl_status st;
    captured c = {0};
    assert_int_equal(evri_pg_writer_open(&w, pgt_conninfo(PGT_PRIMARY), f->signer, &st),
                     EVREPL_CODE_OK);
    assert_int_equal(
        evri_pg_writer_append(w, type, payload, sizeof(payload), 7, capture_batch, &c, &st),
        EVREPL_CODE_OK);
    // An empty payload too.
    assert_int_equal(evri_pg_writer_append(w, "empty", NULL, 0, 1, capture_batch, &c, &st),
                     EVREPL_CODE_OK);
    evri_pg_writer_stats ws;
    evri_pg_writer_stats_get(w, &ws);
    assert_int_equal(ws.events, 8);
    evri_pg_writer_close(w);
    assert_int_equal(c.n, 8);

    const char *nodes[] = {PGT_PRIMARY, PGT_US_EAST, PGT_EU_WEST, PGT_AP_SOUTH};
    for (size_t i = 0; i < c.n; i++) {
        char id[EVREPL_UUID_STR_LEN + 1];
        evrepl_uuid_format(c.events[i].event_id, id);
        for (size_t k = 0; k < 4; k++) {
            stored s;
            int t = 0;
            while (!read_event(nodes[k], id, &s)) {
                assert_true(++t < 300); // 30 s for replication
                pgt_sleep_ms(100);
            }
            evri_event sent = c.events[i];
            sent.payload = i < 7 ? payload : NULL;
            assert_same_event(&s.ev, &sent);
            stored_free(&s);
        }
    }
    // The same through the command line, with the payload from a file.
    char path[320], out[512], err[1024];
    char ids[1][EVREPL_UUID_STR_LEN + 1];
    snprintf(path, sizeof(path), "%s/payload.bin", f->dir);
    FILE *pf = fopen(path, "wb");
    assert_non_null(pf);
    assert_int_equal(fwrite(payload, 1, sizeof(payload), pf), sizeof(payload));
    fclose(pf);
    assert_int_equal(pgt_evrepl(f->dir, out, sizeof(out), err, sizeof(err), "append", "--db",
                                pgt_conninfo(PGT_PRIMARY), "--key", f->key_path, "--type", type,
                                "--payload-file", path, NULL),
                     0);
    assert_int_equal(split_ids(out, ids, 1), 1);
    stored s;
    assert_true(read_event(PGT_PRIMARY, ids[0], &s));
    assert_int_equal(s.ev.payload_len, sizeof(payload));
    assert_memory_equal(s.ev.payload, payload, sizeof(payload));
    assert_string_equal(s.ev.event_type, type);
    stored_free(&s);
    free(c.events);
}

static void
test_pg_events_reach_all_replicas(void **state)
{
    fixture *f = *state;
    char out[2048], err[1024];
    char ids[5][EVREPL_UUID_STR_LEN + 1];
    assert_int_equal(pgt_evrepl(f->dir, out, sizeof(out), err, sizeof(err), "append", "--db",
                                pgt_conninfo(PGT_PRIMARY), "--key", f->key_path, "--type",
                                "replicate.me", "--payload", "across the world", "--count", "5",
                                NULL),
                     0);
    assert_int_equal(split_ids(out, ids, 5), 5);
    const char *replicas[] = {PGT_US_EAST, PGT_EU_WEST, PGT_AP_SOUTH};
    for (size_t r = 0; r < 3; r++) {
        uint8_t pk[EVREPL_PUBLIC_KEY_BYTES];
        node_key(replicas[r], evri_signer_key_id(f->signer), pk);
        for (size_t i = 0; i < 5; i++) {
            stored on_primary, on_replica;
            int t = 0;
            assert_true(read_event(PGT_PRIMARY, ids[i], &on_primary));
            while (!read_event(replicas[r], ids[i], &on_replica)) {
                if (++t >= 300) {
                    fail_msg("%s: event %s did not arrive in 30 s", replicas[r], ids[i]);
                }
                pgt_sleep_ms(100);
            }
            assert_same_event(&on_replica.ev, &on_primary.ev);
            evri_event_verdict v;
            assert_int_equal(evri_event_check(&on_replica.ev, pk, NULL, &v, NULL), EVREPL_CODE_OK);
            assert_true(v.fields_ok && v.hash_ok && v.signature_ok);
            stored_free(&on_primary);
            stored_free(&on_replica);
        }
    }
}

typedef struct chain_walk {
    const uint8_t *pk; // the writer's key
    uint8_t prev[EVREPL_HASH_BYTES];
    bool have_prev;
    uint64_t first, next; // expected next sequence
    size_t n;
    char (*ids)[EVREPL_UUID_STR_LEN + 1];
    size_t n_ids;
    size_t ids_seen;
} chain_walk;

static evrepl_code
walk_event(void *arg, const evri_event *ev, evrepl_status *st)
{
    chain_walk *c = arg;
    evri_event_verdict v;
    char id[EVREPL_UUID_STR_LEN + 1];
    (void)st;
    assert_int_equal(ev->sequence, c->next);
    assert_int_equal(evri_event_check(ev, c->pk, c->have_prev ? c->prev : NULL, &v, NULL),
                     EVREPL_CODE_OK);
    if (!evri_event_verdict_ok(&v)) {
        fail_msg("sequence %llu: fields %d hash %d signature %d link %d",
                 (unsigned long long)ev->sequence, v.fields_ok, v.hash_ok, v.signature_ok,
                 v.link_ok);
    }
    evrepl_uuid_format(ev->event_id, id);
    for (size_t i = 0; i < c->n_ids; i++) {
        if (strcmp(c->ids[i], id) == 0) {
            c->ids_seen++;
            break;
        }
    }
    memcpy(c->prev, ev->content_hash, EVREPL_HASH_BYTES);
    c->have_prev = true;
    c->next++;
    c->n++;
    return EVREPL_CODE_OK;
}

static void
test_pg_concurrent_appenders_make_one_chain(void **state)
{
    fixture *f = *state;
    enum { PER = 200, PROCS = 2 };
    char bin[1024];
    static char out[PROCS][PER * 40 + 64];
    static char ids[PROCS * PER][EVREPL_UUID_STR_LEN + 1];
    uint64_t head_before = 0;
    uint8_t head_hash[EVREPL_HASH_BYTES];
    evrepl_status st;
    evri_pg_db *db = pgt_open(pgt_conninfo(PGT_PRIMARY));
    assert_int_equal(evri_pg_db_head(db, &head_before, head_hash, &st), EVREPL_CODE_OK);
    evri_pg_db_close(db);

    snprintf(bin, sizeof(bin), "%s/evrepl", tproc_bin_dir());
    char *argv[] = {
        bin,         "append",    "--db",    (char *)(uintptr_t)pgt_conninfo(PGT_PRIMARY),
        "--key",     f->key_path, "--type",  "concurrent",
        "--payload", "race",      "--count", "200",
        NULL};
    tproc p[PROCS];
    for (int i = 0; i < PROCS; i++) {
        assert_true(tproc_start(&p[i], f->dir, argv));
    }
    size_t n_ids = 0;
    for (int i = 0; i < PROCS; i++) {
        char err[1024];
        int rc = tproc_wait(&p[i], 120000);
        tproc_slurp(p[i].err_path, err, sizeof(err));
        if (rc != 0) {
            fail_msg("appender %d exited %d: %s", i, rc, err);
        }
        tproc_slurp(p[i].out_path, out[i], sizeof(out[i]));
        n_ids += split_ids(out[i], ids + n_ids, PROCS * PER - n_ids);
    }
    assert_int_equal(n_ids, PROCS * PER);
    for (size_t i = 0; i < n_ids; i++) { // every id distinct
        for (size_t k = i + 1; k < n_ids; k++) {
            assert_string_not_equal(ids[i], ids[k]);
        }
    }
    // From the event before the race to the head: one chain, gapless, every event sound, and
    // nothing else in it (the pg suites run one at a time).
    uint8_t pk[EVREPL_PUBLIC_KEY_BYTES];
    node_key(PGT_PRIMARY, evri_signer_key_id(f->signer), pk);
    chain_walk c = {.pk = pk, .next = head_before + 1, .ids = ids, .n_ids = n_ids};
    if (head_before > 0) {
        memcpy(c.prev, head_hash, sizeof(c.prev));
        c.have_prev = true;
    }
    db = pgt_open(pgt_conninfo(PGT_PRIMARY));
    assert_int_equal(evri_pg_db_read_events(db, head_before + 1, UINT64_MAX, walk_event, &c, &st),
                     EVREPL_CODE_OK);
    evri_pg_db_close(db);
    assert_int_equal(c.n, PROCS * PER);
    assert_int_equal(c.ids_seen, PROCS * PER);
}

static void
test_pg_append_usage_and_precondition_errors(void **state)
{
    fixture *f = *state;
    char out[1024], err[2048], path[320];
    const char *db = pgt_conninfo(PGT_PRIMARY);
    struct {
        const char *args[12];
    } usage[] = {
        {{"append", "--db", db, "--key", f->key_path, "--payload", "x", NULL}},
        {{"append", "--db", db, "--key", f->key_path, "--type", "t", NULL}},
        {{"append", "--db", db, "--key", f->key_path, "--type", "t", "--payload", "x",
          "--payload-file", "/dev/null", NULL}},
        {{"append", "--db", db, "--key", f->key_path, "--type", "t", "--payload", "x", "--count",
          "0", NULL}},
        {{"append", "--db", db, "--key", f->key_path, "--type", "t", "--payload", "x", "--bogus",
          NULL}},
        {{"append", "--db", db, "--key", f->key_path, "--type", "", "--payload", "x", NULL}},
        {{"append", "--db", db, "--key", "/nonexistent", "--type", "t", "--payload", "x", NULL}},
        {{"append", "--key", f->key_path, "--type", "t", "--payload", "x", NULL}},
        {{"migrate", NULL}},
        {{"register-key", "--db", db, NULL}},
    };
    long long before = pgt_number(db, "SELECT count(*) FROM events");
    for (size_t i = 0; i < sizeof(usage) / sizeof(usage[0]); i++) {
        const char *const *a = usage[i].args;
        int rc = pgt_evrepl(f->dir, out, sizeof(out), err, sizeof(err), a[0], a[1], a[2], a[3],
                            a[4], a[5], a[6], a[7], a[8], a[9], a[10], NULL);
        if (rc != 2) {
            fail_msg("case %zu exited %d, want 2 (usage): %s", i, rc, err);
        }
        assert_non_null(strstr(err, "usage:"));
    }
    assert_int_equal(pgt_number(db, "SELECT count(*) FROM events"), before);

    // A key that was never registered: a database precondition, exit 3, and the hint.
    snprintf(path, sizeof(path), "%s/stranger.key", f->dir);
    assert_int_equal(
        pgt_evrepl(f->dir, out, sizeof(out), err, sizeof(err), "keygen", "--out", path, NULL), 0);
    assert_int_equal(pgt_evrepl(f->dir, out, sizeof(out), err, sizeof(err), "append", "--db", db,
                                "--key", path, "--type", "t", "--payload", "x", NULL),
                     3);
    assert_non_null(strstr(err, "register-key"));
    assert_int_equal(pgt_number(db, "SELECT count(*) FROM events"), before);
}

int
main(void)
{
    char why[512];
    if (!pgt_trio_ready(why, sizeof(why))) {
        return pgt_unavailable("test_pg_writer", why);
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pg_register_key_is_idempotent),
        cmocka_unit_test(test_pg_append_three_and_check_each),
        cmocka_unit_test(test_pg_append_round_trips_exactly),
        cmocka_unit_test(test_pg_events_reach_all_replicas),
        cmocka_unit_test(test_pg_concurrent_appenders_make_one_chain),
        cmocka_unit_test(test_pg_append_usage_and_precondition_errors),
    };
    return cmocka_run_group_tests_name("pg_writer", tests, setup, teardown);
}
