/* domain.h — the process's protection domain: two protection keys allocated once per
 * process, one tagging every cache mapping (the "cache key") and one tagging the library's
 * private memory (the "private key": per-thread staging buffers, handle state).  PKRU denies
 * both outside library calls in every thread; gate.h switches them inside a call:
 *
 *   closed  cache denied, private denied     (application code, signal handlers)
 *   staged  cache denied, private allowed    (copying caller memory in and out)
 *   open    cache allowed, private allowed   (operating on the cache; no caller memory)
 *
 * Caller memory is only touched while staged (out-parameters: closed), and never inside the private arena (every
 * caller range is checked against it first: protect_caller_ok), so a caller pointer into a
 * cache mapping faults in the caller's own name (SEGV_PKUERR) and one into the library's
 * private memory (another thread's staging buffer, the handle table) is refused.
 *
 * Every value the library relies on with the gate open lives in key-protected memory: all
 * private memory is carved from one arena [arena_lo, arena_hi) tagged with the private key
 * (handle table and handle state, per-thread records with their staging buffer, cas block
 * and in-call flag).  The domain's description, including the arena's bounds, lives on a
 * page of its own that is read-only once the keys are set, so a stray write cannot turn the
 * gates into no-ops or move the arena; the sealed level also forbids mprotect of it. */
#ifndef SHMC_PROTECT_DOMAIN_H
#define SHMC_PROTECT_DOMAIN_H

#include <shmc.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The layout is fixed: gate.c's assembly reads these fields at these offsets. */
typedef struct protect_domain {
    int32_t cache_key;     /*  0: pkey of the cache mappings; -1 before init */
    int32_t private_key;   /*  4: pkey of the library's private memory */
    uint32_t cache_deny;   /*  8: PKRU bits (access- and write-disable) denying the cache key */
    uint32_t private_deny; /* 12: ... denying the private key */
    uint32_t all_deny;     /* 16: cache_deny | private_deny */
    uint32_t ready;        /* 20: 1 once the keys exist (then the page is read-only) */
    uint64_t text_lo;      /* 24: the code allowed to open a gate: libshmc's executable */
    uint64_t text_hi;      /* 32:   segment [text_lo, text_hi) */
    uint64_t arena_lo;     /* 40: the private arena (tagged with the private key) */
    uint64_t arena_hi;     /* 48 */
} protect_domain_t;

typedef union protect_domain_page {
    protect_domain_t d;
    unsigned char page[4096];
} protect_domain_page_t;

extern protect_domain_page_t shmc_protect_domain_page;

/* PKRU bits that deny every data access through key k. */
static inline uint32_t pkru_deny_bits(int key)
{
    return 3u << (2 * key);
}

/* The calling thread's PKRU (RDPKRU; only meaningful when protect_domain_ready()). */
uint32_t pkru_read(void);

/* Whether this process has its protection keys (protected mode is possible). */
static inline bool protect_domain_ready(void)
{
    return __atomic_load_n(&shmc_protect_domain_page.d.ready, __ATOMIC_ACQUIRE) != 0;
}

/* Allocate the process's keys (once; later calls return the first result when it was
 * SHMC_OK, and retry after a failure).  On return the calling thread's PKRU denies both keys;
 * every other thread's PKRU denies them already (the kernel's default PKRU denies every key
 * but 0, and a new thread inherits its creator's).  Errors, with shmc_last_error() set:
 * SHMC_UNSUPPORTED (no PKU in this CPU or kernel, or no free key), SHMC_SYSTEM. */
shmc_rc protect_domain_init(void);

/* Tag [addr, addr+len) (page-aligned, a mapping of a cache file) with the cache key, keeping
 * `prot`.  From then on only an open gate reaches it.  SHMC_SYSTEM on failure. */
shmc_rc protect_tag_cache(void *addr, size_t len, int prot);

/* Whether the caller's range [p, p+n) stays clear of the private arena (and does not wrap):
 * checked before any copy from or to caller memory while the gate is staged. */
static inline bool protect_caller_ok(const void *p, size_t n)
{
    const protect_domain_t *d = &shmc_protect_domain_page.d;
    uintptr_t a = (uintptr_t)p;
    if (n == 0) return true;
    if (a + n < a) return false;
    return a + n <= d->arena_lo || a >= d->arena_hi;
}

/* The calling thread's record in the private arena: what a call trusts about its thread.
 * Only the library's code, with the gate staged or open, reads or writes it. */
typedef struct protect_thread {
    uint32_t busy;         /* (__atomic) 1 while a call of this thread uses the record */
    uint32_t in_call;      /* 1 from gate_open to gate_close (protect_thread_exit) */
    int32_t tid;           /* the owning thread (gettid) */
    uint32_t index;        /* its index in the arena (0: free) */
    uint32_t api_live;     /* the api layer keeps per-thread state in api[] (context.c) */
    unsigned char *buf;    /* the staging buffer, in the arena */
    size_t buf_size;
    uint64_t api[28];      /* the api layer's per-thread state */
} protect_thread_t;

/* The calling thread's record, made on first use, and marked busy.  SHMC_SYSTEM when out of
 * records, SHMC_INVALID when another thread holds it (the index was forged);
 * shmc_last_error() says which.  Gate staged or open.
 * Release with protect_thread_put before the gate closes for good. */
shmc_rc protect_thread_get(protect_thread_t **out);
static inline void protect_thread_put(protect_thread_t *t)
{
    __atomic_store_n(&t->busy, 0, __ATOMIC_RELEASE);
}
/* Free the calling thread's record (thread exit; gate staged or open). */
void protect_thread_release(void);
/* The calling thread's record without taking it (thread exit, fork), NULL when it has none:
 * believed only when it names this thread (gettid).  Gate staged or open. */
protect_thread_t *protect_thread_mine(void);
/* In a forked child (gate staged): the forking thread's record is the child's thread's. */
void protect_after_fork_child(void);

/* A pointer's worth of private memory for the api layer (its handle table). Gate staged. */
void **protect_api_root(void);

/* Thread t's staging buffer, at least n bytes (its content is not kept when it grows); NULL
 * when out of memory.  Gate staged or open. */
void *protect_private_buf(protect_thread_t *t, size_t n);

/* Process-wide private memory (e.g. a handle's state), zeroed, in the arena (plain memory
 * when the domain is not ready); NULL when out of memory.  Free with protect_private_free(p,
 * n) with the same n.  Gate staged or open when the domain is ready. */
void *protect_private_alloc(size_t n);
void protect_private_free(void *p, size_t n);

/* Whether this process has been sealed (seal.c), kept in the arena; mark it once sealed. */
bool protect_sealed_once(void);
void protect_mark_sealed(void);

#endif
