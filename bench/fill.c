/* fill.c — load the benchmark's items into every target before it is measured: N keys
 * 'k…' with 128 B values and B keys 'v…' with 5 KB values.  Socket targets are filled with
 * pipelined noreply sets (libmemcached's buffered mode) so that a million items take
 * seconds, not minutes; the fill itself is not a measurement.  Targets are filled in
 * parallel, one thread each, then checked by reading a sample of keys back. */
#include <getopt.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client.h"
#include "common.h"

#define MAX_TARGETS 16

typedef struct job {
    bench_target target;
    uint64_t keys, big_keys, value_size, big_value_size;
    double seconds;
    uint64_t missing, checked;
    char error[256];
} job;

static void *fill(void *arg)
{
    job *j = arg;
    char err[256];
    bench_client *c = bench_client_open(&j->target, BENCH_OPEN_BULK, err, sizeof err);
    if (c == NULL) {
        snprintf(j->error, sizeof j->error, "%s", err);
        return NULL;
    }
    char *value = malloc(j->big_value_size > j->value_size ? j->big_value_size : j->value_size);
    char *buf = malloc(j->big_value_size + j->value_size + 1);
    if (value == NULL || buf == NULL) {
        snprintf(j->error, sizeof j->error, "out of memory");
        goto out;
    }
    memset(value, 'f', j->big_value_size > j->value_size ? j->big_value_size : j->value_size);
    char key[BENCH_KEY_LEN];
    uint64_t t0 = bench_now_ns();
    for (uint64_t i = 0; i < j->keys; i++) {
        bench_key(key, 'k', i);
        if (c->ops->set(c, key, sizeof key, value, j->value_size) == BENCH_ERR) {
            snprintf(j->error, sizeof j->error, "set: %s", c->ops->error(c));
            goto out;
        }
    }
    for (uint64_t i = 0; i < j->big_keys; i++) {
        bench_key(key, 'v', i);
        if (c->ops->set(c, key, sizeof key, value, j->big_value_size) == BENCH_ERR) {
            snprintf(j->error, sizeof j->error, "set: %s", c->ops->error(c));
            goto out;
        }
    }
    if (c->ops->sync(c) == BENCH_ERR) {
        snprintf(j->error, sizeof j->error, "sync: %s", c->ops->error(c));
        goto out;
    }
    j->seconds = (double)(bench_now_ns() - t0) / 1e9;
    /* read back a spread-out sample of both populations */
    size_t n;
    uint64_t step = j->keys / 997 + 1;
    for (uint64_t i = 0; i < j->keys; i += step, j->checked++) {
        bench_key(key, 'k', i);
        if (c->ops->get(c, key, sizeof key, buf, j->big_value_size + j->value_size + 1, &n) !=
                BENCH_HIT ||
            n != j->value_size)
            j->missing++;
    }
    step = j->big_keys / 97 + 1;
    for (uint64_t i = 0; i < j->big_keys; i += step, j->checked++) {
        bench_key(key, 'v', i);
        if (c->ops->get(c, key, sizeof key, buf, j->big_value_size + j->value_size + 1, &n) !=
                BENCH_HIT ||
            n != j->big_value_size)
            j->missing++;
    }
out:
    free(value);
    free(buf);
    c->ops->close(c);
    return NULL;
}

static void usage(void)
{
    fprintf(stderr, "usage: shmc_bench_fill [--keys N] [--big-keys N] [--value BYTES]\n"
                    "         [--big-value BYTES] [--memory BYTES] [--tag TEXT] LABEL=SPEC...\n"
                    "  defaults: 1M keys of 128 B, 10k keys of 5120 B; --memory is the\n"
                    "  memory limit of a libshmc cache this creates (default 512Mi)\n");
    exit(2);
}

int main(int argc, char **argv)
{
    uint64_t keys = 1000000, big_keys = 10000, value_size = 128, big_value_size = 5120;
    uint64_t memory = 512u << 20;
    const char *tag = "main";
    static const struct option longopts[] = {
        {"keys", required_argument, 0, 'k'},  {"big-keys", required_argument, 0, 'b'},
        {"value", required_argument, 0, 'v'}, {"big-value", required_argument, 0, 'B'},
        {"memory", required_argument, 0, 'm'}, {"tag", required_argument, 0, 't'},
        {0, 0, 0, 0}};
    int ch;
    while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        uint64_t *dst = NULL;
        switch (ch) {
        case 'k': dst = &keys; break;
        case 'b': dst = &big_keys; break;
        case 'v': dst = &value_size; break;
        case 'B': dst = &big_value_size; break;
        case 'm': dst = &memory; break;
        case 't': tag = optarg; continue;
        default: usage();
        }
        if (bench_parse_count(optarg, dst) != 0)
            bench_die("'%s' is not a count", optarg);
    }
    int ntargets = argc - optind;
    if (ntargets < 1 || ntargets > MAX_TARGETS || value_size < 1 || big_value_size < 1 ||
        value_size > (64u << 20) || big_value_size > (64u << 20))
        usage();
    job *jobs = calloc((size_t)ntargets, sizeof *jobs);
    pthread_t *threads = calloc((size_t)ntargets, sizeof *threads);
    if (jobs == NULL || threads == NULL)
        bench_die("out of memory");
    for (int t = 0; t < ntargets; t++) {
        char err[256];
        if (bench_target_parse(&jobs[t].target, argv[optind + t], memory, err, sizeof err))
            bench_die("%s", err);
        jobs[t].keys = keys;
        jobs[t].big_keys = big_keys;
        jobs[t].value_size = value_size;
        jobs[t].big_value_size = big_value_size;
        if (pthread_create(&threads[t], NULL, fill, &jobs[t]) != 0)
            bench_die("pthread_create failed");
    }
    int failed = 0;
    for (int t = 0; t < ntargets; t++) {
        pthread_join(threads[t], NULL);
        job *j = &jobs[t];
        if (j->error[0]) {
            /* a target that cannot exist here (PKU on a CPU without it) is reported, not a
             * failure of the fill */
            bench_emit(stdout, "unavailable\t%s\t%s\t%s%s", tag, j->target.label,
                       j->target.unavailable[0] ? "" : "fill failed: ", j->error);
            if (!j->target.unavailable[0])
                failed = 1;
            continue;
        }
        bench_emit(stdout, "fill\t%s\t%s\t%llu\t%llu\t%.2f\t%llu\t%llu", tag, j->target.label,
                   (unsigned long long)j->keys, (unsigned long long)j->big_keys, j->seconds,
                   (unsigned long long)j->checked, (unsigned long long)j->missing);
        if (j->missing)
            fprintf(stderr, "bench: %s: %llu of %llu sampled keys missing after the fill\n",
                    j->target.label, (unsigned long long)j->missing,
                    (unsigned long long)j->checked);
        bench_target_release(&j->target);
    }
    free(jobs);
    free(threads);
    return failed;
}
