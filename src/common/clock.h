// Clocks: monotonic nanoseconds for deadlines, wall time for timestamps.
//
// Thread safety: safe from any thread.
#ifndef EVREPL_COMMON_CLOCK_H
#define EVREPL_COMMON_CLOCK_H

#include <stdint.h>

#include "evrepl/types.h"

#define EVRI_NS_PER_MS 1000000ull
#define EVRI_NS_PER_US 1000ull

// CLOCK_MONOTONIC in nanoseconds.
uint64_t evri_now_ns(void);

// CLOCK_REALTIME as a protobuf-style timestamp.
evrepl_timestamp evri_wallclock(void);

// Milliseconds left until deadline_ns (0 when passed), saturated to INT32_MAX.
int32_t evri_ms_left(uint64_t deadline_ns);

// Writes an RFC 3339 UTC rendering ("2026-11-27T03:47:46.123456Z", microseconds) into out.
void evri_timestamp_format(evrepl_timestamp ts, char out[32]);

#endif // EVREPL_COMMON_CLOCK_H
