/* scrub.c — verify every item and chain after an unclean end, dropping what fails (scrub.h). */
#include "store/scrub.h"

#include <stdlib.h>
#include <string.h>

#include "store/index.h"
#include "store/item.h"
#include "util/hash.h"
#include "util/crashpoint.h"

/* One bit per unit of the item area: a well-formed item starts here (the segment walk
 * reached it) and no chain has visited it yet.  A visit clears it, so a second reference to
 * an item, or a cycle, meets a clear bit and ends there: the scrub is linear in the items. */
typedef struct marks {
    uint64_t *start;
    uint64_t first;
} marks_t;

#define SCRUB_AHEAD 16 /* buckets */

static bool bit(const uint64_t *m, uint64_t i) { return m[i / 64] >> (i % 64) & 1; }
static void set_bit(uint64_t *m, uint64_t i) { m[i / 64] |= 1ull << (i % 64); }
static void clear_bit(uint64_t *m, uint64_t i) { m[i / 64] &= ~(1ull << (i % 64)); }

/* Walk each segment in use from its start to its write offset, marking items; at the first
 * bytes that are neither an item nor a filler, the segment ends there. */
static void mark_segments(const region_t *r, marks_t *mk)
{
    for (uint32_t s = 0; s < r->nsegments; s++) {
        segmeta_t *m = &r->segs[s];
        if (atomic_load(&m->state) == SEG_FREE) continue;
        region_prefault_segment(r, s); /* one call instead of a fault per page */
        unsigned char *base = region_segment(r, s);
        uint32_t end = atomic_load(&m->write_off);
        if (end > r->segment_size) end = r->segment_size;
        end &= ~(LAYOUT_UNIT - 1);
        uint32_t off = 0;
        while (off < end) {
            uint32_t sz;
            enum item_step step = item_step(r, base, off, end, &sz);
            if (step == STEP_ITEM) set_bit(mk->start, region_unit_of(r, base + off) - mk->first);
            else if (step != STEP_FILLER) break;
            off += sz;
        }
        if (off != atomic_load(&m->write_off)) atomic_store(&m->write_off, off);
        CRASHPOINT("scrub.segment");
    }
}

/* Rebuild bucket b's chain from the entries that pass; returns how many were dropped.
 * An entry that is not an unvisited item of this bucket ends the chain (its link cannot be
 * trusted; an item of another bucket stays for that bucket to keep).  An item of this bucket
 * whose checksum fails is dropped but its link is followed: each later entry is judged on
 * its own. */
static uint64_t scrub_chain(const region_t *r, marks_t *mk, uint64_t b, int64_t *items,
                            int64_t *bytes, uint32_t epoch, uint64_t *fresh, uint32_t *ahead)
{
    uint64_t dropped = 0;
    uint64_t w = atomic_load(&r->buckets[b]);
    uint32_t version = (bucket_version(w) + 1) & ~1u; /* even: no writer inside */
    uint64_t head = 0;
    item_t *prev = NULL; /* the last entry kept; NULL: the bucket itself */
    for (uint64_t u = bucket_head(w); u;) {
        item_t *it = item_at(r, u);
        uint64_t rel = u - mk->first;
        uint64_t hash = 0;
        if (!it || !bit(mk->start, rel) ||
            index_bucket_of(r, hash = hash_key(it->data, it->nkey, r->hash_seed)) != b ||
            index_tag_of(hash) != it->tag) {
            dropped++;
            break;
        }
        clear_bit(mk->start, rel);
        if (item_is_whole(r, it)) {
            if (prev) atomic_store(&prev->next, u);
            else head = u;
            prev = it;
            *items += 1;
            *bytes += (int64_t)item_footprint(it->nkey, it->nvalue);
            if (it->epoch == epoch)
                *fresh += item_fresh_word(it);
            if ((int32_t)(it->epoch - epoch) > (int32_t)*ahead) *ahead = it->epoch - epoch;
        } else {
            dropped++;
        }
        u = atomic_load(&it->next);
    }
    if (prev) atomic_store(&prev->next, 0);
    CRASHPOINT("scrub.chain_cut");
    atomic_store(&r->buckets[b], bucket_word(version, head));
    return dropped;
}

/* The fresh counts (layout.h) of the items of flush epoch `epoch`, per stripe, from chains
 * already scrubbed. */
static void count_fresh(const region_t *r, uint32_t epoch, uint64_t *fresh)
{
    uint64_t max_steps = index_max_chain(r);
    for (uint64_t b = 0; b <= r->bucket_mask; b++) {
        uint64_t steps = 0;
        for (uint64_t u = bucket_head(atomic_load(&r->buckets[b])); u && steps < max_steps; steps++) {
            const item_t *it = item_at(r, u);
            if (!it) break;
            if (it->epoch == epoch)
                fresh[b & (r->nstripes - 1)] += item_fresh_word(it);
            u = atomic_load(&it->next);
        }
    }
}

shmc_rc store_scrub(const region_t *r, uint64_t *dropped)
{
    uint64_t nunits = (uint64_t)r->data_unit_end - r->data_unit_first;
    marks_t mk = {calloc(nunits / 64 + 1, 8), r->data_unit_first};
    int64_t *items = calloc(r->nstripes, sizeof *items);
    int64_t *bytes = calloc(r->nstripes, sizeof *bytes);
    uint64_t *fresh = calloc(r->nstripes, sizeof *fresh);
    uint32_t epoch = flush_epoch_of(atomic_load(&r->hdr->flush)), ahead = 0;
    shmc_rc rc = SHMC_NO_MEMORY;
    *dropped = 0;
    if (mk.start && items && bytes && fresh) {
        mark_segments(r, &mk);
        for (uint64_t b = 0; b <= r->bucket_mask; b++) {
            /* chains lead all over the file: ask for the head item of a bucket a little
             * ahead, so that many misses are in flight instead of one */
            if (b + SCRUB_AHEAD <= r->bucket_mask) {
                uint64_t u = bucket_head(atomic_load_explicit(&r->buckets[b + SCRUB_AHEAD],
                                                              memory_order_relaxed));
                const item_t *ahead = item_at(r, u);
                if (ahead) {
                    __builtin_prefetch(&mk.start[(u - mk.first) / 64]);
                    __builtin_prefetch(ahead);
                    __builtin_prefetch((const char *)ahead + 64);
                    __builtin_prefetch((const char *)ahead + 128);
                }
            }
            uint32_t si = (uint32_t)(b & (r->nstripes - 1));
            *dropped += scrub_chain(r, &mk, b, &items[si], &bytes[si], epoch, &fresh[si], &ahead);
        }
        if (ahead) {
            /* an item written in a later flush epoch than the header's: the header's word is
             * damaged (an epoch only grows, and items take the current one), so it becomes the
             * newest item's epoch again; the fresh counts are of that epoch */
            uint64_t w = atomic_load(&r->hdr->flush);
            epoch += ahead;
            atomic_store(&r->hdr->flush, flush_word(epoch, flush_due_of(w)));
            memset(fresh, 0, r->nstripes * sizeof *fresh);
            count_fresh(r, epoch, fresh);
        }
        for (uint32_t i = 0; i < r->nstripes; i++) {
            stripe_t *st = &r->stripes[i];
            atomic_store(&st->intent_active, 0);
            atomic_store(&st->items, items[i]);
            CRASHPOINT("scrub.stripe_items");
            atomic_store(&st->bytes, bytes[i]);
            atomic_store(&st->fresh, fresh[i]);
            CRASHPOINT("scrub.stripe_fresh");
            atomic_store(&st->epoch, epoch);
        }
        rc = SHMC_OK;
    }
    free(mk.start);
    free(items);
    free(bytes);
    free(fresh);
    return rc;
}
