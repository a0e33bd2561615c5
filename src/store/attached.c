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

/* How many entries each count checks in full (/proc), taking turns over the table. */
#define ATTACHED_VERIFY_BATCH 32

/* Each entry's token was written by its own process, so it named a live process once: an
 * entry whose pid no longer exists is dead, and one kill(pid, 0) per entry tells that (a
 * /proc read per entry took 155-333 ms with 5,000 attached).  Only a zombie (killed, not yet
 * reaped) or a later process given a dead one's pid passes that test wrongly; a bounded
 * batch of entries, in turns over the table, is checked in full at each count, so such an
 * entry is freed within (entries / batch) counts. */
uint64_t stats_attached(const region_t *r)
{
    static _Atomic uint32_t turn; /* where this process's next full checks begin */
    uint32_t nslots = r->nproc_slots, start = atomic_load_explicit(&turn, memory_order_relaxed);
    uint32_t full = 0, next = start;
    uint64_t n = 0;
    for (uint32_t k = 0; k < nslots; k++) {
        uint32_t i = (start + k) % nslots;
        uint64_t t = atomic_load(&r->procs[i].token);
        if (!t) continue;
        bool in_batch = full < ATTACHED_VERIFY_BATCH;
        if (in_batch) {
            full++;
            next = i + 1;
        }
        if (in_batch ? proc_token_alive(t) : proc_token_pid_exists(t)) n++;
        else atomic_compare_exchange_strong(&r->procs[i].token, &t, 0);
    }
    atomic_store_explicit(&turn, next % nslots, memory_order_relaxed);
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
