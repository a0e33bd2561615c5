/* listener.h — listening sockets (TCP on each -l address, and the -s UNIX socket) and the
 * accept step that enforces -c and hands each connection to a worker in turn. */
#ifndef SHMCD_LISTENER_H
#define SHMCD_LISTENER_H

#include <stdbool.h>
#include <stddef.h>

#include "server.h"

#define SHMCD_MAX_LISTENERS 32

typedef struct listeners {
    int fds[SHMCD_MAX_LISTENERS];
    size_t n;
    const char *unix_path; /* removed again at shutdown */
} listeners_t;

/* Open every socket the options ask for; on failure print why and return false (all that
 * were opened are closed again). */
bool listeners_open(listeners_t *ls, const shmcd_options *opt);
void listeners_close(listeners_t *ls);

/* Accept every pending connection on fd and give each to the next worker. */
void listener_accept(server_t *srv, int fd);

#endif
