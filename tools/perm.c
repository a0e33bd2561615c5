/* perm.c — mode and group of new cache files (perm.h). */
#include "perm.h"

#include <errno.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/fsuid.h>
#include <unistd.h>

bool perm_parse_mode(const char *s, unsigned *mode)
{
    if (!s || *s < '0' || *s > '7') return false;
    char *end;
    errno = 0;
    unsigned long v = strtoul(s, &end, 8);
    if (errno || *end || v > 0777) return false;
    *mode = (unsigned)v;
    return true;
}

bool perm_parse_group(const char *s, gid_t *gid)
{
    if (!s || !*s) return false;
    struct group *g = getgrnam(s);
    if (g) {
        *gid = g->gr_gid;
        return true;
    }
    char *end;
    errno = 0;
    unsigned long v = strtoul(s, &end, 10);
    if (errno || *end || s[0] < '0' || s[0] > '9' || v >= (unsigned long)(gid_t)-1)
        return false; /* the caller says so, with its own prefix */
    *gid = (gid_t)v;
    return true;
}

bool perm_cache_path(const char *name_or_path, char *out, size_t cap)
{
    int n;
    if (strchr(name_or_path, '/')) {
        n = snprintf(out, cap, "%s", name_or_path);
    } else {
        const char *dir = getenv("SHMC_DIR");
        n = snprintf(out, cap, "%s/%s", dir && *dir ? dir : "/dev/shm", name_or_path);
    }
    return n > 0 && (size_t)n < cap;
}

shmc_rc perm_open(shmc_t **out, const char *name_or_path, const shmc_config *cfg, gid_t gid,
                  bool *created)
{
    shmc_config c = *cfg;
    bool made = false;
    shmc_rc rc;
    /* A new file takes the creating thread's filesystem gid: with that set to the group
     * (allowed to root, and to anyone for their own gid), the file has its group from the
     * start, never briefly the wrong one.  Otherwise it is changed right after creation. */
    gid_t old_fsgid = (gid_t)-1;
    bool fsgid_set = false;
    if (gid != (gid_t)-1) {
        old_fsgid = (gid_t)setfsgid(gid);
        fsgid_set = (gid_t)setfsgid(gid) == gid;
        if (!fsgid_set) setfsgid(old_fsgid);
    }
    /* first as a creator, so that we know whether the file is ours to give a group */
    unsigned asked = c.flags;
    for (int attempt = 0; attempt < 10; attempt++) {
        c.flags = SHMC_OPEN_CREATE | (asked & SHMC_OPEN_NO_EVICT);
        rc = shmc_open(out, name_or_path, &c);
        if (rc == SHMC_OK) {
            made = true;
            break;
        }
        if (rc != SHMC_EXISTS || (asked & SHMC_OPEN_CREATE)) break;
        c.flags = SHMC_OPEN_EXISTING | (asked & SHMC_OPEN_NO_EVICT);
        rc = shmc_open(out, name_or_path, &c);
        if (rc != SHMC_NOT_FOUND) break; /* removed in between: create it again */
    }
    if (fsgid_set) setfsgid(old_fsgid);
    if (created) *created = made;
    if (rc != SHMC_OK || !made || gid == (gid_t)-1 || fsgid_set) return rc;
    char path[4096];
    if (!perm_cache_path(name_or_path, path, sizeof path) || chown(path, (uid_t)-1, gid) != 0) {
        int e = errno;
        shmc_close(*out);
        *out = NULL;
        unlink(path);
        errno = e;
        return SHMC_SYSTEM;
    }
    return SHMC_OK;
}
