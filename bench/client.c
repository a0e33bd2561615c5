/* client.c — parsing of "LABEL=SPEC" targets and the choice between the libshmc client, the
 * libmemcached client and the LMDB client (see client.h). */
#include "client.h"

#include "common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int copy_text(char *dst, size_t cap, const char *src, size_t n)
{
    if (n == 0 || n >= cap)
        return -1;
    memcpy(dst, src, n);
    dst[n] = '\0';
    return 0;
}

int bench_target_parse(bench_target *t, const char *arg, uint64_t memory_limit, char *err,
                       size_t errlen)
{
    memset(t, 0, sizeof *t);
    t->memory_limit = memory_limit;
    const char *eq = strchr(arg, '=');
    if (eq == NULL || copy_text(t->label, sizeof t->label, arg, (size_t)(eq - arg)) != 0) {
        snprintf(err, errlen, "'%s': expected LABEL=SPEC with a label of 1..47 bytes", arg);
        return -1;
    }
    for (const char *p = t->label; *p; p++) {
        if (*p <= ' ' || *p == 0x7f) {
            snprintf(err, errlen, "'%s': the label may not hold spaces", arg);
            return -1;
        }
    }
    const char *spec = eq + 1;
    const char *rest;
    if (strncmp(spec, "shmc:", 5) == 0) {
        t->kind = BENCH_TARGET_SHMC;
        rest = spec + 5;
    } else if (strncmp(spec, "shmc-pku:", 9) == 0) {
        t->kind = BENCH_TARGET_SHMC_PKU;
        rest = spec + 9;
    } else if (strncmp(spec, "unix:", 5) == 0) {
        t->kind = BENCH_TARGET_UNIX;
        rest = spec + 5;
    } else if (strncmp(spec, "lmdb:", 5) == 0) {
        t->kind = BENCH_TARGET_LMDB;
        rest = spec + 5;
    } else if (strncmp(spec, "tcp:", 4) == 0) {
        t->kind = BENCH_TARGET_TCP;
        rest = spec + 4;
        const char *colon = strrchr(rest, ':');
        char *end = NULL;
        long port = colon ? strtol(colon + 1, &end, 10) : 0;
        if (colon == NULL || end == colon + 1 || *end != '\0' || port < 1 || port > 65535 ||
            copy_text(t->host, sizeof t->host, rest, (size_t)(colon - rest)) != 0) {
            snprintf(err, errlen, "'%s': expected tcp:HOST:PORT", arg);
            return -1;
        }
        t->port = (int)port;
        return 0;
    } else {
        snprintf(err, errlen,
                 "'%s': SPEC must start with shmc:, shmc-pku:, unix:, tcp: or lmdb:", arg);
        return -1;
    }
    if (copy_text(t->path, sizeof t->path, rest, strlen(rest)) != 0) {
        snprintf(err, errlen, "'%s': the path must be 1..255 bytes", arg);
        return -1;
    }
    return 0;
}

int bench_target_is_socket(const bench_target *t)
{
    return t->kind == BENCH_TARGET_UNIX || t->kind == BENCH_TARGET_TCP;
}

void bench_target_release(bench_target *t)
{
    if (t->shared != NULL) {
        shmc_close(t->shared);
        t->shared = NULL;
    }
#ifdef SHMC_BENCH_HAVE_LMDB
    bench_lmdb_release(t);
#endif
}

bench_client *bench_client_open(bench_target *t, unsigned flags, char *err, size_t errlen)
{
    if (t->unavailable[0] != '\0') {
        snprintf(err, errlen, "%s", t->unavailable);
        return NULL;
    }
    if (bench_target_is_socket(t)) {
#ifdef SHMC_BENCH_HAVE_LIBMEMCACHED
        return bench_memcached_client_open(t, flags, err, errlen);
#else
        snprintf(err, errlen, "built without libmemcached-dev: no socket client");
        return NULL;
#endif
    }
    if (t->kind == BENCH_TARGET_LMDB) {
#ifdef SHMC_BENCH_HAVE_LMDB
        return bench_lmdb_client_open(t, flags, err, errlen);
#else
        snprintf(t->unavailable, sizeof t->unavailable,
                 "built without liblmdb-dev: no LMDB client");
        snprintf(err, errlen, "%s", t->unavailable);
        return NULL;
#endif
    }
    return bench_shmc_client_open(t, flags, err, errlen);
}

uint64_t bench_client_touch_all(bench_client *c, const bench_target *t, uint64_t keys,
                                uint64_t big_keys)
{
    (void)t;
    enum { BATCH = 100 };
    char names[BATCH][BENCH_KEY_LEN];
    const char *ptrs[BATCH];
    size_t lens[BATCH];
    uint64_t missing = 0;
    for (int pop = 0; pop < 2; pop++) {
        uint64_t count = pop == 0 ? keys : big_keys;
        for (uint64_t first = 0; first < count; first += BATCH) {
            size_t n = count - first < BATCH ? (size_t)(count - first) : BATCH;
            for (size_t i = 0; i < n; i++) {
                bench_key(names[i], pop == 0 ? 'k' : 'v', first + i);
                ptrs[i] = names[i];
                lens[i] = BENCH_KEY_LEN;
            }
            uint64_t found = 0;
            if (c->ops->get_many(c, ptrs, lens, n, &found) == BENCH_ERR)
                found = 0;
            missing += n - found;
        }
    }
    return missing;
}
