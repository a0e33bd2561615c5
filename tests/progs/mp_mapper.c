/* mp_mapper.c — a second process that maps a cache at an address other than its parent's:
 * before shmc_open it reserves (PROT_NONE) the address range where the parent mapped the
 * cache, plus a large chunk more, so the library must place the mapping elsewhere.  Then it
 * checks the parent's writes, makes its own, and waits for the parent's second round.
 *
 *   mp_mapper PATH PARENT_ADDR_HEX PARENT_LEN
 * stdout: "addr=0x... mappings=N"  then  "ready bad=N"  then (after stdin closes)  "final bad=N".
 * Exit 0 when every value matched, 1 when not, 2 on bad usage or a failed open. */
#include "mp_common.h"

#include <shmc.h>
#include <sys/mman.h>

#define NKEYS 1000
#define MAXLEN 4000

static size_t verify(shmc_t *c, const char *prefix, uint64_t gen)
{
    return mp_verify(c, "mp_mapper", prefix, 0, NKEYS, 1, gen, MAXLEN);
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: mp_mapper PATH PARENT_ADDR_HEX PARENT_LEN\n");
        return 2;
    }
    const char *path = argv[1];
    uintptr_t parent_addr = (uintptr_t)strtoull(argv[2], NULL, 16);
    size_t parent_len = (size_t)strtoull(argv[3], NULL, 10);

    /* Take the parent's range (it may already be partly taken here, which serves too) and
     * a large chunk of fresh address space, so the cache cannot land where it did there. */
    void *same = mmap((void *)parent_addr, parent_len, PROT_NONE,
                      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED_NOREPLACE, -1, 0);
    void *chunk = mmap(NULL, (size_t)1 << 32, PROT_NONE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (same == MAP_FAILED) fprintf(stderr, "mp_mapper: parent's range already in use here\n");
    if (chunk == MAP_FAILED) fprintf(stderr, "mp_mapper: could not reserve 4 GiB (ignored)\n");

    shmc_t *c;
    shmc_rc rc = shmc_open(&c, path, NULL);
    if (rc != SHMC_OK) {
        fprintf(stderr, "mp_mapper: open: %s (%s)\n", shmc_strerror(rc), shmc_last_error());
        return 2;
    }
    uintptr_t addr = 0;
    size_t len = 0;
    int mappings = mp_find_mapping(0, path, &addr, &len);
    printf("addr=%#lx mappings=%d\n", (unsigned long)addr, mappings);
    fflush(stdout);

    size_t bad = verify(c, "parent", 1);
    static unsigned char v[MAXLEN + 1];
    char key[64];
    for (uint64_t i = 0; i < NKEYS; i++) {
        size_t nkey = mp_key(key, sizeof key, "child", i);
        size_t n = mp_value(v, MAXLEN, "child", i, 1);
        if (shmc_set(c, key, nkey, v, n, mp_flags("child", i, 1), 0) != SHMC_OK) bad++;
    }
    printf("ready bad=%zu\n", bad);
    fflush(stdout);

    mp_gate_wait();
    size_t bad2 = verify(c, "parent", 2);
    printf("final bad=%zu\n", bad2);
    fflush(stdout);
    shmc_close(c);
    return bad || bad2 || mappings == 0 ? 1 : 0;
}
