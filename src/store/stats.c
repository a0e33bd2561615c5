/* stats.c — thread slots, process entries and their sums (see stats.h). */
#include "store/stats.h"

#include <string.h>

#include "sync/proc.h"
#include "util/clock.h"
#include "util/crashpoint.h"

#define OWNER_FOLDING 1ull /* a slot being folded by whoever found its owner dead */

static void fold(const region_t *r, thread_slot_t *s)
{
    for (int c = 0; c < C_COUNT; c++) {
        uint64_t v = atomic_exchange_explicit(&s->c[c], 0, memory_order_relaxed);
        if (v) atomic_fetch_add_explicit(&r->hdr->retired[c], v, memory_order_relaxed);
    }
}

/* Fold and free every thread slot whose owner process is gone. */
static void sweep_dead_threads(const region_t *r)
{
    for (uint32_t i = 1; i < r->nthread_slots; i++) {
        thread_slot_t *s = &r->threads[i];
        uint64_t owner = atomic_load(&s->owner);
        if (owner <= OWNER_FOLDING || proc_token_alive(owner)) continue;
        if (!atomic_compare_exchange_strong(&s->owner, &owner, OWNER_FOLDING)) continue;
        fold(r, s);
        atomic_store(&s->owner, 0);
    }
}

uint32_t stats_slot_claim(const region_t *r, uint64_t handle_id)
{
    uint64_t me = proc_self_token();
    uint32_t n = r->nthread_slots - 1, first = probe_start(me, n);
    for (int pass = 0; pass < 2; pass++) {
        for (uint32_t k = 0; k < n; k++) {
            thread_slot_t *s = &r->threads[1 + (first + k) % n];
            uint64_t expect = 0;
            if (atomic_load_explicit(&s->owner, memory_order_relaxed) == 0 &&
                atomic_compare_exchange_strong(&s->owner, &expect, me)) {
                CRASHPOINT("slot.claim.owner");
                atomic_store(&s->handle, handle_id);
                return (uint32_t)(s - r->threads);
            }
        }
        if (pass == 0 && !sweep_due(r)) break;
        sweep_dead_threads(r);
    }
    return STATS_SHARED_SLOT;
}

void stats_slot_release(const region_t *r, uint32_t slot)
{
    if (slot == STATS_SHARED_SLOT || slot >= r->nthread_slots) return;
    thread_slot_t *s = &r->threads[slot];
    fold(r, s);
    CRASHPOINT("slot.release.folded");
    atomic_store(&s->handle, 0);
    atomic_store(&s->owner, 0);
}

void stats_release_handle(region_t *r, uint64_t handle_id)
{
    uint64_t me = proc_self_token();
    for (uint32_t i = 1; i < r->nthread_slots; i++) {
        thread_slot_t *s = &r->threads[i];
        if (atomic_load(&s->owner) == me && atomic_load(&s->handle) == handle_id)
            stats_slot_release(r, i);
    }
    stats_detach(r, handle_id);
}

void stats_sum(const region_t *r, uint64_t out[C_COUNT])
{
    for (int c = 0; c < C_COUNT; c++) out[c] = atomic_load_explicit(&r->hdr->retired[c], memory_order_relaxed);
    for (uint32_t i = 0; i < r->nthread_slots; i++)
        for (int c = 0; c < C_COUNT; c++)
            out[c] += atomic_load_explicit(&r->threads[i].c[c], memory_order_relaxed);
}

void stats_reset_owners(const region_t *r)
{
    for (uint32_t i = 0; i < r->nthread_slots; i++) {
        fold(r, &r->threads[i]);
        CRASHPOINT("recover.slot_folded");
        atomic_store(&r->threads[i].owner, 0);
        atomic_store(&r->threads[i].handle, 0);
    }
    for (uint32_t i = 0; i < r->nproc_slots; i++) {
        atomic_store(&r->procs[i].token, 0);
        atomic_store(&r->procs[i].handle, 0);
    }
    atomic_store(&r->hdr->attached_overflow, 0);
    atomic_store(&r->hdr->overflow_locks, 0);
}

void stats_live(const region_t *r, uint32_t now, uint64_t *items, uint64_t *bytes)
{
    uint64_t w = atomic_load_explicit(&r->hdr->flush, memory_order_acquire);
    uint32_t epoch = flush_epoch_of(w), due = flush_due_of(w);
    if (due && due <= FLUSH_DUE_MAX && now >= due) epoch++; /* due, not yet applied by a call */
    uint64_t n = 0, b = 0; /* unsigned: a damaged file's counts wrap, never trap */
    for (uint32_t i = 0; i < r->nstripes; i++) {
        const stripe_t *st = &r->stripes[i];
        if (atomic_load_explicit(&st->epoch, memory_order_relaxed) != epoch) continue;
        uint64_t f = atomic_load_explicit(&st->fresh, memory_order_relaxed);
        n += fresh_items_of(f);
        b += fresh_bytes_of(f);
    }
    *items = n;
    *bytes = b;
}

void stats_fill(const region_t *r, shmc_stats_t *s)
{
    uint64_t t[C_COUNT];
    stats_sum(r, t);
    memset(s, 0, sizeof *s);
#define STATS_COPY_COUNTER(name) s->name = t[C_##name];
#define STATS_COPY_GAUGE(name)
#define STATS_COPY_(kind, name, wire, reset, meaning) STATS_COPY_##kind(name)
    SHMC_STATS(STATS_COPY_)
#undef STATS_COPY_
    stats_live(r, clock_now_s(), &s->curr_items, &s->bytes);
    s->limit_maxbytes = r->hdr->memory_limit;
    s->item_size_max = r->item_size_max;
    s->hash_buckets = r->bucket_mask + 1;
    s->segments = r->nsegments;
    s->segment_size = r->segment_size;
    s->segments_free = atomic_load(&r->hdr->free_count);
    s->curr_connections = stats_attached(r);
    s->total_connections = atomic_load(&r->hdr->total_connections);
    s->time = clock_now_s();
    s->uptime = s->time - r->hdr->create_time;
}
