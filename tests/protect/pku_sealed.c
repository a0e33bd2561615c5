/* pku_sealed.c — the sealed level (runs in QEMU: needs PKU).  This program holds no WRPKRU
 * of its own, so SHMC_PROTECT_SEALED opens; afterwards the kernel refuses, in every thread,
 * to take the cache's protection off (mprotect, pkey_mprotect, munmap, mremap, madvise,
 * MAP_FIXED over it, pkey_free of its key) or to make memory executable, and the process is
 * non-dumpable.  Code planted at run time before the open (a WRPKRU or an XRSTOR in an
 * executable page, a writable and executable page) makes the open fail; glibc's fixed-mask
 * XRSTOR pattern is accepted; report-only sealing goes on despite findings.  Each case runs
 * in its own child, since sealing cannot be undone. */
#include "protect_test.h"

#include <errno.h>
#include <pthread.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/uio.h>
#include <sys/wait.h>

#include "protect/domain.h"
#include "protect/seal.h"

static shmc_config sealed_cfg(void)
{
    shmc_config cfg = t_config(2 << 20, 64 << 10);
    cfg.protect = SHMC_PROTECT_SEALED;
    return cfg;
}

/* Run fn in a child process; it passes when the child's own checks all passed. */
static void in_child(const char *name, void (*fn)(void)) { pt_in_child(name, NULL, fn); }

static bool eperm(long r) { return r == -1 && errno == EPERM; }
static bool not_eperm(long r) { return !(r == -1 && errno == EPERM); }

/* ---- the clean process seals, and the filter holds ---- */

static unsigned char *cache;
static size_t cache_len;
static pthread_barrier_t go;
static pthread_t earlier; /* started after sealing: the filter is every thread's */
static volatile long thread_mprotect = 0;
static volatile int thread_errno = 0;

static void *earlier_thread(void *arg)
{
    (void)arg;
    pthread_barrier_wait(&go);
    thread_mprotect = mprotect(cache, 4096, PROT_READ);
    thread_errno = errno;
    return NULL;
}

static void report_finding(void *ctx, const struct seal_finding *f)
{
    (void)ctx;
    printf("  finding: %s at %#lx (%s+%#llx)\n", seal_kind_name(f->kind), (unsigned long)f->addr,
           f->mapping, (unsigned long long)f->offset);
}

/* Everything the filter must refuse or let through, for the sealed mapping cache. */
static void check_filter(int key)
{
    pthread_barrier_wait(&go);
    pthread_join(earlier, NULL);
    CHECK(thread_mprotect == -1 && thread_errno == EPERM); /* the filter covers every thread */

    CHECK(eperm(mprotect(cache, 4096, PROT_READ | PROT_WRITE)));
    CHECK(eperm(mprotect(cache + cache_len - 4096, 4096, PROT_NONE)));
    CHECK(eperm(mprotect(cache - 4096, 8192, PROT_READ))); /* reaching in from below */
    CHECK(eperm(mprotect((void *)4096, (size_t)(cache - 4096) + 1, PROT_READ)));
    CHECK(eperm(pkey_mprotect(cache, cache_len, PROT_READ | PROT_WRITE, 0)));
    CHECK(eperm(munmap(cache + 4096, 4096)));
    CHECK(eperm(madvise(cache, 4096, MADV_DONTNEED)));
    CHECK(eperm((long)mremap(cache, cache_len, cache_len, MREMAP_MAYMOVE)));
    CHECK(eperm((long)mmap(cache, 4096, PROT_READ, MAP_FIXED | MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)));
    CHECK(eperm(pkey_free(key)));
    /* around the cache, ordinary memory management goes on (where the neighbour is not the
     * library's private arena, which is guarded too) */
    const protect_domain_t *d = &shmc_protect_domain_page.d;
    if ((uintptr_t)(cache + cache_len) != d->arena_lo)
        CHECK(not_eperm(mprotect(cache + cache_len, 4096, PROT_READ)));
    if ((uintptr_t)cache != d->arena_hi) CHECK(not_eperm(mprotect(cache - 4096, 4096, PROT_READ)));
    unsigned char *mine = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(mine != MAP_FAILED);
    CHECK(mprotect(mine, 4096, PROT_READ) == 0);
    CHECK(madvise(mine, 4096, MADV_DONTNEED) == 0);
    CHECK(eperm((long)mremap(mine, 4096, 4096, MREMAP_MAYMOVE | MREMAP_FIXED, cache)));
    void *grow = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(eperm((long)mremap(grow, 8192, 16384, MREMAP_MAYMOVE))); /* no mapping grows */
    void *moved = mremap(grow, 8192, 4096, MREMAP_MAYMOVE);         /* shrinking is fine */
    CHECK(moved != MAP_FAILED);
    CHECK(munmap(moved, 4096) == 0);
    void *fixed = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(mmap(fixed, 4096, PROT_READ | PROT_WRITE, MAP_FIXED | MAP_PRIVATE | MAP_ANONYMOUS, -1, 0) == fixed);
    /* no new executable memory */
    CHECK(eperm((long)mmap(NULL, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)));
    mine = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(eperm(mprotect(mine, 4096, PROT_READ | PROT_EXEC)));
    CHECK(eperm(pkey_mprotect(mine, 4096, PROT_READ | PROT_EXEC, 0)));
    /* nor reading the process from the side, nor becoming dumpable again */
    unsigned char byte;
    struct iovec local = {&byte, 1}, remote = {cache, 1};
    CHECK(eperm(process_vm_readv(getpid(), &local, 1, &remote, 1, 0)));
    CHECK(eperm(ptrace(PTRACE_PEEKDATA, 0, NULL, NULL))); /* else ESRCH */
    CHECK(prctl(PR_GET_DUMPABLE) == 0);
    CHECK(eperm(prctl(PR_SET_DUMPABLE, 1, 0, 0, 0)));
    /* and the mapping is still closed to direct access */
    CHECK(pt_probe(cache, 0).code == SEGV_PKUERR);
}

static void start_earlier_thread(void)
{
    pthread_barrier_init(&go, NULL, 2);
    pthread_create(&earlier, NULL, earlier_thread, NULL);
}

/* Below the API: seal a tagged mapping with protect_seal and check the filter. */
static void filter_holds(void)
{
    CHECK(seal_scan(report_finding, NULL) == 0);
    CHECK_RC(protect_domain_init(), SHMC_OK);
    cache_len = 1 << 20;
    cache = mmap(NULL, cache_len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    CHECK_RC(protect_tag_cache(cache, cache_len, PROT_READ | PROT_WRITE), SHMC_OK);
    CHECK_RC(protect_seal(cache, cache_len, -1, false), SHMC_OK);
    start_earlier_thread();
    check_filter(shmc_protect_domain_page.d.cache_key);
}

/* Through the API: this program opens a cache sealed, and the filter holds. */
static void clean_process_opens_sealed(void)
{
    shmc_config cfg = sealed_cfg();
    const char *path = t_path("sealed");
    shmc_t *c = NULL;
    CHECK_RC(shmc_open(&c, path, &cfg), SHMC_OK);
    if (!c) {
        fprintf(stderr, "open: %s\n", shmc_last_error());
        return;
    }
    start_earlier_thread();
    CHECK(pt_find_mapping(path, &cache, &cache_len));
    int key = pt_mapping_pkey(cache);
    CHECK(key > 0);
    check_filter(key);

    char buf[16];
    size_t n = 0;
    CHECK_RC(shmc_set(c, "k", 1, "sealed", 6, 0, 0), SHMC_OK);
    CHECK_RC(shmc_get(c, "k", 1, buf, sizeof buf, &n, NULL, NULL), SHMC_OK);
    CHECK(n == 6 && memcmp(buf, "sealed", 6) == 0);
    shmc_stats_t st;
    CHECK_RC(shmc_stats(c, &st), SHMC_OK);
    CHECK(st.protected_mode == 1);
    shmc_close(c); /* the filter keeps the mapping; closing must still succeed quietly */
    t_check_file(path);
}

/* ---- code planted before the open ---- */

/* The planted bytes are volatile data, copied one by one: a compiler that inlined a plain
 * copy could turn them into an instruction's immediate, planting them in this program's own
 * code, where the scan rightly finds them. */
static void *exec_page_with(const volatile unsigned char *code, size_t n, int final_prot)
{
    unsigned char *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) return NULL;
    memset(p, 0x90, 4096);
    for (size_t i = 0; i < n; i++) p[100 + i] = code[i];
    if (mprotect(p, 4096, final_prot) != 0) return NULL;
    return p;
}

static void expect_refusal(const char *what)
{
    shmc_config cfg = sealed_cfg();
    shmc_t *c = NULL;
    CHECK_RC(shmc_open(&c, t_path("refused"), &cfg), SHMC_UNSUPPORTED);
    printf("  refused: %s\n", shmc_last_error());
    CHECK(strstr(shmc_last_error(), what) != NULL);
    if (c) shmc_close(c);
    /* refused before anything was sealed: the process is as it was */
    CHECK(prctl(PR_GET_DUMPABLE) == 1);
    void *x = mmap(NULL, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(x != MAP_FAILED);
}

static void planted_wrpkru(void)
{
    static const volatile unsigned char code[] = {0x31, 0xc9, 0x31, 0xd2, 0x0f, 0x01, 0xef, 0xc3};
    CHECK(exec_page_with(code, sizeof code, PROT_READ | PROT_EXEC) != NULL);
    expect_refusal("WRPKRU");
}

static void planted_wrpkru_execute_only(void)
{
    static const volatile unsigned char code[] = {0x0f, 0x01, 0xef};
    CHECK(exec_page_with(code, sizeof code, PROT_EXEC) != NULL); /* unreadable to the program */
    expect_refusal("WRPKRU");
}

static void planted_xrstor(void)
{
    static const volatile unsigned char code[] = {0x0f, 0xae, 0x2f}; /* xrstor (%rdi) */
    CHECK(exec_page_with(code, sizeof code, PROT_READ | PROT_EXEC) != NULL);
    expect_refusal("XRSTOR");
}

static void writable_exec(void)
{
    static const volatile unsigned char code[] = {0xc3};
    CHECK(exec_page_with(code, sizeof code, PROT_READ | PROT_WRITE | PROT_EXEC) != NULL);
    expect_refusal("writable and executable");
}

static void fixed_mask_xrstor_accepted(void)
{
    /* glibc's trampoline: mov $0xee,%eax; xor %edx,%edx; xrstor 0x40(%rsp) */
    static const volatile unsigned char code[] = {0xb8, 0xee, 0x00, 0x00, 0x00, 0x31, 0xd2,
                                         0x0f, 0xae, 0x6c, 0x24, 0x40};
    CHECK(exec_page_with(code, sizeof code, PROT_READ | PROT_EXEC) != NULL);
    shmc_config cfg = sealed_cfg();
    shmc_t *c = NULL;
    CHECK_RC(shmc_open(&c, t_path("accepted"), &cfg), SHMC_OK);
    shmc_close(c);
    /* the same with the PKRU bit in the mask is refused */
}

static void fixed_mask_with_pkru_refused(void)
{
    static const volatile unsigned char code[] = {0xb8, 0xee, 0x02, 0x00, 0x00, 0x31, 0xd2,
                                         0x0f, 0xae, 0x6c, 0x24, 0x40};
    CHECK(exec_page_with(code, sizeof code, PROT_READ | PROT_EXEC) != NULL);
    expect_refusal("XRSTOR");
}

/* Report-only sealing (below the API): the findings are reported and sealing goes on. */
static void report_only(void)
{
    static const volatile unsigned char code[] = {0x0f, 0x01, 0xef};
    CHECK(exec_page_with(code, sizeof code, PROT_READ | PROT_EXEC) != NULL);
    CHECK_RC(protect_domain_init(), SHMC_OK);
    unsigned char *m = mmap(NULL, 65536, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    CHECK_RC(protect_tag_cache(m, 65536, PROT_READ | PROT_WRITE), SHMC_OK);
    CHECK(seal_scan(NULL, NULL) == 1);
    CHECK_RC(protect_seal(m, 65536, -1, false), SHMC_UNSUPPORTED);
    CHECK(prctl(PR_GET_DUMPABLE) == 1);
    CHECK_RC(protect_seal(m, 65536, -1, true), SHMC_OK);
    CHECK(prctl(PR_GET_DUMPABLE) == 0);
    CHECK(eperm(munmap(m, 65536)));
}

int main(void)
{
    t_setup("pku_sealed");
    pt_catch_faults();
    in_child("the filter holds", filter_holds);
    in_child("a clean process opens sealed", clean_process_opens_sealed);
    in_child("planted WRPKRU", planted_wrpkru);
    in_child("planted WRPKRU, execute-only", planted_wrpkru_execute_only);
    in_child("planted XRSTOR", planted_xrstor);
    in_child("writable and executable page", writable_exec);
    in_child("glibc's fixed-mask XRSTOR", fixed_mask_xrstor_accepted);
    in_child("fixed-mask XRSTOR with PKRU", fixed_mask_with_pkru_refused);
    in_child("report only", report_only);
    return t_finish();
}
