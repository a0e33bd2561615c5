/* stats.h — counters without a shared cache line on the hot path.
 *
 * Each (thread, handle) pair claims a thread slot in the file and is its only writer; the
 * totals are the sum of every slot plus the counts of slots already released ("retired").
 * A slot whose process died is folded into the retired counts by whoever next needs a slot
 * (at most one such sweep a second).  When every slot is taken, threads share slot 0 with
 * atomic adds, so every count stays exact however many threads there are.
 * The table of attached handles is attached.h's. */
#ifndef SHMC_STATS_H
#define SHMC_STATS_H

#include <stdbool.h>
#include <stdint.h>

#include "region/region.h"
#include "store/attached.h"
#include "util/clock.h"

#define STATS_SHARED_SLOT 0u

/* Shared with attached.c: */
/* Whether it is this caller's turn to look for dead owners: at most one sweep a second
 * over the whole cache, since with thousands of live processes attached each sweep reads
 * thousands of /proc entries. */
static inline bool sweep_due(const region_t *r)
{
    uint64_t now = (uint64_t)clock_now_s(), last = atomic_load_explicit(&r->hdr->sweep_time, memory_order_relaxed);
    return now != last && atomic_compare_exchange_strong(&r->hdr->sweep_time, &last, now);
}

/* Where this process starts looking for a free entry in a table of n: spread over the
 * table by pid, so thousands of processes attaching at once do not all probe from 0. */
static inline uint32_t probe_start(uint64_t token, uint32_t n)
{
    return (uint32_t)(((uint32_t)token * 2654435761u) % n);
}

/* A slot for this process and handle id; STATS_SHARED_SLOT when none is free. */
uint32_t stats_slot_claim(const region_t *r, uint64_t handle_id);
/* Fold one of our slots into the retired counts and free it. */
void stats_slot_release(const region_t *r, uint32_t slot);
/* Release every slot and process entry this process holds for handle_id (on close). */
void stats_release_handle(region_t *r, uint64_t handle_id);

/* Totals of every counter. */
void stats_sum(const region_t *r, uint64_t out[C_COUNT]);
/* The items linked since the last flush_all (a delayed one counts once due at `now`) and
 * their bytes: what stats call curr_items and bytes.  Each stripe counts its own (layout.h's
 * fresh), so a flush lowers both at once, as memcached's do, at no cost to the flush. */
void stats_live(const region_t *r, uint32_t now, uint64_t *items, uint64_t *bytes);
/* Fill *s from the counters and the cache's state: every row of SHMC_STATS but
 * protected_mode, which is the handle's (0 here). */
void stats_fill(const region_t *r, shmc_stats_t *s);
/* Forget every slot (recovery when no process is attached): fold them all. */
void stats_reset_owners(const region_t *r);

#endif
