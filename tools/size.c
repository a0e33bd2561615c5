/* size.c — the one size parser of the command lines (size.h). */
#include "size.h"

#include <errno.h>
#include <stdlib.h>

bool size_parse(const char *s, uint64_t unit, uint64_t *out)
{
    if (!s || *s < '0' || *s > '9') return false;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno) return false;
    uint64_t mult = unit;
    if (*end) {
        switch (*end) {
        case 'k': case 'K': mult = 1ull << 10; break;
        case 'm': case 'M': mult = 1ull << 20; break;
        case 'g': case 'G': mult = 1ull << 30; break;
        default: return false;
        }
        if (end[1]) return false;
    }
    if (mult && v > UINT64_MAX / mult) return false;
    *out = v * mult;
    return true;
}
