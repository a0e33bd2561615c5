/* test_stats_diff.c — shmcd's "stats" reads as memcached 1.6.18's: every line shmcd prints is
 * one memcached prints or one of shmc's own (shmc_*), the lines both print come in
 * memcached's order, so a tool that reads the reply line by line sees the same sequence, and
 * no name memcached prints is missing; flush_all lowers curr_items and bytes at once on both.
 * "stats settings" holds every name memcached's does
 * (in any order: its lines come from shmcd's flag table).  Missing names are listed. */
#include "memcached_ref.h"

#define MAX_NAMES 256

/* The names of a "stats" reply from the server on fd, in order; their number. */
static size_t stat_names(int fd, const char *req, char names[][64], size_t cap)
{
    static char reply[65536];
    size_t n = h_roundtrip(fd, req, strlen(req), "END\r\n", reply, sizeof reply - 1);
    reply[n] = 0;
    size_t k = 0;
    for (char *line = strtok(reply, "\r\n"); line && k < cap; line = strtok(NULL, "\r\n")) {
        char name[64];
        if (sscanf(line, "STAT %63s", name) == 1) snprintf(names[k++], 64, "%s", name);
    }
    return k;
}

/* The value of line `name` in a stats reply, or -1. */
static long long value_of(const char *reply, const char *name)
{
    char pat[96];
    snprintf(pat, sizeof pat, "STAT %s ", name);
    const char *at = strstr(reply, pat);
    return at ? atoll(at + strlen(pat)) : -1;
}

/* "stats items" and "stats slabs" after the same two items on both servers: the same lines
 * (classes 1 and 7, memcached's names) and the same counts, sizes and chunks. */
static void compare_classes(int mcfd, int shfd)
{
    static const char set[] = "set a 0 0 1\r\nx\r\nset b 0 100 300\r\n"
        "yyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyy"
        "yyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyy"
        "yyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyy"
        "yyyyyyyyyyyy\r\nmn\r\n";
    static char mc[16384], sh[16384];
    static const char *const reqs[] = {"stats items\r\n", "stats slabs\r\n"};
    char buf[256];
    h_roundtrip(mcfd, set, strlen(set), "MN\r\n", buf, sizeof buf);
    h_roundtrip(shfd, set, strlen(set), "MN\r\n", buf, sizeof buf);
    /* memcached's per-class numbers can lag a store on a loaded machine: wait for them */
    for (int i = 0; i < 100; i++) {
        h_roundtrip(mcfd, reqs[0], strlen(reqs[0]), "END\r\n", mc, sizeof mc);
        if (strstr(mc, "items:1:number 1\r\n") && strstr(mc, "items:7:number 1\r\n")) break;
        h_sleep_ms(100);
    }
    for (int r = 0; r < 2; r++) {
        h_roundtrip(mcfd, reqs[r], strlen(reqs[r]), "END\r\n", mc, sizeof mc);
        h_roundtrip(shfd, reqs[r], strlen(reqs[r]), "END\r\n", sh, sizeof sh);
        /* every line name memcached prints, shmcd prints, in the same order */
        char a[256][64], b[256][64];
        size_t na = 0, nb = 0;
        static char copy[16384];
        snprintf(copy, sizeof copy, "%s", mc);
        for (char *l = strtok(copy, "\r\n"); l && na < 256; l = strtok(NULL, "\r\n"))
            if (sscanf(l, "STAT %63s", a[na]) == 1) na++;
        snprintf(copy, sizeof copy, "%s", sh);
        for (char *l = strtok(copy, "\r\n"); l && nb < 256; l = strtok(NULL, "\r\n"))
            if (sscanf(l, "STAT %63s", b[nb]) == 1) nb++;
        bool same = na == nb && na > 10;
        for (size_t i = 0; same && i < na; i++) same = !strcmp(a[i], b[i]);
        CHECK(same);
        if (!same) fprintf(stderr, "%s  memcached:\n%s\n  shmcd:\n%s\n", reqs[r], mc, sh);
    }
    static const char *const items[] = {"items:1:number", "items:7:number",
                                        "items:1:mem_requested", "items:7:mem_requested"};
    h_roundtrip(mcfd, reqs[0], strlen(reqs[0]), "END\r\n", mc, sizeof mc);
    h_roundtrip(shfd, reqs[0], strlen(reqs[0]), "END\r\n", sh, sizeof sh);
    for (size_t i = 0; i < 4; i++) {
        CHECK(value_of(mc, items[i]) > 0 && value_of(mc, items[i]) == value_of(sh, items[i]));
        if (value_of(mc, items[i]) != value_of(sh, items[i]))
            fprintf(stderr, "%s: memcached %lld, shmcd %lld\n", items[i], value_of(mc, items[i]),
                    value_of(sh, items[i]));
    }
    static const char *const slabs[] = {"1:chunk_size", "7:chunk_size", "1:chunks_per_page",
                                        "7:chunks_per_page", "1:used_chunks", "7:used_chunks",
                                        "1:total_pages", "active_slabs"};
    h_roundtrip(mcfd, reqs[1], strlen(reqs[1]), "END\r\n", mc, sizeof mc);
    h_roundtrip(shfd, reqs[1], strlen(reqs[1]), "END\r\n", sh, sizeof sh);
    for (size_t i = 0; i < sizeof slabs / sizeof slabs[0]; i++) {
        CHECK(value_of(mc, slabs[i]) > 0 && value_of(mc, slabs[i]) == value_of(sh, slabs[i]));
        if (value_of(mc, slabs[i]) != value_of(sh, slabs[i]))
            fprintf(stderr, "%s: memcached %lld, shmcd %lld\n", slabs[i], value_of(mc, slabs[i]),
                    value_of(sh, slabs[i]));
    }
    /* total_malloced: what holds items so far, far below the limit for two items, in both */
    long long mc_m = value_of(mc, "total_malloced"), sh_m = value_of(sh, "total_malloced");
    if (!(sh_m > 0 && sh_m <= 8 << 20 && mc_m > 0 && mc_m <= 8 << 20))
        fprintf(stderr, "total_malloced: memcached %lld, shmcd %lld\n", mc_m, sh_m);
    CHECK(sh_m > 0 && sh_m <= 8 << 20 && mc_m > 0 && mc_m <= 8 << 20);
}

/* curr_items and bytes of a "stats" reply from fd, in *items and *bytes. */
static void counts_of(int fd, long long *items, long long *bytes)
{
    static char reply[65536];
    h_roundtrip(fd, "stats\r\n", 7, "END\r\n", reply, sizeof reply);
    *items = value_of(reply, "curr_items");
    *bytes = value_of(reply, "bytes");
}

/* Polls both servers until curr_items is `items` on each (memcached may take a moment on a
 * loaded machine); counts one check that both got there, with bytes 0 exactly when there are
 * no items (memcached and shmc count an item's bytes each their own way). */
static void expect_both_counts(int mcfd, int shfd, const char *step, long long items)
{
    long long mi = -1, mb = -1, si = -1, sb = -1;
    for (int i = 0; i < 100; i++) {
        counts_of(mcfd, &mi, &mb);
        counts_of(shfd, &si, &sb);
        if (mi == items && si == items) break;
        h_sleep_ms(100);
    }
    bool ok = mi == items && si == items && (mb == 0) == (items == 0) && (sb == 0) == (items == 0);
    CHECK(ok);
    if (!ok)
        fprintf(stderr, "%s: memcached curr_items %lld bytes %lld, shmcd %lld %lld; want %lld items\n",
                step, mi, mb, si, sb, items);
}

/* flush_all lowers curr_items and bytes at once on both, now and once a delayed flush is
 * due; items stored after it count again. */
static void compare_flush(int mcfd, int shfd)
{
    static const char three[] = "set f1 0 0 1\r\nx\r\nset f2 0 0 2\r\nxy\r\nset f3 0 0 3\r\nxyz\r\nmn\r\n";
    char buf[256];
    int fds[2] = {mcfd, shfd};
    for (int i = 0; i < 2; i++) {
        h_roundtrip(fds[i], "flush_all\r\n", 11, "OK\r\n", buf, sizeof buf);
        h_roundtrip(fds[i], three, strlen(three), "MN\r\n", buf, sizeof buf);
    }
    expect_both_counts(mcfd, shfd, "three stored", 3);
    for (int i = 0; i < 2; i++) h_roundtrip(fds[i], "flush_all\r\n", 11, "OK\r\n", buf, sizeof buf);
    expect_both_counts(mcfd, shfd, "flush_all", 0);
    for (int i = 0; i < 2; i++)
        h_roundtrip(fds[i], "set f1 0 0 1\r\nx\r\n", 18, "\r\n", buf, sizeof buf);
    expect_both_counts(mcfd, shfd, "one stored after the flush", 1);
    for (int i = 0; i < 2; i++) h_roundtrip(fds[i], "flush_all 1\r\n", 13, "OK\r\n", buf, sizeof buf);
    expect_both_counts(mcfd, shfd, "a delayed flush_all, due", 0);
}

/* A "stats conns" reply as memcached's reads with descriptors, ports and seconds masked:
 * per line its name after "<fd>:", and the state (an idle client's as "idle"), or the
 * address up to its port. */
static void conns_shape(const char *reply, char *out, size_t cap)
{
    size_t n = 0;
    out[0] = 0;
    for (const char *l = reply; (l = strstr(l, "STAT ")) != NULL; l += 5) {
        char name[64], value[160];
        if (sscanf(l, "STAT %*d:%63s %159s", name, value) != 2) continue;
        if (!strcmp(name, "state") && strcmp(value, "conn_listening") != 0 &&
            strcmp(value, "conn_parse_cmd") != 0)
            strcpy(value, "idle"); /* memcached's idle client is in any of several states */
        if (strcmp(name, "state") != 0) {
            char *colon = strrchr(value, ':'); /* tcp:127.0.0.1:PORT -> tcp:127.0.0.1 */
            if (!strcmp(name, "secs_since_last_cmd")) value[0] = 0;
            else if (colon) *colon = 0;
        }
        n += (size_t)snprintf(out + n, cap - n, "%s=%s\n", name, value);
        if (n >= cap) break;
    }
}

/* "stats conns" with one other client connected: memcached's lines for the listener, the
 * idle client and the asking one, in memcached's form. */
static void compare_conns(int port, const shmcd_proc *s)
{
    char mc[4096], sh[4096];
    /* asked again while the servers may still be closing the clients of earlier checks */
    for (int attempt = 0; attempt < 100; attempt++) {
        for (int i = 0; i < 2; i++) {
            int idle = i ? h_connect(s) : h_connect_tcp(port);
            int fd = i ? h_connect(s) : h_connect_tcp(port);
            char buf[4096];
            h_roundtrip(idle, "version\r\n", 9, "\r\n", buf, sizeof buf);
            h_roundtrip(fd, "stats conns\r\n", 13, "END\r\n", buf, sizeof buf);
            conns_shape(buf, i ? sh : mc, sizeof mc);
            close(idle);
            close(fd);
        }
        if (strcmp(mc, sh) == 0) break;
        h_sleep_ms(100);
    }
    CHECK(strlen(mc) > 50 && strcmp(mc, sh) == 0);
    if (strcmp(mc, sh) != 0) fprintf(stderr, "stats conns:\n  memcached:\n%s  shmcd:\n%s", mc, sh);
}

static long index_of(char names[][64], size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(names[i], name)) return (long)i;
    return -1;
}

static void compare(const shmcd_proc *s)
{
    static char mc[MAX_NAMES][64], sh[MAX_NAMES][64], mcset[MAX_NAMES][64], shset[MAX_NAMES][64];
    size_t nmc = 0, nsh = 0, nmcset = 0, nshset = 0;
    int fd = h_connect_tcp(mc_port);
    if (fd >= 0) {
        nmc = stat_names(fd, "stats\r\n", mc, MAX_NAMES);
        nmcset = stat_names(fd, "stats settings\r\n", mcset, MAX_NAMES);
        close(fd);
    }
    compare_conns(mc_port, s);
    fd = h_connect(s);
    if (fd >= 0) {
        nsh = stat_names(fd, "stats\r\n", sh, MAX_NAMES);
        nshset = stat_names(fd, "stats settings\r\n", shset, MAX_NAMES);
        int mcfd = h_connect_tcp(mc_port);
        if (mcfd >= 0) {
            compare_classes(mcfd, fd);
            compare_flush(mcfd, fd);
            close(mcfd);
        }
        close(fd);
    }
    CHECK(nmc > 50 && nsh > 30 && nmcset > 50);
    long last = -1;
    for (size_t i = 0; i < nsh; i++) {
        long at = index_of(mc, nmc, sh[i]);
        if (at < 0) {
            bool own = strncmp(sh[i], "shmc_", 5) == 0;
            CHECK(own);
            if (!own) fprintf(stderr, "  %s: not a memcached stat and not shmc_-prefixed\n", sh[i]);
            continue;
        }
        CHECK(at > last);
        if (at <= last) fprintf(stderr, "  %s comes after %s in memcached's order\n", sh[i], mc[last]);
        last = at;
    }
    size_t missing = 0;
    printf("memcached's stats that shmcd does not print:");
    for (size_t i = 0; i < nmc; i++)
        if (index_of(sh, nsh, mc[i]) < 0) printf(" %s", mc[i]), missing++;
    printf(" (%zu)\n", missing);
    CHECK(missing == 0);
    missing = 0;
    printf("memcached's settings that shmcd does not print:");
    for (size_t i = 0; i < nmcset; i++)
        if (index_of(shset, nshset, mcset[i]) < 0) printf(" %s", mcset[i]), missing++;
    printf(" (%zu)\n", missing);
    CHECK(missing == 0);
}

int main(void) { return diff_main("stats_diff", NULL, false, compare, NULL); }
