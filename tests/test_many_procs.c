/* test_many_procs.c — thousands of processes attached to one cache at once (issue 10).
 *
 * 5,000 forked children each open the default cache, make 2 sets and 3 gets, and wait,
 * attached, until all are: then curr_connections is exactly 5,001 (with this process) and
 * cmd_get / cmd_set count every child's calls.  Half close their handle, half simply exit;
 * then the count is back to 1 and the counters are unchanged.  300 more are killed while
 * attached: their entries are reclaimed (the count is 1 again) and their calls still
 * counted.  And the same on a cache whose process table has 256 entries (400 children, then
 * 300 killed): those beyond it work and are counted exactly too, killed ones included.  100
 * killed and not yet reaped (zombies) are found dead within 4 counts.  Prints the memory and
 * descriptors the children used, and the median time of shmc_stats with the crowd attached. */
#include "testutil.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/mman.h>
#include <stdbool.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>

#include "region/layout.h"

#define SETS 2
#define GETS 3


#define STATS_RUNS 9

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static long mem_available_kib(void)
{
    FILE *f = fopen("/proc/meminfo", "r");
    char line[256];
    long v = -1;
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "MemAvailable: %ld kB", &v) == 1) break;
    if (f) fclose(f);
    return v;
}

static int count_fds(void)
{
    int n = 0;
    DIR *d = opendir("/proc/self/fd");
    for (struct dirent *e; d && (e = readdir(d));)
        if (e->d_name[0] != '.') n++;
    if (d) closedir(d);
    return n - 1; /* the directory's own */
}

typedef struct crowd {
    pid_t *pids;
    int n, go_fd;
} crowd_t;

/* The child: attach, work, report ready (and its descriptor count), wait for the word. */
static void child(const char *path, const shmc_config *cfg, int i, int ready_fd, int go_fd,
                  int how_to_end)
{
    shmc_t *c = NULL;
    if (shmc_open(&c, path, cfg) != SHMC_OK) _exit(3);
    char key[32], buf[64];
    size_t n;
    int bad = 0;
    for (int s = 0; s < SETS; s++) {
        snprintf(key, sizeof key, "p%d-%d", i, s);
        if (shmc_set(c, key, strlen(key), key, strlen(key), 0, 0) != SHMC_OK) bad++;
    }
    for (int g = 0; g < GETS; g++) {
        snprintf(key, sizeof key, "p%d-%d", i, g % SETS);
        if (shmc_get(c, key, strlen(key), buf, sizeof buf, &n, NULL, NULL) != SHMC_OK) bad++;
    }
    unsigned char fds = (unsigned char)count_fds();
    if (bad || write(ready_fd, &fds, 1) != 1) _exit(4);
    char b;
    if (read(go_fd, &b, 1) < 0) _exit(5); /* EOF: the parent let go */
    if (how_to_end == 0) {
        shmc_close(c);
        _exit(0);
    }
    exit(0); /* a plain exit, which detaches too (the library's destructor) */
}

/* Start n attached children (first index base); returns when all are attached. */
static crowd_t spawn(const char *path, const shmc_config *cfg, int base, int n, int *max_fds)
{
    crowd_t cr = {calloc((size_t)n, sizeof(pid_t)), 0, -1};
    int ready[2], go[2];
    if (!cr.pids || pipe(ready) || pipe(go)) return cr;
    fflush(stdout); /* the children's exit() flushes their copy */
    fflush(stderr);
    for (int i = 0; i < n; i++) {
        pid_t pid = fork();
        if (pid == 0) {
            close(ready[0]);
            close(go[1]);
            child(path, cfg, base + i, ready[1], go[0], i & 1);
        }
        if (pid < 0) {
            fprintf(stderr, "fork %d: %s\n", i, strerror(errno));
            break;
        }
        cr.pids[cr.n++] = pid;
    }
    close(ready[1]);
    close(go[0]);
    int got = 0;
    unsigned char fds;
    while (got < cr.n && read(ready[0], &fds, 1) == 1) {
        if (fds > *max_fds) *max_fds = fds;
        got++;
    }
    close(ready[0]);
    CHECK(got == n && cr.n == n);
    cr.go_fd = go[1];
    return cr;
}

/* Let every child go (or kill them all), and reap them; returns how many ended cleanly. */
static int finish(crowd_t *cr, bool kill_them)
{
    if (kill_them)
        for (int i = 0; i < cr->n; i++) kill(cr->pids[i], SIGKILL);
    close(cr->go_fd);
    int clean = 0;
    for (int i = 0; i < cr->n; i++) {
        int st;
        if (waitpid(cr->pids[i], &st, 0) == cr->pids[i] && WIFEXITED(st) && WEXITSTATUS(st) == 0)
            clean++;
    }
    free(cr->pids);
    return clean;
}

static void many(const char *name, const shmc_config *cfg, int n, int killed)
{
    const char *path = t_path(name);
    shmc_t *c = NULL;
    CHECK_RC(shmc_open(&c, path, cfg), SHMC_OK);
    if (!c) return;
    shmc_stats_t s0, s;
    CHECK_RC(shmc_stats(c, &s0), SHMC_OK);
    long mem_before = mem_available_kib();
    int max_fds = 0;
    double t0 = t_now();
    crowd_t cr = spawn(path, cfg, 0, n, &max_fds);
    double t1 = t_now();
    long mem_during = mem_available_kib();
    /* shmc_stats with the crowd attached: the median of STATS_RUNS calls */
    double took[STATS_RUNS];
    for (int k = 0; k < STATS_RUNS; k++) {
        double t = t_now();
        CHECK_RC(shmc_stats(c, &s), SHMC_OK);
        took[k] = t_now() - t;
        CHECK(s.curr_connections == (uint64_t)n + 1);
    }
    qsort(took, STATS_RUNS, sizeof took[0], cmp_double);
    printf("%s: %d processes attached in %.2f s (shmc_stats took %.2f ms, median of %d; "
           "%.2f-%.2f); each had %d descriptors open; together they used %ld MiB of memory "
           "(%.0f KiB each)\n",
           name, n, t1 - t0, took[STATS_RUNS / 2] * 1e3, STATS_RUNS, took[0] * 1e3,
           took[STATS_RUNS - 1] * 1e3, max_fds, (mem_before - mem_during) / 1024,
           (double)(mem_before - mem_during) / n);
    printf("%s: curr_connections %llu (want %d), cmd_set +%llu, cmd_get +%llu (want %d, %d)\n",
           name, (unsigned long long)s.curr_connections, n + 1,
           (unsigned long long)(s.cmd_set - s0.cmd_set), (unsigned long long)(s.cmd_get - s0.cmd_get),
           n * SETS, n * GETS);
    CHECK(s.curr_connections == (uint64_t)n + 1);
    CHECK(s.cmd_set - s0.cmd_set == (uint64_t)n * SETS);
    CHECK(s.cmd_get - s0.cmd_get == (uint64_t)n * GETS);
    CHECK(s.get_hits - s0.get_hits == (uint64_t)n * GETS);
    CHECK(finish(&cr, false) == n);
    CHECK_RC(shmc_stats(c, &s), SHMC_OK);
    printf("%s: all %d ended: curr_connections %llu (want 1)\n", name, n,
           (unsigned long long)s.curr_connections);
    CHECK(s.curr_connections == 1);
    CHECK(s.cmd_set - s0.cmd_set == (uint64_t)n * SETS);
    CHECK(s.cmd_get - s0.cmd_get == (uint64_t)n * GETS);

    if (killed) { /* killed while attached: entries reclaimed, calls still counted */
        cr = spawn(path, cfg, n, killed, &max_fds);
        CHECK_RC(shmc_stats(c, &s), SHMC_OK);
        CHECK(s.curr_connections == (uint64_t)killed + 1);
        CHECK(finish(&cr, true) == 0);
        CHECK_RC(shmc_stats(c, &s), SHMC_OK);
        printf("%s: %d killed while attached: curr_connections %llu (want 1)\n", name, killed,
               (unsigned long long)s.curr_connections);
        CHECK(s.curr_connections == 1);
        CHECK(s.cmd_set - s0.cmd_set == (uint64_t)(n + killed) * SETS);
        CHECK(s.cmd_get - s0.cmd_get == (uint64_t)(n + killed) * GETS);

        /* killed and not reaped yet (zombies, whose pids still exist): a count checks a
         * batch of entries in full each time, so within entries / 32 + 1 counts they are
         * all found dead */
        enum { ZOMBIES = 100 };
        cr = spawn(path, cfg, n + killed, ZOMBIES, &max_fds);
        for (int i = 0; i < cr.n; i++) kill(cr.pids[i], SIGKILL);
        for (int i = 0; i < cr.n; i++) {
            siginfo_t info;
            while (waitid(P_PID, (id_t)cr.pids[i], &info, WEXITED | WNOWAIT) < 0 && errno == EINTR) {
            }
        }
        int counts = 0, within = (ZOMBIES + 1 + 31) / 32;
        do {
            CHECK_RC(shmc_stats(c, &s), SHMC_OK);
            counts++;
        } while (s.curr_connections != 1 && counts < 20);
        printf("%s: %d killed, not reaped: curr_connections %llu after %d counts (want 1 "
               "within %d)\n", name, ZOMBIES, (unsigned long long)s.curr_connections, counts,
               within);
        CHECK(s.curr_connections == 1 && counts <= within);
        CHECK(finish(&cr, false) == 0);
    }
    shmc_close(c);
    t_check_file(path);
    unlink(path);
}

/* Entries that name a live pid with another start time — what a dead process's entry looks
 * like once its pid went to a new process — pass the one-kill test, and are freed by the
 * full checks within (entries / 32) counts. */
static void recycled_pids(const shmc_config *cfg)
{
    enum { FAKES = 40 };
    const char *path = t_path("recycled");
    shmc_t *c = NULL;
    CHECK_RC(shmc_open(&c, path, cfg), SHMC_OK);
    if (!c) return;
    int fd = open(path, O_RDWR);
    header_t h;
    CHECK(fd >= 0 && pread(fd, &h, sizeof h, 0) == (ssize_t)sizeof h);
    proc_slot_t *procs = mmap(NULL, h.nproc_slots * sizeof *procs, PROT_READ | PROT_WRITE,
                              MAP_SHARED, fd, (off_t)h.off_procs);
    CHECK(procs != MAP_FAILED);
    if (fd < 0 || procs == MAP_FAILED) return;
    close(fd);
    int planted = 0;
    for (uint32_t i = 0; i < h.nproc_slots && planted < FAKES; i++) {
        uint64_t zero = 0, fake = (uint64_t)(uint32_t)getpid() | (uint64_t)(1000u + i) << 32;
        if (atomic_compare_exchange_strong(&procs[i].token, &zero, fake)) planted++;
    }
    shmc_stats_t s;
    int counts = 0, within = (FAKES + 1 + 31) / 32;
    do {
        CHECK_RC(shmc_stats(c, &s), SHMC_OK);
        counts++;
    } while (s.curr_connections != 1 && counts < 20);
    printf("recycled: %d entries naming this pid with another start time: curr_connections %llu "
           "after %d counts (want 1 within %d)\n", planted, (unsigned long long)s.curr_connections,
           counts, within);
    CHECK(planted == FAKES && s.curr_connections == 1 && counts <= within);
    munmap(procs, h.nproc_slots * sizeof *procs);
    shmc_close(c);
    unlink(path);
}

int main(void)
{
    t_setup("manyprocs");
    /* a sanitizer's runtime costs each child megabytes more, and the QEMU suite's guest has
     * 1 GiB in all (and a software CPU): bounded there (the plain build on a real machine runs the full crowd);
     * SHMC_MANY_PROCS overrides */
    int crowd = 5000;
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
    crowd = 1000;
    printf("sanitizer build: %d processes instead of 5000 (memory); the plain build runs 5000\n", crowd);
#endif
    long avail = mem_available_kib();
    if (crowd > 500 && avail >= 0 && avail < 4L << 20) {
        crowd = avail < 2L << 20 ? 500 : 1000;
        printf("only %ld MiB of memory available: %d processes instead of 5000\n", avail >> 10, crowd);
    }
    struct rlimit np;
    if (getuid() != 0 && getrlimit(RLIMIT_NPROC, &np) == 0 && np.rlim_cur != RLIM_INFINITY &&
        (rlim_t)crowd + 400 > np.rlim_cur) {
        crowd = np.rlim_cur > 800 ? (int)np.rlim_cur - 400 : 400;
        printf("RLIMIT_NPROC is %llu: %d processes instead of 5000\n", (unsigned long long)np.rlim_cur, crowd);
    }
    if (getenv("SHMC_MANY_PROCS")) crowd = atoi(getenv("SHMC_MANY_PROCS"));
    shmc_config def;
    shmc_config_init(&def);
    many("default", &def, crowd, 300);
    /* a cache whose process table (256 entries) is smaller than the crowd */
    shmc_config tiny;
    shmc_config_init(&tiny);
    tiny.memory_limit = 1u << 20;
    tiny.item_size_max = 16u << 10;
    many("small-table", &tiny, 400, 300);
    recycled_pids(&tiny);
    return t_finish();
}
