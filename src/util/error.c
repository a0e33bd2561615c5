/* error.c — per-thread detail for the last failure, so shmc_open can say *why* a file was
 * refused while the return code stays a small enum. */
#include "util/error.h"

#include <stdarg.h>
#include <stdio.h>

static __thread char last_error[512]; /* two paths and a reason */

shmc_rc error_set(shmc_rc rc, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(last_error, sizeof last_error, fmt, ap);
    va_end(ap);
    return rc;
}

void error_clear(void) { last_error[0] = '\0'; }

__attribute__((visibility("default"))) const char *shmc_last_error(void) { return last_error; }
