/* options.h — shmcd's command line: memcached's own flags where they make sense, plus
 * --cache for the shmc cache file to serve.  One table in options.c holds every flag. */
#ifndef SHMCD_OPTIONS_H
#define SHMCD_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <stdint.h>
#include <stdio.h>

#include "security_options.h"

#define SHMCD_MAX_LISTEN 16
#define SHMCD_MAX_IGNORED 32
#define SHMCD_MAX_SUBOPT_COPIES 16

/* A memcached flag or -o setting accepted with no effect here, as given. */
typedef struct shmcd_ignored {
    char flag;         /* 'o', or the flag: k r L f n e N */
    const char *key;   /* -o: the setting's name; else NULL */
    const char *value; /* its value, or NULL */
} shmcd_ignored;

typedef struct shmcd_options {
    int port;                 /* -p: TCP port; 0: no TCP */
    bool port_given;
    bool listen_port_given;   /* an -l entry names its own port */
    char *listen[SHMCD_MAX_LISTEN]; /* -l: addresses (comma-separated on the command line) */
    size_t nlisten;
    const char *unix_path;    /* -s: UNIX socket path, or NULL */
    unsigned unix_mode;       /* -a: its access mode (octal), default 0700 */
    size_t memory_mib;        /* -m: cache memory in MiB; 0: the file's own or the default */
    size_t item_size_max;     /* -I: largest value in bytes; 0: the file's own or default */
    unsigned max_conns;       /* -c */
    unsigned threads;         /* -t */
    unsigned verbosity;       /* -v, -vv, -vvv */
    unsigned reqs_per_event;  /* -R: requests a connection may run before others get a turn */
    unsigned napi_ids;        /* -N: accepted, no effect; at most -t, as memcached */
    bool flush_disabled;      /* -F: flush_all is refused */
    bool watch_disabled;      /* -W: watch is refused */
    bool cas_disabled;        /* -C: cas values are 0 and a cas compare never matches */
    bool shutdown_enabled;    /* -A: the shutdown command stops the server */
    bool no_evict;            /* -M: stores fail when full instead of evicting */
    char prefix_delimiter;    /* -D: turns "stats detail" on with this delimiter; 0: off, ':' */
    int backlog;              /* -b */
    const char *cache;        /* --cache NAME|PATH; default: default_cache */
    char default_cache[160];  /* "shmcd-PORT", or "shmcd-" and the socket path, '/' as '-' */
    unsigned cache_mode;      /* --mode: a new cache file's mode; 0: the library's 0600 */
    bool cache_group_given;   /* --group: */
    gid_t cache_gid;          /* a new cache file's group */
    const char *pidfile;      /* -P */
    const char *user;         /* -u */
    bool daemonize;           /* -d */
    bool resize;              /* --resize: an existing cache of another -m/-I is resized */
    bool no_dump;             /* -X: no stats cachedump, no lru_crawler metadump */
    shmcd_security_options sec; /* -Z, -o ssl_*, -Y */
    bool sasl;                /* -S: binary-protocol clients must authenticate (SASL) */
    int protocol;             /* -B: SHMCD_PROTO_* */
    bool protocol_given;
    unsigned hash_power;      /* -o hashpower: log2 of a new cache's index buckets; 0: default */
    unsigned idle_timeout;    /* -o idle_timeout: seconds; 0: never */
    unsigned long read_buf_mem_limit_mb; /* -o read_buf_mem_limit: MiB; 0: unlimited */
    bool maxconns_slow;       /* -o no_maxconns_fast */
    shmcd_ignored ignored[SHMCD_MAX_IGNORED]; /* -k -r -L -f -n -e and slab/LRU -o settings */
    size_t nignored;
    char *subopt_copies[SHMCD_MAX_SUBOPT_COPIES]; /* the -o strings ignored[] points into */
    size_t nsubopt_copies;
} shmcd_options;

/* -B: which protocol connections speak; AUTO: each connection's first byte decides. */
enum { SHMCD_PROTO_AUTO = 0, SHMCD_PROTO_ASCII, SHMCD_PROTO_BINARY };

typedef enum shmcd_opt_result {
    SHMCD_OPT_RUN,   /* start the server */
    SHMCD_OPT_EXIT,  /* -h / -V printed: exit 0 */
    SHMCD_OPT_ERROR, /* a message was printed: exit 64 (EX_USAGE) */
    SHMCD_OPT_FATAL, /* a message was printed: exit 1 (memcached's status for a bad -o) */
} shmcd_opt_result;

shmcd_opt_result shmcd_parse_options(int argc, char **argv, shmcd_options *opt);
void shmcd_free_options(shmcd_options *opt);

/* --help: every flag, its value, default and meaning. */
void shmcd_usage(FILE *f);

/* What "stats settings" shows that the options alone do not: the values in force. */
typedef struct shmcd_live {
    unsigned verbosity;      /* as the "verbosity" command last set it */
    uint64_t limit_maxbytes; /* the cache's own limits (its file may predate -m and -I) */
    uint64_t item_size_max;
    uint64_t hash_buckets;
    bool detail_enabled;     /* "stats detail on|off" (or -D) */
} shmcd_live;

/* Calls emit once per "stats settings" line, in memcached's order, with the value as text. */
typedef void (*shmcd_setting_fn)(void *ctx, const char *name, const char *value);
void shmcd_settings(const shmcd_options *opt, const shmcd_live *live, shmcd_setting_fn emit,
                    void *ctx);

/* A size with memcached's optional suffix (k, m, g; case-insensitive), e.g. "1m". */
bool shmcd_parse_size(const char *s, size_t *out);

#endif
