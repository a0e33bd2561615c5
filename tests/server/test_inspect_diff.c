/* test_inspect_diff.c — shmcd's item inspection commands against the real memcached 1.6.18,
 * byte for byte: `lru_crawler metadump` (all, hash, class lists; keys URL-encoded), the other
 * `lru_crawler` subcommands with their errors, and `stats cachedump <class> <limit>`; keys
 * of any bytes (base64 meta keys) in metadump, mg and me.
 *
 * Each case is a list of requests sent one at a time on a fresh connection after a
 * flush_all, to a private shmcd and to a private memcached (Debian's /usr/bin/memcached, or
 * $MEMCACHED).  An lru_crawler request is sent alone (memcached refuses a metadump with
 * commands pipelined after it, and may leave a request pipelined after a crawl unread) and read
 * up to its "\r\n"; any other request is followed by "mn" and read up to "MN".
 * memcached's `BUSY` (its crawler thread still at work on the last one) is asked again.
 * Masked: cas values (cas=), times (la=, exp= unless -1, a cachedump item's expiry unless 0);
 * and the listing lines of one reply are compared as sorted sets (memcached lists in LRU
 * order, shmc in the order of its item log).  Without memcached 1.6.18 the test is skipped
 * (77).  SHOWDIFF=1 prints both replies of every case. */
#include <stdint.h>
#include <stdlib.h>

#include "harness.h"
#include "memcached_ref.h"

#define MAX_STEPS 28
#define BIG "0123456789012345678901234567890123456789012345678901234567890123456789" \
            "0123456789012345678901234567890123456789012345678901234567890123456789" \
            "0123456789012345678901234567890123456789012345678901234567890123456789" \
            "0123456789012345678901234567890123456789012345678901234567890123456789" \
            "01234567890123456789"
/* items in classes 1 and 7: flags, an expiry, a fetched one, keys that need URL-encoding */
#define ITEMS                                                                               \
    "set foo 5 0 3\r\nbar\r\n", "set a%20b 0 100 1\r\nx\r\n",                                \
        "set u/r:l+~-._!*=?&#@$ 0 0 2\r\nhi\r\n", "set caf\xc3\xa9 7 1000 0\r\n\r\n",     \
        "set big 0 0 300\r\n" BIG "\r\n", "get foo\r\n", SETTLE
/* memcached's cachedump lists only its COLD LRU, where new items arrive within a second or
 * so: memcached is asked until it lists the 5 items (shmcd lists them at once) */
#define SETTLE "#settle"

static const char *const cases[][MAX_STEPS] = {
    /* metadump: all, hash, class lists, an empty class */
    {ITEMS, "lru_crawler metadump all\r\n", "lru_crawler metadump hash\r\n",
     "lru_crawler metadump 1\r\n", "lru_crawler metadump 7\r\n", "lru_crawler metadump 2\r\n",
     "lru_crawler metadump 2,7,\r\n", "lru_crawler metadump 1,7\r\n", "me foo\r\n", NULL},
    /* keys of any bytes (base64 meta keys: space, TAB, NUL, newline, CR, DEL): metadump
     * URL-encodes them, as memcached (memcached's cachedump does not list such items soon;
     * binary_diff compares a cachedump of binary-protocol ones) */
    {"ms YSBi 1 b\r\nx\r\n", "ms dAlhYg== 1 b\r\nx\r\n", "ms bgB1bA== 1 b\r\nx\r\n",
     "ms bmwKeA== 1 b\r\nx\r\n", "ms Y3INCn8= 1 b\r\nx\r\n",
     "lru_crawler metadump all\r\n", "mg YSBi b k v\r\n",
     "mg bgB1bA== b k v\r\n", "me bgB1bA== b\r\n", "me YSBi b\r\n", NULL},
    /* metadump's errors */
    {ITEMS, "lru_crawler metadump\r\n", "lru_crawler metadump 0\r\n",
     "lru_crawler metadump 64\r\n", "lru_crawler metadump foo\r\n",
     "lru_crawler metadump 1,x\r\n", "lru_crawler metadump ,\r\n",
     "lru_crawler metadump all extra\r\n", "lru_crawler metadump all noreply\r\n",
     "lru_crawler mgdump all\r\n", "lru_crawler mgdump foo\r\n", NULL},
    /* cachedump: every item of a class, a limit, empty and illegal classes, errors */
    {ITEMS, "stats cachedump 1 0\r\n", "stats cachedump 7 0\r\n", "stats cachedump 7 1\r\n",
     "stats cachedump 1 100\r\n", "stats cachedump  1  0 \r\n", "stats cachedump 2 0\r\n",
     "stats cachedump 0 0\r\n", "stats cachedump 63 0\r\n", "stats cachedump 64 0\r\n",
     "stats cachedump 4294967297 0\r\n", "stats cachedump 1\r\n", "stats cachedump\r\n",
     "stats cachedump x 0\r\n", "stats cachedump 1 x\r\n", "stats cachedump -1 0\r\n",
     "stats cachedump 1 -1\r\n", "stats cachedump 1 0 noreply\r\n", NULL},
    /* the other subcommands and their errors (no crawl that starts: memcached says BUSY to
     * the next one while it runs) */
    {"lru_crawler\r\n", "lru_crawler foo\r\n", "lru_crawler crawl\r\n",
     "lru_crawler crawl 0\r\n", "lru_crawler crawl 64\r\n", "lru_crawler crawl foo\r\n",
     "lru_crawler crawl hash\r\n", "lru_crawler crawl ,\r\n", "lru_crawler crawl all extra\r\n",
     "lru_crawler sleep 1000000\r\n", "lru_crawler sleep 1000001\r\n",
     "lru_crawler sleep x\r\n", "lru_crawler sleep -1\r\n", "lru_crawler tocrawl 10\r\n",
     "lru_crawler tocrawl x\r\n", "lru_crawler tocrawl -1\r\n",
     /* memcached's defaults again (a slow crawler makes its "disable" wait) */
     "lru_crawler sleep 100\r\n", "lru_crawler tocrawl 0\r\n",
     "lru_crawler enable\r\n", "lru_crawler enable extra\r\n", "lru_crawler disable x\r\n",
     NULL},
    /* (disable and enable are not compared: memcached's answers to them, and to what follows
     * them, depend on when its crawler thread stops; test_protocol_exec.c checks shmcd's) */
    /* a crawl that starts, last (shmc reclaims expired items itself: nothing to crawl) */
    {"lru_crawler crawl 1,2\r\n", NULL},
};

/* One case on a fresh connection: flush_all, then each request and its reply. */
static size_t run(int port, const shmcd_proc *s, const char *const *steps, char *got,
                  size_t cap)
{
    int fd = s ? h_connect(s) : h_connect_tcp(port);
    if (fd < 0) return 0;
    char buf[64];
    size_t n = h_roundtrip(fd, "flush_all\r\n", 11, "OK\r\n", buf, sizeof buf) ? 0 : 0;
    for (size_t i = 0; i < MAX_STEPS && steps[i] && n + 1 < cap; i++) {
        size_t got_n;
        if (strcmp(steps[i], SETTLE) == 0) {
            static const char ask[] = "stats cachedump 1 0\r\nstats cachedump 7 0\r\nmn\r\n";
            static char dump[4096];
            for (int wait = 0; !s && wait < 500; wait++) {
                h_roundtrip(fd, ask, sizeof ask - 1, "MN\r\n", dump, sizeof dump);
                int items = 0;
                for (const char *p = dump; (p = strstr(p, "ITEM ")) != NULL; p++) items++;
                if (items == 5) break;
                h_sleep_ms(10);
            }
            continue;
        }
        for (int retry = 0; retry < 100; retry++) {
            if (strncmp(steps[i], "lru_crawler", 11) == 0) {
                got_n = h_roundtrip(fd, steps[i], strlen(steps[i]), "\r\n", got + n, cap - n);
            } else {
                h_send_all(fd, steps[i], strlen(steps[i]));
                got_n = h_roundtrip(fd, "mn\r\n", 4, "MN\r\n", got + n, cap - n);
            }
            /* memcached's crawler thread may still be busy with the last metadump */
            if (s || strncmp(got + n, "BUSY ", 5) != 0) break;
            h_sleep_ms(20);
        }
        if (!got_n) break;
        n += got_n;
        if (!s && strstr(steps[i], "lru_crawler")) h_sleep_ms(30); /* its crawler thread */
    }
    close(fd);
    return n;
}

/* Replace the digits after `at` (unless they read `keep`) with `mask`. */
static void mask_number(char *line, const char *at, const char *keep, const char *mask,
                        char *outp, size_t cap)
{
    char *p = strstr(line, at);
    if (!p) {
        snprintf(outp, cap, "%s", line);
        return;
    }
    char *num = p + strlen(at), *end = num;
    if (*end == '-') end++;
    while (*end >= '0' && *end <= '9') end++;
    if ((size_t)(end - num) == strlen(keep) && strncmp(num, keep, strlen(keep)) == 0) {
        snprintf(outp, cap, "%s", line);
        return;
    }
    snprintf(outp, cap, "%.*s%s%s", (int)(num - line), line, mask, end);
}

static int cmp_lines(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* A reply with cas values and times masked and each run of listing lines sorted. */
static char *normalize(const char *reply)
{
    size_t cap = strlen(reply) * 2 + 64, n = 0, nlines = 0;
    char *copy = strdup(reply), *outs = calloc(1, cap);
    char **lines = calloc(strlen(reply) + 1, sizeof *lines);
    for (char *save = NULL, *l = strtok_r(copy, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
        char a[1024], b[1024];
        mask_number(l, " cas=", "", "*", a, sizeof a);
        mask_number(a, " la=", "", "*", b, sizeof b);
        mask_number(b, " exp=", "-1", "T", a, sizeof a);
        if (strncmp(a, "ITEM ", 5) == 0) mask_number(a, " b; ", "0", "T", b, sizeof b);
        else snprintf(b, sizeof b, "%s", a);
        lines[nlines++] = strdup(b);
    }
    for (size_t i = 0; i < nlines;) {
        size_t j = i;
        while (j < nlines && (strncmp(lines[j], "key=", 4) == 0 || strncmp(lines[j], "ITEM ", 5) == 0))
            j++;
        if (j > i) qsort(lines + i, j - i, sizeof *lines, cmp_lines);
        i = j > i ? j : i + 1;
    }
    for (size_t i = 0; i < nlines; i++) {
        n += (size_t)snprintf(outs + n, cap - n, "%s\n", lines[i]);
        free(lines[i]);
    }
    free(lines);
    free(copy);
    return outs;
}

static void compare(const shmcd_proc *s)
{
    static char want[65536], got[65536];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t nw = run(mc_port, NULL, cases[i], want, sizeof want);
        size_t ng = run(0, s, cases[i], got, sizeof got);
        char *nwant = normalize(want), *ngot = normalize(got);
        bool ok = nw > 0 && ng > 0 && strcmp(nwant, ngot) == 0;
        if (getenv("SHOWDIFF")) printf("MC:\n%s\nSH:\n%s\n", want, got);
        CHECK(ok);
        if (!ok)
            fprintf(stderr, "case %zu (%s...):\n  memcached:\n%s\n  shmcd:\n%s\n", i, cases[i][0],
                    nwant, ngot);
        free(nwant);
        free(ngot);
    }
}

int main(void)
{
    static const char *const extra[] = {"-m", "16", "-t", "2", NULL};
    return diff_main("inspect_diff", extra, true, compare, NULL);
}
