/* stats.h — counters without a shared cache line on the hot path, and the table of
 * attached handles.
 *
 * Each (thread, handle) pair claims a thread slot in the file and is its only writer; the
 * totals are the sum of every slot plus the counts of slots already released ("retired").
 * A slot whose process died is folded into the retired counts by whoever next needs a slot
 * (at most one such sweep a second).  When every slot is taken, threads share slot 0 with
 * atomic adds, so every count stays exact however many threads there are.
 *
 * Attached handles (memcached's connections) each take a process entry, named by the
 * process's token, so that a killed process's entry is found dead and freed.  The table is
 * sized by the memory limit (layout.h: 16384 entries for the default cache).  A handle
 * beyond it holds a lock byte of the file instead (region_overflow_claim), which the kernel
 * drops when its process dies, so it is counted exactly too, killed or not; it is also
 * counted in attached_overflow until it detaches, so that a lone opener knows whether such
 * a handle ended without detaching (and scrubs). */
#ifndef SHMC_STATS_H
#define SHMC_STATS_H

#include <stdbool.h>
#include <stdint.h>

#include "region/region.h"

#define STATS_SHARED_SLOT 0u

/* A slot for this process and handle id; STATS_SHARED_SLOT when none is free. */
uint32_t stats_slot_claim(const region_t *r, uint64_t handle_id);
/* Fold one of our slots into the retired counts and free it. */
void stats_slot_release(const region_t *r, uint32_t slot);
/* Release every slot and process entry this process holds for handle_id (on close). */
void stats_release_handle(region_t *r, uint64_t handle_id);

/* Record an attached handle (memcached's connection); false if the table is full, when it
 * takes an overflow lock byte instead (and still works, of course). */
bool stats_attach(region_t *r, uint64_t handle_id);
/* Handles attached now, forgetting those of processes that died. */
uint64_t stats_attached(const region_t *r);

/* Whether any handle is still recorded as attached, live or not.  Before recovery (when no
 * other process has the file open) it means some user of the last session never detached:
 * it was killed, or the machine stopped. */
bool stats_left_attached(const region_t *r);

/* Totals of every counter. */
void stats_sum(const region_t *r, uint64_t out[C_COUNT]);
/* Fill *s from the counters and the cache's state: every row of SHMC_STATS but
 * protected_mode, which is the handle's (0 here). */
void stats_fill(const region_t *r, shmc_stats_t *s);
/* Forget every slot (recovery when no process is attached): fold them all. */
void stats_reset_owners(const region_t *r);

#endif
