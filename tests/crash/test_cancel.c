/* test_cancel.c — a thread cancelled inside a library call leaks no lock (issue 19, fault 3).
 *
 * Every call runs with cancellation disabled (include/shmc.h), so a cancel acts after it.
 * Two cases, each in a child process that a timer bounds, so a leaked lock is a failure,
 * not a hang of the suite:
 *  - open: a cancel becomes pending inside shmc_open just after it took the file's open
 *    lock (the crash point attach.open_locked, with SHMC_CRASH_ACTION's "cancel"); the
 *    next cancellation point used to be the fcntl wait of the attach, which left the open
 *    lock held by the dead thread's descriptor: every other process's shmc_open then hung.
 *    Now the open completes, the cancel acts after it, and another process opens at once.
 *  - close: a cancel pending when shmc_close runs used to act at the open of /proc inside
 *    it, under the process's handle registry lock, and the next shmc_open in that process
 *    hung.  Now the close completes and the next open succeeds. */
#include "../testutil.h"

#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <sys/wait.h>

#include "util/crashpoint.h"

#define LIMIT_S 10

static const char *path;
static volatile bool returned;

static void *open_cancelled(void *arg)
{
    (void)arg;
    crashpoint_arm("attach.open_locked", "cancel");
    shmc_t *c = NULL;
    shmc_rc rc = shmc_open(&c, path, NULL);
    returned = rc == SHMC_OK;
    pthread_testcancel(); /* the pending cancel acts here, after the call */
    return NULL;
}

static void *close_cancelled(void *arg)
{
    pthread_cancel(pthread_self()); /* pending from the start of shmc_close */
    shmc_close(arg);
    returned = true;
    pthread_testcancel();
    return NULL;
}

/* In a child: 0 when `path` opens within LIMIT_S seconds. */
static int open_in_child(void)
{
    pid_t pid = fork();
    if (pid == 0) {
        alarm(LIMIT_S);
        shmc_t *c = NULL;
        _exit(shmc_open(&c, path, NULL) == SHMC_OK ? 0 : 1);
    }
    int st = 0;
    waitpid(pid, &st, 0);
    if (WIFSIGNALED(st)) fprintf(stderr, "shmc_open in another process hung (killed by signal %d)\n", WTERMSIG(st));
    return WIFEXITED(st) ? WEXITSTATUS(st) : 2;
}

/* The case runs in a child (the cancelled thread's process stays alive while another
 * process opens); exit 0 when everything held. */
static int case_open(void)
{
    pthread_t t;
    void *res = NULL;
    pthread_create(&t, NULL, open_cancelled, NULL);
    pthread_join(t, &res);
    if (res != PTHREAD_CANCELED || !returned) {
        fprintf(stderr, "open: the cancel acted inside shmc_open (returned=%d)\n", (int)returned);
        return open_in_child() == 0 ? 1 : 2;
    }
    return open_in_child();
}

static int case_close(void)
{
    shmc_t *c = NULL;
    if (shmc_open(&c, path, NULL) != SHMC_OK) return 3;
    pthread_t t;
    void *res = NULL;
    returned = false;
    pthread_create(&t, NULL, close_cancelled, c);
    pthread_join(t, &res);
    if (res != PTHREAD_CANCELED || !returned) {
        fprintf(stderr, "close: the cancel acted inside shmc_close\n");
        alarm(LIMIT_S);
    }
    alarm(LIMIT_S); /* a leaked registry lock hangs the next open: the timer ends it */
    shmc_t *again = NULL;
    shmc_rc rc = shmc_open(&again, path, NULL);
    alarm(0);
    if (rc != SHMC_OK) return 4;
    shmc_close(again);
    return res == PTHREAD_CANCELED && returned ? 0 : 5;
}

static void run_case(const char *name, int (*fn)(void))
{
    pid_t pid = fork();
    if (pid == 0) _exit(fn());
    int st = 0;
    waitpid(pid, &st, 0);
    bool ok = WIFEXITED(st) && WEXITSTATUS(st) == 0;
    if (!ok)
        fprintf(stderr, "case %s: %s %d\n", name, WIFEXITED(st) ? "exit" : "signal",
                WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
    CHECK(ok);
}

int main(void)
{
    (void)t_check_file;
    t_setup("cancel");
    path = t_path("c");
    shmc_t *c = NULL;
    CHECK_RC(shmc_open(&c, path, NULL), SHMC_OK); /* created here: the cases attach */
    shmc_close(c);
    run_case("cancel inside shmc_open", case_open);
    run_case("cancel pending at shmc_close", case_close);
    return t_finish();
}
