/* stats.c — memcached's "stats" replies (general, settings, items, slabs, sizes, reset),
 * with memcached's stat names, filled from shmc_stats() (the cache's counters, summed over
 * every process that uses it) and from the server's own numbers (connections, threads).
 *
 * "stats reset" cannot zero counters that other processes share; it records them, and later
 * replies show the difference, as memcached's own reset does for this server's clients.
 * Extra shmc-only numbers carry a "shmc_" prefix. */
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "command.h"
#include "detail.h"

static void stat_str(proto_out *out, const char *name, const char *v)
{
    char line[512];
    int n = snprintf(line, sizeof line, "STAT %s %s\r\n", name, v);
    if (n > (int)sizeof line - 1) n = (int)sizeof line - 1;
    proto_out_add(out, line, (size_t)n);
}

static void server_stats(proto_env *env, proto_server_stats *s)
{
    memset(s, 0, sizeof *s);
    s->pid = (uint64_t)getpid();
    s->threads = 1;
    if (env->hooks.server_stats) env->hooks.server_stats(env->hooks.arg, s);
}

/* The library's counters less those recorded by the last "stats reset". */
shmc_rc proto_cache_stats(proto_env *env, shmc_stats_t *st)
{
    shmc_rc rc = shmc_stats(env->cache, st);
    if (rc != SHMC_OK) return rc;
    pthread_mutex_lock(&env->reset_lock);
    const shmc_stats_t *b = &env->baseline;
#define SUB_ZERO(f) st->f = st->f >= b->f ? st->f - b->f : 0;
#define SUB_KEEP(f)
#define SUB(kind, name, wire, reset, meaning) SUB_##reset(name)
    SHMC_STATS(SUB)
#undef SUB
    pthread_mutex_unlock(&env->reset_lock);
    return SHMC_OK;
}

static unsigned log2_floor(uint64_t v)
{
    unsigned n = 0;
    while (v > 1) v >>= 1, n++;
    return n;
}

/* memcached 1.6.18's "stats" lines in its order.  A reply puts the lines it has among these
 * first, in this order, so that it reads as memcached's; shmc's own lines (shmc_*) follow in
 * the order they were made.  This is memcached's list, not shmc's: a counter is added to the
 * table in include/shmc.h alone, and lands here by its wire name if memcached has it. */
static const char *const memcached_order[] = {
    "pid", "uptime", "time", "version", "libevent", "pointer_size", "rusage_user",
    "rusage_system", "max_connections", "curr_connections", "total_connections",
    "rejected_connections", "connection_structures", "response_obj_oom", "response_obj_count",
    "response_obj_bytes", "read_buf_count", "read_buf_bytes", "read_buf_bytes_free",
    "read_buf_oom", "reserved_fds", "cmd_get", "cmd_set", "cmd_flush", "cmd_touch", "cmd_meta",
    "get_hits", "get_misses", "get_expired", "get_flushed", "delete_misses", "delete_hits",
    "incr_misses", "incr_hits", "decr_misses", "decr_hits", "cas_misses", "cas_hits",
    "cas_badval", "touch_hits", "touch_misses", "store_too_large", "store_no_memory",
    "auth_cmds", "auth_errors", "idle_kicks", "bytes_read", "bytes_written", "limit_maxbytes",
    "accepting_conns", "listen_disabled_num", "time_in_listen_disabled_us", "threads",
    "conn_yields", "hash_power_level", "hash_bytes", "hash_is_expanding",
    "slab_reassign_rescues", "slab_reassign_chunk_rescues", "slab_reassign_evictions_nomem",
    "slab_reassign_inline_reclaim", "slab_reassign_busy_items", "slab_reassign_busy_deletes",
    "slab_reassign_running", "slabs_moved", "lru_crawler_running", "lru_crawler_starts",
    "lru_maintainer_juggles", "malloc_fails", "log_worker_dropped", "log_worker_written",
    "log_watcher_skipped", "log_watcher_sent", "log_watchers", "unexpected_napi_ids",
    "round_robin_fallback", "bytes", "curr_items", "total_items", "slab_global_page_pool",
    "expired_unfetched", "evicted_unfetched", "evicted_active", "evictions", "reclaimed",
    "crawler_reclaimed", "crawler_items_checked", "lrutail_reflocked", "moves_to_cold",
    "moves_to_warm", "moves_within_lru", "direct_reclaims", "lru_bumps_dropped",
};

/* A "stats" reply's lines as they are made, put out in memcached's order at the end.  Names
 * are string literals or the table's wire names. */
#define STAT_LINES_MAX 160
typedef struct stat_list {
    size_t n;
    struct {
        const char *name;
        char value[64];
    } line[STAT_LINES_MAX];
} stat_list;

static void list_str(stat_list *l, const char *name, const char *v)
{
    if (l->n == STAT_LINES_MAX) return;
    l->line[l->n].name = name;
    snprintf(l->line[l->n].value, sizeof l->line[l->n].value, "%s", v);
    l->n++;
}

static void list_u64(stat_list *l, const char *name, uint64_t v)
{
    char text[24];
    snprintf(text, sizeof text, "%" PRIu64, v);
    list_str(l, name, text);
}

static void list_tv(stat_list *l, const char *name, struct timeval tv)
{
    char text[48];
    snprintf(text, sizeof text, "%ld.%06ld", (long)tv.tv_sec, (long)tv.tv_usec);
    list_str(l, name, text);
}

static void list_put(const stat_list *l, proto_out *out)
{
    bool done[STAT_LINES_MAX] = {false};
    for (size_t k = 0; k < sizeof memcached_order / sizeof memcached_order[0]; k++)
        for (size_t i = 0; i < l->n; i++)
            if (!done[i] && !strcmp(l->line[i].name, memcached_order[k])) {
                stat_str(out, l->line[i].name, l->line[i].value);
                done[i] = true;
                break;
            }
    for (size_t i = 0; i < l->n; i++)
        if (!done[i]) stat_str(out, l->line[i].name, l->line[i].value);
}

/* memcached's lines that no other part of the reply made: each is 0, for what shmc does not
 * have (memcached's slab mover, LRU crawler and maintainer, segmented LRU, logger, response
 * objects, read buffers: docs/shmcd.md lists them), but "libevent" (shmcd has none: "none")
 * and "idle_kicks" (memcached prints it only with -o idle_timeout, and so does general()).
 * memcached_order is the only list of names: a line the server or the cache makes wins. */
static void list_memcached_rest(stat_list *l)
{
    size_t made = l->n;
    for (size_t k = 0; k < sizeof memcached_order / sizeof memcached_order[0]; k++) {
        const char *name = memcached_order[k];
        bool have = !strcmp(name, "idle_kicks");
        for (size_t i = 0; i < made && !have; i++) have = !strcmp(l->line[i].name, name);
        if (have) continue;
        if (!strcmp(name, "libevent")) list_str(l, name, "none");
        else list_u64(l, name, 0);
    }
}

static void general(proto_env *env, proto_out *out)
{
    shmc_stats_t st;
    shmc_rc rc = proto_cache_stats(env, &st);
    if (rc != SHMC_OK) {
        proto_reply_server_error(out, rc);
        return;
    }
    proto_server_stats s;
    server_stats(env, &s);
    stat_list l = {.n = 0};
    list_u64(&l, "pid", s.pid);
    list_u64(&l, "uptime", s.uptime);
    list_u64(&l, "time", (uint64_t)time(NULL));
    list_str(&l, "version", PROTO_VERSION_STRING);
    list_u64(&l, "pointer_size", sizeof(void *) * 8);
    list_tv(&l, "rusage_user", s.rusage_user);
    list_tv(&l, "rusage_system", s.rusage_system);
    list_u64(&l, "max_connections", s.max_connections);
    list_u64(&l, "curr_connections", s.curr_connections);
    list_u64(&l, "total_connections", s.total_connections);
    list_u64(&l, "rejected_connections", s.rejected_connections);
    list_u64(&l, "malloc_fails", s.malloc_fails);
    list_u64(&l, "connection_structures", s.connection_structures);
    list_u64(&l, "cmd_meta", atomic_load(&env->meta_cmds));
    list_u64(&l, "store_too_large", atomic_load(&env->store_too_large));
    list_u64(&l, "store_no_memory", atomic_load(&env->store_no_memory));
    list_u64(&l, "auth_cmds", s.auth_cmds);
    list_u64(&l, "auth_errors", s.auth_errors);
    if (s.idle_timeout_on) list_u64(&l, "idle_kicks", s.idle_kicks);
    list_u64(&l, "bytes_read", s.bytes_read);
    list_u64(&l, "bytes_written", s.bytes_written);
    list_u64(&l, "accepting_conns", 1);
    list_u64(&l, "threads", s.threads);
    list_u64(&l, "conn_yields", s.conn_yields);
    list_u64(&l, "read_buf_count", s.read_buf_count);
    list_u64(&l, "read_buf_bytes", s.read_buf_bytes);
    list_u64(&l, "read_buf_oom", s.read_buf_oom);
    pthread_mutex_lock(&env->watch.lock);
    list_u64(&l, "log_watchers", env->watch.count);
    pthread_mutex_unlock(&env->watch.lock);
    list_u64(&l, "log_watcher_sent", atomic_load(&env->watch.sent));
    list_u64(&l, "log_watcher_skipped", atomic_load(&env->watch.skipped));
    list_u64(&l, "hash_power_level", log2_floor(st.hash_buckets));
    list_u64(&l, "hash_bytes", st.hash_buckets * 8);
    /* the cache's own rows, by their wire names */
#define LINE(kind, name, wire, reset, meaning) if (wire[0]) list_u64(&l, wire, st.name);
    SHMC_STATS(LINE)
#undef LINE
    list_memcached_rest(&l);
    list_put(&l, out);
    proto_out_add(out, "END\r\n", 5);
}

/* memcached 1.6.18's "stats settings" lines, in its order: the one list that orders the
 * reply.  The server's flag table makes the lines it has a flag or a value for (options.c);
 * a line it does not make gets the value here, memcached's default: those settings tune
 * memcached's slab allocator, LRU, crawler, logger and extstore, which shmc does not have.
 * NULL: the flag table always makes the line. */
static const struct {
    const char *name, *value;
} memcached_settings[] = {
    {"maxbytes", NULL}, {"maxconns", NULL}, {"tcpport", NULL}, {"udpport", NULL},
    {"inter", NULL}, {"verbosity", NULL}, {"oldest", "0"}, {"evictions", NULL},
    {"domain_socket", NULL}, {"umask", NULL}, {"shutdown_command", NULL},
    {"growth_factor", "1.25"}, {"chunk_size", "48"}, {"num_threads", NULL},
    {"num_threads_per_udp", "4"}, {"stat_key_prefix", ":"}, {"detail_enabled", "no"},
    {"reqs_per_event", NULL}, {"cas_enabled", NULL}, {"tcp_backlog", NULL},
    {"binding_protocol", NULL}, {"auth_enabled_sasl", NULL}, {"auth_enabled_ascii", NULL},
    {"item_size_max", NULL}, {"maxconns_fast", NULL}, {"hashpower_init", NULL},
    {"slab_reassign", "yes"}, {"slab_automove", "1"}, {"slab_automove_ratio", "0.80"},
    {"slab_automove_window", "30"}, {"slab_chunk_max", "524288"}, {"lru_crawler", "yes"},
    {"lru_crawler_sleep", "100"}, {"lru_crawler_tocrawl", "0"}, {"tail_repair_time", "0"},
    {"flush_enabled", NULL}, {"dump_enabled", NULL},
    {"hash_algorithm", "murmur3"}, {"lru_maintainer_thread", "yes"}, {"lru_segmented", "yes"},
    {"hot_lru_pct", "20"}, {"warm_lru_pct", "40"}, {"hot_max_factor", "0.20"},
    {"warm_max_factor", "2.00"}, {"temp_lru", "no"}, {"temporary_ttl", "61"},
    {"idle_timeout", "0"}, {"watcher_logbuf_size", "262144"}, {"worker_logbuf_size", "65536"},
    {"read_buf_mem_limit", "0"}, {"track_sizes", "no"}, {"inline_ascii_response", "no"},
    {"ext_item_size", "512"}, {"ext_item_age", "4294967295"}, {"ext_low_ttl", "0"},
    {"ext_recache_rate", "2000"}, {"ext_wbuf_size", "4194304"}, {"ext_compact_under", "0"},
    {"ext_drop_under", "0"}, {"ext_max_sleep", "1000000"}, {"ext_max_frag", "0.80"},
    {"slab_automove_freeratio", "0.010"}, {"ext_drop_unread", "no"}, {"ssl_enabled", NULL},
    {"ssl_chain_cert", NULL}, {"ssl_key", NULL}, {"ssl_verify_mode", NULL},
    {"ssl_keyformat", NULL}, {"ssl_ciphers", NULL}, {"ssl_ca_cert", NULL},
    {"ssl_wbuf_size", NULL}, {"ssl_session_cache", NULL}, {"ssl_kernel_tls", NULL},
    {"ssl_min_version", NULL}, {"num_napi_ids", "(null)"}, {"memory_file", "(null)"},
};
#define NSETTINGS (sizeof memcached_settings / sizeof memcached_settings[0])

static void emit_conn(void *ctx, const char *name, const char *value)
{
    stat_str(ctx, name, value);
}

/* The server's lines as it makes them, put out in memcached's order at the end. */
#define SETTING_LINES_MAX 128
typedef struct settings_list {
    size_t n;
    struct {
        char name[48];
        char value[256];
    } line[SETTING_LINES_MAX];
} settings_list;

static void emit_setting(void *ctx, const char *name, const char *value)
{
    settings_list *l = ctx;
    if (l->n == SETTING_LINES_MAX) return;
    snprintf(l->line[l->n].name, sizeof l->line[l->n].name, "%s", name);
    snprintf(l->line[l->n].value, sizeof l->line[l->n].value, "%s", value);
    l->n++;
}

/* The server's flag table makes the lines; they go out in memcached's order, with
 * memcached's defaults for the lines no flag made, then shmc's own (shmc_*) as made. */
static void settings(proto_env *env, proto_out *out)
{
    settings_list *l = calloc(1, sizeof *l);
    if (!l) {
        proto_reply_server_error(out, SHMC_NO_MEMORY);
        return;
    }
    if (env->hooks.settings) {
        shmc_rc rc = env->hooks.settings(env->hooks.arg, emit_setting, l);
        if (rc != SHMC_OK) {
            free(l);
            proto_reply_server_error(out, rc);
            return;
        }
    }
    bool done[SETTING_LINES_MAX] = {false};
    for (size_t k = 0; k < NSETTINGS; k++) {
        const char *name = memcached_settings[k].name;
        size_t i = 0;
        while (i < l->n && (done[i] || strcmp(l->line[i].name, name))) i++;
        if (i < l->n) {
            stat_str(out, name, l->line[i].value);
            done[i] = true;
            continue;
        }
        const char *v = memcached_settings[k].value;
        if (!v) continue; /* no server made it (a bare protocol environment) */
        if (!strcmp(name, "lru_crawler") && atomic_load(&env->lru_crawler_off)) v = "no";
        stat_str(out, name, v);
    }
    for (size_t i = 0; i < l->n; i++)
        if (!done[i]) stat_str(out, l->line[i].name, l->line[i].value);
    free(l);
    proto_out_add(out, "END\r\n", 5);
}

static void reset(proto_env *env, proto_out *out)
{
    shmc_stats_t st;
    shmc_rc rc = shmc_stats(env->cache, &st);
    if (rc != SHMC_OK) {
        proto_reply_server_error(out, rc);
        return;
    }
    pthread_mutex_lock(&env->reset_lock);
    env->baseline = st;
    pthread_mutex_unlock(&env->reset_lock);
    atomic_store(&env->store_too_large, 0);
    atomic_store(&env->store_no_memory, 0);
    for (unsigned i = 0; i < PROTO_SLAB_CLASSES; i++) atomic_store(&env->no_memory_class[i], 0);
    atomic_store(&env->meta_cmds, 0);
    proto_out_line(out, "RESET");
}

proto_status proto_exec_stats(proto_env *env, proto_request *req, const char *data,
                              proto_out *out)
{
    (void)data;
    const char *a = req->args;
    size_t n = req->nargs;
    size_t word = 0;
    while (word < n && a[word] != ' ') word++;
#define IS(w) (word == sizeof(w) - 1 && memcmp(a, w, sizeof(w) - 1) == 0)
    if (n == 0) general(env, out);
    else if (IS("settings")) settings(env, out);
    else if (IS("items")) proto_stats_items(env, out);
    else if (IS("slabs")) proto_stats_slabs(env, out);
    else if (IS("sizes")) proto_out_str(out, "STAT sizes_status disabled\r\nEND\r\n");
    else if (IS("reset")) reset(env, out);
    else if (IS("conns")) {
        if (env->hooks.conns) env->hooks.conns(env->hooks.arg, emit_conn, out);
        proto_out_add(out, "END\r\n", 5);
    }
    else if (IS("detail")) {
        const char *sub = a + word;
        size_t nsub = n - word;
        while (nsub && *sub == ' ') sub++, nsub--;
        if (nsub == 2 && memcmp(sub, "on", 2) == 0) {
            atomic_store(&env->detail_enabled, true);
            proto_out_line(out, "OK");
        } else if (nsub == 3 && memcmp(sub, "off", 3) == 0) {
            atomic_store(&env->detail_enabled, false);
            proto_out_line(out, "OK");
        } else if (nsub == 4 && memcmp(sub, "dump", 4) == 0) {
            proto_detail_dump(env, out);
        } else {
            proto_out_line(out, "CLIENT_ERROR usage: stats detail on|off|dump");
        }
    }
    else if (IS("cachedump")) proto_stats_cachedump(env, req, a + word, n - word, out);
    else proto_out_line(out, "ERROR");
#undef IS
    return PROTO_DONE;
}
