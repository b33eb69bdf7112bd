// VerifyReplicas: does every replica hold the primary's log, with valid hashes and signatures,
// at the expected schema version?
//
// Rounds, each sent to every node at once:
//   1. the primary's schema version and head (H, hash); each replica's schema version, head,
//      and its hash at the position it showed at its last good verification. For a tail
//      check (not a full audit) this round also brings the tail itself: the primary's hashes
//      of its newest `tail` events and each replica's newest `tail` + 1 rows in full, so that
//      when every replica is at H (the usual case) the whole verification is one round trip;
//   2. replicas behind H are waited for (apply notifications, or polling) until the deadline;
//   3. the primary's hashes at the replicas' comparison points, and the replicas' hashes at H;
//   4. the checked range (the tail ending at H, or everything with full_audit) in batches:
//      every row re-hashed, chain-linked, signature-checked (each distinct signature once)
//      and compared with the primary's hash at the same sequence;
//   5. for a replica whose hash differs, a binary search for the first differing sequence
//      (the chain makes "differs at k" monotonic in k).
// Memory stays flat for any log size: a batch is the most that is held.
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adapters/postgres/pg.h"
#include "adapters/postgres/pgconn.h"
#include "common/clock.h"
#include "domain/event.h"
#include "domain/status.h"
#include "domain/strv.h"

#define PG_BATCH        1000
#define PG_POLL_MS      100
#define PG_MAX_ERRORS   8 // per replica; then one "... more" line
#define PG_MAX_REPLICAS 15
// A replica given this long and still silent, or still behind, is reported to the observer as
// unreachable or lagging even though the call's deadline ended the wait; under it, the
// caller's deadline decided, not the replica, and the verdict stays open.
#define PG_SETTLED_WAIT_NS (1000 * EVRI_NS_PER_MS)

// Round 1 on the primary: its schema version and the hashes of its newest $1 events, oldest
// first (the last row is the head; an empty log gives one row of NULLs after the version).
static const char primary_head_sql[] =
    "SELECT v.version, h.sequence, h.content_hash "
    "FROM (SELECT max(version) AS version FROM schema_migrations) v "
    "LEFT JOIN LATERAL (SELECT sequence, content_hash FROM events "
    "ORDER BY sequence DESC LIMIT $1::bigint) h ON true ORDER BY h.sequence";

// Round 1 on a replica: its newest $2 rows in full, oldest first (columns 0-8 are
// EVRI_PG_EVENT_COLUMNS; the last row is its head), then its schema version (9) and its hash
// at sequence $1 (10), the same on every row.
static const char replica_head_sql[] =
    "SELECT h.*, v.version, r.content_hash "
    "FROM (SELECT max(version) AS version FROM schema_migrations) v "
    "LEFT JOIN LATERAL (SELECT " EVRI_PG_EVENT_COLUMNS " FROM events "
    "ORDER BY sequence DESC LIMIT $2::bigint) h ON true "
    "LEFT JOIN LATERAL (SELECT content_hash FROM events WHERE sequence = $1::bigint) r ON true "
    "ORDER BY h.sequence";

#define REPLICA_HEAD_VERSION_COL  EVRI_PG_EVENT_NCOLUMNS
#define REPLICA_HEAD_REMEMBER_COL (EVRI_PG_EVENT_NCOLUMNS + 1)
#define EVENT_SEQUENCE_COL        1
#define EVENT_HASH_COL            5

static const char head_only_sql[] =
    "SELECT sequence, content_hash FROM events ORDER BY sequence DESC LIMIT 1";

// The primary's hashes at a list of sequences, and its current head sequence.
static const char primary_at_sql[] =
    "SELECT s.seq, e.content_hash, (SELECT max(sequence) FROM events) "
    "FROM unnest($1::bigint[]) AS s(seq) LEFT JOIN events e ON e.sequence = s.seq";

static const char hash_at_sql[] = "SELECT content_hash FROM events WHERE sequence = $1::bigint";

static const char primary_range_sql[] = "SELECT sequence, content_hash FROM events "
                                        "WHERE sequence BETWEEN $1::bigint AND $2::bigint "
                                        "ORDER BY sequence";

static const char replica_range_sql[] = "SELECT " EVRI_PG_EVENT_COLUMNS " FROM events "
                                        "WHERE sequence BETWEEN $1::bigint AND $2::bigint "
                                        "ORDER BY sequence";

typedef struct rep {
    size_t idx;
    pgn *node;
    bool reachable;
    bool schema_ok; // the replica answered the schema query (its tables exist)
    char version[64];
    uint64_t head; // 0: empty
    uint8_t head_hash[EVREPL_HASH_BYTES];
    bool remembered;
    uint64_t rem_seq;
    uint8_t rem_hash[EVREPL_HASH_BYTES];
    bool rem_held; // still holds rem_seq with rem_hash
    bool hash_at_H_known;
    uint8_t hash_at_H[EVREPL_HASH_BYTES];
    bool has_at_H;
    bool div_reported; // an error line already says where it diverged
    bool matched;      // matched_seq was compared with the primary and is equal
    uint64_t matched_seq;
    uint8_t matched_hash[EVREPL_HASH_BYTES];
    uint64_t diverged_at; // 0: none found
    bool sig_ok;
    bool chain_ok;
    uint64_t checked;
    uint64_t range_lo, range_hi; // what the range check covers
    bool range_done;
    uint8_t link[EVREPL_HASH_BYTES]; // content hash of the row before the next batch
    bool link_known;
    bool search; // binary search for diverged_at pending
    uint64_t search_lo, search_hi;
    char **errors;
    size_t n_errors;
    size_t n_dropped;
    bool open;     // the deadline, not the replica, ended its check (no finding): not reported
    PGresult *pre; // round 1's rows (the newest ones), owned; NULL when none
    const PGresult *batch_rows; // the rows check_batch reads for the batch in hand
} rep;

typedef struct verify_ctx {
    pg_instance *in;
    uint64_t deadline;
    uint64_t H;
    uint8_t H_hash[EVREPL_HASH_BYTES];
    rep reps[PG_MAX_REPLICAS];
    size_t n;
    bool keys_refreshed;
    bool oom;
    bool cut_short;        // the deadline came before every round ran
    uint64_t round1_at;    // when round 1 was sent
    uint64_t round1_ns;    // how long the primary took to answer round 1: a measure of its RTT
    uint64_t prefetch;     // events of the tail that round 1 brings (0: none, a full audit)
    PGresult *pre_primary; // round 1's answer from the primary, owned
    // Round 1's text parameters: they must outlive queries still in flight after it returns.
    char p_limit[24];
    char r_limit[24];
    char rem_text[PG_MAX_REPLICAS][24];
} verify_ctx;

static void rep_error(verify_ctx *v, rep *r, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
rep_error(verify_ctx *v, rep *r, const char *fmt, ...)
{
    char line[300];
    va_list ap;
    if (r->n_errors >= PG_MAX_ERRORS) {
        r->n_dropped++;
        return;
    }
    int o = snprintf(line, sizeof(line), "%s: ", v->in->sh->replica_ids[r->idx]);
    va_start(ap, fmt);
    (void)vsnprintf(line + o, sizeof(line) - (size_t)o, fmt, ap);
    va_end(ap);
    if (!evri_strv_push(&r->errors, &r->n_errors, line)) {
        v->oom = true;
    }
}

static void
rep_diverged(rep *r, uint64_t seq)
{
    if (seq > 0 && (r->diverged_at == 0 || seq < r->diverged_at)) {
        r->diverged_at = seq;
    }
}

static pgn *
primary(verify_ctx *v)
{
    return &v->in->primary;
}

// ---- round 1 ---------------------------------------------------------------------------------

// Reads one replica's round-1 answer (or its failure) into r.
static void
rep_take_heads(verify_ctx *v, rep *r)
{
    pgn *n = r->node;
    if (n->code == EVREPL_CODE_FAILED_PRECONDITION) {
        // The replica answers but lacks evrepl's tables.
        r->reachable = true;
        rep_error(v, r, "has no evrepl schema (%s)", n->error);
        return;
    }
    if (n->code == EVREPL_CODE_DEADLINE_EXCEEDED) {
        // Connected or not, it said nothing in time (blocked, or slow): nothing about it
        // can be verified, so it counts as unreachable for this call.
        rep_error(v, r, "unreachable: no answer before the deadline (slow or blocked)");
        r->open = v->deadline - v->round1_at < PG_SETTLED_WAIT_NS;
        return;
    }
    if (n->code != EVREPL_CODE_OK || n->res == NULL || pgn_rows(n) < 1) {
        rep_error(v, r, "unreachable: %s", n->error[0] != '\0' ? n->error : "no connection");
        return;
    }
    r->reachable = true;
    r->schema_ok = true;
    if (pgn_has(n, 0, REPLICA_HEAD_VERSION_COL)) {
        pgn_text(n, 0, REPLICA_HEAD_VERSION_COL, r->version, sizeof(r->version));
    }
    int rl = pgn_rows(n) - 1;
    if (pgn_has(n, rl, EVENT_SEQUENCE_COL)) {
        r->head = pgn_u64(n, rl, EVENT_SEQUENCE_COL);
        if (!pgn_bytes(n, rl, EVENT_HASH_COL, r->head_hash, EVREPL_HASH_BYTES)) {
            rep_error(v, r, "sequence %" PRIu64 ": content hash is not 32 bytes", r->head);
            memset(r->head_hash, 0, EVREPL_HASH_BYTES);
        }
    }
    if (r->remembered) {
        uint8_t h[EVREPL_HASH_BYTES];
        r->rem_held = pgn_has(n, 0, REPLICA_HEAD_REMEMBER_COL) &&
                      pgn_bytes(n, 0, REPLICA_HEAD_REMEMBER_COL, h, sizeof(h)) &&
                      memcmp(h, r->rem_hash, EVREPL_HASH_BYTES) == 0;
    }
    if (r->head > 0) {
        r->pre = n->res;
        n->res = NULL;
    }
}

static evrepl_code
round_heads(verify_ctx *v, evrepl_status *st)
{
    char *p_limit = v->p_limit, *r_limit = v->r_limit;
    pgn *nodes[1 + PG_MAX_REPLICAS];
    // The tail (when prefetching) and, on replicas, the row before it for the chain link.
    uint64_t tail = v->prefetch > 0 ? v->prefetch : 1;
    snprintf(p_limit, sizeof(v->p_limit), "%" PRIu64, tail);
    snprintf(r_limit, sizeof(v->r_limit), "%" PRIu64, v->prefetch > 0 ? tail + 1 : 1);
    const char *pparams[] = {p_limit};
    pgn_set_query(primary(v), primary_head_sql, 1, pparams);
    nodes[0] = primary(v);
    for (size_t i = 0; i < v->n; i++) {
        rep *r = &v->reps[i];
        r->remembered = evri_pg_heads_get(v->in->sh->heads, i, &r->rem_seq, r->rem_hash);
        snprintf(v->rem_text[i], sizeof(v->rem_text[i]), "%" PRIu64,
                 r->remembered ? r->rem_seq : 0);
        const char *params[] = {v->rem_text[i], r_limit};
        pgn_set_query(r->node, replica_head_sql, 2, params);
        nodes[1 + i] = r->node;
    }
    // The primary's answer decides whether the call can answer at all: wait for it until the
    // deadline. The replicas' queries go on meanwhile; round_wait() reads them, so that a slow
    // replica never holds up the others.
    uint64_t t0 = evri_now_ns();
    v->round1_at = t0;
    while (!primary(v)->done && evri_now_ns() < v->deadline) {
        (void)pgn_step(nodes, 1 + v->n, v->deadline);
    }
    pgn_abort(nodes, 1); // the primary, if it is still out
    v->round1_ns = evri_now_ns() - t0;

    pgn *p = primary(v);
    if (p->code != EVREPL_CODE_OK || !pgn_has(p, 0, 0)) {
        pgn_abort(nodes, 1 + v->n);
        return pg_primary_failed(v->in, "reading its head", st);
    }
    pg_primary_seen(v->in->sh, true);
    char version[64];
    pgn_text(p, 0, 0, version, sizeof(version));
    evrepl_code code = pg_check_primary_schema(v->in, version, st);
    if (code != EVREPL_CODE_OK) {
        pgn_abort(nodes, 1 + v->n);
        return code;
    }
    int last = pgn_rows(p) - 1; // the head's row
    if (pgn_has(p, last, 1)) {
        v->H = pgn_u64(p, last, 1);
        if (!pgn_bytes(p, last, 2, v->H_hash, EVREPL_HASH_BYTES)) {
            pgn_abort(nodes, 1 + v->n);
            return evri_status_set(st, EVREPL_CODE_INTERNAL,
                                   "the primary's head hash is not 32 bytes");
        }
    }
    // The rows stay with this call: the range check may need no other round.
    v->pre_primary = p->res;
    p->res = NULL;
    return evri_status_ok(st);
}

// ---- round 2: the replicas' answers, and waiting for lagging replicas ------------------------

static bool
rep_lagging(const verify_ctx *v, const rep *r)
{
    // A replica that went backwards is not waited for: it is diverged, not behind.
    return r->schema_ok && r->head < v->H && !(r->remembered && !r->rem_held) &&
           r->node->conn != NULL;
}

static void
round_wait(verify_ctx *v)
{
    // Stop waiting early enough to compare with the primary afterwards: a few round trips
    // as the primary's first answer measured them, at most half of what is left.
    uint64_t now = evri_now_ns();
    uint64_t left = v->deadline > now ? v->deadline - now : 0;
    uint64_t reserve = 4 * v->round1_ns + 5 * EVRI_NS_PER_MS;
    if (reserve > left / 2) {
        reserve = left / 2;
    }
    uint64_t wait_deadline = v->deadline - reserve;
    uint64_t next_poll = now + PG_POLL_MS * EVRI_NS_PER_MS;
    bool taken[PG_MAX_REPLICAS] = {false};
    pgn *nodes[PG_MAX_REPLICAS];
    for (size_t i = 0; i < v->n; i++) {
        nodes[i] = v->reps[i].node;
    }
    for (;;) {
        size_t owed = 0;
        bool poll_due = evri_now_ns() >= next_poll;
        for (size_t i = 0; i < v->n; i++) {
            rep *r = &v->reps[i];
            pgn *n = r->node;
            if (!taken[i]) {
                if (n->done) {
                    rep_take_heads(v, r);
                    pgn_clear_query(n);
                    taken[i] = true;
                } else {
                    owed++;
                    continue;
                }
            }
            if (n->sql == head_only_sql && n->done) {
                if (n->code == EVREPL_CODE_OK && pgn_has(n, 0, 0)) {
                    r->head = pgn_u64(n, 0, 0);
                    if (!pgn_bytes(n, 0, 1, r->head_hash, EVREPL_HASH_BYTES)) {
                        memset(r->head_hash, 0, EVREPL_HASH_BYTES);
                    }
                }
                pgn_clear_query(n);
            }
            if (!rep_lagging(v, r)) {
                continue;
            }
            owed++;
            bool idle = n->sql == NULL || n->done;
            if (idle && (n->notified || poll_due)) {
                n->notified = false;
                pgn_set_query(n, head_only_sql, 0, NULL);
            }
        }
        if (poll_due) {
            next_poll = evri_now_ns() + PG_POLL_MS * EVRI_NS_PER_MS;
        }
        if (owed == 0 || evri_now_ns() >= wait_deadline) {
            break;
        }
        uint64_t until = next_poll < wait_deadline ? next_poll : wait_deadline;
        (void)pgn_step(nodes, v->n, until);
    }
    // Replicas that never answered count as unreachable for this call; re-reads of lagging
    // heads still out are dropped (the head read before stands).
    for (size_t i = 0; i < v->n; i++) {
        rep *r = &v->reps[i];
        if (r->node->sql != NULL && !r->node->done) {
            pgn_abort(&r->node, 1);
        }
        if (!taken[i]) {
            rep_take_heads(v, r);
        }
        pgn_clear_query(r->node);
        if (rep_lagging(v, r) && wait_deadline - v->round1_at < PG_SETTLED_WAIT_NS) {
            r->open = true; // behind, but hardly waited for
        }
    }
}

// ---- round 3: compare heads with the primary ----------------------------------------------

// Appends seq to a Postgres array literal in buf.
static void
array_add(char *buf, size_t size, uint64_t seq)
{
    size_t len = strlen(buf);
    snprintf(buf + len, size - len, "%s%" PRIu64, len > 1 ? "," : "", seq);
}

static evrepl_code
round_compare(verify_ctx *v, evrepl_status *st)
{
    char arr[PG_MAX_REPLICAS * 2 * 24 + 4] = "{";
    char at_H[24];
    size_t n_points = 0;
    pgn *nodes[1 + PG_MAX_REPLICAS];
    size_t k = 0;
    snprintf(at_H, sizeof(at_H), "%" PRIu64, v->H);
    for (size_t i = 0; i < v->n; i++) {
        rep *r = &v->reps[i];
        pgn_clear_query(r->node);
        if (!r->schema_ok || r->head == 0) {
            continue;
        }
        if (r->head < v->H || r->head > v->H) {
            array_add(arr, sizeof(arr), r->head); // the primary's hash where the replica ends
            n_points++;
        }
        if (r->head > v->H && v->H > 0) {
            const char *params[] = {at_H};
            pgn_set_query(r->node, hash_at_sql, 1, params);
            nodes[k++] = r->node;
        }
    }
    strcat(arr, "}");
    if (n_points > 0) {
        const char *params[] = {arr};
        pgn_set_query(primary(v), primary_at_sql, 1, params);
        nodes[k++] = primary(v);
    } else {
        pgn_clear_query(primary(v));
    }
    if (k > 0) {
        pgn_run(nodes, k, v->deadline);
    }
    if (n_points > 0 && (primary(v)->code != EVREPL_CODE_OK || primary(v)->res == NULL)) {
        if (primary(v)->code != EVREPL_CODE_DEADLINE_EXCEEDED) {
            return pg_primary_failed(v->in, "reading hashes to compare", st);
        }
        // The head is known, so the call answers with what it knows: the comparisons that
        // needed the primary did not happen.
        v->cut_short = true;
        n_points = 0;
        pgn_clear_query(primary(v));
    }
    uint64_t primary_now = v->H;
    if (n_points > 0 && pgn_has(primary(v), 0, 2)) {
        primary_now = pgn_u64(primary(v), 0, 2);
    }
    for (size_t i = 0; i < v->n; i++) {
        rep *r = &v->reps[i];
        if (!r->schema_ok) {
            continue;
        }
        // The replica's hash at H.
        if (r->head == v->H) {
            r->hash_at_H_known = true;
            r->has_at_H = v->H > 0;
            memcpy(r->hash_at_H, r->head_hash, EVREPL_HASH_BYTES);
        } else if (r->head > v->H && v->H > 0) {
            pgn *n = r->node;
            if (n->code == EVREPL_CODE_OK && n->res != NULL) {
                r->hash_at_H_known = true;
                r->has_at_H =
                    pgn_has(n, 0, 0) && pgn_bytes(n, 0, 0, r->hash_at_H, EVREPL_HASH_BYTES);
            } else {
                rep_error(v, r, "failed while reading sequence %" PRIu64 ": %s", v->H, n->error);
                r->open = r->open || n->code == EVREPL_CODE_DEADLINE_EXCEEDED;
            }
            pgn_clear_query(n);
        }
        if (r->head == 0) {
            continue;
        }
        if (r->head != v->H && v->cut_short) {
            r->open = true;
            continue; // no time was left to ask the primary
        }
        // The primary's hash at the replica's head (when the head is not H).
        uint8_t ph[EVREPL_HASH_BYTES];
        bool primary_has = r->head == v->H;
        if (r->head == v->H) {
            memcpy(ph, v->H_hash, EVREPL_HASH_BYTES);
        } else {
            for (int row = 0; row < pgn_rows(primary(v)); row++) {
                if (pgn_u64(primary(v), row, 0) == r->head) {
                    primary_has = pgn_has(primary(v), row, 1) &&
                                  pgn_bytes(primary(v), row, 1, ph, EVREPL_HASH_BYTES);
                    break;
                }
            }
        }
        if (!primary_has) {
            // The replica holds rows the primary does not have.
            uint64_t first = primary_now + 1;
            rep_diverged(r, first);
            r->div_reported = true;
            rep_error(v, r,
                      "holds sequence %" PRIu64 " but the primary ends at %" PRIu64
                      ": rows the primary lacks (diverged at sequence %" PRIu64 ")",
                      r->head, primary_now, first);
            // Compare at the primary's head too, to find any earlier difference.
            if (r->hash_at_H_known && v->H > 0 &&
                (!r->has_at_H || memcmp(r->hash_at_H, v->H_hash, EVREPL_HASH_BYTES) != 0)) {
                r->search = true;
                r->search_lo = 1;
                r->search_hi = v->H;
            }
            continue;
        }
        if (memcmp(ph, r->head_hash, EVREPL_HASH_BYTES) == 0 && r->head <= v->H) {
            r->matched = true;
            r->matched_seq = r->head;
            memcpy(r->matched_hash, ph, EVREPL_HASH_BYTES);
        } else if (r->head > v->H && r->hash_at_H_known && r->has_at_H &&
                   memcmp(r->hash_at_H, v->H_hash, EVREPL_HASH_BYTES) == 0) {
            r->matched = true;
            r->matched_seq = v->H;
            memcpy(r->matched_hash, v->H_hash, EVREPL_HASH_BYTES);
        }
        if (memcmp(ph, r->head_hash, EVREPL_HASH_BYTES) != 0) {
            r->search = true;
            r->search_lo = 1;
            r->search_hi = r->head < v->H ? r->head : v->H;
            if (r->head > v->H && !(r->hash_at_H_known && !r->has_at_H) && r->hash_at_H_known &&
                memcmp(r->hash_at_H, v->H_hash, EVREPL_HASH_BYTES) == 0) {
                // Same at H, different above it: the difference is above H.
                r->search_lo = v->H + 1;
                r->search_hi = r->head;
            }
        } else if (r->head > v->H && r->hash_at_H_known &&
                   (!r->has_at_H || memcmp(r->hash_at_H, v->H_hash, EVREPL_HASH_BYTES) != 0)) {
            r->search = true;
            r->search_lo = 1;
            r->search_hi = v->H;
        }
    }
    return evri_status_ok(st);
}

// ---- round 4: re-check the range ----------------------------------------------------------

// Binary-format reads of a result that this call holds itself (round 1's, or a batch's).
static bool
res_has(const PGresult *res, int row, int col)
{
    return res != NULL && row >= 0 && row < PQntuples(res) && col < PQnfields(res) &&
           !PQgetisnull(res, row, col);
}

static uint64_t
res_u64(const PGresult *res, int row, int col)
{
    if (!res_has(res, row, col) || PQgetlength(res, row, col) != 8) {
        return 0;
    }
    return evri_pg_get_u64((const uint8_t *)PQgetvalue(res, row, col));
}

// True when the rows of res (ascending by the sequence in column seq_col) run from lo or
// before to hi or after.
static bool
res_covers(const PGresult *res, int seq_col, uint64_t lo, uint64_t hi)
{
    int n = res != NULL ? PQntuples(res) : 0;
    return n > 0 && res_has(res, 0, seq_col) && res_has(res, n - 1, seq_col) &&
           res_u64(res, 0, seq_col) <= lo && res_u64(res, n - 1, seq_col) >= hi;
}

typedef struct sig_memo {
    bool set;
    bool ok;
    uint8_t hash[EVREPL_HASH_BYTES];
    uint8_t sig[EVREPL_SIGNATURE_BYTES];
    char key_id[EVRI_KEY_ID_LEN + 1];
} sig_memo;

// Signatures this instance checked in earlier calls: repeated verifications of the same tail
// cost no Ed25519 operation. Direct-mapped by content hash; a slot keeps one (public key,
// content hash, signature) and its verdict, which those bytes alone decide.
#define PG_SIG_SEEN_SLOTS 512

typedef struct sig_seen_slot {
    bool set;
    bool ok;
    uint8_t pk[EVREPL_PUBLIC_KEY_BYTES];
    uint8_t hash[EVREPL_HASH_BYTES];
    uint8_t sig[EVREPL_SIGNATURE_BYTES];
} sig_seen_slot;

struct pg_sig_seen {
    sig_seen_slot slot[PG_SIG_SEEN_SLOTS];
};

void
pg_sig_seen_free(pg_sig_seen *s)
{
    free(s);
}

static size_t
sig_seen_index(const evri_event *ev)
{
    return ((size_t)ev->content_hash[0] << 8 | ev->content_hash[1]) % PG_SIG_SEEN_SLOTS;
}

static bool
sig_seen_get(pg_instance *in, const uint8_t pk[EVREPL_PUBLIC_KEY_BYTES], const evri_event *ev,
             bool *ok)
{
    if (in->sigs == NULL) {
        return false;
    }
    const sig_seen_slot *e = &in->sigs->slot[sig_seen_index(ev)];
    if (!e->set || memcmp(e->hash, ev->content_hash, sizeof(e->hash)) != 0 ||
        memcmp(e->sig, ev->signature, sizeof(e->sig)) != 0 ||
        memcmp(e->pk, pk, sizeof(e->pk)) != 0) {
        return false;
    }
    *ok = e->ok;
    return true;
}

static void
sig_seen_put(pg_instance *in, const uint8_t pk[EVREPL_PUBLIC_KEY_BYTES], const evri_event *ev,
             bool ok)
{
    if (in->sigs == NULL && (in->sigs = calloc(1, sizeof(*in->sigs))) == NULL) {
        return; // no memory for the cache: signatures are simply checked again next time
    }
    sig_seen_slot *e = &in->sigs->slot[sig_seen_index(ev)];
    e->set = true;
    e->ok = ok;
    memcpy(e->pk, pk, sizeof(e->pk));
    memcpy(e->hash, ev->content_hash, sizeof(e->hash));
    memcpy(e->sig, ev->signature, sizeof(e->sig));
}

// Checks one replica's rows of a batch [a, b] (rows from a - 1 when a > 1, for the link):
// rows holds them in EVRI_PG_EVENT_COLUMNS order (more columns may follow), prim the
// primary's (sequence, content hash) in columns prim_col and prim_col + 1, ascending.
// Returns false when the deadline came first: the rows from there on are not checked.
static bool
check_batch(verify_ctx *v, rep *r, uint64_t a, uint64_t b, const PGresult *rows,
            const PGresult *prim, int prim_col, sig_memo *memo, bool *need_keys)
{
    int prow = 0;
    int n_prim = prim != NULL ? PQntuples(prim) : 0;
    uint64_t expect = a;
    for (int row = 0; row < PQntuples(rows); row++) {
        evri_event ev;
        evrepl_status st;
        if (evri_now_ns() >= v->deadline) {
            return false; // a batch's signatures can take longer than a short deadline
        }
        if (evri_pg_event_from_row(rows, row, &ev, &st) != EVREPL_CODE_OK) {
            rep_error(v, r, "a row near sequence %" PRIu64 " cannot be read: %s", expect,
                      st.message);
            r->sig_ok = false;
            continue;
        }
        if (ev.sequence == a - 1 && a > 1) {
            memcpy(r->link, ev.content_hash, EVREPL_HASH_BYTES);
            r->link_known = true;
            continue;
        }
        if (ev.sequence < expect || ev.sequence > b) {
            continue;
        }
        while (expect < ev.sequence) {
            rep_error(v, r, "sequence %" PRIu64 " is missing (a hole in the chain)", expect);
            rep_diverged(r, expect);
            r->chain_ok = false;
            r->link_known = false;
            expect++;
        }
        expect = ev.sequence + 1;
        // The key, and the signature at most once per distinct (hash, signature, key): once
        // per call (memo, shared by the replicas), and not again in later calls (seen).
        uint8_t pk[EVREPL_PUBLIC_KEY_BYTES];
        bool have_key = pg_key_lookup(v->in->sh, ev.signing_key_id, pk);
        sig_memo *m = &memo[ev.sequence - a];
        bool memo_hit = m->set && memcmp(m->hash, ev.content_hash, EVREPL_HASH_BYTES) == 0 &&
                        memcmp(m->sig, ev.signature, EVREPL_SIGNATURE_BYTES) == 0 &&
                        strcmp(m->key_id, ev.signing_key_id) == 0;
        bool seen_ok = false;
        bool seen_hit = !memo_hit && have_key && sig_seen_get(v->in, pk, &ev, &seen_ok);
        evri_event_verdict vd;
        const uint8_t *link = ev.sequence == 1 ? NULL : (r->link_known ? r->link : NULL);
        if (evri_event_check(&ev, memo_hit || seen_hit || !have_key ? NULL : pk, link, &vd, &st) !=
            EVREPL_CODE_OK) {
            v->oom = true;
            return true;
        }
        if (memo_hit) {
            vd.signature_ok = m->ok;
        } else if (have_key) {
            if (seen_hit) {
                vd.signature_ok = seen_ok;
            } else {
                sig_seen_put(v->in, pk, &ev, vd.signature_ok);
            }
            m->set = true;
            m->ok = vd.signature_ok;
            memcpy(m->hash, ev.content_hash, EVREPL_HASH_BYTES);
            memcpy(m->sig, ev.signature, EVREPL_SIGNATURE_BYTES);
            snprintf(m->key_id, sizeof(m->key_id), "%s", ev.signing_key_id);
        } else if (!v->keys_refreshed) {
            *need_keys = true;
        }
        r->checked++;
        if (!vd.fields_ok || !vd.hash_ok) {
            r->sig_ok = false;
            rep_diverged(r, ev.sequence);
            rep_error(v, r,
                      "sequence %" PRIu64 ": the row does not recompute to its content hash "
                      "(altered)",
                      ev.sequence);
        }
        if (!vd.signature_ok) {
            r->sig_ok = false;
            if (!have_key) {
                rep_error(v, r, "sequence %" PRIu64 ": signed by unknown key %s", ev.sequence,
                          ev.signing_key_id);
            } else {
                rep_error(v, r, "sequence %" PRIu64 ": the signature does not verify", ev.sequence);
            }
        }
        if (!vd.link_ok && (ev.sequence == 1 || r->link_known)) {
            r->chain_ok = false;
            rep_diverged(r, ev.sequence);
            rep_error(v, r,
                      "sequence %" PRIu64
                      ": prev_hash is not the content hash of sequence %" PRIu64,
                      ev.sequence, ev.sequence - 1);
        }
        memcpy(r->link, ev.content_hash, EVREPL_HASH_BYTES);
        r->link_known = true;
        // The primary's hash at the same sequence.
        while (prow < n_prim && res_u64(prim, prow, prim_col) < ev.sequence) {
            prow++;
        }
        if (prow < n_prim && res_u64(prim, prow, prim_col) == ev.sequence &&
            res_has(prim, prow, prim_col + 1) &&
            PQgetlength(prim, prow, prim_col + 1) == EVREPL_HASH_BYTES) {
            if (memcmp(PQgetvalue(prim, prow, prim_col + 1), ev.content_hash, EVREPL_HASH_BYTES) !=
                0) {
                rep_diverged(r, ev.sequence);
                rep_error(v, r,
                          "sequence %" PRIu64 ": holds a different event than the primary "
                          "(content hash differs)",
                          ev.sequence);
            }
        }
    }
    while (expect <= b) {
        rep_error(v, r, "sequence %" PRIu64 " is missing (a hole in the chain)", expect);
        rep_diverged(r, expect);
        r->chain_ok = false;
        r->link_known = false;
        expect++;
    }
    return true;
}

// A replica's findings at one moment, so that a batch can be checked again from there.
typedef struct rep_mark {
    size_t n_errors;
    size_t n_dropped;
    bool sig_ok;
    bool chain_ok;
    bool link_known;
    uint8_t link[EVREPL_HASH_BYTES];
    uint64_t diverged_at;
    uint64_t checked;
} rep_mark;

static void
rep_mark_take(const rep *r, rep_mark *m)
{
    m->n_errors = r->n_errors;
    m->n_dropped = r->n_dropped;
    m->sig_ok = r->sig_ok;
    m->chain_ok = r->chain_ok;
    m->link_known = r->link_known;
    memcpy(m->link, r->link, sizeof(m->link));
    m->diverged_at = r->diverged_at;
    m->checked = r->checked;
}

// Drops what was found since m was taken (the error lines added since, too).
static void
rep_mark_restore(rep *r, const rep_mark *m)
{
    for (size_t e = m->n_errors; e < r->n_errors; e++) {
        free(r->errors[e]);
        r->errors[e] = NULL;
    }
    r->n_errors = m->n_errors;
    r->n_dropped = m->n_dropped;
    r->sig_ok = m->sig_ok;
    r->chain_ok = m->chain_ok;
    r->link_known = m->link_known;
    memcpy(r->link, m->link, sizeof(r->link));
    r->diverged_at = m->diverged_at;
    r->checked = m->checked;
}

static evrepl_code
round_ranges(verify_ctx *v, const evrepl_verify_request *req, evrepl_status *st)
{
    uint64_t tail = req->tail > 1 ? req->tail : 1;
    uint64_t lo_all = UINT64_MAX, hi_all = 0;
    for (size_t i = 0; i < v->n; i++) {
        rep *r = &v->reps[i];
        r->range_done = true;
        if (!r->schema_ok || r->head == 0 || v->H == 0) {
            continue;
        }
        uint64_t hi = r->head < v->H ? r->head : v->H;
        uint64_t lo = req->full_audit ? 1 : (v->H >= tail ? v->H - tail + 1 : 1);
        if (lo > hi) {
            continue;
        }
        r->range_lo = lo;
        r->range_hi = hi;
        r->range_done = false;
        lo_all = lo < lo_all ? lo : lo_all;
        hi_all = hi > hi_all ? hi : hi_all;
    }
    if (hi_all == 0) {
        return evri_status_ok(st);
    }
    size_t memo_n = hi_all - lo_all + 1 < PG_BATCH ? (size_t)(hi_all - lo_all + 1) : PG_BATCH;
    sig_memo *memo = calloc(memo_n, sizeof(*memo));
    if (memo == NULL) {
        return evri_status_set(st, EVREPL_CODE_INTERNAL, "out of memory verifying");
    }
    uint64_t batch_ns = 0; // how long the last batch took, fetch and checks
    for (uint64_t a = lo_all; a <= hi_all && !v->oom;) {
        uint64_t t_batch = evri_now_ns();
        // Start a batch only when one fits before the deadline: the checks run after the
        // fetch, and an answer that overruns the deadline arrives too late to count.
        if (t_batch + batch_ns >= v->deadline) {
            v->cut_short = true;
            break;
        }
        uint64_t b = a + PG_BATCH - 1 < hi_all ? a + PG_BATCH - 1 : hi_all;
        char pa[24], pb[24], ra[PG_MAX_REPLICAS][24], rb[PG_MAX_REPLICAS][24];
        pgn *nodes[1 + PG_MAX_REPLICAS];
        size_t k = 0;
        // Round 1 brought the tail: what it covers needs no query.
        bool prim_pre = res_covers(v->pre_primary, 1, a, b);
        if (prim_pre) {
            pgn_clear_query(primary(v));
        } else {
            snprintf(pa, sizeof(pa), "%" PRIu64, a);
            snprintf(pb, sizeof(pb), "%" PRIu64, b);
            const char *pp[] = {pa, pb};
            pgn_set_query(primary(v), primary_range_sql, 2, pp);
            nodes[k++] = primary(v);
        }
        for (size_t i = 0; i < v->n; i++) {
            rep *r = &v->reps[i];
            pgn_clear_query(r->node);
            r->batch_rows = NULL;
            if (r->range_done || r->range_hi < a || r->range_lo > b) {
                continue;
            }
            uint64_t ra_ = a > r->range_lo ? a : r->range_lo;
            uint64_t rb_ = b < r->range_hi ? b : r->range_hi;
            // One row more before the range start, for the prev_hash link.
            uint64_t from = ra_ > 1 && !(r->link_known && ra_ > r->range_lo) ? ra_ - 1 : ra_;
            if (res_covers(r->pre, EVENT_SEQUENCE_COL, from, rb_)) {
                r->batch_rows = r->pre;
                continue;
            }
            if (r->node->conn == NULL) {
                continue;
            }
            snprintf(ra[i], sizeof(ra[i]), "%" PRIu64, from);
            snprintf(rb[i], sizeof(rb[i]), "%" PRIu64, rb_);
            const char *rp[] = {ra[i], rb[i]};
            pgn_set_query(r->node, replica_range_sql, 2, rp);
            nodes[k++] = r->node;
        }
        if (evri_now_ns() >= v->deadline) {
            break;
        }
        if (k > 0) {
            pgn_run(nodes, k, v->deadline);
        }
        // The primary's rows stay here: refreshing the keys below reuses its node.
        PGresult *prim_res = NULL;
        if (!prim_pre) {
            if (primary(v)->code != EVREPL_CODE_OK || primary(v)->res == NULL) {
                if (primary(v)->code == EVREPL_CODE_DEADLINE_EXCEEDED) {
                    v->cut_short = true;
                    break; // reported per replica below as unfinished
                }
                free(memo);
                return pg_primary_failed(v->in, "reading hashes to compare", st);
            }
            prim_res = primary(v)->res;
            primary(v)->res = NULL;
        }
        const PGresult *prim = prim_pre ? v->pre_primary : prim_res;
        int prim_col = prim_pre ? 1 : 0;
        memset(memo, 0, memo_n * sizeof(*memo));
        bool need_keys = false;
        // What each replica's record was before this batch: a re-check with fresh keys starts
        // again from here, keeping what earlier rounds and batches found.
        rep_mark marks[PG_MAX_REPLICAS];
        for (size_t i = 0; i < v->n; i++) {
            rep_mark_take(&v->reps[i], &marks[i]);
        }
        for (int pass = 0; pass < 2; pass++) {
            for (size_t i = 0; i < v->n; i++) {
                rep *r = &v->reps[i];
                if (r->range_done) {
                    continue;
                }
                if (r->batch_rows == NULL) {
                    if (r->node->sql != replica_range_sql) {
                        continue; // not part of this batch
                    }
                    if (r->node->code == EVREPL_CODE_DEADLINE_EXCEEDED) {
                        v->cut_short = true; // unfinished, reported as such below
                        continue;
                    }
                    if (r->node->code != EVREPL_CODE_OK || r->node->res == NULL) {
                        rep_error(v, r,
                                  "failed while reading sequences %" PRIu64 "-%" PRIu64 ": %s", a,
                                  b, r->node->error);
                        r->range_done = true;
                        continue;
                    }
                    r->batch_rows = r->node->res;
                }
                uint64_t ra_ = a > r->range_lo ? a : r->range_lo;
                uint64_t rb_ = b < r->range_hi ? b : r->range_hi;
                if (!check_batch(v, r, ra_, rb_, r->batch_rows, prim, prim_col, memo + (ra_ - a),
                                 &need_keys)) {
                    v->cut_short = true; // unfinished, reported as such below
                    continue;
                }
                if (rb_ == r->range_hi) {
                    r->range_done = true;
                }
            }
            if (!need_keys || v->keys_refreshed) {
                break;
            }
            // Rows signed by keys we do not know: read the primary's signing_keys once, then
            // check this batch again. (Pinned keys never refresh.)
            v->keys_refreshed = true;
            if (v->in->sh->pinned) {
                break;
            }
            evrepl_status kst;
            evrepl_code kc = pg_keys_refresh(v->in, v->deadline, &kst);
            if (kc == EVREPL_CODE_DEADLINE_EXCEEDED) {
                // No time left to learn the keys: this batch is unchecked, not badly signed.
                for (size_t i = 0; i < v->n; i++) {
                    rep *r = &v->reps[i];
                    if (r->batch_rows != NULL) {
                        rep_mark_restore(r, &marks[i]);
                        r->range_done = false;
                    }
                }
                v->cut_short = true;
                break;
            }
            if (kc != EVREPL_CODE_OK) {
                break; // the primary cannot say: the rows stay signed by unknown keys
            }
            for (size_t i = 0; i < v->n; i++) {
                rep *r = &v->reps[i];
                if (r->batch_rows != NULL) {
                    rep_mark_restore(r, &marks[i]);
                    r->range_done = false;
                }
            }
            memset(memo, 0, memo_n * sizeof(*memo));
            need_keys = false;
        }
        PQclear(prim_res);
        batch_ns = evri_now_ns() - t_batch;
        a = b + 1;
        if (v->cut_short) {
            break; // a replica's batch missed the deadline: no later batch may skip over it
        }
    }
    free(memo);
    for (size_t i = 0; i < v->n; i++) {
        rep *r = &v->reps[i];
        r->batch_rows = NULL;
        if (!r->range_done && r->range_hi > 0) {
            rep_error(v, r, "checked %" PRIu64 " of %" PRIu64 " events before the deadline",
                      r->checked, r->range_hi - r->range_lo + 1);
            r->open = true;
        }
    }
    return evri_status_ok(st);
}

// ---- round 5: where did it diverge? -------------------------------------------------------

static void
round_search(verify_ctx *v)
{
    for (;;) {
        char arr[PG_MAX_REPLICAS * 24 + 4] = "{";
        char mid_text[PG_MAX_REPLICAS][24];
        pgn *nodes[1 + PG_MAX_REPLICAS];
        size_t k = 0;
        for (size_t i = 0; i < v->n; i++) {
            rep *r = &v->reps[i];
            pgn_clear_query(r->node);
            if (!r->search) {
                continue;
            }
            if (r->diverged_at > 0 && r->diverged_at < r->search_hi) {
                r->search_hi = r->diverged_at; // already known lower
            }
            if (r->search_lo >= r->search_hi || r->node->conn == NULL) {
                r->search = false;
                rep_diverged(r, r->search_hi);
                continue;
            }
            uint64_t mid = r->search_lo + (r->search_hi - r->search_lo) / 2;
            snprintf(mid_text[i], sizeof(mid_text[i]), "%" PRIu64, mid);
            array_add(arr, sizeof(arr), mid);
            const char *params[] = {mid_text[i]};
            pgn_set_query(r->node, hash_at_sql, 1, params);
            nodes[k++] = r->node;
        }
        if (k == 0 || evri_now_ns() >= v->deadline) {
            break;
        }
        strcat(arr, "}");
        const char *pp[] = {arr};
        pgn_set_query(primary(v), primary_at_sql, 1, pp);
        nodes[k++] = primary(v);
        pgn_run(nodes, k, v->deadline);
        if (primary(v)->code != EVREPL_CODE_OK) {
            break;
        }
        for (size_t i = 0; i < v->n; i++) {
            rep *r = &v->reps[i];
            if (!r->search || r->node->sql != hash_at_sql) {
                continue;
            }
            if (r->node->code != EVREPL_CODE_OK) {
                r->search = false;
                continue;
            }
            uint64_t mid = r->search_lo + (r->search_hi - r->search_lo) / 2;
            uint8_t rh[EVREPL_HASH_BYTES], ph[EVREPL_HASH_BYTES];
            bool r_has = pgn_has(r->node, 0, 0) && pgn_bytes(r->node, 0, 0, rh, sizeof(rh));
            bool p_has = false;
            for (int row = 0; row < pgn_rows(primary(v)); row++) {
                if (pgn_u64(primary(v), row, 0) == mid) {
                    p_has = pgn_has(primary(v), row, 1) &&
                            pgn_bytes(primary(v), row, 1, ph, sizeof(ph));
                    break;
                }
            }
            bool differs = r_has != p_has || (r_has && memcmp(rh, ph, sizeof(rh)) != 0);
            if (differs) {
                r->search_hi = mid;
            } else {
                r->search_lo = mid + 1;
            }
        }
    }
    for (size_t i = 0; i < v->n; i++) {
        rep *r = &v->reps[i];
        if (r->search) {
            // The deadline cut the search short: the last known differing point stands.
            rep_diverged(r, r->search_hi);
            r->search = false;
        }
        pgn_clear_query(r->node);
    }
    pgn_clear_query(primary(v));
}

// ---- the result ---------------------------------------------------------------------------

static evrepl_code
build_result(verify_ctx *v, evrepl_verification *out, evrepl_status *st)
{
    pg_shared *sh = v->in->sh;
    evrepl_verification res = {0};
    res.head_hash_match = true;
    res.signature_valid = true;
    res.schema_version_match = true;
    res.primary_head_sequence = v->H;
    if (v->H > 0) {
        memcpy(res.primary_head_hash, v->H_hash, EVREPL_HASH_BYTES);
        res.primary_head_hash_len = EVREPL_HASH_BYTES;
    }
    if ((res.schema_version = evri_strdup(sh->schema_version)) == NULL) {
        goto oom;
    }
    if (v->n == 0 && !evri_strv_push(&res.errors, &res.n_errors,
                                     "no replicas configured: nothing was verified")) {
        goto oom;
    }
    if (v->n > 0 && (res.replicas = calloc(v->n, sizeof(*res.replicas))) == NULL) {
        goto oom;
    }
    for (size_t i = 0; i < v->n; i++) {
        rep *r = &v->reps[i];
        evrepl_replica_verification *o = &res.replicas[i];
        res.n_replicas++;
        o->replica_id = evri_strdup(sh->replica_ids[i]);
        o->schema_version = evri_strdup(r->version);
        if (o->replica_id == NULL || o->schema_version == NULL) {
            goto oom;
        }
        o->reachable = r->reachable;
        if (r->reachable && r->schema_ok) {
            bool went_back = r->remembered && !r->rem_held;
            if (went_back) {
                uint64_t at = r->head < r->rem_seq ? r->head + 1 : r->rem_seq;
                rep_diverged(r, at);
                rep_error(v, r,
                          "went backwards: no longer holds sequence %" PRIu64
                          " as it did at an earlier verification (diverged at sequence %" PRIu64
                          ")",
                          r->rem_seq, at);
            }
            o->head_sequence = r->head;
            if (r->head > 0) {
                memcpy(o->head_hash, r->head_hash, EVREPL_HASH_BYTES);
                o->head_hash_len = EVREPL_HASH_BYTES;
            }
            o->head_hash_match = v->H == 0
                                     ? r->head == 0 && r->diverged_at == 0
                                     : r->hash_at_H_known && r->has_at_H &&
                                           memcmp(r->hash_at_H, v->H_hash, EVREPL_HASH_BYTES) == 0;
            o->lag_events = r->head < v->H ? v->H - r->head : 0;
            o->signature_valid = r->sig_ok;
            o->chain_valid = r->chain_ok;
            o->schema_version_match = strcmp(r->version, sh->schema_version) == 0;
            o->events_checked = r->checked;
            o->diverged_at_sequence = r->diverged_at;
            if (!o->schema_version_match) {
                rep_error(v, r, "schema version is '%s' but this server expects '%s'", r->version,
                          sh->schema_version);
            }
            if (r->diverged_at > 0 && !went_back && !r->div_reported) {
                rep_error(v, r, "diverged from the primary at sequence %" PRIu64, r->diverged_at);
            } else if (o->lag_events > 0 && r->diverged_at == 0) {
                rep_error(v, r,
                          "lagging: at sequence %" PRIu64 " of %" PRIu64
                          " when the deadline passed (%" PRIu64 " events behind)",
                          r->head, v->H, o->lag_events);
            }
            // Remember what a good replica showed (compared equal with the primary), so that
            // going backwards is caught later.
            if (r->diverged_at == 0 && !went_back && r->matched) {
                evri_pg_heads_advance(sh->heads, i, r->matched_seq, r->matched_hash);
            }
        } else if (r->reachable) {
            o->schema_version_match = false;
        }
        if (r->n_dropped > 0) {
            r->n_errors--; // room for the summary line: PG_MAX_ERRORS in all
            char *last = r->errors[r->n_errors];
            free(last);
            r->n_dropped++;
            char line[200];
            snprintf(line, sizeof(line), "%s: ... and %zu more problems", sh->replica_ids[i],
                     r->n_dropped);
            if (!evri_strv_push(&r->errors, &r->n_errors, line)) {
                goto oom;
            }
        }
        for (size_t e = 0; e < r->n_errors; e++) {
            if (!evri_strv_push(&o->errors, &o->n_errors, r->errors[e]) ||
                !evri_strv_push(&res.errors, &res.n_errors, r->errors[e])) {
                goto oom;
            }
        }
        res.head_hash_match = res.head_hash_match && o->head_hash_match;
        res.signature_valid = res.signature_valid && o->signature_valid;
        res.schema_version_match = res.schema_version_match && o->schema_version_match;
    }
    if (v->oom) {
        goto oom;
    }
    res.checked_at = evri_wallclock();
    *out = res;
    return evri_status_ok(st);
oom:
    evrepl_verification_clear(&res);
    return evri_status_set(st, EVREPL_CODE_INTERNAL, "out of memory building the result");
}

evrepl_code
pg_verify_replicas(void *self, const evrepl_verify_request *req, uint64_t deadline_ns,
                   evrepl_verification *out, evrepl_status *st)
{
    pg_instance *in = self;
    evrepl_code code;
    verify_ctx *v = calloc(1, sizeof(*v));
    if (v == NULL) {
        return evri_status_set(st, EVREPL_CODE_INTERNAL, "out of memory verifying");
    }
    if (in->sh->n_replicas > PG_MAX_REPLICAS) {
        free(v);
        return evri_status_set(st, EVREPL_CODE_INTERNAL, "too many replicas");
    }
    v->in = in;
    v->deadline = deadline_ns;
    v->n = in->sh->n_replicas;
    if (!req->full_audit) {
        uint64_t tail = req->tail > 1 ? req->tail : 1;
        v->prefetch = tail <= PG_BATCH ? tail : 0;
    }
    for (size_t i = 0; i < v->n; i++) {
        v->reps[i].idx = i;
        v->reps[i].node = &in->replicas[i];
        v->reps[i].sig_ok = true;
        v->reps[i].chain_ok = true;
        // From before this call: stale. Notifications still unread in the socket arrive with
        // round 1's answers and may count as news once; that costs a lagging replica one early
        // re-check, where reading them now would cost every call a receive per replica.
        in->replicas[i].notified = false;
    }
    if ((code = round_heads(v, st)) == EVREPL_CODE_OK) {
        round_wait(v);
        code = round_compare(v, st);
    }
    if (code == EVREPL_CODE_OK) {
        code = round_ranges(v, req, st);
    }
    if (code == EVREPL_CODE_OK) {
        round_search(v);
        code = build_result(v, out, st);
    }
    if (code == EVREPL_CODE_OK) {
        // A verdict stays open only when nothing definite was found on the replica.
        bool open[PG_MAX_REPLICAS];
        for (size_t i = 0; i < v->n; i++) {
            const rep *r = &v->reps[i];
            open[i] = r->open && r->diverged_at == 0 && r->sig_ok && r->chain_ok &&
                      (!r->schema_ok || out->replicas[i].schema_version_match);
        }
        evrepl_observer_report_verification(&in->sh->observer, out, open);
    }
    for (size_t i = 0; i < v->n; i++) {
        pgn_clear_query(v->reps[i].node);
        evri_strv_free(&v->reps[i].errors, &v->reps[i].n_errors);
        PQclear(v->reps[i].pre);
    }
    PQclear(v->pre_primary);
    pgn_clear_query(&in->primary);
    free(v);
    return code;
}
