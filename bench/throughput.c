/* throughput.c — operations per second against the number of workers, for get/set mixes
 * over uniform and zipfian (0.99, YCSB's constant) keys, every target in one run.
 *
 * A worker is a thread (sharing the process's libshmc handle, or with a connection of its
 * own for sockets) or a separate process (fork; its own handle or connection).  Every
 * target gets one pool of workers per worker count, all alive for the whole program: each
 * worker connects (or attaches) once and is brought to its steady state first (a libshmc
 * process reads every key once so that its page tables map the cache; see
 * bench_client_touch_all), then sleeps on a futex between runs.  Runs of all worker counts
 * and targets interleave, so that every ratio compares runs made at nearly the same time
 * on a machine whose load drifts.  A run: the workers run the
 * mix untimed for the warm-up, then each counts its ops over a window it times itself with
 * CLOCK_MONOTONIC; the figure of a run is the sum of the workers' rates.  Runs are
 * interleaved over targets; the figure reported is the median over runs, with the lowest
 * and highest.  Gets read the N keys 'k…' filled beforehand (shmc_bench_fill); sets
 * overwrite them with values of the same size. */
#include <getopt.h>
#include <limits.h>
#include <linux/futex.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "client.h"
#include "common.h"

#define MAX_TARGETS 8
#define MAX_WORKERS 64
#define MAX_CONFIGS 16

enum { PHASE_WARM = 1, PHASE_MEASURE, PHASE_STOP };

typedef struct worker_result {
    double rate;
    uint64_t ops, errors;
    int failed;
    char error[160];
} worker_result;

typedef struct workload {
    int read_percent;
    bench_dist dist;
    uint64_t value_size;
    uint64_t seed;
} workload;

/* One pool's control block, shared with its worker processes (MAP_SHARED). */
typedef struct pool_ctl {
    _Atomic uint32_t generation; /* bumped to start a run (or to quit); a futex word */
    _Atomic int phase;           /* of the current run */
    _Atomic int done;            /* workers done with setup or with the current run */
    _Atomic int quit;
    workload load;
    worker_result w[MAX_WORKERS];
} pool_ctl;

typedef struct worker_config {
    int processes; /* 0: threads */
    int count;
} worker_config;

typedef struct worker_arg {
    pool_ctl *ctl;
    int index;
    bench_target *target;
    unsigned open_flags;
    int touch;
} worker_arg;

typedef struct pool {
    pool_ctl *ctl;
    bench_target *target;
    worker_config wc;
    int started;
    pthread_t threads[MAX_WORKERS];
    pid_t pids[MAX_WORKERS];
    char error[200]; /* non-empty: the pool is unusable */
    worker_arg args[MAX_WORKERS];
} pool;

static bench_zipf zipf;   /* read-only once built; shared by threads, inherited by forks */
static uint64_t nkeys;

static void futex_wait(_Atomic uint32_t *word, uint32_t expected)
{
    struct timespec timeout = {1, 0};
    syscall(SYS_futex, (void *)word, FUTEX_WAIT, expected, &timeout, NULL, 0);
}

static void futex_wake_all(_Atomic uint32_t *word)
{
    syscall(SYS_futex, (void *)word, FUTEX_WAKE, INT_MAX, NULL, NULL, 0);
}

static void run_one(bench_client *c, pool_ctl *ctl, int index)
{
    worker_result *res = &ctl->w[index];
    workload load = ctl->load;
    bench_keychooser keys = {load.dist, nkeys, &zipf};
    bench_rng rng;
    bench_rng_seed(&rng, load.seed * 1000003u + (uint64_t)index);
    char value[4096], buf[8192], key[BENCH_KEY_LEN];
    memset(value, 'w', sizeof value);
    uint64_t read_threshold = (uint64_t)load.read_percent * (UINT64_MAX / 100);
    uint64_t ops = 0, errors = 0, start_ops = 0, t_start = 0;
    for (;;) {
        int phase = atomic_load_explicit(&ctl->phase, memory_order_acquire);
        if (phase == PHASE_STOP)
            break;
        if (phase == PHASE_MEASURE && t_start == 0) {
            t_start = bench_now_ns();
            start_ops = ops;
        }
        bench_key(key, 'k', bench_choose(&keys, &rng));
        bench_result r;
        if (bench_rng_next(&rng) < read_threshold) {
            size_t n;
            r = c->ops->get(c, key, sizeof key, buf, sizeof buf, &n);
        } else {
            r = c->ops->set(c, key, sizeof key, value, load.value_size);
        }
        if (r != BENCH_HIT) {
            errors++;
            if (r == BENCH_ERR && res->error[0] == '\0')
                snprintf(res->error, sizeof res->error, "%s", c->ops->error(c));
        }
        ops++;
    }
    uint64_t t_end = bench_now_ns();
    if (t_start == 0) { /* never saw the window (starved): counts nothing */
        t_start = t_end;
        start_ops = ops;
    }
    res->ops = ops - start_ops;
    res->rate = t_end > t_start ? (double)res->ops * 1e9 / (double)(t_end - t_start) : 0.0;
    res->errors = errors;
}

static void worker_main(worker_arg *a)
{
    pool_ctl *ctl = a->ctl;
    worker_result *res = &ctl->w[a->index];
    char err[256];
    bench_client *c = bench_client_open(a->target, a->open_flags, err, sizeof err);
    if (c == NULL) {
        res->failed = 1;
        snprintf(res->error, sizeof res->error, "%.150s", err);
        atomic_fetch_add(&ctl->done, 1);
        return;
    }
    if (a->touch)
        bench_client_touch_all(c, a->target, nkeys, 0);
    uint32_t seen = atomic_load(&ctl->generation);
    atomic_fetch_add(&ctl->done, 1);
    for (;;) {
        uint32_t g = atomic_load_explicit(&ctl->generation, memory_order_acquire);
        if (atomic_load(&ctl->quit))
            break;
        if (g == seen) {
            futex_wait(&ctl->generation, seen);
            continue;
        }
        seen = g;
        run_one(c, ctl, a->index);
        atomic_fetch_add_explicit(&ctl->done, 1, memory_order_release);
    }
    c->ops->close(c);
}

static void *worker_thread(void *arg)
{
    worker_main(arg);
    return NULL;
}

/* Wait until every started worker has checked in; notes dead processes.  0 or -1. */
static int wait_done(pool *p, uint64_t timeout_ns)
{
    uint64_t deadline = bench_now_ns() + timeout_ns;
    while (atomic_load_explicit(&p->ctl->done, memory_order_acquire) < p->started) {
        if (p->wc.processes) {
            for (int i = 0; i < p->started; i++) {
                int status;
                if (p->pids[i] > 0 && waitpid(p->pids[i], &status, WNOHANG) == p->pids[i]) {
                    p->pids[i] = 0;
                    snprintf(p->error, sizeof p->error, "a worker process died (%s)",
                             WIFSIGNALED(status) ? strsignal(WTERMSIG(status)) : "exited");
                    return -1;
                }
            }
        }
        if (bench_now_ns() > deadline) {
            snprintf(p->error, sizeof p->error, "workers did not answer within %llu s",
                     (unsigned long long)(timeout_ns / 1000000000u));
            return -1;
        }
        bench_sleep_ns(1000000);
    }
    return 0;
}

static void pool_start(pool *p, bench_target *target, worker_config wc)
{
    memset(p, 0, sizeof *p);
    p->target = target;
    p->wc = wc;
    p->ctl = mmap(NULL, sizeof(pool_ctl), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
                  -1, 0);
    if (p->ctl == MAP_FAILED) {
        p->ctl = NULL;
        snprintf(p->error, sizeof p->error, "mmap failed");
        return;
    }
    memset(p->ctl, 0, sizeof *p->ctl);
    for (int i = 0; i < wc.count; i++) {
        worker_arg *a = &p->args[i];
        /* a process of its own maps the cache afresh: bring it to the steady state */
        *a = (worker_arg){p->ctl, i, target, wc.processes ? BENCH_OPEN_OWN_HANDLE : 0,
                          wc.processes && !bench_target_is_socket(target)};
        if (wc.processes) {
            fflush(NULL);
            pid_t pid = fork();
            if (pid == 0) {
                /* never outlive the benchmark, whatever ends it */
                prctl(PR_SET_PDEATHSIG, SIGKILL);
                if (getppid() == 1)
                    _exit(1);
                worker_main(a);
                _exit(0);
            }
            if (pid < 0)
                break;
            p->pids[i] = pid;
        } else if (pthread_create(&p->threads[i], NULL, worker_thread, a) != 0) {
            break;
        }
        p->started++;
    }
    if (p->started < wc.count) {
        snprintf(p->error, sizeof p->error, "could not start %d workers", wc.count);
        return;
    }
    if (wait_done(p, 600000000000u) != 0)
        return;
    for (int i = 0; i < p->started; i++) {
        if (p->ctl->w[i].failed) {
            snprintf(p->error, sizeof p->error, "%.190s", p->ctl->w[i].error);
            return;
        }
    }
}

static void pool_stop(pool *p)
{
    if (p->ctl == NULL)
        return;
    atomic_store(&p->ctl->quit, 1);
    atomic_fetch_add(&p->ctl->generation, 1);
    futex_wake_all(&p->ctl->generation);
    for (int i = 0; i < p->started; i++) {
        if (!p->wc.processes) {
            pthread_join(p->threads[i], NULL);
            continue;
        }
        if (p->pids[i] <= 0)
            continue;
        uint64_t deadline = bench_now_ns() + 30000000000u;
        int status;
        while (waitpid(p->pids[i], &status, WNOHANG) == 0) {
            if (bench_now_ns() > deadline) {
                kill(p->pids[i], SIGKILL);
                waitpid(p->pids[i], &status, 0);
                break;
            }
            bench_sleep_ns(1000000);
        }
    }
    munmap(p->ctl, sizeof(pool_ctl));
    p->ctl = NULL;
}

/* One run of `load` on pool p; returns ops/s, or -1 with p->error set. */
static double run_once(pool *p, const workload *load, uint64_t warm_ns, uint64_t measure_ns,
                       uint64_t *errors, char *first_error, size_t errlen)
{
    pool_ctl *ctl = p->ctl;
    ctl->load = *load;
    for (int i = 0; i < p->started; i++) {
        ctl->w[i].rate = 0;
        ctl->w[i].ops = ctl->w[i].errors = 0;
        ctl->w[i].error[0] = '\0';
    }
    atomic_store(&ctl->done, 0);
    atomic_store(&ctl->phase, PHASE_WARM);
    atomic_fetch_add_explicit(&ctl->generation, 1, memory_order_release);
    futex_wake_all(&ctl->generation);
    bench_sleep_ns(warm_ns);
    atomic_store(&ctl->phase, PHASE_MEASURE);
    bench_sleep_ns(measure_ns);
    atomic_store(&ctl->phase, PHASE_STOP);
    if (wait_done(p, 60000000000u) != 0)
        return -1;
    double total = 0;
    *errors = 0;
    for (int i = 0; i < p->started; i++) {
        total += ctl->w[i].rate;
        *errors += ctl->w[i].errors;
        if (ctl->w[i].error[0] && first_error[0] == '\0')
            snprintf(first_error, errlen, "%s", ctl->w[i].error);
    }
    return total;
}

/* ---- what this machine allows: a pure CPU loop on n threads (no memory, no locks) ---- */

static _Atomic uint64_t spin_sink;

typedef struct spin_arg {
    _Atomic int *stop;
    double rate;
} spin_arg;

static void *spin_thread(void *arg)
{
    spin_arg *a = arg;
    bench_rng rng;
    bench_rng_seed(&rng, (uint64_t)(uintptr_t)a);
    uint64_t n = 0, sink = 0, t0 = bench_now_ns();
    while (!atomic_load_explicit(a->stop, memory_order_relaxed)) {
        for (int i = 0; i < 256; i++)
            sink ^= bench_rng_next(&rng);
        n += 256;
    }
    uint64_t t1 = bench_now_ns();
    atomic_store_explicit(&spin_sink, sink, memory_order_relaxed); /* keeps the loop */
    a->rate = t1 > t0 ? (double)n * 1e9 / (double)(t1 - t0) : 0;
    return NULL;
}

static double spin_rate(int threads, uint64_t ns)
{
    _Atomic int stop = 0;
    spin_arg args[MAX_WORKERS];
    pthread_t tid[MAX_WORKERS];
    int started = 0;
    for (; started < threads; started++) {
        args[started] = (spin_arg){&stop, 0};
        if (pthread_create(&tid[started], NULL, spin_thread, &args[started]) != 0)
            break;
    }
    bench_sleep_ns(ns);
    atomic_store(&stop, 1);
    double total = 0;
    for (int i = 0; i < started; i++) {
        pthread_join(tid[i], NULL);
        total += args[i].rate;
    }
    return total;
}

static void usage(void)
{
    fprintf(stderr,
            "usage: shmc_bench_throughput [options] LABEL=SPEC...\n"
            "  --keys N          keys filled beforehand (default 1M)\n"
            "  --value BYTES     value size of sets (default 128)\n"
            "  --mixes LIST      read percentages, e.g. 90,95,50 (default 90,50)\n"
            "  --dists LIST      uniform,zipf (default both)\n"
            "  --workers LIST    t1,t2,t4,t8 threads, p2,p4,p8,p16 processes (default\n"
            "                    t1,t2,t4,t8,p2; at most 64 workers)\n"
            "  --runs N          runs per figure (default 3)\n"
            "  --seconds S       measured seconds per run (default 0.25)\n"
            "  --warmup S        warm-up seconds per run (default 0.05)\n"
            "  --tag TEXT        first field of every result line (default main)\n");
    exit(2);
}

static int split(char *s, char **out, int max)
{
    int n = 0;
    char *save = NULL;
    for (char *tok = strtok_r(s, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        if (n == max)
            bench_die("too many items in a list (at most %d)", max);
        out[n++] = tok;
    }
    return n;
}

static double seconds_arg(const char *s)
{
    char *end;
    double v = strtod(s, &end);
    if (end == s || *end != '\0' || !(v > 0.0) || v > 600.0)
        bench_die("'%s' is not a number of seconds in (0, 600]", s);
    return v;
}

int main(int argc, char **argv)
{
    uint64_t keys = 1000000, value_size = 128, runs = 3;
    double seconds = 0.25, warmup = 0.05;
    const char *tag = "main";
    char mixes_arg[256] = "90,50", dists_arg[256] = "uniform,zipf",
         workers_arg[256] = "t1,t2,t4,t8,p2";
    static const struct option longopts[] = {
        {"keys", required_argument, 0, 'k'},    {"value", required_argument, 0, 'v'},
        {"mixes", required_argument, 0, 'm'},   {"dists", required_argument, 0, 'd'},
        {"workers", required_argument, 0, 'w'}, {"runs", required_argument, 0, 'r'},
        {"seconds", required_argument, 0, 's'}, {"warmup", required_argument, 0, 'W'},
        {"tag", required_argument, 0, 't'},     {0, 0, 0, 0}};
    int ch;
    while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (ch) {
        case 'k':
            if (bench_parse_count(optarg, &keys) || keys < 1)
                bench_die("--keys: '%s'", optarg);
            break;
        case 'v':
            if (bench_parse_count(optarg, &value_size) || value_size < 1 || value_size > 4096)
                bench_die("--value: '%s' (1..4096)", optarg);
            break;
        case 'r':
            if (bench_parse_count(optarg, &runs) || runs < 1 || runs > 1000)
                bench_die("--runs: '%s'", optarg);
            break;
        case 'm': snprintf(mixes_arg, sizeof mixes_arg, "%s", optarg); break;
        case 'd': snprintf(dists_arg, sizeof dists_arg, "%s", optarg); break;
        case 'w': snprintf(workers_arg, sizeof workers_arg, "%s", optarg); break;
        case 's': seconds = seconds_arg(optarg); break;
        case 'W': warmup = seconds_arg(optarg); break;
        case 't': tag = optarg; break;
        default: usage();
        }
    }
    char *mix_s[MAX_CONFIGS], *dist_s[MAX_CONFIGS], *work_s[MAX_CONFIGS];
    int nmix = split(mixes_arg, mix_s, MAX_CONFIGS);
    int ndist = split(dists_arg, dist_s, MAX_CONFIGS);
    int nwork = split(workers_arg, work_s, MAX_CONFIGS);
    int mixes[MAX_CONFIGS];
    bench_dist dists[MAX_CONFIGS];
    worker_config workers[MAX_CONFIGS];
    int need_zipf = 0;
    for (int i = 0; i < nmix; i++) {
        char *end;
        long v = strtol(mix_s[i], &end, 10);
        if (end == mix_s[i] || *end || v < 0 || v > 100)
            bench_die("--mixes: '%s' is not a read percentage", mix_s[i]);
        mixes[i] = (int)v;
    }
    for (int i = 0; i < ndist; i++) {
        if (strcmp(dist_s[i], "uniform") == 0)
            dists[i] = BENCH_UNIFORM;
        else if (strcmp(dist_s[i], "zipf") == 0)
            dists[i] = BENCH_ZIPF, need_zipf = 1;
        else
            bench_die("--dists: '%s' (uniform or zipf)", dist_s[i]);
    }
    for (int i = 0; i < nwork; i++) {
        char *end;
        long v = strtol(work_s[i] + 1, &end, 10);
        if ((work_s[i][0] != 't' && work_s[i][0] != 'p') || end == work_s[i] + 1 || *end ||
            v < 1 || v > MAX_WORKERS)
            bench_die("--workers: '%s' (t<threads> or p<processes>, 1..%d)", work_s[i],
                      MAX_WORKERS);
        workers[i] = (worker_config){work_s[i][0] == 'p', (int)v};
    }
    int ntargets = argc - optind;
    if (ntargets < 1 || ntargets > MAX_TARGETS || nmix == 0 || ndist == 0 || nwork == 0)
        usage();
    bench_target targets[MAX_TARGETS];
    for (int t = 0; t < ntargets; t++) {
        char err[256];
        if (bench_target_parse(&targets[t], argv[optind + t], 0, err, sizeof err))
            bench_die("%s", err);
        /* open once up front: a target that cannot be reached is reported, not run; a
         * libshmc target's shared handle (the threads') is brought to its steady state */
        bench_client *c = bench_client_open(&targets[t], 0, err, sizeof err);
        if (c == NULL) {
            bench_emit(stdout, "unavailable\t%s\t%s\t%s", tag, targets[t].label, err);
            snprintf(targets[t].unavailable, sizeof targets[t].unavailable, "%.190s", err);
        } else {
            uint64_t missing = bench_client_touch_all(c, &targets[t], keys, 0);
            if (missing > 0)
                fprintf(stderr, "bench: %s: %llu of %llu keys missing (not filled?)\n",
                        targets[t].label, (unsigned long long)missing,
                        (unsigned long long)keys);
            c->ops->close(c);
        }
    }
    signal(SIGPIPE, SIG_IGN);
    nkeys = keys;
    if (need_zipf)
        bench_zipf_init(&zipf, keys, 0.99);

    double *rates = calloc(runs * (size_t)ntargets * (size_t)nwork, sizeof *rates);
    if (rates == NULL)
        bench_die("out of memory");
    uint64_t warm_ns = (uint64_t)(warmup * 1e9), measure_ns = (uint64_t)(seconds * 1e9);
    /* every pool lives through the whole program, so that runs of every worker count and
     * every target interleave: each ratio compares runs made at nearly the same time */
    static pool pools[MAX_TARGETS][MAX_CONFIGS];
    for (int t = 0; t < ntargets; t++)
        for (int w = 0; w < nwork; w++)
            if (!targets[t].unavailable[0])
                pool_start(&pools[t][w], &targets[t], workers[w]);
    enum { MAX_CPUREF = 256 };
    static double cpuref[MAX_CONFIGS][MAX_CPUREF];
    size_t ncpuref[MAX_CONFIGS] = {0};
    size_t ncells = (size_t)ntargets * (size_t)nwork;
    uint64_t *errors = calloc(ncells, sizeof *errors);
    char (*error)[200] = calloc(ncells, sizeof *error);
    if (errors == NULL || error == NULL)
        bench_die("out of memory");
    for (int m = 0; m < nmix; m++) {
        for (int d = 0; d < ndist; d++) {
            const char *dist = dists[d] == BENCH_ZIPF ? "zipf" : "uniform";
            memset(errors, 0, ncells * sizeof *errors);
            memset(error, 0, ncells * sizeof *error);
            memset(ncpuref, 0, sizeof ncpuref);
            for (uint64_t r = 0; r < runs; r++) {
                /* what the machine allowed at this moment: a pure CPU loop per thread count */
                for (int w = 0; w < nwork; w++)
                    if (!workers[w].processes && ncpuref[w] < MAX_CPUREF)
                        cpuref[w][ncpuref[w]++] = spin_rate(workers[w].count, 30000000u);
                for (int w = 0; w < nwork; w++) {
                    for (int t = 0; t < ntargets; t++) {
                        pool *p = &pools[t][w];
                        size_t cell = (size_t)t * (size_t)nwork + (size_t)w;
                        if (targets[t].unavailable[0] || p->error[0])
                            continue;
                        workload load = {mixes[m], dists[d], value_size,
                                         r * 7919u + (uint64_t)(m * 100 + d * 10 + w)};
                        uint64_t e = 0;
                        rates[cell * runs + r] = run_once(p, &load, warm_ns, measure_ns, &e,
                                                          error[cell], sizeof error[cell]);
                        errors[cell] += e;
                    }
                }
            }
            for (int w = 0; w < nwork; w++) {
                if (ncpuref[w] > 0) {
                    bench_spread s = bench_spread_of(cpuref[w], ncpuref[w]);
                    bench_emit(stdout, "cpuref\t%s\t%d\t%s\t%d\t%.0f", tag, mixes[m], dist,
                               workers[w].count, s.median);
                }
            }
            for (int w = 0; w < nwork; w++) {
                const char *kind = workers[w].processes ? "processes" : "threads";
                for (int t = 0; t < ntargets; t++) {
                    pool *p = &pools[t][w];
                    size_t cell = (size_t)t * (size_t)nwork + (size_t)w;
                    if (targets[t].unavailable[0])
                        continue;
                    if (p->error[0]) {
                        bench_emit(stdout, "tputfail\t%s\t%s\t%d\t%s\t%s\t%d\t%s", tag,
                                   targets[t].label, mixes[m], dist, kind, workers[w].count,
                                   p->error);
                        continue;
                    }
                    bench_spread s = bench_spread_of(&rates[cell * runs], runs);
                    bench_emit(stdout, "tput\t%s\t%s\t%d\t%s\t%s\t%d\t%llu\t%.0f\t%.0f\t%.0f\t%llu",
                               tag, targets[t].label, mixes[m], dist, kind, workers[w].count,
                               (unsigned long long)runs, s.median, s.lo, s.hi,
                               (unsigned long long)errors[cell]);
                    if (errors[cell] && error[cell][0])
                        fprintf(stderr, "bench: %s: %llu errors, e.g. %s\n", targets[t].label,
                                (unsigned long long)errors[cell], error[cell]);
                }
            }
        }
    }
    for (int t = 0; t < ntargets; t++)
        for (int w = 0; w < nwork; w++)
            if (!targets[t].unavailable[0])
                pool_stop(&pools[t][w]);
    free(errors);
    free(error);
    for (int t = 0; t < ntargets; t++)
        bench_target_release(&targets[t]);
    free(rates);
    return 0;
}
