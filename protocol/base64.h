/* base64.h — RFC 4648 base64 (standard alphabet, '=' padding) for meta commands' binary
 * keys (the 'b' flag). */
#ifndef SHMC_PROTO_BASE64_H
#define SHMC_PROTO_BASE64_H

#include <stddef.h>

/* Bytes needed to encode n bytes (padding included, no terminator). */
#define PROTO_BASE64_LEN(n) ((((n) + 2) / 3) * 4)

/* Encode src[0..n) into dst (PROTO_BASE64_LEN(n) bytes); returns the length written. */
size_t proto_base64_encode(const unsigned char *src, size_t n, char *dst);

/* Decode src[0..n) into dst (at most n / 4 * 3 bytes) as memcached 1.6.18 decodes a meta
 * command's `b` key: bytes outside the alphabet are skipped; the rest ('=' included) must
 * be a multiple of 4; the first block holding padding ends the input (one '=' drops one
 * byte, two drop two, more: an error).  Returns the decoded length, 0 on an error. */
size_t proto_base64_decode(const char *src, size_t n, unsigned char *dst);

#endif
