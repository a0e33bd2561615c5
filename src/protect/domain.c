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
#include <unistd.h>

#include "protect/gate.h"
#include "protect/pku.h"
#include "util/error.h"

protect_domain_page_t shmc_protect_domain_page
    __attribute__((aligned(4096))) = {.d = {.cache_key = -1, .private_key = -1}};

_Static_assert(sizeof(protect_domain_page_t) == 4096, "the domain has a page of its own");

static pthread_mutex_t init_lock = PTHREAD_MUTEX_INITIALIZER;

__thread unsigned char protect_in_call __attribute__((tls_model("initial-exec")));

uint32_t pkru_read(void)
{
    uint32_t eax, edx;
    __asm__ volatile("rdpkru" : "=a"(eax), "=d"(edx) : "c"(0));
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
    protect_domain_t *d = &shmc_protect_domain_page.d;
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
    shmc_gate_close();
    cache_key = private_key = -1; /* kept for the life of the process */
out:
    if (cache_key >= 0) pkey_free(cache_key);
    if (private_key >= 0) pkey_free(private_key);
    pthread_mutex_unlock(&init_lock);
    return rc;
}

void protect_thread_exit(void)
{
    if (protect_domain_ready() && protect_in_call) {
        shmc_gate_open();
        __asm__ volatile("" ::: "memory"); /* not a tail call: the gate returns only into libshmc */
    }
}

shmc_rc protect_tag_cache(void *addr, size_t len, int prot)
{
    if (!protect_domain_ready())
        return error_set(SHMC_UNSUPPORTED, "protection keys are not set up in this process");
    if (pkey_mprotect(addr, len, prot, shmc_protect_domain_page.d.cache_key) != 0)
        return error_set(SHMC_SYSTEM, "pkey_mprotect of the cache mapping: %s", strerror(errno));
    return SHMC_OK;
}

/* ---- private memory ---- */

static void *private_map(size_t n)
{
    void *p = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) return NULL;
    if (protect_domain_ready() &&
        pkey_mprotect(p, n, PROT_READ | PROT_WRITE, shmc_protect_domain_page.d.private_key) != 0) {
        int e = errno;
        munmap(p, n);
        errno = e;
        return NULL;
    }
    return p;
}

static size_t page_round(size_t n)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    return (n + page - 1) / page * page;
}

void *protect_private_alloc(size_t n)
{
    if (n == 0 || n > SIZE_MAX / 2) {
        errno = EINVAL;
        return NULL;
    }
    return private_map(page_round(n));
}

void protect_private_free(void *p, size_t n)
{
    if (p) munmap(p, page_round(n));
}

/* Per-thread staging buffers.  Each thread's buffer is tagged when it is made, so it follows
 * the key whether the domain was set up before or after the thread started; a buffer made
 * before the domain existed is remade under the key. */
static __thread unsigned char *tbuf;
static __thread size_t tbuf_size;
static __thread bool tbuf_tagged;
static pthread_key_t tbuf_exit;
static pthread_once_t tbuf_once = PTHREAD_ONCE_INIT;

static void tbuf_release(void *unused)
{
    (void)unused;
    if (tbuf) munmap(tbuf, tbuf_size);
    tbuf = NULL;
    tbuf_size = 0;
}

static void tbuf_key_create(void)
{
    pthread_key_create(&tbuf_exit, tbuf_release);
}

#define TBUF_MIN (64u << 10)

void *protect_private_buf(size_t n)
{
    bool tagged = protect_domain_ready();
    if (tbuf && n <= tbuf_size && tbuf_tagged == tagged) return tbuf;
    if (n > SIZE_MAX / 4) {
        errno = ENOMEM;
        return NULL;
    }
    size_t size = tbuf_size ? tbuf_size : TBUF_MIN;
    while (size < n) size *= 2;
    size = page_round(size);
    unsigned char *p = private_map(size);
    if (!p) return NULL;
    pthread_once(&tbuf_once, tbuf_key_create);
    if (tbuf) munmap(tbuf, tbuf_size);
    tbuf = p;
    tbuf_size = size;
    tbuf_tagged = tagged;
    pthread_setspecific(tbuf_exit, p); /* non-NULL: run tbuf_release at thread exit */
    return p;
}
