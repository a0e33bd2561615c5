/* base_cache.h — the valid cache that the damaged-file checks (test_hostile_files and the
 * fuzz_check fuzzer) copy and damage, and the pieces both need to run a damaged copy.
 *
 * The cache is small and busy: items of many sizes, some deleted, expired, appended,
 * counted, fetched (so cleaning keeps them) and, because several times its memory is
 * written, evicted.  Header-only (static functions) so the fuzzer, built apart with clang,
 * can use it too. */
#ifndef SHMC_TESTS_BASE_CACHE_H
#define SHMC_TESTS_BASE_CACHE_H

#include <shmc.h>

#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

#include "region/layout.h"

#define BASE_MEMORY_LIMIT (512u * 1024u)
#define BASE_ITEM_MAX 1024u
#define BASE_HASH_POWER 6

/* A process token (pid, start time) that no live process has. */
#define BASE_DEAD_TOKEN 0x7fffffff7ffffffeull

static void base_key_of(char *out, size_t cap, unsigned i) { snprintf(out, cap, "key-%u", i); }

/* Create the cache at path and run nkeys keys' worth of mixed commands on it; *stats gets
 * its counters at the end.  Returns the first failure of open, a set or stats. */
static shmc_rc base_cache_build(const char *path, unsigned nkeys, shmc_stats_t *stats)
{
    shmc_config cfg;
    shmc_config_init(&cfg);
    cfg.memory_limit = BASE_MEMORY_LIMIT;
    cfg.item_size_max = BASE_ITEM_MAX;
    cfg.hash_power = BASE_HASH_POWER;
    shmc_t *c = NULL;
    shmc_rc rc = shmc_open(&c, path, &cfg);
    if (rc != SHMC_OK) return rc;
    unsigned char val[BASE_ITEM_MAX];
    char key[32];
    uint32_t x = 12345;
    for (unsigned i = 0; i < nkeys && rc == SHMC_OK; i++) {
        x = x * 1103515245u + 12345u;
        size_t n = 1 + (x >> 8) % BASE_ITEM_MAX;
        memset(val, 'a' + i % 26, n);
        base_key_of(key, sizeof key, i);
        int64_t exptime = i % 11 == 0 ? -1 : i % 5 == 0 ? 3600 : 0;
        rc = i % 13 == 0 ? shmc_set(c, key, strlen(key), "100", 3, i, exptime)
                         : shmc_set(c, key, strlen(key), val, n, i, exptime);
        if (i % 7 == 3) shmc_delete(c, key, strlen(key));
        if (i % 13 == 0) shmc_incr(c, key, strlen(key), i, NULL);
        if (i % 17 == 0) shmc_append(c, key, strlen(key), "tail", 4, 0, 0);
        if (i % 3 == 0) {
            size_t nv;
            shmc_get(c, key, strlen(key), val, sizeof val, &nv, NULL, NULL);
        }
        if (i % 19 == 0) shmc_touch(c, key, strlen(key), 7200);
    }
    if (rc == SHMC_OK) rc = shmc_stats(c, stats);
    shmc_close(c);
    return rc;
}

/* Leave an unmapped hole of size bytes followed by a PROT_NONE page, so that the next
 * mapping of that size (the library's) lands right before the guard: a read past its end
 * faults instead of reading a neighbour by luck. */
static void base_guard_next_mapping(size_t size)
{
    size_t page = 4096, span = (size + page - 1) / page * page;
    void *g = mmap(NULL, span + page, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (g != MAP_FAILED) munmap(g, span); /* keeps the last page as the guard */
}

/* Make a file image look left by a killed user: a handle still recorded as attached, so the
 * next opener scrubs it.  False when the image is too short to hold the process slots. */
static int base_mark_left_by_kill(unsigned char *file, size_t len, const header_t *h)
{
    if (len < h->off_procs + 8) return 0;
    uint64_t dead = BASE_DEAD_TOKEN;
    memcpy(file + h->off_procs, &dead, 8);
    return 1;
}

#endif
