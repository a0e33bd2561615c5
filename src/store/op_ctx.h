/* op_ctx.h — what one call on the cache carries below the API (the calling thread's counter
 * slot and cas block, the time, the flush epoch), how it counts (CTR), and the one test of
 * whether an item is dead for it (expired or flushed).  Shared by the commands (store.h) and
 * the segment log under them (segment.h), which must not depend on the commands. */
#ifndef SHMC_OP_CTX_H
#define SHMC_OP_CTX_H

#include <stdbool.h>
#include <stdint.h>

#include "region/region.h"

/* What one call needs besides the region: the calling thread's counter slot and cas block,
 * the time, and the flush epoch, read once per call. */
typedef struct op_ctx {
    thread_slot_t *slot;
    bool slot_shared;     /* the overflow slot: counters use atomic adds */
    uint32_t head_hint;   /* which append head this thread tries first */
    uint32_t now;         /* Unix seconds */
    uint32_t epoch;       /* current flush epoch */
    bool retired;         /* the file is frozen or moved (layout.h's FLUSH_DUE_*): the
                           * call must start again (STORE_RETRY) */
    uint64_t *cas_next, *cas_limit; /* this thread's reserved cas values */
    bool no_evict;        /* the handle's SHMC_OPEN_NO_EVICT: never evict a live item */
    struct evict_log *evictions; /* the handle's record of what it evicts (evictions.h), or NULL */
} op_ctx_t;

static inline void ctr_add(op_ctx_t *c, int idx, uint64_t n)
{
    if (c->slot_shared) {
        atomic_fetch_add_explicit(&c->slot->c[idx], n, memory_order_relaxed);
    } else {
        uint64_t v = atomic_load_explicit(&c->slot->c[idx], memory_order_relaxed);
        atomic_store_explicit(&c->slot->c[idx], v + n, memory_order_relaxed);
    }
}
#define CTR(ctx, idx) ctr_add((ctx), (idx), 1)

/* Whether an item with this exptime and flush epoch is dead at the call's time: *flushed
 * when flush_all removed it, else expired. */
static inline bool store_item_dead(uint32_t exptime, uint32_t item_epoch, const op_ctx_t *ctx,
                                   bool *flushed)
{
    *flushed = (int32_t)(item_epoch - ctx->epoch) < 0;
    return *flushed || (exptime && exptime <= ctx->now);
}

#endif
