/* top.c — `shmc top`: a live view of one cache, refreshed every -d seconds: operations per
 * second by command, the hit ratio, evictions, memory used / free / dead and the processes
 * attached.  It draws with plain ANSI escapes (no curses), so it runs in any terminal and
 * over ssh; `q` (or Ctrl-C) quits.  When stdout is not a terminal it prints one block per
 * refresh without escapes (-n bounds the number of refreshes). */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

static volatile sig_atomic_t stop;
static void on_signal(int sig) { (void)sig; stop = 1; }

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void mib_line(const char *label, uint64_t v, uint64_t total)
{
    printf("  %-8s %10.1f MiB  %5.1f %%\n", label, (double)v / (1 << 20),
           total ? 100.0 * (double)v / (double)total : 0.0);
}

/* One screen: rates from the difference of two snapshots dt seconds apart. */
static void draw(const char *cache, const shmc_stats_t *s, const shmc_stats_t *p, double dt,
                 bool tty)
{
    if (tty) printf("\033[H\033[2J");
#define RATE(f) (dt > 0 ? (double)(s->f - p->f) / dt : 0.0)
    double gets = RATE(cmd_get), hits = RATE(get_hits);
    printf("shmc top %s   uptime %" PRIu64 " s   attached %" PRIu64 "   protection %s%s\n", cache,
           s->uptime, s->curr_connections, s->protected_mode ? "pku" : "none",
           tty ? "   (q quits)" : "");
    printf("ops/s    get %10.0f   set %10.0f   delete %8.0f   incr/decr %8.0f\n", gets,
           RATE(cmd_set), RATE(delete_hits) + RATE(delete_misses),
           RATE(incr_hits) + RATE(incr_misses) + RATE(decr_hits) + RATE(decr_misses));
    printf("         touch %8.0f   cas %10.0f   flush %9.0f\n", RATE(cmd_touch),
           RATE(cas_hits) + RATE(cas_misses) + RATE(cas_badval), RATE(cmd_flush));
    uint64_t all_gets = s->cmd_get;
    printf("hits     %5.1f %% now   %5.1f %% since creation   evictions %8.0f/s (%" PRIu64 " in all)\n",
           gets > 0 ? 100.0 * hits / gets : 0.0,
           all_gets ? 100.0 * (double)s->get_hits / (double)all_gets : 0.0, RATE(evictions),
           s->evictions);
    uint64_t total = s->segments * s->segment_size, freeb = s->segments_free * s->segment_size;
    uint64_t used = s->bytes, dead = total > freeb + used ? total - freeb - used : 0;
    printf("memory   %" PRIu64 " items in %.1f MiB\n", s->curr_items, (double)total / (1 << 20));
    mib_line("used", used, total);
    mib_line("free", freeb, total);
    mib_line("dead", dead, total);
#undef RATE
    fflush(stdout);
}

int cmd_top(cli_args *a)
{
    double delay = 1;
    uint64_t count = 0; /* 0: until q */
    if (a->opt['d']) {
        char *end;
        delay = strtod(a->opt['d'], &end);
        if (*end || !(delay >= 0.05 && delay <= 3600))
            return fprintf(stderr, "shmc: -d %s: seconds from 0.05 to 3600\n", a->opt['d']), EXIT_USAGE;
    }
    if (a->opt['n'] && (!cli_u64(a->opt['n'], &count) || count == 0))
        return fprintf(stderr, "shmc: -n %s: a positive count\n", a->opt['n']), EXIT_USAGE;
    shmc_t *c;
    int st = cli_open(a->pos[0], &c);
    if (st) return st;
    bool tty = isatty(STDOUT_FILENO), keys = isatty(STDIN_FILENO);
    struct termios saved, raw;
    if (keys && tcgetattr(STDIN_FILENO, &saved) == 0) {
        raw = saved;
        raw.c_lflag &= ~(tcflag_t)(ICANON | ECHO);
        raw.c_cc[VMIN] = 0;
        raw.c_cc[VTIME] = 0;
        tcsetattr(STDIN_FILENO, TCSANOW, &raw);
    } else {
        keys = false;
    }
    struct sigaction sa = {.sa_handler = on_signal};
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    if (tty) printf("\033[?25l"); /* hide the cursor */
    shmc_stats_t prev, cur;
    shmc_rc rc = shmc_stats(c, &prev);
    double t0 = now_s();
    draw(a->pos[0], &prev, &prev, 0, tty);
    for (uint64_t n = 1; rc == SHMC_OK && !stop && (!count || n < count); n++) {
        double until = t0 + delay;
        while (!stop) { /* wait for the next refresh, reading keys meanwhile */
            double left = until - now_s();
            if (left <= 0) break;
            struct pollfd pfd = {.fd = STDIN_FILENO, .events = POLLIN};
            int r = poll(&pfd, keys ? 1 : 0, (int)(left * 1000) + 1);
            char ch;
            if (r > 0 && read(STDIN_FILENO, &ch, 1) == 1 && (ch == 'q' || ch == 'Q')) stop = 1;
            if (r < 0 && errno != EINTR) break;
        }
        if (stop) break;
        rc = shmc_stats(c, &cur);
        double t1 = now_s();
        if (rc == SHMC_OK) draw(a->pos[0], &cur, &prev, t1 - t0, tty);
        prev = cur;
        t0 = t1;
    }
    if (tty) printf("\033[?25h\n");
    if (keys) tcsetattr(STDIN_FILENO, TCSANOW, &saved);
    st = rc == SHMC_OK ? EXIT_OK_ : cli_fail(a->pos[0], rc); /* before close: its reason */
    shmc_close(c);
    return st;
}
