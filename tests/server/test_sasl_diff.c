/* test_sasl_diff.c — SASL over the binary protocol (-S) against the real memcached 1.6.18,
 * byte for byte: a sasldb made with saslpasswd2 (Debian's sasl2-bin) in the test's
 * directory, named by memcached.conf there ($SASL_CONF_PATH, as memcached reads it), one
 * user; the same PLAIN exchanges sent to memcached -S and shmcd -S: mechanisms listed,
 * commands before authentication (AUTH_ERROR, then the connection is closed), a good and a
 * bad password, SASL_STEP with no SASL_AUTH before it, an unknown mechanism.  A connection
 * that failed to authenticate sees no item and cannot change one.  Then the same with the
 * password checked against $MEMCACHED_SASL_PWDB, on shmcd alone (Debian builds memcached
 * without that option).  Skipped (77), saying why, without memcached 1.6.18 or saslpasswd2. */
#include <stdint.h>

#include "binary_packet.h"
#include "harness.h"

enum { GET = 0x00, SET = 0x01, DELETE = 0x04, NOOP = 0x0a, VERSION = 0x0b, LIST = 0x20,
       AUTH = 0x21, STEP = 0x22 };

static void set(buf *b, const char *key, const char *val, uint32_t opaque)
{
    unsigned char ext[8] = {0};
    req(b, SET, ext, 8, key, val, strlen(val), 0, opaque);
}

static void plain(buf *b, uint8_t op, const char *mech, const char *user, const char *pass,
                  uint32_t opaque)
{
    char v[128];
    size_t nu = strlen(user), np = strlen(pass);
    v[0] = 0;
    memcpy(v + 1, user, nu);
    v[1 + nu] = 0;
    memcpy(v + 2 + nu, pass, np);
    req(b, op, NULL, 0, mech, v, 2 + nu + np, 0, opaque);
}

/* ---- a server that speaks only the binary protocol ---- */

static bool binary_version(int port, char *out, size_t cap)
{
    int fd = h_connect_tcp(port);
    if (fd < 0) return false;
    buf b = {0};
    req(&b, VERSION, NULL, 0, NULL, NULL, 0, 0, 1);
    h_send_all(fd, b.p, b.n);
    free(b.p);
    unsigned char r[128];
    size_t n = 0;
    while (n < sizeof r) {
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        if (poll(&pfd, 1, 1000) <= 0) break;
        ssize_t k = recv(fd, r + n, sizeof r - n, 0);
        if (k <= 0) break;
        n += (size_t)k;
        if (n >= 24 && n >= 24 + (size_t)(r[8] << 24 | r[9] << 16 | r[10] << 8 | r[11])) break;
    }
    close(fd);
    if (n < 24 || r[0] != 0x81) return false;
    size_t body = n - 24 < cap - 1 ? n - 24 : cap - 1;
    memcpy(out, r + 24, body);
    out[body] = 0;
    return true;
}

typedef struct server {
    pid_t pid;
    int port;
} server;

/* Start argv (the port is appended as "-p N") on a free port; `mark` must be in VERSION. */
static bool start(server *s, const char *const *argv, const char *mark)
{
    static int attempt; /* across calls: each server its own port */
    for (int tries = 0; tries < 40; tries++, attempt++) {
        int port = 21000 + (int)((getpid() + 700 + attempt * 43) % 1000);
        char portarg[16];
        snprintf(portarg, sizeof portarg, "%d", port);
        const char *args[32];
        size_t n = 0;
        while (argv[n] && n < 28) {
            args[n] = argv[n];
            n++;
        }
        args[n++] = "-p";
        args[n++] = portarg;
        args[n] = NULL;
        pid_t pid = fork();
        if (pid == 0) {
            int devnull = open("/dev/null", O_WRONLY);
            if (devnull >= 0) dup2(devnull, 2);
            execv(args[0], (char *const *)args);
            _exit(127);
        }
        for (int wait = 0; wait < 300; wait++) {
            if (waitpid(pid, NULL, WNOHANG) == pid) {
                pid = 0;
                break;
            }
            char v[128];
            if (binary_version(port, v, sizeof v) && waitpid(pid, NULL, WNOHANG) == 0) {
                if (!strstr(v, mark)) {
                    printf("skipped: %s answers VERSION %s, not %s\n", argv[0], v, mark);
                    kill(pid, SIGKILL);
                    waitpid(pid, NULL, 0);
                    return false;
                }
                s->pid = pid;
                s->port = port;
                attempt++;
                return true;
            }
            h_sleep_ms(10);
        }
        if (pid) {
            kill(pid, SIGKILL);
            waitpid(pid, NULL, 0);
        }
    }
    return false;
}

static bool stop(server *s)
{
    kill(s->pid, SIGTERM);
    int status = 0;
    waitpid(s->pid, &status, 0);
    return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

/* ---- exchanges ---- */

/* Send b then a NOOP; the replies until the NOOP's, or until the server closes
 * ("<closed>" appended). */
static void exchange(int port, const buf *b, buf *got)
{
    got->n = 0;
    int fd = h_connect_tcp(port);
    if (fd < 0) return;
    buf all = {0};
    put(&all, b->p, b->n);
    req(&all, NOOP, NULL, 0, NULL, NULL, 0, 0, BIN_END_OPAQUE);
    h_send_all(fd, all.p, all.n);
    free(all.p);
    read_until_end(fd, got, true);
    close(fd);
}

/* cas values compared as zero or not; VERSION's text is each server's own */
static void mask(buf *g)
{
    size_t off = 0;
    while (off + 24 <= g->n && g->p[off] == 0x81) {
        unsigned char *h = g->p + off;
        uint32_t body = bin_body(h);
        if (off + 24 + body > g->n) break;
        bool nonzero = false;
        for (int i = 16; i < 24; i++) nonzero |= h[i] != 0;
        memset(h + 16, 0, 8);
        h[23] = nonzero;
        if (h[1] == VERSION && h[7] == 0) memset(h + 24, 'V', body), memset(h + 8, 0, 4);
        off += 24 + body;
        if (h[1] == VERSION && h[7] == 0) { /* drop the text: its length differs */
            memmove(h + 24, h + 24 + body, g->n - off);
            g->n -= body;
            off -= body;
        }
    }
}

static void dump(const char *who, const buf *g)
{
    fprintf(stderr, "  %s:", who);
    size_t off = 0;
    while (off + 24 <= g->n && g->p[off] == 0x81) {
        const unsigned char *h = g->p + off;
        uint32_t body = bin_body(h);
        fprintf(stderr, "\n    op %02x status %02x%02x body %u [%.*s]", h[1], h[6], h[7], body,
                (int)(body < 40 ? body : 40), (const char *)h + 24);
        off += 24 + body;
    }
    if (off < g->n) fprintf(stderr, "\n    tail %.*s", (int)(g->n - off), (const char *)g->p + off);
    fputc('\n', stderr);
}

typedef void build_fn(buf *b);

static void c_list(buf *b) { req(b, LIST, NULL, 0, NULL, NULL, 0, 0, 1); }
static void c_get_before(buf *b) { req(b, GET, NULL, 0, "item", NULL, 0, 0, 2); }
static void c_set_before(buf *b)
{
    req(b, VERSION, NULL, 0, NULL, NULL, 0, 0, 3);
    set(b, "item", "changed", 4);
}
static void c_delete_before(buf *b) { req(b, DELETE, NULL, 0, "item", NULL, 0, 0, 5); }
static void c_good(buf *b)
{
    plain(b, AUTH, "PLAIN", "alice", "secret", 6);
    req(b, GET, NULL, 0, "item", NULL, 0, 0, 7);
    set(b, "other", "x", 8);
    req(b, GET, NULL, 0, "other", NULL, 0, 0, 9);
}
static void c_bad(buf *b)
{
    plain(b, AUTH, "PLAIN", "alice", "wrong", 10);
    req(b, GET, NULL, 0, "item", NULL, 0, 0, 11);
}
static void c_bad_then_set(buf *b)
{
    plain(b, AUTH, "PLAIN", "alice", "wrong", 12);
    set(b, "item", "changed", 13);
}
static void c_unknown_user(buf *b) { plain(b, AUTH, "PLAIN", "mallory", "secret", 14); }
static void c_bad_then_good(buf *b)
{
    plain(b, AUTH, "PLAIN", "alice", "wrong", 15);
    plain(b, AUTH, "PLAIN", "alice", "secret", 16);
    req(b, GET, NULL, 0, "item", NULL, 0, 0, 17);
}
static void c_step_first(buf *b) { plain(b, STEP, "PLAIN", "alice", "secret", 18); }
static void c_bad_mech(buf *b) { plain(b, AUTH, "BOGUS", "alice", "secret", 19); }

static const struct scase {
    const char *name;
    build_fn *build;
} cases[] = {
    {"list mechanisms", c_list},
    {"get before auth", c_get_before},
    {"version, then set before auth", c_set_before},
    {"delete before auth", c_delete_before},
    {"good password", c_good},
    {"bad password, then get", c_bad},
    {"bad password, then set", c_bad_then_set},
    {"unknown user", c_unknown_user},
    {"bad, then good password", c_bad_then_good},
    {"step before auth", c_step_first},
    {"unknown mechanism", c_bad_mech},
};

/* The item stored first is there, unchanged, after every exchange above. */
static void seed(int port)
{
    buf b = {0}, got = {0};
    plain(&b, AUTH, "PLAIN", "alice", "secret", 1);
    set(&b, "item", "original", 2);
    exchange(port, &b, &got);
    free(b.p);
    free(got.p);
}

static bool item_intact(int port)
{
    buf b = {0}, got = {0};
    plain(&b, AUTH, "PLAIN", "alice", "secret", 1);
    req(&b, GET, NULL, 0, "item", NULL, 0, 0, 2);
    exchange(port, &b, &got);
    /* Authenticated, then the value: 24 + 13, 24 + 4 + 8, then the NOOP */
    bool ok = got.n == 37 + 36 + 24 && got.p[37 + 7] == 0 &&
              memcmp(got.p + 37 + 28, "original", 8) == 0;
    free(b.p);
    free(got.p);
    return ok;
}

/* A "stats" value, read on an authenticated connection (0 when absent). */
static unsigned long long stat_value(int port, const char *name)
{
    buf b = {0}, got = {0};
    plain(&b, AUTH, "PLAIN", "alice", "secret", 1);
    req(&b, 0x10, NULL, 0, NULL, NULL, 0, 0, 2);
    exchange(port, &b, &got);
    unsigned long long v = 0;
    size_t off = 0;
    while (off + 24 <= got.n && got.p[off] == 0x81) {
        const unsigned char *h = got.p + off;
        uint32_t body = bin_body(h);
        size_t klen = (size_t)(h[2] << 8 | h[3]);
        if (off + 24 + body > got.n) break;
        if (h[1] == 0x10 && klen == strlen(name) && memcmp(h + 24, name, klen) == 0) {
            char text[32] = {0};
            memcpy(text, h + 24 + klen, body - klen < 31 ? body - klen : 31);
            v = strtoull(text, NULL, 10);
        }
        off += 24 + body;
    }
    free(b.p);
    free(got.p);
    return v;
}

static bool run_pair(int mc_port, int sh_port)
{
    bool all = true;
    seed(mc_port);
    seed(sh_port);
    buf want = {0}, got = {0};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        buf b = {0};
        cases[i].build(&b);
        exchange(mc_port, &b, &want);
        exchange(sh_port, &b, &got);
        free(b.p);
        mask(&want);
        mask(&got);
        bool ok = want.n > 0 && want.n == got.n && memcmp(want.p, got.p, got.n) == 0;
        CHECK(ok);
        all &= ok;
        if (!ok || getenv("SHOWDIFF")) {
            fprintf(stderr, "case %s:\n", cases[i].name);
            dump("memcached", &want);
            dump("shmcd", &got);
        }
    }
    free(want.p);
    free(got.p);
    CHECK(item_intact(mc_port));
    CHECK(item_intact(sh_port));
    /* the same exchanges count the same: auth_cmds, auth_errors */
    static const char *const counters[] = {"auth_cmds", "auth_errors"};
    for (size_t i = 0; i < 2; i++) {
        unsigned long long w = stat_value(mc_port, counters[i]), g = stat_value(sh_port, counters[i]);
        if (w != g || w == 0) fprintf(stderr, "FAIL: %s: memcached %llu, shmcd %llu\n", counters[i], w, g);
        CHECK(w == g && w > 0);
    }
    return all;
}

int main(void)
{
    t_setup("sasl_diff");
    const char *mc = getenv("MEMCACHED");
    if (!mc) mc = "/usr/bin/memcached";
    const char *saslpasswd2 = access("/usr/sbin/saslpasswd2", X_OK) == 0 ? "/usr/sbin/saslpasswd2"
                                                                         : "saslpasswd2";
    if (access(mc, X_OK) != 0) {
        printf("skipped: %s not found (Debian's memcached package is the reference)\n", mc);
        t_finish();
        return 77;
    }
    /* the sasldb and memcached.conf; readable by the reference, which runs as nobody */
    char dir[320];
    snprintf(dir, sizeof dir, "%s", t_path(""));
    chmod(dir, 0755);
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "printf secret | %s -p -f %ssasldb2 -a memcached -c alice 2>&1",
             saslpasswd2, dir);
    if (system(cmd) != 0) {
        printf("skipped: %s could not make a sasldb (Debian's sasl2-bin)\n", saslpasswd2);
        t_finish();
        return 77;
    }
    snprintf(cmd, sizeof cmd, "%ssasldb2", dir);
    chmod(cmd, 0644);
    snprintf(cmd, sizeof cmd, "%smemcached.conf", dir);
    FILE *f = fopen(cmd, "w");
    if (f) {
        fprintf(f, "mech_list: plain\nsasldb_path: %ssasldb2\n", dir);
        fclose(f);
    }
    chmod(cmd, 0644);
    setenv("SASL_CONF_PATH", dir, 1);
    unsetenv("MEMCACHED_SASL_PWDB");

    server m, s;
    const char *mc_argv[] = {mc, "-U", "0", "-l", "127.0.0.1", "-m", "16", "-S",
                             geteuid() == 0 ? "-u" : NULL, "nobody", NULL};
    if (!start(&m, mc_argv, "1.6.18")) {
        printf("skipped: could not start %s -S (1.6.18)\n", mc);
        t_finish();
        return 77;
    }
    char cache[512];
    snprintf(cache, sizeof cache, "--cache=%s", t_path("cache"));
    const char *sh_argv[] = {SHMCD_PATH, "-l", "127.0.0.1", "-m", "16", "-t", "2", "-S", cache,
                             NULL};
    if (!start(&s, sh_argv, "shmc")) {
        fprintf(stderr, "FAIL: could not start shmcd -S\n");
        t_failed++;
    } else {
        run_pair(m.port, s.port);
        CHECK(stop(&s));
    }
    stop(&m);

    /* $MEMCACHED_SASL_PWDB: "user:password" lines replace the sasldb (shmcd alone) */
    snprintf(cmd, sizeof cmd, "%spwdb", dir);
    f = fopen(cmd, "w");
    if (f) {
        fprintf(f, "bob:pw1:extra\ncarol:pw2\n");
        fclose(f);
    }
    setenv("MEMCACHED_SASL_PWDB", cmd, 1);
    if (!start(&s, sh_argv, "shmc")) {
        fprintf(stderr, "FAIL: could not start shmcd -S with MEMCACHED_SASL_PWDB\n");
        t_failed++;
    } else {
        static const struct { const char *user, *pass; bool ok; } tries[] = {
            {"bob", "pw1", true}, {"carol", "pw2", true}, {"bob", "pw", false},
            {"bob", "pw1:extra", true}, /* memcached's rule: a ':' may end the password */
            {"dave", "pw1", false}, {"carol", "", false},
        };
        for (size_t i = 0; i < sizeof tries / sizeof tries[0]; i++) {
            buf b = {0}, got = {0};
            plain(&b, AUTH, "PLAIN", tries[i].user, tries[i].pass, 1);
            exchange(s.port, &b, &got);
            bool ok = got.n >= 24 && got.p[7] == (tries[i].ok ? 0x00 : 0x20);
            if (!ok) fprintf(stderr, "FAIL: pwdb %s:%s\n", tries[i].user, tries[i].pass);
            CHECK(ok);
            free(b.p);
            free(got.p);
        }
        CHECK(stop(&s));
    }
    unsetenv("MEMCACHED_SASL_PWDB");
    t_check_file(t_path("cache"));
    return t_finish();
}
