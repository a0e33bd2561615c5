/* segment.c — append heads, the free stack and sealed FIFO, and in-place cleaning of the
 * oldest segment (see segment.h for the design). */
#include "store/segment.h"

#include <string.h>

#include "store/access.h"
#include "store/evictions.h"
#include "store/index.h"
#include "util/hash.h"
#include "util/crashpoint.h"
#include "util/racy.h"

/* ---- the global lists ---- */

/* Heap-sort the FIFO's first n entries by seal order, in place: repairs run where a thread may
 * have died anywhere, so they allocate nothing. */
static void sift_down(const region_t *r, uint32_t *a, uint32_t i, uint32_t n)
{
    for (;;) {
        uint32_t big = i, l = 2 * i + 1, rt = l + 1;
        if (l < n && atomic_load(&r->segs[a[l]].seq) > atomic_load(&r->segs[a[big]].seq)) big = l;
        if (rt < n && atomic_load(&r->segs[a[rt]].seq) > atomic_load(&r->segs[a[big]].seq)) big = rt;
        if (big == i) return;
        uint32_t t = a[i];
        a[i] = a[big];
        a[big] = t;
        i = big;
    }
}

static void sort_by_seq(const region_t *r, uint32_t *a, uint32_t n)
{
    for (uint32_t i = n / 2; i-- > 0;) sift_down(r, a, i, n);
    for (uint32_t end = n; end-- > 1;) {
        uint32_t t = a[0];
        a[0] = a[end];
        a[end] = t;
        sift_down(r, a, 0, end);
    }
}

/* Rebuild the free stack and the FIFO from the segments' own states, which every step
 * keeps exact; so a holder that died in the middle of a list operation loses nothing. */
void seg_rebuild_lists(const region_t *r)
{
    header_t *h = r->hdr;
    uint32_t nfree = 0, nsealed = 0;
    for (uint32_t s = 0; s < r->nsegments; s++) {
        segmeta_t *m = &r->segs[s];
        uint32_t state = atomic_load(&m->state), owner = atomic_load(&m->owner);
        bool owned = owner < r->nheads;
        if (state == SEG_OPEN && !(owned && r->heads[owner].seg == s + 1)) {
            /* taken from the free stack but never handed to its head: nothing was written */
            atomic_store(&m->state, SEG_FREE);
            CRASHPOINT("lists.rebuild.freed");
            state = SEG_FREE;
        }
        if (state == SEG_CLEANING && !(owned && r->heads[owner].victim == s + 1))
            state = SEG_SEALED; /* cleaning is idempotent: queue it again */
        if (state > SEG_CLEANING) {
            atomic_store(&m->seq, 0); /* unknown state: oldest, so cleaning drops it first */
            state = SEG_SEALED;
        }
        if (state == SEG_SEALED) atomic_store(&m->state, SEG_SEALED);
        if (state == SEG_FREE) {
            atomic_store(&m->write_off, 0);
            CRASHPOINT("lists.rebuild.free_entry");
            r->free_stack[nfree++] = s;
        } else if (state == SEG_SEALED) {
            r->fifo[nsealed++] = s;
        }
    }
    sort_by_seq(r, (uint32_t *)r->fifo, nsealed);
    CRASHPOINT("lists.rebuild.sorted");
    atomic_store(&h->free_count, nfree);
    CRASHPOINT("lists.rebuild.free_count");
    atomic_store(&h->fifo_first, 0);
    CRASHPOINT("lists.rebuild.fifo_first");
    atomic_store(&h->fifo_count, nsealed);
}

bool seg_global_lock(const region_t *r)
{
    enum lock_result lr = robust_lock_acquire(&r->hdr->global_lock);
    if (lr == LOCK_FAILED) return false;
    if (lr == LOCK_OWNER_DIED) {
        CRASHPOINT("global.owner_died");
        seg_rebuild_lists(r);
        robust_lock_mark_repaired(&r->hdr->global_lock);
    }
    return true;
}

void seg_global_unlock(const region_t *r) { robust_lock_release(&r->hdr->global_lock); }

static void fifo_push(const region_t *r, uint32_t s)
{
    header_t *h = r->hdr;
    uint32_t first = atomic_load(&h->fifo_first), count = atomic_load(&h->fifo_count);
    r->fifo[(first + count) % r->nsegments] = s;
    CRASHPOINT("fifo.push.entry");
    atomic_store(&h->fifo_count, count + 1);
}

/* Whether segment s exists and is in state st. */
static bool seg_is(const region_t *r, uint32_t s, enum seg_state st)
{
    return s < r->nsegments && atomic_load(&r->segs[s].state) == st;
}

/* Under global_lock: seal head hi's segment, if it has one that is open and its own — state
 * first, then the list, then the head (which names no segment afterwards). */
static void seal_head_segment(const region_t *r, int hi)
{
    head_t *hd = &r->heads[hi];
    if (!hd->seg) return;
    uint32_t s = hd->seg - 1;
    if (s < r->nsegments && atomic_load(&r->segs[s].state) == SEG_OPEN &&
        atomic_load(&r->segs[s].owner) == (uint32_t)hi) {
        atomic_store(&r->segs[s].seq, atomic_fetch_add(&r->hdr->seal_seq, 1) + 1);
        CRASHPOINT("seal.seq");
        atomic_store(&r->segs[s].state, SEG_SEALED);
        CRASHPOINT("seal.state");
        fifo_push(r, s);
        CRASHPOINT("seal.pushed");
    }
    hd->seg = 0;
}

/* ---- placement ---- */

bool seg_item_placed(const region_t *r, uint32_t unit, uint32_t size)
{
    uint32_t seg = region_segment_of(r, unit);
    if (seg >= r->nsegments) return false;
    uint64_t off = (uint64_t)(unit - r->data_unit_first) * LAYOUT_UNIT - (uint64_t)seg * r->segment_size;
    const segmeta_t *m = &r->segs[seg];
    return atomic_load_explicit(&m->state, memory_order_relaxed) != SEG_FREE &&
           off + size <= atomic_load_explicit(&m->write_off, memory_order_relaxed);
}

/* ---- cleaning ---- */

/* Cover a gap of size bytes (a multiple of 8, at least 8): only its first 8 are written. */
static void write_filler(unsigned char *at, uint32_t size)
{
    item_t *f = (item_t *)at;
    f->kind = ITEM_FILLER;
    f->nvalue = size;
}

/* Drop every item linked at a unit of [from, to) of the segment at base: unlinked from its bucket's
 * chain under the stripe lock and counted in damaged_dropped.  A sound file links items only
 * where a walk of the segment starts them, so this finds only what a damaged file links
 * inside another item, a filler, unparsable bytes or the room past the write offset — bytes
 * that cleaning and appends are about to write.  Calling it over every byte before writing
 * there is what makes "no store writes over a linked item" hold whatever the file says about
 * item extents.  Only bytes that could start an item of its bucket are looked up (an item
 * whose key hashes to another bucket is never found by key; the scrub drops it). */
static void drop_hidden(const region_t *r, op_ctx_t *ctx, unsigned char *base, uint32_t from,
                        uint32_t to)
{
    if (to > r->segment_size) to = r->segment_size;
    for (uint32_t off = (from + LAYOUT_UNIT - 1) & ~(LAYOUT_UNIT - 1);
         off < to && r->segment_size - off >= ITEM_HEADER; off += LAYOUT_UNIT) {
        item_t *it = (item_t *)(base + off);
        RACY_READS_BEGIN(); /* any bytes: a guess, proven under the stripe lock */
        uint8_t kind = it->kind, nkey = it->nkey;
        bool candidate = item_is_live_kind(kind) && nkey && r->segment_size - off - ITEM_HEADER >= nkey;
        uint64_t hash = candidate ? hash_key(it->data, nkey, r->hash_seed) : 0;
        RACY_READS_END();
        if (!candidate) continue;
        uint64_t unit = region_unit_of(r, it);
        uint64_t b = index_bucket_of(r, hash);
        stripe_t *st = index_stripe_of(r, b);
        uint64_t repairs = 0, prev;
        if (!index_lock(r, st, &repairs)) continue;
        ctr_add(ctx, C_repairs, repairs);
        if (index_is_linked_locked(r, b, unit, &prev)) {
            int64_t bytes = item_fits(r, unit, it->nkey, it->nvalue)
                                ? (int64_t)item_footprint(it->nkey, it->nvalue) : 0;
            index_replace_locked(r, st, b, 0, unit, prev, -1, -bytes); /* its own intent */
            CTR(ctx, C_damaged_dropped);
        }
        index_unlock(st);
    }
}

/* Before appends write up to `upto` in segment s (head lock held): drop what a damaged file
 * links between the segment's checked mark and there, a chunk at a time so that the cost
 * spreads over the appends. */
#define CHECK_CHUNK (64u * 1024u)
static void check_room(const region_t *r, op_ctx_t *ctx, uint32_t s, uint32_t upto)
{
    uint32_t from = atomic_load(&r->segs[s].checked);
    uint64_t to = (uint64_t)upto + CHECK_CHUNK;
    if (to > r->segment_size) to = r->segment_size;
    drop_hidden(r, ctx, region_segment(r, s), from, (uint32_t)to);
    atomic_store(&r->segs[s].checked, (uint32_t)to);
}

/* Whether the cache is full of live data, so that cleaning must evict items nobody
 * fetched; until then it only drops dead items and compacts the rest (memcached, too, evicts
 * only when memory holds no free or dead space).  Room is kept for every head's segment. */
static bool must_evict(const region_t *r)
{
    uint64_t live = 0; /* unsigned: a damaged file's counts wrap, never trap */
    for (uint32_t i = 0; i < r->nstripes; i++)
        live += (uint64_t)atomic_load_explicit(&r->stripes[i].bytes, memory_order_relaxed);
    uint64_t capacity = (uint64_t)r->nsegments * r->segment_size;
    uint64_t headroom = (uint64_t)(r->nheads + 1) * r->segment_size;
    return (int64_t)live > 0 && live + headroom > capacity;
}

/* Clean head's victim from its recorded progress on; then it becomes the head's segment. */
static void clean_victim(const region_t *r, op_ctx_t *ctx, int hi, bool force_evict)
{
    const bool evict_cold = !ctx->no_evict && (force_evict || must_evict(r));
    head_t *hd = &r->heads[hi];
    uint32_t seg = hd->victim - 1;
    unsigned char *base = region_segment(r, seg);
    uint32_t end = atomic_load(&r->segs[seg].write_off);
    if (end > r->segment_size) end = r->segment_size;
    uint64_t progress = atomic_load(&hd->clean);
    uint32_t rd = (uint32_t)progress, wr = (uint32_t)(progress >> 32);
    end &= ~(LAYOUT_UNIT - 1);
    if (wr > rd || rd > end || rd % LAYOUT_UNIT || wr % LAYOUT_UNIT)
        rd = wr = end; /* corrupt progress: keep nothing new */
    uint32_t looked = wr; /* drop_hidden ran over every unit from wr up to here */

    while (rd < end) {
        item_t *it = (item_t *)(base + rd);
        uint64_t unit = region_unit_of(r, it);
        uint32_t sz;
        enum item_step step = item_step(r, base, rd, end, &sz);
        if (step == STEP_ITEM) {
            /* where this item's copy, or a filler before it, may be written: look there
             * first (not under a stripe lock: drop_hidden takes them) */
            uint32_t dest_end = wr + sz < rd ? wr + sz : rd;
            if (dest_end > looked) {
                drop_hidden(r, ctx, base, looked > wr ? looked : wr, dest_end);
                looked = dest_end;
            }
            uint64_t hash = hash_key(it->data, it->nkey, r->hash_seed);
            uint64_t b = index_bucket_of(r, hash);
            stripe_t *st = index_stripe_of(r, b);
            uint64_t repairs = 0;
            if (!index_lock(r, st, &repairs)) break;
            CRASHPOINT("clean.stripe_locked");
            ctr_add(ctx, C_repairs, repairs);
            uint64_t prev;
            if (index_is_linked_locked(r, b, unit, &prev)) {
                bool flushed;
                bool dead = store_item_dead(atomic_load(&it->exptime), it->epoch, ctx, &flushed);
                bool hot = access_test_clear(r, seg, rd);
                bool fetched = hot || it->kind == ITEM_LIVE_FETCHED;
                if (dead) {
                    index_replace_locked(r, st, b, 0, unit, prev, -1, -(int64_t)sz);
                    CRASHPOINT("clean.dead_unlinked");
                    CTR(ctx, C_reclaimed);
                    if (!fetched) CTR(ctx, C_expired_unfetched);
                } else if (hot || !evict_cold) {
                    if (wr + sz <= rd) {
                        item_t *copy = (item_t *)(base + wr);
                        memcpy(copy, it, sz);
                        if (hot) copy->kind = ITEM_LIVE_FETCHED;
                        CRASHPOINT("clean.copy_written");
                        /* before the relink: never overwrite a linked copy */
                        atomic_store(&hd->clean, head_clean_word(rd, wr + sz));
                        CRASHPOINT("clean.copy_progress");
                        index_replace_locked(r, st, b, region_unit_of(r, copy), unit, prev, 0, 0);
                        CRASHPOINT("clean.copy_relinked");
                        access_test_clear(r, seg, wr);
                        wr += sz;
                    } else {
                        if (rd > wr) write_filler(base + wr, rd - wr);
                        if (hot) it->kind = ITEM_LIVE_FETCHED; /* its bit is cleared */
                        CRASHPOINT("clean.kept_filler");
                        wr = rd + sz; /* kept where it is */
                    }
                    if (hot) CTR(ctx, C_reinserted);
                } else {
                    index_replace_locked(r, st, b, 0, unit, prev, -1, -(int64_t)sz);
                    CRASHPOINT("clean.evicted");
                    CTR(ctx, C_evictions);
                    if (!fetched) CTR(ctx, C_evicted_unfetched);
                    if (ctx->evictions) evict_log_add(ctx->evictions, it, fetched, ctx->now);
                }
            }
            index_unlock(st);
        } else if (step != STEP_FILLER) {
            break; /* the rest of the segment cannot be trusted */
        }
        rd += sz;
        atomic_store(&hd->clean, head_clean_word(rd, wr));
        CRASHPOINT("clean.progress");
    }

    /* the segment becomes this head's, holding what was kept; the rest is looked at as
     * appends come to it */
    if (!seg_global_lock(r)) return;
    CRASHPOINT("clean.done.locked");
    access_clear_from(r, seg, wr);
    atomic_store(&r->segs[seg].checked, looked > wr ? looked : wr);
    atomic_store(&r->segs[seg].write_off, wr);
    CRASHPOINT("clean.done.write_off");
    hd->seg = seg + 1;
    CRASHPOINT("clean.done.head_seg");
    atomic_store(&r->segs[seg].state, SEG_OPEN);
    CRASHPOINT("clean.done.open");
    atomic_store(&r->segs[seg].owner, (uint32_t)hi);
    CRASHPOINT("clean.done.owner");
    hd->victim = 0;
    CRASHPOINT("clean.done.victim");
    seg_global_unlock(r);
}

/* ---- heads ---- */

uint64_t seg_head_repair(const region_t *r, op_ctx_t *ctx, int hi)
{
    head_t *hd = &r->heads[hi];
    uint64_t repairs = 0;
    if (hd->seg) {
        uint32_t s = hd->seg - 1;
        if (s >= r->nsegments || atomic_load(&r->segs[s].state) != SEG_OPEN ||
            atomic_load(&r->segs[s].owner) != (uint32_t)hi) {
            hd->seg = 0;
            CRASHPOINT("head.repair.seg_dropped");
            repairs++;
        }
    }
    if (hd->victim) {
        repairs++;
        uint32_t s = hd->victim - 1;
        bool mine = false;
        if (s < r->nsegments && seg_global_lock(r)) {
            mine = atomic_load(&r->segs[s].state) == SEG_CLEANING &&
                   atomic_load(&r->segs[s].owner) == (uint32_t)hi;
            if (!mine) hd->victim = 0;
            seg_global_unlock(r);
        } else {
            hd->victim = 0;
        }
        if (mine) {
            CRASHPOINT("head.repair.resume_cleaning");
            /* a head cleans only without a segment of its own (only a damaged file has both):
             * the cleaned victim becomes its segment, so seal the other one */
            if (hd->seg && seg_global_lock(r)) {
                seal_head_segment(r, hi);
                seg_global_unlock(r);
            }
            hd->seg = 0;
            clean_victim(r, ctx, hi, false);
        }
    }
    return repairs;
}

static bool head_take(const region_t *r, op_ctx_t *ctx, int hi, enum lock_result lr)
{
    if (lr == LOCK_FAILED) return false;
    if (lr == LOCK_OWNER_DIED) {
        CRASHPOINT("head.owner_died");
        ctr_add(ctx, C_repairs, seg_head_repair(r, ctx, hi));
        robust_lock_mark_repaired(&r->heads[hi].lock);
    }
    return true;
}

/* How long a writer waits for its own head, when every head is busy, before it looks at
 * the others again: a holder that is stopped (SIGSTOP, a debugger) then stalls only the
 * writers of a cache with one head, not those that could write through another. */
#define HEAD_WAIT_NS (2 * 1000 * 1000)

int seg_head_lock(const region_t *r, op_ctx_t *ctx)
{
    uint32_t n = r->nheads, first = ctx->head_hint % n;
    for (;;) {
        for (uint32_t i = 0; i < n; i++) {
            int hi = (int)((first + i) % n);
            enum lock_result lr = robust_lock_try(&r->heads[hi].lock);
            if (lr != LOCK_FAILED && head_take(r, ctx, hi, lr)) {
                ctx->head_hint = (uint32_t)hi;
                return hi;
            }
        }
        int hi = (int)first;
        enum lock_result lr = n == 1 ? robust_lock_acquire(&r->heads[hi].lock)
                                     : robust_lock_wait(&r->heads[hi].lock, HEAD_WAIT_NS);
        if (lr != LOCK_TIMEOUT) return head_take(r, ctx, hi, lr) ? hi : -1;
    }
}

void seg_head_unlock(const region_t *r, int hi) { robust_lock_release(&r->heads[hi].lock); }

shmc_rc seg_reserve(const region_t *r, op_ctx_t *ctx, int hi, uint32_t size, uint64_t *unit)
{
    head_t *hd = &r->heads[hi];
    header_t *h = r->hdr;
    if (size > r->segment_size) return SHMC_TOO_LARGE;
    /* SHMC_OPEN_NO_EVICT on a cache full of live items: one victim is cleaned (it may hold
     * expired items), then the store fails rather than evict */
    bool full_tried = false;
    for (uint32_t attempt = 0; attempt < 2 * r->nsegments + 4; attempt++) {
        if (hd->seg && (hd->seg > r->nsegments ||
                        atomic_load_explicit(&r->segs[hd->seg - 1].state, memory_order_relaxed) != SEG_OPEN ||
                        atomic_load_explicit(&r->segs[hd->seg - 1].owner, memory_order_relaxed) != (uint32_t)hi))
            hd->seg = 0; /* only a damaged file names a segment that is not this head's */
        if (hd->seg) {
            uint32_t s = hd->seg - 1;
            uint32_t off = atomic_load_explicit(&r->segs[s].write_off, memory_order_relaxed);
            off = (off + LAYOUT_UNIT - 1) & ~(LAYOUT_UNIT - 1); /* only a damaged file needs it */
            if (off <= r->segment_size && size <= r->segment_size - off) {
                if (off + size > atomic_load_explicit(&r->segs[s].checked, memory_order_relaxed))
                    check_room(r, ctx, s, off + size);
                atomic_store_explicit(&r->segs[s].write_off, off, memory_order_relaxed);
                *unit = region_unit_of(r, region_segment(r, s) + off);
                return SHMC_OK;
            }
        }
        if (!seg_global_lock(r)) return SHMC_NO_MEMORY;
        seal_head_segment(r, hi);
        uint32_t nfree = atomic_load(&h->free_count);
        if (nfree > r->nsegments || atomic_load(&h->fifo_count) > r->nsegments ||
            (nfree && !seg_is(r, r->free_stack[nfree - 1], SEG_FREE)) ||
            (atomic_load(&h->fifo_count) &&
             !seg_is(r, r->fifo[atomic_load(&h->fifo_first) % r->nsegments], SEG_SEALED))) {
            seg_rebuild_lists(r); /* a damaged list: the segments' own states are the truth */
            nfree = atomic_load(&h->free_count);
        }
        if (nfree) {
            uint32_t s = r->free_stack[nfree - 1];
            atomic_store(&h->free_count, nfree - 1);
            CRASHPOINT("reserve.free.popped");
            atomic_store(&r->segs[s].write_off, 0);
            atomic_store(&r->segs[s].checked, 0);
            atomic_store(&r->segs[s].owner, (uint32_t)hi);
            CRASHPOINT("reserve.free.owner");
            atomic_store(&r->segs[s].state, SEG_OPEN);
            CRASHPOINT("reserve.free.open");
            hd->seg = s + 1;
            CRASHPOINT("reserve.free.head_seg");
            seg_global_unlock(r);
            access_clear_from(r, s, 0);
            region_prefault_segment(r, s); /* this head's writes go there next */
            continue;
        }
        uint32_t count = atomic_load(&h->fifo_count);
        if (ctx->no_evict && must_evict(r)) {
            if (full_tried) count = 0;
            full_tried = true;
        }
        if (!count) {
            seg_global_unlock(r);
            return SHMC_NO_MEMORY;
        }
        uint32_t first = atomic_load(&h->fifo_first);
        uint32_t v = r->fifo[first % r->nsegments];
        /* the head's record first, so a successor always knows whose cleaning this is */
        atomic_store(&hd->clean, head_clean_word(0, 0));
        CRASHPOINT("reserve.victim.progress");
        hd->victim = v + 1;
        CRASHPOINT("reserve.victim.head");
        atomic_store(&r->segs[v].owner, (uint32_t)hi);
        CRASHPOINT("reserve.victim.owner");
        atomic_store(&r->segs[v].state, SEG_CLEANING);
        CRASHPOINT("reserve.victim.cleaning");
        atomic_store(&h->fifo_first, (first + 1) % r->nsegments);
        CRASHPOINT("reserve.victim.fifo_first");
        atomic_store(&h->fifo_count, count - 1);
        CRASHPOINT("reserve.victim.fifo_count");
        seg_global_unlock(r);
        region_prefault_segment(r, v);
        /* a whole round of compaction that freed too little: memory is fragmented by
         * live data, so evict the cold items after all */
        clean_victim(r, ctx, hi, attempt >= r->nsegments);
    }
    return SHMC_NO_MEMORY;
}

void seg_commit(const region_t *r, int hi, uint32_t size)
{
    uint32_t s = r->heads[hi].seg - 1;
    uint32_t off = atomic_load_explicit(&r->segs[s].write_off, memory_order_relaxed);
    CRASHPOINT("commit.written");
    atomic_store_explicit(&r->segs[s].write_off, off + size, memory_order_release);
    CRASHPOINT("commit.published");
}
