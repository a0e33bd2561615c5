/* test_meta.c — item metadata, invalidation and win tokens (shmc_get_meta, shmc_store_meta,
 * shmc_delete_meta, shmc_arith_meta): each option alone and the stampede sequence, the
 * single winner across processes, and a dead winner's win retaken after its bound. */
#include "testutil.h"

#include <signal.h>
#include <sys/wait.h>

#include "api/handle.h"
#include "store/index.h"
#include "store/item.h"

static shmc_t *c;
static bool white_box; /* items may be aged by hand: not when protection keys guard them */

#define K(s) s, strlen(s)

static shmc_rc meta_get(const char *key, const shmc_get_opts *o, shmc_item_meta *m)
{
    char buf[256];
    size_t n = 0;
    memset(m, 0xEE, sizeof *m);
    return shmc_get_meta(c, key, strlen(key), o, buf, sizeof buf, &n, m);
}

/* The item of key in the file (white box: to age its clocks); NULL under protection keys. */
static item_t *item_of(const char *key)
{
    if (!white_box) return NULL;
    const region_t *r = &handle_resolve(c)->r;
    uint64_t h = hash_key((const unsigned char *)key, strlen(key), r->hash_seed);
    char buf[256];
    item_view_t v;
    index_read(r, (const unsigned char *)key, (uint32_t)strlen(key), h, buf, sizeof buf, &v);
    return v.unit ? item_at(r, v.unit) : NULL;
}

static void test_store_cas(void)
{
    uint64_t cas = 0, got = 0;
    char buf[16];
    size_t n;
    CHECK_RC(shmc_store_meta(c, SHMC_MODE_SET, K("s"), "v1", 2, 5, 0, NULL, &cas), SHMC_OK);
    CHECK_RC(shmc_get(c, K("s"), buf, sizeof buf, &n, NULL, &got), SHMC_OK);
    CHECK(cas != 0 && cas == got);
    /* every mode returns the cas it linked */
    CHECK_RC(shmc_store_meta(c, SHMC_MODE_APPEND, K("s"), "+", 1, 0, 0, NULL, &cas), SHMC_OK);
    CHECK_RC(shmc_get(c, K("s"), buf, sizeof buf, &n, NULL, &got), SHMC_OK);
    CHECK(cas == got && n == 3 && memcmp(buf, "v1+", 3) == 0);
    /* append/prepend with a cas: compared */
    shmc_store_opts o = {.what = SHMC_STORE_CAS, .cas = got + 1000};
    CHECK_RC(shmc_store_meta(c, SHMC_MODE_APPEND, K("s"), "x", 1, 0, 0, &o, NULL), SHMC_EXISTS);
    o.cas = got;
    CHECK_RC(shmc_store_meta(c, SHMC_MODE_PREPEND, K("s"), "<", 1, 0, 0, &o, &cas), SHMC_OK);
    CHECK_RC(shmc_get(c, K("s"), buf, sizeof buf, &n, NULL, &got), SHMC_OK);
    CHECK(cas == got && n == 4 && memcmp(buf, "<v1+", 4) == 0);
    CHECK_RC(shmc_store_meta(c, SHMC_MODE_APPEND, K("nope"), "x", 1, 0, 0, &o, NULL), SHMC_NOT_STORED);
    /* set with a cas is memcached's cas; add ignores it */
    o.cas = got + 1;
    CHECK_RC(shmc_store_meta(c, SHMC_MODE_SET, K("s"), "z", 1, 0, 0, &o, NULL), SHMC_EXISTS);
    CHECK_RC(shmc_store_meta(c, SHMC_MODE_REPLACE, K("nope"), "z", 1, 0, 0, &o, NULL), SHMC_NOT_FOUND);
    CHECK_RC(shmc_store_meta(c, SHMC_MODE_ADD, K("a"), "z", 1, 0, 0, &o, &cas), SHMC_OK);
    CHECK_RC(shmc_store_meta(c, SHMC_MODE_ADD, K("a"), "z", 1, 0, 0, &o, NULL), SHMC_NOT_STORED);
    /* bad arguments */
    CHECK_RC(shmc_store_meta(c, 99, K("s"), "z", 1, 0, 0, NULL, NULL), SHMC_INVALID);
    shmc_store_opts bad = {.what = 0x100};
    CHECK_RC(shmc_store_meta(c, SHMC_MODE_SET, K("s"), "z", 1, 0, 0, &bad, NULL), SHMC_INVALID);
    CHECK_RC(shmc_store_meta(c, SHMC_MODE_SET, "", 0, "z", 1, 0, 0, NULL, NULL), SHMC_BAD_KEY);
    static const char k251[251] = {0};
    CHECK_RC(shmc_store_meta(c, SHMC_MODE_SET, k251, sizeof k251, "z", 1, 0, 0, NULL, NULL), SHMC_BAD_KEY);
    /* any byte values are a key (memcached's binary protocol): a space is one */
    CHECK_RC(shmc_store_meta(c, SHMC_MODE_SET, K("odd key"), "z", 1, 0, 0, NULL, NULL), SHMC_OK);
}

static void test_fetch_meta(void)
{
    shmc_item_meta m;
    CHECK_RC(meta_get("none", NULL, &m), SHMC_NOT_FOUND);
    CHECK_RC(shmc_set(c, K("f"), "hello", 5, 7, 100), SHMC_OK);
    /* a peek: not fetched, and it stays so */
    shmc_get_opts peek = {.what = SHMC_GET_NO_BUMP};
    CHECK_RC(meta_get("f", &peek, &m), SHMC_OK);
    CHECK(m.nvalue == 5 && m.flags == 7 && m.ttl >= 99 && m.ttl <= 100 && m.prev_ttl == m.ttl);
    CHECK(m.fetched == 0 && m.stale == 0 && m.win == SHMC_WIN_NONE && m.created == 0);
    CHECK(m.last_access <= 1);
    CHECK_RC(meta_get("f", &peek, &m), SHMC_OK);
    CHECK(m.fetched == 0);
    /* a fetch: hit before is reported as it was before this fetch */
    CHECK_RC(meta_get("f", NULL, &m), SHMC_OK);
    CHECK(m.fetched == 0);
    CHECK_RC(meta_get("f", NULL, &m), SHMC_OK);
    CHECK(m.fetched == 1);
    /* last access: aged by hand, reported, moved by a fetch and not by a peek */
    item_t *it = item_of("f");
    char buf[16];
    size_t n;
    if (it) {
        atomic_fetch_sub(&it->atime, 500);
        CHECK_RC(meta_get("f", &peek, &m), SHMC_OK);
        CHECK(m.last_access >= 500 && m.last_access <= 501);
        CHECK_RC(meta_get("f", NULL, &m), SHMC_OK);
        CHECK(m.last_access >= 500 && m.last_access <= 501);
        CHECK_RC(meta_get("f", &peek, &m), SHMC_OK);
        CHECK(m.last_access <= 1);
        /* a plain get moves it too (memcached's bump) */
        atomic_fetch_sub(&it->atime, 300);
        CHECK_RC(shmc_get(c, K("f"), buf, sizeof buf, &n, NULL, NULL), SHMC_OK);
        CHECK_RC(meta_get("f", &peek, &m), SHMC_OK);
        CHECK(m.last_access <= 1);
    }
    /* touch: the ttl before and after */
    shmc_get_opts t = {.what = SHMC_GET_TOUCH, .exptime = 1000};
    CHECK_RC(meta_get("f", &t, &m), SHMC_OK);
    CHECK(m.prev_ttl >= 99 && m.prev_ttl <= 100 && m.ttl >= 999 && m.ttl <= 1000);
    t.exptime = 0;
    CHECK_RC(meta_get("f", &t, &m), SHMC_OK);
    CHECK(m.ttl == -1);
    CHECK_RC(meta_get("f", &peek, &m), SHMC_OK);
    CHECK(m.ttl == -1 && m.prev_ttl == -1);
    /* too small a buffer: nothing changes, nvalue tells */
    size_t need = 0;
    shmc_get_opts tt = {.what = SHMC_GET_TOUCH, .exptime = 50};
    CHECK_RC(shmc_get_meta(c, K("f"), &tt, buf, 2, &need, &m), SHMC_BUFFER_TOO_SMALL);
    CHECK(need == 5);
    CHECK_RC(meta_get("f", &peek, &m), SHMC_OK);
    CHECK(m.ttl == -1);
    /* bad arguments */
    CHECK_RC(shmc_get_meta(c, K("f"), NULL, buf, sizeof buf, &n, NULL), SHMC_INVALID);
    shmc_get_opts bad = {.what = 0x100};
    CHECK_RC(meta_get("f", &bad, &m), SHMC_INVALID);
    CHECK_RC(meta_get("", NULL, &m), SHMC_BAD_KEY);
    CHECK_RC(meta_get("bad\nkey", NULL, &m), SHMC_NOT_FOUND); /* a key, not stored */
}

/* memcached's stampede sequence in the library. */
static void test_stampede(void)
{
    shmc_item_meta m;
    shmc_get_opts viv = {.what = SHMC_GET_VIVIFY, .vivify_exptime = 30};
    CHECK_RC(meta_get("w", &viv, &m), SHMC_OK);
    CHECK(m.created == 1 && m.win == SHMC_WIN_WON && m.nvalue == 0 && m.ttl >= 29 && m.ttl <= 30);
    CHECK_RC(meta_get("w", &viv, &m), SHMC_OK);
    CHECK(m.created == 0 && m.win == SHMC_WIN_TAKEN && m.stale == 0);
    CHECK_RC(meta_get("w", NULL, &m), SHMC_OK);
    CHECK(m.win == SHMC_WIN_TAKEN);
    /* the winner stores: the win is over */
    uint64_t cas;
    CHECK_RC(shmc_store_meta(c, SHMC_MODE_SET, K("w"), "val", 3, 0, 0, NULL, &cas), SHMC_OK);
    CHECK_RC(meta_get("w", &viv, &m), SHMC_OK);
    CHECK(m.win == SHMC_WIN_NONE && m.stale == 0 && m.nvalue == 3 && m.cas == cas);
    /* invalidated: served stale; the next fetcher wins, the others see it taken */
    shmc_delete_opts inv = {.what = SHMC_DELETE_INVALIDATE | SHMC_DELETE_CAS, .cas = cas + 7};
    CHECK_RC(shmc_delete_meta(c, K("w"), &inv), SHMC_EXISTS);
    inv.cas = cas;
    CHECK_RC(shmc_delete_meta(c, K("w"), &inv), SHMC_OK);
    shmc_get_opts look = {.what = SHMC_GET_NO_WIN | SHMC_GET_NO_BUMP}; /* a look takes no win */
    CHECK_RC(meta_get("w", &look, &m), SHMC_OK);
    CHECK(m.stale == 1 && m.win == SHMC_WIN_NONE && m.fetched == 1); /* still fetched, as memcached */
    CHECK_RC(meta_get("w", NULL, &m), SHMC_OK);
    CHECK(m.stale == 1 && m.win == SHMC_WIN_WON && m.nvalue == 3 && m.cas != cas);
    uint64_t stale_cas = m.cas;
    CHECK_RC(meta_get("w", NULL, &m), SHMC_OK);
    CHECK(m.stale == 1 && m.win == SHMC_WIN_TAKEN);
    CHECK_RC(meta_get("w", &viv, &m), SHMC_OK);
    CHECK(m.stale == 1 && m.win == SHMC_WIN_TAKEN && m.created == 0);
    /* a late writer with an older cas, and I: stored, but still stale, win kept */
    shmc_store_opts late = {.what = SHMC_STORE_CAS | SHMC_STORE_INVALIDATE, .cas = stale_cas - 1};
    CHECK_RC(shmc_store_meta(c, SHMC_MODE_SET, K("w"), "old", 3, 0, 0, &late, NULL), SHMC_OK);
    CHECK_RC(meta_get("w", NULL, &m), SHMC_OK);
    CHECK(m.stale == 1 && m.win == SHMC_WIN_TAKEN);
    late.cas = m.cas + 1; /* newer than the item's: refused */
    CHECK_RC(shmc_store_meta(c, SHMC_MODE_SET, K("w"), "new", 3, 0, 0, &late, NULL), SHMC_EXISTS);
    late.what = SHMC_STORE_CAS;
    late.cas = stale_cas - 1; /* older without I: refused */
    CHECK_RC(shmc_store_meta(c, SHMC_MODE_SET, K("w"), "new", 3, 0, 0, &late, NULL), SHMC_EXISTS);
    /* the winner's store ends it */
    CHECK_RC(shmc_set(c, K("w"), "fresh", 5, 0, 0), SHMC_OK);
    CHECK_RC(meta_get("w", NULL, &m), SHMC_OK);
    CHECK(m.stale == 0 && m.win == SHMC_WIN_NONE);
    /* invalidate with a new ttl */
    shmc_delete_opts it = {.what = SHMC_DELETE_INVALIDATE | SHMC_DELETE_TOUCH, .exptime = 60};
    CHECK_RC(shmc_delete_meta(c, K("w"), &it), SHMC_OK);
    shmc_get_opts peek = {.what = SHMC_GET_NO_BUMP};
    CHECK_RC(meta_get("w", &peek, &m), SHMC_OK);
    CHECK(m.ttl >= 59 && m.ttl <= 60 && m.stale == 1);
    /* delete by cas */
    shmc_delete_opts dc = {.what = SHMC_DELETE_CAS, .cas = m.cas + 1};
    CHECK_RC(shmc_delete_meta(c, K("w"), &dc), SHMC_EXISTS);
    dc.cas = m.cas;
    CHECK_RC(shmc_delete_meta(c, K("w"), &dc), SHMC_OK);
    CHECK_RC(shmc_delete_meta(c, K("w"), &dc), SHMC_NOT_FOUND);
    CHECK_RC(shmc_delete_meta(c, K("w"), NULL), SHMC_NOT_FOUND);
    shmc_delete_opts bad = {.what = 0x40};
    CHECK_RC(shmc_delete_meta(c, K("w"), &bad), SHMC_INVALID);
}

/* The meta events' counters (shmc_win_tokens, shmc_win_timeouts, shmc_stale_hits,
 * shmc_invalidations), by exact deltas. */
static void test_counters(void)
{
    shmc_stats_t a, b;
    shmc_item_meta m;
    CHECK_RC(shmc_stats(c, &a), SHMC_OK);
    shmc_get_opts viv = {.what = SHMC_GET_VIVIFY};
    CHECK_RC(meta_get("ctr", &viv, &m), SHMC_OK);   /* a win */
    CHECK_RC(meta_get("ctr", &viv, &m), SHMC_OK);   /* taken: no win */
    CHECK_RC(shmc_set(c, K("ctr"), "v", 1, 0, 0), SHMC_OK);
    shmc_delete_opts inv = {.what = SHMC_DELETE_INVALIDATE};
    CHECK_RC(shmc_delete_meta(c, K("ctr"), &inv), SHMC_OK); /* an invalidation */
    CHECK_RC(meta_get("ctr", NULL, &m), SHMC_OK);   /* stale, a win */
    CHECK_RC(meta_get("ctr", NULL, &m), SHMC_OK);   /* stale */
    item_t *it = item_of("ctr");
    if (it) {
        atomic_fetch_sub(&it->meta, 16u << 2);     /* the winner lapsed */
        CHECK_RC(meta_get("ctr", NULL, &m), SHMC_OK); /* stale, a win again, after a timeout */
        CHECK(m.win == SHMC_WIN_WON);
    }
    CHECK_RC(shmc_stats(c, &b), SHMC_OK);
    CHECK(b.win_tokens - a.win_tokens == 2u + (it != NULL) &&
          b.win_timeouts - a.win_timeouts == (it != NULL));
    CHECK(b.stale_hits - a.stale_hits == 2u + (it != NULL) && b.invalidations - a.invalidations == 1);
    /* the drop of a refused set's old value counts no delete (memcached's) */
    shmc_delete_opts quiet = {.what = SHMC_DELETE_NO_COUNT};
    CHECK_RC(shmc_delete_meta(c, K("ctr"), &quiet), SHMC_OK);
    CHECK_RC(shmc_delete_meta(c, K("ctr"), &quiet), SHMC_NOT_FOUND);
    CHECK_RC(shmc_stats(c, &a), SHMC_OK);
    CHECK(a.delete_hits == b.delete_hits && a.delete_misses == b.delete_misses);
}

static void test_recache_and_timeout(void)
{
    shmc_item_meta m;
    CHECK_RC(shmc_set(c, K("r"), "v", 1, 0, 100), SHMC_OK);
    shmc_get_opts rc = {.what = SHMC_GET_RECACHE, .recache = 30};
    CHECK_RC(meta_get("r", &rc, &m), SHMC_OK);
    CHECK(m.win == SHMC_WIN_NONE);
    rc.recache = 200;
    CHECK_RC(meta_get("r", &rc, &m), SHMC_OK);
    CHECK(m.win == SHMC_WIN_WON);
    CHECK_RC(meta_get("r", &rc, &m), SHMC_OK);
    CHECK(m.win == SHMC_WIN_TAKEN);
    /* no expiry: never recached */
    CHECK_RC(shmc_set(c, K("r0"), "v", 1, 0, 0), SHMC_OK);
    CHECK_RC(meta_get("r0", &rc, &m), SHMC_OK);
    CHECK(m.win == SHMC_WIN_NONE);
    /* a winner that never stores: after SHMC_WIN_TIMEOUT the win goes out again */
    item_t *it = item_of("r");
    if (!it) return;
    atomic_fetch_sub(&it->meta, 2u << 2); /* 8 s older: still honoured */
    CHECK_RC(meta_get("r", &rc, &m), SHMC_OK);
    CHECK(m.win == SHMC_WIN_TAKEN);
    atomic_fetch_sub(&it->meta, ((SHMC_WIN_TIMEOUT + 3) / 4 - 2) << 2); /* timed out */
    CHECK_RC(meta_get("r", &rc, &m), SHMC_OK);
    CHECK(m.win == SHMC_WIN_WON);
    CHECK_RC(meta_get("r", &rc, &m), SHMC_OK);
    CHECK(m.win == SHMC_WIN_TAKEN);
    /* a vivified stub whose winner died: after the timeout the next fetcher, any fetcher,
     * wins it again, instead of reading the empty stub as a value */
    shmc_get_opts nv = {.what = SHMC_GET_VIVIFY, .vivify_exptime = 90};
    CHECK_RC(meta_get("stub", &nv, &m), SHMC_OK);
    CHECK(m.win == SHMC_WIN_WON && m.created == 1);
    CHECK_RC(meta_get("stub", &nv, &m), SHMC_OK);
    CHECK(m.win == SHMC_WIN_TAKEN);
    it = item_of("stub");
    if (!it) return;
    atomic_fetch_sub(&it->meta, ((SHMC_WIN_TIMEOUT + 3) / 4 + 1) << 2); /* timed out */
    CHECK_RC(meta_get("stub", NULL, &m), SHMC_OK);
    CHECK(m.win == SHMC_WIN_WON && m.created == 0 && m.nvalue == 0);
    CHECK_RC(meta_get("stub", &nv, &m), SHMC_OK);
    CHECK(m.win == SHMC_WIN_TAKEN);
    /* its store ends the win for good */
    CHECK_RC(shmc_set(c, K("stub"), "v", 1, 0, 90), SHMC_OK);
    CHECK_RC(meta_get("stub", NULL, &m), SHMC_OK);
    CHECK(m.win == SHMC_WIN_NONE);
}

static void test_arith(void)
{
    uint64_t v = 0;
    shmc_item_meta m;
    shmc_arith_opts o = {.what = SHMC_ARITH_VIVIFY, .initial = 10, .vivify_exptime = 100};
    CHECK_RC(shmc_arith_meta(c, K("n"), 1, 5, NULL, &v, NULL), SHMC_NOT_FOUND);
    CHECK_RC(shmc_arith_meta(c, K("n"), 1, 5, &o, &v, &m), SHMC_OK);
    CHECK(v == 10 && m.created == 1 && m.ttl >= 99 && m.ttl <= 100 && m.cas != 0);
    CHECK_RC(shmc_arith_meta(c, K("n"), 1, 5, &o, &v, &m), SHMC_OK);
    CHECK(v == 15 && m.created == 0 && m.ttl >= 99 && m.nvalue == 2);
    uint64_t cas = m.cas;
    shmc_arith_opts oc = {.what = SHMC_ARITH_CAS | SHMC_ARITH_TOUCH, .cas = cas + 1, .exptime = 0};
    CHECK_RC(shmc_arith_meta(c, K("n"), 0, 1, &oc, &v, &m), SHMC_EXISTS);
    oc.cas = cas;
    CHECK_RC(shmc_arith_meta(c, K("n"), 0, 1, &oc, &v, &m), SHMC_OK);
    CHECK(v == 14 && m.ttl == -1 && m.prev_ttl >= 99 && m.cas != cas);
    char buf[8];
    size_t n;
    uint64_t got;
    CHECK_RC(shmc_get(c, K("n"), buf, sizeof buf, &n, NULL, &got), SHMC_OK);
    CHECK(got == m.cas && n == 2 && memcmp(buf, "14", 2) == 0);
    oc.cas = 0; /* 0 matches any, as memcached */
    CHECK_RC(shmc_arith_meta(c, K("n"), 0, 100, &oc, &v, NULL), SHMC_OK);
    CHECK(v == 0);
    CHECK_RC(shmc_set(c, K("t"), "x", 1, 0, 0), SHMC_OK);
    CHECK_RC(shmc_arith_meta(c, K("t"), 1, 1, &o, &v, NULL), SHMC_NOT_NUMERIC);
    shmc_arith_opts bad = {.what = 0x10};
    CHECK_RC(shmc_arith_meta(c, K("n"), 1, 1, &bad, &v, NULL), SHMC_INVALID);
    /* a fetched counter stays fetched through incr and decr (memcached changes it in place),
     * and an unfetched one stays unfetched */
    shmc_get_opts peek = {.what = SHMC_GET_NO_BUMP};
    CHECK_RC(shmc_set(c, K("fx"), "10", 2, 0, 0), SHMC_OK);
    CHECK_RC(shmc_incr(c, K("fx"), 1, &v), SHMC_OK);
    CHECK_RC(meta_get("fx", &peek, &m), SHMC_OK);
    CHECK(m.fetched == 0);
    CHECK_RC(shmc_get(c, K("fx"), buf, sizeof buf, &n, NULL, NULL), SHMC_OK);
    CHECK_RC(shmc_incr(c, K("fx"), 1, &v), SHMC_OK);
    CHECK_RC(shmc_decr(c, K("fx"), 5, &v), SHMC_OK);
    CHECK_RC(meta_get("fx", &peek, &m), SHMC_OK);
    CHECK(v == 7 && m.fetched == 1);
}

/* memcached applies T, N and R in the request's order: the *_AFTER_TOUCH bits say T came
 * first.  And an arithmetic change keeps the stale mark and the win (memcached's is in place). */
static void test_order_and_stale_arith(void)
{
    shmc_item_meta m;
    /* N then T (no bit): a created item keeps T's TTL; T then N: N's */
    shmc_get_opts nt = {.what = SHMC_GET_VIVIFY | SHMC_GET_TOUCH, .exptime = 60,
                        .vivify_exptime = 30};
    CHECK_RC(meta_get("o1", &nt, &m), SHMC_OK);
    CHECK(m.created == 1 && m.win == SHMC_WIN_WON && m.ttl >= 59 && m.ttl <= 60);
    nt.what |= SHMC_GET_VIVIFY_AFTER_TOUCH;
    CHECK_RC(meta_get("o2", &nt, &m), SHMC_OK);
    CHECK(m.created == 1 && m.ttl >= 29 && m.ttl <= 30);
    CHECK_RC(meta_get("o2", NULL, &m), SHMC_OK);
    CHECK(m.ttl >= 29 && m.ttl <= 30 && m.win == SHMC_WIN_TAKEN);
    /* on an existing item the touch applies either way */
    CHECK_RC(meta_get("o2", &nt, &m), SHMC_OK);
    CHECK(m.created == 0 && m.ttl >= 59 && m.ttl <= 60);
    /* R against the expiry before the touch (no bit) or after it */
    CHECK_RC(shmc_set(c, K("o3"), "v", 1, 0, 10), SHMC_OK);
    shmc_get_opts tr = {.what = SHMC_GET_TOUCH | SHMC_GET_RECACHE, .exptime = 100, .recache = 30};
    tr.what |= SHMC_GET_RECACHE_AFTER_TOUCH; /* T100 R30: 100 s left at R, no win */
    CHECK_RC(meta_get("o3", &tr, &m), SHMC_OK);
    CHECK(m.win == SHMC_WIN_NONE && m.ttl >= 99);
    tr.what &= ~SHMC_GET_RECACHE_AFTER_TOUCH; /* R30 T5: 100 s left at R, no win */
    tr.exptime = 5;
    CHECK_RC(meta_get("o3", &tr, &m), SHMC_OK);
    CHECK(m.win == SHMC_WIN_NONE && m.ttl <= 5);
    tr.exptime = 100; /* R30 T100: 5 s left at R: the win */
    CHECK_RC(meta_get("o3", &tr, &m), SHMC_OK);
    CHECK(m.win == SHMC_WIN_WON && m.ttl >= 99);
    CHECK_RC(shmc_set(c, K("o4"), "v", 1, 0, 100), SHMC_OK);
    tr.what |= SHMC_GET_RECACHE_AFTER_TOUCH; /* T10 R30: 10 s left at R: the win */
    tr.exptime = 10;
    CHECK_RC(meta_get("o4", &tr, &m), SHMC_OK);
    CHECK(m.win == SHMC_WIN_WON && m.ttl <= 10);
    /* ma: N then T gives T's TTL, T then N gives N's, to a created counter */
    uint64_t v = 0;
    shmc_arith_opts a = {.what = SHMC_ARITH_VIVIFY | SHMC_ARITH_TOUCH, .exptime = 60,
                         .initial = 4, .vivify_exptime = 30};
    CHECK_RC(shmc_arith_meta(c, K("o5"), 1, 1, &a, &v, &m), SHMC_OK);
    CHECK(m.created == 1 && v == 4 && m.ttl >= 59 && m.ttl <= 60);
    a.what |= SHMC_ARITH_VIVIFY_AFTER_TOUCH;
    CHECK_RC(shmc_arith_meta(c, K("o6"), 1, 1, &a, &v, &m), SHMC_OK);
    CHECK(m.created == 1 && m.ttl >= 29 && m.ttl <= 30);
    CHECK_RC(shmc_arith_meta(c, K("o6"), 1, 1, &a, &v, &m), SHMC_OK);
    CHECK(m.created == 0 && v == 5 && m.ttl >= 59 && m.ttl <= 60);
    /* incr on an invalidated item: still stale, and a win that is out stays out */
    CHECK_RC(shmc_set(c, K("o7"), "5", 1, 0, 0), SHMC_OK);
    shmc_delete_opts inv = {.what = SHMC_DELETE_INVALIDATE};
    CHECK_RC(shmc_delete_meta(c, K("o7"), &inv), SHMC_OK);
    CHECK_RC(shmc_arith_meta(c, K("o7"), 1, 1, NULL, &v, NULL), SHMC_OK);
    CHECK_RC(meta_get("o7", NULL, &m), SHMC_OK);
    CHECK(v == 6 && m.stale == 1 && m.win == SHMC_WIN_WON);
    CHECK_RC(shmc_arith_meta(c, K("o7"), 1, 4, NULL, &v, NULL), SHMC_OK); /* 10: longer */
    CHECK_RC(meta_get("o7", NULL, &m), SHMC_OK);
    CHECK(v == 10 && m.stale == 1 && m.win == SHMC_WIN_TAKEN);
    CHECK_RC(shmc_set(c, K("o7"), "7", 1, 0, 0), SHMC_OK);
    CHECK_RC(meta_get("o7", NULL, &m), SHMC_OK);
    CHECK(m.stale == 0 && m.win == SHMC_WIN_NONE);
    shmc_get_opts bad = {.what = 0x100};
    CHECK_RC(meta_get("o7", &bad, &m), SHMC_INVALID);
}

/* Many processes fetch one key at the same instant: exactly one wins.  Rounds alternate a
 * vivified miss and an invalidated item. */
static void test_single_winner(const char *path)
{
    enum { PROCS = 8, ROUNDS = 40 };
    int go[2];
    for (int round = 0; round < ROUNDS; round++) {
        char key[32];
        snprintf(key, sizeof key, "race%d", round);
        bool stale_round = round & 1;
        if (stale_round) {
            CHECK_RC(shmc_set(c, key, strlen(key), "old", 3, 0, 0), SHMC_OK);
            shmc_delete_opts inv = {.what = SHMC_DELETE_INVALIDATE};
            CHECK_RC(shmc_delete_meta(c, key, strlen(key), &inv), SHMC_OK);
        }
        if (pipe(go) != 0) {
            CHECK(!"pipe");
            return;
        }
        pid_t pids[PROCS];
        for (int i = 0; i < PROCS; i++) {
            pids[i] = fork();
            if (pids[i] == 0) {
                close(go[1]);
                shmc_t *h = NULL;
                if (shmc_open(&h, path, NULL) != SHMC_OK) _exit(3);
                char b;
                if (read(go[0], &b, 1) != 0) _exit(4); /* wait for the pipe to close */
                shmc_get_opts o = {.what = SHMC_GET_VIVIFY, .vivify_exptime = 60};
                shmc_item_meta m;
                char buf[16];
                size_t n;
                shmc_rc rc = shmc_get_meta(h, key, strlen(key), &o, buf, sizeof buf, &n, &m);
                shmc_close(h);
                if (rc != SHMC_OK) _exit(5);
                if (stale_round && !m.stale) _exit(6);
                _exit(m.win == SHMC_WIN_WON ? 1 : m.win == SHMC_WIN_TAKEN ? 0 : 7);
            }
        }
        close(go[0]);
        usleep(20000); /* let them all open and block */
        close(go[1]);
        int winners = 0, bad = 0;
        for (int i = 0; i < PROCS; i++) {
            int st = 0;
            waitpid(pids[i], &st, 0);
            int code = WIFEXITED(st) ? WEXITSTATUS(st) : 99;
            if (code == 1) winners++;
            else if (code != 0) bad++;
        }
        CHECK(winners == 1 && bad == 0);
        if (winners != 1 || bad) fprintf(stderr, "  round %d: %d winners, %d bad\n", round, winners, bad);
    }
}

/* ---- the walk ---- */

#define WALK_KEYS 3000

struct seen {
    unsigned char count[WALK_KEYS];
    int bad, churn_seen, stop_after, calls;
};

/* Values name their key and are long enough to tear if a copy were not whole. */
static size_t walk_value(char *buf, const char *key, unsigned gen)
{
    int n = snprintf(buf, 600, "%s/%u/", key, gen);
    for (; n < 300; n++) buf[n] = (char)('a' + ((unsigned)n + gen) % 26);
    return (size_t)n;
}

static int walk_cb(void *arg, const char *key, size_t nkey, const void *value, size_t nvalue,
                   const shmc_item_meta *m)
{
    struct seen *s = arg;
    s->calls++;
    char k[64], want[600];
    if (nkey >= sizeof k) {
        s->bad++;
        return 0;
    }
    memcpy(k, key, nkey);
    k[nkey] = 0;
    unsigned gen = 0;
    const char *slash = memchr(value, '/', nvalue);
    if (slash) gen = (unsigned)atoi(slash + 1);
    size_t n = walk_value(want, k, gen);
    if (n != nvalue || memcmp(want, value, n) != 0 || m->nvalue != nvalue) s->bad++;
    int i;
    if (sscanf(k, "stable%d", &i) == 1 && i >= 0 && i < WALK_KEYS) {
        s->count[i]++;
        /* (a slow run, under a sanitizer, may take most of the 1000 s... not all of it) */
        if (m->flags != (uint32_t)i || (i % 2 ? m->ttl < 600 || m->ttl > 1000 : m->ttl != -1)) s->bad++;
        if (m->stale != (i % 7 == 0)) s->bad++;
    } else if (strncmp(k, "churn", 5) == 0) {
        s->churn_seen++;
    }
    return s->stop_after && s->calls >= s->stop_after;
}

static void test_walk(const char *path)
{
    shmc_t *w = NULL;
    shmc_config cfg;
    shmc_config_init(&cfg);
    cfg.memory_limit = 16u << 20;
    CHECK_RC(shmc_open(&w, path, &cfg), SHMC_OK);
    if (!w) return;
    char key[64], val[600];
    for (int i = 0; i < WALK_KEYS; i++) {
        snprintf(key, sizeof key, "stable%d", i);
        size_t n = walk_value(val, key, 0);
        CHECK_RC(shmc_set(w, key, strlen(key), val, n, (uint32_t)i, i % 2 ? 1000 : 0), SHMC_OK);
        if (i % 7 == 0) {
            shmc_delete_opts inv = {.what = SHMC_DELETE_INVALIDATE};
            CHECK_RC(shmc_delete_meta(w, key, strlen(key), &inv), SHMC_OK);
        }
    }
    CHECK_RC(shmc_set(w, K("expired"), "x", 1, 0, -1), SHMC_OK);
    static struct seen s;
    memset(&s, 0, sizeof s);
    CHECK_RC(shmc_walk(w, walk_cb, &s), SHMC_OK);
    int once = 0;
    for (int i = 0; i < WALK_KEYS; i++) once += s.count[i] == 1;
    CHECK(once == WALK_KEYS && s.bad == 0 && s.calls == WALK_KEYS);
    /* the walk disturbs nothing: no item became fetched, no stale item was won */
    shmc_item_meta m;
    char buf[600];
    size_t n;
    shmc_get_opts peek = {.what = SHMC_GET_NO_BUMP | SHMC_GET_NO_WIN};
    CHECK_RC(shmc_get_meta(w, K("stable7"), &peek, buf, sizeof buf, &n, &m), SHMC_OK);
    CHECK(m.fetched == 0 && m.stale == 1 && m.win == SHMC_WIN_NONE);
    /* stopping early */
    memset(&s, 0, sizeof s);
    s.stop_after = 10;
    CHECK_RC(shmc_walk(w, walk_cb, &s), SHMC_OK);
    CHECK(s.calls == 10);
    CHECK_RC(shmc_walk(w, NULL, &s), SHMC_INVALID);

    /* while another process replaces, adds and deletes other keys as fast as it can */
    pid_t pid = fork();
    if (pid == 0) {
        shmc_t *h = NULL;
        if (shmc_open(&h, path, NULL) != SHMC_OK) _exit(3);
        for (unsigned gen = 1;; gen++) {
            char k[32], v[600];
            snprintf(k, sizeof k, "churn%u", gen % 500);
            size_t nv = walk_value(v, k, gen);
            if (gen % 3 == 0) shmc_delete(h, k, strlen(k));
            else shmc_set(h, k, strlen(k), v, nv, 0, 0);
        }
    }
    int rounds = 0;
    for (; rounds < 20; rounds++) {
        memset(&s, 0, sizeof s);
        CHECK_RC(shmc_walk(w, walk_cb, &s), SHMC_OK);
        once = 0;
        for (int i = 0; i < WALK_KEYS; i++) once += s.count[i] == 1;
        if (once != WALK_KEYS || s.bad) break;
    }
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    /* the writer died holding locks, maybe: a lone opener repairs them before the checker */
    shmc_close(w);
    CHECK_RC(shmc_open(&w, path, NULL), SHMC_OK);
    CHECK(rounds == 20);
    if (rounds != 20) fprintf(stderr, "  walk under churn: %d once of %d, %d bad\n", once, WALK_KEYS, s.bad);
    printf("walk under churn: 20 walks, each stable key once, %d churn items seen in the last\n",
           s.churn_seen);
    if (w) shmc_close(w);
}

int main(void)
{
    t_setup("meta");
    const char *path = t_path("cache");
    shmc_config cfg;
    shmc_config_init(&cfg);
    cfg.memory_limit = 4u << 20;
    cfg.item_size_max = 64u << 10;
    CHECK_RC(shmc_open(&c, path, &cfg), SHMC_OK);
    if (!c) return t_finish();
    shmc_stats_t st;
    CHECK_RC(shmc_stats(c, &st), SHMC_OK);
    white_box = !st.protected_mode;
    if (!white_box)
        printf("SKIPPED the cases that age an item's clocks by hand: protection keys guard the "
               "cache\n");
    test_store_cas();
    test_fetch_meta();
    test_stampede();
    test_recache_and_timeout();
    test_counters();
    test_arith();
    test_order_and_stale_arith();
    test_single_winner(path);
    shmc_close(c);
    t_check_file(path);
    test_walk(t_path("walk"));
    t_check_file(t_path("walk"));
    return t_finish();
}
