/* slab_class.h — memcached's item size and slab class, as memcached 1.6.18 would give them to
 * an item under its defaults (-n 48, -f 1.25, 512 KiB largest chunk).  shmc has no slab
 * classes; `me`, `lru_crawler metadump` and `stats cachedump` number items by these so that
 * their replies read as memcached's (classes 1..63; class 1 holds items up to 96 bytes). */
#ifndef SHMC_PROTO_SLAB_CLASS_H
#define SHMC_PROTO_SLAB_CLASS_H

#include <stddef.h>
#include <stdint.h>

#define PROTO_SLAB_CLASSES 64 /* memcached's MAX_NUMBER_OF_SLAB_CLASSES: ids 1..63 */
#define PROTO_SLAB_LARGEST 39 /* memcached's largest class under its defaults (-I 1m) */

/* memcached's ITEM_ntotal: its 48-byte header, the key and its NUL, the flags when not 0, the
 * value with its "\r\n", the cas. */
static inline uint64_t proto_item_total(size_t nkey, uint32_t flags, uint64_t nvalue)
{
    return 48 + nkey + 1 + (flags ? 4 : 0) + nvalue + 2 + 8;
}

/* The next class's chunk size after one of `size` bytes. */
static inline uint64_t proto_slab_next_size(uint64_t size)
{
    size = (uint64_t)((double)size * 1.25);
    if (size % 8) size += 8 - size % 8;
    return size;
}

/* memcached's slabs_init: a class whose size has reached the largest chunk over the factor
 * is the last one, and holds the largest chunk (512 KiB) instead. */
static inline int proto_slab_is_last(uint64_t size)
{
    return (double)size >= 512 * 1024 / 1.25;
}

/* The class an item of `total` bytes falls in (an item over 512 KiB is made of the largest
 * class's chunks: that class). */
static inline unsigned proto_slab_class(uint64_t total)
{
    unsigned cls = 1;
    uint64_t size = 96;
    while (!proto_slab_is_last(size) && size < total) {
        size = proto_slab_next_size(size);
        cls++;
    }
    return cls;
}

/* A class's chunk size (memcached's "chunk_size" in stats slabs). */
static inline uint64_t proto_slab_class_size(unsigned cls)
{
    uint64_t size = 96;
    for (unsigned c = 1; c < cls && !proto_slab_is_last(size); c++)
        size = proto_slab_next_size(size);
    return proto_slab_is_last(size) ? 512 * 1024 : size;
}

#endif
