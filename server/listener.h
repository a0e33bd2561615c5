/* listener.h — listening sockets (TCP on each -l address, and the -s UNIX socket) and the
 * accept step that enforces -c and hands each connection to a worker in turn.  A -l entry is
 * memcached's: [notls:]ADDR[:PORT] or [notls:][IPV6][:PORT], -p's port where none is given;
 * notls: makes that listener plain TCP under -Z. */
#ifndef SHMCD_LISTENER_H
#define SHMCD_LISTENER_H

#include <stdbool.h>
#include <stddef.h>

#include "server.h"

#define SHMCD_MAX_LISTENERS 32

typedef struct listeners {
    int fds[SHMCD_MAX_LISTENERS];
    bool plain[SHMCD_MAX_LISTENERS]; /* notls: no TLS on its connections, whatever -Z says */
    size_t n;
    const char *unix_path; /* removed again at shutdown */
} listeners_t;

/* Open every socket the options ask for: 0; on failure print why and return the exit status
 * (71, memcached's, for an -l entry it cannot read; else 1), all that were opened closed. */
int listeners_open(listeners_t *ls, const shmcd_options *opt);
void listeners_close(listeners_t *ls);

/* Split one -l entry into its host (a copy in host, cap bytes), port (-p's `dflt` when it has
 * none) and notls: prefix; false after printing memcached's message. */
bool listener_parse(const char *entry, int dflt, char *host, size_t cap, int *port, bool *plain);

/* Accept every pending connection on fd and give each to the next worker (plain: notls). */
void listener_accept(server_t *srv, int fd, bool plain);

#endif
