/* rm.c — `shmc rm`: remove a cache file the safe way (shmc_remove).  Processes still
 * attached are told: their next call fails with "cache removed" (SHMC_REMOVED) until a new
 * cache is made under the name, which they then use; they are never split silently.  A file
 * that is not a usable cache is removed only with --force. */
#include <errno.h>
#include <inttypes.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "perm.h"

int cmd_rm(cli_args *a)
{
    const char *cache = a->pos[0];
    bool force = a->opt[OPT_FORCE] != NULL;
    char path[4096];
    if (!perm_cache_path(cache, path, sizeof path))
        return fprintf(stderr, "shmc: cache path too long\n"), EXIT_USAGE;
    shmc_info_t info;
    shmc_rc rc = shmc_info(cache, &info);
    if (rc == SHMC_NOT_FOUND) return cli_no_cache(cache, false);
    /* --force is for a file that is not a cache; one we may not read, or a directory, it
     * would not help */
    struct stat st;
    bool forceable = rc == SHMC_BAD_FILE && lstat(path, &st) == 0 && !S_ISDIR(st.st_mode);
    if (rc != SHMC_OK && (!force || !forceable)) {
        fprintf(stderr, "shmc: %s: not removed: %s%s\n", cache, shmc_last_error(),
                forceable ? " (--force removes it anyway)" : "");
        return cli_status(rc);
    }
    if (rc != SHMC_OK) { /* not a cache the library can use: nobody to tell */
        if (unlink(path) != 0) {
            if (errno == ENOENT) return cli_no_cache(cache, false);
            fprintf(stderr, "shmc: %s: not removed: %s\n", cache, strerror(errno));
            return EXIT_SYSTEM;
        }
    } else {
        rc = shmc_remove(cache);
        if (rc == SHMC_NOT_FOUND) return cli_no_cache(cache, false);
        if (rc != SHMC_OK) return cli_fail(cache, rc);
    }
    if (a->verbose) {
        fprintf(stderr, "removed %s", path);
        if (rc == SHMC_OK && info.attached)
            fprintf(stderr, "; %" PRIu64 " attached process%s told: \"cache removed\"", info.attached,
                    info.attached == 1 ? " is" : "es are");
        fputc('\n', stderr);
    }
    return EXIT_OK_;
}
