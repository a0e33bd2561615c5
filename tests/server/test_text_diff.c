/* test_text_diff.c — memcached's exact replies to the classic text commands, against the real
 * memcached 1.6.18, byte for byte: incr/decr on padded and signed values, keys with TAB, DEL
 * and other control bytes, over-size values (refused at memcached's length, answered only
 * after the block), a multi-get holding a long key, HTTP request lines and long lines (the
 * connection closes), `ma ... N q`, errors on meta lines, and `slabs`, `cache_memlimit` and
 * `verbosity`.
 *
 * Each case runs on a fresh connection after a flush_all, twice per server: pipelined (one
 * send) and split (a few bytes per send, so that lines and data blocks arrive in pieces).
 * The requests are followed by "mn"; the reply is read up to "MN\r\n" or the close, which is
 * recorded as "<closed>" (a case the server is to close on gets no "mn": it waits for the
 * close).  Nothing is masked: no case prints a cas or a time.  Without
 * memcached 1.6.18 the test says so and is skipped (77).  SHOWDIFF=1 prints every reply. */
#include <stdint.h>
#include <stdlib.h>

#include "harness.h"
#include "memcached_ref.h"

#define K251 "kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk" \
             "kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk" \
             "kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk"

typedef struct tcase {
    const char *name;
    char *req; /* NUL-free bytes */
    size_t len;
    const char *setup; /* sent and answered first, or NULL */
    bool no_mn;        /* the server is to close: wait for that, send nothing after */
} tcase;

static const struct {
    const char *name, *req, *setup;
} fixed[] = {
    /* incr/decr: blanks, tabs, '+', a shrinking result padded to the old length, wrap */
    {"incr formats",
     "set a 0 0 4\r\n  5 \r\nset b 0 0 4\r\n+12\t\r\nset c 0 0 3\r\n100\r\nset d 0 0 6\r\n12 abc\r\n"
     "set e 0 0 2\r\n-0\r\nset f 0 0 2\r\n-5\r\nset g 0 0 25\r\n0000000000000000000000001\r\n"
     "set h 0 0 20\r\n18446744073709551615\r\nset i 0 0 21\r\n-18446744073709551615\r\n"
     "set j 0 0 3\r\n\t7\t\r\nset l 0 0 3\r\n1.5\r\nset m 0 0 1\r\n \r\nset n 0 0 0\r\n\r\n"
     "incr a 1\r\nincr b 1\r\ndecr c 95\r\nincr d 1\r\nincr e 1\r\nincr f 1\r\nincr g 1\r\n"
     "incr h 1\r\nincr i 1\r\ndecr j 10\r\nincr l 1\r\nincr m 1\r\nincr n 1\r\n"
     "get a b c d e f g h i j l m n\r\n", NULL},
    {"incr deltas and wrap",
     "set a 0 0 1\r\n5\r\nincr a 18446744073709551615\r\nincr a +3\r\nincr a -1\r\n"
     "incr a 18446744073709551616\r\nincr a x\r\ndecr a 100 noreply\r\nget a\r\n"
     "incr a 99999999999999999999\r\nincr zz 1\r\ndecr zz 1\r\nincr a\r\nincr a 1 2 3\r\n", NULL},
    {"decr keeps the length",
     "set a 0 0 5\r\n10000\r\ndecr a 1\r\nget a\r\ndecr a 9990\r\nget a\r\nincr a 99991\r\n"
     "get a\r\n", NULL},
    {"ma on padded values",
     "set a 0 0 4\r\n  5 \r\nma a v\r\nma a MD D7 v\r\nmg a v s\r\n", NULL},
    /* keys: TAB, DEL, other control bytes and a CR inside are key bytes */
    {"control bytes in keys",
     "set a\tb 0 0 1\r\nx\r\nget a\tb\r\nset c\x7f" "d 0 0 1\r\ny\r\nget c\x7f" "d\r\n"
     "set e\x01" "f 0 0 1\r\nz\r\nget e\x01" "f\r\nset g\rh 0 0 1\r\nw\r\nget g\rh\r\n"
     "append a\tb 0 0 1\r\n+\r\nget a\tb a\r\nincr a\tb 1\r\ntouch c\x7f" "d 0\r\n"
     "delete e\x01" "f\r\nget e\x01" "f\r\nmg a\tb v k\r\nms \x1b[0m 1\r\n!\r\nmg \x1b[0m v k\r\n", NULL},
    /* a multi-get with a key over 250 bytes answers the error alone (memcached also drops
     * the replies to requests pipelined before it, a bug: setup keeps them apart) */
    {"long key in a multi-get", "get a b " K251 " a\r\nget a b\r\n",
     "set a 0 0 1\r\n1\r\nset b 0 0 1\r\n2\r\n"},
    {"long key alone", "get " K251 "\r\n", NULL},
    {"long key in gets", "gets a " K251 "\r\n", "set a 0 0 1\r\n1\r\n"},
    /* HTTP request lines close the connection; a known command's does not */
    {"get with HTTP", "get / HTTP/1.0\r\n", NULL},
    {"GET HTTP", "GET / HTTP/1.0\r\nversion\r\n", NULL},
    {"PUT HTTP", "PUT /x HTTP/1.1\r\n", NULL},
    {"DELETE HTTP", "DELETE /k HTTP/1.1\r\n", NULL},
    {"unknown, not HTTP", "FOO / HTTP\r\nFOO bar\r\n", NULL},
    /* slabs, cache_memlimit and verbosity: memcached's own answers (no slab page to move,
     * no size change) */
    {"slabs and limits",
     "slabs reassign 1 2\r\nslabs reassign 1 1\r\nslabs reassign 0 2\r\nslabs reassign 99 2\r\n"
     "slabs reassign x 2\r\nslabs reassign -1 2\r\nslabs reassign 39 1\r\nslabs reassign 40 1\r\n"
     "slabs reassign 4294967297 1\r\nslabs automove 0\r\nslabs automove 2\r\nslabs automove 3\r\n"
     "slabs automove x\r\nslabs foo\r\nslabs\r\nslabs reassign 1\r\nslabs automove\r\n"
     "slabs automove 1 noreply\r\nslabs reassign 1 2 3\r\ncache_memlimit 0\r\n"
     "cache_memlimit x\r\ncache_memlimit 7\r\ncache_memlimit\r\nverbosity 0\r\nverbosity\r\n"
     "verbosity x\r\nverbosity 0 noreply\r\n", NULL},
    /* ma N q prints HD only when it creates */
    {"ma N q",
     "ma x N0 q\r\nma x q\r\nma x N0 q\r\nma y N0 J5 q v\r\nma y q v\r\nma zz q\r\n"
     "ma zz q k Oa\r\nma y MD q\r\nmg y v\r\n", NULL},
    /* several errors on one meta line: the first memcached checks wins */
    {"meta error precedence",
     "mg " K251 " v E5\r\nmg a v v\r\nmg a Nx Tx\r\nms a 1 Tx Fx\r\nx\r\nms a x Tx\r\nx\r\n"
     "ms " K251 " 1 Tx\r\nx\r\nmd " K251 " Cx\r\nma " K251 " Dx\r\nma a Dx Nx\r\n"
     "ma a MX Dx\r\nms a 1 MX Tx\r\nx\r\nmg a E1 E2\r\nmd a q q\r\n", NULL},
};

/* One run: the case's bytes sent at once or `chunk` bytes at a time; then "mn". */
static size_t run(int port, const shmcd_proc *s, const tcase *c, size_t chunk, char *got,
                  size_t cap)
{
    int fd = s ? h_connect(s) : h_connect_tcp(port);
    if (fd < 0) return 0;
    char buf[256];
    h_roundtrip(fd, "flush_all\r\n", 11, "OK\r\n", buf, sizeof buf);
    if (c->setup) {
        h_send_str(fd, c->setup);
        h_roundtrip(fd, "mn\r\n", 4, "MN\r\n", buf, sizeof buf);
    }
    for (size_t at = 0; at < c->len;) {
        size_t n = chunk && c->len - at > chunk ? chunk : c->len - at;
        if (!h_send_all(fd, c->req + at, n)) break;
        at += n;
        if (chunk) h_sleep_ms(1);
    }
    if (!c->no_mn) h_send_all(fd, "mn\r\n", 4);
    bool closed = false;
    size_t n = h_recv_until(fd, got, cap, "MN\r\n", 0, 15000, &closed);
    if (closed && n + 9 < cap) n += (size_t)snprintf(got + n, cap - n, "<closed>");
    close(fd);
    return n;
}

/* A set of `vlen` bytes for key k (flags f) followed by a get of it. */
static void add_sized(tcase *out, size_t *n, const char *name, const char *cmd, size_t vlen)
{
    size_t cap = vlen + 256;
    char *p = malloc(cap);
    if (!p) return;
    int h = snprintf(p, cap, cmd, vlen);
    memset(p + h, 'v', vlen);
    size_t len = (size_t)h + vlen;
    len += (size_t)snprintf(p + len, cap - len, "\r\nget k\r\n");
    out[(*n)++] = (tcase){name, p, len, NULL, false};
}

/* One counter of "stats", or -1. */
static long long stat_of(int fd, const char *name)
{
    static char reply[65536];
    h_roundtrip(fd, "stats\r\n", 7, "END\r\n", reply, sizeof reply);
    char pat[64];
    snprintf(pat, sizeof pat, "STAT %s ", name);
    const char *at = strstr(reply, pat);
    return at ? atoll(at + strlen(pat)) : -1;
}

/* `me` is no get to memcached: cmd_get, get_hits and get_misses stay as they were. */
static void check_me_uncounted(int port, const shmcd_proc *s, const char *who)
{
    int fd = s ? h_connect(s) : h_connect_tcp(port);
    char buf[256];
    h_roundtrip(fd, "set mec 0 0 1\r\nx\r\n", 18, "\r\n", buf, sizeof buf);
    static const char *const names[] = {"cmd_get", "get_hits", "get_misses", "get_expired"};
    long long before[4], after[4];
    for (int i = 0; i < 4; i++) before[i] = stat_of(fd, names[i]);
    h_roundtrip(fd, "me mec\r\nme zz\r\nmn\r\n", 19, "MN\r\n", buf, sizeof buf);
    for (int i = 0; i < 4; i++) after[i] = stat_of(fd, names[i]);
    for (int i = 0; i < 4; i++) {
        CHECK(before[i] >= 0 && after[i] == before[i]);
        if (before[i] < 0 || after[i] != before[i])
            fprintf(stderr, "%s: me changed %s from %lld to %lld\n", who, names[i], before[i],
                    after[i]);
    }
    close(fd);
}

/* The cases: the fixed ones, then those built by size; n of them. */
static size_t make_cases(tcase *cases)
{
    size_t ncases = 0;
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++)
        cases[ncases++] = (tcase){fixed[i].name, strdup(fixed[i].req), strlen(fixed[i].req),
                                  fixed[i].setup, false};
    /* memcached's limit counts the whole item: 48-byte header, key + NUL, flags when not 0,
     * value + CRLF, cas; with -I 1m the largest value of key "k" is 1048516 bytes (flags 0) */
    add_sized(cases, &ncases, "largest value", "set k 0 0 %zu\r\n", 1048516);
    add_sized(cases, &ncases, "one byte over", "set k 0 0 %zu\r\n", 1048517);
    add_sized(cases, &ncases, "largest with flags", "set k 5 0 %zu\r\n", 1048512);
    add_sized(cases, &ncases, "over with flags", "set k 5 0 %zu\r\n", 1048513);
    add_sized(cases, &ncases, "ms over", "ms k %zu T0\r\n", 1048517);
    add_sized(cases, &ncases, "2 MB", "set k 0 0 %zu\r\n", 2000000);
    {
        /* an over-size set drops the old value */
        const char *pre = "set k 0 0 1\r\nx\r\n";
        tcase *c = &cases[ncases - 1];
        char *p = malloc(strlen(pre) + c->len + 1);
        memcpy(p, pre, strlen(pre));
        memcpy(p + strlen(pre), c->req, c->len);
        free(c->req);
        c->req = p;
        c->len += strlen(pre);
    }
    /* lines over 2048 bytes with no newline: only get and gets may go on */
    static const char *const long_lines[] = {"set ", "gat 0 ", "bget ", "foo "};
    for (size_t i = 0; i < sizeof long_lines / sizeof long_lines[0]; i++) {
        char *p = malloc(3000);
        size_t h = strlen(long_lines[i]);
        memcpy(p, long_lines[i], h);
        for (size_t j = h; j < 3000; j++) p[j] = (j - h) % 2 ? ' ' : 'k';
        cases[ncases++] = (tcase){long_lines[i], p, 3000, NULL, true};
    }
    return ncases;
}

static void compare(const shmcd_proc *s)
{
    static tcase cases[64];
    size_t ncases = make_cases(cases);
    static char want[1 << 21], got[1 << 21];
    for (size_t i = 0; i < ncases; i++) {
        for (int split = 0; split < 2; split++) {
            /* split: a few bytes per send; a large block in 64 KiB pieces */
            size_t chunk = !split ? 0 : cases[i].len > 100000 ? 65536 : 5;
            size_t nw = run(mc_port, NULL, &cases[i], chunk, want, sizeof want);
            size_t ng = run(0, s, &cases[i], chunk, got, sizeof got);
            bool ok = nw > 0 && nw == ng && memcmp(want, got, nw) == 0;
            if (getenv("SHOWDIFF"))
                printf("%s:\n  MC: %.3000s\n  SH: %.3000s\n", cases[i].name, want, got);
            CHECK(ok);
            if (!ok)
                fprintf(stderr, "case \"%s\"%s:\n  memcached: %.3000s\n  shmcd:     %.3000s\n",
                        cases[i].name, split ? " (split)" : "", want, got);
        }
    }
    check_me_uncounted(mc_port, NULL, "memcached");
    check_me_uncounted(0, s, "shmcd");
    for (size_t i = 0; i < ncases; i++) free(cases[i].req);
}

int main(void)
{
    static const char *const extra[] = {"-m", "64", "-t", "2", NULL};
    return diff_main("text_diff", extra, true, compare, NULL);
}
