/* exec_meta.c — memcached's meta commands (mg, ms, md, ma, mn, me) over the public libshmc
 * API (shmc_get_meta, shmc_store_meta, shmc_delete_meta, shmc_arith_meta), with memcached
 * 1.6.18's reply codes (HD VA EN NS EX NF MN ME) and return flags, in the order the request
 * gave them.  As memcached, a 't' reports the TTL as it is at its place in the flags: before
 * a later T or N changed it, after an earlier one.  Win tokens (W, Z) and the stale bit (X)
 * live in the items, so they hold across every process and server that shares the cache. */
#include <stdlib.h>
#include <string.h>

#include "base64.h"
#include "command.h"
#include "frame.h"
#include "number.h"
#include "slab_class.h"
#include "watch_item.h"

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

/* The TTL that the earlier of a created item's N and T tokens gives it, as a 't' between the
 * two shows it (memcached applies them in the request's order); `after` is the final TTL. */
static int64_t token_ttl(int64_t exptime, int64_t after)
{
    if (exptime == 0) return -1;
    if (exptime > 0 && exptime <= SHMC_EXPTIME_RELATIVE_MAX) return exptime;
    return after;
}

/* Where flag `c` stands in the request (nflags when absent). */
static unsigned flag_at(const proto_meta *m, char c)
{
    unsigned i = 0;
    while (i < m->nflags && m->flags[i].flag != c) i++;
    return i;
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
    (void)req;
    if (rc == SHMC_BAD_KEY) proto_out_line(out, "CLIENT_ERROR bad command line format");
    else proto_reply_server_error(out, rc);
    return PROTO_DONE;
}

/* ---- mg ---- */

typedef struct fetched {
    size_t nvalue;
    shmc_item_meta meta;
    size_t value_at; /* offset of the value in out->buf (beyond out->len, not yet counted) */
} fetched_t;

/* Copy the item into out's spare room (past out->len); SHMC_OK, a miss, or an error. */
static shmc_rc fetch(proto_env *env, const proto_request *req, const shmc_get_opts *o,
                     proto_out *out, fetched_t *f)
{
    size_t room = 16384;
    for (;;) {
        /* room for the status line in front of the value is reserved here as well */
        size_t head = 512 + PROTO_BASE64_LEN(PROTO_KEY_MAX);
        if (!proto_out_reserve(out, head + room + 2)) return SHMC_NO_MEMORY;
        f->value_at = out->len + head;
        char *vbuf = out->buf + f->value_at;
        size_t cap = out->cap - f->value_at - 2;
        shmc_rc rc = shmc_get_meta(env->cache, req->key, req->nkey, o, vbuf, cap, &f->nvalue,
                                   &f->meta);
        if (rc != SHMC_BUFFER_TOO_SMALL) return rc;
        room = f->nvalue;
    }
}

static proto_status exec_mg(proto_env *env, proto_request *req, proto_out *out)
{
    const proto_meta *m = &req->meta;
    shmc_get_opts o = {0};
    if (m->has_ttl) {
        o.what |= SHMC_GET_TOUCH;
        o.exptime = m->ttl;
    }
    if (m->vivify) {
        o.what |= SHMC_GET_VIVIFY;
        o.vivify_exptime = m->vivify_ttl;
    }
    if (m->has_recache) {
        o.what |= SHMC_GET_RECACHE;
        o.recache = m->recache > 0 ? (uint32_t)(m->recache > SHMC_EXPTIME_RELATIVE_MAX
                                                    ? SHMC_EXPTIME_RELATIVE_MAX : m->recache)
                                   : 0;
    }
    if (m->no_bump) o.what |= SHMC_GET_NO_BUMP;
    /* memcached applies T, N and R in the request's order */
    unsigned at_t = flag_at(m, 'T');
    bool t_before_n = at_t < flag_at(m, 'N');
    if (t_before_n) o.what |= SHMC_GET_VIVIFY_AFTER_TOUCH;
    if (at_t < flag_at(m, 'R')) o.what |= SHMC_GET_RECACHE_AFTER_TOUCH;
    fetched_t f;
    shmc_rc rc = fetch(env, req, &o, out, &f);
    if (m->vivify) proto_watch_evictions(env); /* a created item may have evicted */
    if (rc == SHMC_OK && !f.meta.created) {
        proto_watch_got(env, req->key, req->nkey, true, f.meta.flags, f.nvalue, req->cfd);
    } else if (rc == SHMC_OK || rc == SHMC_NOT_FOUND || rc == SHMC_BAD_KEY) {
        /* a miss (memcached links a vivified item without a store line) */
        proto_watch_got(env, req->key, req->nkey, false, 0, 0, req->cfd);
    }
    if (rc == SHMC_NOT_FOUND || (rc == SHMC_BAD_KEY && !m->base64)) {
        if (!m->quiet) status_echo(out, req, "EN");
        return PROTO_DONE;
    }
    if (rc != SHMC_OK) return library_error(out, req, rc);
    const shmc_item_meta *im = &f.meta;

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
    /* the TTL as it stands at each flag: a created item has none until its N or T, and the
     * later of the two gives the final one */
    int64_t ttl = im->created ? -1 : im->prev_ttl;
    for (unsigned i = 0; i < m->nflags; i++) {
        const proto_mflag *fl = &m->flags[i];
        switch (fl->flag) {
        case 'T':
            ttl = im->created && t_before_n && m->vivify ? token_ttl(m->ttl, im->ttl) : im->ttl;
            break;
        case 'N':
            if (im->created)
                ttl = m->has_ttl && !t_before_n ? token_ttl(m->vivify_ttl, im->ttl) : im->ttl;
            break;
        case 's': echo_u64(out, 's', f.nvalue); break;
        case 't': echo_i64(out, 't', ttl); break;
        case 'c': echo_u64(out, 'c', proto_cas_shown(env, im->cas)); break;
        case 'f': echo_u64(out, 'f', im->flags); break;
        case 'l': echo_u64(out, 'l', im->last_access); break;
        case 'h': echo_u64(out, 'h', im->fetched); break;
        case 'O':
        case 'k': echo_opaque_or_key(out, req, fl); break;
        default: break;
        }
    }
    /* memcached's order: Z (a win is out), X (stale), W (this client won) */
    if (im->win == SHMC_WIN_TAKEN) proto_out_add(out, " Z", 2);
    if (im->stale) proto_out_add(out, " X", 2);
    if (im->win == SHMC_WIN_WON) proto_out_add(out, " W", 2);
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
        proto_watch_stored(env, k, nk, SHMC_TOO_LARGE, "set", 0, 0, 0, req->cfd);
        proto_watch_lookup(env, k, nk, req->cfd); /* memcached's lookup for the drop */
        proto_drop_refused(c, k, nk);
        proto_out_line(out, "SERVER_ERROR object too large for cache");
        return PROTO_SWALLOW;
    }
    if (!proto_data_terminated(data, nv)) {
        proto_out_line(out, "CLIENT_ERROR bad data chunk");
        return PROTO_DONE;
    }
    int mode;
    switch (m->mode) {
    case 'E': mode = SHMC_MODE_ADD; break;
    case 'A': mode = SHMC_MODE_APPEND; break;
    case 'P': mode = SHMC_MODE_PREPEND; break;
    case 'R': mode = SHMC_MODE_REPLACE; break;
    default: mode = SHMC_MODE_SET; break;
    }
    shmc_store_opts o = {0};
    if (m->has_cas) {
        o.what = SHMC_STORE_CAS | (m->invalidate ? SHMC_STORE_INVALIDATE : 0);
        o.cas = env->cas_disabled ? PROTO_CAS_NEVER : m->cas;
    }
    uint64_t cas = 0; /* the stored item's, as linked; 0 when nothing was stored */
    proto_watch_lookup(env, k, nk, req->cfd); /* memcached's store looks the old item up first */
    shmc_rc rc = shmc_store_meta(c, mode, k, nk, data, nv, m->client_flags, m->ttl, &o, &cas);
    proto_watch_evictions(env); /* what this store evicted */
    static const char *const cmds[] = {[SHMC_MODE_SET] = "set", [SHMC_MODE_ADD] = "add",
                                       [SHMC_MODE_REPLACE] = "replace",
                                       [SHMC_MODE_APPEND] = "append",
                                       [SHMC_MODE_PREPEND] = "prepend"};
    proto_watch_stored(env, k, nk, rc,
                       m->has_cas && mode == SHMC_MODE_SET ? "cas" : cmds[mode],
                       m->client_flags, m->ttl, nv, req->cfd);

    const char *code;
    switch (rc) {
    case SHMC_OK: code = "HD"; break;
    case SHMC_NOT_STORED: code = "NS"; break;
    case SHMC_EXISTS: code = "EX"; break;
    case SHMC_NOT_FOUND: code = "NF"; break;
    case SHMC_TOO_LARGE:
        proto_count_refusal(env, rc, nk, m->client_flags, nv);
        proto_out_line(out, "SERVER_ERROR object too large for cache");
        return PROTO_DONE;
    case SHMC_NO_MEMORY: /* memcached drops the old value, whatever the mode */
        proto_count_refusal(env, rc, nk, m->client_flags, nv);
        proto_drop_refused(c, k, nk);
        proto_out_line(out, "SERVER_ERROR out of memory storing object");
        return PROTO_DONE;
    default:
        return library_error(out, req, rc);
    }
    if (rc == SHMC_OK && m->quiet) return PROTO_DONE;
    proto_out_str(out, code);
    for (unsigned i = 0; i < m->nflags; i++) {
        const proto_mflag *fl = &m->flags[i];
        if (fl->flag == 'c') echo_u64(out, 'c', proto_cas_shown(env, cas));
        else echo_opaque_or_key(out, req, fl);
    }
    proto_out_add(out, "\r\n", 2);
    return PROTO_DONE;
}

/* ---- md ---- */

static proto_status exec_md(proto_env *env, proto_request *req, proto_out *out)
{
    const proto_meta *m = &req->meta;
    shmc_delete_opts o = {0};
    if (m->has_cas && !(env->cas_disabled && m->cas == 0)) { /* -C: items' cas is 0 */
        o.what |= SHMC_DELETE_CAS;
        o.cas = env->cas_disabled ? PROTO_CAS_NEVER : m->cas;
    }
    if (m->invalidate) o.what |= SHMC_DELETE_INVALIDATE;
    if (m->has_ttl) {
        o.what |= SHMC_DELETE_TOUCH;
        o.exptime = m->ttl;
    }
    proto_watch_lookup(env, req->key, req->nkey, req->cfd);
    shmc_rc rc = shmc_delete_meta(env->cache, req->key, req->nkey, &o);
    if (rc == SHMC_OK) {
        if (!m->quiet) status_echo(out, req, "HD");
    } else if (rc == SHMC_EXISTS) {
        status_echo(out, req, "EX");
    } else if (rc == SHMC_NOT_FOUND || (rc == SHMC_BAD_KEY && !m->base64)) {
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
    shmc_arith_opts o = {0};
    if (m->has_cas && !(env->cas_disabled && m->cas == 0)) { /* -C: items' cas is 0 */
        o.what |= SHMC_ARITH_CAS;
        o.cas = env->cas_disabled ? PROTO_CAS_NEVER : m->cas;
    }
    if (m->has_ttl) {
        o.what |= SHMC_ARITH_TOUCH;
        o.exptime = m->ttl;
    }
    if (m->vivify) {
        o.what |= SHMC_ARITH_VIVIFY;
        o.initial = m->initial;
        o.vivify_exptime = m->vivify_ttl;
    }
    bool t_before_n = flag_at(m, 'T') < flag_at(m, 'N'); /* applied in the request's order */
    if (t_before_n) o.what |= SHMC_ARITH_VIVIFY_AFTER_TOUCH;
    uint64_t value = 0;
    shmc_item_meta im;
    proto_watch_lookup(env, req->key, req->nkey, req->cfd);
    shmc_rc rc = shmc_arith_meta(c, req->key, req->nkey, incr, m->delta, &o, &value, &im);
    proto_watch_evictions(env);
    if (rc == SHMC_OK && im.created) /* memcached adds the new counter: lookup and store */
        proto_watch_created(env, req->key, req->nkey, m->vivify_ttl, value, req->cfd);
    switch (rc) {
    case SHMC_OK: break;
    case SHMC_NOT_FOUND:
        status_echo(out, req, "NF");
        return PROTO_DONE;
    case SHMC_EXISTS:
        status_echo(out, req, "EX");
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
    if (m->quiet && !im.created) return PROTO_DONE; /* memcached: q hides a change, not a creation */

    char num[24];
    size_t nnum = proto_u64_to_text(value, num);
    if (m->value) {
        proto_out_add(out, "VA ", 3);
        char len[24];
        proto_out_add(out, len, proto_u64_to_text(nnum, len));
    } else {
        proto_out_add(out, "HD", 2);
    }
    /* the TTL at each flag: a created item has none until its N or T, the later of the two
     * gives the final one */
    int64_t ttl = im.created ? -1 : im.prev_ttl;
    for (unsigned i = 0; i < m->nflags; i++) {
        const proto_mflag *fl = &m->flags[i];
        switch (fl->flag) {
        case 'T':
            ttl = im.created && t_before_n && m->vivify ? token_ttl(m->ttl, im.ttl) : im.ttl;
            break;
        case 'N':
            if (im.created)
                ttl = m->has_ttl && !t_before_n ? token_ttl(m->vivify_ttl, im.ttl) : im.ttl;
            break;
        case 'c': echo_u64(out, 'c', proto_cas_shown(env, im.cas)); break;
        case 't': echo_i64(out, 't', ttl); break;
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
    shmc_get_opts peek = {.what = SHMC_GET_NO_BUMP | SHMC_GET_NO_WIN | SHMC_GET_NO_COUNT};
    shmc_item_meta im;
    size_t nvalue = 0;
    shmc_rc rc = shmc_get_meta(env->cache, req->key, req->nkey, &peek, NULL, 0, &nvalue, &im);
    if (rc == SHMC_BUFFER_TOO_SMALL) { /* the metadata alone: peek again with room */
        char *v = malloc(nvalue ? nvalue : 1);
        if (!v) return library_error(out, req, SHMC_NO_MEMORY);
        rc = shmc_get_meta(env->cache, req->key, req->nkey, &peek, v, nvalue, &nvalue, &im);
        free(v);
    }
    proto_watch_got(env, req->key, req->nkey, rc == SHMC_OK, im.flags, (size_t)im.nvalue,
                    req->cfd);
    if (rc == SHMC_NOT_FOUND || rc == SHMC_BUFFER_TOO_SMALL ||
        (rc == SHMC_BAD_KEY && !req->meta.base64)) {
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
    /* memcached prints exp as now - exptime: the remaining TTL negated (-1: none) */
    char num[26];
    proto_out_str(out, " exp=");
    proto_out_add(out, num, proto_i64_to_text(im.ttl < 0 ? -1 : -im.ttl, num));
    proto_out_str(out, " la=");
    proto_out_add(out, num, proto_u64_to_text(im.last_access, num));
    proto_out_str(out, " cas=");
    proto_out_add(out, num, proto_u64_to_text(proto_cas_shown(env, im.cas), num));
    proto_out_str(out, im.fetched ? " fetch=yes" : " fetch=no");
    uint64_t total = proto_item_total(req->nkey, im.flags, im.nvalue);
    proto_out_str(out, " cls=");
    proto_out_add(out, num, proto_u64_to_text(proto_slab_class(total), num));
    proto_out_str(out, " size=");
    proto_out_add(out, num, proto_u64_to_text(total, num));
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
    case PROTO_MS: return exec_ms(env, req, proto_too_large(env, req) ? NULL : data, out);
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
