/* exec.h — running parsed requests against the cache through the public libshmc API and
 * encoding memcached's replies.  No I/O: replies go into a proto_out. */
#ifndef SHMC_PROTO_EXEC_H
#define SHMC_PROTO_EXEC_H

#include "env.h"
#include "outbuf.h"
#include "request.h"
#include "slab_class.h"

typedef enum proto_status {
    PROTO_DONE,    /* the reply is complete */
    PROTO_PAUSED,  /* a retrieval stopped because out holds more than env->out_high_water
                      unsent bytes: call proto_resume() with the same request once it drains */
    PROTO_SWALLOW, /* reply complete; discard the data block that follows (req->vlen + 2) */
    PROTO_CLOSE,   /* close the connection once out is sent (quit, or a broken stream) */
} proto_status;

/* Run one request (through its row in the command table, command.h).  For requests with req->has_value whose value is not refused up front,
 * `data` holds req->vlen bytes plus the "\r\n" that must end them; else data is NULL. */
proto_status proto_execute(proto_env *env, proto_request *req, const char *data,
                           proto_out *out);

/* Continue a retrieval that returned PROTO_PAUSED. */
proto_status proto_resume(proto_env *env, proto_request *req, proto_out *out);

/* Whether a value is larger than the item size limit, counted as memcached counts it: the
 * whole item (header, key, flags, value, cas), so the refusal comes at memcached's length. */
static inline bool proto_too_large(const proto_env *env, const proto_request *req)
{
    uint32_t flags = req->cmd == PROTO_MS ? req->meta.client_flags : req->flags;
    return proto_item_total(req->nkey, flags, req->vlen) > env->item_size_max;
}

/* Whether a request's data block must be refused without reading it (too large, or the line
 * was refused); proto_execute(req, NULL) then answers and returns PROTO_SWALLOW. */
static inline bool proto_value_refused(const proto_env *env, const proto_request *req)
{
    return req->has_value && (req->cmd == PROTO_ERROR || proto_too_large(env, req));
}

/* "stats cachedump <class> <limit>" (args: what follows "cachedump"), in inspect.c. */
void proto_stats_cachedump(proto_env *env, const proto_request *req, const char *args,
                           size_t n, proto_out *out);

/* "stats items" and "stats slabs": memcached's per-class view, in stats_class.c. */
void proto_stats_items(proto_env *env, proto_out *out);
void proto_stats_slabs(proto_env *env, proto_out *out);

/* The cache's counters less those the last "stats reset" recorded (stats.c). */
shmc_rc proto_cache_stats(proto_env *env, shmc_stats_t *st);

/* Drop the old value of a set refused as too large or out of memory, as memcached does,
 * counted in no delete statistic (exec_text.c). */
void proto_drop_refused(shmc_t *c, const char *key, size_t nkey);

/* The reply line for an unexpected library error: "SERVER_ERROR <why>". */
void proto_reply_server_error(proto_out *out, shmc_rc rc);

#endif
