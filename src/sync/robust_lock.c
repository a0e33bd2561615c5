/* robust_lock.c — process-shared robust mutexes with bounded spinning (see robust_lock.h). */
#include "sync/robust_lock.h"

#include <errno.h>
#include <time.h>

#define SPIN_TRIES 64

int robust_lock_init(robust_lock_t *l)
{
    pthread_mutexattr_t a;
    if (pthread_mutexattr_init(&a)) return -1;
    int rc = pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED);
    if (!rc) rc = pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST);
    if (!rc) rc = pthread_mutex_init(&l->m, &a);
    pthread_mutexattr_destroy(&a);
    return rc ? -1 : 0;
}

static enum lock_result classify(int rc)
{
    if (rc == 0) return LOCK_OK;
    if (rc == EOWNERDEAD) return LOCK_OWNER_DIED;
    return LOCK_FAILED;
}

enum lock_result robust_lock_try(robust_lock_t *l) { return classify(pthread_mutex_trylock(&l->m)); }

enum lock_result robust_lock_acquire(robust_lock_t *l)
{
    for (int i = 0; i < SPIN_TRIES; i++) {
        int rc = pthread_mutex_trylock(&l->m);
        if (rc != EBUSY) return classify(rc);
        __builtin_ia32_pause();
    }
    return classify(pthread_mutex_lock(&l->m));
}

enum lock_result robust_lock_wait(robust_lock_t *l, long ns)
{
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_nsec += ns % 1000000000L;
    until.tv_sec += ns / 1000000000L + until.tv_nsec / 1000000000L;
    until.tv_nsec %= 1000000000L;
    int rc = pthread_mutex_timedlock(&l->m, &until);
    return rc == ETIMEDOUT ? LOCK_TIMEOUT : classify(rc);
}

void robust_lock_mark_repaired(robust_lock_t *l) { pthread_mutex_consistent(&l->m); }

void robust_lock_release(robust_lock_t *l) { pthread_mutex_unlock(&l->m); }

#include <linux/futex.h>
#include <stdio.h>
#include <unistd.h>

enum lock_state robust_lock_inspect(const robust_lock_t *l, int *owner_tid)
{
    unsigned word = (unsigned)*(const volatile int *)&l->m.__data.__lock;
    int tid = (int)(word & FUTEX_TID_MASK);
    *owner_tid = tid;
    if (word & FUTEX_OWNER_DIED) return LOCK_STATE_OWNER_DIED;
    if (!tid) return LOCK_STATE_FREE;
    char path[64];
    snprintf(path, sizeof path, "/proc/%d", tid); /* thread ids resolve there too */
    return access(path, F_OK) == 0 ? LOCK_STATE_HELD : LOCK_STATE_HELD_BY_GONE;
}
