/* watch_item.c — item_get / item_store lines with what memcached prints in them (watch_item.h). */
#include "watch_item.h"

#include <stdlib.h>
#include <time.h>

#include "number.h"
#include "slab_class.h"

static unsigned clsid(size_t nkey, uint32_t flags, size_t nvalue)
{
    return proto_slab_class(proto_item_total(nkey, flags, nvalue));
}

void proto_watch_got_(proto_env *env, const char *key, size_t nkey, bool found,
                      uint32_t flags, size_t nvalue, int cfd)
{
    proto_watch_item_get(&env->watch, key, nkey, found, found ? nvalue : 0,
                         found ? clsid(nkey, flags, nvalue) : 0, cfd);
}

/* The item as it is now, changing nothing: false on a miss.  The metadata comes only with
 * the value, so a large one is copied into a buffer of its size. */
static bool peek(proto_env *env, const char *key, size_t nkey, shmc_item_meta *im)
{
    shmc_get_opts o = {.what = SHMC_GET_NO_BUMP | SHMC_GET_NO_WIN | SHMC_GET_NO_COUNT};
    char small[4096];
    char *buf = small;
    size_t cap = sizeof small, n = 0;
    shmc_rc rc;
    while ((rc = shmc_get_meta(env->cache, key, nkey, &o, buf, cap, &n, im)) ==
           SHMC_BUFFER_TOO_SMALL) {
        if (buf != small) free(buf);
        if (!(buf = malloc(n))) return false;
        cap = n;
    }
    if (buf != small) free(buf);
    return rc == SHMC_OK;
}

void proto_watch_lookup(proto_env *env, const char *key, size_t nkey, int cfd)
{
    if (!proto_watch_wants(&env->watch, PROTO_WATCH_FETCHERS)) return;
    shmc_item_meta im = {0};
    bool found = peek(env, key, nkey, &im);
    proto_watch_got_(env, key, nkey, found, im.flags, (size_t)im.nvalue, cfd);
}

void proto_watch_stored(proto_env *env, const char *key, size_t nkey, shmc_rc rc,
                        const char *cmd, uint32_t flags, int64_t exptime, size_t nvalue,
                        int cfd)
{
    if (!proto_watch_wants(&env->watch, PROTO_WATCH_MUTATIONS)) return;
    const char *status;
    switch (rc) {
    case SHMC_OK: status = "stored"; break;
    case SHMC_NOT_STORED: status = "not_stored"; break;
    case SHMC_EXISTS: status = "exists"; break;
    case SHMC_NOT_FOUND: status = "not_found"; break;
    case SHMC_TOO_LARGE: status = "too_large"; break;
    case SHMC_NO_MEMORY: status = "no_memory"; break;
    default: return;
    }
    /* memcached shows the seconds left: an absolute exptime (past 30 days) counts from now */
    long long ttl = (long long)exptime;
    if (ttl > SHMC_EXPTIME_RELATIVE_MAX) ttl -= (long long)time(NULL);
    bool concat = cmd[0] == 'a' ? cmd[1] == 'p' : cmd[0] == 'p';
    shmc_item_meta im = {0};
    if (rc == SHMC_OK && concat && peek(env, key, nkey, &im)) {
        /* the stored item is the old one with the data added: its flags, expiry and size */
        flags = im.flags;
        nvalue = (size_t)im.nvalue;
        ttl = im.ttl < 0 ? 0 : im.ttl;
    }
    if (rc == SHMC_TOO_LARGE) /* no item was made (memcached prints uninitialised fields) */
        proto_watch_item_store(&env->watch, key, nkey, status, cmd, 0, 0, 0, cfd);
    else
        proto_watch_item_store(&env->watch, key, nkey, status, cmd, ttl, nvalue,
                               clsid(nkey, flags, nvalue), cfd);
}

void proto_watch_created(proto_env *env, const char *key, size_t nkey, int64_t exptime,
                         uint64_t value, int cfd)
{
    char num[24];
    proto_watch_got(env, key, nkey, false, 0, 0, cfd);
    proto_watch_stored(env, key, nkey, SHMC_OK, "add", 0, exptime, proto_u64_to_text(value, num),
                       cfd);
}

#define EVICTIONS_KEPT 4096 /* records between two drains before the oldest are dropped */

void proto_watch_evictions_on(proto_env *env)
{
    (void)shmc_evictions_record(env->cache, EVICTIONS_KEPT); /* SHMC_INVALID: already on */
}

void proto_watch_evictions_(proto_env *env)
{
    shmc_eviction ev[16];
    size_t n;
    do {
        if (shmc_evictions_drain(env->cache, ev, 16, &n, NULL) != SHMC_OK) return;
        for (size_t i = 0; i < n; i++)
            proto_watch_eviction(&env->watch, ev[i].key, ev[i].nkey, ev[i].fetched, ev[i].ttl,
                                 ev[i].last_access, clsid(ev[i].nkey, ev[i].flags, ev[i].nvalue),
                                 (size_t)ev[i].nvalue);
    } while (n == 16);
}
