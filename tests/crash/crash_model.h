/* crash_model.h — what the crash-point walk expects in the cache, shared through a file
 * between the worker that is killed (crash_worker.c) and the test that checks after it
 * (test_crashpoints.c).
 *
 * One writer at a time changes the cache, and before each change it records which key is
 * in flight and the value it will have; after the change it records the value as done.  So
 * after a kill every key must hold exactly its recorded value, and the key in flight either
 * its old or its new value: never a torn one, never anything else.  In the evicting mode a
 * key may also be missing (evicted), but a value that is there must still be exact. */
#ifndef SHMC_CRASH_MODEL_H
#define SHMC_CRASH_MODEL_H

#include <shmc.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define MODEL_KEYS 1024     /* the evicting mode's key space */
#define MODEL_EXACT_KEYS 64 /* the exact mode's: their ~40 KB never fill the cache */
#define MODEL_COUNTERS 4    /* keys 0..3 hold decimal numbers, for incr/decr */
#define MODEL_VMAX 1024
#define MODEL_ALL (-2)      /* in flight: every key (a flush) */

typedef struct mval {
    uint32_t present, len, flags;
    unsigned char v[MODEL_VMAX];
} mval_t;

typedef struct model {
    uint64_t ops_done;
    int32_t evicting;   /* keys may vanish */
    int32_t inflight;   /* key being changed; -1: none; MODEL_ALL: a flush */
    mval_t next;        /* the in-flight key's value once its change is done */
    mval_t keys[MODEL_KEYS];
} model_t;

/* The walk's cache: 512 KiB with a 2 KiB item limit, so it cleans all the time.  NULL,
 * with the reason on stderr, when it cannot be opened. */
static inline shmc_t *model_open(const char *path)
{
    shmc_config cfg;
    shmc_config_init(&cfg);
    cfg.memory_limit = 512 * 1024;
    cfg.item_size_max = 2048;
    shmc_t *c = NULL;
    shmc_rc rc = shmc_open(&c, path, &cfg);
    if (rc != SHMC_OK)
        fprintf(stderr, "open %s: %s (%s)\n", path, shmc_strerror(rc), shmc_last_error());
    return c;
}

static inline void model_key(char *buf, int k) { snprintf(buf, 16, "k%04d", k); }

static inline bool mval_equal(const mval_t *m, const void *v, size_t n, uint32_t flags)
{
    return m->present && m->len == n && m->flags == flags && !memcmp(m->v, v, n);
}

/* Read key k back and judge it against the model; on success the model holds exactly what
 * the cache holds (the in-flight key settled).  why gets the reason for a false. */
static inline bool model_settle_key(shmc_t *c, model_t *m, int k, char *why, size_t nwhy)
{
    char key[16];
    model_key(key, k);
    unsigned char buf[MODEL_VMAX];
    size_t n = 0;
    uint32_t flags = 0;
    shmc_rc rc = shmc_get(c, key, strlen(key), buf, sizeof buf, &n, &flags, NULL);
    if (rc != SHMC_OK && rc != SHMC_NOT_FOUND) {
        snprintf(why, nwhy, "get %s: %s", key, shmc_strerror(rc));
        return false;
    }
    mval_t *old = &m->keys[k];
    bool flight = m->inflight == k || m->inflight == MODEL_ALL;
    const mval_t *nxt = m->inflight == k ? &m->next : NULL;
    if (rc == SHMC_NOT_FOUND) {
        if (old->present && !m->evicting && !(flight && (!nxt || !nxt->present))) {
            snprintf(why, nwhy, "live key %s lost (%u bytes)", key, old->len);
            return false;
        }
        old->present = 0;
        return true;
    }
    if (old->present && mval_equal(old, buf, n, flags)) return true;
    if (nxt && mval_equal(nxt, buf, n, flags)) {
        *old = *nxt;
        return true;
    }
    if (!old->present && !(nxt && nxt->present))
        snprintf(why, nwhy, "key %s present (%zu bytes) but deleted or flushed", key, n);
    else
        snprintf(why, nwhy, "key %s holds a wrong or torn value (%zu bytes; expected %u%s)", key,
                 n, old->len, nxt ? " or the in-flight one" : "");
    return false;
}

#endif
