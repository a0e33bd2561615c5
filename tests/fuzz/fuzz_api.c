/* fuzz_api.c — libFuzzer target: each input is a little program of public-API calls run
 * against one small cache, and every result is checked against an in-process model of
 * memcached's semantics (key -> value, flags, cas).
 *
 * The cache is opened once (1 MiB, 16 KiB values, a pid-unique file in /dev/shm) and
 * flush_all(0) starts every input, so inputs are independent in meaning; the cache may evict,
 * so a key the model holds may be missing — accepted only when stats().evictions grew during
 * this input.  A hit must always be exactly the model's value and flags; cas must be the cas
 * the last store gave (unique across stores); return codes must be memcached's.  Times are
 * chosen so nothing expires during a run: 0, relative >= 100 s, far future, or already
 * expired (negative, absolute past).  Each input ends with stats counters compared to what
 * its calls should have counted and shmc_check on the file.  A mismatch abort()s with a
 * message; FUZZ_TRACE=1 in the environment prints every call, and FUZZ_APPEND_OVERFLOW=TOO_LARGE
 * accepts SHMC_TOO_LARGE for an append/prepend that outgrows the item limit (memcached:
 * NOT_STORED).
 * The meta calls and shmc_walk came later, behind op bytes that are 20 or 21 mod 22 (which
 * were all gets before, so older inputs keep most of their meaning): the model also keeps
 * each item's stale mark and whether its win is out, which shmc_get_meta, shmc_store_meta,
 * shmc_delete_meta, shmc_arith_meta and the walk must agree with. */
#include <shmc.h>

#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MEMORY_LIMIT (1u << 20)
#define ITEM_MAX (16u * 1024u)
#define MAX_OPS 3000
#define MGET_MAX 6

/* ---- the input as a stream of numbers (zeros once it runs out) ---- */

typedef struct reader {
    const uint8_t *p;
    size_t n, i;
} reader_t;

static uint8_t rd8(reader_t *r) { return r->i < r->n ? r->p[r->i++] : 0; }
/* little-endian, low part first (sequenced: clang's order, which the corpus was made with) */
static uint16_t rd16(reader_t *r)
{
    uint8_t lo = rd8(r);
    return (uint16_t)(lo | (uint16_t)rd8(r) << 8);
}
static uint32_t rd32(reader_t *r)
{
    uint16_t lo = rd16(r);
    return lo | (uint32_t)rd16(r) << 16;
}
static uint64_t rd64(reader_t *r)
{
    uint32_t lo = rd32(r);
    return lo | (uint64_t)rd32(r) << 32;
}

/* ---- keys: a small valid key space and some invalid ones ---- */

#define NSMALL 16 /* keys most calls use, so that calls meet each other's items */
#define NBULK 64  /* more keys, so that full-size values outgrow the cache and evict */
#define NVALID (NSMALL + NBULK)
#define NINVALID 8
static char long_key[SHMC_KEY_MAX + 1];   /* 250 bytes: valid */
static char bulk_keys[NBULK][24];
static char too_long_key[1001];           /* 251 bytes and more */
static const char *valid_key[NVALID];
static size_t valid_nkey[NVALID];
static const char *invalid_key[NINVALID];
static size_t invalid_nkey[NINVALID];

static void keys_init(void)
{
    memset(long_key, 'L', SHMC_KEY_MAX);
    memset(too_long_key, 'T', sizeof too_long_key);
    /* any byte values are a key: NUL, space and newline included ("a b" is not "a" or "b",
     * "nul\0x" not "nul") */
    static const struct { const char *k; size_t n; } names[NSMALL - 1] = {
        {"a", 1}, {"b", 1}, {"k1", 2}, {"k2", 2}, {"counter", 7}, {"user:42:profile", 15},
        {"\x80\xff~!", 4}, {"k1x", 3}, {"Z", 1}, {"a b", 3}, {"ab\n", 3}, {"\0ab", 3},
        {"nul\0x", 5}, {"\0", 1}, {" ", 1}};
    for (int i = 0; i < NSMALL - 1; i++) {
        valid_key[i] = names[i].k;
        valid_nkey[i] = names[i].n;
    }
    valid_key[NSMALL - 1] = long_key;
    valid_nkey[NSMALL - 1] = SHMC_KEY_MAX;
    for (int i = 0; i < NBULK; i++) {
        snprintf(bulk_keys[i], sizeof bulk_keys[i], "bulk:%d", i);
        valid_key[NSMALL + i] = bulk_keys[i];
        valid_nkey[NSMALL + i] = strlen(bulk_keys[i]);
    }
    /* only the length makes a key bad: empty, or over 250 bytes */
    static const struct { const char *k; size_t n; } bad[NINVALID] = {
        {"", 0}, {NULL, SHMC_KEY_MAX + 1}, {"a b", 0}, {NULL, SHMC_KEY_MAX + 2},
        {"\0", 0}, {NULL, 256}, {NULL, 1000}, {NULL, SHMC_KEY_MAX + 1}};
    for (int i = 0; i < NINVALID; i++) {
        invalid_key[i] = bad[i].k ? bad[i].k : too_long_key;
        invalid_nkey[i] = bad[i].n;
    }
}

typedef struct keysel {
    const char *key;
    size_t nkey;
    int idx; /* model index, or -1 for an invalid key */
} keysel_t;

static keysel_t pick_key(reader_t *r)
{
    uint8_t b = rd8(r);
    int k = -1;
    if (b < 160) k = b % NSMALL;
    else if (b < 224) k = NSMALL + (b - 160) % NBULK;
    if (k >= 0) return (keysel_t){valid_key[k], valid_nkey[k], k};
    int i = (b - 224) % NINVALID;
    return (keysel_t){invalid_key[i], invalid_nkey[i], -1};
}

/* ---- values ---- */

static uint8_t value_buf[ITEM_MAX + 64];

static const char *const numeric_text[] = {
    "0", "1", "42", "007", "18446744073709551615", "18446744073709551614",
    "18446744073709551616", "99999999999999999999", "123456789012345678901",
    "00000000000000000001", "-1", " 1", "1 ", "12a", "+5", "0x10", "9"};
#define NNUMERIC (sizeof numeric_text / sizeof numeric_text[0])

typedef struct valsel {
    const void *v; /* NULL only when deliberately passed as NULL */
    size_t n;
} valsel_t;

static void fill_random(uint8_t *p, size_t n, uint32_t seed)
{
    uint64_t x = seed * 0x9e3779b97f4a7c15ull + 1;
    for (size_t i = 0; i < n; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        p[i] = (uint8_t)x;
    }
}

static valsel_t pick_value(reader_t *r)
{
    uint8_t s = rd8(r) % 16;
    size_t n;
    switch (s) {
    case 0: n = 0; break;
    case 1: case 2: case 3: case 4: case 5: n = 1 + rd8(r) % 64; break;
    case 6: case 7: n = 65 + rd16(r) % 2000; break;
    case 8: n = ITEM_MAX; break;
    case 9: n = ITEM_MAX + 1; break;
    case 10: n = ITEM_MAX - rd8(r) % 32; break;
    case 11: case 12: case 13: {
        const char *t = numeric_text[rd8(r) % NNUMERIC];
        return (valsel_t){t, strlen(t)};
    }
    case 14: n = rd16(r) % (ITEM_MAX + 2); break;
    default: /* NULL: valid only with length 0 */
        return (valsel_t){NULL, rd8(r) & 1 ? 1 + rd8(r) % 8 : 0};
    }
    fill_random(value_buf, n, rd32(r));
    return (valsel_t){value_buf, n};
}

/* ---- expiry times that never come due during a run, or are already past ---- */

typedef struct expsel {
    int64_t t;
    bool dead; /* expired at once */
} expsel_t;

static expsel_t pick_exptime(reader_t *r)
{
    int64_t now = (int64_t)time(NULL);
    uint8_t s = rd8(r) % 14;
    uint32_t x = rd32(r);
    switch (s) {
    case 0: case 1: case 2: case 3: return (expsel_t){0, false};
    case 4: return (expsel_t){-1 - (int64_t)(x % 1000000), true};
    case 5: return (expsel_t){INT64_MIN, true};
    case 6: case 7: case 8: return (expsel_t){100 + x % (SHMC_EXPTIME_RELATIVE_MAX - 99), false};
    case 9: return (expsel_t){SHMC_EXPTIME_RELATIVE_MAX, false};
    case 10: return (expsel_t){SHMC_EXPTIME_RELATIVE_MAX + 1 + x % 1000, true};
    case 11: return (expsel_t){now - 3600 - x % 100000000, true};
    case 12: return (expsel_t){now + 3600 + x % 100000000, false};
    default: return (expsel_t){x & 1 ? INT64_MAX : (int64_t)UINT32_MAX + x, false};
    }
}

static uint64_t pick_delta(reader_t *r)
{
    switch (rd8(r) % 6) {
    case 0: return 0;
    case 1: return 1;
    case 2: return rd8(r);
    case 3: return UINT64_MAX;
    case 4: return UINT64_MAX - rd8(r);
    default: return rd64(r);
    }
}

/* ---- the model ---- */

typedef struct model_item {
    bool present;
    uint8_t val[ITEM_MAX];
    size_t n;
    uint32_t flags;
    bool cas_known;
    uint64_t cas;
    uint64_t gen; /* which store made this value */
    bool stale;   /* invalidated (shmc_delete_meta I, or a stale shmc_store_meta) */
    bool win;     /* a win is out (a meta fetch or vivify won it) ... */
    time_t win_at; /* ... at this time: honoured SHMC_WIN_TIMEOUT s, give or take 4 */
} model_item_t;

static model_item_t model[NVALID];
static uint64_t store_gen;

/* cas values seen in this input, each with the store generation it belongs to */
#define CAS_SLOTS 16384
static struct { uint64_t cas, gen; } cas_seen[CAS_SLOTS];
static size_t cas_seen_count;

/* ---- the cache and the run's bookkeeping ---- */

static shmc_t *cache;
static char cache_path[128];
static uint64_t evictions_at_start;
static size_t op_no;
static const char *op_name;
static bool trace;
/* what an append/prepend whose result would exceed the item limit answers: memcached's
 * NOT_STORED, unless FUZZ_APPEND_OVERFLOW=TOO_LARGE accepts the library's own choice */
static shmc_rc append_overflow_rc = SHMC_NOT_STORED;

/* counters this input's calls should have added; compared with shmc_stats at the end */
typedef struct counts {
    uint64_t cmd_get, get_hits, get_misses, cmd_touch, touch_hits, touch_misses;
    uint64_t delete_hits, delete_misses, incr_hits, incr_misses, decr_hits, decr_misses;
    uint64_t cas_hits, cas_misses, cas_badval, cmd_flush, cmd_set;
} counts_t;
static counts_t want, base;

static void cleanup(void)
{
    if (cache) shmc_close(cache);
    cache = NULL;
    if (cache_path[0]) unlink(cache_path);
}

static void fail(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "\nfuzz_api MISMATCH at call %zu (%s): ", op_no, op_name ? op_name : "?");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n  last library error: %s\n", shmc_last_error());
    va_end(ap);
    cleanup();
    abort();
}

static const char *rcname(shmc_rc rc)
{
    static const char *const n[SHMC_RC_COUNT] = {
        "OK", "NOT_FOUND", "NOT_STORED", "EXISTS", "BAD_KEY", "TOO_LARGE", "NO_MEMORY",
        "NOT_NUMERIC", "BUFFER_TOO_SMALL", "INVALID", "BAD_FILE", "UNSUPPORTED", "SYSTEM"};
    return (unsigned)rc < SHMC_RC_COUNT ? n[rc] : "(out of range)";
}

static void expect_rc(shmc_rc got, shmc_rc want_rc, const char *key, size_t nkey)
{
    if (got != want_rc)
        fail("key '%.*s' (%zu bytes): got %s, want %s", (int)(nkey > 40 ? 40 : nkey),
             key ? key : "(null)", nkey, rcname(got), rcname(want_rc));
}

static uint64_t stat_evictions(void)
{
    shmc_stats_t s;
    shmc_rc rc = shmc_stats(cache, &s);
    if (rc != SHMC_OK) fail("stats: %s", rcname(rc));
    return s.evictions;
}

/* The cache lacks a key the model holds: fine only if something was evicted. */
static void accept_miss(int k)
{
    if (stat_evictions() == evictions_at_start)
        fail("key '%.*s' is missing from the cache but the model holds it (%zu bytes) and "
             "nothing was evicted", (int)(valid_nkey[k] > 40 ? 40 : valid_nkey[k]),
             valid_key[k], model[k].n);
    model[k].present = false;
}

static void model_store(int k, const void *v1, size_t n1, const void *v2, size_t n2,
                        uint32_t flags, bool dead)
{
    model_item_t *m = &model[k];
    uint8_t tmp[ITEM_MAX];
    if (n1) memcpy(tmp, v1, n1);
    if (n2) memcpy(tmp + n1, v2, n2);
    memcpy(m->val, tmp, n1 + n2);
    m->n = n1 + n2;
    m->flags = flags;
    m->present = !dead;
    m->cas_known = false;
    m->gen = ++store_gen;
    m->stale = m->win = false; /* a store replaces a stale item and ends its win */
}

/* A cas value seen on a hit: it must be the one the last store of this key gave. */
static void check_cas(int k, uint64_t cas)
{
    model_item_t *m = &model[k];
    if (m->cas_known) {
        if (cas != m->cas) fail("cas %llu, want %llu (unchanged since the last store)",
                                (unsigned long long)cas, (unsigned long long)m->cas);
        return;
    }
    if (cas == 0) fail("a stored item has cas 0");
    size_t h = (size_t)(cas * 0x9e3779b97f4a7c15ull >> 50) % CAS_SLOTS;
    for (size_t i = 0; i < CAS_SLOTS; i++, h = (h + 1) % CAS_SLOTS) {
        if (cas_seen[h].cas == cas) {
            if (cas_seen[h].gen != m->gen)
                fail("cas %llu given to two different stores", (unsigned long long)cas);
            break;
        }
        if (cas_seen[h].cas == 0) {
            if (cas_seen_count < CAS_SLOTS / 2) {
                cas_seen[h].cas = cas;
                cas_seen[h].gen = m->gen;
                cas_seen_count++;
            }
            break;
        }
    }
    m->cas_known = true;
    m->cas = cas;
}

static void check_hit(int k, const void *val, size_t n, const uint32_t *flags,
                      const uint64_t *cas)
{
    model_item_t *m = &model[k];
    if (!m->present) fail("hit (%zu bytes) on a key the model does not hold", n);
    if (n != m->n) fail("value of %zu bytes, want %zu", n, m->n);
    if (n && memcmp(val, m->val, n) != 0) fail("value bytes differ from the last store");
    if (flags && *flags != m->flags) fail("flags %u, want %u", *flags, m->flags);
    if (cas) check_cas(k, *cas);
}

/* ---- the operations ---- */

enum store_op { ST_SET, ST_ADD, ST_REPLACE, ST_APPEND, ST_PREPEND, ST_CAS };
static const char *const store_names[] = {"set", "add", "replace", "append", "prepend", "cas"};

static shmc_rc call_store(enum store_op op, const keysel_t *ks, const valsel_t *vs,
                          uint32_t flags, int64_t exptime, uint64_t cas)
{
    switch (op) {
    case ST_SET: return shmc_set(cache, ks->key, ks->nkey, vs->v, vs->n, flags, exptime);
    case ST_ADD: return shmc_add(cache, ks->key, ks->nkey, vs->v, vs->n, flags, exptime);
    case ST_REPLACE: return shmc_replace(cache, ks->key, ks->nkey, vs->v, vs->n, flags, exptime);
    case ST_APPEND: return shmc_append(cache, ks->key, ks->nkey, vs->v, vs->n, flags, exptime);
    case ST_PREPEND: return shmc_prepend(cache, ks->key, ks->nkey, vs->v, vs->n, flags, exptime);
    default: return shmc_cas(cache, ks->key, ks->nkey, vs->v, vs->n, flags, exptime, cas);
    }
}

/* What memcached answers for a store given whether the key is present. */
static shmc_rc store_expect(enum store_op op, int k, bool present, size_t n, uint64_t cas)
{
    if (n > ITEM_MAX) return SHMC_TOO_LARGE;
    switch (op) {
    case ST_SET: return SHMC_OK;
    case ST_ADD: return present ? SHMC_NOT_STORED : SHMC_OK;
    case ST_REPLACE: return present ? SHMC_OK : SHMC_NOT_STORED;
    case ST_APPEND: case ST_PREPEND:
        if (!present) return SHMC_NOT_STORED;
        /* memcached cannot allocate the joined item: NOT_STORED (do_store_item) */
        return model[k].n + n > ITEM_MAX ? append_overflow_rc : SHMC_OK;
    default:
        if (!present) return SHMC_NOT_FOUND;
        return model[k].cas == cas ? SHMC_OK : SHMC_EXISTS;
    }
}

static void get_into(keysel_t ks, int variant, size_t cap);

/* A store's checked result in the model: memcached's cas counters, and a set over the item
 * size limit drops the old value.  Whether it stored. */
static bool store_counted(enum store_op op, size_t n, shmc_rc got, bool *present)
{
    if (op == ST_CAS && n <= ITEM_MAX) {
        if (got == SHMC_OK) want.cas_hits++;
        else if (got == SHMC_NOT_FOUND) want.cas_misses++;
        else if (got == SHMC_EXISTS) want.cas_badval++;
    }
    if (got == SHMC_TOO_LARGE && op == ST_SET) *present = false;
    return got == SHMC_OK;
}

static void do_store(reader_t *r, enum store_op op, bool right_cas)
{
    keysel_t ks = pick_key(r);
    valsel_t vs = pick_value(r);
    uint32_t flags = rd32(r);
    expsel_t ex = pick_exptime(r);
    uint64_t cas = rd64(r) % 4 == 0 ? 0 : rd64(r);
    if (ks.idx < 0 && !vs.v) vs.n = 0; /* one error at a time: the key's */
    if (op == ST_CAS && ks.idx >= 0 && model[ks.idx].present && !model[ks.idx].cas_known)
        get_into(ks, 1, ITEM_MAX); /* learn the current cas with a gets, so EXISTS is exact */
    op_name = store_names[op];
    if (op == ST_CAS && right_cas && ks.idx >= 0 && model[ks.idx].present) cas = model[ks.idx].cas;
    if (trace)
        fprintf(stderr, "%zu: %s key#%d n=%zu%s flags=%u exp=%lld cas=%llu\n", op_no, op_name,
                ks.idx, vs.n, vs.v ? "" : "(NULL)", flags, (long long)ex.t, (unsigned long long)cas);
    shmc_rc got = call_store(op, &ks, &vs, flags, ex.t, cas);
    if (ks.idx < 0) return expect_rc(got, SHMC_BAD_KEY, ks.key, ks.nkey);
    if (!vs.v && vs.n) return expect_rc(got, SHMC_INVALID, ks.key, ks.nkey);
    int k = ks.idx;
    want.cmd_set++;
    shmc_rc exp = store_expect(op, k, model[k].present, vs.n, cas);
    if (got != exp && model[k].present &&
        got == store_expect(op, k, false, vs.n, cas)) {
        accept_miss(k);
        exp = got;
    }
    expect_rc(got, exp, ks.key, ks.nkey);
    if (!store_counted(op, vs.n, got, &model[k].present)) return;
    model_item_t *m = &model[k];
    if (op == ST_APPEND) model_store(k, m->val, m->n, vs.v, vs.n, m->flags, false);
    else if (op == ST_PREPEND) model_store(k, vs.v, vs.n, m->val, m->n, m->flags, false);
    else model_store(k, vs.v, vs.n, NULL, 0, flags, ex.dead);
}

static uint8_t get_buf[ITEM_MAX + 64];

/* variant 0: get without flags/cas; 1: gets; 2: gat; 3: get_alloc. */
static void get_into(keysel_t ks, int variant, size_t cap)
{
    static const char *const names[] = {"get", "gets", "gat", "get_alloc"};
    op_name = names[variant];
    expsel_t ex = {0, false};
    if (variant == 2) {
        static uint32_t rot;
        int64_t choices[] = {0, -1, 1000, 2592000, (int64_t)time(NULL) + 86400};
        int c = rot++ % 5;
        ex.t = choices[c];
        ex.dead = c == 1;
    }
    size_t nvalue = (size_t)-1;
    uint32_t flags = 0;
    uint64_t cas = 0;
    void *alloc = NULL;
    shmc_rc got;
    void *buf = cap ? get_buf : (variant & 1 ? NULL : get_buf);
    if (trace)
        fprintf(stderr, "%zu: %s key#%d cap=%zu exp=%lld\n", op_no, op_name, ks.idx, cap,
                (long long)ex.t);
    if (variant == 0) got = shmc_get(cache, ks.key, ks.nkey, buf, cap, &nvalue, NULL, NULL);
    else if (variant == 1) got = shmc_get(cache, ks.key, ks.nkey, buf, cap, &nvalue, &flags, &cas);
    else if (variant == 2) got = shmc_gat(cache, ks.key, ks.nkey, ex.t, buf, cap, &nvalue, &flags, &cas);
    else got = shmc_get_alloc(cache, ks.key, ks.nkey, &alloc, &nvalue, &flags, &cas);
    if (ks.idx < 0) {
        expect_rc(got, SHMC_BAD_KEY, ks.key, ks.nkey);
        if (alloc) fail("get_alloc returned memory with an error");
        return;
    }
    int k = ks.idx;
    model_item_t *m = &model[k];
    if (variant == 3) cap = SIZE_MAX;
    shmc_rc exp = !m->present ? SHMC_NOT_FOUND : cap < m->n ? SHMC_BUFFER_TOO_SMALL : SHMC_OK;
    if (got == SHMC_NOT_FOUND && m->present) {
        accept_miss(k);
        exp = SHMC_NOT_FOUND;
    }
    expect_rc(got, exp, ks.key, ks.nkey);
    if (got == SHMC_BUFFER_TOO_SMALL) {
        if (nvalue != m->n) fail("BUFFER_TOO_SMALL says %zu bytes, want %zu", nvalue, m->n);
        return; /* not counted, nothing touched */
    }
    /* memcached counts gat as a get command and a touch command, its hit or miss as a
     * touch hit or miss only */
    want.cmd_get++;
    if (variant == 2) want.cmd_touch++;
    if (got == SHMC_NOT_FOUND) {
        if (variant == 2) want.touch_misses++;
        else want.get_misses++;
        if (alloc) fail("get_alloc returned memory on a miss");
        return;
    }
    if (variant == 2) want.touch_hits++;
    else want.get_hits++;
    if (variant == 3) {
        if (!alloc) fail("get_alloc: OK without a buffer");
        if (((char *)alloc)[nvalue] != '\0') fail("get_alloc: value not NUL-terminated");
        check_hit(k, alloc, nvalue, &flags, &cas);
        free(alloc);
        return;
    }
    check_hit(k, get_buf, nvalue, variant ? &flags : NULL, variant ? &cas : NULL);
    if (variant == 2 && ex.dead) m->present = false;
}

static void do_get(reader_t *r, int variant)
{
    keysel_t ks = pick_key(r);
    uint8_t c = rd8(r);
    size_t cap;
    if (c < 160) cap = ITEM_MAX + 64;
    else if (c < 200 && ks.idx >= 0) cap = model[ks.idx].n; /* exactly enough */
    else if (c < 240 && ks.idx >= 0 && model[ks.idx].n) cap = model[ks.idx].n - 1;
    else cap = c % 8; /* 0..7, and 0 with a NULL buffer for gets */
    get_into(ks, variant, cap);
}

/* mget: the callback's calls in order, compared with the keys asked for */
typedef struct mget_hit {
    char key[SHMC_KEY_MAX];
    size_t nkey, nvalue;
    uint32_t flags;
    uint64_t cas;
    uint8_t *value;
} mget_hit_t;

typedef struct mget_ctx {
    mget_hit_t hits[MGET_MAX];
    size_t n;
} mget_ctx_t;

static void mget_cb(void *ctx, const char *key, size_t nkey, const void *value, size_t nvalue,
                    uint32_t flags, uint64_t cas)
{
    mget_ctx_t *m = ctx;
    if (m->n >= MGET_MAX) fail("mget: more callbacks than keys");
    if (nkey == 0 || nkey > SHMC_KEY_MAX) fail("mget: callback with a %zu-byte key", nkey);
    if (nvalue > ITEM_MAX) fail("mget: callback with a %zu-byte value", nvalue);
    mget_hit_t *h = &m->hits[m->n++];
    memcpy(h->key, key, nkey);
    h->nkey = nkey;
    h->nvalue = nvalue;
    h->flags = flags;
    h->cas = cas;
    h->value = malloc(nvalue ? nvalue : 1);
    if (!h->value) fail("out of memory");
    if (nvalue) memcpy(h->value, value, nvalue);
}

static void do_mget(reader_t *r)
{
    op_name = "mget";
    size_t n = rd8(r) % (MGET_MAX + 1);
    keysel_t ks[MGET_MAX];
    const char *keys[MGET_MAX];
    size_t nkeys[MGET_MAX];
    bool any_bad = false;
    for (size_t i = 0; i < n; i++) {
        ks[i] = pick_key(r);
        keys[i] = ks[i].key;
        nkeys[i] = ks[i].nkey;
        any_bad |= ks[i].idx < 0;
    }
    if (trace) fprintf(stderr, "%zu: mget of %zu keys%s\n", op_no, n, any_bad ? " (one bad)" : "");
    mget_ctx_t ctx = {.n = 0};
    shmc_rc got = shmc_mget(cache, n ? keys : NULL, n ? nkeys : NULL, n, mget_cb, &ctx);
    if (any_bad) {
        expect_rc(got, SHMC_BAD_KEY, "(mget)", 6);
        if (ctx.n) fail("mget with a bad key called back %zu times", ctx.n);
        return;
    }
    expect_rc(got, SHMC_OK, "(mget)", 6);
    size_t h = 0;
    for (size_t i = 0; i < n; i++) {
        int k = ks[i].idx;
        want.cmd_get++;
        bool hit = h < ctx.n && ctx.hits[h].nkey == nkeys[i] &&
                   memcmp(ctx.hits[h].key, keys[i], nkeys[i]) == 0;
        if (!hit) {
            want.get_misses++;
            if (model[k].present) accept_miss(k);
            continue;
        }
        want.get_hits++;
        check_hit(k, ctx.hits[h].value, ctx.hits[h].nvalue, &ctx.hits[h].flags, &ctx.hits[h].cas);
        h++;
    }
    if (h != ctx.n) fail("mget: %zu callbacks do not match the keys in order", ctx.n);
    for (size_t i = 0; i < ctx.n; i++) free(ctx.hits[i].value);
}

static void do_delete(reader_t *r)
{
    op_name = "delete";
    keysel_t ks = pick_key(r);
    if (trace) fprintf(stderr, "%zu: delete key#%d\n", op_no, ks.idx);
    shmc_rc got = shmc_delete(cache, ks.key, ks.nkey);
    if (ks.idx < 0) return expect_rc(got, SHMC_BAD_KEY, ks.key, ks.nkey);
    model_item_t *m = &model[ks.idx];
    if (got == SHMC_NOT_FOUND && m->present) accept_miss(ks.idx);
    expect_rc(got, m->present ? SHMC_OK : SHMC_NOT_FOUND, ks.key, ks.nkey);
    if (got == SHMC_OK) want.delete_hits++;
    else want.delete_misses++;
    m->present = false;
}

/* The rule the library promises, memcached's strtoull: blanks, a sign, digits (at most
 * 2^64-1), then a blank, a NUL or the end; '-' only when the result is not negative. */
static bool parse_counter(const uint8_t *p, size_t n, uint64_t *out)
{
    size_t i = 0;
    while (i < n && (p[i] == ' ' || (p[i] >= '\t' && p[i] <= '\r'))) i++;
    bool neg = false;
    if (i < n && (p[i] == '+' || p[i] == '-')) neg = p[i++] == '-';
    size_t first = i;
    uint64_t v = 0;
    for (; i < n && p[i] >= '0' && p[i] <= '9'; i++) {
        unsigned d = p[i] - '0';
        if (v > (UINT64_MAX - d) / 10) return false;
        v = v * 10 + d;
    }
    if (i == first) return false;
    if (i < n && p[i] != 0 && p[i] != ' ' && !(p[i] >= '\t' && p[i] <= '\r')) return false;
    if (neg) v = 0 - v;
    if (neg && (int64_t)v < 0) return false;
    *out = v;
    return true;
}

/* A counter's new text: the number, padded with spaces to the old length when no longer
 * (old values up to 256 bytes), as memcached rewrites it in place. */
static size_t counter_text(char *text, uint64_t v, size_t old_n)
{
    size_t n = (size_t)snprintf(text, 24, "%llu", (unsigned long long)v);
    if (n < old_n && old_n <= 256) {
        memset(text + n, ' ', old_n - n);
        n = old_n;
    }
    return n;
}

static void do_arith(reader_t *r, bool incr)
{
    op_name = incr ? "incr" : "decr";
    keysel_t ks = pick_key(r);
    uint64_t delta = pick_delta(r);
    bool want_result = rd8(r) & 1;
    uint64_t result = 0xdeadbeef;
    if (trace) fprintf(stderr, "%zu: %s key#%d delta=%llu\n", op_no, op_name, ks.idx, (unsigned long long)delta);
    shmc_rc got = incr ? shmc_incr(cache, ks.key, ks.nkey, delta, want_result ? &result : NULL)
                       : shmc_decr(cache, ks.key, ks.nkey, delta, want_result ? &result : NULL);
    if (ks.idx < 0) return expect_rc(got, SHMC_BAD_KEY, ks.key, ks.nkey);
    int k = ks.idx;
    model_item_t *m = &model[k];
    if (got == SHMC_NOT_FOUND && m->present) accept_miss(k);
    uint64_t v = 0;
    shmc_rc exp = !m->present ? SHMC_NOT_FOUND
                  : !parse_counter(m->val, m->n, &v) ? SHMC_NOT_NUMERIC : SHMC_OK;
    expect_rc(got, exp, ks.key, ks.nkey);
    if (got == SHMC_NOT_NUMERIC) return;
    if (got == SHMC_NOT_FOUND) {
        if (incr) want.incr_misses++;
        else want.decr_misses++;
        return;
    }
    if (incr) want.incr_hits++;
    else want.decr_hits++;
    v = incr ? v + delta : (delta > v ? 0 : v - delta);
    if (want_result && result != v)
        fail("result %llu, want %llu", (unsigned long long)result, (unsigned long long)v);
    char text[260];
    size_t tn = counter_text(text, v, m->n);
    bool stale = m->stale, win = m->win; /* a counter keeps them, as memcached's */
    model_store(k, text, tn, NULL, 0, m->flags, false);
    m->stale = stale;
    m->win = win;
}

static void do_touch(reader_t *r)
{
    op_name = "touch";
    keysel_t ks = pick_key(r);
    expsel_t ex = pick_exptime(r);
    if (trace) fprintf(stderr, "%zu: touch key#%d exp=%lld\n", op_no, ks.idx, (long long)ex.t);
    shmc_rc got = shmc_touch(cache, ks.key, ks.nkey, ex.t);
    if (ks.idx < 0) return expect_rc(got, SHMC_BAD_KEY, ks.key, ks.nkey);
    model_item_t *m = &model[ks.idx];
    if (got == SHMC_NOT_FOUND && m->present) accept_miss(ks.idx);
    expect_rc(got, m->present ? SHMC_OK : SHMC_NOT_FOUND, ks.key, ks.nkey);
    want.cmd_touch++;
    if (got == SHMC_OK) want.touch_hits++;
    else want.touch_misses++;
    if (got == SHMC_OK && ex.dead) m->present = false; /* cas is kept otherwise */
}

static void model_flush(void)
{
    for (int k = 0; k < NVALID; k++) model[k].present = false;
}

static void do_flush(reader_t *r)
{
    op_name = "flush_all";
    int64_t delay = rd8(r) & 1 ? 0 : -(int64_t)rd8(r) - 1;
    if (trace) fprintf(stderr, "%zu: flush_all(%lld)\n", op_no, (long long)delay);
    expect_rc(shmc_flush_all(cache, delay), SHMC_OK, "", 0);
    want.cmd_flush++;
    model_flush();
}

static void do_stats(void)
{
    op_name = "stats";
    shmc_stats_t s;
    expect_rc(shmc_stats(cache, &s), SHMC_OK, "", 0);
    if (s.limit_maxbytes != MEMORY_LIMIT) fail("limit_maxbytes %llu", (unsigned long long)s.limit_maxbytes);
    if (s.item_size_max != ITEM_MAX) fail("item_size_max %llu", (unsigned long long)s.item_size_max);
    if (s.evictions < evictions_at_start) fail("evictions went down");
    if (s.touch_hits + s.touch_misses != s.cmd_touch) fail("touch_hits + touch_misses != cmd_touch");
    if (s.curr_connections < 1) fail("curr_connections %llu with this handle open", (unsigned long long)s.curr_connections);
}

/* Arguments the API documents as SHMC_INVALID; none may change anything. */
static void do_invalid(reader_t *r)
{
    op_name = "invalid-argument";
    keysel_t ks = {valid_key[0], valid_nkey[0], 0};
    size_t nv;
    uint32_t fl;
    uint64_t cas, res;
    const char *keys[1] = {ks.key};
    size_t nkeys[1] = {ks.nkey};
    mget_ctx_t ctx = {.n = 0};
    shmc_stats_t st;
    uint8_t c = rd8(r) % 24;
    if (trace) fprintf(stderr, "%zu: invalid-argument case %u\n", op_no, c);
    shmc_rc got;
    shmc_rc exp = SHMC_INVALID;
    switch (c) {
    case 0: got = shmc_set(NULL, ks.key, ks.nkey, "v", 1, 0, 0); break;
    case 1: got = shmc_get(NULL, ks.key, ks.nkey, get_buf, 10, &nv, &fl, &cas); break;
    case 2: got = shmc_delete(NULL, ks.key, ks.nkey); break;
    case 3: got = shmc_incr(NULL, ks.key, ks.nkey, 1, &res); break;
    case 4: got = shmc_touch(NULL, ks.key, ks.nkey, 0); break;
    case 5: got = shmc_flush_all(NULL, 0); break;
    case 6: got = shmc_stats(NULL, &st); break;
    case 7: got = shmc_stats(cache, NULL); break;
    case 8: got = shmc_set(cache, NULL, 3, "v", 1, 0, 0); break;
    case 9: got = shmc_get(cache, NULL, 3, get_buf, 10, &nv, NULL, NULL); break;
    case 10: got = shmc_get(cache, ks.key, ks.nkey, get_buf, 10, NULL, NULL, NULL); break;
    case 11: got = shmc_get(cache, ks.key, ks.nkey, NULL, 10, &nv, NULL, NULL); break;
    case 12: got = shmc_add(cache, ks.key, ks.nkey, NULL, 5, 0, 0); break;
    case 13: got = shmc_get_alloc(cache, ks.key, ks.nkey, NULL, &nv, NULL, NULL); break;
    case 14: got = shmc_mget(cache, keys, nkeys, 1, NULL, &ctx); break;
    case 15: got = shmc_mget(cache, NULL, nkeys, 1, mget_cb, &ctx); break;
    case 16: got = shmc_mget(cache, keys, NULL, 1, mget_cb, &ctx); break;
    case 17: got = shmc_mget(NULL, keys, nkeys, 1, mget_cb, &ctx); break;
    case 18: got = shmc_delete(cache, NULL, 1); break;
    case 19: got = shmc_decr(cache, NULL, 1, 1, &res); break;
    case 20: got = shmc_gat(cache, ks.key, ks.nkey, 0, get_buf, 10, NULL, NULL, NULL); break;
    case 21: got = shmc_cas(NULL, ks.key, ks.nkey, "v", 1, 0, 0, 1); break;
    case 22: /* nothing to get: OK with no callback */
        got = shmc_mget(cache, NULL, NULL, 0, mget_cb, &ctx);
        exp = SHMC_OK;
        break;
    default:
        shmc_close(NULL);
        for (int i = -2; i < SHMC_RC_COUNT + 3; i++)
            if (!shmc_strerror((shmc_rc)i)) fail("shmc_strerror(%d) is NULL", i);
        if (!shmc_last_error()) fail("shmc_last_error() is NULL");
        return;
    }
    if (got != exp) fail("invalid-argument case %u: got %s, want %s", c, rcname(got), rcname(exp));
    if (ctx.n) fail("invalid-argument case %u: mget called back", c);
}


/* ---- the meta calls (shmc_get_meta, shmc_store_meta, shmc_delete_meta, shmc_arith_meta)
 * and shmc_walk ---- */

/* Whether the model's win on k still holds; near its timeout either answer is accepted. */
static int win_state(const model_item_t *m)
{
    if (!m->win) return 0;
    time_t age = time(NULL) - m->win_at;
    if (age < SHMC_WIN_TIMEOUT - 5) return 1;
    return age > SHMC_WIN_TIMEOUT + 5 ? 0 : -1; /* -1: either */
}

/* exptimes for a meta call: live or dead, never one that lapses during a run */
static expsel_t pick_meta_exptime(uint8_t b, bool live_only)
{
    int64_t choices[] = {0, 1000, 2592000, (int64_t)time(NULL) + 86400, -1};
    int c = b % (live_only ? 4 : 5);
    return (expsel_t){choices[c], c == 4};
}

static void do_get_meta(reader_t *r)
{
    op_name = "get_meta";
    keysel_t ks = pick_key(r);
    uint8_t what = rd8(r);
    shmc_get_opts o = {.what = what & 0x7fu};
    expsel_t tex = pick_meta_exptime(rd8(r), false), vex = pick_meta_exptime(rd8(r), true);
    o.exptime = tex.t;
    o.vivify_exptime = vex.t;
    o.recache = rd8(r) & 1 ? rd32(r) % 4000000 : 0;
    bool touch = o.what & SHMC_GET_TOUCH, vivify = o.what & SHMC_GET_VIVIFY;
    size_t nvalue = (size_t)-1;
    shmc_item_meta im;
    memset(&im, 0xEE, sizeof im);
    if (trace)
        fprintf(stderr, "%zu: get_meta key#%d what=%#x exp=%lld viv=%lld recache=%u\n", op_no,
                ks.idx, o.what, (long long)o.exptime, (long long)o.vivify_exptime, o.recache);
    shmc_rc got = shmc_get_meta(cache, ks.key, ks.nkey, &o, get_buf, ITEM_MAX + 64, &nvalue, &im);
    if (ks.idx < 0) return expect_rc(got, SHMC_BAD_KEY, ks.key, ks.nkey);
    int k = ks.idx;
    model_item_t *m = &model[k];
    if (m->present && (got == SHMC_NOT_FOUND || (got == SHMC_OK && im.created))) accept_miss(k);
    expect_rc(got, m->present || vivify ? SHMC_OK : SHMC_NOT_FOUND, ks.key, ks.nkey);
    /* as memcached's mg counts: a touch, or a get; a vivified miss is a hit */
    if (touch) {
        want.cmd_touch++;
        if (got == SHMC_OK) want.touch_hits++;
        else want.touch_misses++;
    } else {
        want.cmd_get++;
        if (got == SHMC_OK) want.get_hits++;
        else want.get_misses++;
    }
    if (got != SHMC_OK) return;
    if (im.nvalue != nvalue) fail("meta nvalue %llu, value %zu", (unsigned long long)im.nvalue, nvalue);
    bool dead;
    if (!m->present) { /* created */
        if (!im.created || im.win != SHMC_WIN_WON || nvalue || im.flags || im.stale)
            fail("vivified: created %u win %u nvalue %zu flags %u stale %u", im.created, im.win,
                 nvalue, im.flags, im.stale);
        /* N and T apply in the order the bits say: the later one stays */
        dead = touch && !(o.what & SHMC_GET_VIVIFY_AFTER_TOUCH) ? tex.dead : vex.dead;
        model_store(k, NULL, 0, NULL, 0, 0, false);
        check_cas(k, im.cas);
        m->win = true;
        m->win_at = time(NULL);
        m->present = !dead;
        return;
    }
    if (im.created) fail("created on a hit");
    check_hit(k, get_buf, nvalue, &im.flags, &im.cas);
    if (im.stale != m->stale) fail("stale %u, the model's %u", im.stale, m->stale);
    int ws = win_state(m);
    bool any = ws < 0 || (ws == 0 && !(o.what & SHMC_GET_NO_WIN) && !m->stale &&
                          (o.what & SHMC_GET_RECACHE));
    int want_win = ws > 0 ? SHMC_WIN_TAKEN
                   : o.what & SHMC_GET_NO_WIN || !m->stale ? SHMC_WIN_NONE : SHMC_WIN_WON;
    if (ws < 0 && im.win == SHMC_WIN_TAKEN) want_win = SHMC_WIN_TAKEN;
    if (any && im.win == SHMC_WIN_WON) want_win = SHMC_WIN_WON;
    if (im.win != want_win) fail("win %u, want %u", im.win, want_win);
    if (im.win == SHMC_WIN_WON) {
        m->win = true;
        m->win_at = time(NULL);
    }
    if (touch && tex.dead) m->present = false;
}

static void do_store_meta(reader_t *r)
{
    static const char *const names[] = {"store_meta set", "store_meta add", "store_meta replace",
                                        "store_meta append", "store_meta prepend"};
    uint8_t sel = rd8(r);
    int mode = sel % 5;
    bool use_cas = sel & 8, invalidate = sel & 16;
    op_name = names[mode];
    keysel_t ks = pick_key(r);
    valsel_t vs = pick_value(r);
    uint32_t flags = rd32(r);
    expsel_t ex = pick_exptime(r);
    uint64_t cas = rd64(r) % 4 == 0 ? 0 : rd64(r);
    if (ks.idx < 0 && !vs.v) vs.n = 0;
    model_item_t *m = ks.idx >= 0 ? &model[ks.idx] : NULL;
    if (use_cas && m && m->present && !m->cas_known) get_into(ks, 1, ITEM_MAX);
    op_name = names[mode];
    if (use_cas && m && m->present) {
        if (sel & 32) cas = m->cas;          /* right */
        else if (sel & 64) cas = m->cas - 1; /* older */
    }
    shmc_store_opts o = {.what = (use_cas ? SHMC_STORE_CAS : 0) |
                                 (invalidate ? SHMC_STORE_INVALIDATE : 0),
                         .cas = cas};
    uint64_t cas_out = 0;
    if (trace)
        fprintf(stderr, "%zu: %s key#%d n=%zu flags=%u exp=%lld what=%#x cas=%llu\n", op_no,
                op_name, ks.idx, vs.n, flags, (long long)ex.t, o.what, (unsigned long long)cas);
    shmc_rc got = shmc_store_meta(cache, mode, ks.key, ks.nkey, vs.v, vs.n, flags, ex.t, &o,
                                  &cas_out);
    if (ks.idx < 0) return expect_rc(got, SHMC_BAD_KEY, ks.key, ks.nkey);
    if (!vs.v && vs.n) return expect_rc(got, SHMC_INVALID, ks.key, ks.nkey);
    int k = ks.idx;
    want.cmd_set++;
    /* set and replace with CAS act as cas; add ignores it; append and prepend compare a cas
     * that is not 0 */
    enum store_op op = mode == SHMC_MODE_ADD ? ST_ADD
                       : mode == SHMC_MODE_APPEND ? ST_APPEND
                       : mode == SHMC_MODE_PREPEND ? ST_PREPEND
                       : use_cas ? ST_CAS : mode == SHMC_MODE_SET ? ST_SET : ST_REPLACE;
    bool joins = op == ST_APPEND || op == ST_PREPEND;
    bool stale_store = false;
    shmc_rc exp;
    for (int pass = 0;; pass++) {
        bool present = pass == 0 && m->present;
        exp = store_expect(op, k, present, vs.n, cas);
        stale_store = op == ST_CAS && exp == SHMC_EXISTS && invalidate && cas < m->cas;
        if (stale_store) exp = SHMC_OK;
        if (joins && use_cas && present && cas && cas != m->cas) exp = SHMC_EXISTS;
        if (vs.n > ITEM_MAX) exp = SHMC_TOO_LARGE;
        if (got == exp || pass == 1 || !m->present) break;
        accept_miss(k); /* evicted: what a miss answers */
    }
    expect_rc(got, exp, ks.key, ks.nkey);
    if (!store_counted(op, vs.n, got, &m->present)) return;
    bool win = m->win;
    time_t win_at = m->win_at;
    if (op == ST_APPEND) model_store(k, m->val, m->n, vs.v, vs.n, m->flags, false);
    else if (op == ST_PREPEND) model_store(k, vs.v, vs.n, m->val, m->n, m->flags, false);
    else model_store(k, vs.v, vs.n, NULL, 0, flags, ex.dead && !stale_store);
    if (stale_store) { /* stored stale, with the old item's expiry and win */
        m->stale = true;
        m->win = win;
        m->win_at = win_at;
    }
    if (cas_out == 0) fail("store_meta stored and returned cas 0");
    check_cas(k, cas_out);
}

static void do_delete_meta(reader_t *r)
{
    op_name = "delete_meta";
    keysel_t ks = pick_key(r);
    uint8_t sel = rd8(r);
    shmc_delete_opts o = {.what = sel & 7u};
    expsel_t ex = pick_meta_exptime(rd8(r), false);
    o.exptime = ex.t;
    o.cas = rd64(r);
    model_item_t *m = ks.idx >= 0 ? &model[ks.idx] : NULL;
    bool use_cas = o.what & SHMC_DELETE_CAS, inval = o.what & SHMC_DELETE_INVALIDATE;
    if (use_cas && m && m->present && !m->cas_known) get_into(ks, 1, ITEM_MAX);
    op_name = "delete_meta";
    if (use_cas && m && m->present && (sel & 8)) o.cas = m->cas;
    if (trace)
        fprintf(stderr, "%zu: delete_meta key#%d what=%#x exp=%lld cas=%llu\n", op_no, ks.idx,
                o.what, (long long)o.exptime, (unsigned long long)o.cas);
    shmc_rc got = shmc_delete_meta(cache, ks.key, ks.nkey, &o);
    if (ks.idx < 0) return expect_rc(got, SHMC_BAD_KEY, ks.key, ks.nkey);
    int k = ks.idx;
    if (got == SHMC_NOT_FOUND && m->present) accept_miss(k);
    shmc_rc exp = !m->present ? SHMC_NOT_FOUND
                  : use_cas && o.cas != m->cas ? SHMC_EXISTS : SHMC_OK;
    expect_rc(got, exp, ks.key, ks.nkey);
    if (!inval || got != SHMC_OK) {
        if (got == SHMC_OK) want.delete_hits++;
        else want.delete_misses++;
    }
    if (got != SHMC_OK) return;
    if (!inval) {
        m->present = false;
        return;
    }
    /* stale, a new cas, the win ended */
    m->stale = true;
    m->win = false;
    m->cas_known = false;
    m->gen = ++store_gen;
    if ((o.what & SHMC_DELETE_TOUCH) && ex.dead) m->present = false;
}

static void do_arith_meta(reader_t *r)
{
    keysel_t ks = pick_key(r);
    uint8_t sel = rd8(r);
    bool incr = sel & 0x80;
    op_name = incr ? "arith_meta incr" : "arith_meta decr";
    shmc_arith_opts o = {.what = sel & 0xfu};
    uint64_t delta = pick_delta(r);
    expsel_t tex = pick_meta_exptime(rd8(r), false), vex = pick_meta_exptime(rd8(r), true);
    o.exptime = tex.t;
    o.vivify_exptime = vex.t;
    o.initial = pick_delta(r);
    o.cas = rd8(r) & 1 ? 0 : rd64(r);
    bool use_cas = o.what & SHMC_ARITH_CAS, touch = o.what & SHMC_ARITH_TOUCH,
         vivify = o.what & SHMC_ARITH_VIVIFY;
    model_item_t *m = ks.idx >= 0 ? &model[ks.idx] : NULL;
    if (use_cas && m && m->present && !m->cas_known) get_into(ks, 1, ITEM_MAX);
    op_name = incr ? "arith_meta incr" : "arith_meta decr";
    if (use_cas && m && m->present && (sel & 0x40)) o.cas = m->cas;
    uint64_t result = 0xdeadbeef;
    shmc_item_meta im;
    memset(&im, 0xEE, sizeof im);
    if (trace)
        fprintf(stderr, "%zu: %s key#%d delta=%llu what=%#x cas=%llu\n", op_no, op_name, ks.idx,
                (unsigned long long)delta, o.what, (unsigned long long)o.cas);
    shmc_rc got = shmc_arith_meta(cache, ks.key, ks.nkey, incr, delta, &o, &result, &im);
    if (ks.idx < 0) return expect_rc(got, SHMC_BAD_KEY, ks.key, ks.nkey);
    int k = ks.idx;
    if (m->present && (got == SHMC_NOT_FOUND || (got == SHMC_OK && im.created))) accept_miss(k);
    uint64_t v = 0;
    shmc_rc exp = !m->present ? (vivify ? SHMC_OK : SHMC_NOT_FOUND)
                  : use_cas && o.cas && o.cas != m->cas ? SHMC_EXISTS
                  : !parse_counter(m->val, m->n, &v) ? SHMC_NOT_NUMERIC : SHMC_OK;
    expect_rc(got, exp, ks.key, ks.nkey);
    bool created = got == SHMC_OK && !m->present;
    if ((got == SHMC_OK || got == SHMC_NOT_FOUND) && !created) {
        if (incr) *(got == SHMC_OK ? &want.incr_hits : &want.incr_misses) += 1;
        else *(got == SHMC_OK ? &want.decr_hits : &want.decr_misses) += 1;
    }
    if (got != SHMC_OK) return;
    if (im.created != created) fail("created %u, want %u", im.created, created);
    v = created ? o.initial : incr ? v + delta : (delta > v ? 0 : v - delta);
    if (result != v) fail("result %llu, want %llu", (unsigned long long)result, (unsigned long long)v);
    char text[260];
    size_t tn = counter_text(text, v, created ? 0 : m->n);
    if (im.nvalue != (uint64_t)tn) fail("meta nvalue %llu, want %zu", (unsigned long long)im.nvalue, tn);
    bool stale = created ? false : m->stale, win = created ? false : m->win;
    time_t win_at = m->win_at;
    model_store(k, text, tn, NULL, 0, created ? 0 : m->flags, false);
    m->stale = stale; /* a counter stays stale and keeps its win, as memcached's */
    m->win = win;
    m->win_at = win_at;
    check_cas(k, im.cas);
    bool dead = created ? (touch && !(o.what & SHMC_ARITH_VIVIFY_AFTER_TOUCH) ? tex.dead : vex.dead)
                        : touch && tex.dead;
    if (dead) m->present = false;
}

/* shmc_walk: every item the model holds, seen once, whole; nothing else */
typedef struct walk_ctx {
    bool seen[NVALID];
    size_t n, stop_after;
} walk_ctx_t;

static int walk_cb(void *ctx, const char *key, size_t nkey, const void *value, size_t nvalue,
                   const shmc_item_meta *meta)
{
    walk_ctx_t *w = ctx;
    int k = -1;
    for (int i = 0; i < NVALID && k < 0; i++)
        if (valid_nkey[i] == nkey && memcmp(valid_key[i], key, nkey) == 0) k = i;
    if (k < 0) fail("walk: a key (%zu bytes) no call stored", nkey);
    if (w->seen[k]) fail("walk: key#%d seen twice", k);
    w->seen[k] = true;
    if (meta->nvalue != nvalue) fail("walk: meta nvalue %llu, value %zu", (unsigned long long)meta->nvalue, nvalue);
    if (model[k].present) check_hit(k, value, nvalue, &meta->flags, &meta->cas);
    else fail("walk: key#%d, which the model does not hold", k);
    if (meta->stale != model[k].stale) fail("walk: key#%d stale %u, the model's %u", k, meta->stale, model[k].stale);
    return ++w->n == w->stop_after;
}

static void do_walk(reader_t *r)
{
    op_name = "walk";
    walk_ctx_t w = {.n = 0};
    uint8_t b = rd8(r);
    w.stop_after = b < 32 ? 1u + b % 4u : SIZE_MAX;
    if (trace) fprintf(stderr, "%zu: walk (stop after %zu)\n", op_no, w.stop_after);
    expect_rc(shmc_walk(cache, walk_cb, &w), SHMC_OK, "", 0);
    if (w.n == w.stop_after) return;
    for (int k = 0; k < NVALID; k++)
        if (model[k].present && !w.seen[k]) accept_miss(k);
}

/* ---- per-input frame ---- */

static void stats_counts(counts_t *c)
{
    shmc_stats_t s;
    if (shmc_stats(cache, &s) != SHMC_OK) fail("stats failed");
    *c = (counts_t){s.cmd_get, s.get_hits, s.get_misses, s.cmd_touch, s.touch_hits,
                    s.touch_misses, s.delete_hits, s.delete_misses, s.incr_hits, s.incr_misses,
                    s.decr_hits, s.decr_misses, s.cas_hits, s.cas_misses, s.cas_badval,
                    s.cmd_flush, s.cmd_set};
}

static void compare_counts(void)
{
    static const char *const names[] = {
        "cmd_get", "get_hits", "get_misses", "cmd_touch", "touch_hits", "touch_misses",
        "delete_hits", "delete_misses", "incr_hits", "incr_misses", "decr_hits", "decr_misses",
        "cas_hits", "cas_misses", "cas_badval", "cmd_flush", "cmd_set"};
    counts_t now;
    stats_counts(&now);
    const uint64_t *a = (const uint64_t *)&now, *b = (const uint64_t *)&base,
                   *w = (const uint64_t *)&want;
    op_name = "stats at the end";
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (a[i] - b[i] != w[i])
            fail("stats %s grew by %llu during this input; its calls should add %llu", names[i],
                 (unsigned long long)(a[i] - b[i]), (unsigned long long)w[i]);
}

static void check_file(void)
{
    size_t violations = 0;
    shmc_rc rc = shmc_check(cache_path, NULL, &violations);
    if (rc != SHMC_OK || violations) {
        shmc_check(cache_path, stderr, &violations);
        op_name = "shmc_check at the end";
        fail("checker: %s, %zu violations", rcname(rc), violations);
    }
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    keys_init();
    trace = getenv("FUZZ_TRACE") && *getenv("FUZZ_TRACE") == '1';
    const char *overflow = getenv("FUZZ_APPEND_OVERFLOW");
    if (overflow && !strcmp(overflow, "TOO_LARGE")) append_overflow_rc = SHMC_TOO_LARGE;
    snprintf(cache_path, sizeof cache_path, "/dev/shm/shmc-fuzz-api-%d", (int)getpid());
    unlink(cache_path);
    shmc_config cfg;
    shmc_config_init(&cfg);
    cfg.memory_limit = MEMORY_LIMIT;
    cfg.item_size_max = ITEM_MAX;
    shmc_rc rc = shmc_open(&cache, cache_path, &cfg);
    if (rc != SHMC_OK) {
        fprintf(stderr, "fuzz_api: cannot open %s: %s (%s)\n", cache_path, shmc_strerror(rc),
                shmc_last_error());
        exit(1);
    }
    atexit(cleanup);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    reader_t r = {data, size, 0};
    op_no = 0;
    op_name = "flush_all at the start";
    if (shmc_flush_all(cache, 0) != SHMC_OK) fail("flush_all(0) failed");
    model_flush();
    memset(cas_seen, 0, sizeof cas_seen);
    cas_seen_count = 0;
    memset(&want, 0, sizeof want);
    stats_counts(&base);
    evictions_at_start = stat_evictions();
    for (op_no = 1; r.i < r.n && op_no <= MAX_OPS; op_no++) {
        uint8_t b = rd8(&r);
        switch (b % 22) {
        case 0: case 1: do_store(&r, ST_SET, false); break;
        case 2: do_store(&r, ST_ADD, false); break;
        case 3: do_store(&r, ST_REPLACE, false); break;
        case 4: do_store(&r, ST_APPEND, false); break;
        case 5: do_store(&r, ST_PREPEND, false); break;
        case 6: do_store(&r, ST_CAS, true); break;
        case 7: do_store(&r, ST_CAS, false); break;
        case 8: do_get(&r, 0); break;
        case 9: do_get(&r, 1); break;
        case 10: do_get(&r, 2); break;
        case 11: do_get(&r, 3); break;
        case 12: do_mget(&r); break;
        case 13: do_delete(&r); break;
        case 14: do_arith(&r, true); break;
        case 15: do_arith(&r, false); break;
        case 16: do_touch(&r); break;
        case 17: do_flush(&r); break;
        case 18: do_stats(); break;
        case 19: do_invalid(&r); break;
        default: /* 20, 21: gets (all of them before the meta calls came) */
            switch (b / 22) {
            case 1: case 2: do_get_meta(&r); break;
            case 3: case 4: do_store_meta(&r); break;
            case 5: do_delete_meta(&r); break;
            case 6: case 7: do_arith_meta(&r); break;
            case 8: do_walk(&r); break;
            default: do_get(&r, 1); break; /* 20, 21, 218, 219, 240, 241 */
            }
            break;
        }
    }
    /* every key the model holds must still be there (or evicted) with its value */
    for (int k = 0; k < NVALID; k++) {
        if (!model[k].present) continue;
        op_no++;
        get_into((keysel_t){valid_key[k], valid_nkey[k], k}, 1, ITEM_MAX + 64);
    }
    if (trace)
        fprintf(stderr, "end of input: %llu evictions during it\n",
                (unsigned long long)(stat_evictions() - evictions_at_start));
    compare_counts();
    check_file();
    return 0;
}
