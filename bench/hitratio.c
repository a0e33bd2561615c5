/* hitratio.c — the quality of eviction: a cache sized to a share (default 10%) of a data set
 * serves a zipfian 0.99 trace of gets, as a cache-aside user does (a miss is followed by a
 * set of the key), and the share of gets that hit is compared with an exact LRU cache of the
 * same number of items over the same trace.
 *
 * The cache's memory limit is the share of the data set's bytes (keys of BENCH_KEY_LEN,
 * values of --value bytes, each item with its 48-byte header); the LRU holds as many items as
 * the cache held after the warm-up (curr_items), so that only the choice of what to evict
 * differs.  The first --warmup gets are not counted.  Prints
 *   hitratio TAG keys share ops shmc_ratio lru_ratio items
 * With --check, exits 1 when shmc's ratio is below --min-vs-lru times the LRU's (a test of
 * CLOCK's quality, ctest hitratio_zipf). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <shmc.h>

#include "common.h"

#define ITEM_HEADER 48 /* item.h's, the bytes an item costs besides its key and value */

static void usage(void)
{
    fprintf(stderr,
            "usage: shmc_bench_hitratio [options] [PATH]\n"
            "  --keys N         keys in the data set (default 1M)\n"
            "  --ops N          gets counted (default 10M)\n"
            "  --warmup N       gets before counting (default: --ops)\n"
            "  --share F        cache size as a share of the data set's bytes (default 0.1)\n"
            "  --value N        value bytes (default 128)\n"
            "  --theta F        zipfian constant (default 0.99)\n"
            "  --tag TEXT       first field of the result line (default main)\n"
            "  --check          exit 1 when the hit ratio is below --min-vs-lru x LRU's\n"
            "  --min-vs-lru F   (default 0.9)\n"
            "  PATH: the cache file to create (default /dev/shm/shmc-bench-hitratio-PID),\n"
            "        removed afterwards\n");
    exit(2);
}

/* An exact LRU over key indices [0, n): a doubly linked list through arrays. */
typedef struct lru {
    uint32_t *prev, *next;
    unsigned char *in;
    uint32_t head, tail; /* head: most recent; UINT32_MAX: none */
    uint64_t size, cap;
} lru;

#define NIL UINT32_MAX

static void lru_unlink(lru *l, uint32_t k)
{
    if (l->prev[k] != NIL) l->next[l->prev[k]] = l->next[k];
    else l->head = l->next[k];
    if (l->next[k] != NIL) l->prev[l->next[k]] = l->prev[k];
    else l->tail = l->prev[k];
}

static void lru_push(lru *l, uint32_t k)
{
    l->prev[k] = NIL;
    l->next[k] = l->head;
    if (l->head != NIL) l->prev[l->head] = k;
    l->head = k;
    if (l->tail == NIL) l->tail = k;
}

/* A get of k: whether it hit; a miss inserts k, evicting the least recent. */
static int lru_get(lru *l, uint32_t k)
{
    if (l->in[k]) {
        lru_unlink(l, k);
        lru_push(l, k);
        return 1;
    }
    if (l->size == l->cap) {
        uint32_t t = l->tail;
        lru_unlink(l, t);
        l->in[t] = 0;
        l->size--;
    }
    lru_push(l, k);
    l->in[k] = 1;
    l->size++;
    return 0;
}

static double parse_share(const char *name, const char *s)
{
    char *end;
    double v = strtod(s, &end);
    if (*end || !(v > 0) || v > 1) bench_die("%s: '%s' is not in (0, 1]", name, s);
    return v;
}

static uint64_t count_arg(const char *name, const char *s)
{
    uint64_t v;
    if (bench_parse_count(s, &v) != 0 || v < 1) bench_die("%s: '%s' is not a count >= 1", name, s);
    return v;
}

int main(int argc, char **argv)
{
    uint64_t keys = 1000000, ops = 10000000, warmup = 0, value = 128;
    int warmup_set = 0, check = 0;
    double share = 0.1, theta = 0.99, min_vs_lru = 0.9;
    const char *tag = "main";
    static const struct option longopts[] = {
        {"keys", required_argument, 0, 'k'},  {"ops", required_argument, 0, 'o'},
        {"warmup", required_argument, 0, 'w'}, {"share", required_argument, 0, 's'},
        {"value", required_argument, 0, 'v'},  {"theta", required_argument, 0, 'z'},
        {"tag", required_argument, 0, 't'},    {"check", no_argument, 0, 'c'},
        {"min-vs-lru", required_argument, 0, 'm'}, {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0}};
    int ch;
    while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (ch) {
        case 'k': keys = count_arg("--keys", optarg); break;
        case 'o': ops = count_arg("--ops", optarg); break;
        case 'w': warmup = count_arg("--warmup", optarg); warmup_set = 1; break;
        case 's': share = parse_share("--share", optarg); break;
        case 'v': value = count_arg("--value", optarg); break;
        case 'z': theta = parse_share("--theta", optarg); break;
        case 't': tag = optarg; break;
        case 'c': check = 1; break;
        case 'm': min_vs_lru = parse_share("--min-vs-lru", optarg); break;
        default: usage();
        }
    }
    if (argc - optind > 1 || keys >= NIL || value > 8192) usage();
    if (!warmup_set) warmup = ops;
    char path[256];
    if (optind < argc) snprintf(path, sizeof path, "%s", argv[optind]);
    else snprintf(path, sizeof path, "/dev/shm/shmc-bench-hitratio-%d", (int)getpid());

    shmc_config cfg;
    shmc_config_init(&cfg);
    uint64_t item = (ITEM_HEADER + BENCH_KEY_LEN + value + 7) / 8 * 8;
    cfg.memory_limit = (size_t)(share * (double)keys * (double)item);
    cfg.item_size_max = value > 1024 ? value : 1024;
    unlink(path);
    shmc_t *c = NULL;
    shmc_rc rc = shmc_open(&c, path, &cfg);
    if (rc != SHMC_OK) bench_die("%s: %s", path, shmc_strerror(rc));

    bench_zipf z;
    bench_zipf_init(&z, keys, theta);
    bench_rng rng;
    bench_rng_seed(&rng, 0x417e);
    char *val = malloc(value), *buf = malloc(value);
    if (!val || !buf) bench_die("out of memory");
    memset(val, 'h', value);
    lru l = {calloc(keys, sizeof(uint32_t)), calloc(keys, sizeof(uint32_t)), calloc(keys, 1),
             NIL, NIL, 0, 0};
    uint32_t *trace = malloc(ops * sizeof *trace);
    if (!l.prev || !l.next || !l.in || !trace) bench_die("out of memory");

    /* the cache warms up, then the counted trace is recorded for the LRU's replay */
    uint64_t hits = 0;
    for (uint64_t i = 0; i < warmup + ops; i++) {
        uint64_t k = bench_zipf_next(&z, &rng);
        if (i >= warmup) trace[i - warmup] = (uint32_t)k;
        char key[BENCH_KEY_LEN];
        size_t n;
        bench_key(key, 'k', k);
        rc = shmc_get(c, key, sizeof key, buf, value, &n, NULL, NULL);
        if (rc == SHMC_OK) {
            hits += i >= warmup;
        } else if (rc == SHMC_NOT_FOUND) {
            rc = shmc_set(c, key, sizeof key, val, value, 0, 0);
            if (rc != SHMC_OK) bench_die("set: %s", shmc_strerror(rc));
        } else {
            bench_die("get: %s", shmc_strerror(rc));
        }
        if (i + 1 == warmup) { /* the LRU holds what the cache holds */
            shmc_stats_t st;
            if (shmc_stats(c, &st) != SHMC_OK) bench_die("stats failed");
            l.cap = st.curr_items ? st.curr_items : 1;
        }
    }
    if (l.cap == 0) bench_die("--warmup must be at least 1");
    /* the LRU warms up on the same warm-up trace: replay it from the same seed */
    bench_rng_seed(&rng, 0x417e);
    for (uint64_t i = 0; i < warmup; i++) lru_get(&l, (uint32_t)bench_zipf_next(&z, &rng));
    uint64_t lru_hits = 0;
    for (uint64_t i = 0; i < ops; i++) lru_hits += lru_get(&l, trace[i]);

    double ratio = (double)hits / (double)ops, lru_ratio = (double)lru_hits / (double)ops;
    bench_emit(stdout, "hitratio\t%s\t%llu\t%.3f\t%llu\t%.4f\t%.4f\t%llu", tag,
               (unsigned long long)keys, share, (unsigned long long)ops, ratio, lru_ratio,
               (unsigned long long)l.cap);
    shmc_close(c);
    unlink(path);
    free(trace);
    free(l.prev);
    free(l.next);
    free(l.in);
    free(val);
    free(buf);
    if (check && ratio < min_vs_lru * lru_ratio) {
        fprintf(stderr, "hitratio: %.4f is below %.2f x LRU's %.4f\n", ratio, min_vs_lru,
                lru_ratio);
        return 1;
    }
    return 0;
}
