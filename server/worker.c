/* worker.c — a worker thread's epoll loop (worker.h).  Level-triggered: a connection that
 * still has input or output is reported again, so one busy client cannot starve others (each
 * gets a bounded turn in conn_on_events). */
#include "worker.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "connection.h"

#define EVENTS_PER_WAIT 256

bool worker_watch(worker_t *w, conn_t *c, uint32_t events)
{
    if (c->events == events) return true;
    struct epoll_event ev = {.events = events, .data.ptr = c};
    int op = c->events == 0 ? EPOLL_CTL_ADD : EPOLL_CTL_MOD;
    if (epoll_ctl(w->epfd, op, c->fd, &ev) != 0) return false;
    c->events = events;
    return true;
}

static void close_conn(worker_t *w, conn_t *c)
{
    if (c->prev) c->prev->next = c->next;
    else w->conns = c->next;
    if (c->next) c->next->prev = c->prev;
    server_log(w->srv, 2, "<%d connection closed", c->fd);
    conn_free(c); /* closing the fd also removes it from the epoll set */
    atomic_fetch_sub(&w->conn_structures, 1);
    atomic_fetch_sub(&w->srv->curr_conns, 1);
}

static void adopt(worker_t *w, int fd, bool plain)
{
    conn_t *c = conn_new(w, fd, plain);
    if (!c || !worker_watch(w, c, EPOLLIN)) {
        if (c) conn_free(c);
        else close(fd);
        atomic_fetch_sub(&w->srv->curr_conns, 1);
        return;
    }
    c->next = w->conns;
    if (w->conns) w->conns->prev = c;
    w->conns = c;
    atomic_fetch_add(&w->conn_structures, 1);
    server_log(w->srv, 2, "<%d new connection (worker %u)", fd, w->id);
}

/* Take the queued sockets; true when asked to stop. */
static bool drain_queue(worker_t *w)
{
    uint64_t tick;
    if (read(w->evfd, &tick, sizeof tick) < 0 && errno != EAGAIN) return false;
    pthread_mutex_lock(&w->lock);
    struct worker_queued *fds = w->queue;
    size_t n = w->nqueue;
    bool stop = w->stop;
    w->queue = NULL;
    w->nqueue = w->qcap = 0;
    pthread_mutex_unlock(&w->lock);
    for (size_t i = 0; i < n; i++) {
        if (stop) {
            close(fds[i].fd);
            atomic_fetch_sub(&w->srv->curr_conns, 1);
        } else {
            adopt(w, fds[i].fd, fds[i].plain);
        }
    }
    free(fds);
    return stop;
}

/* -o idle_timeout: close the connections that waited for a request longer than it, as
 * memcached's connection timeout thread does (once a second; silently; idle_kicks). */
static void kick_idle(worker_t *w)
{
    unsigned timeout = w->srv->opt.idle_timeout;
    int64_t now = conn_now();
    if (!timeout || now == w->last_sweep) return;
    w->last_sweep = now;
    for (conn_t *c = w->conns, *next; c; c = next) {
        next = c->next;
        if (conn_idle(c) && now - c->last_active > (int64_t)timeout) {
            server_log(w->srv, 2, "<%d idle for %u s: closing", c->fd, timeout);
            atomic_fetch_add_explicit(&w->idle_kicks, 1, memory_order_relaxed); /* before the
                                                                     client can see the close */
            close_conn(w, c);
        }
    }
}

static void *worker_main(void *arg)
{
    worker_t *w = arg;
    struct epoll_event events[EVENTS_PER_WAIT];
    int wait_ms = w->srv->opt.idle_timeout ? 1000 : -1;
    for (;;) {
        kick_idle(w);
        int n = epoll_wait(w->epfd, events, EVENTS_PER_WAIT, wait_ms);
        if (n < 0) {
            if (errno == EINTR) continue;
            server_log(w->srv, 0, "shmcd: worker %u: epoll_wait: %s", w->id, strerror(errno));
            break;
        }
        for (int i = 0; i < n; i++) {
            conn_t *c = events[i].data.ptr;
            if (!c) {
                if (drain_queue(w)) goto stop;
                continue;
            }
            if (!conn_on_events(c, events[i].events)) close_conn(w, c);
        }
    }
stop:
    while (w->conns) close_conn(w, w->conns);
    return NULL;
}

bool worker_start(worker_t *w, server_t *srv, unsigned id)
{
    memset(w, 0, sizeof *w);
    w->id = id;
    w->srv = srv;
    w->epfd = epoll_create1(EPOLL_CLOEXEC);
    w->evfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (w->epfd < 0 || w->evfd < 0) goto fail;
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};
    if (epoll_ctl(w->epfd, EPOLL_CTL_ADD, w->evfd, &ev) != 0) goto fail;
    pthread_mutex_init(&w->lock, NULL);
    if (pthread_create(&w->thread, NULL, worker_main, w) != 0) {
        pthread_mutex_destroy(&w->lock);
        goto fail;
    }
    return true;
fail:
    if (w->epfd >= 0) close(w->epfd);
    if (w->evfd >= 0) close(w->evfd);
    w->epfd = w->evfd = -1;
    return false;
}

static void wake(worker_t *w)
{
    uint64_t one = 1;
    ssize_t r = write(w->evfd, &one, sizeof one);
    (void)r; /* EAGAIN: the counter is already non-zero, so the worker wakes anyway */
}

bool worker_hand_over(worker_t *w, int fd, bool plain)
{
    pthread_mutex_lock(&w->lock);
    if (w->nqueue == w->qcap) {
        size_t cap = w->qcap ? w->qcap * 2 : 16;
        struct worker_queued *q = realloc(w->queue, cap * sizeof *q);
        if (!q) {
            pthread_mutex_unlock(&w->lock);
            return false;
        }
        w->queue = q;
        w->qcap = cap;
    }
    w->queue[w->nqueue++] = (struct worker_queued){fd, plain};
    pthread_mutex_unlock(&w->lock);
    wake(w);
    return true;
}

void worker_stop(worker_t *w)
{
    pthread_mutex_lock(&w->lock);
    w->stop = true;
    pthread_mutex_unlock(&w->lock);
    wake(w);
    pthread_join(w->thread, NULL);
    pthread_mutex_destroy(&w->lock);
    free(w->queue);
    close(w->epfd);
    close(w->evfd);
}
