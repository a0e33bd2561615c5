/* proc.h — who is alive.  A process is named by a token of its pid and its start time, so a
 * recycled pid is never mistaken for the process that held a slot before it. */
#ifndef SHMC_PROC_H
#define SHMC_PROC_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

/* This process's token (pid in the low 32 bits, start time's low 32 bits above). */
uint64_t proc_self_token(void);
/* Whether the process named by token still runs (false for 0).  Reads /proc: 10-80 us. */
bool proc_token_alive(uint64_t token);
/* The cheap half of that: whether token's pid exists (one kill(pid, 0)).  false proves the
 * process gone; true may also be its zombie, or a later process given the same pid. */
bool proc_token_pid_exists(uint64_t token);
/* Field `field` (3 or more, numbered as proc(5) does) of /proc/PID/stat (pid 0: this
 * process) as a number, and the state letter (field 3); false when it cannot be read.  No
 * stdio, no allocation. */
bool proc_stat_field(pid_t pid, int field, uint64_t *value, char *state);

#endif
