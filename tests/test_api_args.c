/* test_api_args.c — argument validation of every public call.  NULL handles, keys, buffers
 * and out-pointers are SHMC_INVALID; keys follow memcached's binary-protocol rule (1..250
 * bytes of any values: NUL, space, newline included); absurd lengths are refused without reading
 * the buffer; short buffers report the size needed; configurations are checked; strerror
 * covers every code; a value buffer changed by another thread during a set never breaks the
 * cache.  After every bad call a sentinel item must be exactly as it was. */
#include "testutil.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#if defined(__SANITIZE_THREAD__)
/* The buffer-mutation case races on purpose; the mutating thread is hidden from TSan. */
void AnnotateIgnoreWritesBegin(const char *file, int line);
void AnnotateIgnoreWritesEnd(const char *file, int line);
void AnnotateIgnoreReadsBegin(const char *file, int line);
void AnnotateIgnoreReadsEnd(const char *file, int line);
#define RACE_IGNORE_BEGIN()                                                               \
    do {                                                                                  \
        AnnotateIgnoreWritesBegin(__FILE__, __LINE__);                                    \
        AnnotateIgnoreReadsBegin(__FILE__, __LINE__);                                     \
    } while (0)
#define RACE_IGNORE_END()                                                                 \
    do {                                                                                  \
        AnnotateIgnoreReadsEnd(__FILE__, __LINE__);                                       \
        AnnotateIgnoreWritesEnd(__FILE__, __LINE__);                                      \
    } while (0)
#else
#define RACE_IGNORE_BEGIN() ((void)0)
#define RACE_IGNORE_END() ((void)0)
#endif

static shmc_t *cache;

/* ---- the sentinel: an item every bad call must leave alone ---- */

static const char SENTINEL_KEY[] = "sentinel";
static const char SENTINEL_VALUE[] = "the sentinel's value";
static const uint32_t SENTINEL_FLAGS = 0xC0FFEEu;
static uint64_t sentinel_cas;

static void sentinel_install(void)
{
    CHECK_RC(shmc_set(cache, SENTINEL_KEY, strlen(SENTINEL_KEY), SENTINEL_VALUE,
                      strlen(SENTINEL_VALUE), SENTINEL_FLAGS, 0),
             SHMC_OK);
    char buf[64];
    size_t n = 0;
    CHECK_RC(shmc_get(cache, SENTINEL_KEY, strlen(SENTINEL_KEY), buf, sizeof buf, &n, NULL,
                      &sentinel_cas),
             SHMC_OK);
}

static void sentinel_check_at(int line)
{
    char buf[64];
    size_t n = 0;
    uint32_t flags = 0;
    uint64_t cas = 0;
    shmc_rc rc =
        shmc_get(cache, SENTINEL_KEY, strlen(SENTINEL_KEY), buf, sizeof buf, &n, &flags, &cas);
    int ok = rc == SHMC_OK && n == strlen(SENTINEL_VALUE) &&
             memcmp(buf, SENTINEL_VALUE, n) == 0 && flags == SENTINEL_FLAGS &&
             cas == sentinel_cas;
    if (ok) {
        t_passed++;
    } else {
        t_failed++;
        fprintf(stderr, "FAIL %s:%d: sentinel changed (rc=%s n=%zu flags=%u cas=%llu/%llu)\n",
                __FILE__, line, shmc_strerror(rc), n, flags, (unsigned long long)cas,
                (unsigned long long)sentinel_cas);
    }
}
#define SENTINEL_UNCHANGED() sentinel_check_at(__LINE__)

static uint64_t curr_items(void)
{
    shmc_stats_t st;
    memset(&st, 0, sizeof st);
    if (shmc_stats(cache, &st) != SHMC_OK) return UINT64_MAX;
    return st.curr_items;
}

/* ---- one keyed call of each kind, so every key rule is tried on every call ---- */

enum op {
    OP_GET, OP_GAT, OP_GET_ALLOC, OP_MGET, OP_SET, OP_ADD, OP_REPLACE, OP_APPEND, OP_PREPEND,
    OP_CAS, OP_DELETE, OP_INCR, OP_DECR, OP_TOUCH, OP_COUNT
};
static const char *const op_names[OP_COUNT] = {
    "get", "gat", "get_alloc", "mget", "set", "add", "replace", "append", "prepend",
    "cas", "delete", "incr", "decr", "touch",
};

static int mget_calls;
static void count_cb(void *ctx, const char *key, size_t nkey, const void *value, size_t nvalue,
                     uint32_t flags, uint64_t cas)
{
    (void)ctx; (void)key; (void)nkey; (void)value; (void)nvalue; (void)flags; (void)cas;
    mget_calls++;
}

static shmc_rc run_op(shmc_t *c, enum op op, const char *key, size_t nkey)
{
    char buf[64];
    size_t n = 0;
    uint64_t v = 0;
    void *p = NULL;
    shmc_rc rc;
    switch (op) {
    case OP_GET: return shmc_get(c, key, nkey, buf, sizeof buf, &n, NULL, NULL);
    case OP_GAT: return shmc_gat(c, key, nkey, 0, buf, sizeof buf, &n, NULL, NULL);
    case OP_GET_ALLOC:
        rc = shmc_get_alloc(c, key, nkey, &p, &n, NULL, NULL);
        free(p);
        return rc;
    case OP_MGET: {
        const char *keys[1] = {key};
        size_t nkeys[1] = {nkey};
        return shmc_mget(c, keys, nkeys, 1, count_cb, NULL);
    }
    case OP_SET: return shmc_set(c, key, nkey, "1", 1, 0, 0);
    case OP_ADD: return shmc_add(c, key, nkey, "1", 1, 0, 0);
    case OP_REPLACE: return shmc_replace(c, key, nkey, "1", 1, 0, 0);
    case OP_APPEND: return shmc_append(c, key, nkey, "1", 1, 0, 0);
    case OP_PREPEND: return shmc_prepend(c, key, nkey, "1", 1, 0, 0);
    case OP_CAS: return shmc_cas(c, key, nkey, "1", 1, 0, 0, 1);
    case OP_DELETE: return shmc_delete(c, key, nkey);
    case OP_INCR: return shmc_incr(c, key, nkey, 1, &v);
    case OP_DECR: return shmc_decr(c, key, nkey, 1, &v);
    case OP_TOUCH: return shmc_touch(c, key, nkey, 0);
    default: return SHMC_OK;
    }
}

static void expect_every_op(shmc_t *c, const char *key, size_t nkey, shmc_rc want,
                            const char *what)
{
    for (int op = 0; op < OP_COUNT; op++) {
        shmc_rc got = run_op(c, (enum op)op, key, nkey);
        if (got == want) {
            t_passed++;
        } else {
            t_failed++;
            fprintf(stderr, "FAIL %s:%d: %s with %s -> %s, want %s\n", __FILE__, __LINE__,
                    op_names[op], what, shmc_strerror(got), shmc_strerror(want));
        }
    }
}

/* ---- the cases ---- */

static void test_null_handle(void)
{
    char buf[16];
    size_t n;
    uint64_t v;
    void *p = NULL;
    shmc_stats_t st;
    const char *keys[1] = {"k"};
    size_t nkeys[1] = {1};

    CHECK_RC(shmc_get(NULL, "k", 1, buf, sizeof buf, &n, NULL, NULL), SHMC_INVALID);
    CHECK_RC(shmc_gat(NULL, "k", 1, 0, buf, sizeof buf, &n, NULL, NULL), SHMC_INVALID);
    CHECK_RC(shmc_get_alloc(NULL, "k", 1, &p, &n, NULL, NULL), SHMC_INVALID);
    CHECK(p == NULL);
    CHECK_RC(shmc_mget(NULL, keys, nkeys, 1, count_cb, NULL), SHMC_INVALID);
    CHECK_RC(shmc_set(NULL, "k", 1, "v", 1, 0, 0), SHMC_INVALID);
    CHECK_RC(shmc_add(NULL, "k", 1, "v", 1, 0, 0), SHMC_INVALID);
    CHECK_RC(shmc_replace(NULL, "k", 1, "v", 1, 0, 0), SHMC_INVALID);
    CHECK_RC(shmc_append(NULL, "k", 1, "v", 1, 0, 0), SHMC_INVALID);
    CHECK_RC(shmc_prepend(NULL, "k", 1, "v", 1, 0, 0), SHMC_INVALID);
    CHECK_RC(shmc_cas(NULL, "k", 1, "v", 1, 0, 0, 1), SHMC_INVALID);
    CHECK_RC(shmc_delete(NULL, "k", 1), SHMC_INVALID);
    CHECK_RC(shmc_incr(NULL, "k", 1, 1, &v), SHMC_INVALID);
    CHECK_RC(shmc_decr(NULL, "k", 1, 1, &v), SHMC_INVALID);
    CHECK_RC(shmc_touch(NULL, "k", 1, 0), SHMC_INVALID);
    CHECK_RC(shmc_flush_all(NULL, 0), SHMC_INVALID);
    CHECK_RC(shmc_stats(NULL, &st), SHMC_INVALID);
    shmc_close(NULL); /* a no-op; reaching the next line is the check */
    CHECK(1);
    SENTINEL_UNCHANGED();
}

static void test_null_key(void)
{
    uint64_t before = curr_items();
    expect_every_op(cache, NULL, 3, SHMC_INVALID, "NULL key (nkey 3)");
    expect_every_op(cache, NULL, SHMC_KEY_MAX, SHMC_INVALID, "NULL key (nkey 250)");
    CHECK(curr_items() == before);
    SENTINEL_UNCHANGED();
}

static void test_null_outputs(void)
{
    const char *k = SENTINEL_KEY;
    size_t nk = strlen(SENTINEL_KEY);
    char buf[64];
    size_t n;

    /* *nvalue is required on get and gat, present key or not */
    CHECK_RC(shmc_get(cache, k, nk, buf, sizeof buf, NULL, NULL, NULL), SHMC_INVALID);
    CHECK_RC(shmc_get(cache, "absent", 6, buf, sizeof buf, NULL, NULL, NULL), SHMC_INVALID);
    CHECK_RC(shmc_gat(cache, k, nk, -1, buf, sizeof buf, NULL, NULL, NULL), SHMC_INVALID);
    CHECK_RC(shmc_gat(cache, "absent", 6, 0, buf, sizeof buf, NULL, NULL, NULL), SHMC_INVALID);
    /* buf may be NULL only when cap is 0 */
    CHECK_RC(shmc_get(cache, k, nk, NULL, 16, &n, NULL, NULL), SHMC_INVALID);
    CHECK_RC(shmc_get(cache, "absent", 6, NULL, 16, &n, NULL, NULL), SHMC_INVALID);
    CHECK_RC(shmc_gat(cache, k, nk, -1, NULL, 16, &n, NULL, NULL), SHMC_INVALID);
    /* get_alloc's value pointer is required */
    CHECK_RC(shmc_get_alloc(cache, k, nk, NULL, &n, NULL, NULL), SHMC_INVALID);
    /* stats' out */
    CHECK_RC(shmc_stats(cache, NULL), SHMC_INVALID);
    /* a gat refused for its arguments must not have touched the item (exptime -1 would
     * have expired it) */
    SENTINEL_UNCHANGED();

    /* value NULL with a non-zero length, on every storing call */
    CHECK_RC(shmc_set(cache, k, nk, NULL, 5, 0, 0), SHMC_INVALID);
    CHECK_RC(shmc_add(cache, "absent", 6, NULL, 5, 0, 0), SHMC_INVALID);
    CHECK_RC(shmc_replace(cache, k, nk, NULL, 5, 0, 0), SHMC_INVALID);
    CHECK_RC(shmc_append(cache, k, nk, NULL, 5, 0, 0), SHMC_INVALID);
    CHECK_RC(shmc_prepend(cache, k, nk, NULL, 5, 0, 0), SHMC_INVALID);
    CHECK_RC(shmc_cas(cache, k, nk, NULL, 5, 0, 0, sentinel_cas), SHMC_INVALID);
    SENTINEL_UNCHANGED();
    CHECK_RC(shmc_get(cache, "absent", 6, buf, sizeof buf, &n, NULL, NULL), SHMC_NOT_FOUND);

    /* value NULL with length 0 is an empty value */
    CHECK_RC(shmc_set(cache, "empty", 5, NULL, 0, 3, 0), SHMC_OK);
    n = 99;
    CHECK_RC(shmc_get(cache, "empty", 5, NULL, 0, &n, NULL, NULL), SHMC_OK);
    CHECK(n == 0);
    CHECK_RC(shmc_append(cache, "empty", 5, NULL, 0, 0, 0), SHMC_OK);
    CHECK_RC(shmc_delete(cache, "empty", 5), SHMC_OK);

    /* mget: keys, nkeys and cb are required when n > 0; a NULL key inside fails it all */
    const char *keys[2] = {SENTINEL_KEY, NULL};
    size_t nkeys[2] = {nk, 3};
    mget_calls = 0;
    CHECK_RC(shmc_mget(cache, NULL, nkeys, 1, count_cb, NULL), SHMC_INVALID);
    CHECK_RC(shmc_mget(cache, keys, NULL, 1, count_cb, NULL), SHMC_INVALID);
    CHECK_RC(shmc_mget(cache, keys, nkeys, 1, NULL, NULL), SHMC_INVALID);
    CHECK_RC(shmc_mget(cache, keys, nkeys, 2, count_cb, NULL), SHMC_INVALID);
    CHECK(mget_calls == 0);
    /* n == 0 is an empty multi-get */
    CHECK_RC(shmc_mget(cache, keys, nkeys, 0, count_cb, NULL), SHMC_OK);
    CHECK(mget_calls == 0);
    /* ctx may be NULL */
    CHECK_RC(shmc_mget(cache, keys, nkeys, 1, count_cb, NULL), SHMC_OK);
    CHECK(mget_calls == 1);

    /* optional outputs may be NULL */
    CHECK_RC(shmc_get(cache, k, nk, buf, sizeof buf, &n, NULL, NULL), SHMC_OK);
    CHECK_RC(shmc_set(cache, "num", 3, "5", 1, 0, 0), SHMC_OK);
    CHECK_RC(shmc_incr(cache, "num", 3, 1, NULL), SHMC_OK);
    CHECK_RC(shmc_decr(cache, "num", 3, 2, NULL), SHMC_OK);
    CHECK_RC(shmc_get(cache, "num", 3, buf, sizeof buf, &n, NULL, NULL), SHMC_OK);
    CHECK(n == 1 && buf[0] == '4');
    void *p = NULL;
    CHECK_RC(shmc_get_alloc(cache, "num", 3, &p, NULL, NULL, NULL), SHMC_OK);
    CHECK(p != NULL && strcmp(p, "4") == 0);
    free(p);
    CHECK_RC(shmc_delete(cache, "num", 3), SHMC_OK);
    SENTINEL_UNCHANGED();
}

static void test_open_args(void)
{
    shmc_t *c2 = (shmc_t *)&c2; /* a non-NULL junk value the call must not trust */
    CHECK_RC(shmc_open(NULL, t_path("never"), NULL), SHMC_INVALID);
    CHECK(access(t_path("never"), F_OK) != 0);
    CHECK_RC(shmc_open(&c2, NULL, NULL), SHMC_INVALID);
    CHECK(shmc_last_error() != NULL && shmc_last_error()[0] != '\0');

    /* an empty name is no cache */
    c2 = NULL;
    shmc_rc rc = shmc_open(&c2, "", NULL);
    CHECK(rc != SHMC_OK);
    if (rc == SHMC_OK) shmc_close(c2);

    /* a path longer than PATH_MAX */
    size_t len = PATH_MAX + 100;
    char *longp = malloc(len + 1);
    memset(longp, 'p', len);
    longp[0] = '/';
    longp[len] = '\0';
    c2 = NULL;
    rc = shmc_open(&c2, longp, NULL);
    CHECK(rc == SHMC_INVALID || rc == SHMC_SYSTEM);
    CHECK(shmc_last_error()[0] != '\0');
    if (rc == SHMC_OK) shmc_close(c2);
    free(longp);

    /* a plain name lives in $SHMC_DIR */
    const char *old = getenv("SHMC_DIR");
    char *saved = old ? strdup(old) : NULL;
    setenv("SHMC_DIR", t_dir, 1);
    shmc_config cfg;
    shmc_config_init(&cfg);
    cfg.memory_limit = 2u << 20;
    cfg.item_size_max = 64u << 10;
    c2 = NULL;
    CHECK_RC(shmc_open(&c2, "plain-name", &cfg), SHMC_OK);
    CHECK(access(t_path("plain-name"), F_OK) == 0);
    if (c2) {
        CHECK_RC(shmc_set(c2, "k", 1, "v", 1, 0, 0), SHMC_OK);
        shmc_close(c2);
    }
    setenv("SHMC_DIR", t_path("no-such-dir"), 1);
    c2 = NULL;
    errno = 0;
    CHECK_RC(shmc_open(&c2, "plain-name", &cfg), SHMC_SYSTEM);
    CHECK(errno == ENOENT);
    if (saved) {
        setenv("SHMC_DIR", saved, 1);
        free(saved);
    } else {
        unsetenv("SHMC_DIR");
    }
    t_check_file(t_path("plain-name"));
}

static void test_bad_keys(void)
{
    uint64_t before = curr_items();
    char k[1100];

    expect_every_op(cache, "abc", 0, SHMC_BAD_KEY, "an empty key");
    memset(k, 'k', sizeof k);
    expect_every_op(cache, k, SHMC_KEY_MAX + 1, SHMC_BAD_KEY, "a 251-byte key");
    expect_every_op(cache, k, 1000, SHMC_BAD_KEY, "a 1000-byte key");

    /* lengths near SIZE_MAX: refused on length alone, the 4-byte buffer is never read past */
    static const char tiny[4] = {'a', 'b', 'c', 'd'};
    expect_every_op(cache, tiny, SIZE_MAX, SHMC_BAD_KEY, "nkey SIZE_MAX");
    expect_every_op(cache, tiny, SIZE_MAX - 1, SHMC_BAD_KEY, "nkey SIZE_MAX-1");
    expect_every_op(cache, tiny, SIZE_MAX / 2 + 1, SHMC_BAD_KEY, "nkey SIZE_MAX/2+1");
    expect_every_op(cache, tiny, (size_t)UINT32_MAX + 1, SHMC_BAD_KEY, "nkey 2^32");
    expect_every_op(cache, tiny, (size_t)UINT32_MAX + 3, SHMC_BAD_KEY, "nkey 2^32+3");

    CHECK(curr_items() == before);
    SENTINEL_UNCHANGED();
}

static void test_good_keys(void)
{
    char k[256], buf[64];
    size_t n;

    /* exactly 250 bytes works on every call, and is distinct from its 249-byte prefix */
    memset(k, 'K', sizeof k);
    CHECK_RC(shmc_set(cache, k, SHMC_KEY_MAX, "250", 3, 1, 0), SHMC_OK);
    CHECK_RC(shmc_set(cache, k, SHMC_KEY_MAX - 1, "249", 3, 2, 0), SHMC_OK);
    uint32_t flags = 0;
    CHECK_RC(shmc_get(cache, k, SHMC_KEY_MAX, buf, sizeof buf, &n, &flags, NULL), SHMC_OK);
    CHECK(n == 3 && memcmp(buf, "250", 3) == 0 && flags == 1);
    CHECK_RC(shmc_get(cache, k, SHMC_KEY_MAX - 1, buf, sizeof buf, &n, &flags, NULL), SHMC_OK);
    CHECK(n == 3 && memcmp(buf, "249", 3) == 0 && flags == 2);
    for (int op = 0; op < OP_COUNT; op++) {
        shmc_rc rc = run_op(cache, (enum op)op, k, SHMC_KEY_MAX);
        if (rc == SHMC_BAD_KEY || rc == SHMC_INVALID) {
            t_failed++;
            fprintf(stderr, "FAIL %s:%d: %s refused a 250-byte key: %s\n", __FILE__, __LINE__,
                    op_names[op], shmc_strerror(rc));
        } else {
            t_passed++;
        }
    }

    /* one-byte keys, high-bit bytes, and every allowed byte at once */
    CHECK_RC(shmc_set(cache, "x", 1, "one", 3, 0, 0), SHMC_OK);
    CHECK_RC(shmc_get(cache, "x", 1, buf, sizeof buf, &n, NULL, NULL), SHMC_OK);
    CHECK(n == 3 && memcmp(buf, "one", 3) == 0);

    static const char high[] = "\x80\xff\xc3\xa9t\xe2\x82\xac";
    CHECK_RC(shmc_set(cache, high, sizeof high - 1, "hi", 2, 0, 0), SHMC_OK);
    CHECK_RC(shmc_get(cache, high, sizeof high - 1, buf, sizeof buf, &n, NULL, NULL), SHMC_OK);
    CHECK(n == 2 && memcmp(buf, "hi", 2) == 0);
    /* "\xf8" differs from "x" (0x78) only in its high bit: another key */
    CHECK_RC(shmc_get(cache, "\xf8", 1, buf, sizeof buf, &n, NULL, NULL), SHMC_NOT_FOUND);
    CHECK_RC(shmc_set(cache, "\xf8", 1, "F8", 2, 0, 0), SHMC_OK);
    CHECK_RC(shmc_get(cache, "x", 1, buf, sizeof buf, &n, NULL, NULL), SHMC_OK);
    CHECK(n == 3 && memcmp(buf, "one", 3) == 0);

    /* as memcached's binary protocol: every byte value is a key byte (NUL, newline, space,
     * TAB, CR, DEL included); all 256 of them, in two keys of 128 */
    for (int half = 0; half < 2; half++) {
        size_t nall = 0;
        for (int b = half ? 0x80 : 0x00; b <= (half ? 0xff : 0x7f); b++) k[nall++] = (char)b;
        CHECK(nall == 128u);
        CHECK_RC(shmc_set(cache, k, nall, "all", 3, 0, 0), SHMC_OK);
        CHECK_RC(shmc_get(cache, k, nall, buf, sizeof buf, &n, NULL, NULL), SHMC_OK);
        CHECK(n == 3 && memcmp(buf, "all", 3) == 0);
        CHECK_RC(shmc_delete(cache, k, nall), SHMC_OK);
    }

    /* keys the text protocol cannot carry work on every call, and each is its own item:
     * "a\0b" is neither "a" nor "a\0c", "ab\0" is not "ab" */
    static const struct {
        const char *key;
        size_t nkey;
        const char *what;
    } odd[] = {
        {"a b", 3, "a space"},       {" ab", 3, "a leading space"},
        {"ab ", 3, "a trailing space"}, {"a\nb", 3, "a newline"},
        {"a\0b", 3, "a NUL"},        {"ab\0", 3, "a trailing NUL"},
        {"\r\n", 2, "only CRLF"},     {" ", 1, "only a space"},
        {"\0", 1, "only a NUL"},     {"\n", 1, "only a newline"},
        {"a\0c", 3, "another NUL key"}, {"a", 1, "the prefix before a NUL"},
        {"ab", 2, "the key before a trailing NUL"},
    };
    size_t nodd = sizeof odd / sizeof odd[0];
    for (size_t i = 0; i < nodd; i++) {
        for (int op = 0; op < OP_COUNT; op++) {
            shmc_rc rc = run_op(cache, (enum op)op, odd[i].key, odd[i].nkey);
            if (rc == SHMC_BAD_KEY || rc == SHMC_INVALID) {
                t_failed++;
                fprintf(stderr, "FAIL %s:%d: %s refused %s: %s\n", __FILE__, __LINE__,
                        op_names[op], odd[i].what, shmc_strerror(rc));
            } else {
                t_passed++;
            }
        }
    }
    for (size_t i = 0; i < nodd; i++) /* value i under key i */
        CHECK_RC(shmc_set(cache, odd[i].key, odd[i].nkey, &i, sizeof i, (uint32_t)i, 0), SHMC_OK);
    for (size_t i = 0; i < nodd; i++) {
        size_t got = SIZE_MAX;
        uint32_t fl = 0;
        CHECK_RC(shmc_get(cache, odd[i].key, odd[i].nkey, &got, sizeof got, &n, &fl, NULL), SHMC_OK);
        CHECK(n == sizeof got && got == i && fl == i);
    }
    for (size_t i = 0; i < nodd; i++) {
        CHECK_RC(shmc_delete(cache, odd[i].key, odd[i].nkey), SHMC_OK);
        CHECK_RC(shmc_get(cache, odd[i].key, odd[i].nkey, buf, sizeof buf, &n, NULL, NULL),
                 SHMC_NOT_FOUND);
    }
    CHECK_RC(shmc_set(cache, "a\tb\x7f", 4, "tab", 3, 0, 0), SHMC_OK);
    CHECK_RC(shmc_get(cache, "a\tb", 3, buf, sizeof buf, &n, NULL, NULL), SHMC_NOT_FOUND);
    CHECK_RC(shmc_get(cache, "a\tb\x7f", 4, buf, sizeof buf, &n, NULL, NULL), SHMC_OK);
    CHECK(n == 3 && memcmp(buf, "tab", 3) == 0);
    CHECK_RC(shmc_delete(cache, "a\tb\x7f", 4), SHMC_OK);
    CHECK_RC(shmc_delete(cache, high, sizeof high - 1), SHMC_OK);
    CHECK_RC(shmc_delete(cache, "\xf8", 1), SHMC_OK);
    SENTINEL_UNCHANGED();
}

static void test_huge_values(void)
{
    static const char one[1] = {'z'};
    static const size_t huge[] = {SIZE_MAX, SIZE_MAX - 1, SIZE_MAX / 2 + 1,
                                  (size_t)UINT32_MAX + 1, (size_t)UINT32_MAX};
    const char *k = "big";
    for (size_t i = 0; i < sizeof huge / sizeof huge[0]; i++) {
        size_t nv = huge[i];
        /* a set that is too large removes the old value (memcached does) */
        CHECK_RC(shmc_set(cache, k, 3, "old", 3, 0, 0), SHMC_OK);
        CHECK_RC(shmc_set(cache, k, 3, one, nv, 0, 0), SHMC_TOO_LARGE);
        char buf[8];
        size_t n;
        CHECK_RC(shmc_get(cache, k, 3, buf, sizeof buf, &n, NULL, NULL), SHMC_NOT_FOUND);

        CHECK_RC(shmc_add(cache, k, 3, one, nv, 0, 0), SHMC_TOO_LARGE);
        CHECK_RC(shmc_set(cache, k, 3, "old", 3, 0, 0), SHMC_OK);
        uint64_t cas = 0;
        CHECK_RC(shmc_get(cache, k, 3, buf, sizeof buf, &n, NULL, &cas), SHMC_OK);
        CHECK_RC(shmc_replace(cache, k, 3, one, nv, 0, 0), SHMC_TOO_LARGE);
        CHECK_RC(shmc_append(cache, k, 3, one, nv, 0, 0), SHMC_TOO_LARGE);
        CHECK_RC(shmc_prepend(cache, k, 3, one, nv, 0, 0), SHMC_TOO_LARGE);
        CHECK_RC(shmc_cas(cache, k, 3, one, nv, 0, 0, cas), SHMC_TOO_LARGE);
        /* a value too large for the cache via replace/append/prepend/cas leaves it alone */
        uint64_t cas2 = 0;
        CHECK_RC(shmc_get(cache, k, 3, buf, sizeof buf, &n, NULL, &cas2), SHMC_OK);
        CHECK(n == 3 && memcmp(buf, "old", 3) == 0 && cas2 == cas);
    }
    CHECK_RC(shmc_delete(cache, k, 3), SHMC_OK);
    SENTINEL_UNCHANGED();
}

static void test_buffer_sizes(void)
{
    char value[100];
    for (int i = 0; i < 100; i++) value[i] = (char)('A' + i % 26);
    CHECK_RC(shmc_set(cache, "v100", 4, value, sizeof value, 7, 0), SHMC_OK);

    /* one byte short: only *nvalue is written */
    char buf[128];
    memset(buf, 0x5a, sizeof buf);
    size_t n = 0;
    uint32_t flags = 0xdeadbeef;
    uint64_t cas = 12345;
    CHECK_RC(shmc_get(cache, "v100", 4, buf, 99, &n, &flags, &cas), SHMC_BUFFER_TOO_SMALL);
    CHECK(n == 100);
    int untouched = 1;
    for (size_t i = 0; i < sizeof buf; i++)
        if ((unsigned char)buf[i] != 0x5a) untouched = 0;
    CHECK(untouched);
    CHECK(flags == 0xdeadbeef && cas == 12345);

    n = 0;
    CHECK_RC(shmc_gat(cache, "v100", 4, 0, buf, 1, &n, &flags, &cas), SHMC_BUFFER_TOO_SMALL);
    CHECK(n == 100);
    CHECK((unsigned char)buf[0] == 0x5a);

    /* cap 0 with buf NULL asks for the size */
    n = 0;
    CHECK_RC(shmc_get(cache, "v100", 4, NULL, 0, &n, NULL, NULL), SHMC_BUFFER_TOO_SMALL);
    CHECK(n == 100);
    n = 0;
    CHECK_RC(shmc_gat(cache, "v100", 4, 0, NULL, 0, &n, NULL, NULL), SHMC_BUFFER_TOO_SMALL);
    CHECK(n == 100);

    /* then the size it named works, exactly */
    char *exact = malloc(n);
    size_t n2 = 0;
    CHECK_RC(shmc_get(cache, "v100", 4, exact, n, &n2, &flags, &cas), SHMC_OK);
    CHECK(n2 == 100 && memcmp(exact, value, 100) == 0 && flags == 7 && cas != 12345);
    free(exact);
    CHECK_RC(shmc_get(cache, "v100", 4, buf, sizeof buf, &n2, NULL, NULL), SHMC_OK);
    CHECK(n2 == 100 && memcmp(buf, value, 100) == 0 && (unsigned char)buf[100] == 0x5a);

    /* an empty value fits a zero-capacity NULL buffer */
    CHECK_RC(shmc_set(cache, "void", 4, "", 0, 9, 0), SHMC_OK);
    n = 77;
    flags = 0;
    CHECK_RC(shmc_get(cache, "void", 4, NULL, 0, &n, &flags, NULL), SHMC_OK);
    CHECK(n == 0 && flags == 9);
    /* a miss is a miss whatever the buffer */
    CHECK_RC(shmc_get(cache, "nothing", 7, NULL, 0, &n, NULL, NULL), SHMC_NOT_FOUND);
    CHECK_RC(shmc_delete(cache, "void", 4), SHMC_OK);
    CHECK_RC(shmc_delete(cache, "v100", 4), SHMC_OK);
    SENTINEL_UNCHANGED();
}

static void test_get_alloc(void)
{
    void *p = NULL;
    size_t n = 0;
    uint32_t flags = 0;
    uint64_t cas = 0, cas_get = 0;

    CHECK_RC(shmc_set(cache, "ga", 2, "hello", 5, 11, 0), SHMC_OK);
    CHECK_RC(shmc_get_alloc(cache, "ga", 2, &p, &n, &flags, &cas), SHMC_OK);
    CHECK(p != NULL && n == 5 && memcmp(p, "hello", 5) == 0 && ((char *)p)[5] == '\0');
    CHECK(flags == 11);
    char buf[8];
    size_t n2;
    CHECK_RC(shmc_get(cache, "ga", 2, buf, sizeof buf, &n2, NULL, &cas_get), SHMC_OK);
    CHECK(cas == cas_get && cas != 0);
    free(p);

    /* binary: the terminator follows the whole value, NULs inside are kept */
    static const char bin[] = {'a', '\0', 'b', '\r', '\n', '\0'};
    CHECK_RC(shmc_set(cache, "ga", 2, bin, sizeof bin, 0, 0), SHMC_OK);
    p = NULL;
    CHECK_RC(shmc_get_alloc(cache, "ga", 2, &p, &n, NULL, NULL), SHMC_OK);
    CHECK(p != NULL && n == sizeof bin && memcmp(p, bin, sizeof bin) == 0 &&
          ((char *)p)[sizeof bin] == '\0');
    free(p);

    /* empty: still a buffer, holding just the terminator */
    CHECK_RC(shmc_set(cache, "ga", 2, "", 0, 0, 0), SHMC_OK);
    p = NULL;
    n = 99;
    CHECK_RC(shmc_get_alloc(cache, "ga", 2, &p, &n, NULL, NULL), SHMC_OK);
    CHECK(p != NULL && n == 0 && ((char *)p)[0] == '\0');
    free(p);

    CHECK_RC(shmc_delete(cache, "ga", 2), SHMC_OK);
    p = NULL;
    CHECK_RC(shmc_get_alloc(cache, "ga", 2, &p, &n, NULL, NULL), SHMC_NOT_FOUND);
    CHECK(p == NULL); /* nothing to free on a miss */
    SENTINEL_UNCHANGED();
}

static void test_strerror(void)
{
    const char *msgs[SHMC_RC_COUNT];
    for (int i = 0; i < SHMC_RC_COUNT; i++) {
        msgs[i] = shmc_strerror((shmc_rc)i);
        CHECK(msgs[i] != NULL && msgs[i][0] != '\0');
    }
    int distinct = 1;
    for (int i = 0; i < SHMC_RC_COUNT; i++)
        for (int j = i + 1; j < SHMC_RC_COUNT; j++)
            if (msgs[i] && msgs[j] && strcmp(msgs[i], msgs[j]) == 0) {
                distinct = 0;
                fprintf(stderr, "rc %d and %d share \"%s\"\n", i, j, msgs[i]);
            }
    CHECK(distinct);
    static const int out_of_range[] = {SHMC_RC_COUNT, SHMC_RC_COUNT + 1, 99, -1, INT_MAX,
                                       INT_MIN};
    for (size_t i = 0; i < sizeof out_of_range / sizeof out_of_range[0]; i++) {
        const char *m = shmc_strerror((shmc_rc)out_of_range[i]);
        CHECK(m != NULL && m[0] != '\0');
    }
}

static int cpu_has_pku(void)
{
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f) return 0;
    char line[8192];
    int pku = 0, ospke = 0;
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, "flags", 5) != 0) continue;
        pku = strstr(line, " pku") != NULL;
        ospke = strstr(line, " ospke") != NULL;
        break;
    }
    fclose(f);
    return pku && ospke;
}

static void expect_open_refused(const shmc_config *cfg, const char *name, shmc_rc want,
                                const char *what)
{
    shmc_t *c2 = NULL;
    shmc_rc rc = shmc_open(&c2, t_path(name), cfg);
    if (rc == want) {
        t_passed++;
    } else {
        t_failed++;
        fprintf(stderr, "FAIL %s:%d: open with %s -> %s, want %s\n", __FILE__, __LINE__, what,
                shmc_strerror(rc), shmc_strerror(want));
    }
    CHECK(shmc_last_error()[0] != '\0');
    /* a refused configuration creates nothing */
    CHECK(access(t_path(name), F_OK) != 0);
    if (rc == SHMC_OK) shmc_close(c2);
}

static void test_config(void)
{
    shmc_config cfg;
    memset(&cfg, 0xff, sizeof cfg);
    shmc_config_init(&cfg);
    CHECK(cfg.memory_limit == (size_t)64 << 20);
    CHECK(cfg.item_size_max == (size_t)1 << 20);
    CHECK(cfg.mode == 0600);
    CHECK(cfg.protect == SHMC_PROTECT_AUTO);
    CHECK(cfg.hash_power == 0);
    int zero = 1;
    for (size_t i = 0; i < sizeof cfg.reserved / sizeof cfg.reserved[0]; i++)
        if (cfg.reserved[i] != 0) zero = 0;
    CHECK(zero);

    /* the defaults create a cache with the documented limits */
    shmc_t *c2 = NULL;
    CHECK_RC(shmc_open(&c2, t_path("defaults"), &cfg), SHMC_OK);
    shmc_stats_t st;
    memset(&st, 0, sizeof st);
    if (c2) {
        CHECK_RC(shmc_stats(c2, &st), SHMC_OK);
        CHECK(st.limit_maxbytes == (uint64_t)64 << 20);
        CHECK(st.item_size_max == (uint64_t)1 << 20);
        shmc_close(c2);
    }
    struct stat sb;
    CHECK(stat(t_path("defaults"), &sb) == 0 && (sb.st_mode & 0777) == 0600);
    t_check_file(t_path("defaults"));
    unlink(t_path("defaults"));

    /* zero sizes in an explicit config at creation mean the defaults */
    shmc_config z;
    memset(&z, 0, sizeof z);
    c2 = NULL;
    CHECK_RC(shmc_open(&c2, t_path("zeros"), &z), SHMC_OK);
    if (c2) {
        memset(&st, 0, sizeof st);
        CHECK_RC(shmc_stats(c2, &st), SHMC_OK);
        CHECK(st.limit_maxbytes == (uint64_t)64 << 20);
        CHECK(st.item_size_max == (uint64_t)1 << 20);
        shmc_close(c2);
    }
    t_check_file(t_path("zeros"));
    unlink(t_path("zeros"));

    /* the mode is used at creation */
    shmc_config_init(&cfg);
    cfg.memory_limit = 2u << 20;
    cfg.item_size_max = 64u << 10;
    cfg.mode = 0640;
    c2 = NULL;
    CHECK_RC(shmc_open(&c2, t_path("mode"), &cfg), SHMC_OK);
    shmc_close(c2);
    CHECK(stat(t_path("mode"), &sb) == 0 && (sb.st_mode & 0777) == 0640);
    t_check_file(t_path("mode"));

    /* memcached's rule: the item size limit is at most half the memory limit (the sizes it
     * accepts are test_sizes') */
    shmc_config_init(&cfg);
    cfg.item_size_max = 1u << 20;
    cfg.memory_limit = 1u << 20;
    expect_open_refused(&cfg, "small-mem", SHMC_INVALID, "memory_limit == item_size_max");
    cfg.memory_limit = (2u << 20) - 8;
    expect_open_refused(&cfg, "small-mem", SHMC_INVALID, "memory_limit just under 2x item_size_max");
    cfg.memory_limit = 100;
    cfg.item_size_max = 64u << 10;
    expect_open_refused(&cfg, "small-mem", SHMC_INVALID, "memory_limit 100 bytes");
    cfg.memory_limit = 64u << 10;
    cfg.item_size_max = 1u << 20;
    expect_open_refused(&cfg, "small-mem", SHMC_INVALID, "item_size_max > memory_limit");
    /* item_size_max 0 at creation is the 1 MiB default: more than half of 1 MiB */
    cfg.memory_limit = 1u << 20;
    cfg.item_size_max = 0;
    expect_open_refused(&cfg, "small-mem", SHMC_INVALID, "1 MiB and the default item size");
    /* absurd sizes */
    cfg.memory_limit = 64u << 20;
    cfg.item_size_max = SIZE_MAX;
    expect_open_refused(&cfg, "absurd", SHMC_INVALID, "item_size_max SIZE_MAX");
    cfg.item_size_max = 1;
    expect_open_refused(&cfg, "absurd", SHMC_INVALID, "item_size_max 1");
    cfg.item_size_max = 0;
    cfg.memory_limit = SIZE_MAX;
    {
        shmc_t *c3 = NULL;
        shmc_rc rc = shmc_open(&c3, t_path("absurd"), &cfg);
        CHECK(rc == SHMC_INVALID || rc == SHMC_SYSTEM);
        CHECK(access(t_path("absurd"), F_OK) != 0);
        if (rc == SHMC_OK) shmc_close(c3);
    }
    /* a protect mode that does not exist, a hash table of 2^64 buckets */
    shmc_config_init(&cfg);
    cfg.memory_limit = 2u << 20;
    cfg.item_size_max = 64u << 10;
    cfg.protect = SHMC_PROTECT_SEALED + 1;
    expect_open_refused(&cfg, "bad-protect", SHMC_INVALID, "protect beyond the enum");
    cfg.protect = -1;
    expect_open_refused(&cfg, "bad-protect", SHMC_INVALID, "protect -1");
    cfg.protect = SHMC_PROTECT_NONE;
    cfg.hash_power = 64;
    expect_open_refused(&cfg, "bad-hash", SHMC_INVALID, "hash_power 64");
    cfg.hash_power = 1000;
    expect_open_refused(&cfg, "bad-hash", SHMC_INVALID, "hash_power 1000");

    /* protection: NONE says unprotected; PKU needs the CPU's and kernel's support */
    cfg.hash_power = 0;
    cfg.protect = SHMC_PROTECT_NONE;
    c2 = NULL;
    CHECK_RC(shmc_open(&c2, t_path("prot"), &cfg), SHMC_OK);
    if (c2) {
        memset(&st, 0xff, sizeof st);
        CHECK_RC(shmc_stats(c2, &st), SHMC_OK);
        CHECK(st.protected_mode == 0);
        shmc_close(c2);
    }
    t_check_file(t_path("prot"));
    cfg.protect = SHMC_PROTECT_PKU;
    c2 = NULL;
    shmc_rc rc = shmc_open(&c2, t_path("prot"), &cfg);
    if (cpu_has_pku()) {
        CHECK_RC(rc, SHMC_OK);
        if (c2) {
            CHECK_RC(shmc_stats(c2, &st), SHMC_OK);
            CHECK(st.protected_mode == 1);
        }
    } else {
        printf("note: this CPU has no PKU; SHMC_PROTECT_PKU must be refused\n");
        CHECK_RC(rc, SHMC_UNSUPPORTED);
        CHECK(shmc_last_error()[0] != '\0');
    }
    if (rc == SHMC_OK) shmc_close(c2);
    if (!cpu_has_pku()) { /* sealed needs PKU too */
        cfg.protect = SHMC_PROTECT_SEALED;
        expect_open_refused(&cfg, "sealed", SHMC_UNSUPPORTED, "protect sealed without PKU");
    }
}

/* ---- a value buffer rewritten by another thread while it is being stored ---- */

#define MUTATE_SIZE (256u * 1024u)
static unsigned char *mutate_buf;
static atomic_int mutate_stop;

static void *mutator(void *arg)
{
    (void)arg;
    RACE_IGNORE_BEGIN();
    unsigned char v = 'b';
    while (!atomic_load_explicit(&mutate_stop, memory_order_relaxed)) {
        /* byte by byte through a volatile pointer, so every state is a mix of a and b */
        volatile unsigned char *p = mutate_buf;
        for (size_t i = 0; i < MUTATE_SIZE; i += 61) p[i] = v;
        memset(mutate_buf, v, MUTATE_SIZE);
        v = v == 'a' ? 'b' : 'a';
    }
    RACE_IGNORE_END();
    return NULL;
}

static void test_value_mutated_during_set(void)
{
    mutate_buf = malloc(MUTATE_SIZE);
    memset(mutate_buf, 'a', MUTATE_SIZE);
    unsigned char *out = malloc(MUTATE_SIZE);
    atomic_store(&mutate_stop, 0);
    pthread_t th;
    CHECK(pthread_create(&th, NULL, mutator, NULL) == 0);

    int bad_len = 0, bad_byte = 0, bad_rc = 0;
    for (int round = 0; round < 60; round++) {
        shmc_rc rc = shmc_set(cache, "mutated", 7, mutate_buf, MUTATE_SIZE, (uint32_t)round, 0);
        if (rc != SHMC_OK) {
            bad_rc++;
            continue;
        }
        size_t n = 0;
        uint32_t flags = 0;
        rc = shmc_get(cache, "mutated", 7, out, MUTATE_SIZE, &n, &flags, NULL);
        if (rc != SHMC_OK || n != MUTATE_SIZE || flags != (uint32_t)round) {
            bad_len++;
            continue;
        }
        for (size_t i = 0; i < n; i++)
            if (out[i] != 'a' && out[i] != 'b') {
                bad_byte++;
                break;
            }
        /* append reads the caller's buffer too */
        rc = shmc_append(cache, "mutated", 7, mutate_buf, 1000, 0, 0);
        if (rc != SHMC_OK) bad_rc++;
    }
    atomic_store(&mutate_stop, 1);
    pthread_join(th, NULL);
    CHECK(bad_rc == 0);
    CHECK(bad_len == 0);
    CHECK(bad_byte == 0);

    size_t n = 0;
    CHECK_RC(shmc_get(cache, "mutated", 7, out, MUTATE_SIZE, &n, NULL, NULL),
             SHMC_BUFFER_TOO_SMALL);
    CHECK(n == MUTATE_SIZE + 1000);
    CHECK_RC(shmc_delete(cache, "mutated", 7), SHMC_OK);
    free(out);
    free(mutate_buf);
    SENTINEL_UNCHANGED();
}

int main(void)
{
    t_setup("api_args");
    CHECK_RC(shmc_open(&cache, t_path("main"), NULL), SHMC_OK);
    if (!cache) return t_finish();
    sentinel_install();

    test_null_handle();
    test_null_key();
    test_null_outputs();
    test_bad_keys();
    test_good_keys();
    test_huge_values();
    test_buffer_sizes();
    test_get_alloc();
    test_strerror();
    test_value_mutated_during_set();
    SENTINEL_UNCHANGED();
    shmc_close(cache);

    test_open_args();
    test_config();
    t_check_file(t_path("main"));
    return t_finish();
}
