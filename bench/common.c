/* common.c — clock, statistics, random numbers, zipfian keys and key names for the
 * benchmark programs (see common.h). */
#include "common.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

uint64_t bench_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

uint64_t bench_timer_overhead_ns(void)
{
    enum { N = 20001 };
    static double d[N];
    for (int i = 0; i < N; i++) {
        uint64_t a = bench_now_ns();
        uint64_t b = bench_now_ns();
        d[i] = (double)(b - a);
    }
    return (uint64_t)bench_quantile(d, N, 0.5);
}

int bench_memref_open(bench_memref *m, size_t bytes)
{
    m->lines = bytes / 64;
    m->at = 0;
    m->buf = m->lines < 2 ? NULL : malloc(m->lines * 64);
    if (m->buf == NULL)
        return -1;
    /* Sattolo's shuffle of the identity makes one cycle through every line */
    for (size_t i = 0; i < m->lines; i++)
        m->buf[i * 8] = i;
    bench_rng rng;
    bench_rng_seed(&rng, 42);
    for (size_t i = m->lines - 1; i > 0; i--) {
        size_t j = bench_rng_below(&rng, i);
        uint64_t t = m->buf[i * 8];
        m->buf[i * 8] = m->buf[j * 8];
        m->buf[j * 8] = t;
    }
    return 0;
}

double bench_memref_ns(bench_memref *m, size_t samples, uint64_t overhead)
{
    double *d = malloc(samples * sizeof *d);
    if (d == NULL || samples == 0) {
        free(d);
        return -1;
    }
    uint64_t p = m->at;
    for (size_t i = 0; i < samples; i++) {
        uint64_t t0 = bench_now_ns();
        p = ((volatile uint64_t *)m->buf)[p * 8];
        /* the load completes before the clock is read again, not after it */
        __asm__ volatile("" : "+r"(p) : : "memory");
        uint64_t t1 = bench_now_ns();
        d[i] = t1 - t0 > overhead ? (double)(t1 - t0 - overhead) : 0.0;
    }
    m->at = p;
    double ns = bench_quantile(d, samples, 0.5);
    free(d);
    return ns;
}

void bench_memref_close(bench_memref *m)
{
    free(m->buf);
    m->buf = NULL;
}

void bench_sleep_ns(uint64_t ns)
{
    struct timespec ts = {(time_t)(ns / 1000000000u), (long)(ns % 1000000000u)};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

double bench_quantile(double *v, size_t n, double q)
{
    if (n == 0)
        return 0.0;
    qsort(v, n, sizeof *v, cmp_double);
    /* nearest rank: the smallest value with at least q*n values at or below it */
    size_t rank = (size_t)ceil(q * (double)n);
    if (rank < 1)
        rank = 1;
    if (rank > n)
        rank = n;
    return v[rank - 1];
}

bench_spread bench_spread_of(double *runs, size_t n)
{
    bench_spread s = {0, 0, 0, n};
    if (n == 0)
        return s;
    qsort(runs, n, sizeof *runs, cmp_double);
    s.lo = runs[0];
    s.hi = runs[n - 1];
    s.median = n % 2 ? runs[n / 2] : (runs[n / 2 - 1] + runs[n / 2]) / 2.0;
    return s;
}

/* xoshiro256** seeded through splitmix64. */
static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15u);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

void bench_rng_seed(bench_rng *r, uint64_t seed)
{
    for (int i = 0; i < 4; i++)
        r->s[i] = splitmix64(&seed);
}

static inline uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

uint64_t bench_rng_next(bench_rng *r)
{
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

uint64_t bench_rng_below(bench_rng *r, uint64_t n)
{
    return (uint64_t)(((unsigned __int128)bench_rng_next(r) * n) >> 64);
}

double bench_rng_unit(bench_rng *r)
{
    return (double)(bench_rng_next(r) >> 11) * 0x1.0p-53;
}

void bench_zipf_init(bench_zipf *z, uint64_t n, double theta)
{
    double zetan = 0.0;
    for (uint64_t i = 1; i <= n; i++)
        zetan += 1.0 / pow((double)i, theta);
    double zeta2 = 1.0 + 1.0 / pow(2.0, theta);
    z->n = n;
    z->theta = theta;
    z->alpha = 1.0 / (1.0 - theta);
    z->zetan = zetan;
    z->eta = (1.0 - pow(2.0 / (double)n, 1.0 - theta)) / (1.0 - zeta2 / zetan);
    z->half_pow_theta = pow(0.5, theta);
}

static uint64_t fnv1a64(uint64_t v)
{
    uint64_t h = 0xcbf29ce484222325u;
    for (int i = 0; i < 8; i++) {
        h ^= v & 0xff;
        h *= 0x100000001b3u;
        v >>= 8;
    }
    return h;
}

uint64_t bench_zipf_next(const bench_zipf *z, bench_rng *r)
{
    double u = bench_rng_unit(r);
    double uz = u * z->zetan;
    uint64_t rank;
    if (uz < 1.0)
        rank = 0;
    else if (uz < 1.0 + z->half_pow_theta)
        rank = 1;
    else
        rank = (uint64_t)((double)z->n * pow(z->eta * u - z->eta + 1.0, z->alpha));
    if (rank >= z->n)
        rank = z->n - 1;
    return fnv1a64(rank) % z->n;
}

uint64_t bench_choose(const bench_keychooser *k, bench_rng *r)
{
    return k->dist == BENCH_ZIPF ? bench_zipf_next(k->zipf, r) : bench_rng_below(r, k->n);
}

void bench_key(char out[BENCH_KEY_LEN], char population, uint64_t index)
{
    out[0] = population;
    for (int i = BENCH_KEY_LEN - 1; i >= 1; i--) {
        out[i] = (char)('0' + index % 10);
        index /= 10;
    }
}

int bench_parse_count(const char *s, uint64_t *out)
{
    if (s == NULL || *s < '0' || *s > '9')
        return -1;
    errno = 0;
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno != 0)
        return -1;
    uint64_t mult = 1;
    if (strcmp(end, "") == 0)
        mult = 1;
    else if (strcmp(end, "k") == 0 || strcmp(end, "K") == 0)
        mult = 1000u;
    else if (strcmp(end, "M") == 0)
        mult = 1000000u;
    else if (strcmp(end, "G") == 0)
        mult = 1000000000u;
    else if (strcmp(end, "Ki") == 0)
        mult = 1024u;
    else if (strcmp(end, "Mi") == 0)
        mult = 1024u * 1024u;
    else if (strcmp(end, "Gi") == 0)
        mult = 1024u * 1024u * 1024u;
    else
        return -1;
    if (v > UINT64_MAX / mult)
        return -1;
    *out = (uint64_t)v * mult;
    return 0;
}

void bench_die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("bench: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(2);
}

void bench_emit(FILE *out, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vfprintf(out, fmt, ap);
    va_end(ap);
    fputc('\n', out);
    fflush(out);
}
