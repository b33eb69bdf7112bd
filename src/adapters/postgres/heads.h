// What each replica showed at its last good verification: a (sequence, content hash) it held
// with the primary's hash. A replica that later no longer holds it went backwards (restored
// from an old backup, or lost a transaction) and is diverged, not lagging. Kept in memory and,
// with --state-file, in a small JSON file that survives restarts.
//
// Thread safety: every function locks; instances on all workers share one heads table.
#ifndef EVREPL_ADAPTERS_POSTGRES_HEADS_H
#define EVREPL_ADAPTERS_POSTGRES_HEADS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "evrepl/status.h"
#include "evrepl/types.h"

typedef struct evri_pg_heads evri_pg_heads;

// Opens the table for the replica ids (configuration order). With a path, reads the file if it
// exists (INVALID_ARGUMENT when it is not a state file; entries for unknown ids are kept as
// they are and written back); without one, starts empty. Writes *out only on success.
EVREPL_NODISCARD evrepl_code evri_pg_heads_open(evri_pg_heads **out, const char *path,
                                                char *const *ids, size_t n, evrepl_status *st);

// Writes pending changes (if any) and frees. Accepts NULL.
void evri_pg_heads_close(evri_pg_heads *h);

// The remembered head of replica i; false when there is none.
bool evri_pg_heads_get(evri_pg_heads *h, size_t i, uint64_t *seq, uint8_t hash[EVREPL_HASH_BYTES]);

// Remembers (seq, hash) for replica i when seq is above what it remembers.
void evri_pg_heads_advance(evri_pg_heads *h, size_t i, uint64_t seq,
                           const uint8_t hash[EVREPL_HASH_BYTES]);

// Writes the file if something changed since the last write (atomically: temp file, fsync,
// rename). INTERNAL/PERMISSION_DENIED when it cannot. No-op without a path.
EVREPL_NODISCARD evrepl_code evri_pg_heads_flush(evri_pg_heads *h, evrepl_status *st);

#endif // EVREPL_ADAPTERS_POSTGRES_HEADS_H
