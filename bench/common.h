/* common.h — what every benchmark program shares: the monotonic clock and its measured
 * overhead, percentiles and medians over runs, a fast per-worker random generator, YCSB's
 * zipfian key chooser, fixed-length key names, and the result lines the report reads.
 *
 * Result lines are tab-separated, one per figure, first field the kind of figure; the
 * report generator (bench/report.sh) turns them into docs/benchmarks.md.  Nothing in a
 * report is typed in by hand: every number comes from one of these lines. */
#ifndef SHMC_BENCH_COMMON_H
#define SHMC_BENCH_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* ---- time ---- */

/* CLOCK_MONOTONIC in nanoseconds (a vDSO call where the clocksource allows it). */
uint64_t bench_now_ns(void);

/* Median cost of one bench_now_ns() pair, measured now; subtracted from per-op timings. */
uint64_t bench_timer_overhead_ns(void);

/* Reference for reading latencies: one random load (a cache miss plus a TLB miss), a step
 * of a pointer chase along one random cycle through the 64-byte lines of a buffer.
 * bench_memref_ns times `samples` single steps as the latency table times an op (the clock
 * around each, `overhead` subtracted) and returns their median: a figure comparable with an
 * op's median, which a chase's mean is not on a loaded machine (it counts the time the
 * process was preempted).  Measure it beside the ops, run by run: the machine's load moves
 * it.  The chase continues where the last measurement stopped, over lines not recently
 * touched. */
typedef struct bench_memref {
    uint64_t *buf;
    size_t lines;
    uint64_t at;
} bench_memref;
int bench_memref_open(bench_memref *m, size_t bytes); /* -1: memory is short */
double bench_memref_ns(bench_memref *m, size_t samples, uint64_t overhead);
void bench_memref_close(bench_memref *m);

/* Sleep for `ns` nanoseconds (restarting after signals). */
void bench_sleep_ns(uint64_t ns);

/* ---- statistics ---- */

/* Sorts v[0..n) in place and returns the q-quantile (0 <= q <= 1), nearest-rank. */
double bench_quantile(double *v, size_t n, double q);

/* A figure measured over several runs: its median and the smallest and largest run. */
typedef struct bench_spread {
    double median, lo, hi;
    size_t runs;
} bench_spread;

/* Summarise runs[0..n) (sorted in place). */
bench_spread bench_spread_of(double *runs, size_t n);

/* ---- randomness and key choice ---- */

typedef struct bench_rng {
    uint64_t s[4];
} bench_rng;

void bench_rng_seed(bench_rng *r, uint64_t seed);
uint64_t bench_rng_next(bench_rng *r);
/* Uniform in [0, n). */
uint64_t bench_rng_below(bench_rng *r, uint64_t n);
/* Uniform in [0, 1). */
double bench_rng_unit(bench_rng *r);

/* YCSB's zipfian generator (Gray et al., "Quickly generating billion-record synthetic
 * databases"), scrambled as YCSB's ScrambledZipfianGenerator does so that the hot keys are
 * spread over the key space instead of being the lowest numbers. */
typedef struct bench_zipf {
    uint64_t n;
    double theta, alpha, zetan, eta, half_pow_theta;
} bench_zipf;

/* Precompute for n items; costs n pow() calls (about 0.1 s per million items). */
void bench_zipf_init(bench_zipf *z, uint64_t n, double theta);
uint64_t bench_zipf_next(const bench_zipf *z, bench_rng *r);

/* Which keys a worker asks for. */
typedef enum bench_dist { BENCH_UNIFORM, BENCH_ZIPF } bench_dist;

typedef struct bench_keychooser {
    bench_dist dist;
    uint64_t n;
    const bench_zipf *zipf; /* BENCH_ZIPF only; shared, read-only */
} bench_keychooser;

uint64_t bench_choose(const bench_keychooser *k, bench_rng *r);

/* Every benchmark key is BENCH_KEY_LEN bytes: one letter naming the population ('k' the
 * 128 B items, 'v' the 5 KB items, 'c' counters, 'd' keys to delete, 'm' keys never
 * stored) followed by the zero-padded decimal index.  Writes no terminating NUL. */
#define BENCH_KEY_LEN 16
void bench_key(char out[BENCH_KEY_LEN], char population, uint64_t index);

/* ---- command line ---- */

/* Parse "10k", "1M", "10000000", "64Mi"-style counts and sizes (k/M/G: powers of 1000 for
 * counts; Ki/Mi/Gi: powers of 1024).  Returns 0 on success, -1 on anything else. */
int bench_parse_count(const char *s, uint64_t *out);

/* Print a message and exit(2): for bad command lines and setup failures. */
void bench_die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

/* Write one tab-separated result line to `out` (and flush it). */
void bench_emit(FILE *out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
