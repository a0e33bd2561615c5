/* error.h — the calling thread's last detailed error message (shmc_last_error). */
#ifndef SHMC_ERROR_H
#define SHMC_ERROR_H

#include <shmc.h>

/* Record a message for shmc_last_error() and return rc, so call sites read
 * `return error_set(SHMC_BAD_FILE, "...%s", x);`. */
shmc_rc error_set(shmc_rc rc, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void error_clear(void);

#endif
