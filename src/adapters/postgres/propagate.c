// PropagateEvent: has the event reached every replica, unaltered?
//
// One round asks the primary (schema version, the event's content hash) and every replica (its
// content hash of the event) at once. Replicas that do not hold it yet are asked again when
// their apply trigger notifies the event (LISTEN), or every PG_POLL_MS as a fallback, until
// the deadline.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adapters/postgres/pg.h"
#include "common/clock.h"
#include "domain/status.h"
#include "domain/strv.h"

#define PG_POLL_MS 100

static const char primary_sql[] = "SELECT v.version, e.sequence, e.content_hash "
                                  "FROM (SELECT max(version) AS version FROM schema_migrations) v "
                                  "LEFT JOIN events e ON e.event_id = $1::uuid";

static const char replica_sql[] = "SELECT content_hash FROM events WHERE event_id = $1::uuid";

typedef struct ack_work {
    evrepl_ack_state state;
    bool answered; // asked at least once
    uint8_t hash[EVREPL_HASH_BYTES];
    bool has_hash;
    char detail[200];
} ack_work;

// Reads a replica's answer into its ack.
static void
replica_answer(const pgn *n, const uint8_t primary_hash[EVREPL_HASH_BYTES], ack_work *a)
{
    a->answered = true;
    if (n->code != EVREPL_CODE_OK || n->res == NULL) {
        if (n->code == EVREPL_CODE_DEADLINE_EXCEEDED) {
            a->state = EVREPL_ACK_STATE_PENDING;
            snprintf(a->detail, sizeof(a->detail), "no answer before the deadline");
        } else {
            a->state = EVREPL_ACK_STATE_UNREACHABLE;
            snprintf(a->detail, sizeof(a->detail), "unreachable: %.180s", n->error);
        }
        return;
    }
    if (!pgn_has(n, 0, 0)) {
        a->state = EVREPL_ACK_STATE_PENDING;
        snprintf(a->detail, sizeof(a->detail), "the event has not reached this replica yet");
        return;
    }
    if (!pgn_bytes(n, 0, 0, a->hash, EVREPL_HASH_BYTES)) {
        a->state = EVREPL_ACK_STATE_MISMATCH;
        a->has_hash = false;
        snprintf(a->detail, sizeof(a->detail),
                 "holds the event with a malformed content hash (not 32 bytes)");
        return;
    }
    a->has_hash = true;
    if (memcmp(a->hash, primary_hash, EVREPL_HASH_BYTES) == 0) {
        a->state = EVREPL_ACK_STATE_CONFIRMED;
        snprintf(a->detail, sizeof(a->detail), "holds the event with the primary's content hash");
    } else {
        a->state = EVREPL_ACK_STATE_MISMATCH;
        snprintf(a->detail, sizeof(a->detail),
                 "holds a different version of the event (content hash differs)");
    }
}

static evrepl_code
build_receipt(pg_instance *in, const char *event_id, const uint8_t hash[EVREPL_HASH_BYTES],
              const ack_work *acks, evrepl_receipt *out, evrepl_status *st)
{
    size_t n = in->sh->n_replicas;
    evrepl_receipt r = {0};
    bool any_mismatch = false, all_confirmed = true;
    snprintf(r.event_id, sizeof(r.event_id), "%s", event_id);
    memcpy(r.content_hash, hash, EVREPL_HASH_BYTES);
    r.content_hash_len = EVREPL_HASH_BYTES;
    if (n > 0 && (r.acks = calloc(n, sizeof(*r.acks))) == NULL) {
        goto oom;
    }
    for (size_t i = 0; i < n; i++) {
        evrepl_replica_ack *a = &r.acks[i];
        r.n_acks++;
        a->state = acks[i].state;
        a->replica_id = evri_strdup(in->sh->replica_ids[i]);
        a->detail = evri_strdup(acks[i].detail);
        if (a->replica_id == NULL || a->detail == NULL) {
            goto oom;
        }
        if (acks[i].has_hash) {
            memcpy(a->observed_content_hash, acks[i].hash, EVREPL_HASH_BYTES);
            a->observed_content_hash_len = EVREPL_HASH_BYTES;
        }
        any_mismatch = any_mismatch || a->state == EVREPL_ACK_STATE_MISMATCH;
        all_confirmed = all_confirmed && a->state == EVREPL_ACK_STATE_CONFIRMED;
        if (a->state == EVREPL_ACK_STATE_CONFIRMED &&
            !evri_strv_push(&r.replica_ids, &r.n_replica_ids, in->sh->replica_ids[i])) {
            goto oom;
        }
    }
    r.status = n == 0          ? EVREPL_REPLICATION_STATUS_NOT_CONFIGURED
               : any_mismatch  ? EVREPL_REPLICATION_STATUS_FAILED
               : all_confirmed ? EVREPL_REPLICATION_STATUS_CONFIRMED
                               : EVREPL_REPLICATION_STATUS_PENDING;
    r.timestamp = evri_wallclock();
    *out = r;
    return evri_status_ok(st);
oom:
    evrepl_receipt_clear(&r);
    return evri_status_set(st, EVREPL_CODE_INTERNAL, "out of memory building a receipt");
}

evrepl_code
pg_propagate_event(void *self, const char *event_id, uint64_t deadline_ns, evrepl_receipt *out,
                   evrepl_status *st)
{
    pg_instance *in = self;
    size_t n = in->sh->n_replicas;
    const char *params[] = {event_id};
    pgn *nodes[1 + 15];
    ack_work acks[15];
    uint8_t hash[EVREPL_HASH_BYTES];
    char version[64];
    evrepl_code code;

    if (n > 15) {
        return evri_status_set(st, EVREPL_CODE_INTERNAL, "too many replicas");
    }
    memset(acks, 0, sizeof(acks));
    // Notifications from before this call are stale. One still unread in the socket arrives
    // with the first answers and may count once: that costs one early re-check of a replica,
    // where reading them now would cost every call a receive per replica (idle workers drain
    // their sessions).
    for (size_t i = 0; i < n; i++) {
        in->replicas[i].notified = false;
        in->replicas[i].notified_want = false;
        in->replicas[i].want = event_id;
    }
    nodes[0] = &in->primary;
    pgn_set_query(&in->primary, primary_sql, 1, params);
    for (size_t i = 0; i < n; i++) {
        nodes[1 + i] = &in->replicas[i];
        pgn_set_query(&in->replicas[i], replica_sql, 1, params);
    }

    // One event loop over every node: the primary's answer, each replica's answers, the apply
    // notifications of replicas that do not hold the event yet, and a polling fallback. A slow
    // replica holds up nobody: the others are asked again as soon as they are notified.
    pgn *p = &in->primary;
    bool primary_taken = false;
    bool answered[15] = {false};
    uint64_t next_poll = evri_now_ns() + PG_POLL_MS * EVRI_NS_PER_MS;
    for (;;) {
        if (!primary_taken && p->done) {
            code = EVREPL_CODE_OK;
            if (p->code != EVREPL_CODE_OK || !pgn_has(p, 0, 0)) {
                code = pg_primary_failed(in, "looking up the event", st);
            } else {
                pg_primary_seen(in->sh, true);
                pgn_text(p, 0, 0, version, sizeof(version));
                if ((code = pg_check_primary_schema(in, version, st)) != EVREPL_CODE_OK) {
                    // code and st are set
                } else if (!pgn_has(p, 0, 2)) {
                    code = evri_status_set(st, EVREPL_CODE_NOT_FOUND,
                                           "event %s is not on the primary", event_id);
                } else if (!pgn_bytes(p, 0, 2, hash, sizeof(hash))) {
                    code = evri_status_set(st, EVREPL_CODE_INTERNAL,
                                           "the primary's content hash of event %s is not 32 "
                                           "bytes",
                                           event_id);
                }
            }
            if (code != EVREPL_CODE_OK) {
                goto fail;
            }
            pgn_clear_query(p);
            primary_taken = true;
        }
        size_t waiting = 0;
        bool mismatch = false, all_answered = true;
        bool poll_due = evri_now_ns() >= next_poll;
        for (size_t i = 0; i < n; i++) {
            pgn *r = &in->replicas[i];
            if (primary_taken && r->sql != NULL && r->done) {
                replica_answer(r, hash, &acks[i]);
                pgn_clear_query(r);
                answered[i] = true;
            }
            all_answered = all_answered && answered[i];
            mismatch = mismatch || acks[i].state == EVREPL_ACK_STATE_MISMATCH;
            if (!answered[i]) {
                waiting++;
            } else if (acks[i].state == EVREPL_ACK_STATE_PENDING && r->conn != NULL) {
                waiting++;
                bool idle = r->sql == NULL || r->done;
                if (idle && (r->notified_want || poll_due)) {
                    r->notified_want = false;
                    pgn_set_query(r, replica_sql, 1, params);
                }
            }
        }
        if (poll_due) {
            next_poll = evri_now_ns() + PG_POLL_MS * EVRI_NS_PER_MS;
        }
        // A mismatch decides the receipt (FAILED) once every replica answered once; so does
        // having nothing left to wait for.
        if (primary_taken && (waiting == 0 || (mismatch && all_answered))) {
            break;
        }
        if (evri_now_ns() >= deadline_ns) {
            break;
        }
        uint64_t until = primary_taken && next_poll < deadline_ns ? next_poll : deadline_ns;
        (void)pgn_step(nodes, 1 + n, until);
    }
    if (!primary_taken) {
        pgn_abort(nodes, 1); // marks the primary DEADLINE_EXCEEDED if it is still out
        code = pg_primary_failed(in, "looking up the event", st);
        goto fail;
    }
    // What is still out missed the deadline.
    for (size_t i = 0; i < n; i++) {
        pgn *r = &in->replicas[i];
        if (r->sql != NULL && !r->done) {
            pgn_abort(&r, 1);
            if (!answered[i]) {
                replica_answer(r, hash, &acks[i]);
            }
        }
        pgn_clear_query(r);
        r->want = NULL;
    }
    for (size_t i = 0; i < n; i++) {
        if (acks[i].state == EVREPL_ACK_STATE_PENDING &&
            strcmp(acks[i].detail, "the event has not reached this replica yet") == 0) {
            snprintf(acks[i].detail, sizeof(acks[i].detail),
                     "the event had not reached this replica when the receipt was issued");
        }
    }
    return build_receipt(in, event_id, hash, acks, out, st);
fail:
    pgn_abort(nodes, 1 + n);
    for (size_t i = 0; i < 1 + n; i++) {
        pgn_clear_query(nodes[i]);
    }
    for (size_t i = 0; i < n; i++) {
        in->replicas[i].want = NULL;
    }
    return code;
}
