/* context.c — the process's handle table, and per-thread state for each handle a thread
 * uses: its counter slot in the file and its reserved block of cas values.  A thread keeps a
 * few entries (in its private record when the process has protection keys); when it exits,
 * its slots are folded back, and closing a handle releases every slot of it in this process. */
#include "api/handle.h"

#include <pthread.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "protect/gate.h"
#include "store/stats.h"

#define TLS_ENTRIES 4

typedef struct tls_entry {
    uint64_t handle_id; /* 0: unused */
    uint32_t slot;
    uint64_t cas_next, cas_limit;
} tls_entry_t;

typedef struct tls_state {
    tls_entry_t e[TLS_ENTRIES];
    unsigned victim;
} tls_state_t;

_Static_assert(sizeof(tls_state_t) <= sizeof(((protect_thread_t *)0)->api),
               "a thread's entries fit its private record");

static __thread tls_state_t plain_tls; /* without protection keys */
struct handle_table *handle_plain_table;
static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_key_t exit_key;
static pthread_once_t exit_key_once = PTHREAD_ONCE_INIT;

static struct handle_table *table(void)
{
    return protect_domain_ready() ? *(struct handle_table **)protect_api_root() : handle_plain_table;
}

static tls_state_t *tls_of(protect_thread_t *t)
{
    return t ? (tls_state_t *)(void *)t->api : &plain_tls;
}

static shmc_t *find_open(struct handle_table *h, uint64_t id)
{
    for (uint32_t i = 0; h && i < HANDLES_MAX; i++)
        if (h->state[i] && h->state[i]->id == id) return h->state[i];
    return NULL;
}

static void release_entry(tls_entry_t *e)
{
    pthread_mutex_lock(&registry_lock);
    shmc_t *c = find_open(table(), e->handle_id);
    if (c) stats_slot_release(&c->r, e->slot);
    pthread_mutex_unlock(&registry_lock);
    memset(e, 0, sizeof *e);
}

static void on_thread_exit(void *arg)
{
    (void)arg;
    protect_thread_t *t = NULL;
    bool keyed = protect_domain_ready(), died_in_call = false;
    if (keyed) {
        gate_stage();
        t = protect_thread_mine();
        if (!t) {
            gate_close(NULL);
            return;
        }
        died_in_call = t->in_call;
    }
    tls_state_t *s = tls_of(t);
    gate_open(t);
    for (int i = 0; i < TLS_ENTRIES; i++)
        if (s->e[i].handle_id) release_entry(&s->e[i]);
    if (t) {
        t->api_live = 0;
        if (died_in_call) t->in_call = 1; /* for protect_thread_exit */
        else protect_thread_release();
    }
    if (!died_in_call) gate_close(NULL);
    else protect_thread_exit();
}

/* fork holds the registry lock across the copy (POSIX's pthread_atfork pattern), so the
 * child never inherits it taken by a thread that does not exist there. */
static void lock_for_fork(void) { pthread_mutex_lock(&registry_lock); }
static void unlock_after_fork(void) { pthread_mutex_unlock(&registry_lock); }

/* A forked child is another process: it must claim slots of its own, not write the
 * parent's (the forking thread is the child's only thread, so its state is all there is). */
static void forget_in_child(void)
{
    unlock_after_fork();
    memset(&plain_tls, 0, sizeof plain_tls);
    if (protect_domain_ready()) {
        gate_stage();
        protect_after_fork_child();
        protect_thread_t *t = protect_thread_mine();
        if (t) memset(t->api, 0, sizeof t->api);
        gate_close(NULL);
    }
}

static void make_exit_key(void)
{
    pthread_key_create(&exit_key, on_thread_exit);
    pthread_atfork(lock_for_fork, unlock_after_fork, forget_in_child);
}

static struct handle_table *table_make(void)
{
    struct handle_table *h = protect_private_alloc(sizeof *h);
    if (!h) return NULL;
    h->next_id = 1;
    /* generations start at a random point: a token cannot be guessed from a small number */
    uint64_t seed = 0;
    if (getrandom(&seed, sizeof seed, GRND_NONBLOCK) != (ssize_t)sizeof seed)
        seed = (uint64_t)time(NULL) * 0x9e3779b97f4a7c15ull ^ (uint64_t)(uintptr_t)h;
    h->next_gen = seed & ((UINT64_C(1) << 40) - 1);
    return h;
}

void handle_table_protect(void)
{
    pthread_mutex_lock(&registry_lock);
    struct handle_table **root = (struct handle_table **)protect_api_root();
    if (!*root && (*root = table_make()) && handle_plain_table) {
        /* the handles opened before the keys existed: their state moves into private
         * memory (the old copies stay readable for calls already under way) */
        struct handle_table *h = *root;
        h->next_id = handle_plain_table->next_id;
        h->next_gen = handle_plain_table->next_gen;
        for (uint32_t i = 0; i < HANDLES_MAX; i++) {
            shmc_t *old = handle_plain_table->state[i], *c = old ? protect_private_alloc(sizeof *c) : NULL;
            if (!c) continue;
            *c = *old;
            h->state[i] = c;
            h->gen[i] = handle_plain_table->gen[i];
        }
    }
    pthread_mutex_unlock(&registry_lock);
}

shmc_t *handle_register(shmc_t *c)
{
    pthread_once(&exit_key_once, make_exit_key);
    pthread_mutex_lock(&registry_lock);
    struct handle_table *h = table();
    if (!h && !protect_domain_ready()) h = handle_plain_table = table_make();
    shmc_t *token = NULL;
    for (uint32_t i = 0; h && i < HANDLES_MAX && !token; i++) {
        if (h->state[i]) continue;
        uint64_t gen = ++h->next_gen & ((UINT64_C(1) << 52) - 1);
        if (!gen) gen = ++h->next_gen;
        c->id = h->next_id++;
        c->index = i;
        h->gen[i] = gen;
        h->state[i] = c;
        token = (shmc_t *)(uintptr_t)(gen << 12 | i);
    }
    pthread_mutex_unlock(&registry_lock);
    return token;
}

void handle_unregister(shmc_t *c)
{
    pthread_mutex_lock(&registry_lock);
    struct handle_table *h = table();
    if (h && c->index < HANDLES_MAX && h->state[c->index] == c) {
        h->state[c->index] = NULL;
        h->gen[c->index] = 0; /* the token is stale from now on */
    }
    stats_release_handle(&c->r, c->id);
    pthread_mutex_unlock(&registry_lock);
    tls_state_t *s = tls_of(protect_domain_ready() ? protect_thread_mine() : NULL);
    for (int i = 0; i < TLS_ENTRIES; i++)
        if (s->e[i].handle_id == c->id) memset(&s->e[i], 0, sizeof s->e[i]);
}

/* At a normal exit, detach every handle still open, so that the next opener knows the last
 * users left the cache whole and skips the scrub (scrub.h).  A thread still inside a call as
 * the process ends leaves at most a change that its intent record lets any opener repair. */
__attribute__((destructor)) static void detach_at_exit(void)
{
    if (pthread_mutex_trylock(&registry_lock) != 0) return; /* the next opener scrubs */
    gate_stage();
    gate_open(NULL);
    struct handle_table *h = table();
    for (uint32_t i = 0; h && i < HANDLES_MAX; i++)
        if (h->state[i]) stats_release_handle(&h->state[i]->r, h->state[i]->id);
    gate_close(NULL);
    pthread_mutex_unlock(&registry_lock);
}

static tls_entry_t *entry_for(shmc_t *c, tls_state_t *s)
{
    for (int i = 0; i < TLS_ENTRIES; i++)
        if (s->e[i].handle_id == c->id) return &s->e[i];
    tls_entry_t *e = NULL;
    for (int i = 0; i < TLS_ENTRIES && !e; i++)
        if (!s->e[i].handle_id) e = &s->e[i];
    if (!e) {
        e = &s->e[s->victim++ % TLS_ENTRIES];
        release_entry(e);
    }
    e->handle_id = c->id;
    e->slot = stats_slot_claim(&c->r, c->id);
    e->cas_next = e->cas_limit = 0;
    pthread_setspecific(exit_key, (void *)1); /* so on_thread_exit runs */
    return e;
}

shmc_rc handle_ctx(shmc_t *c, protect_thread_t *t, op_ctx_t *ctx)
{
    tls_state_t *s = tls_of(t);
    if (t) t->api_live = 1;
    tls_entry_t *e = entry_for(c, s);
    ctx->slot = &c->r.threads[e->slot];
    ctx->slot_shared = e->slot == STATS_SHARED_SLOT;
    ctx->head_hint = e->slot;
    ctx->cas_next = &e->cas_next;
    ctx->cas_limit = &e->cas_limit;
    ctx->no_evict = c->no_evict;
    ctx->evictions = __atomic_load_n(&c->evictions, __ATOMIC_ACQUIRE); /* set once, any time */
    store_ctx_begin(&c->r, ctx);
    /* frozen by a live resizer: reads go on in the old file, writes meet the freeze under
     * their stripe; frozen by a dead one, or moved: follow */
    if (__builtin_expect(ctx->retired, 0) &&
        (flush_due_of(atomic_load(&c->r.hdr->flush)) == FLUSH_DUE_MOVED ||
         !region_retire_held(&c->r)))
        return STORE_RETRY;
    return SHMC_OK;
}

void handle_replace(shmc_t *old, shmc_t *c2)
{
    pthread_mutex_lock(&registry_lock);
    struct handle_table *h = table();
    c2->id = h->next_id++;
    c2->index = old->index;
    c2->retired = old;
    if (h->state[old->index] == old) __atomic_store_n(&h->state[old->index], c2, __ATOMIC_RELEASE);
    stats_release_handle(&old->r, old->id);
    pthread_mutex_unlock(&registry_lock);
}
