/* test_named_creation.c — creation on a filesystem without O_TMPFILE (issue 10): the
 * fallback that builds the file as PATH.creating.PID.NONCE and links it into place.
 *
 * Every filesystem this kernel offers has O_TMPFILE, so the creators here run in children
 * under a seccomp filter that answers open/openat with O_TMPFILE by EOPNOTSUPP, as such a
 * filesystem does.  A creator can also be made to stop itself when it reserves the file's
 * space (the filter traps fallocate with mode 0; the SIGSYS handler stops the process and,
 * once continued, makes the same reservation with FALLOC_FL_KEEP_SIZE): then its named file
 * exists and it holds the file's open lock, as at every moment of a creation.
 *  - creation: the cache is made under the temporary name (inotify sees it) and works;
 *    nothing else is left in the directory;
 *  - a creator killed there: the next opener keeps its file while younger than the 2 s grace,
 *    and removes it after;
 *  - a creator stopped there (alive, lock held) for longer than the grace: another opener
 *    creates the cache but leaves the stopped creator's file alone; continued, the creator
 *    loses the race, removes its file and attaches to the winner's cache. */
#include "testutil.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/inotify.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <ucontext.h>

#if defined(__x86_64__)
#include <linux/audit.h>
#include <linux/falloc.h>
#include <linux/filter.h>
#include <linux/seccomp.h>

#ifndef __O_TMPFILE
#define __O_TMPFILE 020000000
#endif

static shmc_config small(void) { return t_config(4u << 20, 64u << 10); }

/* The filter: O_TMPFILE opens fail with EOPNOTSUPP; with stop_at_reserve, fallocate with
 * mode 0 raises SIGSYS. */
static bool no_tmpfile(bool stop_at_reserve)
{
    struct sock_filter f[] = {
        /* 0 */ BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
        /* 1 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 0, 10),
        /* 2 */ BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        /* 3 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_openat, 0, 2),
        /* 4 */ BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[2])),
        /* 5 */ BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, __O_TMPFILE, 7, 6),
        /* 6 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_open, 0, 2),
        /* 7 */ BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[1])),
        /* 8 */ BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, __O_TMPFILE, 4, 3),
        /* 9 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, stop_at_reserve ? __NR_fallocate : 0xffffffffu, 0, 2),
        /* 10 */ BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[1])),
        /* 11 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0, 2, 0),
        /* 12 */ BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
        /* 13 */ BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EOPNOTSUPP),
        /* 14 */ BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_TRAP),
    };
    struct sock_fprog prog = {.len = sizeof f / sizeof f[0], .filter = f};
    return prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0 &&
           syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) == 0;
}

/* SIGSYS from the trapped fallocate: stop here; once continued, reserve as asked. */
static void on_sigsys(int sig, siginfo_t *si, void *uc_)
{
    (void)sig;
    (void)si;
    int saved = errno;
    greg_t *g = ((ucontext_t *)uc_)->uc_mcontext.gregs;
    raise(SIGSTOP);
    long rc = syscall(SYS_fallocate, (int)g[REG_RDI], FALLOC_FL_KEEP_SIZE, (off_t)g[REG_RDX],
                      (off_t)g[REG_R10]);
    g[REG_RAX] = rc < 0 ? -errno : rc;
    errno = saved;
}

/* A child that creates the cache under the filter, stores key=value and exits 0 on success
 * (3: the filter did not take; 4: O_TMPFILE still worked; 1: shmc_open failed). */
static pid_t creator(bool stop_at_reserve)
{
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid) return pid;
    struct sigaction sa = {.sa_sigaction = on_sigsys, .sa_flags = SA_SIGINFO};
    sigaction(SIGSYS, &sa, NULL);
    if (!no_tmpfile(stop_at_reserve)) _exit(3);
    int probe = open(t_dir, O_TMPFILE | O_RDWR, 0600);
    if (probe >= 0 || errno != EOPNOTSUPP) _exit(4);
    shmc_config cfg = small();
    shmc_t *c = NULL;
    if (shmc_open(&c, t_path("cache"), &cfg) != SHMC_OK) {
        fprintf(stderr, "creator: %s\n", shmc_last_error());
        _exit(1);
    }
    shmc_rc rc = shmc_set(c, "key", 3, "value", 5, 0, 0);
    shmc_close(c);
    _exit(rc == SHMC_OK ? 0 : 2);
}

/* The creating.* file of pid in the test directory, into out; false if none. */
static bool temp_of(pid_t pid, char *out, size_t cap)
{
    char prefix[64];
    int n = snprintf(prefix, sizeof prefix, "cache.creating.%d.", (int)pid);
    bool found = false;
    DIR *d = opendir(t_dir);
    for (struct dirent *e; d && (e = readdir(d));)
        if (!strncmp(e->d_name, prefix, (size_t)n)) {
            snprintf(out, cap, "%s", t_path(e->d_name));
            found = true;
        }
    if (d) closedir(d);
    return found;
}

static int entries(void)
{
    int n = 0;
    DIR *d = opendir(t_dir);
    for (struct dirent *e; d && (e = readdir(d));)
        if (e->d_name[0] != '.') n++;
    if (d) closedir(d);
    return n;
}

/* Whether someone holds byte 0 of the file (a creator's open lock). */
static bool open_lock_held(const char *path)
{
    int fd = open(path, O_RDWR);
    if (fd < 0) return false;
    struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 1};
    bool held = fcntl(fd, F_OFD_GETLK, &fl) == 0 && fl.l_type != F_UNLCK;
    close(fd);
    return held;
}

static void expect_value(void)
{
    shmc_config cfg = small();
    shmc_t *c = NULL;
    CHECK_RC(shmc_open(&c, t_path("cache"), &cfg), SHMC_OK);
    char buf[16];
    size_t n = 0;
    CHECK_RC(shmc_get(c, "key", 3, buf, sizeof buf, &n, NULL, NULL), SHMC_OK);
    CHECK(n == 5 && !memcmp(buf, "value", 5));
    shmc_close(c);
}

/* A creator of a fresh "cache", stopped in its reservation, and its temporary file's path;
 * -1 (and a failed check) if it ended instead. */
static pid_t stopped_creator(char *temp, size_t cap)
{
    unlink(t_path("cache"));
    pid_t pid = creator(true);
    int st;
    if (waitpid(pid, &st, WUNTRACED) != pid || !WIFSTOPPED(st)) {
        fprintf(stderr, "creator did not stop (status %#x)\n", st);
        CHECK(0);
        return -1;
    }
    CHECK(temp_of(pid, temp, cap));
    return pid;
}

static void creation(void)
{
    int in = inotify_init1(IN_NONBLOCK);
    CHECK(in >= 0);
    CHECK(inotify_add_watch(in, t_dir, IN_CREATE | IN_DELETE | IN_MOVED_TO) >= 0);
    pid_t pid = creator(false);
    int st;
    CHECK(waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0);
    if (!WIFEXITED(st) || WEXITSTATUS(st)) fprintf(stderr, "creator: status %#x\n", st);
    char prefix[64], buf[8192];
    int n = snprintf(prefix, sizeof prefix, "cache.creating.%d.", (int)pid);
    bool temp_made = false, temp_removed = false, linked = false;
    ssize_t len;
    while ((len = read(in, buf, sizeof buf)) > 0)
        for (char *p = buf; p < buf + len;) {
            struct inotify_event *e = (struct inotify_event *)p;
            if (e->len && !strncmp(e->name, prefix, (size_t)n)) {
                if (e->mask & IN_CREATE) temp_made = true;
                if (e->mask & IN_DELETE) temp_removed = true;
            }
            if (e->len && !strcmp(e->name, "cache") && (e->mask & IN_CREATE)) linked = true;
            p += sizeof *e + e->len;
        }
    close(in);
    printf("creation without O_TMPFILE: %s made, %s removed, cache %s\n", temp_made ? "temporary name" : "NO temporary name",
           temp_removed ? "then" : "NOT", linked ? "linked" : "NOT linked");
    CHECK(temp_made && temp_removed && linked);
    CHECK(entries() == 1);
    expect_value();
    t_check_file(t_path("cache"));
}

static void killed_creator(void)
{
    char temp[512];
    pid_t pid = stopped_creator(temp, sizeof temp);
    if (pid < 0) return;
    CHECK(open_lock_held(temp)); /* a creator holds its file's open lock all along */
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    CHECK(access(temp, F_OK) == 0); /* what a killed creator leaves */
    CHECK(!open_lock_held(temp));   /* its lock went with it */
    /* the next opener, within the grace period: keeps it (it could be a creator between its
     * open() and its lock) */
    shmc_config cfg = small();
    shmc_t *c = NULL;
    CHECK_RC(shmc_open(&c, t_path("cache"), &cfg), SHMC_OK);
    shmc_close(c);
    CHECK(access(temp, F_OK) == 0);
    sleep(3);
    CHECK_RC(shmc_open(&c, t_path("cache"), &cfg), SHMC_OK);
    shmc_close(c);
    printf("killed creator's %s: kept within the grace period, removed after it\n",
           strrchr(temp, '/') + 1);
    CHECK(access(temp, F_OK) != 0);
    CHECK(entries() == 1);
}

static void live_creator(void)
{
    char temp[512];
    pid_t pid = stopped_creator(temp, sizeof temp);
    if (pid < 0) return;
    sleep(3); /* older than the grace period, but its creator lives and holds the lock */
    CHECK(open_lock_held(temp));
    shmc_config cfg = small();
    shmc_t *c = NULL;
    CHECK_RC(shmc_open(&c, t_path("cache"), &cfg), SHMC_OK); /* makes the cache itself */
    CHECK(access(temp, F_OK) == 0);                         /* and leaves the creator's */
    kill(pid, SIGCONT);
    int st;
    CHECK(waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0);
    printf("stopped creator's %s kept by another opener; continued, it lost the race and "
           "attached (status %d)\n", strrchr(temp, '/') + 1, WIFEXITED(st) ? WEXITSTATUS(st) : -1);
    CHECK(access(temp, F_OK) != 0); /* removed by its creator */
    CHECK(entries() == 1);
    shmc_close(c);
    expect_value();
}

int main(void)
{
    t_setup("named");
    creation();
    killed_creator();
    live_creator();
    t_check_file(t_path("cache"));
    return t_finish();
}
#else
int main(void)
{
    printf("skipped: the seccomp filter that hides O_TMPFILE is written for x86-64\n");
    return 0;
}
#endif
