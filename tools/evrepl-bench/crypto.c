// The crypto floors: what hashing and verifying (or signing) one event costs in libsodium on
// one thread, with nothing around it: no row decoding, no allocation, no database.
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "adapters/postgres/admin.h"
#include "bench.h"
#include "common/clock.h"
#include "domain/event.h"
#include "domain/status.h"

struct bench_crypto {
    evri_signer *signer;
    uint8_t pk[crypto_sign_PUBLICKEYBYTES];
    uint8_t *payload;
    evri_event ev;
    evri_canon canon;
    uint8_t sig[crypto_sign_BYTES];
};

// Copies the head event (and its payload) out of the read callback.
static evrepl_code
crypto_take(void *arg, const evri_event *ev, evrepl_status *st)
{
    bench_crypto *c = arg;
    c->ev = *ev;
    c->payload = malloc(ev->payload_len > 0 ? ev->payload_len : 1);
    if (c->payload == NULL) {
        return evri_status_set(st, EVREPL_CODE_INTERNAL, "out of memory");
    }
    memcpy(c->payload, ev->payload, ev->payload_len);
    c->ev.payload = c->payload;
    return evri_status_ok(st);
}

static evrepl_code
crypto_head_event(bench_crypto *c, const char *primary, evrepl_status *st)
{
    evri_pg_db *db = NULL;
    uint64_t head = 0;
    uint8_t hash[EVREPL_HASH_BYTES];
    evrepl_code code = evri_pg_db_open(&db, primary, st);
    if (code == EVREPL_CODE_OK) {
        code = evri_pg_db_head(db, &head, hash, st);
    }
    if (code == EVREPL_CODE_OK && head > 0) {
        code = evri_pg_db_read_events(db, head, 1, crypto_take, c, st);
    }
    evri_pg_db_close(db);
    return code;
}

evrepl_code
bench_crypto_open(bench_crypto **out, const char *primary, evrepl_status *st)
{
    static const char payload[] = "{\"n\":1}";
    evrepl_code code;
    bench_crypto *c = calloc(1, sizeof(*c));
    if (c == NULL) {
        return evri_status_set(st, EVREPL_CODE_INTERNAL, "out of memory");
    }
    evri_canon_init(&c->canon);
    if ((code = evri_signer_generate(&c->signer, st)) != EVREPL_CODE_OK) {
        goto fail;
    }
    if (primary != NULL && (code = crypto_head_event(c, primary, st)) != EVREPL_CODE_OK) {
        goto fail;
    }
    if (c->payload == NULL) {
        // No log to copy from: a small event like `evrepl append --payload '{"n":1}'` makes.
        c->ev.sequence = 2;
        evri_event_id_new(c->ev.event_id);
        if ((code = evri_event_set_type(&c->ev, "bench.v1", st)) != EVREPL_CODE_OK) {
            goto fail;
        }
        c->ev.payload = (const uint8_t *)payload;
        c->ev.payload_len = sizeof(payload) - 1;
        c->ev.created_at_us = evri_wallclock().seconds * 1000000;
        memset(c->ev.prev_hash, 0x5a, sizeof(c->ev.prev_hash));
    }
    // Re-signed by our own key: the same bytes, a signature that verifies.
    if ((code = evri_event_sign(&c->ev, c->signer, st)) != EVREPL_CODE_OK) {
        goto fail;
    }
    memcpy(c->pk, evri_signer_public_key(c->signer), sizeof(c->pk));
    evri_event_canonical(&c->ev, &c->canon);
    if (c->canon.failed) {
        code = evri_status_set(st, EVREPL_CODE_INTERNAL, "out of memory");
        goto fail;
    }
    *out = c;
    return evri_status_ok(st);
fail:
    bench_crypto_close(c);
    return code;
}

void
bench_crypto_close(bench_crypto *c)
{
    if (c == NULL) {
        return;
    }
    evri_signer_destroy(c->signer);
    evri_canon_free(&c->canon);
    free(c->payload);
    free(c);
}

size_t
bench_crypto_event_bytes(const bench_crypto *c)
{
    return c->canon.len;
}

static uint64_t
crypto_thread_cpu_ns(void)
{
    struct timespec ts;
    if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts) != 0) {
        return 0;
    }
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void
crypto_run(bench_crypto *c, bool sign, const bench_bounds *b, bench_result *out)
{
    uint64_t c0 = crypto_thread_cpu_ns();
    uint64_t t0 = evri_now_ns();
    uint64_t end = t0 + b->duration_ns;
    memset(out, 0, sizeof(*out));
    for (uint64_t i = 0; (b->max_calls == 0 || i < b->max_calls) && evri_now_ns() < end; i++) {
        uint8_t h[crypto_hash_sha256_BYTES];
        uint64_t s = evri_now_ns();
        crypto_hash_sha256(h, c->canon.data, c->canon.len);
        bool ok = true;
        if (sign) {
            evri_signer_sign(c->signer, h, sizeof(h), c->sig);
        } else {
            ok = crypto_sign_verify_detached(c->ev.signature, h, sizeof(h), c->pk) == 0;
        }
        bench_hist_add(&out->hist, evri_now_ns() - s);
        out->calls++;
        out->out[ok ? 0 : BENCH_OUT_NEGATIVE]++;
    }
    out->elapsed_ns = evri_now_ns() - t0;
    // Per CPU second of this thread: what one core does, whatever else the machine runs.
    out->thread_cpu_ns = crypto_thread_cpu_ns() - c0;
}

void
bench_crypto_run_verify(bench_crypto *c, const bench_bounds *b, bench_result *out)
{
    crypto_run(c, false, b, out);
}

void
bench_crypto_run_sign(bench_crypto *c, const bench_bounds *b, bench_result *out)
{
    crypto_run(c, true, b, out);
}
