/* removed.c — is a removed cache file still in use?  A cache file is mapped through its name
 * (region.c: remap_by_name), so after `rm` the kernel shows each user's mapping in
 * /proc/PID/maps as "PATH (deleted)".  Creating a new file under that name while such a
 * process lives would split the users in two caches without anyone noticing: the opener asks
 * here first, and refuses with a message that names the process. */
#include "region/region.h"

#include <ctype.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static bool maps_deleted(int pid, const char *want, size_t nwant)
{
    char name[64], line[4400];
    snprintf(name, sizeof name, "/proc/%d/maps", pid);
    FILE *f = fopen(name, "re");
    if (!f) return false; /* gone, or another user's */
    bool found = false;
    while (!found && fgets(line, sizeof line, f)) {
        size_t n = strlen(line);
        if (n && line[n - 1] == '\n') line[--n] = '\0';
        found = n >= nwant && !strcmp(line + n - nwant, want) &&
                (n == nwant || line[n - nwant - 1] == ' ');
    }
    fclose(f);
    return found;
}

int region_removed_user(const char *path)
{
    /* the kernel names the mapping by its canonical path: resolve the directory part */
    char dir[4096], real[4096], want[8300];
    const char *slash = strrchr(path, '/'), *base = slash ? slash + 1 : path;
    snprintf(dir, sizeof dir, "%.*s", slash ? (int)(slash == path ? 1 : slash - path) : 1,
             slash ? path : ".");
    if (!realpath(dir, real)) return 0;
    int nwant = snprintf(want, sizeof want, "%s%s%s (deleted)", real,
                         strcmp(real, "/") ? "/" : "", base);
    if (nwant <= 0 || (size_t)nwant >= sizeof want) return 0;
    DIR *d = opendir("/proc");
    if (!d) return 0;
    int self = (int)getpid(), user = 0;
    for (struct dirent *de; !user && (de = readdir(d));) {
        if (!isdigit((unsigned char)de->d_name[0])) continue;
        int pid = atoi(de->d_name);
        if (pid != self && maps_deleted(pid, want, (size_t)nwant)) user = pid;
    }
    closedir(d);
    return user;
}
