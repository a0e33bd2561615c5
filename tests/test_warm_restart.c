/* test_warm_restart.c — the cache outlives every process that used it.  Child processes
 * (tests/progs/mp_kv) write items with and without expiry and then leave in every way a
 * process can: shmc_close, _exit without closing, SIGKILL after its writes.  With all of them
 * gone, new processes open the file: every unexpired item is there byte for byte, expired ones
 * are not, and the counters (curr_items, total_items, cmd_set) survived.  Also prints, for
 * information only, how long opening a cache that holds ~1M items takes. */
#include "testutil.h"
#include "progs/mp_common.h"

#include <stdarg.h>

#define KV_PROG SHMC_TEST_PROGS "/mp_kv"
#define CACHE_OPTS "--memory-mib 64 --item-max-kib 64"

static int start_kv(mp_child *ch, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int start_kv(mp_child *ch, const char *fmt, ...)
{
    char args[1024], *argv[40];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(args, sizeof args, fmt, ap);
    va_end(ap);
    int n = 0;
    argv[n++] = "mp_kv";
    for (char *save, *t = strtok_r(args, " ", &save); t && n < 39; t = strtok_r(NULL, " ", &save))
        argv[n++] = t;
    argv[n] = NULL;
    if (mp_spawn(ch, KV_PROG, argv) != 0) {
        perror("spawn " KV_PROG);
        ch->pid = -1;
        return -1;
    }
    return 0;
}

/* Read the child's result line (printed) and wait for its exit code. */
static int finish_kv(mp_child *ch, int timeout_s, char *line, size_t cap)
{
    char own[512];
    if (!line) line = own, cap = sizeof own;
    if (ch->pid < 0) return -1;
    if (mp_read_line(ch, line, cap, timeout_s) < 0) line[0] = '\0';
    int code = mp_wait(ch, timeout_s);
    printf("  mp_kv -> %s (exit %d)\n", line, code);
    return code;
}

static int parse_stat(const char *line, const char *name, unsigned long long *out)
{
    char pat[64];
    snprintf(pat, sizeof pat, " %s=", name);
    const char *p = strstr(line, pat);
    if (!p) return 0;
    *out = strtoull(p + strlen(pat), NULL, 10);
    return 1;
}

static size_t verify_here(shmc_t *c, const char *prefix, uint64_t first, uint64_t count,
                          uint64_t step, size_t maxlen)
{
    return mp_verify(c, "reopened", prefix, first, count, step, 1, maxlen);
}

static void items_survive_their_writers(void)
{
    printf("items survive the processes that wrote them\n");
    const char *path = t_path("restart");
    long long now = (long long)time(NULL);

    /* Six writers, released together; none of them is alive when the cache is next opened. */
    mp_child w[6];
    const char *set = "set %s " CACHE_OPTS " --gate --prefix %s --count %d --maxlen %d "
                      "--exptime %lld --end %s";
    start_kv(&w[0], set, path, "closed", 4000, 3000, 0LL, "close");
    start_kv(&w[1], set, path, "exited", 4000, 3000, 0LL, "exit");
    start_kv(&w[2], set, path, "short", 2000, 2000, 1LL, "exit");
    start_kv(&w[3], set, path, "killed", 4000, 3000, 3600LL, "hang");
    start_kv(&w[4], set, path, "absolute", 2000, 2000, now + 3600, "exit");
    start_kv(&w[5], set, path, "past", 1000, 2000, now - 3600, "exit");
    for (int i = 0; i < 6; i++) mp_release(&w[i]);

    /* The SIGKILL victim reports its writes, then "done", then waits to be killed. */
    char line[512];
    CHECK(mp_read_line(&w[3], line, sizeof line, 120) > 0);
    printf("  mp_kv (to be killed) -> %s\n", line);
    CHECK(strncmp(line, "set done=4000 missing=0 wrong=0 errors=0", 40) == 0);
    CHECK(mp_read_line(&w[3], line, sizeof line, 60) > 0 && strcmp(line, "done") == 0);
    kill(w[3].pid, SIGKILL);
    CHECK(mp_wait(&w[3], 60) == 128 + SIGKILL);
    for (int i = 0; i < 6; i++)
        if (i != 3) CHECK(finish_kv(&w[i], 120, NULL, 0) == 0);

    /* A process that only looks: the counters as the writers left them. */
    mp_child s;
    unsigned long long before_curr = 0, before_total = 0, before_cmd_set = 0;
    start_kv(&s, "stats %s", path);
    CHECK(finish_kv(&s, 60, line, sizeof line) == 0);
    CHECK(parse_stat(line, "curr_items", &before_curr));
    CHECK(parse_stat(line, "total_items", &before_total));
    CHECK(parse_stat(line, "cmd_set", &before_cmd_set));
    CHECK(before_curr >= 14000 && before_curr <= 17000);
    CHECK(before_total >= 16000 && before_total <= 17000);
    CHECK(before_cmd_set == 17000);

    /* Let the exptime-1 items expire (gone after at most ~2 s). */
    sleep(3);

    /* New processes: every unexpired item byte for byte, no expired one. */
    mp_child v;
    const char *verify_args = "verify %s --prefix %s --count %d --maxlen %d";
    start_kv(&v, verify_args, path, "closed", 4000, 3000);
    CHECK(finish_kv(&v, 60, NULL, 0) == 0);
    start_kv(&v, verify_args, path, "exited", 4000, 3000);
    CHECK(finish_kv(&v, 60, NULL, 0) == 0);
    start_kv(&v, verify_args, path, "killed", 4000, 3000);
    CHECK(finish_kv(&v, 60, NULL, 0) == 0);
    start_kv(&v, verify_args, path, "absolute", 2000, 2000);
    CHECK(finish_kv(&v, 60, NULL, 0) == 0);
    start_kv(&v, "absent %s --prefix short --count 2000", path);
    CHECK(finish_kv(&v, 60, NULL, 0) == 0);
    start_kv(&v, "absent %s --prefix past --count 1000", path);
    CHECK(finish_kv(&v, 60, NULL, 0) == 0);

    /* This process opens the cache for the first time now. */
    shmc_t *c = NULL;
    CHECK_RC(shmc_open(&c, path, NULL), SHMC_OK);
    if (!c) return;
    CHECK(verify_here(c, "killed", 0, 4000, 1, 3000) == 0);
    CHECK(verify_here(c, "closed", 0, 4000, 7, 3000) == 0);
    size_t nvalue;
    CHECK_RC(shmc_get(c, "short:0", 7, NULL, 0, &nvalue, NULL, NULL), SHMC_NOT_FOUND);
    CHECK_RC(shmc_get(c, "past:0", 6, NULL, 0, &nvalue, NULL, NULL), SHMC_NOT_FOUND);

    shmc_stats_t st;
    CHECK_RC(shmc_stats(c, &st), SHMC_OK);
    printf("  after restart: curr_items %llu (writers left %llu), total_items %llu, "
           "curr_connections %llu, total_connections %llu\n",
           (unsigned long long)st.curr_items, before_curr, (unsigned long long)st.total_items,
           (unsigned long long)st.curr_connections, (unsigned long long)st.total_connections);
    CHECK(st.curr_items >= 14000 && st.curr_items <= before_curr);
    CHECK(st.total_items == before_total);
    CHECK(st.cmd_set == before_cmd_set);
    CHECK(st.limit_maxbytes == 64u << 20);
    CHECK(st.item_size_max == 64u << 10);
    CHECK(st.curr_connections >= 1);
    CHECK(st.total_connections >= 6 + 1 + 6 + 1);
    shmc_close(c);
    t_check_file(path);
}

/* Informational: the time to attach to a cache that holds ~1M items (no assertion on it). */
static void open_time_with_many_items(void)
{
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
    const unsigned items = 200000; /* sanitizers make the fill 5-20x slower */
#else
    const unsigned items = 1000000;
#endif
    printf("open time of a cache holding %u items\n", items);
    const char *path = t_path("many");
    mp_child w;
    start_kv(&w, "set %s --memory-mib 256 --item-max-kib 64 --prefix m --count %u --maxlen 16",
             path, items);
    mp_release(&w);
    CHECK(finish_kv(&w, 300, NULL, 0) == 0);

    struct timespec t0, t1;
    shmc_t *c = NULL;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    shmc_rc rc = shmc_open(&c, path, NULL);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    CHECK_RC(rc, SHMC_OK);
    if (!c) return;
    double us = (t1.tv_sec - t0.tv_sec) * 1e6 + (t1.tv_nsec - t0.tv_nsec) / 1e3;
    printf("  shmc_open of a cache holding %u items: %.0f us (informational)\n", items, us);

    shmc_stats_t st;
    CHECK_RC(shmc_stats(c, &st), SHMC_OK);
    CHECK(st.curr_items == items);
    CHECK(verify_here(c, "m", 0, items, 997, 16) == 0);
    shmc_close(c);
    t_check_file(path);
}

int main(void)
{
    t_setup("warm_restart");
    items_survive_their_writers();
    open_time_with_many_items();
    return t_finish();
}
