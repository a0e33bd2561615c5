/* suboptions.c — memcached 1.6.18's -o settings other than ssl_* (those are
 * security_options.c's), one row each: the ones shmcd uses (hashpower, idle_timeout,
 * read_buf_mem_limit, maxconns_fast), and the ones that tune memcached's slabs, LRU and
 * extstore, which shmc does not have: accepted, checked as memcached checks them, and kept
 * for "stats settings".  A key memcached does not know is refused with its words. */
#include "suboptions.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "options.h"

typedef enum sub_kind {
    SUB_HASHPOWER,
    SUB_IDLE_TIMEOUT,
    SUB_READ_BUF_MEM_LIMIT,
    SUB_MAXCONNS_FAST,
    SUB_NO_MAXCONNS_FAST,
    SUB_NO_EFFECT, /* a memcached setting shmc has no use for */
} sub_kind;

typedef struct suboption {
    const char *name;
    sub_kind kind;
    bool prefix; /* name is a prefix (ext_*) */
} suboption;

static const suboption suboptions[] = {
    {"hashpower", SUB_HASHPOWER, false},
    {"idle_timeout", SUB_IDLE_TIMEOUT, false},
    {"read_buf_mem_limit", SUB_READ_BUF_MEM_LIMIT, false},
    {"maxconns_fast", SUB_MAXCONNS_FAST, false},
    {"no_maxconns_fast", SUB_NO_MAXCONNS_FAST, false},
    {"slab_reassign", SUB_NO_EFFECT, false},
    {"no_slab_reassign", SUB_NO_EFFECT, false},
    {"slab_automove", SUB_NO_EFFECT, false},
    {"slab_automove_ratio", SUB_NO_EFFECT, false},
    {"slab_automove_window", SUB_NO_EFFECT, false},
    {"slab_automove_freeratio", SUB_NO_EFFECT, false},
    {"tail_repair_time", SUB_NO_EFFECT, false},
    {"hash_algorithm", SUB_NO_EFFECT, false},
    {"lru_crawler", SUB_NO_EFFECT, false},
    {"no_lru_crawler", SUB_NO_EFFECT, false},
    {"lru_crawler_sleep", SUB_NO_EFFECT, false},
    {"lru_crawler_tocrawl", SUB_NO_EFFECT, false},
    {"lru_maintainer", SUB_NO_EFFECT, false},
    {"no_lru_maintainer", SUB_NO_EFFECT, false},
    {"hot_lru_pct", SUB_NO_EFFECT, false},
    {"warm_lru_pct", SUB_NO_EFFECT, false},
    {"hot_max_factor", SUB_NO_EFFECT, false},
    {"warm_max_factor", SUB_NO_EFFECT, false},
    {"temporary_ttl", SUB_NO_EFFECT, false},
    {"watcher_logbuf_size", SUB_NO_EFFECT, false},
    {"worker_logbuf_size", SUB_NO_EFFECT, false},
    {"slab_sizes", SUB_NO_EFFECT, false},
    {"slab_chunk_max", SUB_NO_EFFECT, false},
    {"track_sizes", SUB_NO_EFFECT, false},
    {"no_inline_ascii_resp", SUB_NO_EFFECT, false},
    {"modern", SUB_NO_EFFECT, false},
    {"no_modern", SUB_NO_EFFECT, false},
    {"no_chunked_items", SUB_NO_EFFECT, false},
    {"no_slab_global", SUB_NO_EFFECT, false},
    {"no_hashexpand", SUB_NO_EFFECT, false},
    {"sock_cookie_id", SUB_NO_EFFECT, false},
    {"num_napi_ids", SUB_NO_EFFECT, false},
    {"drop_privileges", SUB_NO_EFFECT, false},    /* memcached's seccomp sandbox */
    {"no_drop_privileges", SUB_NO_EFFECT, false},
    {"ext_", SUB_NO_EFFECT, true},
};

static const suboption *find(const char *key)
{
    for (size_t i = 0; i < sizeof suboptions / sizeof suboptions[0]; i++) {
        const suboption *s = &suboptions[i];
        if (s->prefix ? !strncmp(key, s->name, strlen(s->name)) : !strcmp(key, s->name))
            return s;
    }
    return NULL;
}

/* memcached's safe_strtoul: decimal digits, then nothing else. */
static bool parse_ulong(const char *s, unsigned long *out)
{
    if (!s || !*s || *s == '-') return false;
    char *end;
    unsigned long v = strtoul(s, &end, 10);
    if (*end) return false;
    *out = v;
    return true;
}

/* One key[=value]; false after printing memcached's message. */
static bool one(shmcd_options *opt, char *item)
{
    char *value = strchr(item, '=');
    if (value) *value++ = '\0';
    const suboption *s = find(item);
    if (!s) {
        if (value) value[-1] = '='; /* memcached names the whole item */
        fprintf(stderr, "Illegal suboption \"%s\"\n", item);
        return false;
    }
    unsigned long v = 0;
    switch (s->kind) {
    case SUB_HASHPOWER: /* memcached: atoi, then 12..64 */
        if (!value) {
            fprintf(stderr, "Missing numeric argument for hashpower\n");
            return false;
        }
        v = (unsigned long)atoi(value);
        if ((long)atoi(value) < 12) {
            fprintf(stderr, "Initial hashtable multiplier of %d is too low\n", atoi(value));
            return false;
        }
        if (v > 64) {
            fprintf(stderr, "Initial hashtable multiplier of %d is too high\n"
                            "Choose a value based on \"STAT hash_power_level\" from a running "
                            "instance\n", atoi(value));
            return false;
        }
        opt->hash_power = (unsigned)v;
        return true;
    case SUB_IDLE_TIMEOUT:
        if (!value) {
            fprintf(stderr, "Missing numeric argument for idle_timeout\n");
            return false;
        }
        opt->idle_timeout = atoi(value) > 0 ? (unsigned)atoi(value) : 0;
        return true;
    case SUB_READ_BUF_MEM_LIMIT: /* megabytes */
        if (!value) {
            fprintf(stderr, "Missing numeric argument for read_buf_mem_limit\n");
            return false;
        }
        if (!parse_ulong(value, &v)) {
            fprintf(stderr, "could not parse argument to read_buf_mem_limit\n");
            return false;
        }
        opt->read_buf_mem_limit_mb = v;
        return true;
    case SUB_MAXCONNS_FAST:
        opt->maxconns_slow = false;
        return true;
    case SUB_NO_MAXCONNS_FAST:
        opt->maxconns_slow = true;
        return true;
    case SUB_NO_EFFECT:
        break;
    }
    /* the two whose values memcached checks and that a script may well get wrong */
    if (!strcmp(item, "slab_automove") && value && (atoi(value) < 0 || atoi(value) > 2)) {
        fprintf(stderr, "slab_automove must be between 0 and 2\n");
        return false;
    }
    if (!strcmp(item, "hot_lru_pct") && value && (atoi(value) < 1 || atoi(value) >= 80)) {
        fprintf(stderr, "hot_lru_pct must be > 1 and < 80\n");
        return false;
    }
    if (opt->nignored < SHMCD_MAX_IGNORED) {
        opt->ignored[opt->nignored].flag = 'o';
        opt->ignored[opt->nignored].key = item;
        opt->ignored[opt->nignored].value = value;
        opt->nignored++;
    }
    return true;
}

bool shmcd_suboptions(shmcd_options *opt, const char *arg)
{
    if (opt->nsubopt_copies == SHMCD_MAX_SUBOPT_COPIES) {
        fprintf(stderr, "shmcd: -o given more than %d times\n", SHMCD_MAX_SUBOPT_COPIES);
        return false;
    }
    char *copy = strdup(arg);
    if (!copy) return false;
    opt->subopt_copies[opt->nsubopt_copies++] = copy;
    char *save = NULL;
    for (char *item = strtok_r(copy, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
        if (!strncmp(item, "ssl_", 4)) continue; /* security_options.c's */
        if (!one(opt, item)) return false;
    }
    return true;
}

const char *shmcd_ignored_value(const shmcd_options *opt, char flag, const char *key)
{
    const char *found = NULL;
    for (size_t i = 0; i < opt->nignored; i++)
        if (opt->ignored[i].flag == flag && (!key || !strcmp(opt->ignored[i].key, key)))
            found = opt->ignored[i].value ? opt->ignored[i].value : "";
    return found;
}
