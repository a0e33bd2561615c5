/* test_server_options.c — shmcd's flag table (server/options.c): every flag in its short and
 * long form, the defaults of flags left out, refused values, the -s/-p rule, --help made from
 * the table, and the table's "stats settings" lines with their values (protocol/stats.c puts
 * them in memcached's order). */
#include <stdio.h>
#include <stdlib.h>

#include "../testutil.h"
#include "server/options.h"

/* Parse a NULL-terminated argument list (argv[0] added); stderr kept quiet. */
static shmcd_opt_result parse(shmcd_options *opt, const char *const *args)
{
    char *argv[64];
    int argc = 0;
    argv[argc++] = "shmcd";
    for (; *args; args++) argv[argc++] = (char *)*args;
    argv[argc] = NULL;
    fflush(stderr);
    FILE *saved = stderr;
    stderr = fopen("/dev/null", "w");
    shmcd_opt_result r = shmcd_parse_options(argc, argv, opt);
    fclose(stderr);
    stderr = saved;
    return r;
}

static void collect(void *ctx, const char *name, const char *value)
{
    FILE *f = ctx;
    fprintf(f, "%s %s\n", name, value);
}

#define ARGS(...) ((const char *const[]){__VA_ARGS__, NULL})

static void test_defaults(void)
{
    shmcd_options o;
    CHECK(parse(&o, (const char *const[]){NULL}) == SHMCD_OPT_RUN);
    CHECK(o.port == 11211 && o.port_given == false);
    CHECK(o.nlisten == 1 && strcmp(o.listen[0], "127.0.0.1") == 0);
    CHECK(o.unix_path == NULL && o.unix_mode == 0700);
    CHECK(o.memory_mib == 0 && o.item_size_max == 0); /* the cache file's own, or the library's */
    CHECK(o.max_conns == 1024 && o.threads == 4 && o.reqs_per_event == 20 && o.backlog == 1024);
    CHECK(strcmp(o.cache, "shmcd-11211") == 0); /* one cache per instance, by its port */
    CHECK(o.verbosity == 0 && !o.daemonize && !o.pidfile && !o.user);
    CHECK(!o.flush_disabled && !o.cas_disabled && !o.shutdown_enabled);
    shmcd_free_options(&o);
}

/* memcached's switches: -F, -C, -A, each also by its long name, and in stats settings. */
static void test_switches(void)
{
    shmcd_options o;
    CHECK(parse(&o, ARGS("-F", "-C", "-A", "-M")) == SHMCD_OPT_RUN);
    CHECK(o.flush_disabled && o.cas_disabled && o.shutdown_enabled && o.no_evict);
    shmcd_free_options(&o);
    CHECK(parse(&o, ARGS("--disable-flush-all", "--disable-cas", "--enable-shutdown",
                         "--disable-evictions")) == SHMCD_OPT_RUN);
    CHECK(o.flush_disabled && o.cas_disabled && o.shutdown_enabled && o.no_evict);
    shmcd_live live = {.limit_maxbytes = 4 << 20, .item_size_max = 65536, .hash_buckets = 1 << 16};
    char *text = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&text, &n);
    shmcd_settings(&o, &live, collect, f);
    fclose(f);
    CHECK(strstr(text, "\nshutdown_command yes\n") && strstr(text, "\ncas_enabled no\n") &&
          strstr(text, "\nflush_enabled no\n") && strstr(text, "\nevictions off\n"));
    free(text);
    shmcd_free_options(&o);
}

/* Two instances never share a default cache: it is named after the port, else the socket. */
static void test_default_cache(void)
{
    static const struct {
        const char *args[7];
        const char *cache;
    } cases[] = {
        {{"-p", "11212"}, "shmcd-11212"},
        {{"-p", "0", "-l", "127.0.0.1:11300"}, "shmcd-11300"},
        {{"-p", "0", "-l", "[::1]:11301,127.0.0.1:11302"}, "shmcd-11301"},
        {{"-s", "/run/shmcd/a.sock"}, "shmcd-run-shmcd-a.sock"},
        {{"-s", "/run/shmcd/a.sock", "-p", "11213"}, "shmcd-11213"},
        {{"-p", "11214", "--cache=mine"}, "mine"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        shmcd_options o;
        CHECK(parse(&o, cases[i].args) == SHMCD_OPT_RUN);
        if (strcmp(o.cache, cases[i].cache) != 0)
            fprintf(stderr, "FAIL: default cache %s, want %s\n", o.cache, cases[i].cache);
        CHECK(strcmp(o.cache, cases[i].cache) == 0);
        shmcd_free_options(&o);
    }
}

static void check_all_set(const shmcd_options *o)
{
    CHECK(o->port == 2345 && o->port_given);
    CHECK(o->nlisten == 2 && strcmp(o->listen[0], "10.0.0.1") == 0 &&
          strcmp(o->listen[1], "::1") == 0);
    CHECK(o->unix_path && strcmp(o->unix_path, "/tmp/x.sock") == 0 && o->unix_mode == 0755);
    CHECK(o->memory_mib == 8 && o->item_size_max == 512 * 1024);
    CHECK(o->max_conns == 7 && o->threads == 3 && o->reqs_per_event == 5 && o->backlog == 9);
    CHECK(strcmp(o->cache, "c1") == 0 && strcmp(o->pidfile, "/tmp/p") == 0 &&
          strcmp(o->user, "nobody") == 0);
    CHECK(o->daemonize && o->verbosity == 3);
}

static void test_every_flag(void)
{
    shmcd_options o;
    CHECK(parse(&o, ARGS("-p", "2345", "-l", "10.0.0.1,::1", "-s", "/tmp/x.sock", "-a", "755",
                         "-m", "8", "-I", "512k", "-c", "7", "-t", "3", "-R", "5", "-b", "9",
                         "-U", "0", "-B", "auto", "-d", "-P", "/tmp/p", "-u", "nobody", "-o",
                         "modern", "-vvv", "--cache=c1")) == SHMCD_OPT_RUN);
    check_all_set(&o);
    shmcd_free_options(&o);
    CHECK(parse(&o, ARGS("--port=2345", "--listen=10.0.0.1,::1", "--unix-socket=/tmp/x.sock",
                         "--unix-mask=755", "--memory-limit=8", "--max-item-size=512k",
                         "--conn-limit=7", "--threads=3", "--max-reqs-per-event=5",
                         "--listen-backlog=9", "--udp-port=0", "--protocol=ascii", "--daemon",
                         "--pidfile=/tmp/p", "--user=nobody", "--extended=modern", "--verbose",
                         "--verbose", "--verbose", "--cache", "c1")) == SHMCD_OPT_RUN);
    check_all_set(&o);
    shmcd_free_options(&o);
}

static void test_refused(void)
{
    static const char *const bad[][5] = {
        {"-p", "65536"}, {"-p", "x"}, {"-p", "-1"}, {"-l", ""}, {"-s", ""}, {"-a", "8"},
        {"-a", "1000"}, {"-m", "0"}, {"-I", "1023"}, {"-I", "2g"}, {"-I", "1q"},
        {"-t", "257"}, {"-b", "0"}, {"-U", "11211"}, {"-B", "foo"},
        {"-Y", "/dev/null", "-B", "binary"}, {"-S", "-B", "auto"}, {"-S", "-B", "ascii"},
        {"-S", "-Y", "/dev/null"},
        {"--cache="}, {"-p"}, {"-q"}, {"--bogus"}, {"-m", "1", "-I", "1m"}, {"-m", "1"}, {"-p", "0"},
        {"stray"}, {"-N", "5"}, {"-t", "2", "-N", "3"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        shmcd_options o;
        shmcd_opt_result r = parse(&o, bad[i]);
        if (r != SHMCD_OPT_ERROR)
            fprintf(stderr, "FAIL: %s %s accepted\n", bad[i][0], bad[i][1] ? bad[i][1] : "");
        CHECK(r == SHMCD_OPT_ERROR);
        shmcd_free_options(&o);
    }
    /* memcached's own checks: its message, exit 1 (SHMCD_OPT_FATAL) */
    static const char *const fatal[][3] = {{"-c", "0"}, {"-t", "0"}, {"-R", "0"}, {"-R", "-3"},
                                              {"-N", "0"}, {"-N", "x"}};
    for (size_t i = 0; i < sizeof fatal / sizeof fatal[0]; i++) {
        shmcd_options o;
        CHECK(parse(&o, fatal[i]) == SHMCD_OPT_FATAL);
        shmcd_free_options(&o);
    }
    shmcd_options n;
    CHECK(parse(&n, ARGS("-t", "8", "--napi_ids=8")) == SHMCD_OPT_RUN && n.napi_ids == 8);
    shmcd_free_options(&n);
    char longpath[200];
    memset(longpath, 'a', sizeof longpath - 1);
    longpath[sizeof longpath - 1] = 0;
    shmcd_options o;
    CHECK(parse(&o, ARGS("-s", longpath)) == SHMCD_OPT_ERROR);
    shmcd_free_options(&o);
}

/* -B: memcached's three protocol choices; -Y alone makes it ascii. */
static void test_protocol(void)
{
    static const struct { const char *args[5]; int want; } cases[] = {
        {{"-p", "1"}, SHMCD_PROTO_AUTO},
        {{"-B", "ascii"}, SHMCD_PROTO_ASCII},
        {{"-B", "binary"}, SHMCD_PROTO_BINARY},
        {{"--protocol=auto"}, SHMCD_PROTO_AUTO},
        {{"-Y", "/dev/null"}, SHMCD_PROTO_ASCII},
        {{"-Y", "/dev/null", "-B", "ascii"}, SHMCD_PROTO_ASCII},
        {{"-S"}, SHMCD_PROTO_BINARY},
        {{"-S", "-B", "binary"}, SHMCD_PROTO_BINARY},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        shmcd_options o;
        CHECK(parse(&o, cases[i].args) == SHMCD_OPT_RUN && o.protocol == cases[i].want);
        shmcd_free_options(&o);
    }
}

/* As memcached: -s turns TCP off unless -p is given too. */
static void test_unix_socket_and_port(void)
{
    shmcd_options o;
    CHECK(parse(&o, ARGS("-s", "/tmp/a")) == SHMCD_OPT_RUN && o.port == 0);
    shmcd_free_options(&o);
    CHECK(parse(&o, ARGS("-s", "/tmp/a", "-p", "11211")) == SHMCD_OPT_RUN && o.port == 11211);
    shmcd_free_options(&o);
    CHECK(parse(&o, ARGS("-s", "/tmp/a", "-p", "0")) == SHMCD_OPT_RUN && o.port == 0);
    shmcd_free_options(&o);
}

static void test_help(void)
{
    char *text = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&text, &n);
    shmcd_usage(f);
    fclose(f);
    static const char *const want[] = {
        "usage: shmcd [options]\n",
        "\n  --cache=NAME|PATH        cache to serve, created if missing; a NAME lives in\n"
        "                           $SHMC_DIR, default /dev/shm (default: one per instance,\n"
        "                           as memcached's: shmcd-PORT, e.g. shmcd-11211; with -s\n",
        "\n  -p, --port=NUM           TCP port (default: 11211; 0: no TCP)\n",
        "\n  -l, --listen=ADDR[,ADDR] addresses to listen on, comma-separated or repeated:\n"
        "                           ADDR, ADDR:PORT, [IPV6]:PORT (default port: -p);\n"
        "                           notls:ADDR...: no TLS there under -Z (default: 127.0.0.1)\n",
        "\n  -m, --memory-limit=SIZE  cache memory when creating it, e.g. 64 (MiB), 2g (default: 64)\n",
        "\n  --mode=MODE",
        "\n  --group=GROUP",
        "\n  -I, --max-item-size=SIZE largest value, e.g. 512k, 1m, 16m (1k to 1024m) (default: 1m)\n",
        "\n  -R, --max-reqs-per-event=NUM  requests per connection per turn; then other\n"
        "                           connections get a turn (stats: conn_yields) (default: 20)\n",
        "\n  -v, --verbose            more messages",
        "\n  -h, --help               print this help and exit\n",
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        if (!strstr(text, want[i])) fprintf(stderr, "FAIL: --help lacks \"%s\"\n", want[i]);
        CHECK(strstr(text, want[i]) != NULL);
    }
    /* every flag the parser takes is in the help, and no setting-only row is */
    static const char *const flags[] = {"-p, --port", "-l, --listen", "-s, --unix-socket",
        "-a, --unix-mask", "-m, --memory-limit", "-I, --max-item-size", "-c, --conn-limit",
        "-t, --threads", "-R, --max-reqs-per-event", "-b, --listen-backlog", "-U, --udp-port",
        "-B, --protocol", "-d, --daemon", "-P, --pidfile", "-u, --user", "-o, --extended",
        "-v, --verbose", "-V, --version", "-h, --help", "  --cache", "-Z, --enable-ssl",
        "-Y, --auth-file", "-S, --enable-sasl", "  --mode", "  --group", "  --resize",
        "-X, --disable-dumping", "-A, --enable-shutdown", "-C, --disable-cas",
        "-F, --disable-flush-all", "-M, --disable-evictions", "-f, --slab-growth-factor",
        "-n, --slab-min-size", "-k, --lock-memory", "-r, --enable-coredumps",
        "-L, --enable-largepages", "-e, --memory-file", "-D, --prefix-delimiter",
        "-W, --disable-watch", "-N, --napi_ids", "-i, --license"};
    for (size_t i = 0; i < sizeof flags / sizeof flags[0]; i++) CHECK(strstr(text, flags[i]));
    size_t lines = 0;
    for (char *p = text; *p; p++) lines += *p == '\n';
    CHECK(lines == 2 + 41 + 33); /* title, usage, 41 flags, 33 continuation lines */
    CHECK(strstr(text, "\nevictions") == NULL);
    free(text);
}


static void test_settings(void)
{
    shmcd_options o;
    CHECK(parse(&o, ARGS("-p", "2345", "-l", "10.0.0.1,::1", "-s", "/tmp/x.sock", "-a", "755",
                         "-c", "7", "-t", "3", "-R", "5", "-b", "9", "-v", "--cache=c1")) ==
          SHMCD_OPT_RUN);
    shmcd_live live = {.verbosity = 2, .limit_maxbytes = 4 << 20, .item_size_max = 65536,
                       .hash_buckets = 1 << 16};
    char *text = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&text, &n);
    shmcd_settings(&o, &live, collect, f);
    fclose(f);
    const char *want = "maxbytes 4194304\nmaxconns 7\ntcpport 2345\nudpport 0\n"
                       "inter 10.0.0.1,::1\nverbosity 2\nevictions on\n"
                       "domain_socket /tmp/x.sock\numask 755\nshutdown_command no\n"
                       "growth_factor 1.25\nchunk_size 48\nnum_threads 3\nnum_threads_per_udp 3\n"
                       "stat_key_prefix :\ndetail_enabled no\nreqs_per_event 5\n"
                       "cas_enabled yes\ntcp_backlog 9\nbinding_protocol auto-negotiate\n"
                       "auth_enabled_sasl no\nauth_enabled_ascii no\n"
                       "item_size_max 65536\nmaxconns_fast yes\nhashpower_init 16\n"
                       "slab_automove 1\nlru_crawler yes\n"
                       "flush_enabled yes\ndump_enabled yes\nhot_lru_pct 20\nidle_timeout 0\n"
                       "read_buf_mem_limit 0\nssl_enabled no\n"
                       "ssl_chain_cert (null)\nssl_key (null)\nssl_verify_mode 0\nssl_keyformat 1\n"
                       "ssl_ciphers NULL\nssl_ca_cert NULL\nssl_wbuf_size 16384\n"
                       "ssl_session_cache no\nssl_kernel_tls no\nssl_min_version tlsv1.2\n"
                       "num_napi_ids (null)\nshmc_cache c1\nshmc_no_effect none\nmemory_file (null)\n";
    if (strcmp(text, want) != 0) fprintf(stderr, "FAIL: settings:\n%s", text);
    CHECK(strcmp(text, want) == 0);
    free(text);
    shmcd_free_options(&o);

    /* -S: SASL on, the binary protocol alone; -B ascii: as memcached names it */
    CHECK(parse(&o, ARGS("-S")) == SHMCD_OPT_RUN);
    f = open_memstream(&text, &n);
    shmcd_settings(&o, &live, collect, f);
    fclose(f);
    CHECK(strstr(text, "\nbinding_protocol binary\nauth_enabled_sasl yes\n") != NULL);
    free(text);
    shmcd_free_options(&o);
    CHECK(parse(&o, ARGS("-B", "ascii")) == SHMCD_OPT_RUN);
    f = open_memstream(&text, &n);
    shmcd_settings(&o, &live, collect, f);
    fclose(f);
    CHECK(strstr(text, "\nbinding_protocol ascii\nauth_enabled_sasl no\n") != NULL);
    free(text);
    shmcd_free_options(&o);

    /* UNIX socket only: no TCP port, no listen address */
    CHECK(parse(&o, ARGS("-s", "/tmp/y")) == SHMCD_OPT_RUN);
    f = open_memstream(&text, &n);
    shmcd_settings(&o, &live, collect, f);
    fclose(f);
    CHECK(strstr(text, "\ntcpport 0\nudpport 0\ninter NULL\n") && strstr(text, "\ndomain_socket /tmp/y\n") &&
          strstr(text, "\numask 700\n") && strstr(text, "\nshmc_cache shmcd-tmp-y\n"));
    free(text);
    shmcd_free_options(&o);
}

int main(void)
{
    test_defaults();
    test_every_flag();
    test_switches();
    test_default_cache();
    test_refused();
    test_protocol();
    test_unix_socket_and_port();
    test_help();
    test_settings();
    return t_finish();
}
