/* test_thread_death.c — a thread (not its process) that dies inside a call.
 *
 * Worker threads run calls with asynchronous cancellation enabled, so pthread_cancel ends
 * them at an arbitrary instruction — inside a lock, mid-copy, mid-cleaning.  The kernel
 * releases a dead thread's robust locks; the next locker, often a thread of this same
 * process, must repair and go on.  Replacements start as threads die.  Pass: the survivors
 * never stall, no value read is torn, and after the process lets go of the cache the next
 * opener leaves it clean for the checker.
 *
 * Cancelled threads make no call that allocates (no get_alloc, no mget), since async
 * cancellation inside malloc would break this process's heap, not the cache.
 *
 * Under ASan a cancelled frame's stack redzones stay poisoned (cancellation unwinds without
 * telling ASan), so a cleanup handler unpoisons them.  TSan's own interceptors are not
 * async-cancel-safe (a thread cancelled inside one hangs the process), and TSan cannot see
 * a robust lock passing from a dead owner; so the TSan build cancels between calls, and the
 * plain and ASan builds are the ones that kill threads inside calls. */
#include "testutil.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <time.h>

#include "progs/record.h"

#define THREADS 6
#define NKEYS 32
#define DEFAULT_CANCELS 300
#if defined(__SANITIZE_THREAD__)
#define CANCEL_TYPE PTHREAD_CANCEL_DEFERRED
#else
#define CANCEL_TYPE PTHREAD_CANCEL_ASYNCHRONOUS
#endif

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
/* Everything below this frame belonged to calls that cancellation unwound. */
static void unpoison_stack(void *arg)
{
    (void)arg;
    pthread_attr_t a;
    void *lo;
    size_t size;
    char here;
    if (pthread_getattr_np(pthread_self(), &a) != 0) return;
    pthread_attr_getstack(&a, &lo, &size);
    pthread_attr_destroy(&a);
    if ((char *)lo < &here - 256) ASAN_UNPOISON_MEMORY_REGION(lo, (size_t)(&here - 256 - (char *)lo));
}
#else
static void unpoison_stack(void *arg) { (void)arg; }
#endif

static shmc_t *cache;
static atomic_uint_fast64_t ops, corrupt, errors;

typedef struct victim {
    pthread_t tid;
    unsigned id;
    uint64_t rnd; /* here, not in the frame, which cancellation unwinds */
    uint32_t seq;
} victim_t;

static void *victim_main(void *arg)
{
    victim_t *v = arg;
    unsigned char rec[2048], buf[70000];
    v->rnd = record_mix(v->id + 1);
    v->seq = 0;
    int old;
    pthread_cleanup_push(unpoison_stack, NULL);
    pthread_setcanceltype(CANCEL_TYPE, &old);
    for (;;) {
        pthread_testcancel();
        v->rnd = record_mix(v->rnd);
        unsigned k = (unsigned)(v->rnd % NKEYS), op = (unsigned)((v->rnd >> 8) % 100);
        char key[16];
        size_t nkey = (size_t)snprintf(key, sizeof key, "t:%u", k), n;
        shmc_rc rc = SHMC_OK;
        if (op < 40) {
            rc = shmc_get(cache, key, nkey, buf, sizeof buf, &n, NULL, NULL);
            if (rc == SHMC_OK && record_check(buf, n, k, NULL) < 0) atomic_fetch_add(&corrupt, 1);
            if (rc == SHMC_NOT_FOUND) rc = SHMC_OK;
        } else if (op < 75) {
            size_t len = RECORD_MIN + (v->rnd >> 16) % (sizeof rec - RECORD_MIN);
            record_make(rec, len, k, v->id & 0xff, ++v->seq);
            rc = shmc_set(cache, key, nkey, rec, len, 0, 0);
        } else if (op < 85) {
            size_t len = RECORD_MIN + (v->rnd >> 16) % 64;
            record_make(rec, len, k, v->id & 0xff, ++v->seq);
            rc = shmc_append(cache, key, nkey, rec, len, 0, 0);
            if (rc == SHMC_NOT_STORED || rc == SHMC_TOO_LARGE) rc = SHMC_OK;
        } else if (op < 95) {
            rc = shmc_delete(cache, key, nkey);
            if (rc == SHMC_NOT_FOUND) rc = SHMC_OK;
        } else {
            uint64_t result;
            rc = shmc_incr(cache, "t:counter", 9, 1, &result);
            if (rc == SHMC_NOT_FOUND) rc = shmc_add(cache, "t:counter", 9, "0", 1, 0, 0);
            if (rc == SHMC_NOT_STORED) rc = SHMC_OK;
        }
        if (rc != SHMC_OK) atomic_fetch_add(&errors, 1);
        atomic_fetch_add(&ops, 1);
    }
    pthread_cleanup_pop(0);
    return NULL;
}

static victim_t victims[THREADS];
static unsigned next_id;

static void start(int i)
{
    victims[i].id = ++next_id;
    pthread_create(&victims[i].tid, NULL, victim_main, &victims[i]);
}

int main(void)
{
    t_setup("thread_death");
    const char *path = t_path("cache");
    shmc_config cfg;
    shmc_config_init(&cfg);
    cfg.memory_limit = 1u << 20;
    cfg.item_size_max = 64u << 10;
    CHECK_RC(shmc_open(&cache, path, &cfg), SHMC_OK);

    for (int i = 0; i < THREADS; i++) start(i);
    uint64_t rnd = 99, stalls = 0;
    for (int cancels = 0; cancels < DEFAULT_CANCELS; cancels++) {
        rnd = record_mix(rnd);
        struct timespec ts = {0, (long)(200000 + rnd % 1800000)};
        nanosleep(&ts, NULL);
        int i = (int)((rnd >> 32) % THREADS);
        pthread_cancel(victims[i].tid);
        pthread_join(victims[i].tid, NULL);
        start(i);
        /* the survivors (and the newcomer) must make progress: a lock the dead thread held
         * is repaired by whoever needs it next */
        uint64_t before = atomic_load(&ops);
        for (int wait = 0; atomic_load(&ops) == before; wait++) {
            if (wait == 2000) { /* 2 s */
                stalls++;
                break;
            }
            struct timespec ms = {0, 1000000};
            nanosleep(&ms, NULL);
        }
    }
    for (int i = 0; i < THREADS; i++) {
        pthread_cancel(victims[i].tid);
        pthread_join(victims[i].tid, NULL);
    }
    shmc_stats_t st;
    shmc_stats(cache, &st);
    shmc_close(cache);

    /* the next opener is alone and repairs any lock the last cancelled threads held */
    CHECK_RC(shmc_open(&cache, path, NULL), SHMC_OK);
    shmc_close(cache);

    printf("cancels %d, calls %llu, repairs %llu, stalls %llu, corrupt %llu, errors %llu\n",
           DEFAULT_CANCELS, (unsigned long long)atomic_load(&ops), (unsigned long long)st.repairs,
           (unsigned long long)stalls, (unsigned long long)atomic_load(&corrupt),
           (unsigned long long)atomic_load(&errors));
    CHECK(stalls == 0);
    CHECK(atomic_load(&corrupt) == 0);
    CHECK(atomic_load(&errors) == 0);
    t_check_file(path);
    return t_finish();
}
