/* test_crashpoints.c — the crash-point walk: kill a process at every named step of every
 * multi-step change to the shared file, and prove that what is left is repaired.
 *
 * The library built into this test and its worker has every CRASHPOINT compiled in
 * (util/crashpoint.h).  For each point, a worker (crash_worker.c) runs a random mix of every
 * command on a 512 KiB cache with one append head, so segments are cleaned constantly, and
 * is killed at that point's 1st, then a later hit.  Two ways of living on after the kill:
 *  - survivor: this process had the cache open all along; its next calls take the locks the
 *    dead worker held and repair them (EOWNERDEAD);
 *  - lone: nobody else had it open; this process opens it alone, recovers and scrubs.
 * Then: every key must hold exactly what the model says (the key in flight: its old or new
 * value), enough writes follow to take every lock and clean every segment again, the keys
 * are checked again, and shmc_check must find no violation (nor right after the kill: what a
 * dead worker left is repairs pending, not damage).  Points that need a mess to
 * repair (the repairs themselves) are reached by killing a first worker elsewhere and the
 * second one at the point.  Points a plain mix does not reach are tried again with a key
 * space that does not fit (cleaning then evicts; a key may vanish, never change).
 *
 * It prints how many points exist, how many were hit, the kills and the violations, and
 * fails on any violation or on any point never hit.  Arguments: name prefixes to walk only
 * those points (the whole walk by default). */
#include "../testutil.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdbool.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>

#include "crash_model.h"
#include "util/crashpoint.h"

/* Which hits of each point to kill at (SHMC_WALK_HITS="1,2,3" for another choice). */
#if defined(__SANITIZE_THREAD__) /* its workers run ~10x slower: the first hit of each point */
#define WORKER_OPS "12000"
static int later_hits[16] = {1};
static int nlater = 1;
#elif defined(__SANITIZE_ADDRESS__)
#define WORKER_OPS "12000"
static int later_hits[16] = {1, 7, 23};
static int nlater = 3;
#else
#define WORKER_OPS "12000"
static int later_hits[16] = {1, 2, 7, 23, 301};
static int nlater = 5;
#endif
#define WORKER_TIMEOUT_S 60

extern char **environ;

static const char *cache_path, *model_path;
static model_t *m;
static unsigned long kills, runs, violations;
static unsigned seed = 1;

enum how { SURVIVOR, LONE };
static const char *const how_name[] = {"survivor", "lone"};

static void reset(bool evicting)
{
    unlink(cache_path);
    memset(m, 0, sizeof *m);
    m->inflight = -1;
    m->evicting = evicting;
}

/* Run a worker armed at `at`; returns how it ended: 'k' killed, 'd' done, 'v' found a
 * violation, 'x' anything else (a crash, a hang). */
static char run_worker(const char *at, const char *nops)
{
    char prog[512], sd[32], env_at[256];
    snprintf(prog, sizeof prog, "%s/crash_worker", SHMC_CRASH_PROGS);
    snprintf(sd, sizeof sd, "%u", seed++);
    snprintf(env_at, sizeof env_at, "SHMC_CRASH_AT=%s", at);
    char *argv[] = {prog, (char *)cache_path, (char *)model_path, sd, (char *)nops, NULL};
    char *envp[64];
    int n = 0;
    for (char **e = environ; *e && n < 60; e++)
        if (strncmp(*e, "SHMC_CRASH_", 11)) envp[n++] = *e;
    envp[n++] = env_at;
    envp[n] = NULL;
    pid_t pid;
    if (posix_spawn(&pid, prog, NULL, NULL, argv, envp) != 0) return 'x';
    runs++;
    int status = 0;
    for (int waited = 0;; waited++) {
        pid_t w = waitpid(pid, &status, WNOHANG);
        if (w == pid) break;
        if (w < 0 && errno != EINTR) return 'x';
        if (waited > WORKER_TIMEOUT_S * 5000) {
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            fprintf(stderr, "worker armed at %s hung for %d s\n", at, WORKER_TIMEOUT_S);
            return 'x';
        }
        usleep(200);
    }
    if (WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) {
        kills++;
        return 'k';
    }
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return 'd';
    if (WIFEXITED(status) && WEXITSTATUS(status) == 3) return 'v';
    return 'x';
}

static void violation(const char *point, enum how how, int hit, const char *what)
{
    violations++;
    t_failed++;
    if (violations <= 60) fprintf(stderr, "VIOLATION at %s (hit %d, %s): %s\n", point, hit, how_name[how], what);
}

/* Every key as the model says; settles the key in flight. */
static void settle_all(shmc_t *c, const char *point, enum how how, int hit)
{
    char why[200];
    int n = m->evicting ? MODEL_KEYS : MODEL_EXACT_KEYS, bad = 0;
    for (int k = 0; k < n; k++)
        if (!model_settle_key(c, m, k, why, sizeof why) && bad++ < 3) violation(point, how, hit, why);
    if (bad > 3) {
        char more[64];
        snprintf(more, sizeof more, "... %d keys wrong in all", bad);
        violation(point, how, hit, more);
    }
    m->inflight = -1;
}

/* Writes that take every lock the dead worker could have held (each key's stripe, the
 * head, the global lists) and run the cleaning over every segment again. */
static void write_through(shmc_t *c, const char *point, enum how how, int hit)
{
    int n = m->evicting ? MODEL_KEYS : MODEL_EXACT_KEYS;
    char key[16], why[200];
    for (int round = 0; round < 2; round++) {
        for (int k = 0; k < n; k++) {
            mval_t *v = &m->keys[k];
            model_key(key, k);
            shmc_rc rc;
            if (round == 0 && !v->present) {
                rc = shmc_delete(c, key, strlen(key));
                if (rc == SHMC_NOT_FOUND) rc = SHMC_OK;
            } else {
                v->present = 1;
                v->flags = (uint32_t)k * 7u + (uint32_t)round;
                v->len = k < MODEL_COUNTERS ? 3 : 300 + (uint32_t)(k * 37 + round * 101) % 500;
                for (uint32_t i = 0; i < v->len; i++) v->v[i] = (unsigned char)('0' + (i + (uint32_t)k + (uint32_t)round) % 10);
                rc = shmc_set(c, key, strlen(key), v->v, v->len, v->flags, 0);
            }
            if (rc != SHMC_OK) {
                snprintf(why, sizeof why, "write %s after the kill: %s", key, shmc_strerror(rc));
                violation(point, how, hit, why);
                return;
            }
        }
        if (m->evicting) break; /* its key space already passes the whole cache */
        for (int i = 0; i < 600; i++) { /* 600 * ~550 B: more than the 512 KiB cache */
            int k = MODEL_COUNTERS + i % (n - MODEL_COUNTERS);
            mval_t *v = &m->keys[k];
            model_key(key, k);
            v->present = 1;
            v->len = 200 + (uint32_t)(i * 53) % 700;
            memset(v->v, 'a' + i % 26, v->len);
            v->flags = (uint32_t)i;
            if (shmc_set(c, key, strlen(key), v->v, v->len, v->flags, 0) != SHMC_OK) {
                violation(point, how, hit, "set after the kill failed");
                return;
            }
        }
    }
}

static void check(const char *point, enum how how, int hit, const char *when)
{
    size_t nv = 0;
    shmc_rc rc = shmc_check(cache_path, stderr, &nv);
    if (rc != SHMC_OK || nv) {
        char why[160];
        snprintf(why, sizeof why, "shmc_check %s: %s, %zu violations", when, shmc_strerror(rc), nv);
        violation(point, how, hit, why);
    }
}

/* Right after the kill, before any repair: what the dead worker left is repairs pending, no
 * violation.  Not when it died creating the cache, or opening it alone before it was
 * recorded attached: a half-made file, or a half-done recovery (locks re-created, lists half
 * rebuilt), cannot be told from damage, and the next open redoes it; those kills are counted
 * and printed. */
static unsigned long checked_after_kill, unrecorded_kills;
static void check_after_kill(const char *point, enum how how, int hit)
{
    shmc_info_t info;
    if (shmc_info(cache_path, &info) != SHMC_OK || (!info.attached && !info.scrub_pending)) {
        unrecorded_kills++;
        return;
    }
    checked_after_kill++;
    check(point, how, hit, "right after the kill (what a dead worker left is no violation)");
}

/* Take every lock the dead worker could have held without changing any key of the model,
 * so that whatever the repair does is seen as it is: touch each key (its stripe), then
 * overwrite a key outside the model for more than a segment (the head, the global lists,
 * and the cleaning of the next segments). */
static void repair_only(shmc_t *c, const char *point, enum how how, int hit)
{
    int n = m->evicting ? MODEL_KEYS : MODEL_EXACT_KEYS;
    char key[16];
    for (int k = 0; k < n; k++) {
        model_key(key, k);
        shmc_rc rc = shmc_touch(c, key, strlen(key), 0);
        if (rc != SHMC_OK && rc != SHMC_NOT_FOUND) violation(point, how, hit, "touch after the kill failed");
    }
    unsigned char v[600];
    memset(v, 'z', sizeof v);
    for (int i = 0; i < 120; i++)
        if (shmc_set(c, "scratch", 7, v, sizeof v, 0, 0) != SHMC_OK) {
            violation(point, how, hit, "set after the kill failed");
            break;
        }
}

/* After a kill: live on (as a survivor, or as a lone opener) and check everything. */
static void verify(shmc_t *survivor, const char *point, enum how how, int hit)
{
    shmc_t *c = survivor ? survivor : model_open(cache_path);
    if (!c) {
        violation(point, how, hit, "cannot open the cache after the kill");
        return;
    }
    repair_only(c, point, how, hit);
    settle_all(c, point, how, hit);
    check(point, how, hit, "after the repair");
    write_through(c, point, how, hit);
    settle_all(c, point, how, hit);
    check(point, how, hit, "after writing everything again");
    if (!survivor) shmc_close(c);
}

/* One kill at `at` (after a first worker killed at `pre`, if any) and its check; true when
 * the worker was killed there. */
static bool walk_at(const char *point, const char *at, int hit, enum how how, bool evicting,
                    const char *pre);

static bool walk_one(const char *point, int hit, enum how how, bool evicting, const char *pre)
{
    char at[192];
    snprintf(at, sizeof at, "%s:%d", point, hit);
    return walk_at(point, at, hit, how, evicting, pre);
}

static bool walk_at(const char *point, const char *at, int hit, enum how how, bool evicting,
                    const char *pre)
{
    reset(evicting);
    shmc_t *survivor = NULL;
    if (how == SURVIVOR && !(survivor = model_open(cache_path))) {
        violation(point, how, hit, "cannot create the cache");
        return false;
    }
    if (pre) {
        char r = run_worker(pre, WORKER_OPS);
        if (r == 'v' || r == 'x') violation(point, how, hit, "the first worker failed");
    }
    /* after a first kill, the repairs happen at the second worker's open or first calls */
    char r = run_worker(at, pre ? "400" : WORKER_OPS);
    if (r == 'k') {
        check_after_kill(point, how, hit);
        verify(survivor, point, how, hit);
    }
    else if (r == 'v') violation(point, how, hit, "the worker read a value the model forbids");
    else if (r == 'x') violation(point, how, hit, "the worker crashed or hung");
    if (survivor) shmc_close(survivor);
    return r == 'k';
}

/* A step inside a loop is killed in each of the loop's branches too: its hit right after
 * each branch's own point (a cleaning step after a dead, a moved, a kept, an evicted item). */
static const char *const branches[][2] = {
    {"clean.progress", "clean.kept_filler"},
    {"clean.progress", "clean.copy_relinked"},
    {"clean.progress", "clean.evicted"},
};

static bool wanted(const char *name, int argc, char **argv)
{
    /* a resize's and a removal's steps are walked by test_resize_crash: no command of the
     * worker's mix reaches them */
    if (!strncmp(name, "resize.", 7) || !strncmp(name, "remove.", 7)) return false;
    if (argc < 2) return true;
    for (int i = 1; i < argc; i++)
        if (!strncmp(name, argv[i], strlen(argv[i]))) return true;
    return false;
}

int main(int argc, char **argv)
{
    (void)t_check_file; /* this walk counts the checker's violations itself */
    t_setup("crash");
    cache_path = t_path("c");
    model_path = t_path("model");
    int fd = open(model_path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    if (fd < 0 || ftruncate(fd, sizeof(model_t)) < 0) return 2;
    m = mmap(NULL, sizeof *m, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (m == MAP_FAILED) return 2;
    const char *hits = getenv("SHMC_WALK_HITS");
    if (hits && *hits) {
        nlater = 0;
        for (char *p = (char *)hits; *p && nlater < 16; p++) {
            later_hits[nlater++] = atoi(p);
            while (*p && *p != ',') p++;
            if (!*p) break;
        }
    }
    size_t npoints = crashpoint_count();
    printf("crash points compiled in: %zu\n", npoints);
    CHECK(npoints > 40);
    for (size_t i = 0; i < npoints; i++)
        for (size_t j = i + 1; j < npoints; j++)
            if (!strcmp(crashpoint_get(i)->name, crashpoint_get(j)->name)) {
                fprintf(stderr, "FAIL: crash point %s named twice (%s:%d, %s:%d)\n", crashpoint_get(i)->name,
                        crashpoint_get(i)->file, crashpoint_get(i)->line, crashpoint_get(j)->file,
                        crashpoint_get(j)->line);
                t_failed++;
            }
    char (*hit_names)[64] = calloc(npoints, 64);
    size_t walked = 0, nhit = 0;
    time_t start = time(NULL);
    int (*kills_at)[2] = calloc(npoints, sizeof *kills_at);
    /* first pass: the plain mix, then a key space that does not fit (cleaning evicts) */
    for (size_t i = 0; i < npoints; i++) {
        const char *name = crashpoint_get(i)->name;
        if (!wanted(name, argc, argv)) continue;
        walked++;
        for (int how = SURVIVOR; how <= LONE; how++) {
            for (int l = 0; l < nlater; l++) {
                if (!walk_one(name, later_hits[l], (enum how)how, false, NULL)) break;
                kills_at[i][how]++;
            }
            if (!kills_at[i][how] && walk_one(name, 1, (enum how)how, true, NULL)) kills_at[i][how]++;
        }
        if (kills_at[i][0] || kills_at[i][1]) snprintf(hit_names[nhit++], 64, "%s:1", name);
    }
    /* second pass, for the repairs: a first worker killed at each point hit so far leaves
     * the mess, and the second one is killed at the point while it repairs it */
    for (size_t i = 0; i < npoints; i++) {
        const char *name = crashpoint_get(i)->name;
        if (!wanted(name, argc, argv) || kills_at[i][0] || kills_at[i][1]) continue;
        if (!nhit) snprintf(hit_names[nhit++], 64, "link.linked:3"); /* a walk of repairs only */
        /* some repairs exist in one way only (a lone opener re-creates every lock, so it
         * never meets EOWNERDEAD; only a lone opener scrubs): once one way is hit, the
         * other gets a few more tries */
        int more = 6;
        for (size_t q = 0; q < nhit && !(kills_at[i][0] && kills_at[i][1]) && more > 0; q++) {
            for (int how = SURVIVOR; how <= LONE; how++)
                if (!kills_at[i][how] && walk_one(name, 1, (enum how)how, false, hit_names[q])) kills_at[i][how]++;
            if (kills_at[i][0] || kills_at[i][1]) more--;
        }
    }
    size_t nreached = 0;
    for (size_t i = 0; i < npoints; i++) {
        const char *name = crashpoint_get(i)->name;
        if (!wanted(name, argc, argv)) continue;
        if (kills_at[i][0] || kills_at[i][1]) {
            nreached++;
        } else {
            fprintf(stderr, "FAIL: crash point %s (%s:%d) never hit\n", name, crashpoint_get(i)->file,
                    crashpoint_get(i)->line);
            t_failed++;
        }
        printf("  %-28s survivor %d kills, lone %d kills\n", name, kills_at[i][0], kills_at[i][1]);
    }
    nhit = nreached;
    free(kills_at);
    for (size_t i = 0; i < sizeof branches / sizeof branches[0]; i++) {
        if (!wanted(branches[i][0], argc, argv)) continue;
        bool evicting = strstr(branches[i][1], "evicted") != NULL;
        int kills_here[2] = {0, 0};
        for (int how = SURVIVOR; how <= LONE; how++)
            for (int l = 0; l < nlater && later_hits[l] <= 7; l++) {
                char at[192];
                snprintf(at, sizeof at, "%s@%s:%d", branches[i][0], branches[i][1], later_hits[l]);
                if (!walk_at(branches[i][0], at, later_hits[l], (enum how)how, evicting, NULL)) break;
                kills_here[how]++;
            }
        printf("  %s after %s: survivor %d kills, lone %d kills\n", branches[i][0], branches[i][1],
               kills_here[0], kills_here[1]);
        if (!kills_here[0] && !kills_here[1]) {
            fprintf(stderr, "FAIL: %s after %s never hit\n", branches[i][0], branches[i][1]);
            t_failed++;
        }
    }
    printf("crash points: %zu compiled in, %zu walked, %zu hit; %lu workers run, %lu killed at a "
           "point; %lu violations; %ld s\n",
           npoints, walked, nhit, runs, kills, violations, (long)(time(NULL) - start));
    printf("checked right after the kill: %lu; not checked, the worker died creating the cache "
           "or opening it alone before it was recorded attached: %lu\n", checked_after_kill,
           unrecorded_kills);
    CHECK(checked_after_kill > 4 * unrecorded_kills);
    free(hit_names);
    return t_finish();
}
