/* test_recovery.c — what the opener after an unclean end verifies, drops and keeps.
 *
 * A cache whose users all left cleanly (shmc_close, or a normal exit that never closed) opens
 * without a scrub.  A cache whose last user was killed is scrubbed at the next open: nothing
 * is dropped when nothing was damaged; items whose bytes were damaged while nobody had the
 * file open (bit rot, a stale page after a power loss) are dropped and counted in
 * damaged_dropped, and every other item is still there, byte for byte.  A power loss is
 * simulated by putting back pages of an older copy of the file: every answer must then be a
 * value that really was stored under that key, or a miss — never a mixture. */
#include "testutil.h"

#include <fcntl.h>
#include <stdbool.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "region/layout.h"

#define NKEYS 4000
#define VALUE_LEN 200

static const char *path;

static void key_of(char *out, unsigned i) { snprintf(out, 32, "key-%u", i); }

/* Value `version` of key i: its own text, repeated, so any torn mixture is visible. */
static size_t value_of(char *out, unsigned i, unsigned version)
{
    size_t n = 0;
    while (n < VALUE_LEN) n += (size_t)snprintf(out + n, VALUE_LEN + 64 - n, "<%u:v%u>", i, version);
    return VALUE_LEN;
}

static shmc_t *open_cache(void)
{
    shmc_config cfg;
    shmc_config_init(&cfg);
    cfg.memory_limit = 8u << 20;
    cfg.item_size_max = 64u << 10;
    shmc_t *c = NULL;
    shmc_rc rc = shmc_open(&c, path, &cfg);
    if (rc != SHMC_OK) fprintf(stderr, "open: %s\n", shmc_last_error());
    CHECK_RC(rc, SHMC_OK);
    return c;
}

enum leave { LEAVE_CLOSE, LEAVE_EXIT, LEAVE_KILLED };

/* In a child process: store version `version` of every key, then leave as told. */
static void write_all_in_child(unsigned version, enum leave how)
{
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        shmc_t *c = open_cache();
        if (!c) _exit(3);
        char key[32], value[VALUE_LEN + 64];
        for (unsigned i = 0; i < NKEYS; i++) {
            key_of(key, i);
            size_t n = value_of(value, i, version);
            if (shmc_set(c, key, strlen(key), value, n, i, 0) != SHMC_OK) _exit(4);
        }
        if (how == LEAVE_CLOSE) shmc_close(c);
        if (how == LEAVE_KILLED) raise(SIGKILL);
        exit(0); /* LEAVE_EXIT: a normal exit without shmc_close */
    }
    int status = 0;
    waitpid(pid, &status, 0);
    if (how == LEAVE_KILLED) CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    else CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

static shmc_stats_t stats_of(shmc_t *c)
{
    shmc_stats_t s;
    memset(&s, 0, sizeof s);
    CHECK_RC(shmc_stats(c, &s), SHMC_OK);
    return s;
}

/* Every key: a value that was stored under it (one of `versions`), or a miss.  Returns the
 * number of hits; *wrong counts answers that are neither. */
static unsigned read_all(shmc_t *c, const unsigned *versions, int nversions, unsigned *wrong)
{
    char key[32], want[VALUE_LEN + 64], buf[VALUE_LEN + 64];
    unsigned hits = 0;
    *wrong = 0;
    for (unsigned i = 0; i < NKEYS; i++) {
        key_of(key, i);
        size_t n = 0;
        uint32_t flags = 0;
        shmc_rc rc = shmc_get(c, key, strlen(key), buf, sizeof buf, &n, &flags, NULL);
        if (rc == SHMC_NOT_FOUND) continue;
        bool match = false;
        for (int v = 0; v < nversions && rc == SHMC_OK; v++) {
            size_t wn = value_of(want, i, versions[v]);
            match |= n == wn && memcmp(buf, want, n) == 0 && flags == i;
        }
        if (match) hits++;
        else (*wrong)++;
    }
    return hits;
}

static void clean_ends_skip_the_scrub(void)
{
    unlink(path);
    const unsigned v1[] = {1};
    unsigned wrong;
    write_all_in_child(1, LEAVE_CLOSE);
    shmc_t *c = open_cache();
    CHECK(stats_of(c).recovery_scrubs == 0);
    CHECK(read_all(c, v1, 1, &wrong) == NKEYS && wrong == 0);
    shmc_close(c);

    write_all_in_child(1, LEAVE_EXIT); /* exit() without shmc_close is a clean end too */
    c = open_cache();
    CHECK(stats_of(c).recovery_scrubs == 0);
    shmc_close(c);
    t_check_file(path);
}

static void a_kill_is_scrubbed_and_drops_nothing(void)
{
    unlink(path);
    const unsigned v1[] = {1};
    unsigned wrong;
    write_all_in_child(1, LEAVE_KILLED);
    shmc_t *c = open_cache();
    shmc_stats_t s = stats_of(c);
    CHECK(s.recovery_scrubs == 1);
    CHECK(s.damaged_dropped == 0);
    CHECK(read_all(c, v1, 1, &wrong) == NKEYS && wrong == 0);
    shmc_close(c);
    c = open_cache(); /* that close was clean: no second scrub */
    CHECK(stats_of(c).recovery_scrubs == 1);
    shmc_close(c);
    t_check_file(path);
}

/* The whole file, read or written in one piece. */
static unsigned char *load(size_t *size)
{
    int fd = open(path, O_RDONLY);
    struct stat st;
    CHECK(fd >= 0 && fstat(fd, &st) == 0);
    unsigned char *p = malloc((size_t)st.st_size);
    CHECK(p && pread(fd, p, (size_t)st.st_size, 0) == st.st_size);
    close(fd);
    *size = (size_t)st.st_size;
    return p;
}

static void store(const unsigned char *p, size_t size)
{
    int fd = open(path, O_WRONLY);
    CHECK(fd >= 0 && pwrite(fd, p, size, 0) == (ssize_t)size);
    close(fd);
}

static void damaged_values_are_dropped(void)
{
    unlink(path);
    const unsigned v1[] = {1};
    unsigned wrong;
    write_all_in_child(1, LEAVE_KILLED);
    size_t size;
    unsigned char *f = load(&size);
    /* damage one byte of the value of every 100th key, found by its text in the file */
    unsigned damaged = 0;
    char want[VALUE_LEN + 64];
    for (unsigned i = 0; i < NKEYS; i += 100) {
        value_of(want, i, 1);
        unsigned char *at = memmem(f, size, want, VALUE_LEN);
        CHECK(at != NULL);
        if (!at) continue;
        at[VALUE_LEN / 2] ^= 0x20;
        damaged++;
    }
    store(f, size);
    free(f);
    shmc_t *c = open_cache();
    shmc_stats_t s = stats_of(c);
    CHECK(s.recovery_scrubs == 1);
    CHECK(s.damaged_dropped == damaged);
    CHECK(s.curr_items == NKEYS - damaged);
    CHECK(read_all(c, v1, 1, &wrong) == NKEYS - damaged && wrong == 0);
    for (unsigned i = 0; i < NKEYS; i += 100) {
        char key[32];
        key_of(key, i);
        t_expect_missing_at(__FILE__, __LINE__, c, key);
    }
    printf("damaged %u values while no process had the file open: %llu dropped at open\n",
           damaged, (unsigned long long)s.damaged_dropped);
    shmc_close(c);
    t_check_file(path);
}

static void stale_pages_after_a_power_loss(void)
{
    unlink(path);
    write_all_in_child(1, LEAVE_KILLED);
    size_t old_size, size;
    unsigned char *old = load(&old_size);
    write_all_in_child(2, LEAVE_KILLED);
    unsigned char *f = load(&size);
    CHECK(old_size == size);
    header_t h;
    memcpy(&h, f, sizeof h);
    /* every 8th page of the item area never reached the disk: it holds what it held before */
    size_t pages = 0;
    for (size_t off = h.off_data + 4096; off + 4096 <= size; off += 8 * 4096) {
        memcpy(f + off, old + off, 4096);
        pages++;
    }
    store(f, size);
    free(old);
    free(f);
    shmc_t *c = open_cache();
    shmc_stats_t s = stats_of(c);
    const unsigned both[] = {1, 2};
    unsigned wrong;
    unsigned hits = read_all(c, both, 2, &wrong);
    CHECK(s.recovery_scrubs == 2); /* one by the second writer, after the first was killed */
    CHECK(wrong == 0);
    CHECK(s.damaged_dropped > 0);
    CHECK(hits > 0 && hits < NKEYS);
    printf("power loss: %zu stale pages; %llu entries dropped, %u of %u keys still served, "
           "%u wrong answers\n", pages, (unsigned long long)s.damaged_dropped, hits, NKEYS, wrong);
    shmc_close(c);
    t_check_file(path);
}

int main(void)
{
    t_setup("recovery");
    path = t_path("cache");
    clean_ends_skip_the_scrub();
    a_kill_is_scrubbed_and_drops_nothing();
    damaged_values_are_dropped();
    stale_pages_after_a_power_loss();
    unlink(path);
    return t_finish();
}
