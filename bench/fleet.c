/* fleet.c — shmc in a memcached fleet (docs/fleet.md), measured; bench/fleet.sh starts the
 * nodes and runs it.
 *
 *   shmc_bench_fleet local PORT0 PORT1 PORT2 CACHE0 [KEYS RUNS GETS]
 *     Three nodes on a libmemcached ketama ring; node 0 is the local one and CACHE0 is the
 *     file its shmcd serves.  KEYS 128 B values are stored, then each run times GETS random
 *     gets through the ring (every get a socket round trip) and the same keys through
 *     examples/shmc_fleet.h (the local node's third through libshmc), alternating the two
 *     within the run.  Prints each way's mean get latency per run, the medians over runs,
 *     their ratio, and the share of keys the ring gave the local node.
 *
 *   shmc_bench_fleet proxy PORT_A PORT_B [THREADS SECONDS RUNS]
 *     Throughput through two nutcracker proxies (A: shmcd nodes, B: memcached nodes):
 *     THREADS clients, 90% get / 10% set of 128 B values on 10000 keys, SECONDS per run,
 *     A and B alternating; the median over runs of each, and B/A. */
#include <libmemcached/memcached.h>
#include <pthread.h>
#include <shmc.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "shmc_fleet.h"

#define VALUE 128
#define PROXY_KEYS 10000

static memcached_st *ring(const in_port_t *ports, int n)
{
    memcached_st *mc = memcached_create(NULL);
    memcached_behavior_set(mc, MEMCACHED_BEHAVIOR_KETAMA_WEIGHTED, 1);
    memcached_behavior_set(mc, MEMCACHED_BEHAVIOR_TCP_NODELAY, 1);
    for (int i = 0; i < n; i++) memcached_server_add(mc, "127.0.0.1", ports[i]);
    return mc;
}

static int local_bench(int argc, char **argv)
{
    if (argc < 6) return 2;
    in_port_t ports[3] = {(in_port_t)atoi(argv[2]), (in_port_t)atoi(argv[3]),
                          (in_port_t)atoi(argv[4])};
    uint64_t keys = argc > 6 ? strtoull(argv[6], NULL, 10) : 30000;
    size_t runs = argc > 7 ? strtoull(argv[7], NULL, 10) : 7;
    uint64_t gets = argc > 8 ? strtoull(argv[8], NULL, 10) : 20000;
    memcached_st *mc = ring(ports, 3);
    shmc_t *cache;
    shmc_rc rc = shmc_open(&cache, argv[5], NULL);
    if (rc != SHMC_OK) {
        fprintf(stderr, "shmc_bench_fleet: cannot open %s: %s\n", argv[5], shmc_strerror(rc));
        return 1;
    }
    shmc_fleet f;
    shmc_fleet_init(&f, mc, "127.0.0.1", ports[0], cache);
    char key[32], value[VALUE];
    memset(value, 'v', sizeof value);
    uint64_t local = 0;
    for (uint64_t k = 0; k < keys; k++) {
        int n = snprintf(key, sizeof key, "fleet:%llu", (unsigned long long)k);
        if (memcached_set(mc, key, (size_t)n, value, VALUE, 0, 0) != MEMCACHED_SUCCESS) {
            fprintf(stderr, "shmc_bench_fleet: set %s failed\n", key);
            return 1;
        }
        local += shmc_fleet_is_local(&f, key, (size_t)n);
    }
    double *sock = calloc(runs, sizeof *sock), *shortcut = calloc(runs, sizeof *shortcut);
    double *ratio = calloc(runs, sizeof *ratio);
    bench_rng rng;
    bench_rng_seed(&rng, 42);
    uint64_t misses = 0;
    for (size_t r = 0; r < runs; r++) {
        uint64_t t_sock = 0, t_short = 0;
        for (uint64_t i = 0; i < gets; i++) {
            int n = snprintf(key, sizeof key, "fleet:%llu",
                             (unsigned long long)bench_rng_below(&rng, keys));
            size_t len;
            uint32_t flags;
            memcached_return_t mrc;
            for (int way = 0; way < 2; way++) { /* alternate which goes first */
                bool via_socket = (way ^ (int)(i & 1)) == 0;
                uint64_t t0 = bench_now_ns();
                char *v = via_socket ? memcached_get(mc, key, (size_t)n, &len, &flags, &mrc)
                                     : shmc_fleet_get(&f, key, (size_t)n, &len, &flags, &mrc);
                uint64_t dt = bench_now_ns() - t0;
                if (!v || len != VALUE) misses++;
                free(v);
                if (via_socket) t_sock += dt;
                else t_short += dt;
            }
        }
        sock[r] = (double)t_sock / (double)gets / 1000.0;
        shortcut[r] = (double)t_short / (double)gets / 1000.0;
        ratio[r] = sock[r] / shortcut[r];
        printf("run %zu: mean get %.2f us through the ring, %.2f us with the local shortcut "
               "(%.2fx)\n", r + 1, sock[r], shortcut[r], ratio[r]);
    }
    bench_spread a = bench_spread_of(sock, runs), b = bench_spread_of(shortcut, runs);
    bench_spread q = bench_spread_of(ratio, runs);
    printf("local share: %llu of %llu keys (%.1f%%)\n", (unsigned long long)local,
           (unsigned long long)keys, 100.0 * (double)local / (double)keys);
    printf("mean get, median of %zu runs of %llu gets: socket %.2f us [%.2f..%.2f], "
           "local shortcut %.2f us [%.2f..%.2f]; socket/shortcut per run: median %.2f "
           "[%.2f..%.2f]\n", runs, (unsigned long long)gets, a.median, a.lo, a.hi, b.median,
           b.lo, b.hi, q.median, q.lo, q.hi);
    printf("misses: %llu\n", (unsigned long long)misses);
    shmc_close(cache);
    memcached_free(mc);
    free(sock);
    free(shortcut);
    free(ratio);
    return misses ? 1 : 0;
}

typedef struct worker {
    pthread_t thread;
    in_port_t port;
    double seconds;
    unsigned id;
    uint64_t ops, errors;
} worker;

static void *proxy_worker(void *arg)
{
    worker *w = arg;
    memcached_st *mc = ring(&w->port, 1);
    bench_rng rng;
    bench_rng_seed(&rng, 1000 + w->id);
    char key[32], value[VALUE];
    memset(value, 'p', sizeof value);
    uint64_t end = bench_now_ns() + (uint64_t)(w->seconds * 1e9);
    while (bench_now_ns() < end) {
        for (int i = 0; i < 64; i++) {
            int n = snprintf(key, sizeof key, "p:%llu",
                             (unsigned long long)bench_rng_below(&rng, PROXY_KEYS));
            if (bench_rng_below(&rng, 10) == 0) {
                w->errors += memcached_set(mc, key, (size_t)n, value, VALUE, 0, 0) !=
                             MEMCACHED_SUCCESS;
            } else {
                size_t len;
                uint32_t flags;
                memcached_return_t rc;
                char *v = memcached_get(mc, key, (size_t)n, &len, &flags, &rc);
                w->errors += !v;
                free(v);
            }
            w->ops++;
        }
    }
    memcached_free(mc);
    return NULL;
}

static double proxy_run(in_port_t port, unsigned threads, double seconds, uint64_t *errors)
{
    worker *ws = calloc(threads, sizeof *ws);
    uint64_t t0 = bench_now_ns();
    for (unsigned i = 0; i < threads; i++) {
        ws[i] = (worker){.port = port, .seconds = seconds, .id = i};
        pthread_create(&ws[i].thread, NULL, proxy_worker, &ws[i]);
    }
    uint64_t ops = 0;
    for (unsigned i = 0; i < threads; i++) {
        pthread_join(ws[i].thread, NULL);
        ops += ws[i].ops;
        *errors += ws[i].errors;
    }
    double elapsed = (double)(bench_now_ns() - t0) / 1e9;
    free(ws);
    return (double)ops / elapsed;
}

static int proxy_bench(int argc, char **argv)
{
    if (argc < 4) return 2;
    in_port_t a = (in_port_t)atoi(argv[2]), b = (in_port_t)atoi(argv[3]);
    unsigned threads = argc > 4 ? (unsigned)atoi(argv[4]) : 4;
    double seconds = argc > 5 ? atof(argv[5]) : 2.0;
    size_t runs = argc > 6 ? strtoull(argv[6], NULL, 10) : 5;
    /* every key present, so a get is a hit on either fleet */
    for (int p = 0; p < 2; p++) {
        in_port_t port = p ? b : a;
        memcached_st *mc = ring(&port, 1);
        char key[32], value[VALUE];
        memset(value, 'p', sizeof value);
        for (int k = 0; k < PROXY_KEYS; k++) {
            int n = snprintf(key, sizeof key, "p:%d", k);
            memcached_set(mc, key, (size_t)n, value, VALUE, 0, 0);
        }
        memcached_free(mc);
    }
    double *ra = calloc(runs, sizeof *ra), *rb = calloc(runs, sizeof *rb);
    double *rq = calloc(runs, sizeof *rq);
    uint64_t errors = 0;
    for (size_t r = 0; r < runs; r++) {
        bool a_first = (r & 1) == 0;
        double x = proxy_run(a_first ? a : b, threads, seconds, &errors);
        double y = proxy_run(a_first ? b : a, threads, seconds, &errors);
        ra[r] = a_first ? x : y;
        rb[r] = a_first ? y : x;
        rq[r] = ra[r] / rb[r];
        printf("run %zu: shmcd fleet %.0f ops/s, memcached fleet %.0f ops/s (%.2f)\n", r + 1,
               ra[r], rb[r], rq[r]);
    }
    bench_spread sa = bench_spread_of(ra, runs), sb = bench_spread_of(rb, runs);
    bench_spread sq = bench_spread_of(rq, runs);
    printf("through nutcracker, %u threads, 90%% get / 10%% set, 128 B, median of %zu runs of "
           "%.1f s: shmcd nodes %.0f ops/s [%.0f..%.0f], memcached nodes %.0f ops/s "
           "[%.0f..%.0f]; shmcd/memcached per run: median %.2f [%.2f..%.2f]\n", threads, runs,
           seconds, sa.median, sa.lo, sa.hi, sb.median, sb.lo, sb.hi, sq.median, sq.lo, sq.hi);
    printf("errors: %llu\n", (unsigned long long)errors);
    free(ra);
    free(rb);
    free(rq);
    return errors ? 1 : 0;
}

int main(int argc, char **argv)
{
    int rc = 2;
    if (argc > 1 && strcmp(argv[1], "local") == 0) rc = local_bench(argc, argv);
    else if (argc > 1 && strcmp(argv[1], "proxy") == 0) rc = proxy_bench(argc, argv);
    if (rc == 2)
        fprintf(stderr, "usage: shmc_bench_fleet local PORT0 PORT1 PORT2 CACHE0 [KEYS RUNS GETS]\n"
                        "       shmc_bench_fleet proxy PORT_A PORT_B [THREADS SECONDS RUNS]\n");
    return rc;
}
