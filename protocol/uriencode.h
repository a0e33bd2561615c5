/* uriencode.h — memcached's uriencode, with which it prints keys in `lru_crawler metadump`
 * and `watch` lines, so that a key of any bytes (space, NUL, newline) stays one token. */
#ifndef SHMC_PROTO_URIENCODE_H
#define SHMC_PROTO_URIENCODE_H

#include <stddef.h>

/* Bytes needed to encode n bytes (no terminator). */
#define PROTO_URIENCODE_LEN(n) ((n) * 3)

/* Encode src[0..n) into dst (PROTO_URIENCODE_LEN(n) bytes): letters, digits and "-._~" stay,
 * every other byte is %XX (upper-case hex).  Returns the length written. */
size_t proto_uriencode(const char *src, size_t n, char *dst);

#endif
