/* ls.c — `shmc ls`: the caches in $SHMC_DIR (or a given directory), read with shmc_info, so
 * listing attaches to none of them and repairs nothing.  A file it cannot read as a cache is
 * listed too, with the reason, so that no cache hides from its owner's view. */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"

/* 64.0M-style sizes for people; --json has the bytes. */
static const char *human(uint64_t v, char *buf, size_t cap)
{
    const char *unit = "KMGTP";
    if (v < 1024) {
        snprintf(buf, cap, "%" PRIu64, v);
        return buf;
    }
    double d = (double)v / 1024;
    int i = 0;
    while (d >= 1024 && i < 4) d /= 1024, i++;
    snprintf(buf, cap, "%.1f%c", d, unit[i]);
    return buf;
}

/* Why path cannot be listed as a cache, in a few words for the table ("permission denied",
 * "not a shmc cache"); rc and detail are shmc_info's answer, which --json and -v give in
 * full. */
static const char *short_reason(const char *path, shmc_rc rc, const char *detail, char *buf,
                                size_t cap)
{
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        snprintf(buf, cap, "%s", strerror(errno));
        buf[0] = (char)tolower((unsigned char)buf[0]);
        return buf;
    }
    close(fd);
    if (rc != SHMC_BAD_FILE) return *detail ? detail : shmc_strerror(rc);
    if (strstr(detail, "bad magic") || strstr(detail, "too short")) return "not a shmc cache";
    if (strstr(detail, "layout version")) return "a cache of another layout version";
    return "a damaged cache file (shmc check tells more)";
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int cmd_ls(cli_args *a)
{
    const char *dir = a->npos ? a->pos[0] : getenv("SHMC_DIR");
    if (!dir || !*dir) dir = "/dev/shm";
    DIR *d = opendir(dir);
    if (!d) return fprintf(stderr, "shmc: %s: %m\n", dir), EXIT_SYSTEM;
    char **names = NULL;
    size_t n = 0, cap = 0;
    for (struct dirent *de; (de = readdir(d));) {
        if (de->d_name[0] == '.') continue;
        if (n == cap && !(names = realloc(names, (cap = cap ? 2 * cap : 64) * sizeof *names)))
            return fprintf(stderr, "shmc: out of memory\n"), EXIT_SYSTEM;
        names[n++] = strdup(de->d_name);
    }
    closedir(d);
    qsort(names, n, sizeof *names, by_name);
    if (a->json) printf("[");
    else printf("%-24s %8s %10s %8s %10s %8s %s\n", "NAME", "SIZE", "ITEMS", "USED", "PROTECTION",
                "ATTACHED", "SCRUB");
    int shown = 0;
    for (size_t i = 0; i < n; i++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        struct stat st;
        shmc_info_t info;
        if (stat(path, &st) != 0 || !S_ISREG(st.st_mode)) continue;
        shmc_rc rc = shmc_info(path, &info);
        char detail[512], buf[128];
        const char *why = NULL; /* set when the file cannot be read as a cache */
        if (rc != SHMC_OK) {
            snprintf(detail, sizeof detail, "%s", shmc_last_error());
            why = short_reason(path, rc, detail, buf, sizeof buf);
            if (a->verbose) fprintf(stderr, "shmc: %s: %s\n", names[i], detail);
        }
        uint64_t size = why ? (uint64_t)st.st_size : info.file_size;
        char b1[32], b2[32];
        if (a->json) {
            cli_json_str(shown ? ", {\"name\": " : "{\"name\": ", names[i]);
            cli_json_str(", \"path\": ", path);
            printf(", \"file_size\": %" PRIu64, size);
            if (why) {
                cli_json_str(", \"error\": ", why);
                cli_json_str(", \"detail\": ", detail);
            } else {
                printf(", \"memory_limit\": %" PRIu64 ", \"item_size_max\": %" PRIu64
                       ", \"curr_items\": %" PRIu64 ", \"bytes\": %" PRIu64
                       ", \"attached\": %" PRIu64 ", \"protection\": \"%s\", \"scrub_pending\": %s"
                       ", \"create_time\": %" PRIu64,
                       info.memory_limit, info.item_size_max, info.curr_items, info.bytes,
                       info.attached, info.protected_mode ? "pku" : "none",
                       info.scrub_pending ? "true" : "false", info.create_time);
            }
            printf("}");
        } else if (why) {
            printf("%-24s %8s %s\n", names[i], human(size, b1, sizeof b1), why);
        } else {
            printf("%-24s %8s %10" PRIu64 " %8s %10s %8" PRIu64 " %s\n", names[i],
                   human(size, b1, sizeof b1), info.curr_items, human(info.bytes, b2, sizeof b2),
                   info.protected_mode ? "pku" : "none", info.attached,
                   info.scrub_pending ? "pending" : "-");
        }
        shown++;
    }
    if (a->json) printf("]\n");
    for (size_t i = 0; i < n; i++) free(names[i]);
    free(names);
    return EXIT_OK_;
}
