/* env.h — what the protocol layer needs to run requests: the cache (a libshmc handle, used
 * only through the public API), its limits, and hooks through which the server reports its
 * own state (connections, threads, settings) for "stats" and takes "verbosity".
 *
 * One proto_env is shared by every worker thread; everything in it is thread-safe. */
#ifndef SHMC_PROTO_ENV_H
#define SHMC_PROTO_ENV_H

#include <pthread.h>
#include <shmc.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/time.h>

#include "slab_class.h"
#include "watch.h"

/* The server's own numbers for "stats". */
typedef struct proto_server_stats {
    uint64_t pid;
    uint64_t uptime;
    struct timeval rusage_user, rusage_system;
    uint64_t max_connections, curr_connections, total_connections, rejected_connections;
    uint64_t malloc_fails;
    uint64_t connection_structures;
    uint64_t bytes_read, bytes_written;
    uint64_t threads;
    uint64_t auth_cmds, auth_errors; /* ASCII authentication attempts, failures */
    uint64_t conn_yields;            /* turns a connection gave up at -R requests */
    bool idle_timeout_on;            /* -o idle_timeout: idle_kicks is shown */
    uint64_t idle_kicks;             /* connections it closed */
    uint64_t read_buf_count, read_buf_bytes; /* connections' read buffers held, their bytes */
    uint64_t read_buf_oom;           /* connections closed at -o read_buf_mem_limit */
} proto_server_stats;

/* One "stats settings" line: its name and its value as text. */
typedef void (*proto_setting_fn)(void *ctx, const char *name, const char *value);

typedef struct proto_hooks {
    void (*server_stats)(void *arg, proto_server_stats *out);
    /* "stats settings": calls emit(ctx, ...) once per setting, in order; SHMC_OK, or an error
     * before any emit.  Without it the reply has no settings (only the server has them). */
    shmc_rc (*settings)(void *arg, proto_setting_fn emit, void *ctx);
    void (*set_verbosity)(void *arg, unsigned level);
    /* "stats conns": emit(ctx, name, value) per line; without it the reply is empty */
    void (*conns)(void *arg, proto_setting_fn emit, void *ctx);
    /* "shutdown" (graceful: "shutdown graceful"), where the server enabled it */
    void (*shutdown)(void *arg, bool graceful);
    void *arg;
} proto_hooks;

#define PROTO_DETAIL_BUCKETS 256 /* memcached's PREFIX_HASH_SIZE */
struct proto_prefix;

typedef struct proto_env {
    shmc_t *cache;
    size_t item_size_max;   /* values above this are refused before they are read */
    uint64_t limit_maxbytes;
    size_t out_high_water;  /* a retrieval pauses when this many reply bytes wait unsent */
    proto_hooks hooks;
    bool flush_disabled;    /* memcached -F: flush_all is refused */
    bool cas_disabled;      /* memcached -C: cas values show as 0, a cas compare fails */
    bool shutdown_enabled;  /* memcached -A */
    /* "stats detail" (memcached -D): prefix statistics, detail.h */
    _Atomic bool detail_enabled;
    char prefix_delimiter;  /* ':' unless -D says otherwise */
    pthread_mutex_t detail_lock;
    struct proto_prefix *detail[PROTO_DETAIL_BUCKETS];
    _Atomic uint64_t store_too_large, store_no_memory, meta_cmds;
    _Atomic uint64_t no_memory_class[PROTO_SLAB_CLASSES]; /* store_no_memory by slab class */
    _Atomic bool lru_crawler_off; /* "lru_crawler disable" (memcached starts it enabled) */
    bool dump_disabled;           /* -X: cachedump and metadump refused, as memcached's */
    bool watch_disabled;          /* -W: watch refused, as memcached's */
    proto_watch watch;            /* the watchers (watch.h) */
    /* "stats reset": the library's counters at the last reset, subtracted when shown */
    pthread_mutex_t reset_lock;
    shmc_stats_t baseline;
} proto_env;

/* Count a store the cache refused as too large or out of memory (SHMC_TOO_LARGE,
 * SHMC_NO_MEMORY; other codes count nothing): store_too_large, store_no_memory, and the
 * latter by the slab class of the item (`stats items` outofmemory).  An append or prepend
 * counts under the class of its new part. */
void proto_count_refusal(proto_env *env, shmc_rc rc, size_t nkey, uint32_t flags,
                         size_t nvalue);

/* A cas value as a reply shows it: 0 under -C, as memcached reports it. */
static inline uint64_t proto_cas_shown(const proto_env *env, uint64_t cas)
{
    return env->cas_disabled ? 0 : cas;
}

/* Under -C memcached compares a request's cas with 0; a store's compare always fails.  The
 * library's counter never reaches this value, so a compare with it fails. */
#define PROTO_CAS_NEVER UINT64_MAX

/* Set up env for `cache` (reads its limits through shmc_stats).  SHMC_OK or the error. */
shmc_rc proto_env_init(proto_env *env, shmc_t *cache, const proto_hooks *hooks);
void proto_env_destroy(proto_env *env);

/* The version string "version" and "stats" report. */
#define PROTO_VERSION_STRING "1.6.18-shmc-" SHMC_VERSION

#endif
