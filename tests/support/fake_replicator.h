// A scripted replicator for tests, used through the port like any backend: it returns
// configured results, can fail the Nth call, and can block (sleep) to exercise deadlines and
// the worker pool (SQLite's fault suites, nng's test helpers).
//
// Thread safety: the script is set before use; call counters are atomic.
#ifndef EVREPL_TESTS_SUPPORT_FAKE_REPLICATOR_H
#define EVREPL_TESTS_SUPPORT_FAKE_REPLICATOR_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "ports/replicator.h"

typedef struct fake_script {
    bool blocking;           // reported in the ops table (selects the worker path)
    uint32_t sleep_ms;       // every propagate/verify sleeps this long (capped at deadline
                             // when honour_deadline)
    bool honour_deadline;    // stop sleeping at the deadline
    evrepl_code fail_code;   // OK = succeed
    uint64_t fail_from_call; // 1-based: calls from this one on fail (0 = never)
    evrepl_serving_status health;
    const char *replica_ids[3];
    size_t n_replicas;
    bool no_idle_op; // leave evrepl_replicator_ops.idle NULL
} fake_script;

typedef struct fake_replicator {
    fake_script script;
    atomic_uint_fast64_t calls;
    atomic_uint_fast64_t concurrent;     // calls running now
    atomic_uint_fast64_t max_concurrent; // the most that ran at once
    atomic_uint_fast64_t idle_calls;     // times a worker ran its idle chores
    evrepl_replicator_ops ops;           // a copy with blocking set from the script
} fake_replicator;

// Initialises f from script; returns the port handle for it.
evrepl_replicator fake_replicator_init(fake_replicator *f, const fake_script *script);

#endif // EVREPL_TESTS_SUPPORT_FAKE_REPLICATOR_H
