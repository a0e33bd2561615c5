/* watch.h — memcached's `watch` (its logger's watchers): a connection that asked for
 * `watch fetchers|mutations|...` receives a line per event other connections cause, in
 * memcached 1.6.18's format ("ts=... gid=... type=item_get key=... status=..." ...).
 *
 * No sockets here: a watcher is written through the server's write hook, which must never
 * block.  What the hook cannot take at once waits in the watcher's buffer (memcached's
 * watcher_logbuf_size, 256 KiB); lines that do not fit there are dropped and counted, and a
 * "skipped=N" line says so before the next line that fits.  Workers never wait on a slow
 * watcher. */
#ifndef SHMC_PROTO_WATCH_H
#define SHMC_PROTO_WATCH_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* What a watcher asked for (memcached's LOG_* bits that shmcd produces). */
enum {
    PROTO_WATCH_FETCHERS = 1u << 0,
    PROTO_WATCH_MUTATIONS = 1u << 1,
    PROTO_WATCH_EVICTIONS = 1u << 2, /* those of this server's own stores (watch_item.h) */
    PROTO_WATCH_OTHER = 1u << 3,     /* rawcmds, sysevents, connevents, proxy*: accepted, silent */
};

#define PROTO_WATCH_BUF (256 * 1024) /* memcached's watcher_logbuf_size default */
#define PROTO_WATCH_MAX 20           /* memcached's WATCHER_LIMIT */

/* Write n bytes without blocking: bytes taken (0 when the peer cannot take more now), or
 * -1 when the peer is gone. */
typedef long proto_watch_write_fn(void *ctx, const char *p, size_t n);

typedef struct proto_watcher {
    struct proto_watcher *next;
    uint32_t flags;
    proto_watch_write_fn *write;
    void *ctx;
    char *buf; /* PROTO_WATCH_BUF bytes; buf[sent..len) wait */
    size_t len, sent;
    uint64_t skipped;
    bool gone;
} proto_watcher;

typedef struct proto_watch {
    pthread_mutex_t lock;
    proto_watcher *list;
    unsigned count;
    _Atomic uint32_t wanted; /* the union of the watchers' flags: 0 costs one load per event */
    _Atomic uint64_t gid;
    _Atomic uint64_t sent, skipped; /* stats: log_watcher_sent, log_watcher_skipped */
} proto_watch;

void proto_watch_init(proto_watch *w);
void proto_watch_destroy(proto_watch *w);

/* Parse `watch`'s arguments (the tokens after the keyword); false for one memcached refuses. */
bool proto_watch_parse_args(const char *const *tok, const size_t *len, size_t n, uint32_t *flags);

/* Add a watcher, whose stream starts with first[0..nfirst) (the connection's unsent replies
 * and its "OK"); NULL when there are PROTO_WATCH_MAX already (or no memory). */
proto_watcher *proto_watch_add(proto_watch *w, uint32_t flags, proto_watch_write_fn *write,
                               void *ctx, const char *first, size_t nfirst);
/* Remove and free one (its connection is closing). */
void proto_watch_remove(proto_watch *w, proto_watcher *x);
/* The watcher's peer can take more: write what waits.  False when the peer is gone. */
bool proto_watch_flush(proto_watch *w, proto_watcher *x);

static inline bool proto_watch_wants(proto_watch *w, uint32_t flag)
{
    return atomic_load_explicit(&w->wanted, memory_order_relaxed) & flag;
}

/* Events, in memcached's log line formats; call only after proto_watch_wants said yes. */
void proto_watch_item_get(proto_watch *w, const char *key, size_t nkey, bool found, size_t size,
                          unsigned clsid, int cfd);
void proto_watch_item_store(proto_watch *w, const char *key, size_t nkey, const char *status,
                            const char *cmd, long long ttl, size_t size, unsigned clsid,
                            int cfd);
void proto_watch_eviction(proto_watch *w, const char *key, size_t nkey, bool fetched,
                          long long ttl, unsigned la, unsigned clsid, size_t size);

#endif
