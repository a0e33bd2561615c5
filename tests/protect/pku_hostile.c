/* pku_hostile.c — issue 18's attacks, tried as hostile code in the process would (runs in
 * QEMU: needs PKU; 2 vCPUs for the races).  Each case runs in its own child, once with the
 * cache opened SHMC_PROTECT_PKU and once SHMC_PROTECT_SEALED (4. and 5. but the gate: sealed
 * only, the PKU level documents them as limits):
 *  1. a second, unprotected handle (opened after or before the protected one): caller
 *     pointers into the protected cache fault in the caller, they are not read or written;
 *  2. closed, stale and forged handles are refused; the library's own state (handle table,
 *     thread records, staging) is key-protected;
 *  3. another thread's staging buffer: caller pointers into the private arena are refused,
 *     while another thread works there, and the cache stays whole;
 *  4. (sealed) io_uring, AIO and userfaultfd are refused;
 *  5. (sealed) the ways out: zero-length and growing mremap, READ_IMPLIES_EXEC, mprotect of
 *     the domain page or the arena, the library's descriptor, sealing with threads running,
 *     and an opening gate returning anywhere but to one of libshmc's call sites. */
#include "protect_test.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sys/personality.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <ucontext.h>
#include <unistd.h>

#include "protect/domain.h"
#include "protect/gate.h"

static int mode; /* SHMC_PROTECT_PKU or SHMC_PROTECT_SEALED */
static unsigned char *cache;
static size_t cache_len;

static shmc_t *open_cache(const char *name, int protect)
{
    shmc_config cfg = t_config(8 << 20, 256 << 10);
    cfg.protect = protect;
    shmc_t *c = NULL;
    shmc_rc rc = shmc_open(&c, t_path(name), &cfg);
    if (rc != SHMC_OK) fprintf(stderr, "open %s: %s\n", name, shmc_last_error());
    CHECK_RC(rc, SHMC_OK);
    return c;
}

/* The protected cache, found in /proc/self/maps. */
static shmc_t *open_protected(void)
{
    shmc_t *c = open_cache("protected", mode);
    if (c) CHECK(pt_find_mapping(t_path("protected"), &cache, &cache_len));
    return c;
}

static void in_child(const char *name, void (*fn)(void))
{
    pt_in_child(name, mode == SHMC_PROTECT_SEALED ? "sealed" : "pku", fn);
}

static bool eperm(long r) { return r == -1 && errno == EPERM; }

/* ---- 1. a second, unprotected handle ---- */

static void second_handle(void)
{
    shmc_t *p = open_protected(), *u = open_cache("plain", SHMC_PROTECT_NONE);
    if (!p || !u) return;
    CHECK_RC(shmc_set(p, "secret", 6, "s3cr3t", 6, 0, 0), SHMC_OK);
    /* the secret is somewhere in the mapping: hand the whole header page and more */
    struct fault f = PT_FAULT_OF(shmc_set(u, "leak", 4, cache, 4096, 0, 0));
    CHECK(f.code == SEGV_PKUERR);
    size_t n = 0;
    CHECK_RC(shmc_set(u, "k", 1, "overwrite", 9, 0, 0), SHMC_OK);
    f = PT_FAULT_OF(shmc_get(u, "k", 1, cache, 9, &n, NULL, NULL)); /* over the header */
    CHECK(f.code == SEGV_PKUERR);
    f = PT_FAULT_OF(shmc_get(u, (const char *)cache + 64, 8, NULL, 0, &n, NULL, NULL));
    CHECK(f.code == SEGV_PKUERR);
    f = PT_FAULT_OF(shmc_get(u, "k", 1, NULL, 0, (size_t *)(void *)cache, NULL, NULL));
    CHECK(f.code == SEGV_PKUERR);
    CHECK(shmc_get(u, "leak", 4, NULL, 0, &n, NULL, NULL) == SHMC_NOT_FOUND);
    char buf[16];
    CHECK_RC(shmc_get(p, "secret", 6, buf, sizeof buf, &n, NULL, NULL), SHMC_OK);
    CHECK(n == 6 && !memcmp(buf, "s3cr3t", 6));
    shmc_close(u);
    shmc_close(p);
    if (mode != SHMC_PROTECT_SEALED) t_check_file(t_path("protected")); /* sealed: still mapped */
}

/* The same with the unprotected handle opened first, before the process had keys: its state
 * moves into private memory when the keys are made, and it keeps working, through the gate. */
static void second_handle_first(void)
{
    shmc_t *u = open_cache("plain", SHMC_PROTECT_NONE);
    if (!u) return;
    CHECK_RC(shmc_set(u, "before", 6, "1", 1, 0, 0), SHMC_OK);
    shmc_t *p = open_protected();
    if (!p) return;
    CHECK_RC(shmc_set(p, "secret", 6, "s3cr3t", 6, 0, 0), SHMC_OK);
    size_t n = 0;
    char buf[8];
    CHECK_RC(shmc_get(u, "before", 6, buf, sizeof buf, &n, NULL, NULL), SHMC_OK);
    CHECK(n == 1 && buf[0] == '1');
    struct fault f = PT_FAULT_OF(shmc_set(u, "leak", 4, cache, 4096, 0, 0));
    CHECK(f.code == SEGV_PKUERR);
    f = PT_FAULT_OF(shmc_get(u, "before", 6, cache, 1, &n, NULL, NULL));
    CHECK(f.code == SEGV_PKUERR);
    shmc_stats_t st;
    CHECK_RC(shmc_stats(u, &st), SHMC_OK);
    CHECK(st.protected_mode == 0);
    shmc_close(u);
    CHECK_RC(shmc_stats(u, &st), SHMC_INVALID);
    shmc_close(p);
    if (mode != SHMC_PROTECT_SEALED) t_check_file(t_path("protected"));
}

/* ---- 2. trusted state ---- */

static void handles(void)
{
    shmc_t *c = open_protected(), *other = open_cache("other", mode == SHMC_PROTECT_SEALED ? SHMC_PROTECT_PKU : mode);
    if (!c || !other) return;
    CHECK_RC(shmc_set(c, "a", 1, "1", 1, 0, 0), SHMC_OK);
    shmc_stats_t st;
    /* forged tokens: nearby, a heap pointer, all ones */
    void *heap = calloc(1, 4096);
    shmc_t *forged[] = {(shmc_t *)((uintptr_t)c + 1), (shmc_t *)((uintptr_t)c ^ (1u << 12)),
                        (shmc_t *)heap, (shmc_t *)(uintptr_t)-1, (shmc_t *)(uintptr_t)0x1000};
    for (size_t i = 0; i < sizeof forged / sizeof forged[0]; i++) {
        CHECK_RC(shmc_stats(forged[i], &st), SHMC_INVALID);
        CHECK_RC(shmc_flush_all(forged[i], 0), SHMC_INVALID);
        CHECK_RC(shmc_set(forged[i], "a", 1, "2", 1, 0, 0), SHMC_INVALID);
    }
    free(heap);
    /* a closed handle is refused, even once its slot is reused by another open */
    shmc_t *stale = other;
    shmc_close(other);
    CHECK_RC(shmc_stats(stale, &st), SHMC_INVALID);
    CHECK_RC(shmc_flush_all(stale, 0), SHMC_INVALID);
    shmc_close(stale); /* quietly nothing */
    shmc_t *again = open_cache("other", SHMC_PROTECT_PKU);
    CHECK(again != stale);
    CHECK_RC(shmc_flush_all(stale, 0), SHMC_INVALID);
    /* the library's private memory is key-protected */
    const protect_domain_t *d = &shmc_protect_domain_page.d;
    CHECK(d->arena_hi > d->arena_lo);
    struct fault f = pt_probe((void *)(uintptr_t)d->arena_lo, 0);
    CHECK(f.code == SEGV_PKUERR && f.pkey == d->private_key);
    f = pt_probe((void *)(uintptr_t)d->arena_lo, 1);
    CHECK(f.code == SEGV_PKUERR);
    CHECK(pt_probe((void *)&d->arena_lo, 1).code == SEGV_ACCERR); /* the domain page */
    size_t n = 0;
    char v[4];
    CHECK_RC(shmc_get(c, "a", 1, v, sizeof v, &n, NULL, NULL), SHMC_OK);
    CHECK(n == 1 && v[0] == '1');
    shmc_close(again);
    shmc_close(c);
}

/* ---- 3. another thread's staging buffer ---- */

static volatile int stop;
static shmc_t *shared;

static void *busy_setter(void *arg)
{
    (void)arg;
    static char big[200 << 10];
    memset(big, 'v', sizeof big);
    char key[32];
    for (unsigned i = 0; !stop; i++) {
        int nk = snprintf(key, sizeof key, "key-%u", i % 64);
        shmc_rc rc = shmc_set(shared, key, (size_t)nk, big, 1000 + i % (sizeof big - 1000), 0, 0);
        if (rc != SHMC_OK && rc != SHMC_NO_MEMORY) {
            fprintf(stderr, "setter: %s\n", shmc_last_error());
            return (void *)1;
        }
    }
    return NULL;
}

static void staging(void)
{
    shared = open_protected();
    if (!shared) return;
    pthread_t t;
    pthread_create(&t, NULL, busy_setter, NULL);
    const protect_domain_t *d = &shmc_protect_domain_page.d;
    unsigned refused = 0, tries = 0;
    size_t n = 0;
    /* every page of the arena's first megabytes: records, buffers, the handle table */
    for (uintptr_t a = d->arena_lo; a < d->arena_lo + (8 << 20) && a < d->arena_hi; a += 4096) {
        shmc_rc rc[3];
        rc[0] = shmc_set(shared, "x", 1, (const void *)a, 4096, 0, 0);
        rc[1] = shmc_get(shared, "key-1", 5, (void *)a, 200 << 10, &n, NULL, NULL);
        rc[2] = shmc_set(shared, (const char *)a, 8, "v", 1, 0, 0);
        for (int k = 0; k < 3; k++) {
            tries++;
            /* a get of a key the other thread has not (re)written yet finds nothing to copy */
            if (rc[k] == SHMC_INVALID || (k == 1 && rc[k] == SHMC_NOT_FOUND)) refused++;
            else fprintf(stderr, "arena +%#lx, case %d: %s (%s)\n", (unsigned long)(a - d->arena_lo),
                         k, shmc_strerror(rc[k]), shmc_last_error());
        }
    }
    /* a range that only ends inside the arena, and one that wraps */
    tries += 2;
    refused += shmc_set(shared, "x", 1, (const void *)(uintptr_t)(d->arena_lo - 100), 200, 0, 0) == SHMC_INVALID;
    refused += shmc_set(shared, "x", 1, (const void *)(uintptr_t)-100, 200, 0, 0) == SHMC_INVALID;
    stop = 1;
    void *ret = NULL;
    pthread_join(t, &ret);
    printf("  staging: %u of %u refused\n", refused, tries);
    CHECK(refused == tries);
    CHECK(ret == NULL);
    CHECK(shmc_get(shared, "x", 1, NULL, 0, &n, NULL, NULL) == SHMC_NOT_FOUND);
    shmc_close(shared);
    if (mode != SHMC_PROTECT_SEALED) t_check_file(t_path("protected"));
}

/* ---- 4. the kernel working later for the thread ---- */

static void deferred_copies(void)
{
    shmc_t *c = open_protected();
    if (!c) return;
    unsigned char params[120] = {0};
    CHECK(eperm(syscall(SYS_io_uring_setup, 4, params)));
    CHECK(eperm(syscall(SYS_io_uring_enter, 0, 1, 0, 0, NULL, 0)));
    CHECK(eperm(syscall(SYS_io_uring_register, 0, 0, NULL, 0)));
    unsigned long aio = 0;
    CHECK(eperm(syscall(SYS_io_setup, 8, &aio)));
    CHECK(eperm(syscall(SYS_io_submit, 0, 0, NULL)));
    CHECK(eperm(syscall(SYS_userfaultfd, 0)));
    CHECK(eperm(syscall(SYS_ioctl, 0, 0xc018aa3fUL, NULL)));
    CHECK_RC(shmc_set(c, "k", 1, "v", 1, 0, 0), SHMC_OK);
    shmc_close(c);
}

/* ---- 5. leaving the sealed level ---- */

static int library_fd(const char *path)
{
    struct stat want;
    if (stat(path, &want) != 0) return -1;
    for (int fd = 3; fd < 1024; fd++) {
        struct stat st;
        if (fstat(fd, &st) == 0 && st.st_ino == want.st_ino && st.st_dev == want.st_dev) return fd;
    }
    return -1;
}

static void ways_out(void)
{
    shmc_t *c = open_protected();
    if (!c) return;
    const protect_domain_t *d = &shmc_protect_domain_page.d;
    /* a second mapping of the cache: zero-length mremap */
    CHECK(eperm((long)mremap(cache, 0, 4096, MREMAP_MAYMOVE)));
    CHECK(eperm((long)mremap(cache + 4096, 0, 4096, MREMAP_MAYMOVE)));
    /* growing any mapping (an executable one would cover unscanned bytes) */
    void *m = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(eperm((long)mremap(m, 4096, 8192, MREMAP_MAYMOVE)));
    CHECK(mremap(m, 4096, 4096, MREMAP_MAYMOVE) != MAP_FAILED);
    /* READ_IMPLIES_EXEC */
    CHECK(eperm(personality(READ_IMPLIES_EXEC)));
    CHECK(personality(0xffffffff) != -1);
    /* the domain page and the arena */
    CHECK(eperm(mprotect((void *)&shmc_protect_domain_page, 4096, PROT_READ | PROT_WRITE)));
    CHECK(eperm(mprotect((void *)(uintptr_t)d->arena_lo, 4096, PROT_READ | PROT_WRITE)));
    CHECK(eperm(pkey_mprotect((void *)(uintptr_t)d->arena_lo, 4096, PROT_READ | PROT_WRITE, 0)));
    CHECK(eperm(madvise((void *)(uintptr_t)d->arena_lo, 4096, MADV_DONTNEED)));
    CHECK(eperm(munmap((void *)(uintptr_t)(d->arena_hi - 4096), 4096)));
    void *mine = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(eperm(pkey_mprotect(mine, 4096, PROT_READ | PROT_WRITE, 0))); /* untagging anything */
    CHECK(pkey_mprotect(mine, 4096, PROT_READ | PROT_WRITE, d->private_key) == 0);
    /* the library's descriptor of the file */
    int fd = library_fd(t_path("protected"));
    CHECK(fd >= 0);
    if (fd >= 0) {
        char b[16];
        CHECK(eperm(pread(fd, b, sizeof b, 0)));
        CHECK(eperm(read(fd, b, sizeof b)));
        CHECK(eperm(write(fd, b, 1)));
        CHECK(eperm((long)mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd, 0)));
        CHECK(eperm(dup(fd)));
        CHECK(eperm(dup2(fd, 900)));
        CHECK(eperm(fcntl(fd, F_DUPFD, 0)));
        CHECK(eperm(ftruncate(fd, 0)));
        CHECK(eperm(close(fd)));
        CHECK(eperm(syscall(SYS_close_range, 3, ~0u, 0)));
        CHECK(eperm(syscall(SYS_sendfile, 1, fd, NULL, 16)));
    }
    CHECK(write(1, "", 0) == 0); /* other descriptors are untouched */
    CHECK_RC(shmc_set(c, "k", 1, "v", 1, 0, 0), SHMC_OK);
    shmc_close(c);
}

static void *idle_thread(void *arg)
{
    pthread_barrier_wait(arg);
    return NULL;
}

static void threads_before_sealing(void)
{
    pthread_barrier_t b;
    pthread_barrier_init(&b, NULL, 2);
    pthread_t t;
    pthread_create(&t, NULL, idle_thread, &b);
    shmc_config cfg = t_config(2 << 20, 64 << 10);
    cfg.protect = SHMC_PROTECT_SEALED;
    shmc_t *c = NULL;
    CHECK_RC(shmc_open(&c, t_path("threads"), &cfg), SHMC_UNSUPPORTED);
    printf("  refused: %s\n", shmc_last_error());
    CHECK(strstr(shmc_last_error(), "thread") != NULL);
    pthread_barrier_wait(&b);
    pthread_join(t, NULL);
}

/* The opening gate, entered with a return address inside libshmc's code that is not one of
 * its call sites (here: the start of a public function), closes and traps. */
static void on_sigill(int sig, siginfo_t *si, void *ucv)
{
    (void)sig, (void)si;
    uint32_t saved = pt_saved_pkru(ucv);
    const protect_domain_t *d = &shmc_protect_domain_page.d;
    _exit((saved & d->all_deny) == d->all_deny ? 42 : 43);
}

static void gate_not_callable(void)
{
    shmc_t *c = open_protected();
    if (!c) return;
    for (int which = 0; which < 2; which++) {
        fflush(NULL);
        pid_t pid = fork();
        if (pid == 0) {
            struct sigaction sa = {.sa_sigaction = on_sigill, .sa_flags = SA_SIGINFO};
            sigaction(SIGILL, &sa, NULL);
            void *gate = which ? (void *)shmc_gate_stage : (void *)shmc_gate_open;
            __asm__ volatile("push %1\n\t"
                             "jmp *%0"
                             :
                             : "r"(gate), "r"((void *)shmc_strerror)
                             : "rax", "rcx", "rdx", "r10", "r11", "memory");
            _exit(44);
        }
        int status = -1;
        waitpid(pid, &status, 0);
        CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 42);
    }
    shmc_close(c);
}

int main(void)
{
    t_setup("pku_hostile");
    pt_catch_faults();
    int modes[] = {SHMC_PROTECT_PKU, SHMC_PROTECT_SEALED};
    for (int i = 0; i < 2; i++) {
        mode = modes[i];
        in_child("1. a second, unprotected handle", second_handle);
        in_child("1. an unprotected handle from before the keys", second_handle_first);
        in_child("2. closed and forged handles", handles);
        in_child("3. another thread's staging", staging);
        if (mode == SHMC_PROTECT_SEALED) {
            in_child("4. deferred kernel copies", deferred_copies);
            in_child("5. ways out of the sealed level", ways_out);
            in_child("5. threads before sealing", threads_before_sealing);
        } else {
            printf("  4. and 5. (but the gate) skipped at the PKU level: io_uring/AIO/userfaultfd "
                   "and the system calls the sealed filter refuses are its documented limits\n");
        }
        in_child("5. the gate is not callable", gate_not_callable);
    }
    return t_finish();
}
