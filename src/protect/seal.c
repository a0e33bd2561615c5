/* seal.c — the sealed level (see seal.h): the scan of the process's executable memory for
 * instructions that can write PKRU, and the seccomp-BPF filter, written by hand as classic
 * BPF (no libseccomp), that keeps the cache mapping's protection in place afterwards. */
#include "protect/seal.h"

#include <errno.h>
#include <dirent.h>
#include <dlfcn.h>
#include <link.h>
#include <fcntl.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/shm.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include "protect/domain.h"
#include "protect/gate.h"
#include "util/error.h"

const char *seal_kind_name(enum seal_kind kind)
{
    switch (kind) {
    case SEAL_WRPKRU: return "WRPKRU";
    case SEAL_XRSTOR: return "XRSTOR";
    case SEAL_WRITABLE_EXEC: return "writable and executable mapping";
    case SEAL_UNREADABLE_EXEC: return "unreadable executable mapping";
    case SEAL_XRSTOR_FIXED: return "XRSTOR with a fixed mask without PKRU (accepted)";
    }
    return "unknown";
}

bool seal_kind_forbidden(enum seal_kind kind)
{
    return kind != SEAL_XRSTOR_FIXED;
}

/* ---- the scan ---- */

/* The opcode bytes are kept masked so that the scanner's own code and data never hold the
 * sequences it looks for (the library must hold WRPKRU nowhere but in the gate). */
#define MASK 0x5a
static const volatile unsigned char wrpkru_masked[3] = {0x0f ^ MASK, 0x01 ^ MASK, 0xef ^ MASK};
static const volatile unsigned char xrstor_masked[2] = {0x0f ^ MASK, 0xae ^ MASK};

struct scan {
    seal_report_fn report;
    void *ctx;
    long forbidden;
    int memfd;                /* /proc/self/mem, or -1 */
    unsigned char op[4];      /* the unmasked opcode bytes: 0F 01 EF, and AE (XRSTOR's 2nd) */
    const char *mapping;
    uintptr_t map_start;
    uint64_t map_offset;
};

static void found(struct scan *s, enum seal_kind kind, uintptr_t addr)
{
    if (kind != SEAL_WRITABLE_EXEC && kind != SEAL_UNREADABLE_EXEC &&
        addr >= (uintptr_t)shmc_gate_begin && addr < (uintptr_t)shmc_gate_end)
        return; /* the gate itself */
    if (seal_kind_forbidden(kind)) s->forbidden++;
    if (s->report) {
        struct seal_finding f = {.kind = kind, .addr = addr, .mapping = s->mapping,
                                 .offset = s->map_offset + (addr - s->map_start)};
        s->report(s->ctx, &f);
    }
}

/* XRSTOR's requested-feature mask is EDX:EAX; glibc's trampolines set it just before with
 * B8 imm32 (mov $imm32,%eax) and 31 D2 (xor %edx,%edx).  Bit 9 is PKRU. */
static bool fixed_mask_without_pkru(const unsigned char *b, size_t at)
{
    if (at < 7) return false;
    const unsigned char *p = b + at - 7;
    if (p[0] != 0xb8 || p[5] != 0x31 || p[6] != 0xd2) return false;
    uint32_t imm = (uint32_t)p[1] | (uint32_t)p[2] << 8 | (uint32_t)p[3] << 16 | (uint32_t)p[4] << 24;
    return !(imm & (1u << 9));
}

/* Look for the patterns starting at b[from..n-3]; b[0] is at address base. */
static void scan_bytes(struct scan *s, const unsigned char *b, size_t from, size_t n, uintptr_t base)
{
    for (size_t i = from; i + 3 <= n; i++) {
        if (b[i] != s->op[0]) continue;
        if (b[i + 1] == s->op[1] && b[i + 2] == s->op[2]) {
            found(s, SEAL_WRPKRU, base + i);
        } else if (b[i + 1] == s->op[3]) {
            unsigned modrm = b[i + 2];
            if (((modrm >> 3) & 7) == 5 && (modrm >> 6) != 3)
                found(s, fixed_mask_without_pkru(b, i) ? SEAL_XRSTOR_FIXED : SEAL_XRSTOR, base + i);
        }
    }
}

static bool read_memory(struct scan *s, void *buf, size_t n, uintptr_t addr)
{
    if (s->memfd >= 0) {
        ssize_t got = pread(s->memfd, buf, n, (off_t)addr);
        if (got == (ssize_t)n) return true;
    }
    struct iovec local = {buf, n}, remote = {(void *)addr, n};
    return process_vm_readv(getpid(), &local, 1, &remote, 1, 0) == (ssize_t)n;
}

#define CHUNK (1u << 20)
#define CARRY 10 /* bytes kept from the previous chunk: a pattern and its 7-byte lookback */

static void scan_mapping(struct scan *s, unsigned char *buf, uintptr_t start, uintptr_t end)
{
    size_t carried = 0;
    for (uintptr_t at = start; at < end;) {
        size_t n = end - at < CHUNK ? end - at : CHUNK;
        if (!read_memory(s, buf + carried, n, at)) {
            found(s, SEAL_UNREADABLE_EXEC, at);
            return;
        }
        size_t from = carried ? carried - 2 : 0; /* positions not yet fully seen */
        scan_bytes(s, buf, from, carried + n, at - carried);
        size_t keep = carried + n < CARRY ? carried + n : CARRY;
        memmove(buf, buf + carried + n - keep, keep);
        carried = keep;
        at += n;
    }
}

static long scan_process(int memfd, seal_report_fn report, void *ctx)
{
    FILE *maps = fopen("/proc/self/maps", "re");
    if (!maps) return -errno;
    unsigned char *buf = malloc(CHUNK + CARRY);
    char *line = malloc(8192);
    if (!buf || !line) {
        free(buf);
        free(line);
        fclose(maps);
        return -ENOMEM;
    }
    struct scan s = {.report = report, .ctx = ctx, .memfd = memfd};
    for (int i = 0; i < 3; i++) s.op[i] = wrpkru_masked[i] ^ MASK;
    s.op[3] = xrstor_masked[1] ^ MASK; /* XRSTOR: op[0], op[3], then a ModRM with reg 5 */
    while (fgets(line, 8192, maps)) {
        unsigned long long start, end, offset;
        char perms[8];
        int path_at = 0;
        if (sscanf(line, "%llx-%llx %7s %llx %*s %*s %n", &start, &end, perms, &offset, &path_at) < 4)
            continue;
        if (perms[2] != 'x') continue;
        char *path = path_at ? line + path_at : line + strlen(line);
        path[strcspn(path, "\n")] = 0;
        if (!strcmp(path, "[vsyscall]")) continue; /* the kernel's fixed page, not ours to map */
        s.mapping = *path ? path : "[anon]";
        s.map_start = (uintptr_t)start;
        s.map_offset = offset;
        if (perms[1] == 'w') found(&s, SEAL_WRITABLE_EXEC, (uintptr_t)start);
        scan_mapping(&s, buf, (uintptr_t)start, (uintptr_t)end);
    }
    free(buf);
    free(line);
    fclose(maps);
    return s.forbidden;
}

long seal_scan(seal_report_fn report, void *ctx)
{
    int memfd = open("/proc/self/mem", O_RDONLY | O_CLOEXEC);
    long n = scan_process(memfd, report, ctx);
    if (memfd >= 0) close(memfd);
    return n;
}

/* ---- the seccomp filter ---- */

enum { MAX_INSNS = 2048, MAX_LABELS = 512 };

struct bpf {
    struct sock_filter ins[MAX_INSNS];
    int n, nlabels;
    int label_at[MAX_LABELS];
    struct { int at, t, f; } fix[MAX_INSNS]; /* t/f: label ids, -1 for the next insn */
    int nfix;
    bool broken;
};

#define NEXT (-1)

static int new_label(struct bpf *p)
{
    if (p->nlabels == MAX_LABELS) {
        p->broken = true;
        return 0;
    }
    p->label_at[p->nlabels] = -1;
    return p->nlabels++;
}

static void place(struct bpf *p, int label) { p->label_at[label] = p->n; }

static void emit(struct bpf *p, uint16_t code, uint32_t k)
{
    if (p->n == MAX_INSNS) {
        p->broken = true;
        return;
    }
    p->ins[p->n++] = (struct sock_filter)BPF_STMT(code, k);
}

/* A conditional jump on the accumulator against k (or X when `code` has BPF_X). */
static void jump(struct bpf *p, uint16_t code, uint32_t k, int t, int f)
{
    if (p->nfix == MAX_INSNS) p->broken = true;
    if (p->broken) return;
    p->fix[p->nfix].at = p->n;
    p->fix[p->nfix].t = t;
    p->fix[p->nfix].f = f;
    p->nfix++;
    emit(p, BPF_JMP | code, k);
}

static void goto_label(struct bpf *p, int label) { jump(p, BPF_JA, 0, label, NEXT); }

/* "if (A op k) goto label" for a label at any distance (conditional jumps reach 255). */
static void jump_far(struct bpf *p, uint16_t code, uint32_t k, int label)
{
    int skip = new_label(p);
    jump(p, code, k, NEXT, skip);
    goto_label(p, label);
    place(p, skip);
}

static bool resolve(struct bpf *p)
{
    for (int i = 0; i < p->nfix && !p->broken; i++) {
        struct sock_filter *in = &p->ins[p->fix[i].at];
        int at = p->fix[i].at, t = p->fix[i].t, f = p->fix[i].f;
        int toff = t == NEXT ? 0 : p->label_at[t] - at - 1;
        int foff = f == NEXT ? 0 : p->label_at[f] - at - 1;
        if ((t != NEXT && p->label_at[t] < 0) || (f != NEXT && p->label_at[f] < 0) || toff < 0 ||
            foff < 0)
            p->broken = true;
        else if (BPF_OP(in->code) == BPF_JA)
            in->k = (uint32_t)toff;
        else if (toff > 255 || foff > 255)
            p->broken = true;
        else
            in->jt = (uint8_t)toff, in->jf = (uint8_t)foff;
    }
    return !p->broken;
}

/* What one filter guards: address ranges nothing may remap, reprotect, unmap or replace (the
 * cache mapping, the domain page, the private arena), the keys nothing may free, and the
 * library's descriptor of the cache file (-1: none). */
struct seal_guard {
    int nranges;
    uint64_t lo[4], hi[4];
    int keys[2];
    int fd;
};

#define ARG_LO(i) ((uint32_t)(offsetof(struct seccomp_data, args) + 8 * (i)))
#define ARG_HI(i) (ARG_LO(i) + 4)

static void load(struct bpf *p, uint32_t off) { emit(p, BPF_LD | BPF_W | BPF_ABS, off); }

/* Jump to `deny` when [args[ia], args[ia] + args[il]) overlaps [lo, hi); else fall through.
 * 64-bit arithmetic on 32-bit words: the end's low word, its carry, then its high word.
 * A zero length never overlaps (mremap's zero old length is refused on its own). */
static void deny_overlap(struct bpf *p, int ia, int il, uint64_t lo, uint64_t hi, int deny)
{
    int no = new_label(p), hit = new_label(p), compute_end = new_label(p), carry = new_label(p),
        no_carry = new_label(p), high = new_label(p);
    /* addr < hi ? */
    load(p, ARG_HI(ia));
    jump(p, BPF_JGT | BPF_K, (uint32_t)(hi >> 32), no, NEXT);
    jump(p, BPF_JEQ | BPF_K, (uint32_t)(hi >> 32), NEXT, compute_end);
    load(p, ARG_LO(ia));
    jump(p, BPF_JGE | BPF_K, (uint32_t)hi, no, compute_end);
    /* end = addr + len; end > lo ? */
    place(p, compute_end);
    load(p, ARG_LO(il));
    emit(p, BPF_MISC | BPF_TAX, 0);
    load(p, ARG_LO(ia));
    emit(p, BPF_ALU | BPF_ADD | BPF_X, 0);
    emit(p, BPF_ST, 1); /* M[1] = low word of end */
    jump(p, BPF_JGE | BPF_X, 0, no_carry, carry);
    place(p, carry);
    emit(p, BPF_LD | BPF_IMM, 1);
    goto_label(p, high);
    place(p, no_carry);
    emit(p, BPF_LD | BPF_IMM, 0);
    place(p, high);
    emit(p, BPF_ST, 2); /* M[2] = carry */
    load(p, ARG_HI(il));
    emit(p, BPF_MISC | BPF_TAX, 0);
    load(p, ARG_HI(ia));
    emit(p, BPF_ALU | BPF_ADD | BPF_X, 0);
    emit(p, BPF_MISC | BPF_TAX, 0);
    emit(p, BPF_LD | BPF_MEM, 2);
    emit(p, BPF_ALU | BPF_ADD | BPF_X, 0); /* A = high word of end */
    jump(p, BPF_JGT | BPF_K, (uint32_t)(lo >> 32), hit, NEXT);
    jump(p, BPF_JEQ | BPF_K, (uint32_t)(lo >> 32), NEXT, no);
    emit(p, BPF_LD | BPF_MEM, 1);
    jump(p, BPF_JGT | BPF_K, (uint32_t)lo, hit, no);
    place(p, hit);
    goto_label(p, deny);
    place(p, no);
}

/* The same for every guarded range. */
static void deny_overlap_any(struct bpf *p, int ia, int il, const struct seal_guard *g, int deny)
{
    for (int i = 0; i < g->nranges; i++) deny_overlap(p, ia, il, g->lo[i], g->hi[i], deny);
}

static void deny_flag(struct bpf *p, int arg, uint32_t bits, int deny)
{
    load(p, ARG_LO(arg));
    jump_far(p, BPF_JSET | BPF_K, bits, deny);
}

/* Jump to `deny` when 64-bit argument `arg` equals v. */
static void deny_arg_eq(struct bpf *p, int arg, uint32_t v, int deny)
{
    int no = new_label(p);
    load(p, ARG_HI(arg));
    jump(p, BPF_JEQ | BPF_K, 0, NEXT, no);
    load(p, ARG_LO(arg));
    jump_far(p, BPF_JEQ | BPF_K, v, deny);
    place(p, no);
}

/* Jump to `deny` when 64-bit argument a is above 64-bit argument b. */
static void deny_arg_above(struct bpf *p, int a, int b, int deny)
{
    int no = new_label(p), low = new_label(p), hit = new_label(p);
    load(p, ARG_HI(b));
    emit(p, BPF_MISC | BPF_TAX, 0);
    load(p, ARG_HI(a));
    jump(p, BPF_JGT | BPF_X, 0, hit, NEXT);
    jump(p, BPF_JEQ | BPF_X, 0, low, no);
    place(p, low);
    load(p, ARG_LO(b));
    emit(p, BPF_MISC | BPF_TAX, 0);
    load(p, ARG_LO(a));
    jump(p, BPF_JGT | BPF_X, 0, hit, no);
    place(p, hit);
    goto_label(p, deny);
    place(p, no);
}

/* Jump to `deny` when one of the descriptor arguments is the library's descriptor. */
static void deny_fd_args(struct bpf *p, const struct seal_guard *g, int a, int b, int deny)
{
    if (g->fd < 0) return;
    if (a >= 0) deny_arg_eq(p, a, (uint32_t)g->fd, deny);
    if (b >= 0) deny_arg_eq(p, b, (uint32_t)g->fd, deny);
}

#ifndef READ_IMPLIES_EXEC
#define READ_IMPLIES_EXEC 0x0400000
#endif
#define UFFDIO_API_CMD 0xc018aa3fu      /* _IOWR(0xAA, 0x3F, struct uffdio_api) */
#define UFFDIO_REGISTER_CMD 0xc020aa00u /* _IOWR(0xAA, 0x00, struct uffdio_register) */

static bool build_filter(struct bpf *p, const struct seal_guard *g)
{
    enum { DENY, ALLOW, MMAP, MPROTECT, PKEY_MPROTECT, RANGE, MREMAP, PKEY_FREE, PRCTL, SHMAT,
           PERSONALITY, IOCTL, FD0, FD1, FD01, FD02, FD_RANGE, MREMAP_NEW, NLABELS };
    int l[NLABELS];
    for (int i = 0; i < NLABELS; i++) l[i] = new_label(p);

    int native = new_label(p);
    load(p, offsetof(struct seccomp_data, arch));
    jump(p, BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, native, NEXT);
    goto_label(p, l[DENY]);
    place(p, native);
    load(p, offsetof(struct seccomp_data, nr));
    jump_far(p, BPF_JGE | BPF_K, 0x40000000u /* x32 */, l[DENY]);
    static const struct { int nr, label; } dispatch[] = {
        {__NR_mmap, MMAP}, {__NR_mprotect, MPROTECT}, {__NR_pkey_mprotect, PKEY_MPROTECT},
        {__NR_munmap, RANGE}, {__NR_madvise, RANGE}, {__NR_remap_file_pages, RANGE},
        {__NR_mremap, MREMAP}, {__NR_pkey_free, PKEY_FREE}, {__NR_prctl, PRCTL},
        {__NR_shmat, SHMAT}, {__NR_personality, PERSONALITY}, {__NR_ioctl, IOCTL},
        /* reading this address space from the side (protection keys do not apply) */
        {__NR_process_vm_readv, DENY}, {__NR_process_vm_writev, DENY}, {__NR_ptrace, DENY},
        /* the kernel copying user memory later, in this thread's context and so with whatever
         * PKRU the thread has then: io_uring, AIO, userfaultfd's resolution of faults */
        {__NR_io_uring_setup, DENY}, {__NR_io_uring_enter, DENY}, {__NR_io_uring_register, DENY},
        {__NR_io_setup, DENY}, {__NR_io_submit, DENY}, {__NR_userfaultfd, DENY},
        /* the library's own descriptor of the cache file */
        {__NR_read, FD0}, {__NR_pread64, FD0}, {__NR_readv, FD0}, {__NR_preadv, FD0},
        {__NR_preadv2, FD0}, {__NR_write, FD0}, {__NR_pwrite64, FD0}, {__NR_writev, FD0},
        {__NR_pwritev, FD0}, {__NR_pwritev2, FD0}, {__NR_ftruncate, FD0}, {__NR_fallocate, FD0},
        {__NR_fchmod, FD0}, {__NR_fchown, FD0}, {__NR_close, FD0}, {__NR_dup, FD0},
        {__NR_fcntl, FD0}, {__NR_fsetxattr, FD0}, {__NR_sendfile, FD1}, {__NR_dup2, FD01},
        {__NR_dup3, FD01}, {__NR_tee, FD01}, {__NR_splice, FD02}, {__NR_copy_file_range, FD02},
        {__NR_close_range, FD_RANGE},
    };
    for (size_t i = 0; i < sizeof dispatch / sizeof dispatch[0]; i++)
        jump_far(p, BPF_JEQ | BPF_K, (uint32_t)dispatch[i].nr, l[dispatch[i].label]);
    goto_label(p, l[ALLOW]);

    /* addr, len, prot, flags, fd: no PROT_EXEC, no mapping through the library's descriptor,
     * no MAP_FIXED over a guarded range */
    place(p, l[MMAP]);
    deny_flag(p, 2, PROT_EXEC, l[DENY]);
    deny_fd_args(p, g, 4, -1, l[DENY]);
    load(p, ARG_LO(3));
    jump_far(p, BPF_JSET | BPF_K, MAP_FIXED | MAP_FIXED_NOREPLACE, l[RANGE]);
    goto_label(p, l[ALLOW]);

    place(p, l[PKEY_MPROTECT]); /* addr, len, prot, pkey: only onto the library's own keys */
    load(p, ARG_LO(3));
    jump_far(p, BPF_JEQ | BPF_K, (uint32_t)g->keys[0], l[MPROTECT]);
    jump_far(p, BPF_JEQ | BPF_K, (uint32_t)g->keys[1], l[MPROTECT]);
    goto_label(p, l[DENY]);

    place(p, l[MPROTECT]); /* addr, len, prot */
    deny_flag(p, 2, PROT_EXEC, l[DENY]);
    goto_label(p, l[RANGE]);

    place(p, l[RANGE]); /* addr, len */
    deny_overlap_any(p, 0, 1, g, l[DENY]);
    goto_label(p, l[ALLOW]);

    /* old, old_len, new_len, flags, new.  A zero old length makes a second mapping of the
     * same pages, anywhere; growing extends a mapping, an executable one over bytes that were
     * never scanned. */
    place(p, l[MREMAP]);
    deny_arg_eq(p, 1, 0, l[DENY]);
    deny_arg_above(p, 2, 1, l[DENY]);
    deny_overlap_any(p, 0, 1, g, l[DENY]);
    load(p, ARG_LO(3));
    jump_far(p, BPF_JSET | BPF_K, MREMAP_FIXED, l[MREMAP_NEW]);
    goto_label(p, l[ALLOW]);
    place(p, l[MREMAP_NEW]); /* new, new_len */
    deny_overlap_any(p, 4, 2, g, l[DENY]);
    goto_label(p, l[ALLOW]);

    place(p, l[PKEY_FREE]);
    load(p, ARG_LO(0));
    jump_far(p, BPF_JEQ | BPF_K, (uint32_t)g->keys[0], l[DENY]);
    jump_far(p, BPF_JEQ | BPF_K, (uint32_t)g->keys[1], l[DENY]);
    goto_label(p, l[ALLOW]);

    place(p, l[PRCTL]);
    load(p, ARG_LO(0));
    jump_far(p, BPF_JEQ | BPF_K, PR_SET_DUMPABLE, l[DENY]);
    goto_label(p, l[ALLOW]);

    place(p, l[SHMAT]); /* shmid, addr, flags */
    deny_flag(p, 2, SHM_EXEC | SHM_REMAP, l[DENY]);
    goto_label(p, l[ALLOW]);

    place(p, l[PERSONALITY]); /* READ_IMPLIES_EXEC makes every readable mapping executable */
    load(p, ARG_LO(0));
    jump_far(p, BPF_JEQ | BPF_K, 0xffffffffu /* a query */, l[ALLOW]);
    deny_flag(p, 0, READ_IMPLIES_EXEC, l[DENY]);
    goto_label(p, l[ALLOW]);

    place(p, l[IOCTL]); /* fd, cmd: userfaultfd opened as /dev/userfaultfd; the library's fd */
    load(p, ARG_LO(1));
    jump_far(p, BPF_JEQ | BPF_K, UFFDIO_API_CMD, l[DENY]);
    jump_far(p, BPF_JEQ | BPF_K, UFFDIO_REGISTER_CMD, l[DENY]);
    goto_label(p, l[FD0]);

    place(p, l[FD0]);
    deny_fd_args(p, g, 0, -1, l[DENY]);
    goto_label(p, l[ALLOW]);

    place(p, l[FD01]);
    deny_fd_args(p, g, 0, 1, l[DENY]);
    goto_label(p, l[ALLOW]);

    place(p, l[FD02]);
    deny_fd_args(p, g, 0, 2, l[DENY]);
    goto_label(p, l[ALLOW]);

    place(p, l[FD_RANGE]); /* close_range(first, last, flags) with first <= fd <= last */
    if (g->fd >= 0) {
        load(p, ARG_LO(0));
        jump_far(p, BPF_JGT | BPF_K, (uint32_t)g->fd, l[ALLOW]);
        load(p, ARG_LO(1));
        jump_far(p, BPF_JGE | BPF_K, (uint32_t)g->fd, l[DENY]);
    }
    goto_label(p, l[ALLOW]);

    place(p, l[FD1]); /* sendfile(out, in, ...) */
    deny_fd_args(p, g, 1, -1, l[DENY]);
    goto_label(p, l[ALLOW]);

    place(p, l[ALLOW]);
    emit(p, BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
    place(p, l[DENY]);
    emit(p, BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (EPERM & SECCOMP_RET_DATA));
    return resolve(p);
}

int seal_filter_install(const void *base, size_t len, int fd)
{
    if (!protect_domain_ready()) return -EINVAL;
    if (!base || len == 0 || (uintptr_t)base + len < (uintptr_t)base) return -EINVAL;
    struct bpf *p = calloc(1, sizeof *p);
    if (!p) return -ENOMEM;
    int rc = 0;
    const protect_domain_t *d = &shmc_protect_domain_page.d;
    struct seal_guard g = {.nranges = 3, .keys = {d->cache_key, d->private_key}, .fd = fd};
    g.lo[0] = (uintptr_t)base;
    g.hi[0] = (uintptr_t)base + len;
    g.lo[1] = (uintptr_t)&shmc_protect_domain_page;
    g.hi[1] = g.lo[1] + sizeof shmc_protect_domain_page;
    g.lo[2] = d->arena_lo;
    g.hi[2] = d->arena_hi;
    if (!build_filter(p, &g)) {
        rc = -E2BIG;
    } else {
        struct sock_fprog prog = {.len = (unsigned short)p->n, .filter = p->ins};
        if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
            rc = -errno;
        } else {
            long r = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_TSYNC, &prog);
            if (r < 0) rc = -errno;
            else if (r > 0) rc = -EBUSY; /* thread r has a filter of its own: cannot sync */
        }
    }
    free(p);
    return rc;
}

/* glibc's pkey_set holds a WRPKRU (it is how pkey_set works), so every dynamically linked
 * program has one; it is a real gadget: pkey_set(key, 0) opens any key.  Before the scan,
 * the WRPKRU inside the shared libc's pkey_set is overwritten with UD2 (and a NOP), in this
 * process's private copy of that page: pkey_set then raises SIGILL, and the scan finds
 * nothing there.  Only that function's own bytes are touched, only in a libc mapped from a
 * file; a pkey_set linked into a static program is left alone (the scan refuses it). 0 when
 * there was nothing to do or it was done, -errno otherwise. */
int seal_disarm_libc_pkey_set(void)
{
    void *fn = dlsym(RTLD_DEFAULT, "pkey_set");
    Dl_info info;
    const ElfW(Sym) *sym = NULL;
    if (!fn || !dladdr1(fn, &info, (void **)&sym, RTLD_DL_SYMENT) || !sym || !info.dli_fname ||
        !strstr(info.dli_fname, "libc.so"))
        return 0;
    unsigned char *b = fn;
    size_t n = sym->st_size, page = (size_t)sysconf(_SC_PAGESIZE);
    unsigned char op[3];
    for (int i = 0; i < 3; i++) op[i] = wrpkru_masked[i] ^ MASK;
    for (size_t i = 0; i + 3 <= n; i++) {
        if (b[i] != op[0] || b[i + 1] != op[1] || b[i + 2] != op[2]) continue;
        uintptr_t lo = (uintptr_t)(b + i) & ~(page - 1), hi = ((uintptr_t)(b + i + 3) + page - 1) & ~(page - 1);
        if (mprotect((void *)lo, hi - lo, PROT_READ | PROT_WRITE) != 0) return -errno;
        b[i] = 0x0f; /* ud2 */
        b[i + 1] = 0x0b;
        b[i + 2] = 0x90; /* nop */
        if (mprotect((void *)lo, hi - lo, PROT_READ | PROT_EXEC) != 0) return -errno;
    }
    return 0;
}

/* How many threads this process has (/proc/self/task), -1 when unknown. */
static int thread_count(void)
{
    DIR *d = opendir("/proc/self/task");
    if (!d) return -1;
    int n = 0;
    for (struct dirent *e; (e = readdir(d));)
        if (e->d_name[0] != '.') n++;
    closedir(d);
    return n;
}

/* ---- sealing for one open ---- */

struct seal_report {
    bool print;
    bool have_first;
    struct seal_finding first;
    char first_mapping[256];
};

static void note_finding(void *ctx, const struct seal_finding *f)
{
    struct seal_report *r = ctx;
    if (r->print)
        fprintf(stderr, "shmc: sealed: %s at %#lx (%s+%#llx)\n", seal_kind_name(f->kind),
                (unsigned long)f->addr, f->mapping, (unsigned long long)f->offset);
    if (seal_kind_forbidden(f->kind) && !r->have_first) {
        r->have_first = true;
        r->first = *f;
        snprintf(r->first_mapping, sizeof r->first_mapping, "%s", f->mapping);
    }
}

static shmc_rc refuse(const struct seal_report *r, long count, const char *when)
{
    return error_set(SHMC_UNSUPPORTED,
                     "sealed: %s at %#lx (%s+%#llx)%s; %ld forbidden finding(s) %s",
                     seal_kind_name(r->first.kind), (unsigned long)r->first.addr,
                     r->first_mapping, (unsigned long long)r->first.offset,
                     r->first.kind == SEAL_WRPKRU || r->first.kind == SEAL_XRSTOR
                         ? " can change PKRU" : "",
                     count, when);
}

shmc_rc protect_seal(const void *base, size_t len, int fd, bool report_only)
{
    if (!protect_domain_ready())
        return error_set(SHMC_UNSUPPORTED, "sealed: protection keys are not set up");
    /* A thread that ran before the process was first sealed may hold any PKRU (code since
     * unmapped could have written it; pkey_free leaves a freed key's rights as they were), and
     * no thread can read another's.  Threads started later inherit a closed one. */
    int threads = thread_count();
    SHMC_GATE_CALL(shmc_gate_stage);
    bool sealed_before = protect_sealed_once();
    shmc_gate_close();
    if (!sealed_before && threads != 1)
        return error_set(SHMC_UNSUPPORTED,
                         "sealed: the first sealed open must come before any other thread starts "
                         "(%d threads running)", threads);
    int disarm = seal_disarm_libc_pkey_set();
    if (disarm < 0)
        return error_set(SHMC_SYSTEM, "sealed: cannot disarm libc's pkey_set: %s", strerror(-disarm));
    int persona = personality(0xffffffff);
    if (persona != -1 && (persona & READ_IMPLIES_EXEC))
        return error_set(SHMC_UNSUPPORTED,
                         "sealed: personality READ_IMPLIES_EXEC makes readable memory executable");
    /* Opened once: the process is non-dumpable for the second scan, and then only root
     * could open it again. */
    int memfd = open("/proc/self/mem", O_RDONLY | O_CLOEXEC);
    struct seal_report r = {.print = report_only};
    long n = scan_process(memfd, note_finding, &r);
    shmc_rc rc = SHMC_OK;
    if (n < 0) {
        rc = error_set(SHMC_SYSTEM, "sealed: cannot scan this process's code: %s", strerror((int)-n));
        goto out;
    }
    if (n > 0 && !report_only) {
        rc = refuse(&r, n, "in this process's code");
        goto out;
    }
    if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0) {
        rc = error_set(SHMC_SYSTEM, "sealed: prctl(PR_SET_DUMPABLE): %s", strerror(errno));
        goto out;
    }
    int e = seal_filter_install(base, len, fd);
    if (e < 0) {
        rc = error_set(SHMC_SYSTEM, "sealed: installing the seccomp filter: %s", strerror(-e));
        goto out;
    }
    struct seal_report again = {.print = false};
    long n2 = scan_process(memfd, note_finding, &again);
    if (n2 < 0) {
        rc = error_set(SHMC_SYSTEM, "sealed: cannot rescan this process's code: %s", strerror((int)-n2));
    } else if (n2 > n) {
        if (report_only) {
            again.print = true;
            scan_process(memfd, note_finding, &again);
        } else {
            rc = refuse(&again, n2, "after the filter was installed");
        }
    }
out:
    if (memfd >= 0) close(memfd);
    if (rc == SHMC_OK) {
        SHMC_GATE_CALL(shmc_gate_stage);
        protect_mark_sealed();
        shmc_gate_close();
    }
    return rc;
}
