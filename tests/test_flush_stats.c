/* test_flush_stats.c — flush_all lowers curr_items and bytes at once, as memcached 1.6.18's
 * stats show right after it: only items stored after the flush count, whether the flush was
 * now or a delayed one that fell due, in this process and in another, through replacing,
 * deleting and reclaiming flushed keys, cleaning and eviction; shmc_info agrees, and the
 * checker finds the per-stripe counts equal to what the chains hold. */
#include "testutil.h"

#include "store/item.h"

#include <sys/wait.h>
#include <time.h>

static shmc_stats_t snap(shmc_t *c)
{
    shmc_stats_t st;
    memset(&st, 0, sizeof st);
    CHECK_RC(shmc_stats(c, &st), SHMC_OK);
    return st;
}

static void set_key(shmc_t *c, const char *key, size_t nvalue)
{
    static char value[4096];
    memset(value, 'v', sizeof value);
    CHECK_RC(shmc_set(c, key, strlen(key), value, nvalue, 0, 0), SHMC_OK);
}

/* Counts one check: curr_items and bytes are these, in stats and in shmc_info. */
static void expect_counts_at(int line, shmc_t *c, const char *path, uint64_t items, uint64_t bytes)
{
    shmc_stats_t st = snap(c);
    shmc_info_t info;
    memset(&info, 0, sizeof info);
    shmc_rc rc = shmc_info(path, &info);
    if (st.curr_items == items && st.bytes == bytes && rc == SHMC_OK && info.curr_items == items &&
        info.bytes == bytes) {
        t_passed++;
    } else {
        t_failed++;
        fprintf(stderr,
                "FAIL line %d: curr_items %llu bytes %llu (info %llu %llu), want %llu %llu\n", line,
                (unsigned long long)st.curr_items, (unsigned long long)st.bytes,
                (unsigned long long)info.curr_items, (unsigned long long)info.bytes,
                (unsigned long long)items, (unsigned long long)bytes);
    }
}
#define EXPECT_COUNTS(c, path, items, bytes) expect_counts_at(__LINE__, c, path, items, bytes)

/* Sleep until the wall clock's second is at least `until`. */
static void sleep_until(time_t until)
{
    while (time(NULL) < until) {
        struct timespec ts = {0, 50 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
}

int main(void)
{
    t_setup("flush_stats");
    const char *path = t_path("cache");
    shmc_t *c = t_open_plain(path, 4u << 20, 64u << 10);
    if (!c) return t_finish();
    char key[64];
    static char buf[4096];
    size_t n;

    /* what three items take on their own: the counts a flush must come back to */
    EXPECT_COUNTS(c, path, 0, 0);
    set_key(c, "x", 10);
    set_key(c, "y", 100);
    set_key(c, "z", 1000);
    uint64_t three = snap(c).bytes;
    CHECK(three > 1110);
    EXPECT_COUNTS(c, path, 3, three);

    /* many items of several sizes, then flush_all: nothing counts, at once */
    for (int i = 0; i < 2000; i++) {
        snprintf(key, sizeof key, "k%d", i);
        set_key(c, key, (size_t)(i % 7) * 50);
    }
    CHECK(snap(c).curr_items == 2003);
    CHECK_RC(shmc_flush_all(c, 0), SHMC_OK);
    EXPECT_COUNTS(c, path, 0, 0);

    /* the same three stored again (each replacing its flushed item): their counts exactly */
    set_key(c, "x", 10);
    set_key(c, "y", 100);
    set_key(c, "z", 1000);
    EXPECT_COUNTS(c, path, 3, three);

    /* flushed keys: a get reclaims, a delete and an incr miss; none moves the counts */
    CHECK_RC(shmc_get(c, "k1", 2, buf, sizeof buf, &n, NULL, NULL), SHMC_NOT_FOUND);
    CHECK_RC(shmc_delete(c, "k2", 2), SHMC_NOT_FOUND);
    CHECK_RC(shmc_incr(c, "k3", 2, 1, NULL), SHMC_NOT_FOUND);
    CHECK_RC(shmc_add(c, "k4", 2, "1", 1, 0, 0), SHMC_OK); /* add over a flushed item stores */
    EXPECT_COUNTS(c, path, 4, three + item_footprint(2, 1));
    CHECK_RC(shmc_delete(c, "k4", 2), SHMC_OK);
    EXPECT_COUNTS(c, path, 3, three);

    /* another process sees the same counts, and its flush lowers them here */
    pid_t pid = fork();
    if (pid == 0) {
        shmc_t *o = NULL;
        if (shmc_open(&o, path, NULL) != SHMC_OK) _exit(10);
        shmc_stats_t st;
        if (shmc_stats(o, &st) != SHMC_OK || st.curr_items != 3 || st.bytes != three) _exit(11);
        if (shmc_flush_all(o, 0) != SHMC_OK) _exit(12);
        shmc_close(o);
        _exit(0);
    }
    int status = -1;
    CHECK(pid > 0 && waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0);
    EXPECT_COUNTS(c, path, 0, 0);

    /* a delayed flush: the counts stay until it is due, then fall with no other call */
    set_key(c, "x", 10);
    set_key(c, "y", 100);
    set_key(c, "z", 1000);
    time_t start = time(NULL);
    CHECK_RC(shmc_flush_all(c, 2), SHMC_OK);
    if (time(NULL) < start + 2) EXPECT_COUNTS(c, path, 3, three); /* a loaded machine may be late */
    sleep_until(start + 3);
    EXPECT_COUNTS(c, path, 0, 0);
    set_key(c, "x", 10); /* the first call after it applies it */
    CHECK(snap(c).curr_items == 1);
    CHECK_RC(shmc_delete(c, "x", 1), SHMC_OK);
    EXPECT_COUNTS(c, path, 0, 0);

    /* churn well past the memory limit after a flush (cleaning compacts and evicts flushed
     * and live items alike), then delete every key: back to exactly zero */
    for (int i = 0; i < 2000; i++) {
        snprintf(key, sizeof key, "k%d", i);
        set_key(c, key, 500);
    }
    CHECK_RC(shmc_flush_all(c, 0), SHMC_OK);
    EXPECT_COUNTS(c, path, 0, 0);
    for (int round = 0; round < 4; round++)
        for (int i = 0; i < 6000; i++) {
            snprintf(key, sizeof key, "c%d", i);
            set_key(c, key, 1 + (size_t)(i * 37 + round) % 2000);
            if (i % 3 == 0) CHECK_RC(shmc_get(c, key, strlen(key), buf, sizeof buf, &n, NULL, NULL), SHMC_OK);
        }
    shmc_stats_t st = snap(c);
    CHECK(st.evictions > 0 && st.curr_items > 0 && st.curr_items < 6000);
    uint64_t deleted = 0;
    for (int i = 0; i < 6000; i++) {
        snprintf(key, sizeof key, "c%d", i);
        if (shmc_delete(c, key, strlen(key)) == SHMC_OK) deleted++;
    }
    CHECK(deleted == st.curr_items);
    EXPECT_COUNTS(c, path, 0, 0);

    shmc_close(c);
    t_check_file(path);
    /* reopened, the counts are what they were */
    c = t_open_plain(path, 4u << 20, 64u << 10);
    if (c) {
        set_key(c, "x", 10);
        set_key(c, "y", 100);
        set_key(c, "z", 1000);
        EXPECT_COUNTS(c, path, 3, three);
        shmc_close(c);
    }
    t_check_file(path);
    return t_finish();
}
