/* env.c — setting up the protocol's execution environment (env.h).  (Win tokens live in the
 * items themselves: shmc_get_meta.) */
#include "env.h"

#include "detail.h"

#include <stdlib.h>
#include <string.h>

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
    pthread_mutex_init(&env->detail_lock, NULL);
    proto_watch_init(&env->watch);
    env->prefix_delimiter = ':';
    return SHMC_OK;
}

void proto_count_refusal(proto_env *env, shmc_rc rc, size_t nkey, uint32_t flags, size_t nvalue)
{
    if (rc == SHMC_TOO_LARGE) atomic_fetch_add_explicit(&env->store_too_large, 1, memory_order_relaxed);
    if (rc != SHMC_NO_MEMORY) return;
    atomic_fetch_add_explicit(&env->store_no_memory, 1, memory_order_relaxed);
    unsigned cls = proto_slab_class(proto_item_total(nkey, flags, nvalue));
    atomic_fetch_add_explicit(&env->no_memory_class[cls], 1, memory_order_relaxed);
}

void proto_env_destroy(proto_env *env)
{
    pthread_mutex_destroy(&env->reset_lock);
    proto_detail_free(env);
    pthread_mutex_destroy(&env->detail_lock);
    proto_watch_destroy(&env->watch);
}
