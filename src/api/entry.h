/* entry.h — what every public entry point of the library starts with: its export (API) and
 * CANCEL_OFF.
 *
 * Every call runs with the calling thread's cancellation disabled (CANCEL_OFF, its first
 * line), so that a cancel acts after the call, never at a cancellation point inside it (an
 * fcntl wait, an open of /proc) while a lock or a lock-holding descriptor is held.  The
 * thread's own state comes back as the function returns, on every path. */
#ifndef SHMC_API_ENTRY_H
#define SHMC_API_ENTRY_H

#include <pthread.h>

#define API __attribute__((visibility("default")))

static inline void cancel_restore(int *old) { pthread_setcancelstate(*old, NULL); }
#define CANCEL_OFF()                                                                        \
    int cancel_old_ __attribute__((cleanup(cancel_restore)));                               \
    pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &cancel_old_)

#endif
