/* example.c — shmc_example: the libshmc API in one short program (quoted by the README).
 * It opens (or creates) the cache "shmc-example" in $SHMC_DIR (default /dev/shm), then
 * stores, reads, counts and deletes, as any process on the machine could on the same cache
 * at the same time.  The cache file stays when the program ends: run it twice and the
 * visit counter goes on. */
#include <shmc.h>
#include <stdio.h>
#include <string.h>

int main(void)
{
    shmc_t *cache;
    shmc_rc rc = shmc_open(&cache, "shmc-example", NULL); /* NULL: 64 MiB, 1 MiB values */
    if (rc != SHMC_OK) {
        fprintf(stderr, "open: %s (%s)\n", shmc_strerror(rc), shmc_last_error());
        return 1;
    }

    /* set: key, value, flags 0, exptime 300 seconds (0 would mean never) */
    const char *greeting = "hello from libshmc";
    rc = shmc_set(cache, "greeting", 8, greeting, strlen(greeting), 0, 300);
    printf("set greeting: %s\n", shmc_strerror(rc));

    /* get: the value is copied into our buffer */
    char buf[64];
    size_t len;
    rc = shmc_get(cache, "greeting", 8, buf, sizeof buf, &len, NULL, NULL);
    if (rc == SHMC_OK) printf("get greeting: \"%.*s\"\n", (int)len, buf);

    /* incr: a decimal counter that every process can bump atomically */
    uint64_t visits = 0;
    if (shmc_incr(cache, "visits", 6, 1, &visits) == SHMC_NOT_FOUND) {
        shmc_add(cache, "visits", 6, "0", 1, 0, 0); /* first run: start the counter at 0 */
        shmc_incr(cache, "visits", 6, 1, &visits);
    }
    printf("visits: %llu\n", (unsigned long long)visits);

    /* delete, then the key is gone */
    rc = shmc_delete(cache, "greeting", 8);
    printf("delete greeting: %s\n", shmc_strerror(rc));
    rc = shmc_get(cache, "greeting", 8, buf, sizeof buf, &len, NULL, NULL);
    printf("get greeting again: %s\n", shmc_strerror(rc));

    shmc_close(cache);
    return 0;
}
