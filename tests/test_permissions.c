/* test_permissions.c — --mode and --group, as root: `shmc create` and shmcd make the cache
 * file with the mode and group asked for; a process of another uid in that group (setuid in
 * a forked child) opens and uses it, and one outside the group is refused with EACCES. */
#include <errno.h>
#include <grp.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>

#include "testutil.h"

#define SHMC_CLI SHMC_BUILD_DIR "/tools/shmc"
#define SHMCD SHMC_BUILD_DIR "/server/shmcd"

enum { GROUP = 54321, MEMBER = 54322, STRANGER = 54323 }; /* ids no account uses */

/* In a child: become uid with gid (and only that group), open the cache, set and get. */
static int use_as(uid_t uid, gid_t gid, const char *path)
{
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        gid_t groups[1] = {gid};
        if (setgroups(1, groups) || setgid(gid) || setuid(uid)) _exit(10);
        shmc_config cfg;
        shmc_config_init(&cfg);
        cfg.flags = SHMC_OPEN_EXISTING;
        cfg.memory_limit = cfg.item_size_max = 0;
        shmc_t *c;
        shmc_rc rc = shmc_open(&c, path, &cfg);
        if (rc == SHMC_SYSTEM && errno == EACCES) _exit(20);
        if (rc != SHMC_OK) _exit(11);
        char v[8];
        size_t n;
        if (shmc_set(c, "who", 3, "member", 6, 0, 0) != SHMC_OK ||
            shmc_get(c, "who", 3, v, sizeof v, &n, NULL, NULL) != SHMC_OK || n != 6)
            _exit(12);
        shmc_close(c);
        _exit(0);
    }
    int st;
    waitpid(pid, &st, 0);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 99;
}

static void check_file(const char *path, unsigned mode, gid_t gid)
{
    struct stat st;
    CHECK(stat(path, &st) == 0);
    printf("%s: mode %04o, group %u\n", path, (unsigned)(st.st_mode & 07777), (unsigned)st.st_gid);
    CHECK((st.st_mode & 07777) == mode);
    CHECK(st.st_gid == gid);
}

static void test_create(void)
{
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "'%s' create '%s' -m 4 --mode 0660 --group %d", SHMC_CLI,
             t_path("shared"), GROUP);
    CHECK(system(cmd) == 0);
    check_file(t_path("shared"), 0660, GROUP);
    CHECK(use_as(MEMBER, GROUP, t_path("shared")) == 0);
    CHECK(use_as(STRANGER, STRANGER, t_path("shared")) == 20);
    /* what the member stored is there for root */
    shmc_t *c;
    CHECK_RC(shmc_open(&c, t_path("shared"), NULL), SHMC_OK);
    char v[8];
    size_t n = 0;
    CHECK_RC(shmc_get(c, "who", 3, v, sizeof v, &n, NULL, NULL), SHMC_OK);
    CHECK(n == 6 && !memcmp(v, "member", 6));
    shmc_close(c);
    /* bad values create nothing */
    snprintf(cmd, sizeof cmd, "'%s' create '%s' --mode 0999 2>/dev/null", SHMC_CLI, t_path("bad"));
    CHECK(WEXITSTATUS(system(cmd)) == 2);
    snprintf(cmd, sizeof cmd, "'%s' create '%s' --group no-such-group-xyz 2>/dev/null", SHMC_CLI,
             t_path("bad"));
    CHECK(WEXITSTATUS(system(cmd)) == 2);
    CHECK(access(t_path("bad"), F_OK) != 0);
    /* the default stays 0600, the creator's group */
    snprintf(cmd, sizeof cmd, "'%s' create '%s' -m 4", SHMC_CLI, t_path("private"));
    CHECK(system(cmd) == 0);
    check_file(t_path("private"), 0600, getgid());
    CHECK(use_as(MEMBER, GROUP, t_path("private")) == 20);
    t_check_file(t_path("shared"));
}

/* The library alone: cfg.mode, then a group; a member opens it, a stranger is refused. */
static void test_library(void)
{
    shmc_config cfg;
    shmc_config_init(&cfg);
    cfg.memory_limit = 4u << 20;
    cfg.mode = 0660;
    shmc_t *c;
    CHECK_RC(shmc_open(&c, t_path("lib"), &cfg), SHMC_OK);
    shmc_close(c);
    CHECK(chown(t_path("lib"), (uid_t)-1, GROUP) == 0);
    check_file(t_path("lib"), 0660, GROUP);
    CHECK(use_as(MEMBER, GROUP, t_path("lib")) == 0);
    CHECK(use_as(STRANGER, STRANGER, t_path("lib")) == 20);
}

static void test_shmcd(void)
{
    char sock[300];
    snprintf(sock, sizeof sock, "%s/sock", t_dir);
    char mode[] = "--mode=0640", group[32], cache[400];
    snprintf(group, sizeof group, "--group=%d", GROUP);
    snprintf(cache, sizeof cache, "--cache=%s", t_path("served"));
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        execl(SHMCD, "shmcd", "-p", "0", "-s", sock, "-m", "4", mode, group, cache, (char *)NULL);
        _exit(127);
    }
    struct timespec pause = {0, 20 * 1000 * 1000};
    /* shmcd binds its socket first, then opens the cache: wait for the cache file (it
     * appears whole, linked once complete, with its group: no chown comes later), for up to
     * 20 s on a loaded machine */
    for (int i = 0; i < 1000 && access(t_path("served"), F_OK) != 0; i++) nanosleep(&pause, NULL);
    check_file(t_path("served"), 0640, GROUP);
    kill(pid, SIGTERM);
    int st;
    waitpid(pid, &st, 0);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    /* refused values: exit 64 before anything is made */
    char line[2048];
    snprintf(line, sizeof line, "'%s' -p 0 -s '%s' --mode=888 --cache='%s' 2>/dev/null", SHMCD,
             sock, t_path("never"));
    CHECK(WEXITSTATUS(system(line)) == 64);
    snprintf(line, sizeof line, "'%s' -p 0 -s '%s' --group=no-such-group-xyz --cache='%s' 2>/dev/null",
             SHMCD, sock, t_path("never"));
    CHECK(WEXITSTATUS(system(line)) == 64);
    CHECK(access(t_path("never"), F_OK) != 0);
}

int main(void)
{
    if (geteuid() != 0) {
        printf("SKIPPED: the permission cases need root (to setuid a child and chown to a "
               "group); run as root, as ./build.sh test does in CI\n");
        return 0;
    }
    t_setup("permissions");
    chmod(t_dir, 0755); /* the children of other uids must reach the files */
    test_library();
    if (access(SHMC_CLI, X_OK) != 0 || access(SHMCD, X_OK) != 0) {
        printf("SKIPPED the shmc create / shmcd cases: %s or %s is not here (e.g. in the "
               "QEMU guest, which gets the test programs only)\n", SHMC_CLI, SHMCD);
        return t_finish();
    }
    test_create();
    test_shmcd();
    return t_finish();
}
