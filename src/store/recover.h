/* recover.h — what the first opener of a cache does, when no other process has it open:
 * the cheap repairs always (locks, intents, segment lists, a dead cleaner's work:
 * store_recover), the full scrub when some user of the last session never detached
 * (scrub.h), and the counts of both in the cache's counters (repairs, recovery_scrubs,
 * damaged_dropped).  Every thread slot and process entry is then free for the new session. */
#ifndef SHMC_RECOVER_H
#define SHMC_RECOVER_H

#include <shmc.h>

#include "region/region.h"

/* Recover r, which no other process has attached.  SHMC_NO_MEMORY (shmc_last_error set)
 * when the scrub's working memory cannot be had. */
shmc_rc store_recover_alone(const region_t *r);

#endif
