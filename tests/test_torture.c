/* test_torture.c — any client may die at any instant, and the cache stays whole.
 *
 * Worker processes (tests/progs/torture_worker.c, several threads each) hammer a small key
 * space with every command while this test kills them at random moments and starts
 * replacements: SIGKILL shortly after start (while opening or in the first calls), SIGKILL
 * at a random moment of steady work (mostly inside a call), SIGSTOP then SIGKILL a few ms
 * later (dying holding whatever lock it held), and SIGTERM (a normal exit mid-traffic).
 * A watchdog fails the test if no call completes anywhere for 2 s.  Pass: no torn or
 * misplaced value ever read, no result memcached would not give, no stall; at the end every
 * worker is killed at once, and the next opener's recovery (with its full scrub) drops
 * nothing and leaves a cache the checker finds clean, with all memory accounted for.
 *
 * Kills: 2,000 by default (300 in sanitizer builds, whose processes start slowly);
 * SHMC_TORTURE_KILLS=N for a longer run (e.g. 100000).  Arguments MEMORY ITEM_MAX (bytes)
 * run it on another configuration, e.g. memcached's smallest, two segments (ctest
 * torture_two_segments).
 *
 * `test_torture small` (ctest torture_small): a 512 KiB cache with one append head and
 * values of 200-900 bytes, so that a segment is cleaned every few dozen sets and most kills
 * land in or near the cleaning (the default mode, 2 MiB, never found issue 19's first
 * fault); 1,000 kills (200 under sanitizers). */
#include "testutil.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>

#include "progs/record.h"
#include "progs/torture_monitor.h"

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define DEFAULT_KILLS 300
#define SMALL_KILLS 200
#else
#define DEFAULT_KILLS 2000
#define SMALL_KILLS 1000
#endif
#define WORKERS 3
#define THREADS "2"
/* No call completed for this long is a stall: 2 s.  SHMC_TORTURE_STALL_MS replaces it where
 * the CPU is emulated (the QEMU suite: TCG runs every instruction 10-50x slower, and after a
 * round in which every worker died, the next ones' start and the opener's scrub alone take
 * seconds there) and under the sanitizers (tests/CMakeLists.txt); on real hardware in the
 * plain build the 2 s bound stands. */
static uint64_t stall_limit_ns = 2000000000ull;

extern char **environ;

static torture_monitor_t *mon;
static const char *cache_path, *monitor_path;
static pid_t workers[WORKERS];
static uint64_t spawn_seq;
static atomic_bool watchdog_stop;
static atomic_bool stalled;
static atomic_uint_fast64_t worst_gap_ns;

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static pid_t spawn_worker(void)
{
    char prog[512], seed[32];
    snprintf(prog, sizeof prog, "%s/torture_worker", SHMC_TEST_PROGS);
    snprintf(seed, sizeof seed, "%llu", (unsigned long long)++spawn_seq);
    char *argv[] = {prog, (char *)cache_path, (char *)monitor_path, THREADS, seed, NULL};
    pid_t pid;
    if (posix_spawn(&pid, prog, NULL, NULL, argv, environ) != 0) return -1;
    return pid;
}

/* Reap a worker; true when it ended as expected for the signal it got. */
static bool reap(pid_t pid, int sig)
{
    int status;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
    /* SIGTERM before the worker installed its handler (before it opened the cache) kills it */
    if (sig == SIGTERM)
        return (WIFEXITED(status) && WEXITSTATUS(status) == 0) ||
               (WIFSIGNALED(status) && WTERMSIG(status) == SIGTERM);
    return WIFSIGNALED(status) || (WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

static void *watchdog(void *arg)
{
    (void)arg;
    uint64_t last_ops = atomic_load(&mon->ops), last_change = now_ns();
    while (!atomic_load(&watchdog_stop)) {
        struct timespec ts = {0, 20 * 1000 * 1000};
        nanosleep(&ts, NULL);
        uint64_t ops = atomic_load(&mon->ops), t = now_ns();
        if (ops != last_ops) {
            uint64_t gap = t - last_change;
            if (gap > atomic_load(&worst_gap_ns)) atomic_store(&worst_gap_ns, gap);
            last_ops = ops;
            last_change = t;
        } else if (t - last_change > stall_limit_ns) {
            if (!atomic_exchange(&stalled, true))
                fprintf(stderr, "STALL: no call completed for %.1f s\n", (t - last_change) / 1e9);
        }
    }
    return NULL;
}

static void sleep_us(uint64_t us)
{
    struct timespec ts = {(time_t)(us / 1000000), (long)(us % 1000000) * 1000};
    nanosleep(&ts, NULL);
}

int main(int argc, char **argv)
{
    const bool small = argc > 1 && !strcmp(argv[1], "small");
    t_setup(small ? "torture-small" : "torture");
    const char *stall_ms = getenv("SHMC_TORTURE_STALL_MS");
    if (stall_ms && atoll(stall_ms) > 0) stall_limit_ns = (uint64_t)atoll(stall_ms) * 1000000ull;
    const char *env = getenv("SHMC_TORTURE_KILLS");
    long target = env ? atol(env) : small ? SMALL_KILLS : DEFAULT_KILLS;
    cache_path = t_path("cache");
    monitor_path = t_path("monitor");

    shmc_config cfg;
    shmc_config_init(&cfg);
    cfg.memory_limit = 2u << 20; /* small: cleaning and eviction run all the time */
    cfg.item_size_max = 64u << 10;
    if (argc == 3) {
        cfg.memory_limit = strtoull(argv[1], NULL, 0);
        cfg.item_size_max = strtoull(argv[2], NULL, 0);
    }
    if (small) { /* smaller still: one head, a segment cleaned every few dozen sets */
        cfg.memory_limit = 512u << 10;
        cfg.item_size_max = 2048;
        setenv("SHMC_TORTURE_SMALL", "1", 1); /* the workers' values: 200-900 bytes */
    }
    shmc_t *c;
    CHECK_RC(shmc_open(&c, cache_path, &cfg), SHMC_OK);
    shmc_close(c);

    int fd = open(monitor_path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    CHECK(fd >= 0 && ftruncate(fd, sizeof *mon) == 0);
    mon = mmap(NULL, sizeof *mon, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd);
    if (mon == MAP_FAILED) return 1;

    for (int i = 0; i < WORKERS; i++) workers[i] = spawn_worker();
    while (atomic_load(&mon->ready) < WORKERS) sleep_us(1000);
    pthread_t wd;
    pthread_create(&wd, NULL, watchdog, NULL);

    uint64_t rnd = 12345, t0 = now_ns();
    long kills = 0, stops = 0, early = 0, exits = 0, bad_ends = 0;
    while (kills < target && !atomic_load(&stalled)) {
        rnd = record_mix(rnd);
        int i = (int)(rnd % WORKERS);
        unsigned variant = (unsigned)((rnd >> 8) % 100);
        if (variant < 45) { /* steady state: mostly inside a call */
            sleep_us((rnd >> 16) % 2000);
            kill(workers[i], SIGKILL);
            bad_ends += !reap(workers[i], SIGKILL);
            kills++;
        } else if (variant < 85) { /* 0-200 us after start: opening, first calls */
            kill(workers[i], SIGKILL);
            bad_ends += !reap(workers[i], SIGKILL);
            workers[i] = spawn_worker();
            sleep_us((rnd >> 16) % 200);
            kill(workers[i], SIGKILL);
            bad_ends += !reap(workers[i], SIGKILL);
            kills += 2;
            early++;
        } else if (variant < 97) { /* stopped, maybe holding a lock; killed later */
            sleep_us((rnd >> 16) % 1000);
            kill(workers[i], SIGSTOP);
            sleep_us(1000 + (rnd >> 32) % 4000);
            kill(workers[i], SIGKILL);
            bad_ends += !reap(workers[i], SIGKILL);
            kills++;
            stops++;
        } else { /* a normal exit while the others work */
            kill(workers[i], SIGTERM);
            bad_ends += !reap(workers[i], SIGTERM);
            exits++;
        }
        workers[i] = spawn_worker();
    }
    uint64_t elapsed = now_ns() - t0;
    /* the end: every client killed at once, mid-traffic */
    for (int i = 0; i < WORKERS; i++) kill(workers[i], SIGKILL);
    for (int i = 0; i < WORKERS; i++) bad_ends += !reap(workers[i], SIGKILL);
    atomic_store(&watchdog_stop, true);
    pthread_join(wd, NULL);

    /* the next opener is alone: it repairs what the dead left behind and, since they never
     * detached, verifies every item — and must find nothing to drop, since kills tear nothing */
    shmc_stats_t st = {0};
    CHECK_RC(shmc_open(&c, cache_path, NULL), SHMC_OK);
    CHECK_RC(shmc_stats(c, &st), SHMC_OK);
    shmc_close(c);

    printf("kills %ld (%ld early, %ld after SIGSTOP), normal exits %ld, in %.1f s\n", kills,
           early * 2, stops, exits, elapsed / 1e9);
    printf("calls %llu, repairs %llu, worst stall %.1f ms, worst call %.1f ms\n",
           (unsigned long long)atomic_load(&mon->ops), (unsigned long long)st.repairs,
           atomic_load(&worst_gap_ns) / 1e6, atomic_load(&mon->worst_op_ns) / 1e6);
    printf("scrubs (every worker dead at once, and the end) %llu, damaged entries dropped %llu\n",
           (unsigned long long)st.recovery_scrubs, (unsigned long long)st.damaged_dropped);
    printf("corrupt values %llu, unexpected results %llu, bad worker ends %ld\n",
           (unsigned long long)atomic_load(&mon->corrupt), (unsigned long long)atomic_load(&mon->errors),
           bad_ends);
    CHECK(kills >= target);
    CHECK(!atomic_load(&stalled));
    CHECK(atomic_load(&mon->corrupt) == 0);
    CHECK(atomic_load(&mon->errors) == 0);
    CHECK(bad_ends == 0);
    CHECK(st.recovery_scrubs >= 1); /* also whenever every worker happened to be dead at once */
    CHECK(st.damaged_dropped == 0);
    CHECK(atomic_load(&mon->ops) > (uint64_t)kills);
    t_check_file(cache_path);
    munmap(mon, sizeof *mon);
    return t_finish();
}
