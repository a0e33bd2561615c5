/* memory.c — memory efficiency: bytes of cache memory per stored item, and how many items a
 * cache keeps within a given memory limit, for one value size, for each target.
 *
 * For each target: store F items (F fits comfortably in the limit), read the system's own
 * statistics, then keep storing fresh keys until far more than the limit can hold has been
 * written, and read how many items remain.  Figures per item:
 *   item_bytes   the system's "bytes" statistic / items (item headers + key + value)
 *   alloc_bytes  memory taken from the limit / items: memcached's total_malloced (slab
 *                pages), libshmc's used segments × segment size
 *   footprint    the whole process (memcached: VmRSS of its pid) or the whole cache file
 *                (libshmc: allocated blocks), hash table included, / items
 * Keys are BENCH_KEY_LEN (16) bytes; overhead = alloc_bytes - key - value. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "client.h"
#include "common.h"

#define MAX_TARGETS 8
#define MAX_STATS 256

typedef struct stat_table {
    int n;
    char name[MAX_STATS][48];
    char value[MAX_STATS][48];
} stat_table;

static void put_stat(void *ctx, const char *name, const char *value)
{
    stat_table *s = ctx;
    if (s->n < MAX_STATS) {
        snprintf(s->name[s->n], sizeof s->name[0], "%s", name);
        snprintf(s->value[s->n], sizeof s->value[0], "%s", value);
        s->n++;
    }
}

/* The value of stat `name`, or -1 when absent. */
static double stat_of(const stat_table *s, const char *name)
{
    for (int i = 0; i < s->n; i++)
        if (strcmp(s->name[i], name) == 0)
            return strtod(s->value[i], NULL);
    return -1.0;
}

static int read_stats(bench_client *c, const char *group, stat_table *s)
{
    memset(s, 0, sizeof *s);
    return c->ops->stats(c, group, (bench_stat_sink){put_stat, s}) == BENCH_ERR ? -1 : 0;
}

/* Resident memory of process pid in bytes, or -1. */
static double rss_of(long pid)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%ld/status", pid);
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return -1;
    double kb = -1;
    while (fgets(line, sizeof line, f))
        if (strncmp(line, "VmRSS:", 6) == 0)
            kb = strtod(line + 6, NULL);
    fclose(f);
    return kb < 0 ? -1 : kb * 1024.0;
}

static int store_range(bench_client *c, uint64_t from, uint64_t to, const char *value,
                       size_t nvalue)
{
    char key[BENCH_KEY_LEN];
    for (uint64_t i = from; i < to; i++) {
        bench_key(key, 'k', i);
        if (c->ops->set(c, key, sizeof key, value, nvalue) == BENCH_ERR)
            return -1;
    }
    return c->ops->sync(c) == BENCH_ERR ? -1 : 0;
}

static void usage(void)
{
    fprintf(stderr, "usage: shmc_bench_memory --value BYTES [--memory BYTES] [--pid LABEL=PID]\n"
                    "         LABEL=SPEC...   (--memory default 64Mi: the limit of the libshmc\n"
                    "         caches this creates; give memcached the same -m)\n");
    exit(2);
}

int main(int argc, char **argv)
{
    uint64_t value_size = 0, memory = 64u << 20;
    const char *pid_args[MAX_TARGETS]; /* "LABEL=PID" */
    int npids = 0;
    static const struct option longopts[] = {{"value", required_argument, 0, 'v'},
                                             {"memory", required_argument, 0, 'm'},
                                             {"pid", required_argument, 0, 'p'},
                                             {0, 0, 0, 0}};
    int ch;
    while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (ch) {
        case 'v':
            if (bench_parse_count(optarg, &value_size) || value_size < 1 ||
                value_size > 65536)
                bench_die("--value: '%s' (1..65536)", optarg);
            break;
        case 'm':
            if (bench_parse_count(optarg, &memory) || memory < (16u << 20))
                bench_die("--memory: '%s' (at least 16Mi)", optarg);
            break;
        case 'p': {
            char *eq = strchr(optarg, '=');
            if (npids == MAX_TARGETS || eq == NULL || atol(eq + 1) <= 0)
                bench_die("--pid: '%s' (LABEL=PID)", optarg);
            pid_args[npids++] = optarg;
            break;
        }
        default: usage();
        }
    }
    int ntargets = argc - optind;
    if (value_size == 0 || ntargets < 1 || ntargets > MAX_TARGETS)
        usage();
    char *value = malloc(value_size);
    static stat_table st, slabs;
    if (value == NULL)
        bench_die("out of memory");
    memset(value, 'm', value_size);
    uint64_t per_item_guess = BENCH_KEY_LEN + value_size + 64;
    uint64_t fixed = (uint64_t)(0.4 * (double)memory / (double)per_item_guess);
    /* no item can take less than its key and value: this many overfills any cache */
    uint64_t overfill = (uint64_t)(1.3 * (double)memory / (double)(BENCH_KEY_LEN + value_size));

    for (int t = 0; t < ntargets; t++) {
        bench_target target;
        char err[256];
        if (bench_target_parse(&target, argv[optind + t], memory, err, sizeof err))
            bench_die("%s", err);
        const char *L = target.label;
        /* stores are pipelined (bulk); statistics need a client that reads replies */
        bench_client *c = bench_client_open(&target, BENCH_OPEN_BULK, err, sizeof err);
        bench_client *q = c ? bench_client_open(&target, 0, err, sizeof err) : NULL;
        if (q == NULL) {
            bench_emit(stdout, "unavailable\tmemory\t%s\t%s", L, err);
            if (c != NULL)
                c->ops->close(c);
            bench_target_release(&target);
            continue;
        }
        long pid = 0;
        size_t nlabel = strlen(L);
        for (int i = 0; i < npids; i++)
            if (strncmp(pid_args[i], L, nlabel) == 0 && pid_args[i][nlabel] == '=')
                pid = atol(pid_args[i] + nlabel + 1);
        if (store_range(c, 0, fixed, value, value_size) != 0 || read_stats(q, NULL, &st) != 0) {
            bench_emit(stdout, "unavailable\tmemory\t%s\t%s", L, c->ops->error(c));
            c->ops->close(c);
            q->ops->close(q);
            bench_target_release(&target);
            continue;
        }
        double items = stat_of(&st, "curr_items");
        double alloc = -1, footprint = -1;
        if (bench_target_is_socket(&target)) {
            if (read_stats(q, "slabs", &slabs) == 0)
                alloc = stat_of(&slabs, "total_malloced");
            if (pid > 0)
                footprint = rss_of(pid);
        } else {
            double segs = stat_of(&st, "segments"), free_segs = stat_of(&st, "segments_free");
            double seg_size = stat_of(&st, "segment_size");
            if (segs >= 0 && free_segs >= 0 && seg_size > 0)
                alloc = (segs - free_segs) * seg_size;
            struct stat sb;
            if (stat(target.path, &sb) == 0)
                footprint = (double)sb.st_blocks * 512.0;
        }
        bench_emit(stdout, "mem\t%s\t%llu\tstored\t%llu", L, (unsigned long long)value_size,
                   (unsigned long long)fixed);
        bench_emit(stdout, "mem\t%s\t%llu\titems\t%.0f", L, (unsigned long long)value_size, items);
        if (items > 0) {
            bench_emit(stdout, "mem\t%s\t%llu\titem_bytes\t%.1f", L,
                       (unsigned long long)value_size, stat_of(&st, "bytes") / items);
            if (alloc >= 0)
                bench_emit(stdout, "mem\t%s\t%llu\talloc_bytes\t%.1f", L,
                           (unsigned long long)value_size, alloc / items);
            if (footprint >= 0)
                bench_emit(stdout, "mem\t%s\t%llu\tfootprint_bytes\t%.1f", L,
                           (unsigned long long)value_size, footprint / items);
        }
        if (store_range(c, fixed, overfill, value, value_size) != 0 ||
            read_stats(q, NULL, &st) != 0) {
            bench_emit(stdout, "unavailable\tmemory\t%s\tfilling past the limit: %s", L,
                       c->ops->error(c));
        } else {
            bench_emit(stdout, "mem\t%s\t%llu\twritten\t%llu", L,
                       (unsigned long long)value_size, (unsigned long long)overfill);
            bench_emit(stdout, "mem\t%s\t%llu\tkept_items\t%.0f", L,
                       (unsigned long long)value_size, stat_of(&st, "curr_items"));
            bench_emit(stdout, "mem\t%s\t%llu\tevictions\t%.0f", L,
                       (unsigned long long)value_size, stat_of(&st, "evictions"));
            bench_emit(stdout, "mem\t%s\t%llu\tlimit\t%llu", L, (unsigned long long)value_size,
                       (unsigned long long)memory);
        }
        c->ops->close(c);
        q->ops->close(q);
        bench_target_release(&target);
    }
    free(value);
    return 0;
}
