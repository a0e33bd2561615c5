/* test_header_race.c — a cache file whose header changes between its check and its mapping
 * (another process writing it at that instant) is refused with a clear error, never used:
 * the region's pointers and sizes come from the validated private copy of the header, and
 * the mapped header must equal it.  The change is made at the exact instant by a wrapper of
 * the library's mmap (linked with -Wl,--wrap=mmap, tests/CMakeLists.txt, so sanitizers'
 * own mmap stays theirs): armed, it rewrites the file's header first, then maps.  Both opens are covered: the checker's read-only one (a
 * hostile header that would send it past the mapping) and shmc_open's (a header that is
 * valid but another: a new hash seed, which would misfile every key). */
#include "testutil.h"

#include <fcntl.h>
#include <stddef.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "region/layout.h"

static int arm_prot = -1;    /* the next mapping of the file with this prot rewrites it */
static int arm_fd = -1;      /* a writable descriptor of the file */
static header_t arm_header;  /* what the header becomes */
static int fired;

static int same_file(int a, int b)
{
    struct stat x, y;
    return fstat(a, &x) == 0 && fstat(b, &y) == 0 && x.st_ino == y.st_ino && x.st_dev == y.st_dev;
}

void *__real_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off);
void *__wrap_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off);

void *__wrap_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
    if (arm_prot >= 0 && prot == arm_prot && fd >= 0 && same_file(fd, arm_fd)) {
        arm_prot = -1;
        fired = pwrite(arm_fd, &arm_header, sizeof arm_header, 0) == (ssize_t)sizeof arm_header;
    }
    return __real_mmap(addr, len, prot, flags, fd, off);
}

static header_t read_header(const char *path)
{
    header_t h;
    memset(&h, 0, sizeof h);
    int fd = open(path, O_RDONLY);
    if (fd < 0 || pread(fd, &h, sizeof h, 0) != (ssize_t)sizeof h) t_failed++;
    if (fd >= 0) close(fd);
    return h;
}

static void arm(const char *path, int prot, const header_t *h)
{
    if (arm_fd >= 0) close(arm_fd);
    arm_fd = open(path, O_RDWR);
    CHECK(arm_fd >= 0);
    arm_header = *h;
    arm_prot = prot;
    fired = 0;
}

static void restore(const char *path, const header_t *h)
{
    int fd = open(path, O_RDWR);
    CHECK(fd >= 0 && pwrite(fd, h, sizeof *h, 0) == (ssize_t)sizeof *h);
    if (fd >= 0) close(fd);
}

int main(void)
{
    t_setup("header_race");
    const char *path = t_path("race");
    shmc_config cfg;
    shmc_config_init(&cfg);
    cfg.memory_limit = 4u << 20;
    cfg.protect = SHMC_PROTECT_NONE;
    shmc_t *c = NULL;
    CHECK_RC(shmc_open(&c, path, &cfg), SHMC_OK);
    if (!c) return t_finish();
    for (int i = 0; i < 100; i++) {
        char k[16];
        snprintf(k, sizeof k, "k%d", i);
        CHECK_RC(shmc_set(c, k, strlen(k), "value", 5, 0, 0), SHMC_OK);
    }
    shmc_close(c);
    header_t good = read_header(path);

    /* the checker: the header turns hostile (its checksum fixed) between check and map */
    header_t bad = good;
    bad.nsegments = 1u << 30;
    bad.off_buckets = bad.file_size * 64;
    bad.hash_power = 36;
    bad.check = layout_checksum(&bad);
    arm(path, PROT_READ, &bad);
    size_t violations = 12345;
    CHECK_RC(shmc_check(path, NULL, &violations), SHMC_BAD_FILE);
    CHECK(fired && violations == 12345);
    CHECK(strstr(shmc_last_error(), "changed while it was being opened") != NULL);
    printf("checker: %s\n", shmc_last_error());
    restore(path, &good);
    CHECK_RC(shmc_check(path, NULL, &violations), SHMC_OK);
    CHECK(violations == 0);

    /* shmc_open: a valid header of another cache (new seed) between check and map */
    header_t other = good;
    other.hash_seed ^= 0x5a5a5a5a5a5a5a5aull;
    other.check = layout_checksum(&other);
    arm(path, PROT_READ | PROT_WRITE, &other);
    c = NULL;
    CHECK_RC(shmc_open(&c, path, &cfg), SHMC_BAD_FILE);
    CHECK(fired && c == NULL);
    CHECK(strstr(shmc_last_error(), "changed while it was being opened") != NULL);
    printf("open: %s\n", shmc_last_error());
    restore(path, &good);

    /* unarmed, the cache is intact: every key is still there */
    CHECK_RC(shmc_open(&c, path, &cfg), SHMC_OK);
    if (c) {
        int found = 0;
        for (int i = 0; i < 100; i++) {
            char k[16], v[16];
            size_t n;
            snprintf(k, sizeof k, "k%d", i);
            found += shmc_get(c, k, strlen(k), v, sizeof v, &n, NULL, NULL) == SHMC_OK;
        }
        CHECK(found == 100);
        shmc_close(c);
    }
    t_check_file(path);
    if (arm_fd >= 0) close(arm_fd);
    return t_finish();
}
