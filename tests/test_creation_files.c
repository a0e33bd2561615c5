/* test_creation_files.c — creators killed at any moment leave no file behind, and no opener
 * ever removes a live creator's file (issue 19, fault 4).
 *
 * 200 creators are killed at random moments of shmc_open; afterwards, once the next opener
 * ran, nothing but the cache itself is left in the directory.  Then PATH.creating.* files
 * as a killed creator of the named fallback (or of an older version) leaves them are
 * planted: one whose creator died holding its lock (removed by the next opener), one whose
 * creator is alive and holds its lock (kept, however old), and one just made whose creator
 * has not locked it yet (kept while younger than the grace period, then removed). */
#include "testutil.h"

#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>

#define CREATORS 200

static shmc_config small(void) { return t_config(4u << 20, 64u << 10); }

/* Files in the test directory other than the cache named "cache". */
static int leftovers(bool print)
{
    int n = 0;
    DIR *d = opendir(t_dir);
    if (!d) return -1;
    for (struct dirent *e; (e = readdir(d));) {
        if (e->d_name[0] == '.' || !strcmp(e->d_name, "cache")) continue;
        if (print) printf("  left: %s\n", e->d_name);
        n++;
    }
    closedir(d);
    return n;
}

static bool exists(const char *path) { return access(path, F_OK) == 0; }

static void open_once(void)
{
    shmc_config cfg = small();
    shmc_t *c = NULL;
    CHECK_RC(shmc_open(&c, t_path("cache"), &cfg), SHMC_OK);
    shmc_close(c);
}

static void killed_creators(void)
{
    struct timespec t0, t1;
    /* how long one creation takes here, so that the kills spread over all of it */
    unlink(t_path("cache"));
    clock_gettime(CLOCK_MONOTONIC, &t0);
    open_once();
    clock_gettime(CLOCK_MONOTONIC, &t1);
    long create_us = (t1.tv_sec - t0.tv_sec) * 1000000L + (t1.tv_nsec - t0.tv_nsec) / 1000;
    long window_us = create_us * 2 + 200; /* and the fork before it; adjusted below */
    clock_gettime(CLOCK_MONOTONIC, &t0);
    unsigned seed = (unsigned)getpid();
    int killed_before_done = 0;
    for (int i = 0; i < CREATORS; i++) {
        unlink(t_path("cache"));
        fflush(stdout);
        pid_t pid = fork();
        if (pid == 0) {
            shmc_config cfg = small();
            shmc_t *c = NULL;
            shmc_rc rc = shmc_open(&c, t_path("cache"), &cfg);
            _exit(rc == SHMC_OK ? 0 : 1);
        }
        usleep((useconds_t)(rand_r(&seed) % window_us));
        kill(pid, SIGKILL);
        int st;
        waitpid(pid, &st, 0);
        /* keep the window about one creation wide, however fast creations turn out */
        if (WIFSIGNALED(st)) {
            killed_before_done++;
            window_us += window_us / 8;
        } else if (window_us > 50) {
            window_us -= window_us / 4;
        }
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    printf("%d creators (one creation takes %ld us), %d killed before they finished (%.2f s)\n",
           CREATORS, create_us, killed_before_done,
           (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
    CHECK(killed_before_done > CREATORS / 4); /* the kills did land inside shmc_open */
    int before = leftovers(false);
    sleep(3); /* past the grace period for a creator between open() and its lock */
    open_once();
    int after = leftovers(true);
    printf("files left by killed creators: %d before the next opener, %d after\n", before, after);
    CHECK(after == 0);
}

/* A child that creates name (already 'old' for the sweep only after the grace period),
 * locks byte 0 as a creator does when lock is set, signals ready on fd w, then waits for a
 * byte on fd r (or is killed). */
static pid_t plant(const char *name, bool lock, int *release_fd)
{
    int ready[2], go[2];
    if (pipe(ready) || pipe(go)) return -1;
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        close(go[1]);
        close(ready[0]);
        int fd = open(t_path(name), O_RDWR | O_CREAT | O_EXCL, 0600);
        if (fd < 0 || ftruncate(fd, 1 << 20) < 0) _exit(1);
        if (lock) {
            struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 1};
            if (fcntl(fd, F_OFD_SETLK, &fl) < 0) _exit(1);
        }
        char b = 1;
        if (write(ready[1], &b, 1) != 1) _exit(1);
        if (read(go[0], &b, 1) < 0) _exit(1);
        _exit(0);
    }
    char b;
    CHECK(read(ready[0], &b, 1) == 1);
    close(ready[0]);
    close(ready[1]);
    close(go[0]);
    *release_fd = go[1];
    return pid;
}

static void planted_files(void)
{
    char dead[64], live[64];
    snprintf(dead, sizeof dead, "cache.creating.%d.dead", 999999);
    snprintf(live, sizeof live, "cache.creating.%d.live", (int)getpid());
    int go_dead, go_live;
    pid_t pd = plant(dead, true, &go_dead);
    pid_t pl = plant(live, true, &go_live);
    kill(pd, SIGKILL); /* died holding its lock: the kernel dropped the lock with it */
    waitpid(pd, NULL, 0);
    close(go_dead);
    sleep(3);
    /* just made and not locked yet: the moment between a creator's open() and its lock */
    int fd = open(t_path("cache.creating.1.young"), O_RDWR | O_CREAT | O_EXCL, 0600);
    CHECK(fd >= 0);
    close(fd);
    open_once();
    CHECK(!exists(t_path(dead)));
    CHECK(exists(t_path(live)));                          /* a live creator: never disturbed */
    CHECK(exists(t_path("cache.creating.1.young")));      /* within the grace period */
    /* the live creator now ends without finishing: its file is stale too; the young one ages */
    close(go_live);
    waitpid(pl, NULL, 0);
    sleep(3);
    open_once();
    CHECK(!exists(t_path(live)));
    CHECK(!exists(t_path("cache.creating.1.young")));
    /* someone else's name that merely starts like ours is not ours to judge */
    fd = open(t_path("cachex.creating.1.other"), O_RDWR | O_CREAT | O_EXCL, 0600);
    CHECK(fd >= 0);
    close(fd);
    struct timeval old[2] = {{time(NULL) - 60, 0}, {time(NULL) - 60, 0}};
    utimes(t_path("cachex.creating.1.other"), old);
    open_once();
    CHECK(exists(t_path("cachex.creating.1.other")));
    unlink(t_path("cachex.creating.1.other"));
    CHECK(leftovers(true) == 0);
}

int main(void)
{
    t_setup("creation");
    killed_creators();
    planted_files();
    t_check_file(t_path("cache"));
    return t_finish();
}
