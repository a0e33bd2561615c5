/* info.c — shmc_info, the public face of store/info.c: a look at a cache file without
 * attaching to it. */
#include <pthread.h>
#include <string.h>

#include <shmc.h>

#include "protect/pku.h"
#include "region/region.h"
#include "store/info.h"
#include "util/error.h"

__attribute__((visibility("default"))) shmc_rc shmc_info(const char *name_or_path, shmc_info_t *out)
{
    int cancel_old; /* as every call: no cancellation point acts inside (shmc.h) */
    pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &cancel_old);
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
    pthread_setcancelstate(cancel_old, NULL);
    return rc;
}
