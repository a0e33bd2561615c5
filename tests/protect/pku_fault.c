/* pku_fault.c — protected mode seen from the application (runs in QEMU: needs PKU).  With
 * a cache opened SHMC_PROTECT_PKU, every direct read or write of its mapping faults with
 * SIGSEGV / SEGV_PKUERR naming the mapping's key: from the main thread, from a thread that
 * existed before the open, from one created after it, and from a forked child; the API keeps
 * working; and a caller pointer into the cache handed to a call faults in the caller's name
 * (the library copies caller memory only with the cache closed) instead of being read or
 * written for it.  The faults are caught by this test's handler, never by the library. */
#include "protect_test.h"

#include <pthread.h>
#include <sys/wait.h>

static unsigned char *cache;
static size_t cache_len;
static int cache_key;

struct thread_view {
    pthread_barrier_t *go;
    shmc_t *c;
    struct fault read, write;
    shmc_rc get_rc;
    char value[32];
};

static void *probe_thread(void *arg)
{
    struct thread_view *v = arg;
    if (v->go) pthread_barrier_wait(v->go);
    size_t n = 0;
    v->get_rc = shmc_get(v->c, "k", 1, v->value, sizeof v->value - 1, &n, NULL, NULL);
    v->value[n < sizeof v->value ? n : 0] = 0;
    v->read = pt_probe(cache + cache_len / 3, 0);
    v->write = pt_probe(cache + 8, 1);
    return NULL;
}

static void check_denied(struct fault f, const char *what)
{
    if (f.code != SEGV_PKUERR || f.pkey != cache_key)
        fprintf(stderr, "%s: si_code %d pkey %d (want SEGV_PKUERR, key %d)\n", what, f.code, f.pkey,
                cache_key);
    CHECK(f.code == SEGV_PKUERR && f.pkey == cache_key);
}

int main(void)
{
    t_setup("pku_fault");
    pt_catch_faults();
    shmc_config cfg = t_config(2 << 20, 64 << 10);
    cfg.protect = SHMC_PROTECT_PKU;

    pthread_barrier_t go;
    pthread_barrier_init(&go, NULL, 2);
    struct thread_view early = {.go = &go};
    pthread_t early_thread;
    pthread_create(&early_thread, NULL, probe_thread, &early);

    const char *path = t_path("c");
    shmc_t *c = NULL;
    CHECK_RC(shmc_open(&c, path, &cfg), SHMC_OK);
    if (!c) {
        fprintf(stderr, "open: %s\n", shmc_last_error());
        early.c = NULL;
        pthread_barrier_wait(&go);
        pthread_join(early_thread, NULL);
        return t_finish();
    }
    shmc_stats_t st;
    CHECK_RC(shmc_stats(c, &st), SHMC_OK);
    CHECK(st.protected_mode == 1);
    CHECK_RC(shmc_set(c, "k", 1, "secret", 6, 5, 0), SHMC_OK);

    CHECK(pt_find_mapping(path, &cache, &cache_len));
    if (!cache) return t_finish();
    cache_key = pt_mapping_pkey(cache);
    printf("cache mapped at %p, %zu bytes, protection key %d\n", (void *)cache, cache_len, cache_key);
    CHECK(cache_key > 0);

    /* the main thread, outside any call */
    check_denied(pt_probe(cache, 0), "main read");
    check_denied(pt_probe(cache + cache_len - 1, 0), "main read at the end");
    check_denied(pt_probe(cache + cache_len / 2, 1), "main write");

    /* a thread from before the open, one from after */
    early.c = c;
    pthread_barrier_wait(&go);
    pthread_join(early_thread, NULL);
    CHECK_RC(early.get_rc, SHMC_OK);
    CHECK(strcmp(early.value, "secret") == 0);
    check_denied(early.read, "earlier thread read");
    check_denied(early.write, "earlier thread write");
    struct thread_view late = {.c = c};
    pthread_t late_thread;
    pthread_create(&late_thread, NULL, probe_thread, &late);
    pthread_join(late_thread, NULL);
    CHECK_RC(late.get_rc, SHMC_OK);
    check_denied(late.read, "later thread read");
    check_denied(late.write, "later thread write");

    /* a forked child inherits the key and its denial */
    pid_t pid = fork();
    if (pid == 0) {
        struct fault f = pt_probe(cache + 4096, 0);
        _exit(f.code == SEGV_PKUERR && f.pkey == cache_key ? 0 : 1);
    }
    int status = -1;
    waitpid(pid, &status, 0);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);

    /* caller pointers into the cache: each call faults where it copies caller memory */
    char buf[64];
    size_t n = 0;
    check_denied(PT_FAULT_OF(shmc_set(c, (const char *)cache + 64, 8, "v", 1, 0, 0)),
                 "set with a key in the cache");
    check_denied(PT_FAULT_OF(shmc_set(c, "k2", 2, cache + 128, 100, 0, 0)),
                 "set with a value in the cache");
    check_denied(PT_FAULT_OF(shmc_get(c, "k", 1, cache + 256, 64, &n, NULL, NULL)),
                 "get into the cache");
    check_denied(PT_FAULT_OF(shmc_get(c, "k", 1, buf, sizeof buf, (size_t *)(cache + 512), NULL, NULL)),
                 "get with *nvalue in the cache");
    /* after those faults (and the jumps out of the calls) the API still works */
    CHECK_RC(shmc_get(c, "k", 1, buf, sizeof buf, &n, NULL, NULL), SHMC_OK);
    CHECK(n == 6 && memcmp(buf, "secret", 6) == 0);
    CHECK_RC(shmc_get(c, "k2", 2, buf, sizeof buf, &n, NULL, NULL), SHMC_NOT_FOUND);
    check_denied(pt_probe(cache, 0), "main read after the calls");

    uint64_t v = 0;
    CHECK_RC(shmc_set(c, "n", 1, "41", 2, 0, 0), SHMC_OK);
    CHECK_RC(shmc_incr(c, "n", 1, 1, &v), SHMC_OK);
    CHECK(v == 42);
    shmc_close(c);
    t_check_file(path);
    return t_finish();
}
