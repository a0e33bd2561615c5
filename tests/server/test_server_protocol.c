/* test_server_protocol.c — shmcd through real sockets, TCP and UNIX: every text and meta
 * command and every error reply (memcached 1.6.18's exact strings), each case on a fresh
 * connection after a flush_all; the same requests sent byte by byte (a slow client) and all
 * pipelined in one write; and what a library user sees of the server's writes.
 * In expected replies '#' matches a number (cas values). */
#include <stdint.h>

#include "harness.h"

typedef struct tcase {
    const char *req;
    const char *want; /* "<closed>" at the end: the server closed the connection */
} tcase;

static const tcase cases[] = {
    /* retrieval and storage */
    {"get\r\n", "ERROR\r\n"},
    {"get a\r\n", "END\r\n"},
    {"set a 5 0 3\r\nabc\r\nget a\r\n", "STORED\r\nVALUE a 5 3\r\nabc\r\nEND\r\n"},
    {"set a 5 0 3\r\nabc\r\ngets a\r\n", "STORED\r\nVALUE a 5 3 #\r\nabc\r\nEND\r\n"},
    {"set a 0 0 1\r\nx\r\nset b 1 0 1\r\ny\r\nget a  b c\r\n",
     "STORED\r\nSTORED\r\nVALUE a 0 1\r\nx\r\nVALUE b 1 1\r\ny\r\nEND\r\n"},
    {"set  a  0  0  1 \r\nx\r\n", "STORED\r\n"},
    {"set a 0 0 1\nx\r\nget a\n", "STORED\r\nVALUE a 0 1\r\nx\r\nEND\r\n"},
    {"set a 0 0 0\r\n\r\nget a\r\n", "STORED\r\nVALUE a 0 0\r\n\r\nEND\r\n"},
    {"set a 0 0 1\r\nxyz\r\nget a\r\n", "CLIENT_ERROR bad data chunk\r\nERROR\r\nEND\r\n"},
    {"set a 0 0 1 noreply\r\nxyz\r\nmn\r\n", "ERROR\r\nMN\r\n"},
    {"set a 0 0 -1\r\n", "CLIENT_ERROR bad command line format\r\n"},
    {"set a 0 0 2147483648\r\n", "CLIENT_ERROR bad command line format\r\n"},
    {"set a -1 0 1\r\nx\r\n", "CLIENT_ERROR bad command line format\r\nERROR\r\n"},
    {"set a abc 0 1\r\nx\r\n", "CLIENT_ERROR bad command line format\r\nERROR\r\n"},
    {"set a 0 0\r\nx\r\n", "ERROR\r\nERROR\r\n"},
    {"set a 0 0 1 noreply\r\nx\r\nget a\r\n", "VALUE a 0 1\r\nx\r\nEND\r\n"},
    {"set a 0 0 1 norep\r\nx\r\n", "STORED\r\n"},
    {"add a 0 0 1\r\nx\r\nadd a 0 0 1\r\ny\r\n", "STORED\r\nNOT_STORED\r\n"},
    {"replace a 0 0 1\r\nx\r\nset a 0 0 1\r\nx\r\nreplace a 3 0 1\r\ny\r\nget a\r\n",
     "NOT_STORED\r\nSTORED\r\nSTORED\r\nVALUE a 3 1\r\ny\r\nEND\r\n"},
    {"append a 0 0 1\r\nx\r\nset a 4 0 1\r\nb\r\nappend a 0 0 1\r\nc\r\nprepend a 0 0 1\r\na\r\nget a\r\n",
     "NOT_STORED\r\nSTORED\r\nSTORED\r\nSTORED\r\nVALUE a 4 3\r\nabc\r\nEND\r\n"},
    {"cas a 0 0 1 1\r\nx\r\n", "NOT_FOUND\r\n"},
    {"set a 0 0 1\r\nx\r\ncas a 0 0 1 18446744073709551615\r\ny\r\n", "STORED\r\nEXISTS\r\n"},
    {"cas a 0 0 1\r\ny\r\n", "ERROR\r\nERROR\r\n"},
    {"cas a 0 0 1 abc\r\ny\r\n", "CLIENT_ERROR bad command line format\r\nERROR\r\n"},
    {"set a 0 0 1\r\nx\r\ngat 100 a zz\r\ngats 100 a\r\n",
     "STORED\r\nVALUE a 0 1\r\nx\r\nEND\r\nVALUE a 0 1 #\r\nx\r\nEND\r\n"},
    {"gat abc a\r\ngat 100\r\ngat\r\n", "CLIENT_ERROR invalid exptime argument\r\nEND\r\nERROR\r\n"},
    {"set a 0 -1 1\r\nx\r\nget a\r\n", "STORED\r\nEND\r\n"},
    {"bget a\r\n", "END\r\n"},
    /* incr / decr / touch / delete */
    {"set n 0 0 2\r\n10\r\nincr n 5\r\ndecr n 100\r\nincr n 18446744073709551615\r\nincr n 1\r\n",
     "STORED\r\n15\r\n0\r\n18446744073709551615\r\n0\r\n"},
    {"incr n 1\r\ndecr n 1\r\n", "NOT_FOUND\r\nNOT_FOUND\r\n"},
    {"incr n -1\r\nincr n abc\r\nincr n\r\n",
     "CLIENT_ERROR invalid numeric delta argument\r\nCLIENT_ERROR invalid numeric delta argument\r\nERROR\r\n"},
    {"set n 0 0 1\r\nx\r\nincr n 1\r\n", "STORED\r\nCLIENT_ERROR cannot increment or decrement non-numeric value\r\n"},
    {"set n 0 0 21\r\n123456789012345678901\r\nincr n 1\r\n",
     "STORED\r\nCLIENT_ERROR cannot increment or decrement non-numeric value\r\n"},
    {"set n 0 0 1\r\n1\r\nincr n 1 noreply\r\nget n\r\n", "STORED\r\nVALUE n 0 1\r\n2\r\nEND\r\n"},
    {"set a 0 0 1\r\nx\r\ntouch a 10\r\ntouch zz 10\r\ntouch a abc\r\ntouch a\r\ntouch a 1 noreply\r\n",
     "STORED\r\nTOUCHED\r\nNOT_FOUND\r\nCLIENT_ERROR invalid exptime argument\r\nERROR\r\n"},
    {"set a 0 0 1\r\nx\r\ndelete a 0\r\ndelete a\r\n", "STORED\r\nDELETED\r\nNOT_FOUND\r\n"},
    {"delete a 1\r\ndelete a noreply\r\ndelete a x y\r\ndelete\r\n",
     "CLIENT_ERROR bad command line format.  Usage: delete <key> [noreply]\r\n"
     "CLIENT_ERROR bad command line format.  Usage: delete <key> [noreply]\r\nERROR\r\n"},
    /* flush_all, verbosity, version, stats, quit, unknown */
    {"set a 0 0 1\r\nx\r\nflush_all\r\nget a\r\n", "STORED\r\nOK\r\nEND\r\n"},
    {"flush_all 0\r\nflush_all noreply\r\nflush_all abc\r\nflush_all -1\r\nflush_all 0 noreply x\r\n",
     "OK\r\nCLIENT_ERROR invalid exptime argument\r\nOK\r\nERROR\r\n"},
    {"verbosity\r\nverbosity 0\r\nverbosity 0 noreply\r\nverbosity abc\r\n",
     "ERROR\r\nOK\r\nCLIENT_ERROR bad command line format\r\n"},
    {"version\r\n", "VERSION 1.6.18-shmc-#.#.#\r\n"},
    {"stats sizes\r\nstats bogus\r\n", "STAT sizes_status disabled\r\nEND\r\nERROR\r\n"},
    {"stats detail\r\n", "CLIENT_ERROR usage: stats detail on|off|dump\r\n"},
    {"bogus\r\nGET a\r\n\r\n", "ERROR\r\nERROR\r\nERROR\r\n"},
    {"shutdown\r\n", "ERROR: shutdown not enabled\r\n"},
    {"quit\r\nget a\r\n", "<closed>"},
    /* a binary request on a connection that began in text is a text line, as memcached's */
    {"mn\r\n\x80\x0c\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c\x0d\x0e\x0f\x10\x11\x12\x13\x14\x15\x16\r\n", "MN\r\nERROR\r\nERROR\r\n"},
    /* meta */
    {"mn\r\n", "MN\r\n"},
    {"mg\r\nmg a\r\n", "ERROR\r\nEN\r\n"},
    {"ms m 2\r\nhi\r\nmg m\r\nmg m v\r\nmg m s v f c k Oabc q\r\n",
     "HD\r\nHD\r\nVA 2\r\nhi\r\nVA 2 s2 f0 c# km Oabc\r\nhi\r\n"},
    {"mg zz v\r\nmg zz v q\r\nmg zz v k Oxx\r\nmn\r\n", "EN\r\nEN kzz Oxx\r\nMN\r\n"},
    {"ms m 2 T0 F5 c k O1\r\nhi\r\nms m 2 q\r\nhi\r\nms m 2 ME\r\nhi\r\nms m 2 C1\r\nhi\r\nms zz 2 C1\r\nhi\r\n",
     "HD c# km O1\r\nNS\r\nEX\r\nNF\r\n"},
    {"ms m 2\r\nhi\r\nms m 2 MA\r\nab\r\nmg m v\r\n", "HD\r\nHD\r\nVA 4\r\nhiab\r\n"},
    {"ms m 2 MX\r\nhi\r\nmn\r\n", "CLIENT_ERROR invalid mode for ms M token\r\nMN\r\n"},
    {"ms m S2\r\nhi\r\n", "CLIENT_ERROR bad command line format\r\nERROR\r\n"},
    {"ms m\r\n", "CLIENT_ERROR bad command line format\r\n"},
    {"ms m 2 Z\r\nhi\r\nmn\r\n", "CLIENT_ERROR invalid flag\r\nMN\r\n"},
    {"ms m 2 c c\r\nhi\r\nmn\r\n", "CLIENT_ERROR duplicate flag\r\nMN\r\n"},
    {"ms m 2 O123456789012345678901234567890123\r\nhi\r\nmn\r\n", "CLIENT_ERROR opaque token too long\r\nMN\r\n"},
    {"ms m 2 Fabc\r\nhi\r\nmn\r\n", "CLIENT_ERROR bad command line format\r\nMN\r\n"},
    {"ms m 2 T-1\r\nhi\r\nmg m v\r\n", "HD\r\nEN\r\n"},
    {"ms m 1\r\nx\r\nmd m\r\nmd m\r\nmd m q\r\nmd m k O5\r\n", "HD\r\nHD\r\nNF\r\nNF\r\nNF km O5\r\n"},
    {"md a x\r\nmd\r\n", "CLIENT_ERROR invalid or duplicate flag\r\nERROR\r\n"},
    {"ma m\r\nma m N0 J10 v\r\nma m v\r\nma m MD D20 v\r\nma m Mx\r\nma m Dabc\r\n",
     "NF\r\nVA 2\r\n10\r\nVA 2\r\n11\r\nVA 1\r\n0\r\nCLIENT_ERROR invalid mode for ma M token\r\n"
     "CLIENT_ERROR invalid or duplicate flag\r\n"},
    {"ms m 1\r\nx\r\nma m\r\n", "HD\r\nCLIENT_ERROR cannot increment or decrement non-numeric value\r\n"},
    {"ms m 3 F7\r\nabc\r\nme m\r\nme zz\r\nme\r\n",
     "HD\r\nME m exp=-1 la=# cas=# fetch=no cls=1 size=67\r\nEN\r\nCLIENT_ERROR bad command line format\r\n"},
    {"mg Zm9v b v k\r\nms Zm9v 1 b\r\nx\r\nget foo\r\nmg Zm9v b k v\r\n",
     "EN kZm9v b\r\nHD\r\nVALUE foo 0 1\r\nx\r\nEND\r\nVA 1 kZm9v b\r\nx\r\n"},
    {"mx a\r\nmg a v v\r\n", "ERROR\r\nCLIENT_ERROR duplicate flag\r\n"},
    {"mg v N30 v c\r\nmg v N30 v\r\nmg v v\r\nms v 3\r\nabc\r\nmg v v\r\n",
     "VA 0 c# W\r\n\r\nVA 0 Z\r\n\r\nVA 0 Z\r\n\r\nHD\r\nVA 3\r\nabc\r\n"},
    {"mg o O123456789012345678901234567890123\r\n", "CLIENT_ERROR opaque token too long\r\n"},
    {"mg o a b c d e f g h i j k l m n o p q r s t u\r\n", "CLIENT_ERROR options flags are too long\r\n"},
    {"ms o 2\r\nhi\r\nmg o T30 t\r\n", "HD\r\nHD t30\r\n"},
};


static void flush(const shmcd_proc *s)
{
    int fd = h_connect(s);
    char buf[64];
    h_roundtrip(fd, "flush_all\r\n", 11, "OK\r\n", buf, sizeof buf);
    close(fd);
}

/* Send req (all at once, or one byte at a time) and collect the reply until it is as long
 * as wanted or the server goes quiet. */
static void run_case(const shmcd_proc *s, const tcase *tc, bool bytewise, const char *how)
{
    flush(s);
    int fd = h_connect(s);
    if (fd < 0) {
        t_failed++;
        fprintf(stderr, "FAIL %s: cannot connect\n", how);
        return;
    }
    size_t n = strlen(tc->req);
    bool sent = true;
    if (bytewise) {
        for (size_t i = 0; i < n && sent; i++) sent = h_send_all(fd, tc->req + i, 1);
    } else {
        sent = h_send_all(fd, tc->req, n);
    }
    char got[8192];
    size_t m = 0;
    bool closed = false;
    const char *want = tc->want;
    bool want_close = strstr(want, "<closed>") != NULL;
    /* read until the reply matches (a wrong reply shows after the server goes quiet) */
    while (m + 1 < sizeof got - 16) {
        got[m] = 0;
        if (!want_close && t_matches(got, want)) break;
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        if (poll(&pfd, 1, 3000) <= 0) break;
        ssize_t r = recv(fd, got + m, sizeof got - 17 - m, 0);
        if (r <= 0) {
            closed = true;
            break;
        }
        m += (size_t)r;
    }
    got[m] = 0;
    if (closed) strcat(got + m, "<closed>");
    close(fd);
    if ((sent || want_close) && t_matches(got, want)) {
        t_passed++;
    } else {
        t_failed++;
        fprintf(stderr, "FAIL %s: %s\n  got:  %s\n  want: %s\n", how, tc->req, got, want);
    }
}

/* Every case's requests in one write on one connection: replies come back in order. */
static void run_pipelined(const shmcd_proc *s)
{
    flush(s);
    size_t total = 0, want_total = 0;
    size_t ncases = sizeof cases / sizeof cases[0];
    for (size_t i = 0; i < ncases; i++) {
        if (strstr(cases[i].want, "<closed>") || strchr(cases[i].want, '#') ||
            strstr(cases[i].req, "flush") || strstr(cases[i].req, "mg v ") ||
            strstr(cases[i].req, "me "))
            continue;
        total += strlen(cases[i].req) + 11;
        want_total += strlen(cases[i].want) + 4;
    }
    char *req = malloc(total + 1), *want = malloc(want_total + 1);
    req[0] = want[0] = 0;
    for (size_t i = 0; i < ncases; i++) {
        if (strstr(cases[i].want, "<closed>") || strchr(cases[i].want, '#') ||
            strstr(cases[i].req, "flush") || strstr(cases[i].req, "mg v ") ||
            strstr(cases[i].req, "me "))
            continue;
        strcat(req, "flush_all\r\n");
        strcat(want, "OK\r\n");
        strcat(req, cases[i].req);
        strcat(want, cases[i].want);
    }
    int fd = h_connect(s);
    char *got = malloc(want_total + 4096);
    bool ok = h_send_all(fd, req, strlen(req));
    size_t m = h_recv_until(fd, got, want_total + 4096, NULL, strlen(want), 5000, NULL);
    close(fd);
    CHECK(ok && m == strlen(want) && memcmp(got, want, m) == 0);
    if (m != strlen(want) || memcmp(got, want, m) != 0)
        fprintf(stderr, "  pipelined reply differs (%zu bytes, want %zu)\n", m, strlen(want));
    free(req);
    free(want);
    free(got);
}

/* Items written through the server are the library's items, and the other way round. */
static void check_shared_with_library(const shmcd_proc *s, const char *cache_path)
{
    shmc_t *c = NULL;
    CHECK_RC(shmc_open(&c, cache_path, NULL), SHMC_OK);
    if (!c) return;
    CHECK_RC(shmc_set(c, "from_lib", 8, "L1", 2, 42, 0), SHMC_OK);
    int fd = h_connect(s);
    char buf[256];
    h_roundtrip(fd, "get from_lib\r\nset from_net 7 0 2\r\nN1\r\n", 38, "STORED\r\n", buf, sizeof buf);
    CHECK(strcmp(buf, "VALUE from_lib 42 2\r\nL1\r\nEND\r\nSTORED\r\n") == 0);
    close(fd);
    char v[8];
    size_t nv = 0;
    uint32_t flags = 0;
    CHECK_RC(shmc_get(c, "from_net", 8, v, sizeof v, &nv, &flags, NULL), SHMC_OK);
    CHECK(nv == 2 && memcmp(v, "N1", 2) == 0 && flags == 7);
    shmc_close(c);
}

static unsigned log2_floor(uint64_t v)
{
    unsigned n = 0;
    while (v > 1) v >>= 1, n++;
    return n;
}

/* "stats settings": memcached's lines in its order, with the values this server runs with and
 * the cache's own limits, then shmc's own; "verbosity" changes what it shows. */
static void check_settings(const shmcd_proc *s, const char *cache_path)
{
    shmc_t *c = NULL;
    shmc_stats_t st;
    CHECK_RC(shmc_open(&c, cache_path, NULL), SHMC_OK);
    if (!c) return;
    CHECK_RC(shmc_stats(c, &st), SHMC_OK);
    shmc_close(c);
    for (unsigned verbosity = 0; verbosity < 2; verbosity++) {
        char want[4096], buf[8192];
        snprintf(want, sizeof want,
                 "STAT maxbytes %llu\r\nSTAT maxconns 1024\r\nSTAT tcpport %d\r\n"
                 "STAT udpport 0\r\nSTAT inter 127.0.0.1\r\nSTAT verbosity %u\r\n"
                 "STAT oldest 0\r\n"
                 "STAT evictions on\r\nSTAT domain_socket %s\r\nSTAT umask 700\r\n"
                 "STAT shutdown_command no\r\nSTAT growth_factor 1.25\r\nSTAT chunk_size 48\r\n"
                 "STAT num_threads 2\r\nSTAT num_threads_per_udp 2\r\n"
                 "STAT stat_key_prefix :\r\nSTAT detail_enabled no\r\n"
                 "STAT reqs_per_event 20\r\n"
                 "STAT cas_enabled yes\r\nSTAT tcp_backlog 1024\r\n"
                 "STAT binding_protocol auto-negotiate\r\nSTAT auth_enabled_sasl no\r\n"
                 "STAT auth_enabled_ascii no\r\nSTAT item_size_max 65536\r\n"
                 "STAT maxconns_fast yes\r\nSTAT hashpower_init %u\r\n"
                 "STAT slab_reassign yes\r\nSTAT slab_automove 1\r\n"
                 "STAT slab_automove_ratio 0.80\r\nSTAT slab_automove_window 30\r\n"
                 "STAT slab_chunk_max 524288\r\nSTAT lru_crawler yes\r\n"
                 "STAT lru_crawler_sleep 100\r\nSTAT lru_crawler_tocrawl 0\r\n"
                 "STAT tail_repair_time 0\r\n"
                 "STAT flush_enabled yes\r\nSTAT dump_enabled yes\r\n"
                 "STAT hash_algorithm murmur3\r\nSTAT lru_maintainer_thread yes\r\n"
                 "STAT lru_segmented yes\r\nSTAT hot_lru_pct 20\r\nSTAT warm_lru_pct 40\r\n"
                 "STAT hot_max_factor 0.20\r\nSTAT warm_max_factor 2.00\r\nSTAT temp_lru no\r\n"
                 "STAT temporary_ttl 61\r\n"
                 "STAT idle_timeout 0\r\nSTAT watcher_logbuf_size 262144\r\n"
                 "STAT worker_logbuf_size 65536\r\nSTAT read_buf_mem_limit 0\r\n"
                 "STAT track_sizes no\r\nSTAT inline_ascii_response no\r\n"
                 "STAT ext_item_size 512\r\nSTAT ext_item_age 4294967295\r\n"
                 "STAT ext_low_ttl 0\r\nSTAT ext_recache_rate 2000\r\n"
                 "STAT ext_wbuf_size 4194304\r\nSTAT ext_compact_under 0\r\n"
                 "STAT ext_drop_under 0\r\nSTAT ext_max_sleep 1000000\r\n"
                 "STAT ext_max_frag 0.80\r\nSTAT slab_automove_freeratio 0.010\r\n"
                 "STAT ext_drop_unread no\r\nSTAT ssl_enabled no\r\n"
                 "STAT ssl_chain_cert (null)\r\nSTAT ssl_key (null)\r\nSTAT ssl_verify_mode 0\r\n"
                 "STAT ssl_keyformat 1\r\nSTAT ssl_ciphers NULL\r\nSTAT ssl_ca_cert NULL\r\n"
                 "STAT ssl_wbuf_size 16384\r\nSTAT ssl_session_cache no\r\n"
                 "STAT ssl_kernel_tls no\r\nSTAT ssl_min_version tlsv1.2\r\n"
                 "STAT num_napi_ids (null)\r\nSTAT memory_file (null)\r\n"
                 "STAT shmc_cache %s\r\nSTAT shmc_no_effect none\r\nEND\r\n",
                 (unsigned long long)st.limit_maxbytes, s->port, verbosity, s->unix_path,
                 log2_floor(st.hash_buckets), cache_path);
        int fd = h_connect(s);
        char cmd[32];
        int n = snprintf(cmd, sizeof cmd, "verbosity %u\r\n", verbosity);
        h_roundtrip(fd, cmd, (size_t)n, "OK\r\n", buf, sizeof buf);
        h_roundtrip(fd, "stats settings\r\n", 16, "END\r\n", buf, sizeof buf);
        /* every line in memcached's order, then shmc's own */
        bool ok = strcmp(buf, want) == 0;
        if (!ok) fprintf(stderr, "FAIL: stats settings:\n%s", buf);
        CHECK(ok);
        h_roundtrip(fd, "verbosity 0\r\n", 13, "OK\r\n", buf, sizeof buf);
        close(fd);
    }
}

int main(void)
{
    t_setup("server_protocol");
    const char *cache = t_path("cache");
    const char *extra[] = {"-m", "4", "-I", "64k", "-t", "2", NULL};
    shmcd_proc s;
    if (!h_start_argv(&s, cache, true, "shmcd.sock", extra)) {
        t_failed++;
        return t_finish();
    }
    size_t ncases = sizeof cases / sizeof cases[0];
    shmcd_proc over_unix = s;
    over_unix.port = 0; /* h_connect then uses the UNIX socket */
    for (size_t i = 0; i < ncases; i++) {
        run_case(&s, &cases[i], false, "tcp");
        run_case(&over_unix, &cases[i], false, "unix");
    }
    /* a slow client: every request byte by byte (a sample, to keep the run short) */
    for (size_t i = 0; i < ncases; i += 3) run_case(&s, &cases[i], true, "tcp byte-by-byte");
    run_pipelined(&s);
    run_pipelined(&over_unix);
    check_shared_with_library(&s, cache);
    check_settings(&s, cache);
    h_stop(&s);
    /* the UNIX socket file is removed at exit; the cache stays and is sound */
    CHECK(access(s.unix_path, F_OK) != 0);
    t_check_file(cache);
    return t_finish();
}
