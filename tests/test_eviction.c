/* test_eviction.c — a full cache makes room by recency, never by failing:
 *  (a) pressure: a 4 MiB cache takes 10x its size in sets; every set succeeds, items are
 *      evicted, the most recent ones are all there byte for byte, and what is retrievable
 *      fits in the limit (and matches curr_items);
 *  (b) recency: keys read again and again while the cache churns survive far better than
 *      keys never read;
 *  (c) size shift: after the cache is filled with 100-byte items, 50 KB items get memory
 *      (no slab calcification): their hit ratio matches a fresh cache's within 20%. */
#include "testutil.h"
#include "progs/mp_common.h"

static shmc_t *open_cache(const char *path, size_t limit, size_t item_max)
{
    shmc_config cfg;
    shmc_config_init(&cfg);
    cfg.memory_limit = limit;
    cfg.item_size_max = item_max;
    shmc_t *c = NULL;
    CHECK_RC(shmc_open(&c, path, &cfg), SHMC_OK);
    return c;
}

/* A value of exactly len bytes that depends on (tag, i). */
static void fill(unsigned char *buf, size_t len, uint64_t tag, uint64_t i)
{
    uint64_t s = mp_mix(tag * 1000003u + i);
    for (size_t k = 0; k < len; k += 8) {
        s = mp_mix(s);
        memcpy(buf + k, &s, len - k < 8 ? len - k : 8);
    }
}

static size_t key_of(char *buf, const char *prefix, uint64_t i)
{
    return mp_key(buf, 64, prefix, i);
}

/* Is (prefix, i) present with exactly the value fill(tag, i) of len bytes? */
static int holds(shmc_t *c, const char *prefix, uint64_t i, uint64_t tag, size_t len)
{
    static unsigned char want[128 << 10], got[128 << 10];
    char key[64];
    size_t nkey = key_of(key, prefix, i), nvalue = 0;
    if (shmc_get(c, key, nkey, got, sizeof got, &nvalue, NULL, NULL) != SHMC_OK) return 0;
    fill(want, len, tag, i);
    return nvalue == len && memcmp(got, want, len) == 0;
}

static void memory_pressure(void)
{
    printf("(a) 10x the memory limit in sets\n");
    const size_t limit = 4 << 20;
    const char *path = t_path("pressure");
    shmc_t *c = open_cache(path, limit, 64 << 10);
    if (!c) return;

    enum { MAX_SETS = 200000 };
    static size_t len_of[MAX_SETS];
    static unsigned char v[64 << 10];
    char key[64];
    size_t written = 0, sets = 0, failed = 0;
    while (written < 10 * limit && sets < MAX_SETS) {
        size_t len = 100 + (size_t)(mp_mix(sets) % 8000);
        fill(v, len, 1, sets);
        size_t nkey = key_of(key, "a", sets);
        shmc_rc rc = shmc_set(c, key, nkey, v, len, 0, 0);
        if (rc != SHMC_OK && failed++ < 5)
            fprintf(stderr, "  set %s (%zu bytes): %s\n", key, len, shmc_strerror(rc));
        len_of[sets++] = len;
        written += len;
    }
    CHECK(failed == 0);

    shmc_stats_t st;
    CHECK_RC(shmc_stats(c, &st), SHMC_OK);
    CHECK(st.evictions > 0);
    CHECK(st.bytes <= st.limit_maxbytes);

    /* The newest items, a quarter of the limit's worth, are all there byte for byte. */
    size_t recent = 0, recent_bytes = 0, recent_ok = 0;
    for (size_t i = sets; i-- > 0 && recent_bytes + len_of[i] <= limit / 4;) {
        recent++;
        recent_bytes += len_of[i];
        recent_ok += holds(c, "a", i, 1, len_of[i]);
    }
    CHECK(recent > 100);
    CHECK(recent_ok == recent);

    /* Whatever can still be read fits in the limit, and curr_items counts exactly that. */
    size_t present = 0, present_bytes = 0, nvalue;
    for (size_t i = 0; i < sets; i++) {
        size_t nkey = key_of(key, "a", i);
        if (shmc_get(c, key, nkey, NULL, 0, &nvalue, NULL, NULL) != SHMC_NOT_FOUND) {
            present++;
            present_bytes += nvalue + nkey;
        }
    }
    printf("  %zu sets, %zu MiB written; %zu items (%zu KiB) left, %llu evictions; newest %zu "
           "of %zu present\n",
           sets, written >> 20, present, present_bytes >> 10, (unsigned long long)st.evictions,
           recent_ok, recent);
    CHECK(present > 0);
    CHECK(present_bytes <= limit);
    CHECK(st.curr_items == present);
    shmc_close(c);
    t_check_file(path);
}

static void recency_protects_hot_keys(void)
{
    printf("(b) hot keys survive churn better than cold ones\n");
    const size_t limit = 4 << 20, vlen = 1000;
    const char *path = t_path("recency");
    shmc_t *c = open_cache(path, limit, 64 << 10);
    if (!c) return;

    enum { HOT = 200, COLD = 200 };
    static unsigned char v[1000], got[1000];
    char key[64];
    size_t failed = 0, nvalue;
    for (uint64_t i = 0; i < HOT; i++) {
        fill(v, vlen, 2, i);
        if (shmc_set(c, key, key_of(key, "hot", i), v, vlen, 0, 0) != SHMC_OK) failed++;
        fill(v, vlen, 3, i);
        if (shmc_set(c, key, key_of(key, "cold", i), v, vlen, 0, 0) != SHMC_OK) failed++;
    }
    /* Churn 4x the limit; every 64 KB of new data, read every hot key once. */
    size_t filler = 0, hot_reads = 0, hot_read_hits = 0;
    for (uint64_t i = 0; filler < 4 * limit; i++) {
        fill(v, vlen, 4, i);
        if (shmc_set(c, key, key_of(key, "filler", i), v, vlen, 0, 0) != SHMC_OK) failed++;
        filler += vlen;
        if (i % 64 == 0) {
            for (uint64_t h = 0; h < HOT; h++) {
                hot_reads++;
                if (shmc_get(c, key, key_of(key, "hot", h), got, sizeof got, &nvalue, NULL,
                             NULL) == SHMC_OK)
                    hot_read_hits++;
            }
        }
    }
    CHECK(failed == 0);
    size_t hot_left = 0, cold_left = 0;
    for (uint64_t i = 0; i < HOT; i++) hot_left += holds(c, "hot", i, 2, vlen);
    for (uint64_t i = 0; i < COLD; i++) cold_left += holds(c, "cold", i, 3, vlen);
    double hot_ratio = (double)hot_left / HOT, cold_ratio = (double)cold_left / COLD;
    printf("  after %zu MiB of churn: hot %zu/%d (%.0f%%), cold %zu/%d (%.0f%%); hot reads "
           "during churn hit %.0f%%\n",
           filler >> 20, hot_left, HOT, 100 * hot_ratio, cold_left, COLD, 100 * cold_ratio,
           100.0 * (double)hot_read_hits / (double)hot_reads);
    CHECK(hot_ratio >= 0.5);
    CHECK(hot_ratio > 2 * cold_ratio);
    shmc_close(c);
    t_check_file(path);
}

/* Store `count` values of `len` bytes, each read back right after it is stored; returns
 * the fraction of the last `tail` that are still there at the end. */
static double store_and_keep(shmc_t *c, const char *prefix, size_t count, size_t len,
                             size_t tail, size_t *failed, size_t *not_found_again)
{
    static unsigned char v[64 << 10];
    char key[64];
    for (size_t i = 0; i < count; i++) {
        fill(v, len, 5, i);
        size_t nkey = key_of(key, prefix, i);
        shmc_rc rc = shmc_set(c, key, nkey, v, len, 0, 0);
        if (rc != SHMC_OK) {
            if ((*failed)++ < 5) fprintf(stderr, "  set %s: %s\n", key, shmc_strerror(rc));
            continue;
        }
        if (!holds(c, prefix, i, 5, len)) (*not_found_again)++;
    }
    size_t kept = 0;
    for (size_t i = count - tail; i < count; i++) kept += holds(c, prefix, i, 5, len);
    return (double)kept / (double)tail;
}

static void size_shift(void)
{
    printf("(c) sizes shift from 100 B to 50 KB\n");
    const size_t limit = 8 << 20, big = 50000;
    const size_t big_count = 3 * limit / big, tail = (limit / 2) / big;

    const char *shifted_path = t_path("shifted"), *fresh_path = t_path("fresh");
    shmc_t *shifted = open_cache(shifted_path, limit, 64 << 10);
    shmc_t *fresh = open_cache(fresh_path, limit, 64 << 10);
    if (!shifted || !fresh) {
        shmc_close(shifted);
        shmc_close(fresh);
        return;
    }

    static unsigned char small[100];
    char key[64];
    size_t failed = 0;
    for (uint64_t i = 0; i < 2 * limit / 100; i++) {
        fill(small, sizeof small, 6, i);
        if (shmc_set(shifted, key, key_of(key, "small", i), small, sizeof small, 0, 0) != SHMC_OK)
            failed++;
    }
    CHECK(failed == 0);

    size_t shifted_failed = 0, shifted_lost = 0, fresh_failed = 0, fresh_lost = 0;
    double shifted_ratio =
        store_and_keep(shifted, "big", big_count, big, tail, &shifted_failed, &shifted_lost);
    double fresh_ratio =
        store_and_keep(fresh, "big", big_count, big, tail, &fresh_failed, &fresh_lost);
    printf("  last %zu of %zu 50 KB items kept: %.0f%% after the shift, %.0f%% on a fresh cache\n",
           tail, big_count, 100 * shifted_ratio, 100 * fresh_ratio);
    CHECK(shifted_failed == 0);
    CHECK(shifted_lost == 0);
    CHECK(fresh_failed == 0);
    CHECK(fresh_lost == 0);
    CHECK(fresh_ratio > 0.5);
    CHECK(shifted_ratio >= 0.8 * fresh_ratio);
    shmc_close(shifted);
    shmc_close(fresh);
    t_check_file(shifted_path);
    t_check_file(fresh_path);
}

int main(void)
{
    t_setup("eviction");
    memory_pressure();
    recency_protects_hot_keys();
    size_shift();
    return t_finish();
}
