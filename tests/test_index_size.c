/* test_index_size.c — the hash index stays O(1) whatever the item size.
 *
 * The index is sized for the smallest items (memory_limit / 48 buckets, rounded down to a
 * power of two), so a cache full of tiny items still has short chains.  This test fills a
 * cache to the brim three times — 8 MiB with the smallest items there are (1..3-byte keys,
 * empty values), 16 MiB with 16-byte values, and with 128-byte values — and walks the file's buckets to
 * measure what a hit costs: the mean number of items a successful lookup examines
 * (1 + the items ahead of it in its chain).  Memory is random access, so that number is the
 * get's cost in cache misses.  Bound: under 1.75 for the smallest items, under 1.6 at 16
 * bytes with short keys (64-byte items: load 1.0), under 1.5 at 128 bytes; an index of one
 * bucket per 128 bytes, as before, has twice the load: 1 + load / 2 = 2.3, 2.0 and 1.4. */
#include "testutil.h"

#include <fcntl.h>
#include <sys/mman.h>

#include "region/layout.h"
#include "store/index.h"
#include "store/item.h"

/* Fill until the cache holds no more: stop once the count stays put for a while. */
static uint64_t fill(shmc_t *c, size_t nvalue, int tiny_keys)
{
    static const char alphabet[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    char key[32], value[128];
    memset(value, 'v', sizeof value);
    uint64_t stored = 0;
    shmc_stats_t st;
    for (uint64_t i = 0;; i++) {
        size_t nk;
        if (tiny_keys) { /* every key of 1 to 3 bytes over 62 letters: 242,234 keys */
            uint64_t x = i;
            nk = 0;
            do {
                key[nk++] = alphabet[x % 62];
                x /= 62;
            } while (x && nk < 3);
            if (x) break;
        } else {
            nk = (size_t)snprintf(key, sizeof key, "k%llu", (unsigned long long)i);
        }
        if (shmc_set(c, key, nk, value, nvalue, 0, 0) != SHMC_OK) break;
        stored++;
        if (i % 65536 == 65535) {
            shmc_stats(c, &st);
            if (st.evictions > 0) break;
        }
    }
    return stored;
}

/* Mean items examined by a successful lookup, over every item linked in the file. */
static double mean_probes(const char *path, uint64_t *items_out, uint64_t *buckets_out)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    header_t h;
    if (fd < 0 || pread(fd, &h, sizeof h, 0) != (ssize_t)sizeof h) return 99;
    unsigned char *f = mmap(NULL, h.file_size, PROT_READ, MAP_SHARED, fd, 0);
    close(fd);
    if (f == MAP_FAILED) return 99;
    uint64_t nb = (uint64_t)1 << h.hash_power, items = 0, probes = 0;
    for (uint64_t b = 0; b < nb; b++) {
        uint64_t w;
        memcpy(&w, f + h.off_buckets + b * 8, 8);
        uint64_t len = 0;
        for (uint64_t u = bucket_head(w); u && len < 1000; len++) {
            const item_t *it = (const item_t *)(f + u * LAYOUT_UNIT);
            u = atomic_load(&it->next);
        }
        items += len;
        probes += len * (len + 1) / 2;
    }
    munmap(f, h.file_size);
    *items_out = items;
    *buckets_out = nb;
    return items ? (double)probes / (double)items : 99;
}

static void measure(const char *name, size_t memory, size_t nvalue, int tiny_keys, double bound)
{
    shmc_config cfg;
    shmc_config_init(&cfg);
    cfg.memory_limit = memory;
    cfg.item_size_max = 64u << 10;
    shmc_t *c = NULL;
    CHECK_RC(shmc_open(&c, t_path(name), &cfg), SHMC_OK);
    if (!c) return;
    uint64_t stored = fill(c, nvalue, tiny_keys);
    shmc_close(c);
    t_check_file(t_path(name));
    uint64_t items = 0, buckets = 0;
    double probes = mean_probes(t_path(name), &items, &buckets);
    printf("%-22s %8llu items in %8llu buckets (load %.2f): a hit examines %.2f items\n", name,
           (unsigned long long)items, (unsigned long long)buckets, (double)items / (double)buckets,
           probes);
    CHECK(stored > 0 && items > 0);
    CHECK(probes < bound);
    unlink(t_path(name));
}

int main(void)
{
    t_setup("index-size");
    measure("smallest items", 8u << 20, 0, 1, 1.75); /* 8 MiB: what 1-3-byte keys can fill */
    measure("16-byte values", 16u << 20, 16, 0, 1.6);
    measure("128-byte values", 16u << 20, 128, 0, 1.5);
    return t_finish();
}
