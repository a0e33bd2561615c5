/* stats.c — thread slots, process entries and their sums (see stats.h). */
#include "store/stats.h"

#include "sync/proc.h"
#include "util/crashpoint.h"

#define OWNER_FOLDING 1ull /* a slot being folded by whoever found its owner dead */

static void fold(const region_t *r, thread_slot_t *s)
{
    for (int c = 0; c < C_COUNT; c++) {
        uint64_t v = atomic_exchange_explicit(&s->c[c], 0, memory_order_relaxed);
        if (v) atomic_fetch_add_explicit(&r->hdr->retired[c], v, memory_order_relaxed);
    }
}

/* Fold and free every slot whose owner process is gone. */
static void sweep_dead(const region_t *r)
{
    for (uint32_t i = 1; i < r->nthread_slots; i++) {
        thread_slot_t *s = &r->threads[i];
        uint64_t owner = atomic_load(&s->owner);
        if (owner <= OWNER_FOLDING || proc_token_alive(owner)) continue;
        if (!atomic_compare_exchange_strong(&s->owner, &owner, OWNER_FOLDING)) continue;
        fold(r, s);
        atomic_store(&s->owner, 0);
    }
    for (uint32_t i = 0; i < r->nproc_slots; i++) {
        uint64_t t = atomic_load(&r->procs[i].token);
        if (t && !proc_token_alive(t)) atomic_compare_exchange_strong(&r->procs[i].token, &t, 0);
    }
}

uint32_t stats_slot_claim(const region_t *r, uint64_t handle_id)
{
    uint64_t me = proc_self_token();
    for (int pass = 0; pass < 2; pass++) {
        for (uint32_t i = 1; i < r->nthread_slots; i++) {
            thread_slot_t *s = &r->threads[i];
            uint64_t expect = 0;
            if (atomic_load_explicit(&s->owner, memory_order_relaxed) == 0 &&
                atomic_compare_exchange_strong(&s->owner, &expect, me)) {
                CRASHPOINT("slot.claim.owner");
                atomic_store(&s->handle, handle_id);
                return i;
            }
        }
        sweep_dead(r);
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

void stats_release_handle(const region_t *r, uint64_t handle_id)
{
    uint64_t me = proc_self_token();
    for (uint32_t i = 1; i < r->nthread_slots; i++) {
        thread_slot_t *s = &r->threads[i];
        if (atomic_load(&s->owner) == me && atomic_load(&s->handle) == handle_id)
            stats_slot_release(r, i);
    }
    for (uint32_t i = 0; i < r->nproc_slots; i++) {
        proc_slot_t *p = &r->procs[i];
        if (atomic_load(&p->token) == me && atomic_load(&p->handle) == handle_id) {
            atomic_store(&p->handle, 0);
            CRASHPOINT("detach.proc_handle");
            atomic_store(&p->token, 0);
        }
    }
}

bool stats_attach(const region_t *r, uint64_t handle_id)
{
    uint64_t me = proc_self_token();
    atomic_fetch_add(&r->hdr->total_connections, 1);
    for (int pass = 0; pass < 2; pass++) {
        for (uint32_t i = 0; i < r->nproc_slots; i++) {
            uint64_t expect = 0;
            if (atomic_compare_exchange_strong(&r->procs[i].token, &expect, me)) {
                CRASHPOINT("attach.proc_token");
                atomic_store(&r->procs[i].handle, handle_id);
                return true;
            }
        }
        sweep_dead(r);
    }
    return false;
}

uint64_t stats_attached(const region_t *r)
{
    uint64_t n = 0;
    for (uint32_t i = 0; i < r->nproc_slots; i++) {
        uint64_t t = atomic_load(&r->procs[i].token);
        if (!t) continue;
        if (proc_token_alive(t)) n++;
        else atomic_compare_exchange_strong(&r->procs[i].token, &t, 0);
    }
    return n;
}

bool stats_left_attached(const region_t *r)
{
    for (uint32_t i = 0; i < r->nproc_slots; i++)
        if (atomic_load(&r->procs[i].token)) return true;
    return false;
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
}
