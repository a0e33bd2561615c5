/* test_evictions_record.c — shmc_evictions_record / shmc_evictions_drain: a handle that
 * records learns of exactly the live items its own stores evicted (key, size, flags, ttl,
 * fetched bit), oldest first, bounded, counting what it had to drop; a handle that does not
 * record, or another handle on the same cache, learns nothing of them; bad arguments are
 * refused. */
#include <stdbool.h>

#include "testutil.h"

#define VLEN 1000

static shmc_t *open_cache(const char *path)
{
    shmc_config cfg;
    shmc_config_init(&cfg);
    cfg.memory_limit = 4 << 20;
    cfg.item_size_max = 64 << 10;
    shmc_t *c = NULL;
    CHECK_RC(shmc_open(&c, path, &cfg), SHMC_OK);
    return c;
}

static uint64_t evictions(shmc_t *c)
{
    shmc_stats_t st;
    CHECK_RC(shmc_stats(c, &st), SHMC_OK);
    return st.evictions;
}

/* Store "k<i>" (flags i % 7, ttl 0 or 1000) until the cache has evicted `want` items. */
static uint64_t fill(shmc_t *c, uint64_t want, uint64_t *next)
{
    static char v[VLEN];
    memset(v, 'v', sizeof v);
    uint64_t before = evictions(c);
    while (evictions(c) - before < want && *next < 1000000) {
        char key[32];
        int n = snprintf(key, sizeof key, "k%llu", (unsigned long long)*next);
        CHECK_RC(shmc_set(c, key, (size_t)n, v, VLEN, (uint32_t)(*next % 7),
                          *next % 2 ? 1000 : 0), SHMC_OK);
        if (*next % 3 == 0) {
            size_t nv;
            CHECK_RC(shmc_get(c, key, (size_t)n, v, sizeof v, &nv, NULL, NULL), SHMC_OK);
        }
        ++*next;
    }
    return evictions(c) - before;
}

static void records_own_evictions(void)
{
    const char *path = t_path("rec");
    shmc_t *c = open_cache(path), *other = open_cache(path);
    CHECK_RC(shmc_evictions_record(c, 100000), SHMC_INVALID);    /* over the maximum */
    CHECK_RC(shmc_evictions_record(c, 0), SHMC_INVALID);
    CHECK_RC(shmc_evictions_record(c, 4096), SHMC_OK);
    CHECK_RC(shmc_evictions_record(c, 16), SHMC_INVALID);        /* once per handle */
    CHECK_RC(shmc_evictions_record(NULL, 16), SHMC_INVALID);

    uint64_t next = 0;
    uint64_t evicted = fill(c, 50, &next);
    CHECK(evicted >= 50);
    static shmc_eviction ev[8192];
    size_t n = 0;
    uint64_t lost = 99;
    CHECK_RC(shmc_evictions_drain(c, ev, 8192, &n, &lost), SHMC_OK);
    CHECK(n + lost == evicted); /* every eviction of this handle, recorded or counted */
    CHECK(n > 0);
    bool sane = true;
    for (size_t i = 0; i < n; i++) {
        unsigned long long k = 0;
        char key[260];
        memcpy(key, ev[i].key, ev[i].nkey);
        key[ev[i].nkey] = 0;
        sane &= sscanf(key, "k%llu", &k) == 1 && k < next;
        sane &= ev[i].nvalue == VLEN && ev[i].flags == k % 7;
        sane &= k % 2 ? ev[i].ttl > 900 && ev[i].ttl <= 1000 : ev[i].ttl == -1;
        sane &= ev[i].fetched <= 1 && ev[i].last_access < 1000;
    }
    CHECK(sane);
    CHECK_RC(shmc_evictions_drain(c, ev, 8192, &n, &lost), SHMC_OK);
    CHECK(n == 0 && lost == 0); /* drained */

    /* the other handle's stores evict too: c records none of them, and other records nothing */
    evicted = fill(other, 20, &next);
    CHECK(evicted >= 20);
    CHECK_RC(shmc_evictions_drain(c, ev, 8192, &n, &lost), SHMC_OK);
    CHECK(n == 0 && lost == 0);
    CHECK_RC(shmc_evictions_drain(other, ev, 8192, &n, &lost), SHMC_OK); /* not recording */
    CHECK(n == 0);

    /* a small buffer: drained in pieces, oldest first, nothing lost or repeated */
    evicted = fill(c, 30, &next);
    size_t total = 0;
    uint64_t dropped = 0;
    do {
        CHECK_RC(shmc_evictions_drain(c, ev, 3, &n, &lost), SHMC_OK);
        total += n;
        dropped += lost;
    } while (n == 3);
    CHECK(total + dropped == evicted);
    CHECK_RC(shmc_evictions_drain(c, NULL, 3, &n, NULL), SHMC_INVALID);
    CHECK_RC(shmc_evictions_drain(c, ev, 3, NULL, NULL), SHMC_INVALID);
    shmc_close(other);
    shmc_close(c);
}

/* A record smaller than the evictions: the newest are kept, the rest counted as lost. */
static void bounded(void)
{
    shmc_t *c = open_cache(t_path("bounded"));
    CHECK_RC(shmc_evictions_record(c, 4), SHMC_OK);
    uint64_t next = 0;
    uint64_t evicted = fill(c, 40, &next);
    static shmc_eviction ev[64];
    size_t n = 0;
    uint64_t lost = 0;
    CHECK_RC(shmc_evictions_drain(c, ev, 64, &n, &lost), SHMC_OK);
    CHECK(n == 4);
    CHECK(lost == evicted - 4);
    shmc_close(c);
}

int main(void)
{
    t_setup("evictions_record");
    records_own_evictions();
    bounded();
    return t_finish();
}
