/* segment.h — the segment log that holds the items.
 *
 * Memory is cut into equal segments.  Writers append items to the segment of an append
 * head (several heads, each with a robust lock, so writers rarely meet).  A full segment is
 * sealed into a FIFO.  When no free segment is left, a head takes the oldest sealed segment
 * and cleans it in place: items that are dead (deleted, replaced, expired, flushed, never
 * linked by a writer that died) are dropped, items fetched since they were written (one
 * access bit each, set by readers at most once) are kept and compacted, the rest are
 * evicted — a CLOCK over the log that approximates LRU without a per-get write.  Because
 * memory is never divided by item size, a change in the workload's sizes needs no
 * rebalancing: there is nothing to calcify (Segcache, NSDI 2021, is the model).
 *
 * Every step is recorded so a successor can finish the work of a cleaner that died:
 * segment states change under the global lock, the cleaner's progress lives in its head. */
#ifndef SHMC_SEGMENT_H
#define SHMC_SEGMENT_H

#include "store/store.h"

/* Lock an append head (trying the hint first), repairing it if its owner died.
 * Returns the head's index, or -1 if no head lock is usable. */
int seg_head_lock(const region_t *r, op_ctx_t *ctx);
void seg_head_unlock(const region_t *r, int head);

/* With head locked: make room for `size` bytes in the head's segment, sealing and
 * cleaning segments as needed.  *unit gets where the item goes.  SHMC_NO_MEMORY when
 * nothing can be freed. */
shmc_rc seg_reserve(const region_t *r, op_ctx_t *ctx, int head, uint32_t size, uint64_t *unit);
/* After the item at the reserved place is completely written: publish its bytes. */
void seg_commit(const region_t *r, int head, uint32_t size);

/* Whether the size bytes of the item at unit lie where an item may live: below the write
 * offset of a segment in use.  Every linked item does, unless the file was damaged; a
 * writer drops one that does not, since the space above a write offset is the next room
 * to be written (so no store ever writes over a linked item, nor copies from it onto
 * itself). */
bool seg_item_placed(const region_t *r, uint32_t unit, uint32_t size);

/* Mark an item as fetched (readers call this after a hit; writes only the first time). */
void seg_mark_accessed(const region_t *r, uint64_t unit);
/* Whether an item was fetched since it was written: its access bit, or its kind when
 * cleaning kept it because of one (memcached's ITEM_FETCHED). */
bool seg_was_fetched(const region_t *r, uint64_t unit, uint8_t kind);

/* Repairs, for a dead lock owner or for recovery at open. */
void seg_rebuild_lists(const region_t *r);              /* global lock held */
uint64_t seg_head_repair(const region_t *r, op_ctx_t *ctx, int head); /* head lock held */

/* Lock the global segment lists, rebuilding them if their owner died. */
bool seg_global_lock(const region_t *r);
void seg_global_unlock(const region_t *r);

#endif
