/* layout.c — derive every area of the cache file from its configuration, and check that a
 * header found in a file is exactly what its own configuration derives (see layout.h). */
#include "region/layout.h"

#include <stddef.h>
#include <string.h>

#include "util/error.h"

static uint64_t round_up(uint64_t v, uint64_t a) { return (v + a - 1) / a * a; }

static unsigned default_hash_power(uint64_t memory_limit)
{
    /* sized for the smallest items: the largest power of two at most memory_limit / 48 (the
     * footprint of an item with a 1-byte key and no value), so chains stay under 2 long
     * however small the values, and ~0.35 long at 128-byte values; 8 bytes per bucket is
     * 1/6 to 1/12 of memory_limit */
    unsigned p = 10;
    while (p < LAYOUT_HASH_POWER_MAX && ((uint64_t)2 << p) <= memory_limit / LAYOUT_ITEM_MIN) p++;
    return p;
}

shmc_rc layout_compute(header_t *h, uint64_t memory_limit, uint64_t item_size_max,
                       unsigned hash_power)
{
    if (item_size_max < LAYOUT_ITEM_MIN_SIZE_MAX || item_size_max > LAYOUT_ITEM_MAX_SIZE_MAX)
        return error_set(SHMC_INVALID, "item_size_max %llu out of range [%u, %u]",
                         (unsigned long long)item_size_max, LAYOUT_ITEM_MIN_SIZE_MAX,
                         LAYOUT_ITEM_MAX_SIZE_MAX);
    /* memcached's rule: the largest item is at most half the memory */
    if (item_size_max > memory_limit / 2)
        return error_set(SHMC_INVALID,
                         "item_size_max %llu is more than half of memory_limit %llu (memcached "
                         "refuses it too: raise the memory limit or lower the item size limit)",
                         (unsigned long long)item_size_max, (unsigned long long)memory_limit);
    /* a segment holds the largest item: header, 250-byte key, value, rounding; memory is
     * cut into as many such segments as fit (at least two, so the oldest can be cleaned
     * while another takes writes), each as large as memory_limit allows */
    uint64_t seg = round_up(item_size_max + LAYOUT_ITEM_HEADER + SHMC_KEY_MAX + 8, 4096);
    if (seg < LAYOUT_SEGMENT_MIN) seg = LAYOUT_SEGMENT_MIN;
    uint64_t nseg = memory_limit / seg;
    if (nseg < LAYOUT_SEGMENTS_MIN) nseg = LAYOUT_SEGMENTS_MIN;
    else seg = memory_limit / nseg / 4096 * 4096;
    if (nseg > UINT32_MAX || seg > UINT32_MAX)
        return error_set(SHMC_INVALID, "memory_limit %llu is too large",
                         (unsigned long long)memory_limit);
    if (hash_power == 0) hash_power = default_hash_power(memory_limit);
    if (hash_power < 4 || hash_power > LAYOUT_HASH_POWER_MAX)
        return error_set(SHMC_INVALID, "hash_power %u out of range [4, %u]", hash_power,
                         LAYOUT_HASH_POWER_MAX);

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
    h->max_file_size = LAYOUT_MAX_FILE;
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
    if (h->version < LAYOUT_VERSION)
        return error_set(SHMC_BAD_FILE,
                         "cache file has layout version %u (%s); this build reads version %u: "
                         "remove the file (the next open creates a new, empty cache) or drain it "
                         "with the older shmc first",
                         h->version, h->version == 2 ? "shmc 0.1" : "an older shmc", LAYOUT_VERSION);
    if (h->version != LAYOUT_VERSION)
        return error_set(SHMC_BAD_FILE,
                         "cache file has layout version %u, made by a newer shmc; this build "
                         "reads version %u: use that shmc, or remove the file",
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
