/* connection.h — one client connection: its input buffer, its reply buffer and the state
 * machine that frames requests (protocol/frame.h), runs them (protocol/exec.h) and applies
 * the limits that keep a slow or hostile client from costing unbounded memory or time. */
#ifndef SHMCD_CONNECTION_H
#define SHMCD_CONNECTION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "auth.h"
#include "protocol/binary.h"
#include "conn_table.h"
#include "protocol/outbuf.h"
#include "protocol/request.h"

struct worker;
struct tls_conn;

typedef enum conn_state {
    CONN_READ_CMD,      /* expecting a command line (and maybe its data block) */
    CONN_SWALLOW,       /* discarding a refused data block */
    CONN_STREAM_KEYS,   /* a multi-get line longer than the line limit: keys as they come */
    CONN_DISCARD_LINE,  /* discarding the rest of a refused long line */
    CONN_PAUSED,        /* a retrieval waits for its replies to drain */
} conn_state;

typedef struct conn {
    int fd;
    struct worker *worker;
    struct conn *prev, *next; /* the worker's list */
    conn_state state;
    bool closing;             /* close once `out` is sent */
    bool dead;                /* close now */
    bool blocked;             /* requests wait in rbuf for replies to drain (high-water) */
    unsigned batch_reqs;      /* requests read since the input last ran out */
    bool start_watch;         /* a watch was accepted: begin_watch() at the end of the turn */
    struct proto_watcher *watcher; /* watching: the log stream (protocol/watch.h) */
    bool yielded;             /* this turn ran -R requests: the rest waits for the next */
    unsigned turn_reqs;       /* requests run in this turn */
    int64_t last_active;      /* monotonic seconds of its last input (-o idle_timeout) */
    uint32_t events;          /* epoll interest now registered */
    char *rbuf;               /* unconsumed input is rbuf[rpos..rlen) */
    size_t rpos, rlen, rcap;
    size_t want;              /* bytes needed at rpos before the line is parsed again */
    uint64_t swallow;         /* bytes of a refused data block still to discard */
    size_t held;              /* reply bytes ending `out` that wait for that block's end */
    size_t resume_consume;    /* input bytes to consume when a paused retrieval finishes */
    conn_state resume_state;  /* state to return to then */
    proto_out out;
    proto_request req;        /* the paused or streamed retrieval */
    struct tls_conn *tls;     /* TLS session (tls.h), or NULL: plain read/send */
    auth_session auth;        /* -Y: where the connection is in authenticating */
    int protocol;             /* SHMCD_PROTO_*: AUTO until the first byte decides */
    proto_bin_session bin;    /* the binary protocol's state */
    conn_entry entry;         /* its row in "stats conns" */
} conn_t;

/* plain: from a notls: listener, no TLS even under -Z */
conn_t *conn_new(struct worker *w, int fd, bool plain);
void conn_free(conn_t *c);

/* Whether the connection waits for a new request with nothing unsent (-o idle_timeout closes
 * only such a connection, as memcached kicks only one waiting for a command). */
bool conn_idle(const conn_t *c);

/* Monotonic seconds. */
int64_t conn_now(void);

/* Handle epoll events; returns false when the connection is to be closed. */
bool conn_on_events(conn_t *c, uint32_t events);

#endif
