/* context.c — per-thread state for each handle a thread uses: its counter slot in the file
 * and its reserved block of cas values.  A thread keeps a few entries; when it exits, its
 * slots are folded back, and closing a handle releases every slot of it in this process. */
#include "api/handle.h"

#include <pthread.h>
#include <string.h>

#include "protect/gate.h"
#include "store/stats.h"

#define TLS_ENTRIES 4

typedef struct tls_entry {
    uint64_t handle_id; /* 0: unused */
    uint32_t slot;
    uint64_t cas_next, cas_limit;
} tls_entry_t;

static __thread tls_entry_t tls[TLS_ENTRIES];
static __thread unsigned tls_victim;

static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static shmc_t *registry;
static uint64_t next_handle_id = 1;
static pthread_key_t exit_key;
static pthread_once_t exit_key_once = PTHREAD_ONCE_INIT;

static shmc_t *find_open(uint64_t id)
{
    for (shmc_t *c = registry; c; c = c->next)
        if (c->id == id) return c;
    return NULL;
}

static void release_entry(tls_entry_t *e)
{
    pthread_mutex_lock(&registry_lock);
    shmc_t *c = find_open(e->handle_id);
    if (c) stats_slot_release(&c->r, e->slot);
    pthread_mutex_unlock(&registry_lock);
    memset(e, 0, sizeof *e);
}

static void on_thread_exit(void *arg)
{
    (void)arg;
    bool died_in_call = protect_in_call;
    gate_open();
    for (int i = 0; i < TLS_ENTRIES; i++)
        if (tls[i].handle_id) release_entry(&tls[i]);
    gate_close();
    if (died_in_call) {
        protect_in_call = 1;
        protect_thread_exit();
    }
}

/* A forked child is another process: it must claim slots of its own, not write the
 * parent's (the forking thread is the child's only thread, so its TLS is all there is). */
static void forget_in_child(void)
{
    memset(tls, 0, sizeof tls);
    pthread_mutex_init(&registry_lock, NULL);
}

static void make_exit_key(void)
{
    pthread_key_create(&exit_key, on_thread_exit);
    pthread_atfork(NULL, NULL, forget_in_child);
}

void handle_register(shmc_t *c)
{
    pthread_once(&exit_key_once, make_exit_key);
    pthread_mutex_lock(&registry_lock);
    c->id = next_handle_id++;
    c->next = registry;
    registry = c;
    pthread_mutex_unlock(&registry_lock);
}

void handle_unregister(shmc_t *c)
{
    pthread_mutex_lock(&registry_lock);
    for (shmc_t **p = &registry; *p; p = &(*p)->next)
        if (*p == c) {
            *p = c->next;
            break;
        }
    stats_release_handle(&c->r, c->id);
    pthread_mutex_unlock(&registry_lock);
    for (int i = 0; i < TLS_ENTRIES; i++)
        if (tls[i].handle_id == c->id) memset(&tls[i], 0, sizeof tls[i]);
}

/* At a normal exit, detach every handle still open, so that the next opener knows the last
 * users left the cache whole and skips the scrub (scrub.h).  A thread still inside a call as
 * the process ends leaves at most a change that its intent record lets any opener repair. */
__attribute__((destructor)) static void detach_at_exit(void)
{
    if (pthread_mutex_trylock(&registry_lock) != 0) return; /* the next opener scrubs */
    gate_open();
    for (shmc_t *c = registry; c; c = c->next) stats_release_handle(&c->r, c->id);
    gate_close();
    pthread_mutex_unlock(&registry_lock);
}

static tls_entry_t *entry_for(shmc_t *c)
{
    for (int i = 0; i < TLS_ENTRIES; i++)
        if (tls[i].handle_id == c->id) return &tls[i];
    tls_entry_t *e = NULL;
    for (int i = 0; i < TLS_ENTRIES && !e; i++)
        if (!tls[i].handle_id) e = &tls[i];
    if (!e) {
        e = &tls[tls_victim++ % TLS_ENTRIES];
        release_entry(e);
    }
    e->handle_id = c->id;
    e->slot = stats_slot_claim(&c->r, c->id);
    e->cas_next = e->cas_limit = 0;
    pthread_setspecific(exit_key, (void *)1); /* so on_thread_exit runs */
    return e;
}

void handle_ctx(shmc_t *c, op_ctx_t *ctx)
{
    tls_entry_t *e = entry_for(c);
    ctx->slot = &c->r.threads[e->slot];
    ctx->slot_shared = e->slot == 0;
    ctx->head_hint = e->slot;
    ctx->cas_next = &e->cas_next;
    ctx->cas_limit = &e->cas_limit;
    store_ctx_begin(&c->r, ctx);
}
