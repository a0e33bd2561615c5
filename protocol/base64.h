/* base64.h — RFC 4648 base64 (standard alphabet, '=' padding) for meta commands' binary
 * keys (the 'b' flag). */
#ifndef SHMC_PROTO_BASE64_H
#define SHMC_PROTO_BASE64_H

#include <stddef.h>

/* Bytes needed to encode n bytes (padding included, no terminator). */
#define PROTO_BASE64_LEN(n) ((((n) + 2) / 3) * 4)

/* Encode src[0..n) into dst (PROTO_BASE64_LEN(n) bytes); returns the length written. */
size_t proto_base64_encode(const unsigned char *src, size_t n, char *dst);

/* Decode src[0..n) into dst (at most n / 4 * 3 bytes).  Returns the decoded length, or 0
 * when the input is empty, not a multiple of 4 long, or holds a byte outside the alphabet
 * or misplaced padding. */
size_t proto_base64_decode(const char *src, size_t n, unsigned char *dst);

#endif
