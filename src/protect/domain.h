/* domain.h — the process's protection domain: two protection keys allocated once per
 * process, one tagging every cache mapping (the "cache key") and one tagging the library's
 * private memory (the "private key": per-thread staging buffers, handle state).  PKRU denies
 * both outside library calls in every thread; gate.h switches them inside a call:
 *
 *   closed  cache denied, private denied     (application code, signal handlers)
 *   staged  cache denied, private allowed    (copying caller memory in and out)
 *   open    cache allowed, private allowed   (operating on the cache; no caller memory)
 *
 * Caller memory is only touched while staged, so a caller pointer into a cache mapping
 * faults in the caller's own name (SEGV_PKUERR) instead of being read for it.
 *
 * The domain's description lives on a page of its own that is read-only once the keys are
 * set, so a stray write cannot turn the gates into no-ops. */
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

/* The calling thread's private staging buffer, at least n bytes, tagged with the private
 * key (plain memory when the domain is not ready).  Its content is not kept when it grows.
 * Usable only while the gate is staged or open.  NULL when out of memory (errno set).
 * Freed when the thread exits. */
void *protect_private_buf(size_t n);

/* Process-wide private memory (e.g. a handle's state), zeroed, tagged with the private key
 * (plain memory when the domain is not ready); NULL when out of memory.  Free with
 * protect_private_free(p, n) with the same n. */
void *protect_private_alloc(size_t n);
void protect_private_free(void *p, size_t n);

#endif
