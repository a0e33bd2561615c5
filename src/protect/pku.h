/* pku.h — memory protection keys (PKU): whether this CPU and kernel have them.  The gate
 * that keeps the cache unreadable outside library calls builds on this (protected mode). */
#ifndef SHMC_PKU_H
#define SHMC_PKU_H

#include <stdbool.h>

/* Whether pkey_alloc works here (CPU with PKU and a kernel that enables it). */
bool pku_available(void);

#endif
