/* test_resize.c — shmc_resize and shmc_remove (src/api/resize.c) with users attached.
 *  - writers and a reader in separate processes run through two resizes; afterwards every
 *    item is checked one for one: the first items with their flags, cas and remaining TTL,
 *    every write a writer saw succeed with its value, each writer's overwritten key with its
 *    last value; the reader never saw a miss or a wrong value;
 *  - a handle of this process follows by itself: gets, sets, stats and walk after a resize
 *    see the new cache, and a fresh open sees what the old handle wrote (no split);
 *  - shmc_remove with users attached: their calls fail with SHMC_REMOVED, a new cache can be
 *    made under the name, and then they use it;
 *  - threads of this process sharing one handle through two resizes: each follows (one of
 *    them swaps the handle's state while the others are in calls), and every write it saw
 *    succeed is in the cache afterwards;
 *  - a plain unlink under a handle of this process: a new cache under the name is refused
 *    (the in-process split). */
#include "testutil.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>

#define FIRST 3000          /* items set before the resizes */
#define WRITERS 2
#define WRITES_MAX 20000    /* per writer: everything fits, nothing is evicted */
#define WAIT_S 120          /* generous: a loaded 2-core machine under TSan */

struct shared {
    _Atomic int stop;
    _Atomic long acked[WRITERS];   /* writer w's sets 0..acked-1 succeeded */
    _Atomic long reads, read_errors, write_errors;
    _Atomic long follows_seen;     /* the reader saw the new memory limit in its stats */
};
static struct shared *sh;
static const char *cache;

static void first_key(int i, char *k, size_t n) { snprintf(k, n, "first-%d", i); }

static void writer(int w)
{
    shmc_t *c;
    if (shmc_open(&c, cache, NULL) != SHMC_OK) _exit(2);
    char k[64], v[64];
    /* a new key per write up to WRITES_MAX, then only the overwritten ones */
    for (long n = 0; !atomic_load(&sh->stop); n++) {
        snprintf(k, sizeof k, "w%d-%ld", w, n);
        snprintf(v, sizeof v, "value %d %ld", w, n);
        shmc_rc rc = n < WRITES_MAX ? shmc_set(c, k, strlen(k), v, strlen(v), (uint32_t)n, 0) : SHMC_OK;
        if (rc == SHMC_OK) rc = shmc_set(c, "hot", 3, v, strlen(v), 0, 0) == SHMC_OK ? SHMC_OK : rc;
        snprintf(k, sizeof k, "hot-%d", w);
        if (rc == SHMC_OK) rc = shmc_set(c, k, strlen(k), v, strlen(v), 0, 0);
        if (rc != SHMC_OK) {
            fprintf(stderr, "writer %d: set %ld: %s: %s\n", w, n, shmc_strerror(rc), shmc_last_error());
            atomic_fetch_add(&sh->write_errors, 1);
            break;
        }
        atomic_store(&sh->acked[w], n + 1);
    }
    shmc_close(c);
    _exit(0);
}

static void reader(uint64_t new_limit)
{
    shmc_t *c;
    if (shmc_open(&c, cache, NULL) != SHMC_OK) _exit(2);
    char k[64], want[64], buf[64];
    for (unsigned i = 0; !atomic_load(&sh->stop); i = (i * 7 + 13) % FIRST) {
        first_key((int)i, k, sizeof k);
        snprintf(want, sizeof want, "first value %u", i);
        size_t n = 0;
        uint32_t flags = 0;
        shmc_rc rc = shmc_get(c, k, strlen(k), buf, sizeof buf, &n, &flags, NULL);
        if (rc != SHMC_OK || n != strlen(want) || memcmp(buf, want, n) || flags != i) {
            fprintf(stderr, "reader: get %s: %s\n", k, shmc_strerror(rc));
            atomic_fetch_add(&sh->read_errors, 1);
        }
        long r = atomic_fetch_add(&sh->reads, 1);
        if (r % 512 == 0) {
            shmc_stats_t s;
            if (shmc_stats(c, &s) == SHMC_OK && s.limit_maxbytes == new_limit)
                atomic_store(&sh->follows_seen, 1);
        }
    }
    shmc_close(c);
    _exit(0);
}

static bool wait_until(bool (*cond)(long), long arg)
{
    for (int i = 0; i < WAIT_S * 100; i++) {
        if (cond(arg)) return true;
        usleep(10000);
    }
    return false;
}

static bool writers_past(long n)
{
    for (int w = 0; w < WRITERS; w++)
        if (atomic_load(&sh->acked[w]) < n) return false;
    return true;
}

static bool reads_past(long n) { return atomic_load(&sh->reads) >= n; }

static void test_processes(void)
{
    cache = t_path("procs");
    shmc_config cfg;
    shmc_config_init(&cfg);
    cfg.memory_limit = 8u << 20;
    shmc_t *c;
    CHECK_RC(shmc_open(&c, cache, &cfg), SHMC_OK);
    uint64_t cas[FIRST];
    char k[64], v[64];
    for (int i = 0; i < FIRST; i++) {
        first_key(i, k, sizeof k);
        snprintf(v, sizeof v, "first value %d", i);
        /* a third never expire, a third in an hour, a third in a day */
        int64_t ttl = i % 3 == 0 ? 0 : i % 3 == 1 ? 3600 : 86400;
        CHECK_RC(shmc_set(c, k, strlen(k), v, strlen(v), (uint32_t)i, ttl), SHMC_OK);
        size_t n;
        CHECK_RC(shmc_get(c, k, strlen(k), v, sizeof v, &n, NULL, &cas[i]), SHMC_OK);
    }
    shmc_close(c);

    pid_t pids[WRITERS + 1];
    for (int w = 0; w < WRITERS; w++)
        if ((pids[w] = fork()) == 0) writer(w);
    if ((pids[WRITERS] = fork()) == 0) reader(12u << 20);

    CHECK(wait_until(writers_past, 300) && wait_until(reads_past, 300));
    shmc_resize_info info;
    CHECK_RC(shmc_resize(cache, 16u << 20, 0, &info), SHMC_OK);
    CHECK(info.items >= FIRST && info.too_large == 0 && info.evicted == 0);
    printf("resize 1: %llu items copied, writers waited %llu us\n",
           (unsigned long long)info.items, (unsigned long long)info.frozen_us);
    long after1 = 0;
    for (int w = 0; w < WRITERS; w++) after1 = atomic_load(&sh->acked[w]) > after1 ? atomic_load(&sh->acked[w]) : after1;
    CHECK(wait_until(writers_past, after1 + 300));
    CHECK_RC(shmc_resize(cache, 12u << 20, 0, &info), SHMC_OK);
    CHECK(info.items >= FIRST && info.evicted == 0);
    printf("resize 2: %llu items copied, writers waited %llu us\n",
           (unsigned long long)info.items, (unsigned long long)info.frozen_us);
    long after2 = 0;
    for (int w = 0; w < WRITERS; w++) after2 = atomic_load(&sh->acked[w]) > after2 ? atomic_load(&sh->acked[w]) : after2;
    long reads2 = atomic_load(&sh->reads);
    CHECK(wait_until(writers_past, after2 + 300) && wait_until(reads_past, reads2 + 2000));
    atomic_store(&sh->stop, 1);
    for (int i = 0; i <= WRITERS; i++) {
        int st;
        CHECK(waitpid(pids[i], &st, 0) == pids[i] && WIFEXITED(st) && WEXITSTATUS(st) == 0);
    }
    CHECK(atomic_load(&sh->read_errors) == 0);
    CHECK(atomic_load(&sh->write_errors) == 0);
    CHECK(atomic_load(&sh->follows_seen) == 1);

    /* one for one */
    CHECK_RC(shmc_open(&c, cache, NULL), SHMC_OK);
    shmc_stats_t s;
    CHECK_RC(shmc_stats(c, &s), SHMC_OK);
    CHECK(s.limit_maxbytes == 12u << 20);
    int bad = 0;
    for (int i = 0; i < FIRST; i++) {
        char want[64], buf[64];
        first_key(i, k, sizeof k);
        snprintf(want, sizeof want, "first value %d", i);
        shmc_item_meta m;
        size_t n = 0;
        shmc_rc rc = shmc_get_meta(c, k, strlen(k), NULL, buf, sizeof buf, &n, &m);
        int64_t ttl = i % 3 == 0 ? -1 : i % 3 == 1 ? 3600 : 86400;
        bool ttl_ok = ttl < 0 ? m.ttl == -1 : m.ttl <= ttl && m.ttl >= ttl - WAIT_S * 3;
        if (rc != SHMC_OK || n != strlen(want) || memcmp(buf, want, n) || m.flags != (uint32_t)i ||
            m.cas != cas[i] || !ttl_ok) {
            if (bad++ < 5)
                fprintf(stderr, "FAIL first %d: %s n=%zu flags=%u cas=%llu/%llu ttl=%lld\n", i,
                        shmc_strerror(rc), n, m.flags, (unsigned long long)m.cas,
                        (unsigned long long)cas[i], (long long)m.ttl);
        }
    }
    CHECK(bad == 0);
    bad = 0;
    long total = 0;
    for (int w = 0; w < WRITERS; w++) {
        long acked = atomic_load(&sh->acked[w]);
        total += acked < WRITES_MAX ? acked : WRITES_MAX;
        for (long n = 0; n < acked && n < WRITES_MAX; n++) {
            char want[64], buf[64];
            snprintf(k, sizeof k, "w%d-%ld", w, n);
            snprintf(want, sizeof want, "value %d %ld", w, n);
            size_t nv = 0;
            uint32_t flags;
            shmc_rc rc = shmc_get(c, k, strlen(k), buf, sizeof buf, &nv, &flags, NULL);
            if (rc != SHMC_OK || nv != strlen(want) || memcmp(buf, want, nv) || flags != (uint32_t)n)
                if (bad++ < 5) fprintf(stderr, "FAIL %s: %s\n", k, shmc_strerror(rc));
        }
        char want[64], buf[64];
        snprintf(k, sizeof k, "hot-%d", w);
        snprintf(want, sizeof want, "value %d %ld", w, acked - 1);
        size_t nv = 0;
        shmc_rc rc = shmc_get(c, k, strlen(k), buf, sizeof buf, &nv, NULL, NULL);
        if (rc != SHMC_OK || nv != strlen(want) || memcmp(buf, want, nv)) {
            bad++;
            fprintf(stderr, "FAIL %s: %s, want '%s'\n", k, shmc_strerror(rc), want);
        }
    }
    CHECK(bad == 0);
    printf("checked %d first items and %ld writes one for one\n", FIRST, total);
    /* cas values keep rising in the new cache */
    CHECK_RC(shmc_set(c, "after", 5, "x", 1, 0, 0), SHMC_OK);
    uint64_t after_cas;
    size_t n;
    char buf[8];
    CHECK_RC(shmc_get(c, "after", 5, buf, sizeof buf, &n, NULL, &after_cas), SHMC_OK);
    bool above = true;
    for (int i = 0; i < FIRST; i++) above &= after_cas > cas[i];
    CHECK(above);
    shmc_close(c);
    t_check_file(cache);
}

static int count_cb(void *arg, const char *key, size_t nkey, const void *value, size_t nvalue,
                    const shmc_item_meta *m)
{
    (void)key, (void)nkey, (void)value, (void)nvalue, (void)m;
    (*(int *)arg)++;
    return 0;
}

static void test_this_process(void)
{
    const char *p = t_path("self");
    shmc_config cfg;
    shmc_config_init(&cfg);
    cfg.memory_limit = 2u << 20;
    shmc_t *c, *d;
    CHECK_RC(shmc_open(&c, p, &cfg), SHMC_OK);
    CHECK_RC(shmc_set(c, "a", 1, "1", 1, 5, 0), SHMC_OK);
    CHECK_RC(shmc_resize(p, 4u << 20, 64u << 10, NULL), SHMC_OK);
    char buf[16];
    size_t n;
    uint32_t flags;
    CHECK_RC(shmc_get(c, "a", 1, buf, sizeof buf, &n, &flags, NULL), SHMC_OK);
    CHECK(n == 1 && buf[0] == '1' && flags == 5);
    shmc_stats_t s;
    CHECK_RC(shmc_stats(c, &s), SHMC_OK);
    CHECK(s.limit_maxbytes == 4u << 20 && s.item_size_max == 64u << 10);
    CHECK_RC(shmc_set(c, "b", 1, "2", 1, 0, 0), SHMC_OK);
    CHECK_RC(shmc_resize(p, 3u << 20, 0, NULL), SHMC_OK);
    /* the fetched mark moves with the item ("a" was read, "b" not) */
    shmc_get_opts peek = {.what = SHMC_GET_NO_BUMP};
    shmc_item_meta m;
    CHECK_RC(shmc_get_meta(c, "a", 1, &peek, buf, sizeof buf, &n, &m), SHMC_OK);
    CHECK(m.fetched == 1);
    CHECK_RC(shmc_get_meta(c, "b", 1, &peek, buf, sizeof buf, &n, &m), SHMC_OK);
    CHECK(m.fetched == 0);
    uint64_t v;
    CHECK_RC(shmc_set(c, "n", 1, "41", 2, 0, 0), SHMC_OK);
    CHECK_RC(shmc_resize(p, 5u << 20, 0, NULL), SHMC_OK);
    CHECK_RC(shmc_incr(c, "n", 1, 1, &v), SHMC_OK);
    CHECK(v == 42);
    CHECK_RC(shmc_resize(p, 4u << 20, 0, NULL), SHMC_OK);
    int items = 0;
    CHECK_RC(shmc_walk(c, count_cb, &items), SHMC_OK);
    CHECK(items == 3);
    CHECK_RC(shmc_resize(p, 4u << 20, 0, NULL), SHMC_OK);
    CHECK_RC(shmc_flush_all(c, 0), SHMC_OK);
    CHECK_RC(shmc_set(c, "c", 1, "3", 1, 0, 0), SHMC_OK);
    /* a fresh handle sees what the followed one wrote: one cache */
    CHECK_RC(shmc_open(&d, p, NULL), SHMC_OK);
    CHECK_RC(shmc_get(d, "c", 1, buf, sizeof buf, &n, NULL, NULL), SHMC_OK);
    t_expect_missing_at(__FILE__, __LINE__, d, "a");
    CHECK_RC(shmc_stats(d, &s), SHMC_OK);
    CHECK(s.limit_maxbytes == 4u << 20);
    /* too small an item limit leaves the value out, and says so */
    char big[2000];
    memset(big, 'x', sizeof big);
    CHECK_RC(shmc_set(d, "big", 3, big, sizeof big, 0, 0), SHMC_OK);
    shmc_resize_info info;
    CHECK_RC(shmc_resize(p, 0, 1024, &info), SHMC_OK);
    CHECK(info.too_large == 1 && info.items == 1);
    t_expect_missing_at(__FILE__, __LINE__, c, "big");
    CHECK_RC(shmc_get(c, "c", 1, buf, sizeof buf, &n, NULL, NULL), SHMC_OK);
    CHECK_RC(shmc_resize(t_path("none"), 4u << 20, 0, NULL), SHMC_NOT_FOUND);
    CHECK_RC(shmc_resize(p, 100, 0, NULL), SHMC_INVALID); /* below the smallest cache */
    CHECK_RC(shmc_get(c, "c", 1, buf, sizeof buf, &n, NULL, NULL), SHMC_OK);
    shmc_close(d);
    shmc_close(c);
    t_check_file(p);
}

static void test_remove(void)
{
    const char *p = t_path("rm");
    shmc_t *c, *d;
    CHECK_RC(shmc_open(&c, p, NULL), SHMC_OK);
    CHECK_RC(shmc_set(c, "a", 1, "1", 1, 0, 0), SHMC_OK);
    /* a user in another process too */
    int to_child[2], from_child[2];
    CHECK(pipe(to_child) == 0 && pipe(from_child) == 0);
    pid_t pid = fork();
    if (pid == 0) {
        shmc_t *u;
        char x, buf[8];
        size_t n;
        if (shmc_open(&u, p, NULL) != SHMC_OK) _exit(2);
        if (write(from_child[1], "r", 1) != 1) _exit(2);       /* attached */
        if (read(to_child[0], &x, 1) != 1) _exit(2);           /* removed */
        shmc_rc rc = shmc_get(u, "a", 1, buf, sizeof buf, &n, NULL, NULL);
        shmc_rc rc2 = shmc_set(u, "z", 1, "9", 1, 0, 0);
        x = rc == SHMC_REMOVED && rc2 == SHMC_REMOVED ? 'y' : 'n';
        if (write(from_child[1], &x, 1) != 1) _exit(2);
        if (read(to_child[0], &x, 1) != 1) _exit(2);           /* a new cache exists */
        rc = shmc_set(u, "from-child", 10, "1", 1, 0, 0);
        shmc_close(u);
        _exit(rc == SHMC_OK ? 0 : 3);
    }
    char x = 0;
    CHECK(read(from_child[0], &x, 1) == 1 && x == 'r');
    CHECK_RC(shmc_remove(p), SHMC_OK);
    CHECK(access(p, F_OK) != 0);
    char buf[8];
    size_t n;
    CHECK_RC(shmc_get(c, "a", 1, buf, sizeof buf, &n, NULL, NULL), SHMC_REMOVED);
    CHECK(strstr(shmc_last_error(), "removed") != NULL);
    CHECK_RC(shmc_set(c, "a", 1, "2", 1, 0, 0), SHMC_REMOVED);
    CHECK(write(to_child[1], "g", 1) == 1);
    CHECK(read(from_child[0], &x, 1) == 1 && x == 'y');
    CHECK_RC(shmc_remove(p), SHMC_NOT_FOUND);
    /* the users were told: a new cache under the name splits nobody */
    shmc_config cfg;
    shmc_config_init(&cfg);
    cfg.flags = SHMC_OPEN_CREATE;
    cfg.memory_limit = 2u << 20;
    CHECK_RC(shmc_open(&d, p, &cfg), SHMC_OK);
    CHECK(write(to_child[1], "n", 1) == 1);
    int st;
    CHECK(waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0);
    CHECK_RC(shmc_set(c, "b", 1, "2", 1, 0, 0), SHMC_OK); /* the old handle follows */
    CHECK_RC(shmc_get(d, "b", 1, buf, sizeof buf, &n, NULL, NULL), SHMC_OK);
    CHECK_RC(shmc_get(d, "from-child", 10, buf, sizeof buf, &n, NULL, NULL), SHMC_OK);
    t_expect_missing_at(__FILE__, __LINE__, d, "a");
    shmc_close(d);
    shmc_close(c);
    for (int i = 0; i < 2; i++) close(to_child[i]), close(from_child[i]);

    /* a plain unlink under this process's own handle: no second cache under the name */
    const char *q = t_path("plain");
    CHECK_RC(shmc_open(&c, q, NULL), SHMC_OK);
    CHECK(unlink(q) == 0);
    CHECK_RC(shmc_open(&d, q, NULL), SHMC_BAD_FILE);
    CHECK(strstr(shmc_last_error(), "this one") != NULL);
    CHECK(access(q, F_OK) != 0);
    shmc_close(c);
    CHECK_RC(shmc_open(&d, q, NULL), SHMC_OK); /* closed: now it may */
    shmc_close(d);
}

#define THREADS 4
static shmc_t *shared_handle;
static _Atomic long thread_acked[THREADS];
static _Atomic int threads_stop, thread_errors;

static void *thread_writer(void *arg)
{
    int t = (int)(intptr_t)arg;
    char k[32], v[32], buf[32];
    /* a new key per write up to WRITES_MAX (all fit: nothing is evicted), then one key */
    for (long n = 0; !atomic_load(&threads_stop); n++) {
        if (n < WRITES_MAX) snprintf(k, sizeof k, "t%d-%ld", t, n);
        else snprintf(k, sizeof k, "t%d-last", t);
        snprintf(v, sizeof v, "%ld", n);
        size_t nv;
        if (shmc_set(shared_handle, k, strlen(k), v, strlen(v), 0, 0) != SHMC_OK ||
            shmc_get(shared_handle, k, strlen(k), buf, sizeof buf, &nv, NULL, NULL) != SHMC_OK ||
            nv != strlen(v) || memcmp(buf, v, nv)) {
            atomic_fetch_add(&thread_errors, 1);
            break;
        }
        atomic_store(&thread_acked[t], n + 1);
    }
    return NULL;
}

static bool threads_past(long n)
{
    for (int t = 0; t < THREADS; t++)
        if (atomic_load(&thread_acked[t]) < n) return false;
    return true;
}

static void test_threads(void)
{
    const char *p = t_path("threads");
    shmc_config cfg;
    shmc_config_init(&cfg);
    cfg.memory_limit = 16u << 20;
    CHECK_RC(shmc_open(&shared_handle, p, &cfg), SHMC_OK);
    pthread_t th[THREADS];
    for (int t = 0; t < THREADS; t++)
        CHECK(pthread_create(&th[t], NULL, thread_writer, (void *)(intptr_t)t) == 0);
    long mark = 200;
    for (int round = 0; round < 2; round++) {
        CHECK(wait_until(threads_past, mark));
        CHECK_RC(shmc_resize(p, round ? 16u << 20 : 24u << 20, 0, NULL), SHMC_OK);
        mark = 0;
        for (int t = 0; t < THREADS; t++)
            if (atomic_load(&thread_acked[t]) > mark) mark = atomic_load(&thread_acked[t]);
        mark += 200;
    }
    CHECK(wait_until(threads_past, mark));
    atomic_store(&threads_stop, 1);
    for (int t = 0; t < THREADS; t++) pthread_join(th[t], NULL);
    CHECK(atomic_load(&thread_errors) == 0);
    shmc_close(shared_handle);
    shmc_t *c;
    CHECK_RC(shmc_open(&c, p, NULL), SHMC_OK);
    int bad = 0;
    for (int t = 0; t < THREADS; t++)
        for (long n = 0; n < atomic_load(&thread_acked[t]) && n < WRITES_MAX; n++) {
            char k[32], v[32], buf[32];
            snprintf(k, sizeof k, "t%d-%ld", t, n);
            snprintf(v, sizeof v, "%ld", n);
            size_t nv;
            if (shmc_get(c, k, strlen(k), buf, sizeof buf, &nv, NULL, NULL) != SHMC_OK ||
                nv != strlen(v) || memcmp(buf, v, nv))
                bad++;
        }
    for (int t = 0; t < THREADS; t++) { /* the last overwrite of each thread is there */
        long acked = atomic_load(&thread_acked[t]);
        char k[32], v[32], buf[32];
        size_t nv;
        snprintf(k, sizeof k, "t%d-last", t);
        snprintf(v, sizeof v, "%ld", acked - 1);
        if (acked > WRITES_MAX && (shmc_get(c, k, strlen(k), buf, sizeof buf, &nv, NULL, NULL) != SHMC_OK ||
                                   nv != strlen(v) || memcmp(buf, v, nv)))
            bad++;
    }
    shmc_stats_t s;
    CHECK_RC(shmc_stats(c, &s), SHMC_OK);
    printf("threads: %ld %ld %ld %ld writes, %d missing, %llu evictions\n", (long)thread_acked[0],
           (long)thread_acked[1], (long)thread_acked[2], (long)thread_acked[3], bad,
           (unsigned long long)s.evictions);
    CHECK(bad == 0 && s.evictions == 0);
    CHECK(s.limit_maxbytes == 16u << 20);
    shmc_close(c);
}

int main(void)
{
    t_setup("resize");
    sh = mmap(NULL, sizeof *sh, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (sh == MAP_FAILED) return 2;
    test_this_process();
    test_remove();
    test_threads();
    test_processes();
    return t_finish();
}
