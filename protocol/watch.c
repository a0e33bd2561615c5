/* watch.c — memcached's watchers (watch.h). */
#include "watch.h"
#include "uriencode.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

void proto_watch_init(proto_watch *w)
{
    memset(w, 0, sizeof *w);
    pthread_mutex_init(&w->lock, NULL);
}

void proto_watch_destroy(proto_watch *w)
{
    while (w->list) proto_watch_remove(w, w->list);
    pthread_mutex_destroy(&w->lock);
}

static bool tok_eq(const char *t, size_t n, const char *s)
{
    return strlen(s) == n && memcmp(t, s, n) == 0;
}

/* memcached 1.6.18's process_watch_command: no argument means fetchers. */
bool proto_watch_parse_args(const char *const *tok, const size_t *len, size_t n, uint32_t *flags)
{
    static const char *const other[] = {"rawcmds", "sysevents", "connevents", "proxyreqs",
                                        "proxyevents", "proxyuser"};
    uint32_t f = 0;
    if (n == 0) f = PROTO_WATCH_FETCHERS;
    for (size_t i = 0; i < n; i++) {
        if (tok_eq(tok[i], len[i], "fetchers")) f |= PROTO_WATCH_FETCHERS;
        else if (tok_eq(tok[i], len[i], "mutations")) f |= PROTO_WATCH_MUTATIONS;
        else if (tok_eq(tok[i], len[i], "evictions")) f |= PROTO_WATCH_EVICTIONS;
        else {
            bool known = false;
            for (size_t j = 0; j < sizeof other / sizeof other[0]; j++)
                known |= tok_eq(tok[i], len[i], other[j]);
            if (!known) return false;
            f |= PROTO_WATCH_OTHER;
        }
    }
    *flags = f;
    return true;
}

static bool drain(proto_watcher *x);

static void recompute(proto_watch *w)
{
    uint32_t u = 0;
    for (proto_watcher *x = w->list; x; x = x->next)
        if (!x->gone) u |= x->flags;
    atomic_store_explicit(&w->wanted, u, memory_order_relaxed);
}

proto_watcher *proto_watch_add(proto_watch *w, uint32_t flags, proto_watch_write_fn *write,
                               void *ctx, const char *first, size_t nfirst)
{
    proto_watcher *x = calloc(1, sizeof *x);
    if (!x || nfirst > PROTO_WATCH_BUF || !(x->buf = malloc(PROTO_WATCH_BUF))) {
        free(x);
        return NULL;
    }
    x->flags = flags;
    x->write = write;
    x->ctx = ctx;
    memcpy(x->buf, first, nfirst);
    x->len = nfirst;
    pthread_mutex_lock(&w->lock);
    if (w->count >= PROTO_WATCH_MAX) {
        pthread_mutex_unlock(&w->lock);
        free(x->buf);
        free(x);
        return NULL;
    }
    x->next = w->list;
    w->list = x;
    w->count++;
    recompute(w); /* before the "OK" goes out: the client may act on it at once */
    drain(x);
    pthread_mutex_unlock(&w->lock);
    return x;
}

void proto_watch_remove(proto_watch *w, proto_watcher *x)
{
    pthread_mutex_lock(&w->lock);
    for (proto_watcher **p = &w->list; *p; p = &(*p)->next)
        if (*p == x) {
            *p = x->next;
            w->count--;
            break;
        }
    recompute(w);
    pthread_mutex_unlock(&w->lock);
    free(x->buf);
    free(x);
}

/* Under the lock: write what waits; false when the peer is gone. */
static bool drain(proto_watcher *x)
{
    while (x->sent < x->len) {
        long n = x->write(x->ctx, x->buf + x->sent, x->len - x->sent);
        if (n < 0) {
            x->gone = true;
            return false;
        }
        if (n == 0) return true;
        x->sent += (size_t)n;
    }
    x->sent = x->len = 0;
    return true;
}

bool proto_watch_flush(proto_watch *w, proto_watcher *x)
{
    pthread_mutex_lock(&w->lock);
    bool ok = !x->gone && drain(x);
    pthread_mutex_unlock(&w->lock);
    return ok;
}

/* Queue a line (with its "\n") on x, or count it lost. */
static void queue(proto_watch *w, proto_watcher *x, const char *line, size_t n)
{
    if (x->sent > 0 && x->len + n > PROTO_WATCH_BUF) { /* make room at the front */
        memmove(x->buf, x->buf + x->sent, x->len - x->sent);
        x->len -= x->sent;
        x->sent = 0;
    }
    if (x->skipped) {
        char s[48];
        int k = snprintf(s, sizeof s, "skipped=%llu\n", (unsigned long long)x->skipped);
        if (x->len + (size_t)k + n > PROTO_WATCH_BUF) goto lost;
        memcpy(x->buf + x->len, s, (size_t)k);
        x->len += (size_t)k;
        x->skipped = 0;
    }
    if (x->len + n > PROTO_WATCH_BUF) goto lost;
    memcpy(x->buf + x->len, line, n);
    x->len += n;
    atomic_fetch_add_explicit(&w->sent, 1, memory_order_relaxed);
    return;
lost:
    x->skipped++;
    atomic_fetch_add_explicit(&w->skipped, 1, memory_order_relaxed);
}

static void emit(proto_watch *w, uint32_t flag, const char *line, size_t n)
{
    pthread_mutex_lock(&w->lock);
    for (proto_watcher *x = w->list; x; x = x->next) {
        if (x->gone || !(x->flags & flag)) continue;
        queue(w, x, line, n);
        drain(x); /* never blocks: the hook writes what the peer takes now */
    }
    pthread_mutex_unlock(&w->lock);
}

/* "ts=SEC.USEC gid=N " as memcached's logger prints it (microseconds not zero-padded). */
static int head(proto_watch *w, char *p, size_t cap)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    unsigned long long gid = atomic_fetch_add_explicit(&w->gid, 1, memory_order_relaxed) + 1;
    return snprintf(p, cap, "ts=%lld.%ld gid=%llu ", (long long)tv.tv_sec, (long)tv.tv_usec, gid);
}

#define LINE_MAX_ (PROTO_URIENCODE_LEN(250) + 300)

void proto_watch_item_get(proto_watch *w, const char *key, size_t nkey, bool found, size_t size,
                          unsigned clsid, int cfd)
{
    char line[LINE_MAX_], enc[PROTO_URIENCODE_LEN(250)]; /* keys as memcached's uriencode */
    int h = head(w, line, sizeof line);
    int n = snprintf(line + h, sizeof line - (size_t)h,
                     "type=item_get key=%.*s status=%s clsid=%u cfd=%d size=%zu\n",
                     (int)proto_uriencode(key, nkey < 250 ? nkey : 250, enc), enc,
                     found ? "found" : "not_found", clsid, cfd, found ? size : 0);
    emit(w, PROTO_WATCH_FETCHERS, line, (size_t)(h + n));
}

void proto_watch_item_store(proto_watch *w, const char *key, size_t nkey, const char *status,
                            const char *cmd, long long ttl, size_t size, unsigned clsid,
                            int cfd)
{
    char line[LINE_MAX_], enc[PROTO_URIENCODE_LEN(250)];
    int h = head(w, line, sizeof line);
    int n = snprintf(line + h, sizeof line - (size_t)h,
                     "type=item_store key=%.*s status=%s cmd=%s ttl=%lld clsid=%u cfd=%d "
                     "size=%zu\n",
                     (int)proto_uriencode(key, nkey < 250 ? nkey : 250, enc), enc, status, cmd,
                     ttl, clsid, cfd, size);
    emit(w, PROTO_WATCH_MUTATIONS, line, (size_t)(h + n));
}

void proto_watch_eviction(proto_watch *w, const char *key, size_t nkey, bool fetched,
                          long long ttl, unsigned la, unsigned clsid, size_t size)
{
    char line[LINE_MAX_], enc[PROTO_URIENCODE_LEN(250)];
    int h = head(w, line, sizeof line);
    int n = snprintf(line + h, sizeof line - (size_t)h,
                     "type=eviction key=%.*s fetch=%s ttl=%lld la=%u clsid=%u size=%zu\n",
                     (int)proto_uriencode(key, nkey < 250 ? nkey : 250, enc), enc,
                     fetched ? "yes" : "no", ttl, la, clsid, size);
    emit(w, PROTO_WATCH_EVICTIONS, line, (size_t)(h + n));
}
