/* layout.h — the cache file, byte by byte.
 *
 *   [header 4 KiB][thread slots][process slots][lock stripes][heads][segment table]
 *   [free stack][FIFO ring][access bitmaps][hash buckets][segments: the items]
 *
 * Every area's offset and size follow from the configuration alone (layout_compute), so a
 * file is accepted only if its header's configuration reproduces exactly the offsets it
 * claims and its own size: a hostile header cannot point anywhere.  Nothing in the file is a
 * pointer: items are named by their offset from the file's start in 8-byte units, 40 bits
 * wide (LAYOUT_UNIT_BITS: a file of up to 8 TiB, which the header records as max_file_size),
 * and each is bounds-checked before use.
 *
 * Mutable shared words are C11 atomics; the immutable part of the header is covered by a
 * checksum so that a flipped bit in the configuration is a refused file, not a misread one. */
#ifndef SHMC_LAYOUT_H
#define SHMC_LAYOUT_H

#include <stdalign.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include <shmc.h>

#include "sync/robust_lock.h"

#define LAYOUT_MAGIC 0x4548434143484d53ull /* "SHMCACHE" */
#define LAYOUT_VERSION 6u /* 4: the counter table, items with memcached's meta state (48-byte
                           * header), the segments' checked mark; 5: a file can be retired
                           * (resized or removed: FLUSH_DUE_FROZEN / FLUSH_DUE_MOVED); 6: each
                           * stripe counts the items of the current flush epoch (fresh) */
/* What layout 6 is made of, checked by the static assertions after header_t: a change to
 * the counters (SHMC_STATS's COUNTER rows) or to the size of a structure in the file fails
 * the build until LAYOUT_VERSION moves and these values move with it.  The sizes are those
 * with a 40-byte robust_lock_t (glibc's pthread_mutex_t on 64-bit x86). */
#define LAYOUT_V_COUNTERS 32u       /* C_COUNT */
#define LAYOUT_V_COUNTER_SIG 6466u  /* LAYOUT_COUNTER_SIG: the counters' order and names */
#define LAYOUT_V_HEADER 640u        /* sizeof(header_t) */
#define LAYOUT_V_RETIRED 384u       /* offsetof(header_t, retired) */
#define LAYOUT_V_THREAD_SLOT 320u   /* sizeof(thread_slot_t) */
#define LAYOUT_V_PROC_SLOT 16u      /* sizeof(proc_slot_t) */
#define LAYOUT_V_STRIPE 128u        /* sizeof(stripe_t) */
#define LAYOUT_V_HEAD 64u           /* sizeof(head_t) */
#define LAYOUT_V_SEGMETA 24u        /* sizeof(segmeta_t) */
#define LAYOUT_V_ITEM_HEADER 48u    /* LAYOUT_ITEM_HEADER (store/item.h's item_t) */
#define LAYOUT_UNIT 8u                    /* item offsets count 8-byte units */
#define LAYOUT_UNIT_BITS 40u              /* an offset's width in a bucket word and item link */
#define LAYOUT_MAX_FILE (((uint64_t)1 << LAYOUT_UNIT_BITS) * LAYOUT_UNIT) /* 8 TiB */
#define LAYOUT_HEADER_BYTES 4096u

#define LAYOUT_THREAD_SLOTS 512u
/* one entry per attached handle: 256 for the smallest caches, one per 4 KiB of memory limit
 * up to 16384 (the default 64 MiB cache: 16384, 256 KiB of file); handles beyond the table
 * are counted in the header's attached_overflow */
#define LAYOUT_PROC_SLOTS_MIN 256u
#define LAYOUT_PROC_SLOTS_MAX 16384u
#define LAYOUT_PROC_SLOTS_PER (4u * 1024u)
#define LAYOUT_STRIPES_MAX 4096u
#define LAYOUT_HEADS_MAX 16u
#define LAYOUT_SEGMENTS_MIN 2u /* so memcached's smallest configurations work (-I up to -m/2) */
#define LAYOUT_SEGMENT_MIN (64u * 1024u)
#define LAYOUT_ITEM_MIN_SIZE_MAX 1024u           /* smallest item size limit, as memcached -I */
#define LAYOUT_ITEM_MAX_SIZE_MAX (1024u * 1024u * 1024u)
#define LAYOUT_ITEM_HEADER 48u /* store/item.h's header: a segment must hold the largest item */
#define LAYOUT_ITEM_MIN 48u /* the index is sized for items this small (memory_limit / 48
                            * buckets); the smallest item is 56 bytes since version 4 */
#define LAYOUT_HASH_POWER_MAX 36u
#define LAYOUT_ACCESS_GRAIN 32u /* one access bit per 32 bytes: every item is >= 48 bytes */

/* The COUNTER rows of shmc.h's SHMC_STATS, in its order: one array of them per thread slot,
 * summed by shmc_stats.  C_<name> indexes them (C_get_hits, ...). */
#define LAYOUT_COUNTER_COUNTER(name) C_##name,
#define LAYOUT_COUNTER_GAUGE(name)
#define LAYOUT_COUNTER_(kind, name, wire, reset, meaning) LAYOUT_COUNTER_##kind(name)
enum counter { SHMC_STATS(LAYOUT_COUNTER_) C_COUNT };
#undef LAYOUT_COUNTER_

/* One thread's counters.  Only its owner writes them (no atomic read-modify-write), so the
 * hot path touches no shared cache line; stats sums every slot plus the retired totals. */
typedef struct thread_slot {
    _Atomic uint64_t owner;  /* process token; 0: free */
    _Atomic uint64_t handle; /* the owner's handle id, so close can release its slots */
    _Atomic uint64_t c[C_COUNT];
} __attribute__((aligned(64))) thread_slot_t;

/* One attached handle (memcached's "connection"). */
typedef struct proc_slot {
    _Atomic uint64_t token;
    _Atomic uint64_t handle;
} proc_slot_t;

/* A lock stripe guards the hash buckets b with b % nstripes == its index, and keeps their
 * item and byte counts.  The intent names the one change in flight, so that the next
 * locker after a death can tell whether it happened and set the counts to match. */
/* Fields that a successor reads after their writer died are atomic: no unlock ordered the
 * dead writer's stores before the successor's loads. */
typedef struct stripe {
    robust_lock_t lock;
    _Atomic uint32_t intent_active;
    _Atomic uint32_t epoch; /* the flush epoch whose items `fresh` counts */
    _Atomic uint64_t intent_bucket;
    _Atomic uint64_t intent_new; /* item that is linked when the change is done (0: none) */
    _Atomic uint64_t intent_old; /* item that is unlinked when the change is done (0: none) */
    _Atomic int64_t items_before, bytes_before;
    _Atomic int64_t items, bytes;
    /* the linked items written in flush epoch `epoch` (fresh_word), so that stats count only
     * what the last flush_all left at once, while items and bytes (every linked item: the
     * memory in use) fall as flushed items are reclaimed */
    _Atomic uint64_t fresh, fresh_before;
} __attribute__((aligned(128))) stripe_t;

/* A stripe's fresh count in one word, so one store changes both halves: items in the low
 * half, bytes in 8-byte units in the high half (32 GiB a stripe; each half wraps alone). */
static inline uint64_t fresh_word(uint32_t items, uint32_t units)
{
    return (uint64_t)items | (uint64_t)units << 32;
}
static inline uint32_t fresh_items_of(uint64_t w) { return (uint32_t)w; }
static inline uint64_t fresh_bytes_of(uint64_t w) { return (w >> 32) * LAYOUT_UNIT; }

/* An append head: the segment that new items are written into.  Writers spread over heads;
 * a head also cleans the oldest segment when no free one is left (victim != 0), recording
 * its progress so a successor can finish the work of a dead cleaner. */
typedef struct head {
    robust_lock_t lock;
    _Atomic uint32_t seg;     /* current segment + 1; 0: none */
    _Atomic uint32_t victim;  /* segment being cleaned + 1; 0: none */
    /* cleaning's progress: the next byte to examine in the victim (low half) and the end of
     * what is kept (high half), in one word, so that a cleaner killed between two stores
     * never leaves one new and the other old (head_clean_word) */
    _Atomic uint64_t clean;
} __attribute__((aligned(64))) head_t;

static inline uint64_t head_clean_word(uint32_t next, uint32_t kept)
{
    return (uint64_t)next | (uint64_t)kept << 32;
}

enum seg_state { SEG_FREE = 0, SEG_OPEN = 1, SEG_SEALED = 2, SEG_CLEANING = 3 };

typedef struct segmeta {
    _Atomic uint32_t state;
    _Atomic uint32_t owner;     /* head index while OPEN or CLEANING */
    _Atomic uint32_t write_off; /* bytes of items written and published */
    _Atomic uint32_t checked;   /* appends may write below this without looking for items a
                                 * damaged file links there (segment.c); lone opens reset it */
    _Atomic uint64_t seq;       /* seal order, for the FIFO */
} segmeta_t;

typedef struct header {
    /* ---- immutable after creation, covered by `check` ---- */
    uint64_t magic;
    uint32_t version, header_bytes;
    uint64_t file_size, max_file_size; /* max: what item offsets can name (LAYOUT_MAX_FILE) */
    uint64_t memory_limit, item_size_max;
    uint64_t hash_seed, create_time;
    uint32_t hash_power, nstripes, nheads, nsegments;
    uint32_t segment_size, nthread_slots, nproc_slots, bitmap_words;
    uint64_t off_threads, off_procs, off_stripes, off_heads, off_segs, off_free, off_fifo,
        off_bitmaps, off_buckets, off_data;
    uint64_t check;

    /* ---- the segment lists, under global_lock ---- */
    alignas(64) robust_lock_t global_lock;
    _Atomic uint32_t free_count;
    _Atomic uint32_t fifo_first, fifo_count;
    _Atomic uint64_t seal_seq;

    /* ---- words shared by every writer, read-mostly ---- */
    alignas(64) _Atomic uint64_t cas_next;          /* next unreserved block of cas values */
    /* the flush epoch (low half: items of older epochs are flushed) and a delayed
     * flush_all's due time (high half; 0: none) in one word, so that claiming a due flush
     * and moving the epoch are one step (flush_word) */
    alignas(64) _Atomic uint64_t flush;
    _Atomic uint64_t total_connections;
    _Atomic uint64_t attached_overflow;             /* attached handles without a process slot */
    _Atomic uint64_t overflow_locks;                /* lock bytes they may hold (region.h) */
    _Atomic uint64_t sweep_time;                    /* last sweep for dead slot owners (s) */
    /* while the file is FROZEN (api/resize.c): the delayed flush's due time that the flush
     * word's high half held before, put back if the resize is undone */
    _Atomic uint64_t frozen_due;

    /* ---- counters of threads and processes that are gone, under global_lock ---- */
    alignas(64) _Atomic uint64_t retired[C_COUNT];
} header_t;

_Static_assert(sizeof(header_t) <= LAYOUT_HEADER_BYTES, "header fits its page");

/* A number that changes when a counter is added, removed, moved or renamed to a name of
 * another length: the sum of (index + 1) * sizeof("name") over the counters. */
#define LAYOUT_SIG_COUNTER(name) +(C_##name + 1u) * (unsigned)sizeof(#name)
#define LAYOUT_SIG_GAUGE(name)
#define LAYOUT_SIG_(kind, name, wire, reset, meaning) LAYOUT_SIG_##kind(name)
#define LAYOUT_COUNTER_SIG (0u SHMC_STATS(LAYOUT_SIG_))

/* tests/layout_values.c builds without them (SHMC_LAYOUT_UNCHECKED) to print the values
 * a changed layout needs. */
#ifndef SHMC_LAYOUT_UNCHECKED
_Static_assert(C_COUNT == LAYOUT_V_COUNTERS && LAYOUT_COUNTER_SIG == LAYOUT_V_COUNTER_SIG,
               "the counters changed: bump LAYOUT_VERSION and update LAYOUT_V_COUNTERS and "
               "LAYOUT_V_COUNTER_SIG (the counters' order in the file changed)");
_Static_assert(sizeof(robust_lock_t) != 40 ||
                   (sizeof(header_t) == LAYOUT_V_HEADER &&
                    offsetof(header_t, retired) == LAYOUT_V_RETIRED &&
                    sizeof(thread_slot_t) == LAYOUT_V_THREAD_SLOT &&
                    sizeof(proc_slot_t) == LAYOUT_V_PROC_SLOT &&
                    sizeof(stripe_t) == LAYOUT_V_STRIPE && sizeof(head_t) == LAYOUT_V_HEAD &&
                    sizeof(segmeta_t) == LAYOUT_V_SEGMETA &&
                    LAYOUT_ITEM_HEADER == LAYOUT_V_ITEM_HEADER),
               "a structure of the cache file changed: bump LAYOUT_VERSION and update the "
               "LAYOUT_V_* sizes next to it");
#endif

/* A flush word whose due half is one of these is a retired file's (api/resize.c): FROZEN
 * while a resize or removal is under way (writers wait), MOVED once the name leads to another
 * file or to none (every call reopens the name).  Real due times are kept below them. */
#define FLUSH_DUE_FROZEN 0xfffffffeu
#define FLUSH_DUE_MOVED 0xffffffffu
#define FLUSH_DUE_MAX 0xfffffff0u

static inline uint64_t flush_word(uint32_t epoch, uint32_t due) { return (uint64_t)epoch | (uint64_t)due << 32; }
static inline uint32_t flush_epoch_of(uint64_t w) { return (uint32_t)w; }
static inline uint32_t flush_due_of(uint64_t w) { return (uint32_t)(w >> 32); }

/* Fill the immutable part of *h from a configuration (defaults already applied).
 * Returns SHMC_OK or SHMC_INVALID with shmc_last_error() set. */
shmc_rc layout_compute(header_t *h, uint64_t memory_limit, uint64_t item_size_max,
                       unsigned hash_power);
/* The checksum of the immutable part. */
uint64_t layout_checksum(const header_t *h);
/* Whether a header read from a file of file_size bytes is exactly what its configuration
 * implies.  On failure, shmc_last_error() says which field. */
shmc_rc layout_validate(const header_t *h, uint64_t file_size);

#endif
