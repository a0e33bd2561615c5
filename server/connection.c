/* connection.c — one client connection's state machine (connection.h).
 *
 * Input is read into rbuf and consumed request by request: a command line, then (for
 * storage commands) its data block, which stays in rbuf so the value reaches libshmc without
 * a copy.  Limits, each answered the way memcached answers it:
 *  - a line with no '\n' in PROTO_LINE_MAX bytes: closed without a reply; a long get/gets
 *    line is instead streamed key by key, never buffered whole;
 *  - a data block longer than the cache's item limit is refused from its length alone and
 *    discarded as it arrives (a "2 GB" length costs no memory);
 *  - replies waiting unsent above the high-water mark stop both reading and running
 *    retrievals (the socket's EPOLLIN interest is dropped), so a client that never reads
 *    holds at most that much plus one value.
 * Input buffers are held only while input waits in them (freed once consumed, as memcached
 * releases a connection's read buffer), and -o read_buf_mem_limit caps the bytes all
 * connections hold: a connection that would take a buffer past it is closed without a
 * reply, one whose buffer would grow past it gets "SERVER_ERROR out of memory reading
 * request" and is closed, as memcached does (counted in read_buf_oom).
 * Pipelined requests are all answered with one send() when the batch is done.  As memcached,
 * a connection runs at most -R requests per turn (plus, in a turn that read, the one that
 * finds the budget spent), then yields (stats: conn_yields, counted even when no input is
 * left, as memcached counts it) and asks for EPOLLOUT, which fires at once, to go on. */
#include "connection.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "protocol/command.h"
#include "protocol/frame.h"
#include "tls.h"
#include "worker.h"

#define RBUF_INITIAL 16384    /* first input buffer */
#define OUT_KEEP 65536        /* larger reply buffers are freed once sent */
#define READ_MIN_ROOM 4096    /* compact the input buffer when less room is left */
#define READS_PER_EVENT 8     /* full reads before other connections get a turn */

static void rbuf_release(conn_t *c);

conn_t *conn_new(struct worker *w, int fd, bool plain)
{
    conn_t *c = calloc(1, sizeof *c);
    if (!c) {
        atomic_fetch_add_explicit(&w->srv->malloc_fails, 1, memory_order_relaxed);
        return NULL;
    }
    c->fd = fd;
    c->bin.cfd = fd;
    c->worker = w;
    c->state = CONN_READ_CMD;
    c->last_active = conn_now();
    c->auth.authenticated = w->srv->auth == NULL;
    c->protocol = w->srv->opt.protocol;
    if (w->srv->opt.sasl) {
        c->bin.sasl = &shmcd_sasl_ops;
        if (!(c->bin.sasl_conn = shmcd_sasl_conn_new(&w->srv->sasl))) {
            free(c);
            return NULL;
        }
    }
    conn_table_join(&c->entry, fd, false);
    if (w->srv->tls && !plain && tls_wanted(fd) && !(c->tls = tls_conn_new(w->srv->tls, fd))) {
        shmcd_sasl_conn_free(c->bin.sasl_conn);
        conn_table_leave(&c->entry);
        free(c);
        return NULL;
    }
    return c;
}

void conn_free(conn_t *c)
{
    if (!c) return;
    if (c->watcher) proto_watch_remove(&c->worker->srv->env.watch, c->watcher); /* before close */
    conn_table_leave(&c->entry); /* before the descriptor can be reused */
    tls_conn_free(c->tls);
    shmcd_sasl_conn_free(c->bin.sasl_conn);
    close(c->fd);
    rbuf_release(c);
    proto_out_free(&c->out);
    free(c);
}

static proto_env *env_of(conn_t *c)
{
    return &c->worker->srv->env;
}

/* Count `add` more bytes of read buffer for the server; false when that would pass -o
 * read_buf_mem_limit (0: no limit). */
static bool rbuf_charge(server_t *srv, size_t add)
{
    uint64_t limit = (uint64_t)srv->opt.read_buf_mem_limit_mb << 20;
    if (!limit) {
        atomic_fetch_add_explicit(&srv->rbuf_bytes, add, memory_order_relaxed);
        return true;
    }
    uint64_t held = atomic_load_explicit(&srv->rbuf_bytes, memory_order_relaxed);
    do {
        if (held + add > limit) return false;
    } while (!atomic_compare_exchange_weak_explicit(&srv->rbuf_bytes, &held, held + add,
                                                    memory_order_relaxed, memory_order_relaxed));
    return true;
}

/* Free the input buffer (nothing waits in it). */
static void rbuf_release(conn_t *c)
{
    if (!c->rbuf) return;
    server_t *srv = c->worker->srv;
    atomic_fetch_sub_explicit(&srv->rbuf_bytes, c->rcap, memory_order_relaxed);
    atomic_fetch_sub_explicit(&srv->rbuf_count, 1, memory_order_relaxed);
    free(c->rbuf);
    c->rbuf = NULL;
    c->rcap = c->rpos = c->rlen = 0;
}

/* Make rbuf able to hold `need` bytes from rpos (moving them to the front).  false when it
 * cannot, having marked the connection: past -o read_buf_mem_limit, a connection with no
 * buffer yet is closed silently and one whose buffer would grow is told so first (memcached's
 * two cases); out of memory, closed. */
static bool rbuf_fit(conn_t *c, size_t need)
{
    if (c->rpos > 0) {
        memmove(c->rbuf, c->rbuf + c->rpos, c->rlen - c->rpos);
        c->rlen -= c->rpos;
        c->rpos = 0;
    }
    if (c->rcap >= need) return true;
    size_t cap = c->rcap ? c->rcap : RBUF_INITIAL;
    while (cap < need) cap *= 2;
    server_t *srv = c->worker->srv;
    if (!rbuf_charge(srv, cap - c->rcap)) {
        atomic_fetch_add_explicit(&srv->read_buf_oom, 1, memory_order_relaxed);
        if (c->rcap == 0) {
            c->dead = true;
        } else {
            proto_out_line(&c->out, "SERVER_ERROR out of memory reading request");
            c->rpos = c->rlen;
            c->closing = true;
        }
        return false;
    }
    char *b = realloc(c->rbuf, cap);
    if (!b) {
        atomic_fetch_add_explicit(&srv->malloc_fails, 1, memory_order_relaxed);
        atomic_fetch_sub_explicit(&srv->rbuf_bytes, cap - c->rcap, memory_order_relaxed);
        c->dead = true;
        return false;
    }
    if (!c->rbuf) atomic_fetch_add_explicit(&srv->rbuf_count, 1, memory_order_relaxed);
    c->rbuf = b;
    c->rcap = cap;
    return true;
}

/* Read once.  Returns bytes read, 0 at end of stream, -1 with errno; *full when the read
 * filled all the room it had (more is probably waiting). */
static ssize_t conn_read(conn_t *c, bool *full)
{
    *full = false;
    if (c->rpos == c->rlen) c->rpos = c->rlen = 0;
    if (c->rcap - c->rlen < READ_MIN_ROOM && !rbuf_fit(c, c->rlen - c->rpos + READ_MIN_ROOM)) {
        errno = ENOBUFS; /* the connection is marked dead or closing */
        return -1;
    }
    size_t room = c->rcap - c->rlen;
    ssize_t n = c->tls ? tls_read(c->tls, c->rbuf + c->rlen, room)
                       : read(c->fd, c->rbuf + c->rlen, room);
    if (n > 0) {
        c->last_active = conn_now();
        c->rlen += (size_t)n;
        *full = (size_t)n == room;
        atomic_fetch_add_explicit(&c->worker->bytes_read, (uint64_t)n, memory_order_relaxed);
    }
    return n;
}

/* The input waiting at rpos ("" when the connection holds no buffer). */
static const char *rdata(const conn_t *c)
{
    return c->rbuf ? c->rbuf + c->rpos : "";
}

/* Run the retrieval in c->req; `consumed` input bytes belong to it. */
static void start_retrieval(conn_t *c, size_t consumed, conn_state next)
{
    c->req.cfd = c->fd;
    proto_status st = proto_execute(env_of(c), &c->req, NULL, &c->out);
    if (c->req.cmd == PROTO_ERROR && c->req.partial) next = CONN_DISCARD_LINE;
    if (st == PROTO_PAUSED) {
        c->state = CONN_PAUSED;
        c->resume_consume = consumed;
        c->resume_state = next;
        return;
    }
    c->rpos += consumed;
    c->state = next;
    if (st == PROTO_CLOSE) c->dead = true;
}

/* CONN_READ_CMD: one request; false when more input is needed first. */
static bool read_cmd(conn_t *c)
{
    proto_env *env = env_of(c);
    const char *p = rdata(c);
    size_t avail = c->rlen - c->rpos;
    if (avail == 0) c->batch_reqs = 0;
    if (avail == 0 || avail < c->want) return false;
    size_t line_len, consumed;
    switch (proto_frame_line(p, avail, &line_len, &consumed)) {
    case PROTO_FRAME_NEED_MORE:
        c->batch_reqs = 0; /* memcached sends the batch's replies when its input runs out */
        return false;
    case PROTO_FRAME_TOO_LONG: /* as memcached: closed without a reply */
        c->closing = true;
        return false;
    case PROTO_FRAME_LONG_GET: {
        size_t keys_off;
        if (!proto_parse_get_prefix(p, avail, &c->req, &keys_off)) {
            if (c->req.cmd == PROTO_ERROR) {
                proto_out_line(&c->out, c->req.error);
                c->state = CONN_DISCARD_LINE;
                return true;
            }
            c->closing = true;
            return false;
        }
        c->rpos += keys_off;
        c->state = CONN_STREAM_KEYS;
        return true;
    }
    case PROTO_FRAME_LINE:
        break;
    }

    proto_request *req = &c->req;
    if (atomic_load_explicit(&c->worker->srv->verbosity, memory_order_relaxed) >= 3)
        server_log(c->worker->srv, 3, "<%d %.*s", c->fd, (int)(line_len > 200 ? 200 : line_len), p);
    proto_parse(p, line_len, req);
    req->cfd = c->fd;
    req->pipelined = c->batch_reqs++ > 0;
    switch (req->cmd) { /* memcached sends the replies so far after these: nothing waits */
    case PROTO_GET: case PROTO_GETS: case PROTO_GAT: case PROTO_GATS: case PROTO_MN:
        c->batch_reqs = 0;
        break;
    default: break;
    }
    if (req->has_value) {
        if (proto_value_refused(env, req)) { /* answered, as memcached, after the block */
            size_t before = c->out.len;
            proto_execute(env, req, NULL, &c->out);
            c->held = c->out.len - before;
            c->rpos += consumed;
            c->want = 0;
            c->swallow = (uint64_t)req->vlen + 2;
            c->state = CONN_SWALLOW;
            return true;
        }
        size_t need = consumed + req->vlen + 2;
        if (avail < need) {
            c->want = need;
            rbuf_fit(c, need);
            return false;
        }
        c->want = 0;
        proto_status st = proto_execute(env, req, p + consumed, &c->out);
        c->rpos += need;
        if (st == PROTO_CLOSE) c->closing = true;
        return true;
    }
    if (proto_cmd_kind(req->cmd) == PROTO_KIND_RETRIEVAL) {
        start_retrieval(c, consumed, CONN_READ_CMD);
        return true;
    }
    proto_status st = proto_execute(env, req, NULL, &c->out);
    c->rpos += consumed;
    if (req->watching) { /* the rest of the input is ignored, as memcached's conn_watch does */
        c->start_watch = true;
        return false;
    }
    if (st == PROTO_CLOSE) {
        c->closing = true;
        return false;
    }
    return true;
}

/* CONN_STREAM_KEYS: the keys of a long multi-get, in chunks of whole keys. */
static bool stream_keys(conn_t *c)
{
    const char *p = rdata(c);
    size_t avail = c->rlen - c->rpos;
    proto_request *req = &c->req;
    const char *nl = memchr(p, '\n', avail);
    if (nl) {
        size_t len = (size_t)(nl - p);
        if (len > 0 && p[len - 1] == '\r') len--;
        req->keys = p;
        req->keys_len = len;
        req->key_pos = 0;
        req->partial = false;
        req->cfd = c->fd;
        start_retrieval(c, (size_t)(nl - p) + 1, CONN_READ_CMD);
        return true;
    }
    size_t whole = proto_whole_keys_len(p, avail);
    if (avail - whole > PROTO_KEY_MAX) {
        proto_out_line(&c->out, "CLIENT_ERROR bad command line format");
        c->state = CONN_DISCARD_LINE;
        return true;
    }
    if (whole == 0) return false;
    req->keys = p;
    req->keys_len = whole;
    req->key_pos = 0;
    req->partial = true;
    start_retrieval(c, whole, CONN_STREAM_KEYS);
    return true;
}

/* A binary-protocol connection: the requests at rpos (protocol/binary.h); false when more
 * input is needed first. */
static bool binary_step(conn_t *c)
{
    size_t used, need;
    proto_status st = proto_bin_execute(env_of(c), &c->bin, rdata(c), c->rlen - c->rpos,
                                        &used, &need, &c->out);
    c->rpos += used;
    if (st == PROTO_CLOSE) {
        c->closing = true;
        return false;
    }
    if (used == 0 && need > c->rcap) rbuf_fit(c, need);
    return used > 0;
}

/* Before -Y authentication: the exchange of auth.h; false when more input is needed. */
static bool auth_step(conn_t *c)
{
    size_t n;
    switch (auth_consume(c->worker->srv->auth, &c->auth, rdata(c), c->rlen - c->rpos,
                         &c->out, &n)) {
    case AUTH_CONSUMED:
        c->rpos += n;
        return true;
    case AUTH_CLOSE:
        c->dead = true;
        return false;
    case AUTH_NEED_MORE:
        break;
    }
    return false;
}

/* Run every complete request in the input, as far as the reply high-water mark allows. */
static void conn_process(conn_t *c)
{
    proto_env *env = env_of(c);
    while (!c->closing && !c->dead && !c->start_watch) {
        if (c->out.failed) { /* a reply could not be allocated */
            atomic_fetch_add_explicit(&c->worker->srv->malloc_fails, 1, memory_order_relaxed);
            c->dead = true;
            return;
        }
        c->blocked = proto_out_pending(&c->out) > env->out_high_water;
        if (c->blocked) return;
        const char *p = rdata(c);
        size_t avail = c->rlen - c->rpos;
        switch (c->state) {
        case CONN_PAUSED: {
            proto_status st = proto_resume(env, &c->req, &c->out);
            if (st == PROTO_PAUSED) continue;
            c->rpos += c->resume_consume;
            c->state = c->resume_state;
            if (c->req.cmd == PROTO_ERROR && c->req.partial) c->state = CONN_DISCARD_LINE;
            if (st == PROTO_CLOSE) c->dead = true;
            continue;
        }
        case CONN_SWALLOW: {
            size_t n = avail < c->swallow ? avail : (size_t)c->swallow;
            c->rpos += n;
            c->swallow -= n;
            if (c->swallow) return;
            c->held = 0;
            c->state = CONN_READ_CMD;
            continue;
        }
        case CONN_DISCARD_LINE: {
            const char *nl = avail ? memchr(p, '\n', avail) : NULL;
            if (!nl) {
                c->rpos = c->rlen;
                return;
            }
            c->rpos += (size_t)(nl - p) + 1;
            c->state = CONN_READ_CMD;
            continue;
        }
        case CONN_STREAM_KEYS:
            if (!stream_keys(c)) return;
            continue;
        case CONN_READ_CMD:
            if (c->protocol == SHMCD_PROTO_AUTO && avail) /* memcached's negotiation */
                c->protocol = (unsigned char)p[0] == PROTO_BIN_REQ ? SHMCD_PROTO_BINARY
                                                                  : SHMCD_PROTO_ASCII;
            if (c->protocol == SHMCD_PROTO_BINARY) {
                if (!binary_step(c)) return;
                continue;
            }
            if (!c->auth.authenticated) {
                if (!auth_step(c)) return;
                continue;
            }
            if (!read_cmd(c)) return;
            if (++c->turn_reqs > c->worker->srv->opt.reqs_per_event) {
                c->yielded = true;
                atomic_fetch_add_explicit(&c->worker->conn_yields, 1, memory_order_relaxed);
                return;
            }
            continue;
        }
    }
}

/* Reply bytes that may be sent now. */
static size_t sendable(const conn_t *c)
{
    return proto_out_pending(&c->out) - c->held;
}

/* Send what waits; false when the peer is gone. */
static bool conn_flush(conn_t *c)
{
    while (sendable(c) > 0) {
        const char *p = c->out.buf + c->out.sent;
        ssize_t n = c->tls ? tls_write(c->tls, p, sendable(c))
                           : send(c->fd, p, sendable(c), MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n > 0) {
            atomic_fetch_add_explicit(&c->worker->bytes_written, (uint64_t)n,
                                      memory_order_relaxed);
            proto_out_consumed(&c->out, (size_t)n);
            continue;
        }
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return true;
        return false;
    }
    proto_out_trim(&c->out, OUT_KEEP);
    if (c->rpos == c->rlen && c->state != CONN_PAUSED) rbuf_release(c);
    return true;
}

int64_t conn_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    return (int64_t)ts.tv_sec;
}

bool conn_idle(const conn_t *c)
{
    return !c->watcher && c->state == CONN_READ_CMD && c->rpos == c->rlen && proto_out_pending(&c->out) == 0 &&
           !c->closing;
}

/* The watch hook (protocol/watch.h): called by any worker, under the watchers' lock. */
static long watch_write(void *ctx, const char *p, size_t n)
{
    conn_t *c = ctx;
    for (;;) {
        ssize_t k = send(c->fd, p, n, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (k >= 0) {
            atomic_fetch_add_explicit(&c->worker->bytes_written, (uint64_t)k,
                                      memory_order_relaxed);
            return (long)k;
        }
        if (errno == EINTR) continue;
        return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -1;
    }
}

/* `watch` was accepted: the connection becomes a log stream.  Edge-triggered, so that a
 * stream that fills its socket wakes this worker once it drains. */
static bool begin_watch(conn_t *c)
{
    proto_env *env = env_of(c);
    c->start_watch = false;
    if (c->tls) { /* another worker writes the stream: TLS sessions are not shared */
        proto_out_line(&c->out, "SERVER_ERROR watch is not available over TLS");
        return conn_flush(c) && worker_watch(c->worker, c, EPOLLIN | EPOLLOUT);
    }
    proto_out_line(&c->out, "OK");
    c->watcher = proto_watch_add(&env->watch, c->req.flags, watch_write, c,
                                 c->out.buf + c->out.sent, sendable(c));
    if (!c->watcher) {
        c->out.len -= 4;
        proto_out_line(&c->out, "WATCHER_TOO_MANY log watcher limit reached");
        return conn_flush(c) && worker_watch(c->worker, c, EPOLLIN | EPOLLOUT);
    }
    proto_out_consumed(&c->out, sendable(c));
    c->rpos = c->rlen;
    return worker_watch(c->worker, c, EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET);
}

/* A watching connection's events: input is read and ignored, the end closes it. */
static bool watch_events(conn_t *c, uint32_t events)
{
    if (events & (EPOLLERR | EPOLLHUP | EPOLLRDHUP)) return false;
    if (events & EPOLLIN) {
        char junk[4096];
        for (;;) {
            ssize_t n = read(c->fd, junk, sizeof junk);
            if (n > 0) continue;
            if (n == 0) return false;
            if (errno == EINTR) continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) break;
            return false;
        }
    }
    return proto_watch_flush(&env_of(c)->watch, c->watcher);
}

bool conn_on_events(conn_t *c, uint32_t events)
{
    proto_env *env = env_of(c);
    if (c->watcher) return watch_events(c, events);
    if (events & EPOLLERR) return false;
    /* as memcached's drive_machine: a turn that reads runs -R requests plus the one that finds
     * the budget spent; a turn that goes on after a yield spends one on resuming */
    c->turn_reqs = c->yielded ? 1 : 0;
    c->yielded = false;
    if ((events & EPOLLOUT) && !conn_flush(c)) return false;
    conn_table_busy(&c->entry, true);
    if (events & EPOLLIN) conn_table_touch(&c->entry);
    conn_process(c); /* a paused retrieval or buffered requests may go on now */
    /* a TLS session may hold decrypted input the socket no longer signals, or wait to
     * write a handshake message before it can read */
    bool tls_input = c->tls && (tls_pending(c->tls) || (tls_extra_events(c->tls) & EPOLLOUT));
    if ((events & (EPOLLIN | EPOLLHUP | EPOLLRDHUP)) || tls_input) {
        for (int i = 0; (i < READS_PER_EVENT || (c->tls && tls_pending(c->tls))) &&
                        !c->closing && !c->dead && !c->yielded && !c->start_watch; i++) {
            if (proto_out_pending(&c->out) > env->out_high_water || c->state == CONN_PAUSED) break;
            bool full;
            ssize_t n = conn_read(c, &full);
            if (n == 0) { /* the client is done sending: answer what it sent, then close */
                conn_process(c);
                if (!c->yielded) c->closing = true; /* else the next turn reads the end again */
                break;
            }
            if (n < 0) {
                if (errno == EINTR) continue;
                if (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS) break;
                if (c->tls) server_log(c->worker->srv, 1, "<%d TLS: %s", c->fd, tls_error(c->tls));
                return false;
            }
            conn_process(c);
            if (!full) break;
        }
    }
    conn_table_busy(&c->entry, false);
    if (c->start_watch && !c->dead) return begin_watch(c);
    if (c->dead || !conn_flush(c)) return false;
    bool pending = sendable(c) > 0;
    if (c->closing && !pending) return false;
    uint32_t want;
    if (c->closing || c->state == CONN_PAUSED || sendable(c) > env->out_high_water)
        want = EPOLLOUT;
    else if (c->blocked) /* replies drained at once: go on with the requests read (writable) */
        want = EPOLLIN | EPOLLOUT;
    else
        want = EPOLLIN | (pending || c->yielded ? EPOLLOUT : 0);
    if (c->tls) want |= tls_extra_events(c->tls);
    return worker_watch(c->worker, c, want);
}
