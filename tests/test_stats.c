/* test_stats.c — memcached's counters move exactly as memcached's would for a scripted
 * sequence of commands (cmd_*, *_hits/misses, cas_badval, get_expired/flushed, curr_items,
 * total_items, bytes, limit_maxbytes, connections), and are summed over every thread and
 * every process that used the cache, including one killed without closing. */
#include "testutil.h"

#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/wait.h>
#include <time.h>

static shmc_t *cache;
static shmc_config cfg;

static shmc_stats_t snap(shmc_t *c)
{
    shmc_stats_t st;
    memset(&st, 0, sizeof st);
    shmc_rc rc = shmc_stats(c, &st);
    if (rc != SHMC_OK) {
        t_failed++;
        fprintf(stderr, "FAIL shmc_stats -> %s\n", shmc_strerror(rc));
    }
    return st;
}

/* Every command counter, by name, so a step can say which ones move and by how much; all
 * the others must stay put. */
static const struct {
    const char *name;
    size_t off;
} counters[] = {
#define F(x) {#x, offsetof(shmc_stats_t, x)}
    F(cmd_get),       F(cmd_set),       F(cmd_touch),    F(cmd_flush),     F(get_hits),
    F(get_misses),    F(get_expired),   F(get_flushed),  F(delete_hits),   F(delete_misses),
    F(incr_hits),     F(incr_misses),   F(decr_hits),    F(decr_misses),   F(cas_hits),
    F(cas_misses),    F(cas_badval),    F(touch_hits),   F(touch_misses),
#undef F
};
#define NCOUNTERS (sizeof counters / sizeof counters[0])

static uint64_t field(const shmc_stats_t *st, size_t off)
{
    return *(const uint64_t *)((const char *)st + off);
}

/* After a step, each named counter moved by its delta and every other counter stayed.
 * `moves` is "name=delta name=delta ...". */
static void expect_moves_at(int line, const char *step, const shmc_stats_t *before,
                            const shmc_stats_t *after, const char *moves)
{
    for (size_t i = 0; i < NCOUNTERS; i++) {
        uint64_t want = 0;
        const char *p = moves;
        size_t nl = strlen(counters[i].name);
        while ((p = strstr(p, counters[i].name)) != NULL) {
            int starts = p == moves || p[-1] == ' ';
            if (starts && p[nl] == '=') {
                want = strtoull(p + nl + 1, NULL, 10);
                break;
            }
            p += nl;
        }
        uint64_t got = field(after, counters[i].off) - field(before, counters[i].off);
        if (got == want) {
            t_passed++;
        } else {
            t_failed++;
            fprintf(stderr, "FAIL %s:%d: after %s: %s moved by %" PRId64 ", want %" PRIu64 "\n",
                    __FILE__, line, step, counters[i].name, (int64_t)got, want);
        }
    }
}
#define STEP(step_name, moves, ...)                                                       \
    do {                                                                                  \
        shmc_stats_t b_ = snap(cache);                                                    \
        __VA_ARGS__;                                                                      \
        shmc_stats_t a_ = snap(cache);                                                    \
        expect_moves_at(__LINE__, step_name, &b_, &a_, moves);                            \
    } while (0)

static void cb_ignore(void *ctx, const char *key, size_t nkey, const void *value, size_t nvalue,
                      uint32_t flags, uint64_t cas)
{
    (void)key; (void)nkey; (void)value; (void)nvalue; (void)flags; (void)cas;
    ++*(int *)ctx;
}

static uint64_t cas_of(const char *key)
{
    char buf[256];
    size_t n;
    uint64_t cas = 0;
    shmc_get(cache, key, strlen(key), buf, sizeof buf, &n, NULL, &cas);
    return cas;
}

static void test_fresh_cache(void)
{
    shmc_stats_t st = snap(cache);
    CHECK(st.curr_items == 0);
    CHECK(st.total_items == 0);
    CHECK(st.bytes == 0);
    CHECK(st.limit_maxbytes == cfg.memory_limit);
    CHECK(st.item_size_max == cfg.item_size_max);
    CHECK(st.curr_connections == 1);
    CHECK(st.total_connections == 1);
    CHECK(st.hash_buckets > 0 && st.segments > 0 && st.segment_size > 0);
    CHECK(st.segments_free <= st.segments);
    uint64_t now = (uint64_t)time(NULL);
    CHECK(st.time + 5 >= now && st.time <= now + 5);
    CHECK(st.uptime <= 60);
    for (size_t i = 0; i < NCOUNTERS; i++) CHECK(field(&st, counters[i].off) == 0);
    CHECK(st.evictions == 0 && st.reclaimed == 0 && st.repairs == 0);
}

static void test_script(void)
{
    char buf[64];
    size_t n;
    int calls = 0;

    STEP("set a", "cmd_set=1", CHECK_RC(shmc_set(cache, "a", 1, "1", 1, 0, 0), SHMC_OK));
    STEP("set b", "cmd_set=1", CHECK_RC(shmc_set(cache, "b", 1, "hello", 5, 0, 0), SHMC_OK));
    shmc_stats_t st = snap(cache);
    CHECK(st.curr_items == 2);
    CHECK(st.total_items == 2);
    CHECK(st.bytes > 0);

    STEP("get hit", "cmd_get=1 get_hits=1",
         CHECK_RC(shmc_get(cache, "a", 1, buf, sizeof buf, &n, NULL, NULL), SHMC_OK));
    STEP("get miss", "cmd_get=1 get_misses=1",
         CHECK_RC(shmc_get(cache, "zz", 2, buf, sizeof buf, &n, NULL, NULL), SHMC_NOT_FOUND));
    STEP("get_alloc hit", "cmd_get=1 get_hits=1", {
        void *p = NULL;
        CHECK_RC(shmc_get_alloc(cache, "b", 1, &p, &n, NULL, NULL), SHMC_OK);
        free(p);
    });
    STEP("mget 2 hits 2 misses", "cmd_get=4 get_hits=2 get_misses=2", {
        const char *keys[] = {"a", "zz", "b", "yy"};
        size_t nkeys[] = {1, 2, 1, 2};
        CHECK_RC(shmc_mget(cache, keys, nkeys, 4, cb_ignore, &calls), SHMC_OK);
        CHECK(calls == 2);
    });
    /* refused calls count nothing, as memcached's CLIENT_ERROR lines */
    STEP("bad key get", "",
         CHECK_RC(shmc_get(cache, "a", 0, buf, sizeof buf, &n, NULL, NULL), SHMC_BAD_KEY));
    STEP("bad key set", "",
         CHECK_RC(shmc_set(cache, "", 0, "x", 1, 0, 0), SHMC_BAD_KEY));
    STEP("bad mget", "", {
        const char *keys[] = {"a", "b"};
        size_t nkeys[] = {1, SHMC_KEY_MAX + 1}; /* (too long: any bytes are a key) */
        CHECK_RC(shmc_mget(cache, keys, nkeys, 2, cb_ignore, &calls), SHMC_BAD_KEY);
    });

    /* every storage command counts in cmd_set, stored or not */
    STEP("add present", "cmd_set=1",
         CHECK_RC(shmc_add(cache, "a", 1, "x", 1, 0, 0), SHMC_NOT_STORED));
    STEP("add new", "cmd_set=1", CHECK_RC(shmc_add(cache, "c", 1, "x", 1, 0, 0), SHMC_OK));
    STEP("replace missing", "cmd_set=1",
         CHECK_RC(shmc_replace(cache, "zz", 2, "x", 1, 0, 0), SHMC_NOT_STORED));
    STEP("replace", "cmd_set=1", CHECK_RC(shmc_replace(cache, "c", 1, "y", 1, 0, 0), SHMC_OK));
    STEP("append missing", "cmd_set=1",
         CHECK_RC(shmc_append(cache, "zz", 2, "x", 1, 0, 0), SHMC_NOT_STORED));
    STEP("append", "cmd_set=1", CHECK_RC(shmc_append(cache, "c", 1, "z", 1, 0, 0), SHMC_OK));
    STEP("prepend", "cmd_set=1", CHECK_RC(shmc_prepend(cache, "c", 1, "w", 1, 0, 0), SHMC_OK));
    STEP("prepend missing", "cmd_set=1",
         CHECK_RC(shmc_prepend(cache, "zz", 2, "x", 1, 0, 0), SHMC_NOT_STORED));
    uint64_t cas = cas_of("c");
    STEP("cas missing", "cmd_set=1 cas_misses=1",
         CHECK_RC(shmc_cas(cache, "zz", 2, "x", 1, 0, 0, cas), SHMC_NOT_FOUND));
    STEP("cas hit", "cmd_set=1 cas_hits=1",
         CHECK_RC(shmc_cas(cache, "c", 1, "cas", 3, 0, 0, cas), SHMC_OK));
    STEP("cas badval", "cmd_set=1 cas_badval=1",
         CHECK_RC(shmc_cas(cache, "c", 1, "cas", 3, 0, 0, cas), SHMC_EXISTS));

    st = snap(cache);
    CHECK(st.curr_items == 3);
    /* a, b, c, and c again by replace, append, prepend and cas: every link of a new item */
    CHECK(st.total_items == 7);

    STEP("delete hit", "delete_hits=1", CHECK_RC(shmc_delete(cache, "c", 1), SHMC_OK));
    STEP("delete miss", "delete_misses=1", CHECK_RC(shmc_delete(cache, "c", 1), SHMC_NOT_FOUND));
    st = snap(cache);
    CHECK(st.curr_items == 2);
    CHECK(st.total_items == 7);

    STEP("incr hit", "incr_hits=1", CHECK_RC(shmc_incr(cache, "a", 1, 5, NULL), SHMC_OK));
    STEP("incr miss", "incr_misses=1", CHECK_RC(shmc_incr(cache, "zz", 2, 5, NULL), SHMC_NOT_FOUND));
    STEP("decr hit", "decr_hits=1", CHECK_RC(shmc_decr(cache, "a", 1, 1, NULL), SHMC_OK));
    STEP("decr miss", "decr_misses=1", CHECK_RC(shmc_decr(cache, "zz", 2, 1, NULL), SHMC_NOT_FOUND));
    /* memcached counts neither a hit nor a miss for a non-numeric value */
    STEP("incr non-numeric", "",
         CHECK_RC(shmc_incr(cache, "b", 1, 1, NULL), SHMC_NOT_NUMERIC));
    STEP("decr non-numeric", "",
         CHECK_RC(shmc_decr(cache, "b", 1, 1, NULL), SHMC_NOT_NUMERIC));
    st = snap(cache);
    CHECK(st.curr_items == 2);

    STEP("touch hit", "cmd_touch=1 touch_hits=1", CHECK_RC(shmc_touch(cache, "a", 1, 0), SHMC_OK));
    STEP("touch miss", "cmd_touch=1 touch_misses=1",
         CHECK_RC(shmc_touch(cache, "zz", 2, 0), SHMC_NOT_FOUND));
    /* gat counts as memcached 1.6 counts it (proto_text.c, process_get_command): a get
     * command and a touch command, whose hit or miss is a touch hit or miss only */
    STEP("gat hit", "cmd_get=1 cmd_touch=1 touch_hits=1",
         CHECK_RC(shmc_gat(cache, "a", 1, 0, buf, sizeof buf, &n, NULL, NULL), SHMC_OK));
    STEP("gat miss", "cmd_get=1 cmd_touch=1 touch_misses=1",
         CHECK_RC(shmc_gat(cache, "zz", 2, 0, buf, sizeof buf, &n, NULL, NULL), SHMC_NOT_FOUND));

    /* an item stored already expired is found expired: a miss that counts get_expired */
    STEP("set expired", "cmd_set=1", CHECK_RC(shmc_set(cache, "e", 1, "x", 1, 0, -1), SHMC_OK));
    STEP("get expired", "cmd_get=1 get_misses=1 get_expired=1",
         CHECK_RC(shmc_get(cache, "e", 1, buf, sizeof buf, &n, NULL, NULL), SHMC_NOT_FOUND));

    /* flushed items: misses that count get_flushed */
    STEP("flush_all", "cmd_flush=1", CHECK_RC(shmc_flush_all(cache, 0), SHMC_OK));
    STEP("get flushed", "cmd_get=1 get_misses=1 get_flushed=1",
         CHECK_RC(shmc_get(cache, "a", 1, buf, sizeof buf, &n, NULL, NULL), SHMC_NOT_FOUND));
    STEP("delayed flush_all", "cmd_flush=1", CHECK_RC(shmc_flush_all(cache, 100), SHMC_OK));
    STEP("flush_all replacing it", "cmd_flush=1", CHECK_RC(shmc_flush_all(cache, 0), SHMC_OK));
}

/* Expiry that really happens over time: one wait of at most ~2 s. */
static void test_expired_over_time(void)
{
    char buf[8];
    size_t n;
    CHECK_RC(shmc_set(cache, "soon", 4, "x", 1, 0, 1), SHMC_OK);
    time_t until = time(NULL) + 2;
    while (time(NULL) < until) {
        struct timespec ts = {0, 50 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    struct timespec margin = {0, 50 * 1000 * 1000};
    nanosleep(&margin, NULL);
    STEP("get expired over time", "cmd_get=1 get_misses=1 get_expired=1",
         CHECK_RC(shmc_get(cache, "soon", 4, buf, sizeof buf, &n, NULL, NULL), SHMC_NOT_FOUND));
}

static void test_bytes(void)
{
    shmc_stats_t s0 = snap(cache);
    char *big = malloc(20000);
    memset(big, 'b', 20000);
    CHECK_RC(shmc_set(cache, "big", 3, big, 20000, 0, 0), SHMC_OK);
    shmc_stats_t s1 = snap(cache);
    CHECK(s1.bytes >= s0.bytes + 20000);
    CHECK(s1.curr_items == s0.curr_items + 1);
    /* replacing it with a small value shrinks bytes; deleting shrinks them again */
    CHECK_RC(shmc_set(cache, "big", 3, "s", 1, 0, 0), SHMC_OK);
    shmc_stats_t s2 = snap(cache);
    CHECK(s2.bytes + 19000 <= s1.bytes);
    CHECK(s2.curr_items == s1.curr_items);
    CHECK_RC(shmc_delete(cache, "big", 3), SHMC_OK);
    shmc_stats_t s3 = snap(cache);
    CHECK(s3.bytes < s2.bytes);
    CHECK(s3.bytes == s0.bytes);
    CHECK(s3.curr_items == s0.curr_items);
    free(big);
}

static void test_connections(void)
{
    shmc_stats_t s0 = snap(cache);
    CHECK(s0.curr_connections >= 1);
    shmc_t *second = NULL;
    CHECK_RC(shmc_open(&second, t_path("stats"), NULL), SHMC_OK);
    if (!second) return;
    shmc_stats_t s1 = snap(cache);
    CHECK(s1.curr_connections == s0.curr_connections + 1);
    CHECK(s1.total_connections == s0.total_connections + 1);
    /* both handles see the same counters */
    shmc_stats_t s1b = snap(second);
    CHECK(s1b.curr_connections == s1.curr_connections);
    CHECK(s1b.cmd_get == s1.cmd_get);
    char buf[8];
    size_t n;
    shmc_get(second, "nope", 4, buf, sizeof buf, &n, NULL, NULL);
    shmc_stats_t s2 = snap(cache);
    CHECK(s2.cmd_get == s1.cmd_get + 1 && s2.get_misses == s1.get_misses + 1);
    shmc_close(second);
    shmc_stats_t s3 = snap(cache);
    CHECK(s3.curr_connections == s0.curr_connections);
    CHECK(s3.total_connections == s0.total_connections + 1);
    /* a closed handle's counts are not lost */
    CHECK(s3.cmd_get == s2.cmd_get && s3.get_misses == s2.get_misses);
}

/* ---- threads and processes ---- */

enum { THREAD_GETS = 2000 };

static void *getter(void *arg)
{
    (void)arg;
    char buf[8];
    size_t n;
    for (int i = 0; i < THREAD_GETS; i++)
        shmc_get(cache, i % 2 ? "hit" : "miss", i % 2 ? 3 : 4, buf, sizeof buf, &n, NULL, NULL);
    return NULL;
}

static void test_threads(void)
{
    CHECK_RC(shmc_set(cache, "hit", 3, "h", 1, 0, 0), SHMC_OK);
    shmc_stats_t s0 = snap(cache);
    pthread_t th[4];
    for (int i = 0; i < 4; i++) CHECK(pthread_create(&th[i], NULL, getter, NULL) == 0);
    for (int i = 0; i < 4; i++) pthread_join(th[i], NULL);
    /* the threads have exited: their counts must still be there */
    shmc_stats_t s1 = snap(cache);
    CHECK(s1.cmd_get - s0.cmd_get == 4 * THREAD_GETS);
    CHECK(s1.get_hits - s0.get_hits == 4 * THREAD_GETS / 2);
    CHECK(s1.get_misses - s0.get_misses == 4 * THREAD_GETS / 2);
}

enum { CHILD_HITS = 1000, CHILD_MISSES = 500 };

/* The child's work: open the cache itself, count gets, then close or just die. */
static void child_gets(int close_it)
{
    shmc_t *c = NULL;
    if (shmc_open(&c, t_path("stats"), NULL) != SHMC_OK) _exit(10);
    char buf[8];
    size_t n;
    for (int i = 0; i < CHILD_HITS; i++)
        if (shmc_get(c, "hit", 3, buf, sizeof buf, &n, NULL, NULL) != SHMC_OK) _exit(11);
    for (int i = 0; i < CHILD_MISSES; i++)
        if (shmc_get(c, "miss", 4, buf, sizeof buf, &n, NULL, NULL) != SHMC_NOT_FOUND) _exit(12);
    if (shmc_set(c, "child", 5, "c", 1, 0, 0) != SHMC_OK) _exit(13);
    if (close_it) shmc_close(c);
    _exit(0);
}

static void test_processes(void)
{
    for (int close_it = 1; close_it >= 0; close_it--) {
        shmc_stats_t s0 = snap(cache);
        fflush(NULL);
        pid_t pid = fork();
        if (pid == 0) child_gets(close_it);
        CHECK(pid > 0);
        int status = 0;
        CHECK(waitpid(pid, &status, 0) == pid);
        CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
        shmc_stats_t s1 = snap(cache);
        CHECK(s1.cmd_get - s0.cmd_get == CHILD_HITS + CHILD_MISSES);
        CHECK(s1.get_hits - s0.get_hits == CHILD_HITS);
        CHECK(s1.get_misses - s0.get_misses == CHILD_MISSES);
        CHECK(s1.cmd_set - s0.cmd_set == 1);
        CHECK(s1.total_connections - s0.total_connections == 1);
        /* the child is gone, closed or not: it is no longer attached */
        CHECK(s1.curr_connections == s0.curr_connections);
        if (s1.curr_connections != s0.curr_connections)
            fprintf(stderr, "  (child %s) curr_connections %" PRIu64 " -> %" PRIu64 "\n",
                    close_it ? "closed" : "died without close", s0.curr_connections,
                    s1.curr_connections);
    }
    /* a child killed by a signal in the middle of its gets */
    shmc_stats_t s0 = snap(cache);
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        shmc_t *c = NULL;
        if (shmc_open(&c, t_path("stats"), NULL) != SHMC_OK) _exit(10);
        char buf[8];
        size_t n;
        for (;;) shmc_get(c, "hit", 3, buf, sizeof buf, &n, NULL, NULL);
    }
    CHECK(pid > 0);
    /* let it run until its gets show, then kill it */
    for (int i = 0; i < 2000; i++) {
        shmc_stats_t s = snap(cache);
        if (s.cmd_get - s0.cmd_get >= 1000) break;
        struct timespec ts = {0, 5 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    kill(pid, SIGKILL);
    int status = 0;
    CHECK(waitpid(pid, &status, 0) == pid);
    shmc_stats_t s1 = snap(cache);
    CHECK(s1.cmd_get - s0.cmd_get >= 1000);
    /* a kill inside a call may lose at most that call's hit */
    CHECK(s1.cmd_get - s0.cmd_get - (s1.get_hits - s0.get_hits) <= 1);
    CHECK(s1.curr_connections == s0.curr_connections);
    /* the cache still works for the living */
    char buf[8];
    size_t n;
    CHECK_RC(shmc_get(cache, "child", 5, buf, sizeof buf, &n, NULL, NULL), SHMC_OK);
    shmc_stats_t s2 = snap(cache);
    CHECK(s2.cmd_get == s1.cmd_get + 1);
}

int main(void)
{
    t_setup("stats");
    shmc_config_init(&cfg);
    cfg.memory_limit = 4u << 20;
    cfg.item_size_max = 64u << 10;
    CHECK_RC(shmc_open(&cache, t_path("stats"), &cfg), SHMC_OK);
    if (!cache) return t_finish();

    test_fresh_cache();
    test_script();
    test_expired_over_time();
    test_bytes();
    test_connections();
    test_threads();
    test_processes();

    shmc_close(cache);
    t_check_file(t_path("stats"));
    return t_finish();
}
