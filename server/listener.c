/* listener.c — binding, listening and accepting (listener.h).  Over -c connections a new
 * client gets memcached's "ERROR Too many open connections" and is closed at once. */
#include "listener.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "worker.h"

static bool add_fd(listeners_t *ls, int fd)
{
    if (ls->n == SHMCD_MAX_LISTENERS) {
        fprintf(stderr, "shmcd: too many listening sockets\n");
        close(fd);
        return false;
    }
    ls->fds[ls->n++] = fd;
    return true;
}

static bool open_tcp(listeners_t *ls, const char *addr, int port, int backlog)
{
    char service[16];
    snprintf(service, sizeof service, "%d", port);
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
    struct addrinfo *res;
    int gai = getaddrinfo(addr, service, &hints, &res);
    if (gai != 0) {
        fprintf(stderr, "shmcd: cannot resolve listen address '%s': %s\n", addr,
                gai_strerror(gai));
        return false;
    }
    bool ok = true;
    for (struct addrinfo *ai = res; ai && ok; ai = ai->ai_next) {
        int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
                        ai->ai_protocol);
        if (fd < 0) {
            fprintf(stderr, "shmcd: socket: %s\n", strerror(errno));
            ok = false;
            break;
        }
        int one = 1;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (ai->ai_family == AF_INET6) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
        if (bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 || listen(fd, backlog) != 0) {
            fprintf(stderr, "shmcd: cannot listen on %s port %d: %s\n", addr, port,
                    strerror(errno));
            close(fd);
            ok = false;
            break;
        }
        ok = add_fd(ls, fd);
    }
    freeaddrinfo(res);
    return ok;
}

/* A socket file left by a process that is gone is replaced; a live one is an error. */
static bool clear_stale_socket(const char *path)
{
    struct stat st;
    if (lstat(path, &st) != 0) return true;
    if (!S_ISSOCK(st.st_mode)) {
        fprintf(stderr, "shmcd: %s exists and is not a socket\n", path);
        return false;
    }
    int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    snprintf(sa.sun_path, sizeof sa.sun_path, "%s", path);
    bool live = probe >= 0 && connect(probe, (struct sockaddr *)&sa, sizeof sa) == 0;
    if (probe >= 0) close(probe);
    if (live) {
        fprintf(stderr, "shmcd: %s is in use by a running server\n", path);
        return false;
    }
    unlink(path);
    return true;
}

static bool open_unix(listeners_t *ls, const char *path, unsigned mode, int backlog)
{
    if (!clear_stale_socket(path)) return false;
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        fprintf(stderr, "shmcd: socket: %s\n", strerror(errno));
        return false;
    }
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    snprintf(sa.sun_path, sizeof sa.sun_path, "%s", path);
    /* create the socket file with no access, then open it up to exactly `mode` */
    mode_t old = umask(0777);
    int rc = bind(fd, (struct sockaddr *)&sa, sizeof sa);
    umask(old);
    if (rc != 0 || chmod(path, (mode_t)mode) != 0 || listen(fd, backlog) != 0) {
        fprintf(stderr, "shmcd: cannot listen on UNIX socket %s: %s\n", path, strerror(errno));
        close(fd);
        return false;
    }
    ls->unix_path = path;
    return add_fd(ls, fd);
}

bool listeners_open(listeners_t *ls, const shmcd_options *opt)
{
    memset(ls, 0, sizeof *ls);
    bool ok = true;
    if (opt->port > 0)
        for (size_t i = 0; i < opt->nlisten && ok; i++)
            ok = open_tcp(ls, opt->listen[i], opt->port, opt->backlog);
    if (ok && opt->unix_path) ok = open_unix(ls, opt->unix_path, opt->unix_mode, opt->backlog);
    if (!ok) listeners_close(ls);
    return ok;
}

void listeners_close(listeners_t *ls)
{
    for (size_t i = 0; i < ls->n; i++) close(ls->fds[i]);
    ls->n = 0;
    if (ls->unix_path) unlink(ls->unix_path);
    ls->unix_path = NULL;
}

void listener_accept(server_t *srv, int lfd)
{
    static const char too_many[] = "ERROR Too many open connections\r\n";
    static unsigned next_worker;
    for (;;) {
        struct sockaddr_storage sa;
        socklen_t salen = sizeof sa;
        int fd = accept4(lfd, (struct sockaddr *)&sa, &salen, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED) continue;
            if (errno != EAGAIN && errno != EWOULDBLOCK)
                server_log(srv, 1, "shmcd: accept: %s", strerror(errno));
            return;
        }
        if (atomic_fetch_add(&srv->curr_conns, 1) >= srv->opt.max_conns) {
            atomic_fetch_sub(&srv->curr_conns, 1);
            atomic_fetch_add(&srv->rejected_conns, 1);
            ssize_t w = send(fd, too_many, sizeof too_many - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
            (void)w;
            close(fd);
            continue;
        }
        atomic_fetch_add(&srv->total_conns, 1);
        if (sa.ss_family == AF_INET || sa.ss_family == AF_INET6) {
            int one = 1;
            setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        }
        worker_t *w = &srv->workers[next_worker++ % srv->nworkers];
        if (!worker_hand_over(w, fd)) {
            close(fd);
            atomic_fetch_sub(&srv->curr_conns, 1);
        }
    }
}
