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
 * the gate cannot leave the cache open; the opening gates (stage, open) return only into
 * libshmc's own code and trap (ud2, after closing) otherwise, so "wrpkru; ret" is no gadget.
 * Hence: call them only from libshmc's code, through these wrappers. */
#ifndef SHMC_PROTECT_GATE_H
#define SHMC_PROTECT_GATE_H

#include "protect/domain.h"

#define SHMC_GATE_API __attribute__((visibility("hidden")))

extern const unsigned char shmc_gate_begin[] SHMC_GATE_API;
extern const unsigned char shmc_gate_end[] SHMC_GATE_API;

/* The assembly gates; call them only when protect_domain_ready(). */
SHMC_GATE_API void shmc_gate_stage(void); /* allow private, deny cache (checked) */
SHMC_GATE_API void shmc_gate_open(void);  /* allow private and cache */
SHMC_GATE_API void shmc_gate_close(void); /* deny both (checked) */

/* 1 from gate_open to gate_close: the thread may hold cache locks (protect_thread_exit). */
extern __thread unsigned char protect_in_call
    __attribute__((tls_model("initial-exec"))) SHMC_GATE_API;

/* The opening gates return only into libshmc, so they must never be tail-called (that would
 * return straight into the caller's caller): the statement after each call prevents it. */
static inline void gate_stage(void)
{
    if (protect_domain_ready()) {
        shmc_gate_stage();
        __asm__ volatile("" ::: "memory");
    }
}

static inline void gate_open(void)
{
    if (protect_domain_ready()) {
        shmc_gate_open();
        protect_in_call = 1;
    }
}

static inline void gate_close(void)
{
    if (protect_domain_ready()) {
        shmc_gate_close();
        protect_in_call = 0;
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
