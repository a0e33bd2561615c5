/* test_open_flags.c — shmc_config.flags: SHMC_OPEN_EXISTING never creates (a missing cache
 * is SHMC_NOT_FOUND and leaves no file), SHMC_OPEN_CREATE never attaches (an existing cache is
 * SHMC_EXISTS, racing creators: exactly one wins), and bad flags are SHMC_INVALID. */
#include <sys/wait.h>

#include "testutil.h"

static void test_existing_only(void)
{
    shmc_config cfg;
    shmc_config_init(&cfg);
    cfg.memory_limit = 0;
    cfg.item_size_max = 0;
    cfg.flags = SHMC_OPEN_EXISTING;
    shmc_t *c = (shmc_t *)1;
    CHECK_RC(shmc_open(&c, t_path("absent"), &cfg), SHMC_NOT_FOUND);
    CHECK(c == NULL);
    CHECK(strstr(shmc_last_error(), "no such cache") != NULL);
    CHECK(access(t_path("absent"), F_OK) != 0);
    /* as a plain name in $SHMC_DIR too */
    setenv("SHMC_DIR", t_dir, 1);
    CHECK_RC(shmc_open(&c, "absent-name", &cfg), SHMC_NOT_FOUND);
    CHECK(access(t_path("absent-name"), F_OK) != 0);

    CHECK_RC(shmc_open(&c, t_path("present"), NULL), SHMC_OK);
    CHECK_RC(shmc_set(c, "k", 1, "v", 1, 0, 0), SHMC_OK);
    shmc_close(c);
    CHECK_RC(shmc_open(&c, t_path("present"), &cfg), SHMC_OK);
    size_t n = 0;
    char buf[4];
    CHECK_RC(shmc_get(c, "k", 1, buf, sizeof buf, &n, NULL, NULL), SHMC_OK);
    CHECK(n == 1 && buf[0] == 'v');
    shmc_close(c);
}

static void test_create_only(void)
{
    shmc_config cfg;
    shmc_config_init(&cfg);
    cfg.memory_limit = 4u << 20;
    cfg.flags = SHMC_OPEN_CREATE;
    shmc_t *c;
    CHECK_RC(shmc_open(&c, t_path("fresh"), &cfg), SHMC_OK);
    shmc_close(c);
    CHECK_RC(shmc_open(&c, t_path("fresh"), &cfg), SHMC_EXISTS);
    CHECK(c == NULL);
    CHECK(strstr(shmc_last_error(), "exists") != NULL);
    /* a foreign file is SHMC_EXISTS too: create-only never looks inside */
    FILE *f = fopen(t_path("foreign"), "w");
    fputs("not a cache", f);
    fclose(f);
    CHECK_RC(shmc_open(&c, t_path("foreign"), &cfg), SHMC_EXISTS);

    /* 8 racing creators: exactly one creates, the others are told it exists */
    enum { N = 8 };
    pid_t pids[N];
    for (int i = 0; i < N; i++) {
        pids[i] = fork();
        if (pids[i] == 0) {
            shmc_t *h;
            shmc_rc rc = shmc_open(&h, t_path("race"), &cfg);
            _exit(rc == SHMC_OK ? 0 : rc == SHMC_EXISTS ? 1 : 2);
        }
    }
    int won = 0, lost = 0;
    for (int i = 0; i < N; i++) {
        int st;
        waitpid(pids[i], &st, 0);
        if (WIFEXITED(st) && WEXITSTATUS(st) == 0) won++;
        else if (WIFEXITED(st) && WEXITSTATUS(st) == 1) lost++;
    }
    printf("racing create-only openers: %d created, %d told it exists\n", won, lost);
    CHECK(won == 1 && lost == N - 1);
    t_check_file(t_path("race"));
}

static void test_bad_flags(void)
{
    shmc_config cfg;
    shmc_config_init(&cfg);
    shmc_t *c;
    cfg.flags = SHMC_OPEN_EXISTING | SHMC_OPEN_CREATE;
    CHECK_RC(shmc_open(&c, t_path("bad"), &cfg), SHMC_INVALID);
    cfg.flags = 8; /* the first unknown bit (4 is SHMC_OPEN_NO_EVICT) */
    CHECK_RC(shmc_open(&c, t_path("bad"), &cfg), SHMC_INVALID);
    CHECK(access(t_path("bad"), F_OK) != 0);
}

/* shmc_info reads a file without attaching: no connection counted, no file made */
static void test_info(void)
{
    shmc_info_t info;
    CHECK_RC(shmc_info(t_path("nothing"), &info), SHMC_NOT_FOUND);
    CHECK(access(t_path("nothing"), F_OK) != 0);
    CHECK_RC(shmc_info(t_path("present"), NULL), SHMC_INVALID);
    CHECK_RC(shmc_info(t_path("foreign"), &info), SHMC_BAD_FILE);
    shmc_t *c;
    CHECK_RC(shmc_open(&c, t_path("present"), NULL), SHMC_OK);
    CHECK_RC(shmc_info(t_path("present"), &info), SHMC_OK);
    CHECK(info.curr_items == 1 && info.attached == 1 && !info.scrub_pending);
    CHECK(info.memory_limit == 64u << 20 && info.item_size_max == 1u << 20 && info.file_size > info.memory_limit);
    shmc_stats_t s;
    CHECK_RC(shmc_stats(c, &s), SHMC_OK);
    uint64_t total = s.total_connections;
    CHECK_RC(shmc_info(t_path("present"), &info), SHMC_OK);
    CHECK_RC(shmc_stats(c, &s), SHMC_OK);
    CHECK(s.total_connections == total);
    shmc_close(c);
    CHECK_RC(shmc_info(t_path("present"), &info), SHMC_OK);
    CHECK(info.attached == 0 && !info.scrub_pending);
    /* a process that dies attached leaves a scrub pending */
    pid_t pid = fork();
    if (pid == 0) {
        shmc_t *h;
        _exit(shmc_open(&h, t_path("present"), NULL) == SHMC_OK ? 0 : 1) ; /* no close: as killed */
    }
    int st;
    waitpid(pid, &st, 0);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    CHECK_RC(shmc_info(t_path("present"), &info), SHMC_OK);
    printf("after a process exited attached: attached %llu, scrub pending %llu\n",
           (unsigned long long)info.attached, (unsigned long long)info.scrub_pending);
    CHECK(info.attached == 0 && info.scrub_pending == 1);
    CHECK_RC(shmc_open(&c, t_path("present"), NULL), SHMC_OK); /* runs the scrub */
    CHECK_RC(shmc_stats(c, &s), SHMC_OK);
    CHECK(s.recovery_scrubs == 1);
    shmc_close(c);
    CHECK_RC(shmc_info(t_path("present"), &info), SHMC_OK);
    CHECK(!info.scrub_pending);
}

int main(void)
{
    t_setup("open_flags");
    test_existing_only();
    test_create_only();
    test_bad_flags();
    test_info();
    return t_finish();
}
