/* mp_kv.c — a separate process that opens a cache by path and sets, verifies, deletes or
 * checks the absence of a range of deterministic keys (mp_common.h), so that the
 * multi-process and warm-restart tests can prove that writes made in one process are seen,
 * byte for byte, in another.  Prints one result line on stdout; exit 0 when everything
 * matched, 1 when a check failed, 2 on bad usage or a failed open.
 *
 *   mp_kv set|verify|absent|delete|stats PATH [--prefix P] [--first N] [--count N]
 *         [--gen G] [--maxlen L] [--exptime E] [--end close|exit|hang] [--gate]
 *         [--memory-mib M] [--item-max-kib K] [--hash-power H]
 *
 * --end exit leaves with _exit() without shmc_close; --end hang prints "done" and waits to
 * be killed (the warm-restart test SIGKILLs it).  --gate waits until stdin is closed. */
#include "mp_common.h"

#include <getopt.h>
#include <shmc.h>

static void usage(void)
{
    fprintf(stderr, "usage: mp_kv set|verify|absent|delete|stats PATH [--prefix P] [--first N]"
                    " [--count N] [--gen G] [--maxlen L] [--exptime E] [--end close|exit|hang]"
                    " [--gate] [--memory-mib M] [--item-max-kib K] [--hash-power H]\n");
    exit(2);
}

int main(int argc, char **argv)
{
    const char *prefix = "k", *end = "close";
    unsigned long long first = 0, count = 1000, gen = 1, maxlen = 2000;
    long long exptime = 0;
    int gate = 0;
    shmc_config cfg;
    shmc_config_init(&cfg);
    int have_cfg = 0;

    static const struct option opts[] = {
        {"prefix", 1, 0, 'p'},  {"first", 1, 0, 'f'},      {"count", 1, 0, 'n'},
        {"gen", 1, 0, 'g'},     {"maxlen", 1, 0, 'l'},     {"exptime", 1, 0, 'e'},
        {"end", 1, 0, 'x'},     {"gate", 0, 0, 'G'},       {"memory-mib", 1, 0, 'm'},
        {"item-max-kib", 1, 0, 'i'}, {"hash-power", 1, 0, 'h'}, {0, 0, 0, 0},
    };
    int o;
    while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (o) {
        case 'p': prefix = optarg; break;
        case 'f': first = strtoull(optarg, NULL, 10); break;
        case 'n': count = strtoull(optarg, NULL, 10); break;
        case 'g': gen = strtoull(optarg, NULL, 10); break;
        case 'l': maxlen = strtoull(optarg, NULL, 10); break;
        case 'e': exptime = strtoll(optarg, NULL, 10); break;
        case 'x': end = optarg; break;
        case 'G': gate = 1; break;
        case 'm': cfg.memory_limit = strtoull(optarg, NULL, 10) << 20, have_cfg = 1; break;
        case 'i': cfg.item_size_max = strtoull(optarg, NULL, 10) << 10, have_cfg = 1; break;
        case 'h': cfg.hash_power = (unsigned)strtoul(optarg, NULL, 10), have_cfg = 1; break;
        default: usage();
        }
    }
    if (argc - optind != 2 || maxlen > (64u << 20)) usage();
    const char *op = argv[optind], *path = argv[optind + 1];
    if (strcmp(end, "close") && strcmp(end, "exit") && strcmp(end, "hang")) usage();

    if (gate) mp_gate_wait();

    shmc_t *c;
    shmc_rc rc = shmc_open(&c, path, have_cfg ? &cfg : NULL);
    if (rc != SHMC_OK) {
        fprintf(stderr, "mp_kv: open %s: %s (%s)\n", path, shmc_strerror(rc), shmc_last_error());
        return 2;
    }

    unsigned char *want = malloc(maxlen + 1), *got = malloc(maxlen + 1);
    if (!want || !got) return 2;
    unsigned long long done = 0, missing = 0, wrong = 0, errors = 0;
    char key[300];

    if (!strcmp(op, "stats")) {
        shmc_stats_t st;
        rc = shmc_stats(c, &st);
        if (rc != SHMC_OK) errors++;
        printf("stats curr_items=%llu total_items=%llu cmd_set=%llu curr_connections=%llu "
               "total_connections=%llu evictions=%llu\n",
               (unsigned long long)st.curr_items, (unsigned long long)st.total_items,
               (unsigned long long)st.cmd_set, (unsigned long long)st.curr_connections,
               (unsigned long long)st.total_connections, (unsigned long long)st.evictions);
    } else {
        for (unsigned long long i = first; i < first + count; i++) {
            size_t nkey = mp_key(key, sizeof key, prefix, i);
            size_t nwant = mp_value(want, maxlen, prefix, i, gen);
            uint32_t fwant = mp_flags(prefix, i, gen);
            if (!strcmp(op, "set")) {
                rc = shmc_set(c, key, nkey, want, nwant, fwant, exptime);
                if (rc != SHMC_OK) {
                    if (errors++ < 5)
                        fprintf(stderr, "mp_kv: set %s: %s\n", key, shmc_strerror(rc));
                }
            } else if (!strcmp(op, "delete")) {
                rc = shmc_delete(c, key, nkey);
                if (rc != SHMC_OK) {
                    if (errors++ < 5)
                        fprintf(stderr, "mp_kv: delete %s: %s\n", key, shmc_strerror(rc));
                }
            } else if (!strcmp(op, "verify") || !strcmp(op, "absent")) {
                size_t nvalue = 0;
                uint32_t flags = 0;
                rc = shmc_get(c, key, nkey, got, maxlen + 1, &nvalue, &flags, NULL);
                if (rc == SHMC_NOT_FOUND) {
                    missing++;
                } else if (rc != SHMC_OK) {
                    if (errors++ < 5)
                        fprintf(stderr, "mp_kv: get %s: %s\n", key, shmc_strerror(rc));
                } else if (nvalue != nwant || flags != fwant || memcmp(got, want, nwant) != 0) {
                    if (wrong++ < 5)
                        fprintf(stderr,
                                "mp_kv: %s: got %zu bytes flags %u, want %zu bytes flags %u%s\n",
                                key, nvalue, flags, nwant, fwant,
                                nvalue == nwant && flags == fwant ? " (bytes differ)" : "");
                }
            } else {
                usage();
            }
            done++;
        }
        if (!strcmp(op, "absent")) {
            /* Every key must be gone: a hit is a failure (and counted as such). */
            unsigned long long present = done - missing;
            printf("absent checked=%llu present=%llu errors=%llu\n", done, present, errors);
            wrong += present;
            missing = 0;
        } else {
            printf("%s done=%llu missing=%llu wrong=%llu errors=%llu\n", op, done, missing, wrong,
                   errors);
        }
    }
    fflush(stdout);
    int failed = errors || wrong || missing;
    free(want);
    free(got);

    if (!strcmp(end, "exit")) _exit(failed);
    if (!strcmp(end, "hang")) {
        printf("done\n");
        fflush(stdout);
        alarm(60); /* never outlive a parent that forgot us */
        for (;;) pause();
    }
    shmc_close(c);
    return failed;
}
