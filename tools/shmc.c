/* shmc.c — the `shmc` command: create, inspect, check and poke a cache file from a shell,
 * through the public API only (the same calls any application makes). */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <shmc.h>

static const char usage[] =
    "usage: shmc COMMAND CACHE [ARGS]\n"
    "  CACHE is a name in $SHMC_DIR (default /dev/shm) or a path containing '/'.\n"
    "commands:\n"
    "  create CACHE [-m MiB] [-I bytes]   create a cache (defaults: 64 MiB, 1 MiB items)\n"
    "  stats CACHE                        memcached-style counters\n"
    "  get CACHE KEY                      print the value (exit 1 when missing)\n"
    "  set CACHE KEY VALUE [FLAGS [EXPTIME]]\n"
    "  add|replace|append|prepend CACHE KEY VALUE [FLAGS [EXPTIME]]\n"
    "  delete CACHE KEY\n"
    "  incr|decr CACHE KEY DELTA\n"
    "  touch CACHE KEY EXPTIME\n"
    "  flush CACHE [DELAY]\n"
    "  check CACHE                        verify every invariant; exit 1 on any violation\n"
    "  dump CACHE FILE                    write every live item to FILE ('-': stdout) as\n"
    "                                     memcached-tool's dump: add lines, absolute exptimes\n"
    "  restore CACHE FILE                 add the items of such a dump ('-': stdin)\n"
    "  --help, --version\n";

static int fail(const char *what, shmc_rc rc)
{
    const char *detail = shmc_last_error();
    fprintf(stderr, "shmc: %s: %s%s%s\n", what, shmc_strerror(rc), *detail ? ": " : "", detail);
    return rc == SHMC_NOT_FOUND || rc == SHMC_NOT_STORED || rc == SHMC_EXISTS ? 1 : 2;
}

static int parse_u64(const char *s, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s || *end || s[0] == '-') return -1;
    *out = v;
    return 0;
}

static int parse_i64(const char *s, int64_t *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s || *end) return -1;
    *out = v;
    return 0;
}

static int cmd_stats(shmc_t *c)
{
    shmc_stats_t s;
    shmc_rc rc = shmc_stats(c, &s);
    if (rc != SHMC_OK) return fail("stats", rc);
#define P(kind, name, wire, reset, meaning)                                                \
    if (&s.name == &s.protected_mode)                                                       \
        printf("%-20s %s\n", "protection", s.protected_mode ? "pku" : "none (unprotected)"); \
    else                                                                                    \
        printf("%-20s %" PRIu64 "\n", #name, s.name);
    SHMC_STATS(P)
#undef P
    return 0;
}

static int cmd_get(shmc_t *c, const char *key)
{
    void *v;
    size_t n;
    uint32_t flags;
    uint64_t cas;
    shmc_rc rc = shmc_get_alloc(c, key, strlen(key), &v, &n, &flags, &cas);
    if (rc != SHMC_OK) return fail("get", rc);
    fwrite(v, 1, n, stdout);
    putchar('\n');
    fprintf(stderr, "flags %" PRIu32 " cas %" PRIu64 " bytes %zu\n", flags, cas, n);
    free(v);
    return 0;
}

static int cmd_store(shmc_t *c, const char *cmd, int argc, char **argv)
{
    if (argc < 2 || argc > 4) return fprintf(stderr, "%s", usage), 2;
    uint64_t flags = 0;
    int64_t exptime = 0;
    if (argc > 2 && (parse_u64(argv[2], &flags) || flags > UINT32_MAX))
        return fprintf(stderr, "shmc: bad flags '%s'\n", argv[2]), 2;
    if (argc > 3 && parse_i64(argv[3], &exptime))
        return fprintf(stderr, "shmc: bad exptime '%s'\n", argv[3]), 2;
    const char *k = argv[0], *v = argv[1];
    size_t nk = strlen(k), nv = strlen(v);
    shmc_rc rc;
    if (!strcmp(cmd, "set")) rc = shmc_set(c, k, nk, v, nv, (uint32_t)flags, exptime);
    else if (!strcmp(cmd, "add")) rc = shmc_add(c, k, nk, v, nv, (uint32_t)flags, exptime);
    else if (!strcmp(cmd, "replace")) rc = shmc_replace(c, k, nk, v, nv, (uint32_t)flags, exptime);
    else if (!strcmp(cmd, "append")) rc = shmc_append(c, k, nk, v, nv, 0, 0);
    else rc = shmc_prepend(c, k, nk, v, nv, 0, 0);
    if (rc != SHMC_OK) return fail(cmd, rc);
    puts("STORED");
    return 0;
}

/* ---- dump and restore: memcached-tool's dump format ----
 * One "add KEY FLAGS EXPTIME BYTES\r\n<value>\r\n" per live item, EXPTIME an absolute Unix
 * time (0: never), exactly what `memcached-tool HOST dump` writes: the file restores into
 * another shmc cache of any size (`shmc restore`), or into memcached with `nc HOST 11211 <
 * FILE`.  Stale bits and win tokens are not carried over. */

struct dump_ctx {
    FILE *out;
    time_t now;
    uint64_t items, bytes;
    int failed;
};

static int dump_item(void *arg, const char *key, size_t nkey, const void *value, size_t nvalue,
                     const shmc_item_meta *m)
{
    struct dump_ctx *d = arg;
    int64_t exptime = m->ttl < 0 ? 0 : (int64_t)d->now + m->ttl;
    if (fprintf(d->out, "add %.*s %" PRIu32 " %" PRId64 " %zu\r\n", (int)nkey, key, m->flags,
                exptime, nvalue) < 0 ||
        fwrite(value, 1, nvalue, d->out) != nvalue || fputs("\r\n", d->out) < 0) {
        d->failed = 1;
        return 1;
    }
    d->items++;
    d->bytes += nvalue;
    return 0;
}

static int cmd_dump(shmc_t *c, const char *file)
{
    struct dump_ctx d = {.out = strcmp(file, "-") ? fopen(file, "wb") : stdout, .now = time(NULL)};
    if (!d.out) {
        fprintf(stderr, "shmc: dump: %s: %s\n", file, strerror(errno));
        return 2;
    }
    shmc_rc rc = shmc_walk(c, dump_item, &d);
    if (d.out != stdout && fclose(d.out) != 0) d.failed = 1;
    else if (d.out == stdout && fflush(stdout) != 0) d.failed = 1;
    if (rc != SHMC_OK) return fail("dump", rc);
    if (d.failed) {
        fprintf(stderr, "shmc: dump: writing %s: %s\n", file, strerror(errno));
        return 2;
    }
    fprintf(stderr, "dumped %" PRIu64 " items, %" PRIu64 " value bytes\n", d.items, d.bytes);
    return 0;
}

/* One "add|set KEY FLAGS EXPTIME BYTES" line of a dump; false when it is not one. */
static int parse_dump_line(char *line, char **cmd, char **key, uint64_t *flags, int64_t *exptime,
                           uint64_t *bytes)
{
    char *save = NULL, *f[6];
    int n = 0;
    for (char *t = strtok_r(line, " ", &save); t && n < 6; t = strtok_r(NULL, " ", &save)) f[n++] = t;
    if (n != 5 || (strcmp(f[0], "add") && strcmp(f[0], "set"))) return 0;
    if (parse_u64(f[2], flags) || *flags > UINT32_MAX || parse_i64(f[3], exptime) ||
        parse_u64(f[4], bytes))
        return 0;
    *cmd = f[0];
    *key = f[1];
    return 1;
}

static int cmd_restore(shmc_t *c, const char *file)
{
    FILE *in = strcmp(file, "-") ? fopen(file, "rb") : stdin;
    if (!in) {
        fprintf(stderr, "shmc: restore: %s: %s\n", file, strerror(errno));
        return 2;
    }
    shmc_stats_t st;
    shmc_rc rc = shmc_stats(c, &st);
    if (rc != SHMC_OK) return fail("restore", rc);
    uint64_t lineno = 0, added = 0, kept = 0, refused = 0;
    int status = 0;
    char line[512];
    char *value = NULL;
    while (fgets(line, sizeof line, in)) {
        lineno++;
        size_t len = strlen(line);
        if (len < 2 || line[len - 2] != '\r' || line[len - 1] != '\n') {
            fprintf(stderr, "shmc: restore: %s:%" PRIu64 ": not a line of a dump (too long, or "
                            "not ended by \\r\\n)\n", file, lineno);
            status = 2;
            break;
        }
        line[len - 2] = 0;
        char *cmd, *key;
        uint64_t flags, bytes;
        int64_t exptime;
        if (!parse_dump_line(line, &cmd, &key, &flags, &exptime, &bytes)) {
            fprintf(stderr, "shmc: restore: %s:%" PRIu64 ": expected \"add KEY FLAGS EXPTIME "
                            "BYTES\"\n", file, lineno);
            status = 2;
            break;
        }
        if (bytes > st.item_size_max) { /* too large for this cache: skip the value */
            char skip[4096];
            uint64_t left = bytes + 2;
            while (left) {
                size_t n = fread(skip, 1, left < sizeof skip ? (size_t)left : sizeof skip, in);
                if (!n) break;
                left -= n;
            }
            if (left) {
                fprintf(stderr, "shmc: restore: %s:%" PRIu64 ": value of %s cut short\n", file,
                        lineno, key);
                status = 2;
                break;
            }
            lineno++;
            fprintf(stderr, "shmc: restore: %s: %" PRIu64 " bytes exceed the item size limit\n",
                    key, bytes);
            refused++;
            continue;
        }
        char *v = realloc(value, bytes + 2);
        if (!v) {
            fprintf(stderr, "shmc: restore: out of memory\n");
            status = 2;
            break;
        }
        value = v;
        if (fread(value, 1, bytes + 2, in) != bytes + 2 || value[bytes] != '\r' ||
            value[bytes + 1] != '\n') {
            fprintf(stderr, "shmc: restore: %s:%" PRIu64 ": value of %s cut short or not ended "
                            "by \\r\\n\n", file, lineno, key);
            status = 2;
            break;
        }
        lineno++;
        rc = (cmd[0] == 'a' ? shmc_add : shmc_set)(c, key, strlen(key), value, bytes,
                                                    (uint32_t)flags, exptime);
        if (rc == SHMC_OK) {
            added++;
        } else if (rc == SHMC_NOT_STORED) {
            kept++; /* add: the key is there already, as memcached would keep it */
        } else {
            fprintf(stderr, "shmc: restore: %s: %s\n", key, shmc_strerror(rc));
            refused++;
        }
    }
    if (!status && ferror(in)) {
        fprintf(stderr, "shmc: restore: reading %s: %s\n", file, strerror(errno));
        status = 2;
    }
    free(value);
    if (in != stdin) fclose(in);
    fprintf(stderr, "restored %" PRIu64 " items; %" PRIu64 " already present, %" PRIu64
                    " refused\n", added, kept, refused);
    return status ? status : refused ? 1 : 0;
}

static int with_cache(const char *cmd, const char *cache, int argc, char **argv)
{
    shmc_t *c;
    shmc_rc rc = shmc_open(&c, cache, NULL);
    if (rc != SHMC_OK) return fail(cache, rc);
    int status = 2;
    if (!strcmp(cmd, "stats") && argc == 0) {
        status = cmd_stats(c);
    } else if (!strcmp(cmd, "get") && argc == 1) {
        status = cmd_get(c, argv[0]);
    } else if (!strcmp(cmd, "set") || !strcmp(cmd, "add") || !strcmp(cmd, "replace") ||
               !strcmp(cmd, "append") || !strcmp(cmd, "prepend")) {
        status = cmd_store(c, cmd, argc, argv);
    } else if (!strcmp(cmd, "delete") && argc == 1) {
        rc = shmc_delete(c, argv[0], strlen(argv[0]));
        status = rc == SHMC_OK ? (puts("DELETED"), 0) : fail("delete", rc);
    } else if ((!strcmp(cmd, "incr") || !strcmp(cmd, "decr")) && argc == 2) {
        uint64_t delta, result;
        if (parse_u64(argv[1], &delta)) {
            fprintf(stderr, "shmc: bad delta '%s'\n", argv[1]);
        } else {
            rc = (cmd[0] == 'i' ? shmc_incr : shmc_decr)(c, argv[0], strlen(argv[0]), delta, &result);
            status = rc == SHMC_OK ? (printf("%" PRIu64 "\n", result), 0) : fail(cmd, rc);
        }
    } else if (!strcmp(cmd, "touch") && argc == 2) {
        int64_t exptime;
        if (parse_i64(argv[1], &exptime)) {
            fprintf(stderr, "shmc: bad exptime '%s'\n", argv[1]);
        } else {
            rc = shmc_touch(c, argv[0], strlen(argv[0]), exptime);
            status = rc == SHMC_OK ? (puts("TOUCHED"), 0) : fail("touch", rc);
        }
    } else if ((!strcmp(cmd, "dump") || !strcmp(cmd, "restore")) && argc == 1) {
        status = cmd[0] == 'd' ? cmd_dump(c, argv[0]) : cmd_restore(c, argv[0]);
    } else if (!strcmp(cmd, "flush") && argc <= 1) {
        int64_t delay = 0;
        if (argc && parse_i64(argv[0], &delay)) {
            fprintf(stderr, "shmc: bad delay '%s'\n", argv[0]);
        } else {
            rc = shmc_flush_all(c, delay);
            status = rc == SHMC_OK ? (puts("OK"), 0) : fail("flush", rc);
        }
    } else {
        fprintf(stderr, "%s", usage);
    }
    shmc_close(c);
    return status;
}

static int cmd_create(const char *cache, int argc, char **argv)
{
    shmc_config cfg;
    shmc_config_init(&cfg);
    for (int i = 0; i < argc; i++) {
        uint64_t v;
        if (i + 1 >= argc || parse_u64(argv[i + 1], &v)) return fprintf(stderr, "%s", usage), 2;
        if (!strcmp(argv[i], "-m")) {
            if (v == 0 || v > (SIZE_MAX >> 20)) {
                fprintf(stderr, "shmc: -m %s: the memory limit is 1 or more MiB, at most %zu\n",
                        argv[i + 1], (size_t)(SIZE_MAX >> 20));
                return 2;
            }
            cfg.memory_limit = (size_t)v << 20;
        }
        else if (!strcmp(argv[i], "-I")) cfg.item_size_max = (size_t)v;
        else return fprintf(stderr, "%s", usage), 2;
        i++;
    }
    shmc_t *c;
    shmc_rc rc = shmc_open(&c, cache, &cfg);
    if (rc != SHMC_OK) return fail(cache, rc);
    shmc_close(c);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 2 && !strcmp(argv[1], "--version")) return puts("shmc " SHMC_VERSION), 0;
    if (argc == 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")))
        return fputs(usage, stdout), 0;
    if (argc < 3) return fputs(usage, stderr), 2;
    const char *cmd = argv[1], *cache = argv[2];
    if (!strcmp(cmd, "check")) {
        if (argc != 3) return fputs(usage, stderr), 2;
        size_t violations = 0;
        shmc_rc rc = shmc_check(cache, stdout, &violations);
        if (rc != SHMC_OK) return fail("check", rc);
        return violations ? 1 : 0;
    }
    if (!strcmp(cmd, "create")) return cmd_create(cache, argc - 3, argv + 3);
    return with_cache(cmd, cache, argc - 3, argv + 3);
}
