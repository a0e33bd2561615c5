/* size.h — sizes on command lines, memcached's way: a number with an optional k, m or g
 * (KiB, MiB, GiB; either case).  Shared by the shmc tool and shmcd, so both read "2m" alike. */
#ifndef SHMC_TOOLS_SIZE_H
#define SHMC_TOOLS_SIZE_H

#include <stdbool.h>
#include <stdint.h>

/* Parse s into *out bytes; a bare number counts in `unit` bytes (1 for -I, 1 MiB for -m).
 * False for anything else: empty, negative, a stray character, or an overflow. */
bool size_parse(const char *s, uint64_t unit, uint64_t *out);

#endif
