/* evictions.h — a handle's opt-in record of the live items its own calls evicted
 * (shmc_evictions_record / shmc_evictions_drain): a ring of the last `cap`, in the process's
 * private memory, filled by the segment cleaner under the item's stripe lock and read by the
 * application after its call has returned.  No user code is called from here: the library
 * only copies, so nothing runs with the gate open or a cache lock held on the user's behalf.
 * When the ring is full the oldest record is dropped and counted in `lost`. */
#ifndef SHMC_STORE_EVICTIONS_H
#define SHMC_STORE_EVICTIONS_H

#include <pthread.h>
#include <stdint.h>

#include "store/item.h"

typedef struct evict_rec {
    int64_t ttl;                  /* seconds it had left; -1: never expires */
    uint32_t flags, nvalue, last_access; /* last_access: seconds since fetched or stored */
    uint8_t nkey, fetched;
    char key[250];
} evict_rec_t;

typedef struct evict_log {
    pthread_mutex_t lock; /* process-private: held only to copy records in or out */
    uint32_t cap, first, count;
    uint64_t lost;
    evict_rec_t rec[];
} evict_log_t;

/* Record an item being evicted (its stripe locked; `it` bounds-checked by the cleaner). */
void evict_log_add(evict_log_t *l, const item_t *it, int fetched, uint32_t now);
/* Move up to n of the oldest records into out; how many. */
uint32_t evict_log_take(evict_log_t *l, evict_rec_t *out, uint32_t n, uint64_t *lost);

#endif
