/* detail.h — memcached's per-prefix statistics ("stats detail on|off|dump", -D): gets, hits,
 * sets and deletes counted by the part of the key before the first delimiter character.
 * Thread-safe; the table lives in proto_env. */
#ifndef SHMC_PROTO_DETAIL_H
#define SHMC_PROTO_DETAIL_H

#include <stdbool.h>
#include <stddef.h>

#include "env.h"
#include "outbuf.h"

/* Count one key of a get/gets/gat/gats (hit: found), of a storage command, of a delete.
 * Nothing is counted while detail is off, nor for a key without the delimiter. */
void proto_detail_get(proto_env *env, const char *key, size_t nkey, bool hit);
void proto_detail_set(proto_env *env, const char *key, size_t nkey);
void proto_detail_delete(proto_env *env, const char *key, size_t nkey);

/* "stats detail dump": one "PREFIX <p> get <n> hit <n> set <n> del <n>" line per prefix, in
 * memcached's order, then END. */
void proto_detail_dump(proto_env *env, proto_out *out);

/* Free the table (proto_env_destroy). */
void proto_detail_free(proto_env *env);

#endif
