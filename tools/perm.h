/* perm.h — who may use a new cache file: --mode and --group, shared by `shmc create` and
 * shmcd.  The library creates the file with the mode; the group is set right after. */
#ifndef SHMC_TOOLS_PERM_H
#define SHMC_TOOLS_PERM_H

#include <shmc.h>
#include <stdbool.h>
#include <sys/types.h>

/* An octal permission mode, 0..0777 (e.g. "0660"). */
bool perm_parse_mode(const char *s, unsigned *mode);
/* A group name or number; false when there is no such group (the caller says so). */
bool perm_parse_group(const char *s, gid_t *gid);

/* Open name_or_path with cfg (its flags: 0 or SHMC_OPEN_CREATE, with or without
 * SHMC_OPEN_NO_EVICT); if this call creates the
 * file and gid is not (gid_t)-1, the file gets that group (from its creation where the
 * process may take that filesystem gid, as root may; else by chown right after).  *created (may be NULL) says
 * whether it did.  A failed chown closes the handle, removes the new file and is SHMC_SYSTEM
 * (errno tells why). */
shmc_rc perm_open(shmc_t **out, const char *name_or_path, const shmc_config *cfg, gid_t gid,
                  bool *created);

/* The file behind a cache name: $SHMC_DIR/NAME (default /dev/shm), or the path itself. */
bool perm_cache_path(const char *name_or_path, char *out, size_t cap);

#endif
