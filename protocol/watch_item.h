/* watch_item.h — the item_get and item_store lines (watch.h) that a command of any protocol
 * causes.  memcached logs them from do_item_get and do_store_item, under every protocol, so
 * text, meta and binary commands call these where memcached's code reaches those two.  The
 * clsid is the slab class memcached would have put the item in (slab_class.h). */
#ifndef SHMC_PROTO_WATCH_ITEM_H
#define SHMC_PROTO_WATCH_ITEM_H

#include "env.h"

/* memcached's item_get for a lookup whose result the caller has (flags and nvalue of the
 * item found; ignored on a miss).  Costs one load when nobody watches fetchers. */
void proto_watch_got_(proto_env *env, const char *key, size_t nkey, bool found,
                      uint32_t flags, size_t nvalue, int cfd);
static inline void proto_watch_got(proto_env *env, const char *key, size_t nkey, bool found,
                                   uint32_t flags, size_t nvalue, int cfd)
{
    if (proto_watch_wants(&env->watch, PROTO_WATCH_FETCHERS))
        proto_watch_got_(env, key, nkey, found, flags, nvalue, cfd);
}

/* memcached's item_get for the lookup a store, delete, touch or arithmetic makes first: the
 * item as it is now, peeked at without marking it fetched or counting a get (an extra lookup,
 * made only while someone watches fetchers). */
void proto_watch_lookup(proto_env *env, const char *key, size_t nkey, int cfd);

/* memcached's item_store for a store that returned rc; cmd is memcached's name ("set", "add",
 * "replace", "append", "prepend", "cas"), flags, exptime and nvalue the request's (an
 * append's or prepend's stored item is looked up for its own; a refused SHMC_TOO_LARGE shows
 * ttl, clsid and size 0).  Nothing when nobody watches mutations, or when rc is not a
 * store's answer. */
void proto_watch_stored(proto_env *env, const char *key, size_t nkey, shmc_rc rc,
                        const char *cmd, uint32_t flags, int64_t exptime, size_t nvalue,
                        int cfd);

/* The lines of a counter that an incr or decr created (memcached adds it: its lookup, then
 * the add), holding `value` and expiring at `exptime`. */
void proto_watch_created(proto_env *env, const char *key, size_t nkey, int64_t exptime,
                         uint64_t value, int cfd);

/* `watch evictions` asked: record this server's evictions (shmc_evictions_record), once. */
void proto_watch_evictions_on(proto_env *env);
/* After a command: an eviction line for each item the server's own stores evicted.  One
 * load when nobody watches evictions.  Evictions made by other processes are not seen. */
void proto_watch_evictions_(proto_env *env);
static inline void proto_watch_evictions(proto_env *env)
{
    if (proto_watch_wants(&env->watch, PROTO_WATCH_EVICTIONS)) proto_watch_evictions_(env);
}

#endif
