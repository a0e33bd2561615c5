/* test_server_mixed.c — mixed access: a separate process using libshmc directly and a
 * network client of shmcd work on the same cache at the same time.  The library process
 * sets keys while the network client reads them, the network client sets keys while the
 * library process reads them, and both increment one counter; every value seen must be
 * exactly what was written, every key must arrive, and no increment may be lost. */
#include <stdint.h>

#include "harness.h"

#define NKEYS 3000
#define NINCR 3000

static void value_of(char *buf, size_t cap, const char *side, int i)
{
    snprintf(buf, cap, "%s-value-%d-%0*d", side, i, 10 + i % 50, i);
}

/* The library side: its writes, its reads of the network's writes, its increments.
 * Exit status 0 when everything it saw was right. */
static int library_process(const char *cache_path, int ready_fd)
{
    shmc_t *c = NULL;
    if (shmc_open(&c, cache_path, NULL) != SHMC_OK) return 10;
    char go;
    if (read(ready_fd, &go, 1) != 1) return 11;
    int bad = 0, seen = 0;
    bool net_seen[NKEYS] = {false};
    char key[32], want[128], got[128];
    for (int i = 0; i < NKEYS || seen < NKEYS; i++) {
        if (i < NKEYS) {
            snprintf(key, sizeof key, "lib_%d", i);
            value_of(want, sizeof want, "lib", i);
            if (shmc_set(c, key, strlen(key), want, strlen(want), (uint32_t)i, 0) != SHMC_OK) bad++;
            uint64_t r;
            if (shmc_incr(c, "counter", 7, 1, &r) != SHMC_OK) bad++;
        }
        /* read whatever the network side has written so far */
        for (int j = 0; j < NKEYS; j++) {
            if (net_seen[j]) continue;
            snprintf(key, sizeof key, "net_%d", j);
            size_t n = 0;
            uint32_t flags = 0;
            shmc_rc rc = shmc_get(c, key, strlen(key), got, sizeof got, &n, &flags, NULL);
            if (rc == SHMC_NOT_FOUND) break; /* the network side writes in order */
            value_of(want, sizeof want, "net", j);
            if (rc != SHMC_OK || n != strlen(want) || memcmp(got, want, n) != 0 || flags != (uint32_t)j)
                bad++;
            net_seen[j] = true;
            seen++;
        }
        if (i >= NKEYS) {
            /* own writes done: poll gently; give up only if the other side hangs (60 s) */
            if (i - NKEYS > 60000) return 12;
            usleep(1000);
        }
    }
    shmc_close(c);
    return bad ? 13 : 0;
}

int main(void)
{
    t_setup("server_mixed");
    const char *cache = t_path("cache");
    shmc_t *c = NULL;
    CHECK_RC(shmc_open(&c, cache, NULL), SHMC_OK);
    if (!c) return t_finish();
    CHECK_RC(shmc_set(c, "counter", 7, "0", 1, 0, 0), SHMC_OK);
    shmc_close(c);

    shmcd_proc s;
    const char *extra[] = {"-t", "2", NULL};
    if (!h_start_argv(&s, cache, true, NULL, extra)) {
        t_failed++;
        return t_finish();
    }
    int ready[2];
    CHECK(pipe(ready) == 0);
    pid_t child = fork();
    if (child == 0) {
        close(ready[1]);
        _exit(library_process(cache, ready[0]));
    }
    close(ready[0]);
    int fd = h_connect(&s);
    CHECK(fd >= 0);
    CHECK(write(ready[1], "g", 1) == 1);
    close(ready[1]);

    int bad = 0, seen = 0, incr_ok = 0;
    bool lib_seen[NKEYS] = {false};
    char req[256], buf[512], want[256], val[128];
    for (int i = 0; i < NKEYS || seen < NKEYS; i++) {
        if (i < NKEYS) {
            value_of(val, sizeof val, "net", i);
            int n = snprintf(req, sizeof req, "set net_%d %d 0 %zu\r\n%s\r\nincr counter 1\r\n", i, i,
                             strlen(val), val);
            h_roundtrip(fd, req, (size_t)n, "\r\n", buf, sizeof buf);
            if (strncmp(buf, "STORED\r\n", 8) != 0) bad++;
            if (strlen(buf) == 8) h_recv_until(fd, buf + 8, sizeof buf - 8, "\r\n", 0, 5000, NULL);
            if (strlen(buf) > 10) incr_ok++;
        }
        for (int j = 0; j < NKEYS; j++) {
            if (lib_seen[j]) continue;
            int n = snprintf(req, sizeof req, "get lib_%d\r\n", j);
            h_roundtrip(fd, req, (size_t)n, "END\r\n", buf, sizeof buf);
            if (strcmp(buf, "END\r\n") == 0) break; /* the library side writes in order */
            value_of(val, sizeof val, "lib", j);
            snprintf(want, sizeof want, "VALUE lib_%d %d %zu\r\n%s\r\nEND\r\n", j, j, strlen(val), val);
            if (strcmp(buf, want) != 0) bad++;
            lib_seen[j] = true;
            seen++;
        }
        if (i >= NKEYS) {
            if (i - NKEYS > 60000) break; /* the library side hangs (60 s) */
            usleep(1000);
        }
    }
    CHECK(bad == 0 && seen == NKEYS && incr_ok == NINCR);
    int status = -1;
    waitpid(child, &status, 0);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        fprintf(stderr, "  library process exit status %d\n", WEXITSTATUS(status));

    /* no increment lost between the two sides */
    h_roundtrip(fd, "get counter\r\n", 13, "END\r\n", buf, sizeof buf);
    snprintf(want, sizeof want, "VALUE counter 0 4\r\n%d\r\nEND\r\n", NKEYS + NINCR);
    CHECK(strcmp(buf, want) == 0);
    close(fd);
    h_stop(&s);

    /* the items outlive the server: still there for the library */
    CHECK_RC(shmc_open(&c, cache, NULL), SHMC_OK);
    if (c) {
        char v[128];
        size_t n = 0;
        CHECK_RC(shmc_get(c, "net_2999", 8, v, sizeof v, &n, NULL, NULL), SHMC_OK);
        shmc_close(c);
    }
    t_check_file(cache);
    return t_finish();
}
