/* record.h — self-checking values for the concurrency and crash tests.  A value is one or
 * more records (append and prepend join them); each record carries its length, the key it
 * belongs to, its writer, a sequence number and a checksum of itself, so a reader can tell
 * a whole value from a torn or misplaced one without knowing what was written. */
#ifndef SHMC_TEST_RECORD_H
#define SHMC_TEST_RECORD_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define RECORD_MIN 16u
#define RECORD_MAX 65535u

static inline uint64_t record_mix(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

static inline uint64_t record_sum(const unsigned char *p, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 0x100000001b3ull;
    return h;
}

/* Write one record of exactly len bytes (RECORD_MIN..RECORD_MAX) into out. */
static inline void record_make(unsigned char *out, size_t len, unsigned key, unsigned writer,
                               uint32_t seq)
{
    uint16_t l16 = (uint16_t)len;
    memcpy(out, &l16, 2);
    out[2] = (unsigned char)key;
    out[3] = (unsigned char)writer;
    memcpy(out + 4, &seq, 4);
    uint64_t s = record_mix(((uint64_t)writer << 32) | seq);
    for (size_t i = 8; i < len - 8; i++) out[i] = (unsigned char)(s >> (8 * (i % 8))) ^ (unsigned char)i;
    uint64_t sum = record_sum(out, len - 8);
    memcpy(out + len - 8, &sum, 8);
}

/* The number of whole records of key `key` that value[0..n) consists of, or -1 when it is
 * not exactly that (*bad_at, if not NULL, gets the offset of the first bad record). */
static inline long record_check(const unsigned char *value, size_t n, unsigned key, size_t *bad_at)
{
    long records = 0;
    size_t off = 0;
    if (n == 0) goto bad;
    while (off < n) {
        uint16_t len;
        uint64_t sum;
        if (n - off < RECORD_MIN) goto bad;
        memcpy(&len, value + off, 2);
        if (len < RECORD_MIN || len > n - off || value[off + 2] != (unsigned char)key) goto bad;
        memcpy(&sum, value + off + len - 8, 8);
        if (sum != record_sum(value + off, len - 8u)) goto bad;
        off += len;
        records++;
    }
    return records;
bad:
    if (bad_at) *bad_at = off;
    return -1;
}

#endif
