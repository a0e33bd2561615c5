/* index.c — seqlock reads and robust, repairable writes of the hash chains (see index.h). */
#include "store/index.h"

#include <sched.h>
#include <string.h>

#include "store/access.h"
#include "util/crashpoint.h"
#include "util/racy.h"


/* chain_read is inlined into the single get, whose code is then as it was before the batch
 * reader shared it; gcc refuses an inlined acquire fence under TSan (-Wtsan), so not there. */
#if defined(__SANITIZE_THREAD__)
#define CHAIN_READ_INLINE
#else
#define CHAIN_READ_INLINE inline __attribute__((always_inline))
#endif

#define SPINS_BEFORE_LOCK 256

/* The bucket word, with the stripe lock held.  No writer can be inside, so an odd version is
 * a damaged word (nothing this library writes leaves one behind a lock): make it even. */
static uint64_t bucket_load_locked(const region_t *r, uint64_t b)
{
    uint64_t w = atomic_load_explicit(&r->buckets[b], memory_order_acquire);
    if (bucket_version(w) & 1) {
        w = bucket_word(bucket_version(w) + 1, bucket_head(w));
        atomic_store_explicit(&r->buckets[b], w, memory_order_release);
    }
    return w;
}

/* Counts kept in int64 but added as unsigned: a hostile file's values wrap, never trap. */
static int64_t add_wrapping(int64_t a, int64_t b) { return (int64_t)((uint64_t)a + (uint64_t)b); }

/* A bucket word with an even version.  A version that stays odd means a writer is inside
 * (or died inside): after a short spin, take the stripe lock — that waits for a live writer
 * and makes us repair a dead one — and look again. */
static uint64_t load_stable(const region_t *r, uint64_t b)
{
    for (int spins = 0;; spins++) {
        uint64_t w = atomic_load_explicit(&r->buckets[b], memory_order_acquire);
        if (!(bucket_version(w) & 1)) return w;
        if (spins < SPINS_BEFORE_LOCK) {
            __builtin_ia32_pause();
            continue;
        }
        stripe_t *st = index_stripe_of(r, b);
        uint64_t repairs = 0;
        if (index_lock(r, st, &repairs)) {
            /* we hold the lock, so no writer is inside: an odd version is damage; mend it */
            w = bucket_load_locked(r, b);
            index_unlock(st);
            return w;
        }
        sched_yield();
        spins = 0;
    }
}

/* Walk the chain that bucket word w1 of bucket b leads to (at most max_steps items), copying
 * key's item as index_read documents; prefetch: ask for each item's further lines (not
 * needed when a batch already has).  true when the bucket still holds w1 afterwards, which
 * proves the copy whole. */
static CHAIN_READ_INLINE bool
chain_read(const region_t *r, uint64_t b, uint64_t w1, const unsigned char *key,
           uint32_t nkey, uint16_t tag, void *buf, size_t cap, item_view_t *out,
           uint64_t max_steps, bool prefetch)
{
    item_view_t v = {0};
    RACY_READS_BEGIN();
    uint64_t u = bucket_head(w1);
    for (uint64_t steps = 0; u && steps < max_steps; steps++) {
        item_t *it = item_at(r, u);
        if (!it) break;
        /* the value's address depends on the header's key length, and the caller marks
         * a hit in the access bits: ask for those lines now, or each would be one more
         * memory round trip after the header's */
        if (prefetch) {
            __builtin_prefetch((const char *)it + 64);
            __builtin_prefetch((const char *)it + 128);
            access_prefetch(r, u);
        }
        if (it->tag == tag && it->nkey == nkey && item_is_live_kind(it->kind) &&
            item_fits(r, u, nkey, it->nvalue) && memcmp(it->data, key, nkey) == 0) {
            v.unit = u;
            v.nvalue = it->nvalue;
            v.flags = it->flags;
            v.exptime = atomic_load_explicit(&it->exptime, memory_order_relaxed);
            v.epoch = it->epoch;
            v.cas = it->cas;
            v.atime = atomic_load_explicit(&it->atime, memory_order_relaxed);
            v.meta = atomic_load_explicit(&it->meta, memory_order_relaxed);
            v.kind = it->kind;
            if (v.nvalue <= cap && v.nvalue <= r->item_size_max) {
                if (v.nvalue) memcpy(buf, it->data + nkey, v.nvalue);
                v.copied = true;
            }
            break;
        }
        u = atomic_load_explicit(&it->next, memory_order_relaxed);
    }
    RACY_READS_END();
    atomic_thread_fence(memory_order_acquire);
    if (atomic_load_explicit(&r->buckets[b], memory_order_relaxed) != w1) return false;
    *out = v;
    return true;
}

void index_read(const region_t *r, const unsigned char *key, uint32_t nkey, uint64_t hash,
                void *buf, size_t cap, item_view_t *out)
{
    const uint64_t b = index_bucket_of(r, hash);
    const uint64_t max_steps = index_max_chain(r);
    while (!chain_read(r, b, load_stable(r, b), key, nkey, index_tag_of(hash), buf, cap, out,
                       max_steps, true)) {
    }
}

bool index_copy_chain(const region_t *r, uint64_t b, copy_buf_t *buf)
{
    const uint64_t max_steps = index_max_chain(r);
    const size_t start = buf->len;
    for (;;) {
        uint64_t w1 = load_stable(r, b);
        buf->len = start;
        bool fits = true;
        RACY_READS_BEGIN();
        uint64_t u = bucket_head(w1);
        for (uint64_t steps = 0; u && steps < max_steps; steps++) {
            item_t *it = item_at(r, u);
            if (!it) break;
            uint32_t nkey = it->nkey, nvalue = it->nvalue;
            if (item_is_live_kind(it->kind) && item_fits(r, u, nkey, nvalue)) {
                chain_copy_t c = {.unit = u, .cas = it->cas, .nkey = nkey, .nvalue = nvalue,
                                  .flags = it->flags,
                                  .exptime = atomic_load_explicit(&it->exptime, memory_order_relaxed),
                                  .epoch = it->epoch,
                                  .atime = atomic_load_explicit(&it->atime, memory_order_relaxed),
                                  .meta = atomic_load_explicit(&it->meta, memory_order_relaxed),
                                  .kind = it->kind};
                if (buf->cap - buf->len < chain_copy_size(&c)) {
                    fits = false;
                    break;
                }
                memcpy(buf->p + buf->len, &c, sizeof c);
                memcpy(buf->p + buf->len + sizeof c, it->data, (size_t)nkey + nvalue);
                buf->len += chain_copy_size(&c);
            }
            u = atomic_load_explicit(&it->next, memory_order_relaxed);
        }
        RACY_READS_END();
        atomic_thread_fence(memory_order_acquire);
        if (atomic_load_explicit(&r->buckets[b], memory_order_relaxed) != w1) continue;
        if (!fits) { /* a whole chain that does not fit: the caller makes room */
            buf->len = start;
            buf->full = true;
        }
        return fits;
    }
}

void index_read_batch(const region_t *r, const unsigned char *const *keys,
                      const uint32_t *nkeys, const uint64_t *hashes, size_t n,
                      unsigned char *arena, size_t cap, size_t *at, item_view_t *out)
{
    uint64_t b[INDEX_BATCH_MAX], w[INDEX_BATCH_MAX];
    if (n > INDEX_BATCH_MAX) n = INDEX_BATCH_MAX;
    for (size_t i = 0; i < n; i++) { /* every bucket's line is on its way ... */
        b[i] = index_bucket_of(r, hashes[i]);
        __builtin_prefetch(&r->buckets[b[i]]);
    }
    for (size_t i = 0; i < n; i++) { /* ... then every first item's lines and access word */
        w[i] = atomic_load_explicit(&r->buckets[b[i]], memory_order_acquire);
        uint64_t u = bucket_head(w[i]);
        const char *it = (const char *)item_at(r, u);
        if (!it || (bucket_version(w[i]) & 1)) continue;
        __builtin_prefetch(it);
        __builtin_prefetch(it + 64);
        __builtin_prefetch(it + 128);
        access_prefetch(r, u);
    }
    size_t used = 0;
    const uint64_t max_steps = index_max_chain(r);
    for (size_t i = 0; i < n; i++) { /* ... and by now they are here: copy */
        uint16_t tag = index_tag_of(hashes[i]);
        at[i] = used;
        if ((bucket_version(w[i]) & 1) ||
            !chain_read(r, b[i], w[i], keys[i], nkeys[i], tag, arena + used, cap - used, &out[i],
                        max_steps, false))
            index_read(r, keys[i], nkeys[i], hashes[i], arena + used, cap - used, &out[i]);
        if (out[i].unit && out[i].copied) used += out[i].nvalue;
    }
}

bool index_lock(const region_t *r, stripe_t *st, uint64_t *repairs)
{
    enum lock_result lr = robust_lock_acquire(&st->lock);
    if (lr == LOCK_FAILED) return false;
    if (lr == LOCK_OWNER_DIED) {
        CRASHPOINT("stripe.owner_died");
        if (index_repair(r, st)) (*repairs)++;
        robust_lock_mark_repaired(&st->lock);
    }
    return true;
}

void index_unlock(stripe_t *st) { robust_lock_release(&st->lock); }

bool index_is_linked_locked(const region_t *r, uint64_t b, uint64_t u, uint64_t *prev)
{
    uint64_t p = 0, x = bucket_head(atomic_load_explicit(&r->buckets[b], memory_order_relaxed));
    const uint64_t max_steps = index_max_chain(r);
    for (uint64_t steps = 0; x && steps < max_steps; steps++) {
        if (x == u) {
            if (prev) *prev = p;
            return true;
        }
        item_t *it = item_at(r, x);
        if (!it) return false;
        p = x;
        x = atomic_load_explicit(&it->next, memory_order_relaxed);
    }
    return false;
}

uint64_t index_find_locked(const region_t *r, uint64_t b, const unsigned char *key,
                           uint32_t nkey, uint16_t tag, uint64_t *prev)
{
    uint64_t p = 0, x = bucket_head(atomic_load_explicit(&r->buckets[b], memory_order_relaxed));
    const uint64_t max_steps = index_max_chain(r);
    for (uint64_t steps = 0; x && steps < max_steps; steps++) {
        item_t *it = item_at(r, x);
        if (!it) break;
        if (it->tag == tag && it->nkey == nkey && item_is_live_kind(it->kind) &&
            item_fits(r, x, nkey, it->nvalue) && memcmp(it->data, key, nkey) == 0) {
            *prev = p;
            return x;
        }
        p = x;
        x = atomic_load_explicit(&it->next, memory_order_relaxed);
    }
    *prev = 0;
    return 0;
}

/* The one store that changes a chain: the predecessor's link (or the bucket's head, which
 * is published together with the even version) now names `to`. */
static uint64_t set_link(const region_t *r, uint64_t odd_word, uint64_t prev,
                         uint64_t to)
{
    if (prev) {
        item_t *p = item_at(r, prev);
        atomic_store_explicit(&p->next, to, memory_order_release);
        return bucket_word(bucket_version(odd_word) + 1, bucket_head(odd_word));
    }
    return bucket_word(bucket_version(odd_word) + 1, to);
}

/* Under the stripe lock, before a change is recorded: a stripe whose fresh count is of an
 * older flush epoch than the cache's starts counting the new one from 0.  Zero first: a
 * stripe of an older epoch counts for nothing (stats_fill), so a crash between the two
 * stores leaves a state the next writer finishes. */
static void stripe_epoch_move(const region_t *r, stripe_t *st)
{
    uint32_t now = flush_epoch_of(atomic_load_explicit(&r->hdr->flush, memory_order_acquire));
    uint32_t was = atomic_load_explicit(&st->epoch, memory_order_relaxed);
    if ((int32_t)(now - was) <= 0) return;
    atomic_store_explicit(&st->fresh, 0, memory_order_relaxed);
    CRASHPOINT("stripe.epoch.zeroed");
    atomic_store_explicit(&st->epoch, now, memory_order_relaxed);
    CRASHPOINT("stripe.epoch.moved");
}

/* What a change adds to the stripe's fresh count: the items of the stripe's epoch that it
 * links, less those it unlinks.  The unlinked item's share follows from the caller's deltas
 * (d_items/d_bytes are what it links less what it unlinks), so both counts agree on it. */
static uint64_t fresh_after(const region_t *r, const stripe_t *st, uint64_t fresh,
                            uint64_t new_unit, uint64_t old_unit, int64_t d_items, int64_t d_bytes)
{
    uint32_t epoch = atomic_load_explicit(&st->epoch, memory_order_relaxed);
    uint32_t items = fresh_items_of(fresh), units = (uint32_t)(fresh >> 32);
    int64_t new_items = 0, new_bytes = 0;
    const item_t *n = new_unit ? item_at(r, new_unit) : NULL, *o = old_unit ? item_at(r, old_unit) : NULL;
    if (n) {
        new_items = 1;
        new_bytes = (int64_t)item_footprint(n->nkey, n->nvalue);
        if (n->epoch == epoch) {
            items += 1;
            units += (uint32_t)((uint64_t)new_bytes / LAYOUT_UNIT);
        }
    }
    if (o && o->epoch == epoch) {
        items -= (uint32_t)(new_items - d_items);
        units -= (uint32_t)((uint64_t)(new_bytes - d_bytes) / LAYOUT_UNIT);
    }
    return fresh_word(items, units);
}

void index_replace_locked(const region_t *r, stripe_t *st, uint64_t b, uint64_t new_unit,
                          uint64_t old_unit, uint64_t old_prev, int64_t d_items, int64_t d_bytes)
{
    _Atomic uint64_t *bw = &r->buckets[b];
    uint64_t w = bucket_load_locked(r, b);
    stripe_epoch_move(r, st);

    /* intent first: what the change is, and the counts before it */
    const int64_t items = atomic_load_explicit(&st->items, memory_order_relaxed);
    const int64_t bytes = atomic_load_explicit(&st->bytes, memory_order_relaxed);
    const uint64_t fresh = atomic_load_explicit(&st->fresh, memory_order_relaxed);
    atomic_store_explicit(&st->intent_bucket, b, memory_order_relaxed);
    atomic_store_explicit(&st->intent_new, new_unit, memory_order_relaxed);
    CRASHPOINT("link.intent.partial");
    atomic_store_explicit(&st->intent_old, old_unit, memory_order_relaxed);
    atomic_store_explicit(&st->items_before, items, memory_order_relaxed);
    atomic_store_explicit(&st->bytes_before, bytes, memory_order_relaxed);
    atomic_store_explicit(&st->fresh_before, fresh, memory_order_relaxed);
    CRASHPOINT("link.intent.written");
    atomic_store_explicit(&st->intent_active, 1, memory_order_release);
    CRASHPOINT("link.intent.active");

    if (new_unit) {
        item_t *n = item_at(r, new_unit);
        uint64_t succ = old_unit ? atomic_load_explicit(&item_at(r, old_unit)->next, memory_order_relaxed)
                                 : bucket_head(w);
        atomic_store_explicit(&n->next, succ, memory_order_relaxed);
        CRASHPOINT("link.new_next");
    }
    uint64_t odd = bucket_word(bucket_version(w) + 1, bucket_head(w));
    atomic_store_explicit(bw, odd, memory_order_relaxed);
    atomic_thread_fence(memory_order_release);
    CRASHPOINT("link.version_odd");

    atomic_store_explicit(&st->items, add_wrapping(items, d_items), memory_order_relaxed);
    CRASHPOINT("link.items_counted");
    atomic_store_explicit(&st->bytes, add_wrapping(bytes, d_bytes), memory_order_relaxed);
    CRASHPOINT("link.bytes_counted");
    atomic_store_explicit(&st->fresh, fresh_after(r, st, fresh, new_unit, old_unit, d_items, d_bytes),
                          memory_order_relaxed);
    CRASHPOINT("link.fresh_counted");

    uint64_t to = new_unit;
    if (!new_unit) to = atomic_load_explicit(&item_at(r, old_unit)->next, memory_order_relaxed);
    uint64_t prev = old_unit ? old_prev : 0;
    uint64_t even = set_link(r, odd, prev, to);
    CRASHPOINT("link.linked");
    atomic_store_explicit(bw, even, memory_order_release);
    CRASHPOINT("link.version_even");
    atomic_store_explicit(&st->intent_active, 0, memory_order_release);
    CRASHPOINT("link.intent.cleared");
}

void index_set_exptime_locked(const region_t *r, stripe_t *st, uint64_t b, item_t *it,
                              uint32_t exptime)
{
    index_set_state_locked(r, st, b, it, exptime,
                           atomic_load_explicit(&it->meta, memory_order_relaxed));
}

void index_set_state_locked(const region_t *r, stripe_t *st, uint64_t b, item_t *it,
                            uint32_t exptime, uint32_t meta)
{
    _Atomic uint64_t *bw = &r->buckets[b];
    uint64_t w = bucket_load_locked(r, b);
    atomic_store_explicit(&st->intent_bucket, b, memory_order_relaxed);
    atomic_store_explicit(&st->intent_new, 0, memory_order_relaxed);
    atomic_store_explicit(&st->intent_old, 0, memory_order_relaxed);
    atomic_store_explicit(&st->intent_active, 1, memory_order_release);
    CRASHPOINT("touch.intent.active");
    atomic_store_explicit(bw, bucket_word(bucket_version(w) + 1, bucket_head(w)), memory_order_relaxed);
    atomic_thread_fence(memory_order_release);
    CRASHPOINT("touch.version_odd");
    atomic_store_explicit(&it->exptime, exptime, memory_order_relaxed);
    CRASHPOINT("touch.exptime");
    atomic_store_explicit(&it->meta, meta, memory_order_relaxed);
    CRASHPOINT("touch.meta");
    atomic_store_explicit(bw, bucket_word(bucket_version(w) + 2, bucket_head(w)), memory_order_release);
    CRASHPOINT("touch.version_even");
    atomic_store_explicit(&st->intent_active, 0, memory_order_release);
}

bool index_repair(const region_t *r, stripe_t *st)
{
    if (!atomic_load_explicit(&st->intent_active, memory_order_acquire)) return false;
    uint64_t b = st->intent_bucket & r->bucket_mask;
    bool done;
    if (st->intent_new) done = index_is_linked_locked(r, b, st->intent_new, NULL);
    else if (st->intent_old) done = !index_is_linked_locked(r, b, st->intent_old, NULL);
    else done = true;
    /* the counts were written before the chain store: when it did not happen, undo them */
    if (!done) {
        atomic_store_explicit(&st->items, st->items_before, memory_order_relaxed);
        CRASHPOINT("stripe.repair.items");
        atomic_store_explicit(&st->bytes, st->bytes_before, memory_order_relaxed);
        CRASHPOINT("stripe.repair.bytes");
        atomic_store_explicit(&st->fresh, st->fresh_before, memory_order_relaxed);
        CRASHPOINT("stripe.repair.fresh");
    }
    /* a chain changes in one store, so it is whole either way; only the version may be odd */
    uint64_t w = atomic_load_explicit(&r->buckets[b], memory_order_relaxed);
    if (bucket_version(w) & 1)
        atomic_store_explicit(&r->buckets[b], bucket_word(bucket_version(w) + 1, bucket_head(w)),
                              memory_order_release);
    CRASHPOINT("stripe.repair.version");
    atomic_store_explicit(&st->intent_active, 0, memory_order_release);
    return true;
}
