/* handle.h — what a shmc_t is, and how a call gets its per-thread context (counter slot,
 * cas block, append-head hint) without touching a shared line. */
#ifndef SHMC_HANDLE_H
#define SHMC_HANDLE_H

#include <shmc.h>

#include "region/region.h"
#include "store/store.h"

struct shmc {
    region_t r;
    uint64_t id;          /* unique in this process: names the handle's thread slots */
    int protect;          /* the enum shmc_protect in force */
    struct shmc *next;    /* the process's open handles */
};

/* Fill ctx for a call on c by the calling thread. */
void handle_ctx(shmc_t *c, op_ctx_t *ctx);
/* Register / unregister an open handle (so thread exit can release its slots). */
void handle_register(shmc_t *c);
void handle_unregister(shmc_t *c);

#endif
