/* conn_table.h — this server's open sockets, listeners and connections, for memcached's
 * "stats conns".  One list under one mutex: a connection joins it when made and leaves it
 * before its socket is closed, so a listing from any thread never reads a closed or reused
 * descriptor.  The owning worker publishes only two atomics: the time of its last input and
 * whether it is running a request now. */
#ifndef SHMCD_CONN_TABLE_H
#define SHMCD_CONN_TABLE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "protocol/env.h"

typedef struct conn_entry {
    int fd;
    bool listening;
    _Atomic int64_t last_cmd; /* Unix seconds of the last input (a listener: its start) */
    _Atomic bool busy;        /* running a request now */
    struct conn_entry *prev, *next;
} conn_entry;

void conn_table_join(conn_entry *e, int fd, bool listening);
void conn_table_leave(conn_entry *e);
/* A listening socket, for the life of the process. */
void conn_table_add_listener(int fd);

/* The worker's marks: input came (a coarse clock, read once per event) and busy or not. */
void conn_table_touch(conn_entry *e);
static inline void conn_table_busy(conn_entry *e, bool busy)
{
    atomic_store_explicit(&e->busy, busy, memory_order_relaxed);
}

/* proto_hooks.conns: "<fd>:addr", "<fd>:listen_addr", "<fd>:state", "<fd>:secs_since_last_cmd"
 * for every entry, as memcached 1.6.18 prints them. */
void conn_table_list(void *arg, proto_setting_fn emit, void *ctx);

#endif
