/* test_mget.c — shmc_mget looks keys up in batches (store_get_batch); it must answer, count
 * and reclaim exactly as the same keys' single gets one after another would:
 *  - two caches built by the same steps, one read by mget and one by single gets, on a mix
 *    of hits, misses, expired, flushed and repeated keys, small and large values: same
 *    callbacks (key, value, flags, cas) and same counters, and both files check clean;
 *  - every key count from 0 to 70 (so every batch boundary), repeated keys included,
 *    against single gets on the same cache;
 *  - threads that set and delete while others mget: every value comes back whole (each
 *    carries its key and a pattern that a torn copy would break). */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "testutil.h"

#define NKEYS 400
#define BIG 200000

static void key_of(char *k, size_t cap, int i) { snprintf(k, cap, "mget:key:%d", i); }

/* A value that names its key and whose every byte follows from its seed. */
static size_t value_of(unsigned char *v, int key, uint32_t seed, size_t len)
{
    if (len < 12) len = 12;
    memcpy(v, &key, 4);
    memcpy(v + 4, &seed, 4);
    uint32_t n = (uint32_t)len;
    memcpy(v + 8, &n, 4);
    for (size_t i = 12; i < len; i++) v[i] = (unsigned char)(seed * 131u + i * 7u);
    return len;
}

static int value_whole(const unsigned char *v, size_t len, int key)
{
    int k;
    uint32_t seed, n;
    if (len < 12) return 0;
    memcpy(&k, v, 4);
    memcpy(&seed, v + 4, 4);
    memcpy(&n, v + 8, 4);
    if (k != key || n != len) return 0;
    for (size_t i = 12; i < len; i++)
        if (v[i] != (unsigned char)(seed * 131u + i * 7u)) return 0;
    return 1;
}

/* What the callbacks saw, in order. */
typedef struct seen {
    size_t n, cap;
    struct hit {
        char key[SHMC_KEY_MAX + 1];
        size_t nvalue;
        uint32_t flags;
        uint64_t cas;
        uint64_t sum;
    } *h;
} seen_t;

static uint64_t sum_of(const void *p, size_t n)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++) h = (h ^ ((const unsigned char *)p)[i]) * 1099511628211ull;
    return h;
}

static void record(seen_t *s, const char *key, size_t nkey, const void *value, size_t nvalue,
                   uint32_t flags, uint64_t cas)
{
    if (s->n == s->cap) {
        s->cap = s->cap ? 2 * s->cap : 64;
        s->h = realloc(s->h, s->cap * sizeof *s->h);
        if (!s->h) abort();
    }
    struct hit *h = &s->h[s->n++];
    memcpy(h->key, key, nkey);
    h->key[nkey] = 0;
    h->nvalue = nvalue;
    h->flags = flags;
    h->cas = cas;
    h->sum = sum_of(value, nvalue);
}

static void on_value(void *ctx, const char *key, size_t nkey, const void *value, size_t nvalue,
                     uint32_t flags, uint64_t cas)
{
    record(ctx, key, nkey, value, nvalue, flags, cas);
}

/* The same keys through single gets, recorded as mget would call back. */
static void single_gets(shmc_t *c, const char *const *keys, const size_t *nkeys, size_t n,
                        seen_t *s)
{
    static unsigned char buf[BIG + 64];
    for (size_t i = 0; i < n; i++) {
        size_t nv = 0;
        uint32_t flags = 0;
        uint64_t cas = 0;
        shmc_rc rc = shmc_get(c, keys[i], nkeys[i], buf, sizeof buf, &nv, &flags, &cas);
        if (rc == SHMC_OK) record(s, keys[i], nkeys[i], buf, nv, flags, cas);
        else CHECK_RC(rc, SHMC_NOT_FOUND);
    }
}

static int same_seen(const seen_t *a, const seen_t *b)
{
    if (a->n != b->n) return 0;
    for (size_t i = 0; i < a->n; i++)
        if (strcmp(a->h[i].key, b->h[i].key) || a->h[i].nvalue != b->h[i].nvalue ||
            a->h[i].flags != b->h[i].flags || a->h[i].cas != b->h[i].cas ||
            a->h[i].sum != b->h[i].sum)
            return 0;
    return 1;
}

/* Build a cache: keys 0..NKEYS-1 stored or not by a fixed rule, some already expired, some
 * flushed away, values of 12 B to 200 KB. */
static void build(shmc_t *c)
{
    static unsigned char v[BIG];
    char k[64];
    for (int pass = 0; pass < 2; pass++) {
        for (int i = 0; i < NKEYS; i++) {
            key_of(k, sizeof k, i);
            int kind = i % 10;
            if (kind == 9) continue;                      /* never stored: a miss */
            if ((pass == 0) != (kind == 7)) continue;     /* 7: stored, then flushed */
            size_t len = i % 37 == 0 ? BIG : i % 11 == 0 ? 3000 + (size_t)i : 12 + (size_t)i;
            len = value_of(v, i, (uint32_t)i * 2654435761u, len);
            int64_t exptime = kind == 8 ? -1 : kind == 6 ? 3600 : 0; /* 8: already expired */
            CHECK_RC(shmc_set(c, k, strlen(k), v, len, (uint32_t)i, exptime), SHMC_OK);
        }
        if (pass == 0) CHECK_RC(shmc_flush_all(c, 0), SHMC_OK);
    }
}

static void test_same_as_single_gets(void)
{
    shmc_config cfg;
    shmc_config_init(&cfg);
    cfg.memory_limit = 32u << 20;
    shmc_t *a = NULL, *b = NULL;
    CHECK_RC(shmc_open(&a, t_path("batched"), &cfg), SHMC_OK);
    CHECK_RC(shmc_open(&b, t_path("single"), &cfg), SHMC_OK);
    if (!a || !b) return;
    build(a);
    build(b);

    /* every key once, then a mix with repeats: a key twice in one batch, a dead key twice
     * (the first get reclaims it: the second is a plain miss), keys of other batches */
    enum { N = NKEYS + 300 };
    static char names[N][64];
    const char *keys[N];
    size_t nkeys[N];
    int which = 0;
    for (int i = 0; i < N; i++) {
        if (i < 4) which = i < 2 ? 18 : 17; /* dead keys twice in one batch */
        else if (i < NKEYS) which = (i * 7) % NKEYS;
        else if (i % 17 == 0) which = 8 + 10 * (i % 20); /* expired */
        else if (i % 19 == 0) which = 7 + 10 * (i % 20); /* flushed */
        else if (i % 5) which = (i * 13 + (i & 3)) % NKEYS; /* else the same key again */
        key_of(names[i], sizeof names[i], which);
        keys[i] = names[i];
        nkeys[i] = strlen(names[i]);
    }
    seen_t sa = {0}, sb = {0};
    /* the expired and flushed items are reclaimed by the first pass; the rest reads again */
    CHECK_RC(shmc_mget(a, keys, nkeys, N, on_value, &sa), SHMC_OK);
    single_gets(b, keys, nkeys, N, &sb);
    CHECK(sa.n > 200);
    CHECK(same_seen(&sa, &sb));
    shmc_stats_t x, y;
    CHECK_RC(shmc_stats(a, &x), SHMC_OK);
    CHECK_RC(shmc_stats(b, &y), SHMC_OK);
    CHECK(x.cmd_get == N && x.cmd_get == y.cmd_get);
    CHECK(x.get_hits == sa.n && x.get_hits == y.get_hits);
    CHECK(x.get_misses == y.get_misses);
    CHECK(x.get_expired > 0 && x.get_expired == y.get_expired);
    CHECK(x.get_flushed > 0 && x.get_flushed == y.get_flushed);
    CHECK(x.reclaimed == y.reclaimed);
    CHECK(x.curr_items == y.curr_items && x.bytes == y.bytes);
    printf("mget of %d keys: %zu hits, %llu misses (%llu expired, %llu flushed), as single gets\n",
           N, sa.n, (unsigned long long)x.get_misses, (unsigned long long)x.get_expired,
           (unsigned long long)x.get_flushed);
    free(sa.h);
    free(sb.h);
    shmc_close(a);
    shmc_close(b);
    t_check_file(t_path("batched"));
    t_check_file(t_path("single"));
}

static void test_batch_boundaries(void)
{
    shmc_config cfg;
    shmc_config_init(&cfg);
    cfg.memory_limit = 32u << 20;
    shmc_t *c = NULL;
    CHECK_RC(shmc_open(&c, t_path("bounds"), &cfg), SHMC_OK);
    if (!c) return;
    static unsigned char v[BIG];
    char k[64];
    for (int i = 0; i < NKEYS; i++) { /* live keys only: reads change nothing */
        if (i % 3 == 0) continue;
        key_of(k, sizeof k, i);
        size_t len = value_of(v, i, (uint32_t)i, i % 29 == 0 ? 5000 : 100 + (size_t)i % 200);
        CHECK_RC(shmc_set(c, k, strlen(k), v, len, (uint32_t)i, 0), SHMC_OK);
    }
    static char names[70][64];
    const char *keys[70];
    size_t nkeys[70];
    uint32_t rng = 12345;
    int same = 1;
    for (size_t n = 0; n <= 70; n++) {
        for (size_t i = 0; i < n; i++) {
            rng = rng * 1103515245u + 12345u;
            int which = (int)(rng >> 8) % NKEYS;
            if (i > 0 && (rng & 7) == 0) which = atoi(keys[i - 1] + 9); /* a repeat */
            key_of(names[i], sizeof names[i], which);
            keys[i] = names[i];
            nkeys[i] = strlen(names[i]);
        }
        seen_t sa = {0}, sb = {0};
        shmc_stats_t s0, s1;
        shmc_stats(c, &s0);
        CHECK_RC(shmc_mget(c, keys, nkeys, n, on_value, &sa), SHMC_OK);
        shmc_stats(c, &s1);
        single_gets(c, keys, nkeys, n, &sb);
        same &= same_seen(&sa, &sb);
        same &= s1.cmd_get - s0.cmd_get == n && s1.get_hits - s0.get_hits == sa.n;
        free(sa.h);
        free(sb.h);
    }
    CHECK(same);
    shmc_close(c);
    t_check_file(t_path("bounds"));
}

/* ---- writers and readers at once ---- */

#define HOT 64
#define READERS 2
#define WRITERS 2
static shmc_t *hot;
static atomic_int stop;
static atomic_long torn, found_total, batches;

static void *writer(void *arg)
{
    uint32_t rng = (uint32_t)(uintptr_t)arg * 7919u + 1;
    unsigned char v[2048];
    char k[64];
    while (!atomic_load(&stop)) {
        rng = rng * 1103515245u + 12345u;
        int i = (int)(rng >> 8) % HOT;
        key_of(k, sizeof k, i);
        if ((rng & 15) == 0) {
            shmc_delete(hot, k, strlen(k));
            continue;
        }
        size_t len = value_of(v, i, rng, 12 + (rng >> 12) % 1500);
        if (shmc_set(hot, k, strlen(k), v, len, 0, 0) != SHMC_OK) atomic_fetch_add(&torn, 1);
    }
    return NULL;
}

static void check_value(void *ctx, const char *key, size_t nkey, const void *value,
                        size_t nvalue, uint32_t flags, uint64_t cas)
{
    (void)ctx, (void)flags, (void)cas;
    char k[SHMC_KEY_MAX + 1];
    memcpy(k, key, nkey);
    k[nkey] = 0;
    if (strncmp(k, "mget:key:", 9) || !value_whole(value, nvalue, atoi(k + 9)))
        atomic_fetch_add(&torn, 1);
    atomic_fetch_add(&found_total, 1);
}

static void *reader(void *arg)
{
    uint32_t rng = (uint32_t)(uintptr_t)arg * 104729u + 3;
    char names[40][64];
    const char *keys[40];
    size_t nkeys[40];
    while (!atomic_load(&stop)) {
        for (int i = 0; i < 40; i++) {
            rng = rng * 1103515245u + 12345u;
            key_of(names[i], sizeof names[i], (int)(rng >> 8) % HOT);
            keys[i] = names[i];
            nkeys[i] = strlen(names[i]);
        }
        if (shmc_mget(hot, keys, nkeys, 40, check_value, NULL) != SHMC_OK)
            atomic_fetch_add(&torn, 1);
        atomic_fetch_add(&batches, 1);
    }
    return NULL;
}

static void test_concurrent_writers(void)
{
    shmc_config cfg;
    shmc_config_init(&cfg);
    cfg.memory_limit = 8u << 20; /* small: the writers also make cleaning run */
    CHECK_RC(shmc_open(&hot, t_path("hot"), &cfg), SHMC_OK);
    if (!hot) return;
    pthread_t w[WRITERS], r[READERS];
    for (uintptr_t i = 0; i < WRITERS; i++) pthread_create(&w[i], NULL, writer, (void *)i);
    for (uintptr_t i = 0; i < READERS; i++) pthread_create(&r[i], NULL, reader, (void *)i);
    usleep(1500 * 1000);
    atomic_store(&stop, 1);
    for (int i = 0; i < WRITERS; i++) pthread_join(w[i], NULL);
    for (int i = 0; i < READERS; i++) pthread_join(r[i], NULL);
    printf("%d writers, %d readers: %ld mgets of 40 keys, %ld values, %ld torn or failed\n",
           WRITERS, READERS, atomic_load(&batches), atomic_load(&found_total), atomic_load(&torn));
    CHECK(atomic_load(&torn) == 0);
    CHECK(atomic_load(&batches) > 0 && atomic_load(&found_total) > 0);
    shmc_close(hot);
    t_check_file(t_path("hot"));
}

int main(void)
{
    t_setup("mget");
    test_same_as_single_gets();
    test_batch_boundaries();
    test_concurrent_writers();
    return t_finish();
}
