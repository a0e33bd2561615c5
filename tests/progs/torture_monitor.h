/* torture_monitor.h — the counters that torture workers and the torture test share through a
 * small mapped file: what the parent's watchdog and verdict read. */
#ifndef SHMC_TORTURE_MONITOR_H
#define SHMC_TORTURE_MONITOR_H

#include <stdatomic.h>
#include <stdint.h>

typedef struct torture_monitor {
    _Atomic uint64_t ops;         /* calls completed by every worker */
    _Atomic uint64_t corrupt;     /* values that were not whole records of their key */
    _Atomic uint64_t errors;      /* results memcached would not give */
    _Atomic uint64_t worst_op_ns; /* the longest single call */
    _Atomic uint64_t ready;       /* workers that reached their loop */
} torture_monitor_t;

#endif
