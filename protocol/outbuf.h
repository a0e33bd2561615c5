/* outbuf.h — the growable byte buffer that replies are encoded into.
 *
 * The protocol layer appends whole replies; the server sends from `sent` and calls
 * proto_out_consumed() as the socket takes bytes.  When memory runs out the buffer keeps
 * what it has, sets `failed`, and ignores further appends; the server then closes the
 * connection. */
#ifndef SHMC_PROTO_OUTBUF_H
#define SHMC_PROTO_OUTBUF_H

#include <stdbool.h>
#include <stddef.h>

typedef struct proto_out {
    char *buf;
    size_t len;  /* bytes encoded */
    size_t sent; /* of those, bytes already handed to the socket */
    size_t cap;
    bool failed; /* an allocation failed: the reply stream is incomplete */
} proto_out;

/* Make room for n more bytes; false (and `failed`) when memory runs out. */
bool proto_out_reserve(proto_out *o, size_t n);
/* Append bytes / a C string / a C string plus "\r\n". */
void proto_out_add(proto_out *o, const void *p, size_t n);
void proto_out_str(proto_out *o, const char *s);
void proto_out_line(proto_out *o, const char *s);
/* Bytes waiting to be sent. */
static inline size_t proto_out_pending(const proto_out *o) { return o->len - o->sent; }
/* n more bytes were sent; when all are, the buffer is reset to empty. */
void proto_out_consumed(proto_out *o, size_t n);
/* Give memory back: drop a buffer larger than keep_cap when it is empty. */
void proto_out_trim(proto_out *o, size_t keep_cap);
void proto_out_free(proto_out *o);

#endif
