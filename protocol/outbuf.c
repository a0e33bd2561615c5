/* outbuf.c — the reply byte buffer (outbuf.h). */
#include "outbuf.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

bool proto_out_reserve(proto_out *o, size_t n)
{
    if (o->failed) return false;
    if (o->cap - o->len >= n) return true;
    if (o->sent > 0 && o->sent >= o->len / 2) {
        memmove(o->buf, o->buf + o->sent, o->len - o->sent);
        o->len -= o->sent;
        o->sent = 0;
        if (o->cap - o->len >= n) return true;
    }
    if (n > SIZE_MAX / 2 - o->len) {
        o->failed = true;
        return false;
    }
    size_t want = o->len + n;
    size_t cap = o->cap ? o->cap : 4096;
    while (cap < want) cap *= 2;
    char *b = realloc(o->buf, cap);
    if (!b) {
        o->failed = true;
        return false;
    }
    o->buf = b;
    o->cap = cap;
    return true;
}

void proto_out_add(proto_out *o, const void *p, size_t n)
{
    if (!proto_out_reserve(o, n)) return;
    memcpy(o->buf + o->len, p, n);
    o->len += n;
}

void proto_out_str(proto_out *o, const char *s)
{
    proto_out_add(o, s, strlen(s));
}

void proto_out_line(proto_out *o, const char *s)
{
    size_t n = strlen(s);
    if (!proto_out_reserve(o, n + 2)) return;
    memcpy(o->buf + o->len, s, n);
    o->buf[o->len + n] = '\r';
    o->buf[o->len + n + 1] = '\n';
    o->len += n + 2;
}

void proto_out_consumed(proto_out *o, size_t n)
{
    o->sent += n;
    if (o->sent >= o->len) o->sent = o->len = 0;
}

void proto_out_trim(proto_out *o, size_t keep_cap)
{
    if (o->len == 0 && o->cap > keep_cap) {
        free(o->buf);
        o->buf = NULL;
        o->cap = 0;
    }
}

void proto_out_free(proto_out *o)
{
    free(o->buf);
    o->buf = NULL;
    o->len = o->sent = o->cap = 0;
}
