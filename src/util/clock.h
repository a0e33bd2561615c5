/* clock.h — the two clocks the cache uses.  Expiry is in whole seconds of CLOCK_REALTIME
 * (memcached's rules are in Unix time), read with the coarse clock: a few ns, no syscall.
 * Waits and measurements use CLOCK_MONOTONIC. */
#ifndef SHMC_CLOCK_H
#define SHMC_CLOCK_H

#include <stdint.h>
#include <time.h>

static inline uint32_t clock_now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME_COARSE, &ts);
    return (uint32_t)ts.tv_sec;
}

static inline uint64_t clock_mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

#endif
