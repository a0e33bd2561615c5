/* shmc_client.c — the benchmark client for libshmc: calls the library in-process, exactly
 * as an application would (one handle shared by the threads of a process; a process of its
 * own opens its own handle). */
#include "client.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct shmc_client {
    bench_client base;
    shmc_t *handle;
    int owns_handle;
    char error[160];
} shmc_client;

static pthread_mutex_t shared_open_lock = PTHREAD_MUTEX_INITIALIZER;

static bench_result note(shmc_client *c, shmc_rc rc)
{
    if (rc == SHMC_OK)
        return BENCH_HIT;
    if (rc == SHMC_NOT_FOUND)
        return BENCH_MISS;
    snprintf(c->error, sizeof c->error, "%s", shmc_strerror(rc));
    return BENCH_ERR;
}

static bench_result c_get(bench_client *b, const char *key, size_t nkey, char *buf,
                          size_t cap, size_t *nvalue)
{
    shmc_client *c = (shmc_client *)b;
    return note(c, shmc_get(c->handle, key, nkey, buf, cap, nvalue, NULL, NULL));
}

static bench_result c_set(bench_client *b, const char *key, size_t nkey, const void *value,
                          size_t nvalue)
{
    shmc_client *c = (shmc_client *)b;
    return note(c, shmc_set(c->handle, key, nkey, value, nvalue, 0, 0));
}

static bench_result c_del(bench_client *b, const char *key, size_t nkey)
{
    shmc_client *c = (shmc_client *)b;
    return note(c, shmc_delete(c->handle, key, nkey));
}

static bench_result c_incr(bench_client *b, const char *key, size_t nkey, uint64_t delta)
{
    shmc_client *c = (shmc_client *)b;
    uint64_t result;
    return note(c, shmc_incr(c->handle, key, nkey, delta, &result));
}

static void count_found(void *ctx, const char *key, size_t nkey, const void *value,
                        size_t nvalue, uint32_t flags, uint64_t cas)
{
    (void)key, (void)nkey, (void)value, (void)nvalue, (void)flags, (void)cas;
    ++*(uint64_t *)ctx;
}

static bench_result c_get_many(bench_client *b, const char *const *keys, const size_t *nkeys,
                               size_t n, uint64_t *found)
{
    shmc_client *c = (shmc_client *)b;
    *found = 0;
    return note(c, shmc_mget(c->handle, keys, nkeys, n, count_found, found));
}

static bench_result c_sync(bench_client *b)
{
    (void)b;
    return BENCH_HIT;
}

static bench_result c_stats(bench_client *b, const char *group, bench_stat_sink sink)
{
    shmc_client *c = (shmc_client *)b;
    if (group != NULL)
        return BENCH_HIT; /* libshmc has no slab classes */
    shmc_stats_t s;
    shmc_rc rc = shmc_stats(c->handle, &s);
    if (rc != SHMC_OK)
        return note(c, rc);
    char v[32];
#define PUT(field)                                                                          \
    do {                                                                                    \
        snprintf(v, sizeof v, "%" PRIu64, s.field);                                         \
        sink.put(sink.ctx, #field, v);                                                      \
    } while (0)
    PUT(curr_items);
    PUT(total_items);
    PUT(bytes);
    PUT(limit_maxbytes);
    PUT(item_size_max);
    PUT(hash_buckets);
    PUT(segments);
    PUT(segment_size);
    PUT(segments_free);
    PUT(protected_mode);
    PUT(evictions);
    PUT(get_hits);
    PUT(get_misses);
#undef PUT
    return BENCH_HIT;
}

static void c_close(bench_client *b)
{
    shmc_client *c = (shmc_client *)b;
    if (c->owns_handle)
        shmc_close(c->handle);
    free(c);
}

static const char *c_error(bench_client *b)
{
    return ((shmc_client *)b)->error;
}

static const struct bench_client_ops shmc_ops = {
    c_get, c_set, c_del, c_incr, c_get_many, c_sync, c_stats, c_close, c_error,
};

/* Open t's cache; a cache that already exists with another size is attached as it is. */
static shmc_rc open_cache(bench_target *t, shmc_t **out)
{
    shmc_config cfg;
    shmc_config_init(&cfg);
    cfg.memory_limit = t->memory_limit;
    cfg.protect = t->kind == BENCH_TARGET_SHMC_PKU ? SHMC_PROTECT_PKU : SHMC_PROTECT_NONE;
    shmc_rc rc = shmc_open(out, t->path, &cfg);
    if ((rc == SHMC_INVALID || rc == SHMC_BAD_FILE) && cfg.memory_limit != 0) {
        cfg.memory_limit = 0;
        cfg.item_size_max = 0;
        rc = shmc_open(out, t->path, &cfg);
    }
    return rc;
}

bench_client *bench_shmc_client_open(bench_target *t, unsigned flags, char *err,
                                     size_t errlen)
{
    shmc_client *c = calloc(1, sizeof *c);
    if (c == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    c->base.ops = &shmc_ops;
    shmc_rc rc = SHMC_OK;
    if (flags & BENCH_OPEN_OWN_HANDLE) {
        rc = open_cache(t, &c->handle);
        c->owns_handle = 1;
    } else {
        pthread_mutex_lock(&shared_open_lock);
        if (t->shared == NULL)
            rc = open_cache(t, &t->shared);
        c->handle = t->shared;
        pthread_mutex_unlock(&shared_open_lock);
    }
    if (rc != SHMC_OK) {
        if (rc == SHMC_UNSUPPORTED && t->kind == BENCH_TARGET_SHMC_PKU)
            snprintf(t->unavailable, sizeof t->unavailable, "not available on this CPU");
        else
            snprintf(t->unavailable, sizeof t->unavailable, "shmc_open(%.60s): %s%s%.80s%s",
                     t->path, shmc_strerror(rc), *shmc_last_error() ? " (" : "",
                     shmc_last_error(), *shmc_last_error() ? ")" : "");
        if (rc == SHMC_SYSTEM)
            snprintf(t->unavailable + strlen(t->unavailable),
                     sizeof t->unavailable - strlen(t->unavailable), ": %s", strerror(errno));
        snprintf(err, errlen, "%s", t->unavailable);
        free(c);
        return NULL;
    }
    return &c->base;
}
