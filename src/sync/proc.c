/* proc.c — process tokens from /proc/<pid>/stat's start time (field 22). */
#include "sync/proc.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

bool proc_stat_field(pid_t pid, int field, uint64_t *value, char *state)
{
    char path[64], buf[1024];
    if (pid) snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    else snprintf(path, sizeof path, "/proc/self/stat");
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return false;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0) return false;
    buf[n] = '\0';
    char *p = strrchr(buf, ')'); /* the command name may hold spaces and parentheses */
    if (!p || p[1] != ' ' || !p[2]) return false;
    *state = p[2];
    /* after ") " come fields 3.. */
    int at = 2;
    for (p++; *p && at < field; p++)
        if (*p == ' ') at++;
    if (!*p) return false;
    *value = strtoull(p, NULL, 10);
    return true;
}

/* The start time of pid, or 0 when it is gone (no entry, or a zombie: it holds nothing). */
static uint32_t read_start_time(pid_t pid)
{
    uint64_t start;
    char state;
    if (!proc_stat_field(pid, 22, &start, &state) || state == 'Z' || state == 'X') return 0;
    return (uint32_t)start;
}

static uint64_t make_token(pid_t pid, uint32_t start)
{
    return (uint64_t)(uint32_t)pid | ((uint64_t)start << 32);
}

uint64_t proc_self_token(void)
{
    static __thread pid_t cached_pid;
    static __thread uint64_t cached_token;
    pid_t pid = getpid();
    if (pid != cached_pid) { /* first call, or after fork */
        cached_token = make_token(pid, read_start_time(pid));
        cached_pid = pid;
    }
    return cached_token;
}

bool proc_token_pid_exists(uint64_t token)
{
    pid_t pid = (pid_t)(uint32_t)token;
    return token && pid > 0 && !(kill(pid, 0) != 0 && errno == ESRCH);
}

bool proc_token_alive(uint64_t token)
{
    if (!proc_token_pid_exists(token)) return false;
    pid_t pid = (pid_t)(uint32_t)token;
    uint32_t start = read_start_time(pid);
    if (start == 0) return false; /* no /proc entry: gone (or another pid namespace) */
    return make_token(pid, start) == token;
}
