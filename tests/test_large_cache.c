/* test_large_cache.c — a cache far past 32 GiB: 40 GiB of items in a file on disk.
 *
 * Item offsets are 40-bit counts of 8-byte units (layout.h), so a file can reach 8 TiB and
 * its header says so.  This test creates a 40 GiB cache under $SHMC_LARGE_DIR (default
 * /var/tmp: a disk, since /dev/shm rarely has the room), reopens it (the warm open, timed:
 * milliseconds, not a walk of the file), stores items, finds by reading the file itself that
 * they lie past 32 GiB, reads them back through the library before and after a warm
 * restart, runs the checker over the whole file, and removes it.  Where the filesystem has
 * no room for the file it prints why and skips. */
#include "testutil.h"

#include <fcntl.h>
#include <sys/statvfs.h>
#include <time.h>

#include "region/layout.h"
#include "store/index.h"
#include "store/item.h"
#include "util/hash.h"

#define ITEMS 20000
#define VALUE 1000


static void value_of(unsigned char *v, unsigned i)
{
    for (unsigned j = 0; j < VALUE; j++) v[j] = (unsigned char)(i * 7 + j);
}

/* The unit offset of key's item, found by reading the file as the library lays it out:
 * its bucket from the key's hash, then the chain.  0: not found. */
static uint64_t unit_in_file(int fd, const header_t *h, const char *key, size_t nkey)
{
    uint64_t hash = hash_key(key, nkey, h->hash_seed);
    uint64_t b = hash & (((uint64_t)1 << h->hash_power) - 1), w = 0;
    if (pread(fd, &w, 8, (off_t)(h->off_buckets + b * 8)) != 8) return 0;
    uint64_t u = bucket_head(w);
    for (int steps = 0; u && steps < 1000; steps++) {
        unsigned char buf[ITEM_HEADER + 256];
        if (pread(fd, buf, sizeof buf, (off_t)(u * LAYOUT_UNIT)) != (ssize_t)sizeof buf) return 0;
        item_t it;
        memcpy(&it, buf, sizeof it);
        if (it.nkey == nkey && memcmp(buf + ITEM_HEADER, key, nkey) == 0) return u;
        u = atomic_load(&it.next);
    }
    return 0;
}

int main(void)
{
    (void)t_setup, (void)t_path, (void)t_finish; /* this test's file lives on disk, not in /dev/shm */
    const char *dir_env = getenv("SHMC_LARGE_DIR");
    char dir[256];
    snprintf(dir, sizeof dir, "%s/shmc-test-large-%d", dir_env && *dir_env ? dir_env : "/var/tmp",
             (int)getpid());
    char path[320];
    snprintf(path, sizeof path, "%s/cache", dir);
    const uint64_t memory = 40ull << 30;
    header_t want;
    if (layout_compute(&want, memory, 1u << 20, 0) != SHMC_OK) {
        printf("FAIL a 40 GiB configuration is refused: %s\n", shmc_last_error());
        return 1;
    }
    CHECK(want.max_file_size >= 1ull << 40); /* the header says how far offsets reach */

    struct statvfs vfs;
    const char *parent = dir_env && *dir_env ? dir_env : "/var/tmp";
    if (statvfs(parent, &vfs) != 0) {
        printf("SKIP %s: cannot statvfs it\n", parent);
        printf("%d passed, %d failed\n", t_passed, t_failed);
        return t_failed ? 1 : 0;
    }
    uint64_t avail = (uint64_t)vfs.f_bavail * vfs.f_frsize, need = want.file_size + (4ull << 30);
    if (avail < need) {
        printf("SKIP 40 GiB cache: %s has %llu MiB free, the file needs %llu MiB plus 4 GiB to "
               "spare (set SHMC_LARGE_DIR to a filesystem with room)\n",
               parent, (unsigned long long)(avail >> 20), (unsigned long long)(want.file_size >> 20));
        printf("%d passed, %d failed\n", t_passed, t_failed);
        return t_failed ? 1 : 0;
    }
    mkdir(dir, 0700);

    shmc_config cfg;
    shmc_config_init(&cfg);
    cfg.memory_limit = memory;
    shmc_t *c = NULL;
    double t0 = t_now();
    shmc_rc rc = shmc_open(&c, path, &cfg);
    double t_create = t_now() - t0;
    CHECK_RC(rc, SHMC_OK);
    if (rc != SHMC_OK) {
        fprintf(stderr, "open: %s\n", shmc_last_error());
        unlink(path);
        rmdir(dir);
        printf("%d passed, %d failed\n", t_passed, t_failed);
        return 1;
    }
    shmc_close(c);

    /* the warm open: every other user gone, so the opener re-creates the locks and rebuilds
     * the segment lists (which hands out the highest free segments first) */
    t0 = t_now();
    CHECK_RC(shmc_open(&c, path, NULL), SHMC_OK);
    double t_warm = t_now() - t0;
    printf("40 GiB cache (file %llu bytes): created in %.1f ms, warm open in %.2f ms\n",
           (unsigned long long)want.file_size, t_create * 1e3, t_warm * 1e3);
    CHECK(t_warm < 0.5);

    unsigned char v[VALUE], got[VALUE + 1];
    char key[32];
    for (unsigned i = 0; i < ITEMS && c; i++) {
        value_of(v, i);
        size_t nk = (size_t)snprintf(key, sizeof key, "large:%u", i);
        if (shmc_set(c, key, nk, v, VALUE, i, 0) != SHMC_OK) {
            CHECK(!"set in the 40 GiB cache");
            break;
        }
    }
    shmc_close(c);

    int fd = open(path, O_RDONLY | O_CLOEXEC);
    header_t h;
    CHECK(fd >= 0 && pread(fd, &h, sizeof h, 0) == (ssize_t)sizeof h);
    CHECK(h.version == LAYOUT_VERSION && h.max_file_size == want.max_file_size);
    unsigned past = 0, found = 0;
    uint64_t highest = 0;
    for (unsigned i = 0; i < ITEMS; i++) {
        size_t nk = (size_t)snprintf(key, sizeof key, "large:%u", i);
        uint64_t u = unit_in_file(fd, &h, key, nk);
        found += u != 0;
        past += u * LAYOUT_UNIT > (32ull << 30);
        if (u > highest) highest = u;
    }
    close(fd);
    printf("%u of %u items found in the file, %u past 32 GiB, the highest at byte %llu\n", found,
           ITEMS, past, (unsigned long long)(highest * LAYOUT_UNIT));
    CHECK(found == ITEMS);
    CHECK(past == ITEMS);

    /* read back through the library, after a warm restart */
    c = NULL;
    CHECK_RC(shmc_open(&c, path, NULL), SHMC_OK);
    unsigned good = 0;
    for (unsigned i = 0; i < ITEMS && c; i++) {
        value_of(v, i);
        size_t nk = (size_t)snprintf(key, sizeof key, "large:%u", i), n = 0;
        uint32_t flags = 0;
        if (shmc_get(c, key, nk, got, sizeof got, &n, &flags, NULL) == SHMC_OK && n == VALUE &&
            flags == i && memcmp(got, v, VALUE) == 0)
            good++;
    }
    CHECK(good == ITEMS);
    if (c) shmc_close(c);

    t0 = t_now();
    t_check_file(path);
    printf("checker over the whole file: %.1f s\n", t_now() - t0);

    unlink(path);
    rmdir(dir);
    printf("%d passed, %d failed\n", t_passed, t_failed);
    return t_failed ? 1 : 0;
}
