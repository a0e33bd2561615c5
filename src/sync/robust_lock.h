/* robust_lock.h — a lock in the shared file that survives its owner's death.
 *
 * A process-shared, robust pthread mutex: when the owning thread dies the kernel marks the
 * lock, and the next locker is told (LOCK_OWNER_DIED) so that it repairs what the dead owner
 * left half done, from the intent recorded beside the lock, before it goes on.  Waiting spins
 * briefly (the holder is usually a few hundred ns from done) and then sleeps in the kernel, so
 * many threads on few cores do not burn each other's time. */
#ifndef SHMC_ROBUST_LOCK_H
#define SHMC_ROBUST_LOCK_H

#include <pthread.h>

typedef struct robust_lock {
    pthread_mutex_t m;
} robust_lock_t;

enum lock_result {
    LOCK_OK = 0,
    LOCK_OWNER_DIED = 1, /* acquired; the previous owner died inside: repair, then go on */
    LOCK_FAILED = -1,    /* unusable (not recoverable or not a lock): caller fails cleanly */
    LOCK_TIMEOUT = -2,   /* robust_lock_wait only: still held when the time was up */
};

int robust_lock_init(robust_lock_t *l);
enum lock_result robust_lock_acquire(robust_lock_t *l);
/* Non-blocking: LOCK_OK / LOCK_OWNER_DIED when acquired, LOCK_FAILED when busy or broken. */
enum lock_result robust_lock_try(robust_lock_t *l);
/* Wait at most ns nanoseconds: as robust_lock_acquire, or LOCK_TIMEOUT. */
enum lock_result robust_lock_wait(robust_lock_t *l, long ns);
/* After LOCK_OWNER_DIED and the repair: the lock is consistent again. */
void robust_lock_mark_repaired(robust_lock_t *l);
void robust_lock_release(robust_lock_t *l);

/* What a lock's word says, for the checker (glibc's layout; read-only, no locking). */
enum lock_state { LOCK_STATE_FREE, LOCK_STATE_HELD, LOCK_STATE_OWNER_DIED, LOCK_STATE_HELD_BY_GONE };
/* *owner_tid gets the holder's thread id when held. */
enum lock_state robust_lock_inspect(const robust_lock_t *l, int *owner_tid);

#endif
