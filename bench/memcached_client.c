/* memcached_client.c — the benchmark client for memcached-protocol servers, through
 * libmemcached (the incumbent's usual C client), text protocol.  The same code measures
 * memcached and shmcd, so the socket-side load generator is identical for both. */
#include "client.h"

#include <libmemcached/memcached.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct mc_client {
    bench_client base;
    memcached_st *memc;
    char error[160];
} mc_client;

static bench_result note(mc_client *c, memcached_return_t rc)
{
    if (rc == MEMCACHED_SUCCESS || rc == MEMCACHED_BUFFERED || rc == MEMCACHED_STORED ||
        rc == MEMCACHED_DELETED)
        return BENCH_HIT;
    if (rc == MEMCACHED_NOTFOUND)
        return BENCH_MISS;
    snprintf(c->error, sizeof c->error, "%s", memcached_last_error_message(c->memc));
    return BENCH_ERR;
}

static bench_result c_get(bench_client *b, const char *key, size_t nkey, char *buf,
                          size_t cap, size_t *nvalue)
{
    mc_client *c = (mc_client *)b;
    memcached_return_t rc;
    uint32_t flags;
    size_t n = 0;
    char *value = memcached_get(c->memc, key, nkey, &n, &flags, &rc);
    *nvalue = n;
    if (value == NULL) {
        /* libmemcached reports an empty value as NULL with MEMCACHED_SUCCESS */
        return note(c, rc);
    }
    /* a get copies the value out, as shmc_get does */
    memcpy(buf, value, n < cap ? n : cap);
    free(value);
    return BENCH_HIT;
}

static bench_result c_set(bench_client *b, const char *key, size_t nkey, const void *value,
                          size_t nvalue)
{
    mc_client *c = (mc_client *)b;
    return note(c, memcached_set(c->memc, key, nkey, value, nvalue, 0, 0));
}

static bench_result c_del(bench_client *b, const char *key, size_t nkey)
{
    mc_client *c = (mc_client *)b;
    return note(c, memcached_delete(c->memc, key, nkey, 0));
}

static bench_result c_incr(bench_client *b, const char *key, size_t nkey, uint64_t delta)
{
    mc_client *c = (mc_client *)b;
    uint64_t value;
    return note(c, memcached_increment(c->memc, key, nkey, (uint32_t)delta, &value));
}

static bench_result c_get_many(bench_client *b, const char *const *keys, const size_t *nkeys,
                               size_t n, uint64_t *found)
{
    mc_client *c = (mc_client *)b;
    *found = 0;
    memcached_return_t rc = memcached_mget(c->memc, keys, nkeys, n);
    if (rc != MEMCACHED_SUCCESS)
        return note(c, rc);
    /* on the stack: libmemcached frees a result it allocated itself at the end of a fetch */
    memcached_result_st result;
    if (memcached_result_create(c->memc, &result) == NULL)
        return BENCH_ERR;
    while (memcached_fetch_result(c->memc, &result, &rc) != NULL)
        ++*found;
    memcached_result_free(&result);
    return rc == MEMCACHED_END || rc == MEMCACHED_SUCCESS || rc == MEMCACHED_NOTFOUND
               ? BENCH_HIT
               : note(c, rc);
}

static bench_result c_sync(bench_client *b)
{
    mc_client *c = (mc_client *)b;
    memcached_return_t rc = memcached_flush_buffers(c->memc);
    if (rc != MEMCACHED_SUCCESS)
        return note(c, rc);
    /* replies come in order on one connection: when this get is answered, the server has
     * carried out every request sent before it */
    size_t n;
    uint32_t flags;
    char *value = memcached_get(c->memc, "sync", 4, &n, &flags, &rc);
    free(value);
    return rc == MEMCACHED_SUCCESS || rc == MEMCACHED_NOTFOUND ? BENCH_HIT : note(c, rc);
}

struct stat_ctx {
    bench_stat_sink sink;
};

static memcached_return_t stat_line(const memcached_instance_st *server, const char *key,
                                    size_t key_length, const char *value,
                                    size_t value_length, void *context)
{
    (void)server;
    struct stat_ctx *s = context;
    char k[128], v[128];
    if (key_length >= sizeof k || value_length >= sizeof v)
        return MEMCACHED_SUCCESS;
    memcpy(k, key, key_length);
    k[key_length] = '\0';
    memcpy(v, value, value_length);
    v[value_length] = '\0';
    s->sink.put(s->sink.ctx, k, v);
    return MEMCACHED_SUCCESS;
}

static bench_result c_stats(bench_client *b, const char *group, bench_stat_sink sink)
{
    mc_client *c = (mc_client *)b;
    struct stat_ctx s = {sink};
    return note(c, memcached_stat_execute(c->memc, group, stat_line, &s));
}

static void c_close(bench_client *b)
{
    mc_client *c = (mc_client *)b;
    memcached_free(c->memc);
    free(c);
}

static const char *c_error(bench_client *b)
{
    return ((mc_client *)b)->error;
}

static const struct bench_client_ops mc_ops = {
    c_get, c_set, c_del, c_incr, c_get_many, c_sync, c_stats, c_close, c_error,
};

bench_client *bench_memcached_client_open(bench_target *t, unsigned flags, char *err,
                                          size_t errlen)
{
    mc_client *c = calloc(1, sizeof *c);
    if (c == NULL || (c->memc = memcached_create(NULL)) == NULL) {
        free(c);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    c->base.ops = &mc_ops;
    memcached_st *m = c->memc;
    memcached_return_t rc;
    if (t->kind == BENCH_TARGET_UNIX)
        rc = memcached_server_add_unix_socket(m, t->path);
    else
        rc = memcached_server_add(m, t->host, (in_port_t)t->port);
    /* bounded waits: a server that dies or hangs fails the run instead of hanging it */
    memcached_behavior_set(m, MEMCACHED_BEHAVIOR_CONNECT_TIMEOUT, 2000);
    memcached_behavior_set(m, MEMCACHED_BEHAVIOR_POLL_TIMEOUT, 10000);
    if (t->kind == BENCH_TARGET_TCP)
        memcached_behavior_set(m, MEMCACHED_BEHAVIOR_TCP_NODELAY, 1);
    if (rc == MEMCACHED_SUCCESS) {
        /* connect now, so that a missing server is reported here and not mid-run (before
         * noreply is on: its reply must be read here, not taken for a later one's) */
        memcached_return_t vrc = memcached_version(m);
        if (vrc != MEMCACHED_SUCCESS)
            rc = vrc;
    }
    if (flags & BENCH_OPEN_BULK) {
        memcached_behavior_set(m, MEMCACHED_BEHAVIOR_NOREPLY, 1);
        memcached_behavior_set(m, MEMCACHED_BEHAVIOR_BUFFER_REQUESTS, 1);
    }
    if (rc != MEMCACHED_SUCCESS) {
        if (t->kind == BENCH_TARGET_UNIX)
            snprintf(err, errlen, "cannot reach unix:%s: %s", t->path,
                     memcached_last_error_message(m));
        else
            snprintf(err, errlen, "cannot reach %s:%d: %s", t->host, t->port,
                     memcached_last_error_message(m));
        c_close(&c->base);
        return NULL;
    }
    return &c->base;
}
