/* fuzz_check.c — libFuzzer target: damaged cache files must never crash or hang the library.
 *
 * A valid small cache (a few thousand stores: live, deleted, expired and evicted items, every
 * segment used) is built once.  Each input is a list of mutations — bit flips, byte/word
 * writes, planted offsets, fillers and chain cycles, aimed at one area of the file (header,
 * thread and process slots, lock stripes, heads, segment table, lists, access bits, buckets,
 * items) — plus possibly a new length.  The damaged copy then goes through shmc_check,
 * shmc_open and, when the open succeeds, a few reads and writes, shmc_close and shmc_check
 * again.  Refusing the file (SHMC_BAD_FILE) is fine; a crash, a sanitizer report or a hang
 * (libFuzzer's -timeout) is the bug this hunts.  Each mapping the library makes is placed
 * right before a PROT_NONE page, so a read past a mapping's end faults instead of reading a
 * neighbour by luck.  Three answers are also checked: an undamaged copy is clean and opens; a
 * copy of another length is refused; and a copy left as by a killed user (odd-sized inputs)
 * is scrubbed at open and leaves a cache the checker finds whole. */
#include <shmc.h>

#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "../progs/base_cache.h"
#include "region/layout.h"
#include "store/item.h"

#define ITEM_MAX BASE_ITEM_MAX
#define NKEYS 2000
#define MAX_MUTATIONS 64

static char base_path[128], work_path[128];
static uint8_t *base;      /* the valid file's bytes */
static size_t base_size;
static uint8_t *work;      /* the copy being damaged */
static header_t hdr;       /* the valid file's header */

/* the areas mutations aim at: [start, end) in the file */
typedef struct area {
    const char *name;
    uint64_t start, end;
} area_t;
#define NAREAS 13
static area_t areas[NAREAS];

/* units (8-byte offsets) of items linked in the valid file, for planted links and cycles */
static uint32_t *item_units;
static size_t nitem_units;

static void die(const char *what, shmc_rc rc)
{
    fprintf(stderr, "fuzz_check: %s: %s (%s)\n", what, shmc_strerror(rc), shmc_last_error());
    unlink(base_path);
    unlink(work_path);
    abort();
}

static void cleanup(void)
{
    unlink(base_path);
    unlink(work_path);
}

/* The valid cache (progs/base_cache.h), checked clean. */
static void build_base(void)
{
    shmc_stats_t s;
    shmc_rc rc = base_cache_build(base_path, NKEYS, &s);
    if (rc != SHMC_OK) die("build the base cache", rc);
    if (s.evictions == 0 || s.curr_items < 100) {
        fprintf(stderr, "fuzz_check: the base cache should hold items and have evicted some\n");
        abort();
    }
    size_t violations = 0;
    rc = shmc_check(base_path, stderr, &violations);
    if (rc != SHMC_OK || violations) die("the base cache is not clean", rc);
}

static void load_base(void)
{
    int fd = open(base_path, O_RDONLY);
    if (fd < 0) die("open the base cache", SHMC_SYSTEM);
    off_t n = lseek(fd, 0, SEEK_END);
    base_size = (size_t)n;
    base = malloc(base_size);
    work = malloc(base_size + 8192);
    if (!base || !work || pread(fd, base, base_size, 0) != (ssize_t)base_size)
        die("read the base cache", SHMC_SYSTEM);
    close(fd);
    memcpy(&hdr, base, sizeof hdr);
    const header_t *h = &hdr;
    area_t a[NAREAS] = {
        {"header (immutable)", 0, offsetof(header_t, check) + 8},
        {"header (shared words)", offsetof(header_t, global_lock), sizeof(header_t)},
        {"thread slots", h->off_threads, h->off_procs},
        {"process slots", h->off_procs, h->off_stripes},
        {"lock stripes", h->off_stripes, h->off_heads},
        {"append heads", h->off_heads, h->off_segs},
        {"segment table", h->off_segs, h->off_free},
        {"free stack", h->off_free, h->off_fifo},
        {"FIFO", h->off_fifo, h->off_bitmaps},
        {"access bits", h->off_bitmaps, h->off_buckets},
        {"buckets", h->off_buckets, h->off_data},
        {"items", h->off_data, h->file_size},
        {"anywhere", 0, h->file_size},
    };
    memcpy(areas, a, sizeof a);
    /* every item a bucket chain holds */
    item_units = malloc(sizeof *item_units * (base_size / 40 + 1));
    if (!item_units) die("out of memory", SHMC_SYSTEM);
    uint64_t nbuckets = (uint64_t)1 << h->hash_power;
    uint32_t first = (uint32_t)(h->off_data / LAYOUT_UNIT), end = (uint32_t)(h->file_size / LAYOUT_UNIT);
    for (uint64_t b = 0; b < nbuckets; b++) {
        uint64_t w;
        memcpy(&w, base + h->off_buckets + b * 8, 8);
        uint32_t u = (uint32_t)(w & (((uint64_t)1 << LAYOUT_UNIT_BITS) - 1)); /* far below 32 GiB */
        for (int steps = 0; u >= first && u < end && steps < 10000; steps++) {
            item_units[nitem_units++] = u;
            uint32_t next;
            memcpy(&next, base + (uint64_t)u * LAYOUT_UNIT + offsetof(item_t, next), 4);
            u = next;
        }
    }
    if (nitem_units < 50) {
        fprintf(stderr, "fuzz_check: only %zu linked items in the base cache\n", nitem_units);
        abort();
    }
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    snprintf(base_path, sizeof base_path, "/dev/shm/shmc-fuzz-check-%d-base", (int)getpid());
    snprintf(work_path, sizeof work_path, "/dev/shm/shmc-fuzz-check-%d-work", (int)getpid());
    unlink(base_path);
    unlink(work_path);
    atexit(cleanup);
    build_base();
    load_base();
    return 0;
}

/* ---- mutations ---- */

typedef struct reader {
    const uint8_t *p;
    size_t n, i;
} reader_t;

static uint8_t rd8(reader_t *r) { return r->i < r->n ? r->p[r->i++] : 0; }
static uint32_t rd32(reader_t *r)
{
    uint32_t v = 0;
    for (int i = 0; i < 4; i++) v |= (uint32_t)rd8(r) << (8 * i);
    return v;
}

/* Values that mean something somewhere in the file. */
static uint64_t dictionary(uint32_t i)
{
    uint32_t first = (uint32_t)(hdr.off_data / LAYOUT_UNIT), end = (uint32_t)(hdr.file_size / LAYOUT_UNIT);
    switch (i % 20) {
    case 0: return 0;
    case 1: return 1;
    case 2: return UINT32_MAX;
    case 3: return UINT64_MAX;
    case 4: return first;
    case 5: return end - 1;
    case 6: return end;
    case 7: return item_units[(i / 20) % nitem_units];
    case 8: return item_units[(i / 20) % nitem_units] + 1;
    case 9: return hdr.segment_size;
    case 10: return hdr.segment_size - 8;
    case 11: return hdr.nsegments;
    case 12: return hdr.nsegments - 1;
    case 13: return hdr.nheads;
    case 14: return (uint64_t)1 << 32 | item_units[(i / 20) % nitem_units]; /* odd version */
    case 15: return ITEM_FILLER;
    case 16: return ITEM_LIVE;
    case 17: return 0x80000000u;
    case 18: return SEG_CLEANING + 1 + i / 20 % 4;
    default: return (uint64_t)getpid(); /* a live "owner" */
    }
}

static uint64_t apply_mutations(reader_t *r)
{
    uint64_t length = base_size;
    int count = 1 + rd8(r) % MAX_MUTATIONS;
    for (int m = 0; m < count && r->i < r->n; m++) {
        uint8_t op = rd8(r) % 10;
        const area_t *a = &areas[rd8(r) % NAREAS];
        uint64_t span = a->end - a->start;
        uint64_t off = a->start + rd32(r) % (span ? span : 1);
        uint32_t v = rd32(r);
        switch (op) {
        case 0: work[off] ^= (uint8_t)(1u << (v & 7)); break;
        case 1: work[off] = (uint8_t)v; break;
        case 2: off &= ~(uint64_t)3; if (off + 4 <= base_size) memcpy(work + off, &v, 4); break;
        case 3: {
            uint64_t w = dictionary(v);
            off &= ~(uint64_t)7;
            if (off + 8 <= base_size) memcpy(work + off, &w, 8);
            break;
        }
        case 4: {
            uint32_t w = (uint32_t)dictionary(v);
            off &= ~(uint64_t)3;
            if (off + 4 <= base_size) memcpy(work + off, &w, 4);
            break;
        }
        case 5: { /* a range of one byte value */
            uint64_t n = 1 + (v >> 8) % 512;
            if (off + n > base_size) n = base_size - off;
            memset(work + off, (uint8_t)v, n);
            break;
        }
        case 6: { /* an item's next: itself, another item, or garbage */
            uint32_t u = item_units[v % nitem_units];
            uint32_t to = (v >> 16) % 3 == 0 ? u : (uint32_t)dictionary(v >> 8);
            memcpy(work + (uint64_t)u * LAYOUT_UNIT + offsetof(item_t, next), &to, 4);
            break;
        }
        case 7: { /* an item's header field */
            uint32_t u = item_units[v % nitem_units];
            uint64_t at = (uint64_t)u * LAYOUT_UNIT + (v >> 16) % ITEM_HEADER;
            work[at] ^= (uint8_t)(1u << ((v >> 8) & 7));
            break;
        }
        case 8: { /* a filler at an item boundary of some segment, of a meaningful size */
            uint32_t seg = v % hdr.nsegments;
            uint64_t at = hdr.off_data + (uint64_t)seg * hdr.segment_size + (off * 8) % hdr.segment_size;
            uint32_t fill = (v >> 8) & 1 ? (uint32_t)dictionary(v >> 9)
                                         : (uint32_t)(hdr.segment_size - (at - hdr.off_data) % hdr.segment_size - 8 * ((v >> 9) % 8));
            if (at + ITEM_HEADER <= base_size) {
                item_t *f = (item_t *)(work + at);
                f->kind = ITEM_FILLER;
                f->nvalue = fill;
            }
            break;
        }
        default: /* another length: shorter (inside the area) or longer */
            length = (v & 1) ? base_size + 8 * (1 + (v >> 1) % 1024) : off;
            break;
        }
    }
    return length;
}

static void write_work(uint64_t length)
{
    int fd = open(work_path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    if (fd < 0) die("create the damaged copy", SHMC_SYSTEM);
    if (length > base_size) memset(work + base_size, 0, length - base_size);
    if (pwrite(fd, work, length, 0) != (ssize_t)length) die("write the damaged copy", SHMC_SYSTEM);
    close(fd);
}

/* ---- use of the damaged copy ---- */

static void use_cache(shmc_t *c, reader_t *r)
{
    char key[32];
    uint8_t buf[ITEM_MAX + 16];
    size_t nv;
    uint32_t flags;
    uint64_t cas;
    for (int i = 0; i < 12; i++) {
        unsigned k = rd32(r) % NKEYS;
        base_key_of(key, sizeof key, k);
        size_t nk = strlen(key);
        shmc_rc rc;
        switch (rd8(r) % 10) {
        case 0: case 1: case 2:
            rc = shmc_get(c, key, nk, buf, sizeof buf, &nv, &flags, &cas);
            if (rc == SHMC_OK && nv > ITEM_MAX) {
                fprintf(stderr, "fuzz_check: get returned %zu bytes, more than the item limit\n", nv);
                abort();
            }
            break;
        case 3: {
            size_t n = rd8(r) * 5u % (ITEM_MAX + 2);
            memset(buf, 'z', n);
            rc = shmc_set(c, key, nk, buf, n, 7, 0);
            break;
        }
        case 4: rc = shmc_incr(c, key, nk, 3, NULL); break;
        case 5: rc = shmc_delete(c, key, nk); break;
        case 6: rc = shmc_append(c, key, nk, "xyz", 3, 0, 0); break;
        case 7: rc = shmc_touch(c, key, nk, 600); break;
        case 8: {
            void *v = NULL;
            rc = shmc_get_alloc(c, key, nk, &v, &nv, NULL, NULL);
            free(v);
            break;
        }
        default: {
            shmc_stats_t s;
            rc = shmc_stats(c, &s);
            break;
        }
        }
        if (rc == SHMC_INVALID || rc == SHMC_BAD_KEY || (unsigned)rc >= SHMC_RC_COUNT) {
            fprintf(stderr, "fuzz_check: a valid call answered %s\n", shmc_strerror(rc));
            abort();
        }
    }
    if (rd8(r) & 1) shmc_flush_all(c, 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    reader_t r = {data, size, 0};
    memcpy(work, base, base_size);
    uint64_t length = size ? apply_mutations(&r) : base_size;
    /* odd-sized inputs: the file is also left as by a killed user, so the opener scrubs, and
     * after that nothing may be left for the checker to find */
    bool left_by_a_kill = (size & 1) && base_mark_left_by_kill(work, length, &hdr);
    write_work(length);

    size_t violations = 0;
    base_guard_next_mapping(base_size);
    shmc_rc rc = shmc_check(work_path, NULL, &violations);
    if (rc != SHMC_OK && rc != SHMC_BAD_FILE) die("shmc_check answered", rc);
    if (length != base_size && rc != SHMC_BAD_FILE) {
        fprintf(stderr, "fuzz_check: a copy of %llu bytes (the cache has %zu) was not refused\n",
                (unsigned long long)length, base_size);
        abort();
    }
    if (size == 0 && (rc != SHMC_OK || violations)) die("the undamaged copy is not clean", rc);

    shmc_t *c = NULL;
    base_guard_next_mapping(base_size);
    rc = shmc_open(&c, work_path, NULL);
    if (rc == SHMC_OK) {
        use_cache(c, &r);
        shmc_close(c);
        rc = shmc_check(work_path, NULL, &violations);
        if (rc != SHMC_OK && rc != SHMC_BAD_FILE) die("shmc_check after use answered", rc);
        if (left_by_a_kill && (rc != SHMC_OK || violations)) {
            shmc_check(work_path, stderr, &violations);
            fprintf(stderr, "fuzz_check: the cache is not whole after a scrubbed recovery\n");
            abort();
        }
    } else if (rc != SHMC_BAD_FILE) {
        die("shmc_open answered", rc);
    } else if (size == 0) {
        die("the undamaged copy does not open", rc);
    } else if (c) {
        fprintf(stderr, "fuzz_check: shmc_open failed but set the handle\n");
        abort();
    }
    unlink(work_path);
    return 0;
}
