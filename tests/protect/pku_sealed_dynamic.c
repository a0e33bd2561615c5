/* pku_sealed_dynamic.c — the sealed level in an ordinary dynamically linked program (runs in
 * QEMU: needs PKU).  Linked against libshmc.so and the shared libc, whose pkey_set holds a
 * WRPKRU: sealing disarms it (pkey_set then raises SIGILL) and opens, the cache stays closed
 * to direct access, the library works, and pkey_set(key, 0) cannot open the cache key. */
#include "protect_test.h"

#include <errno.h>
#include <sys/wait.h>

int main(void)
{
    t_setup("pku_sealed_dynamic");
    pt_catch_faults();
    shmc_config cfg = t_config(4 << 20, 64 << 10);
    cfg.protect = SHMC_PROTECT_SEALED;
    shmc_t *c = NULL;
    shmc_rc rc = shmc_open(&c, t_path("dyn"), &cfg);
    if (rc != SHMC_OK) fprintf(stderr, "open: %s\n", shmc_last_error());
    CHECK_RC(rc, SHMC_OK);
    if (!c) return t_finish();
    unsigned char *cache = NULL;
    size_t len = 0;
    CHECK(pt_find_mapping(t_path("dyn"), &cache, &len));
    int key = cache ? pt_mapping_pkey(cache) : -1;
    CHECK(key > 0);
    CHECK_RC(shmc_set(c, "k", 1, "dynamic", 7, 0, 0), SHMC_OK);
    char buf[16];
    size_t n = 0;
    CHECK_RC(shmc_get(c, "k", 1, buf, sizeof buf, &n, NULL, NULL), SHMC_OK);
    CHECK(n == 7 && !memcmp(buf, "dynamic", 7));
    if (cache) CHECK(pt_probe(cache, 0).code == SEGV_PKUERR);
    /* libc's WRPKRU is gone: pkey_set traps, and the cache key stays denied */
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        pkey_set(key, 0);
        _exit(pt_denies(pt_rdpkru(), key) ? 3 : 4); /* not reached */
    }
    int status = -1;
    waitpid(pid, &status, 0);
    printf("pkey_set in a sealed process: status %#x\n", status);
    CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGILL);
    CHECK(pt_denies(pt_rdpkru(), key));
    /* the filter is in place */
    CHECK(mprotect(cache, 4096, PROT_READ) == -1 && errno == EPERM);
    shmc_close(c);
    return t_finish();
}
