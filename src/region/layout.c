/* layout.c — derive every area of the cache file from its configuration, and check that a
 * header found in a file is exactly what its own configuration derives (see layout.h). */
#include "region/layout.h"

#include <stddef.h>
#include <string.h>

#include "util/error.h"

static uint64_t round_up(uint64_t v, uint64_t a) { return (v + a - 1) / a * a; }

static unsigned default_hash_power(uint64_t memory_limit)
{
    /* one bucket per 128 bytes of memory: chains stay ~1 long for 128-byte items and short
     * for the smallest ones, for 8 bytes per bucket */
    unsigned p = 10;
    while (p < 31 && ((uint64_t)1 << p) < memory_limit / 128) p++;
    return p;
}

shmc_rc layout_compute(header_t *h, uint64_t memory_limit, uint64_t item_size_max,
                       unsigned hash_power)
{
    if (item_size_max < LAYOUT_ITEM_MIN_SIZE_MAX || item_size_max > LAYOUT_ITEM_MAX_SIZE_MAX)
        return error_set(SHMC_INVALID, "item_size_max %llu out of range [%u, %u]",
                         (unsigned long long)item_size_max, LAYOUT_ITEM_MIN_SIZE_MAX,
                         LAYOUT_ITEM_MAX_SIZE_MAX);
    /* a segment holds the largest item: header, 250-byte key, value, rounding */
    uint64_t seg = round_up(item_size_max + LAYOUT_ITEM_HEADER + SHMC_KEY_MAX + 8, 4096);
    if (seg < LAYOUT_SEGMENT_MIN) seg = LAYOUT_SEGMENT_MIN;
    uint64_t nseg = memory_limit / seg;
    if (nseg < LAYOUT_SEGMENTS_MIN)
        return error_set(SHMC_INVALID,
                         "memory_limit %llu too small: it must hold %u segments of %llu bytes "
                         "(the item size limit %llu plus headers)",
                         (unsigned long long)memory_limit, LAYOUT_SEGMENTS_MIN,
                         (unsigned long long)seg, (unsigned long long)item_size_max);
    if (hash_power == 0) hash_power = default_hash_power(memory_limit);
    if (hash_power < 4 || hash_power > 31)
        return error_set(SHMC_INVALID, "hash_power %u out of range [4, 31]", hash_power);

    memset(h, 0, sizeof *h);
    h->magic = LAYOUT_MAGIC;
    h->version = LAYOUT_VERSION;
    h->header_bytes = LAYOUT_HEADER_BYTES;
    h->memory_limit = memory_limit;
    h->item_size_max = item_size_max;
    h->hash_power = hash_power;
    uint64_t nbuckets = (uint64_t)1 << hash_power;
    h->nstripes = (uint32_t)(nbuckets < LAYOUT_STRIPES_MAX ? nbuckets : LAYOUT_STRIPES_MAX);
    h->nsegments = (uint32_t)nseg;
    uint64_t heads = nseg / 8;
    h->nheads = (uint32_t)(heads < 1 ? 1 : heads > LAYOUT_HEADS_MAX ? LAYOUT_HEADS_MAX : heads);
    h->segment_size = (uint32_t)seg;
    h->nthread_slots = LAYOUT_THREAD_SLOTS;
    uint64_t procs = memory_limit / LAYOUT_PROC_SLOTS_PER;
    h->nproc_slots = (uint32_t)(procs < LAYOUT_PROC_SLOTS_MIN   ? LAYOUT_PROC_SLOTS_MIN
                                : procs > LAYOUT_PROC_SLOTS_MAX ? LAYOUT_PROC_SLOTS_MAX
                                                                : procs);
    h->bitmap_words = (uint32_t)(seg / LAYOUT_ACCESS_GRAIN / 64);

    uint64_t off = LAYOUT_HEADER_BYTES;
    h->off_threads = off;
    off = round_up(off + (uint64_t)h->nthread_slots * sizeof(thread_slot_t), 64);
    h->off_procs = off;
    off = round_up(off + (uint64_t)h->nproc_slots * sizeof(proc_slot_t), 128);
    h->off_stripes = off;
    off = round_up(off + (uint64_t)h->nstripes * sizeof(stripe_t), 64);
    h->off_heads = off;
    off = round_up(off + (uint64_t)h->nheads * sizeof(head_t), 64);
    h->off_segs = off;
    off = round_up(off + nseg * sizeof(segmeta_t), 64);
    h->off_free = off;
    off = round_up(off + nseg * 4, 64);
    h->off_fifo = off;
    off = round_up(off + nseg * 4, 64);
    h->off_bitmaps = off;
    off = round_up(off + nseg * h->bitmap_words * 8, 4096);
    h->off_buckets = off;
    off = round_up(off + nbuckets * 8, 4096);
    h->off_data = off;
    off += nseg * seg;
    if (off > LAYOUT_MAX_FILE)
        return error_set(SHMC_INVALID, "cache of %llu bytes exceeds the %llu-byte maximum",
                         (unsigned long long)off, (unsigned long long)LAYOUT_MAX_FILE);
    h->file_size = off;
    return SHMC_OK;
}

uint64_t layout_checksum(const header_t *h)
{
    const unsigned char *p = (const unsigned char *)h;
    uint64_t x = 0xcbf29ce484222325ull; /* FNV-1a */
    for (size_t i = 0; i < offsetof(header_t, check); i++) {
        x ^= p[i];
        x *= 0x100000001b3ull;
    }
    return x;
}

shmc_rc layout_validate(const header_t *h, uint64_t file_size)
{
    if (h->magic != LAYOUT_MAGIC) return error_set(SHMC_BAD_FILE, "not a shmc cache file (bad magic)");
    if (h->version != LAYOUT_VERSION)
        return error_set(SHMC_BAD_FILE, "cache file has layout version %u; this library reads %u",
                         h->version, LAYOUT_VERSION);
    if (h->check != layout_checksum(h))
        return error_set(SHMC_BAD_FILE, "cache file header is corrupt (checksum mismatch)");
    header_t want;
    shmc_rc rc = layout_compute(&want, h->memory_limit, h->item_size_max, h->hash_power);
    if (rc != SHMC_OK) return error_set(SHMC_BAD_FILE, "cache file header holds a bad configuration");
    want.hash_seed = h->hash_seed;
    want.create_time = h->create_time;
    if (memcmp(&want, h, offsetof(header_t, check)) != 0)
        return error_set(SHMC_BAD_FILE, "cache file header does not match its configuration");
    if (file_size != h->file_size)
        return error_set(SHMC_BAD_FILE, "cache file is %llu bytes; its header says %llu (truncated?)",
                         (unsigned long long)file_size, (unsigned long long)h->file_size);
    return SHMC_OK;
}
