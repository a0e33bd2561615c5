/* mp_common.h — what the multi-process tests and their helper programs (tests/progs/mp_*.c)
 * share: starting a helper with pipes on its stdin and stdout, waiting for it with a
 * deadline, a start gate (children block on stdin until the parent closes it), finding a
 * cache's mappings in /proc/<pid>/maps, and the deterministic keys and values that a writer
 * and a verifier in different processes both compute, so every byte can be checked. */
#ifndef SHMC_MP_COMMON_H
#define SHMC_MP_COMMON_H

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <shmc.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/types.h>
#include <sys/wait.h>

extern char **environ;

/* ---- Deterministic keys and values ---- */

static inline uint64_t mp_mix(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

static inline uint64_t mp_fnv1a(const void *data, size_t n)
{
    const unsigned char *p = data;
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 0x100000001b3ull;
    }
    return h;
}

static inline size_t mp_key(char *buf, size_t cap, const char *prefix, uint64_t i)
{
    int n = snprintf(buf, cap, "%s:%llu", prefix, (unsigned long long)i);
    return n < 0 ? 0 : (size_t)n;
}

static inline uint64_t mp_seed(const char *prefix, uint64_t i, uint64_t gen)
{
    return mp_mix(mp_fnv1a(prefix, strlen(prefix)) ^ mp_mix(i) ^
                  mp_mix(gen * 0x2545f4914f6cdd1dull));
}

/* The value of key (prefix, i) in generation gen: 0..maxlen bytes (maxlen <= cap). */
static inline size_t mp_value(unsigned char *buf, size_t maxlen, const char *prefix, uint64_t i,
                              uint64_t gen)
{
    uint64_t s = mp_seed(prefix, i, gen);
    size_t len = (size_t)(s % (maxlen + 1));
    for (size_t k = 0; k < len; k++) {
        if (k % 8 == 0) s = mp_mix(s);
        buf[k] = (unsigned char)(s >> (8 * (k % 8)));
    }
    return len;
}

static inline uint32_t mp_flags(const char *prefix, uint64_t i, uint64_t gen)
{
    return (uint32_t)(mp_seed(prefix, i, gen) >> 32);
}

/* Check keys prefix:first, first+step, ... below first+count, of generation gen, in cache c:
 * each must hold exactly the mp_value and mp_flags the writer computed.  Returns how many were
 * missing or differed; the first few are named on stderr after `who`. */
static inline size_t mp_verify(shmc_t *c, const char *who, const char *prefix, uint64_t first,
                               uint64_t count, uint64_t step, uint64_t gen, size_t maxlen)
{
    unsigned char *want = malloc(maxlen + 1), *got = malloc(maxlen + 1);
    char key[300];
    size_t bad = 0;
    for (uint64_t i = first; want && got && i < first + count; i += step) {
        size_t nkey = mp_key(key, sizeof key, prefix, i);
        size_t nwant = mp_value(want, maxlen, prefix, i, gen);
        size_t nvalue = 0;
        uint32_t flags = 0;
        shmc_rc rc = shmc_get(c, key, nkey, got, maxlen + 1, &nvalue, &flags, NULL);
        if (rc != SHMC_OK || nvalue != nwant || flags != mp_flags(prefix, i, gen) ||
            memcmp(got, want, nwant) != 0) {
            if (bad++ < 5)
                fprintf(stderr, "%s: %s: %s, %zu bytes, want %zu\n", who, key, shmc_strerror(rc),
                        nvalue, nwant);
        }
    }
    if (!want || !got) bad++;
    free(want);
    free(got);
    return bad;
}

/* ---- Children ---- */

typedef struct mp_child {
    pid_t pid;
    int to_child;   /* the child's stdin; closing it opens the child's start gate */
    int from_child; /* the child's stdout */
} mp_child;

/* Start program `path` with argv (argv[0] included, NULL-terminated); its stdin and
 * stdout are pipes, its stderr is ours.  Returns 0, or -1 with errno. */
static inline int mp_spawn(mp_child *ch, const char *path, char *const argv[])
{
    int in[2], out[2];
    if (pipe2(in, O_CLOEXEC) != 0) return -1;
    if (pipe2(out, O_CLOEXEC) != 0) {
        close(in[0]), close(in[1]);
        return -1;
    }
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, in[0], 0);
    posix_spawn_file_actions_adddup2(&fa, out[1], 1);
    int err = posix_spawn(&ch->pid, path, &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(in[0]);
    close(out[1]);
    if (err != 0) {
        close(in[1]), close(out[0]);
        errno = err;
        return -1;
    }
    ch->to_child = in[1];
    ch->from_child = out[0];
    return 0;
}

/* Open the child's start gate (it sees EOF on stdin). */
static inline void mp_release(mp_child *ch)
{
    if (ch->to_child >= 0) close(ch->to_child);
    ch->to_child = -1;
}

/* Read one line from the child's stdout (without the '\n'), waiting at most timeout_s.
 * Returns its length, or -1 on EOF, error or timeout. */
static inline int mp_read_line(mp_child *ch, char *buf, size_t cap, int timeout_s)
{
    size_t n = 0;
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    while (n + 1 < cap) {
        struct timespec now;
        clock_gettime(CLOCK_MONOTONIC, &now);
        long left_ms = timeout_s * 1000L - ((now.tv_sec - t0.tv_sec) * 1000L +
                                            (now.tv_nsec - t0.tv_nsec) / 1000000L);
        if (left_ms <= 0) return -1;
        struct pollfd p = {.fd = ch->from_child, .events = POLLIN};
        int r = poll(&p, 1, (int)left_ms);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) return -1;
        char c;
        ssize_t got = read(ch->from_child, &c, 1);
        if (got < 0 && errno == EINTR) continue;
        if (got <= 0) return -1;
        if (c == '\n') break;
        buf[n++] = c;
    }
    buf[n] = '\0';
    return (int)n;
}

/* Wait for the child to end, at most timeout_s; past that it is killed (SIGKILL).
 * Returns its exit code, 128+signal when a signal ended it, or -1 on timeout. */
static inline int mp_wait(mp_child *ch, int timeout_s)
{
    int status = 0;
    struct timespec t0, now;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (;;) {
        pid_t r = waitpid(ch->pid, &status, WNOHANG);
        if (r == ch->pid) break;
        if (r < 0 && errno != EINTR) return -1;
        clock_gettime(CLOCK_MONOTONIC, &now);
        if (now.tv_sec - t0.tv_sec >= timeout_s) {
            fprintf(stderr, "mp_wait: child %d still running after %d s: killing it\n",
                    (int)ch->pid, timeout_s);
            kill(ch->pid, SIGKILL);
            waitpid(ch->pid, &status, 0);
            status = -1;
            break;
        }
        struct timespec nap = {0, 5 * 1000 * 1000};
        nanosleep(&nap, NULL);
    }
    mp_release(ch);
    if (ch->from_child >= 0) close(ch->from_child);
    ch->from_child = -1;
    if (status == -1) return -1;
    if (WIFEXITED(status)) return WEXITSTATUS(status);
    if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
    return -1;
}

/* In a child: block until the parent opens the gate (closes our stdin). */
static inline void mp_gate_wait(void)
{
    char c;
    for (;;) {
        ssize_t r = read(0, &c, 1);
        if (r == 0 || (r < 0 && errno != EINTR)) return;
    }
}

/* ---- Mappings ---- */

/* Find the mappings of file `path` in /proc/<pid>/maps (pid 0: this process), by device and
 * inode: a process that created the cache may have mapped it under a temporary name since
 * removed.  *lowest gets the lowest start address, *total the sum of their lengths; returns
 * the number of mappings found (0: none). */
static inline int mp_find_mapping(pid_t pid, const char *path, uintptr_t *lowest, size_t *total)
{
    struct stat st;
    if (stat(path, &st) != 0) return 0;
    char maps[64];
    if (pid)
        snprintf(maps, sizeof maps, "/proc/%d/maps", (int)pid);
    else
        snprintf(maps, sizeof maps, "/proc/self/maps");
    FILE *f = fopen(maps, "r");
    if (!f) return 0;
    char line[4600];
    int found = 0;
    *lowest = UINTPTR_MAX;
    *total = 0;
    while (fgets(line, sizeof line, f)) {
        unsigned long start, end, inode;
        unsigned dev_major, dev_minor;
        if (sscanf(line, "%lx-%lx %*s %*s %x:%x %lu", &start, &end, &dev_major, &dev_minor,
                   &inode) != 5)
            continue;
        if (inode != (unsigned long)st.st_ino || dev_major != major(st.st_dev) ||
            dev_minor != minor(st.st_dev))
            continue;
        found++;
        if (start < *lowest) *lowest = start;
        *total += end - start;
    }
    fclose(f);
    return found;
}

#endif
