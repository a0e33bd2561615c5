/* testutil.h — the tiny test harness every suite shares (the protocol's tests too): checks
 * that count instead of aborting, a private cache directory per test run, and the closing
 * "N passed, N failed" line.  Header-only so each test is one self-contained program; its
 * functions are inline so a test that needs no cache directory need not use them. */
#ifndef SHMC_TESTUTIL_H
#define SHMC_TESTUTIL_H

#include <shmc.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <dirent.h>
#include <time.h>

static int t_passed, t_failed;

#define CHECK(cond)                                                                       \
    do {                                                                                  \
        if (cond) {                                                                       \
            t_passed++;                                                                   \
        } else {                                                                          \
            t_failed++;                                                                   \
            fprintf(stderr, "FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond);               \
        }                                                                                 \
    } while (0)

#define CHECK_RC(expr, want)                                                              \
    do {                                                                                  \
        shmc_rc got_ = (expr);                                                            \
        if (got_ == (want)) {                                                             \
            t_passed++;                                                                   \
        } else {                                                                          \
            t_failed++;                                                                   \
            fprintf(stderr, "FAIL %s:%d: %s -> %s, want %s\n", __FILE__, __LINE__, #expr, \
                    shmc_strerror(got_), shmc_strerror(want));                            \
        }                                                                                 \
    } while (0)

/* Two C strings (either may be NULL) are equal. */
#define CHECK_STR(got, want)                                                              \
    do {                                                                                  \
        const char *g_ = (got), *w_ = (want);                                             \
        if ((g_ == NULL && w_ == NULL) || (g_ && w_ && strcmp(g_, w_) == 0)) {            \
            t_passed++;                                                                   \
        } else {                                                                          \
            t_failed++;                                                                   \
            fprintf(stderr, "FAIL %s:%d: %s is \"%s\", want \"%s\"\n", __FILE__, __LINE__,  \
                    #got, g_ ? g_ : "(null)", w_ ? w_ : "(null)");                        \
        }                                                                                 \
    } while (0)

/* Seconds on the monotonic clock, for the durations a test prints. */
static inline double t_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A fresh directory for this run's cache files, removed by t_finish(). */
static char t_dir[256];

static inline const char *t_setup(const char *suite)
{
    snprintf(t_dir, sizeof t_dir, "/dev/shm/shmc-test-%s-%d", suite, (int)getpid());
    mkdir(t_dir, 0700);
    return t_dir;
}

/* t_path("x") -> "<t_dir>/x" in a static rotating buffer (valid for 8 calls). */
static inline const char *t_path(const char *name)
{
    static char bufs[8][512]; /* t_dir and a name of up to 255 bytes each: gcc -O3 checks */
    static int i;
    char *b = bufs[i++ & 7];
    snprintf(b, sizeof bufs[0], "%s/%s", t_dir, name);
    return b;
}

/* Run the checker on a cache file; counts as one check (clean = pass). */
static inline void t_check_file(const char *path)
{
    size_t violations = 0;
    shmc_rc rc = shmc_check(path, stderr, &violations);
    if (rc == SHMC_OK && violations == 0) {
        t_passed++;
    } else {
        t_failed++;
        fprintf(stderr, "FAIL checker on %s: rc=%s violations=%zu\n", path, shmc_strerror(rc),
                violations);
    }
}

/* The default configuration with this memory limit and item size limit (0: the default). */
static inline shmc_config t_config(size_t memory_limit, size_t item_size_max)
{
    shmc_config cfg;
    shmc_config_init(&cfg);
    cfg.memory_limit = memory_limit;
    if (item_size_max) cfg.item_size_max = item_size_max;
    return cfg;
}

/* Counts one check: the cache at path opens (made if missing) with cfg.  NULL if it did not. */
static inline shmc_t *t_open(const char *path, const shmc_config *cfg)
{
    shmc_t *c = NULL;
    CHECK_RC(shmc_open(&c, path, cfg), SHMC_OK);
    return c;
}

/* t_open, unprotected, with this memory limit and item size limit (0: the default). */
static inline shmc_t *t_open_plain(const char *path, size_t memory_limit, size_t item_size_max)
{
    shmc_config cfg = t_config(memory_limit, item_size_max);
    cfg.protect = SHMC_PROTECT_NONE;
    return t_open(path, &cfg);
}

/* Whether got is want, where '#' in want stands for one or more digits (a '-' may precede
 * them): a reply with numbers that vary from run to run. */
static inline bool t_matches(const char *got, const char *want)
{
    while (*want) {
        if (*want == '#') {
            if (*got == '-') got++;
            if (*got < '0' || *got > '9') return false;
            while (*got >= '0' && *got <= '9') got++;
            want++;
        } else if (*got++ != *want++) {
            return false;
        }
    }
    return *got == 0;
}

/* Counts one check: a get of key answers NOT_FOUND. */
static inline void t_expect_missing_at(const char *file, int line, shmc_t *c, const char *key)
{
    char buf[64];
    size_t n = 0;
    shmc_rc rc = shmc_get(c, key, strlen(key), buf, sizeof buf, &n, NULL, NULL);
    if (rc == SHMC_NOT_FOUND) {
        t_passed++;
    } else {
        t_failed++;
        fprintf(stderr, "FAIL %s:%d: get %s -> %s, want NOT_FOUND\n", file, line, key,
                shmc_strerror(rc));
    }
}

static inline int t_finish(void)
{
    DIR *d = opendir(t_dir);
    if (d) {
        struct dirent *e;
        while ((e = readdir(d))) {
            if (e->d_name[0] == '.') continue;
            char p[600];
            snprintf(p, sizeof p, "%s/%s", t_dir, e->d_name);
            unlink(p);
        }
        closedir(d);
        rmdir(t_dir);
    }
    printf("%d passed, %d failed\n", t_passed, t_failed);
    return t_failed ? 1 : 0;
}

#endif
