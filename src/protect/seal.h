/* seal.h — the sealed protection level: before a cache is opened sealed, make sure no code
 * in the process can change PKRU by itself, and make the kernel refuse every later attempt
 * to get such code or to take the cache mapping's protection off.
 *
 *  - Scan: every executable mapping (read through /proc/self/mem, so execute-only code is
 *    seen too) for WRPKRU (0F 01 EF) and XRSTOR (0F AE /5 with a memory operand, which can
 *    load PKRU from memory) at every byte offset, outside libshmc's gate; writable and
 *    executable mappings; executable mappings that cannot be read.
 *  - Before it: the first sealing needs a single-threaded process without READ_IMPLIES_EXEC;
 *    the WRPKRU in the shared libc's pkey_set is overwritten with UD2.
 *  - Filter (seccomp-BPF, on every thread of the process, inherited by children): no new
 *    executable memory (PROT_EXEC in mmap/mprotect/pkey_mprotect, SHM_EXEC, personality
 *    READ_IMPLIES_EXEC, growing mremap); no mprotect, munmap, mremap (either range, or a zero
 *    old length), madvise, remap_file_pages or MAP_FIXED mmap over the cache mapping, the
 *    domain page or the private arena; pkey_mprotect only onto the domain's keys, no
 *    pkey_free of them; no process_vm_readv/writev, ptrace, prctl(PR_SET_DUMPABLE); no
 *    io_uring, AIO or userfaultfd (deferred copies with the thread's PKRU); no read, write,
 *    mmap, dup or close of the library's descriptor of the cache file; non-x86-64 system
 *    calls refused.  Refused calls fail with EPERM.  The process is made non-dumpable first.
 * docs/security.md says what this does and does not protect against. */
#ifndef SHMC_PROTECT_SEAL_H
#define SHMC_PROTECT_SEAL_H

#include <shmc.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum seal_kind {
    SEAL_WRPKRU,          /* WRPKRU outside libshmc's gate */
    SEAL_XRSTOR,          /* XRSTOR whose feature mask can include PKRU */
    SEAL_WRITABLE_EXEC,   /* a mapping both writable and executable */
    SEAL_UNREADABLE_EXEC, /* executable memory that could not be read to be checked */
    SEAL_XRSTOR_FIXED,    /* accepted: XRSTOR right after "mov $imm,%eax; xor %edx,%edx"
                           * with imm lacking the PKRU bit (glibc's loader trampolines) */
};

struct seal_finding {
    enum seal_kind kind;
    uintptr_t addr;      /* where (the mapping's start for the mapping-wide kinds) */
    const char *mapping; /* the mapping's file, or "[anon]", "[vdso]"... */
    uint64_t offset;     /* addr's offset in that file */
};

/* The name of a kind ("WRPKRU", "XRSTOR", ...). */
const char *seal_kind_name(enum seal_kind kind);
/* Whether a finding of this kind stops a sealed open (every kind but SEAL_XRSTOR_FIXED). */
bool seal_kind_forbidden(enum seal_kind kind);

typedef void (*seal_report_fn)(void *ctx, const struct seal_finding *f);

/* Scan every executable mapping of the process; call report (may be NULL) for each
 * finding.  Returns the number of forbidden findings (>= 0), or -errno when the scan could
 * not run (no /proc). */
long seal_scan(seal_report_fn report, void *ctx);

/* Install the seccomp filter guarding [base, base+len) (one filter per sealed mapping;
 * they stack).  Needs the protection domain (its keys).  0, or -errno. */
int seal_filter_install(const void *base, size_t len, int fd);

/* Overwrite the WRPKRU in the shared libc's pkey_set with UD2 (pkey_set then raises SIGILL),
 * so that ordinary dynamically linked programs can be sealed.  Single-threaded use only (the
 * page is briefly not executable).  0, or -errno. */
int seal_disarm_libc_pkey_set(void);

/* Seal the process for the cache mapping [base, base+len) (gate closed): refuse a first sealing with more
 * than one thread, or with READ_IMPLIES_EXEC; disarm libc's pkey_set; scan; refuse if forbidden code is
 * found (SHMC_UNSUPPORTED, shmc_last_error() naming the first finding) unless report_only,
 * in which case each finding is written to stderr as "shmc: sealed: ..." and the open goes
 * on; then make the process non-dumpable, install the filter and scan again (code mapped
 * between the two scans).  SHMC_SYSTEM when /proc or seccomp is unavailable. */
shmc_rc protect_seal(const void *base, size_t len, int fd, bool report_only);

#endif
