/* open.c — how long shmc_open takes on a filled cache: a warm restart after every user
 * detached, and a restart after the last user was killed (the opener then scrubs the whole
 * cache: src/store/scrub.h).  Median of several runs, in milliseconds.
 *
 *   shmc_bench_open [--runs N] PATH      (PATH filled first, e.g. by shmc_bench_fill)
 *
 * Nothing else may have the cache open: both kinds of open are measured as the first
 * process to attach. */
#include <shmc.h>

#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common.h"

static shmc_t *timed_open(const char *path, double *ms)
{
    shmc_t *c = NULL;
    uint64_t t0 = bench_now_ns();
    shmc_rc rc = shmc_open(&c, path, NULL);
    *ms = (double)(bench_now_ns() - t0) / 1e6;
    if (rc != SHMC_OK) bench_die("open %s: %s", path, shmc_last_error());
    return c;
}

/* A child attaches and is killed without detaching. */
static void kill_a_user(const char *path)
{
    pid_t pid = fork();
    if (pid < 0) bench_die("fork failed");
    if (pid == 0) {
        shmc_t *c = NULL;
        if (shmc_open(&c, path, NULL) != SHMC_OK) _exit(1);
        raise(SIGKILL);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    if (!WIFSIGNALED(status)) bench_die("the killed user could not attach to %s", path);
}

int main(int argc, char **argv)
{
    int runs = 5;
    static const struct option longopts[] = {{"runs", required_argument, 0, 'r'}, {0, 0, 0, 0}};
    for (int o; (o = getopt_long(argc, argv, "", longopts, NULL)) != -1;) {
        if (o != 'r' || (runs = atoi(optarg)) < 1) {
            fprintf(stderr, "usage: shmc_bench_open [--runs N] PATH\n");
            return 2;
        }
    }
    if (optind + 1 != argc) {
        fprintf(stderr, "usage: shmc_bench_open [--runs N] PATH\n");
        return 2;
    }
    const char *path = argv[optind];
    double *clean = calloc((size_t)runs, sizeof *clean);
    double *scrub = calloc((size_t)runs, sizeof *scrub);
    if (!clean || !scrub) bench_die("out of memory");
    shmc_stats_t before, after;
    for (int i = 0; i < runs; i++) {
        shmc_t *c = timed_open(path, &clean[i]);
        if (i == 0 && shmc_stats(c, &before) != SHMC_OK) bench_die("stats failed");
        shmc_close(c);
        kill_a_user(path);
        c = timed_open(path, &scrub[i]);
        if (shmc_stats(c, &after) != SHMC_OK) bench_die("stats failed");
        shmc_close(c);
    }
    printf("| open of %s (%llu items, %llu MiB) | median ms (lowest–highest), %d runs |\n", path,
           (unsigned long long)after.curr_items, (unsigned long long)(after.limit_maxbytes >> 20),
           runs);
    printf("|---|---|\n");
    double *sets[2] = {clean, scrub};
    const char *names[2] = {"warm restart (every user detached)", "after a killed user (scrub)"};
    for (int k = 0; k < 2; k++) {
        double lo = sets[k][0], hi = sets[k][0];
        for (int i = 1; i < runs; i++) {
            if (sets[k][i] < lo) lo = sets[k][i];
            if (sets[k][i] > hi) hi = sets[k][i];
        }
        printf("| %s | %.2f (%.2f–%.2f) |\n", names[k], bench_quantile(sets[k], (size_t)runs, 0.5),
               lo, hi);
    }
    printf("scrubs %llu, damaged entries dropped %llu\n",
           (unsigned long long)(after.recovery_scrubs - before.recovery_scrubs),
           (unsigned long long)(after.damaged_dropped - before.damaged_dropped));
    free(clean);
    free(scrub);
    return 0;
}
