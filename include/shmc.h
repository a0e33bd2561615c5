/* shmc.h — the public API of libshmc: memcached as a library over one shared cache file.
 *
 * Every process that links libshmc maps the same cache file and runs memcached's commands
 * itself, with memcached 1.6's semantics (doc/protocol.txt), without a socket.  A handle is
 * thread-safe; any number of unrelated processes may open the same cache at once, and a
 * process killed at any instant never blocks or corrupts the others.
 *
 * Conventions for every call:
 *  - Keys are 1..250 bytes of any values (NUL, space and newline included), as memcached's
 *    binary protocol and base64 meta keys take them; an empty or longer key: SHMC_BAD_KEY.
 *    A key holding a space, NUL or newline cannot be named over the text protocol (only
 *    over the binary one or as a meta base64 `b` key); shmcd lists it as memcached does
 *    (metadump and watch URI-encode it) and `shmc dump` leaves it out, naming it.
 *  - The library copies and validates every input before it touches the cache, and copies
 *    every result out; it never hands out a pointer into the cache.
 *  - exptime follows memcached: 0 never expires; 1..2592000 (30 days) is relative seconds;
 *    larger is an absolute Unix time (in the past: already expired); negative: already
 *    expired.
 *  - Out-parameters that are NULL are not written (where the text says "may be NULL").
 *  - Thread cancellation: every call (shmc_open and shmc_close included) runs with the
 *    calling thread's cancellation disabled and restores the thread's state on return, so a
 *    pthread_cancel acts after the call, never inside it where a lock is held.  shmc_mget's
 *    callback runs inside the call, so with cancellation disabled too.
 */
#ifndef SHMC_H
#define SHMC_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

#define SHMC_VERSION "0.1.0"

#define SHMC_KEY_MAX 250u                 /* longest key, as memcached's KEY_MAX_LENGTH */
#define SHMC_EXPTIME_RELATIVE_MAX 2592000 /* 30 days: larger exptimes are absolute times */

typedef struct shmc shmc_t; /* one process's handle on one cache; thread-safe */

typedef enum shmc_rc {
    SHMC_OK = 0,
    SHMC_NOT_FOUND,        /* no such key (get, delete, touch, incr/decr, cas) */
    SHMC_NOT_STORED,       /* add on a present key; replace/append/prepend on a missing one */
    SHMC_EXISTS,           /* cas: the item changed since its cas value was read */
    SHMC_BAD_KEY,          /* empty or longer than 250 bytes (any byte values are a key) */
    SHMC_TOO_LARGE,        /* value larger than the cache's item size limit */
    SHMC_NO_MEMORY,        /* nothing could be evicted to make room */
    SHMC_NOT_NUMERIC,      /* incr/decr on a value that is not a decimal uint64 */
    SHMC_BUFFER_TOO_SMALL, /* *nvalue tells the size needed */
    SHMC_INVALID,          /* a bad argument: NULL pointer, bad config */
    SHMC_BAD_FILE,         /* not a cache file, other layout version, corrupt */
    SHMC_UNSUPPORTED,      /* e.g. SHMC_PROTECT_PKU on a CPU without protection keys */
    SHMC_SYSTEM,           /* a system call failed; errno tells which */
    SHMC_REMOVED,          /* the cache was removed (shmc_remove, `shmc rm`) while open */
} shmc_rc;

#define SHMC_RC_COUNT 14

enum shmc_protect {
    SHMC_PROTECT_AUTO = 0, /* PKU where the CPU has it, else unprotected (stats say which) */
    SHMC_PROTECT_NONE,     /* never use protection keys */
    SHMC_PROTECT_PKU,      /* require protection keys; SHMC_UNSUPPORTED without them */
    SHMC_PROTECT_SEALED,   /* PKU, and refuse a process whose code could change PKRU outside
                            * the library's gate; see docs/security.md */
};
/* The environment variable SHMC_PROTECT=auto|none|pku|sealed, when set, replaces a config's
 * SHMC_PROTECT_AUTO (so a whole test suite or application can be run protected).
 * Once a process has opened any cache protected (PKU or sealed) it has protection keys, and
 * from then on every call on every handle, SHMC_PROTECT_NONE ones included, runs through the
 * library's gate and copies caller memory only with the protected caches closed: an
 * unprotected handle is never a way into a protected cache (its own mapping stays untagged).
 * A shmc_t * is a token checked against the library's key-protected handle table: after
 * shmc_close, or when damaged, it is refused with SHMC_INVALID (at most 4096 handles are open
 * at once in a process; with keys, at most 4095 threads make calls at once).  SHMC_PROTECT_SEALED: the first
 * sealed open must come before the process starts a second thread.  See docs/security.md. */

typedef struct shmc_config {
    size_t memory_limit;   /* bytes for items; default 64 MiB, as memcached -m 64 */
    size_t item_size_max;  /* largest value in bytes; default 1 MiB, as memcached -I 1m;
                            * 1 KiB to 1 GiB and at most memory_limit / 2, as memcached */
    unsigned mode;         /* file mode when created; default 0600 */
    int protect;           /* enum shmc_protect */
    unsigned hash_power;   /* log2 of hash buckets (4..36); 0: sized from memory_limit for
                            * the smallest items (memory_limit / 48 buckets, rounded down) */
    unsigned flags;        /* SHMC_OPEN_* below; 0: open the cache, creating it if missing,
                            * as a handle whose stores evict when the cache is full */
    unsigned reserved[6];  /* zero; room to grow without breaking the ABI */
} shmc_config;

/* shmc_config.flags (at most one of the first two): */
#define SHMC_OPEN_EXISTING 1u /* never create: a missing cache is SHMC_NOT_FOUND (a tool that
                               * only reads must not leave a new cache behind a typo) */
#define SHMC_OPEN_CREATE 2u   /* only create: an existing cache is SHMC_EXISTS */
#define SHMC_OPEN_NO_EVICT 4u /* this handle's stores never evict a live item to make room
                               * (memcached -M): when the cache is full of live items they
                               * fail with SHMC_NO_MEMORY; expired, flushed and deleted items'
                               * room is still reused.  Other handles are not affected. */

/* Fill *cfg with the defaults above. */
void shmc_config_init(shmc_config *cfg);

/* Open the cache `name_or_path`, creating it with `cfg` (NULL: defaults) if it does not
 * exist.  A plain name (no '/') is a file in $SHMC_DIR (default /dev/shm); a name with a
 * '/' is a path.  When the cache exists its own configuration is used: with cfg NULL, or
 * with memory_limit / item_size_max of 0, any cache is accepted; non-zero values that differ
 * from the file's mean "another configuration" and are refused with SHMC_BAD_FILE.  Two
 * processes creating the same cache at once end up sharing one.  The file's memory is
 * reserved when it is created (a file with holes is completed at open), so no access to the
 * cache can fault later: a filesystem too small for it fails here with SHMC_SYSTEM, errno
 * ENOSPC, and shmc_last_error() naming the path, the bytes needed and the bytes free.
 * cfg->flags SHMC_OPEN_EXISTING / SHMC_OPEN_CREATE restrict it to one of the two cases.
 * A cache file removed (`rm`, `shmc rm --force`) while processes still map it is not
 * replaced by a new one under its name while any of them runs: the open fails (SHMC_BAD_FILE;
 * SHMC_NOT_FOUND with SHMC_OPEN_EXISTING) and shmc_last_error() names such a process, so
 * the users are never split between two caches.  (Found in /proc/PID/maps; a process of
 * another user is seen only by root.)
 * Errors: SHMC_INVALID, SHMC_BAD_FILE (not a cache file, other layout version, truncated,
 * corrupt), SHMC_NOT_FOUND (no such cache, with SHMC_OPEN_EXISTING), SHMC_EXISTS (the cache
 * exists, with SHMC_OPEN_CREATE), SHMC_UNSUPPORTED, SHMC_SYSTEM (errno tells which). */
shmc_rc shmc_open(shmc_t **out, const char *name_or_path, const shmc_config *cfg);

/* Detach from the cache.  The cache and its items stay in the file.  NULL is a no-op. */
void shmc_close(shmc_t *c);

/* A short English description of rc; never NULL. */
const char *shmc_strerror(shmc_rc rc);

/* The last detailed error message of the calling thread (e.g. why a file was refused);
 * empty when there is none. */
const char *shmc_last_error(void);

/* ---- Reads: the value is copied into the caller's buffer. ---- */

/* Copy the value of `key` into buf[0..cap).  *nvalue (required) gets the value's length;
 * flags and cas may be NULL.  SHMC_BUFFER_TOO_SMALL when cap < the length (nothing but
 * *nvalue is written then).  buf may be NULL when cap is 0. */
shmc_rc shmc_get(shmc_t *c, const char *key, size_t nkey, void *buf, size_t cap,
                 size_t *nvalue, uint32_t *flags, uint64_t *cas);

/* Get and touch: as shmc_get, and set the item's expiry to exptime. */
shmc_rc shmc_gat(shmc_t *c, const char *key, size_t nkey, int64_t exptime, void *buf,
                 size_t cap, size_t *nvalue, uint32_t *flags, uint64_t *cas);

/* As shmc_get, into a buffer from malloc() that the caller frees.  nvalue, flags and cas
 * may be NULL.  The value is NUL-terminated for convenience (not counted in *nvalue). */
shmc_rc shmc_get_alloc(shmc_t *c, const char *key, size_t nkey, void **value,
                       size_t *nvalue, uint32_t *flags, uint64_t *cas);

/* Multi-get: cb is called once per key found, in the order of keys[], with a copy of the
 * value (never a pointer into the cache), after the library has left the cache.  A bad key
 * fails the whole call with SHMC_BAD_KEY before any lookup.  Misses are skipped. */
typedef void (*shmc_value_cb)(void *ctx, const char *key, size_t nkey, const void *value,
                              size_t nvalue, uint32_t flags, uint64_t cas);
shmc_rc shmc_mget(shmc_t *c, const char *const *keys, const size_t *nkeys, size_t n,
                  shmc_value_cb cb, void *ctx);

/* ---- Writes ---- */

/* Store unconditionally.  A value over the item size limit fails with SHMC_TOO_LARGE and,
 * as in memcached, removes the key's old value. */
shmc_rc shmc_set(shmc_t *c, const char *key, size_t nkey, const void *value, size_t nvalue,
                 uint32_t flags, int64_t exptime);
/* Store only if the key is absent (else SHMC_NOT_STORED). */
shmc_rc shmc_add(shmc_t *c, const char *key, size_t nkey, const void *value, size_t nvalue,
                 uint32_t flags, int64_t exptime);
/* Store only if the key is present (else SHMC_NOT_STORED). */
shmc_rc shmc_replace(shmc_t *c, const char *key, size_t nkey, const void *value,
                     size_t nvalue, uint32_t flags, int64_t exptime);
/* Append to / prepend to a present value (else SHMC_NOT_STORED).  The old item's flags and
 * expiry are kept; the flags and exptime arguments are ignored, as in memcached.  A joined
 * value that would exceed the item size limit is SHMC_NOT_STORED too (memcached cannot
 * allocate it), and the old value stays; a piece alone over the limit is SHMC_TOO_LARGE. */
shmc_rc shmc_append(shmc_t *c, const char *key, size_t nkey, const void *value,
                    size_t nvalue, uint32_t flags, int64_t exptime);
shmc_rc shmc_prepend(shmc_t *c, const char *key, size_t nkey, const void *value,
                     size_t nvalue, uint32_t flags, int64_t exptime);
/* Store only if the item's cas value is still `cas`: SHMC_EXISTS when it changed,
 * SHMC_NOT_FOUND when the key is absent. */
shmc_rc shmc_cas(shmc_t *c, const char *key, size_t nkey, const void *value, size_t nvalue,
                 uint32_t flags, int64_t exptime, uint64_t cas);
/* Remove the key (SHMC_NOT_FOUND when absent). */
shmc_rc shmc_delete(shmc_t *c, const char *key, size_t nkey);
/* Add/subtract delta to a value that is a decimal uint64 (at most 20 digits).  incr wraps
 * at 2^64; decr stops at 0.  The result is stored as decimal text, keeping flags, expiry;
 * it gets a new cas value.  *result may be NULL.  SHMC_NOT_NUMERIC for other values. */
shmc_rc shmc_incr(shmc_t *c, const char *key, size_t nkey, uint64_t delta, uint64_t *result);
shmc_rc shmc_decr(shmc_t *c, const char *key, size_t nkey, uint64_t delta, uint64_t *result);
/* Set a present item's expiry (SHMC_NOT_FOUND when absent). */
shmc_rc shmc_touch(shmc_t *c, const char *key, size_t nkey, int64_t exptime);
/* Invalidate every item now (delay <= 0) or `delay` seconds from now.  A later
 * flush_all replaces a pending delayed one, as in memcached.  curr_items and bytes (stats)
 * count only items stored after it from the moment it takes effect, as memcached's do; the
 * flushed items' memory is reclaimed later (their next lookup, or cleaning).  Its cost is one
 * compare-and-swap whatever the cache holds. */
shmc_rc shmc_flush_all(shmc_t *c, int64_t delay);

/* ---- Item metadata, invalidation and win tokens: memcached 1.6's meta commands ---- */

/* Who is to recompute an item (memcached's W and Z flags). */
enum shmc_win {
    SHMC_WIN_NONE = 0, /* nobody needs to */
    SHMC_WIN_WON,      /* this caller: store a fresh value (W) */
    SHMC_WIN_TAKEN,    /* another caller won and has not stored yet (Z) */
};
/* A win is honoured for this many seconds (give or take 4): a winner killed before it
 * stores is succeeded by the first fetcher after that (memcached has no such bound). */
#define SHMC_WIN_TIMEOUT 30

/* An item's metadata as a meta call saw it. */
typedef struct shmc_item_meta {
    uint64_t cas;         /* the item's cas after the call */
    uint32_t flags;       /* the client's flags */
    uint32_t last_access; /* seconds since the item was last fetched or stored, before the
                           * call (moved at most once a minute, as memcached's) */
    uint64_t nvalue;      /* value bytes */
    int64_t ttl;          /* seconds left after the call; -1: never expires */
    int64_t prev_ttl;     /* seconds left before the call changed the expiry; -1: never
                           * (or the item was created by the call) */
    uint8_t fetched;      /* 1: fetched before this call (memcached's "hit before") */
    uint8_t stale;        /* 1: invalidated; served, flagged, until a store replaces it */
    uint8_t win;          /* enum shmc_win */
    uint8_t created;      /* 1: the call created the item (vivified on a miss) */
    uint32_t reserved[3];
} shmc_item_meta;

/* shmc_get_opts.what: what a fetch does besides reading (memcached's mg flags). */
#define SHMC_GET_TOUCH 0x1u   /* T: set the expiry to `exptime` */
#define SHMC_GET_VIVIFY 0x2u  /* N: on a miss create an empty item (flags 0) expiring at
                               * `vivify_exptime`, and win it; others then see it TAKEN */
#define SHMC_GET_RECACHE 0x4u /* R: win when the item expires within `recache` seconds */
#define SHMC_GET_NO_BUMP 0x8u /* u: the item is not marked fetched and its last access
                               * does not move */
#define SHMC_GET_NO_WIN 0x10u /* hand out no win (a stale item's included): report only;
                               * with NO_BUMP and no TOUCH the fetch changes nothing */
/* memcached applies mg's T, N and R in the request's order; these say T came first: */
#define SHMC_GET_VIVIFY_AFTER_TOUCH 0x20u  /* a created item gets vivify_exptime, not exptime */
#define SHMC_GET_RECACHE_AFTER_TOUCH 0x40u /* RECACHE compares the expiry TOUCH set, not the
                                            * one before */
#define SHMC_GET_NO_COUNT 0x80u /* counted in no get or touch statistic (memcached's me) */
typedef struct shmc_get_opts {
    unsigned what;          /* SHMC_GET_* */
    uint32_t recache;       /* seconds */
    int64_t exptime;        /* memcached exptime, as everywhere */
    int64_t vivify_exptime; /* memcached exptime */
    uint64_t reserved[2];   /* zero */
} shmc_get_opts;

/* Fetch `key` with its metadata into *meta (required).  opts may be NULL (a plain fetch).
 * The value is copied as by shmc_get (buf, cap, nvalue; SHMC_BUFFER_TOO_SMALL changes
 * nothing).
 * Whatever the options, a stale item gives its first fetcher the win (memcached's X with W),
 * and a win that is out shows as SHMC_WIN_TAKEN; exactly one caller, in any process, gets
 * SHMC_WIN_WON for one vivified, stale or (with RECACHE) expiring item until a store
 * replaces it or SHMC_WIN_TIMEOUT passes.  Nothing shared is written unless a win, a touch,
 * a first fetch or a last-access move (once a minute) is due. */
shmc_rc shmc_get_meta(shmc_t *c, const char *key, size_t nkey, const shmc_get_opts *opts,
                      void *buf, size_t cap, size_t *nvalue, shmc_item_meta *meta);

/* shmc_store_meta's modes (memcached's ms M) and options. */
enum shmc_store_mode {
    SHMC_MODE_SET = 0, SHMC_MODE_ADD, SHMC_MODE_REPLACE, SHMC_MODE_APPEND, SHMC_MODE_PREPEND,
};
#define SHMC_STORE_CAS 0x1u        /* C: store only if the item's cas is `cas` (set and replace
                                    * then act as shmc_cas; append/prepend compare a cas that is
                                    * not 0 and answer SHMC_NOT_STORED on a miss; add ignores it) */
#define SHMC_STORE_INVALIDATE 0x2u /* I, with CAS on set/replace: a `cas` older than the item's
                                    * stores the value anyway, marked stale, keeping the item's
                                    * expiry and win */
typedef struct shmc_store_opts {
    unsigned what; /* SHMC_STORE_* */
    uint64_t cas;
    uint64_t reserved[2];
} shmc_store_opts;

/* Store as the mode's call does (shmc_set, shmc_add, ...; opts may be NULL) and return the
 * stored item's cas in *cas_out (may be NULL), taken as it was linked: no read-back.  A store
 * replaces a stale item and ends its win.  Errors as the mode's call. */
shmc_rc shmc_store_meta(shmc_t *c, int mode, const char *key, size_t nkey, const void *value,
                        size_t nvalue, uint32_t flags, int64_t exptime,
                        const shmc_store_opts *opts, uint64_t *cas_out);

#define SHMC_DELETE_CAS 0x1u        /* C: only if the item's cas is `cas` (else SHMC_EXISTS) */
#define SHMC_DELETE_INVALIDATE 0x2u /* I: instead of removing it, mark the item stale, give it
                                     * a new cas and end its win: the next fetch wins */
#define SHMC_DELETE_TOUCH 0x4u      /* T, with INVALIDATE: also set its expiry to `exptime` */
#define SHMC_DELETE_NO_COUNT 0x8u   /* counted in no delete statistic: memcached drops the old
                                     * value of a refused set (too large, out of memory)
                                     * without counting a delete */
typedef struct shmc_delete_opts {
    unsigned what; /* SHMC_DELETE_* */
    uint64_t cas;
    int64_t exptime;
    uint64_t reserved[2];
} shmc_delete_opts;

/* Delete or invalidate `key` (opts NULL: as shmc_delete).  SHMC_NOT_FOUND when absent,
 * SHMC_EXISTS when CAS does not match. */
shmc_rc shmc_delete_meta(shmc_t *c, const char *key, size_t nkey, const shmc_delete_opts *opts);

#define SHMC_ARITH_CAS 0x1u    /* C: only if the item's cas is `cas` (0 matches any, as
                                * memcached); else SHMC_EXISTS */
#define SHMC_ARITH_TOUCH 0x2u  /* T: on success set the expiry to `exptime` */
#define SHMC_ARITH_VIVIFY 0x4u /* N: on a miss create the counter with `initial` (not
                                * changed by delta), expiring at `vivify_exptime` */
#define SHMC_ARITH_VIVIFY_AFTER_TOUCH 0x8u /* with TOUCH: a created counter expires at
                                           * vivify_exptime (memcached's T before N) */
typedef struct shmc_arith_opts {
    unsigned what; /* SHMC_ARITH_* */
    uint64_t cas;
    int64_t exptime;
    uint64_t initial;
    int64_t vivify_exptime;
    uint64_t reserved[2];
} shmc_arith_opts;

/* incr (incr != 0) or decr as shmc_incr/shmc_decr, with memcached's ma options (opts may be
 * NULL).  *result and *meta (cas, nvalue, ttl, prev_ttl, created) may be NULL.  The item keeps
 * its stale mark and win, as memcached's (which changes a counter in place). */
shmc_rc shmc_arith_meta(shmc_t *c, const char *key, size_t nkey, int incr, uint64_t delta,
                        const shmc_arith_opts *opts, uint64_t *result, shmc_item_meta *meta);

/* Walk every live item: cb gets a copy of each (key, value, metadata as shmc_get_meta
 * reports it, with prev_ttl == ttl), after the library has left the cache; it returns 0 to
 * go on, anything else to stop the walk (which then returns SHMC_OK).  Safe while others
 * write: every item seen is whole, and an item present during the whole walk is seen exactly
 * once (items added, replaced or removed meanwhile are seen at most once, old or new).  The
 * walk writes nothing to the cache: no item is marked fetched, no win is taken.  Errors:
 * SHMC_INVALID, SHMC_SYSTEM (out of memory for a chain's copy). */
typedef int (*shmc_walk_cb)(void *ctx, const char *key, size_t nkey, const void *value,
                            size_t nvalue, const shmc_item_meta *meta);
shmc_rc shmc_walk(shmc_t *c, shmc_walk_cb cb, void *ctx);

/* ---- Evictions this handle's own calls made (memcached's `watch evictions`) ---- */

/* One live item that a store of this handle evicted to make room, as it was then. */
typedef struct shmc_eviction {
    char key[SHMC_KEY_MAX]; /* not NUL-terminated */
    size_t nkey;
    uint64_t nvalue;        /* value bytes */
    uint32_t flags;         /* the client's flags */
    uint32_t last_access;   /* seconds since it was last fetched or stored */
    int64_t ttl;            /* seconds it had left; -1: it never expired */
    uint8_t fetched;        /* 1: it had been fetched (memcached's fetch=yes) */
    uint8_t reserved[7];
} shmc_eviction;

#define SHMC_EVICTIONS_MAX 65536 /* the most records one handle keeps */

/* Start recording, in this process's private memory, the last `n` (1..SHMC_EVICTIONS_MAX)
 * live items that calls on this handle evict; older records are dropped when more come
 * (counted, see shmc_evictions_drain).  Once per handle: recording stays on until
 * shmc_close.  Evictions made by other handles, in this process or another, are not seen:
 * shmc evicts inside whichever call needs the room.  A handle that records costs nothing
 * more on a store that evicts nothing; one that evicts copies the item's key and metadata.
 * Errors: SHMC_INVALID (n out of range, recording already on, not an open handle),
 * SHMC_SYSTEM (out of memory). */
shmc_rc shmc_evictions_record(shmc_t *c, size_t n);

/* Move up to cap of the oldest records into out[0..*n), oldest first (*n < cap: the record
 * is now empty).  *lost (may be NULL) gets the records dropped for want of room since the
 * last drain.  Call it after a store has returned, from any thread: the library never calls
 * back.  With recording off: SHMC_OK, *n = 0.  Errors: SHMC_INVALID (NULL c, out or n; not
 * an open handle). */
shmc_rc shmc_evictions_drain(shmc_t *c, shmc_eviction *out, size_t cap, size_t *n,
                             uint64_t *lost);

/* ---- Introspection ---- */

/* The cache's statistics (memcached's counters), one row each, in the order of shmc_stats_t's
 * fields: X(kind, name, wire, reset, meaning).
 *   kind     COUNTER: counted by the commands of every process and thread that used the
 *            cache (it only grows); GAUGE: read from the cache's state when asked.
 *   name     the field of shmc_stats_t (memcached's name where memcached has one).
 *   wire     the name shmcd's "stats" prints (memcached's, or shmc_-prefixed for shmc's own);
 *            "": not a line of its own (shmcd derives other lines from it, or prints its own).
 *   reset    what "stats reset" does: ZERO (later replies count from the reset) or KEEP.
 *   meaning  one line.
 * A program can iterate it (#define ROW(kind, name, wire, reset, meaning) ..., then
 * SHMC_STATS(ROW)), as shmcd and the shmc tool do.  Rows are only ever appended: the order
 * of the fields is the ABI (see shmc_stats below).  Adding a counter is a row here and the
 * code that counts it (docs/architecture.md). */
#define SHMC_STATS(X)                                                                       \
    X(GAUGE, curr_items, "curr_items", KEEP, "items in the cache now")                      \
    X(COUNTER, total_items, "total_items", ZERO, "items stored since the cache was created") \
    X(GAUGE, bytes, "bytes", KEEP, "bytes of items (key, value, header) in the cache now")  \
    X(GAUGE, limit_maxbytes, "limit_maxbytes", KEEP, "the memory limit for items")          \
    X(GAUGE, item_size_max, "shmc_item_size_max", KEEP, "the largest value in bytes")       \
    X(GAUGE, hash_buckets, "", KEEP, "hash buckets (shmcd: hash_power_level, hash_bytes)")  \
    X(GAUGE, segments, "shmc_segments", KEEP, "segments of the item log")                   \
    X(GAUGE, segment_size, "shmc_segment_size", KEEP, "bytes per segment")                  \
    X(GAUGE, segments_free, "shmc_segments_free", KEEP, "segments holding no items")        \
    X(GAUGE, curr_connections, "shmc_attached_processes", KEEP, "handles attached now")     \
    X(GAUGE, total_connections, "shmc_total_attaches", KEEP,                                \
      "attaches since the cache was created")                                               \
    X(GAUGE, time, "", KEEP, "now, as a Unix time (shmcd prints its own)")                  \
    X(GAUGE, uptime, "shmc_cache_uptime", KEEP, "seconds since the cache was created")      \
    X(GAUGE, protected_mode, "shmc_protected", KEEP,                                        \
      "1: protection keys guard the cache; 0: unprotected")                                 \
    X(COUNTER, cmd_get, "cmd_get", ZERO, "keys looked up (get, gets, gat, mget, ...)")      \
    X(COUNTER, cmd_set, "cmd_set", ZERO, "storage commands (set, add, cas, append, ...)")   \
    X(COUNTER, cmd_touch, "cmd_touch", ZERO, "touch and gat commands")                      \
    X(COUNTER, cmd_flush, "cmd_flush", ZERO, "flush_all commands")                          \
    X(COUNTER, get_hits, "get_hits", ZERO, "keys found by a get")                           \
    X(COUNTER, get_misses, "get_misses", ZERO, "keys not found by a get")                   \
    X(COUNTER, get_expired, "get_expired", ZERO, "gets that found the key expired")         \
    X(COUNTER, get_flushed, "get_flushed", ZERO, "gets that found the key flushed")         \
    X(COUNTER, delete_hits, "delete_hits", ZERO, "deletes of a present key")                \
    X(COUNTER, delete_misses, "delete_misses", ZERO, "deletes of an absent key")            \
    X(COUNTER, incr_hits, "incr_hits", ZERO, "incrs of a present key")                      \
    X(COUNTER, incr_misses, "incr_misses", ZERO, "incrs of an absent key")                  \
    X(COUNTER, decr_hits, "decr_hits", ZERO, "decrs of a present key")                      \
    X(COUNTER, decr_misses, "decr_misses", ZERO, "decrs of an absent key")                  \
    X(COUNTER, cas_hits, "cas_hits", ZERO, "cas commands that stored")                      \
    X(COUNTER, cas_misses, "cas_misses", ZERO, "cas commands on an absent key")             \
    X(COUNTER, cas_badval, "cas_badval", ZERO, "cas commands refused: the item had changed") \
    X(COUNTER, touch_hits, "touch_hits", ZERO, "touches of a present key")                  \
    X(COUNTER, touch_misses, "touch_misses", ZERO, "touches of an absent key")              \
    X(COUNTER, evictions, "evictions", ZERO, "live items evicted to make room")             \
    X(COUNTER, expired_unfetched, "expired_unfetched", ZERO,                                \
      "items that expired without ever being fetched")                                      \
    X(COUNTER, evicted_unfetched, "evicted_unfetched", ZERO,                                \
      "items evicted without ever being fetched")                                           \
    X(COUNTER, reclaimed, "reclaimed", ZERO, "expired or flushed items unlinked when found")  \
    X(COUNTER, reinserted, "shmc_reinserted", ZERO,                                         \
      "recently used items kept when their segment was evicted")                            \
    X(COUNTER, repairs, "shmc_repairs", ZERO,                                               \
      "half-done changes of dead processes that were repaired")                             \
    X(COUNTER, recovery_scrubs, "shmc_recovery_scrubs", KEEP,                               \
      "opens that verified every item: the last users had died")                            \
    X(COUNTER, damaged_dropped, "shmc_damaged_dropped", KEEP,                               \
      "damaged or untrusted entries those scrubs unlinked")                                 \
    X(COUNTER, win_tokens, "shmc_win_tokens", ZERO,                                         \
      "wins handed out (mg W): vivified, stale or recached items")                          \
    X(COUNTER, win_timeouts, "shmc_win_timeouts", ZERO,                                     \
      "wins handed out again: the last winner stored nothing within its timeout")           \
    X(COUNTER, stale_hits, "shmc_stale_hits", ZERO, "meta fetches that found the item stale (X)") \
    X(COUNTER, invalidations, "shmc_invalidations", ZERO, "items marked stale (md I)")

/* The values of every row of SHMC_STATS, summed over every process and thread that used
 * the cache. */
typedef struct shmc_stats {
#define SHMC_STATS_FIELD_(kind, name, wire, reset, meaning) uint64_t name;
    SHMC_STATS(SHMC_STATS_FIELD_)
#undef SHMC_STATS_FIELD_
} shmc_stats_t;

/* shmc_stats_t grows at its end, and a program keeps working with the library of any
 * later version: shmc_stats (a macro) passes the size of the caller's shmc_stats_t to
 * shmc_stats_sized, which fills that many bytes: the fields the library knows, and zeros for
 * any newer field it does not.  size below SHMC_STATS_SIZE_V1 (the struct of version 0.1,
 * through damaged_dropped), or not a multiple of 8: SHMC_INVALID.  The function shmc_stats
 * itself, which programs built against 0.1 call, fills exactly SHMC_STATS_SIZE_V1 bytes. */
#define SHMC_STATS_SIZE_V1 (41u * sizeof(uint64_t))
shmc_rc shmc_stats_sized(shmc_t *c, shmc_stats_t *out, size_t size);
shmc_rc shmc_stats(shmc_t *c, shmc_stats_t *out);
#define shmc_stats(c, out) shmc_stats_sized((c), (out), sizeof *(out))

/* What `shmc ls` shows of a cache file, read without attaching to it (no lock taken, no
 * recovery run, nothing written): safe on any file, like shmc_check. */
typedef struct shmc_info {
    uint64_t file_size;      /* bytes of the file */
    uint64_t memory_limit, item_size_max;
    uint64_t curr_items, bytes;
    uint64_t attached;       /* processes attached now */
    uint64_t create_time;    /* Unix time of creation */
    uint64_t scrub_pending;  /* 1: nobody is attached, but the last users died attached: the
                              * next open verifies every item first (recovery_scrubs) */
    uint64_t protected_mode; /* 1: an SHMC_PROTECT_AUTO open here would use protection keys */
    uint64_t reserved[7];    /* zero; room to grow */
} shmc_info_t;

/* Fill *out for the cache `name_or_path`.  SHMC_NOT_FOUND when there is no such file,
 * SHMC_BAD_FILE when it is not a readable cache, SHMC_INVALID for NULL arguments. */
shmc_rc shmc_info(const char *name_or_path, shmc_info_t *out);

/* This process's own mapping of the cache file: its length, and how many of its bytes the
 * kernel maps with huge (2 MiB) pages (where the file's filesystem holds them: tmpfs mounted
 * huge=always or within_size, hugetlbfs; see docs/huge-pages.md).  It first maps every page
 * of the file into this process (readable; as in any process that has read the whole cache),
 * then reads /proc/self/smaps: a figure of this process, not a counter shared through the
 * file. */
typedef struct shmc_mapping {
    uint64_t mapped_bytes, huge_bytes;
} shmc_mapping_t;

shmc_rc shmc_mapping_stats(shmc_t *c, shmc_mapping_t *out);

/* Resize the cache `name_or_path` without losing items or splitting its users: a new file
 * of memory_limit / item_size_max bytes (0: the cache's own) gets every live item with its
 * flags, cas, remaining TTL and meta state, and replaces the old one under the name in one
 * step.  Writers wait while the items are copied (info->frozen_us); readers do not.  Every
 * handle on the old cache, in any process, moves to the new one by itself at its next call.
 * A resizer killed at any point leaves the old cache or the new one, whole.  Items larger
 * than the new item_size_max are left out (info->too_large); a smaller cache evicts what
 * does not fit (info->evicted).  Errors: as shmc_open with SHMC_OPEN_EXISTING. */
typedef struct shmc_resize_info {
    uint64_t items;                       /* live items copied */
    uint64_t too_large;                   /* left out: above the new item size limit */
    uint64_t evicted;                     /* copied, then evicted for want of room */
    uint64_t frozen_us;                   /* how long writers waited */
    uint64_t memory_limit, item_size_max; /* the new cache's */
    uint64_t reserved[4];
} shmc_resize_info;
shmc_rc shmc_resize(const char *name_or_path, uint64_t memory_limit, uint64_t item_size_max,
                    shmc_resize_info *info);

/* Remove the cache `name_or_path` (`shmc rm`).  Handles still open on it, in any process,
 * fail from their next call with SHMC_REMOVED, until a new cache is made under the name:
 * then they follow to it, so the users are never split.  A file that is no usable cache is
 * just unlinked.  SHMC_NOT_FOUND when there is no such file. */
shmc_rc shmc_remove(const char *name_or_path);

/* Walk the whole cache file and verify every invariant; print each violation (and a summary)
 * to `report` (may be NULL) and store their number in *violations (may be NULL).  Safe on
 * any file, hostile ones included.  It reads a snapshot without taking any lock, so run it
 * on a quiet cache (no process writing): while others write it also reports their changes in
 * flight (a stripe count mid-update, a head mid-cleaning, an item between two chains), which
 * are not damage.  What a process that died in a call left (a lock its owner died holding,
 * and what that lock guards) is reported as "repair pending", not counted: the next locker,
 * or the next open with nobody attached, repairs it.  A file with holes is refused (reading
 * one could fill its filesystem).
 * Returns SHMC_OK when the walk ran (violations or not), SHMC_NOT_FOUND when there is no such
 * file, SHMC_BAD_FILE when the file is not a readable cache at all. */
shmc_rc shmc_check(const char *name_or_path, FILE *report, size_t *violations);

#ifdef __cplusplus
}
#endif
#endif /* SHMC_H */
