/* test_ketama.c — libmemcached's ketama (MEMCACHED_BEHAVIOR_KETAMA_WEIGHTED) against three
 * shmcd nodes, and the local node through examples/shmc_fleet.h.  Started by
 * test_ketama_clients.py, which runs the nodes:
 *   test_ketama PORT0 PORT1 PORT2 CACHE0 VICTIM_PID
 * Checks: each of 600 keys is on the node memcached_server_by_key names and on no other
 * (asked directly), spread over all three; through shmc_fleet.h the keys the ring gives node 0
 * are read and written in CACHE0 with libshmc and agree with what the socket clients see; after
 * VICTIM_PID (node 1) is killed, libmemcached ejects it (failure limit 1, auto eject) and within
 * a bound every set succeeds again, node 1's keys now on the live nodes. */
#include <libmemcached/memcached.h>
#include <shmc.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "shmc_fleet.h"

#define NKEYS 600

static int failures;

static void check(int ok, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void check(int ok, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    printf("%s", ok ? "ok: " : "FAIL: ");
    vprintf(fmt, ap);
    printf("\n");
    va_end(ap);
    fflush(stdout);
    if (!ok) failures++;
}

static memcached_st *ring(const in_port_t *ports, int n)
{
    memcached_st *mc = memcached_create(NULL);
    memcached_behavior_set(mc, MEMCACHED_BEHAVIOR_KETAMA_WEIGHTED, 1);
    memcached_behavior_set(mc, MEMCACHED_BEHAVIOR_SERVER_FAILURE_LIMIT, 1);
    memcached_behavior_set(mc, MEMCACHED_BEHAVIOR_REMOVE_FAILED_SERVERS, 1);
    memcached_behavior_set(mc, MEMCACHED_BEHAVIOR_RETRY_TIMEOUT, 30);
    memcached_behavior_set(mc, MEMCACHED_BEHAVIOR_CONNECT_TIMEOUT, 1000);
    /* generous: a node slowed by a sanitizer on a busy machine is not a dead one */
    memcached_behavior_set(mc, MEMCACHED_BEHAVIOR_POLL_TIMEOUT, 10000);
    for (int i = 0; i < n; i++) memcached_server_add(mc, "127.0.0.1", ports[i]);
    return mc;
}

static int node_of(memcached_st *mc, const in_port_t *ports, const char *key)
{
    memcached_return_t rc;
    const memcached_instance_st *s = memcached_server_by_key(mc, key, strlen(key), &rc);
    for (int i = 0; s && i < 3; i++)
        if (memcached_server_port(s) == ports[i]) return i;
    return -1;
}

/* Whether node `d` holds key with value `want`. */
static int holds(memcached_st *d, const char *key, const char *want)
{
    size_t n;
    uint32_t flags;
    memcached_return_t rc;
    char *v = memcached_get(d, key, strlen(key), &n, &flags, &rc);
    int ok = v && n == strlen(want) && memcmp(v, want, n) == 0;
    free(v);
    return ok;
}

int main(int argc, char **argv)
{
    if (argc != 6) {
        fprintf(stderr, "usage: test_ketama PORT0 PORT1 PORT2 CACHE0 VICTIM_PID\n");
        return 2;
    }
    in_port_t ports[3];
    for (int i = 0; i < 3; i++) ports[i] = (in_port_t)atoi(argv[1 + i]);
    pid_t victim = (pid_t)atol(argv[5]);
    memcached_st *mc = ring(ports, 3);
    memcached_st *direct[3];
    for (int i = 0; i < 3; i++) direct[i] = ring(&ports[i], 1);

    char key[32], val[48];
    int owner[NKEYS], stored = 0;
    for (int k = 0; k < NKEYS; k++) {
        snprintf(key, sizeof key, "k%d", k);
        snprintf(val, sizeof val, "v%d", k);
        stored += memcached_set(mc, key, strlen(key), val, strlen(val), 0, 0) == MEMCACHED_SUCCESS;
        owner[k] = node_of(mc, ports, key);
    }
    check(stored == NKEYS, "%d/%d sets through libmemcached ketama", stored, NKEYS);
    int placed = 0, share[3] = {0, 0, 0};
    for (int k = 0; k < NKEYS; k++) {
        snprintf(key, sizeof key, "k%d", k);
        snprintf(val, sizeof val, "v%d", k);
        int here = 0, right = 0;
        for (int i = 0; i < 3; i++) {
            int h = holds(direct[i], key, val);
            here += h;
            right += h && i == owner[k];
        }
        placed += here == 1 && right == 1;
        if (owner[k] >= 0) share[owner[k]]++;
    }
    check(placed == NKEYS, "%d/%d keys on exactly the node memcached_server_by_key names",
          placed, NKEYS);
    check(share[0] > NKEYS / 6 && share[1] > NKEYS / 6 && share[2] > NKEYS / 6,
          "keys spread: %d %d %d", share[0], share[1], share[2]);

    /* the local node through libshmc: node 0's cache file */
    shmc_t *cache = NULL;
    shmc_rc orc = shmc_open(&cache, argv[4], NULL);
    check(orc == SHMC_OK, "open node 0's cache file %s: %s", argv[4], shmc_strerror(orc));
    if (orc != SHMC_OK) return 1;
    shmc_fleet f;
    shmc_fleet_init(&f, mc, "127.0.0.1", ports[0], cache);
    int local = 0, agree = 0, written = 0;
    for (int k = 0; k < NKEYS; k++) {
        snprintf(key, sizeof key, "k%d", k);
        snprintf(val, sizeof val, "v%d", k);
        bool is_local = shmc_fleet_is_local(&f, key, strlen(key));
        local += is_local;
        size_t n;
        uint32_t flags;
        memcached_return_t rc;
        char *v = shmc_fleet_get(&f, key, strlen(key), &n, &flags, &rc);
        agree += v && rc == MEMCACHED_SUCCESS && n == strlen(val) && !memcmp(v, val, n) &&
                 is_local == (owner[k] == 0);
        free(v);
        /* a write through the helper is seen by socket clients on the owning node */
        snprintf(val, sizeof val, "w%d", k);
        if (shmc_fleet_set(&f, key, strlen(key), val, strlen(val), 0, 0) == MEMCACHED_SUCCESS &&
            holds(direct[owner[k]], key, val))
            written++;
    }
    check(local == share[0] && local > 0, "the ring gives the local node %d keys (node 0: %d)",
          local, share[0]);
    check(agree == NKEYS, "%d/%d gets through shmc_fleet.h (libshmc for the local third)", agree,
          NKEYS);
    check(written == NKEYS, "%d/%d sets through shmc_fleet.h seen by the owning node's socket",
          written, NKEYS);
    memcached_return_t drc = shmc_fleet_delete(&f, "k0", 2);
    check(drc == MEMCACHED_SUCCESS && !holds(direct[owner[0]], "k0", "w0"),
          "delete through the helper");
    shmc_close(cache);

    /* node 1 dies: libmemcached ejects it and its keys move */
    kill(victim, SIGKILL);
    time_t deadline = time(NULL) + 20;
    int fails;
    do {
        fails = 0;
        for (int k = 0; k < NKEYS; k++) {
            snprintf(key, sizeof key, "k%d", k);
            snprintf(val, sizeof val, "a%d", k);
            fails += memcached_set(mc, key, strlen(key), val, strlen(val), 0, 0) != MEMCACHED_SUCCESS;
        }
    } while (fails && time(NULL) < deadline);
    check(fails == 0, "after node 1 died every set succeeds again within 20 s");
    int moved = 0, mine = 0;
    for (int k = 0; k < NKEYS; k++) {
        if (owner[k] != 1) continue;
        mine++;
        snprintf(key, sizeof key, "k%d", k);
        snprintf(val, sizeof val, "a%d", k);
        int now = node_of(mc, ports, key);
        moved += (now == 0 || now == 2) && holds(direct[now], key, val);
    }
    check(mine > 0 && moved == mine, "node 1's %d keys now on a live node (%d)", mine, moved);
    for (int i = 0; i < 3; i++) memcached_free(direct[i]);
    memcached_free(mc);
    printf(failures ? "%d check(s) failed\n" : "all checks passed\n", failures);
    return failures ? 1 : 0;
}
