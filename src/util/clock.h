/* clock.h — the cache's clock.  Expiry is in whole seconds of CLOCK_REALTIME (memcached's
 * rules are in Unix time), read with the coarse clock: a few ns, no syscall. */
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

#endif
