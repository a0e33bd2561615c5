/* scrub.h — recovery's full verification of a cache whose last users did not all detach.
 *
 * Opening a cache that nobody else has open always runs the cheap repairs (locks, intents,
 * segment lists: store_recover).  When the previous users did not all detach — processes
 * killed, or the machine lost power with the file on disk, so pages may be stale or torn —
 * the opener also scrubs: every segment is parsed, every item's checksum verified and every
 * hash chain walked.  An item that fails (torn, rotted, in the wrong chain, linked twice, in
 * a free segment or past what its segment wrote) is unlinked and counted in the stats
 * (damaged_dropped), never served; the stripes' counts are recomputed from what stays.  A
 * clean warm restart skips this and opens in milliseconds. */
#ifndef SHMC_SCRUB_H
#define SHMC_SCRUB_H

#include <stdint.h>

#include <shmc.h>

#include "region/region.h"

/* Scrub r, which no other process has attached.  *dropped: chain entries unlinked.
 * SHMC_NO_MEMORY (nothing changed) if the working bitmap cannot be allocated. */
shmc_rc store_scrub(const region_t *r, uint64_t *dropped);

#endif
