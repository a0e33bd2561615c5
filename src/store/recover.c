/* recover.c — recovery of a cache that nobody else has open (see recover.h). */
#include "store/recover.h"

#include "store/scrub.h"
#include "store/stats.h"
#include "store/store.h"
#include "util/error.h"

shmc_rc store_recover_alone(const region_t *r)
{
    bool unclean = stats_left_attached(r);
    uint64_t repairs = store_recover(r), dropped = 0;
    if (unclean) {
        if (store_scrub(r, &dropped) != SHMC_OK)
            return error_set(SHMC_NO_MEMORY, "no memory to verify the cache after a crash");
        atomic_fetch_add(&r->hdr->retired[C_recovery_scrubs], 1);
        atomic_fetch_add(&r->hdr->retired[C_damaged_dropped], dropped);
    }
    stats_reset_owners(r);
    atomic_fetch_add(&r->hdr->retired[C_repairs], repairs);
    return SHMC_OK;
}
