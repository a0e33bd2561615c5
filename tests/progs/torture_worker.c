/* torture_worker.c — one victim process of the crash torture test (tests/test_torture.c).
 *
 *   torture_worker CACHE MONITOR THREADS SEED
 *
 * Opens CACHE and runs THREADS threads, each an endless random mix of every command on a
 * small key space so that they collide constantly.  Every value is made of self-checking
 * records (record.h) and every read verifies them; counters are checked to be decimal.
 * Progress, corruption and unexpected results go to the shared MONITOR file, which the
 * parent watches.  SIGTERM makes the worker finish its calls, close the cache and exit 0 (a
 * client leaving normally while others are mid-operation); SIGKILL may strike anywhere. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <shmc.h>

#include "record.h"
#include "torture_monitor.h"

#define NKEYS 48
#define NCOUNTERS 8
#define SET_MAX 4096
#define PIECE_MAX 256

static shmc_t *cache;
static torture_monitor_t *mon;
static atomic_int stopping; /* lock-free atomics are async-signal-safe */
static size_t item_size_max;
static size_t set_min = RECORD_MIN, set_max = SET_MAX; /* SHMC_TORTURE_SMALL: 200..900 */

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void note_error(const char *what, const char *key, shmc_rc rc)
{
    if (atomic_fetch_add(&mon->errors, 1) < 10)
        fprintf(stderr, "torture_worker[%d]: %s %s: %s\n", (int)getpid(), what, key, shmc_strerror(rc));
}

static void note_corrupt(const char *key, size_t n, size_t at)
{
    if (atomic_fetch_add(&mon->corrupt, 1) < 10)
        fprintf(stderr, "torture_worker[%d]: CORRUPT value of %s: %zu bytes, bad at %zu\n",
                (int)getpid(), key, n, at);
}

static void verify(const char *key, unsigned k, const unsigned char *v, size_t n)
{
    size_t at = 0;
    if (record_check(v, n, k, &at) < 0) note_corrupt(key, n, at);
}

/* 1..20 digits, then the spaces that pad a number that shrank to its old length */
static void verify_counter(const char *key, const unsigned char *v, size_t n)
{
    size_t digits = 0;
    while (digits < n && v[digits] >= '0' && v[digits] <= '9') digits++;
    bool ok = digits >= 1 && digits <= 20;
    for (size_t i = digits; ok && i < n; i++) ok = v[i] == ' ';
    if (!ok) note_corrupt(key, n, 0);
}

typedef struct mget_ctx {
    unsigned base;
} mget_ctx_t;

static void mget_cb(void *ctx, const char *key, size_t nkey, const void *value, size_t nvalue,
                    uint32_t flags, uint64_t cas)
{
    (void)ctx, (void)flags, (void)cas;
    char k[32];
    snprintf(k, sizeof k, "%.*s", (int)nkey, key);
    verify(k, (unsigned)atoi(k + 2), value, nvalue);
}

typedef struct thread_state {
    uint64_t rnd;
    unsigned writer;
    uint32_t seq;
    unsigned char *buf;
    size_t cap;
} thread_state_t;

static uint64_t rnd(thread_state_t *t)
{
    t->rnd = record_mix(t->rnd);
    return t->rnd;
}

static void one_op(thread_state_t *t)
{
    unsigned k = (unsigned)(rnd(t) % NKEYS);
    char key[32], ctr[32];
    size_t nkey = (size_t)snprintf(key, sizeof key, "k:%u", k);
    size_t nctr = (size_t)snprintf(ctr, sizeof ctr, "c:%u", (unsigned)(rnd(t) % NCOUNTERS));
    unsigned op = (unsigned)(rnd(t) % 1000);
    unsigned char rec[SET_MAX];
    size_t n = 0;
    uint64_t cas = 0, result;
    uint32_t flags;
    shmc_rc rc;

    if (op < 300) { /* get */
        rc = shmc_get(cache, key, nkey, t->buf, t->cap, &n, &flags, &cas);
        if (rc == SHMC_OK) verify(key, k, t->buf, n);
        else if (rc != SHMC_NOT_FOUND) note_error("get", key, rc);
    } else if (op < 450) { /* set */
        size_t len = set_min + rnd(t) % (set_max - set_min + 1);
        record_make(rec, len, k, t->writer, ++t->seq);
        rc = shmc_set(cache, key, nkey, rec, len, t->writer, 0);
        if (rc != SHMC_OK) note_error("set", key, rc);
    } else if (op < 530) { /* add / replace */
        size_t len = RECORD_MIN + rnd(t) % 512;
        record_make(rec, len, k, t->writer, ++t->seq);
        rc = op < 490 ? shmc_add(cache, key, nkey, rec, len, 0, 0) : shmc_replace(cache, key, nkey, rec, len, 0, 0);
        if (rc != SHMC_OK && rc != SHMC_NOT_STORED) note_error("add/replace", key, rc);
    } else if (op < 610) { /* append / prepend */
        size_t len = RECORD_MIN + rnd(t) % (PIECE_MAX - RECORD_MIN + 1);
        record_make(rec, len, k, t->writer, ++t->seq);
        rc = op < 570 ? shmc_append(cache, key, nkey, rec, len, 0, 0) : shmc_prepend(cache, key, nkey, rec, len, 0, 0);
        if (rc != SHMC_OK && rc != SHMC_NOT_STORED && rc != SHMC_TOO_LARGE) note_error("append/prepend", key, rc);
    } else if (op < 670 && op >= 645) { /* the meta calls: fetch with options, then an
                                          * invalidation or a cas store (stale when older) */
        shmc_item_meta m;
        shmc_get_opts go = {.what = op & 1 ? SHMC_GET_RECACHE : SHMC_GET_TOUCH, .recache = 200000};
        rc = shmc_get_meta(cache, key, nkey, &go, t->buf, t->cap, &n, &m);
        if (rc == SHMC_OK) {
            verify(key, k, t->buf, n);
            if (op % 3 == 0) {
                shmc_delete_opts d = {.what = SHMC_DELETE_INVALIDATE | SHMC_DELETE_CAS, .cas = m.cas};
                rc = shmc_delete_meta(cache, key, nkey, &d);
                if (rc != SHMC_OK && rc != SHMC_EXISTS && rc != SHMC_NOT_FOUND) note_error("invalidate", key, rc);
            } else {
                size_t len = RECORD_MIN + rnd(t) % 512;
                record_make(rec, len, k, t->writer, ++t->seq);
                shmc_store_opts so = {.what = SHMC_STORE_CAS | SHMC_STORE_INVALIDATE, .cas = m.cas - (op & 1)};
                uint64_t stored = 0;
                rc = shmc_store_meta(cache, SHMC_MODE_SET, key, nkey, rec, len, 0, 0, &so, &stored);
                if (rc == SHMC_OK && !stored) note_error("store_meta cas", key, rc);
                if (rc != SHMC_OK && rc != SHMC_EXISTS && rc != SHMC_NOT_FOUND) note_error("store_meta", key, rc);
            }
        } else if (rc != SHMC_NOT_FOUND) {
            note_error("get_meta", key, rc);
        }
    } else if (op < 670) { /* gets + cas */
        rc = shmc_get(cache, key, nkey, t->buf, t->cap, &n, &flags, &cas);
        if (rc == SHMC_OK) {
            verify(key, k, t->buf, n);
            size_t len = RECORD_MIN + rnd(t) % 512;
            record_make(rec, len, k, t->writer, ++t->seq);
            rc = shmc_cas(cache, key, nkey, rec, len, 0, 0, cas);
            if (rc != SHMC_OK && rc != SHMC_EXISTS && rc != SHMC_NOT_FOUND) note_error("cas", key, rc);
        }
    } else if (op < 730) { /* delete */
        rc = shmc_delete(cache, key, nkey);
        if (rc != SHMC_OK && rc != SHMC_NOT_FOUND) note_error("delete", key, rc);
    } else if (op < 830) { /* incr / decr on the counters */
        if (op < 815) {
            rc = op < 800 ? shmc_incr(cache, ctr, nctr, 1 + rnd(t) % 5, &result)
                          : shmc_decr(cache, ctr, nctr, 1, &result);
            if (rc == SHMC_NOT_FOUND) rc = shmc_add(cache, ctr, nctr, "0", 1, 0, 0);
        } else { /* ma with N: created on a miss, under the same lock */
            shmc_arith_opts ao = {.what = SHMC_ARITH_VIVIFY, .initial = 0};
            rc = shmc_arith_meta(cache, ctr, nctr, op & 1, 1, &ao, &result, NULL);
        }
        if (rc != SHMC_OK && rc != SHMC_NOT_STORED) note_error("incr/decr", ctr, rc);
        rc = shmc_get(cache, ctr, nctr, t->buf, t->cap, &n, NULL, NULL);
        if (rc == SHMC_OK) verify_counter(ctr, t->buf, n);
    } else if (op < 880) { /* touch / gat */
        if (op < 850) {
            rc = shmc_touch(cache, key, nkey, (int64_t)(rnd(t) % 2) * 100000);
            if (rc != SHMC_OK && rc != SHMC_NOT_FOUND) note_error("touch", key, rc);
        } else {
            rc = shmc_gat(cache, key, nkey, 0, t->buf, t->cap, &n, NULL, NULL);
            if (rc == SHMC_OK) verify(key, k, t->buf, n);
            else if (rc != SHMC_NOT_FOUND) note_error("gat", key, rc);
        }
    } else if (op < 990) { /* multi-get of 4 keys */
        char keys[4][32];
        const char *kp[4];
        size_t kn[4];
        for (int i = 0; i < 4; i++) {
            kn[i] = (size_t)snprintf(keys[i], sizeof keys[i], "k:%u", (unsigned)((k + (unsigned)i * 7) % NKEYS));
            kp[i] = keys[i];
        }
        rc = shmc_mget(cache, kp, kn, 4, mget_cb, NULL);
        if (rc != SHMC_OK) note_error("mget", key, rc);
    } else if (op < 998) { /* a value over the limit: refused, the old one removed */
        rc = shmc_set(cache, key, nkey, t->buf, item_size_max + 1, 0, 0);
        if (rc != SHMC_TOO_LARGE) note_error("set too large", key, rc);
    } else {
        rc = shmc_flush_all(cache, 0);
        if (rc != SHMC_OK) note_error("flush_all", key, rc);
    }
}

static void *worker(void *arg)
{
    thread_state_t *t = arg;
    while (!stopping) {
        uint64_t t0 = now_ns();
        one_op(t);
        uint64_t took = now_ns() - t0;
        uint64_t worst = atomic_load_explicit(&mon->worst_op_ns, memory_order_relaxed);
        while (took > worst && !atomic_compare_exchange_weak(&mon->worst_op_ns, &worst, took)) {}
        atomic_fetch_add_explicit(&mon->ops, 1, memory_order_relaxed);
    }
    return NULL;
}

static void on_term(int sig)
{
    (void)sig;
    stopping = 1;
}

int main(int argc, char **argv)
{
    if (argc != 5) {
        fprintf(stderr, "usage: torture_worker CACHE MONITOR THREADS SEED\n");
        return 2;
    }
    int nthreads = atoi(argv[3]);
    uint64_t seed = strtoull(argv[4], NULL, 10);
    if (nthreads < 1 || nthreads > 64) return 2;
    if (nice(5) < 0) {} /* the killer must get the CPU when it wants it, not the victims */
    struct sigaction sa = {.sa_handler = on_term};
    sigaction(SIGTERM, &sa, NULL);

    int fd = open(argv[2], O_RDWR | O_CLOEXEC);
    if (fd < 0) return perror("monitor"), 2;
    mon = mmap(NULL, sizeof *mon, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd);
    if (mon == MAP_FAILED) return perror("mmap monitor"), 2;

    shmc_rc rc = shmc_open(&cache, argv[1], NULL);
    if (rc != SHMC_OK) {
        fprintf(stderr, "torture_worker: open: %s (%s)\n", shmc_strerror(rc), shmc_last_error());
        atomic_fetch_add(&mon->errors, 1);
        return 1;
    }
    shmc_stats_t st;
    shmc_stats(cache, &st);
    item_size_max = st.item_size_max;
    if (getenv("SHMC_TORTURE_SMALL")) {
        set_min = 200;
        set_max = 900;
    }

    pthread_t tids[64];
    thread_state_t ts[64];
    for (int i = 0; i < nthreads; i++) {
        ts[i].rnd = record_mix(seed * 64 + (uint64_t)i);
        ts[i].writer = (unsigned)((seed * 64 + (uint64_t)i) & 0xff);
        ts[i].seq = 0;
        ts[i].cap = item_size_max + 1;
        ts[i].buf = calloc(1, ts[i].cap);
        if (!ts[i].buf || pthread_create(&tids[i], NULL, worker, &ts[i]) != 0) return 2;
    }
    atomic_fetch_add(&mon->ready, 1);
    for (int i = 0; i < nthreads; i++) {
        pthread_join(tids[i], NULL);
        free(ts[i].buf);
    }
    shmc_close(cache);
    return 0;
}
