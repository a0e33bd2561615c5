/* domain.c — the process's protection keys, the page that describes them, tagging of cache
 * mappings, and the library's private memory (per-thread staging buffers and process-wide
 * allocations) under the private key.  See domain.h for the three gate states. */
#include "protect/domain.h"

#include <errno.h>
#include <link.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "protect/gate.h"
#include "protect/pku.h"
#include "util/error.h"

protect_domain_page_t shmc_protect_domain_page
    __attribute__((aligned(4096))) = {.d = {.cache_key = -1, .private_key = -1}};

_Static_assert(sizeof(protect_domain_page_t) == 4096, "the domain has a page of its own");

static pthread_mutex_t init_lock = PTHREAD_MUTEX_INITIALIZER;

#ifdef SHMC_GATE_EMULATED
/* bench/'s copy of the library (gate.c): keys that exist only as numbers, mappings left
 * open, PKRU read as a register move.  The shipped library never defines this. */
static int emulated_keys;
#define pkey_alloc(flags, rights) ((void)(flags), (void)(rights), ++emulated_keys)
#define pkey_free(key) ((void)(key))
#define pkey_mprotect(addr, len, prot, key) ((void)(key), mprotect(addr, len, prot))
#endif

uint32_t pkru_read(void)
{
    uint32_t eax, edx;
#ifdef SHMC_GATE_EMULATED
    __asm__ volatile("mov %%ecx, %%eax\n\txor %%edx, %%edx" : "=a"(eax), "=d"(edx) : "c"(0));
#else
    __asm__ volatile("rdpkru" : "=a"(eax), "=d"(edx) : "c"(0));
#endif
    return eax;
}

/* ---- the code allowed to open a gate ---- */

struct text_search {
    uintptr_t inside;
    uintptr_t lo, hi;
};

static int find_text_segment(struct dl_phdr_info *info, size_t size, void *arg)
{
    (void)size;
    struct text_search *s = arg;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_LOAD || !(ph->p_flags & PF_X)) continue;
        uintptr_t lo = info->dlpi_addr + ph->p_vaddr, hi = lo + ph->p_memsz;
        if (s->inside >= lo && s->inside < hi) {
            s->lo = lo;
            s->hi = hi;
            return 1;
        }
    }
    return 0;
}

/* The executable segment of whatever object (libshmc.so, or the program libshmc.a was linked
 * into) holds the gate. */
static bool libshmc_text(uintptr_t *lo, uintptr_t *hi)
{
    struct text_search s = {.inside = (uintptr_t)&shmc_gate_begin};
    dl_iterate_phdr(find_text_segment, &s);
    if (!s.hi) return false;
    *lo = s.lo;
    *hi = s.hi;
    return true;
}

/* ---- keys ---- */

static bool arena_create(int private_key, uint64_t *lo, uint64_t *hi);
static void arena_init(void);

shmc_rc protect_domain_init(void)
{
    if (protect_domain_ready()) return SHMC_OK;
    pthread_mutex_lock(&init_lock);
    shmc_rc rc = SHMC_OK;
    int cache_key = -1, private_key = -1;
    if (protect_domain_ready()) goto out;
    if (!pku_available()) {
        rc = error_set(SHMC_UNSUPPORTED, "this CPU or kernel has no memory protection keys");
        goto out;
    }
    /* Allocated denied: the calling thread never holds them open outside a call. */
    cache_key = pkey_alloc(0, PKEY_DISABLE_ACCESS);
    if (cache_key >= 0) private_key = pkey_alloc(0, PKEY_DISABLE_ACCESS);
    if (cache_key < 0 || private_key < 0) {
        int e = errno;
        rc = e == ENOSPC ? error_set(SHMC_UNSUPPORTED, "no free protection key in this process")
                         : error_set(SHMC_SYSTEM, "pkey_alloc: %s", strerror(e));
        goto out;
    }
    uintptr_t lo, hi;
    if (!libshmc_text(&lo, &hi)) {
        rc = error_set(SHMC_SYSTEM, "cannot find libshmc's code in this process");
        goto out;
    }
    uint64_t arena_lo, arena_hi;
    if (!arena_create(private_key, &arena_lo, &arena_hi)) {
        rc = error_set(SHMC_SYSTEM, "cannot reserve address space for the library's private memory");
        goto out;
    }
    protect_domain_t *d = &shmc_protect_domain_page.d;
    d->arena_lo = arena_lo;
    d->arena_hi = arena_hi;
    d->cache_key = cache_key;
    d->private_key = private_key;
    d->cache_deny = pkru_deny_bits(cache_key);
    d->private_deny = pkru_deny_bits(private_key);
    d->all_deny = d->cache_deny | d->private_deny;
    d->text_lo = lo;
    d->text_hi = hi;
    __atomic_store_n(&d->ready, 1, __ATOMIC_RELEASE);
    if (mprotect(&shmc_protect_domain_page, sizeof shmc_protect_domain_page, PROT_READ) != 0) {
        /* The gates work without it; only a stray write could disarm them.  Not fatal. */
    }
    SHMC_GATE_CALL(shmc_gate_stage);
    arena_init();
    shmc_gate_close();
    cache_key = private_key = -1; /* kept for the life of the process */
out:
    if (cache_key >= 0) pkey_free(cache_key);
    if (private_key >= 0) pkey_free(private_key);
    pthread_mutex_unlock(&init_lock);
    return rc;
}

shmc_rc protect_tag_cache(void *addr, size_t len, int prot)
{
    if (!protect_domain_ready())
        return error_set(SHMC_UNSUPPORTED, "protection keys are not set up in this process");
    if (pkey_mprotect(addr, len, prot, shmc_protect_domain_page.d.cache_key) != 0)
        return error_set(SHMC_SYSTEM, "pkey_mprotect of the cache mapping: %s", strerror(errno));
    return SHMC_OK;
}

/* ---- private memory: the arena ---- */

/* The arena's first pages: its allocator and the thread records.  The rest is handed out in
 * pages by a bump pointer, with a list of freed blocks to reuse (memory is never returned
 * to the system: a sealed process may not unmap or madvise the arena). */
#define ARENA_THREADS 4096
#define ARENA_FREE 1024

struct arena {
    pthread_mutex_t lock;
    uint64_t bump; /* offset of the first never-used byte */
    uint32_t sealed;
    uint32_t nfree;
    void *api_root;
    struct { uint64_t off, size; } free[ARENA_FREE];
    protect_thread_t threads[ARENA_THREADS]; /* [0] unused: index 0 means none */
};

static struct arena *arena(void)
{
    return (struct arena *)(uintptr_t)shmc_protect_domain_page.d.arena_lo;
}

static size_t page_round(size_t n)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    return (n + page - 1) / page * page;
}

/* Reserve the arena: address space only (no memory until touched), tagged private. */
static bool arena_create(int private_key, uint64_t *lo, uint64_t *hi)
{
    for (uint64_t size = 16ull << 30; size >= (64u << 20); size /= 2) {
        void *p = mmap(NULL, size, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        if (p == MAP_FAILED) continue;
        if (pkey_mprotect(p, size, PROT_READ | PROT_WRITE, private_key) != 0) {
            munmap(p, size);
            return false;
        }
        *lo = (uintptr_t)p;
        *hi = (uintptr_t)p + size;
        return true;
    }
    return false;
}

/* Called with the gate staged or open, once the domain page holds the arena. */
static void arena_init(void)
{
    struct arena *a = arena();
    pthread_mutexattr_t at;
    pthread_mutexattr_init(&at);
    pthread_mutex_init(&a->lock, &at);
    a->bump = page_round(sizeof *a);
}

static void *arena_alloc(size_t n)
{
    struct arena *a = arena();
    const protect_domain_t *d = &shmc_protect_domain_page.d;
    n = page_round(n);
    void *p = NULL;
    bool reused = false;
    pthread_mutex_lock(&a->lock);
    for (uint32_t i = 0; i < a->nfree; i++)
        if (a->free[i].size == n) {
            p = (unsigned char *)a + a->free[i].off;
            a->free[i] = a->free[--a->nfree];
            reused = true;
            break;
        }
    if (!p && n <= d->arena_hi - d->arena_lo - a->bump) {
        p = (unsigned char *)a + a->bump; /* never used: zero pages */
        a->bump += n;
    }
    pthread_mutex_unlock(&a->lock);
    if (reused) memset(p, 0, n);
    if (!p) errno = ENOMEM;
    return p;
}

/* Put [p, p+n) on the free list (lock held). */
static void free_locked(struct arena *a, void *p, size_t n)
{
    if (a->nfree < ARENA_FREE) {
        a->free[a->nfree].off = (uint64_t)((unsigned char *)p - (unsigned char *)a);
        a->free[a->nfree].size = page_round(n);
        a->nfree++;
    } /* else the block is lost: the arena is address space, mostly */
}

static void arena_free(void *p, size_t n)
{
    struct arena *a = arena();
    if (!a->sealed) madvise(p, page_round(n), MADV_DONTNEED); /* give the memory back */
    pthread_mutex_lock(&a->lock);
    free_locked(a, p, n);
    pthread_mutex_unlock(&a->lock);
}

static void *plain_map(size_t n)
{
    void *p = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    return p == MAP_FAILED ? NULL : p;
}

void *protect_private_alloc(size_t n)
{
    if (n == 0 || n > SIZE_MAX / 2) {
        errno = EINVAL;
        return NULL;
    }
    return protect_domain_ready() ? arena_alloc(n) : plain_map(page_round(n));
}

void protect_private_free(void *p, size_t n)
{
    if (!p) return;
    uintptr_t a = (uintptr_t)p;
    if (a >= shmc_protect_domain_page.d.arena_lo && a < shmc_protect_domain_page.d.arena_hi)
        arena_free(p, n);
    else
        munmap(p, page_round(n));
}

bool protect_sealed_once(void)
{
    return protect_domain_ready() && arena()->sealed;
}

void protect_mark_sealed(void)
{
    arena()->sealed = 1;
}

void **protect_api_root(void)
{
    return &arena()->api_root;
}

/* ---- per-thread records ---- */

/* Which record is this thread's: a hint only (application memory); the record it names
 * must be in use, and is taken busy, before anything in it is believed. */
static __thread uint32_t thread_index;
static pthread_key_t thread_exit_key;
static pthread_once_t thread_exit_once = PTHREAD_ONCE_INIT;

static void thread_exit_release(void *unused)
{
    (void)unused;
    if (!protect_domain_ready() || !thread_index) return;
    SHMC_GATE_CALL(shmc_gate_stage);
    protect_thread_t *t = &arena()->threads[thread_index % ARENA_THREADS];
    if (!t->api_live) protect_thread_release(); /* else context.c's exit releases it */
    shmc_gate_close();
}

static void thread_exit_key_create(void)
{
    pthread_key_create(&thread_exit_key, thread_exit_release);
}

shmc_rc protect_thread_get(protect_thread_t **out)
{
    *out = NULL;
    struct arena *a = arena();
    uint32_t i = thread_index;
    protect_thread_t *t = i && i < ARENA_THREADS ? &a->threads[i] : NULL;
    if (!t || t->index != i) {
        t = NULL;
        pthread_mutex_lock(&a->lock);
        for (i = 1; i < ARENA_THREADS && !t; i++)
            if (!a->threads[i].index) t = &a->threads[i];
        /* none free: take back the records of threads that died inside a call (they keep
         * theirs, see protect_thread_exit) */
        for (i = 1; i < ARENA_THREADS && !t; i++)
            if (syscall(SYS_tgkill, getpid(), a->threads[i].tid, 0) == -1 && errno == ESRCH) {
                t = &a->threads[i];
                if (t->buf) free_locked(a, t->buf, t->buf_size);
            }
        if (t) {
            memset(t, 0, sizeof *t);
            t->index = (uint32_t)(t - a->threads);
            t->tid = (int32_t)gettid();
        }
        pthread_mutex_unlock(&a->lock);
        if (!t) return error_set(SHMC_SYSTEM, "protected mode: more than %d threads", ARENA_THREADS - 1);
        thread_index = t->index;
        pthread_once(&thread_exit_once, thread_exit_key_create);
        pthread_setspecific(thread_exit_key, (void *)1);
    }
    uint32_t idle = 0;
    /* Held already: by this thread when a call of it was left by a longjmp (say, out of the
     * fault a bad caller pointer caused), and then the record is taken over; by another
     * thread only through a forged index, and that is refused. */
    if (!__atomic_compare_exchange_n(&t->busy, &idle, 1, false, __ATOMIC_ACQUIRE, __ATOMIC_RELAXED) &&
        t->tid != (int32_t)gettid()) {
        return error_set(SHMC_INVALID, "this thread's library state is in use by another call "
                                       "(a call from a signal handler, or a forged thread index)");
    }
    *out = t;
    return SHMC_OK;
}

void protect_thread_release(void)
{
    uint32_t i = thread_index;
    thread_index = 0;
    if (!i || i >= ARENA_THREADS) return;
    struct arena *a = arena();
    protect_thread_t *t = &a->threads[i];
    if (t->index != i || t->tid != (int32_t)gettid()) return;
    if (t->buf) arena_free(t->buf, t->buf_size);
    pthread_mutex_lock(&a->lock);
    memset(t, 0, sizeof *t);
    pthread_mutex_unlock(&a->lock);
}

protect_thread_t *protect_thread_mine(void)
{
    uint32_t i = thread_index;
    if (!i || i >= ARENA_THREADS) return NULL;
    protect_thread_t *t = &arena()->threads[i];
    return t->index == i && t->tid == (int32_t)gettid() ? t : NULL;
}

void protect_after_fork_child(void)
{
    struct arena *a = arena();
    pthread_mutex_init(&a->lock, NULL);
    uint32_t i = thread_index;
    if (i && i < ARENA_THREADS && a->threads[i].index == i) {
        a->threads[i].tid = (int32_t)gettid();
        a->threads[i].busy = 0;
    }
}

#define TBUF_MIN (64u << 10)

void *protect_private_buf(protect_thread_t *t, size_t n)
{
    if (t->buf && n <= t->buf_size) return t->buf;
    if (n > SIZE_MAX / 4) {
        errno = ENOMEM;
        return NULL;
    }
    size_t size = t->buf_size ? t->buf_size : TBUF_MIN;
    while (size < n) size *= 2;
    size = page_round(size);
    unsigned char *p = arena_alloc(size);
    if (!p) return NULL;
    if (t->buf) arena_free(t->buf, t->buf_size);
    t->buf = p;
    t->buf_size = size;
    return p;
}

void protect_thread_exit(void)
{
    if (!protect_domain_ready() || !thread_index) return;
    SHMC_GATE_CALL(shmc_gate_stage);
    uint32_t i = thread_index;
    protect_thread_t *t = i < ARENA_THREADS ? &arena()->threads[i] : NULL;
    /* believed only for the thread that owns the record (the flag is in private memory) */
    bool died_in_call = t && t->index == i && t->in_call && t->tid == (int32_t)gettid();
    if (died_in_call) {
        SHMC_GATE_CALL(shmc_gate_open);
    } else {
        shmc_gate_close();
    }
}

