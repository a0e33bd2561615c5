/* store.c — memcached's commands over the index and the segment log.
 *
 * Lock order, everywhere: append head, then stripe; the global segment lock is taken only
 * with a head (or nothing) held, never with a stripe.  Reads take no lock at all. */
#include "store/store.h"

#include <stdio.h>
#include <string.h>

#include "store/access.h"
#include "store/index.h"
#include "store/segment.h"
#include "util/clock.h"
#include "util/hash.h"
#include "util/crashpoint.h"

void store_ctx_begin(const region_t *r, op_ctx_t *ctx)
{
    header_t *h = r->hdr;
    ctx->now = clock_now_s();
    uint64_t w = atomic_load_explicit(&h->flush, memory_order_acquire);
    /* a delayed flush that came due: claim it and move the epoch in one step */
    while (flush_due_of(w) && ctx->now >= flush_due_of(w)) {
        uint64_t applied = flush_word(flush_epoch_of(w) + 1, 0);
        if (atomic_compare_exchange_weak(&h->flush, &w, applied)) {
            CRASHPOINT("flush.due_applied");
            w = applied;
        }
    }
    ctx->epoch = flush_epoch_of(w);
    ctx->retired = flush_due_of(w) >= FLUSH_DUE_FROZEN;
}

uint32_t store_exptime_abs(int64_t exptime, uint32_t now)
{
    if (exptime < 0) return 1; /* a second into 1970: already expired */
    if (exptime == 0) return 0;
    if (exptime <= SHMC_EXPTIME_RELATIVE_MAX) return now + (uint32_t)exptime;
    if (exptime >= (int64_t)UINT32_MAX) return UINT32_MAX;
    return (uint32_t)exptime;
}

static uint64_t next_cas(const region_t *r, op_ctx_t *ctx)
{
    enum { CAS_BLOCK = 1024 };
    if (*ctx->cas_next >= *ctx->cas_limit) {
        *ctx->cas_next = atomic_fetch_add(&r->hdr->cas_next, CAS_BLOCK);
        *ctx->cas_limit = *ctx->cas_next + CAS_BLOCK;
    }
    return (*ctx->cas_next)++;
}

/* Everything a locked operation needs about its key. */
typedef struct keyref {
    const unsigned char *key;
    uint32_t nkey;
    uint64_t hash;
    uint64_t bucket;
    uint16_t tag;
    stripe_t *stripe;
} keyref_t;

static keyref_t keyref(const region_t *r, const unsigned char *key, uint32_t nkey)
{
    uint64_t hash = hash_key(key, nkey, r->hash_seed);
    keyref_t k = {key, nkey, hash, index_bucket_of(r, hash), index_tag_of(hash), NULL};
    k.stripe = index_stripe_of(r, k.bucket);
    return k;
}

/* false when the lock is unusable, or when the file was retired before we got it (a resize
 * passes every stripe once after freezing, then copies: a writer that gets a stripe after
 * that must not change the old file; ctx->retired tells lock_failed which). */
static bool lock_key(const region_t *r, op_ctx_t *ctx, const keyref_t *k)
{
    uint64_t repairs = 0;
    bool ok = index_lock(r, k->stripe, &repairs);
    ctr_add(ctx, C_repairs, repairs);
    if (ok && flush_due_of(atomic_load_explicit(&r->hdr->flush, memory_order_acquire)) >=
                  FLUSH_DUE_FROZEN) {
        index_unlock(k->stripe);
        ctx->retired = true;
        return false;
    }
    return ok;
}

static shmc_rc lock_failed(const op_ctx_t *ctx) { return ctx->retired ? STORE_RETRY : SHMC_BAD_FILE; }

static uint32_t footprint_of(const item_t *it) { return (uint32_t)item_footprint(it->nkey, it->nvalue); }

/* Why find_live found no live item although one was linked. */
enum dead_why { DEAD_NONE = 0, DEAD_EXPIRED = 1, DEAD_FLUSHED = 2 };

/* Under the stripe lock: the live item for k (0 if none).  A dead one found on the way is
 * unlinked (memcached's lazy reclaim), and *dead_why (enum dead_why) says why it was dead. */
static uint64_t find_live(const region_t *r, op_ctx_t *ctx, const keyref_t *k, uint64_t *prev,
                          int *dead_why)
{
    *dead_why = DEAD_NONE;
    uint64_t u = index_find_locked(r, k->bucket, k->key, k->nkey, k->tag, prev);
    if (!u) return 0;
    item_t *it = item_at(r, u);
    if (!seg_item_placed(r, u, footprint_of(it))) { /* a damaged file: see seg_item_placed */
        index_replace_locked(r, k->stripe, k->bucket, 0, u, *prev, -1, -(int64_t)footprint_of(it));
        CTR(ctx, C_damaged_dropped);
        return 0;
    }
    bool flushed;
    if (store_item_dead(atomic_load_explicit(&it->exptime, memory_order_relaxed), it->epoch, ctx,
                        &flushed)) {
        index_replace_locked(r, k->stripe, k->bucket, 0, u, *prev, -1, -(int64_t)footprint_of(it));
        CTR(ctx, C_reclaimed);
        *dead_why = flushed ? DEAD_FLUSHED : DEAD_EXPIRED;
        return 0;
    }
    return u;
}

static void count_dead_get(op_ctx_t *ctx, int why)
{
    if (why == DEAD_EXPIRED) CTR(ctx, C_get_expired);
    if (why == DEAD_FLUSHED) CTR(ctx, C_get_flushed);
}

static shmc_rc gat_locked(const region_t *r, op_ctx_t *ctx, const keyref_t *k, uint32_t exptime,
                          get_out_t *out)
{
    if (!lock_key(r, ctx, k)) return lock_failed(ctx);
    uint64_t prev;
    int why;
    uint64_t u = find_live(r, ctx, k, &prev, &why);
    shmc_rc rc = SHMC_OK;
    if (!u) {
        count_dead_get(ctx, why);
        rc = SHMC_NOT_FOUND;
    } else {
        item_t *it = item_at(r, u);
        out->nvalue = it->nvalue;
        out->flags = it->flags;
        out->cas = it->cas;
        if (it->nvalue > out->cap) {
            rc = SHMC_BUFFER_TOO_SMALL;
        } else {
            if (it->nvalue) memcpy(out->buf, item_value(it), it->nvalue);
            index_set_exptime_locked(r, k->stripe, k->bucket, it, exptime);
            access_mark(r, u);
            if (ctx->now - atomic_load_explicit(&it->atime, memory_order_relaxed) >= ITEM_ATIME_INTERVAL)
                atomic_store_explicit(&it->atime, ctx->now, memory_order_relaxed);
        }
    }
    index_unlock(k->stripe);
    return rc;
}

/* Move a fetched item's last access to now (memcached's bump, at most once per
 * ITEM_ATIME_INTERVAL): under the stripe lock, so that it is written only while the item is
 * linked, never into room a writer may have taken since the lock-free read. */
static void bump_atime(const region_t *r, op_ctx_t *ctx, const keyref_t *k, uint64_t unit)
{
    if (!lock_key(r, ctx, k)) return;
    if (index_is_linked_locked(r, k->bucket, unit, NULL)) {
        item_t *it = item_at(r, unit);
        if (ctx->now - atomic_load_explicit(&it->atime, memory_order_relaxed) >= ITEM_ATIME_INTERVAL)
            atomic_store_explicit(&it->atime, ctx->now, memory_order_relaxed);
    }
    index_unlock(k->stripe);
}

/* The answer of a lock-free get from what index_read saw. */
static shmc_rc view_result(const region_t *r, op_ctx_t *ctx, const keyref_t *k,
                           const item_view_t *v, get_out_t *out)
{
    bool flushed = false;
    if (!v->unit) return SHMC_NOT_FOUND;
    if (store_item_dead(v->exptime, v->epoch, ctx, &flushed)) {
        int why;
        uint64_t prev;
        if (lock_key(r, ctx, k)) { /* reclaim it now, as memcached does on a get */
            find_live(r, ctx, k, &prev, &why);
            index_unlock(k->stripe);
        }
        count_dead_get(ctx, flushed ? DEAD_FLUSHED : DEAD_EXPIRED);
        return SHMC_NOT_FOUND;
    }
    out->nvalue = v->nvalue;
    out->flags = v->flags;
    out->cas = v->cas;
    if (!v->copied) return SHMC_BUFFER_TOO_SMALL; /* the caller asks again: count then */
    access_mark(r, v->unit);
    if (__builtin_expect(ctx->now - v->atime >= ITEM_ATIME_INTERVAL, 0)) bump_atime(r, ctx, k, v->unit);
    return SHMC_OK;
}

shmc_rc store_get(const region_t *r, op_ctx_t *ctx, const unsigned char *key, uint32_t nkey,
                  bool do_touch, uint32_t exptime, get_out_t *out)
{
    keyref_t k = keyref(r, key, nkey);
    shmc_rc rc;
    if (do_touch) {
        rc = gat_locked(r, ctx, &k, exptime, out);
    } else {
        item_view_t v;
        index_read(r, key, nkey, k.hash, out->buf, out->cap, &v);
        rc = view_result(r, ctx, &k, &v, out);
    }
    if (rc == SHMC_BUFFER_TOO_SMALL) return rc;
    /* as memcached counts them: gat is a get command and a touch command whose hit or
     * miss counts as a touch hit or miss only */
    CTR(ctx, C_cmd_get);
    if (do_touch) {
        CTR(ctx, C_cmd_touch);
        CTR(ctx, rc == SHMC_OK ? C_touch_hits : C_touch_misses);
    } else {
        CTR(ctx, rc == SHMC_OK ? C_get_hits : C_get_misses);
    }
    return rc;
}

/* ---- mg: metadata and win tokens ---- */

static item_t *write_item(const region_t *r, op_ctx_t *ctx, uint64_t unit, const keyref_t *k,
                          const void *v1, size_t n1, const void *v2, size_t n2, uint32_t flags,
                          uint32_t exptime, uint32_t meta);

static void meta_fill(const region_t *r, uint64_t unit, const item_view_t *v, meta_out_t *m)
{
    memset(m, 0, sizeof *m);
    m->cas = v->cas;
    m->flags = v->flags;
    m->nvalue = v->nvalue;
    m->exptime = m->prev_exptime = v->exptime;
    m->atime = v->atime;
    m->fetched = access_was_fetched(r, unit, v->kind);
    m->stale = (v->meta & ITEM_META_STALE) != 0;
}

/* Who gets the win for an item in state `meta` expiring at exptime (memcached's mg): one
 * already out (Z); else a stale item's, one whose win lapsed (its winner, of a vivified
 * stub, a stale or an expiring item, did not store within ITEM_WIN_TIMEOUT: the item still
 * wants its value), or with R one that expires within `recache` s. */
static uint8_t win_of(uint32_t meta, uint32_t exptime, const meta_req_t *req, uint32_t now)
{
    if (item_win_out(meta, now)) return SHMC_WIN_TAKEN;
    if (req->what & SHMC_GET_NO_WIN) return SHMC_WIN_NONE;
    if (meta & (ITEM_META_STALE | ITEM_META_WIN)) return SHMC_WIN_WON;
    /* memcached compares R with the expiry as it stands at R: after an earlier T */
    if ((req->what & SHMC_GET_TOUCH) && (req->what & SHMC_GET_RECACHE_AFTER_TOUCH))
        exptime = req->exptime;
    if ((req->what & SHMC_GET_RECACHE) && exptime && exptime < now + req->recache)
        return SHMC_WIN_WON;
    return SHMC_WIN_NONE;
}

/* The locked half of store_get_meta: a change to make (touch, a win, last access), or a
 * miss to vivify (room for the stub already reserved in head hi's segment at unit). */
static shmc_rc get_meta_locked(const region_t *r, op_ctx_t *ctx, const keyref_t *k,
                               const meta_req_t *req, int hi, uint64_t unit, get_out_t *out,
                               meta_out_t *m)
{
    if (!lock_key(r, ctx, k)) return lock_failed(ctx);
    uint64_t prev;
    int why;
    uint64_t u = find_live(r, ctx, k, &prev, &why);
    shmc_rc rc = SHMC_OK;
    if (!u && hi >= 0) { /* vivify: an empty item, and its win, for this caller alone */
        uint32_t size = (uint32_t)item_footprint(k->nkey, 0);
        /* memcached applies N's TTL and a T's in the request's order: the last one stays */
        uint32_t exptime = (req->what & SHMC_GET_TOUCH) &&
                                   !(req->what & SHMC_GET_VIVIFY_AFTER_TOUCH)
                               ? req->exptime : req->vivify_exptime;
        item_t *it = write_item(r, ctx, unit, k, NULL, 0, NULL, 0, 0, exptime,
                                item_meta_win(ctx->now));
        CRASHPOINT("vivify.written");
        seg_commit(r, hi, size);
        index_replace_locked(r, k->stripe, k->bucket, unit, 0, 0, 1, size);
        CTR(ctx, C_total_items);
        memset(m, 0, sizeof *m);
        m->cas = it->cas;
        m->exptime = exptime;
        m->atime = ctx->now;
        m->created = true;
        m->win = SHMC_WIN_WON;
        CTR(ctx, C_win_tokens);
        if (!(req->what & SHMC_GET_NO_BUMP)) access_mark(r, unit);
        out->nvalue = 0;
        out->flags = 0;
        out->cas = it->cas;
    } else if (!u) {
        if (!(req->what & SHMC_GET_NO_COUNT)) count_dead_get(ctx, why);
        rc = SHMC_NOT_FOUND;
    } else {
        item_t *it = item_at(r, u);
        item_view_t v = {.unit = u, .nvalue = it->nvalue, .flags = it->flags,
                         .exptime = atomic_load(&it->exptime), .epoch = it->epoch, .cas = it->cas,
                         .atime = atomic_load(&it->atime), .meta = atomic_load(&it->meta),
                         .kind = it->kind};
        meta_fill(r, u, &v, m);
        out->nvalue = it->nvalue;
        out->flags = it->flags;
        out->cas = it->cas;
        if (it->nvalue > out->cap) {
            rc = SHMC_BUFFER_TOO_SMALL; /* nothing changed: the caller asks again */
        } else {
            if (it->nvalue) memcpy(out->buf, item_value(it), it->nvalue);
            m->win = win_of(v.meta, v.exptime, req, ctx->now);
            uint32_t meta = v.meta;
            if (m->win == SHMC_WIN_WON) {
                meta = (meta & ITEM_META_STALE) | item_meta_win(ctx->now);
                CTR(ctx, C_win_tokens);
                if (v.meta & ITEM_META_WIN) CTR(ctx, C_win_timeouts); /* the last one lapsed */
            }
            if (m->stale) CTR(ctx, C_stale_hits);
            if (req->what & SHMC_GET_TOUCH) m->exptime = req->exptime;
            if (meta != v.meta || m->exptime != v.exptime)
                index_set_state_locked(r, k->stripe, k->bucket, it, m->exptime, meta);
            if (!(req->what & SHMC_GET_NO_BUMP)) {
                access_mark(r, u);
                if (ctx->now - v.atime >= ITEM_ATIME_INTERVAL)
                    atomic_store_explicit(&it->atime, ctx->now, memory_order_relaxed);
            }
        }
    }
    index_unlock(k->stripe);
    return rc;
}

shmc_rc store_get_meta(const region_t *r, op_ctx_t *ctx, const unsigned char *key,
                       uint32_t nkey, const meta_req_t *req, get_out_t *out, meta_out_t *m)
{
    keyref_t k = keyref(r, key, nkey);
    item_view_t v;
    index_read(r, key, nkey, k.hash, out->buf, out->cap, &v);
    bool flushed;
    shmc_rc rc;
    if (v.unit && !store_item_dead(v.exptime, v.epoch, ctx, &flushed)) {
        /* a hit: lock-free unless something must change */
        bool bump = !(req->what & SHMC_GET_NO_BUMP);
        if (!(req->what & SHMC_GET_TOUCH) && !(bump && ctx->now - v.atime >= ITEM_ATIME_INTERVAL) &&
            win_of(v.meta, v.exptime, req, ctx->now) != SHMC_WIN_WON) {
            out->nvalue = v.nvalue;
            out->flags = v.flags;
            out->cas = v.cas;
            if (!v.copied) return SHMC_BUFFER_TOO_SMALL;
            meta_fill(r, v.unit, &v, m);
            m->win = win_of(v.meta, v.exptime, req, ctx->now);
            if (bump) access_mark(r, v.unit);
            if (m->stale) CTR(ctx, C_stale_hits);
            rc = SHMC_OK;
            goto count;
        }
    }
    rc = get_meta_locked(r, ctx, &k, req, -1, 0, out, m);
    if (rc == SHMC_NOT_FOUND && (req->what & SHMC_GET_VIVIFY)) {
        int hi = seg_head_lock(r, ctx);
        if (hi < 0) return SHMC_BAD_FILE;
        uint64_t unit;
        rc = seg_reserve(r, ctx, hi, (uint32_t)item_footprint(nkey, 0), &unit);
        if (rc == SHMC_OK) rc = get_meta_locked(r, ctx, &k, req, hi, unit, out, m);
        seg_head_unlock(r, hi);
    }
    if (rc == SHMC_BUFFER_TOO_SMALL) return rc;
count:
    if (req->what & SHMC_GET_NO_COUNT) return rc;
    /* as memcached's mg counts: a touch, or a get; a vivified miss is a hit */
    if (req->what & SHMC_GET_TOUCH) {
        CTR(ctx, C_cmd_touch);
        CTR(ctx, rc == SHMC_OK ? C_touch_hits : C_touch_misses);
    } else {
        CTR(ctx, C_cmd_get);
        CTR(ctx, rc == SHMC_OK ? C_get_hits : C_get_misses);
    }
    return rc;
}

_Static_assert(STORE_BATCH_MAX <= INDEX_BATCH_MAX, "a store batch is one index batch");

void store_get_batch(const region_t *r, op_ctx_t *ctx, const unsigned char *const *keys,
                     const uint32_t *nkeys, size_t n, unsigned char *arena, size_t cap,
                     get_out_t *out, shmc_rc *rc)
{
    uint64_t hashes[STORE_BATCH_MAX] = {0}; /* all of n are set below; gcc cannot tell */
    size_t at[STORE_BATCH_MAX];
    item_view_t v[STORE_BATCH_MAX];
    if (n > STORE_BATCH_MAX) n = STORE_BATCH_MAX;
    for (size_t i = 0; i < n; i++) hashes[i] = hash_key(keys[i], nkeys[i], r->hash_seed);
    index_read_batch(r, keys, nkeys, hashes, n, arena, cap, at, v);
    uint64_t reclaimed[STORE_BATCH_MAX]; /* buckets where a dead item was unlinked */
    size_t nreclaimed = 0;
    for (size_t i = 0; i < n; i++) {
        keyref_t k = {keys[i], nkeys[i], hashes[i], index_bucket_of(r, hashes[i]),
                      index_tag_of(hashes[i]), NULL};
        k.stripe = index_stripe_of(r, k.bucket);
        out[i].buf = arena + at[i];
        out[i].cap = cap - at[i];
        for (size_t j = 0; j < nreclaimed; j++) {
            if (reclaimed[j] != k.bucket) continue;
            /* this view may be of the item just unlinked (a key asked for twice): look
             * again, so that it counts as the single gets one after another would; in no
             * more room than the old view took, the next key's value lies beyond */
            size_t room = v[i].unit && v[i].copied ? v[i].nvalue : 0;
            index_read(r, keys[i], nkeys[i], hashes[i], out[i].buf, room, &v[i]);
            break;
        }
        bool flushed;
        if (v[i].unit && store_item_dead(v[i].exptime, v[i].epoch, ctx, &flushed))
            reclaimed[nreclaimed++] = k.bucket;
        rc[i] = view_result(r, ctx, &k, &v[i], &out[i]);
        if (rc[i] == SHMC_BUFFER_TOO_SMALL) continue;
        CTR(ctx, C_cmd_get);
        CTR(ctx, rc[i] == SHMC_OK ? C_get_hits : C_get_misses);
    }
}

/* Write an item's bytes at unit: header, key, then value in up to two parts. */
static item_t *write_item(const region_t *r, op_ctx_t *ctx, uint64_t unit, const keyref_t *k,
                          const void *v1, size_t n1, const void *v2, size_t n2, uint32_t flags,
                          uint32_t exptime, uint32_t meta)
{
    item_t *it = item_at(r, unit);
    atomic_store_explicit(&it->atime, ctx->now, memory_order_relaxed);
    atomic_store_explicit(&it->meta, meta, memory_order_relaxed);
    atomic_store_explicit(&it->next, 0, memory_order_relaxed);
    it->nvalue = (uint32_t)(n1 + n2);
    it->flags = flags;
    atomic_store_explicit(&it->exptime, exptime, memory_order_relaxed);
    it->cas = next_cas(r, ctx);
    it->epoch = ctx->epoch;
    it->nkey = (uint8_t)k->nkey;
    it->kind = ITEM_LIVE;
    it->tag = k->tag;
    memcpy(it->data, k->key, k->nkey);
    if (n1) memcpy(it->data + k->nkey, v1, n1);
    if (n2) memcpy(it->data + k->nkey + n1, v2, n2);
    it->sum = item_sum(r, it);
    return it;
}

shmc_rc store_write(const region_t *r, op_ctx_t *ctx, enum store_mode mode,
                    const unsigned char *key, uint32_t nkey, const void *value, size_t nvalue,
                    uint32_t flags, uint32_t exptime, uint64_t cas, bool stale_ok,
                    uint64_t *cas_out)
{
    keyref_t k = keyref(r, key, nkey);
    __builtin_prefetch(&r->buckets[k.bucket]); /* a miss to overlap with the work below */
    CTR(ctx, C_cmd_set);
    int hi = seg_head_lock(r, ctx);
    if (hi < 0) return SHMC_BAD_FILE;
    const bool joins = mode == MODE_APPEND || mode == MODE_PREPEND;
    uint32_t need = (uint32_t)item_footprint(nkey, nvalue);
    shmc_rc rc;
    for (;;) {
        uint64_t unit;
        rc = seg_reserve(r, ctx, hi, need, &unit);
        if (rc != SHMC_OK) break;
        if (mode == MODE_SET) {
            /* a set always stores, and its item does not depend on the old one: write it
             * into our reserved room before the stripe lock (nothing sees it until it is
             * linked), while the bucket and the item it leads to come in from memory.  The
             * conditional modes write only once they know they store, so that no bytes are
             * left behind for the next writer of this room (another process, possibly). */
            write_item(r, ctx, unit, &k, value, nvalue, NULL, 0, flags, exptime, 0);
            CRASHPOINT("set.written_unlocked");
            __builtin_prefetch(item_at(r, bucket_head(atomic_load_explicit(
                                              &r->buckets[k.bucket], memory_order_relaxed))));
        }
        if (!lock_key(r, ctx, &k)) {
            rc = lock_failed(ctx);
            break;
        }
        uint64_t prev;
        int why;
        uint64_t old = find_live(r, ctx, &k, &prev, &why);
        item_t *o = old ? item_at(r, old) : NULL;
        bool stale = false; /* ms I with an older cas: store, but stale */
        if (mode == MODE_ADD && o) rc = SHMC_NOT_STORED;
        else if ((mode == MODE_REPLACE || joins) && !o) rc = SHMC_NOT_STORED;
        else if (mode == MODE_CAS && !o) rc = SHMC_NOT_FOUND;
        else if (mode == MODE_CAS && o->cas != cas) {
            stale = stale_ok && cas < o->cas;
            if (!stale) rc = SHMC_EXISTS;
        } else if (joins && cas && o->cas != cas) rc = SHMC_EXISTS;
        if (mode == MODE_CAS)
            CTR(ctx, rc == SHMC_NOT_FOUND ? C_cas_misses : rc == SHMC_EXISTS ? C_cas_badval : C_cas_hits);
        if (rc != SHMC_OK) {
            index_unlock(k.stripe);
            break;
        }
        if (joins && (uint64_t)o->nvalue + nvalue > r->item_size_max) {
            /* memcached cannot allocate the joined item and answers NOT_STORED */
            index_unlock(k.stripe);
            rc = SHMC_NOT_STORED;
            break;
        }
        uint32_t size = (uint32_t)item_footprint(nkey, joins ? o->nvalue + nvalue : nvalue);
        if (size > need) { /* the old value grew since we sized the room: make more */
            index_unlock(k.stripe);
            need = size;
            continue;
        }
        item_t *it;
        if (mode == MODE_APPEND)
            it = write_item(r, ctx, unit, &k, item_value(o), o->nvalue, value, nvalue, o->flags,
                            atomic_load(&o->exptime), 0);
        else if (mode == MODE_PREPEND)
            it = write_item(r, ctx, unit, &k, value, nvalue, item_value(o), o->nvalue, o->flags,
                            atomic_load(&o->exptime), 0);
        else if (stale) /* keeps the old item's expiry and win, as memcached does */
            it = write_item(r, ctx, unit, &k, value, nvalue, NULL, 0, flags, atomic_load(&o->exptime),
                            ITEM_META_STALE | (atomic_load(&o->meta) & ~ITEM_META_STALE));
        else if (mode != MODE_SET)
            it = write_item(r, ctx, unit, &k, value, nvalue, NULL, 0, flags, exptime, 0);
        else
            it = item_at(r, unit);
        if (cas_out) *cas_out = it->cas;
        CRASHPOINT("write.written");
        seg_commit(r, hi, size);
        index_replace_locked(r, k.stripe, k.bucket, unit, old, prev, old ? 0 : 1,
                             (int64_t)size - (o ? (int64_t)footprint_of(o) : 0));
        index_unlock(k.stripe);
        CTR(ctx, C_total_items);
        break;
    }
    seg_head_unlock(r, hi);
    return rc;
}

shmc_rc store_put_copy(const region_t *r, op_ctx_t *ctx, const unsigned char *key,
                       uint32_t nkey, const void *value, uint32_t nvalue, uint32_t flags,
                       uint32_t exptime, uint64_t cas, uint32_t atime, uint32_t meta,
                       bool fetched)
{
    keyref_t k = keyref(r, key, nkey);
    int hi = seg_head_lock(r, ctx);
    if (hi < 0) return SHMC_BAD_FILE;
    uint32_t size = (uint32_t)item_footprint(nkey, nvalue);
    uint64_t unit;
    shmc_rc rc = seg_reserve(r, ctx, hi, size, &unit);
    if (rc == SHMC_OK) {
        item_t *it = write_item(r, ctx, unit, &k, value, nvalue, NULL, 0, flags, exptime, meta);
        it->cas = cas;
        atomic_store_explicit(&it->atime, atime, memory_order_relaxed);
        it->sum = item_sum(r, it);
        if (fetched) access_mark(r, unit);
        if (!lock_key(r, ctx, &k)) {
            rc = lock_failed(ctx);
        } else {
            uint64_t prev;
            int why;
            uint64_t old = find_live(r, ctx, &k, &prev, &why);
            item_t *o = old ? item_at(r, old) : NULL;
            seg_commit(r, hi, size);
            index_replace_locked(r, k.stripe, k.bucket, unit, old, prev, old ? 0 : 1,
                                 (int64_t)size - (o ? (int64_t)footprint_of(o) : 0));
            index_unlock(k.stripe);
        }
    }
    seg_head_unlock(r, hi);
    return rc;
}

void store_drop(const region_t *r, op_ctx_t *ctx, const unsigned char *key, uint32_t nkey)
{
    keyref_t k = keyref(r, key, nkey);
    if (!lock_key(r, ctx, &k)) return;
    uint64_t prev;
    int why;
    uint64_t u = find_live(r, ctx, &k, &prev, &why);
    if (u) index_replace_locked(r, k.stripe, k.bucket, 0, u, prev, -1, -(int64_t)footprint_of(item_at(r, u)));
    index_unlock(k.stripe);
}

shmc_rc store_delete(const region_t *r, op_ctx_t *ctx, const unsigned char *key, uint32_t nkey)
{
    keyref_t k = keyref(r, key, nkey);
    if (!lock_key(r, ctx, &k)) return lock_failed(ctx);
    uint64_t prev;
    int why;
    uint64_t u = find_live(r, ctx, &k, &prev, &why);
    if (u) index_replace_locked(r, k.stripe, k.bucket, 0, u, prev, -1, -(int64_t)footprint_of(item_at(r, u)));
    index_unlock(k.stripe);
    CTR(ctx, u ? C_delete_hits : C_delete_misses);
    return u ? SHMC_OK : SHMC_NOT_FOUND;
}

shmc_rc store_delete_meta(const region_t *r, op_ctx_t *ctx, const unsigned char *key,
                          uint32_t nkey, bool has_cas, uint64_t cas, bool invalidate,
                          bool has_exptime, uint32_t exptime, bool count)
{
    keyref_t k = keyref(r, key, nkey);
    int hi = -1;
    shmc_rc rc = SHMC_OK;
    uint64_t prev, unit = 0;
    int why;
    for (uint32_t need = 0;;) {
        if (!lock_key(r, ctx, &k)) {
            rc = lock_failed(ctx);
            break;
        }
        uint64_t u = find_live(r, ctx, &k, &prev, &why);
        item_t *o = u ? item_at(r, u) : NULL;
        if (!o) rc = SHMC_NOT_FOUND;
        else if (has_cas && o->cas != cas) rc = SHMC_EXISTS;
        if (rc != SHMC_OK) {
            index_unlock(k.stripe);
            break;
        }
        uint32_t size = footprint_of(o);
        if (!invalidate) {
            index_replace_locked(r, k.stripe, k.bucket, 0, u, prev, -1, -(int64_t)size);
            index_unlock(k.stripe);
            break;
        }
        if (!unit || size > need) {
            /* invalidation gives the item a new cas, which its checksum covers: it is
             * replaced by a copy, written into room reserved first (lock order: head, then
             * stripe), so the change is one link as any other write's */
            index_unlock(k.stripe);
            if (hi < 0 && (hi = seg_head_lock(r, ctx)) < 0) return SHMC_BAD_FILE;
            need = size;
            rc = seg_reserve(r, ctx, hi, need, &unit);
            if (rc != SHMC_OK) break;
            continue;
        }
        uint32_t meta = (atomic_load(&o->meta) & ~ITEM_META_WIN) | ITEM_META_STALE;
        item_t *it = write_item(r, ctx, unit, &k, item_value(o), o->nvalue, NULL, 0, o->flags,
                                has_exptime ? exptime : atomic_load(&o->exptime), meta);
        atomic_store_explicit(&it->atime, atomic_load(&o->atime), memory_order_relaxed);
        if (access_was_fetched(r, u, o->kind)) access_mark(r, unit); /* memcached keeps it */
        CRASHPOINT("invalidate.written");
        seg_commit(r, hi, size);
        index_replace_locked(r, k.stripe, k.bucket, unit, u, prev, 0, 0);
        index_unlock(k.stripe);
        CTR(ctx, C_invalidations);
        break;
    }
    if (hi >= 0) seg_head_unlock(r, hi);
    if (count && (!invalidate || rc != SHMC_OK))
        CTR(ctx, rc == SHMC_OK ? C_delete_hits : C_delete_misses);
    return rc;
}

shmc_rc store_touch(const region_t *r, op_ctx_t *ctx, const unsigned char *key, uint32_t nkey,
                    uint32_t exptime)
{
    keyref_t k = keyref(r, key, nkey);
    CTR(ctx, C_cmd_touch);
    if (!lock_key(r, ctx, &k)) return lock_failed(ctx);
    uint64_t prev;
    int why;
    uint64_t u = find_live(r, ctx, &k, &prev, &why);
    if (u) index_set_exptime_locked(r, k.stripe, k.bucket, item_at(r, u), exptime);
    index_unlock(k.stripe);
    CTR(ctx, u ? C_touch_hits : C_touch_misses);
    return u ? SHMC_OK : SHMC_NOT_FOUND;
}

/* A value memcached accepts for incr/decr, as its safe_strtoull() reads the item's data:
 * strtoull's [blanks][+|-]digits (no overflow), then a blank or the value's end; a '-' is
 * refused only when the result reads as negative ("-0" is 0).  So "  5 ", "+12\t" and
 * "12 abc" are numbers, as in memcached. */
/* Room reserved for an incr/decr result: the 20 digits of a uint64, or an old value up to
 * this long that the result is padded to. */
#define ARITH_ROOM 256

static bool is_c_space(unsigned char c)
{
    return c == ' ' || (c >= '\t' && c <= '\r');
}

static bool parse_u64(const unsigned char *p, uint32_t n, uint64_t *out)
{
    uint32_t i = 0;
    while (i < n && is_c_space(p[i])) i++;
    bool neg = false;
    if (i < n && (p[i] == '+' || p[i] == '-')) neg = p[i++] == '-';
    uint32_t first = i;
    uint64_t v = 0;
    for (; i < n && p[i] >= '0' && p[i] <= '9'; i++) {
        unsigned d = p[i] - '0';
        if (v > (UINT64_MAX - d) / 10) return false;
        v = v * 10 + d;
    }
    if (i == first || (i < n && !is_c_space(p[i]) && p[i] != 0)) return false;
    if (neg) v = (uint64_t)0 - v;
    if (neg && (int64_t)v < 0) return false;
    *out = v;
    return true;
}

shmc_rc store_arith(const region_t *r, op_ctx_t *ctx, const unsigned char *key, uint32_t nkey,
                    const arith_req_t *req, uint64_t *result, meta_out_t *mo)
{
    keyref_t k = keyref(r, key, nkey);
    int hi = seg_head_lock(r, ctx);
    if (hi < 0) return SHMC_BAD_FILE;
    uint64_t unit;
    shmc_rc rc = seg_reserve(r, ctx, hi, (uint32_t)item_footprint(nkey, ARITH_ROOM), &unit);
    if (rc == SHMC_OK && !lock_key(r, ctx, &k)) rc = lock_failed(ctx);
    if (rc != SHMC_OK) {
        seg_head_unlock(r, hi);
        return rc;
    }
    uint64_t prev;
    int why;
    uint64_t old = find_live(r, ctx, &k, &prev, &why);
    item_t *o = old ? item_at(r, old) : NULL;
    uint64_t v = 0;
    bool created = false;
    if (!o && req->vivify) {
        v = req->initial; /* memcached's ma N: created under the same lock, so exactly once */
        created = true;
    } else if (!o) {
        rc = SHMC_NOT_FOUND;
    } else if (req->has_cas && req->cas && o->cas != req->cas) {
        rc = SHMC_EXISTS;
    } else if (!parse_u64(item_value(o), o->nvalue, &v)) {
        rc = SHMC_NOT_NUMERIC;
    } else {
        v = req->incr ? v + req->delta : (req->delta > v ? 0 : v - req->delta);
    }
    if (rc == SHMC_OK) {
        char digits[24];
        int n = snprintf(digits, sizeof digits, "%llu", (unsigned long long)v);
        /* memcached rewrites a number no longer than the old value in place, padded with
         * spaces to the old length; a longer one gets its own length */
        char padded[ARITH_ROOM];
        const char *text = digits;
        if (o && (uint32_t)n < o->nvalue && o->nvalue <= sizeof padded) {
            memcpy(padded, digits, (size_t)n);
            memset(padded + n, ' ', o->nvalue - (uint32_t)n);
            text = padded;
            n = (int)o->nvalue;
        }
        uint32_t size = (uint32_t)item_footprint(nkey, (size_t)n);
        uint32_t before = created ? 0 : atomic_load(&o->exptime);
        uint32_t exptime = created ? req->vivify_exptime : before;
        if (req->has_exptime && !(created && req->vivify_last)) exptime = req->exptime;
        /* memcached changes a counter in place: it stays stale, its win stays out */
        item_t *it = write_item(r, ctx, unit, &k, text, (size_t)n, NULL, 0, o ? o->flags : 0,
                                exptime, o ? atomic_load(&o->meta) : 0);
        if (o && access_was_fetched(r, old, o->kind)) access_mark(r, unit); /* as in place */
        CRASHPOINT("arith.written");
        seg_commit(r, hi, size);
        index_replace_locked(r, k.stripe, k.bucket, unit, old, prev, created ? 1 : 0,
                             (int64_t)size - (o ? (int64_t)footprint_of(o) : 0));
        if (result) *result = v;
        if (mo) {
            memset(mo, 0, sizeof *mo);
            mo->cas = it->cas;
            mo->nvalue = (uint32_t)n;
            mo->exptime = exptime;
            mo->prev_exptime = before;
            mo->atime = ctx->now;
            mo->created = created;
        }
        if (created) CTR(ctx, C_total_items);
    }
    index_unlock(k.stripe);
    seg_head_unlock(r, hi);
    if ((rc == SHMC_OK || rc == SHMC_NOT_FOUND) && !created)
        CTR(ctx, req->incr ? (rc == SHMC_OK ? C_incr_hits : C_incr_misses)
                           : (rc == SHMC_OK ? C_decr_hits : C_decr_misses));
    return rc;
}

shmc_rc store_flush_all(const region_t *r, op_ctx_t *ctx, int64_t delay)
{
    header_t *h = r->hdr;
    /* now: a new epoch and no delayed flush left; delayed: the due time replaces any other
     * (> 30 days: an absolute time; never one of the retired marks).  Either way one word
     * moves at once, and never over a retired file's mark. */
    uint32_t due = delay <= 0 ? 0 : store_exptime_abs(delay, ctx->now);
    if (due > FLUSH_DUE_MAX) due = FLUSH_DUE_MAX;
    uint64_t w = atomic_load(&h->flush), next;
    do {
        if (flush_due_of(w) >= FLUSH_DUE_FROZEN) {
            ctx->retired = true;
            return STORE_RETRY;
        }
        next = flush_word(flush_epoch_of(w) + (delay <= 0), due);
    } while (!atomic_compare_exchange_weak(&h->flush, &w, next));
    CTR(ctx, C_cmd_flush);
    if (delay <= 0) CRASHPOINT("flush.now");
    else CRASHPOINT("flush.delayed");
    return SHMC_OK;
}

uint64_t store_walk(const region_t *r, op_ctx_t *ctx, uint64_t b0, uint64_t b1, copy_buf_t *buf)
{
    uint64_t b = b0;
    for (; b < b1 && b <= r->bucket_mask; b++) {
        size_t at = buf->len;
        if (!index_copy_chain(r, b, buf)) break;
        size_t keep = at; /* drop the dead copies of this chain in place */
        while (at < buf->len) {
            chain_copy_t c;
            memcpy(&c, buf->p + at, sizeof c);
            size_t size = chain_copy_size(&c);
            bool flushed;
            if (!store_item_dead(c.exptime, c.epoch, ctx, &flushed)) {
                c.fetched = access_was_fetched(r, c.unit, c.kind);
                memcpy(buf->p + at, &c, sizeof c);
                if (keep != at) memmove(buf->p + keep, buf->p + at, size);
                keep += size;
            }
            at += size;
        }
        buf->len = keep;
    }
    return b;
}

uint64_t store_recover(const region_t *r)
{
    uint64_t repairs = 0;
    /* nobody else is attached: every lock is ours to re-create, whatever state a crash
     * (or a machine that lost power with the file on disk) left it in */
    robust_lock_init(&r->hdr->global_lock);
    for (uint32_t i = 0; i < r->nstripes; i++) {
        robust_lock_init(&r->stripes[i].lock);
        repairs += index_repair(r, &r->stripes[i]);
    }
    CRASHPOINT("recover.stripes");
    for (uint32_t i = 0; i < r->nheads; i++) robust_lock_init(&r->heads[i].lock);
    seg_rebuild_lists(r);
    /* what lies past a write offset was written while nobody watched: appends look first */
    for (uint32_t s = 0; s < r->nsegments; s++) {
        uint32_t w = atomic_load(&r->segs[s].write_off);
        atomic_store(&r->segs[s].checked, w < r->segment_size ? w : r->segment_size);
    }
    CRASHPOINT("recover.lists");
    /* a cleaner that died mid-way: finish its work */
    uint64_t slot_cas_next = 0, slot_cas_limit = 0;
    thread_slot_t scratch;
    memset(&scratch, 0, sizeof scratch);
    op_ctx_t ctx = {.slot = &scratch, .cas_next = &slot_cas_next, .cas_limit = &slot_cas_limit};
    store_ctx_begin(r, &ctx);
    for (uint32_t i = 0; i < r->nheads; i++) repairs += seg_head_repair(r, &ctx, (int)i);
    CRASHPOINT("recover.heads");
    for (int c = 0; c < C_COUNT; c++)
        atomic_fetch_add(&r->hdr->retired[c], atomic_load(&scratch.c[c]));
    return repairs;
}
