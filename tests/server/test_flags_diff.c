/* test_flags_diff.c — shmcd's memcached flags against the real memcached 1.6.18 started with
 * the same flags: -F (flush_all refused), -C (no CAS), -A (shutdown, shutdown graceful),
 * -R (requests per turn, counted in conn_yields), -M (stores refused when full, nothing
 * evicted), -o idle_timeout (idle connections closed, idle_kicks), -D with "stats detail",
 * -o read_buf_mem_limit (connections past the cap closed, read_buf_oom), and "stats settings"
 * line by line in memcached's order.  Each case is sent on a fresh connection to
 * both servers, followed by "mn", and the replies must be equal byte for byte; a case that
 * closes the connection must close it on both, and stop both servers.  Skipped (77) where
 * memcached 1.6.18 is missing. */
#include "memcached_ref.h"

#define REPLY_MAX 65536

/* Send `req` (and "mn\r\n" unless it closes) to port; the reply, "<closed>" appended when the
 * peer closed.  reply holds REPLY_MAX bytes. */
static void exchange(int port, const char *req, bool closes, char *reply)
{
    int fd = h_connect_tcp(port);
    reply[0] = 0;
    if (fd < 0) {
        snprintf(reply, REPLY_MAX, "<no connection>");
        return;
    }
    h_send_str(fd, req);
    if (!closes) h_send_str(fd, "mn\r\n");
    bool closed = false;
    size_t n = h_recv_until(fd, reply, REPLY_MAX - 16, closes ? NULL : "MN\r\n",
                            closes ? REPLY_MAX : 0, 10000, &closed);
    if (closed) snprintf(reply + n, 16, "<closed>");
    close(fd);
}

static void compare(const char *what, const char *mc, const char *sh)
{
    if (!strcmp(mc, sh)) {
        t_passed++;
        return;
    }
    t_failed++;
    fprintf(stderr, "FAIL %s\n  memcached: %s\n  shmcd:     %s\n", what, mc, sh);
}

/* Both servers up with `flags`; false (having said why) when either could not start. */
static bool both_up(shmcd_proc *s, const char *const *flags, bool *have_ref)
{
    mc_extra = flags;
    *have_ref = reference_up();
    if (!*have_ref) return false;
    static int caches;
    char name[32];
    snprintf(name, sizeof name, "cache%d", caches++); /* each with its own -m */
    if (!h_start_argv(s, t_path(name), true, NULL, flags)) {
        t_failed++;
        reference_down();
        return false;
    }
    return true;
}

static void run_case(const shmcd_proc *s, const char *req)
{
    static char mc[REPLY_MAX], sh[REPLY_MAX];
    exchange(mc_port, req, false, mc);
    exchange(s->port, req, false, sh);
    compare(req, mc, sh);
}

/* The "STAT <name> ..." line of a "stats [sub]" reply from port, into line (cap 128). */
static void stat_line(int port, const char *cmd, const char *name, char *line)
{
    static char reply[REPLY_MAX];
    int fd = h_connect_tcp(port);
    line[0] = 0;
    if (fd < 0) return;
    h_roundtrip(fd, cmd, strlen(cmd), "END\r\n", reply, sizeof reply);
    close(fd);
    char want[80];
    snprintf(want, sizeof want, "STAT %s ", name);
    const char *p = strstr(reply, want);
    if (!p) return;
    size_t n = strcspn(p, "\r\n");
    snprintf(line, 128, "%.*s", (int)(n < 127 ? n : 127), p);
}

/* The `stats items` lines "items:CLASS:outofmemory N" whose N is not 0, one after another. */
static void oom_classes(int port, char *out, size_t cap)
{
    static char reply[REPLY_MAX];
    out[0] = 0;
    int fd = h_connect_tcp(port);
    if (fd < 0) return;
    h_roundtrip(fd, "stats items\r\n", 13, "END\r\n", reply, sizeof reply);
    close(fd);
    size_t used = 0;
    for (const char *p = reply; (p = strstr(p, "STAT items:")); p++) {
        size_t n = strcspn(p, "\r\n");
        const char *name = strstr(p, ":outofmemory ");
        if (!name || name > p + n || strncmp(name, ":outofmemory 0\r", 15) == 0) continue;
        int w = snprintf(out + used, cap - used, "%.*s;", (int)n, p);
        if (w < 0 || (size_t)w >= cap - used) return;
        used += (size_t)w;
    }
}

static void compare_setting(const shmcd_proc *s, const char *name)
{
    char mc[128], sh[128];
    stat_line(mc_port, "stats settings\r\n", name, mc);
    stat_line(s->port, "stats settings\r\n", name, sh);
    CHECK(mc[0] != 0);
    compare(name, mc, sh);
}

/* -F and -C together (memcached_ref's -m 16 on both). */
static bool test_no_flush_no_cas(void)
{
    shmcd_proc s;
    bool ref;
    if (!both_up(&s, (const char *const[]){"-F", "-C", NULL}, &ref)) return ref;
    run_case(&s, "flush_all\r\nflush_all noreply\r\nflush_all 0\r\nflush_all -1\r\n"
                 "flush_all 0 noreply\r\nflush_all 1 2 3\r\n");
    run_case(&s, "set a 0 0 1\r\nx\r\ngets a\r\ngets a nope a\r\ngats 100 a\r\n");
    run_case(&s, "cas a 0 0 1 0\r\ny\r\ncas a 0 0 1 5\r\ny\r\ncas nope 0 0 1 5\r\ny\r\n"
                 "cas a 0 0 1 0 noreply\r\ny\r\nget a\r\n");
    run_case(&s, "ms a 1 C0\r\nz\r\nms a 1 C9\r\nz\r\nms a 1 c\r\nz\r\nmg a c v\r\n"
                 "mg a s c\r\n");
    run_case(&s, "md a C4\r\nmd a C0\r\nmd a C0\r\n");
    run_case(&s, "set n 0 0 2\r\n10\r\nma n C3\r\nma n C0 v c\r\nma n c\r\nmg n v\r\n");
    compare_setting(&s, "cas_enabled");
    compare_setting(&s, "flush_enabled");
    compare_setting(&s, "shutdown_command");
    h_stop(&s);
    reference_down();
    return true;
}

/* Without -A: memcached's refusal. */
static bool test_shutdown_refused(void)
{
    shmcd_proc s;
    bool ref;
    if (!both_up(&s, NULL, &ref)) return ref;
    run_case(&s, "shutdown\r\nshutdown graceful\r\nshutdown now\r\n");
    compare_setting(&s, "shutdown_command");
    compare_setting(&s, "cas_enabled");
    compare_setting(&s, "flush_enabled");
    h_stop(&s);
    reference_down();
    return true;
}

/* Wait (10 s at most) for pid to exit; its exit status, or -1. */
static int wait_exit(pid_t pid)
{
    for (int i = 0; i < 1000; i++) {
        int status;
        if (waitpid(pid, &status, WNOHANG) == pid) return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
        h_sleep_ms(10);
    }
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    return -1;
}

/* -A: "shutdown [graceful]" closes the connection and stops the server, as memcached. */
static bool test_shutdown(const char *cmd)
{
    shmcd_proc s;
    bool ref;
    if (!both_up(&s, (const char *const[]){"-A", NULL}, &ref)) return ref;
    run_case(&s, "shutdown now\r\nshutdown graceful please\r\n");
    compare_setting(&s, "shutdown_command");
    static char mc[REPLY_MAX], sh[REPLY_MAX];
    exchange(mc_port, cmd, true, mc);
    exchange(s.port, cmd, true, sh);
    compare(cmd, mc, sh);
    int mc_status = wait_exit(mc_pid), sh_status = wait_exit(s.pid);
    if (mc_status != 0 || sh_status != 0)
        fprintf(stderr, "FAIL %s: memcached exit %d, shmcd exit %d\n", cmd, mc_status, sh_status);
    CHECK(mc_status == 0 && sh_status == 0);
    return true;
}

/* The "conn_yields" of a "stats" reply from port. */
static unsigned long conn_yields(int port)
{
    char line[128];
    stat_line(port, "stats\r\n", "conn_yields", line);
    unsigned long v = 0;
    return sscanf(line, "STAT conn_yields %lu", &v) == 1 ? v : 0;
}

/* -R 2: 40 pipelined requests in one send are all answered, in order, and the connection
 * yielded its turn (memcached counts each yield in conn_yields). */
static bool test_reqs_per_event(void)
{
    shmcd_proc s;
    bool ref;
    if (!both_up(&s, (const char *const[]){"-R", "2", NULL}, &ref)) return ref;
    char req[4096];
    size_t n = 0;
    for (int i = 0; i < 20; i++)
        n += (size_t)snprintf(req + n, sizeof req - n, "set k%d 0 0 2\r\n%02d\r\nget k%d\r\n", i,
                              i, i);
    run_case(&s, req);
    unsigned long mc = conn_yields(mc_port), sh = conn_yields(s.port);
    if (mc == 0 || sh == 0) fprintf(stderr, "FAIL conn_yields: memcached %lu, shmcd %lu\n", mc, sh);
    CHECK(mc > 0 && sh > 0);
    compare_setting(&s, "reqs_per_event");
    h_stop(&s);
    reference_down();
    return true;
}

/* Read replies into reply (*got bytes so far, REPLY_MAX room) until it holds `want` END
 * lines, or the connection closes or stalls; returns how many it holds. */
static int read_ends(int fd, char *reply, size_t *got, int want)
{
    int ends = 0;
    for (const char *p = reply; *got && (p = strstr(p, "END\r\n")); p += 5) ends++;
    while (ends < want) {
        bool closed = false;
        size_t r = h_recv_until(fd, reply + *got, REPLY_MAX - *got, "END\r\n", 0, 10000, &closed);
        if (r == 0 || closed) break;
        *got += r;
        ends = 0;
        for (const char *p = reply; (p = strstr(p, "END\r\n")); p += 5) ends++;
    }
    return ends;
}

/* N pipelined gets on a fresh connection to port, in one send or (split) in two with the
 * second sent once every get wholly in the first is answered; the conn_yields they cost. */
static unsigned long yields_of_gets(int port, int n, bool split)
{
    static char req[8192], reply[REPLY_MAX];
    size_t len = 0;
    for (int i = 0; i < n; i++) len += (size_t)snprintf(req + len, sizeof req - len, "get y%d\r\n", i);
    unsigned long before = conn_yields(port);
    int fd = h_connect_tcp(port);
    if (fd < 0) return 0;
    size_t first = split ? len / 2 + 3 : len; /* inside a command line */
    int whole = 0;
    for (size_t i = 0; i < first; i++) whole += req[i] == '\n';
    h_send_all(fd, req, first);
    size_t got = 0;
    int ends = read_ends(fd, reply, &got, split ? whole : n); /* each reply is END */
    if (split) {
        h_send_all(fd, req + first, len - first);
        ends = read_ends(fd, reply, &got, n);
    }
    close(fd);
    if (ends != n) fprintf(stderr, "FAIL %d gets: %d answered\n", n, ends);
    CHECK(ends == n);
    return conn_yields(port) - before;
}

/* -R 5: conn_yields counted as memcached counts them (a turn that reads runs 6 requests, a
 * turn that goes on after a yield 5; a yield is counted when the budget runs out, input left
 * or not), for pipelined gets in one packet and split in two. */
static bool test_yields_as_memcached(void)
{
    shmcd_proc s;
    bool ref;
    if (!both_up(&s, (const char *const[]){"-R", "5", NULL}, &ref)) return ref;
    static const struct {
        int n;
        bool split;
    } cases[] = {{5, false}, {6, false}, {10, false}, {11, false}, {12, false}, {100, false},
                 {100, true}, {37, true}, {12, true}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        unsigned long mc = yields_of_gets(mc_port, cases[i].n, cases[i].split);
        unsigned long sh = yields_of_gets(s.port, cases[i].n, cases[i].split);
        printf("-R 5, %d gets%s: conn_yields memcached %lu, shmcd %lu\n", cases[i].n,
               cases[i].split ? " split in two" : "", mc, sh);
        if (mc != sh) fprintf(stderr, "FAIL -R 5, %d gets%s: memcached %lu, shmcd %lu\n",
                              cases[i].n, cases[i].split ? " split" : "", mc, sh);
        CHECK(mc == sh);
    }
    h_stop(&s);
    reference_down();
    return true;
}

/* Stores of 1000-byte values k0, k1, ... on port until the first reply that is not STORED
 * (into first, cap 128); how many were stored. */
static unsigned fill(int port, char *first)
{
    static char value[1000], reply[256];
    memset(value, 'v', sizeof value);
    first[0] = 0;
    int fd = h_connect_tcp(port);
    if (fd < 0) return 0;
    unsigned i;
    for (i = 0; i < 20000; i++) {
        char line[64];
        int n = snprintf(line, sizeof line, "set k%u 0 0 %zu\r\n", i, sizeof value);
        if (!h_send_all(fd, line, (size_t)n) || !h_send_all(fd, value, sizeof value) ||
            !h_send_str(fd, "\r\n"))
            break;
        h_recv_until(fd, reply, sizeof reply, "\r\n", 0, 10000, NULL);
        if (strcmp(reply, "STORED\r\n") != 0) {
            snprintf(first, 128, "%.100s", reply);
            break;
        }
    }
    close(fd);
    return i;
}

/* How many of k1..k(n-1) port still holds (mg, pipelined 100 at a time). */
static unsigned held(int port, unsigned n)
{
    static char req[4096], reply[4096];
    int fd = h_connect_tcp(port);
    if (fd < 0) return 0;
    unsigned hits = 0;
    for (unsigned i = 1; i < n; i += 100) {
        size_t len = 0;
        for (unsigned k = i; k < n && k < i + 100; k++)
            len += (size_t)snprintf(req + len, sizeof req - len, "mg k%u\r\n", k);
        len += (size_t)snprintf(req + len, sizeof req - len, "mn\r\n");
        h_roundtrip(fd, req, len, "MN\r\n", reply, sizeof reply);
        for (const char *p = reply; (p = strstr(p, "HD\r\n")); p += 4) hits++;
    }
    close(fd);
    return hits;
}

/* -M on a 2 MiB cache: stores run until memcached's error, and nothing stored was evicted.
 * (Where the error comes differs: memcached's slab classes fill at other points than shmc's
 * segments.) */
static bool test_no_evictions(void)
{
    shmcd_proc s;
    bool ref;
    if (!both_up(&s, (const char *const[]){"-M", "-m", "2", NULL}, &ref)) return ref;
    char mc_err[128], sh_err[128];
    unsigned mc_n = fill(mc_port, mc_err), sh_n = fill(s.port, sh_err);
    printf("-M -m 2: memcached stored %u, shmcd %u values of 1000 bytes before refusing\n",
           mc_n, sh_n);
    CHECK(mc_n > 0 && sh_n > 0 && mc_n < 20000 && sh_n < 20000);
    CHECK_STR(sh_err, "SERVER_ERROR out of memory storing object\r\n");
    compare("-M: the first refused store", mc_err, sh_err);
    /* the same again, on a stored key: refused again, and (as memcached) its old value is
     * dropped; nothing else is */
    static char again[1100];
    int n = snprintf(again, sizeof again, "set k0 0 0 1000\r\n");
    memset(again + n, 'w', 1000);
    memcpy(again + n + 1000, "\r\n", 3);
    run_case(&s, again);
    run_case(&s, "mg k0 v\r\n");
    unsigned mc_kept = held(mc_port, mc_n), sh_kept = held(s.port, sh_n);
    if (mc_kept != mc_n - 1 || sh_kept != sh_n - 1)
        fprintf(stderr, "FAIL -M kept: memcached %u of %u, shmcd %u of %u\n", mc_kept, mc_n - 1,
                sh_kept, sh_n - 1);
    CHECK(mc_kept == mc_n - 1 && sh_kept == sh_n - 1);
    char mc[128], sh[128];
    stat_line(mc_port, "stats\r\n", "evictions", mc);
    stat_line(s.port, "stats\r\n", "evictions", sh);
    compare("-M: evictions", mc, sh);
    CHECK_STR(sh, "STAT evictions 0");
    compare_setting(&s, "evictions");
    /* the refused stores, by the class of the refused item */
    char mc_oom[256], sh_oom[256];
    oom_classes(mc_port, mc_oom, sizeof mc_oom);
    oom_classes(s.port, sh_oom, sizeof sh_oom);
    CHECK(sh_oom[0] != 0);
    printf("-M: outofmemory by class: %s\n", sh_oom);
    compare("-M: outofmemory by class", mc_oom, sh_oom);
    h_stop(&s);
    reference_down();
    return true;
}

/* -o idle_timeout=1: a connection that sends nothing is closed, silently, and counted in
 * idle_kicks (memcached looks once a second or so: up to 15 s are allowed). */
static bool test_idle_timeout(void)
{
    shmcd_proc s;
    bool ref;
    if (!both_up(&s, (const char *const[]){"-o", "idle_timeout=1", NULL}, &ref)) return ref;
    static char mc[REPLY_MAX], sh[REPLY_MAX];
    int ports[2] = {mc_port, s.port};
    char *replies[2] = {mc, sh};
    for (int i = 0; i < 2; i++) {
        int fd = h_connect_tcp(ports[i]);
        bool closed = false;
        size_t n = fd >= 0 ? h_recv_until(fd, replies[i], REPLY_MAX - 16, NULL, 1, 15000, &closed) : 0;
        snprintf(replies[i] + n, 16, "%s", closed ? "<closed>" : "<open>");
        if (fd >= 0) close(fd);
    }
    compare("an idle connection", mc, sh);
    CHECK_STR(sh, "<closed>");
    char mcl[128], shl[128];
    stat_line(mc_port, "stats\r\n", "idle_kicks", mcl);
    stat_line(s.port, "stats\r\n", "idle_kicks", shl);
    compare("idle_kicks", mcl, shl);
    compare_setting(&s, "idle_timeout");
    h_stop(&s);
    reference_down();
    return true;
}

/* A "stats" line of port, retried for up to 10 s while the server refuses the connection
 * (at -o read_buf_mem_limit it has no buffer for it until others close). */
static void stat_line_retry(int port, const char *name, char *line)
{
    for (int i = 0; i < 200; i++) {
        stat_line(port, "stats\r\n", name, line);
        if (line[0]) return;
        h_sleep_ms(50);
    }
}

#define RB_CONNS 100

/* On port: RB_CONNS connections each send a set's command line without its data (so each
 * holds a read buffer), then the data.  Counts the replies that are STORED and the
 * connections closed without a reply; *other counts anything else. */
static void partial_sets(int port, unsigned *stored, unsigned *closed_silently, unsigned *other)
{
    static int fds[RB_CONNS];
    *stored = *closed_silently = *other = 0;
    for (int i = 0; i < RB_CONNS; i++) {
        fds[i] = h_connect_tcp(port);
        if (fds[i] >= 0) h_send_str(fds[i], "set rb 0 0 1\r\n");
    }
    /* one worker (-t 1): once it has answered or closed a later connection, it has read
     * those before it */
    char sync[64];
    int probe = h_connect_tcp(port);
    if (probe >= 0) h_roundtrip(probe, "mn\r\n", 4, "MN\r\n", sync, sizeof sync);
    if (probe >= 0) close(probe);
    for (int i = 0; i < RB_CONNS; i++) {
        char reply[64];
        bool closed = false;
        size_t n = 0;
        if (fds[i] >= 0 && h_send_str(fds[i], "x\r\n"))
            n = h_recv_until(fds[i], reply, sizeof reply, "\r\n", 0, 10000, &closed);
        else
            closed = true, reply[0] = 0;
        if (n == 0 && closed) (*closed_silently)++;
        else if (!strcmp(reply, "STORED\r\n")) (*stored)++;
        else (*other)++;
    }
    for (int i = 0; i < RB_CONNS; i++)
        if (fds[i] >= 0) close(fds[i]);
}

/* -o read_buf_mem_limit=1 -t 1: the read buffers of many connections waiting in a request
 * pass the cap; past it, as memcached, a connection is closed without a reply and counted in
 * read_buf_oom, the others are answered.  Where the cap falls differs (memcached also takes
 * its reply objects from the same 16 KiB buffers), so the counts are compared as kinds.
 * Then values of 100,000 bytes sent in halves on four connections at once stay under the
 * cap on both: replies equal byte for byte. */
static bool test_read_buf_mem_limit(void)
{
    shmcd_proc s;
    bool ref;
    if (!both_up(&s, (const char *const[]){"-t", "1", "-o", "read_buf_mem_limit=1", NULL}, &ref))
        return ref;
    compare_setting(&s, "read_buf_mem_limit");
    unsigned mc_ok, mc_closed, mc_other, sh_ok, sh_closed, sh_other;
    partial_sets(mc_port, &mc_ok, &mc_closed, &mc_other);
    partial_sets(s.port, &sh_ok, &sh_closed, &sh_other);
    printf("read_buf_mem_limit=1, %d connections waiting in a set: memcached answered %u, "
           "closed %u; shmcd answered %u, closed %u\n", RB_CONNS, mc_ok, mc_closed, sh_ok,
           sh_closed);
    if (mc_other || sh_other || !mc_ok || !mc_closed || !sh_ok || !sh_closed)
        fprintf(stderr, "FAIL read_buf_mem_limit: memcached %u/%u/%u, shmcd %u/%u/%u "
                "(stored/closed/other)\n", mc_ok, mc_closed, mc_other, sh_ok, sh_closed, sh_other);
    CHECK(mc_other == 0 && sh_other == 0 && mc_ok > 0 && mc_closed > 0 && sh_ok > 0 &&
          sh_closed > 0);
    char mcl[128], shl[128];
    stat_line_retry(mc_port, "read_buf_oom", mcl);
    stat_line_retry(s.port, "read_buf_oom", shl);
    unsigned long mc_oom = 0, sh_oom = 0;
    sscanf(mcl, "STAT read_buf_oom %lu", &mc_oom);
    sscanf(shl, "STAT read_buf_oom %lu", &sh_oom);
    if (mc_oom == 0 || sh_oom < sh_closed)
        fprintf(stderr, "FAIL read_buf_oom: memcached %lu, shmcd %lu (closed %u)\n", mc_oom,
                sh_oom, sh_closed);
    CHECK(mc_oom > 0 && sh_oom >= sh_closed);

    /* four 100,000-byte values, each sent in two halves, the halves interleaved */
    static char value[200000]; /* the first 100,000 bytes here, all for the growth below */
    memset(value, 'r', sizeof value);
    int ports[2] = {mc_port, s.port};
    static char replies[2][4][256];
    for (int p = 0; p < 2; p++) {
        int fds[4];
        for (int i = 0; i < 4; i++) {
            fds[i] = h_connect_tcp(ports[p]);
            char line[64];
            int n = snprintf(line, sizeof line, "set big%d 0 0 100000\r\n", i);
            h_send_all(fds[i], line, (size_t)n);
            h_send_all(fds[i], value, 50000);
        }
        for (int i = 0; i < 4; i++) {
            h_send_all(fds[i], value + 50000, 50000);
            char tail[64];
            snprintf(tail, sizeof tail, "\r\nmg big%d s\r\nmn\r\n", i);
            h_send_str(fds[i], tail);
        }
        for (int i = 0; i < 4; i++) {
            bool closed = false;
            size_t n = h_recv_until(fds[i], replies[p][i], 200, "MN\r\n", 0, 10000, &closed);
            if (closed) snprintf(replies[p][i] + n, 16, "<closed>");
            close(fds[i]);
        }
    }
    for (int i = 0; i < 4; i++) compare("read_buf_mem_limit: a 100,000-byte set", replies[0][i], replies[1][i]);

    /* shmcd alone: a value arrives in the connection's buffer (memcached reads it into item
     * memory), so with one connection holding a 16 KiB buffer (a set waiting for its data),
     * four connections each part way into a 200,000-byte value need 16 KiB + 4 x 256 KiB:
     * the fourth passes the cap and gets memcached's answer to a buffer that cannot grow */
    int fds[4];
    static char reply[256];
    int holder = h_connect_tcp(s.port);
    h_roundtrip(holder, "mn\r\nset hold 0 0 1\r\n", 20, "MN\r\n", reply, sizeof reply);
    for (int i = 0; i < 4; i++) {
        fds[i] = h_connect_tcp(s.port);
        char line[64];
        int n = snprintf(line, sizeof line, "set grow%d 0 0 200000\r\n", i);
        h_send_all(fds[i], line, (size_t)n);
        h_send_all(fds[i], value, 50000);
        if (i < 3) { /* its buffer has grown once a later request is answered */
            int probe = h_connect_tcp(s.port);
            h_roundtrip(probe, "mn\r\n", 4, "MN\r\n", reply, sizeof reply);
            close(probe);
        }
    }
    bool closed = false;
    size_t n = h_recv_until(fds[3], reply, 200, NULL, 199, 10000, &closed);
    if (closed) snprintf(reply + n, 16, "<closed>");
    CHECK_STR(reply, "SERVER_ERROR out of memory reading request\r\n<closed>");
    for (int i = 0; i < 3; i++) {
        h_send_all(fds[i], value, 150000);
        h_roundtrip(fds[i], "\r\n", 2, "\r\n", reply, sizeof reply);
        CHECK_STR(reply, "STORED\r\n");
    }
    for (int i = 0; i < 4; i++) close(fds[i]);
    h_roundtrip(holder, "x\r\n", 3, "\r\n", reply, sizeof reply);
    CHECK_STR(reply, "STORED\r\n");
    close(holder);
    h_stop(&s);
    reference_down();
    return true;
}

/* The "STAT name value" lines of a "stats settings" reply from port, shmc's own (shmc_*)
 * left out, masked values replaced by "*", joined with '|'. */
static void settings_lines(int port, char *joined, size_t cap)
{
    /* values that cannot be equal: each server's port, and where the harness's cache file
     * (its own -m and -I) and shmc's index (sized from the memory, not grown) decide */
    static const char *const masked[] = {"tcpport", "maxbytes", "item_size_max",
                                         "hashpower_init"};
    static char reply[REPLY_MAX];
    int fd = h_connect_tcp(port);
    joined[0] = 0;
    if (fd < 0) return;
    h_roundtrip(fd, "stats settings\r\n", 16, "END\r\n", reply, sizeof reply);
    close(fd);
    size_t used = 0;
    for (char *line = strtok(reply, "\r\n"); line; line = strtok(NULL, "\r\n")) {
        char name[64], value[256] = "";
        if (sscanf(line, "STAT %63s %255[^\r\n]", name, value) < 1 || !strncmp(name, "shmc_", 5))
            continue;
        for (size_t i = 0; i < sizeof masked / sizeof masked[0]; i++)
            if (!strcmp(name, masked[i])) snprintf(value, sizeof value, "*");
        int w = snprintf(joined + used, cap - used, "%s %s|", name, value);
        if (w < 0 || (size_t)w >= cap - used) break;
        used += (size_t)w;
    }
}

/* "stats settings": memcached's names in memcached's order, and its values, with flags that
 * change many lines. */
static bool test_settings_order(void)
{
    shmcd_proc s;
    bool ref;
    if (!both_up(&s, (const char *const[]){"-t", "2", "-c", "500", "-R", "7", "-b", "100",
                                           "-o", "idle_timeout=9,read_buf_mem_limit=3", "-C",
                                           "-F", "-X", "-A", "-D", "/", "-f", "1.5", "-n", "64",
                                           "-B", "ascii", NULL},
                 &ref))
        return ref;
    static char mc[REPLY_MAX], sh[REPLY_MAX];
    settings_lines(mc_port, mc, sizeof mc);
    settings_lines(s.port, sh, sizeof sh);
    CHECK(strlen(mc) > 1000);
    compare("stats settings, names in order and values", mc, sh);
    h_stop(&s);
    reference_down();
    return true;
}

/* -D and "stats detail": memcached's prefix statistics, its lines in its order. */
static bool test_stats_detail(void)
{
    shmcd_proc s;
    bool ref;
    if (!both_up(&s, (const char *const[]){"-D", "/", NULL}, &ref)) return ref;
    compare_setting(&s, "stat_key_prefix");
    compare_setting(&s, "detail_enabled");
    run_case(&s, "set a/1 0 0 1\r\nx\r\nset user/7 0 0 1\r\nx\r\nset zz/3 0 0 1\r\nx\r\n"
                 "get a/1 a/2 user/7 zz/3 zz/4 plain\r\ngets user/7\r\ngat 0 zz/3\r\n"
                 "add a/1 0 0 1\r\ny\r\nappend b/1 0 0 1\r\ny\r\ndelete a/1\r\n"
                 "delete q/1\r\nmg user/7 v\r\nms m/1 1\r\nz\r\nincr user/7 1\r\n"
                 "stats detail dump\r\nstats detail off\r\nget a/1\r\nstats detail dump\r\n"
                 "stats detail on\r\nget a/1\r\nstats detail dump\r\nstats detail\r\n"
                 "stats detail x\r\n");
    compare_setting(&s, "detail_enabled");
    h_stop(&s);
    reference_down();
    return true;
}

int main(void)
{
    t_setup("flags_diff");
    if (!test_no_flush_no_cas()) {
        t_finish();
        return 77;
    }
    test_shutdown_refused();
    test_shutdown("shutdown\r\n");
    test_shutdown("shutdown graceful\r\n");
    test_reqs_per_event();
    test_yields_as_memcached();
    test_no_evictions();
    test_idle_timeout();
    test_stats_detail();
    test_read_buf_mem_limit();
    test_settings_order();
    return t_finish();
}
