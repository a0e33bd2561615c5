/* store.h — the cache's operations on a mapped region: memcached's commands over the hash
 * index (index.c) and the segment log (segment.c), with expiry, flush, cas and counters.
 * Inputs are already validated and copied by the API layer; nothing here returns a pointer
 * into the cache. */
#ifndef SHMC_STORE_H
#define SHMC_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <shmc.h>

#include "region/region.h"
#include "store/op_ctx.h"
#include "util/hash.h"


/* Start a call: read the clock, apply a delayed flush that came due, read the epoch, and
 * whether the file is retired (ctx->retired: frozen for a resize or removal, or moved). */
void store_ctx_begin(const region_t *r, op_ctx_t *ctx);

/* What a write returns when it met a retired file under its lock (ctx->retired set): it
 * changed nothing, and the API layer starts the call again after following the file
 * (api/resize.c).  Never returned by a public call. */
#define STORE_RETRY ((shmc_rc)(SHMC_RC_COUNT + 1))

/* memcached's exptime argument as an absolute time (0: never). */
uint32_t store_exptime_abs(int64_t exptime, uint32_t now);

/* ---- reads ---- */
typedef struct get_out {
    void *buf;
    size_t cap;
    size_t nvalue;
    uint32_t flags;
    uint64_t cas;
} get_out_t;

/* Ask for the line of key's hash bucket now, so that it arrives while the caller sets its
 * call up instead of after (a get's first miss); store_get then finds it cached.  Only a
 * prefetch: it reads nothing, so the key need not have been checked yet. */
static inline void store_prefetch(const region_t *r, const unsigned char *key, uint32_t nkey)
{
    __builtin_prefetch(&r->buckets[hash_key(key, nkey, r->hash_seed) & r->bucket_mask]);
}

/* get / gat (touch when do_touch).  SHMC_OK with the value copied; SHMC_BUFFER_TOO_SMALL
 * with nvalue set; SHMC_NOT_FOUND.  count: whether to count it as a command. */
shmc_rc store_get(const region_t *r, op_ctx_t *ctx, const unsigned char *key, uint32_t nkey,
                  bool do_touch, uint32_t exptime, get_out_t *out);

/* A fetch with memcached's meta semantics (mg): what to do besides reading. */
typedef struct meta_req {
    unsigned what;           /* SHMC_GET_* */
    uint32_t exptime;        /* SHMC_GET_TOUCH: the new absolute expiry */
    uint32_t vivify_exptime; /* SHMC_GET_VIVIFY: the stub's absolute expiry */
    uint32_t recache;        /* SHMC_GET_RECACHE: seconds */
} meta_req_t;

/* What a meta call saw and left: the item's state before the call (atime, fetched,
 * prev_exptime) and after it (cas, exptime, stale, win). */
typedef struct meta_out {
    uint64_t cas;
    uint32_t flags, nvalue;
    uint32_t exptime, prev_exptime; /* absolute; 0: never */
    uint32_t atime;
    bool fetched, stale, created;
    uint8_t win; /* enum shmc_win */
} meta_out_t;

/* get with metadata and win tokens (see shmc_get_meta).  SHMC_OK, SHMC_BUFFER_TOO_SMALL
 * (out->nvalue set, nothing changed), SHMC_NOT_FOUND, or an error of a vivifying write. */
shmc_rc store_get_meta(const region_t *r, op_ctx_t *ctx, const unsigned char *key,
                       uint32_t nkey, const meta_req_t *req, get_out_t *out, meta_out_t *meta);

/* The most keys store_get_batch takes. */
#define STORE_BATCH_MAX 16

/* n (<= STORE_BATCH_MAX) gets without touch, each with store_get's answer, counters, access
 * bit and reclaim, but with their memory loads overlapped (index_read_batch).  Values are
 * packed into arena (cap bytes); out[i].buf is key i's.  rc[i] SHMC_BUFFER_TOO_SMALL: the
 * arena had no room left (out[i].nvalue says how much it needs) and nothing was counted;
 * the caller asks again with store_get. */
void store_get_batch(const region_t *r, op_ctx_t *ctx, const unsigned char *const *keys,
                     const uint32_t *nkeys, size_t n, unsigned char *arena, size_t cap,
                     get_out_t *out, shmc_rc *rc);

/* ---- writes ---- */
enum store_mode { MODE_SET, MODE_ADD, MODE_REPLACE, MODE_APPEND, MODE_PREPEND, MODE_CAS };

/* MODE_CAS compares cas; so do MODE_APPEND/PREPEND when cas is not 0 (memcached's
 * simplified check).  stale_ok (MODE_CAS only): a cas older than the item's stores the
 * value anyway, marked stale, keeping the old expiry and win (memcached's ms I).  *cas_out
 * (may be NULL) gets the stored item's cas. */
shmc_rc store_write(const region_t *r, op_ctx_t *ctx, enum store_mode mode,
                    const unsigned char *key, uint32_t nkey, const void *value, size_t nvalue,
                    uint32_t flags, uint32_t exptime, uint64_t cas, bool stale_ok,
                    uint64_t *cas_out);
/* Remove key's value because a set of it was too large (memcached does this). */
void store_drop(const region_t *r, op_ctx_t *ctx, const unsigned char *key, uint32_t nkey);
shmc_rc store_delete(const region_t *r, op_ctx_t *ctx, const unsigned char *key, uint32_t nkey);
/* Delete, or invalidate (mark stale with a new cas, clear any win, and set the expiry when
 * has_exptime), only when the item's cas is `cas` if has_cas: SHMC_EXISTS otherwise. */
shmc_rc store_delete_meta(const region_t *r, op_ctx_t *ctx, const unsigned char *key,
                          uint32_t nkey, bool has_cas, uint64_t cas, bool invalidate,
                          bool has_exptime, uint32_t exptime, bool count);

/* incr/decr with memcached's ma options; *out gets the new cas, expiry and created. */
typedef struct arith_req {
    bool incr;
    uint64_t delta;
    bool has_cas, has_exptime, vivify;
    uint64_t cas;           /* compared when has_cas and not 0 (memcached) */
    uint32_t exptime;       /* has_exptime: the expiry set on success */
    uint64_t initial;       /* vivify: the value of an item created on a miss ... */
    uint32_t vivify_exptime;/* ... and its expiry */
    bool vivify_last;       /* with has_exptime: a created item keeps vivify_exptime */
} arith_req_t;
shmc_rc store_arith(const region_t *r, op_ctx_t *ctx, const unsigned char *key, uint32_t nkey,
                    const arith_req_t *req, uint64_t *result, meta_out_t *out);
shmc_rc store_touch(const region_t *r, op_ctx_t *ctx, const unsigned char *key, uint32_t nkey,
                    uint32_t exptime);
/* SHMC_OK, or STORE_RETRY when the file is retired. */
shmc_rc store_flush_all(const region_t *r, op_ctx_t *ctx, int64_t delay);

/* Link a copy of an item as it was in another cache, its cas, flags, absolute expiry, last
 * access, meta state and fetched mark kept (a resize's copy: nobody else writes the cache yet). */
shmc_rc store_put_copy(const region_t *r, op_ctx_t *ctx, const unsigned char *key,
                       uint32_t nkey, const void *value, uint32_t nvalue, uint32_t flags,
                       uint32_t exptime, uint64_t cas, uint32_t atime, uint32_t meta,
                       bool fetched);

/* ---- whole-cache ---- */
/* Copy the live items of hash buckets [b0, b1) into buf (index.h's chain copies, their
 * `fetched` set), each bucket's chain as one consistent snapshot.  Returns the first bucket
 * not copied: b1 (or the bucket count), or one whose chain did not fit (buf->full). */
struct copy_buf;
uint64_t store_walk(const region_t *r, op_ctx_t *ctx, uint64_t b0, uint64_t b1,
                    struct copy_buf *buf);

/* Run every repair a crash of every process could need (called when nobody else is
 * attached); re-initialises every lock.  Returns the number of repairs. */
uint64_t store_recover(const region_t *r);

#endif
