/* lmdb_client.c — the benchmark client for LMDB, the embedded store a local user might pick
 * instead of a shared cache: used the way a cache user would use it for point reads and
 * writes.
 *
 * - Environment: one data file (MDB_NOSUBDIR; the lock file beside it, PATH-lock), on
 *   /dev/shm in run.sh, opened with MDB_NOSYNC | MDB_NOMETASYNC | MDB_WRITEMAP: no flush
 *   ever, and writes go straight into the shared mapping instead of through write(2) —
 *   LMDB's fastest setting, and the fair one beside a cache that never flushes either.
 *   MDB_NOTLS ties a reader slot to its transaction, not to the thread, since a client may
 *   be opened by one thread and used by another.  Map size: twice the memory limit the
 *   bench gives a cache (at least 64 MiB) when it creates the file; a program that
 *   only attaches (no limit given) keeps the file's own size.
 * - get: one read-only transaction per get, kept between gets as LMDB's documentation
 *   advises for point reads (mdb_txn_renew before the lookup, mdb_txn_reset after it: no
 *   allocation, the reader slot kept); the value is copied out before the reset, as
 *   shmc_get copies it.
 * - set, delete, incr: one write transaction each (mdb_txn_begin … mdb_txn_commit).
 *   A bulk client (the fill) batches its sets in transactions of 10,000 puts.
 * - One environment per process (LMDB forbids opening one twice in a process, and using a
 *   parent's after fork): the threads of a process share it; a worker process opens its
 *   own. */
#include "client.h"

#include <lmdb.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define BULK_BATCH 10000

typedef struct lmdb_client {
    bench_client base;
    MDB_env *env;
    MDB_dbi dbi;
    MDB_txn *read_txn; /* reset between gets, renewed for the next */
    MDB_txn *bulk_txn; /* bulk clients: the open write transaction */
    unsigned bulk_puts;
    int bulk;
    int owns_env;
    char error[160];
} lmdb_client;

static pthread_mutex_t env_lock = PTHREAD_MUTEX_INITIALIZER;

static bench_result fail(lmdb_client *c, const char *what, int rc)
{
    snprintf(c->error, sizeof c->error, "%s: %s", what, mdb_strerror(rc));
    return BENCH_ERR;
}

/* The read transaction, renewed; NULL with c->error set. */
static MDB_txn *reader(lmdb_client *c)
{
    int rc;
    if (c->read_txn == NULL)
        rc = mdb_txn_begin(c->env, NULL, MDB_RDONLY, &c->read_txn);
    else
        rc = mdb_txn_renew(c->read_txn);
    if (rc != MDB_SUCCESS) {
        c->read_txn = NULL;
        fail(c, "read txn", rc);
        return NULL;
    }
    return c->read_txn;
}

static bench_result c_get(bench_client *b, const char *key, size_t nkey, char *buf,
                          size_t cap, size_t *nvalue)
{
    lmdb_client *c = (lmdb_client *)b;
    MDB_txn *txn = reader(c);
    if (txn == NULL)
        return BENCH_ERR;
    MDB_val k = {nkey, (void *)key}, v;
    int rc = mdb_get(txn, c->dbi, &k, &v);
    if (rc == MDB_SUCCESS) {
        *nvalue = v.mv_size;
        memcpy(buf, v.mv_data, v.mv_size < cap ? v.mv_size : cap);
    }
    mdb_txn_reset(txn);
    if (rc == MDB_NOTFOUND)
        return BENCH_MISS;
    return rc == MDB_SUCCESS ? BENCH_HIT : fail(c, "mdb_get", rc);
}

static bench_result commit_bulk(lmdb_client *c)
{
    if (c->bulk_txn == NULL)
        return BENCH_HIT;
    int rc = mdb_txn_commit(c->bulk_txn);
    c->bulk_txn = NULL;
    c->bulk_puts = 0;
    return rc == MDB_SUCCESS ? BENCH_HIT : fail(c, "commit", rc);
}

static bench_result c_set(bench_client *b, const char *key, size_t nkey, const void *value,
                          size_t nvalue)
{
    lmdb_client *c = (lmdb_client *)b;
    MDB_val k = {nkey, (void *)key}, v = {nvalue, (void *)value};
    int rc;
    if (c->bulk) {
        if (c->bulk_txn == NULL && (rc = mdb_txn_begin(c->env, NULL, 0, &c->bulk_txn)) != 0)
            return fail(c, "write txn", rc);
        if ((rc = mdb_put(c->bulk_txn, c->dbi, &k, &v, 0)) != MDB_SUCCESS) {
            mdb_txn_abort(c->bulk_txn);
            c->bulk_txn = NULL;
            return fail(c, "mdb_put", rc);
        }
        return ++c->bulk_puts >= BULK_BATCH ? commit_bulk(c) : BENCH_HIT;
    }
    MDB_txn *txn;
    if ((rc = mdb_txn_begin(c->env, NULL, 0, &txn)) != MDB_SUCCESS)
        return fail(c, "write txn", rc);
    if ((rc = mdb_put(txn, c->dbi, &k, &v, 0)) != MDB_SUCCESS) {
        mdb_txn_abort(txn);
        return fail(c, "mdb_put", rc);
    }
    rc = mdb_txn_commit(txn);
    return rc == MDB_SUCCESS ? BENCH_HIT : fail(c, "commit", rc);
}

static bench_result c_del(bench_client *b, const char *key, size_t nkey)
{
    lmdb_client *c = (lmdb_client *)b;
    MDB_val k = {nkey, (void *)key};
    MDB_txn *txn;
    int rc = mdb_txn_begin(c->env, NULL, 0, &txn);
    if (rc != MDB_SUCCESS)
        return fail(c, "write txn", rc);
    rc = mdb_del(txn, c->dbi, &k, NULL);
    if (rc != MDB_SUCCESS) {
        mdb_txn_abort(txn);
        return rc == MDB_NOTFOUND ? BENCH_MISS : fail(c, "mdb_del", rc);
    }
    rc = mdb_txn_commit(txn);
    return rc == MDB_SUCCESS ? BENCH_HIT : fail(c, "commit", rc);
}

/* memcached's incr on a decimal value, in one write transaction: read, add, write back. */
static bench_result c_incr(bench_client *b, const char *key, size_t nkey, uint64_t delta)
{
    lmdb_client *c = (lmdb_client *)b;
    MDB_val k = {nkey, (void *)key}, v;
    MDB_txn *txn;
    int rc = mdb_txn_begin(c->env, NULL, 0, &txn);
    if (rc != MDB_SUCCESS)
        return fail(c, "write txn", rc);
    rc = mdb_get(txn, c->dbi, &k, &v);
    if (rc != MDB_SUCCESS) {
        mdb_txn_abort(txn);
        return rc == MDB_NOTFOUND ? BENCH_MISS : fail(c, "mdb_get", rc);
    }
    uint64_t n = 0;
    const char *p = v.mv_data;
    for (size_t i = 0; i < v.mv_size && i < 20; i++) {
        if (p[i] < '0' || p[i] > '9') {
            mdb_txn_abort(txn);
            snprintf(c->error, sizeof c->error, "incr: not a number");
            return BENCH_ERR;
        }
        n = n * 10 + (uint64_t)(p[i] - '0');
    }
    char text[24];
    int len = snprintf(text, sizeof text, "%llu", (unsigned long long)(n + delta));
    v = (MDB_val){(size_t)len, text};
    if ((rc = mdb_put(txn, c->dbi, &k, &v, 0)) != MDB_SUCCESS) {
        mdb_txn_abort(txn);
        return fail(c, "mdb_put", rc);
    }
    rc = mdb_txn_commit(txn);
    return rc == MDB_SUCCESS ? BENCH_HIT : fail(c, "commit", rc);
}

/* Many keys: one read transaction for all of them. */
static bench_result c_get_many(bench_client *b, const char *const *keys, const size_t *nkeys,
                               size_t n, uint64_t *found)
{
    lmdb_client *c = (lmdb_client *)b;
    *found = 0;
    MDB_txn *txn = reader(c);
    if (txn == NULL)
        return BENCH_ERR;
    volatile char sink = 0;
    int rc = MDB_SUCCESS;
    for (size_t i = 0; i < n; i++) {
        MDB_val k = {nkeys[i], (void *)keys[i]}, v;
        rc = mdb_get(txn, c->dbi, &k, &v);
        if (rc == MDB_NOTFOUND) {
            rc = MDB_SUCCESS;
            continue;
        }
        if (rc != MDB_SUCCESS)
            break;
        if (v.mv_size > 0) /* read the value, as a caller would */
            sink = ((const char *)v.mv_data)[v.mv_size - 1];
        ++*found;
    }
    (void)sink;
    mdb_txn_reset(txn);
    return rc == MDB_SUCCESS ? BENCH_HIT : fail(c, "mdb_get", rc);
}

static bench_result c_sync(bench_client *b)
{
    return commit_bulk((lmdb_client *)b);
}

static bench_result c_stats(bench_client *b, const char *group, bench_stat_sink sink)
{
    lmdb_client *c = (lmdb_client *)b;
    if (group != NULL)
        return BENCH_HIT;
    MDB_stat st;
    MDB_envinfo info;
    int rc = mdb_env_stat(c->env, &st);
    if (rc == MDB_SUCCESS)
        rc = mdb_env_info(c->env, &info);
    if (rc != MDB_SUCCESS)
        return fail(c, "mdb_env_stat", rc);
    char v[32];
    snprintf(v, sizeof v, "%zu", st.ms_entries);
    sink.put(sink.ctx, "curr_items", v);
    snprintf(v, sizeof v, "%zu", info.me_mapsize);
    sink.put(sink.ctx, "limit_maxbytes", v);
    snprintf(v, sizeof v, "%zu", (info.me_last_pgno + 1) * (size_t)st.ms_psize);
    sink.put(sink.ctx, "bytes", v);
    return BENCH_HIT;
}

static void c_close(bench_client *b)
{
    lmdb_client *c = (lmdb_client *)b;
    commit_bulk(c);
    if (c->read_txn != NULL)
        mdb_txn_abort(c->read_txn);
    if (c->owns_env)
        mdb_env_close(c->env);
    free(c);
}

static const char *c_error(bench_client *b)
{
    return ((lmdb_client *)b)->error;
}

static const struct bench_client_ops lmdb_ops = {
    c_get, c_set, c_del, c_incr, c_get_many, c_sync, c_stats, c_close, c_error,
};

static int open_env(const bench_target *t, MDB_env **out, char *err, size_t errlen)
{
    MDB_env *env;
    int rc = mdb_env_create(&env);
    if (rc != MDB_SUCCESS) {
        snprintf(err, errlen, "mdb_env_create: %s", mdb_strerror(rc));
        return -1;
    }
    /* no limit given (a program that only attaches): the file's own map size */
    size_t map = t->memory_limit > (32u << 20) ? (size_t)t->memory_limit * 2 : (64u << 20);
    if ((t->memory_limit > 0 && (rc = mdb_env_set_mapsize(env, map)) != MDB_SUCCESS) ||
        (rc = mdb_env_set_maxreaders(env, 1024)) != MDB_SUCCESS ||
        (rc = mdb_env_open(env, t->path,
                           MDB_NOSUBDIR | MDB_NOSYNC | MDB_NOMETASYNC | MDB_WRITEMAP |
                               MDB_NOTLS,
                           0600)) != MDB_SUCCESS) {
        snprintf(err, errlen, "mdb_env_open(%.100s): %s", t->path, mdb_strerror(rc));
        mdb_env_close(env);
        return -1;
    }
    *out = env;
    return 0;
}

bench_client *bench_lmdb_client_open(bench_target *t, unsigned flags, char *err, size_t errlen)
{
    lmdb_client *c = calloc(1, sizeof *c);
    if (c == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    err[0] = '\0';
    c->base.ops = &lmdb_ops;
    c->bulk = (flags & BENCH_OPEN_BULK) != 0;
    int rc = 0;
    pthread_mutex_lock(&env_lock);
    /* a process of its own (a fork) opens its own environment; threads share one */
    if ((flags & BENCH_OPEN_OWN_HANDLE) && t->lmdb_env != NULL && t->lmdb_pid == getpid()) {
        c->env = t->lmdb_env; /* this process has it open already: LMDB allows one */
    } else if (flags & BENCH_OPEN_OWN_HANDLE) {
        rc = open_env(t, &c->env, err, errlen);
        c->owns_env = 1;
    } else {
        if (t->lmdb_env == NULL || t->lmdb_pid != getpid()) {
            rc = open_env(t, (MDB_env **)&t->lmdb_env, err, errlen);
            t->lmdb_pid = rc == 0 ? getpid() : 0;
            if (rc != 0)
                t->lmdb_env = NULL;
        }
        c->env = t->lmdb_env;
    }
    pthread_mutex_unlock(&env_lock);
    MDB_txn *txn = NULL;
    if (rc == 0 && (rc = mdb_txn_begin(c->env, NULL, 0, &txn)) == MDB_SUCCESS &&
        (rc = mdb_dbi_open(txn, NULL, 0, &c->dbi)) == MDB_SUCCESS)
        rc = mdb_txn_commit(txn);
    else if (txn != NULL)
        mdb_txn_abort(txn);
    if (rc != 0) {
        if (c->env != NULL && err[0] == '\0')
            snprintf(err, errlen, "mdb_dbi_open: %s", mdb_strerror(rc));
        if (c->owns_env && c->env != NULL)
            mdb_env_close(c->env);
        snprintf(t->unavailable, sizeof t->unavailable, "%.190s", err);
        free(c);
        return NULL;
    }
    return &c->base;
}

void bench_lmdb_release(bench_target *t)
{
    if (t->lmdb_env != NULL && t->lmdb_pid == getpid())
        mdb_env_close(t->lmdb_env);
    t->lmdb_env = NULL;
    t->lmdb_pid = 0;
}
