/* info.c — shmc_info: what a cache file holds and who uses it, read through a read-only
 * mapping without attaching (so `shmc ls` neither takes a lock nor runs a recovery). */
#include "store/info.h"

#include <stdatomic.h>
#include <string.h>

#include "region/region.h"
#include "sync/proc.h"
#include "store/stats.h"

shmc_rc info_read(const char *path, shmc_info_t *out)
{
    region_t r;
    shmc_rc rc = region_map_readonly(&r, path);
    if (rc != SHMC_OK) return rc;
    memset(out, 0, sizeof *out);
    stats_live(&r, clock_now_s(), &out->curr_items, &out->bytes);
    out->file_size = r.size;
    out->memory_limit = r.hdr->memory_limit;
    out->item_size_max = r.hdr->item_size_max;
    out->create_time = r.hdr->create_time;
    if (region_anyone_attached(&r)) {
        for (uint32_t i = 0; i < r.nproc_slots; i++) {
            uint64_t t = atomic_load(&r.procs[i].token);
            if (t && proc_token_alive(t)) out->attached++;
        }
        out->attached += region_overflow_count(&r, atomic_load(&r.hdr->overflow_locks));
    } else {
        out->scrub_pending = stats_left_attached(&r);
    }
    region_close(&r);
    return SHMC_OK;
}
