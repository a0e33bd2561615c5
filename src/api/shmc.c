/* shmc.c — the public API: argument checks, copies of caller input taken before the cache is
 * touched (a key that changes in the caller's buffer mid-call cannot put an item in the
 * wrong bucket), and results copied out.  Everything below this file trusts its inputs. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "api/handle.h"
#include "protect/domain.h"
#include "protect/gate.h"
#include "protect/pku.h"
#include "protect/seal.h"
#include <sys/mman.h>
#include "store/check.h"
#include "store/scrub.h"
#include "store/stats.h"
#include "store/store.h"
#include "util/clock.h"
#include "util/error.h"

#define API __attribute__((visibility("default")))

/* ---- input checks ---- */

static shmc_rc invalid(const char *what) { return error_set(SHMC_INVALID, "%s", what); }

static bool prot(const shmc_t *c) { return c->protect == SHMC_PROTECT_PKU || c->protect == SHMC_PROTECT_SEALED; }

/* The calling thread's private staging area: [key][value of up to item_size_max]. */
static unsigned char *staging(const shmc_t *c)
{
    return protect_private_buf(SHMC_KEY_MAX + 6 + c->r.item_size_max);
}
#define STAGED_VALUE(p) ((p) + SHMC_KEY_MAX + 6)

static shmc_rc key_copy(unsigned char dst[SHMC_KEY_MAX], const char *key, size_t nkey);

/* Take the key out of the caller's buffer before the cache is touched: into this thread's
 * private staging buffer when the handle is protected (the gate is then left staged), else
 * into `local`.  *k names the copy.  On failure the gate is closed again. */
static shmc_rc take_key(shmc_t *c, const char *key, size_t nkey, unsigned char *local,
                        unsigned char **k)
{
    gate_stage();
    *k = prot(c) ? staging(c) : local;
    shmc_rc rc = *k ? key_copy(*k, key, nkey) : error_set(SHMC_SYSTEM, "out of process memory");
    if (rc != SHMC_OK) gate_close();
    return rc;
}

/* Copy a key out of the caller's buffer, then validate the copy. */
static shmc_rc key_copy(unsigned char dst[SHMC_KEY_MAX], const char *key, size_t nkey)
{
    if (!key) return invalid("key is NULL");
    if (nkey == 0 || nkey > SHMC_KEY_MAX)
        return error_set(SHMC_BAD_KEY, "key length %zu is not in 1..%u", nkey, SHMC_KEY_MAX);
    memcpy(dst, key, nkey);
    int bad = 0; /* without a branch per byte, so that the compiler can vectorise it */
    for (size_t i = 0; i < nkey; i++) bad |= (dst[i] <= 0x20) | (dst[i] == 0x7f);
    for (size_t i = 0; bad && i < nkey; i++)
        if (dst[i] <= 0x20 || dst[i] == 0x7f)
            return error_set(SHMC_BAD_KEY, "key holds byte 0x%02x at %zu (space or control)", dst[i], i);
    return SHMC_OK;
}

/* ---- open and close ---- */

API void shmc_config_init(shmc_config *cfg)
{
    if (!cfg) return;
    memset(cfg, 0, sizeof *cfg);
    cfg->memory_limit = 64u << 20;
    cfg->item_size_max = 1u << 20;
    cfg->mode = 0600;
    cfg->protect = SHMC_PROTECT_AUTO;
}

/* Nobody else has the file open: repair what the last users left half done, and when some
 * of them never detached (killed, or the machine stopped), verify everything (scrub.h). */
static shmc_rc recover(const region_t *r)
{
    bool unclean = stats_left_attached(r);
    uint64_t repairs = store_recover(r), dropped = 0;
    if (unclean) {
        if (store_scrub(r, &dropped) != SHMC_OK)
            return error_set(SHMC_NO_MEMORY, "no memory to verify the cache after a crash");
        atomic_fetch_add(&r->hdr->retired[C_SCRUBS], 1);
        atomic_fetch_add(&r->hdr->retired[C_DAMAGED_DROPPED], dropped);
    }
    stats_reset_owners(r);
    atomic_fetch_add(&r->hdr->retired[C_REPAIRS], repairs);
    return SHMC_OK;
}

API shmc_rc shmc_open(shmc_t **out, const char *name_or_path, const shmc_config *cfg)
{
    error_clear();
    if (!out) return invalid("out is NULL");
    *out = NULL;
    shmc_config def;
    shmc_config_init(&def);
    bool explicit_cfg = cfg != NULL;
    if (!cfg) cfg = &def;
    for (size_t i = 0; i < sizeof cfg->reserved / sizeof cfg->reserved[0]; i++)
        if (cfg->reserved[i]) return invalid("config: reserved fields must be zero");
    if (cfg->protect < SHMC_PROTECT_AUTO || cfg->protect > SHMC_PROTECT_SEALED)
        return invalid("config: protect is not an enum shmc_protect value");
    if (cfg->mode & ~07777u) return invalid("config: mode has bits beyond 07777");
    int protect = cfg->protect;
    const char *env = getenv("SHMC_PROTECT");
    if (protect == SHMC_PROTECT_AUTO && env && *env) {
        if (!strcmp(env, "none")) protect = SHMC_PROTECT_NONE;
        else if (!strcmp(env, "pku")) protect = SHMC_PROTECT_PKU;
        else if (!strcmp(env, "sealed")) protect = SHMC_PROTECT_SEALED;
        else if (strcmp(env, "auto"))
            return invalid("SHMC_PROTECT must be auto, none, pku or sealed");
    }
    if (protect == SHMC_PROTECT_AUTO) protect = pku_available() ? SHMC_PROTECT_PKU : SHMC_PROTECT_NONE;
    bool prot = protect == SHMC_PROTECT_PKU || protect == SHMC_PROTECT_SEALED;
    if (prot) {
        shmc_rc prc = protect_domain_init();
        if (prc != SHMC_OK) return prc;
    }
    char path[4096];
    shmc_rc rc = region_resolve_path(name_or_path, path, sizeof path);
    if (rc != SHMC_OK) return rc;

    shmc_t *c = calloc(1, sizeof *c);
    if (!c) return error_set(SHMC_SYSTEM, "out of process memory");
    rc = region_open(&c->r, path, explicit_cfg ? cfg->memory_limit : 0,
                     explicit_cfg ? cfg->item_size_max : 0, cfg->hash_power,
                     cfg->mode ? cfg->mode : 0600);
    if (rc != SHMC_OK) {
        free(c);
        return rc;
    }
    if (prot) {
        rc = protect_tag_cache(c->r.base, c->r.size, PROT_READ | PROT_WRITE);
        if (rc != SHMC_OK) {
            region_close(&c->r);
            free(c);
            return rc;
        }
        gate_open();
    }
    if (c->r.alone) rc = recover(&c->r);
    if (rc == SHMC_OK) rc = region_attach_done(&c->r);
    if (rc != SHMC_OK) {
        region_close(&c->r);
        gate_close();
        free(c);
        return rc;
    }
    c->protect = protect;
    handle_register(c);
    stats_attach(&c->r, c->id);
    gate_close();
    if (protect == SHMC_PROTECT_SEALED) {
        const char *how = getenv("SHMC_SEAL");
        rc = protect_seal(c->r.base, c->r.size, how && !strcmp(how, "report"));
        if (rc != SHMC_OK) {
            gate_open();
            handle_unregister(c);
            region_close(&c->r);
            gate_close();
            free(c);
            return rc;
        }
    }
    *out = c;
    return SHMC_OK;
}

API void shmc_close(shmc_t *c)
{
    if (!c) return;
    gate_open();
    handle_unregister(c);
    region_close(&c->r);
    gate_close();
    free(c);
}

API const char *shmc_strerror(shmc_rc rc)
{
    static const char *const text[SHMC_RC_COUNT] = {
        [SHMC_OK] = "success",
        [SHMC_NOT_FOUND] = "not found",
        [SHMC_NOT_STORED] = "not stored",
        [SHMC_EXISTS] = "exists: the item changed since its cas value was read",
        [SHMC_BAD_KEY] = "bad key: empty, longer than 250 bytes, or holds space/control bytes",
        [SHMC_TOO_LARGE] = "value larger than the cache's item size limit",
        [SHMC_NO_MEMORY] = "out of memory: nothing could be evicted",
        [SHMC_NOT_NUMERIC] = "cannot increment or decrement a non-numeric value",
        [SHMC_BUFFER_TOO_SMALL] = "buffer too small for the value",
        [SHMC_INVALID] = "invalid argument",
        [SHMC_BAD_FILE] = "not a usable cache file (foreign, other version, truncated or corrupt)",
        [SHMC_UNSUPPORTED] = "not supported on this system",
        [SHMC_SYSTEM] = "system call failed",
    };
    if ((unsigned)rc >= SHMC_RC_COUNT) return "unknown shmc error code";
    return text[rc];
}

/* ---- reads ---- */

static shmc_rc get_common(shmc_t *c, const char *key, size_t nkey, bool touch, int64_t exptime,
                          void *buf, size_t cap, size_t *nvalue, uint32_t *flags, uint64_t *cas)
{
    if (!c) return invalid("cache handle is NULL");
    if (!nvalue) return invalid("nvalue is NULL");
    if (!buf && cap) return invalid("buf is NULL with a non-zero cap");
    unsigned char local[SHMC_KEY_MAX], *k;
    shmc_rc rc = take_key(c, key, nkey, local, &k);
    if (rc != SHMC_OK) return rc;
    if (!buf) cap = 0;
    /* protected: the value lands in private memory and is copied out after the cache closes */
    get_out_t out = {.buf = prot(c) ? STAGED_VALUE(k) : buf,
                     .cap = prot(c) && cap > c->r.item_size_max ? c->r.item_size_max : cap};
    gate_open();
    op_ctx_t ctx;
    handle_ctx(c, &ctx);
    rc = store_get(&c->r, &ctx, k, (uint32_t)nkey, touch, store_exptime_abs(exptime, ctx.now), &out);
    gate_stage();
    if (rc == SHMC_OK && out.buf != buf && out.nvalue) memcpy(buf, out.buf, out.nvalue);
    if (rc == SHMC_OK || rc == SHMC_BUFFER_TOO_SMALL) *nvalue = out.nvalue;
    if (rc == SHMC_OK) {
        if (flags) *flags = out.flags;
        if (cas) *cas = out.cas;
    }
    gate_close();
    return rc;
}

API shmc_rc shmc_get(shmc_t *c, const char *key, size_t nkey, void *buf, size_t cap,
                     size_t *nvalue, uint32_t *flags, uint64_t *cas)
{
    return get_common(c, key, nkey, false, 0, buf, cap, nvalue, flags, cas);
}

API shmc_rc shmc_gat(shmc_t *c, const char *key, size_t nkey, int64_t exptime, void *buf,
                     size_t cap, size_t *nvalue, uint32_t *flags, uint64_t *cas)
{
    return get_common(c, key, nkey, true, exptime, buf, cap, nvalue, flags, cas);
}

API shmc_rc shmc_get_alloc(shmc_t *c, const char *key, size_t nkey, void **value,
                           size_t *nvalue, uint32_t *flags, uint64_t *cas)
{
    if (!value) return invalid("value is NULL");
    *value = NULL;
    size_t cap = 256, n = 0;
    char *buf = malloc(cap + 1);
    for (;;) {
        if (!buf) return error_set(SHMC_SYSTEM, "out of process memory");
        shmc_rc rc = shmc_get(c, key, nkey, buf, cap, &n, flags, cas);
        if (rc == SHMC_OK) {
            buf[n] = '\0';
            *value = buf;
            if (nvalue) *nvalue = n;
            return SHMC_OK;
        }
        if (rc != SHMC_BUFFER_TOO_SMALL) {
            free(buf);
            return rc;
        }
        cap = n;
        char *bigger = realloc(buf, cap + 1);
        if (!bigger) free(buf);
        buf = bigger;
    }
}

/* shmc_mget on an unprotected handle: keys in batches of STORE_BATCH_MAX, their lookups
 * overlapped (store_get_batch); a value the batch had no room for is fetched alone. */
static shmc_rc mget_batched(shmc_t *c, op_ctx_t *ctx, const char *const *keys,
                            const size_t *nkeys, size_t n, shmc_value_cb cb, void *ctx_arg)
{
    unsigned char kb[STORE_BATCH_MAX][SHMC_KEY_MAX];
    const unsigned char *kp[STORE_BATCH_MAX];
    uint32_t kn[STORE_BATCH_MAX];
    get_out_t out[STORE_BATCH_MAX];
    shmc_rc rc[STORE_BATCH_MAX];
    size_t cap = 4096, one_cap = 0;
    unsigned char *arena = malloc(cap), *one = NULL;
    if (!arena) return error_set(SHMC_SYSTEM, "out of process memory");
    for (size_t i = 0; i < n;) {
        size_t m = 0;
        for (; i < n && m < STORE_BATCH_MAX; i++) {
            if (key_copy(kb[m], keys[i], nkeys[i]) != SHMC_OK) continue; /* changed under us */
            kp[m] = kb[m];
            kn[m] = (uint32_t)nkeys[i];
            m++;
        }
        store_get_batch(&c->r, ctx, kp, kn, m, arena, cap, out, rc);
        size_t need = 0;
        for (size_t j = 0; j < m; j++) {
            if (rc[j] == SHMC_OK || rc[j] == SHMC_BUFFER_TOO_SMALL) need += out[j].nvalue;
            while (rc[j] == SHMC_BUFFER_TOO_SMALL) { /* again, alone, with room */
                if (out[j].nvalue > one_cap) {
                    unsigned char *bigger = realloc(one, out[j].nvalue);
                    if (!bigger) {
                        free(one);
                        free(arena);
                        return error_set(SHMC_SYSTEM, "out of process memory");
                    }
                    one = bigger;
                    one_cap = out[j].nvalue;
                }
                out[j].buf = one;
                out[j].cap = one_cap;
                rc[j] = store_get(&c->r, ctx, kb[j], kn[j], false, 0, &out[j]);
            }
            if (rc[j] == SHMC_OK)
                cb(ctx_arg, (const char *)kb[j], kn[j], out[j].buf, out[j].nvalue, out[j].flags,
                   out[j].cas);
        }
        if (need > cap) { /* room for a batch like this one next time, when there is memory */
            unsigned char *bigger = realloc(arena, need);
            if (bigger) {
                arena = bigger;
                cap = need;
            }
        }
    }
    free(one);
    free(arena);
    return SHMC_OK;
}

API shmc_rc shmc_mget(shmc_t *c, const char *const *keys, const size_t *nkeys, size_t n,
                      shmc_value_cb cb, void *ctx_arg)
{
    if (!c) return invalid("cache handle is NULL");
    if (n && (!keys || !nkeys)) return invalid("keys or nkeys is NULL");
    if (!cb) return invalid("callback is NULL");
    unsigned char k[SHMC_KEY_MAX];
    for (size_t i = 0; i < n; i++) {
        shmc_rc rc = key_copy(k, keys[i], nkeys[i]);
        if (rc != SHMC_OK) return rc;
    }
    if (prot(c)) {
        unsigned char *copy = malloc(c->r.item_size_max ? c->r.item_size_max : 1);
        if (!copy) return error_set(SHMC_SYSTEM, "out of process memory");
        for (size_t i = 0; i < n; i++) {
            size_t nk = nkeys[i];
            gate_stage();
            unsigned char *pk = staging(c);
            if (!pk || key_copy(pk, keys[i], nk) != SHMC_OK) {
                gate_close();
                continue;
            }
            get_out_t out = {.buf = STAGED_VALUE(pk), .cap = c->r.item_size_max};
            gate_open();
            op_ctx_t ctx;
            handle_ctx(c, &ctx);
            shmc_rc rc = store_get(&c->r, &ctx, pk, (uint32_t)nk, false, 0, &out);
            gate_stage();
            if (rc == SHMC_OK) {
                memcpy(copy, out.buf, out.nvalue);
                memcpy(k, pk, nk);
            }
            gate_close();
            if (rc == SHMC_OK) cb(ctx_arg, (const char *)k, nk, copy, out.nvalue, out.flags, out.cas);
        }
        free(copy);
        return SHMC_OK;
    }
    op_ctx_t ctx;
    handle_ctx(c, &ctx);
    return mget_batched(c, &ctx, keys, nkeys, n, cb, ctx_arg);
}

/* ---- writes ---- */

static shmc_rc write_common(shmc_t *c, enum store_mode mode, const char *key, size_t nkey,
                            const void *value, size_t nvalue, uint32_t flags, int64_t exptime,
                            uint64_t cas)
{
    if (!c) return invalid("cache handle is NULL");
    if (!value && nvalue) return invalid("value is NULL with a non-zero length");
    unsigned char local[SHMC_KEY_MAX], *k;
    shmc_rc rc = take_key(c, key, nkey, local, &k);
    if (rc != SHMC_OK) return rc;
    bool fits = nvalue <= c->r.item_size_max;
    if (prot(c) && fits && nvalue) { /* protected: the cache is written from private memory only */
        memcpy(STAGED_VALUE(k), value, nvalue);
        value = STAGED_VALUE(k);
    }
    gate_open();
    op_ctx_t ctx;
    handle_ctx(c, &ctx);
    if (fits) {
        rc = store_write(&c->r, &ctx, mode, k, (uint32_t)nkey, value, nvalue, flags,
                         store_exptime_abs(exptime, ctx.now), cas);
    } else {
        CTR(&ctx, C_CMD_SET);
        if (mode == MODE_SET) store_drop(&c->r, &ctx, k, (uint32_t)nkey);
        rc = error_set(SHMC_TOO_LARGE, "value of %zu bytes exceeds the item size limit %llu",
                       nvalue, (unsigned long long)c->r.item_size_max);
    }
    gate_close();
    return rc;
}

API shmc_rc shmc_set(shmc_t *c, const char *key, size_t nkey, const void *value, size_t nvalue,
                     uint32_t flags, int64_t exptime)
{
    return write_common(c, MODE_SET, key, nkey, value, nvalue, flags, exptime, 0);
}

API shmc_rc shmc_add(shmc_t *c, const char *key, size_t nkey, const void *value, size_t nvalue,
                     uint32_t flags, int64_t exptime)
{
    return write_common(c, MODE_ADD, key, nkey, value, nvalue, flags, exptime, 0);
}

API shmc_rc shmc_replace(shmc_t *c, const char *key, size_t nkey, const void *value,
                         size_t nvalue, uint32_t flags, int64_t exptime)
{
    return write_common(c, MODE_REPLACE, key, nkey, value, nvalue, flags, exptime, 0);
}

API shmc_rc shmc_append(shmc_t *c, const char *key, size_t nkey, const void *value,
                        size_t nvalue, uint32_t flags, int64_t exptime)
{
    return write_common(c, MODE_APPEND, key, nkey, value, nvalue, flags, exptime, 0);
}

API shmc_rc shmc_prepend(shmc_t *c, const char *key, size_t nkey, const void *value,
                         size_t nvalue, uint32_t flags, int64_t exptime)
{
    return write_common(c, MODE_PREPEND, key, nkey, value, nvalue, flags, exptime, 0);
}

API shmc_rc shmc_cas(shmc_t *c, const char *key, size_t nkey, const void *value, size_t nvalue,
                     uint32_t flags, int64_t exptime, uint64_t cas)
{
    return write_common(c, MODE_CAS, key, nkey, value, nvalue, flags, exptime, cas);
}

API shmc_rc shmc_delete(shmc_t *c, const char *key, size_t nkey)
{
    if (!c) return invalid("cache handle is NULL");
    unsigned char local[SHMC_KEY_MAX], *k;
    shmc_rc rc = take_key(c, key, nkey, local, &k);
    if (rc != SHMC_OK) return rc;
    gate_open();
    op_ctx_t ctx;
    handle_ctx(c, &ctx);
    rc = store_delete(&c->r, &ctx, k, (uint32_t)nkey);
    gate_close();
    return rc;
}

static shmc_rc arith(shmc_t *c, const char *key, size_t nkey, bool incr, uint64_t delta,
                     uint64_t *result)
{
    if (!c) return invalid("cache handle is NULL");
    unsigned char local[SHMC_KEY_MAX], *k;
    shmc_rc rc = take_key(c, key, nkey, local, &k);
    if (rc != SHMC_OK) return rc;
    uint64_t res = 0;
    gate_open();
    op_ctx_t ctx;
    handle_ctx(c, &ctx);
    rc = store_arith(&c->r, &ctx, k, (uint32_t)nkey, incr, delta, &res);
    gate_stage();
    if (result && rc == SHMC_OK) *result = res;
    gate_close();
    return rc;
}

API shmc_rc shmc_incr(shmc_t *c, const char *key, size_t nkey, uint64_t delta, uint64_t *result)
{
    return arith(c, key, nkey, true, delta, result);
}

API shmc_rc shmc_decr(shmc_t *c, const char *key, size_t nkey, uint64_t delta, uint64_t *result)
{
    return arith(c, key, nkey, false, delta, result);
}

API shmc_rc shmc_touch(shmc_t *c, const char *key, size_t nkey, int64_t exptime)
{
    if (!c) return invalid("cache handle is NULL");
    unsigned char local[SHMC_KEY_MAX], *k;
    shmc_rc rc = take_key(c, key, nkey, local, &k);
    if (rc != SHMC_OK) return rc;
    gate_open();
    op_ctx_t ctx;
    handle_ctx(c, &ctx);
    rc = store_touch(&c->r, &ctx, k, (uint32_t)nkey, store_exptime_abs(exptime, ctx.now));
    gate_close();
    return rc;
}

API shmc_rc shmc_flush_all(shmc_t *c, int64_t delay)
{
    if (!c) return invalid("cache handle is NULL");
    gate_open();
    op_ctx_t ctx;
    handle_ctx(c, &ctx);
    store_flush_all(&c->r, &ctx, delay);
    gate_close();
    return SHMC_OK;
}

/* ---- introspection ---- */

static void stats_fill(shmc_t *c, shmc_stats_t *s);

API shmc_rc shmc_stats(shmc_t *c, shmc_stats_t *out)
{
    if (!c || !out) return invalid("cache handle or stats is NULL");
    shmc_stats_t s;
    gate_open();
    stats_fill(c, &s);
    gate_stage();
    *out = s;
    gate_close();
    return SHMC_OK;
}

static void stats_fill(shmc_t *c, shmc_stats_t *s)
{
    const region_t *r = &c->r;
    uint64_t t[C_COUNT];
    stats_sum(r, t);
    memset(s, 0, sizeof *s);
    uint64_t items = 0, bytes = 0; /* unsigned: a damaged file's counts wrap, never trap */
    for (uint32_t i = 0; i < r->nstripes; i++) {
        items += (uint64_t)atomic_load_explicit(&r->stripes[i].items, memory_order_relaxed);
        bytes += (uint64_t)atomic_load_explicit(&r->stripes[i].bytes, memory_order_relaxed);
    }
    s->curr_items = (int64_t)items > 0 ? items : 0;
    s->bytes = (int64_t)bytes > 0 ? bytes : 0;
    s->total_items = t[C_TOTAL_ITEMS];
    s->limit_maxbytes = r->hdr->memory_limit;
    s->item_size_max = r->item_size_max;
    s->hash_buckets = r->bucket_mask + 1;
    s->segments = r->nsegments;
    s->segment_size = r->segment_size;
    s->segments_free = atomic_load(&r->hdr->free_count);
    s->curr_connections = stats_attached(r);
    s->total_connections = atomic_load(&r->hdr->total_connections);
    s->time = clock_now_s();
    s->uptime = s->time - r->hdr->create_time;
    s->protected_mode = prot(c);
    s->cmd_get = t[C_CMD_GET];
    s->cmd_set = t[C_CMD_SET];
    s->cmd_touch = t[C_CMD_TOUCH];
    s->cmd_flush = t[C_CMD_FLUSH];
    s->get_hits = t[C_GET_HITS];
    s->get_misses = t[C_GET_MISSES];
    s->get_expired = t[C_GET_EXPIRED];
    s->get_flushed = t[C_GET_FLUSHED];
    s->delete_hits = t[C_DELETE_HITS];
    s->delete_misses = t[C_DELETE_MISSES];
    s->incr_hits = t[C_INCR_HITS];
    s->incr_misses = t[C_INCR_MISSES];
    s->decr_hits = t[C_DECR_HITS];
    s->decr_misses = t[C_DECR_MISSES];
    s->cas_hits = t[C_CAS_HITS];
    s->cas_misses = t[C_CAS_MISSES];
    s->cas_badval = t[C_CAS_BADVAL];
    s->touch_hits = t[C_TOUCH_HITS];
    s->touch_misses = t[C_TOUCH_MISSES];
    s->evictions = t[C_EVICTIONS];
    s->expired_unfetched = t[C_EXPIRED_UNFETCHED];
    s->evicted_unfetched = t[C_EVICTED_UNFETCHED];
    s->reclaimed = t[C_RECLAIMED];
    s->reinserted = t[C_REINSERTED];
    s->repairs = t[C_REPAIRS];
    s->recovery_scrubs = t[C_SCRUBS];
    s->damaged_dropped = t[C_DAMAGED_DROPPED];
}

API shmc_rc shmc_check(const char *name_or_path, FILE *report, size_t *violations)
{
    error_clear();
    char path[4096];
    shmc_rc rc = region_resolve_path(name_or_path, path, sizeof path);
    if (rc != SHMC_OK) return rc;
    return check_file(path, report, violations);
}
