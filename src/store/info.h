/* info.h — a cache file's size, contents and users, read without attaching (shmc_info). */
#ifndef SHMC_INFO_H
#define SHMC_INFO_H

#include <shmc.h>

shmc_rc info_read(const char *path, shmc_info_t *out);

#endif
