/* test_watch_diff.c — shmcd's `watch` against the real memcached 1.6.18: watchers for
 * fetchers, mutations and both see the same log lines for the same commands sent on another
 * connection (times, gids and descriptors masked); the refusals (an unknown argument,
 * "noreply", -W) are the same bytes.  A watcher that never reads loses lines ("skipped=N")
 * and does not hold the workers back.  No timing: each stream is read until a marker
 * command's line arrives (generous timeouts).  Skipped (77) where memcached is missing. */
#include "memcached_ref.h"

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
            while (*p >= '0' && *p <= '9') p++;
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
    h_stop(&s);
    reference_down();
    return true;
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
    test_disabled();
    test_key_bytes();
    test_slow_watcher();
    return t_finish();
}
