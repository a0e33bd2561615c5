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
    bool no_evict;        /* SHMC_OPEN_NO_EVICT: stores fail rather than evict */
    struct evict_log *evictions; /* shmc_evictions_record's ring (private memory), or NULL;
                                  * shared with the states this one replaced */
    uint32_t index;       /* its entry in the handle table */
    struct shmc *retired; /* the state this one replaced when the cache moved (resize.c),
                           * freed at close: calls of other threads may still be in it */
    char path[4096];      /* the name it was opened by, reopened when the cache moves */
};

#define HANDLES_MAX 4096

/* A token is (generation << 12 | index); generation 0 is never issued, and no generation
 * twice, so a token is valid in its own entry only, for one open only. */
struct handle_table {
    uint64_t gen[HANDLES_MAX];
    shmc_t *state[HANDLES_MAX];
    uint64_t next_id;
    uint64_t next_gen; /* process-wide, from a random start */
};

/* The table of a process without protection keys (with keys: protect_api_root()). */
extern struct handle_table *handle_plain_table __attribute__((visibility("hidden")));

/* The state of the open handle `token` names, or NULL.  Gate staged or open in a process with
 * protection keys. */
static inline shmc_t *handle_resolve(const shmc_t *token)
{
    uint64_t v = (uint64_t)(uintptr_t)token, i = v & (HANDLES_MAX - 1), gen = v >> 12;
    struct handle_table *h =
        protect_domain_ready() ? *(struct handle_table **)protect_api_root() : handle_plain_table;
    if (!h || !gen || h->gen[i] != gen) return NULL;
    /* another thread may put a followed state there (handle_replace): acquire its fields */
    return __atomic_load_n(&h->state[i], __ATOMIC_ACQUIRE);
}
/* Fill ctx for a call on c by the calling thread (t: its record, NULL without keys).
 * STORE_RETRY when the cache moved (resized or removed): the caller ends the call, and
 * handle_follow decides whether it starts again. */
shmc_rc handle_ctx(shmc_t *c, protect_thread_t *t, op_ctx_t *ctx) __attribute__((warn_unused_result));
/* After STORE_RETRY, with no call under way: wait out a resize or removal of h's cache and
 * reopen h by its name if the cache moved (resize.c).  SHMC_OK: start the call again;
 * SHMC_REMOVED when the name is gone. */
shmc_rc handle_follow(const shmc_t *h);
/* Free the states c replaced (resize.c; at close, or at once when no other thread can be
 * in a call). */
void handle_free_retired(shmc_t *c);
/* Put c2 (a new open of the same name) in old's entry of the table: the token stays valid. */
void handle_replace(shmc_t *old, shmc_t *c2);
/* Register an open handle in the table; its token, or NULL when the table is full.
 * Unregister it (every later use of the token is refused).  Gate open with keys. */
shmc_t *handle_register(shmc_t *c);
void handle_unregister(shmc_t *c);
/* After protect_domain_init succeeded: move the handle table into private memory (handles
 * opened before the process had keys keep working).  Gate staged. */
void handle_table_protect(void);

#endif
