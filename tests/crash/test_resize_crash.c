/* test_resize_crash.c — a resizer (shmc_resize) or remover (shmc_remove) killed at each of
 * its steps leaves the old cache or the new one, whole, and its users go on.
 *
 * For each resize.* and remove.* crash point: a cache with known items; a user (this
 * process) holds a handle or, in the lone case, none; a child armed to die at the point
 * resizes it (or removes it) and is killed there.  Then: the user's handle answers every key
 * exactly as before, and a write through it succeeds (it settles the dead resizer's freeze:
 * undone before the rename, finished after); a fresh open finds the old memory limit or the
 * new one, by whether the rename happened, with every item and the user's write in it (one
 * cache, not two); a resize after it works; the checker finds no violation.  A removal killed
 * after its unlink leaves no cache (the handle gets SHMC_REMOVED), before it the whole one. */
#include "../testutil.h"

#include <signal.h>
#include <stdbool.h>
#include <sys/wait.h>

#include "util/crashpoint.h"

#define ITEMS 2000
#define OLD_LIMIT (2u << 20)
#define NEW_LIMIT (4u << 20)

static const char *cache;

static void fill(void)
{
    shmc_config cfg;
    shmc_config_init(&cfg);
    cfg.memory_limit = OLD_LIMIT;
    cfg.flags = SHMC_OPEN_CREATE;
    shmc_t *c;
    CHECK_RC(shmc_open(&c, cache, &cfg), SHMC_OK);
    char k[32], v[32];
    for (int i = 0; i < ITEMS; i++) {
        snprintf(k, sizeof k, "k%d", i);
        snprintf(v, sizeof v, "v%d", i);
        shmc_set(c, k, strlen(k), v, strlen(v), (uint32_t)i, i % 2 ? 3600 : 0);
    }
    shmc_close(c);
}

/* Every item as fill() left it (and "user" if want_user), through c. */
static int bad_items(shmc_t *c, bool want_user)
{
    int bad = 0;
    char k[32], v[32], buf[32];
    for (int i = 0; i < ITEMS; i++) {
        snprintf(k, sizeof k, "k%d", i);
        snprintf(v, sizeof v, "v%d", i);
        size_t n = 0;
        uint32_t flags = 0;
        shmc_rc rc = shmc_get(c, k, strlen(k), buf, sizeof buf, &n, &flags, NULL);
        if (rc != SHMC_OK || n != strlen(v) || memcmp(buf, v, n) || flags != (uint32_t)i) bad++;
    }
    size_t n;
    if (want_user && shmc_get(c, "user", 4, buf, sizeof buf, &n, NULL, NULL) != SHMC_OK) bad++;
    return bad;
}

/* Fork a child that dies at `point` while resizing (or removing) the cache; true when it
 * was killed there. */
static bool kill_at(const char *point, bool removing)
{
    pid_t pid = fork();
    if (pid == 0) {
        crashpoint_arm(point, "kill");
        if (removing) shmc_remove(cache);
        else shmc_resize(cache, NEW_LIMIT, 0, NULL);
        _exit(0); /* not killed: the point was not reached */
    }
    int st;
    if (waitpid(pid, &st, 0) != pid) return false;
    return WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL;
}

static uint64_t limit_of(shmc_t *c)
{
    shmc_stats_t s;
    return shmc_stats(c, &s) == SHMC_OK ? s.limit_maxbytes : 0;
}

static void walk(const char *point, bool lone)
{
    bool removing = !strncmp(point, "remove.", 7);
    /* after these steps the new file (or no file) is under the name */
    bool done = !strcmp(point, "resize.renamed") || !strcmp(point, "resize.moved") ||
                !strcmp(point, "remove.unlinked");
    unlink(cache);
    fill();
    shmc_t *c = NULL;
    if (!lone) CHECK_RC(shmc_open(&c, cache, NULL), SHMC_OK);
    bool killed = kill_at(point, removing);
    CHECK(killed);
    if (!killed) fprintf(stderr, "FAIL: %s (%s) was not reached\n", point, lone ? "lone" : "user");
    int bad;
    if (removing && done) {
        if (c) {
            char buf[8];
            size_t n;
            CHECK_RC(shmc_get(c, "k1", 2, buf, sizeof buf, &n, NULL, NULL), SHMC_REMOVED);
            shmc_close(c);
        }
        CHECK(access(cache, F_OK) != 0);
        return;
    }
    if (!c) CHECK_RC(shmc_open(&c, cache, NULL), SHMC_OK);
    if (!c) return;
    CHECK((bad = bad_items(c, false)) == 0);
    CHECK_RC(shmc_set(c, "user", 4, "u", 1, 0, 0), SHMC_OK);
    uint64_t want = done ? NEW_LIMIT : OLD_LIMIT;
    CHECK(limit_of(c) == want);
    shmc_t *d;
    CHECK_RC(shmc_open(&d, cache, NULL), SHMC_OK);
    CHECK(limit_of(d) == want);
    CHECK((bad = bad_items(d, true)) == 0);
    shmc_close(d);
    /* a resize after it goes through, and the handle follows */
    CHECK_RC(shmc_resize(cache, NEW_LIMIT * 2, 0, NULL), SHMC_OK);
    CHECK((bad = bad_items(c, true)) == 0);
    CHECK(limit_of(c) == NEW_LIMIT * 2);
    shmc_close(c);
    t_check_file(cache);
    printf("  %-18s %-5s ok: %s cache under the name\n", point, lone ? "lone" : "user",
           done ? "the new" : "the old");
}

int main(void)
{
    t_setup("resize-crash");
    cache = t_path("c");
    int npoints = 0;
    for (size_t i = 0; i < crashpoint_count(); i++) {
        const char *name = crashpoint_get(i)->name;
        if (strncmp(name, "resize.", 7) && strncmp(name, "remove.", 7)) continue;
        npoints++;
        walk(name, false);
        walk(name, true);
    }
    printf("%d resize and remove crash points walked\n", npoints);
    CHECK(npoints >= 10);
    return t_finish();
}
