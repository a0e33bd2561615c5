/* test_huge_pages.c — the cache maps with 2 MiB pages where its filesystem holds them, and
 * shmc_mapping_stats says how much of the mapping is huge.
 *
 * Anywhere: the mapping starts on a 2 MiB boundary (so the kernel can map it with huge pages)
 * and shmc_mapping_stats reports its length and refuses bad arguments.  In a private mount
 * namespace (made by this test; needs root): on tmpfs mounted huge=always and huge=within_size,
 * a cache written all over is mostly huge-mapped; on hugetlbfs (when 2 MiB pages can be
 * reserved: the test raises /proc/sys/vm/nr_hugepages and puts it back) the file is whole huge
 * pages, opens again, passes the checker, and is all huge-mapped.  A case that cannot run here
 * prints why it was skipped. */
#include "testutil.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdint.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/wait.h>

#define MIB (1024u * 1024u)
#define HUGE_PAGE (2u * MIB)

/* Where this process maps path (the first mapping of it in /proc/self/maps); 0 if none. */
static uintptr_t mapping_start(const char *path)
{
    FILE *f = fopen("/proc/self/maps", "r");
    if (!f) return 0;
    char line[1024];
    uintptr_t at = 0;
    while (!at && fgets(line, sizeof line, f)) {
        unsigned long start;
        char *name = strchr(line, '/');
        if (name && sscanf(line, "%lx-", &start) == 1 && strncmp(name, path, strlen(path)) == 0 &&
            (name[strlen(path)] == '\n' || name[strlen(path)] == ' '))
            at = start;
    }
    fclose(f);
    return at;
}

static shmc_t *open_cache(const char *path, uint64_t memory)
{
    shmc_config cfg;
    shmc_config_init(&cfg);
    cfg.memory_limit = memory;
    cfg.item_size_max = 64u << 10;
    shmc_t *c = NULL;
    shmc_rc rc = shmc_open(&c, path, &cfg);
    if (rc != SHMC_OK) fprintf(stderr, "open %s: %s (%s)\n", path, shmc_strerror(rc), shmc_last_error());
    return c;
}

/* Write values over the whole cache (past its limit, so every segment is used), read them. */
static void write_all_over(shmc_t *c, uint64_t memory)
{
    static char value[4000];
    memset(value, 'h', sizeof value);
    char key[32];
    uint64_t n = 2 * memory / sizeof value, failed = 0;
    for (uint64_t i = 0; i < n; i++) {
        int nk = snprintf(key, sizeof key, "huge-%llu", (unsigned long long)i);
        if (shmc_set(c, key, (size_t)nk, value, sizeof value, 0, 0) != SHMC_OK) failed++;
    }
    CHECK(failed == 0);
    size_t got;
    for (uint64_t i = 0; i < n; i++) {
        int nk = snprintf(key, sizeof key, "huge-%llu", (unsigned long long)i);
        (void)shmc_get(c, key, (size_t)nk, value, sizeof value, &got, NULL, NULL);
    }
}

/* ---- anywhere ---- */

static void aligned_and_reported(void)
{
    const char *path = t_path("plain");
    shmc_t *c = open_cache(path, 16 * MIB);
    CHECK(c != NULL);
    if (!c) return;
    uintptr_t at = mapping_start(path);
    printf("16 MiB cache mapped at %#lx\n", (unsigned long)at);
    CHECK(at != 0 && at % HUGE_PAGE == 0);
    struct stat st;
    CHECK(stat(path, &st) == 0);
    shmc_mapping_t m = {0, 0};
    CHECK_RC(shmc_mapping_stats(c, &m), SHMC_OK);
    CHECK(m.mapped_bytes == (uint64_t)st.st_size);
    CHECK(m.huge_bytes <= m.mapped_bytes);
    CHECK_RC(shmc_mapping_stats(c, NULL), SHMC_INVALID);
    CHECK_RC(shmc_mapping_stats(NULL, &m), SHMC_INVALID);
    /* a second handle in the same process maps the file again, also aligned */
    shmc_t *c2 = open_cache(path, 16 * MIB);
    CHECK(c2 != NULL);
    if (c2) {
        shmc_mapping_t m2;
        CHECK_RC(shmc_mapping_stats(c2, &m2), SHMC_OK);
        CHECK(m2.mapped_bytes == m.mapped_bytes);
        shmc_close(c2);
    }
    shmc_close(c);
    t_check_file(path);
    unlink(path);
}

/* ---- in the private mount namespace ---- */

#define SHMC_CLI SHMC_BUILD_DIR "/tools/shmc"

/* `shmc stats` maps the whole file and says how much of it is huge. */
static void cli_reports_huge(const char *path)
{
    if (access(SHMC_CLI, X_OK) != 0) { /* e.g. in the QEMU suite's guest: the tests only */
        printf("SKIPPED shmc stats: %s is not here\n", SHMC_CLI);
        return;
    }
    char cmd[1024], line[256];
    snprintf(cmd, sizeof cmd, "'%s' stats '%s'", SHMC_CLI, path);
    FILE *p = popen(cmd, "r");
    CHECK(p != NULL);
    if (!p) return;
    unsigned long long mapped = 0, huge = 0;
    while (fgets(line, sizeof line, p)) {
        sscanf(line, "mapping_bytes %llu", &mapped);
        sscanf(line, "huge_mapped_bytes %llu", &huge);
    }
    CHECK(pclose(p) == 0);
    printf("shmc stats: huge_mapped_bytes %llu of mapping_bytes %llu\n", huge, mapped);
    CHECK(mapped > 0 && huge >= mapped / HUGE_PAGE * HUGE_PAGE * 3 / 4);
}

static void on_tmpfs(const char *dir, const char *huge)
{
    char opts[64];
    snprintf(opts, sizeof opts, "size=256m,mode=0700,huge=%s", huge);
    if (mount("shmc-test-huge", dir, "tmpfs", 0, opts) != 0) {
        printf("SKIPPED tmpfs huge=%s: mount: %s\n", huge, strerror(errno));
        return;
    }
    char path[512];
    snprintf(path, sizeof path, "%s/cache", dir);
    uint64_t memory = 64 * MIB;
    shmc_t *c = open_cache(path, memory);
    CHECK(c != NULL);
    if (c) {
        write_all_over(c, memory);
        shmc_mapping_t m = {0, 0};
        CHECK_RC(shmc_mapping_stats(c, &m), SHMC_OK);
        printf("tmpfs huge=%s: %llu of %llu bytes huge-mapped (%.0f%%)\n", huge,
               (unsigned long long)m.huge_bytes, (unsigned long long)m.mapped_bytes,
               m.mapped_bytes ? 100.0 * (double)m.huge_bytes / (double)m.mapped_bytes : 0.0);
        /* every whole 2 MiB page of the file can be: all but the last, partial one */
        CHECK(m.huge_bytes >= m.mapped_bytes / HUGE_PAGE * HUGE_PAGE * 3 / 4);
        shmc_close(c);
        t_check_file(path);
        cli_reports_huge(path);
    }
    unlink(path);
    CHECK(umount(dir) == 0);
}

static long read_long(const char *file)
{
    FILE *f = fopen(file, "r");
    long v = -1;
    if (f) {
        if (fscanf(f, "%ld", &v) != 1) v = -1;
        fclose(f);
    }
    return v;
}

static int write_long(const char *file, long v)
{
    FILE *f = fopen(file, "w");
    if (!f) return -1;
    int rc = fprintf(f, "%ld\n", v) > 0 ? 0 : -1;
    if (fclose(f) != 0) rc = -1;
    return rc;
}

static long meminfo(const char *field)
{
    FILE *f = fopen("/proc/meminfo", "r");
    if (!f) return -1;
    char line[256];
    long v = -1;
    size_t n = strlen(field);
    while (fgets(line, sizeof line, f))
        if (strncmp(line, field, n) == 0 && line[n] == ':') v = strtol(line + n + 1, NULL, 10);
    fclose(f);
    return v;
}

static void on_hugetlbfs(const char *dir, long pages)
{
    if (meminfo("HugePages_Free") < pages || meminfo("Hugepagesize") != 2048) {
        printf("SKIPPED hugetlbfs: %ld free 2 MiB pages, %ld kB pages (need %ld of 2048 kB)\n",
               meminfo("HugePages_Free"), meminfo("Hugepagesize"), pages);
        return;
    }
    if (mount("shmc-test-hugetlb", dir, "hugetlbfs", 0, "pagesize=2M,mode=0700") != 0) {
        printf("SKIPPED hugetlbfs: mount: %s\n", strerror(errno));
        return;
    }
    char path[512];
    snprintf(path, sizeof path, "%s/cache", dir);
    uint64_t memory = 16 * MIB;
    shmc_t *c = open_cache(path, memory);
    CHECK(c != NULL);
    if (c) {
        struct stat st;
        CHECK(stat(path, &st) == 0 && st.st_size % HUGE_PAGE == 0);
        write_all_over(c, memory);
        shmc_mapping_t m = {0, 0};
        CHECK_RC(shmc_mapping_stats(c, &m), SHMC_OK);
        printf("hugetlbfs: a %lld-byte file, %llu of %llu bytes huge-mapped\n", (long long)st.st_size,
               (unsigned long long)m.huge_bytes, (unsigned long long)m.mapped_bytes);
        CHECK(m.mapped_bytes == (uint64_t)st.st_size);
        CHECK(m.huge_bytes == m.mapped_bytes);
        /* a second opener validates the rounded file and sees the first one's items */
        shmc_t *c2 = open_cache(path, memory);
        CHECK(c2 != NULL);
        if (c2) {
            char v[8];
            size_t n = 0;
            CHECK_RC(shmc_set(c2, "k", 1, "v", 1, 0, 0), SHMC_OK);
            CHECK_RC(shmc_get(c, "k", 1, v, sizeof v, &n, NULL, NULL), SHMC_OK);
            shmc_close(c2);
        }
        shmc_close(c);
        t_check_file(path);
        /* and a lone opener (recovery, the stats of a closed cache) works on it too */
        c = open_cache(path, 0);
        CHECK(c != NULL);
        if (c) shmc_close(c);
    }
    unlink(path);
    CHECK(umount(dir) == 0);
}

/* In a child: the private namespace's cases.  Exit status: failures, or 0 when skipped. */
static int in_namespace(const char *dir, long hugetlb_pages)
{
    if (unshare(CLONE_NEWNS) != 0) {
        printf("SKIPPED the tmpfs and hugetlbfs cases: unshare(CLONE_NEWNS): %s (needs root "
               "or CAP_SYS_ADMIN)\n", strerror(errno));
        return 0;
    }
    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0) {
        printf("SKIPPED the tmpfs and hugetlbfs cases: making mounts private: %s\n", strerror(errno));
        return 0;
    }
    on_tmpfs(dir, "always");
    on_tmpfs(dir, "within_size");
    if (hugetlb_pages > 0) on_hugetlbfs(dir, hugetlb_pages);
    printf("namespace cases: %d passed, %d failed\n", t_passed, t_failed);
    return t_failed ? 1 : 0;
}

#define NR_HUGEPAGES "/proc/sys/vm/nr_hugepages"
#define HUGETLB_PAGES 16 /* a 16 MiB cache: 9 pages of 2 MiB, and room to spare */

int main(void)
{
    t_setup("huge");
    aligned_and_reported();
    const char *dir = t_path("mnt");
    mkdir(dir, 0700);

    /* hugetlbfs needs pages reserved host-wide: raise the count for this test only, under
     * a lock so that two runs of it never restore each other's value */
    long before = -1, pages = 0;
    int lock = open("/dev/shm/shmc-test-huge.lock", O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (geteuid() != 0) {
        printf("SKIPPED hugetlbfs: not root (reserving huge pages needs it)\n");
    } else if (lock < 0 || flock(lock, LOCK_EX) != 0) {
        printf("SKIPPED hugetlbfs: lock: %s\n", strerror(errno));
    } else if ((before = read_long(NR_HUGEPAGES)) < 0 ||
               write_long(NR_HUGEPAGES, before + HUGETLB_PAGES) != 0) {
        printf("SKIPPED hugetlbfs: cannot raise %s: %s\n", NR_HUGEPAGES, strerror(errno));
        before = -1;
    } else {
        pages = HUGETLB_PAGES;
    }
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        int rc = in_namespace(dir, pages);
        fflush(stdout);
        _exit(rc);
    }
    int st = 0;
    CHECK(pid > 0 && waitpid(pid, &st, 0) == pid);
    if (WIFSIGNALED(st)) fprintf(stderr, "FAIL the namespace cases died of signal %d\n", WTERMSIG(st));
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    if (before >= 0) {
        CHECK(write_long(NR_HUGEPAGES, before) == 0);
        CHECK(read_long(NR_HUGEPAGES) == before);
    }
    if (lock >= 0) close(lock);
    rmdir(dir); /* the mounts went with the child's namespace */
    return t_finish();
}
