/* test_hostile_files.c — about three hundred deterministic damaged copies of a valid cache,
 * each run through shmc_check in one child process and through shmc_open + reads and writes
 * + shmc_close + shmc_check in another (so that a crash or a hang is one failed case, not a
 * dead test run, and a crash in the checker does not hide what open does).
 *
 * The damage: random files of several sizes; truncations and extensions (inside the header,
 * the slots, the tables, the data); bit flips in the immutable header (must be refused),
 * the shared header words, thread and process slots, lock stripes (counts, intents, the
 * mutexes), append heads, the segment table, free stack and FIFO, access bits, bucket words,
 * item headers, keys and values; cycles and cross links planted in hash chains; a filler that
 * walks a segment to its last bytes; random multi-bit damage.  For each case the checker must
 * return, and must report violations where the damage is structural or breaks an item's
 * checksum (and none where only an expiry changed); shmc_open must refuse the file or give a
 * handle whose calls answer sensibly.  Then the same damaged file, marked as left by a killed
 * process, must be scrubbed at open (recovery_scrubs counts it) and leave a cache the checker
 * finds whole.  Nothing may crash or take longer than CASE_TIMEOUT seconds.
 * Each library mapping is placed right before a PROT_NONE page, so a read past a mapping's
 * end faults instead of reading a neighbour by luck.  Fixed seeds: every run makes the same
 * files. */
#include "testutil.h"

#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/wait.h>

#include "progs/base_cache.h"
#include "region/layout.h"
#include "store/index.h"
#include "store/item.h"
#include "util/hash.h"

#define ITEM_MAX BASE_ITEM_MAX
#define NKEYS 1500
#define CASE_TIMEOUT 10 /* seconds: far beyond any case's work, even under TSan */

enum expect {
    EXPECT_REFUSED,   /* shmc_check and shmc_open say SHMC_BAD_FILE */
    EXPECT_VIOLATION, /* the checker walks the file and reports at least one violation */
    EXPECT_CLEAN,     /* only an expiry changed: the checker finds nothing */
    EXPECT_ANY,       /* either answer; only no crash and no hang */
};

static unsigned char *base;
static size_t base_size;
static header_t hdr;
static unsigned char *work;
static const char *damaged_path;
static int cases;

/* ---- deterministic randomness ---- */

static uint64_t rng_state;
static void rng_seed(uint64_t s) { rng_state = s * 0x9e3779b97f4a7c15ull + 0x632be59bd9b4e019ull; }
static uint64_t rng(void)
{
    uint64_t x = rng_state;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return rng_state = x;
}
static uint64_t rng_below(uint64_t n) { return n ? rng() % n : 0; }

/* ---- the valid cache ---- */

static void build_base(const char *path)
{
    shmc_stats_t s;
    CHECK_RC(base_cache_build(path, NKEYS, &s), SHMC_OK);
    CHECK(s.evictions > 0);   /* some items were evicted ... */
    CHECK(s.curr_items > 100); /* ... and many are still there */
    t_check_file(path);
}

static void load_base(const char *path)
{
    int fd = open(path, O_RDONLY);
    CHECK(fd >= 0);
    if (fd < 0) exit(t_finish());
    base_size = (size_t)lseek(fd, 0, SEEK_END);
    base = malloc(base_size);
    work = malloc(base_size + 65536 + 4096); /* room for the extended copies */
    CHECK(base && work && pread(fd, base, base_size, 0) == (ssize_t)base_size);
    close(fd);
    memcpy(&hdr, base, sizeof hdr);
}

/* ---- where things are in the valid file ---- */

static uint64_t nbuckets(void) { return (uint64_t)1 << hdr.hash_power; }
static uint64_t bucket_at(const unsigned char *f, uint64_t b)
{
    uint64_t w;
    memcpy(&w, f + hdr.off_buckets + b * 8, 8);
    return w;
}
static item_t *item_in(unsigned char *f, uint32_t unit) { return (item_t *)(f + (uint64_t)unit * LAYOUT_UNIT); }
static uint32_t next_of(const unsigned char *f, uint32_t unit)
{
    uint64_t n;
    memcpy(&n, f + (uint64_t)unit * LAYOUT_UNIT + offsetof(item_t, next), 8);
    return (uint32_t)n; /* the base cache is far below 32 GiB */
}
static uint32_t chain_length(uint64_t b)
{
    uint32_t n = 0;
    for (uint32_t u = (uint32_t)bucket_head(bucket_at(base, b)); u && n < 100000; u = next_of(base, u)) n++;
    return n;
}
/* The k-th bucket (cyclically) whose chain holds at least min_len items. */
static uint64_t bucket_with_chain(uint32_t min_len, uint64_t k)
{
    for (uint64_t i = 0; i < nbuckets(); i++) {
        uint64_t b = (k + i) % nbuckets();
        if (chain_length(b) >= min_len) return b;
    }
    fprintf(stderr, "no bucket holds a chain of %u items\n", min_len);
    exit(t_finish());
}
static uint32_t chain_item(uint64_t b, uint32_t index)
{
    uint32_t u = (uint32_t)bucket_head(bucket_at(base, b));
    while (index-- && u) u = next_of(base, u);
    return u;
}
static segmeta_t *seg_in(unsigned char *f, uint32_t s) { return (segmeta_t *)(f + hdr.off_segs) + s; }
static uint32_t seg_with_state(uint32_t state, uint32_t k)
{
    for (uint32_t i = 0; i < hdr.nsegments; i++) {
        uint32_t s = (k + i) % hdr.nsegments;
        if (seg_in(base, s)->state == state) return s;
    }
    return UINT32_MAX;
}

/* ---- running one damaged copy ---- */

static void fresh(void) { memcpy(work, base, base_size); }
static void flip(uint64_t off, unsigned bit) { work[off] ^= (unsigned char)(1u << (bit & 7)); }
static void put32(uint64_t off, uint32_t v) { memcpy(work + off, &v, 4); }
static void put64(uint64_t off, uint64_t v) { memcpy(work + off, &v, 8); }

typedef struct outcome {
    shmc_rc check_rc, open_rc, recheck_rc;
    size_t violations, violations_after; /* the checker's count before, and after recovery */
    uint64_t scrubs;                     /* recovery_scrubs seen by the recovering open */
    int bad_answer; /* a call on the opened cache answered something no call may answer */
    char why[160];  /* shmc_last_error() of a refused open */
} outcome_t;

static bool sane_rc(shmc_rc rc)
{
    return rc == SHMC_OK || rc == SHMC_NOT_FOUND || rc == SHMC_NOT_STORED || rc == SHMC_EXISTS ||
           rc == SHMC_TOO_LARGE || rc == SHMC_NO_MEMORY || rc == SHMC_NOT_NUMERIC ||
           rc == SHMC_BUFFER_TOO_SMALL || rc == SHMC_BAD_FILE;
}

static void keys_in_bucket(uint64_t b, char keys[][32], int n)
{
    int found = 0;
    for (unsigned i = 0; found < n && i < 1000000; i++) {
        char k[32];
        snprintf(k, sizeof k, "probe-%u", i);
        if ((hash_key(k, strlen(k), hdr.hash_seed) & (nbuckets() - 1)) == b) strcpy(keys[found++], k);
    }
}

/* Reads and writes on an opened damaged cache: each answer must be one a valid call can get. */
static int use_cache(shmc_t *c, int64_t probe_bucket)
{
    char key[32];
    unsigned char buf[ITEM_MAX + 64];
    size_t nv;
    uint32_t flags;
    uint64_t cas;
    int bad = 0;
#define USE(expr)                                                                         \
    do {                                                                                  \
        shmc_rc rc_ = (expr);                                                             \
        if (!sane_rc(rc_)) {                                                              \
            fprintf(stderr, "  %s answered %s\n", #expr, shmc_strerror(rc_));            \
            bad = 1;                                                                      \
        }                                                                                 \
    } while (0)
    for (unsigned i = 0; i < 60; i++) {
        base_key_of(key, sizeof key, (i * 37) % NKEYS);
        size_t nk = strlen(key);
        nv = 0;
        shmc_rc rc = shmc_get(c, key, nk, buf, sizeof buf, &nv, &flags, &cas);
        USE(rc);
        if (rc == SHMC_OK && nv > ITEM_MAX) {
            fprintf(stderr, "  get of %s gave %zu bytes, above the item limit\n", key, nv);
            bad = 1;
        }
        switch (i % 10) {
        case 0: USE(shmc_set(c, key, nk, buf, 100 + i, i, 0)); break;
        case 1: USE(shmc_incr(c, key, nk, 5, NULL)); break;
        case 2: USE(shmc_append(c, key, nk, "++", 2, 0, 0)); break;
        case 3: USE(shmc_delete(c, key, nk)); break;
        case 4: USE(shmc_touch(c, key, nk, 300)); break;
        case 5: USE(shmc_gat(c, key, nk, 0, buf, sizeof buf, &nv, NULL, NULL)); break;
        case 6: USE(shmc_add(c, key, nk, "new", 3, 0, 0)); break;
        case 7: USE(shmc_prepend(c, key, nk, "--", 2, 0, 0)); break;
        case 8: USE(shmc_cas(c, key, nk, "c", 1, 0, 0, cas)); break;
        default: {
            void *v = NULL;
            USE(shmc_get_alloc(c, key, nk, &v, &nv, NULL, NULL));
            free(v);
        }
        }
    }
    if (probe_bucket >= 0) { /* keys that hash into the damaged chain, present or not */
        char probes[4][32];
        keys_in_bucket((uint64_t)probe_bucket, probes, 4);
        for (int i = 0; i < 4; i++) {
            size_t nk = strlen(probes[i]);
            USE(shmc_get(c, probes[i], nk, buf, sizeof buf, &nv, NULL, NULL));
            USE(shmc_delete(c, probes[i], nk));
            USE(shmc_incr(c, probes[i], nk, 1, NULL));
            USE(shmc_touch(c, probes[i], nk, 0));
            if (i % 2) USE(shmc_set(c, probes[i], nk, "probe", 5, 0, 0));
            USE(shmc_get(c, probes[i], nk, buf, sizeof buf, &nv, NULL, NULL));
        }
    }
    shmc_stats_t s;
    USE(shmc_stats(c, &s));
    USE(shmc_flush_all(c, 0));
    for (unsigned i = 0; i < 20; i++) { /* enough new data to make cleaning walk old segments */
        snprintf(key, sizeof key, "after-%u", i);
        memset(buf, 'q', ITEM_MAX);
        USE(shmc_set(c, key, strlen(key), buf, 200 + 40 * i, 0, 0));
        USE(shmc_get(c, key, strlen(key), buf, sizeof buf, &nv, NULL, NULL));
    }
#undef USE
    return bad;
}

/* The two halves of a case, each in its own child so that a crash in the checker does not
 * hide what shmc_open does with the same file. */
enum stage { STAGE_CHECK, STAGE_USE, STAGE_RECOVER };

static void child_run(enum stage stage, int fd, int64_t probe_bucket)
{
    alarm(CASE_TIMEOUT);
    outcome_t o = {.check_rc = SHMC_OK, .open_rc = SHMC_OK, .recheck_rc = SHMC_OK};
    if (stage == STAGE_CHECK) {
        base_guard_next_mapping(base_size);
        o.check_rc = shmc_check(damaged_path, NULL, &o.violations);
    } else {
        base_guard_next_mapping(base_size);
        shmc_t *c = NULL;
        o.open_rc = shmc_open(&c, damaged_path, NULL);
        if (o.open_rc == SHMC_OK) {
            shmc_stats_t s;
            if (shmc_stats(c, &s) == SHMC_OK) o.scrubs = s.recovery_scrubs;
            o.bad_answer = use_cache(c, probe_bucket);
            shmc_close(c);
            base_guard_next_mapping(base_size);
            o.recheck_rc = shmc_check(damaged_path, stage == STAGE_RECOVER ? stderr : NULL,
                                      &o.violations_after);
        } else {
            snprintf(o.why, sizeof o.why, "%s", shmc_last_error());
            if (c) o.bad_answer = 1;
        }
    }
    if (write(fd, &o, sizeof o) != (ssize_t)sizeof o) _exit(2);
    _exit(0);
}

/* Run one stage on the damaged file; false (and a failure counted) if its child crashed,
 * hung or exited badly. */
static bool run_stage(const char *name, enum stage stage, int64_t probe_bucket, outcome_t *o)
{
    static const char *const what[] = {"shmc_check", "shmc_open, calls, close and check",
                                       "recovery after a crash, calls, close and check"};
    int p[2];
    if (pipe(p) < 0) {
        CHECK(!"pipe");
        return false;
    }
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        close(p[0]);
        child_run(stage, p[1], probe_bucket);
    }
    close(p[1]);
    bool got = read(p[0], o, sizeof *o) == (ssize_t)sizeof *o;
    close(p[0]);
    int status = 0;
    waitpid(pid, &status, 0);
    if (WIFSIGNALED(status)) {
        t_failed++;
        fprintf(stderr, "FAIL %s: %s died of signal %d%s\n", name, what[stage], WTERMSIG(status),
                WTERMSIG(status) == SIGALRM ? " (a hang: it ran past the time limit)" : "");
        return false;
    }
    if (!got || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        t_failed++;
        fprintf(stderr, "FAIL %s: %s exited with status %d (a sanitizer report?)\n", name,
                what[stage], WIFEXITED(status) ? WEXITSTATUS(status) : -1);
        return false;
    }
    t_passed++; /* it returned */
    return true;
}

static void run_case(const char *name, size_t len, enum expect expect, int64_t probe_bucket)
{
    cases++;
    int fd = open(damaged_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    CHECK(fd >= 0 && write(fd, work, len) == (ssize_t)len);
    close(fd);
    outcome_t chk, use, rec = {.open_rc = SHMC_BAD_FILE};
    bool chk_ran = run_stage(name, STAGE_CHECK, probe_bucket, &chk);
    bool use_ran = run_stage(name, STAGE_USE, probe_bucket, &use);
    bool rec_ran = true;
    if (base_mark_left_by_kill(work, len, &hdr)) {
        /* the same damage in a file whose last user was killed: the opener must scrub, and
         * what it leaves must be whole */
        fd = open(damaged_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        CHECK(fd >= 0 && write(fd, work, len) == (ssize_t)len);
        close(fd);
        rec_ran = run_stage(name, STAGE_RECOVER, probe_bucket, &rec);
    }
    if (!chk_ran || !use_ran || !rec_ran) return;
    bool ok = true;
    if (rec.open_rc == SHMC_OK && (rec.scrubs == 0 || rec.violations_after != 0 || rec.bad_answer)) {
        t_failed++;
        fprintf(stderr, "FAIL %s: after recovery: %llu scrubs, %zu violations%s\n", name,
                (unsigned long long)rec.scrubs, rec.violations_after,
                rec.bad_answer ? ", a call answered wrongly" : "");
    } else {
        t_passed++;
    }
    if (chk.check_rc != SHMC_OK && chk.check_rc != SHMC_BAD_FILE) ok = false;
    if (use.open_rc != SHMC_OK && use.open_rc != SHMC_BAD_FILE) ok = false;
    if (use.recheck_rc != SHMC_OK && use.recheck_rc != SHMC_BAD_FILE) ok = false;
    if (use.bad_answer) ok = false;
    switch (expect) {
    case EXPECT_REFUSED: ok &= chk.check_rc == SHMC_BAD_FILE && use.open_rc == SHMC_BAD_FILE; break;
    case EXPECT_VIOLATION: ok &= chk.check_rc == SHMC_OK && chk.violations > 0; break;
    case EXPECT_CLEAN: ok &= chk.check_rc == SHMC_OK && chk.violations == 0 && use.open_rc == SHMC_OK; break;
    case EXPECT_ANY: break;
    }
    if (ok) {
        t_passed++;
    } else {
        t_failed++;
        static const char *const want[] = {"refused", "violations", "clean", "anything"};
        fprintf(stderr, "FAIL %s: want %s; check: %s, %zu violations; open: %s%s%s; check after use: %s%s\n",
                name, want[expect], shmc_strerror(chk.check_rc), chk.violations,
                shmc_strerror(use.open_rc), use.why[0] ? " - " : "", use.why,
                shmc_strerror(use.recheck_rc), use.bad_answer ? "; a call answered wrongly" : "");
    }
}


/* ---- the cases ---- */

static void random_files(void)
{
    const size_t sizes[] = {1, 7, 64, 4095, 4096, 4097, sizeof(header_t), 65536, base_size, base_size + 4096};
    char name[96];
    rng_seed(11);
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        for (size_t j = 0; j < sizes[i]; j++) work[j] = (unsigned char)rng();
        snprintf(name, sizeof name, "random file of %zu bytes", sizes[i]);
        run_case(name, sizes[i], EXPECT_REFUSED, -1);
    }
    run_case("empty file", 0, EXPECT_REFUSED, -1);
    /* the right magic, the rest random: the checksum refuses it */
    for (size_t j = 0; j < base_size; j++) work[j] = (unsigned char)rng();
    memcpy(work, &hdr.magic, 8);
    run_case("magic then random bytes", base_size, EXPECT_REFUSED, -1);
    /* a valid header over random or zeroed structures: accepted, and full of violations */
    for (int s = 0; s < 4; s++) {
        for (size_t j = 0; j < base_size; j++) work[j] = (unsigned char)rng();
        memcpy(work, base, offsetof(header_t, check) + 8);
        snprintf(name, sizeof name, "valid header, random body %d", s);
        run_case(name, base_size, EXPECT_VIOLATION, -1);
    }
    memset(work, 0, base_size);
    memcpy(work, base, LAYOUT_HEADER_BYTES);
    run_case("valid header, zeroed body", base_size, EXPECT_VIOLATION, -1);
    memset(work, 0xff, base_size);
    memcpy(work, base, offsetof(header_t, check) + 8);
    run_case("valid header, body of 0xff", base_size, EXPECT_VIOLATION, -1);
}

static void truncations(void)
{
    const uint64_t seg = hdr.segment_size;
    const uint64_t lengths[] = {
        1, 8, 100, 4095, 4096, 4097, sizeof(header_t) - 1, hdr.off_threads + 100,
        hdr.off_procs, hdr.off_stripes + 64, hdr.off_heads, hdr.off_segs + 10, hdr.off_free,
        hdr.off_fifo + 4, hdr.off_bitmaps, hdr.off_buckets, hdr.off_buckets + 8 * 10,
        hdr.off_data - 1, hdr.off_data, hdr.off_data + 1, hdr.off_data + seg / 2,
        hdr.off_data + seg, base_size - seg, base_size - 4096, base_size - 8, base_size - 1};
    char name[96];
    for (size_t i = 0; i < sizeof lengths / sizeof lengths[0]; i++) {
        fresh();
        snprintf(name, sizeof name, "truncated to %llu bytes", (unsigned long long)lengths[i]);
        run_case(name, lengths[i], EXPECT_REFUSED, -1);
    }
    const size_t more[] = {1, 8, 4096, 65536};
    for (size_t i = 0; i < sizeof more / sizeof more[0]; i++) {
        fresh();
        memset(work + base_size, 0, more[i]);
        snprintf(name, sizeof name, "extended by %zu bytes", more[i]);
        run_case(name, base_size + more[i], EXPECT_REFUSED, -1);
    }
}

static void header_damage(void)
{
    char name[96];
    rng_seed(21);
    const uint64_t immutable = offsetof(header_t, check) + 8;
    for (int i = 0; i < 30; i++) {
        fresh();
        uint64_t bit = rng_below(immutable * 8);
        flip(bit / 8, (unsigned)(bit % 8));
        snprintf(name, sizeof name, "header bit %llu flipped", (unsigned long long)bit);
        run_case(name, base_size, EXPECT_REFUSED, -1);
    }
    /* the shared words after the immutable part: odd values, not refusals */
    struct { const char *what; uint64_t off; uint64_t v; int width; enum expect e; } words[] = {
        {"free count beyond the segments", offsetof(header_t, free_count), hdr.nsegments + 5, 4, EXPECT_VIOLATION},
        {"free count of 0xffffffff", offsetof(header_t, free_count), UINT32_MAX, 4, EXPECT_VIOLATION},
        {"FIFO first beyond the segments", offsetof(header_t, fifo_first), hdr.nsegments + 1, 4, EXPECT_VIOLATION},
        {"FIFO count beyond the segments", offsetof(header_t, fifo_count), hdr.nsegments * 2, 4, EXPECT_VIOLATION},
        {"FIFO count 0", offsetof(header_t, fifo_count), 0, 4, EXPECT_ANY},
        {"seal sequence wrapped", offsetof(header_t, seal_seq), UINT64_MAX, 8, EXPECT_ANY},
        {"cas counter at its end", offsetof(header_t, cas_next), UINT64_MAX - 3, 8, EXPECT_ANY},
        {"cas counter 0", offsetof(header_t, cas_next), 0, 8, EXPECT_ANY},
        {"flush epoch moved on", offsetof(header_t, flush), 0x7fffffff, 4, EXPECT_ANY},
        {"flush epoch 0", offsetof(header_t, flush), 0, 4, EXPECT_ANY},
        {"pending flush in the past", offsetof(header_t, flush) + 4, 5, 4, EXPECT_ANY},
        {"pending flush far away", offsetof(header_t, flush) + 4, UINT32_MAX, 4, EXPECT_ANY},
        {"connections wrapped", offsetof(header_t, total_connections), UINT64_MAX, 8, EXPECT_ANY},
        {"retired counters at their end", offsetof(header_t, retired), UINT64_MAX, 8, EXPECT_ANY},
    };
    for (size_t i = 0; i < sizeof words / sizeof words[0]; i++) {
        fresh();
        if (words[i].width == 4) put32(words[i].off, (uint32_t)words[i].v);
        else put64(words[i].off, words[i].v);
        run_case(words[i].what, base_size, words[i].e, -1);
    }
    for (int i = 0; i < 3; i++) {
        fresh();
        for (size_t j = 0; j < sizeof(robust_lock_t); j++)
            work[offsetof(header_t, global_lock) + j] = (unsigned char)rng();
        snprintf(name, sizeof name, "global lock of random bytes %d", i);
        run_case(name, base_size, EXPECT_ANY, -1);
    }
}

static void slot_damage(void)
{
    char name[96];
    rng_seed(31);
    for (int i = 0; i < 4; i++) {
        fresh();
        uint64_t span = hdr.off_procs - hdr.off_threads;
        for (int j = 0; j < 64; j++) work[hdr.off_threads + rng_below(span)] = (unsigned char)rng();
        snprintf(name, sizeof name, "thread slots damaged %d", i);
        run_case(name, base_size, EXPECT_ANY, -1);
    }
    for (int i = 0; i < 3; i++) {
        fresh();
        proc_slot_t *p = (proc_slot_t *)(work + hdr.off_procs);
        for (uint32_t j = 0; j < hdr.nproc_slots; j++) {
            /* tokens of processes that are gone, of pid 1, and of ourselves */
            uint64_t tok = i == 0 ? ((uint64_t)99999 << 32 | 4000000u) : i == 1 ? 1 : rng();
            memcpy(&p[j].token, &tok, 8);
        }
        snprintf(name, sizeof name, "process slots all taken %d", i);
        run_case(name, base_size, EXPECT_ANY, -1);
    }
}

static void stripe_damage(void)
{
    char name[96];
    rng_seed(41);
    stripe_t *st = (stripe_t *)(work + hdr.off_stripes);
    for (int i = 0; i < 6; i++) {
        fresh();
        uint32_t s = (uint32_t)rng_below(hdr.nstripes);
        uint64_t off = (uint64_t)((unsigned char *)&st[s].items - work);
        flip(off + rng_below(8), (unsigned)rng());
        snprintf(name, sizeof name, "stripe %u item count flipped", s);
        run_case(name, base_size, EXPECT_VIOLATION, (int64_t)s);
    }
    for (int i = 0; i < 4; i++) {
        fresh();
        uint32_t s = (uint32_t)rng_below(hdr.nstripes);
        uint64_t off = (uint64_t)((unsigned char *)&st[s].bytes - work);
        flip(off + rng_below(8), (unsigned)rng());
        snprintf(name, sizeof name, "stripe %u byte count flipped", s);
        run_case(name, base_size, EXPECT_VIOLATION, (int64_t)s);
    }
    for (int i = 0; i < 6; i++) { /* a change "in flight" naming anything */
        fresh();
        uint32_t s = (uint32_t)rng_below(hdr.nstripes);
        uint32_t one = 1;
        memcpy((unsigned char *)&st[s].intent_active, &one, 4);
        uint32_t any_item = chain_item(bucket_with_chain(1, rng_below(nbuckets())), 0);
        uint32_t vals[3] = {(uint32_t)rng(), i % 2 ? any_item : 0, i % 3 ? any_item : (uint32_t)rng()};
        memcpy(&st[s].intent_bucket, &vals[0], 4);
        memcpy(&st[s].intent_new, &vals[1], 4);
        memcpy(&st[s].intent_old, &vals[2], 4);
        int64_t before = (int64_t)rng();
        memcpy(&st[s].items_before, &before, 8);
        snprintf(name, sizeof name, "stripe %u with a made-up change in flight %d", s, i);
        run_case(name, base_size, EXPECT_VIOLATION, (int64_t)(vals[0] & (nbuckets() - 1)));
    }
    for (int i = 0; i < 6; i++) {
        fresh();
        uint32_t s = (uint32_t)rng_below(hdr.nstripes);
        unsigned char *m = (unsigned char *)&st[s].lock;
        if (i < 3) {
            for (size_t j = 0; j < sizeof st[s].lock; j++) m[j] = (unsigned char)rng();
        } else { /* held by a thread that is gone, or marked owner-died */
            int word = i == 3 ? 4000000 : i == 4 ? (int)(0x40000000u | 4000000u) : (int)getpid();
            memcpy(m, &word, sizeof word);
        }
        snprintf(name, sizeof name, "stripe %u lock damaged %d", s, i);
        run_case(name, base_size, EXPECT_ANY, (int64_t)s);
    }
}

static void head_and_segment_damage(void)
{
    char name[96];
    rng_seed(51);
    head_t *hd = (head_t *)(work + hdr.off_heads);
    fresh();
    put32((uint64_t)((unsigned char *)&hd[0].seg - work), hdr.nsegments + 3);
    run_case("head names a segment beyond the table", base_size, EXPECT_VIOLATION, -1);
    fresh();
    put32((uint64_t)((unsigned char *)&hd[0].seg - work), UINT32_MAX);
    run_case("head names segment 0xfffffffe", base_size, EXPECT_VIOLATION, -1);
    uint32_t sealed = seg_with_state(SEG_SEALED, 3);
    CHECK(sealed != UINT32_MAX);
    if (sealed == UINT32_MAX) return;
    fresh();
    put32((uint64_t)((unsigned char *)&hd[0].seg - work), sealed + 1);
    run_case("head names a sealed segment", base_size, EXPECT_VIOLATION, -1);
    /* a cleaner that "died" with garbage progress: open finishes its work */
    const uint32_t progress[][2] = {{0, 0}, {UINT32_MAX, 0}, {8, 4096}, {hdr.segment_size, hdr.segment_size},
                                    {hdr.segment_size - 8, 16}, {100, 3}};
    for (size_t i = 0; i < sizeof progress / sizeof progress[0]; i++) {
        fresh();
        segmeta_t *m = seg_in(work, sealed);
        uint32_t cleaning = SEG_CLEANING, owner = 0;
        memcpy((unsigned char *)&m->state, &cleaning, 4);
        memcpy((unsigned char *)&m->owner, &owner, 4);
        put32((uint64_t)((unsigned char *)&hd[0].victim - work), sealed + 1);
        put32((uint64_t)((unsigned char *)&hd[0].clean - work), progress[i][0]);
        put32((uint64_t)((unsigned char *)&hd[0].clean - work) + 4, progress[i][1]);
        snprintf(name, sizeof name, "cleaner died in segment %u at %u/%u", sealed, progress[i][0], progress[i][1]);
        run_case(name, base_size, EXPECT_VIOLATION, -1);
    }
    /* the segment table */
    struct { const char *what; size_t field; uint32_t v; enum expect e; } seg_cases[] = {
        {"unknown state", offsetof(segmeta_t, state), 7, EXPECT_VIOLATION},
        {"state 0xffffffff", offsetof(segmeta_t, state), UINT32_MAX, EXPECT_VIOLATION},
        {"sealed segment marked free", offsetof(segmeta_t, state), SEG_FREE, EXPECT_VIOLATION},
        {"sealed segment marked open", offsetof(segmeta_t, state), SEG_OPEN, EXPECT_VIOLATION},
        {"sealed segment marked cleaning", offsetof(segmeta_t, state), SEG_CLEANING, EXPECT_VIOLATION},
        {"write offset beyond the segment", offsetof(segmeta_t, write_off), hdr.segment_size + 8, EXPECT_VIOLATION},
        {"write offset 0xffffffff", offsetof(segmeta_t, write_off), UINT32_MAX, EXPECT_VIOLATION},
        {"write offset cut to 3", offsetof(segmeta_t, write_off), 3, EXPECT_VIOLATION},
        {"write offset cut to 40", offsetof(segmeta_t, write_off), 40, EXPECT_ANY},
        {"write offset cut to the end minus 4", offsetof(segmeta_t, write_off), hdr.segment_size - 4, EXPECT_ANY},
        {"owner beyond the heads", offsetof(segmeta_t, owner), 1000, EXPECT_ANY},
        {"seal order 0", offsetof(segmeta_t, seq), 0, EXPECT_ANY},
    };
    for (size_t i = 0; i < sizeof seg_cases / sizeof seg_cases[0]; i++) {
        for (int which = 0; which < 2; which++) {
            fresh();
            uint32_t s = which ? sealed : seg_with_state(SEG_SEALED, (uint32_t)rng_below(hdr.nsegments));
            put32((uint64_t)((unsigned char *)seg_in(work, s) - work) + seg_cases[i].field, seg_cases[i].v);
            snprintf(name, sizeof name, "segment %u: %s", s, seg_cases[i].what);
            run_case(name, base_size, seg_cases[i].e, -1);
        }
    }
    /* the open segment of head 0 */
    const head_t *base_heads = (const head_t *)(base + hdr.off_heads);
    uint32_t open_seg = base_heads[0].seg ? base_heads[0].seg - 1 : UINT32_MAX;
    if (open_seg != UINT32_MAX) {
        fresh();
        put32((uint64_t)((unsigned char *)seg_in(work, open_seg) - work) + offsetof(segmeta_t, owner), 5);
        run_case("open segment owned by another head", base_size, EXPECT_VIOLATION, -1);
        fresh();
        put32((uint64_t)((unsigned char *)seg_in(work, open_seg) - work) + offsetof(segmeta_t, state), SEG_SEALED);
        run_case("open segment marked sealed", base_size, EXPECT_VIOLATION, -1);
    }
    /* the lists */
    uint32_t nfree, fifo_first, fifo_count;
    memcpy(&nfree, base + offsetof(header_t, free_count), 4);
    memcpy(&fifo_first, base + offsetof(header_t, fifo_first), 4);
    memcpy(&fifo_count, base + offsetof(header_t, fifo_count), 4);
    if (fifo_count >= 2) {
        fresh();
        put32(hdr.off_fifo + 4 * ((fifo_first + 1) % hdr.nsegments), hdr.nsegments + 9);
        run_case("FIFO entry beyond the segments", base_size, EXPECT_VIOLATION, -1);
        fresh();
        uint32_t s0;
        memcpy(&s0, base + hdr.off_fifo + 4 * (fifo_first % hdr.nsegments), 4);
        put32(hdr.off_fifo + 4 * ((fifo_first + 1) % hdr.nsegments), s0);
        run_case("FIFO lists a segment twice", base_size, EXPECT_VIOLATION, -1);
    }
    fresh();
    put32(offsetof(header_t, free_count), nfree + 1);
    put32(hdr.off_free + 4 * nfree, sealed);
    run_case("a sealed segment also on the free stack", base_size, EXPECT_VIOLATION, -1);
    fresh();
    put32(offsetof(header_t, free_count), nfree + 1);
    put32(hdr.off_free + 4 * nfree, UINT32_MAX);
    run_case("free stack entry 0xffffffff", base_size, EXPECT_VIOLATION, -1);
    for (int i = 0; i < 3; i++) {
        fresh();
        for (uint64_t j = hdr.off_bitmaps; j < hdr.off_buckets; j++) work[j] = i == 0 ? 0xff : (unsigned char)rng();
        snprintf(name, sizeof name, "access bits all set or random %d", i);
        run_case(name, base_size, EXPECT_ANY, -1);
    }
}

/* A filler that ends ITEM_FILLER_MIN..ITEM_HEADER-1 bytes before a segment's written end:
 * the walker must not read an item header that does not fit. */
static void filler_at_segment_end(void)
{
    char name[96];
    const uint32_t tails[] = {8, 16, 24};
    for (int last = 0; last < 2; last++) {
        for (size_t i = 0; i < 3; i++) {
            fresh();
            uint32_t s = last ? hdr.nsegments - 1 : seg_with_state(SEG_SEALED, 0);
            segmeta_t *m = seg_in(work, s);
            uint32_t sealed = SEG_SEALED, size = hdr.segment_size;
            memcpy((unsigned char *)&m->state, &sealed, 4);
            memcpy((unsigned char *)&m->write_off, &size, 4);
            item_t *f = item_in(work, (uint32_t)((hdr.off_data + (uint64_t)s * size) / LAYOUT_UNIT));
            f->kind = ITEM_FILLER;
            f->nvalue = size - tails[i];
            snprintf(name, sizeof name, "segment %u%s: a filler leaves %u bytes at its end", s,
                     last ? " (the file's last)" : "", tails[i]);
            run_case(name, base_size, EXPECT_VIOLATION, -1);
        }
    }
    /* the same in the victim of a cleaner that died: open's recovery walks it */
    for (size_t i = 0; i < 3; i++) {
        fresh();
        uint32_t s = hdr.nsegments - 1;
        segmeta_t *m = seg_in(work, s);
        uint32_t cleaning = SEG_CLEANING, owner = 0, size = hdr.segment_size;
        memcpy((unsigned char *)&m->state, &cleaning, 4);
        memcpy((unsigned char *)&m->owner, &owner, 4);
        memcpy((unsigned char *)&m->write_off, &size, 4);
        head_t *hd = (head_t *)(work + hdr.off_heads);
        put32((uint64_t)((unsigned char *)&hd[0].victim - work), s + 1);
        put32((uint64_t)((unsigned char *)&hd[0].clean - work), 0);
        put32((uint64_t)((unsigned char *)&hd[0].clean - work) + 4, 0);
        item_t *f = item_in(work, (uint32_t)((hdr.off_data + (uint64_t)s * size) / LAYOUT_UNIT));
        f->kind = ITEM_FILLER;
        f->nvalue = size - tails[i];
        snprintf(name, sizeof name, "cleaner died in the last segment; a filler leaves %u bytes", tails[i]);
        run_case(name, base_size, EXPECT_VIOLATION, -1);
    }
}

static void bucket_damage(void)
{
    char name[96];
    rng_seed(61);
    for (int i = 0; i < 8; i++) { /* head offset far outside the file */
        fresh();
        uint64_t b = bucket_with_chain(1, rng_below(nbuckets()));
        flip(hdr.off_buckets + b * 8 + 2 + rng_below(2), (unsigned)rng()); /* bits 16..31 */
        snprintf(name, sizeof name, "bucket %llu head flipped high", (unsigned long long)b);
        run_case(name, base_size, EXPECT_VIOLATION, (int64_t)b);
    }
    for (int i = 0; i < 8; i++) { /* head offset nearby: into or between other items */
        fresh();
        uint64_t b = bucket_with_chain(1, rng_below(nbuckets()));
        flip(hdr.off_buckets + b * 8 + rng_below(2), (unsigned)rng());
        snprintf(name, sizeof name, "bucket %llu head flipped low", (unsigned long long)b);
        run_case(name, base_size, EXPECT_ANY, (int64_t)b);
    }
    for (int i = 0; i < 4; i++) { /* odd version: a writer "inside" with no lock held */
        fresh();
        uint64_t b = bucket_with_chain(1, rng_below(nbuckets()));
        flip(hdr.off_buckets + b * 8 + 4, 0);
        snprintf(name, sizeof name, "bucket %llu version made odd", (unsigned long long)b);
        run_case(name, base_size, EXPECT_VIOLATION, (int64_t)b);
    }
    fresh();
    for (uint64_t b = 0; b < nbuckets(); b++) flip(hdr.off_buckets + b * 8 + 4, 0);
    run_case("every bucket version odd", base_size, EXPECT_VIOLATION, 0);
    fresh();
    for (uint64_t j = hdr.off_buckets; j < hdr.off_buckets + nbuckets() * 8; j++) work[j] = (unsigned char)rng();
    run_case("bucket words random", base_size, EXPECT_VIOLATION, 1);
    fresh();
    for (uint64_t b = 0; b < nbuckets(); b++) put32(hdr.off_buckets + b * 8, chain_item(bucket_with_chain(1, 0), 0));
    run_case("every bucket names the same item", base_size, EXPECT_VIOLATION, 2);
}

static void item_damage(void)
{
    char name[96];
    rng_seed(71);
    struct { const char *what; size_t off, len; enum expect e; } fields[] = {
        {"kind", offsetof(item_t, kind), 1, EXPECT_VIOLATION},
        {"key length", offsetof(item_t, nkey), 1, EXPECT_VIOLATION},
        {"value length (high bits)", offsetof(item_t, nvalue) + 2, 2, EXPECT_VIOLATION},
        {"tag", offsetof(item_t, tag), 2, EXPECT_VIOLATION},
        {"key byte", offsetof(item_t, data), 1, EXPECT_VIOLATION},
        {"flags", offsetof(item_t, flags), 4, EXPECT_VIOLATION},
        {"exptime", offsetof(item_t, exptime), 4, EXPECT_CLEAN},
        {"cas", offsetof(item_t, cas), 8, EXPECT_VIOLATION},
        {"epoch", offsetof(item_t, epoch), 4, EXPECT_VIOLATION},
        {"checksum", offsetof(item_t, sum), 4, EXPECT_VIOLATION},
    };
    for (size_t f = 0; f < sizeof fields / sizeof fields[0]; f++) {
        for (int i = 0; i < 3; i++) {
            fresh();
            uint64_t b = bucket_with_chain(1 + (uint32_t)i, rng_below(nbuckets()));
            uint32_t u = chain_item(b, (uint32_t)i);
            uint64_t off = (uint64_t)u * LAYOUT_UNIT + fields[f].off + rng_below(fields[f].len);
            flip(off, (unsigned)rng());
            snprintf(name, sizeof name, "item at %u (chain %llu, #%d): %s flipped", u, (unsigned long long)b, i, fields[f].what);
            run_case(name, base_size, fields[f].e, (int64_t)b);
        }
    }
    for (int i = 0; i < 4; i++) { /* a value byte: its checksum no longer holds */
        fresh();
        uint64_t b = bucket_with_chain(1, rng_below(nbuckets()));
        uint32_t u = chain_item(b, 0);
        item_t *it = item_in(work, u);
        if (!it->nvalue) continue;
        flip((uint64_t)u * LAYOUT_UNIT + ITEM_HEADER + it->nkey + rng_below(it->nvalue), (unsigned)rng());
        snprintf(name, sizeof name, "item at %u: value byte flipped", u);
        run_case(name, base_size, EXPECT_VIOLATION, (int64_t)b);
    }
}

static void chain_damage(void)
{
    char name[96];
    rng_seed(81);
    for (int i = 0; i < 4; i++) { /* the head points at itself */
        fresh();
        uint64_t b = bucket_with_chain(1, rng_below(nbuckets()));
        uint32_t u = chain_item(b, 0);
        item_in(work, u)->next = u;
        snprintf(name, sizeof name, "cycle: bucket %llu's first item links to itself", (unsigned long long)b);
        run_case(name, base_size, EXPECT_VIOLATION, (int64_t)b);
    }
    for (int i = 0; i < 4; i++) { /* the last points at itself */
        fresh();
        uint64_t b = bucket_with_chain(2, rng_below(nbuckets()));
        uint32_t n = chain_length(b), u = chain_item(b, n - 1);
        item_in(work, u)->next = u;
        snprintf(name, sizeof name, "cycle: bucket %llu's last item (#%u) links to itself", (unsigned long long)b, n - 1);
        run_case(name, base_size, EXPECT_VIOLATION, (int64_t)b);
    }
    for (int i = 0; i < 4; i++) { /* the last points back at the first */
        fresh();
        uint64_t b = bucket_with_chain(3, rng_below(nbuckets()));
        uint32_t n = chain_length(b);
        item_in(work, chain_item(b, n - 1))->next = chain_item(b, 0);
        snprintf(name, sizeof name, "cycle of %u items in bucket %llu", n, (unsigned long long)b);
        run_case(name, base_size, EXPECT_VIOLATION, (int64_t)b);
    }
    for (int i = 0; i < 4; i++) { /* two chains joined */
        fresh();
        uint64_t b1 = bucket_with_chain(1, rng_below(nbuckets()));
        uint64_t b2 = bucket_with_chain(1, b1 + 1);
        uint32_t n = chain_length(b1);
        item_in(work, chain_item(b1, n - 1))->next = chain_item(b2, 0);
        snprintf(name, sizeof name, "bucket %llu's chain runs into bucket %llu's", (unsigned long long)b1, (unsigned long long)b2);
        run_case(name, base_size, EXPECT_VIOLATION, (int64_t)b1);
    }
    for (int i = 0; i < 3; i++) { /* into the middle of an item, and past the end */
        fresh();
        uint64_t b = bucket_with_chain(1, rng_below(nbuckets()));
        uint32_t u = chain_item(b, 0);
        uint32_t to = i == 0 ? u + 1 : i == 1 ? (uint32_t)(base_size / LAYOUT_UNIT) - 1 : (uint32_t)(hdr.off_buckets / LAYOUT_UNIT);
        item_in(work, u)->next = to;
        snprintf(name, sizeof name, "bucket %llu: an item links to unit %u", (unsigned long long)b, to);
        run_case(name, base_size, EXPECT_VIOLATION, (int64_t)b);
    }
}

static void random_damage(void)
{
    char name[96];
    rng_seed(91);
    const uint64_t mutable_start = offsetof(header_t, global_lock);
    for (int i = 0; i < 30; i++) {
        fresh();
        int flips = 1 + (int)rng_below(64);
        for (int j = 0; j < flips; j++) flip(mutable_start + rng_below(base_size - mutable_start), (unsigned)rng());
        snprintf(name, sizeof name, "%d random bits flipped (run %d)", flips, i);
        run_case(name, base_size, EXPECT_ANY, (int64_t)rng_below(nbuckets()));
    }
    for (int i = 0; i < 10; i++) { /* words of meaningful values written over metadata */
        fresh();
        for (int j = 0; j < 16; j++) {
            uint64_t off = (hdr.off_threads + rng_below(hdr.off_data - hdr.off_threads)) & ~(uint64_t)3;
            uint32_t vals[] = {0, 1, UINT32_MAX, hdr.nsegments, hdr.segment_size,
                               chain_item(bucket_with_chain(1, rng_below(nbuckets())), 0)};
            put32(off, vals[rng_below(6)]);
        }
        snprintf(name, sizeof name, "metadata words overwritten (run %d)", i);
        run_case(name, base_size, EXPECT_ANY, (int64_t)rng_below(nbuckets()));
    }
    for (int i = 0; i < 10; i++) { /* the data area only */
        fresh();
        for (int j = 0; j < 32; j++) flip(hdr.off_data + rng_below(base_size - hdr.off_data), (unsigned)rng());
        snprintf(name, sizeof name, "32 bits flipped among the items (run %d)", i);
        run_case(name, base_size, EXPECT_ANY, (int64_t)rng_below(nbuckets()));
    }
}

int main(void)
{
    t_setup("hostile");
    const char *base_path = t_path("base");
    damaged_path = t_path("damaged");
    build_base(base_path);
    load_base(base_path);
    random_files();
    truncations();
    header_damage();
    slot_damage();
    stripe_damage();
    head_and_segment_damage();
    filler_at_segment_end();
    bucket_damage();
    item_damage();
    chain_damage();
    random_damage();
    printf("%d damaged copies\n", cases);
    free(base);
    free(work);
    return t_finish();
}
