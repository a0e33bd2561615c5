/* options.c — parsing shmcd's command line (options.h).  Every value is checked; a bad one
 * is a clear message and exit status 64, never a silent default. */
#include "options.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <shmc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "protocol/env.h"
#include "size.h"

static void usage(FILE *f)
{
    fprintf(f,
            "shmcd %s — a memcached-compatible server for a shmc cache file\n"
            "usage: shmcd [options]\n"
            "  --cache=NAME|PATH        cache to serve, created if missing (default: shmcd;\n"
            "                           a NAME lives in $SHMC_DIR, default /dev/shm)\n"
            "  -p, --port=NUM           TCP port (default: 11211; 0: no TCP)\n"
            "  -l, --listen=ADDR[,ADDR] addresses to listen on (default: 127.0.0.1)\n"
            "  -s, --unix-socket=PATH   UNIX socket (then no TCP unless -p is given too)\n"
            "  -a, --unix-mask=MODE     UNIX socket mode, octal (default: 0700)\n"
            "  -m, --memory-limit=SIZE  cache memory when creating it, e.g. 64 (MiB), 2g (default: 64)\n"
            "  -I, --max-item-size=SIZE largest value, e.g. 512k, 1m (default: 1m)\n"
            "  -c, --conn-limit=NUM     simultaneous connections (default: 1024)\n"
            "  -t, --threads=NUM        worker threads, one epoll loop each (default: 4)\n"
            "  -R, --max-reqs-per-event=NUM  requests per connection per turn (default: 20)\n"
            "  -b, --listen-backlog=NUM listen backlog (default: 1024)\n"
            "  -U, --udp-port=0         UDP is not supported; only 0 is accepted\n"
            "  -B, --protocol=ascii     only the text and meta protocols (ascii, auto)\n"
            "  -d, --daemon             run in the background\n"
            "  -P, --pidfile=FILE       write the process id to FILE\n"
            "  -u, --user=USER          run as USER (when started as root)\n"
            "  -o, --extended=OPTS      accepted for compatibility and ignored\n"
            "  -v, --verbose            more messages on stderr (-vv: connections, -vvv: commands)\n"
            "  -V, --version            print the version and exit\n"
            "  -h, --help               print this help and exit\n",
            PROTO_VERSION_STRING);
}

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

static shmcd_opt_result bad(const char *flag, const char *value, const char *why)
{
    fprintf(stderr, "shmcd: invalid %s '%s': %s (see shmcd -h)\n", flag, value ? value : "",
            why);
    return SHMCD_OPT_ERROR;
}

shmcd_opt_result shmcd_parse_options(int argc, char **argv, shmcd_options *opt)
{
    memset(opt, 0, sizeof *opt);
    opt->port = 11211;
    opt->unix_mode = 0700;
    opt->max_conns = 1024;
    opt->threads = 4;
    opt->reqs_per_event = 20;
    opt->backlog = 1024;
    opt->cache = "shmcd";

    enum { OPT_CACHE = 1000 };
    static const struct option longopts[] = {
        {"cache", required_argument, NULL, OPT_CACHE},
        {"port", required_argument, NULL, 'p'},
        {"listen", required_argument, NULL, 'l'},
        {"unix-socket", required_argument, NULL, 's'},
        {"unix-mask", required_argument, NULL, 'a'},
        {"memory-limit", required_argument, NULL, 'm'},
        {"max-item-size", required_argument, NULL, 'I'},
        {"conn-limit", required_argument, NULL, 'c'},
        {"threads", required_argument, NULL, 't'},
        {"max-reqs-per-event", required_argument, NULL, 'R'},
        {"listen-backlog", required_argument, NULL, 'b'},
        {"udp-port", required_argument, NULL, 'U'},
        {"protocol", required_argument, NULL, 'B'},
        {"daemon", no_argument, NULL, 'd'},
        {"pidfile", required_argument, NULL, 'P'},
        {"user", required_argument, NULL, 'u'},
        {"extended", required_argument, NULL, 'o'},
        {"verbose", no_argument, NULL, 'v'},
        {"version", no_argument, NULL, 'V'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    optind = 1;
    opterr = 0;
    int ch;
    unsigned long v;
    while ((ch = getopt_long(argc, argv, ":p:l:s:a:m:I:c:t:R:b:U:B:dP:u:o:vVh", longopts,
                             NULL)) != -1) {
        switch (ch) {
        case OPT_CACHE:
            if (!optarg[0]) return bad("--cache", optarg, "empty name");
            opt->cache = optarg;
            break;
        case 'p':
            if (!parse_uint(optarg, 65535, &v)) return bad("-p", optarg, "not a port number");
            opt->port = (int)v;
            opt->port_given = true;
            break;
        case 'l':
            if (!optarg[0] || !add_listen(opt, optarg)) return bad("-l", optarg, "bad address list");
            break;
        case 's':
            if (!optarg[0]) return bad("-s", optarg, "empty path");
            if (strlen(optarg) >= 108) return bad("-s", optarg, "path longer than 107 bytes");
            opt->unix_path = optarg;
            break;
        case 'a': {
            char *end;
            errno = 0;
            unsigned long mode = strtoul(optarg, &end, 8);
            if (errno || !optarg[0] || *end || mode > 0777) return bad("-a", optarg, "not an octal mode");
            opt->unix_mode = (unsigned)mode;
            break;
        }
        case 'm': {
            uint64_t bytes; /* a bare number is MiB, as memcached's -m */
            if (!size_parse(optarg, 1u << 20, &bytes) || bytes == 0 || bytes % (1u << 20) ||
                bytes > (1ull << 50))
                return bad("-m", optarg, "not a whole number of MiB (e.g. 64, 512m, 2g)");
            opt->memory_mib = (size_t)(bytes >> 20);
            break;
        }
        case 'I': {
            size_t size;
            if (!shmcd_parse_size(optarg, &size) || size < 1024 || size > (1u << 30))
                return bad("-I", optarg, "not a size from 1k to 1g");
            opt->item_size_max = size;
            break;
        }
        case 'c':
            if (!parse_uint(optarg, 1u << 20, &v) || v == 0) return bad("-c", optarg, "not a connection count");
            opt->max_conns = (unsigned)v;
            break;
        case 't':
            if (!parse_uint(optarg, 256, &v) || v == 0) return bad("-t", optarg, "not a thread count (1..256)");
            opt->threads = (unsigned)v;
            break;
        case 'R':
            if (!parse_uint(optarg, 1u << 20, &v) || v == 0) return bad("-R", optarg, "not a positive count");
            opt->reqs_per_event = (unsigned)v;
            break;
        case 'b':
            if (!parse_uint(optarg, INT_MAX, &v) || v == 0) return bad("-b", optarg, "not a positive count");
            opt->backlog = (int)v;
            break;
        case 'U':
            if (!parse_uint(optarg, 65535, &v) || v != 0) return bad("-U", optarg, "UDP is not supported; use -U 0");
            break;
        case 'B':
            if (strcmp(optarg, "ascii") && strcmp(optarg, "auto"))
                return bad("-B", optarg, "the binary protocol is not supported (ascii, auto)");
            break;
        case 'd':
            opt->daemonize = true;
            break;
        case 'P':
            opt->pidfile = optarg;
            break;
        case 'u':
            opt->user = optarg;
            break;
        case 'o':
            break;
        case 'v':
            opt->verbosity++;
            break;
        case 'V':
            printf("shmcd %s\n", PROTO_VERSION_STRING);
            return SHMCD_OPT_EXIT;
        case 'h':
            usage(stdout);
            return SHMCD_OPT_EXIT;
        case ':':
            fprintf(stderr, "shmcd: option %s needs a value (see shmcd -h)\n", argv[optind - 1]);
            return SHMCD_OPT_ERROR;
        default:
            fprintf(stderr, "shmcd: unknown option %s (see shmcd -h)\n", argv[optind - 1]);
            return SHMCD_OPT_ERROR;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "shmcd: unexpected argument '%s' (see shmcd -h)\n", argv[optind]);
        return SHMCD_OPT_ERROR;
    }
    /* memcached's rule: the largest item is at most half the memory (-I defaults to 1m) */
    size_t item_max = opt->item_size_max ? opt->item_size_max : 1u << 20;
    if (opt->memory_mib && item_max > (opt->memory_mib << 20) / 2) {
        fprintf(stderr, "shmcd: cannot set the item size limit (-I %zu) higher than half of the "
                        "memory limit (-m %lu)\n", item_max, (unsigned long)opt->memory_mib);
        return SHMCD_OPT_ERROR;
    }
    if (opt->unix_path && !opt->port_given) opt->port = 0;
    if (opt->nlisten == 0 && !add_listen(opt, "127.0.0.1")) return SHMCD_OPT_ERROR;
    if (opt->port == 0 && !opt->unix_path) {
        fprintf(stderr, "shmcd: nothing to listen on: -p 0 and no -s\n");
        return SHMCD_OPT_ERROR;
    }
    return SHMCD_OPT_RUN;
}

void shmcd_free_options(shmcd_options *opt)
{
    for (size_t i = 0; i < opt->nlisten; i++) free(opt->listen[i]);
    opt->nlisten = 0;
}
