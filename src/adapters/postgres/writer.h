// The single writer of the event log (`evrepl append`): builds, hashes and signs events and
// inserts them on the primary so that the chain never forks.
//
// Appends go in rounds. A round takes the session-level pg_advisory_lock(EVRI_PG_LOCK_APPEND),
// reads the head, and inserts up to EVRI_PG_WRITER_ROUND_BATCHES batches on top of it, each
// batch one prepared multi-row INSERT in binary format (one statement, so its own
// transaction), then releases the lock. Holding the lock across the round lets the writer sign
// batch k+1 while the server inserts batch k (signing and inserting are the two costs, and
// they overlap); ending rounds lets concurrent writers, in this process or others, take turns:
// each round extends the head that the previous holder left. The chain trigger of
// migrations/0001_events.sql refuses any row that does not extend the head, so even a writer
// that skipped the lock could not fork the chain.
//
// Thread safety: a writer belongs to one thread at a time.
#ifndef EVREPL_ADAPTERS_POSTGRES_WRITER_H
#define EVREPL_ADAPTERS_POSTGRES_WRITER_H

#include <stddef.h>
#include <stdint.h>

#include "domain/event.h"
#include "domain/keys.h"
#include "evrepl/status.h"

#define EVRI_PG_WRITER_BATCH_ROWS    500          // events per transaction, at most
#define EVRI_PG_WRITER_BATCH_BYTES   (32u << 20)  // payload bytes per transaction, about
#define EVRI_PG_WRITER_PAYLOAD_MAX   (256u << 20) // largest payload accepted
#define EVRI_PG_WRITER_ROUND_BATCHES 20u          // batches per hold of the writer lock

typedef struct evri_pg_writer evri_pg_writer;

// Where the time went, for reporting rates.
typedef struct evri_pg_writer_stats {
    uint64_t events;    // events committed
    uint64_t batches;   // transactions committed
    uint64_t sign_ns;   // building, hashing and signing events
    uint64_t db_ns;     // blocked on the database (lock, head, sending, waiting for inserts)
    uint64_t insert_ns; // from sending each INSERT to its answer, summed (overlaps sign_ns)
} evri_pg_writer_stats;

// Called after each committed batch with its events in sequence order (borrowed for the
// call). A non-OK return stops the append after that batch; append returns the same code.
typedef evrepl_code (*evri_pg_appended_fn)(void *arg, const evri_event *events, size_t n,
                                           evrepl_status *st);

// Connects to the primary, checks that its schema is the one this build expects and that the
// signer's public key is registered in signing_keys (FAILED_PRECONDITION, naming
// `evrepl register-key`, otherwise). signer is borrowed and must outlive the writer. Codes as
// in admin.h. Writes *out only on success.
EVREPL_NODISCARD evrepl_code evri_pg_writer_open(evri_pg_writer **out, const char *conninfo,
                                                 const evri_signer *signer, evrepl_status *st);

// Appends count events of event_type, each with a copy of payload (payload_len bytes, at most
// EVRI_PG_WRITER_PAYLOAD_MAX; payload may be NULL when payload_len is 0), a fresh random event
// id and the current time. Calls on_batch (may be NULL) after each committed batch. On an
// error, the batches reported before stay committed and nothing after them is (except that
// when the connection breaks during a batch, that batch may or may not have committed: the
// message says so). Codes as in
// admin.h, INVALID_ARGUMENT for a bad event type or payload, FAILED_PRECONDITION when the
// chain trigger refuses a batch.
EVREPL_NODISCARD evrepl_code evri_pg_writer_append(evri_pg_writer *w, const char *event_type,
                                                   const uint8_t *payload, size_t payload_len,
                                                   uint64_t count, evri_pg_appended_fn on_batch,
                                                   void *arg, evrepl_status *st);

// Counters since open.
void evri_pg_writer_stats_get(const evri_pg_writer *w, evri_pg_writer_stats *out);

// Disconnects and frees. Accepts NULL.
void evri_pg_writer_close(evri_pg_writer *w);

#endif // EVREPL_ADAPTERS_POSTGRES_WRITER_H
