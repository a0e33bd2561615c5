/* pku_signal.c — a signal delivered while a call is inside the gate runs its handler with
 * the gate closed (runs in QEMU: needs PKU).  A 1 ms interval timer interrupts a loop of
 * 1 MiB sets and gets; the handler reads the PKRU of the interrupted context (saved in its
 * signal frame) to tell whether the call had the cache open, and for those samples checks
 * its own PKRU denies the cache's key and that reading the cache from the handler faults.
 * The loop ends once enough samples fell inside the gate (bounded by an iteration cap, not
 * by time). */
#include "protect_test.h"

#include <sys/time.h>
#include <ucontext.h>

#define VALUE (1u << 20)
#define WANT_INSIDE 5
#define MAX_ROUNDS 4000

static unsigned char *cache;
static size_t cache_len;
static int cache_key;

static volatile int inside, outside, handler_open, handler_read_ok;

static void on_alarm(int sig, siginfo_t *si, void *ucv)
{
    (void)sig, (void)si;
    uint32_t interrupted = pt_saved_pkru(ucv);
    if (pt_denies(interrupted, cache_key)) {
        outside++;
        return;
    }
    inside++;
    if (!pt_denies(pt_rdpkru(), cache_key)) handler_open++;
    struct fault f = pt_probe(cache + cache_len / 2, 0);
    if (f.code != SEGV_PKUERR) handler_read_ok++;
}

int main(void)
{
    t_setup("pku_signal");
    pt_catch_faults();
    shmc_config cfg = t_config(16 << 20, VALUE);
    cfg.protect = SHMC_PROTECT_PKU;
    const char *path = t_path("c");
    shmc_t *c = NULL;
    CHECK_RC(shmc_open(&c, path, &cfg), SHMC_OK);
    if (!c) {
        fprintf(stderr, "open: %s\n", shmc_last_error());
        return t_finish();
    }
    CHECK(pt_find_mapping(path, &cache, &cache_len));
    cache_key = cache ? pt_mapping_pkey(cache) : -1;
    CHECK(cache_key > 0);
    if (cache_key <= 0) return t_finish();

    unsigned char *value = malloc(VALUE), *back = malloc(VALUE);
    for (size_t i = 0; i < VALUE; i++) value[i] = (unsigned char)(i * 7 + 3);

    struct sigaction sa = {.sa_sigaction = on_alarm, .sa_flags = SA_SIGINFO | SA_RESTART};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGALRM, &sa, NULL);
    struct itimerval every_ms = {{0, 1000}, {0, 1000}}, stop = {{0, 0}, {0, 0}};
    setitimer(ITIMER_REAL, &every_ms, NULL);
    int rounds = 0, failures = 0;
    for (; rounds < MAX_ROUNDS && inside < WANT_INSIDE; rounds++) {
        value[0] = (unsigned char)rounds;
        size_t n = 0;
        if (shmc_set(c, "big", 3, value, VALUE, 0, 0) != SHMC_OK) failures++;
        if (shmc_get(c, "big", 3, back, VALUE, &n, NULL, NULL) != SHMC_OK || n != VALUE ||
            memcmp(back, value, VALUE) != 0)
            failures++;
    }
    setitimer(ITIMER_REAL, &stop, NULL);
    printf("%d rounds: %d signals inside the gate, %d outside\n", rounds, inside, outside);
    CHECK(failures == 0);          /* calls interrupted by the handler completed correctly */
    CHECK(inside >= WANT_INSIDE);  /* the timer did land inside the gate */
    CHECK(handler_open == 0);      /* ... and every such handler ran with the cache denied */
    CHECK(handler_read_ok == 0);   /* ... so that reading the cache from it faulted */
    CHECK(pt_denies(pt_rdpkru(), cache_key));
    free(value);
    free(back);
    shmc_close(c);
    t_check_file(path);
    return t_finish();
}
