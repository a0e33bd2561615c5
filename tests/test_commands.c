/* test_commands.c — memcached 1.6's command semantics through the library API: set, get,
 * gets (cas), add, replace, append, prepend, cas, delete, incr, decr, touch, gat, mget and
 * flush_all, the item size limit, binary and empty values, 100k keys, and unique cas values.
 * Expiry lives in test_expiry.c, counters in test_stats.c. */
#include "testutil.h"

#include <inttypes.h>
#include <stdint.h>

static shmc_t *cache;

/* ---- helpers ---- */

/* The value of key must be exactly want (wantn bytes) with flags; returns its cas. */
static uint64_t expect_value_at(int line, shmc_t *c, const char *key, const void *want,
                                size_t wantn, uint32_t want_flags)
{
    size_t cap = wantn + 16;
    char *buf = malloc(cap);
    size_t n = 0;
    uint32_t flags = 0;
    uint64_t cas = 0;
    shmc_rc rc = shmc_get(c, key, strlen(key), buf, cap, &n, &flags, &cas);
    if (rc == SHMC_OK && n == wantn && memcmp(buf, want, wantn) == 0 && flags == want_flags &&
        cas != 0) {
        t_passed++;
    } else {
        t_failed++;
        fprintf(stderr, "FAIL %s:%d: get %s -> %s n=%zu flags=%" PRIu32 " cas=%" PRIu64
                        " (want %zu bytes \"%.*s\" flags %" PRIu32 ")\n",
                __FILE__, line, key, shmc_strerror(rc), n, flags, cas, wantn,
                (int)(wantn > 40 ? 40 : wantn), (const char *)want, want_flags);
        if (rc == SHMC_OK && n <= cap)
            fprintf(stderr, "     got \"%.*s\"\n", (int)(n > 40 ? 40 : n), buf);
    }
    free(buf);
    return cas;
}
#define EXPECT_VALUE(key, str, flags) expect_value_at(__LINE__, cache, key, str, strlen(str), flags)
#define EXPECT_BYTES(key, p, n, flags) expect_value_at(__LINE__, cache, key, p, n, flags)

#define EXPECT_MISSING(key) t_expect_missing_at(__FILE__, __LINE__, cache, key)

static uint64_t cas_of(shmc_t *c, const char *key)
{
    size_t n;
    uint64_t cas = 0;
    if (shmc_get(c, key, strlen(key), NULL, 0, &n, NULL, &cas) == SHMC_BUFFER_TOO_SMALL) {
        char *buf = malloc(n ? n : 1);
        shmc_get(c, key, strlen(key), buf, n, &n, NULL, &cas);
        free(buf);
    }
    return cas;
}

#define SET(key, str, flags) shmc_set(cache, key, strlen(key), str, strlen(str), flags, 0)

/* ---- the cases ---- */

static void test_set_get(void)
{
    CHECK_RC(SET("sg", "first", 0), SHMC_OK);
    uint64_t c1 = EXPECT_VALUE("sg", "first", 0);
    CHECK_RC(SET("sg", "second value", 0xffffffffu), SHMC_OK);
    uint64_t c2 = EXPECT_VALUE("sg", "second value", 0xffffffffu);
    CHECK(c1 != c2);
    CHECK_RC(SET("sg", "3", 1), SHMC_OK);
    EXPECT_VALUE("sg", "3", 1);
    /* a get does not change the cas */
    uint64_t c3 = cas_of(cache, "sg");
    CHECK(cas_of(cache, "sg") == c3);
    EXPECT_MISSING("sg-not-there");
    /* keys are exact: no prefix or case folding */
    EXPECT_MISSING("s");
    EXPECT_MISSING("SG");
}

static void test_add(void)
{
    EXPECT_MISSING("add");
    CHECK_RC(shmc_add(cache, "add", 3, "one", 3, 5, 0), SHMC_OK);
    uint64_t c1 = EXPECT_VALUE("add", "one", 5);
    CHECK_RC(shmc_add(cache, "add", 3, "two", 3, 6, 0), SHMC_NOT_STORED);
    uint64_t c2 = EXPECT_VALUE("add", "one", 5);
    CHECK(c1 == c2);
    CHECK_RC(shmc_delete(cache, "add", 3), SHMC_OK);
    CHECK_RC(shmc_add(cache, "add", 3, "three", 5, 7, 0), SHMC_OK);
    uint64_t c3 = EXPECT_VALUE("add", "three", 7);
    CHECK(c3 != c1);
}

static void test_replace(void)
{
    CHECK_RC(shmc_replace(cache, "rep", 3, "x", 1, 0, 0), SHMC_NOT_STORED);
    EXPECT_MISSING("rep");
    CHECK_RC(SET("rep", "old", 1), SHMC_OK);
    uint64_t c1 = cas_of(cache, "rep");
    CHECK_RC(shmc_replace(cache, "rep", 3, "new!", 4, 2, 0), SHMC_OK);
    uint64_t c2 = EXPECT_VALUE("rep", "new!", 2);
    CHECK(c1 != c2);
}

static void test_append_prepend(void)
{
    CHECK_RC(shmc_append(cache, "ap", 2, "x", 1, 0, 0), SHMC_NOT_STORED);
    CHECK_RC(shmc_prepend(cache, "ap", 2, "x", 1, 0, 0), SHMC_NOT_STORED);
    EXPECT_MISSING("ap");

    CHECK_RC(SET("ap", "middle", 77), SHMC_OK);
    uint64_t c0 = cas_of(cache, "ap");
    /* the flags argument is ignored: the old item's flags stay */
    CHECK_RC(shmc_append(cache, "ap", 2, "-end", 4, 999, 0), SHMC_OK);
    uint64_t c1 = EXPECT_VALUE("ap", "middle-end", 77);
    CHECK(c1 != c0);
    CHECK_RC(shmc_prepend(cache, "ap", 2, "start-", 6, 1234, 0), SHMC_OK);
    uint64_t c2 = EXPECT_VALUE("ap", "start-middle-end", 77);
    CHECK(c2 != c1 && c2 != c0);
    /* empty pieces change nothing but the cas */
    CHECK_RC(shmc_append(cache, "ap", 2, "", 0, 0, 0), SHMC_OK);
    CHECK_RC(shmc_prepend(cache, "ap", 2, NULL, 0, 0, 0), SHMC_OK);
    uint64_t c3 = EXPECT_VALUE("ap", "start-middle-end", 77);
    CHECK(c3 != c2);
    /* onto an empty value */
    CHECK_RC(shmc_set(cache, "ap0", 3, "", 0, 3, 0), SHMC_OK);
    CHECK_RC(shmc_append(cache, "ap0", 3, "a", 1, 0, 0), SHMC_OK);
    CHECK_RC(shmc_prepend(cache, "ap0", 3, "p", 1, 0, 0), SHMC_OK);
    EXPECT_VALUE("ap0", "pa", 3);
    /* many small appends build the value in order */
    CHECK_RC(shmc_set(cache, "apn", 3, "", 0, 0, 0), SHMC_OK);
    char want[1001];
    for (int i = 0; i < 1000; i++) {
        char ch = (char)('0' + i % 10);
        want[i] = ch;
        if (shmc_append(cache, "apn", 3, &ch, 1, 0, 0) != SHMC_OK) {
            CHECK(!"append failed");
            break;
        }
    }
    EXPECT_BYTES("apn", want, 1000, 0);
    /* appends after a delete are refused again */
    CHECK_RC(shmc_delete(cache, "apn", 3), SHMC_OK);
    CHECK_RC(shmc_append(cache, "apn", 3, "z", 1, 0, 0), SHMC_NOT_STORED);
    CHECK_RC(shmc_prepend(cache, "apn", 3, "z", 1, 0, 0), SHMC_NOT_STORED);
    EXPECT_MISSING("apn");
}

static void test_cas(void)
{
    CHECK_RC(shmc_cas(cache, "cas", 3, "v", 1, 0, 0, 1), SHMC_NOT_FOUND);
    CHECK_RC(shmc_cas(cache, "cas", 3, "v", 1, 0, 0, 0), SHMC_NOT_FOUND);
    EXPECT_MISSING("cas");

    CHECK_RC(SET("cas", "v1", 1), SHMC_OK);
    uint64_t c1 = cas_of(cache, "cas");
    CHECK(c1 != 0);
    CHECK_RC(shmc_cas(cache, "cas", 3, "v2", 2, 2, 0, c1), SHMC_OK);
    uint64_t c2 = EXPECT_VALUE("cas", "v2", 2);
    CHECK(c2 != c1);
    /* the old cas no longer matches */
    CHECK_RC(shmc_cas(cache, "cas", 3, "v3", 2, 3, 0, c1), SHMC_EXISTS);
    CHECK(EXPECT_VALUE("cas", "v2", 2) == c2);
    /* another writer's set in between */
    CHECK_RC(SET("cas", "other", 4), SHMC_OK);
    CHECK_RC(shmc_cas(cache, "cas", 3, "v3", 2, 3, 0, c2), SHMC_EXISTS);
    uint64_t c4 = EXPECT_VALUE("cas", "other", 4);
    /* cas 0 and a far-off value match no item */
    CHECK_RC(shmc_cas(cache, "cas", 3, "v3", 2, 3, 0, 0), SHMC_EXISTS);
    CHECK_RC(shmc_cas(cache, "cas", 3, "v3", 2, 3, 0, UINT64_MAX), SHMC_EXISTS);
    CHECK_RC(shmc_cas(cache, "cas", 3, "v3", 2, 3, 0, c4 + 1), SHMC_EXISTS);
    CHECK(EXPECT_VALUE("cas", "other", 4) == c4);
    /* touch keeps the cas; append, prepend and incr change it */
    CHECK_RC(shmc_touch(cache, "cas", 3, 0), SHMC_OK);
    CHECK(cas_of(cache, "cas") == c4);
    CHECK_RC(shmc_cas(cache, "cas", 3, "10", 2, 5, 0, c4), SHMC_OK);
    uint64_t c5 = cas_of(cache, "cas");
    CHECK_RC(shmc_incr(cache, "cas", 3, 1, NULL), SHMC_OK);
    CHECK_RC(shmc_cas(cache, "cas", 3, "x", 1, 5, 0, c5), SHMC_EXISTS);
    EXPECT_VALUE("cas", "11", 5);
    /* after a delete: NOT_FOUND, with the latest cas too */
    uint64_t c6 = cas_of(cache, "cas");
    CHECK_RC(shmc_delete(cache, "cas", 3), SHMC_OK);
    CHECK_RC(shmc_cas(cache, "cas", 3, "v", 1, 0, 0, c6), SHMC_NOT_FOUND);
    EXPECT_MISSING("cas");
    /* a cas from one key means nothing to another */
    CHECK_RC(SET("casA", "a", 0), SHMC_OK);
    CHECK_RC(SET("casB", "b", 0), SHMC_OK);
    uint64_t ca = cas_of(cache, "casA");
    CHECK_RC(shmc_cas(cache, "casB", 4, "x", 1, 0, 0, ca), SHMC_EXISTS);
    EXPECT_VALUE("casB", "b", 0);
}

static void test_delete(void)
{
    CHECK_RC(shmc_delete(cache, "del", 3), SHMC_NOT_FOUND);
    CHECK_RC(SET("del", "x", 0), SHMC_OK);
    CHECK_RC(SET("del2", "y", 0), SHMC_OK);
    CHECK_RC(shmc_delete(cache, "del", 3), SHMC_OK);
    EXPECT_MISSING("del");
    CHECK_RC(shmc_delete(cache, "del", 3), SHMC_NOT_FOUND);
    EXPECT_VALUE("del2", "y", 0); /* only that key */
    CHECK_RC(shmc_add(cache, "del", 3, "again", 5, 0, 0), SHMC_OK);
    EXPECT_VALUE("del", "again", 0);
    CHECK_RC(shmc_touch(cache, "gone", 4, 0), SHMC_NOT_FOUND);
}

/* text, padded with spaces to width, in buf (which may be text); returns buf */
static const char *padded(char *buf, const char *text, size_t width)
{
    size_t n = strlen(text);
    memmove(buf, text, n);
    memset(buf + n, ' ', width - n);
    buf[width] = 0;
    return buf;
}

/* incr/decr expecting success: the stored text is exactly `text` and *result matches */
static void delta_ok_at(int line, int incr, const char *key, uint64_t delta, uint64_t want,
                        const char *text)
{
    uint64_t before = cas_of(cache, key);
    uint64_t result = ~want;
    shmc_rc rc = incr ? shmc_incr(cache, key, strlen(key), delta, &result)
                      : shmc_decr(cache, key, strlen(key), delta, &result);
    if (rc == SHMC_OK && result == want) {
        t_passed++;
    } else {
        t_failed++;
        fprintf(stderr, "FAIL %s:%d: %s %s %" PRIu64 " -> %s result %" PRIu64 ", want %" PRIu64
                        "\n",
                __FILE__, line, incr ? "incr" : "decr", key, delta, shmc_strerror(rc), result,
                want);
    }
    char buf[64];
    size_t n = 0;
    uint64_t after = 0;
    rc = shmc_get(cache, key, strlen(key), buf, sizeof buf, &n, NULL, &after);
    if (rc == SHMC_OK && n == strlen(text) && memcmp(buf, text, n) == 0 && after != before) {
        t_passed++;
    } else {
        t_failed++;
        fprintf(stderr, "FAIL %s:%d: after %s %s: \"%.*s\" (%zu bytes) cas %" PRIu64 "->%" PRIu64
                        ", want \"%s\" and a new cas\n",
                __FILE__, line, incr ? "incr" : "decr", key, (int)(rc == SHMC_OK ? n : 0), buf,
                n, before, after, text);
    }
}
#define INCR_OK(key, d, want, text) delta_ok_at(__LINE__, 1, key, d, want, text)
#define DECR_OK(key, d, want, text) delta_ok_at(__LINE__, 0, key, d, want, text)

static void test_incr_decr(void)
{
    CHECK_RC(shmc_incr(cache, "n", 1, 1, NULL), SHMC_NOT_FOUND);
    CHECK_RC(shmc_decr(cache, "n", 1, 1, NULL), SHMC_NOT_FOUND);
    EXPECT_MISSING("n"); /* incr does not create */

    /* as memcached: a result no longer than the old value is padded with spaces to its
     * length (memcached rewrites the number in place), a longer one has its own length */
    CHECK_RC(SET("n", "99", 42), SHMC_OK);
    INCR_OK("n", 1, 100, "100");
    DECR_OK("n", 1, 99, "99 ");
    DECR_OK("n", 90, 9, "9  ");
    INCR_OK("n", 0, 9, "9  "); /* a zero delta is still a store: new cas */
    DECR_OK("n", 1000, 0, "0  ");
    DECR_OK("n", 1, 0, "0  ");
    DECR_OK("n", UINT64_MAX, 0, "0  ");
    INCR_OK("n", 12345678901234567890u, 12345678901234567890u, "12345678901234567890");
    EXPECT_VALUE("n", "12345678901234567890", 42); /* flags kept all along */

    /* wrapping at 2^64 */
    char pad[32];
    CHECK_RC(SET("n", "18446744073709551615", 0), SHMC_OK);
    INCR_OK("n", 1, 0, padded(pad, "0", 20));
    CHECK_RC(SET("n", "18446744073709551615", 0), SHMC_OK);
    INCR_OK("n", 2, 1, padded(pad, "1", 20));
    CHECK_RC(SET("n", "18446744073709551614", 0), SHMC_OK);
    INCR_OK("n", 1, UINT64_MAX, "18446744073709551615");
    CHECK_RC(SET("n", "1", 0), SHMC_OK);
    INCR_OK("n", UINT64_MAX, 0, "0");
    CHECK_RC(SET("n", "18446744073709551615", 0), SHMC_OK);
    DECR_OK("n", UINT64_MAX, 0, padded(pad, "0", 20));
    CHECK_RC(SET("n", "18446744073709551615", 0), SHMC_OK);
    DECR_OK("n", 18446744073709551614u, 1, padded(pad, "1", 20));
    /* leading zeros are digits too, any number of them */
    CHECK_RC(SET("n", "00000000000000000007", 0), SHMC_OK);
    INCR_OK("n", 1, 8, padded(pad, "8", 20));
    CHECK_RC(SET("n", "000000000000000000001", 0), SHMC_OK);
    INCR_OK("n", 1, 2, padded(pad, "2", 21));
    CHECK_RC(SET("n", "007", 0), SHMC_OK);
    DECR_OK("n", 1, 6, "6  ");
    CHECK_RC(SET("n", "0", 0), SHMC_OK);
    INCR_OK("n", 0, 0, "0");

    /* what memcached's strtoull reads: blanks and a sign before the digits, then a blank
     * (anything after it ignored) or the value's end */
    static const struct {
        const char *v;
        size_t n;
        uint64_t was;
    } good[] = {
        {" 1", 2, 1},   {"1 ", 2, 1},     {"1 2", 3, 1},   {"+1", 2, 1},
        {"\t5\t", 3, 5}, {"  +7  ", 6, 7}, {"-0", 2, 0},    {"1\0", 2, 1},
        {"1\r\n", 3, 1}, {"12 abc", 6, 12}, {"\v\f9", 3, 9},
        /* strtoull negates: what is not negative as a signed number is taken */
        {"-18446744073709551615", 21, 1}, {"-9223372036854775809", 20, 9223372036854775807u},
    };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        CHECK_RC(shmc_set(cache, "ng", 2, good[i].v, good[i].n, 0, 0), SHMC_OK);
        char want[32];
        int nw = snprintf(want, sizeof want, "%" PRIu64, good[i].was + 1);
        if ((size_t)nw < good[i].n) padded(want, want, good[i].n);
        INCR_OK("ng", 1, good[i].was + 1, want);
    }

    /* not a number to memcached */
    static const struct {
        const char *v;
        size_t n;
    } bad[] = {
        {"", 0},
        {"abc", 3},
        {" ", 1},
        {"+", 1},
        {"-", 1},
        {"- 1", 3},
        {"-1", 2},
        {"1a", 2},
        {"a1", 2},
        {"1.5", 3},
        {"0x10", 4},
        {"1e3", 3},
        {"\0", 1},
        {"\0001", 2},
        {"\xef\xbc\x91", 3}, /* a full-width 1 */
        {"18446744073709551616", 20},
        {"99999999999999999999", 20},
        {"123456789012345678901", 21},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CHECK_RC(shmc_set(cache, "nn", 2, bad[i].v, bad[i].n, 6, 0), SHMC_OK);
        uint64_t before = cas_of(cache, "nn");
        uint64_t r = 777;
        shmc_rc rc1 = shmc_incr(cache, "nn", 2, 1, &r);
        shmc_rc rc2 = shmc_decr(cache, "nn", 2, 1, &r);
        if (rc1 == SHMC_NOT_NUMERIC && rc2 == SHMC_NOT_NUMERIC) {
            t_passed++;
        } else {
            t_failed++;
            fprintf(stderr, "FAIL %s:%d: incr/decr of value #%zu \"%.*s\" -> %s/%s, want "
                            "NOT_NUMERIC\n",
                    __FILE__, __LINE__, i, (int)bad[i].n, bad[i].v, shmc_strerror(rc1),
                    shmc_strerror(rc2));
        }
        /* the value and its cas are untouched */
        uint64_t after = EXPECT_BYTES("nn", bad[i].v, bad[i].n, 6);
        CHECK(after == before);
    }
}

static void test_touch_gat(void)
{
    CHECK_RC(SET("t", "touchme", 8), SHMC_OK);
    uint64_t c1 = cas_of(cache, "t");
    CHECK_RC(shmc_touch(cache, "t", 1, 1000), SHMC_OK);
    CHECK(EXPECT_VALUE("t", "touchme", 8) == c1);
    CHECK_RC(shmc_touch(cache, "t-missing", 9, 1000), SHMC_NOT_FOUND);
    EXPECT_MISSING("t-missing");

    char buf[32];
    size_t n = 0;
    uint32_t flags = 0;
    uint64_t cas = 0;
    CHECK_RC(shmc_gat(cache, "t", 1, 0, buf, sizeof buf, &n, &flags, &cas), SHMC_OK);
    CHECK(n == 7 && memcmp(buf, "touchme", 7) == 0 && flags == 8 && cas == c1);
    CHECK(EXPECT_VALUE("t", "touchme", 8) == c1);
    CHECK_RC(shmc_gat(cache, "t-missing", 9, 0, buf, sizeof buf, &n, &flags, &cas),
             SHMC_NOT_FOUND);
    EXPECT_MISSING("t-missing");
}

/* ---- mget ---- */

struct seen {
    int count;
    char keys[16][32];
    char values[16][64];
    size_t nvalues[16];
    uint32_t flags[16];
    uint64_t cas[16];
    int in_cache_memory; /* a pointer handed out pointed into the mapped cache */
    int reentry_failed;
    int copy_changed;
};

static uintptr_t map_lo[16], map_hi[16];
static int nmaps;

/* The address ranges where this process maps the cache file, from /proc/self/maps. */
static void find_cache_mappings(const char *path)
{
    nmaps = 0;
    FILE *f = fopen("/proc/self/maps", "r");
    if (!f) return;
    char line[1024];
    while (fgets(line, sizeof line, f) && nmaps < 16) {
        if (!strstr(line, path)) continue;
        unsigned long lo, hi;
        if (sscanf(line, "%lx-%lx", &lo, &hi) == 2) {
            map_lo[nmaps] = lo;
            map_hi[nmaps] = hi;
            nmaps++;
        }
    }
    fclose(f);
}

static int in_cache_memory(const void *p)
{
    uintptr_t a = (uintptr_t)p;
    for (int i = 0; i < nmaps; i++)
        if (a >= map_lo[i] && a < map_hi[i]) return 1;
    return 0;
}

static void record_cb(void *ctx, const char *key, size_t nkey, const void *value, size_t nvalue,
                      uint32_t flags, uint64_t cas)
{
    struct seen *s = ctx;
    if (s->count >= 16) return;
    int i = s->count++;
    snprintf(s->keys[i], sizeof s->keys[i], "%.*s", (int)nkey, key);
    memcpy(s->values[i], value, nvalue < 64 ? nvalue : 64);
    s->nvalues[i] = nvalue;
    s->flags[i] = flags;
    s->cas[i] = cas;
    if (in_cache_memory(value) || in_cache_memory(key)) s->in_cache_memory = 1;
    /* The library has left the cache: calling it again must work, and overwriting this very
     * key must not change the copy we were handed. */
    char before[64];
    memcpy(before, value, nvalue < 64 ? nvalue : 64);
    char repl[64];
    memset(repl, '#', sizeof repl);
    if (shmc_set(cache, key, nkey, repl, nvalue, flags, 0) != SHMC_OK) s->reentry_failed = 1;
    if (memcmp(before, value, nvalue < 64 ? nvalue : 64) != 0) s->copy_changed = 1;
}

static void test_mget(void)
{
    find_cache_mappings(t_path("main"));
    CHECK(nmaps > 0);

    CHECK_RC(SET("m1", "one", 1), SHMC_OK);
    CHECK_RC(SET("m2", "two", 2), SHMC_OK);
    CHECK_RC(SET("m3", "", 3), SHMC_OK);
    uint64_t c1 = cas_of(cache, "m1"), c2 = cas_of(cache, "m2"), c3 = cas_of(cache, "m3");

    const char *keys[] = {"m3", "miss-a", "m1", "m2", "miss-b"};
    size_t nkeys[] = {2, 6, 2, 2, 6};
    struct seen s;
    memset(&s, 0, sizeof s);
    CHECK_RC(shmc_mget(cache, keys, nkeys, 5, record_cb, &s), SHMC_OK);
    CHECK(s.count == 3);
    CHECK(strcmp(s.keys[0], "m3") == 0 && s.nvalues[0] == 0 && s.flags[0] == 3 &&
          s.cas[0] == c3);
    CHECK(strcmp(s.keys[1], "m1") == 0 && s.nvalues[1] == 3 &&
          memcmp(s.values[1], "one", 3) == 0 && s.flags[1] == 1 && s.cas[1] == c1);
    CHECK(strcmp(s.keys[2], "m2") == 0 && s.nvalues[2] == 3 &&
          memcmp(s.values[2], "two", 3) == 0 && s.flags[2] == 2 && s.cas[2] == c2);
    CHECK(!s.in_cache_memory);
    CHECK(!s.reentry_failed);
    CHECK(!s.copy_changed);
    EXPECT_VALUE("m1", "###", 1); /* the callbacks' own sets went through */

    /* all misses: no callback at all */
    const char *misses[] = {"nope1", "nope2"};
    size_t nmisses[] = {5, 5};
    memset(&s, 0, sizeof s);
    CHECK_RC(shmc_mget(cache, misses, nmisses, 2, record_cb, &s), SHMC_OK);
    CHECK(s.count == 0);

    /* a key asked twice is answered twice, like memcached's "get a a" */
    CHECK_RC(SET("m1", "uno", 1), SHMC_OK);
    const char *twice[] = {"m1", "m1"};
    size_t ntwice[] = {2, 2};
    memset(&s, 0, sizeof s);
    CHECK_RC(shmc_mget(cache, twice, ntwice, 2, record_cb, &s), SHMC_OK);
    CHECK(s.count == 2 && strcmp(s.keys[0], "m1") == 0 && strcmp(s.keys[1], "m1") == 0);
    CHECK(s.nvalues[0] == 3 && memcmp(s.values[0], "uno", 3) == 0);
    /* the second lookup sees either the value before or after the first callback's set */
    CHECK(s.nvalues[1] == 3 && (memcmp(s.values[1], "uno", 3) == 0 ||
                                memcmp(s.values[1], "###", 3) == 0));

    /* one bad key fails the whole call before any lookup */
    CHECK_RC(SET("m1", "one", 1), SHMC_OK);
    const char *withbad[] = {"m1", "", "m2"}; /* (an empty key: any bytes are a key) */
    size_t nwithbad[] = {2, 0, 2};
    memset(&s, 0, sizeof s);
    CHECK_RC(shmc_mget(cache, withbad, nwithbad, 3, record_cb, &s), SHMC_BAD_KEY);
    CHECK(s.count == 0);
    char longkey[300];
    memset(longkey, 'L', sizeof longkey);
    const char *withlong[] = {"m1", "m2", longkey};
    size_t nwithlong[] = {2, 2, 251};
    CHECK_RC(shmc_mget(cache, withlong, nwithlong, 3, record_cb, &s), SHMC_BAD_KEY);
    const char *withempty[] = {"m1", ""};
    size_t nwithempty[] = {2, 0};
    CHECK_RC(shmc_mget(cache, withempty, nwithempty, 2, record_cb, &s), SHMC_BAD_KEY);
    CHECK(s.count == 0);
    EXPECT_VALUE("m1", "one", 1); /* nothing ran */

    /* the keys of test_mget_many: every third one is a miss */
    for (int i = 0; i < 500; i++) {
        char k[16];
        int nk = snprintf(k, sizeof k, "mm%d", i);
        if (i % 3 != 0) CHECK_RC(shmc_set(cache, k, (size_t)nk, k, (size_t)nk, (uint32_t)i, 0), SHMC_OK);
    }
}

/* A separate callback for the big mget: checks that keys arrive in order, skipping the misses. */
static int many_next;
static int many_bad;
static void many_cb(void *ctx, const char *key, size_t nkey, const void *value, size_t nvalue,
                    uint32_t flags, uint64_t cas)
{
    (void)ctx;
    (void)cas;
    while (many_next % 3 == 0) many_next++;
    char want[16];
    int nw = snprintf(want, sizeof want, "mm%d", many_next);
    if (nkey != (size_t)nw || memcmp(key, want, nkey) != 0 || nvalue != nkey ||
        memcmp(value, key, nkey) != 0 || flags != (uint32_t)many_next)
        many_bad++;
    many_next++;
}

static void test_mget_many(void)
{
    enum { MANY = 500 };
    static char kb[MANY][16];
    static const char *kp[MANY];
    static size_t kn[MANY];
    for (int i = 0; i < MANY; i++) {
        kn[i] = (size_t)snprintf(kb[i], sizeof kb[i], "mm%d", i);
        kp[i] = kb[i];
    }
    many_next = 0;
    many_bad = 0;
    CHECK_RC(shmc_mget(cache, kp, kn, MANY, many_cb, NULL), SHMC_OK);
    CHECK(many_bad == 0);
    /* the last hit was mm499 (499 % 3 != 0), so the walk ended just past it */
    CHECK(many_next == MANY);
}

static void test_flush_all(void)
{
    CHECK_RC(SET("f1", "a", 0), SHMC_OK);
    CHECK_RC(SET("f2", "b", 0), SHMC_OK);
    CHECK_RC(shmc_set(cache, "f3", 2, "c", 1, 0, 1000), SHMC_OK);
    CHECK_RC(shmc_flush_all(cache, 0), SHMC_OK);
    EXPECT_MISSING("f1");
    EXPECT_MISSING("f2");
    EXPECT_MISSING("f3");
    EXPECT_MISSING("m1");
    /* flushed items are gone for every command */
    CHECK_RC(shmc_replace(cache, "f1", 2, "x", 1, 0, 0), SHMC_NOT_STORED);
    CHECK_RC(shmc_append(cache, "f1", 2, "x", 1, 0, 0), SHMC_NOT_STORED);
    CHECK_RC(shmc_incr(cache, "f1", 2, 1, NULL), SHMC_NOT_FOUND);
    CHECK_RC(shmc_touch(cache, "f1", 2, 0), SHMC_NOT_FOUND);
    CHECK_RC(shmc_delete(cache, "f2", 2), SHMC_NOT_FOUND);
    /* and new items live after it */
    CHECK_RC(shmc_add(cache, "f1", 2, "new", 3, 1, 0), SHMC_OK);
    EXPECT_VALUE("f1", "new", 1);
    CHECK_RC(SET("f2", "newer", 2), SHMC_OK);
    EXPECT_VALUE("f2", "newer", 2);
    /* a negative delay is "now" */
    CHECK_RC(shmc_flush_all(cache, -5), SHMC_OK);
    EXPECT_MISSING("f1");
    EXPECT_MISSING("f2");
    CHECK_RC(SET("f1", "after", 0), SHMC_OK);
    EXPECT_VALUE("f1", "after", 0);
}

static void test_binary_values(void)
{
    unsigned char all[512];
    for (int i = 0; i < 512; i++) all[i] = (unsigned char)(i & 0xff);
    CHECK_RC(shmc_set(cache, "bin", 3, all, sizeof all, 0, 0), SHMC_OK);
    EXPECT_BYTES("bin", all, sizeof all, 0);

    static const char proto[] = "VALUE x 0 5\r\nhello\r\nEND\r\n\0\0\r\n";
    CHECK_RC(shmc_set(cache, "proto", 5, proto, sizeof proto, 0, 0), SHMC_OK);
    EXPECT_BYTES("proto", proto, sizeof proto, 0);
    CHECK_RC(shmc_append(cache, "proto", 5, "\0\r\n", 3, 0, 0), SHMC_OK);
    char want[sizeof proto + 3];
    memcpy(want, proto, sizeof proto);
    memcpy(want + sizeof proto, "\0\r\n", 3);
    EXPECT_BYTES("proto", want, sizeof want, 0);

    static const char zeros[64] = {0};
    CHECK_RC(shmc_set(cache, "zeros", 5, zeros, sizeof zeros, 0, 0), SHMC_OK);
    EXPECT_BYTES("zeros", zeros, sizeof zeros, 0);
    CHECK_RC(shmc_set(cache, "crlf", 4, "\r\n", 2, 0, 0), SHMC_OK);
    EXPECT_BYTES("crlf", "\r\n", 2, 0);
}

static void test_zero_length(void)
{
    CHECK_RC(shmc_set(cache, "z", 1, "", 0, 12, 0), SHMC_OK);
    uint64_t c1 = EXPECT_BYTES("z", "", 0, 12);
    CHECK_RC(shmc_add(cache, "z", 1, "", 0, 0, 0), SHMC_NOT_STORED);
    CHECK_RC(shmc_replace(cache, "z", 1, "", 0, 13, 0), SHMC_OK);
    uint64_t c2 = EXPECT_BYTES("z", "", 0, 13);
    CHECK(c1 != c2);
    CHECK_RC(shmc_cas(cache, "z", 1, "", 0, 14, 0, c2), SHMC_OK);
    EXPECT_BYTES("z", "", 0, 14);
    CHECK_RC(shmc_incr(cache, "z", 1, 1, NULL), SHMC_NOT_NUMERIC);
    struct seen s;
    memset(&s, 0, sizeof s);
    const char *k[] = {"z"};
    size_t nk[] = {1};
    CHECK_RC(shmc_mget(cache, k, nk, 1, record_cb, &s), SHMC_OK);
    CHECK(s.count == 1 && s.nvalues[0] == 0 && s.flags[0] == 14);
    CHECK_RC(shmc_delete(cache, "z", 1), SHMC_OK);
    EXPECT_MISSING("z");
}

static void test_size_limit(void)
{
    shmc_config cfg;
    shmc_config_init(&cfg);
    cfg.memory_limit = 2u << 20;
    cfg.item_size_max = 64u << 10;
    shmc_t *c = NULL;
    CHECK_RC(shmc_open(&c, t_path("small"), &cfg), SHMC_OK);
    if (!c) return;
    size_t max = cfg.item_size_max;
    char *v = malloc(max + 2);
    for (size_t i = 0; i < max + 2; i++) v[i] = (char)('a' + i % 23);
    char key250[SHMC_KEY_MAX + 1];
    memset(key250, 'k', SHMC_KEY_MAX);
    key250[SHMC_KEY_MAX] = '\0';

    /* exactly the limit is stored, with the shortest and the longest key */
    CHECK_RC(shmc_set(c, "x", 1, v, max, 1, 0), SHMC_OK);
    expect_value_at(__LINE__, c, "x", v, max, 1);
    CHECK_RC(shmc_set(c, key250, SHMC_KEY_MAX, v, max, 2, 0), SHMC_OK);
    expect_value_at(__LINE__, c, key250, v, max, 2);

    /* one byte more: refused, and set removes the old value as memcached does */
    CHECK_RC(shmc_set(c, "x", 1, v, max + 1, 1, 0), SHMC_TOO_LARGE);
    t_expect_missing_at(__FILE__, __LINE__, c, "x");
    CHECK_RC(shmc_add(c, "x", 1, v, max + 1, 1, 0), SHMC_TOO_LARGE);
    t_expect_missing_at(__FILE__, __LINE__, c, "x");

    /* replace and cas that are too large leave the old item (memcached unlinks only on set) */
    CHECK_RC(shmc_set(c, "y", 1, "keep", 4, 3, 0), SHMC_OK);
    uint64_t cy = cas_of(c, "y");
    CHECK_RC(shmc_replace(c, "y", 1, v, max + 1, 3, 0), SHMC_TOO_LARGE);
    CHECK_RC(shmc_cas(c, "y", 1, v, max + 1, 3, 0, cy), SHMC_TOO_LARGE);
    CHECK(expect_value_at(__LINE__, c, "y", "keep", 4, 3) == cy);

    /* append/prepend that would grow past the limit fail and keep the old value */
    CHECK_RC(shmc_set(c, "z", 1, v, max - 1, 4, 0), SHMC_OK);
    CHECK_RC(shmc_append(c, "z", 1, "+", 1, 0, 0), SHMC_OK); /* exactly the limit */
    char *want = malloc(max);
    memcpy(want, v, max - 1);
    want[max - 1] = '+';
    expect_value_at(__LINE__, c, "z", want, max, 4);
    /* memcached cannot allocate the joined item: NOT_STORED */
    CHECK_RC(shmc_append(c, "z", 1, "+", 1, 0, 0), SHMC_NOT_STORED);
    CHECK_RC(shmc_prepend(c, "z", 1, "-", 1, 0, 0), SHMC_NOT_STORED);
    expect_value_at(__LINE__, c, "z", want, max, 4);
    free(want);

    /* a full cache of limit-sized values keeps taking sets (eviction) */
    int failed = 0;
    for (int i = 0; i < 200; i++) {
        char k[16];
        int nk = snprintf(k, sizeof k, "fill%d", i);
        if (shmc_set(c, k, (size_t)nk, v, max, 0, 0) != SHMC_OK) failed++;
    }
    CHECK(failed == 0);
    expect_value_at(__LINE__, c, "fill199", v, max, 0);
    free(v);
    shmc_close(c);
    t_check_file(t_path("small"));
}

static void test_many_keys(void)
{
    enum { N = 100000 };
    int set_failed = 0;
    for (int i = 0; i < N; i++) {
        char k[32], val[64];
        int nk = snprintf(k, sizeof k, "many:%d", i);
        int nv = snprintf(val, sizeof val, "value-%d-%.*s", i, i % 23, "xxxxxxxxxxxxxxxxxxxxxxx");
        if (shmc_set(cache, k, (size_t)nk, val, (size_t)nv, (uint32_t)i, 0) != SHMC_OK)
            set_failed++;
    }
    CHECK(set_failed == 0);
    int wrong = 0, missing = 0;
    for (int i = 0; i < N; i++) {
        char k[32], val[64], buf[64];
        int nk = snprintf(k, sizeof k, "many:%d", i);
        int nv = snprintf(val, sizeof val, "value-%d-%.*s", i, i % 23, "xxxxxxxxxxxxxxxxxxxxxxx");
        size_t n = 0;
        uint32_t flags = 0;
        shmc_rc rc = shmc_get(cache, k, (size_t)nk, buf, sizeof buf, &n, &flags, NULL);
        if (rc == SHMC_NOT_FOUND)
            missing++;
        else if (rc != SHMC_OK || n != (size_t)nv || memcmp(buf, val, n) != 0 ||
                 flags != (uint32_t)i)
            wrong++;
    }
    CHECK(wrong == 0);
    CHECK(missing == 0); /* ~10 MB of items in a 64 MiB cache: nothing may be evicted */
    shmc_stats_t st;
    CHECK_RC(shmc_stats(cache, &st), SHMC_OK);
    CHECK(st.curr_items >= N);
    CHECK(st.evictions == 0);
    /* delete the even ones; the odd ones stay */
    int del_failed = 0;
    for (int i = 0; i < N; i += 2) {
        char k[32];
        int nk = snprintf(k, sizeof k, "many:%d", i);
        if (shmc_delete(cache, k, (size_t)nk) != SHMC_OK) del_failed++;
    }
    CHECK(del_failed == 0);
    int bad = 0;
    for (int i = 0; i < N; i++) {
        char k[32], buf[64];
        int nk = snprintf(k, sizeof k, "many:%d", i);
        size_t n;
        shmc_rc rc = shmc_get(cache, k, (size_t)nk, buf, sizeof buf, &n, NULL, NULL);
        if (rc != (i % 2 ? SHMC_OK : SHMC_NOT_FOUND)) bad++;
    }
    CHECK(bad == 0);
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static void test_cas_unique(void)
{
    enum { N = 10000, KEYS = 97 };
    uint64_t *cas = malloc((N + KEYS) * sizeof *cas);
    size_t ncas = 0;
    int failed = 0;
    for (int i = 0; i < KEYS; i++) {
        char k[16];
        int nk = snprintf(k, sizeof k, "u%d", i);
        if (shmc_set(cache, k, (size_t)nk, "1", 1, 0, 0) != SHMC_OK) failed++;
        cas[ncas++] = cas_of(cache, k);
    }
    for (int i = 0; i < N; i++) {
        char k[16];
        int nk = snprintf(k, sizeof k, "u%d", i % KEYS);
        shmc_rc rc;
        /* every kind of store hands out a fresh cas (values stay short numbers) */
        switch (i % 5) {
        case 0: rc = shmc_set(cache, k, (size_t)nk, "1", 1, 0, 0); break;
        case 1: rc = shmc_incr(cache, k, (size_t)nk, 1, NULL); break;
        case 2: rc = shmc_append(cache, k, (size_t)nk, "0", 1, 0, 0); break;
        case 3: rc = shmc_replace(cache, k, (size_t)nk, "2", 1, 0, 0); break;
        default: rc = shmc_cas(cache, k, (size_t)nk, "3", 1, 0, 0, cas_of(cache, k)); break;
        }
        if (rc != SHMC_OK) failed++;
        cas[ncas++] = cas_of(cache, k);
    }
    CHECK(failed == 0);
    qsort(cas, ncas, sizeof *cas, cmp_u64);
    size_t dups = 0, zeros = 0;
    for (size_t i = 0; i < ncas; i++) {
        if (cas[i] == 0) zeros++;
        if (i && cas[i] == cas[i - 1]) dups++;
    }
    CHECK(dups == 0);
    CHECK(zeros == 0);
    free(cas);
}

int main(void)
{
    t_setup("commands");
    CHECK_RC(shmc_open(&cache, t_path("main"), NULL), SHMC_OK);
    if (!cache) return t_finish();

    test_set_get();
    test_add();
    test_replace();
    test_append_prepend();
    test_cas();
    test_delete();
    test_incr_decr();
    test_touch_gat();
    test_mget();
    test_mget_many();
    test_binary_values();
    test_zero_length();
    test_flush_all();
    test_cas_unique();
    test_many_keys();
    shmc_close(cache);
    test_size_limit();
    t_check_file(t_path("main"));
    return t_finish();
}
