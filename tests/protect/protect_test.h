/* protect_test.h — what the protected-mode test programs share: testutil.h's checks, and
 * probing memory for protection-key faults (a SIGSEGV handler that records si_code/si_pkey
 * and siglongjmps back into the test; the library itself never catches signals). */
#ifndef SHMC_PROTECT_TEST_H
#define SHMC_PROTECT_TEST_H

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function" /* not every test uses every helper */
#include "../testutil.h"
#pragma GCC diagnostic pop

#include <setjmp.h>
#include <stdbool.h>
#include <signal.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <ucontext.h>

#ifndef SEGV_PKUERR
#define SEGV_PKUERR 4
#endif

struct fault {
    int code; /* si_code of the SIGSEGV, 0: the access did not fault */
    int pkey; /* si_pkey when code is SEGV_PKUERR */
};

static __thread sigjmp_buf pt_fault_return;
static __thread struct fault pt_fault;

static __attribute__((unused)) void pt_on_segv(int sig, siginfo_t *si, void *uc)
{
    (void)sig, (void)uc;
    pt_fault.code = si->si_code;
    pt_fault.pkey = si->si_code == SEGV_PKUERR ? (int)si->si_pkey : -1;
    siglongjmp(pt_fault_return, 1);
}

/* Install the probe's SIGSEGV handler (process-wide; each thread has its own jump buffer). */
static __attribute__((unused)) void pt_catch_faults(void)
{
    struct sigaction sa = {.sa_sigaction = pt_on_segv, .sa_flags = SA_SIGINFO | SA_NODEFER};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGSEGV, &sa, NULL);
}

/* Read (write == 0) or write one byte at p from this thread; reports the fault, if any. */
static __attribute__((noinline, unused)) struct fault pt_probe(void *addr, int write)
{
    volatile unsigned char *p = addr;
    pt_fault.code = 0;
    pt_fault.pkey = -1;
    if (sigsetjmp(pt_fault_return, 1) == 0) {
        if (write)
            *p = (unsigned char)(*p + 0); /* a write that keeps the byte when it succeeds */
        else
            (void)*p;
    }
    return pt_fault;
}

/* The fault (if any) of running `stmt`, e.g. a library call handed a pointer into the cache:
 * PT_FAULT_OF(shmc_set(c, (const char *)cache, 8, "v", 1, 0, 0)). */
#define PT_FAULT_OF(stmt)                                                                 \
    __extension__({                                                                       \
        pt_fault.code = 0;                                                                \
        pt_fault.pkey = -1;                                                               \
        if (sigsetjmp(pt_fault_return, 1) == 0) {                                         \
            stmt;                                                                         \
        }                                                                                 \
        pt_fault;                                                                         \
    })

/* Where this process maps the file `path` (from /proc/self/maps, by device and inode: the
 * mapping may carry the name the file was created under): false when it does not. */
static __attribute__((unused)) bool pt_find_mapping(const char *path, unsigned char **base, size_t *len)
{
    struct stat st;
    if (stat(path, &st) != 0) return false;
    FILE *f = fopen("/proc/self/maps", "r");
    if (!f) return false;
    char line[4600];
    bool found = false;
    while (!found && fgets(line, sizeof line, f)) {
        unsigned long long lo, hi, off, inode;
        unsigned major, minor;
        if (sscanf(line, "%llx-%llx %*s %llx %x:%x %llu", &lo, &hi, &off, &major, &minor, &inode) != 6)
            continue;
        if (inode == (unsigned long long)st.st_ino && major == major(st.st_dev) &&
            minor == minor(st.st_dev)) {
            *base = (unsigned char *)(uintptr_t)lo;
            *len = (size_t)(hi - lo);
            found = true;
        }
    }
    fclose(f);
    return found;
}

/* The protection key of the mapping that starts at base (/proc/self/smaps), -1 if unknown. */
static __attribute__((unused)) int pt_mapping_pkey(const void *base)
{
    FILE *f = fopen("/proc/self/smaps", "r");
    if (!f) return -1;
    char line[4600];
    bool in = false;
    int key = -1;
    while (fgets(line, sizeof line, f)) {
        unsigned long long lo, hi;
        if (sscanf(line, "%llx-%llx ", &lo, &hi) == 2 && strchr(line, '-') < strchr(line, ' ')) {
            in = (uintptr_t)lo == (uintptr_t)base;
        } else if (in && sscanf(line, "ProtectionKey: %d", &key) == 1) {
            break;
        }
    }
    fclose(f);
    return key;
}

/* Whether PKRU value pkru denies every access through key k (its access-disable bit: the
 * kernel's default PKRU sets only that one; the library's gates set write-disable too). */
static inline bool pt_denies(uint32_t pkru, int key)
{
    return (pkru >> (2 * key)) & 1;
}

static inline uint32_t pt_rdpkru(void)
{
    uint32_t eax, edx;
    __asm__ volatile(".byte 0x0f, 0x01, 0xee" : "=a"(eax), "=d"(edx) : "c"(0));
    return eax;
}

/* In a signal handler: the PKRU of the interrupted context, saved in its XSAVE area (the
 * PKRU component's offset there: CPUID leaf 0xd, sub-leaf 9). */
static inline uint32_t pt_saved_pkru(const void *ucv)
{
    uint32_t eax, ebx, ecx, edx;
    __asm__ volatile("cpuid" : "=a"(eax), "=b"(ebx), "=c"(ecx), "=d"(edx) : "a"(0xd), "c"(9));
    const ucontext_t *uc = ucv;
    return *(const uint32_t *)((const unsigned char *)uc->uc_mcontext.fpregs + ebx);
}

/* Run one case in a forked child, so a fault or a denied call ends only that case; the child
 * prints its counts (under "name (level)" when level is not NULL) and the parent checks it
 * passed. */
static __attribute__((unused)) void pt_in_child(const char *name, const char *level, void (*fn)(void))
{
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        t_passed = t_failed = 0;
        fn();
        if (level) printf("  %s (%s): %d passed, %d failed\n", name, level, t_passed, t_failed);
        else printf("  %s: %d passed, %d failed\n", name, t_passed, t_failed);
        fflush(NULL);
        _exit(t_failed || !t_passed ? 1 : 0);
    }
    int status = -1;
    waitpid(pid, &status, 0);
    if (!(WIFEXITED(status) && WEXITSTATUS(status) == 0))
        fprintf(stderr, "FAIL case %s (status %#x)\n", name, status);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

#endif
