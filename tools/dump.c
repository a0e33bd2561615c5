/* dump.c — `shmc dump` and `shmc restore`, in memcached-tool's dump format.
 *
 * One "add KEY FLAGS EXPTIME BYTES\r\n<value>\r\n" per live item, EXPTIME an absolute Unix
 * time (0: never), exactly what `memcached-tool HOST dump` writes: the file restores into
 * another shmc cache of any size (`shmc restore`), or into memcached with `nc HOST 11211 <
 * FILE`.  Stale bits and win tokens are not carried over.  An item whose key holds a space,
 * newline or NUL (stored over the binary protocol or as a base64 meta key) has no such line:
 * it is left out, named on stderr (URI-encoded, as memcached's metadump), and the dump exits 1. */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"

struct dump_ctx {
    FILE *out;
    time_t now;
    uint64_t items, bytes, skipped;
    int failed;
};

/* Whether a key can stand in a dump line: not with a space, newline or NUL. */
static bool key_dumpable(const char *key, size_t nkey)
{
    return !memchr(key, ' ', nkey) && !memchr(key, '\n', nkey) && !memchr(key, 0, nkey);
}

/* The key on stderr as memcached's uriencode writes it. */
static void print_uriencoded(FILE *f, const char *key, size_t nkey)
{
    for (size_t i = 0; i < nkey; i++) {
        unsigned char c = (unsigned char)key[i];
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
            c == '-' || c == '.' || c == '_' || c == '~')
            fputc(c, f);
        else
            fprintf(f, "%%%02X", c);
    }
}

static int dump_item(void *arg, const char *key, size_t nkey, const void *value, size_t nvalue,
                     const shmc_item_meta *m)
{
    struct dump_ctx *d = arg;
    if (!key_dumpable(key, nkey)) {
        fputs("shmc: dump: skipped ", stderr);
        print_uriencoded(stderr, key, nkey);
        fputs(": its key holds a space, newline or NUL, which a dump line cannot carry\n", stderr);
        d->skipped++;
        return 0;
    }
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

int cmd_dump(cli_args *a)
{
    const char *file = a->pos[1];
    shmc_t *c;
    int st = cli_open(a->pos[0], &c);
    if (st) return st;
    struct dump_ctx d = {.out = strcmp(file, "-") ? fopen(file, "wb") : stdout, .now = time(NULL)};
    if (!d.out) {
        fprintf(stderr, "shmc: dump: %s: %s\n", file, strerror(errno));
        shmc_close(c);
        return EXIT_SYSTEM;
    }
    shmc_rc rc = shmc_walk(c, dump_item, &d);
    shmc_close(c);
    if (d.out != stdout && fclose(d.out) != 0) d.failed = 1;
    else if (d.out == stdout && fflush(stdout) != 0) d.failed = 1;
    if (rc != SHMC_OK) return cli_fail("dump", rc);
    if (d.failed) {
        fprintf(stderr, "shmc: dump: writing %s: %s\n", file, strerror(errno));
        return EXIT_SYSTEM;
    }
    fprintf(stderr, "dumped %" PRIu64 " items, %" PRIu64 " value bytes", d.items, d.bytes);
    if (d.skipped) fprintf(stderr, "; skipped %" PRIu64 " whose keys a dump cannot carry", d.skipped);
    fputc('\n', stderr);
    return d.skipped ? EXIT_MISS : EXIT_OK_;
}

/* One "add|set KEY FLAGS EXPTIME BYTES" line of a dump; false when it is not one. */
static bool parse_dump_line(char *line, char **cmd, char **key, uint64_t *flags,
                            int64_t *exptime, uint64_t *bytes)
{
    char *save = NULL, *f[6];
    int n = 0;
    for (char *t = strtok_r(line, " ", &save); t && n < 6; t = strtok_r(NULL, " ", &save)) f[n++] = t;
    if (n != 5 || (strcmp(f[0], "add") && strcmp(f[0], "set"))) return false;
    if (!cli_u64(f[2], flags) || *flags > UINT32_MAX || !cli_i64(f[3], exptime) ||
        !cli_u64(f[4], bytes))
        return false;
    *cmd = f[0];
    *key = f[1];
    return true;
}

/* Skip a value too large for the cache (and its \r\n); false when the file ends first. */
static bool skip_value(FILE *in, uint64_t bytes)
{
    char skip[4096];
    uint64_t left = bytes + 2;
    while (left) {
        size_t n = fread(skip, 1, left < sizeof skip ? (size_t)left : sizeof skip, in);
        if (!n) return false;
        left -= n;
    }
    return true;
}

/* Add every item of the dump `in` (named file); the exit status.  The summary goes to
 * stderr. */
static int restore_from(shmc_t *c, FILE *in, const char *file)
{
    shmc_stats_t st;
    shmc_rc rc = shmc_stats(c, &st);
    if (rc != SHMC_OK) return cli_fail("restore", rc);
    uint64_t lineno = 0, added = 0, kept = 0, refused = 0;
    int status = EXIT_OK_;
    char line[512];
    char *value = NULL;
    while (fgets(line, sizeof line, in)) {
        lineno++;
        size_t len = strlen(line);
        if (len < 2 || line[len - 2] != '\r' || line[len - 1] != '\n') {
            fprintf(stderr, "shmc: restore: %s:%" PRIu64 ": not a line of a dump (too long, or "
                            "not ended by \\r\\n)\n", file, lineno);
            status = EXIT_REFUSED_FILE;
            break;
        }
        line[len - 2] = 0;
        char *cmd, *key;
        uint64_t flags, bytes;
        int64_t exptime;
        if (!parse_dump_line(line, &cmd, &key, &flags, &exptime, &bytes)) {
            fprintf(stderr, "shmc: restore: %s:%" PRIu64 ": expected \"add KEY FLAGS EXPTIME "
                            "BYTES\"\n", file, lineno);
            status = EXIT_REFUSED_FILE;
            break;
        }
        if (bytes > st.item_size_max) {
            if (!skip_value(in, bytes)) {
                fprintf(stderr, "shmc: restore: %s:%" PRIu64 ": value of %s cut short\n", file,
                        lineno, key);
                status = EXIT_REFUSED_FILE;
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
            status = EXIT_SYSTEM;
            break;
        }
        value = v;
        if (fread(value, 1, bytes + 2, in) != bytes + 2 || value[bytes] != '\r' ||
            value[bytes + 1] != '\n') {
            fprintf(stderr, "shmc: restore: %s:%" PRIu64 ": value of %s cut short or not ended "
                            "by \\r\\n\n", file, lineno, key);
            status = EXIT_REFUSED_FILE;
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
    if (status == EXIT_OK_ && ferror(in)) {
        fprintf(stderr, "shmc: restore: reading %s: %s\n", file, strerror(errno));
        status = EXIT_SYSTEM;
    }
    free(value);
    fprintf(stderr, "restored %" PRIu64 " items; %" PRIu64 " already present, %" PRIu64
                        " refused\n", added, kept, refused);
    return status != EXIT_OK_ ? status : refused ? EXIT_MISS : EXIT_OK_;
}

int cmd_restore(cli_args *a)
{
    const char *file = a->pos[1];
    FILE *in = strcmp(file, "-") ? fopen(file, "rb") : stdin;
    if (!in) {
        fprintf(stderr, "shmc: restore: %s: %s\n", file, strerror(errno));
        return errno == ENOENT ? EXIT_USAGE : EXIT_SYSTEM;
    }
    shmc_t *c;
    int st = cli_open(a->pos[0], &c);
    if (st == EXIT_OK_) {
        st = restore_from(c, in, file);
        shmc_close(c);
    }
    if (in != stdin) fclose(in);
    return st;
}
