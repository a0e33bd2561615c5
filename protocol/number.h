/* number.h — decimal numbers on memcached's command lines, read the way memcached's
 * safe_strto* helpers read them (leading blanks and a sign allowed, digits required, the
 * number ends at the token's end or at a blank), except that values out of range are
 * refused instead of silently truncated. */
#ifndef SHMC_PROTO_NUMBER_H
#define SHMC_PROTO_NUMBER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Unsigned 64-bit (cas values, deltas).  A negative number is refused unless it wraps to a
 * value that is positive as a signed number, as strtoull does. */
bool proto_parse_u64(const char *s, size_t n, uint64_t *out);
/* Unsigned 32-bit (client flags, verbosity): as u64, refused above UINT32_MAX. */
bool proto_parse_u32(const char *s, size_t n, uint32_t *out);
/* Signed 64-bit (exptimes, lengths); refused outside int64. */
bool proto_parse_i64(const char *s, size_t n, int64_t *out);

/* Write v in decimal to buf (at least 20 bytes); returns the length. */
size_t proto_u64_to_text(uint64_t v, char *buf);
/* Write v in decimal to buf (at least 21 bytes); returns the length. */
size_t proto_i64_to_text(int64_t v, char *buf);

#endif
