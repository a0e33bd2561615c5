/* evictions.c — the per-handle record of evicted items (evictions.h). */
#include "store/evictions.h"

#include <string.h>

void evict_log_add(evict_log_t *l, const item_t *it, int fetched, uint32_t now)
{
    pthread_mutex_lock(&l->lock);
    if (l->count == l->cap) { /* full: the oldest goes */
        l->first = (l->first + 1) % l->cap;
        l->count--;
        l->lost++;
    }
    evict_rec_t *r = &l->rec[(l->first + l->count) % l->cap];
    r->nkey = it->nkey <= sizeof r->key ? it->nkey : (uint8_t)sizeof r->key;
    memcpy(r->key, it->data, r->nkey);
    r->flags = it->flags;
    r->nvalue = it->nvalue;
    uint32_t exptime = atomic_load_explicit(&it->exptime, memory_order_relaxed);
    uint32_t atime = atomic_load_explicit(&it->atime, memory_order_relaxed);
    r->ttl = exptime ? (int64_t)exptime - now : -1;
    r->last_access = now > atime ? now - atime : 0;
    r->fetched = (uint8_t)(fetched != 0);
    l->count++;
    pthread_mutex_unlock(&l->lock);
}

uint32_t evict_log_take(evict_log_t *l, evict_rec_t *out, uint32_t n, uint64_t *lost)
{
    pthread_mutex_lock(&l->lock);
    uint32_t k = 0;
    for (; k < n && l->count > 0 && l->count <= l->cap && l->first < l->cap; k++) {
        out[k] = l->rec[l->first];
        l->first = (l->first + 1) % l->cap;
        l->count--;
    }
    *lost += l->lost;
    l->lost = 0;
    pthread_mutex_unlock(&l->lock);
    return k;
}
