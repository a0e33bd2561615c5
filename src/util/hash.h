/* hash.h — the key hash: 64 bits, fast on short keys, good avalanche.
 *
 * One multiply-mix round per 8 bytes (the construction of wyhash/komihash: a 64x64->128
 * multiply folded to 64 bits), seeded per cache so a hostile client cannot choose keys that
 * collide in every cache.  The low bits pick the bucket, the top 16 bits are the item's tag. */
#ifndef SHMC_HASH_H
#define SHMC_HASH_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

static inline uint64_t hash_mix(uint64_t a, uint64_t b)
{
    __uint128_t r = (__uint128_t)a * b;
    return (uint64_t)r ^ (uint64_t)(r >> 64);
}

static inline uint64_t hash_read64(const unsigned char *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

static inline uint64_t hash_key(const void *key, size_t n, uint64_t seed)
{
    const uint64_t k0 = 0xa0761d6478bd642full, k1 = 0xe7037ed1a0b428dbull,
                   k2 = 0x8ebc6af09c88c6e3ull;
    const unsigned char *p = key;
    uint64_t h = seed ^ hash_mix(seed ^ k0, k1 ^ n);
    while (n >= 16) {
        h = hash_mix(hash_read64(p) ^ k1, hash_read64(p + 8) ^ h);
        p += 16;
        n -= 16;
    }
    uint64_t a = 0, b = 0;
    if (n >= 8) {
        a = hash_read64(p);
        b = hash_read64(p + n - 8);
    } else if (n >= 4) {
        uint32_t x, y;
        memcpy(&x, p, 4);
        memcpy(&y, p + n - 4, 4);
        a = x;
        b = y;
    } else if (n > 0) {
        a = ((uint64_t)p[0] << 16) | ((uint64_t)p[n >> 1] << 8) | p[n - 1];
    }
    return hash_mix(hash_mix(a ^ k1, b ^ h) ^ k2, h ^ k0);
}

#endif
