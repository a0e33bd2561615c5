/* index.h — the hash index: buckets of 8 bytes, each a 24-bit version and the 40-bit unit
 * offset of the head of a chain of items linked through item->next.
 *
 * Readers take no lock and write nothing: they load the bucket word, walk the chain, copy
 * what they need, and load the word again; an unchanged version proves the copy consistent
 * (a seqlock per bucket).  Writers hold the bucket's stripe lock (robust, see
 * sync/robust_lock.h), make the version odd, make exactly one store to the chain, and make
 * the version even again; the intent they record first lets a successor repair a writer that
 * died at any instruction.  Every offset read from the file is bounds-checked; chains are
 * walked at most as far as the cache could hold items, so a corrupt chain cannot hang. */
#ifndef SHMC_INDEX_H
#define SHMC_INDEX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "region/region.h"
#include "store/item.h"

/* The version counts in the top 24 bits and wraps there: a reader would be fooled only if
 * 2^23 changes to its bucket ended on the same head while it copied one item. */
#define BUCKET_HEAD_MASK (((uint64_t)1 << LAYOUT_UNIT_BITS) - 1)
static inline uint32_t bucket_version(uint64_t w) { return (uint32_t)(w >> LAYOUT_UNIT_BITS); }
static inline uint64_t bucket_head(uint64_t w) { return w & BUCKET_HEAD_MASK; }
static inline uint64_t bucket_word(uint32_t version, uint64_t head)
{
    return (uint64_t)version << LAYOUT_UNIT_BITS | (head & BUCKET_HEAD_MASK);
}

static inline uint64_t index_bucket_of(const region_t *r, uint64_t hash) { return hash & r->bucket_mask; }
static inline stripe_t *index_stripe_of(const region_t *r, uint64_t bucket)
{
    return &r->stripes[bucket & (r->nstripes - 1)];
}
static inline uint16_t index_tag_of(uint64_t hash) { return (uint16_t)(hash >> 48); }

/* A consistent snapshot of one item, as a reader saw it. */
typedef struct item_view {
    uint64_t unit; /* 0: not found */
    uint32_t nvalue, flags, exptime, epoch;
    uint64_t cas;
    uint32_t atime, meta; /* item.h's meta state */
    uint8_t kind;
    bool copied; /* the value is in the caller's buffer (cap was large enough) */
} item_view_t;

/* Lock-free lookup.  When found and cap >= nvalue, the value is copied into buf. */
void index_read(const region_t *r, const unsigned char *key, uint32_t nkey, uint64_t hash,
                void *buf, size_t cap, item_view_t *out);

/* One item of a chain as index_copy_chain copied it: this header, then the key and the value,
 * padded to 8 bytes (chain_copy_size). */
typedef struct chain_copy {
    uint64_t unit, cas;
    uint32_t nkey, nvalue, flags, exptime, epoch, atime, meta;
    uint8_t kind;
    uint8_t fetched; /* filled in by store_walk */
} chain_copy_t;

static inline size_t chain_copy_size(const chain_copy_t *c)
{
    return (sizeof(chain_copy_t) + c->nkey + c->nvalue + 7) & ~(size_t)7;
}

/* A buffer of chain copies.  It never grows inside the library's calls (an allocator may be
 * user code, which must not run with the gate open): full says a chain did not fit. */
typedef struct copy_buf {
    unsigned char *p;
    size_t len, cap;
    bool full;
} copy_buf_t;

/* Double a full buffer, outside the library's gate; false when memory runs out. */
static inline bool copy_buf_grow(copy_buf_t *b)
{
    unsigned char *p = b->cap > SIZE_MAX / 2 ? NULL : realloc(b->p, b->cap * 2);
    if (!p) return false;
    b->p = p;
    b->cap *= 2;
    return true;
}

/* Append a consistent copy of every item in bucket b's chain to buf (lock-free, validated by
 * the bucket's version as index_read is: retried until whole).  false, with buf as it was
 * and full set, when the chain does not fit. */
bool index_copy_chain(const region_t *r, uint64_t b, copy_buf_t *buf);

/* The most keys index_read_batch looks up at once: enough misses in flight to fill the
 * core's line-fill buffers, few enough that the first lines fetched are still cached when
 * they are read. */
#define INDEX_BATCH_MAX 16

/* Lock-free lookup of n (<= INDEX_BATCH_MAX) keys, each exactly as index_read, but with their
 * memory loads overlapped: first every bucket is fetched, then every chain's first item,
 * then each key is copied.  Values are packed into arena (cap bytes): key i's at at[i],
 * copied when the arena had room.  A key whose bucket was being written, or changed during
 * the copy, is looked up again by index_read. */
void index_read_batch(const region_t *r, const unsigned char *const *keys,
                      const uint32_t *nkeys, const uint64_t *hashes, size_t n,
                      unsigned char *arena, size_t cap, size_t *at, item_view_t *out);

/* ---- under the stripe lock ---- */

/* Take a bucket's stripe lock, repairing first if its last owner died.  false: the lock is
 * unusable (a corrupt file); the caller fails the operation. */
bool index_lock(const region_t *r, stripe_t *st, uint64_t *repairs);
void index_unlock(stripe_t *st);
/* Repair the change recorded in st's intent, if one was in flight (lock held or no process
 * attached).  Returns whether anything was repaired. */
bool index_repair(const region_t *r, stripe_t *st);

/* Find key in bucket b: its unit (0: none) and its predecessor's unit (0: the bucket). */
uint64_t index_find_locked(const region_t *r, uint64_t b, const unsigned char *key,
                           uint32_t nkey, uint16_t tag, uint64_t *prev);

/* Link item `new_unit` in place of `old_unit` (whose predecessor is old_prev), or at the
 * chain's head when old_unit is 0, or unlink old_unit when new_unit is 0.  d_items/d_bytes
 * are what the change adds to the stripe's item and byte counts (negative: removes).  One
 * store to the chain, inside an odd version. */
void index_replace_locked(const region_t *r, stripe_t *st, uint64_t b, uint64_t new_unit,
                          uint64_t old_unit, uint64_t old_prev, int64_t d_items,
                          int64_t d_bytes);

/* Change a linked item's expiry in place (touch). */
void index_set_exptime_locked(const region_t *r, stripe_t *st, uint64_t b, item_t *it,
                              uint32_t exptime);
/* Change a linked item's expiry and meta state (item.h) in place, as one change. */
void index_set_state_locked(const region_t *r, stripe_t *st, uint64_t b, item_t *it,
                            uint32_t exptime, uint32_t meta);

/* Whether unit u is linked in bucket b's chain (and its predecessor). */
bool index_is_linked_locked(const region_t *r, uint64_t b, uint64_t u, uint64_t *prev);

/* The longest chain a cache of this size could hold: walks stop there. */
static inline uint64_t index_max_chain(const region_t *r)
{
    return (uint64_t)r->nsegments * r->segment_size / (ITEM_HEADER + 8) + 1;
}

#endif
