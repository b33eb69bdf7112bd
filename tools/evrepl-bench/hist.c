// The latency histogram and phase results.
#include <string.h>

#include "bench.h"

#define HIST_EXACT (2u * BENCH_HIST_SUB) // values below this have a bucket each

static unsigned
hist_index(uint64_t v)
{
    if (v < HIST_EXACT) {
        return (unsigned)v;
    }
    unsigned e = 63u - (unsigned)__builtin_clzll(v); // floor(log2 v) >= 7
    unsigned shift = e - 6u;
    unsigned idx =
        HIST_EXACT + (shift - 1u) * BENCH_HIST_SUB + (unsigned)((v >> shift) - BENCH_HIST_SUB);
    return idx < BENCH_HIST_BUCKETS ? idx : BENCH_HIST_BUCKETS - 1u;
}

// The middle of bucket idx, in ns.
static uint64_t
hist_value(unsigned idx)
{
    if (idx < HIST_EXACT) {
        return idx;
    }
    unsigned shift = (idx - HIST_EXACT) / BENCH_HIST_SUB + 1u;
    uint64_t m = BENCH_HIST_SUB + (idx - HIST_EXACT) % BENCH_HIST_SUB;
    return (m << shift) + ((1ull << shift) >> 1);
}

void
bench_hist_add(bench_hist *h, uint64_t ns)
{
    h->counts[hist_index(ns)]++;
    h->n++;
    h->sum_ns += ns;
    if (ns > h->max_ns) {
        h->max_ns = ns;
    }
}

void
bench_hist_merge(bench_hist *into, const bench_hist *from)
{
    for (unsigned i = 0; i < BENCH_HIST_BUCKETS; i++) {
        into->counts[i] += from->counts[i];
    }
    into->n += from->n;
    into->sum_ns += from->sum_ns;
    if (from->max_ns > into->max_ns) {
        into->max_ns = from->max_ns;
    }
}

uint64_t
bench_hist_quantile(const bench_hist *h, double q)
{
    if (h->n == 0) {
        return 0;
    }
    // The smallest value with at least q of the samples at or below it.
    uint64_t rank = (uint64_t)(q * (double)h->n + 0.999999);
    if (rank < 1) {
        rank = 1;
    }
    if (rank > h->n) {
        rank = h->n;
    }
    uint64_t seen = 0;
    for (unsigned i = 0; i < BENCH_HIST_BUCKETS; i++) {
        seen += h->counts[i];
        if (seen >= rank) {
            uint64_t v = hist_value(i);
            return v < h->max_ns ? v : h->max_ns;
        }
    }
    return h->max_ns;
}

void
bench_result_merge(bench_result *into, const bench_result *from)
{
    bench_hist_merge(&into->hist, &from->hist);
    into->calls += from->calls;
    for (unsigned i = 0; i < BENCH_OUT_N; i++) {
        into->out[i] += from->out[i];
    }
    for (unsigned i = 0; i < BENCH_X_N; i++) {
        into->x[i] += from->x[i];
    }
    into->elapsed_ns += from->elapsed_ns;
    into->thread_cpu_ns += from->thread_cpu_ns;
}

uint64_t
bench_result_errors(const bench_result *r)
{
    return r->calls - r->out[0];
}
