/* detail.c — memcached's prefix statistics (detail.h), as memcached 1.6.18's stats_prefix.c
 * keeps them: a 256-bucket table hashed with memcached's default hash (MurmurHash3 x86_32,
 * seed 0), each bucket's newest prefix first, so that a dump lists them in memcached's
 * order.  Counting takes one mutex, as memcached's does; only while detail is on. */
#include "detail.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct proto_prefix {
    struct proto_prefix *next;
    uint64_t gets, hits, sets, dels;
    size_t len;
    char name[];
} proto_prefix;

static uint32_t rotl32(uint32_t x, int r)
{
    return (x << r) | (x >> (32 - r));
}

/* MurmurHash3_x86_32 with seed 0, memcached's hash_algorithm=murmur3 */
static uint32_t murmur3_32(const char *key, size_t len)
{
    const uint8_t *data = (const uint8_t *)key;
    const size_t nblocks = len / 4;
    const uint32_t c1 = 0xcc9e2d51, c2 = 0x1b873593;
    uint32_t h1 = 0;
    for (size_t i = 0; i < nblocks; i++) {
        uint32_t k1;
        memcpy(&k1, data + i * 4, 4);
        k1 *= c1;
        k1 = rotl32(k1, 15);
        k1 *= c2;
        h1 ^= k1;
        h1 = rotl32(h1, 13);
        h1 = h1 * 5 + 0xe6546b64;
    }
    const uint8_t *tail = data + nblocks * 4;
    uint32_t k1 = 0;
    switch (len & 3) {
    case 3: k1 ^= (uint32_t)tail[2] << 16; /* fall through */
    case 2: k1 ^= (uint32_t)tail[1] << 8;  /* fall through */
    case 1:
        k1 ^= tail[0];
        k1 *= c1;
        k1 = rotl32(k1, 15);
        k1 *= c2;
        h1 ^= k1;
    }
    h1 ^= (uint32_t)len;
    h1 ^= h1 >> 16;
    h1 *= 0x85ebca6b;
    h1 ^= h1 >> 13;
    h1 *= 0xc2b2ae35;
    h1 ^= h1 >> 16;
    return h1;
}

/* The prefix's entry, made when new; NULL for a key without the delimiter (or no memory).
 * Lock held. */
static proto_prefix *find(proto_env *env, const char *key, size_t nkey)
{
    const char *d = memchr(key, env->prefix_delimiter, nkey);
    if (!d) return NULL;
    size_t len = (size_t)(d - key);
    unsigned b = murmur3_32(key, len) % PROTO_DETAIL_BUCKETS;
    for (proto_prefix *p = env->detail[b]; p; p = p->next)
        if (p->len == len && !memcmp(p->name, key, len)) return p;
    proto_prefix *p = calloc(1, sizeof *p + len + 1);
    if (!p) return NULL;
    memcpy(p->name, key, len);
    p->len = len;
    p->next = env->detail[b];
    env->detail[b] = p;
    return p;
}

enum what { GET, SET, DEL };

static void count(proto_env *env, const char *key, size_t nkey, enum what w, bool hit)
{
    if (!atomic_load_explicit(&env->detail_enabled, memory_order_relaxed)) return;
    pthread_mutex_lock(&env->detail_lock);
    proto_prefix *p = find(env, key, nkey);
    if (p) {
        if (w == GET) p->gets++, p->hits += hit;
        else if (w == SET) p->sets++;
        else p->dels++;
    }
    pthread_mutex_unlock(&env->detail_lock);
}

void proto_detail_get(proto_env *env, const char *key, size_t nkey, bool hit)
{
    count(env, key, nkey, GET, hit);
}

void proto_detail_set(proto_env *env, const char *key, size_t nkey)
{
    count(env, key, nkey, SET, false);
}

void proto_detail_delete(proto_env *env, const char *key, size_t nkey)
{
    count(env, key, nkey, DEL, false);
}

void proto_detail_dump(proto_env *env, proto_out *out)
{
    pthread_mutex_lock(&env->detail_lock);
    for (unsigned b = 0; b < PROTO_DETAIL_BUCKETS; b++)
        for (proto_prefix *p = env->detail[b]; p; p = p->next) {
            char line[128];
            proto_out_add(out, "PREFIX ", 7);
            proto_out_add(out, p->name, p->len);
            int n = snprintf(line, sizeof line,
                             " get %" PRIu64 " hit %" PRIu64 " set %" PRIu64 " del %" PRIu64 "\r\n",
                             p->gets, p->hits, p->sets, p->dels);
            proto_out_add(out, line, (size_t)n);
        }
    pthread_mutex_unlock(&env->detail_lock);
    proto_out_add(out, "END\r\n", 5);
}

void proto_detail_free(proto_env *env)
{
    for (unsigned b = 0; b < PROTO_DETAIL_BUCKETS; b++)
        while (env->detail[b]) {
            proto_prefix *p = env->detail[b];
            env->detail[b] = p->next;
            free(p);
        }
}
