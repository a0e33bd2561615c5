/* pku.c — probing for protection keys once per process. */
#include "protect/pku.h"

#include <pthread.h>
#include <sys/mman.h>

static bool available;
static pthread_once_t probed = PTHREAD_ONCE_INIT;

static void probe(void)
{
    int key = pkey_alloc(0, 0);
    if (key >= 0) {
        available = true;
        pkey_free(key);
    }
}

bool pku_available(void)
{
    pthread_once(&probed, probe);
    return available;
}
