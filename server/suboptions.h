/* suboptions.h — memcached's -o settings other than ssl_* (suboptions.c): the ones shmcd
 * uses, and memcached's slab/LRU/extstore tuning, accepted with no effect here. */
#ifndef SHMCD_SUBOPTIONS_H
#define SHMCD_SUBOPTIONS_H

#include <stdbool.h>

struct shmcd_options;

/* The non-ssl_* items of one -o LIST into opt; false after printing memcached's message
 * (an unknown key: `Illegal suboption "KEY"`). */
bool shmcd_suboptions(struct shmcd_options *opt, const char *arg);

/* The value of the last no-effect setting given as -<flag> (key: for -o, its name; NULL for
 * the others): "" when it took none; NULL when it was not given. */
const char *shmcd_ignored_value(const struct shmcd_options *opt, char flag, const char *key);

#endif
