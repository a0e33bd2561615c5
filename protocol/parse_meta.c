/* parse_meta.c — the parser of the flags of memcached's meta commands (mg, ms, md, ma, me).
 *
 * Each flag is one letter, optionally followed by a token ("T30", "Oabc").  Parsing follows
 * memcached 1.6's _meta_flag_preparse(): a repeated letter is "duplicate flag", an unknown
 * letter "invalid flag", a bad token keeps parsing and reports the last error.  md and ma
 * answer every flag error with "invalid or duplicate flag", as memcached does.
 * Every flag memcached 1.6.18 serves is served (exec_meta.c, through shmc_get_meta and the
 * other meta calls of libshmc). */
#include <string.h>

#include "base64.h"
#include "number.h"
#include "request.h"

static const char BAD_TOKEN[] = "CLIENT_ERROR bad token in command line format";

static const char *decode_key(proto_request *req)
{
    unsigned char *dst = (unsigned char *)req->keybuf;
    size_t n = proto_base64_decode(req->key, req->nkey, dst);
    if (n == 0) return "CLIENT_ERROR error decoding key";
    req->keybuf[n] = 0;
    req->key = req->keybuf;
    req->nkey = n;
    req->meta.base64 = true;
    return NULL;
}

const char *proto_parse_meta_flags(proto_request *req, const char *const *tokens,
                                   const size_t *lens, size_t n)
{
    proto_meta *m = &req->meta;
    unsigned char seen[128] = {0};
    const char *err = NULL;
    m->nflags = 0;
    for (size_t i = 0; i < n; i++) {
        const char *tok = tokens[i] + 1;
        size_t ntok = lens[i] - 1;
        unsigned char f = (unsigned char)tokens[i][0];
        if (f >= 127 || seen[f])
            return req->cmd == PROTO_MD || req->cmd == PROTO_MA
                       ? "CLIENT_ERROR invalid or duplicate flag"
                       : "CLIENT_ERROR duplicate flag";
        seen[f] = 1;
        switch (f) {
        case 'b': {
            const char *e = decode_key(req);
            if (e) err = e;
            break;
        }
        case 'N':
            m->vivify = true;
            if (!proto_parse_i64(tok, ntok, &m->vivify_ttl)) err = BAD_TOKEN;
            break;
        case 'T':
            if (!proto_parse_i64(tok, ntok, &m->ttl)) err = BAD_TOKEN;
            else m->has_ttl = true;
            break;
        case 'R':
            if (!proto_parse_i64(tok, ntok, &m->recache)) err = BAD_TOKEN;
            else m->has_recache = true;
            break;
        case 'u':
            m->no_bump = true;
            break;
        case 'O':
            if (lens[i] > PROTO_OPAQUE_MAX) err = "CLIENT_ERROR opaque token too long";
            break;
        case 'P': case 'L': case 'k': case 's': case 't': case 'c': case 'f':
        case 'h': case 'l':
            break;
        case 'v':
            m->value = true;
            break;
        case 'q':
            m->quiet = true;
            break;
        case 'F':
            /* memcached marks the error but keeps an earlier flag's message */
            if (!proto_parse_u32(tok, ntok, &m->client_flags) && !err)
                err = "CLIENT_ERROR bad command line format";
            break;
        case 'C':
            if (!proto_parse_u64(tok, ntok, &m->cas)) err = BAD_TOKEN;
            else m->has_cas = true;
            break;
        case 'M':
            if (lens[i] != 2) err = "CLIENT_ERROR incorrect length for M token";
            else m->mode = tok[0];
            break;
        case 'J':
            if (!proto_parse_u64(tok, ntok, &m->initial)) err = "CLIENT_ERROR invalid numeric initial value";
            else m->has_initial = true;
            break;
        case 'D':
            if (!proto_parse_u64(tok, ntok, &m->delta)) err = "CLIENT_ERROR invalid numeric delta value";
            break;
        case 'I':
            m->invalidate = true;
            break;
        default:
            return req->cmd == PROTO_MD || req->cmd == PROTO_MA
                       ? "CLIENT_ERROR invalid or duplicate flag"
                       : "CLIENT_ERROR invalid flag";
        }
        if (m->nflags < PROTO_META_TOKENS_MAX) {
            proto_mflag *mf = &m->flags[m->nflags++];
            mf->flag = (char)f;
            mf->token = tok;
            mf->ntoken = (uint8_t)(ntok > 255 ? 255 : ntok);
        }
    }
    if (err) {
        if (req->cmd == PROTO_MD || req->cmd == PROTO_MA) {
            /* memcached reports opaque length only when building the reply */
            if (strcmp(err, "CLIENT_ERROR opaque token too long") != 0)
                return "CLIENT_ERROR invalid or duplicate flag";
        }
        return err;
    }
    if (req->cmd == PROTO_MS) {
        switch (m->mode) {
        case 0: case 'E': case 'A': case 'P': case 'R': case 'S':
            break;
        default:
            return "CLIENT_ERROR invalid mode for ms M token";
        }
    } else if (req->cmd == PROTO_MA) {
        switch (m->mode) {
        case 0: case 'I': case '+': case 'D': case '-':
            break;
        default:
            return "CLIENT_ERROR invalid mode for ma M token";
        }
    }
    return NULL;
}
