/* demo.c — shmc_demo: several separate processes share one cache, with no server between them.
 *
 * Run with no arguments.  The demo creates a cache in a fresh directory under $SHMC_DIR
 * (default /dev/shm), then starts copies of itself (fork + exec, each with a role argument):
 *   - one writer stores KEYS keys with 128-byte values, twice (generation 1, then 2);
 *   - READERS readers read those keys while the writer is still writing, and check that
 *     every value they get is exactly one the writer stored (never a mix, never going back
 *     to an older generation), then check all of them once more when the writer is done;
 *   - every process then times its own calls (CLOCK_MONOTONIC around each call): the
 *     readers get hits and misses, the writer (after the readers) set, delete and incr.
 * The demo prints what each process saw and a latency table, removes its files, and exits
 * non-zero if any reader ever saw a wrong value.
 *
 * Children write their counts and raw latency samples to files in the demo's directory;
 * the coordinating process merges them. */
#include <shmc.h>

#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <dirent.h>
#include <sys/stat.h>
#include <sys/wait.h>

#define KEYS 50000
#define GENERATIONS 2
#define VALUE_LEN 128
#define READERS 3
#define OPS 200000          /* timed calls per operation and process */
#define CHILD_DEADLINE_S 60 /* a child that runs longer is killed: the demo never hangs */

/* ---- Shared by all roles ---- */

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static inline uint64_t now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

static size_t demo_key(char *buf, size_t cap, unsigned i)
{
    return (size_t)snprintf(buf, cap, "demo:%u", i);
}

/* The writer's value for key i in generation gen: 128 readable bytes unique to (i, gen). */
static void demo_value(char *buf, unsigned i, unsigned gen)
{
    int n = snprintf(buf, VALUE_LEN + 1, "key %u, generation %u: ", i, gen);
    uint32_t s = i * 2654435761u ^ gen * 40503u;
    for (int k = n; k < VALUE_LEN; k++) {
        s = s * 1103515245u + 12345u;
        buf[k] = (char)('a' + (s >> 16) % 26);
    }
}

static void die(const char *what, shmc_rc rc)
{
    fprintf(stderr, "shmc_demo[%d]: %s: %s %s\n", (int)getpid(), what, shmc_strerror(rc),
            shmc_last_error());
    exit(2);
}

static shmc_t *open_cache(const char *dir)
{
    char path[512];
    snprintf(path, sizeof path, "%s/cache", dir);
    shmc_t *c;
    shmc_rc rc = shmc_open(&c, path, NULL);
    if (rc != SHMC_OK) die("open", rc);
    return c;
}

static void write_file(const char *dir, const char *name, const void *data, size_t n)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(data, 1, n, f) != n || fclose(f) != 0) {
        fprintf(stderr, "shmc_demo: cannot write %s: %s\n", path, strerror(errno));
        exit(2);
    }
}

/* Wait until the counter `key` reaches `target` (another process increments it). */
static int wait_for_count(shmc_t *c, const char *key, uint64_t target)
{
    double give_up = now_s() + CHILD_DEADLINE_S / 2;
    while (now_s() < give_up) {
        char text[32];
        size_t n = 0;
        if (shmc_get(c, key, strlen(key), text, sizeof text - 1, &n, NULL, NULL) == SHMC_OK) {
            text[n] = '\0';
            if (strtoull(text, NULL, 10) >= target) return 0;
        }
        usleep(1000);
    }
    return -1;
}

/* ---- The writer ---- */

static int run_writer(const char *dir)
{
    shmc_t *c = open_cache(dir);
    char key[64], value[VALUE_LEN + 1];
    unsigned long long failures = 0;

    for (unsigned gen = 1; gen <= GENERATIONS; gen++)
        for (unsigned i = 0; i < KEYS; i++) {
            demo_value(value, i, gen);
            if (shmc_set(c, key, demo_key(key, sizeof key, i), value, VALUE_LEN, gen, 0) != SHMC_OK)
                failures++;
        }
    if (shmc_set(c, "demo:writer-done", 16, "1", 1, 0, 0) != SHMC_OK) failures++;

    /* Time set/delete/incr once the readers have finished timing their gets. */
    if (wait_for_count(c, "demo:readers-timed", READERS) != 0) {
        fprintf(stderr, "shmc_demo writer: the readers never finished\n");
        return 2;
    }
    uint32_t *set_ns = malloc(OPS * sizeof *set_ns), *del_ns = malloc(OPS * sizeof *del_ns),
             *incr_ns = malloc(OPS * sizeof *incr_ns);
    if (!set_ns || !del_ns || !incr_ns) return 2;
    memset(value, 'v', VALUE_LEN);
    for (unsigned i = 0; i < OPS; i++) {
        size_t nkey = (size_t)snprintf(key, sizeof key, "timed:%u", i);
        uint64_t t0 = now_ns();
        shmc_rc rc = shmc_set(c, key, nkey, value, VALUE_LEN, 0, 0);
        set_ns[i] = (uint32_t)(now_ns() - t0);
        if (rc != SHMC_OK) failures++;
    }
    for (unsigned i = 0; i < OPS; i++) {
        size_t nkey = (size_t)snprintf(key, sizeof key, "timed:%u", i);
        uint64_t t0 = now_ns();
        shmc_rc rc = shmc_delete(c, key, nkey);
        del_ns[i] = (uint32_t)(now_ns() - t0);
        if (rc != SHMC_OK) failures++;
    }
    if (shmc_set(c, "demo:counter", 12, "0", 1, 0, 0) != SHMC_OK) failures++;
    uint64_t counter = 0;
    for (unsigned i = 0; i < OPS; i++) {
        uint64_t t0 = now_ns();
        shmc_rc rc = shmc_incr(c, "demo:counter", 12, 1, &counter);
        incr_ns[i] = (uint32_t)(now_ns() - t0);
        if (rc != SHMC_OK) failures++;
    }
    if (counter != OPS) failures++;

    write_file(dir, "set.ns", set_ns, OPS * sizeof *set_ns);
    write_file(dir, "delete.ns", del_ns, OPS * sizeof *del_ns);
    write_file(dir, "incr.ns", incr_ns, OPS * sizeof *incr_ns);
    char summary[256];
    int n = snprintf(summary, sizeof summary, "%d %d %d %llu %llu\n", (int)getpid(), KEYS,
                     GENERATIONS, (unsigned long long)counter, failures);
    write_file(dir, "writer.txt", summary, (size_t)n);
    free(set_ns), free(del_ns), free(incr_ns);
    shmc_close(c);
    return failures ? 1 : 0;
}

/* ---- A reader ---- */

typedef struct reader_counts {
    unsigned long long gets_during, hits_during, distinct_during, final_ok, wrong;
} reader_counts;

/* Get key i and judge the value: 1 a right value, 0 a miss, -1 a wrong value. */
static int read_and_judge(shmc_t *c, unsigned i, unsigned char *newest_gen, reader_counts *rc_out)
{
    char key[64], got[VALUE_LEN + 1], want[VALUE_LEN + 1];
    size_t n = 0;
    uint32_t gen = 0;
    shmc_rc rc = shmc_get(c, key, demo_key(key, sizeof key, i), got, sizeof got, &n, &gen, NULL);
    if (rc == SHMC_NOT_FOUND) return 0;
    int right = rc == SHMC_OK && n == VALUE_LEN && gen >= 1 && gen <= GENERATIONS &&
                gen >= newest_gen[i];
    if (right) {
        demo_value(want, i, gen);
        right = memcmp(got, want, VALUE_LEN) == 0;
    }
    if (!right) {
        if (rc_out->wrong++ < 5)
            fprintf(stderr, "shmc_demo reader %d: WRONG value for %s (%s, %zu bytes, gen %u)\n",
                    (int)getpid(), key, shmc_strerror(rc), n, gen);
        return -1;
    }
    newest_gen[i] = (unsigned char)gen;
    return 1;
}

static int run_reader(const char *dir, int id)
{
    shmc_t *c = open_cache(dir);
    reader_counts rc = {0};
    unsigned char *newest_gen = calloc(KEYS, 1);
    if (!newest_gen) return 2;

    /* While the writer writes: sweep the keys, starting at a different place per reader. */
    double give_up = now_s() + CHILD_DEADLINE_S / 2;
    size_t nvalue;
    for (unsigned i = (unsigned)id * (KEYS / READERS);; i = (i + 1) % KEYS) {
        if (rc.gets_during % 4096 == 0 &&
            (shmc_get(c, "demo:writer-done", 16, NULL, 0, &nvalue, NULL, NULL) != SHMC_NOT_FOUND ||
             now_s() > give_up))
            break;
        unsigned char before = newest_gen[i];
        int r = read_and_judge(c, i, newest_gen, &rc);
        rc.gets_during++;
        if (r > 0) {
            rc.hits_during++;
            if (before == 0) rc.distinct_during++;
        }
    }
    /* The writer is done: every key must hold its last generation. */
    for (unsigned i = 0; i < KEYS; i++)
        if (read_and_judge(c, i, newest_gen, &rc) > 0 && newest_gen[i] == GENERATIONS)
            rc.final_ok++;

    /* Time gets: hits on the demo keys, misses on keys nobody stored. */
    uint32_t *hit_ns = malloc(OPS * sizeof *hit_ns), *miss_ns = malloc(OPS * sizeof *miss_ns);
    if (!hit_ns || !miss_ns) return 2;
    char key[64], got[VALUE_LEN + 1], want[VALUE_LEN + 1];
    for (unsigned k = 0; k < OPS; k++) {
        unsigned i = (k * 7919u + (unsigned)id) % KEYS;
        size_t nkey = demo_key(key, sizeof key, i), n = 0;
        uint64_t t0 = now_ns();
        shmc_rc r = shmc_get(c, key, nkey, got, sizeof got, &n, NULL, NULL);
        hit_ns[k] = (uint32_t)(now_ns() - t0);
        demo_value(want, i, GENERATIONS);
        if (r != SHMC_OK || n != VALUE_LEN || memcmp(got, want, VALUE_LEN) != 0) rc.wrong++;
    }
    for (unsigned k = 0; k < OPS; k++) {
        size_t nkey = (size_t)snprintf(key, sizeof key, "absent:%d:%u", id, k), n = 0;
        uint64_t t0 = now_ns();
        shmc_rc r = shmc_get(c, key, nkey, got, sizeof got, &n, NULL, NULL);
        miss_ns[k] = (uint32_t)(now_ns() - t0);
        if (r != SHMC_NOT_FOUND) rc.wrong++;
    }
    shmc_incr(c, "demo:readers-timed", 18, 1, NULL);

    char name[64], summary[256];
    snprintf(name, sizeof name, "get-hit.%d.ns", id);
    write_file(dir, name, hit_ns, OPS * sizeof *hit_ns);
    snprintf(name, sizeof name, "get-miss.%d.ns", id);
    write_file(dir, name, miss_ns, OPS * sizeof *miss_ns);
    int n = snprintf(summary, sizeof summary, "%d %llu %llu %llu %llu %llu\n", (int)getpid(),
                     rc.gets_during, rc.hits_during, rc.distinct_during, rc.final_ok, rc.wrong);
    snprintf(name, sizeof name, "reader.%d.txt", id);
    write_file(dir, name, summary, (size_t)n);
    free(hit_ns), free(miss_ns), free(newest_gen);
    shmc_close(c);
    return rc.wrong || rc.final_ok != KEYS ? 1 : 0;
}

/* ---- The coordinator ---- */

static volatile sig_atomic_t interrupted;
static void on_signal(int sig)
{
    (void)sig;
    interrupted = 1;
}

static void remove_dir(const char *dir)
{
    DIR *d = opendir(dir);
    if (d) {
        struct dirent *e;
        while ((e = readdir(d))) {
            if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
            char p[512];
            snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
            unlink(p);
        }
        closedir(d);
    }
    rmdir(dir);
}

static pid_t start_role(const char *role, const char *dir, int id)
{
    char idtext[16];
    snprintf(idtext, sizeof idtext, "%d", id);
    pid_t pid = fork();
    if (pid == 0) {
        char *argv[] = {"shmc_demo", (char *)role, (char *)dir, idtext, NULL};
        execv("/proc/self/exe", argv);
        perror("shmc_demo: exec /proc/self/exe");
        _exit(127);
    }
    if (pid < 0) perror("shmc_demo: fork");
    return pid;
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

/* Merge sample files `pattern` (%d: 0..files-1, or a plain name) and print one table row. */
static void latency_row(const char *dir, const char *label, const char *who, const char *pattern,
                        int files)
{
    uint32_t *all = malloc((size_t)files * OPS * sizeof *all);
    size_t n = 0;
    for (int f = 0; all && f < files; f++) {
        char name[64], path[512];
        snprintf(name, sizeof name, pattern, f);
        snprintf(path, sizeof path, "%s/%s", dir, name);
        FILE *fp = fopen(path, "rb");
        if (!fp) continue;
        n += fread(all + n, sizeof *all, OPS, fp);
        fclose(fp);
    }
    if (n == 0) {
        printf("  %-16s %-11s %9s %10s %10s\n", label, who, "-", "-", "-");
    } else {
        qsort(all, n, sizeof *all, cmp_u32);
        printf("  %-16s %-11s %9zu %7u ns %7u ns\n", label, who, n, all[n / 2],
               all[(size_t)((double)n * 0.99)]);
    }
    free(all);
}

static unsigned clock_overhead_ns(void)
{
    static uint32_t d[10001];
    for (int i = 0; i < 10001; i++) {
        uint64_t t0 = now_ns();
        d[i] = (uint32_t)(now_ns() - t0);
    }
    qsort(d, 10001, sizeof *d, cmp_u32);
    return d[5000];
}

static int coordinate(void)
{
    double t_start = now_s();
    const char *base = getenv("SHMC_DIR");
    if (!base || !*base) base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
    char dir[400], path[450];
    snprintf(dir, sizeof dir, "%s/shmc-demo-XXXXXX", base);
    if (!mkdtemp(dir)) {
        fprintf(stderr, "shmc_demo: cannot make a directory in %s: %s\n", base, strerror(errno));
        return 2;
    }
    snprintf(path, sizeof path, "%s/cache", dir);

    shmc_config cfg;
    shmc_config_init(&cfg);
    cfg.memory_limit = 128u << 20;
    shmc_t *c;
    shmc_rc rc = shmc_open(&c, path, &cfg);
    if (rc != SHMC_OK) {
        fprintf(stderr, "shmc_demo: cannot create %s: %s %s\n", path, shmc_strerror(rc),
                shmc_last_error());
        remove_dir(dir);
        return 2;
    }
    rc = shmc_set(c, "demo:readers-timed", 18, "0", 1, 0, 0); /* readers incr it when done */
    if (rc != SHMC_OK) {
        fprintf(stderr, "shmc_demo: set: %s\n", shmc_strerror(rc));
        shmc_close(c);
        remove_dir(dir);
        return 2;
    }
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);

    /* Readers first, so that they read while the writer writes. */
    pid_t pids[READERS + 1];
    for (int r = 0; r < READERS; r++) pids[r + 1] = start_role("reader", dir, r);
    pids[0] = start_role("writer", dir, 0);

    int failed_children = 0, status;
    double deadline = now_s() + CHILD_DEADLINE_S;
    for (int left = READERS + 1; left > 0;) {
        for (int p = 0; p <= READERS; p++) {
            if (pids[p] <= 0) continue;
            pid_t r = waitpid(pids[p], &status, WNOHANG);
            if (r == pids[p] || r < 0) {
                if (r < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) failed_children++;
                pids[p] = 0;
                left--;
            }
        }
        if (left > 0 && (interrupted || now_s() > deadline)) {
            fprintf(stderr, "shmc_demo: %s: stopping the processes\n",
                    interrupted ? "interrupted" : "a process took too long");
            for (int p = 0; p <= READERS; p++)
                if (pids[p] > 0) kill(pids[p], SIGKILL), waitpid(pids[p], &status, 0);
            shmc_close(c);
            remove_dir(dir);
            return interrupted ? 130 : 1;
        }
        usleep(2000);
    }
    double t_children = now_s() - t_start;

    shmc_stats_t st;
    memset(&st, 0, sizeof st);
    shmc_stats(c, &st);

    printf("\nshmc demo: 1 writer + %d readers, separate processes, one cache, no server\n",
           READERS);
    printf("  cache %s (%llu MiB, %s)\n\n", path, (unsigned long long)(st.limit_maxbytes >> 20),
           st.protected_mode ? "protected by PKU" : "unprotected: this CPU has no PKU");

    printf("what each process saw\n");
    unsigned long long total_wrong = 0;
    char line[512];
    FILE *f;
    int wpid = 0, keys = 0, gens = 0;
    unsigned long long counter = 0, wfail = 1;
    snprintf(line, sizeof line, "%s/writer.txt", dir);
    if ((f = fopen(line, "r"))) {
        if (fscanf(f, "%d %d %d %llu %llu", &wpid, &keys, &gens, &counter, &wfail) != 5) wfail = 1;
        fclose(f);
        printf("  writer    pid %-7d stored %d keys x %d generations (%d B values), "
               "counted to %llu with incr\n",
               wpid, keys, gens, VALUE_LEN, counter);
    } else {
        printf("  writer    left no report\n");
    }
    for (int r = 0; r < READERS; r++) {
        int pid = 0;
        unsigned long long gets = 0, hits = 0, distinct = 0, final_ok = 0, wrong = 1;
        snprintf(line, sizeof line, "%s/reader.%d.txt", dir, r);
        if ((f = fopen(line, "r"))) {
            if (fscanf(f, "%d %llu %llu %llu %llu %llu", &pid, &gets, &hits, &distinct, &final_ok,
                       &wrong) != 6)
                wrong = 1;
            fclose(f);
            printf("  reader %d  pid %-7d during the writes: %llu gets, %llu hits, %llu distinct "
                   "keys\n                        afterwards: %llu of %d keys right; wrong values "
                   "seen: %llu\n",
                   r + 1, pid, gets, hits, distinct, final_ok, KEYS, wrong);
        } else {
            printf("  reader %d  left no report\n", r + 1);
        }
        total_wrong += wrong;
    }

    printf("\nlatency per call, timed inside each process (CLOCK_MONOTONIC around every call)\n");
    printf("  %-16s %-11s %9s %10s %10s\n", "operation", "measured by", "calls", "median", "p99");
    char readers[16];
    snprintf(readers, sizeof readers, "%d readers", READERS);
    latency_row(dir, "get hit 128 B", readers, "get-hit.%d.ns", READERS);
    latency_row(dir, "get miss", readers, "get-miss.%d.ns", READERS);
    latency_row(dir, "set 128 B", "writer", "set.ns", 1);
    latency_row(dir, "delete", "writer", "delete.ns", 1);
    latency_row(dir, "incr", "writer", "incr.ns", 1);
    printf("  (each figure includes about %u ns for reading the clock)\n", clock_overhead_ns());

    printf("\ncache stats, summed over every process\n"
           "  %llu items, %llu evictions, %llu attaches\n"
           "  %llu gets (%llu hits, %llu misses), %llu sets, %llu deletes, %llu incrs\n",
           (unsigned long long)st.curr_items, (unsigned long long)st.evictions,
           (unsigned long long)st.total_connections, (unsigned long long)st.cmd_get,
           (unsigned long long)st.get_hits, (unsigned long long)st.get_misses,
           (unsigned long long)st.cmd_set, (unsigned long long)st.delete_hits,
           (unsigned long long)st.incr_hits);

    shmc_close(c);
    remove_dir(dir);
    int ok = failed_children == 0 && total_wrong == 0 && wfail == 0;
    if (ok)
        printf("\nOK in %.1f s: every value every reader saw was one the writer stored\n",
               t_children);
    else
        printf("\nFAILED: %d process(es) failed, %llu wrong value(s) seen\n", failed_children,
               total_wrong);
    return ok ? 0 : 1;
}

int main(int argc, char **argv)
{
    if (argc == 1) return coordinate();
    if (argc == 4 && !strcmp(argv[1], "writer")) return run_writer(argv[2]);
    if (argc == 4 && !strcmp(argv[1], "reader")) return run_reader(argv[2], atoi(argv[3]));
    fprintf(stderr, "usage: shmc_demo   (no arguments; it starts its own writer and readers)\n");
    return 2;
}
