/* worker.h — one worker thread: an epoll loop over the connections it owns.  The listener
 * hands it new sockets through a queue and an eventfd; nothing else crosses threads. */
#ifndef SHMCD_WORKER_H
#define SHMCD_WORKER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "server.h"

struct conn;

typedef struct worker {
    unsigned id;
    server_t *srv;
    pthread_t thread;
    int epfd;
    int evfd;                 /* new sockets queued, or stop */
    pthread_mutex_t lock;     /* guards queue, nqueue, stop */
    struct worker_queued {
        int fd;
        bool plain; /* from a notls: listener */
    } *queue;
    size_t nqueue, qcap;
    bool stop;
    struct conn *conns;       /* every connection this worker owns */
    _Atomic uint64_t bytes_read, bytes_written, conn_structures;
    _Atomic uint64_t conn_yields; /* turns given up at -R requests */
    _Atomic uint64_t idle_kicks;  /* connections closed by -o idle_timeout */
    int64_t last_sweep;           /* when idle connections were last looked for */
} worker_t;

bool worker_start(worker_t *w, server_t *srv, unsigned id);
/* Give a connected socket to the worker (any thread); false if it could not be queued. */
bool worker_hand_over(worker_t *w, int fd, bool plain);
/* Ask the worker to close its connections and exit; then join it. */
void worker_stop(worker_t *w);

/* Register / change a connection's epoll interest (worker thread only). */
bool worker_watch(worker_t *w, struct conn *c, uint32_t events);

#endif
