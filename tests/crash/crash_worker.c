/* crash_worker.c — the process that the crash-point walk kills (tests/crash/test_crashpoints.c).
 *
 *   crash_worker CACHE MODEL SEED NOPS
 *
 * Runs NOPS random commands, one at a time, on a 512 KiB cache with one append head, so
 * that segments are cleaned all the time: get, gat, set, add, replace, append, prepend, cas,
 * incr, decr, delete, touch, closing and reopening the cache, a second handle opened and
 * closed, and near the end flush_all now and delayed (a due time already past, so the next
 * call applies it).
 * Each change is recorded in MODEL (crash_model.h) before and after it; every read and every
 * result is checked against the model.  The library it links kills it at the crash point
 * that SHMC_CRASH_AT names.  Exit 0: done without reaching it; 3: the cache broke the model. */
#include <stdlib.h>
#include <sys/mman.h>
#include <fcntl.h>
#include <time.h>
#include <unistd.h>

#include "crash_model.h"

static model_t *m;
static shmc_t *c;
static const char *path;
static uint64_t rng;
static int nkeys;

static uint64_t next_rand(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static void fail(const char *fmt, const char *a, int b)
{
    fprintf(stderr, "crash_worker[%d] after %llu ops: ", (int)getpid(), (unsigned long long)m->ops_done);
    fprintf(stderr, fmt, a, b);
    fputc('\n', stderr);
    exit(3);
}

static shmc_t *open_cache(void)
{
    shmc_t *h = model_open(path);
    if (!h) exit(2);
    return h;
}

static void random_value(mval_t *v, int k)
{
    v->present = 1;
    v->flags = (uint32_t)next_rand();
    if (k < MODEL_COUNTERS) {
        v->len = (uint32_t)snprintf((char *)v->v, sizeof v->v, "%llu",
                                    (unsigned long long)(next_rand() % 1000000));
        return;
    }
    v->len = 200 + (uint32_t)(next_rand() % 701);
    for (uint32_t i = 0; i < v->len; i++) v->v[i] = (unsigned char)next_rand();
}

/* Record the change in flight, run it, and record it done (effect: whether it took). */
static void begin(int k) { m->inflight = k; }
static void done(int k, bool effect)
{
    if (effect) {
        if (k == MODEL_ALL) {
            for (int i = 0; i < MODEL_KEYS; i++) m->keys[i].present = 0;
        } else {
            m->keys[k] = m->next;
        }
    }
    m->inflight = -1;
    m->ops_done++;
}

static void expect_rc(shmc_rc got, shmc_rc want, const char *what, int k)
{
    if (got == want) return;
    /* in the evicting mode a key the model holds may be gone */
    if (m->evicting && (got == SHMC_NOT_FOUND || got == SHMC_NOT_STORED) && m->keys[k].present) {
        m->keys[k].present = 0;
        return;
    }
    char msg[160];
    snprintf(msg, sizeof msg, "%s: %s, the model expects %s", what, shmc_strerror(got), shmc_strerror(want));
    fail("%s (key %d)", msg, k);
}

/* Give every key of the exact mode a value: most of them are changed rarely, so the
 * cleaning meets them live. */
static void populate(void)
{
    char key[16];
    for (int k = 0; k < nkeys && !m->evicting; k++) {
        if (m->keys[k].present) continue;
        model_key(key, k);
        random_value(&m->next, k);
        begin(k);
        expect_rc(shmc_set(c, key, strlen(key), m->next.v, m->next.len, m->next.flags, 0), SHMC_OK, "set", k);
        done(k, true);
    }
}

/* flush_all, now or delayed: a due time already past, so the next call anywhere applies it
 * (flushes are rare: the cleaning must meet items that lived through a whole round) */
static void flush(bool delayed)
{
    begin(MODEL_ALL);
    shmc_flush_all(c, delayed ? (int64_t)time(NULL) - 5 : 0);
    done(MODEL_ALL, true);
    populate();
}

static void one_op(void)
{
    unsigned r = (unsigned)(next_rand() % 100);
    if (m->evicting && r >= 55 && r < 82) r = 40; /* conditional commands: exact mode only */
    /* in the exact mode most changes go to 8 keys, so the others stay put long enough for
     * the cleaning to meet them live (and keep or move them) */
    bool read = r < 30 || r >= 98;
    int k = (int)(next_rand() % (uint64_t)nkeys);
    if (!m->evicting && !read && next_rand() % 1000 < 995) k %= 8;
    char key[16], why[200];
    model_key(key, k);
    size_t nk = strlen(key);
    mval_t *cur = &m->keys[k], *nx = &m->next;
    if (read) {
        if (!model_settle_key(c, m, k, why, sizeof why)) fail("%s", why, 0);
        if (r >= 98 && cur->present) { /* gat: a get that touches */
            unsigned char b[MODEL_VMAX];
            size_t n;
            begin(k);
            *nx = *cur;
            shmc_rc rc = shmc_gat(c, key, nk, 86400, b, sizeof b, &n, NULL, NULL);
            expect_rc(rc, SHMC_OK, "gat", k);
            if (rc == SHMC_OK && !mval_equal(cur, b, n, cur->flags)) fail("gat %s: torn value", key, 0);
            done(k, false);
        }
    } else if (r < 55) {
        random_value(nx, k);
        begin(k);
        expect_rc(shmc_set(c, key, nk, nx->v, nx->len, nx->flags, 0), SHMC_OK, "set", k);
        done(k, true);
    } else if (r < 60) {
        random_value(nx, k);
        begin(k);
        shmc_rc want = cur->present ? SHMC_NOT_STORED : SHMC_OK;
        expect_rc(shmc_add(c, key, nk, nx->v, nx->len, nx->flags, 0), want, "add", k);
        done(k, want == SHMC_OK);
    } else if (r < 64) {
        random_value(nx, k);
        begin(k);
        shmc_rc want = cur->present ? SHMC_OK : SHMC_NOT_STORED;
        expect_rc(shmc_replace(c, key, nk, nx->v, nx->len, nx->flags, 0), want, "replace", k);
        done(k, want == SHMC_OK);
    } else if (r < 70) {
        if (k < MODEL_COUNTERS || (cur->present && cur->len > 900)) return;
        bool pre = r >= 68;
        uint32_t add = 10 + (uint32_t)(next_rand() % 91);
        unsigned char piece[128];
        for (uint32_t i = 0; i < add; i++) piece[i] = (unsigned char)next_rand();
        *nx = *cur;
        if (cur->present) {
            if (pre) {
                memmove(nx->v + add, nx->v, nx->len);
                memcpy(nx->v, piece, add);
            } else {
                memcpy(nx->v + nx->len, piece, add);
            }
            nx->len += add;
        }
        begin(k);
        shmc_rc want = cur->present ? SHMC_OK : SHMC_NOT_STORED;
        shmc_rc rc = pre ? shmc_prepend(c, key, nk, piece, add, 0, 0) : shmc_append(c, key, nk, piece, add, 0, 0);
        expect_rc(rc, want, pre ? "prepend" : "append", k);
        done(k, want == SHMC_OK);
    } else if (r < 75) {
        unsigned char b[MODEL_VMAX];
        size_t n;
        uint64_t cas = 0;
        shmc_rc rc = shmc_get(c, key, nk, b, sizeof b, &n, NULL, &cas);
        expect_rc(rc, cur->present ? SHMC_OK : SHMC_NOT_FOUND, "get for cas", k);
        if (rc != SHMC_OK) return;
        random_value(nx, k);
        begin(k);
        expect_rc(shmc_cas(c, key, nk, nx->v, nx->len, nx->flags, 0, cas), SHMC_OK, "cas", k);
        done(k, true);
    } else if (r < 82) {
        if (k >= MODEL_COUNTERS) k %= MODEL_COUNTERS;
        model_key(key, k);
        cur = &m->keys[k];
        bool incr = r < 79;
        uint64_t delta = next_rand() % 1000, v = 0, got = 0;
        *nx = *cur;
        if (cur->present) {
            char text[32];
            memcpy(text, cur->v, cur->len);
            text[cur->len] = '\0';
            v = strtoull(text, NULL, 10);
            v = incr ? v + delta : (delta > v ? 0 : v - delta);
            nx->len = (uint32_t)snprintf((char *)nx->v, sizeof nx->v, "%llu", (unsigned long long)v);
            /* a shorter number keeps the old length, padded with spaces, as memcached's */
            if (nx->len < cur->len && cur->len <= 256) {
                memset(nx->v + nx->len, ' ', cur->len - nx->len);
                nx->len = cur->len;
            }
        }
        begin(k);
        shmc_rc want = cur->present ? SHMC_OK : SHMC_NOT_FOUND;
        shmc_rc rc = incr ? shmc_incr(c, key, strlen(key), delta, &got) : shmc_decr(c, key, strlen(key), delta, &got);
        expect_rc(rc, want, incr ? "incr" : "decr", k);
        if (rc == SHMC_OK && got != v) fail("%s: wrong arithmetic", key, 0);
        done(k, want == SHMC_OK);
    } else if (r < 89 && r >= 86 && k >= MODEL_COUNTERS) {
        /* the meta calls' own writes: an invalidation (a copy with a new cas, the value
         * kept) of a present key, a vivified empty item for a missing one */
        *nx = *cur;
        if (!cur->present) { /* a vivified item: empty, flags 0 */
            nx->present = 1;
            nx->len = 0;
            nx->flags = 0;
        }
        begin(k);
        if (cur->present) {
            shmc_delete_opts inv = {.what = SHMC_DELETE_INVALIDATE};
            expect_rc(shmc_delete_meta(c, key, nk, &inv), SHMC_OK, "invalidate", k);
            done(k, false);
        } else {
            shmc_get_opts viv = {.what = SHMC_GET_VIVIFY};
            shmc_item_meta meta;
            size_t n;
            shmc_rc rc = shmc_get_meta(c, key, nk, &viv, NULL, 0, &n, &meta);
            expect_rc(rc, SHMC_OK, "vivify", k);
            if (rc == SHMC_OK && (n != 0 || meta.win != SHMC_WIN_WON)) fail("vivify %s: not won", key, 0);
            done(k, true);
        }
    } else if (r < 89) {
        *nx = *cur;
        nx->present = 0;
        begin(k);
        shmc_rc want = cur->present ? SHMC_OK : SHMC_NOT_FOUND;
        expect_rc(shmc_delete(c, key, nk), want, "delete", k);
        done(k, true);
    } else if (r < 94) {
        *nx = *cur;
        begin(k);
        expect_rc(shmc_touch(c, key, nk, (next_rand() & 1) ? 86400 : 0),
                  cur->present ? SHMC_OK : SHMC_NOT_FOUND, "touch", k);
        done(k, false);
    } else if (r < 97) {
        if (next_rand() % 4) return;
        shmc_close(c);
        c = open_cache();
    } else {
        if (next_rand() % 4) return;
        shmc_t *second = open_cache();
        shmc_close(second);
    }
}

int main(int argc, char **argv)
{
    if (argc != 5) {
        fprintf(stderr, "usage: crash_worker CACHE MODEL SEED NOPS\n");
        return 2;
    }
    path = argv[1];
    int fd = open(argv[2], O_RDWR);
    if (fd < 0) return 2;
    m = mmap(NULL, sizeof *m, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (m == MAP_FAILED) return 2;
    rng = strtoull(argv[3], NULL, 10) * 0x9e3779b97f4a7c15ull + 1;
    long nops = atol(argv[4]);
    nkeys = m->evicting ? MODEL_KEYS : MODEL_EXACT_KEYS;
    c = open_cache();
    char why[200];
    /* a worker killed before us left a change in flight: it is old or new, and now settled */
    if (m->inflight == MODEL_ALL) {
        for (int k = 0; k < nkeys; k++)
            if (!model_settle_key(c, m, k, why, sizeof why)) fail("%s", why, 0);
    } else if (m->inflight >= 0 && !model_settle_key(c, m, m->inflight, why, sizeof why)) {
        fail("%s", why, 0);
    }
    m->inflight = -1;
    populate();
    for (long i = 0; i < nops; i++) {
        if (i == nops - 600 || i == nops - 300) flush(i == nops - 300);
        one_op();
    }
    shmc_close(c);
    return 0;
}
