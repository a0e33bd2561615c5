/* auth.c — the ASCII authentication file and exchange (auth.h).
 *
 * memcached's rules, kept exactly: the command line is split on spaces (a '\r' stays on the
 * last token, and the length parses as memcached's safe_strtoul does); a line with fewer
 * than five tokens, a first token other than "set" or a bad length is "unauthenticated";
 * the data block must end in "\r\n" ("bad command line termination"); it splits into at
 * least two space-separated tokens ("bad authentication token format") of which the first two
 * are the user and the password.  Passwords are compared in constant time. */
#include "auth.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct auth_entry {
    const char *user, *pass;
    size_t ulen, plen;
};

bool auth_load(auth_table *t, const char *path)
{
    memset(t, 0, sizeof *t);
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "shmcd: cannot read the auth file %s: %s\n", path, strerror(errno));
        return false;
    }
    size_t cap = 0, len = 0;
    char *data = NULL;
    for (;;) {
        if (cap - len < 4096) {
            char *d = realloc(data, cap + 65536);
            if (!d) goto oom;
            data = d;
            cap += 65536;
        }
        size_t n = fread(data + len, 1, cap - len - 1, f);
        len += n;
        if (n == 0) break;
    }
    if (ferror(f)) {
        fprintf(stderr, "shmcd: cannot read the auth file %s: %s\n", path, strerror(errno));
        goto fail;
    }
    fclose(f);
    f = NULL;
    data[len] = '\0';
    size_t lines = 1;
    for (size_t i = 0; i < len; i++) lines += data[i] == '\n';
    t->entries = calloc(lines, sizeof *t->entries);
    if (!t->entries) goto oom;
    size_t lineno = 0;
    for (char *line = data; line < data + len;) {
        char *nl = memchr(line, '\n', (size_t)(data + len - line));
        char *end = nl ? nl : data + len;
        lineno++;
        if (end > line && end[-1] == '\r') end--;
        if (end > line) {
            char *colon = memchr(line, ':', (size_t)(end - line));
            if (!colon || colon == line || memchr(line, '\0', (size_t)(end - line))) {
                fprintf(stderr, "shmcd: auth file %s line %zu: not user:password\n", path,
                        lineno);
                goto fail;
            }
            struct auth_entry *e = &t->entries[t->n++];
            e->user = line;
            e->ulen = (size_t)(colon - line);
            e->pass = colon + 1;
            e->plen = (size_t)(end - colon - 1);
        }
        line = nl ? nl + 1 : data + len;
    }
    if (t->n == 0) {
        fprintf(stderr, "shmcd: auth file %s names no user\n", path);
        goto fail;
    }
    t->data = data;
    return true;
oom:
    fprintf(stderr, "shmcd: out of memory reading the auth file %s\n", path);
fail:
    if (f) fclose(f);
    free(data);
    free(t->entries);
    memset(t, 0, sizeof *t);
    return false;
}

void auth_free(auth_table *t)
{
    free(t->entries);
    free(t->data);
    t->entries = NULL;
    t->data = NULL;
    t->n = 0;
}

static bool same(const char *a, size_t alen, const char *b, size_t blen)
{
    unsigned char diff = alen != blen;
    size_t n = alen < blen ? alen : blen;
    for (size_t i = 0; i < n; i++) diff |= (unsigned char)(a[i] ^ b[i]);
    return diff == 0;
}

bool auth_check(const auth_table *t, const char *user, size_t ulen, const char *pass,
                size_t plen)
{
    unsigned ok = 0; /* every entry is compared, so the time says nothing of which matched */
    for (size_t i = 0; i < t->n; i++) {
        const struct auth_entry *e = &t->entries[i];
        ok |= (unsigned)same(user, ulen, e->user, e->ulen) &
              (unsigned)same(pass, plen, e->pass, e->plen);
    }
    return ok != 0;
}

/* memcached's tokenizer: up to max space-separated tokens of s[0..len), a NUL ending it. */
typedef struct token {
    const char *s;
    size_t len;
} token;

static size_t tokenize(const char *s, size_t len, token *tok, size_t max)
{
    const char *nul = memchr(s, '\0', len);
    if (nul) len = (size_t)(nul - s);
    size_t n = 0, i = 0;
    while (i < len && n < max) {
        while (i < len && s[i] == ' ') i++;
        if (i == len) break;
        size_t start = i;
        while (i < len && s[i] != ' ') i++;
        tok[n].s = s + start;
        tok[n].len = i - start;
        n++;
    }
    return n;
}

/* memcached's safe_strtoul on a token: digits, then the token's end or a space character. */
static bool parse_length(const token *t, uint64_t *out)
{
    char buf[32];
    if (t->len >= sizeof buf) return false;
    memcpy(buf, t->s, t->len);
    buf[t->len] = '\0';
    char *end;
    errno = 0;
    unsigned long long v = strtoull(buf, &end, 10);
    if (errno == ERANGE || end == buf) return false;
    if (!(isspace((unsigned char)*end) || *end == '\0')) return false;
    if (memchr(buf, '-', (size_t)(end - buf)) && v != 0) return false;
    if (v > UINT32_MAX) return false;
    *out = v;
    return true;
}

static auth_result reply(proto_out *out, const char *line, size_t *consumed, size_t n)
{
    proto_out_line(out, line);
    *consumed = n;
    return AUTH_CONSUMED;
}

auth_result auth_consume(auth_table *t, auth_session *s, const char *p, size_t avail,
                         proto_out *out, size_t *consumed)
{
    *consumed = 0;
    if (s->discarding) {
        size_t n = avail < s->block ? avail : (size_t)s->block;
        s->block -= n;
        *consumed = n;
        if (s->block) return n ? AUTH_CONSUMED : AUTH_NEED_MORE;
        s->discarding = s->in_block = false;
        atomic_fetch_add(&t->cmds, 1);
        atomic_fetch_add(&t->errors, 1);
        return reply(out, "CLIENT_ERROR authentication failure", consumed, n);
    }
    if (!s->in_block) {
        if (avail < 2) return AUTH_NEED_MORE;
        const char *nl = memchr(p, '\n', avail);
        if (!nl) return avail > AUTH_LINE_MAX ? AUTH_CLOSE : AUTH_NEED_MORE;
        size_t line_len = (size_t)(nl - p); /* a '\r' stays in the last token, as upstream */
        token tok[6];
        size_t n = tokenize(p, line_len, tok, 6);
        uint64_t size;
        if (n < 5 || tok[0].len != 3 || memcmp(tok[0].s, "set", 3) != 0 ||
            !parse_length(&tok[4], &size))
            return reply(out, "CLIENT_ERROR unauthenticated", consumed, line_len + 1);
        s->in_block = true;
        s->block = size + 2;
        if (s->block > AUTH_BLOCK_MAX) s->discarding = true;
        *consumed = line_len + 1;
        return AUTH_CONSUMED;
    }
    if (avail < s->block) return AUTH_NEED_MORE;
    size_t blen = (size_t)s->block;
    s->in_block = false;
    if (p[blen - 2] != '\r' || p[blen - 1] != '\n')
        return reply(out, "CLIENT_ERROR bad command line termination", consumed, blen);
    token tok[2];
    if (tokenize(p, blen - 2, tok, 2) < 2)
        return reply(out, "CLIENT_ERROR bad authentication token format", consumed, blen);
    atomic_fetch_add(&t->cmds, 1);
    if (auth_check(t, tok[0].s, tok[0].len, tok[1].s, tok[1].len)) {
        s->authenticated = true;
        return reply(out, "STORED", consumed, blen);
    }
    atomic_fetch_add(&t->errors, 1);
    return reply(out, "CLIENT_ERROR authentication failure", consumed, blen);
}
