/* stats_class.c — "stats items" and "stats slabs": memcached's per-class view of the cache.
 *
 * shmc has no slab classes; its items are numbered into memcached's default classes by their
 * size (slab_class.h), as `me` and `lru_crawler metadump` number them, by one walk of the
 * live items (shmc_walk: about 85 ms per 100,000 items).  Per class: the item count, the
 * bytes memcached would account (mem_requested), the age of the least recently used item,
 * and the chunks and pages memcached would use for them.  outofmemory is this server's stores
 * refused for want of memory (-M), by the class of the refused item.  The cache-wide counters
 * (evicted, reclaimed, get_hits, ...) are not kept per class: they are reported on the lowest
 * class listed, so a sum over classes gives the cache's total.  Classes without items are not
 * listed, as in memcached, unless a store of their size was refused. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "command.h"
#include "slab_class.h"

#define PAGE_SIZE (1024 * 1024) /* memcached's slab page (-I 1m) */

typedef struct class_totals {
    uint64_t number[PROTO_SLAB_CLASSES];
    uint64_t bytes[PROTO_SLAB_CLASSES];
    uint64_t age[PROTO_SLAB_CLASSES]; /* the oldest last access, seconds */
} class_totals;

static int count_cb(void *ctx, const char *key, size_t nkey, const void *value, size_t nvalue,
                    const shmc_item_meta *meta)
{
    (void)key, (void)value;
    class_totals *t = ctx;
    uint64_t total = proto_item_total(nkey, meta->flags, nvalue);
    unsigned cls = proto_slab_class(total);
    t->number[cls]++;
    t->bytes[cls] += total;
    if (meta->last_access > t->age[cls]) t->age[cls] = meta->last_access;
    return 0;
}

static void stat_class(proto_out *out, const char *prefix, unsigned cls, const char *name,
                       uint64_t v)
{
    char line[128];
    int n = snprintf(line, sizeof line, "STAT %s%u:%s %" PRIu64 "\r\n", prefix, cls, name, v);
    proto_out_add(out, line, (size_t)n);
}

/* Walk the cache into t and read its counters; false (the error replied) on failure. */
static bool gather(proto_env *env, class_totals *t, shmc_stats_t *st, proto_out *out)
{
    memset(t, 0, sizeof *t);
    shmc_rc rc = proto_cache_stats(env, st);
    if (rc == SHMC_OK) rc = shmc_walk(env->cache, count_cb, t);
    if (rc != SHMC_OK) proto_reply_server_error(out, rc);
    return rc == SHMC_OK;
}

void proto_stats_items(proto_env *env, proto_out *out)
{
    class_totals t;
    shmc_stats_t st;
    if (!gather(env, &t, &st, out)) return;
    bool first = true;
    for (unsigned c = 1; c < PROTO_SLAB_CLASSES; c++) {
        uint64_t oom = atomic_load(&env->no_memory_class[c]);
        if (!t.number[c] && !oom) continue;
        /* the cache-wide counters, once */
        uint64_t evicted = first ? st.evictions : 0, reclaimed = first ? st.reclaimed : 0;
        uint64_t exp_unf = first ? st.expired_unfetched : 0;
        uint64_t ev_unf = first ? st.evicted_unfetched : 0;
        first = false;
        const struct {
            const char *name;
            uint64_t v;
        } rows[] = {
            {"number", t.number[c]}, {"number_hot", 0}, {"number_warm", 0},
            {"number_cold", t.number[c]}, {"age_hot", 0}, {"age_warm", 0}, {"age", t.age[c]},
            {"mem_requested", t.bytes[c]}, {"evicted", evicted}, {"evicted_nonzero", 0},
            {"evicted_time", 0}, {"outofmemory", oom}, {"tailrepairs", 0},
            {"reclaimed", reclaimed}, {"expired_unfetched", exp_unf},
            {"evicted_unfetched", ev_unf}, {"evicted_active", 0}, {"crawler_reclaimed", 0},
            {"crawler_items_checked", 0}, {"lrutail_reflocked", 0}, {"moves_to_cold", 0},
            {"moves_to_warm", 0}, {"moves_within_lru", 0}, {"direct_reclaims", 0},
            {"hits_to_hot", 0}, {"hits_to_warm", 0}, {"hits_to_cold", 0}, {"hits_to_temp", 0},
        };
        for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++)
            stat_class(out, "items:", c, rows[i].name, rows[i].v);
    }
    proto_out_add(out, "END\r\n", 5);
}

void proto_stats_slabs(proto_env *env, proto_out *out)
{
    class_totals t;
    shmc_stats_t st;
    if (!gather(env, &t, &st, out)) return;
    bool first = true;
    uint64_t active = 0;
    for (unsigned c = 1; c < PROTO_SLAB_CLASSES; c++) {
        if (!t.number[c]) continue;
        active++;
        uint64_t size = proto_slab_class_size(c);
        uint64_t per_page = size < PAGE_SIZE ? PAGE_SIZE / size : 1;
        uint64_t pages = (t.number[c] + per_page - 1) / per_page;
        const struct {
            const char *name;
            uint64_t v;
        } rows[] = {
            {"chunk_size", size},
            {"chunks_per_page", per_page},
            {"total_pages", pages},
            {"total_chunks", pages * per_page},
            {"used_chunks", t.number[c]},
            {"free_chunks", pages * per_page - t.number[c]},
            {"free_chunks_end", 0},
            {"get_hits", first ? st.get_hits : 0},
            {"cmd_set", first ? st.cmd_set : 0},
            {"delete_hits", first ? st.delete_hits : 0},
            {"incr_hits", first ? st.incr_hits : 0},
            {"decr_hits", first ? st.decr_hits : 0},
            {"cas_hits", first ? st.cas_hits : 0},
            {"cas_badval", first ? st.cas_badval : 0},
            {"touch_hits", first ? st.touch_hits : 0},
        };
        first = false;
        for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++)
            stat_class(out, "", c, rows[i].name, rows[i].v);
    }
    char line[96];
    int n = snprintf(line, sizeof line, "STAT active_slabs %" PRIu64 "\r\n", active);
    proto_out_add(out, line, (size_t)n);
    /* memcached: the slab pages it has taken so far; here the segments in use */
    uint64_t used = st.segments > st.segments_free ? st.segments - st.segments_free : 0;
    n = snprintf(line, sizeof line, "STAT total_malloced %" PRIu64 "\r\n",
                 used * st.segment_size);
    proto_out_add(out, line, (size_t)n);
    proto_out_add(out, "END\r\n", 5);
}
