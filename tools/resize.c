/* resize.c — `shmc resize`: give a cache another memory limit or item size limit, keeping
 * every live item and every user (shmc_resize; src/api/resize.c has the design). */
#include <inttypes.h>
#include <stdio.h>

#include "cli.h"
#include "size.h"

int cmd_resize(cli_args *a)
{
    uint64_t m = 0, item = 0;
    if (!a->opt['m'] && !a->opt['I'])
        return fprintf(stderr, "shmc: resize: give -m SIZE, -I SIZE or both\n"), cli_usage(a);
    if (a->opt['m'] && (!size_parse(a->opt['m'], 1u << 20, &m) || m < (1u << 20)))
        return fprintf(stderr, "shmc: -m %s: the memory limit is 1m or more (a bare number is "
                               "MiB; k, m, g suffixes)\n", a->opt['m']), EXIT_USAGE;
    if (a->opt['I'] && (!size_parse(a->opt['I'], 1, &item) || item < 1024 || item > (1u << 30)))
        return fprintf(stderr, "shmc: -I %s: the item size limit is 1k to 1g (a bare number is "
                               "bytes)\n", a->opt['I']), EXIT_USAGE;
    shmc_resize_info info;
    shmc_rc rc = shmc_resize(a->pos[0], m, item, &info);
    if (rc == SHMC_NOT_FOUND) return cli_no_cache(a->pos[0], true);
    if (rc != SHMC_OK) return cli_fail(a->pos[0], rc);
    if (a->verbose)
        fprintf(stderr, "resized %s to -m %" PRIu64 " -I %" PRIu64 ": %" PRIu64 " items copied, %"
                PRIu64 " over the item size limit left out, %" PRIu64 " evicted; writers waited %"
                PRIu64 " us\n", a->pos[0], info.memory_limit, info.item_size_max, info.items,
                info.too_large, info.evicted, info.frozen_us);
    return info.too_large || info.evicted ? EXIT_MISS : EXIT_OK_;
}
