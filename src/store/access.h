/* access.h — the access bitmaps: one bit per 32 bytes of each segment, set by a reader the
 * first time it fetches the item that starts there, tested and cleared by cleaning (the
 * CLOCK of segment.h).  Bits live beside the items, not in them, so a reader never writes
 * into item memory, and a reader with a stale view can at worst make a spot look fetched. */
#ifndef SHMC_ACCESS_H
#define SHMC_ACCESS_H

#include <stdatomic.h>
#include <stdint.h>

#include "region/region.h"

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

#endif
