/* attached.h — the table of attached handles (memcached's connections).
 *
 * Attached handles each take a process entry, named by the process's token, so that a
 * killed process's entry is found dead and freed.  The table is sized by the memory limit
 * (layout.h: 16384 entries for the default cache).  A handle beyond it holds a lock byte of
 * the file instead (region_overflow_claim), which the kernel drops when its process dies, so
 * it is counted exactly too, killed or not; it is also counted in attached_overflow until it
 * detaches, so that a lone opener knows whether such a handle ended without detaching (and
 * scrubs). */
#ifndef SHMC_ATTACHED_H
#define SHMC_ATTACHED_H

#include <stdbool.h>
#include <stdint.h>

#include "region/region.h"

/* Record an attached handle (memcached's connection); false if the table is full, when it
 * takes an overflow lock byte instead (and still works, of course). */
bool stats_attach(region_t *r, uint64_t handle_id);
/* Handles attached now, forgetting those of processes that died. */
uint64_t stats_attached(const region_t *r);

/* Whether any handle is still recorded as attached, live or not.  Before recovery (when no
 * other process has the file open) it means some user of the last session never detached:
 * it was killed, or the machine stopped. */
bool stats_left_attached(const region_t *r);

/* Free this process's entry (or overflow count) for handle_id (on close). */
void stats_detach(region_t *r, uint64_t handle_id);

#endif
