#include "common/clock.h"

#include <stdio.h>
#include <time.h>

uint64_t
evri_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

evrepl_timestamp
evri_wallclock(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (evrepl_timestamp){.seconds = (int64_t)ts.tv_sec, .nanos = (int32_t)ts.tv_nsec};
}

int32_t
evri_ms_left(uint64_t deadline_ns)
{
    uint64_t now = evri_now_ns();
    if (now >= deadline_ns) {
        return 0;
    }
    uint64_t ms = (deadline_ns - now + EVRI_NS_PER_MS - 1) / EVRI_NS_PER_MS;
    return ms > INT32_MAX ? INT32_MAX : (int32_t)ms;
}

void
evri_timestamp_format(evrepl_timestamp ts, char out[32])
{
    struct tm tm;
    time_t t = (time_t)ts.seconds;
    int32_t nanos = ts.nanos;
    if (nanos < 0 || nanos > 999999999) {
        nanos = 0;
    }
    if (gmtime_r(&t, &tm) == NULL) {
        snprintf(out, 32, "invalid-time");
        return;
    }
    size_t n = strftime(out, 32, "%Y-%m-%dT%H:%M:%S", &tm);
    if (n == 0 || n > 20) { // years beyond 9999 do not fit RFC 3339
        snprintf(out, 32, "invalid-time");
        return;
    }
    snprintf(out + n, 32 - n, ".%06dZ", (int)(nanos / 1000));
}
