/* shmc_fleet.h — the local node in-process, for a C application in a memcached fleet.
 *
 * A fleet spreads keys over nodes with libmemcached's ketama ring.  On a host that runs
 * one of those nodes (shmcd serving a cache file), this helper asks the same ring which
 * node owns a key (memcached_server_by_key); when it is the local node, the call goes to
 * libshmc on the cache file that the local shmcd serves, with no socket; else to
 * libmemcached as before.  No new distribution scheme: other clients of the fleet, and
 * this one, agree on every key's node.  Header-only: copy it, or include it from examples/.
 *
 *   memcached_st *mc = memcached_create(NULL);
 *   memcached_behavior_set(mc, MEMCACHED_BEHAVIOR_KETAMA_WEIGHTED, 1);
 *   memcached_server_add(mc, "10.0.0.1", 11211); ... (every node, this host's too)
 *   shmc_t *cache; shmc_open(&cache, "shmcd", NULL);   (the file the local shmcd serves)
 *   shmc_fleet f; shmc_fleet_init(&f, mc, "10.0.0.1", 11211, cache);
 *   shmc_fleet_set(&f, key, nkey, value, nvalue, 0, 0);
 *
 * The result codes are libmemcached's (MEMCACHED_SUCCESS, MEMCACHED_NOTFOUND, ...).
 * A local node that dies leaves its file readable: this helper keeps using it (the items are
 * the node's warm cache), while socket clients see the node fail over as ketama decides. */
#ifndef SHMC_FLEET_H
#define SHMC_FLEET_H

#include <libmemcached/memcached.h>
#include <shmc.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

typedef struct shmc_fleet {
    memcached_st *mc;     /* the ring: every node, ketama */
    const char *host;     /* the local node as it is named in the ring */
    in_port_t port;
    shmc_t *local;        /* the local node's cache file */
} shmc_fleet;

static inline void shmc_fleet_init(shmc_fleet *f, memcached_st *mc, const char *host,
                                   in_port_t port, shmc_t *local)
{
    f->mc = mc;
    f->host = host;
    f->port = port;
    f->local = local;
}

/* Whether the ring puts key on the local node. */
static inline bool shmc_fleet_is_local(shmc_fleet *f, const char *key, size_t nkey)
{
    memcached_return_t rc;
    const memcached_instance_st *node = memcached_server_by_key(f->mc, key, nkey, &rc);
    return node && memcached_server_port(node) == f->port &&
           strcmp(memcached_server_name(node), f->host) == 0;
}

static inline memcached_return_t shmc_fleet_rc(shmc_rc rc)
{
    switch (rc) {
    case SHMC_OK: return MEMCACHED_SUCCESS;
    case SHMC_NOT_FOUND: return MEMCACHED_NOTFOUND;
    case SHMC_NOT_STORED: return MEMCACHED_NOTSTORED;
    case SHMC_EXISTS: return MEMCACHED_DATA_EXISTS;
    case SHMC_TOO_LARGE: return MEMCACHED_E2BIG;
    case SHMC_BAD_KEY: return MEMCACHED_BAD_KEY_PROVIDED;
    default: return MEMCACHED_FAILURE;
    }
}

/* The value of key in malloc()ed memory (free() it), NUL-terminated; NULL on a miss or an
 * error, with *rc saying which — as memcached_get. */
static inline char *shmc_fleet_get(shmc_fleet *f, const char *key, size_t nkey, size_t *nvalue,
                                   uint32_t *flags, memcached_return_t *rc)
{
    if (!shmc_fleet_is_local(f, key, nkey))
        return memcached_get(f->mc, key, nkey, nvalue, flags, rc);
    void *value = NULL;
    *rc = shmc_fleet_rc(shmc_get_alloc(f->local, key, nkey, &value, nvalue, flags, NULL));
    return value;
}

static inline memcached_return_t shmc_fleet_set(shmc_fleet *f, const char *key, size_t nkey,
                                                const char *value, size_t nvalue,
                                                time_t exptime, uint32_t flags)
{
    if (!shmc_fleet_is_local(f, key, nkey))
        return memcached_set(f->mc, key, nkey, value, nvalue, exptime, flags);
    return shmc_fleet_rc(shmc_set(f->local, key, nkey, value, nvalue, flags, exptime));
}

static inline memcached_return_t shmc_fleet_delete(shmc_fleet *f, const char *key, size_t nkey)
{
    if (!shmc_fleet_is_local(f, key, nkey)) return memcached_delete(f->mc, key, nkey, 0);
    return shmc_fleet_rc(shmc_delete(f->local, key, nkey));
}

#endif
