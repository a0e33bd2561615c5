/* test_hammer.c — two processes of 8 threads each (tests/progs/mp_hammer) hammer 64 keys with
 * set/get/append/prepend/cas/delete and incr for ~2 s; every value read is made of
 * self-checking records (key, writer, sequence, FNV-1a checksum, 16 B .. 8 KiB), so a torn
 * read is caught.  Then 4 processes x 2 threads x 5000 incr by 1 on one shared counter must
 * end at exactly 40000: no update lost. */
#include "testutil.h"
#include "progs/mp_common.h"

#define HAMMER_PROG SHMC_TEST_PROGS "/mp_hammer"

static unsigned long long field(const char *line, const char *name)
{
    char pat[48];
    snprintf(pat, sizeof pat, " %s=", name);
    const char *p = strstr(line, pat);
    return p ? strtoull(p + strlen(pat), NULL, 10) : ~0ull;
}

/* Start `n` mp_hammer processes with argv[i] = args(i), release them together, collect
 * their result lines; returns how many exited 0. */
static int run_together(int n, char *argvs[][8], char lines[][512])
{
    mp_child ch[8];
    int started = 0, ok = 0;
    for (int i = 0; i < n; i++) {
        if (mp_spawn(&ch[i], HAMMER_PROG, argvs[i]) != 0) {
            perror("spawn " HAMMER_PROG);
            break;
        }
        started++;
    }
    for (int i = 0; i < started; i++) mp_release(&ch[i]);
    for (int i = 0; i < started; i++) {
        if (mp_read_line(&ch[i], lines[i], 512, 120) < 0) lines[i][0] = '\0';
        int code = mp_wait(&ch[i], 120);
        printf("  %s (exit %d)\n", lines[i], code);
        if (code == 0) ok++;
    }
    return ok;
}

static void no_torn_values(void)
{
    printf("2 processes x 8 threads hammer 64 keys\n");
    const char *path = t_path("hammer");
    shmc_config cfg = t_config(32 << 20, 256 << 10);
    shmc_t *c = t_open(path, &cfg);
    if (!c) return;

    char *argvs[2][8] = {
        {"mp_hammer", "hammer", (char *)path, "0", "8", "2", NULL},
        {"mp_hammer", "hammer", (char *)path, "1", "8", "2", NULL},
    };
    char lines[2][512];
    CHECK(run_together(2, argvs, lines) == 2);
    for (int i = 0; i < 2; i++) {
        CHECK(field(lines[i], "torn") == 0);
        CHECK(field(lines[i], "errors") == 0);
        CHECK(field(lines[i], "ops") > 0 && field(lines[i], "ops") != ~0ull);
        CHECK(field(lines[i], "hits") > 0 && field(lines[i], "hits") != ~0ull);
        CHECK(field(lines[i], "incrs") > 0 && field(lines[i], "incrs") != ~0ull);
    }

    /* A fresh process finds every surviving value intact. */
    char *verify[1][8] = {{"mp_hammer", "verify", (char *)path, NULL}};
    char vline[1][512];
    CHECK(run_together(1, verify, vline) == 1);
    CHECK(field(vline[0], "torn") == 0);

    shmc_stats_t st;
    CHECK_RC(shmc_stats(c, &st), SHMC_OK);
    CHECK(st.cmd_get > 0 && st.cmd_set > 0 && st.incr_hits > 0);
    /* A per-thread counter may vanish only by eviction (its thread slept while the others
     * cycled the whole cache). */
    unsigned long long lost = field(lines[0], "counters_lost") + field(lines[1], "counters_lost");
    printf("  %llu evictions, %llu recently read items kept by cleaning, %llu counters evicted\n",
           (unsigned long long)st.evictions, (unsigned long long)st.reinserted, lost);
    CHECK(lost == 0 || st.evictions > 0);
    shmc_close(c);
    t_check_file(path);
}

static void no_lost_incr(void)
{
    enum { PROCS = 4, THREADS = 2, EACH = 5000 };
    printf("%d processes x %d threads x %d incr on one counter\n", PROCS, THREADS, EACH);
    const char *path = t_path("incr");
    shmc_config cfg = t_config(2 << 20, 64 << 10);
    shmc_t *c = t_open(path, &cfg);
    if (!c) return;
    CHECK_RC(shmc_set(c, "shared", 6, "0", 1, 7, 0), SHMC_OK);

    char *argvs[PROCS][8];
    char count[16];
    snprintf(count, sizeof count, "%d", EACH);
    for (int i = 0; i < PROCS; i++) {
        char *a[8] = {"mp_hammer", "incr", (char *)path, "shared", "2", count, NULL};
        memcpy(argvs[i], a, sizeof a);
    }
    char lines[PROCS][512];
    CHECK(run_together(PROCS, argvs, lines) == PROCS);

    char text[32];
    size_t n = 0;
    uint32_t flags = 0;
    CHECK_RC(shmc_get(c, "shared", 6, text, sizeof text - 1, &n, &flags, NULL), SHMC_OK);
    text[n < sizeof text ? n : 0] = '\0';
    printf("  final value \"%s\", want %d\n", text, PROCS * THREADS * EACH);
    CHECK(strtoull(text, NULL, 10) == (unsigned long long)PROCS * THREADS * EACH);
    CHECK(flags == 7); /* incr keeps the flags */
    shmc_stats_t st;
    CHECK_RC(shmc_stats(c, &st), SHMC_OK);
    printf("  stats: incr_hits %llu, incr_misses %llu\n", (unsigned long long)st.incr_hits,
           (unsigned long long)st.incr_misses);
    CHECK(st.incr_hits == (uint64_t)PROCS * THREADS * EACH);
    CHECK(st.incr_misses == 0);
    shmc_close(c);
    t_check_file(path);
}

int main(void)
{
    t_setup("hammer");
    no_torn_values();
    no_lost_incr();
    return t_finish();
}
