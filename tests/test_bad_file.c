/* test_bad_file.c — files that are not (or no longer) a good cache.  shmc_open must refuse
 * each with a clear error (SHMC_BAD_FILE, SHMC_SYSTEM or SHMC_INVALID as shmc.h documents),
 * set shmc_last_error(), never crash or hang, and leave the file byte-for-byte as it was:
 * empty and random files, truncated and extended caches, a flipped magic, another layout
 * version, every header byte flipped, directories, missing directories, unreadable files,
 * a mismatched configuration.  Then random bytes flipped in a valid cache's data and metadata
 * areas must never crash or hang later gets and sets, nor the checker. */
#include "testutil.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/wait.h>

#include "region/layout.h"
#include "store/index.h"

static shmc_config small_cfg;

/* ---- file helpers ---- */

static int write_file(const char *path, const void *data, size_t n)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0) return -1;
    const unsigned char *p = data;
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w <= 0) {
            close(fd);
            return -1;
        }
        p += w;
        n -= (size_t)w;
    }
    close(fd);
    return 0;
}

static unsigned char *read_file(const char *path, size_t *n)
{
    int fd = open(path, O_RDONLY);
    if (fd < 0) return NULL;
    struct stat st;
    fstat(fd, &st);
    unsigned char *buf = malloc((size_t)st.st_size + 1);
    size_t got = 0;
    while (got < (size_t)st.st_size) {
        ssize_t r = read(fd, buf + got, (size_t)st.st_size - got);
        if (r <= 0) break;
        got += (size_t)r;
    }
    close(fd);
    *n = got;
    return buf;
}

/* FNV-1a of the contents, mixed with size and mode: "byte-for-byte unchanged". */
static uint64_t file_digest(const char *path)
{
    struct stat st;
    if (stat(path, &st) != 0) return 0;
    size_t n = 0;
    unsigned char *b = read_file(path, &n);
    uint64_t h = 0xcbf29ce484222325ull;
    size_t i = 0;
    for (; b && i + 8 <= n; i += 8) {
        uint64_t w;
        memcpy(&w, b + i, 8);
        h = (h ^ w) * 0x100000001b3ull;
        h ^= h >> 29;
    }
    for (; b && i < n; i++) h = (h ^ b[i]) * 0x100000001b3ull;
    free(b);
    return h ^ ((uint64_t)st.st_size << 1) ^ ((uint64_t)st.st_mode << 40);
}

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static uint64_t rng(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

static void fill_random(unsigned char *p, size_t n)
{
    for (size_t i = 0; i < n; i++) p[i] = (unsigned char)rng();
}

/* Open must fail with `want` (or one of two), say why, and leave the file alone. */
static void expect_refused_at(int line, const char *path, const shmc_config *cfg, shmc_rc want,
                              shmc_rc also_ok, const char *what)
{
    uint64_t before = file_digest(path);
    shmc_t *c = NULL;
    shmc_rc rc = shmc_open(&c, path, cfg);
    if (rc == want || rc == also_ok) {
        t_passed++;
    } else {
        t_failed++;
        fprintf(stderr, "FAIL %s:%d: open of %s -> %s, want %s\n", __FILE__, line, what,
                shmc_strerror(rc), shmc_strerror(want));
    }
    const char *msg = shmc_last_error();
    if (msg && msg[0]) {
        t_passed++;
    } else {
        t_failed++;
        fprintf(stderr, "FAIL %s:%d: open of %s left shmc_last_error() empty\n", __FILE__, line,
                what);
    }
    if (c) {
        t_failed++;
        fprintf(stderr, "FAIL %s:%d: open of %s returned a handle\n", __FILE__, line, what);
        shmc_close(c);
    }
    if (file_digest(path) == before) {
        t_passed++;
    } else {
        t_failed++;
        fprintf(stderr, "FAIL %s:%d: open of %s changed the file\n", __FILE__, line, what);
    }
}
#define REFUSED(path, want, what) expect_refused_at(__LINE__, path, NULL, want, want, what)

/* ---- a valid cache to damage ---- */

static unsigned char *good;
static size_t good_size;

static void make_good_cache(void)
{
    const char *p = t_path("good");
    shmc_t *c = NULL;
    CHECK_RC(shmc_open(&c, p, &small_cfg), SHMC_OK);
    if (!c) return;
    char *v = malloc(small_cfg.item_size_max);
    memset(v, 'v', small_cfg.item_size_max);
    /* more than fits, so that segments are full and some were evicted */
    for (int i = 0; i < 6000; i++) {
        char k[32];
        int nk = snprintf(k, sizeof k, "key:%d", i);
        size_t nv = i % 500 == 0 ? small_cfg.item_size_max : (size_t)(i % 300);
        shmc_set(c, k, (size_t)nk, v, nv, (uint32_t)i, i % 7 == 0 ? 1000 : 0);
    }
    for (int i = 0; i < 100; i++) {
        char k[32];
        int nk = snprintf(k, sizeof k, "num:%d", i);
        shmc_set(c, k, (size_t)nk, "12345", 5, 0, 0);
    }
    for (int i = 0; i < 6000; i += 3) {
        char k[32];
        int nk = snprintf(k, sizeof k, "key:%d", i);
        shmc_delete(c, k, (size_t)nk);
    }
    free(v);
    shmc_close(c);
    t_check_file(p);
    good = read_file(p, &good_size);
    CHECK(good && good_size > LAYOUT_HEADER_BYTES);
}

/* Write a copy of the good cache, changed by `edit`, to name. */
static const char *variant(const char *name, size_t size)
{
    const char *p = t_path(name);
    unsigned char *b = malloc(size ? size : 1);
    memcpy(b, good, size < good_size ? size : good_size);
    if (size > good_size) memset(b + good_size, 0, size - good_size);
    write_file(p, b, size);
    free(b);
    return p;
}

static void patch(const char *path, size_t off, const void *bytes, size_t n)
{
    int fd = open(path, O_WRONLY);
    if (fd < 0 || pwrite(fd, bytes, n, (off_t)off) != (ssize_t)n) CHECK(!"patch failed");
    if (fd >= 0) close(fd);
}

/* Rewrite a header field and its checksum, so only the field's own validation can refuse. */
static void patch_header(const char *path, void (*edit)(header_t *))
{
    header_t h;
    memcpy(&h, good, sizeof h);
    edit(&h);
    h.check = layout_checksum(&h);
    patch(path, 0, &h, sizeof h);
}

static void bump_version(header_t *h) { h->version = LAYOUT_VERSION + 1; }
static void old_version(header_t *h) { h->version = 0; }
static void other_magic(header_t *h) { h->magic = 0x4548434143484d54ull; }
static void grow_memory(header_t *h) { h->memory_limit *= 2; }
static void bad_offsets(header_t *h) { h->off_data -= 4096; }
static void huge_size(header_t *h) { h->file_size = UINT64_MAX - 4095; }
static void zero_segments(header_t *h) { h->nsegments = 0; }
static void huge_item(header_t *h) { h->item_size_max = UINT64_MAX; }
static void hash_power_63(header_t *h) { h->hash_power = 63; }

/* ---- refused files ---- */

static void test_not_caches(void)
{
    write_file(t_path("empty"), "", 0);
    REFUSED(t_path("empty"), SHMC_BAD_FILE, "a 0-byte file");

    static const size_t sizes[] = {1, 10, 4096, 4097, 65536, 8u << 20};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        unsigned char *b = malloc(sizes[i]);
        fill_random(b, sizes[i]);
        char name[32], what[64];
        snprintf(name, sizeof name, "random-%zu", sizes[i]);
        snprintf(what, sizeof what, "%zu random bytes", sizes[i]);
        write_file(t_path(name), b, sizes[i]);
        REFUSED(t_path(name), SHMC_BAD_FILE, what);
        /* random bytes behind a correct magic and version */
        if (sizes[i] >= 16) {
            uint64_t magic = LAYOUT_MAGIC;
            uint32_t version = LAYOUT_VERSION;
            memcpy(b, &magic, 8);
            memcpy(b + 8, &version, 4);
            write_file(t_path(name), b, sizes[i]);
            snprintf(what, sizeof what, "%zu random bytes behind the magic", sizes[i]);
            REFUSED(t_path(name), SHMC_BAD_FILE, what);
        }
        free(b);
    }
    /* a text file, and a file of zeros as large as a real cache */
    static const char text[] = "this is not a cache\n";
    write_file(t_path("text"), text, sizeof text - 1);
    REFUSED(t_path("text"), SHMC_BAD_FILE, "a text file");
    if (good) {
        unsigned char *z = calloc(1, good_size);
        write_file(t_path("zeros"), z, good_size);
        free(z);
        REFUSED(t_path("zeros"), SHMC_BAD_FILE, "a cache-sized file of zeros");
    }
}

static void test_damaged_caches(void)
{
    if (!good) return;
    REFUSED(variant("half", good_size / 2), SHMC_BAD_FILE, "a cache truncated to half");
    REFUSED(variant("4k", 4096), SHMC_BAD_FILE, "a cache truncated to 4 KiB");
    REFUSED(variant("short1", good_size - 1), SHMC_BAD_FILE, "a cache one byte short");
    REFUSED(variant("header-only", sizeof(header_t)), SHMC_BAD_FILE, "a cache's header alone");
    REFUSED(variant("longer", good_size + 4096), SHMC_BAD_FILE, "a cache 4 KiB too long");

    const char *p = variant("magic", good_size);
    unsigned char x = good[0] ^ 0x01;
    patch(p, 0, &x, 1);
    REFUSED(p, SHMC_BAD_FILE, "a cache with its magic flipped");

    p = variant("version-raw", good_size);
    uint32_t v = LAYOUT_VERSION + 1;
    patch(p, offsetof(header_t, version), &v, sizeof v);
    REFUSED(p, SHMC_BAD_FILE, "a cache of the next layout version (raw)");
    /* a file of shmc 0.1 (layout 2: 32-bit offsets; the version word sits where it always
     * did): refused, and the message says what to do */
    v = 2;
    p = variant("v2", good_size);
    patch(p, offsetof(header_t, version), &v, sizeof v);
    REFUSED(p, SHMC_BAD_FILE, "a cache of layout version 2");
    {
        shmc_t *c2 = NULL;
        CHECK_RC(shmc_open(&c2, p, NULL), SHMC_BAD_FILE);
        const char *e = shmc_last_error();
        char reads[32];
        snprintf(reads, sizeof reads, "reads version %u", LAYOUT_VERSION);
        CHECK(strstr(e, "layout version 2") && strstr(e, reads) &&
              strstr(e, "remove the file") && strstr(e, "drain it"));
        printf("version 2 refused: %s\n", e);
    }

    static const struct {
        void (*edit)(header_t *);
        const char *what;
    } edits[] = {
        {bump_version, "the next layout version (checksum fixed)"},
        {old_version, "layout version 0 (checksum fixed)"},
        {other_magic, "another magic (checksum fixed)"},
        {grow_memory, "memory_limit doubled (checksum fixed)"},
        {bad_offsets, "a data offset moved (checksum fixed)"},
        {huge_size, "a file size near 2^64 (checksum fixed)"},
        {zero_segments, "zero segments (checksum fixed)"},
        {huge_item, "item_size_max 2^64-1 (checksum fixed)"},
        {hash_power_63, "hash_power 63 (checksum fixed)"},
    };
    for (size_t i = 0; i < sizeof edits / sizeof edits[0]; i++) {
        p = variant("edited", good_size);
        patch_header(p, edits[i].edit);
        REFUSED(p, SHMC_BAD_FILE, edits[i].what);
    }

    /* every byte of the checksummed header, flipped one at a time (one bit, then all 8) */
    size_t covered = offsetof(header_t, check) + sizeof(uint64_t);
    p = variant("flip", good_size);
    int refused_all = 1;
    for (size_t off = 0; off < covered; off++) {
        static const unsigned char masks[] = {0x01, 0x80, 0xff};
        for (size_t m = 0; m < sizeof masks; m++) {
            unsigned char b = good[off] ^ masks[m];
            patch(p, off, &b, 1);
            uint64_t before = file_digest(p);
            shmc_t *c = NULL;
            shmc_rc rc = shmc_open(&c, p, NULL);
            if (rc != SHMC_BAD_FILE || c || !shmc_last_error()[0] || file_digest(p) != before) {
                refused_all = 0;
                fprintf(stderr, "FAIL header byte %zu ^ 0x%02x: open -> %s\n", off, masks[m],
                        shmc_strerror(rc));
            }
            if (c) shmc_close(c);
            patch(p, off, &good[off], 1);
        }
    }
    CHECK(refused_all);
    /* and the restored copy is a good cache again */
    shmc_t *c = NULL;
    CHECK_RC(shmc_open(&c, p, NULL), SHMC_OK);
    shmc_close(c);
}

static void test_paths(void)
{
    /* a directory */
    mkdir(t_path("a-dir"), 0700);
    shmc_t *c = NULL;
    shmc_rc rc = shmc_open(&c, t_path("a-dir"), NULL);
    CHECK(rc == SHMC_SYSTEM || rc == SHMC_BAD_FILE);
    CHECK(shmc_last_error()[0] != '\0');
    CHECK(c == NULL);
    struct stat st;
    CHECK(stat(t_path("a-dir"), &st) == 0 && S_ISDIR(st.st_mode));
    CHECK(rmdir(t_path("a-dir")) == 0); /* still empty: nothing was created in it */

    /* a path in a directory that does not exist */
    errno = 0;
    c = NULL;
    CHECK_RC(shmc_open(&c, t_path("missing-dir/cache"), NULL), SHMC_SYSTEM);
    CHECK(errno == ENOENT);
    CHECK(shmc_last_error()[0] != '\0');
    CHECK(access(t_path("missing-dir"), F_OK) != 0);

    /* a path through a regular file */
    write_file(t_path("plainfile"), "x", 1);
    c = NULL;
    CHECK_RC(shmc_open(&c, t_path("plainfile/cache"), NULL), SHMC_SYSTEM);
    CHECK(errno == ENOTDIR);

    /* a symlink that points into a missing directory */
    CHECK(symlink(t_path("missing-dir/target"), t_path("dangling")) == 0);
    c = NULL;
    CHECK_RC(shmc_open(&c, t_path("dangling"), &small_cfg), SHMC_SYSTEM);
    CHECK(access(t_path("missing-dir"), F_OK) != 0);
    unlink(t_path("dangling"));
}

/* Opening a cache this process may not read or write: SHMC_SYSTEM with EACCES.  As root the
 * permission bits do not apply, so the open runs in a child that has become nobody. */
static void test_permissions(void)
{
    if (!good) return;
    const char *p = variant("noperm", good_size);
    chmod(p, 0000);
    const char *ro = variant("readonly", good_size);
    chmod(ro, 0644);
    uint64_t before = file_digest(p), before_ro = file_digest(ro);
    int as_root = geteuid() == 0;
    if (as_root) {
        printf("note: running as root; the permission cases run in a child as uid 65534\n");
        chmod(t_dir, 0711); /* let nobody reach the files */
    }
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        if (as_root && (setgid(65534) != 0 || setuid(65534) != 0)) _exit(20);
        int code = 0;
        shmc_t *c = NULL;
        errno = 0;
        if (shmc_open(&c, p, NULL) != SHMC_SYSTEM) code |= 1;
        if (errno != EACCES) code |= 2;
        if (!shmc_last_error()[0]) code |= 4;
        errno = 0;
        if (shmc_open(&c, ro, NULL) != SHMC_SYSTEM) code |= 8;
        if (errno != EACCES) code |= 16;
        _exit(code);
    }
    int status = 0;
    CHECK(pid > 0 && waitpid(pid, &status, 0) == pid);
    CHECK(WIFEXITED(status));
    int code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    if (code != 0) fprintf(stderr, "  permission child exit code %d\n", code);
    CHECK(code == 0);
    if (as_root) chmod(t_dir, 0700);
    CHECK(file_digest(p) == before);
    CHECK(file_digest(ro) == before_ro);
    chmod(p, 0600);
}

/* An existing cache opened with an explicit, different configuration. */
static void test_config_mismatch(void)
{
    if (!good) return;
    const char *p = variant("mismatch", good_size);
    shmc_config cfg = small_cfg;
    cfg.memory_limit = small_cfg.memory_limit * 2;
    /* shmc.h: non-zero values that differ from the file's mean "another configuration" and
     * are refused with SHMC_BAD_FILE */
    expect_refused_at(__LINE__, p, &cfg, SHMC_BAD_FILE, SHMC_BAD_FILE, "a cache with another memory_limit");
    cfg = small_cfg;
    cfg.item_size_max = small_cfg.item_size_max / 2;
    expect_refused_at(__LINE__, p, &cfg, SHMC_BAD_FILE, SHMC_BAD_FILE, "a cache with another item_size_max");
    /* zeros accept the file's own, and so does the same configuration */
    cfg = small_cfg;
    cfg.memory_limit = 0;
    cfg.item_size_max = 0;
    shmc_t *c = NULL;
    CHECK_RC(shmc_open(&c, p, &cfg), SHMC_OK);
    if (c) {
        shmc_stats_t st;
        CHECK_RC(shmc_stats(c, &st), SHMC_OK);
        CHECK(st.limit_maxbytes == small_cfg.memory_limit);
        CHECK(st.item_size_max == small_cfg.item_size_max);
        shmc_close(c);
    }
    c = NULL;
    CHECK_RC(shmc_open(&c, p, &small_cfg), SHMC_OK);
    shmc_close(c);
    t_check_file(p);
}

/* ---- corrupted contents behind a valid header ---- */

static int valid_rc(shmc_rc rc) { return (int)rc >= 0 && (int)rc < SHMC_RC_COUNT; }

static void cb_count(void *ctx, const char *key, size_t nkey, const void *value, size_t nvalue,
                     uint32_t flags, uint64_t cas)
{
    (void)key; (void)flags; (void)cas;
    /* touch every byte handed out: ASan catches a copy that was not really made */
    volatile unsigned char sink = 0;
    for (size_t i = 0; i < nkey; i++) sink ^= (unsigned char)key[i];
    for (size_t i = 0; i < nvalue; i++) sink ^= ((const unsigned char *)value)[i];
    ++*(int *)ctx;
}

/* One damaged file, used by a child with a time limit.  Exit 0: no crash, no hang, every
 * result a real code; 3: a call returned something that is not a shmc_rc. */
static void child_use(const char *path, uint64_t seed)
{
    alarm(20);
    rng_state = seed;
    shmc_t *c = NULL;
    shmc_rc rc = shmc_open(&c, path, NULL);
    if (rc != SHMC_OK) _exit(valid_rc(rc) ? 0 : 3);
    size_t cap = small_cfg.item_size_max + 16;
    unsigned char *buf = malloc(cap);
    char *val = malloc(small_cfg.item_size_max);
    memset(val, 'w', small_cfg.item_size_max);
    for (int i = 0; i < 1000; i++) {
        char k[32];
        int nk = snprintf(k, sizeof k, "%s:%d", rng() % 5 ? "key" : "num", (int)(rng() % 6000));
        size_t n = 0;
        uint32_t flags;
        uint64_t cas;
        switch (rng() % 10) {
        case 0: case 1: case 2:
            rc = shmc_get(c, k, (size_t)nk, buf, cap, &n, &flags, &cas);
            if (rc == SHMC_OK && n > small_cfg.item_size_max) _exit(4);
            break;
        case 3: {
            void *p = NULL;
            rc = shmc_get_alloc(c, k, (size_t)nk, &p, &n, NULL, NULL);
            if (rc == SHMC_OK && (n > small_cfg.item_size_max || ((char *)p)[n] != '\0')) _exit(4);
            free(p);
            break;
        }
        case 4: case 5:
            rc = shmc_set(c, k, (size_t)nk, val, rng() % 3 ? rng() % 400 : small_cfg.item_size_max,
                          (uint32_t)i, 0);
            break;
        case 6: rc = shmc_delete(c, k, (size_t)nk); break;
        case 7: rc = shmc_incr(c, k, (size_t)nk, 1, NULL); break;
        case 8: rc = shmc_append(c, k, (size_t)nk, "ab", 2, 0, 0); break;
        default: {
            const char *keys[3] = {k, "key:1", "num:2"};
            size_t nkeys[3] = {(size_t)nk, 5, 5};
            int count = 0;
            rc = shmc_mget(c, keys, nkeys, 3, cb_count, &count);
            break;
        }
        }
        if (!valid_rc(rc)) _exit(3);
    }
    shmc_stats_t st;
    if (!valid_rc(shmc_stats(c, &st))) _exit(3);
    shmc_close(c);
    /* the checker must survive it too (violations are expected) */
    size_t violations = 0;
    FILE *devnull = fopen("/dev/null", "w");
    rc = shmc_check(path, devnull, &violations);
    if (devnull) fclose(devnull);
    if (rc != SHMC_OK && rc != SHMC_BAD_FILE) _exit(5);
    free(buf);
    free(val);
    _exit(0);
}

/* Use the damaged file at path in a child (see child_use).  Returns 1 if it finished cleanly. */
static int use_in_child(const char *path, uint64_t seed, const char *what)
{
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) child_use(path, seed);
    int status = 0;
    if (pid < 0 || waitpid(pid, &status, 0) != pid) return 0;
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return 1;
    if (WIFSIGNALED(status))
        fprintf(stderr, "FAIL %s: child killed by signal %d%s\n", what, WTERMSIG(status),
                WTERMSIG(status) == SIGALRM ? " (a hang of over 20 s)" : "");
    else
        fprintf(stderr, "FAIL %s: child exit %d\n", what, WEXITSTATUS(status));
    return 0;
}

/* Flip `flips` random bytes in [lo, hi) of a fresh copy of the good cache, then use it in a
 * child.  Returns 1 if the child finished cleanly. */
static int damaged_round(const char *name, uint64_t lo, uint64_t hi, int flips, uint64_t seed)
{
    rng_state = seed;
    unsigned char *b = malloc(good_size);
    memcpy(b, good, good_size);
    for (int i = 0; i < flips; i++) {
        uint64_t off = lo + rng() % (hi - lo);
        unsigned char mask = (unsigned char)(rng() | 1);
        b[off] ^= rng() % 4 ? mask : 0xff;
    }
    const char *p = t_path(name);
    write_file(p, b, good_size);
    free(b);
    char what[160];
    snprintf(what, sizeof what, "%s seed %" PRIu64 " (%d flips in [%" PRIu64 ", %" PRIu64 "))",
             name, seed, flips, lo, hi);
    int ok = use_in_child(p, seed * 31 + 7, what);
    unlink(p);
    return ok;
}

/* Every hash bucket's version made odd, as if a writer were inside each one — but none is,
 * and none died holding a lock.  Readers must not wait forever for a writer that never was. */
static void test_odd_bucket_versions(void)
{
    header_t h;
    memcpy(&h, good, sizeof h);
    unsigned char *b = malloc(good_size);
    memcpy(b, good, good_size);
    for (uint64_t i = 0; i < ((uint64_t)1 << h.hash_power); i++) {
        uint64_t w;
        memcpy(&w, b + h.off_buckets + i * 8, 8);
        w = bucket_word(bucket_version(w) | 1u, bucket_head(w));
        memcpy(b + h.off_buckets + i * 8, &w, 8);
    }
    const char *p = t_path("odd-buckets");
    write_file(p, b, good_size);
    free(b);
    CHECK(use_in_child(p, 42, "every bucket version odd"));
    unlink(p);
}

/* Every lock stripe's item and byte counts at an extreme: stats must sum them without
 * overflowing (a signed overflow is undefined behaviour, fatal under UBSan). */
static void test_extreme_stripe_counts(void)
{
    header_t h;
    memcpy(&h, good, sizeof h);
    static const int64_t extremes[] = {INT64_MAX, INT64_MIN};
    for (size_t e = 0; e < 2; e++) {
        unsigned char *b = malloc(good_size);
        memcpy(b, good, good_size);
        for (uint32_t i = 0; i < h.nstripes; i++) {
            size_t at = h.off_stripes + (size_t)i * sizeof(stripe_t);
            memcpy(b + at + offsetof(stripe_t, items), &extremes[e], 8);
            memcpy(b + at + offsetof(stripe_t, bytes), &extremes[e], 8);
        }
        const char *p = t_path("extreme-counts");
        write_file(p, b, good_size);
        free(b);
        CHECK(use_in_child(p, 7 + e, e ? "stripe counts INT64_MIN" : "stripe counts INT64_MAX"));
        unlink(p);
    }
}

static void test_corrupt_contents(void)
{
    if (!good) return;
    header_t h;
    memcpy(&h, good, sizeof h);
    CHECK(h.off_data > h.off_buckets && h.off_data < good_size);
    if (!(h.off_data > h.off_buckets && h.off_data < good_size)) return;

    int ok = 0, rounds = 0;
    /* the items alone */
    for (uint64_t s = 1; s <= 12; s++, rounds++)
        ok += damaged_round("items", h.off_data, good_size, (int)(1 + s * 37 % 300), s);
    /* the hash buckets and the items */
    for (uint64_t s = 100; s < 112; s++, rounds++)
        ok += damaged_round("buckets", h.off_buckets, good_size, (int)(1 + s * 13 % 200), s);
    /* the segment table, free stack, FIFO ring and access bitmaps */
    for (uint64_t s = 200; s < 212; s++, rounds++)
        ok += damaged_round("segments", h.off_segs, h.off_buckets, (int)(1 + s % 40), s);
    CHECK(ok == rounds);
    printf("%d of %d damaged caches survived\n", ok, rounds);
    test_odd_bucket_versions();
    test_extreme_stripe_counts();
}

int main(void)
{
    t_setup("bad_file");
    shmc_config_init(&small_cfg);
    small_cfg.memory_limit = 2u << 20;
    small_cfg.item_size_max = 64u << 10;

    make_good_cache();
    test_not_caches();
    test_damaged_caches();
    test_paths();
    test_permissions();
    test_config_mismatch();
    test_corrupt_contents();
    free(good);
    return t_finish();
}
