/* test_multiprocess.c — separate programs (fork+exec of tests/progs/mp_kv) open one cache by
 * path and see each other's writes byte for byte: one process sets 10k keys and three others
 * verify them; writes go child -> parent and parent -> child, deletes too; four writers fill
 * disjoint key sets at the same instant; 61k keys go into a cache created with a small
 * hash index while another process holds it open. */
#include "testutil.h"

#include <stdarg.h>
#include "progs/mp_common.h"

#define KV_PROG SHMC_TEST_PROGS "/mp_kv"

/* Start mp_kv with the space-separated arguments `args`. */
static int start_kv(mp_child *ch, const char *args)
{
    char copy[1024];
    char *argv[40];
    int n = 0;
    snprintf(copy, sizeof copy, "%s", args);
    argv[n++] = "mp_kv";
    char *save = NULL;
    for (char *tok = strtok_r(copy, " ", &save); tok && n < 39; tok = strtok_r(NULL, " ", &save))
        argv[n++] = tok;
    argv[n] = NULL;
    if (mp_spawn(ch, KV_PROG, argv) != 0) {
        perror("spawn " KV_PROG);
        return -1;
    }
    return 0;
}

/* Wait for a started mp_kv; print its result line; return its exit code. */
static int finish_kv(mp_child *ch, const char *what)
{
    char line[512];
    if (mp_read_line(ch, line, sizeof line, 60) < 0) line[0] = '\0';
    int code = mp_wait(ch, 60);
    printf("  mp_kv %s\n      -> %s (exit %d)\n", what, line, code);
    return code;
}

static int run_kv(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int run_kv(const char *fmt, ...)
{
    char args[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(args, sizeof args, fmt, ap);
    va_end(ap);
    mp_child ch;
    if (start_kv(&ch, args) != 0) return -1;
    mp_release(&ch);
    return finish_kv(&ch, args);
}

/* Check keys prefix:first..first+count-1 of generation gen from this process.
 * Returns the number of keys that were missing or differed. */
static size_t verify_here(shmc_t *c, const char *prefix, uint64_t first, uint64_t count,
                          uint64_t gen, size_t maxlen)
{
    return mp_verify(c, "parent", prefix, first, count, 1, gen, maxlen);
}

static size_t count_present(shmc_t *c, const char *prefix, uint64_t first, uint64_t count)
{
    size_t present = 0, nvalue;
    char key[300];
    for (uint64_t i = first; i < first + count; i++) {
        size_t nkey = mp_key(key, sizeof key, prefix, i);
        if (shmc_get(c, key, nkey, NULL, 0, &nvalue, NULL, NULL) != SHMC_NOT_FOUND) present++;
    }
    return present;
}

static void set_here(shmc_t *c, const char *prefix, uint64_t first, uint64_t count, uint64_t gen,
                     size_t maxlen)
{
    unsigned char *v = malloc(maxlen + 1);
    char key[300];
    size_t failed = 0;
    for (uint64_t i = first; i < first + count; i++) {
        size_t nkey = mp_key(key, sizeof key, prefix, i);
        size_t n = mp_value(v, maxlen, prefix, i, gen);
        if (shmc_set(c, key, nkey, v, n, mp_flags(prefix, i, gen), 0) != SHMC_OK) failed++;
    }
    CHECK(failed == 0);
    free(v);
}

static shmc_t *open_small(const char *path, size_t mib)
{
    shmc_config cfg = t_config(mib << 20, 64 << 10);
    shmc_t *c = t_open(path, &cfg);
    return c;
}

/* One process sets 10k keys; three others, started at the same instant, verify them all. */
static void one_writer_three_readers(void)
{
    printf("one writer, three readers\n");
    const char *path = t_path("one-writer");
    shmc_t *c = open_small(path, 32);
    if (!c) return;

    CHECK(run_kv("set %s --prefix w --count 10000 --maxlen 2000", path) == 0);

    mp_child readers[3];
    int started = 0;
    for (int r = 0; r < 3; r++) {
        char args[512];
        snprintf(args, sizeof args, "verify %s --prefix w --count 10000 --maxlen 2000 --gate",
                 path);
        if (start_kv(&readers[r], args) == 0) started++;
    }
    CHECK(started == 3);
    for (int r = 0; r < started; r++) mp_release(&readers[r]);
    for (int r = 0; r < started; r++) CHECK(finish_kv(&readers[r], "verify (reader)") == 0);

    CHECK(verify_here(c, "w", 0, 10000, 1, 2000) == 0);
    shmc_stats_t st;
    CHECK_RC(shmc_stats(c, &st), SHMC_OK);
    CHECK(st.curr_items == 10000);
    CHECK(st.evictions == 0);
    CHECK(st.get_hits >= 4 * 10000);
    shmc_close(c);
    t_check_file(path);
}

/* Writes, overwrites and deletes go both ways while the parent keeps its handle open. */
static void both_directions(void)
{
    printf("parent <-> child\n");
    const char *path = t_path("both");
    shmc_t *c = open_small(path, 16);
    if (!c) return;

    set_here(c, "p", 0, 1000, 1, 3000);
    CHECK(run_kv("verify %s --prefix p --count 1000 --maxlen 3000", path) == 0);

    CHECK(run_kv("set %s --prefix c --count 1000 --gen 7 --maxlen 3000", path) == 0);
    CHECK(verify_here(c, "c", 0, 1000, 7, 3000) == 0);

    /* The child overwrites half of the parent's keys. */
    CHECK(run_kv("set %s --prefix p --first 0 --count 500 --gen 2 --maxlen 3000", path) == 0);
    CHECK(verify_here(c, "p", 0, 500, 2, 3000) == 0);
    CHECK(verify_here(c, "p", 500, 500, 1, 3000) == 0);

    /* The parent overwrites some back and deletes others; the child sees both. */
    set_here(c, "p", 0, 100, 3, 3000);
    CHECK(run_kv("verify %s --prefix p --first 0 --count 100 --gen 3 --maxlen 3000", path) == 0);
    char key[64];
    size_t deleted_ok = 0;
    for (int i = 100; i < 350; i++) {
        size_t n = mp_key(key, sizeof key, "p", (uint64_t)i);
        if (shmc_delete(c, key, n) == SHMC_OK) deleted_ok++;
    }
    CHECK(deleted_ok == 250);
    CHECK(run_kv("absent %s --prefix p --first 100 --count 250", path) == 0);
    CHECK(run_kv("verify %s --prefix p --first 350 --count 150 --gen 2 --maxlen 3000", path) == 0);

    /* A child deletes the child's keys; the parent sees them gone. */
    CHECK(run_kv("delete %s --prefix c --first 0 --count 400", path) == 0);
    CHECK(count_present(c, "c", 0, 400) == 0);
    CHECK(verify_here(c, "c", 400, 600, 7, 3000) == 0);

    shmc_stats_t st;
    CHECK_RC(shmc_stats(c, &st), SHMC_OK);
    CHECK(st.curr_items == 1000 - 250 + 600);
    CHECK(st.delete_hits == 250 + 400);
    shmc_close(c);
    t_check_file(path);
}

/* Four writers, released at once, each fill their own 5000 keys. */
static void concurrent_disjoint_writers(void)
{
    printf("four concurrent writers, disjoint keys\n");
    const char *path = t_path("disjoint");
    shmc_t *c = open_small(path, 64);
    if (!c) return;

    mp_child w[4];
    int started = 0;
    for (int i = 0; i < 4; i++) {
        char args[512];
        snprintf(args, sizeof args, "set %s --prefix d%d --count 5000 --maxlen 1500 --gate",
                 path, i);
        if (start_kv(&w[i], args) == 0) started++;
    }
    CHECK(started == 4);
    for (int i = 0; i < started; i++) mp_release(&w[i]);
    for (int i = 0; i < started; i++) CHECK(finish_kv(&w[i], "set (concurrent writer)") == 0);

    for (int i = 0; i < 4; i++) {
        char prefix[8];
        snprintf(prefix, sizeof prefix, "d%d", i);
        CHECK(verify_here(c, prefix, 0, 5000, 1, 1500) == 0);
        CHECK(run_kv("verify %s --prefix %s --count 5000 --maxlen 1500", path, prefix) == 0);
    }
    shmc_stats_t st;
    CHECK_RC(shmc_stats(c, &st), SHMC_OK);
    CHECK(st.curr_items == 20000);
    CHECK(st.total_items == 20000);
    shmc_close(c);
    t_check_file(path);
}

/* A cache created with a tiny hash index (4096 buckets): a child stores 59k keys while the
 * parent is attached; the parent then finds every key, and a later child every new one. */
static void small_index_many_keys(void)
{
    printf("61k keys in a 4096-bucket hash index, parent attached throughout\n");
    const char *path = t_path("grow");
    shmc_config cfg = t_config(64 << 20, 64 << 10);
    cfg.hash_power = 12;
    shmc_t *c = t_open(path, &cfg);
    if (!c) return;
    shmc_stats_t before, after;
    CHECK_RC(shmc_stats(c, &before), SHMC_OK);
    set_here(c, "g", 0, 1000, 1, 100);

    CHECK(run_kv("set %s --prefix g --first 1000 --count 59000 --maxlen 100", path) == 0);
    CHECK(verify_here(c, "g", 0, 60000, 1, 100) == 0);
    set_here(c, "h", 0, 1000, 1, 100);
    CHECK(run_kv("verify %s --prefix h --count 1000 --maxlen 100", path) == 0);

    CHECK_RC(shmc_stats(c, &after), SHMC_OK);
    printf("  hash buckets: %llu at creation, %llu after 61k items\n",
           (unsigned long long)before.hash_buckets, (unsigned long long)after.hash_buckets);
    CHECK(before.hash_buckets == 4096);
    CHECK(after.curr_items == 61000);
    shmc_close(c);
    t_check_file(path);
}

int main(void)
{
    t_setup("multiprocess");
    one_writer_three_readers();
    both_directions();
    concurrent_disjoint_writers();
    small_index_many_keys();
    return t_finish();
}
