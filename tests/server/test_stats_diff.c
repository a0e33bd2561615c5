/* test_stats_diff.c — shmcd's "stats" reads as memcached 1.6.18's: every line shmcd prints is
 * one memcached prints or one of shmc's own (shmc_*), the lines both print come in
 * memcached's order, so a tool that reads the reply line by line sees the same sequence, and
 * no name memcached prints is missing.  "stats settings" holds every name memcached's does
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

static long index_of(char names[][64], size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(names[i], name)) return (long)i;
    return -1;
}

int main(void)
{
    t_setup("stats_diff");
    if (!reference_up()) {
        t_finish();
        return 77;
    }
    shmcd_proc s;
    static char mc[MAX_NAMES][64], sh[MAX_NAMES][64], mcset[MAX_NAMES][64], shset[MAX_NAMES][64];
    size_t nmc = 0, nsh = 0, nmcset = 0, nshset = 0;
    int fd = h_connect_tcp(mc_port);
    if (fd >= 0) {
        nmc = stat_names(fd, "stats\r\n", mc, MAX_NAMES);
        nmcset = stat_names(fd, "stats settings\r\n", mcset, MAX_NAMES);
        close(fd);
    }
    if (!h_start(&s, t_path("cache"), true, NULL)) {
        t_failed++;
    } else {
        fd = h_connect(&s);
        if (fd >= 0) {
            nsh = stat_names(fd, "stats\r\n", sh, MAX_NAMES);
            nshset = stat_names(fd, "stats settings\r\n", shset, MAX_NAMES);
            close(fd);
        }
        h_stop(&s);
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
    reference_down();
    return t_finish();
}
