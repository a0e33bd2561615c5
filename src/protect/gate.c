/* gate.c — the only WRPKRU instructions in libshmc, in a section of their own
 * ("shmc_gate") so that the sealed-mode scan and tests/protect/pku_scan.c can tell them from
 * any other occurrence of the bytes 0F 01 EF.  Written in assembly so that no compiler
 * decides where they go.  The fields of the read-only domain page are read at fixed offsets
 * (checked below against protect_domain_t).
 *
 *   shmc_gate_close: PKRU |= all_deny, then check the value written and retry until both
 *                    keys are denied: entered anywhere, it exits closed.
 *   shmc_gate_stage: PKRU = (PKRU | cache_deny) & ~private_deny, checked for cache_deny the
 *                    same way; then returns only into libshmc's code.
 *   shmc_gate_open:  PKRU &= ~all_deny; then returns only into libshmc's code.
 * "Returns only into libshmc's code": after the WRPKRU the return address must lie in
 * [text_lo, text_hi) and hold gate.h's call-site marker; any other closes the gate and
 * executes ud2 (SIGILL).  So the opening gates are called only through SHMC_GATE_CALL. */
#include <stddef.h>

#include "protect/gate.h"

_Static_assert(offsetof(protect_domain_t, cache_deny) == 8, "gate.c reads cache_deny at 8");
_Static_assert(offsetof(protect_domain_t, private_deny) == 12, "gate.c reads private_deny at 12");
_Static_assert(offsetof(protect_domain_t, all_deny) == 16, "gate.c reads all_deny at 16");
_Static_assert(offsetof(protect_domain_t, text_lo) == 24, "gate.c reads text_lo at 24");
_Static_assert(offsetof(protect_domain_t, text_hi) == 32, "gate.c reads text_hi at 32");

#define DOMAIN "shmc_protect_domain_page"

#ifdef SHMC_GATE_EMULATED
/* Only in bench/'s copy of the library (bench/gate_estimate.sh): every step of the gate runs
 * but the two instructions, each replaced by a register move with the same inputs and
 * output (RDPKRU: ECX -> EAX; WRPKRU consumes EAX), so that the cost of the rest can be
 * measured on a CPU without PKU.  The shipped library never defines this. */
#define RDPKRU "mov %ecx, %eax\n"
#define WRPKRU "mov %eax, %edx\n"
#else
#define RDPKRU "rdpkru\n"
#define WRPKRU "wrpkru\n"
#endif

__asm__(
    "    .pushsection shmc_gate, \"ax\", @progbits\n"
    "    .globl shmc_gate_begin\n"
    "    .hidden shmc_gate_begin\n"
    "    .p2align 6\n"
    "shmc_gate_begin:\n"
    /* One unwind entry for the whole section: no instruction in it moves the stack pointer,
     * so the return address is at 0(%rsp) throughout.  Asynchronous cancellation unwinds
     * from wherever the thread was, which can be here. */
    "    .cfi_startproc\n"

    "    .globl shmc_gate_close\n"
    "    .hidden shmc_gate_close\n"
    "    .type shmc_gate_close, @function\n"
    "shmc_gate_close:\n"
    "    xor %ecx, %ecx\n"
    "    " RDPKRU
    "    or " DOMAIN "+16(%rip), %eax\n"
    "    xor %edx, %edx\n"
    "1:  " WRPKRU
    "    mov " DOMAIN "+16(%rip), %r10d\n"
    "    mov %eax, %r11d\n"
    "    and %r10d, %r11d\n"
    "    cmp %r10d, %r11d\n"
    "    jne 2f\n"
    "    ret\n"
    "2:  or %r10d, %eax\n"
    "    xor %ecx, %ecx\n"
    "    xor %edx, %edx\n"
    "    jmp 1b\n"
    "    .size shmc_gate_close, .-shmc_gate_close\n"

    "    .globl shmc_gate_stage\n"
    "    .hidden shmc_gate_stage\n"
    "    .type shmc_gate_stage, @function\n"
    "shmc_gate_stage:\n"
    "    xor %ecx, %ecx\n"
    "    " RDPKRU
    "    or " DOMAIN "+8(%rip), %eax\n"
    "    mov " DOMAIN "+12(%rip), %r10d\n"
    "    not %r10d\n"
    "    and %r10d, %eax\n"
    "    xor %edx, %edx\n"
    "3:  " WRPKRU
    "    mov " DOMAIN "+8(%rip), %r10d\n"
    "    mov %eax, %r11d\n"
    "    and %r10d, %r11d\n"
    "    cmp %r10d, %r11d\n"
    "    je shmc_gate_return\n"
    "    or %r10d, %eax\n"
    "    xor %ecx, %ecx\n"
    "    xor %edx, %edx\n"
    "    jmp 3b\n"
    "    .size shmc_gate_stage, .-shmc_gate_stage\n"

    "    .globl shmc_gate_open\n"
    "    .hidden shmc_gate_open\n"
    "    .type shmc_gate_open, @function\n"
    "shmc_gate_open:\n"
    "    xor %ecx, %ecx\n"
    "    " RDPKRU
    "    mov " DOMAIN "+16(%rip), %r10d\n"
    "    not %r10d\n"
    "    and %r10d, %eax\n"
    "    xor %edx, %edx\n"
    "    " WRPKRU
    "    jmp shmc_gate_return\n"
    "    .size shmc_gate_open, .-shmc_gate_open\n"

    /* Shared tail of the opening gates: return to a call site's marker in libshmc's code
     * (SHMC_GATE_MARKER: 0F 1F 80 53 48 4D 43), or close and trap. */
    "shmc_gate_return:\n"
    "    mov (%rsp), %r11\n"
    "    cmp " DOMAIN "+24(%rip), %r11\n"
    "    jb 4f\n"
    "    cmp " DOMAIN "+32(%rip), %r11\n"
    "    jae 4f\n"
    "    cmpl $0x53801f0f, (%r11)\n"
    "    jne 4f\n"
    "    cmpw $0x4d48, 4(%r11)\n"
    "    jne 4f\n"
    "    cmpb $0x43, 6(%r11)\n"
    "    jne 4f\n"
    "    ret\n"
    "4:  xor %ecx, %ecx\n" /* close without touching the (untrusted) stack, then trap */
    "    " RDPKRU
    "    or " DOMAIN "+16(%rip), %eax\n"
    "    xor %edx, %edx\n"
    "5:  " WRPKRU
    "    mov " DOMAIN "+16(%rip), %r10d\n"
    "    mov %eax, %r11d\n"
    "    and %r10d, %r11d\n"
    "    cmp %r10d, %r11d\n"
    "    je 6f\n"
    "    or %r10d, %eax\n"
    "    xor %ecx, %ecx\n"
    "    xor %edx, %edx\n"
    "    jmp 5b\n"
    "6:  ud2\n"
    "    .cfi_endproc\n"

    "    .globl shmc_gate_end\n"
    "    .hidden shmc_gate_end\n"
    "shmc_gate_end:\n"
    "    .popsection\n");
