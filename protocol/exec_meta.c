/* exec_meta.c — memcached's meta commands (mg, ms, md, ma, mn, me) over the public libshmc
 * API, with memcached 1.6's reply codes (HD VA EN NS EX NF MN ME) and return flags, in the
 * order the request gave them.
 *
 * Vivify-on-miss (mg N): the stub is created with shmc_add, so exactly one client wins it
 * ('W'); later fetches of that same item (same cas) see 'Z' through the env's win table. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base64.h"
#include "command.h"
#include "frame.h"
#include "number.h"

static const char BINARY_KEY_REFUSED[] =
    "CLIENT_ERROR binary key holds bytes a shmc key cannot (space, control, DEL)";

/* " <flag><token>" for O, or the key for k (base64 again, plus " b", for binary keys). */
static void echo_opaque_or_key(proto_out *out, const proto_request *req, const proto_mflag *f)
{
    if (f->flag == 'O') {
        proto_out_add(out, " O", 2);
        proto_out_add(out, f->token, f->ntoken);
    } else if (f->flag == 'k') {
        proto_out_add(out, " k", 2);
        if (req->meta.base64) {
            char enc[PROTO_BASE64_LEN(PROTO_KEY_MAX)];
            size_t n = proto_base64_encode((const unsigned char *)req->key, req->nkey, enc);
            proto_out_add(out, enc, n);
            proto_out_add(out, " b", 2);
        } else {
            proto_out_add(out, req->key, req->nkey);
        }
    }
}

static void echo_u64(proto_out *out, char flag, uint64_t v)
{
    char buf[24];
    buf[0] = ' ';
    buf[1] = flag;
    size_t n = 2 + proto_u64_to_text(v, buf + 2);
    proto_out_add(out, buf, n);
}

static void echo_i64(proto_out *out, char flag, int64_t v)
{
    char buf[26];
    buf[0] = ' ';
    buf[1] = flag;
    size_t n = 2 + proto_i64_to_text(v, buf + 2);
    proto_out_add(out, buf, n);
}

/* Remaining TTL as mg/ma's 't' reports it, for an exptime the request itself set. */
static int64_t ttl_remaining(int64_t exptime)
{
    if (exptime == 0) return -1;
    if (exptime > SHMC_EXPTIME_RELATIVE_MAX) {
        int64_t left = exptime - (int64_t)time(NULL);
        return left > 0 ? left : 0;
    }
    return exptime < 0 ? 0 : exptime;
}

/* A status line with only O and k echoed (misses and refusals): "<code>[ O..][ k..]\r\n". */
static void status_echo(proto_out *out, const proto_request *req, const char *code)
{
    proto_out_str(out, code);
    for (unsigned i = 0; i < req->meta.nflags; i++)
        echo_opaque_or_key(out, req, &req->meta.flags[i]);
    proto_out_add(out, "\r\n", 2);
}

/* An error in the library that has no protocol meaning. */
static proto_status library_error(proto_out *out, const proto_request *req, shmc_rc rc)
{
    if (rc == SHMC_BAD_KEY && req->meta.base64) proto_out_line(out, BINARY_KEY_REFUSED);
    else if (rc == SHMC_BAD_KEY) proto_out_line(out, "CLIENT_ERROR bad command line format");
    else proto_reply_server_error(out, rc);
    return PROTO_DONE;
}

/* ---- mg ---- */

typedef struct fetched {
    size_t nvalue;
    uint32_t flags;
    uint64_t cas;
    size_t value_at; /* offset of the value in out->buf (beyond out->len, not yet counted) */
} fetched_t;

/* Copy the item into out's spare room (past out->len); SHMC_OK, a miss, or an error. */
static shmc_rc fetch(proto_env *env, const proto_request *req, bool touch, proto_out *out,
                     fetched_t *f)
{
    size_t room = 16384;
    for (;;) {
        /* room for the status line in front of the value is reserved here as well */
        size_t head = 512 + PROTO_BASE64_LEN(PROTO_KEY_MAX);
        if (!proto_out_reserve(out, head + room + 2)) return SHMC_NO_MEMORY;
        f->value_at = out->len + head;
        char *vbuf = out->buf + f->value_at;
        size_t cap = out->cap - f->value_at - 2;
        shmc_rc rc = touch ? shmc_gat(env->cache, req->key, req->nkey, req->meta.ttl, vbuf, cap,
                                      &f->nvalue, &f->flags, &f->cas)
                           : shmc_get(env->cache, req->key, req->nkey, vbuf, cap, &f->nvalue,
                                      &f->flags, &f->cas);
        if (rc != SHMC_BUFFER_TOO_SMALL) return rc;
        room = f->nvalue;
    }
}

static proto_status exec_mg(proto_env *env, proto_request *req, proto_out *out)
{
    const proto_meta *m = &req->meta;
    fetched_t f;
    bool created = false;
    shmc_rc rc = fetch(env, req, m->has_ttl, out, &f);
    if (rc == SHMC_NOT_FOUND && m->vivify) {
        shmc_rc add = shmc_add(env->cache, req->key, req->nkey, "", 0, 0, m->vivify_ttl);
        if (add != SHMC_OK && add != SHMC_NOT_STORED) return library_error(out, req, add);
        created = add == SHMC_OK;
        rc = fetch(env, req, false, out, &f);
        if (rc == SHMC_NOT_FOUND && created) { /* the stub expired or went at once */
            rc = SHMC_OK;
            f.nvalue = 0;
            f.flags = 0;
            f.cas = 0;
        }
    }
    if (rc == SHMC_NOT_FOUND || (rc == SHMC_BAD_KEY && !m->base64)) {
        if (!m->quiet) status_echo(out, req, "EN");
        return PROTO_DONE;
    }
    if (rc != SHMC_OK) return library_error(out, req, rc);

    bool already_won = !created && proto_win_sent(env, req->key, req->nkey, f.cas);
    if (created) proto_win_mark(env, req->key, req->nkey, f.cas);

    /* The status line goes in front of the value, which fetch() left further on (fetch
     * reserved room for both, so appending the line moves nothing). */
    char *value = out->buf + f.value_at;
    if (m->value) {
        proto_out_add(out, "VA ", 3);
        char num[24];
        proto_out_add(out, num, proto_u64_to_text(f.nvalue, num));
    } else {
        proto_out_add(out, "HD", 2);
    }
    for (unsigned i = 0; i < m->nflags; i++) {
        const proto_mflag *fl = &m->flags[i];
        switch (fl->flag) {
        case 's': echo_u64(out, 's', f.nvalue); break;
        case 't': echo_i64(out, 't', ttl_remaining(m->ttl)); break;
        case 'c': echo_u64(out, 'c', f.cas); break;
        case 'f': echo_u64(out, 'f', f.flags); break;
        case 'O':
        case 'k': echo_opaque_or_key(out, req, fl); break;
        default: break;
        }
    }
    if (already_won) proto_out_add(out, " Z", 2);
    if (created) proto_out_add(out, " W", 2);
    proto_out_add(out, "\r\n", 2);
    if (out->failed) return PROTO_CLOSE;
    if (m->value) {
        memmove(out->buf + out->len, value, f.nvalue);
        out->len += f.nvalue;
        proto_out_add(out, "\r\n", 2);
    }
    return PROTO_DONE;
}

/* ---- ms ---- */

static proto_status exec_ms(proto_env *env, proto_request *req, const char *data,
                            proto_out *out)
{
    const proto_meta *m = &req->meta;
    shmc_t *c = env->cache;
    const char *k = req->key;
    size_t nk = req->nkey, nv = req->vlen;
    if (!data) { /* longer than the cache takes: memcached drops the old value too */
        atomic_fetch_add_explicit(&env->store_too_large, 1, memory_order_relaxed);
        shmc_delete(c, k, nk);
        proto_out_line(out, "SERVER_ERROR object too large for cache");
        return PROTO_SWALLOW;
    }
    if (!proto_data_terminated(data, nv)) {
        proto_out_line(out, "CLIENT_ERROR bad data chunk");
        return PROTO_DONE;
    }
    shmc_rc rc;
    char mode = m->mode ? m->mode : 'S';
    if (m->has_cas && (mode == 'S' || mode == 'R'))
        rc = shmc_cas(c, k, nk, data, nv, m->client_flags, m->ttl, m->cas);
    else if (mode == 'E') rc = shmc_add(c, k, nk, data, nv, m->client_flags, m->ttl);
    else if (mode == 'A') rc = shmc_append(c, k, nk, data, nv, m->client_flags, m->ttl);
    else if (mode == 'P') rc = shmc_prepend(c, k, nk, data, nv, m->client_flags, m->ttl);
    else if (mode == 'R') rc = shmc_replace(c, k, nk, data, nv, m->client_flags, m->ttl);
    else rc = shmc_set(c, k, nk, data, nv, m->client_flags, m->ttl);

    const char *code;
    switch (rc) {
    case SHMC_OK: code = "HD"; break;
    case SHMC_NOT_STORED: code = "NS"; break;
    case SHMC_EXISTS: code = "EX"; break;
    case SHMC_NOT_FOUND: code = "NF"; break;
    case SHMC_TOO_LARGE:
        atomic_fetch_add_explicit(&env->store_too_large, 1, memory_order_relaxed);
        proto_out_line(out, "SERVER_ERROR object too large for cache");
        return PROTO_DONE;
    case SHMC_NO_MEMORY:
        atomic_fetch_add_explicit(&env->store_no_memory, 1, memory_order_relaxed);
        proto_out_line(out, "SERVER_ERROR out of memory storing object");
        return PROTO_DONE;
    default:
        return library_error(out, req, rc);
    }
    if (rc == SHMC_OK && m->quiet) return PROTO_DONE;
    proto_out_str(out, code);
    for (unsigned i = 0; i < m->nflags; i++) {
        const proto_mflag *fl = &m->flags[i];
        if (fl->flag == 'c') {
            /* libshmc's store calls do not return the new cas: read it back (a writer
             * racing between the two calls can make this the newer item's cas) */
            uint64_t cas = 0;
            void *v = NULL;
            if (rc == SHMC_OK && shmc_get_alloc(c, k, nk, &v, NULL, NULL, &cas) == SHMC_OK)
                free(v);
            echo_u64(out, 'c', cas);
        } else {
            echo_opaque_or_key(out, req, fl);
        }
    }
    proto_out_add(out, "\r\n", 2);
    return PROTO_DONE;
}

/* ---- md ---- */

static proto_status exec_md(proto_env *env, proto_request *req, proto_out *out)
{
    shmc_rc rc = shmc_delete(env->cache, req->key, req->nkey);
    if (rc == SHMC_OK) {
        if (!req->meta.quiet) status_echo(out, req, "HD");
    } else if (rc == SHMC_NOT_FOUND || (rc == SHMC_BAD_KEY && !req->meta.base64)) {
        status_echo(out, req, "NF");
    } else {
        return library_error(out, req, rc);
    }
    return PROTO_DONE;
}

/* ---- ma ---- */

static proto_status exec_ma(proto_env *env, proto_request *req, proto_out *out)
{
    const proto_meta *m = &req->meta;
    shmc_t *c = env->cache;
    bool incr = m->mode == 0 || m->mode == 'I' || m->mode == '+';
    uint64_t value = 0;
    shmc_rc rc = SHMC_NOT_FOUND;
    for (int attempt = 0; attempt < 2; attempt++) {
        rc = incr ? shmc_incr(c, req->key, req->nkey, m->delta, &value)
                  : shmc_decr(c, req->key, req->nkey, m->delta, &value);
        if (rc != SHMC_NOT_FOUND || !m->vivify) break;
        char num[24];
        size_t n = proto_u64_to_text(m->initial, num);
        shmc_rc add = shmc_add(c, req->key, req->nkey, num, n, 0, m->vivify_ttl);
        if (add == SHMC_OK) {
            rc = SHMC_OK;
            value = m->initial;
            break;
        }
        if (add != SHMC_NOT_STORED) {
            rc = add;
            break;
        }
        /* someone created it meanwhile: apply the delta to theirs */
    }
    switch (rc) {
    case SHMC_OK: break;
    case SHMC_NOT_FOUND:
        status_echo(out, req, "NF");
        return PROTO_DONE;
    case SHMC_BAD_KEY:
        if (!m->base64) {
            status_echo(out, req, "NF");
            return PROTO_DONE;
        }
        return library_error(out, req, rc);
    case SHMC_NOT_NUMERIC:
        proto_out_line(out, "CLIENT_ERROR cannot increment or decrement non-numeric value");
        return PROTO_DONE;
    case SHMC_NO_MEMORY:
        proto_out_line(out, "SERVER_ERROR out of memory");
        return PROTO_DONE;
    default:
        return library_error(out, req, rc);
    }
    if (m->has_ttl) shmc_touch(c, req->key, req->nkey, m->ttl);
    if (m->quiet) return PROTO_DONE;

    char num[24];
    size_t nnum = proto_u64_to_text(value, num);
    if (m->value) {
        proto_out_add(out, "VA ", 3);
        char len[24];
        proto_out_add(out, len, proto_u64_to_text(nnum, len));
    } else {
        proto_out_add(out, "HD", 2);
    }
    for (unsigned i = 0; i < m->nflags; i++) {
        const proto_mflag *fl = &m->flags[i];
        switch (fl->flag) {
        case 'c': {
            uint64_t cas = 0;
            void *v = NULL;
            if (shmc_get_alloc(c, req->key, req->nkey, &v, NULL, NULL, &cas) == SHMC_OK) free(v);
            echo_u64(out, 'c', cas);
            break;
        }
        case 't': echo_i64(out, 't', ttl_remaining(m->ttl)); break;
        case 'O':
        case 'k': echo_opaque_or_key(out, req, fl); break;
        default: break;
        }
    }
    proto_out_add(out, "\r\n", 2);
    if (m->value) {
        proto_out_add(out, num, nnum);
        proto_out_add(out, "\r\n", 2);
    }
    return PROTO_DONE;
}

/* ---- me ---- */

static proto_status exec_me(proto_env *env, proto_request *req, proto_out *out)
{
    void *value = NULL;
    size_t nvalue = 0;
    uint32_t flags = 0;
    uint64_t cas = 0;
    shmc_rc rc = shmc_get_alloc(env->cache, req->key, req->nkey, &value, &nvalue, &flags, &cas);
    free(value);
    if (rc == SHMC_NOT_FOUND || (rc == SHMC_BAD_KEY && !req->meta.base64)) {
        proto_out_line(out, "EN");
        return PROTO_DONE;
    }
    if (rc != SHMC_OK) return library_error(out, req, rc);
    proto_out_add(out, "ME ", 3);
    if (req->meta.base64) {
        char enc[PROTO_BASE64_LEN(PROTO_KEY_MAX)];
        proto_out_add(out, enc, proto_base64_encode((const unsigned char *)req->key, req->nkey, enc));
    } else {
        proto_out_add(out, req->key, req->nkey);
    }
    /* libshmc exposes no expiry or access time: only what it does expose is shown */
    proto_out_str(out, " cas=");
    char num[24];
    proto_out_add(out, num, proto_u64_to_text(cas, num));
    proto_out_str(out, " flags=");
    proto_out_add(out, num, proto_u64_to_text(flags, num));
    proto_out_str(out, " size=");
    proto_out_add(out, num, proto_u64_to_text(nvalue, num));
    proto_out_add(out, "\r\n", 2);
    return PROTO_DONE;
}

proto_status proto_exec_meta(proto_env *env, proto_request *req, const char *data,
                             proto_out *out)
{
    if (req->cmd != PROTO_MN)
        atomic_fetch_add_explicit(&env->meta_cmds, 1, memory_order_relaxed);
    switch (req->cmd) {
    case PROTO_MG: return exec_mg(env, req, out);
    case PROTO_MS: return exec_ms(env, req, req->vlen > env->item_size_max ? NULL : data, out);
    case PROTO_MD: return exec_md(env, req, out);
    case PROTO_MA: return exec_ma(env, req, out);
    case PROTO_ME: return exec_me(env, req, out);
    case PROTO_MN:
        proto_out_add(out, "MN\r\n", 4);
        return PROTO_DONE;
    default:
        proto_out_line(out, "ERROR");
        return PROTO_DONE;
    }
}
