/* access.h — the access bitmaps, all their code: one bit per 32 bytes of each segment, set by
 * a reader the first time it fetches the item that starts there (access_mark), tested and
 * cleared by cleaning (the CLOCK of segment.h).  Bits live beside the items, not in them, so a reader never writes
 * into item memory, and a reader with a stale view can at worst make a spot look fetched. */
#ifndef SHMC_ACCESS_H
#define SHMC_ACCESS_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "region/region.h"
#include "store/item.h"

static inline void access_split(const region_t *r, uint64_t unit, uint32_t *seg, uint32_t *off)
{
    uint64_t rel = (unit - r->data_unit_first) * LAYOUT_UNIT;
    *seg = (uint32_t)(rel / r->segment_size);
    *off = (uint32_t)(rel % r->segment_size);
}

static inline _Atomic uint64_t *access_word(const region_t *r, uint32_t seg, uint32_t off,
                                            uint64_t *mask)
{
    uint32_t bit = off / LAYOUT_ACCESS_GRAIN;
    *mask = 1ull << (bit & 63);
    return &r->bitmaps[(uint64_t)seg * r->bitmap_words + bit / 64];
}

/* The word of the item at unit (a valid item unit), fetched early: a lock-free read asks
 * for it as soon as it knows the unit, so it arrives with the item, not after it. */
static inline void access_prefetch(const region_t *r, uint64_t unit)
{
    uint32_t seg, off;
    uint64_t mask;
    access_split(r, unit, &seg, &off);
    __builtin_prefetch((const void *)access_word(r, seg, off, &mask));
}

/* Mark the item at unit as fetched (readers call this after a hit; it writes only the first
 * time, so repeated gets share the line read-only). */
static inline void access_mark(const region_t *r, uint64_t unit)
{
    uint32_t seg, off;
    uint64_t mask;
    access_split(r, unit, &seg, &off);
    _Atomic uint64_t *w = access_word(r, seg, off, &mask);
    if (!(atomic_load_explicit(w, memory_order_relaxed) & mask))
        atomic_fetch_or_explicit(w, mask, memory_order_relaxed);
}

/* Whether an item was fetched since it was written: its access bit, or its kind when
 * cleaning kept it because of one (memcached's ITEM_FETCHED).  Reads only. */
static inline bool access_was_fetched(const region_t *r, uint64_t unit, uint8_t kind)
{
    if (kind == ITEM_LIVE_FETCHED) return true;
    uint32_t seg, off;
    uint64_t mask;
    access_split(r, unit, &seg, &off);
    return (atomic_load_explicit(access_word(r, seg, off, &mask), memory_order_relaxed) & mask) != 0;
}

/* Whether the item at offset off of segment seg was fetched; clears its bit. */
static inline bool access_test_clear(const region_t *r, uint32_t seg, uint32_t off)
{
    uint64_t mask;
    _Atomic uint64_t *w = access_word(r, seg, off, &mask);
    if (!(atomic_load_explicit(w, memory_order_relaxed) & mask)) return false;
    atomic_fetch_and_explicit(w, ~mask, memory_order_relaxed);
    return true;
}

/* Clear the access bits of [from, segment end). */
static inline void access_clear_from(const region_t *r, uint32_t seg, uint32_t from)
{
    uint32_t bit = (from + LAYOUT_ACCESS_GRAIN - 1) / LAYOUT_ACCESS_GRAIN;
    uint32_t nbits = r->bitmap_words * 64;
    _Atomic uint64_t *words = &r->bitmaps[(uint64_t)seg * r->bitmap_words];
    for (; bit < nbits && (bit & 63); bit++)
        atomic_fetch_and_explicit(&words[bit / 64], ~(1ull << (bit & 63)), memory_order_relaxed);
    for (uint32_t w = bit / 64; w < r->bitmap_words; w++)
        atomic_store_explicit(&words[w], 0, memory_order_relaxed);
}

#endif
