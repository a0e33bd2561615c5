/* test_create_race.c — 8 processes (tests/progs/mp_racer), released at the same instant by
 * closing their stdin, all call shmc_open on the same path that does not exist yet: every
 * open succeeds, exactly one file is left in the directory, the checker finds its header and
 * contents valid, and each racer's key is seen by all the others.  The race runs 20 times. */
#include "testutil.h"
#include "progs/mp_common.h"

#define RACER_PROG SHMC_TEST_PROGS "/mp_racer"
#define RACERS 8
#define ROUNDS 20

/* The names in the test directory, for a report; returns how many there are. */
static int list_dir(char *names, size_t cap)
{
    int n = 0;
    names[0] = '\0';
    DIR *d = opendir(t_dir);
    if (!d) return -1;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        n++;
        size_t used = strlen(names);
        snprintf(names + used, cap - used, "%s%s", used ? ", " : "", e->d_name);
    }
    closedir(d);
    return n;
}

static void race_once(int round)
{
    char name[32];
    snprintf(name, sizeof name, "race-%02d", round);
    const char *path = t_path(name);

    mp_child ch[RACERS];
    int started = 0;
    char ids[RACERS][8], nracers[8];
    snprintf(nracers, sizeof nracers, "%d", RACERS);
    for (int i = 0; i < RACERS; i++) {
        snprintf(ids[i], sizeof ids[i], "%d", i);
        char *argv[] = {"mp_racer", (char *)path, ids[i], nracers, NULL};
        if (mp_spawn(&ch[i], RACER_PROG, argv) != 0) {
            perror("spawn " RACER_PROG);
            break;
        }
        started++;
    }
    CHECK(started == RACERS);
    for (int i = 0; i < started; i++) mp_release(&ch[i]);

    int ok = 0;
    for (int i = 0; i < started; i++) {
        char line[512];
        if (mp_read_line(&ch[i], line, sizeof line, 60) < 0) line[0] = '\0';
        int code = mp_wait(&ch[i], 60);
        if (code == 0)
            ok++;
        else
            printf("  round %d: \"%s\" exit %d\n", round, line, code);
    }
    CHECK(ok == RACERS);

    char names[2048];
    int files = list_dir(names, sizeof names);
    if (files != 1) printf("  round %d: directory holds %d entries: %s\n", round, files, names);
    CHECK(files == 1);
    t_check_file(path);

    shmc_t *c = NULL;
    CHECK_RC(shmc_open(&c, path, NULL), SHMC_OK);
    if (c) {
        shmc_stats_t st;
        CHECK_RC(shmc_stats(c, &st), SHMC_OK);
        CHECK(st.limit_maxbytes == 2u << 20);
        CHECK(st.item_size_max == 64u << 10);
        CHECK(st.curr_items == RACERS);
        CHECK(st.total_connections == RACERS + 1);
        shmc_close(c);
    }
    unlink(path);
}

int main(void)
{
    t_setup("create_race");
    for (int round = 0; round < ROUNDS; round++) race_once(round);
    printf("%d rounds of %d racers\n", ROUNDS, RACERS);
    return t_finish();
}
