/* frame.c — command-line framing and streamed multi-get prefixes (frame.h). */
#include "frame.h"

#include <stddef.h>
#include <string.h>

#include "command.h"
#include "number.h"

/* The retrieval command whose keyword, followed by a space, starts p[0..n); or NULL. */
static const proto_command *retrieval_at(const char *p, size_t n)
{
    const char *sp = memchr(p, ' ', n);
    if (!sp) return NULL;
    const proto_command *command = proto_command_find(p, (size_t)(sp - p));
    return command && command->kind == PROTO_KIND_RETRIEVAL ? command : NULL;
}

proto_frame proto_frame_line(const char *buf, size_t len, size_t *line_len, size_t *consumed)
{
    const char *nl = memchr(buf, '\n', len);
    if (nl) {
        size_t n = (size_t)(nl - buf);
        *consumed = n + 1;
        if (n > 0 && buf[n - 1] == '\r') n--;
        *line_len = n;
        return PROTO_FRAME_LINE;
    }
    if (len <= PROTO_LINE_MAX) return PROTO_FRAME_NEED_MORE;
    size_t i = 0;
    while (i < len && buf[i] == ' ') i++;
    if (i > 100) return PROTO_FRAME_TOO_LONG;
    const char *p = buf + i;
    size_t n = len - i;
    /* memcached takes only "get " and "gets " lines this long (not gat, gats or bget) */
    bool multiget = (n >= 4 && memcmp(p, "get ", 4) == 0) || (n >= 5 && memcmp(p, "gets ", 5) == 0);
    return multiget ? PROTO_FRAME_LONG_GET : PROTO_FRAME_TOO_LONG;
}

bool proto_parse_get_prefix(const char *buf, size_t len, proto_request *req, size_t *keys_off)
{
    size_t i = 0;
    while (i < len && buf[i] == ' ') i++;
    memset(req, 0, offsetof(proto_request, meta));
    const proto_command *command = retrieval_at(buf + i, len - i);
    if (!command) return false;
    req->cmd = command->cmd;
    i += command->len;
    if (req->cmd == PROTO_GAT || req->cmd == PROTO_GATS) {
        /* "gat <exptime> ": the exptime token must be complete */
        while (i < len && buf[i] == ' ') i++;
        size_t start = i;
        while (i < len && buf[i] != ' ') i++;
        if (i == len) return false;
        if (!proto_parse_i64(buf + start, i - start, &req->exptime)) {
            req->cmd = PROTO_ERROR;
            req->error = "CLIENT_ERROR invalid exptime argument";
            return false;
        }
    }
    *keys_off = i;
    return true;
}

size_t proto_whole_keys_len(const char *text, size_t len)
{
    while (len > 0 && text[len - 1] != ' ') len--;
    return len;
}
