/* harness.h — starting and stopping a private shmcd for the socket tests, and a small
 * blocking client.  A server gets a free TCP port in 21000..21999 (the next one is tried
 * when bind fails) and/or a UNIX socket in the test's directory, is checked to really be our
 * shmcd (its "version" reply), and is stopped by its PID with SIGTERM; a clean exit (status
 * 0) counts as a passed check.  Header-only, like testutil.h. */
#ifndef SHMC_TEST_HARNESS_H
#define SHMC_TEST_HARNESS_H

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>

#include "../testutil.h"

typedef struct shmcd_proc {
    pid_t pid;
    int port;           /* 0 when TCP is off */
    char unix_path[108]; /* "" when no UNIX socket */
} shmcd_proc;

static inline void h_sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static inline int h_connect_tcp(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        close(fd);
        return -1;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return fd;
}

static inline int h_connect_unix(const char *path)
{
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof sa.sun_path) {
        close(fd);
        return -1;
    }
    memcpy(sa.sun_path, path, strlen(path) + 1);
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* Connect to the server: TCP when it has a port, else its UNIX socket. */
static inline int h_connect(const shmcd_proc *s)
{
    return s->port ? h_connect_tcp(s->port) : h_connect_unix(s->unix_path);
}

static inline bool h_send_all(int fd, const void *buf, size_t n)
{
    const char *p = buf;
    while (n > 0) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return false;
        p += w;
        n -= (size_t)w;
    }
    return true;
}

static inline bool h_send_str(int fd, const char *s)
{
    return h_send_all(fd, s, strlen(s));
}

/* Read until the data received ends with `end` (or holds `want` bytes when end is NULL),
 * the peer closes, or timeout_ms passes without data.  Returns the byte count; *closed
 * tells whether the peer closed.  buf is NUL-terminated (cap includes the NUL). */
static inline size_t h_recv_until(int fd, char *buf, size_t cap, const char *end, size_t want,
                           int timeout_ms, bool *closed)
{
    size_t n = 0, nend = end ? strlen(end) : 0;
    if (closed) *closed = false;
    while (n + 1 < cap) {
        if (end && n >= nend && memcmp(buf + n - nend, end, nend) == 0) break;
        if (!end && want && n >= want) break;
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        int pr = poll(&pfd, 1, timeout_ms);
        if (pr <= 0) break;
        ssize_t r = recv(fd, buf + n, cap - 1 - n, 0);
        if (r <= 0) {
            if (closed) *closed = true;
            break;
        }
        n += (size_t)r;
    }
    buf[n] = 0;
    return n;
}

/* Send `req`, then read until the reply ends with `end` (5 s at most). */
static inline size_t h_roundtrip(int fd, const char *req, size_t nreq, const char *end, char *buf,
                          size_t cap)
{
    if (!h_send_all(fd, req, nreq)) return 0;
    return h_recv_until(fd, buf, cap, end, 0, 5000, NULL);
}

static inline bool h_is_our_server(const shmcd_proc *s)
{
    int fd = h_connect(s);
    if (fd < 0) return false;
    char buf[256];
    size_t n = h_roundtrip(fd, "version\r\n", 9, "\r\n", buf, sizeof buf);
    close(fd);
    return n > 0 && strstr(buf, "VERSION ") == buf && strstr(buf, "shmc") != NULL;
}

/* Start `shmcd` with the given extra arguments (NULL-terminated list; the harness adds -p
 * (when tcp), -l 127.0.0.1, -s (when a socket name is given) and --cache).  Returns false
 * when no server could be started. */
static inline bool h_start_argv(shmcd_proc *s, const char *cache, bool tcp, const char *sock_name,
                         const char *const *extra)
{
    memset(s, 0, sizeof *s);
    if (sock_name && (size_t)snprintf(s->unix_path, sizeof s->unix_path, "%s/%s", t_dir,
                                      sock_name) >= sizeof s->unix_path) {
        fprintf(stderr, "FAIL: socket path too long\n");
        return false;
    }
    int base = 21000 + (int)(getpid() % 1000);
    for (int attempt = 0; attempt < 40; attempt++) {
        int port = tcp ? 21000 + (base - 21000 + attempt * 37) % 1000 : 0;
        char portarg[16], cachearg[400];
        snprintf(portarg, sizeof portarg, "%d", port);
        snprintf(cachearg, sizeof cachearg, "--cache=%s", cache);
        const char *argv[64];
        int a = 0;
        argv[a++] = SHMCD_PATH;
        argv[a++] = cachearg;
        if (tcp) {
            argv[a++] = "-p";
            argv[a++] = portarg;
            argv[a++] = "-l";
            argv[a++] = "127.0.0.1";
        }
        if (sock_name) {
            argv[a++] = "-s";
            argv[a++] = s->unix_path;
        }
        for (int i = 0; extra && extra[i] && a < 62; i++) argv[a++] = extra[i];
        argv[a] = NULL;
        pid_t pid = fork();
        if (pid == 0) {
            execv(SHMCD_PATH, (char *const *)argv);
            _exit(127);
        }
        s->pid = pid;
        s->port = port;
        for (int wait = 0; wait < 1000; wait++) {
            int status;
            if (waitpid(pid, &status, WNOHANG) == pid) {
                s->pid = 0;
                break; /* exited: most likely the port was taken */
            }
            if (h_is_our_server(s)) return true;
            h_sleep_ms(10);
        }
        if (s->pid) {
            kill(s->pid, SIGKILL);
            waitpid(s->pid, NULL, 0);
            s->pid = 0;
        }
        if (!tcp) break;
    }
    fprintf(stderr, "FAIL: could not start %s\n", SHMCD_PATH);
    return false;
}

static inline bool h_start(shmcd_proc *s, const char *cache, bool tcp, const char *sock_name)
{
    return h_start_argv(s, cache, tcp, sock_name, NULL);
}

/* SIGTERM, then wait (10 s at most); a clean exit 0 is a passed check. */
static inline void h_stop(shmcd_proc *s)
{
    if (!s->pid) return;
    kill(s->pid, SIGTERM);
    int status = -1;
    for (int i = 0; i < 1000; i++) {
        if (waitpid(s->pid, &status, WNOHANG) == s->pid) break;
        h_sleep_ms(10);
        status = -1;
    }
    if (status == -1) {
        kill(s->pid, SIGKILL);
        waitpid(s->pid, NULL, 0);
    }
    CHECK(status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 0);
    s->pid = 0;
}

#endif
