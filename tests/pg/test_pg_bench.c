// How fast `evrepl append --count N` is, against the two costs it cannot beat, measured in the
// same run on the same machine:
//   S: libsodium's single-thread Ed25519 sign rate (crypto_sign_detached of 32 bytes);
//   I: the primary's insert rate: server-side INSERT ... SELECTs of ready-made chained rows,
//      in statements of the writer's batch size, through the same triggers (no client, no
//      protocol, no hashing), in a scratch database;
//   A: evrepl append --count N into that database, wall time of the whole process.
// The target is A >= min(S, I) / 2. The suite always prints the three figures (ctest -V) and
// checks that the bulk appends are complete; it fails on the target only when asked to
// (EVREPL_BENCH_JUDGE=1, and never in sanitizer builds): on a shared machine the three are
// measured one after the other, and a neighbour's load between them makes the ratio noise.
// Each figure is the best of a few runs, the one least disturbed.
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <sodium.h>

#include "adapters/postgres/admin.h"
#include "adapters/postgres/writer.h"
#include "common/clock.h"
#include "common/keyfile.h"
#include "domain/event.h"
#include "domain/keys.h"
#include "pgtest.h"
#include "support/proc.h"
#include "support/support.h"

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define BENCH_SANITIZED 1
#else
#define BENCH_SANITIZED 0
#endif

#define BENCH_EVENTS  20000
#define BENCH_RUNS    3
#define BENCH_BATCH   EVRI_PG_WRITER_BATCH_ROWS // rows per INSERT, as the writer does
#define BENCH_PAYLOAD "{\"order\":12345,\"item\":\"widget\",\"qty\":3}"

static double
bench_sign_rate(void)
{
    uint8_t pk[crypto_sign_PUBLICKEYBYTES], sk[crypto_sign_SECRETKEYBYTES];
    uint8_t msg[32], sig[crypto_sign_BYTES];
    double best = 0;
    crypto_sign_keypair(pk, sk);
    randombytes_buf(msg, sizeof(msg));
    for (int run = 0; run < BENCH_RUNS; run++) {
        uint64_t t0 = evri_now_ns(), n = 0;
        while (evri_now_ns() - t0 < 300 * EVRI_NS_PER_MS) {
            for (int i = 0; i < 100; i++, n++) {
                msg[0] = (uint8_t)n;
                crypto_sign_detached(sig, NULL, msg, sizeof(msg), sk);
            }
        }
        double rate = (double)n * 1e9 / (double)(evri_now_ns() - t0);
        best = rate > best ? rate : best;
    }
    sodium_memzero(sk, sizeof(sk));
    return best;
}

static double
bench_insert_rate(const char *ci, const char *key_id)
{
    double best = 0;
    evrepl_status st;
    evri_pg_db *db = pgt_open(ci);
    for (int run = 0; run < BENCH_RUNS; run++) {
        char head[32], sql[1400];
        assert_int_equal(evri_pg_db_query_value(db, "SELECT coalesce(max(sequence), 0) FROM events",
                                                head, sizeof(head), &st),
                         EVREPL_CODE_OK);
        long long h = strtoll(head, NULL, 10);
        // Rows made beforehand (not timed), chained like the writer's (content_hash of s is
        // sha256(s), prev_hash links to s - 1) so that the chain trigger accepts them; SQL does
        // not check signatures. Timed: moving them into events, triggers and all.
        snprintf(sql, sizeof(sql),
                 "DROP TABLE IF EXISTS bench_rows; "
                 "CREATE UNLOGGED TABLE bench_rows AS "
                 "SELECT gen_random_uuid() AS event_id, s AS sequence, "
                 "'bench.insert'::text AS event_type, convert_to('%s', 'UTF8') AS payload, "
                 "CASE WHEN s = 1 THEN decode(repeat('00', 32), 'hex') "
                 "ELSE sha256(int8send(s - 1)) END AS prev_hash, "
                 "sha256(int8send(s)) AS content_hash, decode(repeat('00', 64), 'hex') AS "
                 "signature, '%s'::text AS signing_key_id, now() AS created_at "
                 "FROM generate_series(%lld, %lld) s; "
                 "CREATE INDEX ON bench_rows (sequence); ANALYZE bench_rows",
                 BENCH_PAYLOAD, key_id, h + 1, h + BENCH_EVENTS);
        if (evri_pg_db_exec(db, sql, NULL, &st) != EVREPL_CODE_OK) {
            fail_msg("bench rows: %s", st.message);
        }
        // In statements of the writer's batch size: the per-row chain trigger costs more per
        // row in one huge statement, which would understate I.
        uint64_t t0 = evri_now_ns();
        for (long long from = h + 1; from <= h + BENCH_EVENTS; from += BENCH_BATCH) {
            snprintf(sql, sizeof(sql),
                     "INSERT INTO events SELECT * FROM bench_rows WHERE sequence BETWEEN %lld "
                     "AND %lld ORDER BY sequence",
                     from, from + BENCH_BATCH - 1);
            if (evri_pg_db_exec(db, sql, NULL, &st) != EVREPL_CODE_OK) {
                fail_msg("bench insert: %s", st.message);
            }
        }
        double rate = (double)BENCH_EVENTS * 1e9 / (double)(evri_now_ns() - t0);
        best = rate > best ? rate : best;
    }
    evri_pg_db_close(db);
    return best;
}

static double
bench_append_rate(const char *dir, const char *ci, const char *key_path, char *stats,
                  size_t stats_size)
{
    static char out[BENCH_EVENTS * 40 + 64];
    char count[16];
    double best = 0;
    snprintf(count, sizeof(count), "%d", BENCH_EVENTS);
    for (int run = 0; run < BENCH_RUNS; run++) {
        char err[1024];
        uint64_t t0 = evri_now_ns();
        int rc = pgt_evrepl(dir, out, sizeof(out), err, sizeof(err), "append", "--db", ci, "--key",
                            key_path, "--type", "bench.append", "--payload", BENCH_PAYLOAD,
                            "--count", count, "--stats", NULL);
        double rate = (double)BENCH_EVENTS * 1e9 / (double)(evri_now_ns() - t0);
        if (rc != 0) {
            fail_msg("evrepl append exited %d: %s", rc, err);
        }
        size_t lines = 0;
        for (const char *p = out; (p = strchr(p, '\n')) != NULL; p++) {
            lines++;
        }
        assert_int_equal(lines, BENCH_EVENTS);
        if (rate > best) {
            best = rate;
            snprintf(stats, stats_size, "%s", err);
        }
    }
    return best;
}

static void
test_pg_bench_append_rate(void **state)
{
    (void)state;
    char dir[256], key_path[300], db[64], ci[1200], sql[160], out[256], err[1024];
    char stats[1024] = "";
    evri_signer *s = NULL;
    evrepl_status st;
    assert_true(evri_crypto_init());
    assert_true(evri_test_tmpdir(dir));
    snprintf(key_path, sizeof(key_path), "%s/bench.key", dir);
    assert_int_equal(
        pgt_evrepl(dir, out, sizeof(out), err, sizeof(err), "keygen", "--out", key_path, NULL), 0);
    assert_int_equal(evri_keyfile_read(&s, key_path, &st), EVREPL_CODE_OK);
    snprintf(db, sizeof(db), "evrepl_bench_%d", (int)getpid());
    pgt_conninfo_db(PGT_PRIMARY, db, ci, sizeof(ci));
    snprintf(sql, sizeof(sql), "CREATE DATABASE %s TEMPLATE template0 ENCODING 'UTF8'", db);
    pgt_exec(pgt_conninfo(PGT_PRIMARY), sql);
    assert_int_equal(evri_pg_migrate(ci, NULL, NULL, NULL, &st), EVREPL_CODE_OK);
    assert_int_equal(pgt_evrepl(dir, out, sizeof(out), err, sizeof(err), "register-key", "--db", ci,
                                "--key", key_path, NULL),
                     0);

    double sign = bench_sign_rate();
    double insert = bench_insert_rate(ci, evri_signer_key_id(s));
    double append = bench_append_rate(dir, ci, key_path, stats, sizeof(stats));
    double floor = (sign < insert ? sign : insert) / 2;
    printf("bench: libsodium sign rate S = %.0f/s (one thread)\n", sign);
    printf("bench: primary insert rate I = %.0f events/s (server-side INSERT ... SELECT of %d "
           "rows, triggers on)\n",
           insert, BENCH_BATCH);
    printf("bench: evrepl append --count %d: A = %.0f events/s (whole process, best of %d)\n",
           BENCH_EVENTS, append, BENCH_RUNS);
    printf("bench: %s", stats);
    const char *judge_env = getenv("EVREPL_BENCH_JUDGE");
    bool judge = !BENCH_SANITIZED && judge_env != NULL && strcmp(judge_env, "1") == 0;
    printf("bench: target min(S, I) / 2 = %.0f events/s: A is %.2fx of it%s\n", floor,
           append / floor,
           judge ? ""
                 : (BENCH_SANITIZED ? " (sanitizer build: not judged)"
                                    : " (not judged: set EVREPL_BENCH_JUDGE=1)"));
    fflush(stdout);

    snprintf(sql, sizeof(sql), "DROP DATABASE %s WITH (FORCE)", db);
    pgt_exec(pgt_conninfo(PGT_PRIMARY), sql);
    evri_signer_destroy(s);
    evri_test_rmdir(dir);
    if (judge && append < floor) {
        fail_msg("evrepl append made %.0f events/s, below min(S, I) / 2 = %.0f", append, floor);
    }
}

int
main(void)
{
    char why[512];
    if (!pgt_trio_ready(why, sizeof(why))) {
        return pgt_unavailable("test_pg_bench", why);
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pg_bench_append_rate),
    };
    return cmocka_run_group_tests_name("pg_bench", tests, NULL, NULL);
}
