/* latency.c — the paper's latency table: median and p99 of get 128 B, get 5 KB, set 128 B,
 * set 5 KB, delete, incr and get-miss, and get/set 128 B on zipfian keys, for every target
 * given, measured in one run.
 *
 * Method: each op is timed on its own with CLOCK_MONOTONIC around the call, minus the
 * median cost of reading the clock twice (measured at start and reported).  A run of one
 * op on one target is W untimed warm-up ops followed by S timed ones; its median and p99
 * are kept.  Runs are interleaved: for each run, each op, each target in turn, so that
 * noise on a shared machine hits every system alike.  Every target sees the same key
 * sequence (uniform, or zipfian 0.99 for get128z/set128z).  The figure reported is the median over runs, with the lowest and highest run.
 *
 * The caches must be filled first (shmc_bench_fill): N keys 'k…' with 128 B values and
 * B keys 'v…' with 5 KB values; counters for incr are set here.
 *
 * mget16 is one multi-key get of 16 uniform 128 B keys (shmc_mget; memcached's get k1 ... k16
 * over a socket); its figures are per key, the call's time divided by 16.  mget100 is the
 * same with 100 keys.  With --memref, one random memory load is timed as the ops are (the
 * median of single loads) right before each op's round of targets, run by run, and a
 * `loads` line gives every op's median as a ratio to it: the median over runs of that run's
 * ratio, so that the machine's load, which moves both, cancels.  For each
 * libshmc target a `mapping` line gives its mapping's length and how much of it is mapped
 * with huge pages (shmc_mapping_stats). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client.h"
#include "common.h"

/* getcold (first in each run): get 128 B right after a new attach (libshmc: a new handle,
 * so a fresh mapping) or a new connection, before anything else touched the cache.
 * get128z/set128z: as get128/set128, keys zipfian (YCSB's generator, constant 0.99). */
enum op {
    OP_GETCOLD, OP_GET128, OP_GET5K, OP_SET128, OP_SET5K, OP_DELETE, OP_INCR, OP_GETMISS,
    OP_GET128Z, OP_SET128Z, OP_MGET16, OP_MGET100, OP_COUNT
};
static const char *const op_names[OP_COUNT] = {"getcold", "get128",  "get5k",  "set128",
                                               "set5k",   "delete",  "incr",   "getmiss",
                                               "get128z", "set128z", "mget16",
                                               "mget100"};
#define DEFAULT_OPS \
    "getcold,get128,get5k,set128,set5k,delete,incr,getmiss,get128z,set128z,mget16,mget100"
#define MGET_KEYS 100 /* the most keys of one multi-key get */
/* Keys per call of op: 16 or 100 for the multi-key gets, else 1. */
static unsigned keys_per_call(int op)
{
    return op == OP_MGET16 ? 16 : op == OP_MGET100 ? 100 : 1;
}
#define ZIPF_THETA 0.99
/* Zipfian traffic keeps its hot keys in the CPU caches; 200 ops cannot bring them back after
 * the other ops have run, so the zipfian rows warm up longer (still untimed). */
#define ZIPF_WARMUP 20000

#define SMALL_VALUE 128
#define BIG_VALUE 5120
#define COUNTERS 1000
#define MAX_TARGETS 16

typedef struct config {
    uint64_t keys, big_keys, samples, runs, warmup, memref;
    const char *tag;
    int ops[OP_COUNT];
    bench_zipf zipf; /* over keys; set up only when a zipfian op is measured */
} config;

typedef struct target_state {
    bench_target target;
    bench_client *client;
    double *medians[OP_COUNT], *p99s[OP_COUNT], *loads[OP_COUNT];
    uint64_t errors[OP_COUNT];
    char error[200];
} target_state;

static char small_value[SMALL_VALUE], big_value[BIG_VALUE], buf[8192];

static void usage(void)
{
    fprintf(stderr,
            "usage: shmc_bench_latency [options] LABEL=SPEC...\n"
            "  --keys N         128 B items filled beforehand (default 1M)\n"
            "  --big-keys N     5 KB items filled beforehand (default 10k)\n"
            "  --samples N      timed ops per run (default 2000)\n"
            "  --runs N         runs per figure (default 5)\n"
            "  --warmup N       untimed ops before each run (default 200)\n"
            "  --ops LIST       comma list of getcold,get128,get5k,set128,set5k,delete,incr,\n"
            "                   getmiss,get128z,set128z,mget16,mget100 (default all; getcold:\n"
            "                   get 128 B just after attaching/connecting; get128z/set128z:\n"
            "                   zipfian 0.99\n"
            "                   keys; mget16/mget100: 16/100 uniform 128 B keys in one call,\n"
            "                   per key)\n"
            "  --tag TEXT       first field of every result line (default main)\n"
            "  --memref BYTES   also measure one random memory load over BYTES (reference)\n"
            "  SPEC: shmc:PATH | shmc-pku:PATH | unix:SOCKET | tcp:HOST:PORT | lmdb:PATH\n");
    exit(2);
}

static void parse_ops(config *cfg, const char *list)
{
    memset(cfg->ops, 0, sizeof cfg->ops);
    char *copy = strdup(list), *save = NULL;
    if (copy == NULL)
        bench_die("out of memory");
    for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        int found = 0;
        for (int i = 0; i < OP_COUNT; i++) {
            if (strcmp(tok, op_names[i]) == 0) {
                cfg->ops[i] = 1;
                found = 1;
            }
        }
        if (!found)
            bench_die("--ops: unknown op '%s'", tok);
    }
    free(copy);
}

static uint64_t count_arg(const char *name, const char *s, uint64_t min)
{
    uint64_t v;
    if (bench_parse_count(s, &v) != 0 || v < min)
        bench_die("%s: '%s' is not a count >= %llu", name, s, (unsigned long long)min);
    return v;
}

/* The keys of op number `i` of a run (warm-up ops included), named before the op is timed:
 * the table times the op, not the formatting of its key. */
static char keys[MGET_KEYS][BENCH_KEY_LEN];
static const char *key_ptrs[MGET_KEYS];
static size_t key_lens[MGET_KEYS];

static void name_keys(enum op op, const uint64_t *index, uint64_t i)
{
    static const char population[OP_COUNT] = {
        [OP_GETCOLD] = 'k', [OP_GET128] = 'k', [OP_GET128Z] = 'k', [OP_GET5K] = 'v',
        [OP_SET128] = 'k', [OP_SET128Z] = 'k', [OP_SET5K] = 'v', [OP_DELETE] = 'd',
        [OP_INCR] = 'c', [OP_GETMISS] = 'm', [OP_MGET16] = 'k', [OP_MGET100] = 'k'};
    unsigned m = keys_per_call(op);
    for (unsigned j = 0; j < m; j++) {
        bench_key(keys[j], population[op], index[i * m + j]);
        key_ptrs[j] = keys[j];
        key_lens[j] = BENCH_KEY_LEN;
    }
}

/* Issue op on client c with the keys name_keys named. */
static bench_result issue(bench_client *c, enum op op)
{
    size_t n;
    switch (op) {
    case OP_GETCOLD:
    case OP_GET128:
    case OP_GET128Z:
    case OP_GET5K:
    case OP_GETMISS:
        return c->ops->get(c, keys[0], BENCH_KEY_LEN, buf, sizeof buf, &n);
    case OP_SET128:
    case OP_SET128Z:
        return c->ops->set(c, keys[0], BENCH_KEY_LEN, small_value, sizeof small_value);
    case OP_SET5K:
        return c->ops->set(c, keys[0], BENCH_KEY_LEN, big_value, sizeof big_value);
    case OP_DELETE:
        return c->ops->del(c, keys[0], BENCH_KEY_LEN);
    case OP_INCR:
        return c->ops->incr(c, keys[0], BENCH_KEY_LEN, 1);
    case OP_MGET16:
    case OP_MGET100: {
        uint64_t found;
        unsigned m = keys_per_call(op);
        bench_result r = c->ops->get_many(c, key_ptrs, key_lens, m, &found);
        return r != BENCH_HIT ? r : found == m ? BENCH_HIT : BENCH_MISS;
    }
    default:
        return BENCH_ERR;
    }
}

/* The key indices of one run of op: the same for every target. */
static void choose_keys(const config *cfg, enum op op, uint64_t run, uint64_t *index,
                        uint64_t count)
{
    bench_rng rng;
    bench_rng_seed(&rng, 0x5eed0000u + run * OP_COUNT + (uint64_t)op);
    for (uint64_t i = 0; i < count; i++) {
        switch (op) {
        case OP_GETCOLD:
        case OP_GET128:
        case OP_SET128:
        case OP_MGET16:
        case OP_MGET100:
            index[i] = bench_rng_below(&rng, cfg->keys);
            break;
        case OP_GET128Z:
        case OP_SET128Z:
            index[i] = bench_zipf_next(&cfg->zipf, &rng);
            break;
        case OP_GET5K:
        case OP_SET5K:
            index[i] = bench_rng_below(&rng, cfg->big_keys);
            break;
        case OP_DELETE: /* fresh keys, each deleted once */
            index[i] = run * count + i;
            break;
        case OP_INCR:
            index[i] = bench_rng_below(&rng, COUNTERS);
            break;
        default: /* never stored: far above any stored index */
            index[i] = 100000000000000u + bench_rng_below(&rng, 100000000000000u);
            break;
        }
    }
}

/* Open (or reopen) ts's client and bring it to its steady state (see touch_all). */
static int attach(const config *cfg, target_state *ts, int touch)
{
    char err[256];
    if (ts->client != NULL) {
        ts->client->ops->close(ts->client);
        bench_target_release(&ts->target); /* libshmc: unmap, so the next map is fresh */
    }
    ts->client = bench_client_open(&ts->target, 0, err, sizeof err);
    if (ts->client == NULL) {
        snprintf(ts->error, sizeof ts->error, "reopen: %.180s", err);
        return -1;
    }
    if (touch) {
        uint64_t missing = bench_client_touch_all(ts->client, &ts->target, cfg->keys,
                                                  cfg->big_keys);
        if (missing > 0)
            fprintf(stderr, "bench: %s: %llu of the filled keys are missing (not filled?)\n",
                    ts->target.label, (unsigned long long)missing);
    }
    return 0;
}

static uint64_t warmup_of(const config *cfg, enum op op)
{
    if (op == OP_GETCOLD) return 0;
    if ((op == OP_GET128Z || op == OP_SET128Z) && cfg->warmup < ZIPF_WARMUP) return ZIPF_WARMUP;
    return cfg->warmup;
}

static void measure(const config *cfg, target_state *ts, enum op op, uint64_t run,
                    const uint64_t *index, double *samples, uint64_t overhead)
{
    uint64_t warmup = warmup_of(cfg, op);
    uint64_t total = warmup + cfg->samples;
    if (op == OP_GETCOLD && attach(cfg, ts, 0) != 0)
        return;
    bench_client *c = ts->client;
    if (op == OP_DELETE) { /* untimed: store the keys this run deletes */
        char key[BENCH_KEY_LEN];
        for (uint64_t i = 0; i < total; i++) {
            bench_key(key, 'd', index[i]);
            if (c->ops->set(c, key, sizeof key, small_value, sizeof small_value) == BENCH_ERR)
                ts->errors[op]++;
        }
    }
    bench_result expect = op == OP_GETMISS ? BENCH_MISS : BENCH_HIT;
    for (uint64_t i = 0; i < warmup; i++) {
        name_keys(op, index, i);
        if (issue(c, op) != expect)
            ts->errors[op]++;
    }
    for (uint64_t i = 0; i < cfg->samples; i++) {
        name_keys(op, index, warmup + i);
        uint64_t t0 = bench_now_ns();
        bench_result r = issue(c, op);
        uint64_t t1 = bench_now_ns();
        uint64_t d = t1 - t0;
        samples[i] = d > overhead ? (double)(d - overhead) : 0.0;
        samples[i] /= keys_per_call(op);
        if (r != expect) {
            ts->errors[op]++;
            if (r == BENCH_ERR && ts->error[0] == '\0')
                snprintf(ts->error, sizeof ts->error, "%s: %s", op_names[op],
                         c->ops->error(c));
        }
    }
    ts->medians[op][run] = bench_quantile(samples, cfg->samples, 0.5);
    ts->p99s[op][run] = bench_quantile(samples, cfg->samples, 0.99);
    if (op == OP_GETCOLD && !bench_target_is_socket(&ts->target)) /* back to steady state */
        bench_client_touch_all(c, &ts->target, cfg->keys, cfg->big_keys);
}

int main(int argc, char **argv)
{
    config cfg = {1000000, 10000, 2000, 5, 200, 0, "main", {0}, {0}};
    parse_ops(&cfg, DEFAULT_OPS);
    static const struct option longopts[] = {
        {"keys", required_argument, 0, 'k'},   {"big-keys", required_argument, 0, 'b'},
        {"samples", required_argument, 0, 's'}, {"runs", required_argument, 0, 'r'},
        {"warmup", required_argument, 0, 'w'}, {"ops", required_argument, 0, 'o'},
        {"tag", required_argument, 0, 't'},    {"memref", required_argument, 0, 'M'},
        {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0}};
    int ch;
    while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (ch) {
        case 'k': cfg.keys = count_arg("--keys", optarg, 1); break;
        case 'b': cfg.big_keys = count_arg("--big-keys", optarg, 1); break;
        case 's': cfg.samples = count_arg("--samples", optarg, 10); break;
        case 'r': cfg.runs = count_arg("--runs", optarg, 1); break;
        case 'w': cfg.warmup = count_arg("--warmup", optarg, 0); break;
        case 'o': parse_ops(&cfg, optarg); break;
        case 't': cfg.tag = optarg; break;
        case 'M': cfg.memref = count_arg("--memref", optarg, 4096); break;
        default: usage();
        }
    }
    int ntargets = argc - optind;
    if (ntargets < 1 || ntargets > MAX_TARGETS)
        usage();
    memset(small_value, 's', sizeof small_value);
    memset(big_value, 'b', sizeof big_value);
    if (cfg.ops[OP_GET128Z] || cfg.ops[OP_SET128Z]) /* a pow() per key: once */
        bench_zipf_init(&cfg.zipf, cfg.keys, ZIPF_THETA);

    target_state *ts = calloc((size_t)ntargets, sizeof *ts);
    uint64_t total = (cfg.warmup > ZIPF_WARMUP ? cfg.warmup : ZIPF_WARMUP) + cfg.samples;
    uint64_t *index = malloc(total * MGET_KEYS * sizeof *index);
    double *samples = malloc(cfg.samples * sizeof *samples);
    if (ts == NULL || index == NULL || samples == NULL)
        bench_die("out of memory");

    for (int t = 0; t < ntargets; t++) { /* every target checked before any work */
        char err[256];
        if (bench_target_parse(&ts[t].target, argv[optind + t], 0, err, sizeof err) != 0)
            bench_die("%s", err);
    }
    uint64_t overhead = bench_timer_overhead_ns();
    bench_emit(stdout, "timer\t%s\t%llu", cfg.tag, (unsigned long long)overhead);
    bench_memref memref = {0};
    if (cfg.memref > 0 && bench_memref_open(&memref, cfg.memref) != 0)
        bench_die("--memref: cannot allocate %llu bytes", (unsigned long long)cfg.memref);
    double *memref_ns = calloc(cfg.runs * OP_COUNT, sizeof(double)); /* [run][op] */
    size_t nmemref = 0;
    if (memref_ns == NULL)
        bench_die("out of memory");

    for (int t = 0; t < ntargets; t++) {
        char err[256];
        ts[t].client = bench_client_open(&ts[t].target, 0, err, sizeof err);
        if (ts[t].client == NULL) {
            bench_emit(stdout, "unavailable\t%s\t%s\t%s", cfg.tag, ts[t].target.label, err);
            continue;
        }
        for (int op = 0; op < OP_COUNT; op++) {
            ts[t].medians[op] = calloc(cfg.runs, sizeof(double));
            ts[t].p99s[op] = calloc(cfg.runs, sizeof(double));
            ts[t].loads[op] = calloc(cfg.runs, sizeof(double));
            if (!ts[t].medians[op] || !ts[t].p99s[op] || !ts[t].loads[op])
                bench_die("out of memory");
        }
        /* untimed: the counters incr works on, and a check that the fill is there */
        bench_client *c = ts[t].client;
        char key[BENCH_KEY_LEN];
        size_t n;
        uint64_t missing = 0;
        for (uint64_t i = 0; i < COUNTERS; i++) {
            bench_key(key, 'c', i);
            if (c->ops->set(c, key, sizeof key, "0", 1) != BENCH_HIT)
                bench_die("%s: cannot store counters: %s", ts[t].target.label,
                          c->ops->error(c));
        }
        for (uint64_t i = 0; i < 1000; i++) {
            bench_key(key, 'k', (i * 7919u) % cfg.keys);
            if (c->ops->get(c, key, sizeof key, buf, sizeof buf, &n) != BENCH_HIT ||
                n != SMALL_VALUE)
                missing++;
        }
        if (missing > 0)
            fprintf(stderr, "bench: %s: %llu of 1000 filled keys missing (not filled?)\n",
                    ts[t].target.label, (unsigned long long)missing);
        bench_client_touch_all(c, &ts[t].target, cfg.keys, cfg.big_keys);
    }

    for (uint64_t run = 0; run < cfg.runs; run++) {
        for (int op = 0; op < OP_COUNT; op++) {
            if (!cfg.ops[op])
                continue;
            choose_keys(&cfg, (enum op)op, run, index, total * keys_per_call(op));
            double ref = 0;
            if (memref.buf != NULL) {
                ref = bench_memref_ns(&memref, cfg.samples, overhead);
                memref_ns[nmemref++] = ref;
            }
            for (int t = 0; t < ntargets; t++) {
                if (ts[t].client == NULL)
                    continue;
                measure(&cfg, &ts[t], (enum op)op, run, index, samples, overhead);
                if (ref > 0)
                    ts[t].loads[op][run] = ts[t].medians[op][run] / ref;
            }
        }
    }
    if (nmemref > 0) {
        bench_spread m = bench_spread_of(memref_ns, nmemref);
        bench_emit(stdout, "memref\t%s\t%llu\t%.1f\t%.1f\t%.1f", cfg.tag,
                   (unsigned long long)cfg.memref, m.median, m.lo, m.hi);
    }
    bench_memref_close(&memref);

    for (int t = 0; t < ntargets; t++) {
        if (ts[t].client == NULL) {
            if (ts[t].medians[0] != NULL) /* it was measured, then lost: say why */
                bench_emit(stdout, "unavailable\t%s\t%s\t%s", cfg.tag, ts[t].target.label,
                           ts[t].error);
            continue;
        }
        for (int op = 0; op < OP_COUNT; op++) {
            if (!cfg.ops[op])
                continue;
            bench_spread m = bench_spread_of(ts[t].medians[op], cfg.runs);
            bench_spread p = bench_spread_of(ts[t].p99s[op], cfg.runs);
            bench_emit(stdout, "lat\t%s\t%s\t%s\t%llu\t%llu\t%.1f\t%.1f\t%.1f\t%.1f\t%.1f\t%.1f\t%llu",
                       cfg.tag, ts[t].target.label, op_names[op],
                       (unsigned long long)cfg.runs, (unsigned long long)cfg.samples,
                       m.median, m.lo, m.hi, p.median, p.lo, p.hi,
                       (unsigned long long)ts[t].errors[op]);
            if (nmemref > 0) {
                bench_spread l = bench_spread_of(ts[t].loads[op], cfg.runs);
                bench_emit(stdout, "loads\t%s\t%s\t%s\t%.2f\t%.2f\t%.2f", cfg.tag,
                           ts[t].target.label, op_names[op], l.median, l.lo, l.hi);
            }
        }
        shmc_mapping_t m; /* libshmc: how much of its mapping the kernel maps with huge pages */
        if (ts[t].target.shared != NULL && shmc_mapping_stats(ts[t].target.shared, &m) == SHMC_OK)
            bench_emit(stdout, "mapping\t%s\t%s\t%llu\t%llu", cfg.tag, ts[t].target.label,
                       (unsigned long long)m.mapped_bytes, (unsigned long long)m.huge_bytes);
        if (ts[t].error[0])
            fprintf(stderr, "bench: %s: first error: %s\n", ts[t].target.label, ts[t].error);
        ts[t].client->ops->close(ts[t].client);
        bench_target_release(&ts[t].target);
    }
    for (int t = 0; t < ntargets; t++) {
        for (int op = 0; op < OP_COUNT; op++) {
            free(ts[t].medians[op]);
            free(ts[t].p99s[op]);
            free(ts[t].loads[op]);
        }
    }
    free(ts);
    free(index);
    free(samples);
    free(memref_ns);
    return 0;
}
