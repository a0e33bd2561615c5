/* test_server_limits.c — shmcd against slow, greedy and hostile clients: a line without
 * end, a 2 GB length, four million keys in one get, a half-sent value and a disconnect, a
 * client that never reads its replies, more connections than -c allows; plus large values,
 * deep pipelines and concurrent clients.  Each must get an error or be disconnected, never
 * block the other clients, and never grow the server's private memory (RssAnon in
 * /proc/<pid>/status) beyond a bound. */
#include <pthread.h>
#include <stdint.h>

#include "harness.h"

static shmcd_proc srv;

/* The server's private (anonymous) resident memory in KiB. */
static long rss_anon_kib(pid_t pid)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    long kib = -1;
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "RssAnon: %ld kB", &kib) == 1) break;
    if (f) fclose(f);
    return kib;
}

/* Sanitizer builds keep shadow memory for what the server touches: allow for it. */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define RSS_SLACK_KIB (48 * 1024)
#else
#define RSS_SLACK_KIB 0
#endif

/* The server's private memory grew by less than limit_kib during `what`. */
static void check_growth(long before, long after, long limit_kib, const char *what)
{
    bool ok = before > 0 && after > 0 && after - before < limit_kib + RSS_SLACK_KIB;
    CHECK(ok);
    if (!ok) fprintf(stderr, "  %s: RssAnon %ld -> %ld KiB\n", what, before, after);
}

/* The server answers a fresh client. */
static bool server_answers(void)
{
    int fd = h_connect(&srv);
    if (fd < 0) return false;
    char buf[128];
    h_roundtrip(fd, "version\r\n", 9, "\r\n", buf, sizeof buf);
    close(fd);
    return strncmp(buf, "VERSION ", 8) == 0;
}

static void test_line_without_end(void)
{
    int fd = h_connect(&srv);
    char line[3000];
    memset(line, 'k', sizeof line);
    memcpy(line, "set ", 4);
    CHECK(h_send_all(fd, line, sizeof line));
    char buf[256];
    bool closed = false;
    h_recv_until(fd, buf, sizeof buf, NULL, 1u << 20, 5000, &closed);
    CHECK(buf[0] == 0 && closed); /* as memcached: closed without a reply */
    close(fd);
    CHECK(server_answers());
}

static void test_huge_length(void)
{
    long before = rss_anon_kib(srv.pid);
    int fd = h_connect(&srv);
    CHECK(h_send_str(fd, "set huge 0 0 33554432\r\n"));
    /* the server discards the block as it comes: 32 MB of it costs it nothing; as memcached,
     * it answers once the whole block is read */
    char *chunk = malloc(1 << 20);
    memset(chunk, 'x', 1 << 20);
    bool sent = true;
    for (int i = 0; i < 32 && sent; i++) sent = h_send_all(fd, chunk, 1 << 20);
    CHECK(sent && h_send_str(fd, "\r\n"));
    free(chunk);
    char buf[256];
    h_recv_until(fd, buf, sizeof buf, "\r\n", 0, 20000, NULL);
    CHECK(strcmp(buf, "SERVER_ERROR object too large for cache\r\n") == 0);
    CHECK(server_answers());
    close(fd);
    check_growth(before, rss_anon_kib(srv.pid), 16 * 1024, "32 MB swallowed");
    /* a length past what memcached accepts is a format error */
    fd = h_connect(&srv);
    h_roundtrip(fd, "set huge 0 0 4294967296\r\n", 25, "\r\n", buf, sizeof buf);
    CHECK(strcmp(buf, "CLIENT_ERROR bad command line format\r\n") == 0);
    close(fd);
}

static void test_millions_of_keys(void)
{
    long before = rss_anon_kib(srv.pid);
    int fd = h_connect(&srv);
    char buf[256];
    h_roundtrip(fd, "set k999999 3 0 2\r\nhi\r\n", 23, "\r\n", buf, sizeof buf);
    CHECK(strcmp(buf, "STORED\r\n") == 0);
    size_t cap = 40000000;
    char *line = malloc(cap);
    size_t n = (size_t)snprintf(line, cap, "get");
    for (int i = 0; i < 4000000; i++) n += (size_t)snprintf(line + n, cap - n, " k%d", i);
    memcpy(line + n, "\r\n", 2);
    n += 2;
    CHECK(h_send_all(fd, line, n));
    h_recv_until(fd, buf, sizeof buf, "END\r\n", 0, 30000, NULL);
    CHECK(strcmp(buf, "VALUE k999999 3 2\r\nhi\r\nEND\r\n") == 0);
    /* a key over 250 bytes in the stream refuses the rest of the line, then serving goes on */
    n = (size_t)snprintf(line, cap, "get");
    for (int i = 0; i < 1000; i++) n += (size_t)snprintf(line + n, cap - n, " k%d", i);
    line[n++] = ' ';
    memset(line + n, 'z', 300);
    n += 300;
    for (int i = 0; i < 1000; i++) n += (size_t)snprintf(line + n, cap - n, " k%d", i);
    n += (size_t)snprintf(line + n, cap - n, "\r\nget k999999\r\n");
    CHECK(h_send_all(fd, line, n));
    h_recv_until(fd, buf, sizeof buf, "END\r\n", 0, 10000, NULL);
    CHECK(strcmp(buf, "CLIENT_ERROR bad command line format\r\nVALUE k999999 3 2\r\nhi\r\nEND\r\n") == 0);
    free(line);
    close(fd);
    check_growth(before, rss_anon_kib(srv.pid), 16 * 1024, "a 40 MB multi-get line");
}

static void test_half_sent_value(void)
{
    int fd = h_connect(&srv);
    char part[600];
    int h = snprintf(part, sizeof part, "set half 0 0 1000\r\n");
    memset(part + h, 'h', 500);
    CHECK(h_send_all(fd, part, (size_t)h + 500));
    close(fd); /* gone mid-value */
    fd = h_connect(&srv);
    char buf[128];
    h_roundtrip(fd, "get half\r\n", 10, "END\r\n", buf, sizeof buf);
    CHECK(strcmp(buf, "END\r\n") == 0);
    close(fd);
}

static void test_never_reading_client(void)
{
    /* a 60 KiB value fetched 4000 times (240 MB of replies) by a client that never reads */
    int fd = h_connect(&srv);
    char *value = malloc(61440 + 64);
    int h = snprintf(value, 64, "set big 0 0 61440\r\n");
    memset(value + h, 'b', 61440);
    memcpy(value + h + 61440, "\r\n", 2);
    char buf[256];
    h_roundtrip(fd, value, (size_t)h + 61442, "\r\n", buf, sizeof buf);
    CHECK(strcmp(buf, "STORED\r\n") == 0);
    free(value);
    long before = rss_anon_kib(srv.pid);
    int greedy = h_connect(&srv);
    fcntl(greedy, F_SETFL, fcntl(greedy, F_GETFL) | O_NONBLOCK);
    size_t sent_total = 0;
    for (int i = 0; i < 4000; i++) {
        ssize_t w = send(greedy, "get big\r\n", 9, MSG_NOSIGNAL);
        if (w != 9) break; /* the server stopped reading: the socket is full */
        sent_total += 9;
    }
    CHECK(sent_total > 0);
    /* others are still served, and the server did not buffer the replies */
    CHECK(server_answers());
    h_roundtrip(fd, "get nope\r\n", 10, "END\r\n", buf, sizeof buf);
    CHECK(strcmp(buf, "END\r\n") == 0);
    check_growth(before, rss_anon_kib(srv.pid), 16 * 1024, "240 MB of replies never read");
    close(greedy);
    close(fd);
    CHECK(server_answers());
}

static void test_large_values_and_pipeline(void)
{
    int fd = h_connect(&srv);
    /* the largest value memcached takes under its default -I 1m: the item's 48-byte header,
     * key + NUL, flags, value + CRLF and cas count */
    size_t vlen = (1 << 20) - (48 + 8 + 4 + 2 + 8);
    char *req = malloc(vlen + 64);
    int h = snprintf(req, 64, "set one_mib 1 0 %zu\r\n", vlen);
    for (size_t i = 0; i < vlen; i++) req[h + i] = (char)('a' + i % 26);
    memcpy(req + h + vlen, "\r\n", 2);
    char buf[256];
    h_roundtrip(fd, req, (size_t)h + vlen + 2, "\r\n", buf, sizeof buf);
    CHECK(strcmp(buf, "STORED\r\n") == 0);
    char *reply = malloc(vlen + 256);
    size_t n = h_roundtrip(fd, "get one_mib\r\n", 13, "END\r\n", reply, vlen + 256);
    int hh = snprintf(buf, sizeof buf, "VALUE one_mib 1 %zu\r\n", vlen);
    CHECK(n == (size_t)hh + vlen + 7 && memcmp(reply, buf, (size_t)hh) == 0 &&
          memcmp(reply + hh, req + h, vlen) == 0);
    free(reply);
    free(req);

    /* 20000 requests in one write; every reply in order */
    size_t cap = 20000 * 40;
    char *pipe_req = malloc(cap), *want = malloc(cap);
    size_t nr = 0, nw = 0;
    for (int i = 0; i < 10000; i++) {
        nr += (size_t)snprintf(pipe_req + nr, cap - nr, "set p%d 0 0 %d\r\n%d\r\nget p%d\r\n", i,
                               i < 10 ? 1 : i < 100 ? 2 : i < 1000 ? 3 : 4, i, i);
        nw += (size_t)snprintf(want + nw, cap - nw, "STORED\r\nVALUE p%d 0 %d\r\n%d\r\nEND\r\n", i,
                               i < 10 ? 1 : i < 100 ? 2 : i < 1000 ? 3 : 4, i);
    }
    char *got = malloc(nw + 1024);
    CHECK(h_send_all(fd, pipe_req, nr));
    size_t ng = h_recv_until(fd, got, nw + 1024, NULL, nw, 10000, NULL);
    CHECK(ng == nw && memcmp(got, want, nw) == 0);
    free(pipe_req);
    free(want);
    free(got);
    close(fd);
}

static void test_max_connections(void)
{
    const char *extra[] = {"-c", "4", "-t", "1", NULL};
    shmcd_proc small;
    if (!h_start_argv(&small, t_path("cache_c"), true, NULL, extra)) {
        t_failed++;
        return;
    }
    int fds[4];
    char buf[8192];
    /* wait until the server has counted the harness's probe connection out */
    fds[0] = h_connect(&small);
    for (int i = 0; i < 500; i++) {
        h_roundtrip(fds[0], "stats\r\n", 7, "END\r\n", buf, sizeof buf);
        if (strstr(buf, "STAT curr_connections 1\r\n")) break;
        h_sleep_ms(10);
    }
    bool all = true;
    for (int i = 1; i < 4; i++) {
        fds[i] = h_connect(&small);
        h_roundtrip(fds[i], "version\r\n", 9, "\r\n", buf, sizeof buf);
        all = all && strncmp(buf, "VERSION", 7) == 0;
    }
    CHECK(all);
    int extra_fd = h_connect(&small);
    bool closed = false;
    h_recv_until(extra_fd, buf, sizeof buf, NULL, 1u << 20, 5000, &closed);
    CHECK(strcmp(buf, "ERROR Too many open connections\r\n") == 0 && closed);
    close(extra_fd);
    char stats[8192];
    h_roundtrip(fds[0], "stats\r\n", 7, "END\r\n", stats, sizeof stats);
    CHECK(strstr(stats, "STAT curr_connections 4\r\n") && strstr(stats, "STAT max_connections 4\r\n") &&
          strstr(stats, "STAT rejected_connections 1\r\n"));
    close(fds[3]);
    /* a place is free again once the server has seen the close */
    bool served = false;
    for (int i = 0; i < 200 && !served; i++) {
        int fd = h_connect(&small);
        h_roundtrip(fd, "version\r\n", 9, "\r\n", buf, sizeof buf);
        served = strncmp(buf, "VERSION", 7) == 0;
        close(fd);
        if (!served) h_sleep_ms(10);
    }
    CHECK(served);
    for (int i = 0; i < 3; i++) close(fds[i]);
    h_stop(&small); /* with connections open: still a clean exit */
}

typedef struct client_arg {
    int id;
    int ok;
} client_arg;

static void *client_thread(void *p)
{
    client_arg *a = p;
    int fd = h_connect(&srv);
    char req[128], buf[256], want[128];
    for (int i = 0; i < 1000; i++) {
        int n = snprintf(req, sizeof req, "set c%d_%d %d 0 6\r\nv%05d\r\n", a->id, i, i, i);
        h_roundtrip(fd, req, (size_t)n, "\r\n", buf, sizeof buf);
        if (strcmp(buf, "STORED\r\n") != 0) continue;
        n = snprintf(req, sizeof req, "get c%d_%d\r\n", a->id, i);
        h_roundtrip(fd, req, (size_t)n, "END\r\n", buf, sizeof buf);
        snprintf(want, sizeof want, "VALUE c%d_%d %d 6\r\nv%05d\r\nEND\r\n", a->id, i, i, i);
        if (strcmp(buf, want) == 0) a->ok++;
    }
    close(fd);
    return NULL;
}

static void test_concurrent_clients(void)
{
    pthread_t th[8];
    client_arg args[8];
    for (int i = 0; i < 8; i++) {
        args[i] = (client_arg){.id = i};
        pthread_create(&th[i], NULL, client_thread, &args[i]);
    }
    int ok = 0;
    for (int i = 0; i < 8; i++) {
        pthread_join(th[i], NULL);
        ok += args[i].ok;
    }
    CHECK(ok == 8000);
}

int main(void)
{
    t_setup("server_limits");
    const char *extra[] = {"-m", "64", "-t", "2", NULL};
    if (!h_start_argv(&srv, t_path("cache"), true, NULL, extra)) {
        t_failed++;
        return t_finish();
    }
    test_line_without_end();
    test_huge_length();
    test_millions_of_keys();
    test_half_sent_value();
    test_never_reading_client();
    test_large_values_and_pipeline();
    test_concurrent_clients();
    h_stop(&srv);
    test_max_connections();
    t_check_file(t_path("cache"));
    t_check_file(t_path("cache_c"));
    return t_finish();
}
