/* crashpoint.h — named points at every step of a multi-step change to shared state, where a
 * test build can kill the process to prove that the repair finishes or undoes any step.
 *
 * CRASHPOINT("name") compiles to nothing in the library that users link.  Built with
 * SHMC_CRASHPOINTS (tests/crash builds such a copy of the library), each point registers
 * itself in the section shmc_crashpoints, and the environment chooses one hit:
 *   SHMC_CRASH_AT=NAME      the first hit of point NAME        SHMC_CRASH_AT=NAME:N  its Nth hit
 *   SHMC_CRASH_AT=N         the Nth hit of any point
 *   SHMC_CRASH_AT=NAME@AFTER:N   the first hit of NAME after the Nth hit of AFTER (a step
 *                           killed in one branch: the progress store after a kept item)
 *   SHMC_CRASH_ACTION=kill  SIGKILL to itself (the default)
 *                    cancel pthread_cancel of the calling thread (pending until a cancellation
 *                           point: tests that the library reaches none inside a call)
 *                    stop   SIGSTOP to itself (a holder stopped at that step, for stall tests)
 * docs/architecture.md lists every point and what the repair does there. */
#ifndef SHMC_CRASHPOINT_H
#define SHMC_CRASHPOINT_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

struct crashpoint {
    const char *name;
    const char *file;
    int line;
    _Atomic uint64_t hits;
};

#ifdef SHMC_CRASHPOINTS
void crashpoint_hit(struct crashpoint *cp);
#define CRASHPOINT(nm)                                                                         \
    do {                                                                                       \
        static struct crashpoint cp_ = {nm, __FILE__, __LINE__, 0};                            \
        static struct crashpoint *cp_entry_ __attribute__((section("shmc_crashpoints"), used)) = \
            &cp_;                                                                              \
        (void)cp_entry_;                                                                       \
        crashpoint_hit(&cp_);                                                                  \
    } while (0)
#else
#define CRASHPOINT(nm) ((void)0)
#endif

/* For the harness (SHMC_CRASHPOINTS builds only): every point compiled into the program,
 * and a choice of hit made after start (the same syntax as the environment's; NULL: none). */
size_t crashpoint_count(void);
struct crashpoint *crashpoint_get(size_t i);
void crashpoint_arm(const char *at, const char *action);

#endif
