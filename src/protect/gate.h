/* gate.h — switching PKRU at the edges of a library call (see domain.h for the states).
 *
 * A public call, when the process has its protection domain:
 *     gate_stage();   copy caller input into protect_private_buf(), validate it
 *     gate_open();    operate on the cache, reading and writing only private memory
 *     gate_stage();   copy results from private memory to the caller
 *     gate_close();   then run caller code (callbacks, malloc) if any
 * Every function is a no-op in a process without the domain.
 *
 * The WRPKRU instructions live in gate.c's assembly, in section "shmc_gate"
 * [shmc_gate_begin, shmc_gate_end): the only ones in libshmc (tests/protect/pku_scan.c
 * checks the built library; seal.c excludes exactly this range).  Closing re-checks the
 * value it wrote and retries until both keys are denied, so a jump straight to a WRPKRU in
 * the gate cannot leave the cache open; the opening gates (stage, open) return only to the
 * marker that follows each of libshmc's calls of them (below) and trap (ud2, after closing)
 * otherwise, so "wrpkru; ret" is no gadget.  Hence: call them only through these wrappers. */
#ifndef SHMC_PROTECT_GATE_H
#define SHMC_PROTECT_GATE_H

#include "protect/domain.h"

#define SHMC_GATE_API __attribute__((visibility("hidden")))

extern const unsigned char shmc_gate_begin[] SHMC_GATE_API;
extern const unsigned char shmc_gate_end[] SHMC_GATE_API;

/* The assembly gates; call them only when protect_domain_ready(). */
SHMC_GATE_API void shmc_gate_stage(void); /* allow private, deny cache (checked); call only
                                           * through SHMC_GATE_CALL */
SHMC_GATE_API void shmc_gate_open(void);  /* allow private and cache; SHMC_GATE_CALL only */
SHMC_GATE_API void shmc_gate_close(void); /* deny both (checked) */

/* Each call of an opening gate is followed by this marker, a 7-byte no-op
 * (nopl 0x434d4853(%rax), "SHMC"): the gate returns only to an address holding it, so only
 * to the instruction after one of libshmc's own calls of it, never to some other "ret" in
 * libshmc that would carry on into the caller with the gate open (tests/protect/pku_scan.c
 * checks that every call is followed by it).  The call is made from assembly, so the code
 * that uses this is compiled with -mno-red-zone; the gates clobber only these registers. */
#define SHMC_GATE_MARKER ".byte 0x0f, 0x1f, 0x80, 0x53, 0x48, 0x4d, 0x43"
#define SHMC_GATE_CALL(fn)                                                                  \
    __asm__ volatile("call " #fn "\n\t" SHMC_GATE_MARKER                                   \
                     ::: "rax", "rcx", "rdx", "r10", "r11", "memory", "cc")

static inline void gate_stage(void)
{
    if (protect_domain_ready()) SHMC_GATE_CALL(shmc_gate_stage);
}

/* Open; t (the thread's record) notes that the thread may now hold cache locks. */
static inline void gate_open(protect_thread_t *t)
{
    if (protect_domain_ready()) {
        SHMC_GATE_CALL(shmc_gate_open);
        if (t) t->in_call = 1;
    }
}

/* Close; from open (t given: the thread holds no cache lock any more) or from staged. */
static inline void gate_close(protect_thread_t *t)
{
    if (protect_domain_ready()) {
        if (t) t->in_call = 0;
        shmc_gate_close();
    }
}

/* For the library's thread-exit destructor.  A thread that dies inside a call (pthread_cancel,
 * pthread_exit from a signal handler) runs its exit path with the kernel's default PKRU, which
 * denies the cache key, yet the kernel must then read and write the cache to release the
 * thread's robust locks (their robust-list entries live in the mutexes, in the cache): with
 * the key denied it silently gives up and the locks stay held by a dead thread forever.  So
 * when the thread was inside a call, this opens the gate and deliberately leaves it open for
 * the rest of the thread's short life.  A no-op otherwise. */
void protect_thread_exit(void) SHMC_GATE_API;

#endif
