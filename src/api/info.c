/* info.c — shmc_info, the public face of store/info.c: a look at a cache file without
 * attaching to it. */
#include <string.h>

#include <shmc.h>

#include "api/entry.h"
#include "protect/pku.h"
#include "region/region.h"
#include "store/info.h"
#include "util/error.h"

API shmc_rc shmc_info(const char *name_or_path, shmc_info_t *out)
{
    CANCEL_OFF();
    error_clear();
    char path[4096];
    shmc_info_t info;
    shmc_rc rc = out ? region_resolve_path(name_or_path, path, sizeof path)
                     : error_set(SHMC_INVALID, "info is NULL");
    if (rc == SHMC_OK) rc = info_read(path, &info);
    if (rc == SHMC_OK) {
        info.protected_mode = pku_available();
        *out = info;
    }
    return rc;
}
