/* mp_racer.c — one contender in the create race: waits until stdin closes (all contenders
 * are released at the same instant), calls shmc_open on a path that does not exist yet,
 * stores its own key, and waits until it sees every other contender's key — proof that all
 * of them ended up on one and the same cache.
 *
 *   mp_racer PATH ID NRACERS
 * Prints "racer ID open=<rc> seen=<n>"; exit 0 when the open succeeded and all NRACERS keys
 * were seen with the right values, 1 otherwise, 2 on bad usage. */
#include "mp_common.h"

#include <shmc.h>

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: mp_racer PATH ID NRACERS\n");
        return 2;
    }
    const char *path = argv[1];
    int id = atoi(argv[2]), racers = atoi(argv[3]);
    if (racers < 1 || racers > 64) return 2;

    shmc_config cfg;
    shmc_config_init(&cfg);
    cfg.memory_limit = 2 << 20;
    cfg.item_size_max = 64 << 10;

    mp_gate_wait();
    shmc_t *c;
    shmc_rc rc = shmc_open(&c, path, &cfg);
    if (rc != SHMC_OK) {
        printf("racer %d open=%s (%s) seen=0\n", id, shmc_strerror(rc), shmc_last_error());
        return 1;
    }

    char key[32], value[32];
    size_t nkey = (size_t)snprintf(key, sizeof key, "racer:%d", id);
    size_t nvalue = (size_t)snprintf(value, sizeof value, "value-of-%d", id);
    rc = shmc_set(c, key, nkey, value, nvalue, (uint32_t)id, 0);
    if (rc != SHMC_OK) fprintf(stderr, "mp_racer %d: set: %s\n", id, shmc_strerror(rc));

    /* Wait (at most 20 s) until every racer's key is there with its value. */
    int seen = 0;
    struct timespec t0, now;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (;;) {
        seen = 0;
        for (int r = 0; r < racers; r++) {
            char got[32], want[32];
            size_t n = 0;
            uint32_t flags = 0;
            nkey = (size_t)snprintf(key, sizeof key, "racer:%d", r);
            nvalue = (size_t)snprintf(want, sizeof want, "value-of-%d", r);
            if (shmc_get(c, key, nkey, got, sizeof got, &n, &flags, NULL) == SHMC_OK &&
                n == nvalue && memcmp(got, want, n) == 0 && flags == (uint32_t)r)
                seen++;
        }
        clock_gettime(CLOCK_MONOTONIC, &now);
        if (seen == racers || now.tv_sec - t0.tv_sec > 20) break;
        struct timespec nap = {0, 1000 * 1000};
        nanosleep(&nap, NULL);
    }
    printf("racer %d open=%s seen=%d\n", id, shmc_strerror(SHMC_OK), seen);
    fflush(stdout);
    shmc_close(c);
    return seen == racers ? 0 : 1;
}
