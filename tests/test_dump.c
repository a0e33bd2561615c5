/* test_dump.c — `shmc dump` and `shmc restore` (tools/shmc.c) as a user runs them: a dump in
 * memcached-tool's format restores every live item, with its flags and remaining TTL, into
 * a cache of another size; damaged dumps are refused with a clear error and leave the
 * target cache intact. */
#include "testutil.h"

#include <fcntl.h>
#include <stdbool.h>
#include <sys/wait.h>

#define SHMC_TOOL SHMC_BUILD_DIR "/tools/shmc"

/* Run the tool with args; its exit status (or 99); its stderr goes to err_path. */
static int tool(const char *err_path, const char *a1, const char *a2, const char *a3,
                const char *a4)
{
    pid_t pid = fork();
    if (pid == 0) {
        int fd = open(err_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (fd >= 0) dup2(fd, 2);
        execl(SHMC_TOOL, "shmc", a1, a2, a3, a4, (char *)NULL);
        _exit(127);
    }
    int st = 0;
    waitpid(pid, &st, 0);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 99;
}

static bool file_has(const char *path, const char *text)
{
    static char buf[1 << 20];
    FILE *f = fopen(path, "rb");
    if (!f) return false;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    size_t nt = strlen(text);
    for (size_t i = 0; i + nt <= n; i++) /* values hold NUL-free text: memcmp at each place */
        if (buf[i] == text[0] && memcmp(buf + i, text, nt) == 0) return true;
    return false;
}

static void write_file(const char *path, const char *text, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f) return;
    fwrite(text, 1, n, f);
    fclose(f);
}

int main(void)
{
    t_setup("dump");
    if (access(SHMC_TOOL, X_OK) != 0) { /* e.g. in the QEMU guest, which holds the tests only */
        printf("SKIPPED: %s is not here, and dump/restore are its commands\n", SHMC_TOOL);
        return t_finish();
    }
    const char *src = t_path("src"), *dst = t_path("dst"), *dump = t_path("dump");
    const char *err = t_path("err");
    shmc_config cfg;
    shmc_config_init(&cfg);
    cfg.memory_limit = 16u << 20;
    cfg.item_size_max = 256u << 10;
    shmc_t *c = NULL;
    CHECK_RC(shmc_open(&c, src, &cfg), SHMC_OK);
    if (!c) return t_finish();
    enum { N = 2000 };
    char key[32], val[300];
    for (int i = 0; i < N; i++) {
        snprintf(key, sizeof key, "key:%d", i);
        int n = snprintf(val, sizeof val, "value %d\r\nwith a line break", i);
        CHECK_RC(shmc_set(c, key, strlen(key), val, (size_t)n, (uint32_t)i * 7, i % 3 ? 0 : 5000), SHMC_OK);
    }
    static char big[200000];
    memset(big, 'B', sizeof big);
    CHECK_RC(shmc_set(c, "big", 3, big, sizeof big, 1, 0), SHMC_OK);
    CHECK_RC(shmc_set(c, "gone", 4, "x", 1, 0, -1), SHMC_OK); /* expired: not dumped */
    CHECK_RC(shmc_set(c, "empty", 5, "", 0, 0, 0), SHMC_OK);
    shmc_close(c);

    CHECK(tool(err, "dump", src, dump, NULL) == 0);
    CHECK(file_has(dump, "add key:1 7 0 26\r\nvalue 1\r\nwith a line break\r\n"));
    CHECK(file_has(dump, "add empty 0 0 0\r\n\r\n"));
    CHECK(!file_has(dump, "add gone "));
    CHECK(file_has(err, "dumped 2002 items"));

    /* into a smaller cache whose items are smaller: the big one is refused, the rest kept */
    CHECK(tool(err, "create", dst, "-m", "4") == 0);
    shmc_t *d = NULL;
    shmc_config small;
    shmc_config_init(&small);
    small.memory_limit = 4u << 20;
    small.item_size_max = 64u << 10;
    shmc_rc rc = shmc_open(&d, t_path("dst2"), &small);
    CHECK_RC(rc, SHMC_OK);
    shmc_close(d);
    CHECK(tool(err, "restore", t_path("dst2"), dump, NULL) == 1);
    CHECK(file_has(err, "big: 200000 bytes exceed the item size limit") &&
          file_has(err, "restored 2001 items; 0 already present, 1 refused"));
    /* into the default-sized one: everything, flags and TTLs as they were */
    CHECK(tool(err, "restore", dst, dump, NULL) == 0);
    CHECK(file_has(err, "restored 2002 items"));
    CHECK_RC(shmc_open(&d, dst, NULL), SHMC_OK);
    if (d) {
        int good = 0;
        for (int i = 0; i < N; i++) {
            snprintf(key, sizeof key, "key:%d", i);
            int n = snprintf(val, sizeof val, "value %d\r\nwith a line break", i);
            char got[300];
            size_t ng = 0;
            shmc_item_meta m;
            shmc_get_opts peek = {.what = SHMC_GET_NO_BUMP};
            if (shmc_get_meta(d, key, strlen(key), &peek, got, sizeof got, &ng, &m) == SHMC_OK &&
                ng == (size_t)n && !memcmp(got, val, ng) && m.flags == (uint32_t)i * 7 &&
                (i % 3 ? m.ttl == -1 : m.ttl >= 4000 && m.ttl <= 5000)) /* a slow run ages them */
                good++;
        }
        CHECK(good == N);
        size_t nb = 0;
        static char gb[sizeof big];
        CHECK_RC(shmc_get(d, "big", 3, gb, sizeof gb, &nb, NULL, NULL), SHMC_OK);
        CHECK(nb == sizeof big && !memcmp(gb, big, nb));
        /* restoring again adds nothing: add keeps what is there, as memcached does */
        CHECK(tool(err, "restore", dst, dump, NULL) == 0);
        CHECK(file_has(err, "restored 0 items; 2002 already present"));
        shmc_close(d);
    }

    /* damaged dumps: a clear error and exit 3 (refused file), what came before stays, the cache is sound */
    static const struct {
        const char *text;
        const char *says;
    } bad[] = {
#define K251 "kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk" \
             "kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk" \
             "kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk"
        {"add a 0 0 3\r\nabc\r\nadd b 0 0 5\r\nab", "value of b cut short"},
        {"add a 0 0 3\r\nabcdef\r\n", "not ended by \\r\\n"},
        {"get a\r\n", "expected \"add KEY FLAGS EXPTIME BYTES\""},
        {"add a 0 0\r\n", "expected"},
        {"add a x 0 1\r\nx\r\n", "expected"},
        {"add a 4294967296 0 1\r\nx\r\n", "expected"},
        {"add a 0 0 -1\r\nx\r\n", "expected"},
        {"add a 0 0 1\nx\n", "not a line of a dump"},
        {"add a 0 0 99999999999999999999\r\n", "expected"},
        {"add a 0 0 1000000000000\r\n", "value of a cut short"},
        {"add " K251 " 0 0 1\r\nx\r\n", "bad key"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        write_file(dump, bad[i].text, strlen(bad[i].text));
        int st = tool(err, "restore", dst, dump, NULL);
        bool said = file_has(err, bad[i].says);
        CHECK((st == 3 || st == 1) && said);
        if (!said) fprintf(stderr, "  damaged dump %zu: exit %d, no \"%s\"\n", i, st, bad[i].says);
    }
    CHECK(tool(err, "restore", dst, t_path("missing"), NULL) == 2 && file_has(err, "No such file"));
    t_check_file(dst);
    t_check_file(src);

    /* keys a dump line cannot carry (space, newline, NUL: binary-protocol keys) are left out,
     * named URI-encoded, exit 1; a TAB or CR key is dumped and restored */
    char odd[512], odd_dump[512], odd_dst[512]; /* t_path's buffers rotate */
    snprintf(odd, sizeof odd, "%s", t_path("odd"));
    snprintf(odd_dump, sizeof odd_dump, "%s", t_path("odd_dump"));
    snprintf(odd_dst, sizeof odd_dst, "%s", t_path("odd_dst"));
    CHECK_RC(shmc_open(&c, odd, &cfg), SHMC_OK);
    if (c) {
        CHECK_RC(shmc_set(c, "a b", 3, "1", 1, 0, 0), SHMC_OK);
        CHECK_RC(shmc_set(c, "nl\nx", 4, "2", 1, 0, 0), SHMC_OK);
        CHECK_RC(shmc_set(c, "n\0l", 3, "3", 1, 0, 0), SHMC_OK);
        CHECK_RC(shmc_set(c, "t\tab\r", 5, "4", 1, 9, 0), SHMC_OK);
        shmc_close(c);
    }
    CHECK(tool(err, "dump", odd, odd_dump, NULL) == 1);
    CHECK(file_has(err, "skipped a%20b: its key holds") && file_has(err, "skipped nl%0Ax:") &&
          file_has(err, "skipped n%00l:") && file_has(err, "dumped 1 items, 1 value bytes; skipped 3"));
    CHECK(file_has(odd_dump, "add t\tab\r 9 0 1\r\n4\r\n") && !file_has(odd_dump, "add a "));
    CHECK(tool(err, "create", odd_dst, NULL, NULL) == 0);
    CHECK(tool(err, "restore", odd_dst, odd_dump, NULL) == 0 && file_has(err, "restored 1 items"));
    CHECK_RC(shmc_open(&d, odd_dst, NULL), SHMC_OK);
    if (d) {
        char got[8];
        size_t ng = 0;
        uint32_t fl = 0;
        CHECK_RC(shmc_get(d, "t\tab\r", 5, got, sizeof got, &ng, &fl, NULL), SHMC_OK);
        CHECK(ng == 1 && got[0] == '4' && fl == 9);
        CHECK_RC(shmc_get(d, "a b", 3, got, sizeof got, &ng, NULL, NULL), SHMC_NOT_FOUND);
        shmc_close(d);
    }
    t_check_file(odd_dst);
    return t_finish();
}
