/* memcached_ref.h — the reference server of the differential tests: a private memcached
 * (Debian's 1.6.18) on a free port in 21000..21999, started with -m 16 and stopped by its
 * PID (mc_pid); and diff_main, the frame of a test that compares one shmcd with it.
 * Included by one test file each. */
#ifndef SHMC_TEST_MEMCACHED_REF_H
#define SHMC_TEST_MEMCACHED_REF_H

#include "harness.h"

static pid_t mc_pid;
static int mc_port;
/* More memcached flags for the next start (NULL-terminated), e.g. {"-F", NULL}; NULL: none. */
static const char *const *mc_extra;

/* Start memcached on a free port; false when it cannot run here. */
static bool start_memcached(const char *bin)
{
    for (int attempt = 0; attempt < 40; attempt++) {
        int port = 21000 + (int)((getpid() + 500 + attempt * 41) % 1000);
        char portarg[16];
        snprintf(portarg, sizeof portarg, "%d", port);
        pid_t pid = fork();
        if (pid == 0) {
            int devnull = open("/dev/null", O_WRONLY);
            if (devnull >= 0) dup2(devnull, 2);
            const char *argv[40] = {bin, "-p", portarg, "-U", "0", "-l", "127.0.0.1", "-m", "16"};
            int a = 9;
            if (geteuid() == 0) argv[a++] = "-u", argv[a++] = "nobody";
            for (int i = 0; mc_extra && mc_extra[i] && a < 39; i++) argv[a++] = mc_extra[i];
            argv[a] = NULL;
            execv(bin, (char *const *)argv);
            _exit(127);
        }
        for (int wait = 0; wait < 200; wait++) {
            if (waitpid(pid, NULL, WNOHANG) == pid) {
                pid = 0;
                break;
            }
            int fd = h_connect_tcp(port);
            if (fd >= 0) {
                char buf[128];
                size_t n = h_roundtrip(fd, "version\r\n", 9, "\r\n", buf, sizeof buf);
                close(fd);
                if (n && strncmp(buf, "VERSION ", 8) == 0) {
                    mc_pid = pid;
                    mc_port = port;
                    if (strncmp(buf, "VERSION 1.6.18\r\n", 16) != 0) {
                        printf("skipped: %s is %.*s, not memcached 1.6.18\n", bin,
                               (int)(n - 2), buf);
                        return false;
                    }
                    return true;
                }
            }
            h_sleep_ms(10);
        }
        if (pid) {
            kill(pid, SIGKILL);
            waitpid(pid, NULL, 0);
        }
    }
    printf("skipped: could not start %s\n", bin);
    return false;
}

/* Start the reference: $MEMCACHED, else Debian's /usr/bin/memcached.  false, having said why,
 * when it cannot run here (the test is then skipped, exit 77). */
static bool reference_up(void)
{
    const char *bin = getenv("MEMCACHED");
    if (!bin) bin = "/usr/bin/memcached";
    if (access(bin, X_OK) != 0) {
        printf("skipped: %s not found (Debian's memcached package is the reference)\n", bin);
        return false;
    }
    if (start_memcached(bin)) return true;
    if (mc_pid) {
        kill(mc_pid, SIGTERM);
        waitpid(mc_pid, NULL, 0);
    }
    return false;
}

static void reference_down(void)
{
    kill(mc_pid, SIGTERM);
    waitpid(mc_pid, NULL, 0);
}

/* A differential test's main, around its body: the suite's directory, the reference, and one
 * shmcd on a free port with the cache <test dir>/cache and the flags in extra (NULL: none).
 * body runs with both up; then shmcd is stopped (its clean exit is a check), its cache file
 * checked (with check_file: one check more), `after` run (when not NULL: checks that start
 * servers of their own, which could otherwise find this one on their port) and the reference
 * stopped.  Returns main's exit status: 77, the test skipped, when memcached 1.6.18 cannot
 * run here (the reason printed). */
static inline int diff_main(const char *suite, const char *const *extra, bool check_file,
                            void (*body)(const shmcd_proc *s), void (*after)(void))
{
    t_setup(suite);
    if (!reference_up()) {
        t_finish();
        return 77;
    }
    shmcd_proc s;
    if (!h_start_argv(&s, t_path("cache"), true, NULL, extra)) {
        t_failed++;
    } else {
        body(&s);
        h_stop(&s);
        if (check_file) t_check_file(t_path("cache"));
        if (after) after();
    }
    reference_down();
    return t_finish();
}

#endif
