/* crashpoint.c — the test build's crash points (see crashpoint.h); empty in normal builds. */
#include "util/crashpoint.h"

#ifdef SHMC_CRASHPOINTS
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

extern struct crashpoint *__start_shmc_crashpoints[];
extern struct crashpoint *__stop_shmc_crashpoints[];

enum action { ACT_KILL, ACT_CANCEL, ACT_STOP };

static pthread_mutex_t arm_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t env_once = PTHREAD_ONCE_INIT;
static _Atomic int armed;      /* 0: nothing chosen */
static char target[128];       /* point name; empty: any point */
static uint64_t target_hit;    /* which hit (1-based) */
static char after[128];        /* NAME@AFTER:N: NAME's first hit after AFTER's Nth */
static _Atomic int after_seen;
static _Atomic uint64_t any_hits;
static _Atomic int act = ACT_KILL;

size_t crashpoint_count(void) { return (size_t)(__stop_shmc_crashpoints - __start_shmc_crashpoints); }

struct crashpoint *crashpoint_get(size_t i)
{
    return i < crashpoint_count() ? __start_shmc_crashpoints[i] : NULL;
}

static void arm(const char *at, const char *action)
{
    pthread_mutex_lock(&arm_lock);
    atomic_store(&armed, 0);
    target[0] = after[0] = '\0';
    target_hit = 1;
    atomic_store(&after_seen, 0);
    atomic_store(&any_hits, 0);
    for (size_t i = 0; i < crashpoint_count(); i++) atomic_store(&__start_shmc_crashpoints[i]->hits, 0);
    act = action && !strcmp(action, "cancel") ? ACT_CANCEL
        : action && !strcmp(action, "stop")   ? ACT_STOP
                                              : ACT_KILL;
    if (at && *at) {
        char *end;
        unsigned long long n = strtoull(at, &end, 10);
        if (end != at && !*end) {
            target_hit = n ? n : 1; /* a bare number: the Nth hit of any point */
        } else {
            size_t len = strcspn(at, ":@");
            if (len >= sizeof target) len = sizeof target - 1;
            memcpy(target, at, len);
            target[len] = '\0';
            if (at[len] == '@') { /* NAME@AFTER[:N] */
                at += len + 1;
                len = strcspn(at, ":");
                if (len >= sizeof after) len = sizeof after - 1;
                memcpy(after, at, len);
                after[len] = '\0';
            }
            if (at[len] == ':') target_hit = strtoull(at + len + 1, NULL, 10);
            if (!target_hit) target_hit = 1;
        }
        atomic_store(&armed, 1);
    }
    pthread_mutex_unlock(&arm_lock);
}

/* SHMC_CRASH_REPORT set: at exit, how often each point was passed (to size a workload). */
static void report(void)
{
    for (size_t i = 0; i < crashpoint_count(); i++)
        fprintf(stderr, "crashpoint %-28s %llu\n", __start_shmc_crashpoints[i]->name,
                (unsigned long long)atomic_load(&__start_shmc_crashpoints[i]->hits));
}

static void arm_from_env(void)
{
    arm(getenv("SHMC_CRASH_AT"), getenv("SHMC_CRASH_ACTION"));
    if (getenv("SHMC_CRASH_REPORT")) atexit(report);
}

void crashpoint_arm(const char *at, const char *action)
{
    pthread_once(&env_once, arm_from_env);
    arm(at, action);
}

void crashpoint_hit(struct crashpoint *cp)
{
    pthread_once(&env_once, arm_from_env);
    uint64_t mine = atomic_fetch_add(&cp->hits, 1) + 1;
    uint64_t any = atomic_fetch_add(&any_hits, 1) + 1;
    if (!atomic_load(&armed)) return;
    bool due;
    if (after[0]) {
        if (!atomic_load(&after_seen)) {
            if (mine == target_hit && !strcmp(after, cp->name)) atomic_store(&after_seen, 1);
            return;
        }
        due = !strcmp(target, cp->name);
    } else {
        due = target[0] ? mine == target_hit && !strcmp(target, cp->name) : any == target_hit;
    }
    if (!due) return;
    if (act == ACT_KILL) {
        kill(getpid(), SIGKILL);
    } else if (act == ACT_STOP) {
        atomic_store(&armed, 0);
        raise(SIGSTOP);
    } else {
        atomic_store(&armed, 0);
        pthread_cancel(pthread_self());
    }
}
#endif
