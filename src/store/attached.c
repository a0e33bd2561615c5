/* attached.c — the table of attached handles (see attached.h). */
#include "store/attached.h"

#include "store/stats.h"
#include "sync/proc.h"
#include "util/crashpoint.h"

/* Free every process entry whose process is gone. */
static void sweep_dead_procs(const region_t *r)
{
    for (uint32_t i = 0; i < r->nproc_slots; i++) {
        uint64_t t = atomic_load(&r->procs[i].token);
        if (t && !proc_token_alive(t)) atomic_compare_exchange_strong(&r->procs[i].token, &t, 0);
    }
}

bool stats_attach(region_t *r, uint64_t handle_id)
{
    uint64_t me = proc_self_token();
    atomic_fetch_add(&r->hdr->total_connections, 1);
    uint32_t n = r->nproc_slots, first = probe_start(me, n);
    for (int pass = 0; pass < 2; pass++) {
        for (uint32_t k = 0; k < n; k++) {
            proc_slot_t *p = &r->procs[(first + k) % n];
            uint64_t expect = 0;
            if (atomic_load_explicit(&p->token, memory_order_relaxed) == 0 &&
                atomic_compare_exchange_strong(&p->token, &expect, me)) {
                CRASHPOINT("attach.proc_token");
                atomic_store(&p->handle, handle_id);
                return true;
            }
        }
        if (pass == 0 && !sweep_due(r)) break;
        sweep_dead_procs(r);
    }
    atomic_fetch_add(&r->hdr->attached_overflow, 1);
    atomic_store(&r->overflow_token, me);
    uint64_t k = region_overflow_claim(r), seen = atomic_load(&r->hdr->overflow_locks);
    while (k > seen && !atomic_compare_exchange_weak(&r->hdr->overflow_locks, &seen, k)) {
    }
    return false;
}

void stats_detach(region_t *r, uint64_t handle_id)
{
    uint64_t me = proc_self_token();
    for (uint32_t i = 0; i < r->nproc_slots; i++) {
        proc_slot_t *p = &r->procs[i];
        if (atomic_load(&p->token) == me && atomic_load(&p->handle) == handle_id) {
            atomic_store(&p->handle, 0);
            CRASHPOINT("detach.proc_handle");
            atomic_store(&p->token, 0);
        }
    }
    uint64_t mine = me; /* a forked child's copy of the handle names its parent: not ours */
    if (atomic_compare_exchange_strong(&r->overflow_token, &mine, 0))
        atomic_fetch_sub(&r->hdr->attached_overflow, 1);
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
    /* handles beyond the table: each holds a lock byte, gone with its process */
    return n + region_overflow_count(r, atomic_load(&r->hdr->overflow_locks));
}

bool stats_left_attached(const region_t *r)
{
    if (atomic_load(&r->hdr->attached_overflow)) return true;
    for (uint32_t i = 0; i < r->nproc_slots; i++)
        if (atomic_load(&r->procs[i].token)) return true;
    return false;
}
