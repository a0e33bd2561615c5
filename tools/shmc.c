/* shmc.c — the `shmc` command: create, inspect, check and poke cache files from a shell,
 * through the public API only (the same calls any application makes).
 *
 * One table row per subcommand (name, synopsis, options, help text, function): main() looks
 * the name up, parses the row's options the same way for every command, answers --help from
 * the row, and calls the function with the remaining arguments.  Only `create` creates a
 * cache; every other command opens an existing one (SHMC_OPEN_EXISTING).  Exit statuses are
 * the EXIT_* values below, also listed by `shmc --help` and in shmc(1). */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include <shmc.h>

#include "cli.h"
#include "perm.h"
#include "size.h"

/* ---- helpers shared by the commands (cli.h) ---- */

int cli_status(shmc_rc rc)
{
    switch (rc) {
    case SHMC_OK: return EXIT_OK_;
    case SHMC_NOT_FOUND: case SHMC_NOT_STORED: case SHMC_EXISTS: return EXIT_MISS;
    case SHMC_BAD_FILE: return EXIT_REFUSED_FILE;
    case SHMC_REMOVED: return EXIT_NO_CACHE;
    case SHMC_INVALID: return EXIT_USAGE;
    case SHMC_SYSTEM: return EXIT_SYSTEM;
    case SHMC_UNSUPPORTED: return EXIT_UNSUPPORTED;
    default: return EXIT_REJECTED; /* bad key, too large, no memory, not numeric */
    }
}

int cli_fail(const char *what, shmc_rc rc)
{
    const char *detail = shmc_last_error();
    int e = errno;
    /* where the library says why a file was refused or a call failed, that is the message:
     * the code's generic text ("not a usable cache file (foreign, ...)") would mislead */
    bool plain = *detail && (rc == SHMC_BAD_FILE || rc == SHMC_SYSTEM || rc == SHMC_INVALID ||
                             rc == SHMC_UNSUPPORTED || rc == SHMC_REMOVED);
    if (plain) fprintf(stderr, "shmc: %s: %s", what, detail);
    else fprintf(stderr, "shmc: %s: %s%s%s", what, shmc_strerror(rc), *detail ? ": " : "", detail);
    if (rc == SHMC_SYSTEM && !*detail && e) fprintf(stderr, ": %s", strerror(e));
    fputc('\n', stderr);
    return cli_status(rc);
}

int cli_no_cache(const char *cache, bool hint)
{
    const char *why = shmc_last_error(); /* says so when a removed cache is still in use */
    if (strstr(why, "removed")) fprintf(stderr, "shmc: %s: no such cache: %s\n", cache, why);
    else if (hint) fprintf(stderr, "shmc: %s: no such cache (`shmc create %s` makes one)\n", cache, cache);
    else fprintf(stderr, "shmc: %s: no such cache\n", cache);
    return EXIT_NO_CACHE;
}

int cli_open(const char *cache, shmc_t **out)
{
    shmc_config cfg;
    shmc_config_init(&cfg);
    cfg.memory_limit = 0; /* whatever the file says */
    cfg.item_size_max = 0;
    cfg.flags = SHMC_OPEN_EXISTING;
    shmc_rc rc = shmc_open(out, cache, &cfg);
    if (rc == SHMC_NOT_FOUND) return cli_no_cache(cache, true);
    if (rc != SHMC_OK) return cli_fail(cache, rc);
    return EXIT_OK_;
}

int cli_usage(const cli_args *a)
{
    fprintf(stderr, "usage: shmc %s %s\n(shmc %s --help tells more)\n", a->cmd->name,
            a->cmd->synopsis, a->cmd->name);
    return EXIT_USAGE;
}

bool cli_u64(const char *s, uint64_t *out)
{
    char *end;
    if (!s || *s < '0' || *s > '9') return false;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end) return false;
    *out = v;
    return true;
}

bool cli_i64(const char *s, int64_t *out)
{
    char *end;
    if (!s || !*s) return false;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || *end) return false;
    *out = v;
    return true;
}

void cli_json_string(FILE *f, const char *s, size_t n)
{
    fputc('"', f);
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch == '"' || ch == '\\') fprintf(f, "\\%c", ch);
        else if (ch == '\n') fputs("\\n", f);
        else if (ch < 0x20 || ch == 0x7f) fprintf(f, "\\u%04x", ch);
        else fputc(ch, f);
    }
    fputc('"', f);
}

void cli_json_str(const char *lead, const char *s)
{
    fputs(lead, stdout);
    cli_json_string(stdout, s, strlen(s));
}

/* ---- data commands ---- */

static int cmd_get(cli_args *a)
{
    shmc_t *c;
    int st = cli_open(a->pos[0], &c);
    if (st) return st;
    void *v;
    size_t n;
    uint32_t flags;
    uint64_t cas;
    shmc_rc rc = shmc_get_alloc(c, a->pos[1], strlen(a->pos[1]), &v, &n, &flags, &cas);
    if (rc == SHMC_OK) {
        fwrite(v, 1, n, stdout);
        putchar('\n');
        if (a->verbose) fprintf(stderr, "flags %" PRIu32 " cas %" PRIu64 " bytes %zu\n", flags, cas, n);
        free(v);
    } else if (rc == SHMC_NOT_FOUND && !a->verbose) {
        st = EXIT_MISS; /* a miss is the exit status alone: scripts test it */
    } else {
        st = cli_fail("get", rc);
    }
    shmc_close(c);
    return st;
}

static int cmd_store(cli_args *a)
{
    uint64_t flags = 0;
    int64_t exptime = 0;
    if (a->npos > 3 && (!cli_u64(a->pos[3], &flags) || flags > UINT32_MAX))
        return fprintf(stderr, "shmc: bad flags '%s' (0..4294967295)\n", a->pos[3]), EXIT_USAGE;
    if (a->npos > 4 && !cli_i64(a->pos[4], &exptime))
        return fprintf(stderr, "shmc: bad exptime '%s'\n", a->pos[4]), EXIT_USAGE;
    shmc_t *c;
    int st = cli_open(a->pos[0], &c);
    if (st) return st;
    const char *cmd = a->cmd->name, *k = a->pos[1], *v = a->pos[2];
    size_t nk = strlen(k), nv = strlen(v);
    shmc_rc rc;
    if (!strcmp(cmd, "set")) rc = shmc_set(c, k, nk, v, nv, (uint32_t)flags, exptime);
    else if (!strcmp(cmd, "add")) rc = shmc_add(c, k, nk, v, nv, (uint32_t)flags, exptime);
    else if (!strcmp(cmd, "replace")) rc = shmc_replace(c, k, nk, v, nv, (uint32_t)flags, exptime);
    else if (!strcmp(cmd, "append")) rc = shmc_append(c, k, nk, v, nv, 0, 0);
    else rc = shmc_prepend(c, k, nk, v, nv, 0, 0);
    st = rc == SHMC_OK ? (puts("STORED"), EXIT_OK_) : cli_fail(cmd, rc);
    shmc_close(c);
    return st;
}

static int cmd_delete(cli_args *a)
{
    shmc_t *c;
    int st = cli_open(a->pos[0], &c);
    if (st) return st;
    shmc_rc rc = shmc_delete(c, a->pos[1], strlen(a->pos[1]));
    st = rc == SHMC_OK ? (puts("DELETED"), EXIT_OK_) : cli_fail("delete", rc);
    shmc_close(c);
    return st;
}

static int cmd_arith(cli_args *a)
{
    uint64_t delta, result;
    if (!cli_u64(a->pos[2], &delta))
        return fprintf(stderr, "shmc: bad delta '%s' (0..2^64-1)\n", a->pos[2]), EXIT_USAGE;
    shmc_t *c;
    int st = cli_open(a->pos[0], &c);
    if (st) return st;
    bool incr = !strcmp(a->cmd->name, "incr");
    shmc_rc rc = (incr ? shmc_incr : shmc_decr)(c, a->pos[1], strlen(a->pos[1]), delta, &result);
    st = rc == SHMC_OK ? (printf("%" PRIu64 "\n", result), EXIT_OK_) : cli_fail(a->cmd->name, rc);
    shmc_close(c);
    return st;
}

static int cmd_touch(cli_args *a)
{
    int64_t exptime;
    if (!cli_i64(a->pos[2], &exptime))
        return fprintf(stderr, "shmc: bad exptime '%s'\n", a->pos[2]), EXIT_USAGE;
    shmc_t *c;
    int st = cli_open(a->pos[0], &c);
    if (st) return st;
    shmc_rc rc = shmc_touch(c, a->pos[1], strlen(a->pos[1]), exptime);
    st = rc == SHMC_OK ? (puts("TOUCHED"), EXIT_OK_) : cli_fail("touch", rc);
    shmc_close(c);
    return st;
}

static int cmd_flush(cli_args *a)
{
    int64_t delay = 0;
    if (a->npos > 1 && !cli_i64(a->pos[1], &delay))
        return fprintf(stderr, "shmc: bad delay '%s'\n", a->pos[1]), EXIT_USAGE;
    shmc_t *c;
    int st = cli_open(a->pos[0], &c);
    if (st) return st;
    shmc_rc rc = shmc_flush_all(c, delay);
    st = rc == SHMC_OK ? (puts("OK"), EXIT_OK_) : cli_fail("flush", rc);
    shmc_close(c);
    return st;
}

/* ---- administration ---- */

static int cmd_create(cli_args *a)
{
    shmc_config cfg;
    shmc_config_init(&cfg);
    uint64_t v;
    if (a->opt['m']) {
        if (!size_parse(a->opt['m'], 1u << 20, &v) || v < (1u << 20) || v > SIZE_MAX / 2)
            return fprintf(stderr, "shmc: -m %s: the memory limit is 1m or more (a bare number "
                                   "is MiB; k, m, g suffixes)\n", a->opt['m']), EXIT_USAGE;
        cfg.memory_limit = (size_t)v;
    }
    if (a->opt['I']) {
        if (!size_parse(a->opt['I'], 1, &v) || v < 1024 || v > (1u << 30))
            return fprintf(stderr, "shmc: -I %s: the item size limit is 1k to 1g (a bare number "
                                   "is bytes)\n", a->opt['I']), EXIT_USAGE;
        cfg.item_size_max = (size_t)v;
    }
    if (a->opt[OPT_MODE] && !perm_parse_mode(a->opt[OPT_MODE], &cfg.mode))
        return fprintf(stderr, "shmc: --mode %s: not an octal mode (e.g. 0660)\n", a->opt[OPT_MODE]), EXIT_USAGE;
    gid_t gid = (gid_t)-1;
    if (a->opt[OPT_GROUP] && !perm_parse_group(a->opt[OPT_GROUP], &gid))
        return fprintf(stderr, "shmc: --group %s: no such group (a name or number)\n",
                       a->opt[OPT_GROUP]), EXIT_USAGE;
    if (a->opt[OPT_EXIST_OK]) { /* an existing cache must have the sizes asked for, if any */
        if (!a->opt['m']) cfg.memory_limit = 0;
        if (!a->opt['I']) cfg.item_size_max = 0;
    } else {
        cfg.flags = SHMC_OPEN_CREATE;
    }
    shmc_t *c;
    bool created = false;
    shmc_rc rc = perm_open(&c, a->pos[0], &cfg, gid, &created);
    if (rc == SHMC_EXISTS) {
        shmc_info_t info; /* what is in the way: a cache, or some other file */
        if (shmc_info(a->pos[0], &info) == SHMC_BAD_FILE) {
            fprintf(stderr, "shmc: %s: the name is taken by a file that is not a cache: %s "
                            "(`shmc rm --force %s` removes it)\n", a->pos[0], shmc_last_error(),
                    a->pos[0]);
            return EXIT_REFUSED_FILE;
        }
        fprintf(stderr, "shmc: %s: the cache exists already (--exist-ok accepts it; `shmc rm %s` "
                        "removes it)\n", a->pos[0], a->pos[0]);
        return EXIT_EXISTS;
    }
    if (rc != SHMC_OK) return cli_fail(a->pos[0], rc);
    if (a->verbose) fprintf(stderr, "%s %s\n", created ? "created" : "exists already:", a->pos[0]);
    shmc_close(c);
    return EXIT_OK_;
}

/* --json's answer when there is nothing to report: {"cache": ..., "error": ...} on stdout
 * (the message is on stderr too). */
static void json_error(const char *cache, int status)
{
    const char *why = status == EXIT_NO_CACHE ? "no such cache" : shmc_last_error();
    cli_json_str("{\"cache\": ", cache);
    cli_json_str(", \"error\": ", why);
    printf("}\n");
}

static int cmd_stats(cli_args *a)
{
    shmc_t *c;
    int st = cli_open(a->pos[0], &c);
    if (st) {
        if (a->json) json_error(a->pos[0], st);
        return st;
    }
    shmc_stats_t s;
    shmc_rc rc = shmc_stats(c, &s);
    shmc_mapping_t m; /* this process's mapping, every page mapped: what the file allows */
    bool have_m = rc == SHMC_OK && shmc_mapping_stats(c, &m) == SHMC_OK;
    shmc_close(c);
    if (rc != SHMC_OK) {
        st = cli_fail("stats", rc);
        if (a->json) json_error(a->pos[0], st);
        return st;
    }
    const char *prot = s.protected_mode ? "pku" : "none";
    if (a->json) {
        cli_json_str("{\"cache\": ", a->pos[0]);
        printf(", \"protection\": \"%s\"", prot);
#define J(kind, name, wire, reset, meaning) printf(", \"%s\": %" PRIu64, #name, s.name);
        SHMC_STATS(J)
#undef J
        if (have_m)
            printf(", \"mapping_bytes\": %" PRIu64 ", \"huge_mapped_bytes\": %" PRIu64,
                   m.mapped_bytes, m.huge_bytes);
        printf("}\n");
        return EXIT_OK_;
    }
#define P(kind, name, wire, reset, meaning)                                                \
    if (&s.name == &s.protected_mode)                                                       \
        printf("%-20s %s\n", "protection", s.protected_mode ? "pku" : "none (unprotected)"); \
    else                                                                                    \
        printf("%-20s %" PRIu64 "\n", #name, s.name);
    SHMC_STATS(P)
#undef P
    if (have_m)
        printf("%-20s %" PRIu64 "\n%-20s %" PRIu64 "\n", "mapping_bytes", m.mapped_bytes,
               "huge_mapped_bytes", m.huge_bytes);
    return EXIT_OK_;
}

static int cmd_check(cli_args *a)
{
    size_t violations = 0;
    char *report = NULL;
    size_t nreport = 0;
    FILE *out = open_memstream(&report, &nreport); /* printed once we know there is a file */
    if (!out) return fprintf(stderr, "shmc: out of memory\n"), EXIT_SYSTEM;
    shmc_rc rc = shmc_check(a->pos[0], out, &violations);
    fclose(out);
    if (rc == SHMC_NOT_FOUND) {
        free(report);
        cli_no_cache(a->pos[0], false);
        if (a->json) json_error(a->pos[0], EXIT_NO_CACHE);
        return EXIT_NO_CACHE;
    }
    if (!a->json) {
        if (rc != SHMC_BAD_FILE) fputs(report, stdout); /* a refused file: its reason, once */
        free(report);
        return rc != SHMC_OK ? cli_fail(a->pos[0], rc) : violations ? EXIT_MISS : EXIT_OK_;
    }
    cli_json_str("{\"cache\": ", a->pos[0]);
    printf(", \"ok\": %s, \"violations\": %zu", rc == SHMC_OK && !violations ? "true" : "false",
           violations);
    if (rc == SHMC_OK) printf(", \"error\": null");
    else cli_json_str(", \"error\": ", shmc_last_error());
    printf(", \"report\": [");
    const char *line = report;
    for (bool first = true; line && *line; first = false) {
        const char *nl = strchr(line, '\n');
        size_t n = nl ? (size_t)(nl - line) : strlen(line);
        printf("%s", first ? "" : ", ");
        cli_json_string(stdout, line, n);
        line = nl ? nl + 1 : line + n;
    }
    printf("]}\n");
    free(report);
    return rc != SHMC_OK ? cli_status(rc) : violations ? EXIT_MISS : EXIT_OK_;
}

/* ---- the table ---- */

static const cli_command commands[] = {
    {"create", "CACHE [-m SIZE] [-I SIZE] [--mode MODE] [--group GROUP] [--exist-ok]", 1, 1,
     "create a cache (fails if it exists)",
     "  -m SIZE         memory for items (default 64m; a bare number is MiB)\n"
     "  -I SIZE         largest value (default 1m; a bare number is bytes)\n"
     "  --mode MODE     file mode, octal (default 0600)\n"
     "  --group GROUP   file group, a name or number (default: the creator's)\n"
     "  --exist-ok      an existing cache is success (its sizes must match -m/-I if given)\n",
     cmd_create},
    {"stats", "CACHE [--json]", 1, 1, "memcached-style counters of a cache",
     "  --json          one JSON object instead of name/value lines\n", cmd_stats},
    {"get", "CACHE KEY [-v]", 2, 2, "print the value of KEY (exit 1 when missing)",
     "  -v              also print flags, cas and size on stderr (and say when missing)\n", cmd_get},
    {"set", "CACHE KEY VALUE [FLAGS [EXPTIME]]", 3, 5, "store a value", "", cmd_store},
    {"add", "CACHE KEY VALUE [FLAGS [EXPTIME]]", 3, 5, "store a value if KEY is absent", "", cmd_store},
    {"replace", "CACHE KEY VALUE [FLAGS [EXPTIME]]", 3, 5, "store a value if KEY is present", "", cmd_store},
    {"append", "CACHE KEY VALUE", 3, 3, "append to a present value", "", cmd_store},
    {"prepend", "CACHE KEY VALUE", 3, 3, "prepend to a present value", "", cmd_store},
    {"delete", "CACHE KEY", 2, 2, "remove KEY", "", cmd_delete},
    {"incr", "CACHE KEY DELTA", 3, 3, "add DELTA to a decimal value and print it", "", cmd_arith},
    {"decr", "CACHE KEY DELTA", 3, 3, "subtract DELTA (stopping at 0) and print it", "", cmd_arith},
    {"touch", "CACHE KEY EXPTIME", 3, 3, "set the expiry of KEY", "", cmd_touch},
    {"flush", "CACHE [DELAY]", 1, 2, "invalidate every item now or in DELAY seconds", "", cmd_flush},
    {"check", "CACHE [--json]", 1, 1, "verify every invariant of a quiet cache (exit 1 on a violation)",
     "  --json          one JSON object: ok, violations, error, report lines\n"
     "  What a process that died in a call left (locks it held, its change in flight) is\n"
     "  listed as \"repair pending\", not as a violation: the next process to take each lock\n"
     "  repairs it, or the next open when nobody is attached.\n", cmd_check},
    {"dump", "CACHE FILE", 2, 2, "write every live item to FILE ('-': stdout), as memcached-tool's dump",
     "  one \"add KEY FLAGS EXPTIME BYTES\" line and the value per item, EXPTIME absolute\n"
     "  (0: never); it loads into shmc restore, or into memcached (nc HOST PORT < FILE);\n"
     "  items whose keys hold a space, newline or NUL are left out and named (exit 1)\n", cmd_dump},
    {"restore", "CACHE FILE", 2, 2, "add the items of a dump ('-': stdin) to a cache",
     "  items already present are kept (add); items over the cache's item size limit are\n"
     "  refused (exit 1); a damaged dump stops at the damage (exit 3), keeping what came before\n",
     cmd_restore},
    {"ls", "[DIR] [--json] [-v]", 0, 1, "list the caches in $SHMC_DIR (or DIR) without attaching",
     "  columns: size of the file, items, bytes of live items, protection an open here would\n"
     "  get, processes attached, and 'pending' when the last users died attached (the next\n"
     "  open verifies every item first)\n"
     "  a file that cannot be read as a cache is listed with its size and the reason\n"
     "  (permission denied, not a shmc cache, ...)\n"
     "  --json          one JSON array of objects, sizes in bytes; a file that cannot be\n"
     "                  read has \"error\" (the reason) and \"detail\" instead of the counters\n"
     "  -v              also say on stderr in full why a file cannot be read\n", cmd_ls},
    {"rm", "CACHE [--force] [-v]", 1, 1, "remove a cache; attached processes get 'cache removed'",
     "  processes still attached fail from their next call with \"cache removed\" until a new\n"
     "  cache is made under the name, which they then use\n"
     "  --force         remove it also when it is not a usable cache file\n"
     "  -v              say what was removed\n", cmd_rm},
    {"resize", "CACHE [-m SIZE] [-I SIZE] [-v]", 1, 1, "resize a cache, keeping its items and users",
     "  -m SIZE         the new memory limit (a bare number is MiB; default: as it is)\n"
     "  -I SIZE         the new item size limit (a bare number is bytes; default: as it is)\n"
     "  -v              say what was copied, and how long writers waited\n"
     "  every live item keeps its flags, cas and remaining TTL; attached processes move to the\n"
     "  new cache at their next call; exit 1 when items did not fit (over -I, or evicted)\n",
     cmd_resize},
    {"top", "CACHE [-d SECONDS] [-n COUNT]", 1, 1, "a live view: ops/s, hit ratio, evictions, memory",
     "  -d SECONDS      time between refreshes (default 1)\n"
     "  -n COUNT        stop after COUNT refreshes (default: until q or Ctrl-C)\n"
     "  memory: used by live items, free segments, and dead: the rest (deleted, expired or\n"
     "  replaced items not yet cleaned, and the unwritten tails of the segments in use)\n"
     "  In a terminal it redraws the screen and q quits; otherwise it prints one block per\n"
     "  refresh.\n", cmd_top},
};
#define NCOMMANDS (sizeof commands / sizeof commands[0])

/* Options by letter (or OPT_* for long-only ones); which command takes which is its
 * synopsis, checked below. */
static const struct {
    int id;
    const char *lng;
    bool arg;
} options[] = {
    {'m', "memory-limit", true}, {'I', "max-item-size", true}, {OPT_MODE, "mode", true},
    {OPT_GROUP, "group", true}, {OPT_EXIST_OK, "exist-ok", false}, {OPT_FORCE, "force", false},
    {'v', "verbose", false}, {'d', "delay", true}, {'n', "count", true}, {OPT_JSON, "json", false}, {'h', "help", false},
};

static const char exit_codes[] =
    "exit status:\n"
    "  0  ok\n"
    "  1  miss, not stored or cas mismatch (check: violations found)\n"
    "  2  usage\n"
    "  3  refused file: not a usable cache file, or a damaged dump\n"
    "  4  no such cache\n"
    "  5  exists already\n"
    "  7  request refused: bad key, too large, no memory, not numeric\n"
    "  8  system error: permission, no space, ...\n"
    "  9  unsupported on this machine\n";

static void usage(FILE *f)
{
    fprintf(f, "usage: shmc COMMAND [CACHE] [ARGS]   (shmc COMMAND --help for its options)\n"
               "  CACHE is a name in $SHMC_DIR (default /dev/shm) or a path containing '/'.\n"
               "  Sizes take k, m and g suffixes.  Put -- before a value that starts with '-'.\n"
               "commands:\n");
    for (size_t i = 0; i < NCOMMANDS; i++)
        fprintf(f, "  %-8s %s\n", commands[i].name, commands[i].summary);
    fprintf(f, "  --help, --version\n%s", exit_codes);
}

static void command_help(const cli_command *cmd)
{
    /* "options:" over option lines; prose alone (dump, restore) stands without it */
    printf("usage: shmc %s %s\n%s.\n%s%s", cmd->name, cmd->synopsis, cmd->summary,
           strstr(cmd->options, "  -") ? "options:\n" : "", cmd->options);
    printf("%s", exit_codes);
}

/* Does the command's synopsis name this option (as -x or --long, a whole word)? */
static bool names(const char *synopsis, const char *opt)
{
    size_t n = strlen(opt);
    for (const char *p = synopsis; (p = strstr(p, opt)); p += n) {
        char next = p[n];
        bool word_end = !(next == '-' || (next >= 'a' && next <= 'z') || (next >= 'A' && next <= 'Z'));
        if (word_end && (p == synopsis || p[-1] == ' ' || p[-1] == '[')) return true;
    }
    return false;
}

static bool takes(const cli_command *cmd, const char *lng, int id)
{
    char s[4] = {'-', (char)id, 0}, l[40];
    snprintf(l, sizeof l, "--%s", lng);
    return (id < 128 && names(cmd->synopsis, s)) || names(cmd->synopsis, l);
}

static int parse(const cli_command *cmd, int argc, char **argv, cli_args *a)
{
    memset(a, 0, sizeof *a);
    a->cmd = cmd;
    bool opts_done = false;
    for (int i = 0; i < argc; i++) {
        const char *s = argv[i];
        /* "-5" is a value (a negative exptime), never an option */
        if (opts_done || s[0] != '-' || !s[1] || (s[1] >= '0' && s[1] <= '9')) {
            if (a->npos == CLI_MAX_POS) return cli_usage(a);
            a->pos[a->npos++] = s;
            continue;
        }
        if (!strcmp(s, "--")) {
            opts_done = true;
            continue;
        }
        size_t k;
        const char *val = NULL;
        for (k = 0; k < sizeof options / sizeof options[0]; k++) {
            size_t n = strlen(options[k].lng);
            if (s[1] == '-' && !strncmp(s + 2, options[k].lng, n) && (!s[2 + n] || s[2 + n] == '=')) {
                if (s[2 + n] == '=') val = s + 3 + n;
                break;
            }
            if (s[1] != '-' && options[k].id < 128 && s[1] == options[k].id) {
                if (s[2]) val = s + 2;
                break;
            }
        }
        if (k == sizeof options / sizeof options[0] ||
            (options[k].id != 'h' && !takes(cmd, options[k].lng, options[k].id))) {
            fprintf(stderr, "shmc %s: unknown option %s\n", cmd->name, s);
            return cli_usage(a);
        }
        int id = options[k].id;
        if (options[k].arg && !val) {
            if (i + 1 >= argc) {
                fprintf(stderr, "shmc %s: %s needs a value\n", cmd->name, s);
                return cli_usage(a);
            }
            val = argv[++i];
        } else if (!options[k].arg && val) {
            fprintf(stderr, "shmc %s: %s takes no value\n", cmd->name, s);
            return cli_usage(a);
        }
        a->opt[id] = val ? val : "";
        if (id == 'v') a->verbose++;
        if (id == OPT_JSON) a->json = true;
    }
    if (a->opt['h']) return -1;
    if (a->npos < cmd->min_pos || a->npos > cmd->max_pos) return cli_usage(a);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 2 && (!strcmp(argv[1], "--version") || !strcmp(argv[1], "-V")))
        return puts("shmc " SHMC_VERSION), 0;
    if (argc == 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")))
        return usage(stdout), 0;
    if (argc < 2) return usage(stderr), EXIT_USAGE;
    const cli_command *cmd = NULL;
    for (size_t i = 0; i < NCOMMANDS; i++)
        if (!strcmp(argv[1], commands[i].name)) cmd = &commands[i];
    if (!cmd) {
        fprintf(stderr, "shmc: unknown command '%s'\n", argv[1]);
        usage(stderr);
        return EXIT_USAGE;
    }
    cli_args a;
    int st = parse(cmd, argc - 2, argv + 2, &a);
    if (st < 0) return command_help(cmd), EXIT_OK_;
    if (st) return st;
    st = cmd->run(&a);
    if (fflush(stdout) != 0 && st == EXIT_OK_) {
        fprintf(stderr, "shmc: writing the output: %s\n", strerror(errno));
        st = EXIT_SYSTEM;
    }
    return st;
}
