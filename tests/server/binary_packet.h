/* binary_packet.h — building memcached binary-protocol requests and reading their replies,
 * for the differential tests of the binary protocol (binary_diff, sasl_diff).  A stream of
 * requests ends with a NOOP whose opaque is BIN_END_OPAQUE; its reply marks the end of the
 * replies.  Included by one test file each. */
#ifndef SHMC_TEST_BINARY_PACKET_H
#define SHMC_TEST_BINARY_PACKET_H

#include <stdint.h>

#include "harness.h"

#define BIN_END_OPAQUE 0xe0d0c0b0u
#define BIN_NOOP 0x0a

typedef struct buf {
    unsigned char *p;
    size_t n, cap;
} buf;

static inline void put(buf *b, const void *p, size_t n)
{
    if (b->n + n > b->cap) {
        b->cap = (b->n + n) * 2 + 4096;
        b->p = realloc(b->p, b->cap);
    }
    memcpy(b->p + b->n, p, n);
    b->n += n;
}

/* v as `bytes` big-endian bytes at p */
static inline void be(unsigned char *p, uint64_t v, int bytes)
{
    for (int i = bytes - 1; i >= 0; i--, v >>= 8) p[i] = (unsigned char)v;
}

/* The body length of the packet whose 24-byte header is h. */
static inline uint32_t bin_body(const unsigned char *h)
{
    return (uint32_t)h[8] << 24 | (uint32_t)h[9] << 16 | (uint32_t)h[10] << 8 | h[11];
}

/* A request header with explicit lengths (bodylen may lie: malformed cases). */
static inline void raw(buf *b, uint8_t magic, uint8_t op, uint16_t keylen, uint8_t extlen,
                       uint32_t bodylen, uint32_t opaque, uint64_t cas)
{
    unsigned char h[24] = {magic, op};
    be(h + 2, keylen, 2);
    h[4] = extlen;
    be(h + 8, bodylen, 4);
    be(h + 12, opaque, 4);
    be(h + 16, cas, 8);
    put(b, h, 24);
}

/* A whole request: extras, key (NULL: none) and value. */
static inline void req(buf *b, uint8_t op, const void *ext, size_t next, const char *key,
                       const void *val, size_t nval, uint64_t cas, uint32_t opaque)
{
    size_t nkey = key ? strlen(key) : 0;
    raw(b, 0x80, op, (uint16_t)nkey, (uint8_t)next, (uint32_t)(next + nkey + nval), opaque, cas);
    if (next) put(b, ext, next);
    if (nkey) put(b, key, nkey);
    if (nval) put(b, val, nval);
}

/* Read replies from fd into got until the end marker's reply (with success_only, only a
 * successful one counts), the peer closes ("<closed>" is appended) or 10 s pass quietly. */
static inline size_t read_until_end(int fd, buf *got, bool success_only)
{
    got->n = 0;
    for (;;) {
        size_t off = 0;
        while (off + 24 <= got->n) {
            const unsigned char *h = got->p + off;
            uint32_t body = bin_body(h);
            if (off + 24 + body > got->n) break;
            if (h[1] == BIN_NOOP && (!success_only || h[7] == 0) &&
                memcmp(h + 12, "\xe0\xd0\xc0\xb0", 4) == 0)
                return got->n;
            off += 24 + body;
        }
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        if (poll(&pfd, 1, 10000) <= 0) return got->n;
        unsigned char tmp[65536];
        ssize_t r = recv(fd, tmp, sizeof tmp, 0);
        if (r <= 0) {
            put(got, "<closed>", 8);
            return got->n;
        }
        put(got, tmp, (size_t)r);
    }
}

#endif
