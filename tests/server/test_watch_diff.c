/* test_watch_diff.c — shmcd's `watch` against the real memcached 1.6.18: watchers for
 * fetchers, mutations and both see the same log lines for the same commands sent on another
 * connection (times, gids and descriptors masked); the refusals (an unknown argument,
 * "noreply", -W) are the same bytes.  A watcher that never reads loses lines ("skipped=N")
 * and does not hold the workers back.  No timing: each stream is read until a marker
 * command's line arrives (generous timeouts).  Skipped (77) where memcached is missing. */
#include "memcached_ref.h"
#include "binary_packet.h"

#define REPLY_MAX (1 << 20)
#define MARKER "watch_end_marker"

static void compare(const char *what, const char *mc, const char *sh)
{
    if (!strcmp(mc, sh)) {
        t_passed++;
        return;
    }
    t_failed++;
    fprintf(stderr, "FAIL %s\n  memcached:\n%s\n  shmcd:\n%s\n", what, mc, sh);
}

/* Both servers up with `flags`; false (having said why) when either could not start. */
static bool both_up(shmcd_proc *s, const char *const *flags, bool *have_ref)
{
    mc_extra = flags;
    *have_ref = reference_up();
    if (!*have_ref) return false;
    static int caches;
    char name[32];
    snprintf(name, sizeof name, "watch%d", caches++);
    if (!h_start_argv(s, t_path(name), true, NULL, flags)) {
        t_failed++;
        reference_down();
        return false;
    }
    return true;
}

/* Send req then "mn" on a fresh connection; the reply up to "MN\r\n". */
static void exchange(int port, const char *req, char *reply)
{
    int fd = h_connect_tcp(port);
    reply[0] = 0;
    if (fd < 0) return;
    h_send_str(fd, req);
    h_send_str(fd, "mn\r\n");
    h_recv_until(fd, reply, REPLY_MAX, "MN\r\n", 0, 30000, NULL);
    close(fd);
}

/* Send pre and "watch mutations" together on a new connection to port; reply gets what comes back
 * up to the watch's answer (OK, or the refusal of a watch behind waiting replies). */
static void watch_after(int port, const char *pre, char *reply)
{
    int fd = h_connect_tcp(port);
    reply[0] = 0;
    if (fd < 0) return;
    char req[256];
    snprintf(req, sizeof req, "%swatch mutations\r\n", pre); /* one send: one read */
    h_send_str(fd, req);
    size_t n = 0;
    for (int i = 0; i < 20; i++) {
        bool closed = false;
        size_t r = h_recv_until(fd, reply + n, REPLY_MAX - n, "\r\n", 0, 10000, &closed);
        n += r;
        if (r == 0 || closed) break;
        if ((n >= 4 && !strcmp(reply + n - 4, "OK\r\n")) ||
            (n >= 14 && !strcmp(reply + n - 14, "before watch\r\n")))
            break;
    }
    close(fd);
}

/* Mask what differs by nature: "ts=... gid=..." and "cfd=N". */
static void mask(char *s)
{
    static char masked[REPLY_MAX];
    char *out = masked;
    for (const char *p = s; *p;) {
        if (!strncmp(p, "ts=", 3)) {
            out += sprintf(out, "ts=T gid=G");
            p = strstr(p, " type=");
            if (!p) break;
            continue;
        }
        if (!strncmp(p, "cfd=", 4)) {
            out += sprintf(out, "cfd=F");
            p += 4;
            while (*p == '-' || (*p >= '0' && *p <= '9')) p++;
            continue;
        }
        *out++ = *p++;
    }
    *out = 0;
    strcpy(s, masked);
}

/* Start a watcher on port with `cmd`; its descriptor after "OK\r\n", or -1. */
static int watcher(int port, const char *cmd)
{
    int fd = h_connect_tcp(port);
    if (fd < 0) return -1;
    char buf[64];
    h_send_str(fd, cmd);
    h_recv_until(fd, buf, sizeof buf, "\r\n", 0, 30000, NULL);
    if (strcmp(buf, "OK\r\n")) {
        fprintf(stderr, "watch answered: %s\n", buf);
        close(fd);
        return -1;
    }
    return fd;
}

/* Read a stream until the marker's line (30 s without data at most), then mask it. */
static void read_stream(int fd, char *buf)
{
    size_t n = 0;
    buf[0] = 0;
    for (;;) {
        char *m = strstr(buf, "key=" MARKER " ");
        if (m && strchr(m, '\n')) break;
        bool closed = false;
        size_t k = h_recv_until(fd, buf + n, REPLY_MAX - n, NULL, 1, 30000, &closed);
        if (k == 0) {
            fprintf(stderr, "stream %s without its marker after %zu bytes:\n%s\n",
                    closed ? "closed" : "silent for 30 s", n, buf);
            break;
        }
        n += k;
    }
    mask(buf);
}

static const char SEQUENCE[] =
    "set foo 5 0 3\r\nbar\r\nget foo\r\nget nope foo\r\ngets foo\r\nadd foo 0 0 1\r\nx\r\n"
    "append foo 0 0 1\r\nx\r\nset n 0 0 1\r\n5\r\nincr n 3\r\ndecr n 1\r\nincr nope 1\r\n"
    "touch foo 10\r\ntouch nope 10\r\ngat 0 foo\r\ngats 0 foo nope\r\ndelete foo\r\n"
    "delete foo\r\ncas n 0 0 1 999\r\n1\r\nreplace zz 0 0 1\r\n1\r\nprepend n 0 0 1\r\n1\r\n"
    "append nope 0 0 1\r\n1\r\nset e 0 0 0\r\n\r\nget e\r\nset foo 0 0 1 noreply\r\nz\r\n"
    "set t 0 100 1\r\n1\r\ntouch t 0\r\n"
    "get " MARKER "\r\n";

static bool test_streams(void)
{
    shmcd_proc s;
    bool ref;
    if (!both_up(&s, NULL, &ref)) return ref;
    static const char *const cmds[] = {"watch fetchers mutations\r\n", "watch\r\n",
                                       "watch mutations fetchers\r\n", "watch fetchers\r\n",
                                       "watch evictions fetchers\r\n"};
    static char mc[REPLY_MAX], sh[REPLY_MAX];
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++) {
        int ports[2] = {mc_port, s.port};
        char *got[2] = {mc, sh};
        for (int j = 0; j < 2; j++) {
            int w = watcher(ports[j], cmds[i]);
            CHECK(w >= 0);
            if (w < 0) continue;
            static char reply[REPLY_MAX];
            exchange(ports[j], SEQUENCE, reply);
            read_stream(w, got[j]);
            close(w);
        }
        compare(cmds[i], mc, sh);
    }
    /* mutations alone: the marker is a store */
    for (int j = 0; j < 2; j++) {
        int port = j ? s.port : mc_port;
        int w = watcher(port, "watch mutations\r\n");
        CHECK(w >= 0);
        if (w < 0) continue;
        static char reply[REPLY_MAX];
        exchange(port, "set a 0 0 1\r\n1\r\nadd a 0 0 1\r\n1\r\nget a\r\nset " MARKER " 0 0 1\r\n1\r\n",
                 reply);
        read_stream(w, j ? sh : mc);
        close(w);
    }
    compare("watch mutations", mc, sh);
    /* refusals */
    static char a[REPLY_MAX], b[REPLY_MAX];
    const char *refused = "watch foo\r\nwatch fetchers noreply\r\nwatch fetchers bogus\r\n";
    exchange(mc_port, refused, a);
    exchange(s.port, refused, b);
    compare(refused, a, b);
    /* a watch behind other requests of one read: memcached refuses it when replies wait,
     * and a get or mn has sent the replies before it */
    static const char *const before[] = {
        "get a\r\n", "get a\r\nget b\r\n", "gets nokey\r\nmn\r\n", "mn\r\n", "touch a 1\r\n",
        "delete nokey\r\n", "mg nokey\r\n", "set x 0 0 1 noreply\r\nx\r\n", "get a\r\ndelete nokey\r\n",
    };
    for (size_t i = 0; i < sizeof before / sizeof before[0]; i++) {
        watch_after(mc_port, before[i], a);
        watch_after(s.port, before[i], b);
        compare(before[i], a, b);
    }
    h_stop(&s);
    reference_down();
    return true;
}

/* Meta commands: memcached logs them from the same item lookup and store as the classic
 * ones.  Then values of several sizes, with and without client flags, for the slab class,
 * one connection each (memcached reads a long pipeline slowly). */
static const char META[] =
    "ms foo 3 T0 F5\r\nbar\r\nmg foo v\r\nmg foo\r\nmg nope v\r\nmg foo v q\r\n"
    "mg foo s t f\r\nms foo 2 MA\r\nxx\r\nms foo 2 MP\r\nyy\r\nms foo 1 ME\r\nz\r\n"
    "ms new 1 ME\r\nz\r\nms foo 1 MR\r\nz\r\nms nope 1 MR\r\nz\r\nms foo 1 C999\r\nz\r\n"
    "ms foo 1 I\r\nz\r\nms n 1\r\n5\r\nma n\r\nma n MD D2\r\nma nope\r\n"
    "ma nope2 N0 J7\r\nmd foo\r\nmd foo\r\nmd n q\r\nmd n I\r\nmn\r\nme foo\r\n"
    "me nope2\r\nms f2 3 F0 T100\r\nabc\r\nmg f2 v\r\nmg viv N30 s\r\nmg viv s\r\n"
    "ms zz 1 MA\r\nz\r\n";

static void meta_exchange(int port)
{
    static char req[1 << 21], reply[REPLY_MAX];
    int fd = h_connect_tcp(port); /* one connection: memcached orders lines per worker */
    CHECK(fd >= 0);
    if (fd < 0) return;
    static const size_t sizes[] = {1, 40, 100, 500, 2000, 10000, 100000, 600000};
    for (size_t i = 0; i <= 2 * sizeof sizes / sizeof sizes[0]; i++) {
        char *p = req;
        if (i == 0) {
            p += sprintf(p, "%s", META);
        } else {
            size_t n = sizes[(i - 1) / 2];
            int f = (int)(i - 1) % 2;
            p += sprintf(p, "ms v%zu_%d %zu F%d\r\n", n, f, n, f * 7);
            memset(p, 'v', n);
            p += n;
            p += sprintf(p, "\r\nmg v%zu_%d s\r\nma v%zu_%d\r\n", n, f, n, f);
        }
        if (i == 2 * sizeof sizes / sizeof sizes[0]) p += sprintf(p, "mg " MARKER " v\r\n");
        sprintf(p, "mn\r\n");
        h_send_str(fd, req); /* each part answered before the next: no long pipeline */
        h_recv_until(fd, reply, REPLY_MAX, "MN\r\n", 0, 30000, NULL);
    }
    close(fd);
}

/* The binary protocol's commands, each a packet, ending with a get of the marker and a NOOP. */
static void binary_sequence(buf *b)
{
    unsigned char fl[8] = {0, 0, 0, 5, 0, 0, 0, 0}, ttl[8] = {0, 0, 0, 3, 0, 0, 0, 100};
    unsigned char t4[4] = {0, 0, 0, 10}, none[8] = {0};
    unsigned char arith[20] = {0}, arith_no[20] = {0};
    be(arith, 1, 8);
    be(arith + 8, 5, 8); /* initial 5, exptime 0: created on a miss */
    be(arith_no, 1, 8);
    be(arith_no + 16, 0xffffffffu, 4); /* no initial: a miss stays one */
    req(b, 0x01, fl, 8, "foo", "bar", 3, 0, 1);         /* set */
    req(b, 0x00, NULL, 0, "foo", NULL, 0, 0, 2);        /* get */
    req(b, 0x00, NULL, 0, "nope", NULL, 0, 0, 3);       /* get, a miss */
    req(b, 0x0c, NULL, 0, "foo", NULL, 0, 0, 4);        /* getk */
    req(b, 0x09, NULL, 0, "foo", NULL, 0, 0, 5);        /* getq */
    req(b, 0x0d, NULL, 0, "nope", NULL, 0, 0, 6);       /* getkq, a miss */
    req(b, 0x02, none, 8, "foo", "x", 1, 0, 7);         /* add, present */
    req(b, 0x03, none, 8, "zz", "x", 1, 0, 8);          /* replace, absent */
    req(b, 0x0e, NULL, 0, "foo", "x", 1, 0, 9);         /* append */
    req(b, 0x0f, NULL, 0, "foo", "y", 1, 0, 10);        /* prepend */
    req(b, 0x0e, NULL, 0, "nope", "y", 1, 0, 11);       /* append, absent */
    req(b, 0x01, ttl, 8, "foo", "x", 1, 999, 12);       /* set with a wrong cas */
    req(b, 0x05, arith, 20, "n", NULL, 0, 0, 13);       /* incr: created */
    req(b, 0x05, arith, 20, "n", NULL, 0, 0, 14);       /* incr */
    req(b, 0x06, arith_no, 20, "nope", NULL, 0, 0, 15); /* decr, a miss */
    req(b, 0x1c, t4, 4, "foo", NULL, 0, 0, 16);         /* touch */
    req(b, 0x1d, t4, 4, "foo", NULL, 0, 0, 17);         /* gat */
    req(b, 0x1d, t4, 4, "nope", NULL, 0, 0, 18);        /* gat, a miss */
    req(b, 0x04, NULL, 0, "foo", NULL, 0, 0, 19);       /* delete */
    req(b, 0x04, NULL, 0, "foo", NULL, 0, 0, 20);       /* delete, a miss */
    req(b, 0x11, fl, 8, "q", "q", 1, 0, 21);            /* setq */
    static char big[50000];
    memset(big, 'b', sizeof big);
    req(b, 0x01, ttl, 8, "big", big, sizeof big, 0, 22);
    req(b, 0x00, NULL, 0, "big", NULL, 0, 0, 23);
    req(b, 0x00, NULL, 0, MARKER, NULL, 0, 0, 24);
    req(b, BIN_NOOP, NULL, 0, NULL, NULL, 0, 0, BIN_END_OPAQUE);
}

static void mask_fields(char *s, const char *const *names, size_t n);

/* mask_fields on the status=too_large lines only. */
static void mask_too_large(char *s, const char *const *names)
{
    for (char *l = s; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
        char *e = strchr(l, '\n');
        if (!e) break;
        *e = 0;
        if (strstr(l, " status=too_large ")) {
            mask_fields(l, names, 1);
            size_t after = strlen(l); /* never longer: close the gap */
            memmove(l + after, e, strlen(e + 1) + 2);
            e = l + after;
        }
        *e = '\n';
    }
}

static void test_protocols(void)
{
    shmcd_proc s;
    bool ref;
    if (!both_up(&s, NULL, &ref)) return;
    static char mc[REPLY_MAX], sh[REPLY_MAX];
    buf bin = {0}, got = {0};
    binary_sequence(&bin);
    static char big[1 << 22];
    char *p = big; /* over the 1 MB limit: refused before the data is read */
    p += sprintf(p, "set big 0 0 1\r\nx\r\nset big 0 0 2000000\r\n");
    memset(p, 'x', 2000000);
    p += 2000000;
    p += sprintf(p, "\r\nms big2 2000000 T0\r\n");
    memset(p, 'x', 2000000);
    p += 2000000;
    sprintf(p, "\r\nget " MARKER "\r\n");
    for (int k = 0; k < 3; k++) {
        for (int j = 0; j < 2; j++) {
            int port = j ? s.port : mc_port;
            int w = watcher(port, "watch fetchers mutations\r\n");
            CHECK(w >= 0);
            if (w < 0) continue;
            if (k == 0) {
                meta_exchange(port);
            } else if (k == 2) {
                static char reply[REPLY_MAX];
                exchange(port, big, reply);
            } else {
                int fd = h_connect_tcp(port);
                CHECK(fd >= 0);
                if (fd >= 0) {
                    h_send_all(fd, bin.p, bin.n);
                    read_until_end(fd, &got, false);
                    close(fd);
                }
            }
            read_stream(w, j ? sh : mc);
            close(w);
            /* memcached's too_large line prints a class and descriptor it never set */
            static const char *const unset[] = {"clsid"};
            if (k == 2) mask_too_large(j ? sh : mc, unset);
        }
        compare(k == 0 ? "meta commands" : k == 1 ? "binary commands" : "too large", mc, sh);
    }
    free(bin.p);
    free(got.p);
    h_stop(&s);
    reference_down();
}

/* Replace each "name=value" of the masked names by "name=*": what differs by design between
 * memcached's LRU and shmc's CLOCK (which keys go, whether they were fetched) and by time. */
static void mask_fields(char *s, const char *const *names, size_t n)
{
    char *out = s;
    for (const char *p = s; *p;) {
        bool hit = false;
        for (size_t i = 0; i < n && !hit; i++) {
            size_t k = strlen(names[i]);
            if ((p == s || p[-1] == ' ') && !strncmp(p, names[i], k) && p[k] == '=') {
                out += sprintf(out, "%s=*", names[i]);
                p += k + 1;
                while (*p && *p != ' ' && *p != '\n') p++;
                hit = true;
            }
        }
        if (!hit) *out++ = *p++;
    }
    *out = 0;
}

/* The first `want` lines of a stream (30 s without data at most); false when they did not
 * come. */
static bool read_lines(int fd, char *buf, int want)
{
    size_t n = 0;
    int lines = 0;
    buf[0] = 0;
    while (lines < want) {
        size_t k = h_recv_until(fd, buf + n, REPLY_MAX - n, NULL, 1, 30000, NULL);
        if (k == 0) {
            fprintf(stderr, "stream ended after %d lines:\n%s\n", lines, buf);
            return false;
        }
        for (size_t i = n; i < n + k; i++) lines += buf[i] == '\n';
        n += k;
    }
    char *end = buf;
    for (int i = 0; i < want; i++) end = strchr(end, '\n') + 1;
    *end = 0;
    return true;
}

/* `watch evictions` on a 2 MB cache that a stream of 1000-byte sets (some with a TTL, some
 * fetched) overflows: the same line format as memcached's, with the same slab class and
 * size, keys, fetch bits, TTLs and last access masked. */
static void test_evictions(void)
{
    shmcd_proc s;
    bool ref;
    if (!both_up(&s, (const char *const[]){"-m", "2", NULL}, &ref)) return;
    static char mc[REPLY_MAX], sh[REPLY_MAX], req[1 << 18], reply[REPLY_MAX];
    static char v[1001];
    memset(v, 'v', 1000);
    for (int j = 0; j < 2; j++) {
        int port = j ? s.port : mc_port;
        int w = watcher(port, "watch evictions\r\n");
        CHECK(w >= 0);
        if (w < 0) continue;
        int fd = h_connect_tcp(port);
        CHECK(fd >= 0);
        for (int i = 0; fd >= 0 && i < 8000; i += 100) { /* 8 MB into 2 MB */
            char *p = req;
            for (int k = i; k < i + 100; k++) {
                p += sprintf(p, "set key%d 3 %d 1000\r\n%s\r\n", k, k % 2 ? 0 : 500, v);
                if (k % 3 == 0) p += sprintf(p, "get key%d\r\n", k);
            }
            sprintf(p, "mn\r\n");
            h_send_str(fd, req);
            h_recv_until(fd, reply, REPLY_MAX, "MN\r\n", 0, 30000, NULL);
        }
        if (fd >= 0) close(fd);
        CHECK(read_lines(w, j ? sh : mc, 20));
        CHECK(strstr(j ? sh : mc, " type=eviction key=") != NULL);
        close(w);
        mask(j ? sh : mc);
        static const char *const masked[] = {"key", "fetch", "ttl", "la"};
        mask_fields(j ? sh : mc, masked, 4);
    }
    compare("watch evictions", mc, sh);
    h_stop(&s);
    reference_down();
}

/* Keys are printed URI-encoded, as memcached's logger does: a TAB, '%', control and
 * high-bit bytes in text keys. */
static void test_key_bytes(void)
{
    shmcd_proc s;
    bool ref;
    if (!both_up(&s, NULL, &ref)) return;
    static const char seq[] = "set a%b\tc\x01\x7f\xc3\xa9 0 0 1\r\n1\r\nget a%b\tc\x01\x7f\xc3\xa9\r\n"
                              "get x\ty\r\nget " MARKER "\r\n";
    static char mc[REPLY_MAX], sh[REPLY_MAX], reply[REPLY_MAX];
    int ports[2] = {mc_port, s.port};
    char *got[2] = {mc, sh};
    for (int j = 0; j < 2; j++) {
        int w = watcher(ports[j], "watch fetchers mutations\r\n");
        CHECK(w >= 0);
        if (w < 0) continue;
        exchange(ports[j], seq, reply);
        read_stream(w, got[j]);
        close(w);
    }
    CHECK(strstr(sh, "key=a%25b%09c%01%7F%C3%A9 status=stored") != NULL);
    compare("keys with TAB, '%', control and high-bit bytes", mc, sh);
    h_stop(&s);
    reference_down();
}

/* -W: memcached's refusal, even with noreply. */
static void test_disabled(void)
{
    shmcd_proc s;
    bool ref;
    if (!both_up(&s, (const char *const[]){"-W", NULL}, &ref)) return;
    static char a[REPLY_MAX], b[REPLY_MAX];
    const char *req = "watch\r\nwatch fetchers\r\nwatch foo\r\nwatch mutations noreply\r\n";
    exchange(mc_port, req, a);
    exchange(s.port, req, b);
    compare("-W", a, b);
    h_stop(&s);
    reference_down();
}

/* A watcher that does not read: lines are dropped, counted in a "skipped=N" line, and the
 * requests of other connections are all answered meanwhile (shmcd only). */
static void test_slow_watcher(void)
{
    shmcd_proc s;
    if (!h_start(&s, t_path("slow"), true, NULL)) {
        t_failed++;
        return;
    }
    int w = watcher(s.port, "watch fetchers\r\n");
    CHECK(w >= 0);
    int fd = h_connect_tcp(s.port);
    CHECK(fd >= 0);
    static char line[8192], reply[REPLY_MAX];
    size_t n = (size_t)sprintf(line, "get");
    for (int k = 0; k < 30; k++) {
        n += (size_t)sprintf(line + n, " k%03d_", k);
        memset(line + n, 'x', 200);
        n += 200;
    }
    n += (size_t)sprintf(line + n, "\r\n");
    bool all = true;
    for (int i = 0; i < 2000 && all; i++) /* 60000 lines of ~300 bytes: far over 256 KiB */
        all = h_roundtrip(fd, line, n, "END\r\n", reply, sizeof reply) == 5;
    CHECK(all);
    close(fd);
    /* now read it all: the stream says lines were lost.  The marker's line may be lost too
     * while the buffer is full: it is asked for again whenever the stream pauses. */
    int fd2 = h_connect_tcp(s.port);
    static char stream[1 << 24];
    size_t got = 0;
    stream[0] = 0;
    for (int asks = 0; asks < 100 && got + 1 < sizeof stream &&
                       !strstr(stream + (got > 4096 ? got - 4096 : 0), "key=" MARKER " ");) {
        size_t k = h_recv_until(w, stream + got, sizeof stream - got, NULL, 1, 1000, NULL);
        if (k == 0) { /* nothing more for now: ask again */
            h_send_str(fd2, "get " MARKER "\r\n");
            h_recv_until(fd2, reply, sizeof reply, "END\r\n", 0, 30000, NULL);
            asks++;
        }
        got += k;
    }
    close(fd2);
    CHECK(strstr(stream, "\nskipped=") != NULL);
    CHECK(strstr(stream, "key=" MARKER " ") != NULL);
    close(w);
    h_stop(&s);
}

int main(void)
{
    t_setup("watch_diff");
    if (!test_streams()) {
        t_finish();
        return 77;
    }
    test_protocols();
    test_evictions();
    test_disabled();
    test_key_bytes();
    test_slow_watcher();
    return t_finish();
}
