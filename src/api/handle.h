/* handle.h — what a shmc_t is, and how a call gets its per-thread context (counter slot,
 * cas block, append-head hint) without touching a shared line.
 *
 * The shmc_t * an application holds is a token, never dereferenced: the index of an entry in
 * the process's handle table and that entry's generation.  The table and each handle's state
 * (struct shmc) are private memory (protect/domain.h: key-protected in a process with
 * protection keys), so a closed, stale or damaged token is refused (handle_resolve returns
 * NULL) instead of being followed. */
#ifndef SHMC_HANDLE_H
#define SHMC_HANDLE_H

#include <shmc.h>

#include "protect/domain.h"
#include "region/region.h"
#include "store/store.h"

struct shmc {
    region_t r;
    uint64_t id;          /* unique in this process: names the handle's thread slots */
    int protect;          /* the enum shmc_protect in force */
    uint32_t index;       /* its entry in the handle table */
};

/* The state of the open handle `token` names, or NULL.  Gate staged or open in a process with
 * protection keys. */
shmc_t *handle_resolve(const shmc_t *token);
/* Fill ctx for a call on c by the calling thread (t: its record, NULL without keys). */
void handle_ctx(shmc_t *c, protect_thread_t *t, op_ctx_t *ctx);
/* Register an open handle in the table; its token, or NULL when the table is full.
 * Unregister it (every later use of the token is refused).  Gate open with keys. */
shmc_t *handle_register(shmc_t *c);
void handle_unregister(shmc_t *c);
/* After protect_domain_init succeeded: move the handle table into private memory (handles
 * opened before the process had keys keep working).  Gate staged. */
void handle_table_protect(void);

#endif
