/* env.c — setting up the protocol's execution environment, and the win-token table of
 * mg's vivify-on-miss (env.h). */
#include "env.h"

#include <stdlib.h>
#include <string.h>

#define WIN_SLOTS 65536

shmc_rc proto_env_init(proto_env *env, shmc_t *cache, const proto_hooks *hooks)
{
    memset(env, 0, sizeof *env);
    shmc_stats_t st;
    shmc_rc rc = shmc_stats(cache, &st);
    if (rc != SHMC_OK) return rc;
    env->cache = cache;
    env->item_size_max = (size_t)st.item_size_max;
    env->limit_maxbytes = st.limit_maxbytes;
    env->out_high_water = 256 * 1024;
    if (hooks) env->hooks = *hooks;
    pthread_mutex_init(&env->reset_lock, NULL);
    env->win_slots = WIN_SLOTS;
    env->win_tags = calloc(WIN_SLOTS, sizeof *env->win_tags);
    if (!env->win_tags) {
        pthread_mutex_destroy(&env->reset_lock);
        return SHMC_SYSTEM;
    }
    return SHMC_OK;
}

void proto_env_destroy(proto_env *env)
{
    free((void *)env->win_tags);
    env->win_tags = NULL;
    pthread_mutex_destroy(&env->reset_lock);
}

static uint64_t key_hash(const char *key, size_t nkey)
{
    uint64_t h = 14695981039346656037ull; /* FNV-1a */
    for (size_t i = 0; i < nkey; i++) h = (h ^ (unsigned char)key[i]) * 1099511628211ull;
    return h;
}

/* The key's hash mixed with the cas (splitmix64's finalizer); never 0 (an empty slot). */
static uint64_t win_tag(uint64_t h, uint64_t cas)
{
    uint64_t z = h ^ (cas * 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    z ^= z >> 31;
    return z ? z : 1;
}

bool proto_win_sent(proto_env *env, const char *key, size_t nkey, uint64_t cas)
{
    uint64_t h = key_hash(key, nkey);
    return atomic_load_explicit(&env->win_tags[h % env->win_slots], memory_order_relaxed) ==
           win_tag(h, cas);
}

void proto_win_mark(proto_env *env, const char *key, size_t nkey, uint64_t cas)
{
    uint64_t h = key_hash(key, nkey);
    atomic_store_explicit(&env->win_tags[h % env->win_slots], win_tag(h, cas),
                          memory_order_relaxed);
}
