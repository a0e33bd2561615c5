/* test_mapping_address.c — the cache file holds no raw pointers: two processes that map it at
 * DIFFERENT addresses (the child, tests/progs/mp_mapper, first reserves the range where the
 * parent mapped it) see the same data, and each reads the other's writes.  The addresses are
 * read from /proc/<pid>/maps by the cache's path.  A second handle on the same cache in one
 * process works as well. */
#include "testutil.h"
#include "progs/mp_common.h"

#define MAPPER_PROG SHMC_TEST_PROGS "/mp_mapper"
#define NKEYS 1000
#define MAXLEN 4000 /* as in mp_mapper.c */

static void set_here(shmc_t *c, const char *prefix, uint64_t gen)
{
    static unsigned char v[MAXLEN + 1];
    char key[64];
    size_t failed = 0;
    for (uint64_t i = 0; i < NKEYS; i++) {
        size_t nkey = mp_key(key, sizeof key, prefix, i);
        size_t n = mp_value(v, MAXLEN, prefix, i, gen);
        if (shmc_set(c, key, nkey, v, n, mp_flags(prefix, i, gen), 0) != SHMC_OK) failed++;
    }
    CHECK(failed == 0);
}

static size_t verify_here(shmc_t *c, const char *prefix, uint64_t gen)
{
    return mp_verify(c, "parent", prefix, 0, NKEYS, 1, gen, MAXLEN);
}

static void two_processes_two_addresses(const char *path)
{
    shmc_config cfg = t_config(16 << 20, 64 << 10);
    shmc_t *c = t_open(path, &cfg);
    if (!c) return;

    uintptr_t addr = 0;
    size_t len = 0;
    int mappings = mp_find_mapping(0, path, &addr, &len);
    CHECK(mappings >= 1);
    printf("parent: cache mapped at %#lx (%zu bytes, %d mapping(s))\n", (unsigned long)addr, len,
           mappings);
    set_here(c, "parent", 1);

    char arg_addr[32], arg_len[32];
    snprintf(arg_addr, sizeof arg_addr, "%lx", (unsigned long)addr);
    snprintf(arg_len, sizeof arg_len, "%zu", len);
    char *argv[] = {"mp_mapper", (char *)path, arg_addr, arg_len, NULL};
    mp_child ch;
    if (mp_spawn(&ch, MAPPER_PROG, argv) != 0) {
        perror("spawn " MAPPER_PROG);
        CHECK(0);
        shmc_close(c);
        return;
    }

    char line[256];
    unsigned long child_addr = 0;
    int child_mappings = 0;
    CHECK(mp_read_line(&ch, line, sizeof line, 60) > 0);
    CHECK(sscanf(line, "addr=%lx mappings=%d", &child_addr, &child_mappings) == 2);
    printf("child:  cache mapped at %#lx (%d mapping(s))\n", child_addr, child_mappings);
    CHECK(child_mappings >= 1);
    CHECK(child_addr != 0 && child_addr != addr);

    /* The child's own view agrees with what the kernel shows us of it. */
    uintptr_t seen = 0;
    size_t seen_len = 0;
    CHECK(mp_find_mapping(ch.pid, path, &seen, &seen_len) >= 1);
    CHECK(seen == child_addr);

    size_t child_bad = 99;
    CHECK(mp_read_line(&ch, line, sizeof line, 60) > 0);
    CHECK(sscanf(line, "ready bad=%zu", &child_bad) == 1);
    CHECK(child_bad == 0); /* the child read the parent's 1000 values byte for byte */

    CHECK(verify_here(c, "child", 1) == 0); /* and the parent reads the child's */
    set_here(c, "parent", 2);
    mp_release(&ch); /* the child now reads the parent's second round */

    CHECK(mp_read_line(&ch, line, sizeof line, 60) > 0);
    CHECK(sscanf(line, "final bad=%zu", &child_bad) == 1);
    CHECK(child_bad == 0);
    CHECK(mp_wait(&ch, 60) == 0);

    shmc_stats_t st;
    CHECK_RC(shmc_stats(c, &st), SHMC_OK);
    CHECK(st.curr_items == 2 * NKEYS);
    shmc_close(c);
}

/* Two handles on one cache in the same process: each sees the other's writes. */
static void two_handles_one_process(const char *path)
{
    shmc_t *a = NULL, *b = NULL;
    CHECK_RC(shmc_open(&a, path, NULL), SHMC_OK);
    CHECK_RC(shmc_open(&b, path, NULL), SHMC_OK);
    if (!a || !b) {
        shmc_close(a);
        shmc_close(b);
        return;
    }
    uintptr_t addr;
    size_t len;
    printf("two handles in one process: %d mapping(s) of the file\n",
           mp_find_mapping(0, path, &addr, &len));
    CHECK(verify_here(b, "child", 1) == 0);
    CHECK(verify_here(b, "parent", 2) == 0);
    set_here(b, "second", 1);
    CHECK(verify_here(a, "second", 1) == 0);
    shmc_close(b);
    CHECK(verify_here(a, "second", 1) == 0); /* closing one handle leaves the other working */
    shmc_close(a);
}

int main(void)
{
    t_setup("mapping_address");
    const char *path = t_path("mapped");
    two_processes_two_addresses(path);
    two_handles_one_process(path);
    t_check_file(path);
    return t_finish();
}
