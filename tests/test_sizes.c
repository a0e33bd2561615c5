/* test_sizes.c — every size memcached 1.6 accepts works: a memory limit from 1 MiB up, and
 * any item size limit from 1 KiB up to half of it (memcached's own rule), up to 1 GiB.
 *
 * For each configuration, from the smallest (-m 1 -I 1k, -m 1 -I 512k, -m 2 -I 1m) through
 * the ones memcached users pick for big objects (-m 64 -I 16m) to the largest item
 * (-I 1g in 2 GiB, where /dev/shm has room): items of exactly the largest size are stored
 * and found again, one byte more is refused; a stream of mixed sizes several times the
 * memory is stored without a single NO_MEMORY (eviction under pressure) and the newest
 * items are found; then the sizes shift from small to large values and the newest large
 * ones are found (no memory stays calcified in the old sizes); the cache survives a warm
 * restart; and the checker finds it clean after each step.  Sizes memcached refuses are
 * refused here too (test_api_args). */
#include "testutil.h"

#include <stdint.h>
#include <sys/statvfs.h>

static unsigned char *want, *got;

/* Sanitizer builds copy memory several times slower: they write half the volume (still
 * several times what each cache holds, so eviction runs throughout). */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define VOLUME_SCALE 0.5
#else
#define VOLUME_SCALE 1.0
#endif
/* Memory the 1 GiB-item case touches: the 2 GiB cache and two 1 GiB buffers, and under
 * ThreadSanitizer its shadow (about 4 bytes per byte) on top. */
#if defined(__SANITIZE_THREAD__)
#define GIANT_MEMORY (24ull << 30)
#else
#define GIANT_MEMORY (6ull << 30)
#endif

/* The value of item id: n bytes that depend on id and position. */
static void fill(unsigned char *buf, size_t n, uint64_t id)
{
    uint64_t x = id * 0x9e3779b97f4a7c15ull + 1;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        memcpy(buf + i, &x, 8);
    }
    for (; i < n; i++) buf[i] = (unsigned char)(id + i);
}

static size_t key_of(char *key, const char *prefix, uint64_t id)
{
    return (size_t)snprintf(key, 64, "%s:%llu", prefix, (unsigned long long)id);
}

/* Whether item id holds exactly its n bytes. */
static int holds(shmc_t *c, const char *prefix, uint64_t id, size_t n)
{
    char key[64];
    size_t nk = key_of(key, prefix, id), nv = 0;
    if (shmc_get(c, key, nk, got, n + 1, &nv, NULL, NULL) != SHMC_OK || nv != n) return 0;
    fill(want, n, id);
    return memcmp(got, want, n) == 0;
}

static shmc_rc put(shmc_t *c, const char *prefix, uint64_t id, size_t n)
{
    char key[64];
    size_t nk = key_of(key, prefix, id);
    fill(want, n, id);
    return shmc_set(c, key, nk, want, n, (uint32_t)id, 0);
}

typedef struct written {
    uint64_t id;
    size_t n;
} written_t;

/* Store `volume` bytes of values whose sizes come from size_of(rnd); every set must store.
 * Then the newest items holding `keep` bytes must all be found. */
static void pressure(shmc_t *c, const char *prefix, uint64_t volume, uint64_t keep,
                     size_t (*size_of)(uint64_t rnd, size_t max), size_t max, const char *what)
{
    size_t cap = 1 << 16, count = 0;
    written_t *w = malloc(cap * sizeof *w);
    uint64_t rnd = 88172645463325252ull, total = 0;
    int refused = 0;
    while (total < volume) {
        rnd ^= rnd << 13, rnd ^= rnd >> 7, rnd ^= rnd << 17;
        size_t n = size_of(rnd, max);
        shmc_rc rc = put(c, prefix, count, n);
        if (rc != SHMC_OK) {
            if (!refused++)
                fprintf(stderr, "FAIL %s: set of %zu bytes -> %s (%s)\n", what, n, shmc_strerror(rc),
                        shmc_last_error());
        }
        if (count == cap) w = realloc(w, (cap *= 2) * sizeof *w);
        w[count] = (written_t){count, n};
        count++;
        total += n;
    }
    CHECK(refused == 0);
    uint64_t kept = 0;
    size_t checked = 0, missing = 0;
    for (size_t i = count; i-- > 0 && (checked == 0 || kept + w[i].n + 64 <= keep);) {
        kept += w[i].n + 64;
        checked++;
        if (!holds(c, prefix, w[i].id, w[i].n)) missing++;
    }
    if (missing) fprintf(stderr, "FAIL %s: %zu of the newest %zu items missing\n", what, missing, checked);
    CHECK(checked >= 1 && missing == 0);
    free(w);
}

static size_t mixed_size(uint64_t rnd, size_t max)
{
    if (rnd % 64 == 0) return max / 2 + (size_t)(rnd >> 8) % (max / 2 + 1); /* a large one */
    size_t small = max < 4096 ? max : 4096;
    return (size_t)(rnd >> 8) % (small + 1);
}
static size_t small_size(uint64_t rnd, size_t max) { return (size_t)(rnd >> 8) % (max < 4096 ? max + 1 : 4097); }
static size_t large_size(uint64_t rnd, size_t max) { return max / 4 + (size_t)(rnd >> 8) % (max - max / 4 + 1); }

static void run_config(size_t memory, size_t item_max, double pressure_rounds)
{
    char name[64], what[160];
    snprintf(name, sizeof name, "m%zu-i%zu", memory, item_max);
    const char *path = t_path(name);
    printf("memory_limit %zu, item_size_max %zu\n", memory, item_max);
    shmc_config cfg;
    shmc_config_init(&cfg);
    cfg.memory_limit = memory;
    cfg.item_size_max = item_max;
    shmc_t *c = NULL;
    shmc_rc rc = shmc_open(&c, path, &cfg);
    CHECK_RC(rc, SHMC_OK);
    if (rc != SHMC_OK) {
        fprintf(stderr, "  %s\n", shmc_last_error());
        return;
    }
    shmc_stats_t st;
    CHECK_RC(shmc_stats(c, &st), SHMC_OK);
    CHECK(st.limit_maxbytes == memory && st.item_size_max == item_max);

    /* the largest items, one after another: each evicts what it must */
    for (uint64_t i = 0; i < 3; i++) {
        CHECK_RC(put(c, "max", i, item_max), SHMC_OK);
        CHECK(holds(c, "max", i, item_max));
    }
    CHECK_RC(put(c, "max", 99, item_max + 1), SHMC_TOO_LARGE);
    t_check_file(path);

    uint64_t volume = (uint64_t)(pressure_rounds * VOLUME_SCALE * (double)memory);
    snprintf(what, sizeof what, "%s mixed sizes", name);
    pressure(c, "mix", volume, memory / 8, mixed_size, item_max, what);
    CHECK_RC(shmc_stats(c, &st), SHMC_OK);
    CHECK(st.evictions > 0);
    t_check_file(path);

    /* sizes shift: small values fill the cache, then large ones take it over */
    snprintf(what, sizeof what, "%s small values", name);
    pressure(c, "small", volume, memory / 8, small_size, item_max, what);
    snprintf(what, sizeof what, "%s then large values", name);
    pressure(c, "large", volume, memory / 8, large_size, item_max, what);
    CHECK_RC(shmc_stats(c, &st), SHMC_OK);
    printf("  %llu items, %llu bytes, %llu evictions\n", (unsigned long long)st.curr_items,
           (unsigned long long)st.bytes, (unsigned long long)st.evictions);
    /* the memory now holds the new size: at least a quarter of it in large values */
    CHECK(st.bytes >= memory / 4);
    CHECK_RC(put(c, "max", 7, item_max), SHMC_OK);
    shmc_close(c);
    t_check_file(path);

    /* warm restart: the file's own configuration, the newest largest item still there */
    c = NULL;
    CHECK_RC(shmc_open(&c, path, NULL), SHMC_OK);
    if (c) {
        CHECK(holds(c, "max", 7, item_max));
        CHECK_RC(shmc_stats(c, &st), SHMC_OK);
        CHECK(st.limit_maxbytes == memory && st.item_size_max == item_max);
        CHECK(st.recovery_scrubs == 0);
        shmc_close(c);
    }
    unlink(path);
}

int main(void)
{
    t_setup("sizes");
    const size_t K = 1024, M = 1024 * 1024;
    want = malloc(64 * M + 1);
    got = malloc(64 * M + 2);
    run_config(1 * M, 1 * K, 4);
    run_config(1 * M, 512 * K, 8);
    run_config(2 * M, 1 * M, 8);   /* memcached -m 2 */
    run_config(3 * M, 1 * M, 6);   /* memcached -m 3 */
    run_config(8 * M, 1 * M, 3);   /* memory_limit 8 MiB with the default item limit */
    run_config(64 * M, 16 * M, 3); /* memcached -m 64 -I 16m */
    run_config(64 * M, 1 * M, 2);  /* the default */

    /* the largest item memcached allows: 1 GiB, in 2 GiB of memory */
    struct statvfs vfs;
    uint64_t free_shm = statvfs(t_dir, &vfs) == 0 ? (uint64_t)vfs.f_bavail * vfs.f_frsize : 0;
    long pages = sysconf(_SC_AVPHYS_PAGES), psize = sysconf(_SC_PAGESIZE);
    uint64_t free_mem = pages > 0 && psize > 0 ? (uint64_t)pages * (uint64_t)psize : 0;
    if (free_shm < (3ull << 30) || free_mem < GIANT_MEMORY) {
        printf("SKIP memory_limit 2 GiB, item_size_max 1 GiB: needs 3 GiB free in %s (has %llu MiB) "
               "and %llu MiB of free memory (has %llu MiB)\n",
               t_dir, (unsigned long long)(free_shm >> 20), (unsigned long long)(GIANT_MEMORY >> 20),
               (unsigned long long)(free_mem >> 20));
    } else {
        free(want);
        free(got);
        want = malloc((1u << 30) + 1);
        got = malloc((1u << 30) + 2);
        if (want && got) run_config(2048 * M, 1024 * M, 2);
        else printf("SKIP memory_limit 2 GiB, item_size_max 1 GiB: no 2 GiB of process memory\n");
    }
    free(want);
    free(got);
    return t_finish();
}
