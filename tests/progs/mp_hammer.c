/* mp_hammer.c — one process of the hammer test: many threads run sets, gets, appends,
 * prepends, cas, deletes and incrs on a few shared keys, and every value read is checked
 * record by record, so a torn value (half of one write, half of another) cannot go unseen.
 *
 * A value is one or more records, each self-checking:
 *     u16 length (of the whole record) | u8 key index | u8 writer | u32 sequence |
 *     payload | u64 FNV-1a over everything before it
 * set stores one record (16 B .. 8 KiB); append/prepend add one (16 .. 512 B); a reader
 * needs every byte of the value to parse into whole records of its key.
 *
 *   mp_hammer hammer PATH PROC_ID THREADS SECONDS   (threads also incr their own counters and
 *                                                   check each result is the previous + 1)
 *   mp_hammer incr PATH KEY THREADS COUNT           (each thread: COUNT x incr KEY by 1)
 *   mp_hammer verify PATH                           (check every hammered key once)
 * All modes but verify wait until stdin is closed, so that processes start together.
 * Prints one result line; exit 0 when nothing wrong was seen, 1 otherwise, 2 on bad usage. */
#include "mp_common.h"
#include "record.h"

#include <pthread.h>
#include <shmc.h>
#include <stdatomic.h>

#define NKEYS 64
#define SET_MAX 8192
#define PIECE_MAX 512

static shmc_t *cache;
static double seconds;
static int proc_id;
static const char *incr_key;
static unsigned long long incr_count;

static atomic_ullong n_ops, n_gets, n_hits, n_records, n_torn, n_errors, n_incrs;
/* A thread's counter can be evicted (fairly) when the thread sleeps while the others cycle
 * the whole small cache; it then starts again from 0.  The test allows that only when the
 * cache reports evictions. */
static atomic_ullong n_counters_lost;

static void report_error(const char *what, const char *key, shmc_rc rc)
{
    if (atomic_fetch_add(&n_errors, 1) < 10)
        fprintf(stderr, "mp_hammer[%d]: %s %s: %s\n", proc_id, what, key, shmc_strerror(rc));
}

static size_t hammer_key(char *buf, unsigned k)
{
    return (size_t)snprintf(buf, 32, "hammer:%u", k);
}

static uint64_t next_rand(uint64_t *s)
{
    *s = mp_mix(*s);
    return *s;
}

/* Does value[0..n) parse into whole, intact records of key k?  Returns the number of
 * records, or -1 (and prints why) if it does not. */
static long check_value(const unsigned char *value, size_t n, unsigned k, int quiet)
{
    size_t off = 0;
    long records = record_check(value, n, k, &off);
    if (records < 0 && !quiet && atomic_load(&n_torn) < 10)
        fprintf(stderr, "mp_hammer[%d]: TORN value of hammer:%u: %zu bytes, bad record at %zu\n",
                proc_id, k, n, off);
    return records;
}

/* The check must accept whole records and reject any value with a byte changed, cut short
 * or spliced: otherwise "torn=0" would prove nothing. */
static int checker_works(void)
{
    unsigned char v[3 * SET_MAX];
    size_t a = 40, b = 1000;
    record_make(v, a, 5, 1, 1);
    record_make(v + a, b, 5, 2, 7);
    if (check_value(v, a + b, 5, 1) != 2) return 0;
    if (check_value(v, a + b - 1, 5, 1) >= 0 || check_value(v, a + b, 6, 1) >= 0) return 0;
    for (size_t i = 0; i < a + b; i += 37) {
        v[i] ^= 0x10;
        long r = check_value(v, a + b, 5, 1);
        v[i] ^= 0x10;
        if (r >= 0) return 0;
    }
    record_make(v + a + b, b, 5, 3, 9); /* the first half of one write, the second of another */
    memcpy(v + a + b / 2, v + a + b + b / 2, b / 2);
    return check_value(v, a + b, 5, 1) < 0;
}

typedef struct worker {
    int thread;
    pthread_t tid;
} worker;

/* Read key k (growing buf as needed) and check it; returns SHMC_OK/NOT_FOUND. */
static shmc_rc read_and_check(unsigned char **buf, size_t *cap, const char *key, size_t nkey,
                              unsigned k, uint64_t *cas_out)
{
    for (;;) {
        size_t nvalue = 0;
        shmc_rc rc = shmc_get(cache, key, nkey, *buf, *cap, &nvalue, NULL, cas_out);
        if (rc == SHMC_BUFFER_TOO_SMALL) {
            *cap = nvalue * 2;
            *buf = realloc(*buf, *cap);
            continue;
        }
        atomic_fetch_add(&n_gets, 1);
        if (rc == SHMC_OK) {
            atomic_fetch_add(&n_hits, 1);
            long records = check_value(*buf, nvalue, k, 0);
            if (records < 0)
                atomic_fetch_add(&n_torn, 1);
            else
                atomic_fetch_add(&n_records, (unsigned long long)records);
        } else if (rc != SHMC_NOT_FOUND) {
            report_error("get", key, rc);
        }
        return rc;
    }
}

static void *hammer_thread(void *arg)
{
    worker *w = arg;
    unsigned writer = (unsigned)(proc_id * 16 + w->thread) & 0xff;
    uint64_t rnd = mp_mix(((uint64_t)getpid() << 16) ^ (uint64_t)w->thread);
    size_t cap = 64 << 10;
    unsigned char *buf = malloc(cap), rec[SET_MAX];
    uint32_t seq = 0;

    char counter[64];
    size_t ncounter =
        (size_t)snprintf(counter, sizeof counter, "counter:%d:%d", proc_id, w->thread);
    uint64_t expect = 0;
    shmc_rc rc = shmc_set(cache, counter, ncounter, "0", 1, 0, 0);
    if (rc != SHMC_OK) report_error("set", counter, rc);

    struct timespec t0, now;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (unsigned long long i = 0;; i++) {
        if (i % 64 == 0) {
            clock_gettime(CLOCK_MONOTONIC, &now);
            if ((now.tv_sec - t0.tv_sec) + (now.tv_nsec - t0.tv_nsec) / 1e9 >= seconds) break;
        }
        unsigned k = (unsigned)(next_rand(&rnd) % NKEYS);
        char key[32];
        size_t nkey = hammer_key(key, k);
        unsigned op = (unsigned)(next_rand(&rnd) % 100);
        uint64_t r = next_rand(&rnd);
        if (op < 35) {
            read_and_check(&buf, &cap, key, nkey, k, NULL);
        } else if (op < 60) {
            /* 16 B .. 8 KiB, spread over the powers of two */
            size_t lo = (size_t)RECORD_MIN << (r % 10), len = lo + (r >> 8) % lo;
            if (len > SET_MAX) len = SET_MAX;
            record_make(rec, len, k, writer, ++seq);
            rc = shmc_set(cache, key, nkey, rec, len, writer, 0);
            if (rc != SHMC_OK) report_error("set", key, rc);
        } else if (op < 75) {
            size_t len = RECORD_MIN + r % (PIECE_MAX - RECORD_MIN + 1);
            record_make(rec, len, k, writer, ++seq);
            rc = op < 70 ? shmc_append(cache, key, nkey, rec, len, 0, 0)
                         : shmc_prepend(cache, key, nkey, rec, len, 0, 0);
            if (rc != SHMC_OK && rc != SHMC_NOT_STORED) report_error("append/prepend", key, rc);
        } else if (op < 82) {
            rc = shmc_delete(cache, key, nkey);
            if (rc != SHMC_OK && rc != SHMC_NOT_FOUND) report_error("delete", key, rc);
        } else if (op < 92) {
            uint64_t result = 0;
            rc = shmc_incr(cache, counter, ncounter, 1, &result);
            if (rc == SHMC_NOT_FOUND) {
                atomic_fetch_add(&n_counters_lost, 1);
                expect = 0;
                rc = shmc_add(cache, counter, ncounter, "0", 1, 0, 0);
                if (rc != SHMC_OK) report_error("add", counter, rc);
            } else if (rc != SHMC_OK) {
                report_error("incr", counter, rc);
            } else if (result != ++expect) {
                if (atomic_fetch_add(&n_errors, 1) < 10)
                    fprintf(stderr, "mp_hammer[%d]: incr %s gave %llu, want %llu\n", proc_id,
                            counter, (unsigned long long)result, (unsigned long long)expect);
                expect = result;
            }
            atomic_fetch_add(&n_incrs, 1);
        } else {
            uint64_t cas = 0;
            if (read_and_check(&buf, &cap, key, nkey, k, &cas) == SHMC_OK) {
                size_t len = RECORD_MIN + r % (PIECE_MAX - RECORD_MIN + 1);
                record_make(rec, len, k, writer, ++seq);
                rc = shmc_cas(cache, key, nkey, rec, len, writer, 0, cas);
                if (rc != SHMC_OK && rc != SHMC_EXISTS && rc != SHMC_NOT_FOUND)
                    report_error("cas", key, rc);
            }
        }
        atomic_fetch_add(&n_ops, 1);
    }

    /* The counter, read as text, says exactly how many incrs this thread made. */
    char text[32];
    size_t ntext = 0;
    rc = shmc_get(cache, counter, ncounter, text, sizeof text - 1, &ntext, NULL, NULL);
    text[rc == SHMC_OK ? ntext : 0] = '\0';
    if (rc == SHMC_NOT_FOUND) {
        atomic_fetch_add(&n_counters_lost, 1);
    } else if (rc != SHMC_OK || strtoull(text, NULL, 10) != expect) {
        if (atomic_fetch_add(&n_errors, 1) < 10)
            fprintf(stderr, "mp_hammer[%d]: %s is \"%s\" (%s), want %llu\n", proc_id, counter,
                    text, shmc_strerror(rc), (unsigned long long)expect);
    }
    free(buf);
    return NULL;
}

static void *incr_thread(void *arg)
{
    (void)arg;
    uint64_t last = 0;
    for (unsigned long long i = 0; i < incr_count; i++) {
        uint64_t result = 0;
        shmc_rc rc = shmc_incr(cache, incr_key, strlen(incr_key), 1, &result);
        if (rc != SHMC_OK) {
            report_error("incr", incr_key, rc);
        } else if (result <= last) { /* other incrs may come between, never a step back */
            if (atomic_fetch_add(&n_errors, 1) < 10)
                fprintf(stderr, "mp_hammer[%d]: incr went from %llu to %llu\n", proc_id,
                        (unsigned long long)last, (unsigned long long)result);
        }
        last = result;
        atomic_fetch_add(&n_incrs, 1);
    }
    return NULL;
}

static int run_threads(int threads, void *(*fn)(void *))
{
    worker w[64];
    if (threads < 1 || threads > 64) return -1;
    for (int t = 0; t < threads; t++) {
        w[t].thread = t;
        if (pthread_create(&w[t].tid, NULL, fn, &w[t]) != 0) return -1;
    }
    for (int t = 0; t < threads; t++) pthread_join(w[t].tid, NULL);
    return 0;
}

static int open_cache(const char *path)
{
    shmc_rc rc = shmc_open(&cache, path, NULL);
    if (rc != SHMC_OK) {
        fprintf(stderr, "mp_hammer: open %s: %s (%s)\n", path, shmc_strerror(rc),
                shmc_last_error());
        return -1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (!checker_works()) {
        fprintf(stderr, "mp_hammer: the torn-value check itself is broken\n");
        return 2;
    }
    if (argc == 6 && !strcmp(argv[1], "hammer")) {
        proc_id = atoi(argv[3]);
        seconds = atof(argv[5]);
        mp_gate_wait();
        if (open_cache(argv[2]) != 0 || run_threads(atoi(argv[4]), hammer_thread) != 0) return 2;
        printf("hammer proc=%d ops=%llu gets=%llu hits=%llu records=%llu incrs=%llu "
               "counters_lost=%llu torn=%llu errors=%llu\n",
               proc_id, atomic_load(&n_ops), atomic_load(&n_gets), atomic_load(&n_hits),
               atomic_load(&n_records), atomic_load(&n_incrs), atomic_load(&n_counters_lost),
               atomic_load(&n_torn), atomic_load(&n_errors));
    } else if (argc == 6 && !strcmp(argv[1], "incr")) {
        incr_key = argv[3];
        incr_count = strtoull(argv[5], NULL, 10);
        mp_gate_wait();
        if (open_cache(argv[2]) != 0 || run_threads(atoi(argv[4]), incr_thread) != 0) return 2;
        printf("incr incrs=%llu errors=%llu\n", atomic_load(&n_incrs), atomic_load(&n_errors));
    } else if (argc == 3 && !strcmp(argv[1], "verify")) {
        if (open_cache(argv[2]) != 0) return 2;
        size_t cap = 64 << 10;
        unsigned char *buf = malloc(cap);
        for (unsigned k = 0; k < NKEYS; k++) {
            char key[32];
            size_t nkey = hammer_key(key, k);
            read_and_check(&buf, &cap, key, nkey, k, NULL);
        }
        free(buf);
        printf("verify present=%llu records=%llu torn=%llu errors=%llu\n", atomic_load(&n_hits),
               atomic_load(&n_records), atomic_load(&n_torn), atomic_load(&n_errors));
    } else {
        fprintf(stderr, "usage: mp_hammer hammer PATH PROC_ID THREADS SECONDS | incr PATH KEY "
                        "THREADS COUNT | verify PATH\n");
        return 2;
    }
    fflush(stdout);
    shmc_close(cache);
    return atomic_load(&n_torn) || atomic_load(&n_errors) ? 1 : 0;
}
