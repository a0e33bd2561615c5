/* item.h — one cached item as it lies in a segment, and the rules for reading it.
 *
 * An item is written once, completely, before it is linked into the hash index, and is never
 * changed afterwards except for `next`, `exptime` and `meta`, which change only under its
 * stripe's lock with the bucket's version odd, and `atime`, which changes under the stripe
 * lock alone (a reader may see either value).  So a reader that copies an item and then finds
 * the bucket's version unchanged has a consistent copy.  Items are 8-byte aligned; a gap that
 * cleaning leaves in a segment is covered by a filler, so a segment can always be walked.
 *
 * Each item carries a checksum of everything in it that never changes (lengths, flags, cas,
 * epoch, key, value).  Readers do not check it — a lock-free read is already proven whole by
 * the bucket's version — but recovery after a crash of every process (see scrub.h) and the
 * checker do, so a torn or rotted item is dropped, never served.
 *
 * 48 bytes of header per item (memcached uses 48-56): the chain link is 64 bits (offsets of
 * 40, see layout.h), the checksum 32, and memcached's meta state (last access, stale, win
 * token) 64. */
#ifndef SHMC_ITEM_H
#define SHMC_ITEM_H

#include <stdatomic.h>
#include <stdint.h>

#include "region/region.h"
#include "util/hash.h"

enum item_kind {
    ITEM_LIVE = 0xA5,         /* an item, never fetched since written */
    ITEM_LIVE_FETCHED = 0xA6, /* an item kept by cleaning because it had been fetched */
    ITEM_FILLER = 0x5A,       /* a gap of `nvalue` bytes */
};

typedef struct item {
    uint8_t kind;             /* enum item_kind: first, so an 8-byte filler is whole */
    uint8_t nkey;
    uint16_t tag;             /* top 16 bits of the key's hash */
    uint32_t nvalue;          /* value bytes; for a filler, its total size */
    _Atomic uint64_t next;    /* next item in the bucket's chain (unit offset; 0: end) */
    uint32_t flags;           /* the client's 32-bit flags */
    _Atomic uint32_t exptime; /* absolute Unix seconds; 0: never */
    uint64_t cas;
    uint32_t epoch;           /* flush epoch when written */
    uint32_t sum;             /* item_sum() when written */
    _Atomic uint32_t atime;   /* last fetched or stored (Unix s), moved at most once per
                               * ITEM_ATIME_INTERVAL: memcached's "last access" */
    _Atomic uint32_t meta;    /* ITEM_META_STALE | ITEM_META_WIN, and when the win went out */
    unsigned char data[];     /* key, then value */
} item_t;

#define ITEM_HEADER 48u
_Static_assert(sizeof(item_t) == ITEM_HEADER && ITEM_HEADER == LAYOUT_ITEM_HEADER,
               "item header is 48 bytes, as the layout sizes segments for");

/* memcached's ITEM_UPDATE_INTERVAL: a fetch moves atime only when it is this much older, so
 * that gets write nothing shared in the common case. */
#define ITEM_ATIME_INTERVAL 60u

/* item->meta: the stale bit (set by invalidation, kept until the item is replaced), the win
 * bit (a fetcher was told to recompute the value: memcached's ITEM_TOKEN_SENT), and in bits
 * 2..31 the time the win went out in units of 4 s, so that a winner that died without
 * storing is replaced after ITEM_WIN_TIMEOUT. */
#define ITEM_META_STALE 1u
#define ITEM_META_WIN 2u
#define ITEM_WIN_TIMEOUT 30u /* seconds a win token is honoured; documented in shmc.h */
static inline uint32_t item_meta_win(uint32_t now) { return (now >> 2) << 2 | ITEM_META_WIN; }
/* Whether meta holds a win that is still honoured at `now`. */
static inline int item_win_out(uint32_t meta, uint32_t now)
{
    return (meta & ITEM_META_WIN) && (now >> 2) - (meta >> 2) < (ITEM_WIN_TIMEOUT + 3) / 4;
}
#define ITEM_FILLER_MIN 8u /* kind and nvalue: all a filler needs */

static inline uint64_t item_footprint(uint64_t nkey, uint64_t nvalue)
{
    return (ITEM_HEADER + nkey + nvalue + LAYOUT_UNIT - 1) & ~(uint64_t)(LAYOUT_UNIT - 1);
}

/* What a linked item adds to its stripe's fresh count (layout.h's fresh_word). */
static inline uint64_t item_fresh_word(const item_t *it)
{
    return fresh_word(1, (uint32_t)(item_footprint(it->nkey, it->nvalue) / LAYOUT_UNIT));
}

static inline unsigned char *item_key(item_t *it) { return it->data; }
static inline unsigned char *item_value(item_t *it) { return it->data + it->nkey; }

static inline int item_is_live_kind(uint8_t kind)
{
    return kind == ITEM_LIVE || kind == ITEM_LIVE_FETCHED;
}

/* The item at unit offset u if its header lies wholly inside one segment's written bytes'
 * bounds, else NULL.  Checks placement only; the caller checks the lengths it uses. */
static inline item_t *item_at(const region_t *r, uint64_t u)
{
    if (u < r->data_unit_first || u >= r->data_unit_end) return 0;
    uint64_t in_seg = (u - r->data_unit_first) * LAYOUT_UNIT % r->segment_size;
    if (in_seg + ITEM_HEADER > r->segment_size) return 0;
    return (item_t *)region_at(r, u);
}

/* Whether an item of this many key and value bytes fits the segment it starts in. */
static inline int item_fits(const region_t *r, uint64_t u, uint64_t nkey, uint64_t nvalue)
{
    uint64_t in_seg = (u - r->data_unit_first) * LAYOUT_UNIT % r->segment_size;
    return nkey >= 1 && nkey <= SHMC_KEY_MAX && nvalue <= r->item_size_max &&
           in_seg + item_footprint(nkey, nvalue) <= r->segment_size;
}

/* One step of a walk through a segment's written bytes [0, end): what lies at off, and its
 * size in *size.  Anything but STEP_ITEM or STEP_FILLER ends the walk: the rest of the
 * segment cannot be trusted. */
enum item_step {
    STEP_ITEM, STEP_FILLER,
    STEP_STRAY,      /* fewer bytes left than the smallest filler */
    STEP_BAD_FILLER, /* a filler whose size is not a whole number of units within end */
    STEP_OVERRUN,    /* an item whose bytes run past end */
    STEP_UNPARSABLE, /* neither an item nor a filler */
};

static inline enum item_step item_step(const region_t *r, const unsigned char *base,
                                       uint32_t off, uint32_t end, uint32_t *size)
{
    if (end - off < ITEM_FILLER_MIN) return STEP_STRAY;
    const item_t *it = (const item_t *)(base + off);
    if (it->kind == ITEM_FILLER) {
        *size = it->nvalue;
        return *size < ITEM_FILLER_MIN || *size % LAYOUT_UNIT || *size > end - off
                   ? STEP_BAD_FILLER
                   : STEP_FILLER;
    }
    if (!item_is_live_kind(it->kind) || end - off < ITEM_HEADER ||
        !item_fits(r, region_unit_of(r, it), it->nkey, it->nvalue))
        return STEP_UNPARSABLE;
    *size = (uint32_t)item_footprint(it->nkey, it->nvalue);
    return *size > end - off ? STEP_OVERRUN : STEP_ITEM;
}

/* The checksum of an item's immutable fields, key and value, folded to 32 bits (the other
 * 32 went to the 64-bit chain link).  The caller has checked that the lengths fit
 * (item_fits). */
static inline uint32_t item_sum(const region_t *r, const item_t *it)
{
    uint64_t seed = r->hash_seed ^ hash_mix(((uint64_t)it->nkey << 32 | it->nvalue) ^ it->cas,
                                            ((uint64_t)it->flags << 32 | it->epoch) ^ 0x51u);
    uint64_t x = hash_key(it->data, (size_t)it->nkey + it->nvalue, seed);
    return (uint32_t)(x ^ x >> 32);
}

/* Whether the item is as it was written (its checksum holds); lengths checked as above. */
static inline int item_is_whole(const region_t *r, const item_t *it)
{
    return it->sum == item_sum(r, it);
}

#endif
