/* pku_hw.c — proves that the CPU this runs on (QEMU's software CPU in CI) implements
 * protection keys as the protected mode needs: pkey_alloc, pkey_mprotect, a denied read and
 * a denied write fault with SIGSEGV / SEGV_PKUERR naming the key, and allowing the key again
 * makes the page usable.  Independent of libshmc: when this fails, nothing else can pass. */
#include "protect_test.h"

static int probe_code(char *p, int write)
{
    return pt_probe(p, write).code;
}

int main(void)
{
    pt_catch_faults();

    int key = pkey_alloc(0, 0);
    CHECK(key > 0);
    if (key <= 0) {
        perror("pkey_alloc");
        return t_finish();
    }
    char *page = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(page != MAP_FAILED);
    CHECK(pkey_mprotect(page, 4096, PROT_READ | PROT_WRITE, key) == 0);
    page[0] = 1; /* pkey_alloc(0, 0) leaves the key allowed in this thread */

    CHECK(pkey_set(key, PKEY_DISABLE_ACCESS) == 0);
    CHECK(probe_code(page, 0) == SEGV_PKUERR);
    CHECK(pt_probe(page, 0).pkey == key);
    CHECK(probe_code(page, 1) == SEGV_PKUERR);

    CHECK(pkey_set(key, PKEY_DISABLE_WRITE) == 0);
    CHECK(probe_code(page, 0) == 0);
    CHECK(probe_code(page, 1) == SEGV_PKUERR);

    CHECK(pkey_set(key, 0) == 0);
    CHECK(probe_code(page, 1) == 0);
    page[0] = 7;
    CHECK(page[0] == 7);
    printf("pkey %d works\n", key);
    return t_finish();
}
