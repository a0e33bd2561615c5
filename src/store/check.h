/* check.h — the offline checker: walk a whole cache file and verify every invariant. */
#ifndef SHMC_CHECK_H
#define SHMC_CHECK_H

#include <stddef.h>
#include <stdio.h>

#include <shmc.h>

shmc_rc check_file(const char *path, FILE *report, size_t *violations);

#endif
