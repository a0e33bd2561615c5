/* options.c — shmcd's flags, one row each in the table below: its short and long name, its
 * value, default and help text, how a value is checked and stored, and what "stats settings"
 * prints for it.  The getopt strings, --help and "stats settings" are generated from the
 * table (the model is Redis's standardConfig).  Every value is checked; a bad one is a clear
 * message and exit status 64, never a silent default. */
#include "options.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <shmc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "perm.h"
#include "protocol/env.h"
#include "shmcd_license.h"
#include "size.h"
#include "suboptions.h"

/* FLAG_FATAL: the setter printed memcached's message; exit 1 */
typedef enum flag_rc { FLAG_OK, FLAG_BAD, FLAG_EXIT, FLAG_FATAL } flag_rc;

/* A row's setter checks a value and stores it in opt; FLAG_BAD: the row's `bad` says why. */
typedef flag_rc flag_set(shmcd_options *opt, const char *arg);
/* A row's "stats settings" value, formatted into buf. */
typedef void flag_show(const shmcd_options *opt, const shmcd_live *live, char *buf, size_t n);

typedef struct flag {
    char short_name;       /* 0: a long option only */
    const char *long_name; /* NULL: a setting memcached has and shmcd fixes (no flag) */
    const char *arg;       /* the value's name in --help; NULL: the flag takes no value */
    const char *dflt;      /* the value when the flag is absent, as one would type it */
    bool dflt_from_cache;  /* dflt is only shown: the cache file's own value wins, and a new
                              file gets the library's default, which dflt names */
    const char *help;      /* --help's text; "\n" continues on the next line */
    const char *note;      /* follows the default in --help: "(default: D; NOTE)" */
    flag_set *set;
    const char *bad;       /* what a refused value is not */
    const char *setting;   /* its "stats settings" name, or NULL */
    flag_show *show;       /* its "stats settings" value; or */
    const char *fixed;     /* the value, always the same here */
} flag;

static bool parse_uint(const char *s, unsigned long max, unsigned long *out)
{
    if (!s || !*s) return false;
    char *end;
    errno = 0;
    unsigned long v = strtoul(s, &end, 10);
    if (errno || *end || s[0] == '-' || v > max) return false;
    *out = v;
    return true;
}

bool shmcd_parse_size(const char *s, size_t *out)
{
    uint64_t v;
    if (!size_parse(s, 1, &v) || v > SIZE_MAX) return false;
    *out = (size_t)v;
    return true;
}

static bool add_listen(shmcd_options *opt, const char *list)
{
    char *copy = strdup(list);
    if (!copy) return false;
    char *save = NULL;
    for (char *a = strtok_r(copy, ",", &save); a; a = strtok_r(NULL, ",", &save)) {
        if (opt->nlisten == SHMCD_MAX_LISTEN) {
            fprintf(stderr, "shmcd: at most %d listen addresses\n", SHMCD_MAX_LISTEN);
            free(copy);
            return false;
        }
        opt->listen[opt->nlisten] = strdup(a);
        if (!opt->listen[opt->nlisten]) {
            free(copy);
            return false;
        }
        opt->nlisten++;
    }
    free(copy);
    return true;
}

static flag_rc set_cache(shmcd_options *opt, const char *arg)
{
    if (!arg[0]) return FLAG_BAD;
    opt->cache = arg;
    return FLAG_OK;
}

static flag_rc set_port(shmcd_options *opt, const char *arg)
{
    unsigned long v;
    if (!parse_uint(arg, 65535, &v)) return FLAG_BAD;
    opt->port = (int)v;
    return FLAG_OK;
}

static flag_rc set_listen(shmcd_options *opt, const char *arg)
{
    return arg[0] && add_listen(opt, arg) ? FLAG_OK : FLAG_BAD;
}

static flag_rc set_unix_socket(shmcd_options *opt, const char *arg)
{
    if (!arg[0] || strlen(arg) >= 108) return FLAG_BAD;
    opt->unix_path = arg;
    return FLAG_OK;
}

static flag_rc set_unix_mask(shmcd_options *opt, const char *arg)
{
    char *end;
    errno = 0;
    unsigned long mode = strtoul(arg, &end, 8);
    if (errno || !arg[0] || *end || mode > 0777) return FLAG_BAD;
    opt->unix_mode = (unsigned)mode;
    return FLAG_OK;
}

static flag_rc set_memory_limit(shmcd_options *opt, const char *arg)
{
    uint64_t bytes; /* a bare number is MiB, as memcached's -m */
    if (!size_parse(arg, 1u << 20, &bytes) || bytes == 0 || bytes % (1u << 20) || bytes > (1ull << 50))
        return FLAG_BAD;
    opt->memory_mib = (size_t)(bytes >> 20);
    return FLAG_OK;
}

static flag_rc set_mode(shmcd_options *opt, const char *arg)
{
    return perm_parse_mode(arg, &opt->cache_mode) ? FLAG_OK : FLAG_BAD;
}

static flag_rc set_group(shmcd_options *opt, const char *arg)
{
    if (!perm_parse_group(arg, &opt->cache_gid)) return FLAG_BAD;
    opt->cache_group_given = true;
    return FLAG_OK;
}

/* Read as memcached reads it: a number with an optional k or m, else what atoi makes of it
 * (so "1g" is 1 byte); its range is checked once every flag is read, with memcached's
 * messages. */
static flag_rc set_max_item_size(shmcd_options *opt, const char *arg)
{
    size_t n = strlen(arg);
    char unit = n ? arg[n - 1] : 0;
    long long v = atoll(arg);
    if (unit == 'k' || unit == 'K') v *= 1024;
    if (unit == 'm' || unit == 'M') v *= 1024 * 1024;
    opt->item_size_max = v > 0 ? (size_t)v : 1;
    return FLAG_OK;
}

/* -c, -t and -R read as memcached reads them (atoi: "5x" is 5, "x" is 0): a value not above 0
 * gets memcached's message and exit 1 (memcached starts with a negative -R; shmcd refuses it
 * the same way); one above max gets the row's own message. */
static flag_rc memcached_count(const char *arg, const char *message, unsigned long max,
                               unsigned *out)
{
    long v = atol(arg);
    if (v <= 0) {
        fprintf(stderr, "%s\n", message);
        return FLAG_FATAL;
    }
    if ((unsigned long)v > max) return FLAG_BAD;
    *out = (unsigned)v;
    return FLAG_OK;
}

static flag_rc set_conn_limit(shmcd_options *opt, const char *arg)
{
    return memcached_count(arg, "Maximum connections must be greater than 0", 1u << 20,
                           &opt->max_conns);
}

static flag_rc set_threads(shmcd_options *opt, const char *arg)
{
    return memcached_count(arg, "Number of threads must be greater than 0", 256, &opt->threads);
}

static flag_rc set_reqs_per_event(shmcd_options *opt, const char *arg)
{
    return memcached_count(arg, "Number of requests per event must be greater than 0", 1u << 20,
                           &opt->reqs_per_event);
}

static flag_rc set_disable_evictions(shmcd_options *opt, const char *arg)
{
    (void)arg;
    opt->no_evict = true;
    return FLAG_OK;
}

static flag_rc set_prefix_delimiter(shmcd_options *opt, const char *arg)
{
    if (!arg[0]) return FLAG_BAD;
    opt->prefix_delimiter = arg[0]; /* memcached takes the first character */
    return FLAG_OK;
}

static flag_rc set_disable_flush(shmcd_options *opt, const char *arg)
{
    (void)arg;
    opt->flush_disabled = true;
    return FLAG_OK;
}

static flag_rc set_disable_watch(shmcd_options *opt, const char *arg)
{
    (void)arg;
    opt->watch_disabled = true;
    return FLAG_OK;
}

static flag_rc set_disable_cas(shmcd_options *opt, const char *arg)
{
    (void)arg;
    opt->cas_disabled = true;
    return FLAG_OK;
}

static flag_rc set_enable_shutdown(shmcd_options *opt, const char *arg)
{
    (void)arg;
    opt->shutdown_enabled = true;
    return FLAG_OK;
}

static flag_rc set_backlog(shmcd_options *opt, const char *arg)
{
    unsigned long v;
    if (!parse_uint(arg, INT_MAX, &v) || v == 0) return FLAG_BAD;
    opt->backlog = (int)v;
    return FLAG_OK;
}

static flag_rc set_udp_port(shmcd_options *opt, const char *arg)
{
    (void)opt;
    unsigned long v;
    return parse_uint(arg, 65535, &v) && v == 0 ? FLAG_OK : FLAG_BAD;
}

static flag_rc set_protocol(shmcd_options *opt, const char *arg)
{
    if (strcmp(arg, "auto") == 0) opt->protocol = SHMCD_PROTO_AUTO;
    else if (strcmp(arg, "ascii") == 0) opt->protocol = SHMCD_PROTO_ASCII;
    else if (strcmp(arg, "binary") == 0) opt->protocol = SHMCD_PROTO_BINARY;
    else return FLAG_BAD;
    return FLAG_OK;
}

static flag_rc set_sasl(shmcd_options *opt, const char *arg)
{
    (void)arg;
    opt->sasl = true;
    return FLAG_OK;
}

static void show_sasl(const shmcd_options *opt, const shmcd_live *live, char *buf, size_t n)
{
    (void)live;
    snprintf(buf, n, "%s", opt->sasl ? "yes" : "no");
}

static void show_protocol(const shmcd_options *opt, const shmcd_live *live, char *buf, size_t n)
{
    (void)live;
    static const char *const names[] = {"auto-negotiate", "ascii", "binary"};
    snprintf(buf, n, "%s", names[opt->protocol]);
}

static flag_rc set_resize(shmcd_options *opt, const char *arg)
{
    (void)arg;
    opt->resize = true;
    return FLAG_OK;
}

static flag_rc set_daemon(shmcd_options *opt, const char *arg)
{
    (void)arg;
    opt->daemonize = true;
    return FLAG_OK;
}

static flag_rc set_pidfile(shmcd_options *opt, const char *arg)
{
    opt->pidfile = arg;
    return FLAG_OK;
}

static flag_rc set_user(shmcd_options *opt, const char *arg)
{
    opt->user = arg;
    return FLAG_OK;
}

static flag_rc set_verbose(shmcd_options *opt, const char *arg)
{
    (void)arg;
    opt->verbosity++;
    return FLAG_OK;
}

static flag_rc set_no_dump(shmcd_options *opt, const char *arg)
{
    (void)arg;
    opt->no_dump = true;
    return FLAG_OK;
}

static void show_dump(const shmcd_options *opt, const shmcd_live *live, char *buf, size_t n)
{
    (void)live;
    snprintf(buf, n, "%s", opt->no_dump ? "no" : "yes");
}

static flag_rc set_version(shmcd_options *opt, const char *arg)
{
    (void)opt, (void)arg;
    printf("shmcd %s\n", PROTO_VERSION_STRING);
    return FLAG_EXIT;
}

/* as memcached's -i: the version, a blank line, the license */
static flag_rc set_license(shmcd_options *opt, const char *arg)
{
    (void)opt, (void)arg;
    printf("shmcd %s\n\n%s", PROTO_VERSION_STRING, SHMCD_LICENSE_TEXT);
    return FLAG_EXIT;
}

static flag_rc set_help(shmcd_options *opt, const char *arg)
{
    (void)opt, (void)arg;
    shmcd_usage(stdout);
    return FLAG_EXIT;
}

/* -Z, -Y and -o: security_options.c parses them (and says what is wrong) */
static flag_rc set_security(shmcd_options *opt, int flag, const char *arg)
{
    return shmcd_security_option(&opt->sec, flag, arg) ? FLAG_OK : FLAG_BAD;
}

static flag_rc set_enable_ssl(shmcd_options *opt, const char *arg)
{
    return set_security(opt, 'Z', arg);
}

static flag_rc set_auth_file(shmcd_options *opt, const char *arg)
{
    return set_security(opt, 'Y', arg);
}

static flag_rc set_extended(shmcd_options *opt, const char *arg)
{
    if (!shmcd_suboptions(opt, arg)) return FLAG_FATAL;
    return set_security(opt, 'o', arg);
}

/* memcached's flags for its memory and process setup that mean nothing here: accepted, and
 * listed in "stats settings" (shmc_no_effect). */
static flag_rc ignore(shmcd_options *opt, char flag, const char *arg)
{
    if (opt->nignored < SHMCD_MAX_IGNORED)
        opt->ignored[opt->nignored++] = (shmcd_ignored){.flag = flag, .value = arg};
    return FLAG_OK;
}

#define IGNORED_FLAG(name, letter)                                                           \
    static flag_rc set_##name(shmcd_options *opt, const char *arg)                           \
    {                                                                                        \
        return ignore(opt, letter, arg);                                                     \
    }
IGNORED_FLAG(lock_memory, 'k')
IGNORED_FLAG(enable_coredumps, 'r')
IGNORED_FLAG(enable_largepages, 'L')
IGNORED_FLAG(memory_file, 'e')

/* -N: memcached's NAPI ids steer connections to threads by NIC queue; accepted, checked as
 * memcached checks it (here, and against -t once every flag is read) */
static flag_rc set_napi_ids(shmcd_options *opt, const char *arg)
{
    if (atoi(arg) <= 0) {
        fprintf(stderr, "Maximum number of NAPI IDs must be greater than 0\n");
        return FLAG_FATAL;
    }
    opt->napi_ids = (unsigned)atoi(arg);
    return ignore(opt, 'N', arg);
}

static flag_rc set_slab_min_size(shmcd_options *opt, const char *arg)
{
    if (atoi(arg) <= 0) {
        fprintf(stderr, "Chunk size must be greater than 0\n");
        return FLAG_FATAL;
    }
    return ignore(opt, 'n', arg);
}

static flag_rc set_slab_growth_factor(shmcd_options *opt, const char *arg)
{
    if (atof(arg) <= 1.0) {
        fprintf(stderr, "Factor must be greater than 1\n");
        return FLAG_FATAL;
    }
    return ignore(opt, 'f', arg);
}

static unsigned log2_floor(uint64_t v)
{
    unsigned n = 0;
    while (v > 1) v >>= 1, n++;
    return n;
}

static void show_maxbytes(const shmcd_options *opt, const shmcd_live *live, char *buf, size_t n)
{
    (void)opt;
    snprintf(buf, n, "%llu", (unsigned long long)live->limit_maxbytes);
}

static void show_maxconns(const shmcd_options *opt, const shmcd_live *live, char *buf, size_t n)
{
    (void)live;
    snprintf(buf, n, "%u", opt->max_conns);
}

static void show_tcpport(const shmcd_options *opt, const shmcd_live *live, char *buf, size_t n)
{
    (void)live;
    snprintf(buf, n, "%d", opt->port);
}

/* memcached prints its -l arguments, joined with commas (NULL: none and no TCP) */
static void show_inter(const shmcd_options *opt, const shmcd_live *live, char *buf, size_t n)
{
    (void)live;
    size_t used = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < opt->nlisten && used + 1 < n; i++) {
        int w = snprintf(buf + used, n - used, "%s%s", i ? "," : "", opt->listen[i]);
        if (w < 0) break;
        used += (size_t)w < n - used ? (size_t)w : n - used - 1;
    }
    if (!used || (opt->port == 0 && !opt->listen_port_given)) snprintf(buf, n, "NULL");
}

/* Whether an -l entry names its own port: [v6]:P, or ADDR:P with one colon. */
static bool names_port(const char *entry)
{
    if (!strncmp(entry, "notls:", 6)) entry += 6;
    const char *e = entry[0] == '[' ? strchr(entry, ']') : NULL;
    if (e) return e[1] == ':';
    const char *colon = strchr(entry, ':');
    return colon && !strchr(colon + 1, ':');
}

static void show_verbosity(const shmcd_options *opt, const shmcd_live *live, char *buf, size_t n)
{
    (void)opt;
    snprintf(buf, n, "%u", live->verbosity);
}

static void show_domain_socket(const shmcd_options *opt, const shmcd_live *live, char *buf,
                               size_t n)
{
    (void)live;
    snprintf(buf, n, "%s", opt->unix_path ? opt->unix_path : "NULL");
}

static void show_umask(const shmcd_options *opt, const shmcd_live *live, char *buf, size_t n)
{
    (void)live;
    snprintf(buf, n, "%o", opt->unix_mode);
}

static void show_threads(const shmcd_options *opt, const shmcd_live *live, char *buf, size_t n)
{
    (void)live;
    snprintf(buf, n, "%u", opt->threads);
}

static void show_reqs_per_event(const shmcd_options *opt, const shmcd_live *live, char *buf,
                                size_t n)
{
    (void)live;
    snprintf(buf, n, "%u", opt->reqs_per_event);
}

static void show_stat_key_prefix(const shmcd_options *opt, const shmcd_live *live, char *buf,
                                 size_t n)
{
    (void)live;
    snprintf(buf, n, "%c", opt->prefix_delimiter ? opt->prefix_delimiter : ':');
}

static void show_detail_enabled(const shmcd_options *opt, const shmcd_live *live, char *buf,
                                size_t n)
{
    (void)opt;
    snprintf(buf, n, "%s", live->detail_enabled ? "yes" : "no");
}

static void show_evictions(const shmcd_options *opt, const shmcd_live *live, char *buf, size_t n)
{
    (void)live;
    snprintf(buf, n, "%s", opt->no_evict ? "off" : "on");
}

static void show_shutdown(const shmcd_options *opt, const shmcd_live *live, char *buf, size_t n)
{
    (void)live;
    snprintf(buf, n, "%s", opt->shutdown_enabled ? "yes" : "no");
}

static void show_cas(const shmcd_options *opt, const shmcd_live *live, char *buf, size_t n)
{
    (void)live;
    snprintf(buf, n, "%s", opt->cas_disabled ? "no" : "yes");
}

static void show_flush(const shmcd_options *opt, const shmcd_live *live, char *buf, size_t n)
{
    (void)live;
    snprintf(buf, n, "%s", opt->flush_disabled ? "no" : "yes");
}

static void show_backlog(const shmcd_options *opt, const shmcd_live *live, char *buf, size_t n)
{
    (void)live;
    snprintf(buf, n, "%d", opt->backlog);
}

static void show_item_size_max(const shmcd_options *opt, const shmcd_live *live, char *buf,
                               size_t n)
{
    (void)opt;
    snprintf(buf, n, "%llu", (unsigned long long)live->item_size_max);
}

static void show_hashpower(const shmcd_options *opt, const shmcd_live *live, char *buf, size_t n)
{
    (void)opt;
    snprintf(buf, n, "%u", log2_floor(live->hash_buckets));
}

static void show_cache(const shmcd_options *opt, const shmcd_live *live, char *buf, size_t n)
{
    (void)live;
    snprintf(buf, n, "%s", opt->cache);
}

static void show_auth_ascii(const shmcd_options *opt, const shmcd_live *live, char *buf, size_t n)
{
    (void)live;
    snprintf(buf, n, "%s", opt->sec.auth_file ? "yes" : "no");
}

static void show_ssl_enabled(const shmcd_options *opt, const shmcd_live *live, char *buf, size_t n)
{
    (void)live;
    snprintf(buf, n, "%s", opt->sec.tls ? "yes" : "no");
}

/* unset: memcached prints "(null)" for the chain and key, "NULL" for the others */
#define SHOW_SSL_PATH(field, unset)                                                              \
    static void show_##field(const shmcd_options *opt, const shmcd_live *live, char *buf,      \
                             size_t n)                                                         \
    {                                                                                          \
        (void)live;                                                                            \
        snprintf(buf, n, "%s", opt->sec.field ? opt->sec.field : unset);                       \
    }
SHOW_SSL_PATH(ssl_chain_cert, "(null)")
SHOW_SSL_PATH(ssl_key, "(null)")
SHOW_SSL_PATH(ssl_ciphers, "NULL")
SHOW_SSL_PATH(ssl_ca_cert, "NULL")

/* memcached prints OpenSSL's verify flags for the mode: 0, 1, 3 (2), 7 (3) */
static void show_ssl_verify_mode(const shmcd_options *opt, const shmcd_live *live, char *buf,
                                 size_t n)
{
    (void)live;
    static const unsigned openssl_flags[] = {0, 1, 3, 7};
    snprintf(buf, n, "%u", openssl_flags[opt->sec.ssl_verify_mode & 3]);
}

static void show_ssl_keyformat(const shmcd_options *opt, const shmcd_live *live, char *buf,
                               size_t n)
{
    (void)live;
    snprintf(buf, n, "%u", opt->sec.ssl_keyformat);
}

static void show_ssl_wbuf_size(const shmcd_options *opt, const shmcd_live *live, char *buf,
                               size_t n)
{
    (void)live;
    snprintf(buf, n, "%u", opt->sec.ssl_wbuf_size * 1024);
}

static void show_ssl_session_cache(const shmcd_options *opt, const shmcd_live *live, char *buf,
                                   size_t n)
{
    (void)live;
    snprintf(buf, n, "%s", opt->sec.ssl_session_cache ? "yes" : "no");
}

static void show_ssl_kernel_tls(const shmcd_options *opt, const shmcd_live *live, char *buf,
                                size_t n)
{
    (void)live;
    snprintf(buf, n, "%s", opt->sec.ssl_kernel_tls ? "yes" : "no");
}

static void show_ssl_min_version(const shmcd_options *opt, const shmcd_live *live, char *buf,
                                 size_t n)
{
    (void)live;
    snprintf(buf, n, "tlsv1.%u", opt->sec.ssl_min_version);
}

/* A no-effect setting as memcached shows it: the value given, else memcached's default. */
static const char *ignored_or(const shmcd_options *opt, char flag, const char *key,
                              const char *dflt)
{
    const char *v = shmcd_ignored_value(opt, flag, key);
    return v && *v ? v : dflt;
}

static void show_growth_factor(const shmcd_options *opt, const shmcd_live *live, char *buf,
                               size_t n)
{
    (void)live;
    const char *v = shmcd_ignored_value(opt, 'f', NULL);
    snprintf(buf, n, "%.2f", v ? atof(v) : 1.25);
}

static void show_chunk_size(const shmcd_options *opt, const shmcd_live *live, char *buf, size_t n)
{
    (void)live;
    snprintf(buf, n, "%s", ignored_or(opt, 'n', NULL, "48"));
}

static void show_memory_file(const shmcd_options *opt, const shmcd_live *live, char *buf,
                             size_t n)
{
    (void)live;
    snprintf(buf, n, "%s", ignored_or(opt, 'e', NULL, "(null)"));
}

static void show_maxconns_fast(const shmcd_options *opt, const shmcd_live *live, char *buf,
                               size_t n)
{
    (void)live;
    snprintf(buf, n, "%s", opt->maxconns_slow ? "no" : "yes");
}

static void show_slab_automove(const shmcd_options *opt, const shmcd_live *live, char *buf,
                               size_t n)
{
    (void)live;
    snprintf(buf, n, "%s", ignored_or(opt, 'o', "slab_automove", "1"));
}

static void show_lru_crawler(const shmcd_options *opt, const shmcd_live *live, char *buf,
                             size_t n)
{
    (void)live;
    bool off = shmcd_ignored_value(opt, 'o', "no_lru_crawler") != NULL;
    snprintf(buf, n, "%s", off ? "no" : "yes");
}

static void show_hot_lru_pct(const shmcd_options *opt, const shmcd_live *live, char *buf,
                             size_t n)
{
    (void)live;
    snprintf(buf, n, "%s", ignored_or(opt, 'o', "hot_lru_pct", "20"));
}

static void show_idle_timeout(const shmcd_options *opt, const shmcd_live *live, char *buf,
                              size_t n)
{
    (void)live;
    snprintf(buf, n, "%u", opt->idle_timeout);
}

static void show_read_buf_mem_limit(const shmcd_options *opt, const shmcd_live *live, char *buf,
                                    size_t n)
{
    (void)live;
    snprintf(buf, n, "%lu", opt->read_buf_mem_limit_mb << 20);
}

/* Every flag and -o setting accepted with no effect, as given ("-k -o modern -f 1.5"). */
static void show_no_effect(const shmcd_options *opt, const shmcd_live *live, char *buf, size_t n)
{
    (void)live;
    size_t used = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < opt->nignored && used + 1 < n; i++) {
        const shmcd_ignored *g = &opt->ignored[i];
        int w = snprintf(buf + used, n - used, "%s-%c%s%s%s%s", used ? " " : "", g->flag,
                         g->key || g->value ? " " : "", g->key ? g->key : "",
                         g->key && g->value ? "=" : "", g->value ? g->value : "");
        if (w < 0) break;
        used += (size_t)w < n - used ? (size_t)w : n - used - 1;
    }
    if (!used) snprintf(buf, n, "none");
}

/* Two instances on two ports (or sockets) must not share a cache, as two memcached do not
 * share memory: the default cache is named after the TCP port (-p, else the first -l entry
 * with its own port), else after the socket path. */
static void default_cache(shmcd_options *opt)
{
    int port = opt->port_given ? opt->port : 0;
    for (size_t i = 0; i < opt->nlisten && !port; i++)
        if (names_port(opt->listen[i])) port = atoi(strrchr(opt->listen[i], ':') + 1);
    if (!port) port = opt->port; /* -p's default, or 0 under -s */
    char *d = opt->default_cache;
    size_t cap = sizeof opt->default_cache;
    if (port > 0 || !opt->unix_path) {
        snprintf(d, cap, "shmcd-%d", port);
    } else {
        const char *p = opt->unix_path;
        while (*p == '/') p++;
        int n = snprintf(d, cap, "shmcd-%s", p);
        for (int i = 6; i < n && i < (int)cap; i++)
            if (d[i] == '/') d[i] = '-';
    }
    opt->cache = d;
}

/* --help lists the flags in this order; "stats settings" puts the lines in memcached's
 * order (protocol/stats.c's list of memcached's settings), whatever their order here. */
static const flag flags[] = {
    {.short_name = 'm', .long_name = "memory-limit", .arg = "SIZE", .dflt = "64",
     .dflt_from_cache = true, .help = "cache memory when creating it, e.g. 64 (MiB), 2g",
     .set = set_memory_limit, .bad = "not a whole number of MiB (e.g. 64, 512m, 2g)",
     .setting = "maxbytes", .show = show_maxbytes},
    {.short_name = 'c', .long_name = "conn-limit", .arg = "NUM", .dflt = "1024",
     .help = "simultaneous connections",
     .set = set_conn_limit, .bad = "not a connection count",
     .setting = "maxconns", .show = show_maxconns},
    {.short_name = 'p', .long_name = "port", .arg = "NUM", .dflt = "11211", .note = "0: no TCP",
     .help = "TCP port",
     .set = set_port, .bad = "not a port number",
     .setting = "tcpport", .show = show_tcpport},
    {.short_name = 'U', .long_name = "udp-port", .arg = "0",
     .help = "UDP is not supported; only 0 is accepted",
     .set = set_udp_port, .bad = "UDP is not supported; use -U 0",
     .setting = "udpport", .fixed = "0"},
    {.short_name = 'l', .long_name = "listen", .arg = "ADDR[,ADDR]", .dflt = "127.0.0.1",
     .help = "addresses to listen on, comma-separated or repeated:\n"
             "ADDR, ADDR:PORT, [IPV6]:PORT (default port: -p);\n"
             "notls:ADDR...: no TLS there under -Z",
     .set = set_listen, .bad = "bad address list",
     .setting = "inter", .show = show_inter},
    {.short_name = 'v', .long_name = "verbose",
     .help = "more messages on stderr (-vv: connections, -vvv: commands)",
     .set = set_verbose,
     .setting = "verbosity", .show = show_verbosity},
    {.short_name = 'M', .long_name = "disable-evictions",
     .help = "when full, refuse stores (SERVER_ERROR out of memory\nstoring object) instead of evicting",
     .set = set_disable_evictions,
     .setting = "evictions", .show = show_evictions},
    {.short_name = 's', .long_name = "unix-socket", .arg = "PATH",
     .help = "UNIX socket (then no TCP unless -p is given too)",
     .set = set_unix_socket, .bad = "empty, or a path longer than 107 bytes",
     .setting = "domain_socket", .show = show_domain_socket},
    {.short_name = 'a', .long_name = "unix-mask", .arg = "MODE", .dflt = "0700",
     .help = "UNIX socket mode, octal",
     .set = set_unix_mask, .bad = "not an octal mode",
     .setting = "umask", .show = show_umask},
    {.short_name = 'A', .long_name = "enable-shutdown",
     .help = "enable the shutdown command (and shutdown graceful)",
     .set = set_enable_shutdown,
     .setting = "shutdown_command", .show = show_shutdown},
    {.short_name = 'f', .long_name = "slab-growth-factor", .arg = "NUM",
     .help = "accepted, no effect: shmc has no slab classes",
     .set = set_slab_growth_factor,
     .setting = "growth_factor", .show = show_growth_factor},
    {.short_name = 'n', .long_name = "slab-min-size", .arg = "BYTES",
     .help = "accepted, no effect: shmc has no slab classes",
     .set = set_slab_min_size,
     .setting = "chunk_size", .show = show_chunk_size},
    {.short_name = 't', .long_name = "threads", .arg = "NUM", .dflt = "4",
     .help = "worker threads, one epoll loop each",
     .set = set_threads, .bad = "not a thread count (1..256)",
     .setting = "num_threads", .show = show_threads},
    {.setting = "num_threads_per_udp", .show = show_threads}, /* as memcached: -t */
    {.short_name = 'D', .long_name = "prefix-delimiter", .arg = "CHAR",
     .help = "count gets, hits, sets and deletes per key prefix up to\nCHAR (stats detail dump); "
             "also stats detail on",
     .set = set_prefix_delimiter, .bad = "not a character",
     .setting = "stat_key_prefix", .show = show_stat_key_prefix},
    {.setting = "detail_enabled", .show = show_detail_enabled},
    {.short_name = 'R', .long_name = "max-reqs-per-event", .arg = "NUM", .dflt = "20",
     .help = "requests per connection per turn; then other\nconnections get a turn (stats: conn_yields)",
     .set = set_reqs_per_event, .bad = "not a positive count",
     .setting = "reqs_per_event", .show = show_reqs_per_event},
    {.short_name = 'C', .long_name = "disable-cas",
     .help = "no CAS: cas values are 0, cas compares fail",
     .set = set_disable_cas,
     .setting = "cas_enabled", .show = show_cas},
    {.short_name = 'b', .long_name = "listen-backlog", .arg = "NUM", .dflt = "1024",
     .help = "listen backlog",
     .set = set_backlog, .bad = "not a positive count",
     .setting = "tcp_backlog", .show = show_backlog},
    {.short_name = 'B', .long_name = "protocol", .arg = "NAME", .dflt = "auto",
     .help = "ascii (text and meta), binary, or auto:\neach connection's first byte decides",
     .set = set_protocol, .bad = "should be one of auto, binary, or ascii",
     .setting = "binding_protocol", .show = show_protocol},
    {.short_name = 'S', .long_name = "enable-sasl",
     .help = "SASL authentication (binary protocol only; see docs/security.md)",
     .set = set_sasl, .setting = "auth_enabled_sasl", .show = show_sasl},
    {.short_name = 'Y', .long_name = "auth-file", .arg = "FILE",
     .help = "ASCII authentication: user:password lines",
     .set = set_auth_file, .bad = "see above",
     .setting = "auth_enabled_ascii", .show = show_auth_ascii},
    {.short_name = 'I', .long_name = "max-item-size", .arg = "SIZE", .dflt = "1m",
     .dflt_from_cache = true, .help = "largest value, e.g. 512k, 1m, 16m (1k to 1024m)",
     .set = set_max_item_size,
     .setting = "item_size_max", .show = show_item_size_max},
    {.setting = "maxconns_fast", .show = show_maxconns_fast},
    {.setting = "hashpower_init", .show = show_hashpower},
    {.setting = "slab_automove", .show = show_slab_automove},
    {.setting = "lru_crawler", .show = show_lru_crawler},
    {.short_name = 'F', .long_name = "disable-flush-all",
     .help = "refuse flush_all",
     .set = set_disable_flush,
     .setting = "flush_enabled", .show = show_flush},
    {.short_name = 'X', .long_name = "disable-dumping",
     .help = "refuse stats cachedump and lru_crawler metadump",
     .set = set_no_dump,
     .setting = "dump_enabled", .show = show_dump},
    /* memcached 1.6.18 has no watch line in "stats settings" */
    {.short_name = 'W', .long_name = "disable-watch",
     .help = "refuse watch (live logging)",
     .set = set_disable_watch},
    {.setting = "hot_lru_pct", .show = show_hot_lru_pct},
    {.setting = "idle_timeout", .show = show_idle_timeout},
    {.setting = "read_buf_mem_limit", .show = show_read_buf_mem_limit},
    {.short_name = 'Z', .long_name = "enable-ssl",
     .help = "TLS on the TCP listeners (OpenSSL); set with -o ssl_*",
     .set = set_enable_ssl,
     .setting = "ssl_enabled", .show = show_ssl_enabled},
    {.setting = "ssl_chain_cert", .show = show_ssl_chain_cert},
    {.setting = "ssl_key", .show = show_ssl_key},
    {.setting = "ssl_verify_mode", .show = show_ssl_verify_mode},
    {.setting = "ssl_keyformat", .show = show_ssl_keyformat},
    {.setting = "ssl_ciphers", .show = show_ssl_ciphers},
    {.setting = "ssl_ca_cert", .show = show_ssl_ca_cert},
    {.setting = "ssl_wbuf_size", .show = show_ssl_wbuf_size},
    {.setting = "ssl_session_cache", .show = show_ssl_session_cache},
    {.setting = "ssl_kernel_tls", .show = show_ssl_kernel_tls},
    {.setting = "ssl_min_version", .show = show_ssl_min_version},
    {.short_name = 'N', .long_name = "napi_ids", .arg = "NUM",
     .help = "accepted, no effect: memcached steers connections to\nthreads by NIC queue "
             "(NAPI); shmcd's workers take them\nin turn.  At most -t, as memcached",
     .set = set_napi_ids,
     .setting = "num_napi_ids", .fixed = "(null)"}, /* memcached 1.6.18 prints (null) */
    {.long_name = "cache", .arg = "NAME|PATH",
     .help = "cache to serve, created if missing; a NAME lives in\n$SHMC_DIR, default /dev/shm "
             "(default: one per instance,\nas memcached's: shmcd-PORT, e.g. shmcd-11211; with "
             "-s\nalone, shmcd- and the socket's path with / as -,\n"
             "e.g. shmcd-run-shmcd.sock)",
     .set = set_cache, .bad = "empty name",
     .setting = "shmc_cache", .show = show_cache},
    {.setting = "shmc_no_effect", .show = show_no_effect},
    {.short_name = 'k', .long_name = "lock-memory",
     .help = "accepted, no effect: the cache file's memory is reserved\nwhen it is created",
     .set = set_lock_memory},
    {.short_name = 'r', .long_name = "enable-coredumps",
     .help = "accepted, no effect", .set = set_enable_coredumps},
    {.short_name = 'L', .long_name = "enable-largepages",
     .help = "accepted, no effect",
     .set = set_enable_largepages},
    {.short_name = 'e', .long_name = "memory-file", .arg = "FILE",
     .help = "accepted, no effect: the cache file (--cache) always\nkeeps the items",
     .set = set_memory_file,
     .setting = "memory_file", .show = show_memory_file},
    {.long_name = "mode", .arg = "MODE", .dflt = "0600",
     .help = "file mode of a cache it creates, octal, e.g. 0660",
     .set = set_mode, .bad = "not an octal mode up to 0777"},
    {.long_name = "group", .arg = "GROUP",
     .help = "group of a cache it creates, a name or number\n(default: the server's)",
     .set = set_group, .bad = "no such group"},
    {.long_name = "resize", .help = "resize an existing cache of another -m/-I, keeping its items",
     .set = set_resize},
    {.short_name = 'd', .long_name = "daemon", .help = "run in the background",
     .set = set_daemon},
    {.short_name = 'P', .long_name = "pidfile", .arg = "FILE",
     .help = "write the process id to FILE", .set = set_pidfile},
    {.short_name = 'u', .long_name = "user", .arg = "USER",
     .help = "run as USER (when started as root)", .set = set_user},
    {.short_name = 'o', .long_name = "extended", .arg = "OPTS",
     .help = "memcached's settings, comma-separated:\n"
             "hashpower=N          log2 of a new cache's index buckets (12..64)\n"
             "idle_timeout=S       close connections idle S seconds (0: never)\n"
             "read_buf_mem_limit=M cap on all connections' input buffers,\n"
             "                     MiB (0: none); past it a connection is closed\n"
             "maxconns_fast        (default) over -c, refuse at once\n"
             "memcached's slab, LRU and extstore settings (modern,\n"
             "lru_crawler, slab_automove, hot_lru_pct, ext_*, ...): accepted,\n"
             "no effect; an unknown one is refused.  TLS:\n"
             "ssl_chain_cert=FILE  certificate chain, PEM (needed by -Z)\n"
             "ssl_key=FILE         private key, if not in the chain file\n"
             "ssl_keyformat=N      1: PEM (default), 2: DER\n"
             "ssl_ca_cert=FILE     CAs whose client certificates are accepted\n"
             "ssl_verify_mode=N    client certificates: 0 none (default),\n"
             "                     1 request, 2 require, 3 once\n"
             "ssl_min_version=N    0 tlsv1.0, 1 tlsv1.1, 2 tlsv1.2 (default),\n"
             "                     3 tlsv1.3\n"
             "ssl_ciphers=LIST     OpenSSL cipher list (TLS 1.2 and below)\n"
             "ssl_wbuf_size=KB, ssl_session_cache, ssl_kernel_tls: as memcached's",
     .set = set_extended, .bad = "see above"},
    {.short_name = 'i', .long_name = "license",
     .help = "print shmc's license (BSD-3-Clause) and exit",
     .set = set_license},
    {.short_name = 'V', .long_name = "version", .help = "print the version and exit",
     .set = set_version},
    {.short_name = 'h', .long_name = "help", .help = "print this help and exit",
     .set = set_help},
};
#define NFLAGS (sizeof flags / sizeof flags[0])

/* --help's text, prefix and help text, with "\n" continuing at the help column. */
static void put_wrapped(FILE *f, const char *s)
{
    for (; *s; s++) {
        if (*s == '\n') fprintf(f, "\n%27s", "");
        else fputc(*s, f);
    }
}

void shmcd_usage(FILE *f)
{
    fprintf(f, "shmcd %s — a memcached-compatible server for a shmc cache file\n"
               "usage: shmcd [options]\n", PROTO_VERSION_STRING);
    for (size_t i = 0; i < NFLAGS; i++) {
        const flag *fl = &flags[i];
        if (!fl->long_name) continue;
        char left[64];
        int n = 0;
        if (fl->short_name) n = snprintf(left, sizeof left, "-%c, ", fl->short_name);
        snprintf(left + n, sizeof left - (size_t)n, "--%s%s%s", fl->long_name,
                 fl->arg ? "=" : "", fl->arg ? fl->arg : "");
        fprintf(f, strlen(left) <= 24 ? "  %-24s " : "  %s  ", left);
        put_wrapped(f, fl->help);
        if (fl->dflt) {
            fprintf(f, " (default: %s", fl->dflt);
            if (fl->note) {
                fputc(';', f);
                if (fl->note[0] != '\n') fputc(' ', f);
                put_wrapped(f, fl->note);
            }
            fputc(')', f);
        }
        fputc('\n', f);
    }
}

void shmcd_settings(const shmcd_options *opt, const shmcd_live *live, shmcd_setting_fn emit,
                    void *ctx)
{
    for (size_t i = 0; i < NFLAGS; i++) {
        const flag *fl = &flags[i];
        if (!fl->setting) continue;
        char value[256];
        if (fl->show) fl->show(opt, live, value, sizeof value);
        else snprintf(value, sizeof value, "%s", fl->fixed);
        emit(ctx, fl->setting, value);
    }
}

static shmcd_opt_result bad(const flag *fl, const char *value)
{
    if (fl->short_name) fprintf(stderr, "shmcd: invalid -%c", fl->short_name);
    else fprintf(stderr, "shmcd: invalid --%s", fl->long_name);
    fprintf(stderr, " '%s': %s (see shmcd -h)\n", value ? value : "", fl->bad);
    return SHMCD_OPT_ERROR;
}

/* getopt's short string (":p:l:..."; the leading ':' reports a missing value as ':') and
 * long options; a long-only flag's val is 1000 + its row. */
static void getopt_tables(char *shorts, struct option *longs)
{
    size_t ns = 0, nl = 0;
    shorts[ns++] = ':';
    for (size_t i = 0; i < NFLAGS; i++) {
        const flag *fl = &flags[i];
        if (!fl->long_name) continue;
        if (fl->short_name) {
            shorts[ns++] = fl->short_name;
            if (fl->arg) shorts[ns++] = ':';
        }
        longs[nl++] = (struct option){fl->long_name, fl->arg ? required_argument : no_argument,
                                      NULL, fl->short_name ? fl->short_name : 1000 + (int)i};
    }
    shorts[ns] = '\0';
    longs[nl] = (struct option){NULL, 0, NULL, 0};
}

static const flag *flag_of(int ch)
{
    if (ch >= 1000 && ch < 1000 + (int)NFLAGS) return &flags[ch - 1000];
    for (size_t i = 0; i < NFLAGS; i++)
        if (flags[i].long_name && flags[i].short_name == ch) return &flags[i];
    return NULL;
}

shmcd_opt_result shmcd_parse_options(int argc, char **argv, shmcd_options *opt)
{
    memset(opt, 0, sizeof *opt);
    shmcd_security_init(&opt->sec);
    char shorts[2 * NFLAGS + 2];
    struct option longs[NFLAGS + 1];
    getopt_tables(shorts, longs);
    bool given[NFLAGS] = {false};

    optind = 1;
    opterr = 0;
    int ch;
    while ((ch = getopt_long(argc, argv, shorts, longs, NULL)) != -1) {
        const flag *fl = flag_of(ch);
        if (ch == ':') {
            fprintf(stderr, "shmcd: option %s needs a value (see shmcd -h)\n", argv[optind - 1]);
            return SHMCD_OPT_ERROR;
        }
        if (!fl) {
            fprintf(stderr, "shmcd: unknown option %s (see shmcd -h)\n", argv[optind - 1]);
            return SHMCD_OPT_ERROR;
        }
        given[fl - flags] = true;
        switch (fl->set(opt, optarg)) {
        case FLAG_OK: break;
        case FLAG_BAD: return bad(fl, optarg);
        case FLAG_EXIT: return SHMCD_OPT_EXIT;
        case FLAG_FATAL: return SHMCD_OPT_FATAL;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "shmcd: unexpected argument '%s' (see shmcd -h)\n", argv[optind]);
        return SHMCD_OPT_ERROR;
    }
    for (size_t i = 0; i < NFLAGS; i++) {
        const flag *fl = &flags[i];
        if (given[i] || !fl->dflt || fl->dflt_from_cache) continue;
        if (fl->set(opt, fl->dflt) != FLAG_OK) return bad(fl, fl->dflt);
    }
    opt->port_given = given[flag_of('p') - flags];
    opt->protocol_given = given[flag_of('B') - flags];
    /* memcached's rules: SASL speaks the binary protocol only, ASCII authentication the
     * text protocol only */
    if (opt->sasl) {
        if (opt->protocol_given && opt->protocol != SHMCD_PROTO_BINARY) {
            fprintf(stderr, "shmcd: You cannot allow the ASCII protocol while using SASL "
                            "(-S needs -B binary)\n");
            return SHMCD_OPT_ERROR;
        }
        if (opt->sec.auth_file) {
            fprintf(stderr, "shmcd: -S (SASL, binary protocol) and -Y (ASCII authentication) "
                            "exclude each other\n");
            return SHMCD_OPT_ERROR;
        }
        opt->protocol = SHMCD_PROTO_BINARY;
    }
    if (opt->sec.auth_file) {
        if (opt->protocol_given && opt->protocol != SHMCD_PROTO_ASCII) {
            fprintf(stderr, "shmcd: You cannot allow the BINARY protocol while using ascii "
                            "authentication tokens (-Y needs -B ascii)\n");
            return SHMCD_OPT_ERROR;
        }
        opt->protocol = SHMCD_PROTO_ASCII;
    }
    /* memcached's checks of -I, in its order and words (-I 1m and -m 64 by default) */
    size_t item_max = opt->item_size_max ? opt->item_size_max : 1u << 20;
    size_t memory = (opt->memory_mib ? opt->memory_mib : 64) << 20;
    if (opt->memory_mib || opt->item_size_max) {
        const char *why = NULL;
        if (item_max < 1024) why = "Item max size cannot be less than 1024 bytes.";
        else if (item_max > memory / 2)
            why = "Cannot set item size limit higher than 1/2 of memory max.";
        else if (item_max > (1u << 30)) why = "Cannot set item size limit higher than a gigabyte.";
        if (why) {
            fprintf(stderr, "%s\n", why);
            return SHMCD_OPT_ERROR;
        }
    }
    if (opt->napi_ids > opt->threads) {
        fprintf(stderr, "Number of napi_ids(%u) cannot be greater than number of threads(%u)\n",
                opt->napi_ids, opt->threads);
        return SHMCD_OPT_ERROR;
    }
    if (!shmcd_security_check(&opt->sec)) return SHMCD_OPT_ERROR;
    if (opt->unix_path && !opt->port_given) opt->port = 0;
    for (size_t i = 0; i < opt->nlisten; i++)
        if (names_port(opt->listen[i])) opt->listen_port_given = true;
    if (opt->port == 0 && !opt->unix_path && !opt->listen_port_given) {
        fprintf(stderr, "shmcd: nothing to listen on: -p 0 and no -s\n");
        return SHMCD_OPT_ERROR;
    }
    if (!opt->cache) default_cache(opt);
    return SHMCD_OPT_RUN;
}

void shmcd_free_options(shmcd_options *opt)
{
    for (size_t i = 0; i < opt->nsubopt_copies; i++) free(opt->subopt_copies[i]);
    opt->nsubopt_copies = opt->nignored = 0;
    for (size_t i = 0; i < opt->nlisten; i++) free(opt->listen[i]);
    opt->nlisten = 0;
    shmcd_security_free(&opt->sec);
}
