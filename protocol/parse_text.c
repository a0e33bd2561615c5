/* parse_text.c — the command-line parser of memcached's text protocol (doc/protocol.txt).
 *
 * Mirrors memcached 1.6's process_command_ascii(): the line is split on single spaces into
 * at most 23 tokens, the first names the command (its row in the command table, command.c,
 * names the parser below), each command checks its token count (a wrong count is "ERROR"),
 * and each malformed argument gets memcached's own CLIENT_ERROR text.  Meta commands' flags
 * are parsed in parse_meta.c.  Nothing here performs a command; see exec_text.c. */
#include <string.h>

#include "command.h"
#include "watch.h"
#include "number.h"
#include "slab_class.h"

typedef proto_tokens tokens_t;

static void tokenize(const char *line, size_t len, tokens_t *t)
{
    size_t i = 0;
    t->line = line;
    t->line_len = len;
    t->n = 0;
    while (i < len && t->n < PROTO_MAX_TOKENS - 1) {
        while (i < len && line[i] == ' ') i++;
        if (i == len) break;
        size_t start = i;
        while (i < len && line[i] != ' ') i++;
        t->tok[t->n] = line + start;
        t->len[t->n] = i - start;
        t->n++;
    }
}

static bool tok_is(const tokens_t *t, size_t i, const char *word)
{
    size_t n = strlen(word);
    return i < t->n && t->len[i] == n && memcmp(t->tok[i], word, n) == 0;
}

/* memcached's set_noreply_maybe(): "noreply" as the last token. */
static bool last_is_noreply(const tokens_t *t)
{
    return t->n > 0 && tok_is(t, t->n - 1, "noreply");
}

static void fail(proto_request *req, const char *why)
{
    req->cmd = PROTO_ERROR;
    req->error = why;
}

static const char BAD_FORMAT[] = "CLIENT_ERROR bad command line format";
static const char BAD_EXPTIME[] = "CLIENT_ERROR invalid exptime argument";

/* The text after token i (where a retrieval's keys start). */
static void keys_after(const tokens_t *t, size_t i, proto_request *req)
{
    size_t off = (size_t)(t->tok[i] - t->line) + t->len[i];
    req->keys = t->line + off;
    req->keys_len = t->line_len - off;
}

void proto_parse_retrieval(const tokens_t *t, proto_request *req, const proto_command *command)
{
    proto_cmd cmd = command->cmd;
    if (t->n < 2) return fail(req, "ERROR");
    req->cmd = cmd;
    if (cmd == PROTO_GAT || cmd == PROTO_GATS) {
        if (!proto_parse_i64(t->tok[1], t->len[1], &req->exptime)) return fail(req, BAD_EXPTIME);
        keys_after(t, 1, req);
    } else {
        keys_after(t, 0, req);
    }
}

void proto_parse_storage(const tokens_t *t, proto_request *req, const proto_command *command)
{
    proto_cmd cmd = command->cmd;
    bool is_cas = cmd == PROTO_CAS;
    size_t want = is_cas ? 6 : 5;
    if (t->n != want && t->n != want + 1) return fail(req, "ERROR");
    req->noreply = last_is_noreply(t);
    if (t->len[1] > PROTO_KEY_MAX) return fail(req, BAD_FORMAT);
    int64_t vlen;
    if (!proto_parse_u32(t->tok[2], t->len[2], &req->flags) ||
        !proto_parse_i64(t->tok[3], t->len[3], &req->exptime) ||
        !proto_parse_i64(t->tok[4], t->len[4], &vlen))
        return fail(req, BAD_FORMAT);
    if (is_cas && !proto_parse_u64(t->tok[5], t->len[5], &req->cas)) return fail(req, BAD_FORMAT);
    if (vlen < 0 || vlen > PROTO_VALUE_LEN_MAX) return fail(req, BAD_FORMAT);
    req->cmd = cmd;
    req->key = t->tok[1];
    req->nkey = t->len[1];
    req->has_value = true;
    req->vlen = (size_t)vlen;
}

void proto_parse_arithmetic(const tokens_t *t, proto_request *req, const proto_command *command)
{
    proto_cmd cmd = command->cmd;
    if (t->n != 3 && t->n != 4) return fail(req, "ERROR");
    req->noreply = last_is_noreply(t);
    if (t->len[1] > PROTO_KEY_MAX) return fail(req, BAD_FORMAT);
    if (!proto_parse_u64(t->tok[2], t->len[2], &req->delta))
        return fail(req, "CLIENT_ERROR invalid numeric delta argument");
    req->cmd = cmd;
    req->key = t->tok[1];
    req->nkey = t->len[1];
}

void proto_parse_touch(const tokens_t *t, proto_request *req, const proto_command *command)
{
    (void)command;
    if (t->n != 3 && t->n != 4) return fail(req, "ERROR");
    req->noreply = last_is_noreply(t);
    if (t->len[1] > PROTO_KEY_MAX) return fail(req, BAD_FORMAT);
    if (!proto_parse_i64(t->tok[2], t->len[2], &req->exptime)) return fail(req, BAD_EXPTIME);
    req->cmd = PROTO_TOUCH;
    req->key = t->tok[1];
    req->nkey = t->len[1];
}

void proto_parse_delete(const tokens_t *t, proto_request *req, const proto_command *command)
{
    (void)command;
    if (t->n < 2 || t->n > 4) return fail(req, "ERROR");
    if (t->n > 2) {
        bool hold_is_zero = tok_is(t, 2, "0");
        req->noreply = last_is_noreply(t);
        bool valid = (t->n == 3 && (hold_is_zero || req->noreply)) ||
                     (t->n == 4 && hold_is_zero && req->noreply);
        if (!valid)
            return fail(req, "CLIENT_ERROR bad command line format.  "
                             "Usage: delete <key> [noreply]");
    }
    if (t->len[1] > PROTO_KEY_MAX) return fail(req, BAD_FORMAT);
    req->cmd = PROTO_DELETE;
    req->key = t->tok[1];
    req->nkey = t->len[1];
}

void proto_parse_flush_all(const tokens_t *t, proto_request *req, const proto_command *command)
{
    (void)command;
    if (t->n < 1 || t->n > 3) return fail(req, "ERROR");
    req->noreply = last_is_noreply(t);
    req->exptime = 0;
    if (t->n != (req->noreply ? 2u : 1u) &&
        !proto_parse_i64(t->tok[1], t->len[1], &req->exptime))
        return fail(req, BAD_EXPTIME);
    req->cmd = PROTO_FLUSH_ALL;
}

void proto_parse_verbosity(const tokens_t *t, proto_request *req, const proto_command *command)
{
    (void)command;
    if (t->n != 2 && t->n != 3) return fail(req, "ERROR");
    req->noreply = last_is_noreply(t);
    uint32_t level;
    if (!proto_parse_u32(t->tok[1], t->len[1], &level)) return fail(req, BAD_FORMAT);
    req->exptime = level;
    req->cmd = PROTO_VERBOSITY;
}

void proto_parse_stats(const tokens_t *t, proto_request *req, const proto_command *command)
{
    (void)command;
    req->cmd = PROTO_STATS;
    keys_after(t, 0, req);
    req->args = req->keys;
    req->nargs = req->keys_len;
    req->keys = NULL;
    req->keys_len = 0;
    while (req->nargs && req->args[0] == ' ') req->args++, req->nargs--;
    while (req->nargs && req->args[req->nargs - 1] == ' ') req->nargs--;
}

/* version, quit: the keyword alone (memcached ignores what follows it) */
void proto_parse_bare(const tokens_t *t, proto_request *req, const proto_command *command)
{
    (void)t;
    req->cmd = command->cmd;
}

/* shutdown [graceful]: whether it is enabled is the executor's to say (memcached -A) */
void proto_parse_shutdown(const tokens_t *t, proto_request *req, const proto_command *command)
{
    req->cmd = command->cmd;
    if (t->n == 1) req->exptime = 0;
    else if (t->n == 2 && tok_is(t, 1, "graceful")) req->exptime = 1;
    else req->exptime = -1;
}

/* watch [fetchers|mutations|evictions|...]: memcached 1.6.18's process_watch_command(); an
 * unknown argument (and so "noreply", which only silences the reply) is refused, after the
 * checks of -W and of pipelining, which the executor makes (exptime -1: bad arguments) */
void proto_parse_watch(const tokens_t *t, proto_request *req, const proto_command *command)
{
    req->cmd = command->cmd;
    req->noreply = last_is_noreply(t);
    uint32_t f = 0;
    req->exptime = proto_watch_parse_args(t->tok + 1, t->len + 1, t->n - 1, &f) ? 0 : -1;
    req->flags = f;
}

/* memcached's process_memlimit_command(): below 8 MB is too small; shmc's cache cannot
 * change its size while it is open, which memcached answers as a failed adjustment */
void proto_parse_cache_memlimit(const tokens_t *t, proto_request *req,
                                const proto_command *command)
{
    (void)command;
    if (t->n != 2 && t->n != 3) return fail(req, "ERROR");
    req->noreply = last_is_noreply(t);
    uint32_t mb;
    if (!proto_parse_u32(t->tok[1], t->len[1], &mb)) return fail(req, "ERROR");
    if (mb < 8) return fail(req, "MEMLIMIT_TOO_SMALL cannot set maxbytes to less than 8m");
    fail(req, "MEMLIMIT_ADJUST_FAILED out of bounds or unable to adjust");
}

/* memcached 1.6.18's process_slabs_command(): shmc has no slab pages to move, so a valid
 * reassign finds no spare page in the source class, and automove is accepted (its levels
 * are 0..2) and has nothing to do. */
void proto_parse_slabs(const tokens_t *t, proto_request *req, const proto_command *command)
{
    (void)command;
    if (t->n == 4 && tok_is(t, 1, "reassign")) {
        int64_t src, dst;
        if (!proto_parse_i64(t->tok[2], t->len[2], &src) ||
            !proto_parse_i64(t->tok[3], t->len[3], &dst))
            return fail(req, BAD_FORMAT);
        src = (int32_t)src, dst = (int32_t)dst; /* memcached keeps the low 32 bits */
        if (src == dst) return fail(req, "SAME src and dst class are identical");
        /* -1: any source with a spare page, of which there is none */
        if (src < 0 || src > PROTO_SLAB_LARGEST || dst < 0 || dst > PROTO_SLAB_LARGEST)
            return fail(req, "BADCLASS invalid src or dst class id");
        return fail(req, "NOSPARE source class has no spare pages");
    }
    if (t->n >= 3 && tok_is(t, 1, "automove")) {
        req->noreply = last_is_noreply(t);
        uint32_t level;
        if (!proto_parse_u32(t->tok[2], t->len[2], &level)) return fail(req, BAD_FORMAT);
        return fail(req, level <= 2 ? "OK" : "ERROR");
    }
    fail(req, "ERROR");
}

/* ---- meta commands: the key, the length (ms), then flags for parse_meta.c ---- */

void proto_parse_meta(const tokens_t *t, proto_request *req, const proto_command *command)
{
    char which = command->keyword[1];
    memset(&req->meta, 0, sizeof req->meta);
    req->meta.delta = 1;
    if (which == 'n') {
        req->cmd = PROTO_MN;
        return;
    }
    if (which == 'e') {
        if (t->n < 2 || t->len[1] > PROTO_KEY_MAX) return fail(req, BAD_FORMAT);
        req->cmd = PROTO_ME;
        req->key = t->tok[1];
        req->nkey = t->len[1];
        if (t->n >= 3 && tok_is(t, 2, "b")) {
            const char *flag = "b";
            size_t one = 1;
            if (proto_parse_meta_flags(req, &flag, &one, 1)) return fail(req, BAD_FORMAT);
        }
        return;
    }
    if (t->n < 2) return fail(req, "ERROR");
    if (t->len[1] > PROTO_KEY_MAX) return fail(req, BAD_FORMAT);
    req->key = t->tok[1];
    req->nkey = t->len[1];
    size_t first_flag = 2;
    if (which == 's') {
        if (t->n == 2) return fail(req, BAD_FORMAT);
        if (t->n + 1 > PROTO_META_TOKENS_MAX) return fail(req, "CLIENT_ERROR options flags too long");
        int64_t vlen;
        if (!proto_parse_i64(t->tok[2], t->len[2], &vlen) || vlen < 0 ||
            vlen > PROTO_VALUE_LEN_MAX)
            return fail(req, BAD_FORMAT);
        req->vlen = (size_t)vlen;
        req->has_value = true; /* from here on, an error swallows the data block */
        first_flag = 3;
    } else if (t->n + 1 > PROTO_META_TOKENS_MAX) {
        return fail(req, which == 'g' ? "CLIENT_ERROR options flags are too long"
                                      : "CLIENT_ERROR options flags too long");
    }
    req->cmd = command->cmd;
    const char *err = proto_parse_meta_flags(req, t->tok + first_flag, t->len + first_flag,
                                             t->n - first_flag);
    if (err) {
        bool has_value = req->has_value;
        size_t vlen = req->vlen;
        fail(req, err);
        req->has_value = has_value;
        req->vlen = vlen;
    }
}

void proto_parse(const char *line, size_t len, proto_request *req)
{
    memset(req, 0, offsetof(proto_request, meta));
    tokens_t t;
    tokenize(line, len, &t);
    if (t.n < 1 || t.len[0] < 2) return fail(req, "ERROR");
    const proto_command *command = proto_command_find(t.tok[0], t.len[0]);
    if (!command && t.len[t.n - 1] >= 5 && memcmp(t.tok[t.n - 1], "HTTP/", 5) == 0) {
        req->cmd = PROTO_QUIT; /* memcached closes on an HTTP request line */
        return;
    }
    if (!command) return fail(req, "ERROR");
    command->parse(&t, req, command);
}

bool proto_next_key(const char *text, size_t len, size_t *pos, const char **key,
                    size_t *nkey)
{
    size_t i = *pos;
    while (i < len && text[i] == ' ') i++;
    if (i == len) {
        *pos = i;
        return false;
    }
    size_t start = i;
    const char *sp = memchr(text + i, ' ', len - i);
    i = sp ? (size_t)(sp - text) : len;
    *key = text + start;
    *nkey = i - start;
    *pos = i;
    return true;
}

/* ---- lru_crawler: memcached 1.6.18's process_lru_crawler_command() ---- */

void proto_parse_lru_crawler(const tokens_t *t, proto_request *req, const proto_command *command)
{
    req->cmd = command->cmd;
    if (t->n == 3 && (tok_is(t, 1, "crawl") || tok_is(t, 1, "metadump"))) {
        req->crawler = tok_is(t, 1, "crawl") ? PROTO_CRAWLER_CRAWL : PROTO_CRAWLER_METADUMP;
        req->args = t->tok[2];
        req->nargs = t->len[2];
    } else if (t->n == 3 && (tok_is(t, 1, "tocrawl") || tok_is(t, 1, "sleep"))) {
        uint64_t v; /* memcached's safe_strtoul keeps the low 32 bits */
        if (!proto_parse_u64(t->tok[2], t->len[2], &v)) return fail(req, BAD_FORMAT);
        if (tok_is(t, 1, "sleep") && (uint32_t)v > 1000000)
            return fail(req, "CLIENT_ERROR sleep must be one second or less");
        req->crawler = PROTO_CRAWLER_SET;
    } else if (t->n == 2 && tok_is(t, 1, "enable")) {
        req->crawler = PROTO_CRAWLER_ENABLE;
    } else if (t->n == 2 && tok_is(t, 1, "disable")) {
        req->crawler = PROTO_CRAWLER_DISABLE;
    } else {
        fail(req, "ERROR");
    }
}
