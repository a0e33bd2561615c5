/* removed.c — is a removed cache file still in use?  A cache file is mapped through its name
 * (region.c: remap_by_name), so after `rm` the kernel shows each user's mapping in
 * /proc/PID/maps as "PATH (deleted)".  Creating a new file under that name while such a
 * process lives would split the users in two caches without anyone noticing: the opener asks
 * here first, and refuses with a message that names the process (this one included).  A file
 * retired by shmc_remove or shmc_resize is no such case: its users follow the name. */
#include "region/region.h"

#include <ctype.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Whether the mapping [lo-hi) of process pid is of a retired file (resized or removed by
 * shmc_resize / shmc_remove, api/resize.c): its users were told, and follow the name, so a
 * new file under it splits nobody.  Read through /proc/PID/map_files; false when that
 * cannot be read (then the mapping counts as a user's). */
static bool retired_file(int pid, const char *range)
{
    char name[96];
    snprintf(name, sizeof name, "/proc/%d/map_files/%s", pid, range);
    int fd = open(name, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) return false;
    header_t h;
    bool retired = pread(fd, &h, sizeof h, 0) == (ssize_t)sizeof h && h.magic == LAYOUT_MAGIC &&
                   h.version == LAYOUT_VERSION &&
                   flush_due_of(atomic_load_explicit(&h.flush, memory_order_relaxed)) == FLUSH_DUE_MOVED;
    close(fd);
    return retired;
}

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
        if (found) { /* "lo-hi perms ...": a retired file's users follow its name */
            char *sp = strchr(line, ' ');
            if (sp) *sp = '\0';
            found = !retired_file(pid, line);
        }
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
    int user = 0;
    /* this process too: a handle it still holds on the removed file would be split from
     * the new cache it is about to make */
    for (struct dirent *de; !user && (de = readdir(d));) {
        if (!isdigit((unsigned char)de->d_name[0])) continue;
        int pid = atoi(de->d_name);
        if (maps_deleted(pid, want, (size_t)nwant)) user = pid;
    }
    closedir(d);
    return user;
}
