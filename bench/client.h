/* client.h — one interface over every system a benchmark measures, so that the same
 * measuring loop runs against libshmc in-process and, through libmemcached, against shmcd
 * and memcached over a UNIX socket or TCP.  The socket-side load generator is therefore
 * literally the same code for shmcd and memcached.
 *
 * A target is what the command line names ("LABEL=SPEC"):
 *   shmc:PATH          libshmc on the cache file PATH, unprotected
 *   shmc-pku:PATH      libshmc on PATH with SHMC_PROTECT_PKU (unavailable without PKU)
 *   unix:SOCKET        a memcached-protocol server on a UNIX socket (shmcd or memcached)
 *   tcp:HOST:PORT      a memcached-protocol server over TCP
 *   lmdb:PATH          LMDB, the environment in the data file PATH (lmdb_client.c)
 * A client is one connection (or one libshmc handle) used by one thread at a time. */
#ifndef SHMC_BENCH_CLIENT_H
#define SHMC_BENCH_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include "shmc.h"

typedef enum bench_result { BENCH_HIT = 0, BENCH_MISS = 1, BENCH_ERR = 2 } bench_result;

typedef enum bench_target_kind {
    BENCH_TARGET_SHMC,
    BENCH_TARGET_SHMC_PKU,
    BENCH_TARGET_UNIX,
    BENCH_TARGET_TCP,
    BENCH_TARGET_LMDB,
} bench_target_kind;

typedef struct bench_target {
    char label[48];
    bench_target_kind kind;
    char path[256]; /* cache file or socket */
    char host[64];
    int port;
    uint64_t memory_limit; /* shmc: limit used when the cache is created here */
    shmc_t *shared;        /* shmc: one handle for every thread of this process */
    void *lmdb_env;        /* lmdb: the environment of process lmdb_pid (one per process) */
    int lmdb_pid;
    char unavailable[200]; /* non-empty: why this target cannot be measured */
} bench_target;

/* Parse "LABEL=SPEC" into *t.  Returns 0, or -1 with a message in err. */
int bench_target_parse(bench_target *t, const char *arg, uint64_t memory_limit, char *err,
                       size_t errlen);

/* Is this target served through libmemcached (a socket)? */
int bench_target_is_socket(const bench_target *t);

/* Close the target's shared handle, if any. */
void bench_target_release(bench_target *t);

typedef struct bench_client bench_client;

typedef struct bench_stat_sink {
    void (*put)(void *ctx, const char *name, const char *value);
    void *ctx;
} bench_stat_sink;

struct bench_client_ops {
    bench_result (*get)(bench_client *c, const char *key, size_t nkey, char *buf, size_t cap,
                        size_t *nvalue);
    bench_result (*set)(bench_client *c, const char *key, size_t nkey, const void *value,
                        size_t nvalue);
    bench_result (*del)(bench_client *c, const char *key, size_t nkey);
    bench_result (*incr)(bench_client *c, const char *key, size_t nkey, uint64_t delta);
    /* Read n keys in one request where the protocol allows (memcached's multi-key get);
     * *found gets how many were there.  Used to warm a cache up, not measured. */
    bench_result (*get_many)(bench_client *c, const char *const *keys, const size_t *nkeys,
                             size_t n, uint64_t *found);
    /* Wait until every request sent so far has been carried out (bulk clients). */
    bench_result (*sync)(bench_client *c);
    /* Report statistics as name/value text pairs; group NULL: the general ones, "slabs":
     * memcached's slab statistics (nothing for libshmc). */
    bench_result (*stats)(bench_client *c, const char *group, bench_stat_sink sink);
    void (*close)(bench_client *c);
    /* The last error, for messages. */
    const char *(*error)(bench_client *c);
};

struct bench_client {
    const struct bench_client_ops *ops;
};

enum bench_open_flags {
    BENCH_OPEN_OWN_HANDLE = 1, /* libshmc: open a handle of our own (a new process) */
    BENCH_OPEN_BULK = 2,       /* sockets: sets are sent without waiting for replies */
};

/* Open a client on t.  NULL with a message in err when that fails. */
bench_client *bench_client_open(bench_target *t, unsigned flags, char *err, size_t errlen);

/* Bring a system to the state of a long-running one: read every benchmark key once ('k'
 * 0..keys-1, 'v' 0..big_keys-1), in multi-key requests over sockets.  A process that has
 * just attached a cache file (libshmc, or shmcd) takes a minor page fault on each 4 KiB
 * page it touches first; this pass takes them before anything is measured.  Returns the
 * number of keys that were not found. */
uint64_t bench_client_touch_all(bench_client *c, const bench_target *t, uint64_t keys,
                                uint64_t big_keys);

/* The implementations behind bench_client_open. */
bench_client *bench_shmc_client_open(bench_target *t, unsigned flags, char *err,
                                     size_t errlen);
bench_client *bench_memcached_client_open(bench_target *t, unsigned flags, char *err,
                                          size_t errlen);
bench_client *bench_lmdb_client_open(bench_target *t, unsigned flags, char *err,
                                     size_t errlen);
void bench_lmdb_release(bench_target *t);

#endif
