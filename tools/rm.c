/* rm.c — `shmc rm`: remove a cache file the safe way.  While processes are attached it
 * refuses (exit 6) unless --force.  After a removal, processes still attached keep the old
 * cache until they close it, and the library refuses to create a new cache under the name
 * while any of them runs (region/removed.c), so the users can never be split silently. */
#include <errno.h>
#include <inttypes.h>
#include <string.h>
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
    if (rc == SHMC_NOT_FOUND) return fprintf(stderr, "shmc: %s: no such cache\n", cache), EXIT_NO_CACHE;
    if (rc != SHMC_OK && !force) {
        fprintf(stderr, "shmc: %s: not removed: %s (--force removes it anyway)\n", cache,
                shmc_last_error());
        return cli_status(rc);
    }
    if (rc == SHMC_OK && info.attached && !force) {
        fprintf(stderr, "shmc: %s: not removed: %" PRIu64 " process%s attached (--force removes "
                        "it anyway; they keep using it until they close it, and no new cache "
                        "can be made under its name until they do)\n",
                cache, info.attached, info.attached == 1 ? " is" : "es are");
        return EXIT_BUSY;
    }
    if (unlink(path) != 0) {
        if (errno == ENOENT) return fprintf(stderr, "shmc: %s: no such cache\n", cache), EXIT_NO_CACHE;
        fprintf(stderr, "shmc: %s: %s\n", path, strerror(errno));
        return EXIT_SYSTEM;
    }
    if (a->verbose) fprintf(stderr, "removed %s\n", path);
    return EXIT_OK_;
}
