/* pku.c — probing for protection keys once per process.  The probe allocates its key
 * denied: pkey_alloc sets the calling thread's rights for the key it returns, and pkey_free
 * does not reset them, so a key probed "allowed" would stay allowed in this thread when the
 * same number is later allocated for a cache. */
#include "protect/pku.h"

#include <pthread.h>
#include <sys/mman.h>

static bool available;
static pthread_once_t probed = PTHREAD_ONCE_INIT;

static void probe(void)
{
#ifdef SHMC_GATE_EMULATED
    available = true; /* bench/'s copy of the library: the gate without its instructions */
#else
    int key = pkey_alloc(0, PKEY_DISABLE_ACCESS);
    if (key >= 0) {
        available = true;
        pkey_free(key);
    }
#endif
}

bool pku_available(void)
{
    pthread_once(&probed, probe);
    return available;
}
