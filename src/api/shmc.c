/* shmc.c — the public API: argument checks, copies of caller input taken before the cache is
 * touched (a key that changes in the caller's buffer mid-call cannot put an item in the
 * wrong bucket), and results copied out.  Everything below this file trusts its inputs. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "api/entry.h"
#include "api/handle.h"
#include "protect/domain.h"
#include "protect/gate.h"
#include "protect/pku.h"
#include "protect/seal.h"
#include <sys/mman.h>
#include "store/check.h"
#include "store/evictions.h"
#include "store/index.h"
#include "store/recover.h"
#include "store/stats.h"
#include "store/store.h"
#include "util/clock.h"
#include "util/error.h"

/* ---- input checks ---- */

static shmc_rc invalid(const char *what) { return error_set(SHMC_INVALID, "%s", what); }

/* One public call on one handle.  In a process with protection keys every call, whatever
 * its handle's level, runs through the gates and stages caller memory (an unprotected
 * handle must not be a door into a protected cache): keyed is then true, t is the thread's
 * private record and k points into its staging buffer.  Everything here is rebuilt from
 * private memory at the start of each call. */
struct call {
    shmc_t *c;
    protect_thread_t *t; /* NULL without keys */
    unsigned char *k;    /* the key's copy: private staging, or local */
    unsigned char local[SHMC_KEY_MAX];
};

#define KEYED(cl) ((cl)->t != NULL)
#define STAGED_VALUE(p) ((p) + SHMC_KEY_MAX + 6)

/* Stage (with keys), take the thread's record, and resolve the handle. */
static shmc_rc call_begin(struct call *cl, const shmc_t *h)
{
    cl->t = NULL;
    cl->k = cl->local;
    if (protect_domain_ready()) {
        gate_stage();
        shmc_rc rc = protect_thread_get(&cl->t);
        if (rc != SHMC_OK) {
            gate_close(NULL);
            return rc;
        }
    }
    cl->c = handle_resolve(h);
    if (!cl->c) {
        if (cl->t) protect_thread_put(cl->t);
        gate_close(cl->t);
        return invalid("not an open cache handle (closed, or damaged)");
    }
    return SHMC_OK;
}

/* From staged or open: close for good. */
static void call_end(struct call *cl)
{
    if (cl->t) {
        cl->t->in_call = 0;
        protect_thread_put(cl->t);
    }
    gate_close(NULL);
}

/* After a call ended with STORE_RETRY (its cache was resized or removed): follow the cache
 * (resize.c) and say whether to run the call again.  STORE_RETRY never leaves the library. */
static bool again(const shmc_t *h, shmc_rc *rc, int *tries)
{
    if (*rc != STORE_RETRY) return false;
    if (++*tries > 100) {
        *rc = error_set(SHMC_SYSTEM, "the cache keeps moving (resized again and again)");
        return false;
    }
    *rc = handle_follow(h);
    return *rc == SHMC_OK;
}

static shmc_rc key_copy(unsigned char dst[SHMC_KEY_MAX], const char *key, size_t nkey);

/* Take the key out of the caller's buffer before the cache is touched: into this thread's
 * private staging buffer with keys (then caller memory inside the library's private arena is
 * refused), else into cl->local.  On failure the call is ended. */
static shmc_rc take_key(struct call *cl, const char *key, size_t nkey)
{
    shmc_rc rc;
    if (KEYED(cl)) {
        cl->k = protect_private_buf(cl->t, SHMC_KEY_MAX + 6 + cl->c->r.item_size_max);
        if (!cl->k) rc = error_set(SHMC_SYSTEM, "out of process memory");
        else if (key && nkey && nkey <= SHMC_KEY_MAX && !protect_caller_ok(key, nkey)) rc = invalid("key points into the library's private memory");
        else rc = key_copy(cl->k, key, nkey);
    } else {
        rc = key_copy(cl->k, key, nkey);
    }
    if (rc != SHMC_OK) call_end(cl);
    return rc;
}

/* Copy a key out of the caller's buffer.  Any byte values are a key (memcached's binary
 * protocol and base64 meta keys take them all); only the length is checked. */
static shmc_rc key_copy(unsigned char dst[SHMC_KEY_MAX], const char *key, size_t nkey)
{
    if (!key) return invalid("key is NULL");
    if (nkey == 0 || nkey > SHMC_KEY_MAX)
        return error_set(SHMC_BAD_KEY, "key length %zu is not in 1..%u", nkey, SHMC_KEY_MAX);
    memcpy(dst, key, nkey);
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

/* The sealed level's check of the process (protect/seal.h), run with the gate closed: it
 * reads /proc and the process's code.  Returns with the gate staged. */
static shmc_rc open_sealed(shmc_t *c, protect_thread_t *t)
{
    if (t) t->in_call = 0;
    void *base = c->r.base;
    uint64_t size = c->r.size;
    int fd = c->r.fd;
    gate_close(NULL); /* the thread's record stays ours meanwhile */
    const char *how = getenv("SHMC_SEAL");
    shmc_rc rc = protect_seal(base, size, fd, how && !strcmp(how, "report"));
    gate_stage();
    return rc;
}

API shmc_rc shmc_open(shmc_t **out, const char *name_or_path, const shmc_config *cfg)
{
    CANCEL_OFF();
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
    unsigned open_how = cfg->flags & (SHMC_OPEN_EXISTING | SHMC_OPEN_CREATE);
    if (cfg->flags & ~(SHMC_OPEN_EXISTING | SHMC_OPEN_CREATE | SHMC_OPEN_NO_EVICT) ||
        open_how == (SHMC_OPEN_EXISTING | SHMC_OPEN_CREATE))
        return invalid("config: flags must be 0, SHMC_OPEN_EXISTING or SHMC_OPEN_CREATE, "
                       "with or without SHMC_OPEN_NO_EVICT");
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
    uint64_t memory_limit = explicit_cfg ? cfg->memory_limit : 0;
    uint64_t item_size_max = explicit_cfg ? cfg->item_size_max : 0;
    unsigned hash_power = cfg->hash_power, mode = cfg->mode ? cfg->mode : 0600;

    /* From here on with keys: staged, the state in private memory. */
    protect_thread_t *t = NULL;
    if (protect_domain_ready()) {
        gate_stage();
        handle_table_protect();
        rc = protect_thread_get(&t);
        if (rc != SHMC_OK) {
            gate_close(NULL);
            return rc;
        }
    }
    struct call cl = {.t = t};
    shmc_t *c = protect_private_alloc(sizeof *c), *token = NULL;
    bool opened = false;
    if (!c) rc = error_set(SHMC_SYSTEM, "out of process memory");
    else snprintf(c->path, sizeof c->path, "%s", path);
    if (rc == SHMC_OK) {
        rc = region_open(&c->r, path, memory_limit, item_size_max, hash_power, mode,
                         open_how == SHMC_OPEN_EXISTING ? REGION_OPEN_ONLY
                         : open_how == SHMC_OPEN_CREATE ? REGION_CREATE_ONLY
                                                        : REGION_OPEN_OR_CREATE);
        opened = rc == SHMC_OK;
    }
    if (rc == SHMC_OK && prot) rc = protect_tag_cache(c->r.base, c->r.size, PROT_READ | PROT_WRITE);
    if (rc == SHMC_OK) {
        gate_open(t);
        if (c->r.alone) rc = store_recover_alone(&c->r);
    }
    if (rc == SHMC_OK) rc = region_attach_done(&c->r);
    if (rc == SHMC_OK) {
        c->protect = protect;
        c->no_evict = (cfg->flags & SHMC_OPEN_NO_EVICT) != 0;
        token = handle_register(c);
        if (!token) rc = error_set(SHMC_SYSTEM, "too many open cache handles in this process");
    }
    if (rc == SHMC_OK) {
        stats_attach(&c->r, c->id);
        if (protect == SHMC_PROTECT_SEALED) rc = open_sealed(c, t);
    }
    /* the one way out of a failed open: undo what was done, last first */
    if (rc != SHMC_OK && c) {
        gate_open(t);
        if (token) handle_unregister(c);
        token = NULL;
        if (opened) region_close(&c->r);
        protect_private_free(c, sizeof *c);
    }
    call_end(&cl);
    *out = token;
    return rc;
}

API void shmc_close(shmc_t *h)
{
    CANCEL_OFF();
    if (!h) return;
    struct call cl;
    if (call_begin(&cl, h) != SHMC_OK) return;
    gate_open(cl.t);
    handle_unregister(cl.c);
    handle_free_retired(cl.c);
    region_close(&cl.c->r);
    evict_log_t *ev = cl.c->evictions;
    if (ev) {
        pthread_mutex_destroy(&ev->lock);
        protect_private_free(ev, sizeof *ev + ev->cap * sizeof ev->rec[0]);
    }
    protect_private_free(cl.c, sizeof *cl.c);
    call_end(&cl);
}

API const char *shmc_strerror(shmc_rc rc)
{
    static const char *const text[SHMC_RC_COUNT] = {
        [SHMC_OK] = "success",
        [SHMC_NOT_FOUND] = "not found",
        [SHMC_NOT_STORED] = "not stored",
        [SHMC_EXISTS] = "exists: the item changed since its cas value was read",
        [SHMC_BAD_KEY] = "bad key: empty or longer than 250 bytes",
        [SHMC_TOO_LARGE] = "value larger than the cache's item size limit",
        [SHMC_NO_MEMORY] = "out of memory: nothing could be evicted",
        [SHMC_NOT_NUMERIC] = "cannot increment or decrement a non-numeric value",
        [SHMC_BUFFER_TOO_SMALL] = "buffer too small for the value",
        [SHMC_INVALID] = "invalid argument",
        [SHMC_BAD_FILE] = "not a usable cache file (foreign, other version, truncated or corrupt)",
        [SHMC_UNSUPPORTED] = "not supported on this system",
        [SHMC_SYSTEM] = "system call failed",
        [SHMC_REMOVED] = "cache removed: the cache file was removed while this handle had it open",
    };
    if ((unsigned)rc >= SHMC_RC_COUNT) return "unknown shmc error code";
    return text[rc];
}

/* ---- reads ---- */

/* A meta fetch's result as the public struct says it. */
static void meta_public(const meta_out_t *m, uint32_t now, shmc_item_meta *out)
{
    memset(out, 0, sizeof *out);
    out->cas = m->cas;
    out->flags = m->flags;
    out->nvalue = m->nvalue;
    out->last_access = now > m->atime ? now - m->atime : 0;
    out->ttl = !m->exptime ? -1 : m->exptime > now ? (int64_t)(m->exptime - now) : 0;
    out->prev_ttl = m->created || !m->prev_exptime ? -1
                    : m->prev_exptime > now ? (int64_t)(m->prev_exptime - now) : 0;
    out->fetched = m->fetched;
    out->stale = m->stale;
    out->win = m->win;
    out->created = m->created;
}

/* get, gat (touch) and get_meta (mreq not NULL, with *meta). */
static shmc_rc get_once(shmc_t *h, const char *key, size_t nkey, bool touch, int64_t exptime,
                          const shmc_get_opts *mreq, shmc_item_meta *meta,
                          void *buf, size_t cap, size_t *nvalue, uint32_t *flags, uint64_t *cas)
{
    CANCEL_OFF();
    if (!h) return invalid("cache handle is NULL");
    if (!nvalue) return invalid("nvalue is NULL");
    if (!buf && cap) return invalid("buf is NULL with a non-zero cap");
    shmc_get_opts o = {0};
    if (mreq) {
        o = *mreq; /* copied before the cache is opened */
        if (o.what & ~(SHMC_GET_TOUCH | SHMC_GET_VIVIFY | SHMC_GET_RECACHE | SHMC_GET_NO_BUMP |
                       SHMC_GET_NO_WIN | SHMC_GET_VIVIFY_AFTER_TOUCH |
                       SHMC_GET_RECACHE_AFTER_TOUCH | SHMC_GET_NO_COUNT))
            return invalid("unknown bits in shmc_get_opts.what");
    }
    struct call cl;
    shmc_rc rc = call_begin(&cl, h);
    if (rc != SHMC_OK) return rc;
    if (!KEYED(&cl) && key && nkey && nkey <= SHMC_KEY_MAX) /* on its way during the set-up */
        store_prefetch(&cl.c->r, (const unsigned char *)key, (uint32_t)nkey);
    rc = take_key(&cl, key, nkey);
    if (rc != SHMC_OK) return rc;
    shmc_t *c = cl.c;
    if (!buf) cap = 0;
    /* keyed: the value lands in private memory and is copied out after the cache closes */
    bool keyed = KEYED(&cl);
    get_out_t out = {.buf = keyed ? STAGED_VALUE(cl.k) : buf,
                     .cap = keyed && cap > c->r.item_size_max ? c->r.item_size_max : cap};
    gate_open(cl.t);
    op_ctx_t ctx;
    if ((rc = handle_ctx(c, cl.t, &ctx)) != SHMC_OK) {
        call_end(&cl);
        return rc;
    }
    meta_out_t mo;
    if (mreq) {
        meta_req_t req = {.what = o.what,
                          .exptime = store_exptime_abs(o.exptime, ctx.now),
                          .vivify_exptime = store_exptime_abs(o.vivify_exptime, ctx.now),
                          .recache = o.recache};
        rc = store_get_meta(&c->r, &ctx, cl.k, (uint32_t)nkey, &req, &out, &mo);
    } else {
        rc = store_get(&c->r, &ctx, cl.k, (uint32_t)nkey, touch, store_exptime_abs(exptime, ctx.now), &out);
    }
    if (cl.t) cl.t->in_call = 0;
    gate_stage();
    if (rc == SHMC_OK && out.buf != buf && out.nvalue) {
        if (protect_caller_ok(buf, out.nvalue)) memcpy(buf, out.buf, out.nvalue);
        else rc = invalid("buf points into the library's private memory");
    }
    call_end(&cl);
    /* out-parameters are written with the gate closed: one aimed at protected memory faults */
    if (rc == SHMC_OK || rc == SHMC_BUFFER_TOO_SMALL) *nvalue = out.nvalue;
    if (rc == SHMC_OK) {
        if (flags) *flags = out.flags;
        if (cas) *cas = out.cas;
        if (meta) meta_public(&mo, ctx.now, meta);
    }
    return rc;
}

static shmc_rc get_common(shmc_t *h, const char *key, size_t nkey, bool touch, int64_t exptime,
                          const shmc_get_opts *mreq, shmc_item_meta *meta,
                          void *buf, size_t cap, size_t *nvalue, uint32_t *flags, uint64_t *cas)
{
    shmc_rc rc;
    int tries = 0;
    do rc = get_once(h, key, nkey, touch, exptime, mreq, meta, buf, cap, nvalue, flags, cas);
    while (again(h, &rc, &tries));
    return rc;
}

API shmc_rc shmc_get_meta(shmc_t *c, const char *key, size_t nkey, const shmc_get_opts *opts,
                          void *buf, size_t cap, size_t *nvalue, shmc_item_meta *meta)
{
    static const shmc_get_opts none;
    if (!meta) return invalid("meta is NULL");
    return get_common(c, key, nkey, false, 0, opts ? opts : &none, meta, buf, cap, nvalue,
                      NULL, NULL);
}

API shmc_rc shmc_get(shmc_t *c, const char *key, size_t nkey, void *buf, size_t cap,
                     size_t *nvalue, uint32_t *flags, uint64_t *cas)
{
    return get_common(c, key, nkey, false, 0, NULL, NULL, buf, cap, nvalue, flags, cas);
}

API shmc_rc shmc_gat(shmc_t *c, const char *key, size_t nkey, int64_t exptime, void *buf,
                     size_t cap, size_t *nvalue, uint32_t *flags, uint64_t *cas)
{
    return get_common(c, key, nkey, true, exptime, NULL, NULL, buf, cap, nvalue, flags, cas);
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

/* mget with keys: each key is staged and looked up, its value copied to `copy`, and the
 * callback runs with the gate closed and the thread's record released (it may call in). */
static shmc_rc mget_keyed(const shmc_t *h, const char *const *keys, const size_t *nkeys,
                          size_t n, shmc_value_cb cb, void *ctx_arg, size_t item_size_max)
{
    unsigned char *copy = malloc(item_size_max ? item_size_max : 1);
    unsigned char k[SHMC_KEY_MAX];
    if (!copy) return error_set(SHMC_SYSTEM, "out of process memory");
    for (size_t i = 0; i < n; i++) {
        size_t nk = nkeys[i];
        struct call cl;
        shmc_rc rc = call_begin(&cl, h);
        if (rc != SHMC_OK) {
            free(copy);
            return rc; /* closed by a callback, say */
        }
        if (take_key(&cl, keys[i], nk) != SHMC_OK) continue; /* changed under us: skip it */
        size_t cap = cl.c->r.item_size_max < item_size_max ? cl.c->r.item_size_max : item_size_max;
        get_out_t out = {.buf = STAGED_VALUE(cl.k), .cap = cap};
        gate_open(cl.t);
        op_ctx_t ctx;
        rc = handle_ctx(cl.c, cl.t, &ctx);
        if (rc == SHMC_OK) rc = store_get(&cl.c->r, &ctx, cl.k, (uint32_t)nk, false, 0, &out);
        cl.t->in_call = 0;
        gate_stage();
        if (rc == SHMC_OK) {
            memcpy(copy, out.buf, out.nvalue);
            memcpy(k, cl.k, nk);
        }
        call_end(&cl);
        int tries = 0;
        if (again(h, &rc, &tries)) {
            i--; /* the same key, in the cache it moved to */
            continue;
        }
        if (rc == STORE_RETRY || rc == SHMC_REMOVED || rc == SHMC_SYSTEM) {
            free(copy);
            return rc;
        }
        if (rc == SHMC_OK) cb(ctx_arg, (const char *)k, nk, copy, out.nvalue, out.flags, out.cas);
    }
    free(copy);
    return SHMC_OK;
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
    /* values are copied into an arena on the stack first: a call per request (shmcd's
     * multi-get) then allocates nothing unless its values outgrow it */
    unsigned char stack_arena[4096];
    size_t cap = sizeof stack_arena, one_cap = 0;
    unsigned char *arena = stack_arena, *one = NULL;
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
                        if (arena != stack_arena) free(arena);
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
            unsigned char *bigger = arena == stack_arena ? malloc(need) : realloc(arena, need);
            if (bigger) {
                arena = bigger;
                cap = need;
            }
        }
    }
    free(one);
    if (arena != stack_arena) free(arena);
    return SHMC_OK;
}

API shmc_rc shmc_mget(shmc_t *h, const char *const *keys, const size_t *nkeys, size_t n,
                      shmc_value_cb cb, void *ctx_arg)
{
    CANCEL_OFF();
    if (!h) return invalid("cache handle is NULL");
    if (n && (!keys || !nkeys)) return invalid("keys or nkeys is NULL");
    if (!cb) return invalid("callback is NULL");
    unsigned char k[SHMC_KEY_MAX];
    for (size_t i = 0; i < n; i++) {
        shmc_rc rc = key_copy(k, keys[i], nkeys[i]);
        if (rc != SHMC_OK) return rc;
    }
    struct call cl;
    shmc_rc rc = call_begin(&cl, h);
    if (rc != SHMC_OK) return rc;
    if (KEYED(&cl)) {
        size_t item_size_max = cl.c->r.item_size_max;
        call_end(&cl);
        return mget_keyed(h, keys, nkeys, n, cb, ctx_arg, item_size_max);
    }
    shmc_t *c = cl.c;
    op_ctx_t ctx;
    rc = handle_ctx(c, NULL, &ctx);
    if (rc != SHMC_OK) { /* moved: follow, then the whole call again */
        call_end(&cl);
        int tries = 0;
        return again(h, &rc, &tries) ? shmc_mget(h, keys, nkeys, n, cb, ctx_arg) : rc;
    }
    return mget_batched(c, &ctx, keys, nkeys, n, cb, ctx_arg);
}

/* ---- one key, no value: delete, touch, incr/decr ---- */

/* The shape these calls share: resolve the handle, take the key, open the gate and read the
 * clock into ctx (a resized or removed cache answers STORE_RETRY there: the caller follows).
 * On SHMC_OK the caller runs its store call and then call_end; on failure nothing is left
 * open. */
static shmc_rc key_call_open(struct call *cl, const shmc_t *h, const char *key, size_t nkey,
                             op_ctx_t *ctx)
{
    if (!h) return invalid("cache handle is NULL");
    shmc_rc rc = call_begin(cl, h);
    if (rc != SHMC_OK) return rc;
    rc = take_key(cl, key, nkey);
    if (rc != SHMC_OK) return rc;
    gate_open(cl->t);
    rc = handle_ctx(cl->c, cl->t, ctx);
    if (rc != SHMC_OK) call_end(cl);
    return rc;
}

/* ---- writes ---- */

static shmc_rc write_once(shmc_t *h, enum store_mode mode, const char *key, size_t nkey,
                            const void *value, size_t nvalue, uint32_t flags, int64_t exptime,
                            uint64_t cas, bool stale_ok, uint64_t *cas_out)
{
    CANCEL_OFF();
    if (!h) return invalid("cache handle is NULL");
    if (!value && nvalue) return invalid("value is NULL with a non-zero length");
    struct call cl;
    shmc_rc rc = call_begin(&cl, h);
    if (rc != SHMC_OK) return rc;
    rc = take_key(&cl, key, nkey);
    if (rc != SHMC_OK) return rc;
    shmc_t *c = cl.c;
    bool fits = nvalue <= c->r.item_size_max;
    if (KEYED(&cl) && fits && nvalue) { /* the cache is written from private memory only */
        if (!protect_caller_ok(value, nvalue)) {
            call_end(&cl);
            return invalid("value points into the library's private memory");
        }
        memcpy(STAGED_VALUE(cl.k), value, nvalue);
        value = STAGED_VALUE(cl.k);
    }
    gate_open(cl.t);
    op_ctx_t ctx;
    if ((rc = handle_ctx(c, cl.t, &ctx)) != SHMC_OK) {
        call_end(&cl);
        return rc;
    }
    if (fits) {
        uint64_t stored_cas = 0;
        rc = store_write(&c->r, &ctx, mode, cl.k, (uint32_t)nkey, value, nvalue, flags,
                         store_exptime_abs(exptime, ctx.now), cas, stale_ok, &stored_cas);
        if (rc == SHMC_OK && cas_out) {
            call_end(&cl); /* written with the gate closed */
            *cas_out = stored_cas;
            return rc;
        }
    } else {
        CTR(&ctx, C_cmd_set);
        if (mode == MODE_SET) store_drop(&c->r, &ctx, cl.k, (uint32_t)nkey);
        rc = error_set(SHMC_TOO_LARGE, "value of %zu bytes exceeds the item size limit %llu",
                       nvalue, (unsigned long long)c->r.item_size_max);
    }
    call_end(&cl);
    return rc;
}

static shmc_rc write_common(shmc_t *h, enum store_mode mode, const char *key, size_t nkey,
                            const void *value, size_t nvalue, uint32_t flags, int64_t exptime,
                            uint64_t cas, bool stale_ok, uint64_t *cas_out)
{
    shmc_rc rc;
    int tries = 0;
    do rc = write_once(h, mode, key, nkey, value, nvalue, flags, exptime, cas, stale_ok, cas_out);
    while (again(h, &rc, &tries));
    return rc;
}

API shmc_rc shmc_set(shmc_t *c, const char *key, size_t nkey, const void *value, size_t nvalue,
                     uint32_t flags, int64_t exptime)
{
    return write_common(c, MODE_SET, key, nkey, value, nvalue, flags, exptime, 0, false, NULL);
}

API shmc_rc shmc_add(shmc_t *c, const char *key, size_t nkey, const void *value, size_t nvalue,
                     uint32_t flags, int64_t exptime)
{
    return write_common(c, MODE_ADD, key, nkey, value, nvalue, flags, exptime, 0, false, NULL);
}

API shmc_rc shmc_replace(shmc_t *c, const char *key, size_t nkey, const void *value,
                         size_t nvalue, uint32_t flags, int64_t exptime)
{
    return write_common(c, MODE_REPLACE, key, nkey, value, nvalue, flags, exptime, 0, false, NULL);
}

API shmc_rc shmc_append(shmc_t *c, const char *key, size_t nkey, const void *value,
                        size_t nvalue, uint32_t flags, int64_t exptime)
{
    return write_common(c, MODE_APPEND, key, nkey, value, nvalue, flags, exptime, 0, false, NULL);
}

API shmc_rc shmc_prepend(shmc_t *c, const char *key, size_t nkey, const void *value,
                         size_t nvalue, uint32_t flags, int64_t exptime)
{
    return write_common(c, MODE_PREPEND, key, nkey, value, nvalue, flags, exptime, 0, false, NULL);
}

API shmc_rc shmc_cas(shmc_t *c, const char *key, size_t nkey, const void *value, size_t nvalue,
                     uint32_t flags, int64_t exptime, uint64_t cas)
{
    return write_common(c, MODE_CAS, key, nkey, value, nvalue, flags, exptime, cas, false, NULL);
}

static shmc_rc delete_once(shmc_t *h, const char *key, size_t nkey)
{
    CANCEL_OFF();
    struct call cl;
    op_ctx_t ctx;
    shmc_rc rc = key_call_open(&cl, h, key, nkey, &ctx);
    if (rc != SHMC_OK) return rc;
    rc = store_delete(&cl.c->r, &ctx, cl.k, (uint32_t)nkey);
    call_end(&cl);
    return rc;
}

API shmc_rc shmc_delete(shmc_t *h, const char *key, size_t nkey)
{
    shmc_rc rc;
    int tries = 0;
    do rc = delete_once(h, key, nkey);
    while (again(h, &rc, &tries));
    return rc;
}

static shmc_rc arith_once(shmc_t *h, const char *key, size_t nkey, bool incr, uint64_t delta,
                          const shmc_arith_opts *opts, uint64_t *result, shmc_item_meta *meta)
{
    CANCEL_OFF();
    struct call cl;
    op_ctx_t ctx;
    shmc_rc rc = key_call_open(&cl, h, key, nkey, &ctx);
    if (rc != SHMC_OK) return rc;
    uint64_t res = 0;
    arith_req_t req = {.incr = incr, .delta = delta};
    if (opts) {
        req.has_cas = opts->what & SHMC_ARITH_CAS;
        req.cas = opts->cas;
        req.has_exptime = opts->what & SHMC_ARITH_TOUCH;
        req.exptime = store_exptime_abs(opts->exptime, ctx.now);
        req.vivify = opts->what & SHMC_ARITH_VIVIFY;
        req.initial = opts->initial;
        req.vivify_exptime = store_exptime_abs(opts->vivify_exptime, ctx.now);
        req.vivify_last = opts->what & SHMC_ARITH_VIVIFY_AFTER_TOUCH;
    }
    meta_out_t mo;
    rc = store_arith(&cl.c->r, &ctx, cl.k, (uint32_t)nkey, &req, &res, &mo);
    call_end(&cl);
    if (result && rc == SHMC_OK) *result = res;
    if (meta && rc == SHMC_OK) meta_public(&mo, ctx.now, meta);
    return rc;
}

static shmc_rc arith(shmc_t *h, const char *key, size_t nkey, bool incr, uint64_t delta,
                     const shmc_arith_opts *opts, uint64_t *result, shmc_item_meta *meta)
{
    shmc_rc rc;
    int tries = 0;
    do rc = arith_once(h, key, nkey, incr, delta, opts, result, meta);
    while (again(h, &rc, &tries));
    return rc;
}

API shmc_rc shmc_incr(shmc_t *c, const char *key, size_t nkey, uint64_t delta, uint64_t *result)
{
    return arith(c, key, nkey, true, delta, NULL, result, NULL);
}

API shmc_rc shmc_decr(shmc_t *c, const char *key, size_t nkey, uint64_t delta, uint64_t *result)
{
    return arith(c, key, nkey, false, delta, NULL, result, NULL);
}

API shmc_rc shmc_store_meta(shmc_t *c, int mode, const char *key, size_t nkey, const void *value,
                            size_t nvalue, uint32_t flags, int64_t exptime,
                            const shmc_store_opts *opts, uint64_t *cas_out)
{
    shmc_store_opts o = {0};
    if (opts) o = *opts;
    if (o.what & ~(SHMC_STORE_CAS | SHMC_STORE_INVALIDATE))
        return invalid("unknown bits in shmc_store_opts.what");
    bool has_cas = o.what & SHMC_STORE_CAS;
    enum store_mode m;
    switch (mode) {
    case SHMC_MODE_SET: m = has_cas ? MODE_CAS : MODE_SET; break;
    case SHMC_MODE_ADD: m = MODE_ADD; break;
    case SHMC_MODE_REPLACE: m = has_cas ? MODE_CAS : MODE_REPLACE; break;
    case SHMC_MODE_APPEND: m = MODE_APPEND; break;
    case SHMC_MODE_PREPEND: m = MODE_PREPEND; break;
    default: return invalid("mode is not an enum shmc_store_mode");
    }
    uint64_t cas = has_cas && m != MODE_ADD ? o.cas : 0;
    bool stale_ok = m == MODE_CAS && (o.what & SHMC_STORE_INVALIDATE);
    return write_common(c, m, key, nkey, value, nvalue, flags, exptime, cas, stale_ok, cas_out);
}

static shmc_rc delete_meta_once(shmc_t *h, const char *key, size_t nkey,
                                const shmc_delete_opts *opts)
{
    CANCEL_OFF();
    if (!h) return invalid("cache handle is NULL");
    shmc_delete_opts o = {0};
    if (opts) o = *opts; /* copied before the cache is opened */
    if (o.what & ~(SHMC_DELETE_CAS | SHMC_DELETE_INVALIDATE | SHMC_DELETE_TOUCH | SHMC_DELETE_NO_COUNT))
        return invalid("unknown bits in shmc_delete_opts.what");
    struct call cl;
    op_ctx_t ctx;
    shmc_rc rc = key_call_open(&cl, h, key, nkey, &ctx);
    if (rc != SHMC_OK) return rc;
    bool inval = o.what & SHMC_DELETE_INVALIDATE;
    rc = store_delete_meta(&cl.c->r, &ctx, cl.k, (uint32_t)nkey, o.what & SHMC_DELETE_CAS, o.cas,
                           inval, inval && (o.what & SHMC_DELETE_TOUCH),
                           store_exptime_abs(o.exptime, ctx.now), !(o.what & SHMC_DELETE_NO_COUNT));
    call_end(&cl);
    return rc;
}

API shmc_rc shmc_delete_meta(shmc_t *h, const char *key, size_t nkey, const shmc_delete_opts *opts)
{
    shmc_rc rc;
    int tries = 0;
    do rc = delete_meta_once(h, key, nkey, opts);
    while (again(h, &rc, &tries));
    return rc;
}

API shmc_rc shmc_arith_meta(shmc_t *c, const char *key, size_t nkey, int incr, uint64_t delta,
                            const shmc_arith_opts *opts, uint64_t *result, shmc_item_meta *meta)
{
    shmc_arith_opts o = {0};
    if (opts) o = *opts;
    if (o.what & ~(SHMC_ARITH_CAS | SHMC_ARITH_TOUCH | SHMC_ARITH_VIVIFY |
                   SHMC_ARITH_VIVIFY_AFTER_TOUCH))
        return invalid("unknown bits in shmc_arith_opts.what");
    return arith(c, key, nkey, incr != 0, delta, &o, result, meta);
}

API shmc_rc shmc_walk(shmc_t *h, shmc_walk_cb cb, void *arg)
{
    CANCEL_OFF();
    if (!h || !cb) return invalid("cache handle or callback is NULL");
    enum { BUCKETS_PER_STEP = 1024 };
    /* the buffer grows only between steps, with the gate closed (the allocator may be user
     * code); a chain too large for it is copied again after it has grown */
    copy_buf_t buf = {.cap = 64 * 1024};
    buf.p = malloc(buf.cap);
    if (!buf.p) return error_set(SHMC_SYSTEM, "out of process memory for a walk");
    shmc_rc rc = SHMC_OK;
    for (uint64_t b = 0;;) {
        struct call cl;
        rc = call_begin(&cl, h);
        if (rc != SHMC_OK) break;
        if (b > cl.c->r.bucket_mask) {
            call_end(&cl);
            break;
        }
        buf.len = 0;
        buf.full = false;
        gate_open(cl.t);
        op_ctx_t ctx;
        rc = handle_ctx(cl.c, cl.t, &ctx);
        if (rc != SHMC_OK) { /* moved: the walk goes on in the cache it moved to */
            call_end(&cl);
            int tries = 0;
            if (again(h, &rc, &tries)) continue;
            break;
        }
        uint64_t next = store_walk(&cl.c->r, &ctx, b, b + BUCKETS_PER_STEP, &buf);
        call_end(&cl);
        if (buf.full && next == b) { /* one chain larger than the buffer: grow, copy again */
            if (!copy_buf_grow(&buf)) {
                rc = error_set(SHMC_SYSTEM, "out of process memory for a walk");
                break;
            }
            continue;
        }
        b = next;
        int stop = 0;
        for (size_t at = 0; at < buf.len && !stop; ) {
            chain_copy_t cc;
            memcpy(&cc, buf.p + at, sizeof cc);
            meta_out_t mo = {.cas = cc.cas, .flags = cc.flags, .nvalue = cc.nvalue,
                             .exptime = cc.exptime, .prev_exptime = cc.exptime, .atime = cc.atime,
                             .fetched = cc.fetched, .stale = (cc.meta & ITEM_META_STALE) != 0,
                             .win = item_win_out(cc.meta, ctx.now) ? SHMC_WIN_TAKEN : SHMC_WIN_NONE};
            shmc_item_meta m;
            meta_public(&mo, ctx.now, &m);
            const char *key = (const char *)buf.p + at + sizeof cc;
            stop = cb(arg, key, cc.nkey, key + cc.nkey, cc.nvalue, &m);
            at += chain_copy_size(&cc);
        }
        if (stop) break;
    }
    free(buf.p);
    return rc;
}

static shmc_rc touch_once(shmc_t *h, const char *key, size_t nkey, int64_t exptime)
{
    CANCEL_OFF();
    struct call cl;
    op_ctx_t ctx;
    shmc_rc rc = key_call_open(&cl, h, key, nkey, &ctx);
    if (rc != SHMC_OK) return rc;
    rc = store_touch(&cl.c->r, &ctx, cl.k, (uint32_t)nkey, store_exptime_abs(exptime, ctx.now));
    call_end(&cl);
    return rc;
}

API shmc_rc shmc_touch(shmc_t *h, const char *key, size_t nkey, int64_t exptime)
{
    shmc_rc rc;
    int tries = 0;
    do rc = touch_once(h, key, nkey, exptime);
    while (again(h, &rc, &tries));
    return rc;
}

static shmc_rc flush_all_once(shmc_t *h, int64_t delay)
{
    CANCEL_OFF();
    if (!h) return invalid("cache handle is NULL");
    struct call cl;
    shmc_rc rc = call_begin(&cl, h);
    if (rc != SHMC_OK) return rc;
    gate_open(cl.t);
    op_ctx_t ctx;
    rc = handle_ctx(cl.c, cl.t, &ctx);
    if (rc == SHMC_OK) rc = store_flush_all(&cl.c->r, &ctx, delay);
    call_end(&cl);
    return rc;
}

API shmc_rc shmc_flush_all(shmc_t *h, int64_t delay)
{
    shmc_rc rc;
    int tries = 0;
    do rc = flush_all_once(h, delay);
    while (again(h, &rc, &tries));
    return rc;
}

/* ---- introspection ---- */

API shmc_rc shmc_stats_sized(shmc_t *h, shmc_stats_t *out, size_t size)
{
    CANCEL_OFF();
    if (!h || !out) return invalid("cache handle or stats is NULL");
    if (size < SHMC_STATS_SIZE_V1 || size % sizeof(uint64_t))
        return invalid("stats size is not the size of a shmc_stats_t");
    shmc_stats_t s;
    struct call cl;
    shmc_rc rc;
    for (int tries = 0;;) {
        rc = call_begin(&cl, h);
        if (rc != SHMC_OK) return rc;
        gate_open(cl.t);
        if (flush_due_of(atomic_load(&cl.c->r.hdr->flush)) != FLUSH_DUE_MOVED) break;
        call_end(&cl); /* the numbers of the cache it moved to */
        rc = STORE_RETRY;
        if (!again(h, &rc, &tries)) return rc;
    }
    stats_fill(&cl.c->r, &s);
    s.protected_mode = cl.c->protect == SHMC_PROTECT_PKU || cl.c->protect == SHMC_PROTECT_SEALED;
    call_end(&cl);
    if (size > sizeof s) {
        memset((char *)out + sizeof s, 0, size - sizeof s); /* fields newer than this library */
        size = sizeof s;
    }
    memcpy(out, &s, size);
    return SHMC_OK;
}

API shmc_rc shmc_evictions_record(shmc_t *h, size_t n)
{
    CANCEL_OFF();
    if (!h) return invalid("cache handle is NULL");
    if (n < 1 || n > SHMC_EVICTIONS_MAX) return invalid("eviction record size out of range");
    struct call cl;
    shmc_rc rc = call_begin(&cl, h);
    if (rc != SHMC_OK) return rc;
    static pthread_mutex_t once = PTHREAD_MUTEX_INITIALIZER; /* two threads turning it on */
    pthread_mutex_lock(&once);
    if (__atomic_load_n(&cl.c->evictions, __ATOMIC_ACQUIRE)) {
        rc = invalid("eviction recording is already on for this handle");
    } else {
        evict_log_t *ev = protect_private_alloc(sizeof *ev + n * sizeof ev->rec[0]);
        if (!ev) {
            rc = error_set(SHMC_SYSTEM, "out of process memory for the eviction record");
        } else {
            pthread_mutex_init(&ev->lock, NULL);
            ev->cap = (uint32_t)n;
            __atomic_store_n(&cl.c->evictions, ev, __ATOMIC_RELEASE);
        }
    }
    pthread_mutex_unlock(&once);
    call_end(&cl);
    return rc;
}

API shmc_rc shmc_evictions_drain(shmc_t *h, shmc_eviction *out, size_t cap, size_t *n,
                                 uint64_t *lost)
{
    CANCEL_OFF();
    if (!h || !out || !n) return invalid("cache handle, out or n is NULL");
    *n = 0;
    uint64_t dropped = 0;
    for (;;) { /* a few at a time through the stack: caller memory is written gate closed */
        evict_rec_t rec[8];
        uint32_t want = cap - *n < 8 ? (uint32_t)(cap - *n) : 8, got = 0;
        struct call cl;
        shmc_rc rc = call_begin(&cl, h);
        if (rc != SHMC_OK) return rc;
        evict_log_t *ev = __atomic_load_n(&cl.c->evictions, __ATOMIC_ACQUIRE);
        if (ev && want) got = evict_log_take(ev, rec, want, &dropped);
        call_end(&cl);
        for (uint32_t i = 0; i < got; i++) {
            shmc_eviction *e = &out[*n + i];
            memset(e, 0, sizeof *e);
            e->nkey = rec[i].nkey <= SHMC_KEY_MAX ? rec[i].nkey : SHMC_KEY_MAX;
            memcpy(e->key, rec[i].key, e->nkey);
            e->nvalue = rec[i].nvalue;
            e->flags = rec[i].flags;
            e->last_access = rec[i].last_access;
            e->ttl = rec[i].ttl;
            e->fetched = rec[i].fetched;
        }
        *n += got;
        if (got < want || *n == cap) break;
    }
    if (lost) *lost = dropped;
    return SHMC_OK;
}

API shmc_rc shmc_mapping_stats(shmc_t *h, shmc_mapping_t *out)
{
    CANCEL_OFF();
    if (!h || !out) return invalid("cache handle or mapping is NULL");
    struct call cl;
    shmc_rc rc = call_begin(&cl, h);
    if (rc != SHMC_OK) return rc;
    gate_open(cl.t);
    region_populate_read(&cl.c->r); /* with the gate open: the kernel honours the keys */
    const void *base = cl.c->r.base;
    uint64_t size = cl.c->r.size;
    call_end(&cl);
    uint64_t huge = 0;
    rc = region_huge_bytes(base, size, &huge); /* outside the gate: stdio, /proc */
    if (rc != SHMC_OK) return rc;
    *out = (shmc_mapping_t){.mapped_bytes = size, .huge_bytes = huge};
    return SHMC_OK;
}

/* The call of programs built against version 0.1's shmc.h, whose shmc_stats_t ends at
 * damaged_dropped. */
API shmc_rc (shmc_stats)(shmc_t *h, shmc_stats_t *out)
{
    return shmc_stats_sized(h, out, SHMC_STATS_SIZE_V1);
}

API shmc_rc shmc_check(const char *name_or_path, FILE *report, size_t *violations)
{
    CANCEL_OFF();
    error_clear();
    char path[4096];
    shmc_rc rc = region_resolve_path(name_or_path, path, sizeof path);
    if (rc != SHMC_OK) return rc;
    return check_file(path, report, violations);
}
