/* huge.c — how much of this process's mapping of the cache the kernel maps with huge pages
 * right now, from /proc/self/smaps: a per-process figure (each process maps the file itself,
 * and the kernel decides per mapping), not a counter in the shared file. */
#include "region/region.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

#include "util/error.h"

#ifndef MADV_POPULATE_READ
#define MADV_POPULATE_READ 22 /* Linux 5.14 */
#endif

void region_populate_read(const region_t *r)
{
    (void)madvise(r->base, r->size, MADV_POPULATE_READ);
}

shmc_rc region_huge_bytes(const void *base, uint64_t size, uint64_t *huge)
{
    FILE *f = fopen("/proc/self/smaps", "re");
    if (!f) return error_set(SHMC_SYSTEM, "open /proc/self/smaps: %s", strerror(errno));
    uintptr_t lo = (uintptr_t)base, hi = lo + size;
    uint64_t kib = 0;
    bool inside = false;
    char line[512];
    while (fgets(line, sizeof line, f)) {
        unsigned long start, end, v;
        char name[64];
        /* a mapping's first line, "START-END perms ..."; its fields follow, "Name: N kB" */
        if (sscanf(line, "%lx-%lx ", &start, &end) == 2) {
            inside = start >= lo && end <= hi;
            continue;
        }
        /* 2 MiB pages of tmpfs (Shmem) or of a file, and hugetlbfs pages */
        if (inside && sscanf(line, "%63[^:]: %lu kB", name, &v) == 2 &&
            (!strcmp(name, "ShmemPmdMapped") || !strcmp(name, "FilePmdMapped") ||
             !strcmp(name, "Shared_Hugetlb") || !strcmp(name, "Private_Hugetlb")))
            kib += v;
    }
    fclose(f);
    *huge = kib * 1024;
    return SHMC_OK;
}
