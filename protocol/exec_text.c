/* exec_text.c — the executor of the classic text commands: each parsed request becomes calls of the public
 * libshmc API, and each result becomes memcached 1.6's exact reply line.
 *
 * Retrievals copy each value straight into the reply buffer (shmc_get writes after room
 * left for the "VALUE" line, which is then written in front of it), and pause when too many
 * reply bytes wait unsent, so a get of many large values never buffers without bound.  A
 * get/gets of several keys looks them up MGET_BATCH at a time with shmc_mget, whose lookups
 * overlap their memory misses. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "command.h"
#include "watch_item.h"
#include "detail.h"
#include "frame.h"
#include "number.h"

void proto_reply_server_error(proto_out *out, shmc_rc rc)
{
    char line[160];
    snprintf(line, sizeof line, "SERVER_ERROR %s", shmc_strerror(rc));
    proto_out_line(out, line);
}

/* A reply line, unless the client asked for none. */
static void reply(proto_out *out, const proto_request *req, const char *line)
{
    if (!req->noreply) proto_out_line(out, line);
}

/* ---- retrieval: get, gets, gat, gats ---- */

/* "VALUE <key> <flags> <bytes>[ <cas>]\r\n" is at most this long. */
#define VALUE_HEADER_MAX (6 + PROTO_KEY_MAX + 1 + 10 + 1 + 20 + 1 + 20 + 2)
/* Room offered to a value before its size is known; larger values take a second call. */
#define VALUE_ROOM_MIN 16384

/* Write "VALUE <key> <flags> <bytes>[ <cas>]\r\n" at p; returns its length. */
static size_t value_header(char *p, const char *key, size_t nkey, uint32_t flags,
                           size_t nvalue, bool with_cas, uint64_t cas)
{
    char *start = p;
    memcpy(p, "VALUE ", 6);
    p += 6;
    memcpy(p, key, nkey);
    p += nkey;
    *p++ = ' ';
    p += proto_u64_to_text(flags, p);
    *p++ = ' ';
    p += proto_u64_to_text(nvalue, p);
    if (with_cas) {
        *p++ = ' ';
        p += proto_u64_to_text(cas, p);
    }
    *p++ = '\r';
    *p++ = '\n';
    return (size_t)(p - start);
}

/* Look one key up and append its VALUE block; false when the reply is broken off (a
 * library error, reported as SERVER_ERROR, or memory). */
static bool append_value(proto_env *env, const proto_request *req, const char *key,
                         size_t nkey, proto_out *out)
{
    bool touch = req->cmd == PROTO_GAT || req->cmd == PROTO_GATS;
    bool with_cas = req->cmd == PROTO_GETS || req->cmd == PROTO_GATS;
    size_t room = VALUE_ROOM_MIN;
    for (;;) {
        if (!proto_out_reserve(out, VALUE_HEADER_MAX + room + 2)) return false;
        char *base = out->buf + out->len;
        char *vbuf = base + VALUE_HEADER_MAX;
        size_t cap = out->cap - out->len - VALUE_HEADER_MAX - 2;
        size_t nvalue = 0;
        uint32_t flags = 0;
        uint64_t cas = 0;
        shmc_rc rc = touch ? shmc_gat(env->cache, key, nkey, req->exptime, vbuf, cap, &nvalue,
                                      &flags, &cas)
                           : shmc_get(env->cache, key, nkey, vbuf, cap, &nvalue, &flags, &cas);
        if (rc == SHMC_BUFFER_TOO_SMALL) {
            room = nvalue;
            continue;
        }
        if (rc == SHMC_NOT_FOUND || rc == SHMC_BAD_KEY) { /* a miss */
            proto_detail_get(env, key, nkey, false);
            proto_watch_got(env, key, nkey, false, 0, 0, req->cfd);
            return true;
        }
        if (rc != SHMC_OK) {
            proto_reply_server_error(out, rc);
            return false;
        }
        proto_detail_get(env, key, nkey, true);
        proto_watch_got(env, key, nkey, true, flags, nvalue, req->cfd);
        size_t hlen = value_header(base, key, nkey, flags, nvalue, with_cas,
                                   proto_cas_shown(env, cas));
        char *p = base + hlen;
        memmove(p, vbuf, nvalue);
        p[nvalue] = '\r';
        p[nvalue + 1] = '\n';
        out->len += hlen + nvalue + 2;
        return true;
    }
}

/* ---- a batch of keys through shmc_mget (get/gets) ---- */

#define MGET_BATCH 16

typedef struct mget_batch {
    const char *key[MGET_BATCH];
    size_t nkey[MGET_BATCH];
    size_t end[MGET_BATCH]; /* where key i ends in the request's key list */
    size_t n, next;         /* keys; the first key a found value may still be */
    size_t done;            /* keys answered before the reply reached its high-water mark */
    bool with_cas, no_cas, broken;
    bool found[MGET_BATCH];
    size_t size[MGET_BATCH];
    uint32_t flags[MGET_BATCH];
    proto_out *out;
    size_t high_water;
} mget_batch;

/* shmc_mget's callback: found values come in key order, misses skipped. */
static void mget_append(void *ctx, const char *key, size_t nkey, const void *value,
                        size_t nvalue, uint32_t flags, uint64_t cas)
{
    mget_batch *b = ctx;
    if (b->broken || b->done < b->n) return; /* broken off, or paused: the rest waits */
    while (b->next < b->n && (b->nkey[b->next] != nkey || memcmp(b->key[b->next], key, nkey)))
        b->next++;
    if (b->next == b->n) return; /* cannot happen: every found key is one asked for */
    proto_out *out = b->out;
    if (!proto_out_reserve(out, VALUE_HEADER_MAX + nvalue + 2)) {
        b->broken = true;
        return;
    }
    char *p = out->buf + out->len;
    p += value_header(p, key, nkey, flags, nvalue, b->with_cas, b->no_cas ? 0 : cas);
    memcpy(p, value, nvalue);
    p[nvalue] = '\r';
    p[nvalue + 1] = '\n';
    out->len = (size_t)(p - out->buf) + nvalue + 2;
    b->found[b->next] = true;
    b->size[b->next] = nvalue;
    b->flags[b->next] = flags;
    b->next++;
    if (proto_out_pending(out) > b->high_water) b->done = b->next; /* pause after this one */
}

/* Answer up to MGET_BATCH keys from req->key_pos on; false when the reply is broken off. */
static bool append_values(proto_env *env, proto_request *req, proto_out *out, bool *more)
{
    mget_batch b = {.with_cas = req->cmd == PROTO_GETS, .no_cas = env->cas_disabled,
                    .out = out, .high_water = env->out_high_water};
    size_t pos = req->key_pos;
    while (b.n < MGET_BATCH &&
           proto_next_key(req->keys, req->keys_len, &pos, &b.key[b.n], &b.nkey[b.n]))
        b.end[b.n++] = pos;
    *more = b.n > 0;
    if (b.n == 0) return true;
    b.done = b.n;
    shmc_rc rc = shmc_mget(env->cache, b.key, b.nkey, b.n, mget_append, &b);
    if (rc == SHMC_BAD_KEY) { /* a key the library refuses: each key alone, it a miss */
        for (size_t i = 0; i < b.n; i++) {
            if (!append_value(env, req, b.key[i], b.nkey[i], out)) return false;
            req->key_pos = b.end[i];
        }
        return true;
    }
    if (rc != SHMC_OK) {
        proto_reply_server_error(out, rc);
        return false;
    }
    if (b.broken) {
        out->failed = true;
        return false;
    }
    req->key_pos = b.end[b.done - 1];
    if (atomic_load_explicit(&env->detail_enabled, memory_order_relaxed))
        for (size_t i = 0; i < b.done; i++) proto_detail_get(env, b.key[i], b.nkey[i], b.found[i]);
    if (proto_watch_wants(&env->watch, PROTO_WATCH_FETCHERS))
        for (size_t i = 0; i < b.done; i++)
            proto_watch_got_(env, b.key[i], b.nkey[i], b.found[i], b.flags[i], b.size[i],
                             req->cfd);
    return true;
}

static proto_status run_keys(proto_env *env, proto_request *req, proto_out *out)
{
    const char *key;
    size_t nkey;
    bool batched = req->cmd == PROTO_GET || req->cmd == PROTO_GETS;
    while (proto_out_pending(out) <= env->out_high_water) {
        if (batched) {
            bool more;
            if (!append_values(env, req, out, &more))
                return out->failed ? PROTO_CLOSE : PROTO_DONE;
            if (more) continue;
            if (!req->partial) proto_out_add(out, "END\r\n", 5);
            return PROTO_DONE;
        }
        size_t before = req->key_pos;
        if (!proto_next_key(req->keys, req->keys_len, &req->key_pos, &key, &nkey)) {
            if (!req->partial) proto_out_add(out, "END\r\n", 5);
            return PROTO_DONE;
        }
        if (!append_value(env, req, key, nkey, out)) {
            req->key_pos = before;
            return out->failed ? PROTO_CLOSE : PROTO_DONE;
        }
    }
    return PROTO_PAUSED;
}

proto_status proto_exec_retrieval(proto_env *env, proto_request *req, const char *data,
                                  proto_out *out)
{
    (void)data;
    /* memcached refuses the whole command, values found so far included, at a long key */
    size_t pos = 0;
    const char *key;
    size_t nkey;
    while (proto_next_key(req->keys, req->keys_len, &pos, &key, &nkey)) {
        if (nkey > PROTO_KEY_MAX) {
            req->cmd = PROTO_ERROR; /* the rest of a streamed key list is discarded too */
            req->error = "CLIENT_ERROR bad command line format";
            proto_out_line(out, req->error);
            return PROTO_DONE;
        }
    }
    req->key_pos = 0;
    return run_keys(env, req, out);
}

proto_status proto_resume(proto_env *env, proto_request *req, proto_out *out)
{
    return run_keys(env, req, out);
}

/* ---- watch (watch.h) ---- */

proto_status proto_exec_watch(proto_env *env, proto_request *req, const char *data,
                              proto_out *out)
{
    (void)data;
    if (env->watch_disabled) { /* -W */
        reply(out, req, "CLIENT_ERROR watch commands not allowed");
        return PROTO_DONE;
    }
    if (req->pipelined) { /* replies to earlier requests of the same read wait */
        reply(out, req, "ERROR cannot pipeline other commands before watch");
        return PROTO_DONE;
    }
    if (req->exptime < 0) {
        reply(out, req, "ERROR");
        return PROTO_DONE;
    }
    if (req->flags & PROTO_WATCH_EVICTIONS) proto_watch_evictions_on(env);
    req->watching = true; /* the server adds the watcher, answering OK or memcached's error */
    return PROTO_DONE;
}

/* ---- storage ---- */

static const char *storage_reply(shmc_rc rc)
{
    switch (rc) {
    case SHMC_OK: return "STORED";
    case SHMC_NOT_STORED: return "NOT_STORED";
    case SHMC_EXISTS: return "EXISTS";
    case SHMC_NOT_FOUND: return "NOT_FOUND";
    case SHMC_TOO_LARGE: return "SERVER_ERROR object too large for cache";
    case SHMC_NO_MEMORY: return "SERVER_ERROR out of memory storing object";
    case SHMC_BAD_KEY: return "CLIENT_ERROR bad command line format";
    default: return NULL;
    }
}

void proto_drop_refused(shmc_t *c, const char *key, size_t nkey)
{
    shmc_delete_opts quiet = {.what = SHMC_DELETE_NO_COUNT};
    (void)shmc_delete_meta(c, key, nkey, &quiet);
}

/* memcached's names of the storage commands in its item_store lines */
static const char *const store_cmds[] = {[PROTO_SET] = "set", [PROTO_ADD] = "add",
                                         [PROTO_REPLACE] = "replace", [PROTO_APPEND] = "append",
                                         [PROTO_PREPEND] = "prepend", [PROTO_CAS] = "cas"};

proto_status proto_exec_storage(proto_env *env, proto_request *req, const char *data,
                                proto_out *out)
{
    proto_detail_set(env, req->key, req->nkey); /* memcached counts it before its checks */
    if (proto_too_large(env, req)) data = NULL;
    if (!data) { /* refused before reading: longer than the cache takes */
        atomic_fetch_add_explicit(&env->store_too_large, 1, memory_order_relaxed);
        reply(out, req, "SERVER_ERROR object too large for cache");
        proto_watch_stored(env, req->key, req->nkey, SHMC_TOO_LARGE, store_cmds[req->cmd], 0, 0, 0,
                           req->cfd);
        /* memcached drops the old value of a set that was too large (a lookup it logs) */
        if (req->cmd == PROTO_SET) {
            proto_watch_lookup(env, req->key, req->nkey, req->cfd);
            proto_drop_refused(env->cache, req->key, req->nkey);
        }
        return PROTO_SWALLOW;
    }
    if (!proto_data_terminated(data, req->vlen)) {
        reply(out, req, "CLIENT_ERROR bad data chunk");
        return PROTO_DONE;
    }
    shmc_t *c = env->cache;
    const char *k = req->key;
    size_t nk = req->nkey, nv = req->vlen;
    shmc_rc rc;
    proto_watch_lookup(env, k, nk, req->cfd); /* memcached's store looks the old item up first */
    switch (req->cmd) {
    case PROTO_SET: rc = shmc_set(c, k, nk, data, nv, req->flags, req->exptime); break;
    case PROTO_ADD: rc = shmc_add(c, k, nk, data, nv, req->flags, req->exptime); break;
    case PROTO_REPLACE: rc = shmc_replace(c, k, nk, data, nv, req->flags, req->exptime); break;
    case PROTO_APPEND: rc = shmc_append(c, k, nk, data, nv, req->flags, req->exptime); break;
    case PROTO_PREPEND: rc = shmc_prepend(c, k, nk, data, nv, req->flags, req->exptime); break;
    default: /* -C: memcached's cas never matches an item */
        rc = shmc_cas(c, k, nk, data, nv, req->flags, req->exptime,
                      env->cas_disabled ? PROTO_CAS_NEVER : req->cas);
        break;
    }
    proto_count_refusal(env, rc, nk, req->flags, nv);
    proto_watch_evictions(env); /* what this store evicted */
    proto_watch_stored(env, k, nk, rc, store_cmds[req->cmd], req->flags, req->exptime, nv,
                       req->cfd);
    /* memcached drops the old value of a set it had no memory for */
    if (rc == SHMC_NO_MEMORY && req->cmd == PROTO_SET) proto_drop_refused(c, k, nk);
    const char *line = storage_reply(rc);
    if (line) reply(out, req, line);
    else if (!req->noreply) proto_reply_server_error(out, rc);
    return PROTO_DONE;
}

/* ---- the other classic commands ---- */

proto_status proto_exec_arithmetic(proto_env *env, proto_request *req, const char *data,
                                   proto_out *out)
{
    (void)data;
    uint64_t value = 0;
    proto_watch_lookup(env, req->key, req->nkey, req->cfd);
    shmc_rc rc = req->cmd == PROTO_INCR
                     ? shmc_incr(env->cache, req->key, req->nkey, req->delta, &value)
                     : shmc_decr(env->cache, req->key, req->nkey, req->delta, &value);
    proto_watch_evictions(env);
    if (req->noreply) return PROTO_DONE;
    switch (rc) {
    case SHMC_OK: {
        char num[24];
        size_t n = proto_u64_to_text(value, num);
        num[n++] = '\r';
        num[n++] = '\n';
        proto_out_add(out, num, n);
        break;
    }
    case SHMC_NOT_FOUND:
    case SHMC_BAD_KEY:
        proto_out_line(out, "NOT_FOUND");
        break;
    case SHMC_NOT_NUMERIC:
        proto_out_line(out, "CLIENT_ERROR cannot increment or decrement non-numeric value");
        break;
    case SHMC_NO_MEMORY:
        proto_out_line(out, "SERVER_ERROR out of memory");
        break;
    default:
        proto_reply_server_error(out, rc);
    }
    return PROTO_DONE;
}

proto_status proto_exec_delete(proto_env *env, proto_request *req, const char *data,
                               proto_out *out)
{
    (void)data;
    proto_detail_delete(env, req->key, req->nkey);
    proto_watch_lookup(env, req->key, req->nkey, req->cfd);
    shmc_rc rc = shmc_delete(env->cache, req->key, req->nkey);
    if (rc == SHMC_OK) reply(out, req, "DELETED");
    else if (rc == SHMC_NOT_FOUND || rc == SHMC_BAD_KEY) reply(out, req, "NOT_FOUND");
    else if (!req->noreply) proto_reply_server_error(out, rc);
    return PROTO_DONE;
}

proto_status proto_exec_touch(proto_env *env, proto_request *req, const char *data,
                              proto_out *out)
{
    (void)data;
    proto_watch_lookup(env, req->key, req->nkey, req->cfd);
    shmc_rc rc = shmc_touch(env->cache, req->key, req->nkey, req->exptime);
    if (rc == SHMC_OK) reply(out, req, "TOUCHED");
    else if (rc == SHMC_NOT_FOUND || rc == SHMC_BAD_KEY) reply(out, req, "NOT_FOUND");
    else if (!req->noreply) proto_reply_server_error(out, rc);
    return PROTO_DONE;
}

proto_status proto_exec_flush_all(proto_env *env, proto_request *req, const char *data,
                                  proto_out *out)
{
    (void)data;
    if (env->flush_disabled) {
        reply(out, req, "CLIENT_ERROR flush_all not allowed");
        return PROTO_DONE;
    }
    /* like memcached's realtime(): a delay over 30 days is an absolute Unix time */
    int64_t delay = req->exptime;
    if (delay > SHMC_EXPTIME_RELATIVE_MAX) {
        delay -= (int64_t)time(NULL);
        if (delay < 0) delay = 0;
    }
    if (delay < 0) delay = 0;
    shmc_rc rc = shmc_flush_all(env->cache, delay);
    if (rc == SHMC_OK) reply(out, req, "OK");
    else if (!req->noreply) proto_reply_server_error(out, rc);
    return PROTO_DONE;
}

proto_status proto_exec_version(proto_env *env, proto_request *req, const char *data,
                                proto_out *out)
{
    (void)env, (void)req, (void)data;
    proto_out_line(out, "VERSION " PROTO_VERSION_STRING);
    return PROTO_DONE;
}

proto_status proto_exec_verbosity(proto_env *env, proto_request *req, const char *data,
                                  proto_out *out)
{
    (void)data;
    if (env->hooks.set_verbosity) env->hooks.set_verbosity(env->hooks.arg, (unsigned)req->exptime);
    reply(out, req, "OK");
    return PROTO_DONE;
}

/* memcached's process_shutdown_command: refused without -A; else the server stops (the
 * connection closes with no reply). */
proto_status proto_exec_shutdown(proto_env *env, proto_request *req, const char *data,
                                 proto_out *out)
{
    (void)data;
    if (!env->shutdown_enabled || !env->hooks.shutdown) {
        proto_out_line(out, "ERROR: shutdown not enabled");
        return PROTO_DONE;
    }
    if (req->exptime < 0) {
        proto_out_line(out, "CLIENT_ERROR invalid shutdown mode");
        return PROTO_DONE;
    }
    env->hooks.shutdown(env->hooks.arg, req->exptime == 1);
    return PROTO_CLOSE;
}

proto_status proto_exec_quit(proto_env *env, proto_request *req, const char *data,
                             proto_out *out)
{
    (void)env, (void)req, (void)data, (void)out;
    return PROTO_CLOSE;
}

/* A refused line: its error reply, and its data block (if its length was readable) is
 * swallowed. */
proto_status proto_exec_error(proto_env *env, proto_request *req, const char *data,
                              proto_out *out)
{
    (void)env, (void)data;
    reply(out, req, req->error);
    return req->has_value ? PROTO_SWALLOW : PROTO_DONE;
}

proto_status proto_execute(proto_env *env, proto_request *req, const char *data,
                           proto_out *out)
{
    return proto_command_of(req->cmd)->execute(env, req, data, out);
}
