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
    // Notifications from before this call are stale: drop them.
    for (size_t i = 0; i < n; i++) {
        pgn_poll_notify(&in->replicas[i]);
        in->replicas[i].notified = false;
    }
    nodes[0] = &in->primary;
    pgn_set_query(&in->primary, primary_sql, 1, params);
    for (size_t i = 0; i < n; i++) {
        nodes[1 + i] = &in->replicas[i];
        pgn_set_query(&in->replicas[i], replica_sql, 1, params);
    }
    pgn_run(nodes, 1 + n, deadline_ns);

    pgn *p = &in->primary;
    if (p->code != EVREPL_CODE_OK || !pgn_has(p, 0, 0)) {
        return pg_primary_failed(in, "looking up the event", st);
    }
    pg_primary_seen(in->sh, true);
    pgn_text(p, 0, 0, version, sizeof(version));
    if ((code = pg_check_primary_schema(in, version, st)) != EVREPL_CODE_OK) {
        return code;
    }
    if (!pgn_has(p, 0, 2)) {
        return evri_status_set(st, EVREPL_CODE_NOT_FOUND, "event %s is not on the primary",
                               event_id);
    }
    if (!pgn_bytes(p, 0, 2, hash, sizeof(hash))) {
        return evri_status_set(st, EVREPL_CODE_INTERNAL,
                               "the primary's content hash of event %s is not 32 bytes", event_id);
    }
    for (size_t i = 0; i < n; i++) {
        replica_answer(&in->replicas[i], hash, &acks[i]);
        pgn_clear_query(&in->replicas[i]);
    }

    // Wait for the replicas that do not hold it yet: woken by their apply trigger, or polled.
    uint64_t next_poll = evri_now_ns() + PG_POLL_MS * EVRI_NS_PER_MS;
    for (;;) {
        size_t waiting = 0;
        bool mismatch = false;
        pgn *pending[15];
        for (size_t i = 0; i < n; i++) {
            mismatch = mismatch || acks[i].state == EVREPL_ACK_STATE_MISMATCH;
            if (acks[i].state == EVREPL_ACK_STATE_PENDING && in->replicas[i].conn != NULL) {
                pending[waiting++] = &in->replicas[i];
            }
        }
        // A mismatch already decides the receipt (FAILED); so does having nothing to wait for.
        if (waiting == 0 || mismatch || evri_now_ns() >= deadline_ns) {
            break;
        }
        uint64_t until = next_poll < deadline_ns ? next_poll : deadline_ns;
        bool woke = pgn_wait_notify(pending, waiting, until);
        bool poll_due = evri_now_ns() >= next_poll;
        size_t k = 0;
        pgn *ask[15];
        size_t ask_idx[15];
        for (size_t i = 0; i < n; i++) {
            pgn *r = &in->replicas[i];
            if (acks[i].state != EVREPL_ACK_STATE_PENDING || r->conn == NULL) {
                continue;
            }
            bool ours = woke && r->notified && strcmp(r->notified_payload, event_id) == 0;
            r->notified = false;
            if (ours || poll_due) {
                pgn_set_query(r, replica_sql, 1, params);
                ask[k] = r;
                ask_idx[k++] = i;
            }
        }
        if (poll_due) {
            next_poll = evri_now_ns() + PG_POLL_MS * EVRI_NS_PER_MS;
        }
        if (k > 0) {
            pgn_run(ask, k, deadline_ns);
            for (size_t j = 0; j < k; j++) {
                replica_answer(ask[j], hash, &acks[ask_idx[j]]);
                pgn_clear_query(ask[j]);
            }
        }
    }
    for (size_t i = 0; i < n; i++) {
        if (acks[i].state == EVREPL_ACK_STATE_PENDING &&
            strcmp(acks[i].detail, "the event has not reached this replica yet") == 0) {
            snprintf(acks[i].detail, sizeof(acks[i].detail),
                     "the event had not reached this replica when the receipt was issued");
        }
    }
    return build_receipt(in, event_id, hash, acks, out, st);
}
