/* exec_binary.c — the executor of the binary protocol (binary.h): each request becomes calls
 * of the public libshmc API, each result memcached 1.6.18's reply packet (its proto_bin.c):
 * the request's opcode and opaque echoed, the item's cas where memcached gives one, the
 * same status codes and error texts, quiet forms answering only errors (and get hits).
 *
 * One difference, deliberate: an unknown opcode's body is discarded exactly; memcached
 * discards as many bytes again as its extras and key held, which desynchronises the stream
 * (docs/shmcd.md). */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "command.h"
#include "watch_item.h"

/* Room offered to a value before its size is known; larger values take a second call. */
#define VALUE_ROOM_MIN 16384

static void put16(unsigned char *p, uint16_t v)
{
    p[0] = (unsigned char)(v >> 8);
    p[1] = (unsigned char)v;
}

static void put32(unsigned char *p, uint32_t v)
{
    for (int i = 3; i >= 0; i--, v >>= 8) p[i] = (unsigned char)v;
}

static void put64(unsigned char *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--, v >>= 8) p[i] = (unsigned char)v;
}

static uint32_t get32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint64_t get64(const unsigned char *p)
{
    return (uint64_t)get32(p) << 32 | get32(p + 4);
}

static void header_at(unsigned char *p, const proto_bin_request *r, uint16_t status,
                      uint8_t extlen, uint16_t keylen, uint32_t bodylen, uint64_t cas)
{
    p[0] = PROTO_BIN_RES;
    p[1] = r->h.opcode;
    put16(p + 2, keylen);
    p[4] = extlen;
    p[5] = 0;
    put16(p + 6, status);
    put32(p + 8, bodylen);
    memcpy(p + 12, &r->h.opaque, 4);
    put64(p + 16, cas);
}

/* A response header, its body to follow (bodylen bytes, appended by the caller). */
static void header(proto_out *out, const proto_bin_request *r, uint16_t status, uint8_t extlen,
                   uint16_t keylen, uint32_t bodylen, uint64_t cas)
{
    unsigned char h[PROTO_BIN_HEADER_LEN];
    header_at(h, r, status, extlen, keylen, bodylen, cas);
    proto_out_add(out, h, sizeof h);
}

/* A success without a body, unless the opcode is quiet. */
static void success(proto_out *out, const proto_bin_request *r, uint64_t cas)
{
    if (!r->quiet) header(out, r, PROTO_BIN_SUCCESS, 0, 0, 0, cas);
}

static const char *error_text(uint16_t status)
{
    switch (status) {
    case PROTO_BIN_ENOMEM: return "Out of memory";
    case PROTO_BIN_UNKNOWN_COMMAND: return "Unknown command";
    case PROTO_BIN_KEY_ENOENT: return "Not found";
    case PROTO_BIN_EINVAL: return "Invalid arguments";
    case PROTO_BIN_KEY_EEXISTS: return "Data exists for key.";
    case PROTO_BIN_E2BIG: return "Too large.";
    case PROTO_BIN_DELTA_BADVAL: return "Non-numeric server-side value for incr or decr";
    case PROTO_BIN_NOT_STORED: return "Not stored.";
    case PROTO_BIN_AUTH_ERROR: return "Auth failure.";
    default: return "UNHANDLED ERROR";
    }
}

/* An error reply: memcached answers errors of quiet opcodes too. */
static void error_with(proto_out *out, const proto_bin_request *r, uint16_t status,
                       const char *text)
{
    size_t n = strlen(text);
    header(out, r, status, 0, 0, (uint32_t)n, 0);
    proto_out_add(out, text, n);
}

static void error(proto_out *out, const proto_bin_request *r, uint16_t status)
{
    error_with(out, r, status, error_text(status));
}

/* A library error memcached has no status for: EINVAL with the library's reason (a key the
 * library refuses, i.e. an empty one: memcached's own "Invalid arguments"). */
static void library_error(proto_out *out, const proto_bin_request *r, shmc_rc rc)
{
    if (rc == SHMC_NO_MEMORY) error(out, r, PROTO_BIN_ENOMEM);
    else if (rc == SHMC_BAD_KEY) error(out, r, PROTO_BIN_EINVAL);
    else error_with(out, r, PROTO_BIN_EINVAL, shmc_strerror(rc));
}

/* ---- get, getk, touch, gat, gatk and their quiet forms ---- */

proto_status proto_bin_exec_get(proto_env *env, proto_bin_session *s,
                                const proto_bin_request *r, proto_out *out)
{
    uint8_t op = r->h.opcode;
    bool touch = op == PROTO_BIN_TOUCH || op == PROTO_BIN_GAT || op == PROTO_BIN_GATQ ||
                 op == PROTO_BIN_GATK || op == PROTO_BIN_GATKQ;
    bool with_key = op == PROTO_BIN_GETK || op == PROTO_BIN_GETKQ || op == PROTO_BIN_GATK ||
                    op == PROTO_BIN_GATKQ;
    size_t nkey = r->h.keylen;
    int64_t exptime = touch ? (int64_t)get32(r->ext) : 0;
    size_t voff = PROTO_BIN_HEADER_LEN + 4 + (with_key ? nkey : 0);
    size_t room = VALUE_ROOM_MIN, nvalue = 0;
    uint32_t flags = 0;
    uint64_t cas = 0;
    shmc_rc rc;
    for (;;) {
        if (!proto_out_reserve(out, voff + room)) return PROTO_CLOSE;
        char *vbuf = out->buf + out->len + voff;
        size_t cap = out->cap - out->len - voff;
        rc = touch ? shmc_gat(env->cache, r->key, nkey, exptime, vbuf, cap, &nvalue, &flags, &cas)
                   : shmc_get(env->cache, r->key, nkey, vbuf, cap, &nvalue, &flags, &cas);
        if (rc != SHMC_BUFFER_TOO_SMALL) break;
        room = nvalue;
    }
    proto_watch_got(env, r->key, nkey, rc == SHMC_OK, flags, nvalue, s->cfd);
    if (rc == SHMC_OK) {
        if (op == PROTO_BIN_TOUCH) nvalue = 0; /* touch answers the flags alone */
        unsigned char *base = (unsigned char *)out->buf + out->len;
        uint16_t keylen = with_key ? (uint16_t)nkey : 0;
        header_at(base, r, PROTO_BIN_SUCCESS, 4, keylen, (uint32_t)(4 + keylen + nvalue), cas);
        put32(base + PROTO_BIN_HEADER_LEN, flags);
        if (with_key) memcpy(base + PROTO_BIN_HEADER_LEN + 4, r->key, nkey);
        out->len += voff + nvalue;
        return PROTO_DONE;
    }
    if (rc != SHMC_NOT_FOUND && rc != SHMC_BAD_KEY) {
        library_error(out, r, rc);
        return PROTO_DONE;
    }
    if (r->quiet) return PROTO_DONE;
    if (with_key) { /* a miss names its key, without a message */
        header(out, r, PROTO_BIN_KEY_ENOENT, 0, (uint16_t)nkey, (uint32_t)nkey, 0);
        proto_out_add(out, r->key, nkey);
    } else {
        error(out, r, PROTO_BIN_KEY_ENOENT);
    }
    return PROTO_DONE;
}

/* ---- set, add, replace, append, prepend ---- */

static int store_mode(uint8_t op)
{
    switch (op) {
    case PROTO_BIN_ADD: case PROTO_BIN_ADDQ: return SHMC_MODE_ADD;
    case PROTO_BIN_REPLACE: case PROTO_BIN_REPLACEQ: return SHMC_MODE_REPLACE;
    case PROTO_BIN_APPEND: case PROTO_BIN_APPENDQ: return SHMC_MODE_APPEND;
    case PROTO_BIN_PREPEND: case PROTO_BIN_PREPENDQ: return SHMC_MODE_PREPEND;
    default: return SHMC_MODE_SET;
    }
}

proto_status proto_bin_exec_store(proto_env *env, proto_bin_session *s,
                                  const proto_bin_request *r, proto_out *out)
{
    int mode = store_mode(r->h.opcode);
    bool concat = mode == SHMC_MODE_APPEND || mode == SHMC_MODE_PREPEND;
    uint32_t flags = concat ? 0 : get32(r->ext);
    int64_t exptime = concat ? 0 : (int64_t)get32(r->ext + 4);
    shmc_store_opts opts = {0};
    if (r->h.cas) { /* a cas makes set, add and replace all a "cas" */
        opts.what = SHMC_STORE_CAS;
        opts.cas = r->h.cas;
        if (!concat) mode = SHMC_MODE_SET;
    }
    uint64_t cas = 0;
    proto_watch_lookup(env, r->key, r->h.keylen, s->cfd); /* memcached's store looks first */
    shmc_rc rc = shmc_store_meta(env->cache, mode, r->key, r->h.keylen, r->value, r->nvalue,
                                 flags, exptime, &opts, &cas);
    proto_watch_evictions(env); /* what this store evicted */
    proto_count_refusal(env, rc, r->h.keylen, flags, r->nvalue);
    int asked = store_mode(r->h.opcode);
    static const char *const cmds[] = {[SHMC_MODE_SET] = "set", [SHMC_MODE_ADD] = "add",
                                       [SHMC_MODE_REPLACE] = "replace",
                                       [SHMC_MODE_APPEND] = "append",
                                       [SHMC_MODE_PREPEND] = "prepend"};
    proto_watch_stored(env, r->key, r->h.keylen, rc, r->h.cas && !concat ? "cas" : cmds[asked],
                       flags, exptime, r->nvalue, s->cfd);
    switch (rc) {
    case SHMC_OK: success(out, r, cas); break;
    case SHMC_EXISTS: error(out, r, PROTO_BIN_KEY_EEXISTS); break;
    case SHMC_NOT_FOUND: error(out, r, PROTO_BIN_KEY_ENOENT); break;
    case SHMC_TOO_LARGE:
        if (concat) { /* an append that grows too large is not stored */
            error(out, r, PROTO_BIN_NOT_STORED);
            break;
        }
        /* memcached could not allocate it: too large, and a set drops the old value */
        if (asked == SHMC_MODE_SET) proto_drop_refused(env->cache, r->key, r->h.keylen);
        error(out, r, PROTO_BIN_E2BIG);
        break;
    case SHMC_NOT_STORED:
        error(out, r, asked == SHMC_MODE_ADD       ? PROTO_BIN_KEY_EEXISTS
                      : asked == SHMC_MODE_REPLACE ? PROTO_BIN_KEY_ENOENT
                                                   : PROTO_BIN_NOT_STORED);
        break;
    default: library_error(out, r, rc); break;
    }
    return PROTO_DONE;
}

/* ---- delete, increment, decrement ---- */

proto_status proto_bin_exec_delete(proto_env *env, proto_bin_session *s,
                                   const proto_bin_request *r, proto_out *out)
{
    shmc_delete_opts opts = {.what = r->h.cas ? SHMC_DELETE_CAS : 0, .cas = r->h.cas};
    proto_watch_lookup(env, r->key, r->h.keylen, s->cfd);
    shmc_rc rc = shmc_delete_meta(env->cache, r->key, r->h.keylen, &opts);
    if (rc == SHMC_OK) success(out, r, 0);
    else if (rc == SHMC_NOT_FOUND || rc == SHMC_BAD_KEY) error(out, r, PROTO_BIN_KEY_ENOENT);
    else if (rc == SHMC_EXISTS) error(out, r, PROTO_BIN_KEY_EEXISTS);
    else library_error(out, r, rc);
    return PROTO_DONE;
}

/* An expiration of all ones: a miss is not created. */
#define NO_INITIAL 0xffffffffu

proto_status proto_bin_exec_arith(proto_env *env, proto_bin_session *s,
                                  const proto_bin_request *r, proto_out *out)
{
    bool incr = r->h.opcode == PROTO_BIN_INCREMENT || r->h.opcode == PROTO_BIN_INCREMENTQ;
    uint32_t exptime = get32(r->ext + 16);
    shmc_arith_opts opts = {0};
    if (r->h.cas) {
        opts.what |= SHMC_ARITH_CAS;
        opts.cas = r->h.cas;
    }
    if (exptime != NO_INITIAL) {
        opts.what |= SHMC_ARITH_VIVIFY;
        opts.initial = get64(r->ext + 8);
        opts.vivify_exptime = exptime;
    }
    uint64_t value = 0;
    shmc_item_meta meta;
    proto_watch_lookup(env, r->key, r->h.keylen, s->cfd);
    shmc_rc rc = shmc_arith_meta(env->cache, r->key, r->h.keylen, incr, get64(r->ext), &opts,
                                 &value, &meta);
    proto_watch_evictions(env);
    if (rc == SHMC_OK && meta.created) /* memcached adds the new counter: lookup and store */
        proto_watch_created(env, r->key, r->h.keylen, exptime, value, s->cfd);
    switch (rc) {
    case SHMC_OK:
        if (!r->quiet) {
            unsigned char v[8];
            put64(v, value);
            header(out, r, PROTO_BIN_SUCCESS, 0, 0, 8, meta.cas);
            proto_out_add(out, v, 8);
        }
        break;
    case SHMC_NOT_FOUND:
    case SHMC_BAD_KEY: error(out, r, PROTO_BIN_KEY_ENOENT); break;
    case SHMC_EXISTS: error(out, r, PROTO_BIN_KEY_EEXISTS); break;
    case SHMC_NOT_NUMERIC: error(out, r, PROTO_BIN_DELTA_BADVAL); break;
    default: library_error(out, r, rc); break;
    }
    return PROTO_DONE;
}

/* ---- quit, flush, noop, version ---- */

proto_status proto_bin_exec_quit(proto_env *env, proto_bin_session *s,
                                 const proto_bin_request *r, proto_out *out)
{
    (void)env, (void)s;
    success(out, r, 0);
    return PROTO_CLOSE;
}

proto_status proto_bin_exec_flush(proto_env *env, proto_bin_session *s,
                                  const proto_bin_request *r, proto_out *out)
{
    (void)s;
    /* as memcached's realtime(): over 30 days is an absolute Unix time */
    int64_t delay = r->h.extlen == 4 ? (int64_t)get32(r->ext) : 0;
    if (delay > SHMC_EXPTIME_RELATIVE_MAX) {
        delay -= (int64_t)time(NULL);
        if (delay < 0) delay = 0;
    }
    shmc_rc rc = shmc_flush_all(env->cache, delay);
    if (rc == SHMC_OK) success(out, r, 0);
    else library_error(out, r, rc);
    return PROTO_DONE;
}

proto_status proto_bin_exec_noop(proto_env *env, proto_bin_session *s,
                                 const proto_bin_request *r, proto_out *out)
{
    (void)env, (void)s;
    success(out, r, 0);
    return PROTO_DONE;
}

proto_status proto_bin_exec_version(proto_env *env, proto_bin_session *s,
                                    const proto_bin_request *r, proto_out *out)
{
    (void)env, (void)s;
    static const char v[] = PROTO_VERSION_STRING;
    header(out, r, PROTO_BIN_SUCCESS, 0, 0, sizeof v - 1, 0);
    proto_out_add(out, v, sizeof v - 1);
    return PROTO_DONE;
}

/* ---- stat ---- */

/* The text protocol's "stats <group>" reply, each "STAT name value" line one packet (key:
 * the name, value: the value), then an empty packet; a group the text protocol refuses is
 * KEY_ENOENT, as memcached answers an unknown group. */
proto_status proto_bin_exec_stat(proto_env *env, proto_bin_session *s,
                                 const proto_bin_request *r, proto_out *out)
{
    (void)s;
    proto_request req;
    memset(&req, 0, offsetof(proto_request, meta));
    req.cmd = PROTO_STATS;
    req.args = r->key;
    req.nargs = r->h.keylen;
    proto_out text = {0};
    proto_exec_stats(env, &req, NULL, &text);
    if (text.failed) {
        proto_out_free(&text);
        error(out, r, PROTO_BIN_ENOMEM);
        return PROTO_DONE;
    }
    const char *p = text.buf, *end = text.buf + text.len;
    bool listed = text.len >= 5 && (memcmp(p, "STAT ", 5) == 0 || memcmp(p, "END\r\n", 5) == 0);
    bool reset = text.len == 7 && memcmp(p, "RESET\r\n", 7) == 0;
    if (!listed && !reset) {
        proto_out_free(&text);
        error(out, r, PROTO_BIN_KEY_ENOENT);
        return PROTO_DONE;
    }
    while (listed && p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        if (!nl || (size_t)(nl - p) < 6 || memcmp(p, "STAT ", 5) != 0) break;
        const char *name = p + 5, *eol = nl[-1] == '\r' ? nl - 1 : nl;
        const char *sp = memchr(name, ' ', (size_t)(eol - name));
        if (!sp) sp = eol;
        size_t nname = (size_t)(sp - name);
        const char *val = sp < eol ? sp + 1 : eol;
        size_t nval = (size_t)(eol - val);
        if (nname > UINT16_MAX) nname = UINT16_MAX;
        header(out, r, PROTO_BIN_SUCCESS, 0, (uint16_t)nname, (uint32_t)(nname + nval), 0);
        proto_out_add(out, name, nname);
        proto_out_add(out, val, nval);
        p = nl + 1;
    }
    header(out, r, PROTO_BIN_SUCCESS, 0, 0, 0, 0);
    proto_out_free(&text);
    return PROTO_DONE;
}

/* ---- SASL (-S) ---- */

proto_status proto_bin_exec_sasl_list(proto_env *env, proto_bin_session *s,
                                      const proto_bin_request *r, proto_out *out)
{
    (void)env;
    if (!s->sasl) {
        error(out, r, PROTO_BIN_UNKNOWN_COMMAND);
        return PROTO_DONE;
    }
    const char *mechs = NULL;
    unsigned n = 0;
    if (s->sasl->list_mechs(s->sasl_conn, &mechs, &n) != PROTO_SASL_OK) {
        error(out, r, PROTO_BIN_AUTH_ERROR);
        return PROTO_DONE;
    }
    header(out, r, PROTO_BIN_SUCCESS, 0, 0, n, 0);
    proto_out_add(out, mechs, n);
    return PROTO_DONE;
}

proto_status proto_bin_exec_sasl_auth(proto_env *env, proto_bin_session *s,
                                      const proto_bin_request *r, proto_out *out)
{
    (void)env;
    char mech[PROTO_BIN_SASL_MECH_MAX + 1];
    memcpy(mech, r->key, r->h.keylen);
    mech[r->h.keylen] = 0;
    const char *reply = NULL;
    unsigned nreply = 0;
    proto_sasl_rc rc = PROTO_SASL_FAIL;
    const char *data = r->nvalue ? r->value : NULL;
    if (r->h.opcode == PROTO_BIN_SASL_AUTH) {
        rc = s->sasl->start(s->sasl_conn, mech, data, (unsigned)r->nvalue, &reply, &nreply);
        s->sasl_started = rc != PROTO_SASL_FAIL;
    } else if (s->sasl_started) {
        rc = s->sasl->step(s->sasl_conn, data, (unsigned)r->nvalue, &reply, &nreply);
    }
    switch (rc) {
    case PROTO_SASL_OK:
        s->authenticated = true;
        header(out, r, PROTO_BIN_SUCCESS, 0, 0, 13, 0);
        proto_out_add(out, "Authenticated", 13);
        if (s->sasl->counted) s->sasl->counted(s->sasl_conn, false);
        break;
    case PROTO_SASL_CONTINUE:
        header(out, r, PROTO_BIN_AUTH_CONTINUE, 0, 0, nreply, 0);
        proto_out_add(out, reply, nreply);
        break;
    case PROTO_SASL_FAIL:
        error(out, r, PROTO_BIN_AUTH_ERROR);
        if (s->sasl->counted) s->sasl->counted(s->sasl_conn, true);
        break;
    }
    return PROTO_DONE;
}

/* ---- the driver ---- */

/* The opcodes a connection may send before SASL authentication, as memcached's. */
static bool before_auth(uint8_t op)
{
    return op == PROTO_BIN_SASL_LIST_MECHS || op == PROTO_BIN_SASL_AUTH ||
           op == PROTO_BIN_SASL_STEP || op == PROTO_BIN_VERSION;
}

/* Refuse a value before reading it, as memcached does (its body is then discarded);
 * false when it is to be read. */
static bool refuse_value(proto_env *env, proto_bin_session *s, const proto_bin_request *r,
                         size_t nvalue, proto_out *out)
{
    const proto_bin_command *command = proto_bin_command_of(r->h.opcode);
    if (command->shape == PROTO_BIN_SHAPE_SASL) {
        if (!s->sasl) error(out, r, PROTO_BIN_UNKNOWN_COMMAND);
        else if (r->h.keylen > PROTO_BIN_SASL_MECH_MAX) error(out, r, PROTO_BIN_EINVAL);
        else return false;
        return true;
    }
    if (nvalue <= env->item_size_max) return false;
    atomic_fetch_add_explicit(&env->store_too_large, 1, memory_order_relaxed);
    if (r->h.opcode == PROTO_BIN_SET || r->h.opcode == PROTO_BIN_SETQ)
        proto_drop_refused(env->cache, r->key, r->h.keylen); /* memcached drops the old value */
    error(out, r, PROTO_BIN_E2BIG);
    return true;
}

proto_status proto_bin_execute(proto_env *env, proto_bin_session *s, const char *p,
                               size_t len, size_t *consumed, size_t *need, proto_out *out)
{
    *consumed = 0;
    *need = 0;
    if (s->swallow) {
        size_t n = len < s->swallow ? len : (size_t)s->swallow;
        s->swallow -= n;
        *consumed = n;
        if (n == 0) *need = 1;
        return PROTO_DONE;
    }
    if (len < PROTO_BIN_HEADER_LEN) {
        *need = PROTO_BIN_HEADER_LEN;
        return PROTO_DONE;
    }
    proto_bin_request r = {0};
    proto_bin_parse_header((const unsigned char *)p, &r.h);
    if (r.h.magic != PROTO_BIN_REQ) return PROTO_CLOSE; /* memcached closes without a word */
    size_t head = PROTO_BIN_HEADER_LEN + r.h.extlen + r.h.keylen;
    if (len < head) {
        *need = head;
        return PROTO_DONE;
    }
    r.ext = (const unsigned char *)p + PROTO_BIN_HEADER_LEN;
    r.key = p + PROTO_BIN_HEADER_LEN + r.h.extlen;
    proto_bin_frame frame = proto_bin_check(&r.h);
    if (frame == PROTO_BIN_FRAME_SHORT_BODY) {
        error(out, &r, PROTO_BIN_UNKNOWN_COMMAND);
        return PROTO_CLOSE;
    }
    if (s->sasl && !s->authenticated && !before_auth(r.h.opcode)) {
        error(out, &r, PROTO_BIN_AUTH_ERROR);
        return PROTO_CLOSE;
    }
    size_t rest = r.h.bodylen - r.h.extlen - r.h.keylen;
    switch (frame) {
    case PROTO_BIN_FRAME_OK: break;
    case PROTO_BIN_FRAME_UNKNOWN:
        error(out, &r, PROTO_BIN_UNKNOWN_COMMAND);
        *consumed = head;
        s->swallow = rest;
        return PROTO_DONE;
    default: /* a key over 250 bytes, lengths the opcode does not take */
        error(out, &r, PROTO_BIN_EINVAL);
        return PROTO_CLOSE;
    }
    const proto_bin_command *command = proto_bin_command_of(r.h.opcode);
    r.quiet = command->quiet;
    if (proto_bin_has_value(r.h.opcode)) {
        if (refuse_value(env, s, &r, rest, out)) {
            *consumed = head;
            s->swallow = rest;
            return PROTO_DONE;
        }
        if (len - head < rest) {
            *need = head + rest;
            return PROTO_DONE;
        }
        r.value = p + head;
        r.nvalue = rest;
        head += rest;
    }
    /* any other body (stat's or touch's, which memcached does not check) is read as the next
     * request, as memcached reads it */
    *consumed = head;
    return command->execute(env, s, &r, out);
}
