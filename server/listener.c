/* listener.c — binding, listening and accepting (listener.h).  Over -c connections a new
 * client gets memcached's "ERROR Too many open connections" and is closed at once. */
#include "listener.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "worker.h"

static bool add_fd(listeners_t *ls, int fd, bool plain)
{
    if (ls->n == SHMCD_MAX_LISTENERS) {
        fprintf(stderr, "shmcd: too many listening sockets\n");
        close(fd);
        return false;
    }
    ls->plain[ls->n] = plain;
    ls->fds[ls->n++] = fd;
    return true;
}

/* memcached's reading of an -l entry (server_sockets() in memcached.c) */
bool listener_parse(const char *entry, int dflt, char *host, size_t cap, int *port, bool *plain)
{
    *plain = strncmp(entry, "notls:", 6) == 0;
    if (*plain) entry += 6;
    const char *h = entry, *p = NULL;
    size_t hlen;
    if (*entry == '[') { /* [IPv6]:port, RFC 3986 */
        const char *e = strchr(entry, ']');
        if (!e) {
            fprintf(stderr, "Invalid IPV6 address: \"%s\"\n", entry);
            return false;
        }
        h = entry + 1;
        hlen = (size_t)(e - h);
        p = strchr(e + 1, ':');
    } else {
        const char *colon = strchr(entry, ':');
        /* one colon: host:port; more: a bare IPv6 address without a port */
        if (colon && !strchr(colon + 1, ':')) p = colon;
        hlen = p ? (size_t)(p - entry) : strlen(entry);
    }
    if (hlen + 1 > cap) {
        fprintf(stderr, "shmcd: listen address too long: %s\n", entry);
        return false;
    }
    memcpy(host, h, hlen);
    host[hlen] = '\0';
    *port = dflt;
    if (p) {
        char *end;
        errno = 0;
        long v = strtol(p + 1, &end, 10);
        if (!p[1] || *end || errno || v < 0 || v > 65535) {
            fprintf(stderr, "Invalid port number: \"%s\"\n", p + 1);
            return false;
        }
        *port = (int)v;
    }
    return true;
}

static bool open_tcp(listeners_t *ls, const char *addr, int port, int backlog, bool plain)
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
        ok = add_fd(ls, fd, plain);
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
    return add_fd(ls, fd, true);
}

int listeners_open(listeners_t *ls, const shmcd_options *opt)
{
    memset(ls, 0, sizeof *ls);
    bool ok = true;
    for (size_t i = 0; i < opt->nlisten && ok; i++) {
        char host[256];
        int port;
        bool plain;
        if (!listener_parse(opt->listen[i], opt->port, host, sizeof host, &port, &plain)) {
            fprintf(stderr, "failed to listen on one of interface(s) ");
            for (size_t k = 0; k < opt->nlisten; k++)
                fprintf(stderr, "%s%s", k ? "," : "", opt->listen[k]);
            fprintf(stderr, ": Success\n"); /* memcached's words, errno 0 included */
            listeners_close(ls);
            return 71;
        }
        if (port > 0) ok = open_tcp(ls, host[0] ? host : NULL, port, opt->backlog, plain);
    }
    if (ok && opt->unix_path) ok = open_unix(ls, opt->unix_path, opt->unix_mode, opt->backlog);
    if (!ok) listeners_close(ls);
    return ok ? 0 : 1;
}

void listeners_close(listeners_t *ls)
{
    for (size_t i = 0; i < ls->n; i++) close(ls->fds[i]);
    ls->n = 0;
    if (ls->unix_path) unlink(ls->unix_path);
    ls->unix_path = NULL;
}

void listener_accept(server_t *srv, int lfd, bool plain)
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
        if (!worker_hand_over(w, fd, plain)) {
            close(fd);
            atomic_fetch_sub(&srv->curr_conns, 1);
        }
    }
}
