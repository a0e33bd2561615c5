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


/* Start a call: read the clock, apply a delayed flush that came due, read the epoch. */
void store_ctx_begin(const region_t *r, op_ctx_t *ctx);

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

/* get / gat (touch when do_touch).  SHMC_OK with the value copied; SHMC_BUFFER_TOO_SMALL
 * with nvalue set; SHMC_NOT_FOUND.  count: whether to count it as a command. */
shmc_rc store_get(const region_t *r, op_ctx_t *ctx, const unsigned char *key, uint32_t nkey,
                  bool do_touch, uint32_t exptime, get_out_t *out);

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

shmc_rc store_write(const region_t *r, op_ctx_t *ctx, enum store_mode mode,
                    const unsigned char *key, uint32_t nkey, const void *value, size_t nvalue,
                    uint32_t flags, uint32_t exptime, uint64_t cas);
/* Remove key's value because a set of it was too large (memcached does this). */
void store_drop(const region_t *r, op_ctx_t *ctx, const unsigned char *key, uint32_t nkey);
shmc_rc store_delete(const region_t *r, op_ctx_t *ctx, const unsigned char *key, uint32_t nkey);
shmc_rc store_arith(const region_t *r, op_ctx_t *ctx, const unsigned char *key, uint32_t nkey,
                    bool incr, uint64_t delta, uint64_t *result);
shmc_rc store_touch(const region_t *r, op_ctx_t *ctx, const unsigned char *key, uint32_t nkey,
                    uint32_t exptime);
void store_flush_all(const region_t *r, op_ctx_t *ctx, int64_t delay);

/* ---- whole-cache ---- */
/* Run every repair a crash of every process could need (called when nobody else is
 * attached); re-initialises every lock.  Returns the number of repairs. */
uint64_t store_recover(const region_t *r);

#endif
