/* test_expiry.c — memcached's exptime rules: 0 never expires, 1..2592000 are relative
 * seconds, larger values are absolute Unix times (in the past: expired at once), negative is
 * expired at once; touch and gat move the expiry both ways; append, prepend and incr keep it;
 * flush_all now and delayed, and a later flush_all replacing a pending one.
 *
 * Every case that needs time to pass is set up first and checked after one shared wait of
 * about two seconds.  Expiry counts whole seconds of CLOCK_REALTIME: an item with exptime e
 * set during second s is gone once the clock reads s + e.  A "still present" check on a
 * short-lived item is made only while the clock proves it cannot have expired yet. */
#include "testutil.h"

#include <inttypes.h>
#include <stdint.h>
#include <time.h>

static shmc_t *cache;

static double now_real(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}
static int64_t now_s(void) { return (int64_t)time(NULL); }

static void expect_value_at(int line, shmc_t *c, const char *key, const char *want,
                            uint32_t want_flags)
{
    char buf[64];
    size_t n = 0;
    uint32_t flags = 0;
    shmc_rc rc = shmc_get(c, key, strlen(key), buf, sizeof buf, &n, &flags, NULL);
    if (rc == SHMC_OK && n == strlen(want) && memcmp(buf, want, n) == 0 && flags == want_flags) {
        t_passed++;
    } else {
        t_failed++;
        fprintf(stderr, "FAIL %s:%d: get %s -> %s \"%.*s\" flags %" PRIu32
                        ", want \"%s\" flags %" PRIu32 "\n",
                __FILE__, line, key, shmc_strerror(rc), rc == SHMC_OK ? (int)n : 0, buf, flags,
                want, want_flags);
    }
}
#define PRESENT(c, key, want) expect_value_at(__LINE__, c, key, want, 0)

#define MISSING(c, key) t_expect_missing_at(__FILE__, __LINE__, c, key)

static shmc_rc set_exp(shmc_t *c, const char *key, const char *val, int64_t exptime)
{
    return shmc_set(c, key, strlen(key), val, strlen(val), 0, exptime);
}

/* Whether an item given exptime 2 during second `since` is certainly still alive. */
static int young(int64_t since)
{
    if (now_s() <= since + 1) return 1;
    printf("note: the machine stalled for over a second; a 'still present' check was not "
           "made\n");
    return 0;
}

/* ---- cases that need no waiting ---- */

static void test_immediate(void)
{
    int64_t now = now_s();

    CHECK_RC(set_exp(cache, "never", "v", 0), SHMC_OK);
    PRESENT(cache, "never", "v");

    /* exactly 30 days is still relative: present for a month */
    CHECK_RC(set_exp(cache, "30days", "v", SHMC_EXPTIME_RELATIVE_MAX), SHMC_OK);
    PRESENT(cache, "30days", "v");
    /* one more second is an absolute time: 1970-01-31, long past */
    CHECK_RC(set_exp(cache, "30days+1", "v", SHMC_EXPTIME_RELATIVE_MAX + 1), SHMC_OK);
    MISSING(cache, "30days+1");

    /* absolute times: future present, past gone */
    CHECK_RC(set_exp(cache, "abs-future", "v", now + 100), SHMC_OK);
    PRESENT(cache, "abs-future", "v");
    CHECK_RC(set_exp(cache, "abs-past", "v", now - 100), SHMC_OK);
    MISSING(cache, "abs-past");
    CHECK_RC(set_exp(cache, "abs-now-1", "v", now - 1), SHMC_OK);
    MISSING(cache, "abs-now-1");
    /* far-future absolute times beyond 32 bits are still the future */
    CHECK_RC(set_exp(cache, "abs-2106", "v", (int64_t)UINT32_MAX + 100), SHMC_OK);
    PRESENT(cache, "abs-2106", "v");
    CHECK_RC(set_exp(cache, "abs-max", "v", INT64_MAX), SHMC_OK);
    PRESENT(cache, "abs-max", "v");

    /* negative: stored, but expired at once, and it replaces the old value */
    CHECK_RC(set_exp(cache, "neg", "old", 0), SHMC_OK);
    CHECK_RC(set_exp(cache, "neg", "new", -1), SHMC_OK);
    MISSING(cache, "neg");
    CHECK_RC(set_exp(cache, "neg-min", "v", INT64_MIN), SHMC_OK);
    MISSING(cache, "neg-min");
    CHECK_RC(set_exp(cache, "neg-month", "v", -SHMC_EXPTIME_RELATIVE_MAX), SHMC_OK);
    MISSING(cache, "neg-month");
    CHECK_RC(shmc_add(cache, "neg-add", 7, "v", 1, 0, -1), SHMC_OK);
    MISSING(cache, "neg-add");
    /* an expired key is absent for every command */
    CHECK_RC(shmc_add(cache, "neg", 3, "added", 5, 0, 0), SHMC_OK);
    PRESENT(cache, "neg", "added");
    CHECK_RC(set_exp(cache, "neg2", "v", -1), SHMC_OK);
    CHECK_RC(shmc_replace(cache, "neg2", 4, "x", 1, 0, 0), SHMC_NOT_STORED);
    CHECK_RC(shmc_append(cache, "neg2", 4, "x", 1, 0, 0), SHMC_NOT_STORED);
    CHECK_RC(shmc_prepend(cache, "neg2", 4, "x", 1, 0, 0), SHMC_NOT_STORED);
    CHECK_RC(shmc_incr(cache, "neg2", 4, 1, NULL), SHMC_NOT_FOUND);
    CHECK_RC(shmc_touch(cache, "neg2", 4, 0), SHMC_NOT_FOUND);
    CHECK_RC(shmc_cas(cache, "neg2", 4, "x", 1, 0, 0, 1), SHMC_NOT_FOUND);
    CHECK_RC(shmc_delete(cache, "neg2", 4), SHMC_NOT_FOUND);
    MISSING(cache, "neg2");

    /* touch into the past removes at once; gat returns the value, then it is gone */
    CHECK_RC(set_exp(cache, "touch-neg", "v", 0), SHMC_OK);
    CHECK_RC(shmc_touch(cache, "touch-neg", 9, -1), SHMC_OK);
    MISSING(cache, "touch-neg");
    CHECK_RC(set_exp(cache, "touch-abs", "v", 0), SHMC_OK);
    CHECK_RC(shmc_touch(cache, "touch-abs", 9, SHMC_EXPTIME_RELATIVE_MAX + 1), SHMC_OK);
    MISSING(cache, "touch-abs");
    CHECK_RC(set_exp(cache, "gat-neg", "gv", 0), SHMC_OK);
    char buf[8];
    size_t n = 0;
    CHECK_RC(shmc_gat(cache, "gat-neg", 7, -1, buf, sizeof buf, &n, NULL, NULL), SHMC_OK);
    CHECK(n == 2 && memcmp(buf, "gv", 2) == 0);
    MISSING(cache, "gat-neg");
    /* touch to a future absolute time and to 30 days */
    CHECK_RC(set_exp(cache, "touch-fut", "v", -1), SHMC_OK);
    CHECK_RC(shmc_touch(cache, "touch-fut", 9, now + 100), SHMC_NOT_FOUND); /* already gone */
    CHECK_RC(set_exp(cache, "touch-fut", "v", 0), SHMC_OK);
    CHECK_RC(shmc_touch(cache, "touch-fut", 9, now + 100), SHMC_OK);
    PRESENT(cache, "touch-fut", "v");
    CHECK_RC(shmc_touch(cache, "touch-fut", 9, SHMC_EXPTIME_RELATIVE_MAX), SHMC_OK);
    PRESENT(cache, "touch-fut", "v");

    /* flush_all(0) then a set in the same second: the new item lives */
    CHECK_RC(shmc_flush_all(cache, 0), SHMC_OK);
    MISSING(cache, "never");
    MISSING(cache, "30days");
    MISSING(cache, "abs-future");
    MISSING(cache, "touch-fut");
    CHECK_RC(set_exp(cache, "after-flush", "v", 0), SHMC_OK);
    PRESENT(cache, "after-flush", "v");
    CHECK_RC(set_exp(cache, "after-flush-exp", "v", 100), SHMC_OK);
    PRESENT(cache, "after-flush-exp", "v");
}

/* ---- cases checked after one shared wait ---- */

static shmc_t *fA, *fB, *fC;

static shmc_t *open_small(const char *name)
{
    shmc_config cfg;
    shmc_config_init(&cfg);
    cfg.memory_limit = 2u << 20;
    cfg.item_size_max = 64u << 10;
    shmc_t *c = NULL;
    CHECK_RC(shmc_open(&c, t_path(name), &cfg), SHMC_OK);
    return c;
}

static void setup_timed(void)
{
    char buf[16];
    size_t n;
    int64_t t0 = now_s();

    CHECK_RC(set_exp(cache, "e1", "v", 1), SHMC_OK);
    CHECK_RC(set_exp(cache, "e2", "v", 2), SHMC_OK);
    CHECK_RC(set_exp(cache, "abs1", "v", t0 + 1), SHMC_OK);
    CHECK_RC(set_exp(cache, "e100", "v", 100), SHMC_OK);
    CHECK_RC(set_exp(cache, "readd", "old", 1), SHMC_OK);

    /* touch and gat, both ways */
    CHECK_RC(set_exp(cache, "touch-longer", "v", 2), SHMC_OK);
    CHECK_RC(shmc_touch(cache, "touch-longer", 12, 0), SHMC_OK);
    CHECK_RC(set_exp(cache, "touch-shorter", "v", 0), SHMC_OK);
    CHECK_RC(shmc_touch(cache, "touch-shorter", 13, 1), SHMC_OK);
    CHECK_RC(set_exp(cache, "gat-longer", "gl", 2), SHMC_OK);
    CHECK_RC(shmc_gat(cache, "gat-longer", 10, 100, buf, sizeof buf, &n, NULL, NULL), SHMC_OK);
    CHECK(n == 2 && memcmp(buf, "gl", 2) == 0);
    CHECK_RC(set_exp(cache, "gat-shorter", "gs", 0), SHMC_OK);
    CHECK_RC(shmc_gat(cache, "gat-shorter", 11, 1, buf, sizeof buf, &n, NULL, NULL), SHMC_OK);
    CHECK(n == 2 && memcmp(buf, "gs", 2) == 0);

    /* commands that keep the old expiry, and those that set a new one */
    CHECK_RC(shmc_set(cache, "incr-keeps", 10, "5", 1, 9, 2), SHMC_OK);
    CHECK_RC(shmc_incr(cache, "incr-keeps", 10, 1, NULL), SHMC_OK);
    CHECK_RC(shmc_set(cache, "decr-keeps", 10, "5", 1, 9, 2), SHMC_OK);
    CHECK_RC(shmc_decr(cache, "decr-keeps", 10, 1, NULL), SHMC_OK);
    CHECK_RC(set_exp(cache, "append-keeps", "a", 2), SHMC_OK);
    CHECK_RC(shmc_append(cache, "append-keeps", 12, "b", 1, 0, 0), SHMC_OK);
    CHECK_RC(set_exp(cache, "prepend-keeps", "a", 2), SHMC_OK);
    CHECK_RC(shmc_prepend(cache, "prepend-keeps", 13, "b", 1, 0, 0), SHMC_OK);
    CHECK_RC(set_exp(cache, "append-ignores", "a", 0), SHMC_OK);
    CHECK_RC(shmc_append(cache, "append-ignores", 14, "b", 1, 0, 1), SHMC_OK);
    CHECK_RC(set_exp(cache, "replace-sets", "a", 0), SHMC_OK);
    CHECK_RC(shmc_replace(cache, "replace-sets", 12, "b", 1, 0, 1), SHMC_OK);
    CHECK_RC(set_exp(cache, "cas-sets", "a", 0), SHMC_OK);
    {
        uint64_t cas = 0;
        CHECK_RC(shmc_get(cache, "cas-sets", 8, buf, sizeof buf, &n, NULL, &cas), SHMC_OK);
        CHECK_RC(shmc_cas(cache, "cas-sets", 8, "b", 1, 0, 1, cas), SHMC_OK);
    }
    CHECK_RC(set_exp(cache, "set-clears", "a", 1), SHMC_OK);
    CHECK_RC(set_exp(cache, "set-clears", "b", 0), SHMC_OK);

    if (young(t0)) {
        PRESENT(cache, "e2", "v");
        PRESENT(cache, "touch-longer", "v");
        PRESENT(cache, "gat-longer", "gl");
        PRESENT(cache, "append-keeps", "ab");
        PRESENT(cache, "prepend-keeps", "ba");
        expect_value_at(__LINE__, cache, "incr-keeps", "6", 9);
    }

    /* a delayed flush: present until it comes, gone after */
    fA = open_small("flushA");
    fB = open_small("flushB");
    fC = open_small("flushC");
    if (!fA || !fB || !fC) return;
    int64_t tf = now_s();
    CHECK_RC(set_exp(fA, "before", "v", 0), SHMC_OK);
    CHECK_RC(set_exp(fA, "before-exp", "v", 100), SHMC_OK);
    CHECK_RC(shmc_flush_all(fA, 2), SHMC_OK);
    CHECK_RC(set_exp(fA, "between", "v", 0), SHMC_OK); /* stored before the flush time too */
    if (young(tf)) {
        PRESENT(fA, "before", "v");
        PRESENT(fA, "before-exp", "v");
        PRESENT(fA, "between", "v");
    }
    /* a later flush_all(0) replaces the pending one: what is set after it survives */
    CHECK_RC(set_exp(fB, "before", "v", 0), SHMC_OK);
    CHECK_RC(shmc_flush_all(fB, 2), SHMC_OK);
    CHECK_RC(shmc_flush_all(fB, 0), SHMC_OK);
    MISSING(fB, "before");
    CHECK_RC(set_exp(fB, "after", "v", 0), SHMC_OK);
    PRESENT(fB, "after", "v");
    /* a later delayed flush_all replaces the pending one */
    CHECK_RC(set_exp(fC, "before", "v", 0), SHMC_OK);
    CHECK_RC(shmc_flush_all(fC, 2), SHMC_OK);
    CHECK_RC(shmc_flush_all(fC, 100), SHMC_OK);
    PRESENT(fC, "before", "v");
}

static void check_timed(void)
{
    char buf[16];
    size_t n;

    MISSING(cache, "e1");
    MISSING(cache, "e2");
    MISSING(cache, "abs1");
    PRESENT(cache, "e100", "v");
    PRESENT(cache, "touch-longer", "v");
    MISSING(cache, "touch-shorter");
    PRESENT(cache, "gat-longer", "gl");
    MISSING(cache, "gat-shorter");
    MISSING(cache, "incr-keeps");
    MISSING(cache, "decr-keeps");
    MISSING(cache, "append-keeps");
    MISSING(cache, "prepend-keeps");
    PRESENT(cache, "append-ignores", "ab");
    MISSING(cache, "replace-sets");
    MISSING(cache, "cas-sets");
    PRESENT(cache, "set-clears", "b");

    /* an expired item is absent for every command */
    CHECK_RC(shmc_gat(cache, "e1", 2, 100, buf, sizeof buf, &n, NULL, NULL), SHMC_NOT_FOUND);
    CHECK_RC(shmc_touch(cache, "e1", 2, 100), SHMC_NOT_FOUND);
    CHECK_RC(shmc_incr(cache, "e1", 2, 1, NULL), SHMC_NOT_FOUND);
    CHECK_RC(shmc_replace(cache, "e1", 2, "x", 1, 0, 0), SHMC_NOT_STORED);
    CHECK_RC(shmc_append(cache, "e1", 2, "x", 1, 0, 0), SHMC_NOT_STORED);
    CHECK_RC(shmc_cas(cache, "e1", 2, "x", 1, 0, 0, 1), SHMC_NOT_FOUND);
    CHECK_RC(shmc_delete(cache, "e1", 2), SHMC_NOT_FOUND);
    void *p = NULL;
    CHECK_RC(shmc_get_alloc(cache, "e2", 2, &p, &n, NULL, NULL), SHMC_NOT_FOUND);
    free(p);
    MISSING(cache, "e1");
    CHECK_RC(shmc_add(cache, "readd", 5, "new", 3, 0, 0), SHMC_OK);
    PRESENT(cache, "readd", "new");

    if (fA && fB && fC) {
        MISSING(fA, "before");
        MISSING(fA, "before-exp");
        MISSING(fA, "between");
        /* the flush has happened; new items live */
        CHECK_RC(set_exp(fA, "later", "v", 0), SHMC_OK);
        PRESENT(fA, "later", "v");
        PRESENT(fB, "after", "v");
        PRESENT(fC, "before", "v");
    }
}

int main(void)
{
    t_setup("expiry");
    CHECK_RC(shmc_open(&cache, t_path("main"), NULL), SHMC_OK);
    if (!cache) return t_finish();

    test_immediate();

    setup_timed();
    /* one wait: until the clock has read (last setup second + 2), plus a margin for the
     * library's coarse clock */
    double target = (double)now_s() + 2.0 + 0.05;
    double d;
    while ((d = target - now_real()) > 0) {
        struct timespec ts = {(time_t)d, (long)((d - (double)(time_t)d) * 1e9)};
        nanosleep(&ts, NULL);
    }
    check_timed();

    shmc_close(cache);
    shmc_close(fA);
    shmc_close(fB);
    shmc_close(fC);
    t_check_file(t_path("main"));
    t_check_file(t_path("flushA"));
    t_check_file(t_path("flushB"));
    t_check_file(t_path("flushC"));
    return t_finish();
}
