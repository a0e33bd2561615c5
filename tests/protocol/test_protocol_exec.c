/* test_protocol_exec.c — the protocol layer running requests against a real cache, without
 * sockets: every reply of every command (text and meta), the item size limit, stats names,
 * "stats reset", pausing a large retrieval at the reply high-water mark, vivify's win tokens,
 * and what a library user sees of it all.  A '#' in an expected reply matches a number (cas
 * values differ from run to run). */
#include <stdint.h>
#include <stdlib.h>

#include "../testutil.h"
#include "protocol/env.h"
#include "protocol/exec.h"
#include "protocol/frame.h"

static proto_env env;
static shmc_t *cache;
static unsigned last_verbosity = 99;

static void fake_server_stats(void *arg, proto_server_stats *s)
{
    (void)arg;
    s->curr_connections = 3;
    s->threads = 2;
    s->max_connections = 10;
}

/* The protocol frames whatever settings the server emits, in its order. */
static shmc_rc fake_settings(void *arg, proto_setting_fn emit, void *ctx)
{
    (void)arg;
    emit(ctx, "maxconns", "10");
    emit(ctx, "inter", "NULL");
    return SHMC_OK;
}

static int shutdowns = 0, graceful_shutdowns = 0;

static void fake_shutdown(void *arg, bool graceful)
{
    (void)arg;
    if (graceful) graceful_shutdowns++;
    else shutdowns++;
}

static void fake_verbosity(void *arg, unsigned level)
{
    (void)arg;
    last_verbosity = level;
}

/* Feed `in` through framing, parsing and execution as a connection would (minus streaming
 * of long lines); return everything replied (malloc'd, NUL-terminated). */
static char *run_bytes(const char *in, size_t n)
{
    proto_out out = {0};
    proto_out collected = {0};
    proto_request *req = malloc(sizeof *req);
    size_t pos = 0;
    while (pos < n) {
        size_t line, consumed;
        if (proto_frame_line(in + pos, n - pos, &line, &consumed) != PROTO_FRAME_LINE) break;
        proto_parse(in + pos, line, req);
        const char *data = NULL;
        size_t used = consumed;
        if (req->has_value && !proto_value_refused(&env, req)) {
            if (n - pos < consumed + req->vlen + 2) break;
            data = in + pos + consumed;
            used += req->vlen + 2;
        }
        proto_status st = proto_execute(&env, req, data, &out);
        while (st == PROTO_PAUSED) { /* drain, as the socket would, then go on */
            proto_out_add(&collected, out.buf + out.sent, proto_out_pending(&out));
            proto_out_consumed(&out, proto_out_pending(&out));
            st = proto_resume(&env, req, &out);
        }
        if (st == PROTO_SWALLOW) used += req->vlen + 2;
        pos += used;
        if (st == PROTO_CLOSE) {
            proto_out_add(&out, "<closed>", 8);
            break;
        }
    }
    proto_out_add(&collected, out.buf + out.sent, proto_out_pending(&out));
    proto_out_add(&collected, "", 1);
    proto_out_free(&out);
    free(req);
    return collected.buf;
}

static char *run(const char *in)
{
    return run_bytes(in, strlen(in));
}


static void expect_at(int line, const char *in, const char *want)
{
    char *got = run(in);
    if (t_matches(got, want)) {
        t_passed++;
    } else {
        t_failed++;
        fprintf(stderr, "FAIL %s:%d: %s\n  got:  %s\n  want: %s\n", __FILE__, line, in, got, want);
    }
    free(got);
}
#define EXPECT(in, want) expect_at(__LINE__, in, want)

static void test_storage_and_retrieval(void)
{
    EXPECT("set a 5 0 3\r\nabc\r\nget a\r\n", "STORED\r\nVALUE a 5 3\r\nabc\r\nEND\r\n");
    EXPECT("gets a\r\n", "VALUE a 5 3 #\r\nabc\r\nEND\r\n");
    EXPECT("get a a nope a\r\n",
           "VALUE a 5 3\r\nabc\r\nVALUE a 5 3\r\nabc\r\nVALUE a 5 3\r\nabc\r\nEND\r\n");
    EXPECT("set e 0 0 0\r\n\r\nget e\r\n", "STORED\r\nVALUE e 0 0\r\n\r\nEND\r\n");
    EXPECT("set f 4294967295 0 1\r\nx\r\nget f\r\n", "STORED\r\nVALUE f 4294967295 1\r\nx\r\nEND\r\n");
    EXPECT("add a 0 0 1\r\nx\r\n", "NOT_STORED\r\n");
    EXPECT("add b 0 0 1\r\nx\r\n", "STORED\r\n");
    EXPECT("replace nope 0 0 1\r\nx\r\n", "NOT_STORED\r\n");
    EXPECT("replace b 7 0 1\r\ny\r\nget b\r\n", "STORED\r\nVALUE b 7 1\r\ny\r\nEND\r\n");
    EXPECT("append b 0 0 2\r\nzz\r\nprepend b 0 0 1\r\nw\r\nget b\r\n",
           "STORED\r\nSTORED\r\nVALUE b 7 4\r\nwyzz\r\nEND\r\n");
    EXPECT("append nope 0 0 1\r\nx\r\nprepend nope 0 0 1\r\nx\r\n", "NOT_STORED\r\nNOT_STORED\r\n");
    EXPECT("cas a 0 0 1 999999\r\nx\r\n", "EXISTS\r\n");
    EXPECT("cas nope 0 0 1 1\r\nx\r\n", "NOT_FOUND\r\n");
    uint64_t cas = 0;
    size_t nv;
    shmc_get(cache, "a", 1, NULL, 0, &nv, NULL, NULL);
    char buf[16];
    CHECK_RC(shmc_get(cache, "a", 1, buf, sizeof buf, &nv, NULL, &cas), SHMC_OK);
    char req[128];
    snprintf(req, sizeof req, "cas a 9 0 2 %llu\r\nok\r\nget a\r\n", (unsigned long long)cas);
    EXPECT(req, "STORED\r\nVALUE a 9 2\r\nok\r\nEND\r\n");
    /* noreply silences every reply, errors included, as in memcached */
    EXPECT("set q 0 0 1 noreply\r\nx\r\nadd q 0 0 1 noreply\r\nx\r\nget q\r\n", "VALUE q 0 1\r\nx\r\nEND\r\n");
    EXPECT("set q 0 0 1 noreply\r\nxyz\r\nmn\r\n", "ERROR\r\nMN\r\n");
    /* a data block must end in "\r\n": exactly vlen + 2 bytes are consumed either way */
    EXPECT("set q 0 0 1\r\nxyz\r\nget q\r\n", "CLIENT_ERROR bad data chunk\r\nERROR\r\nVALUE q 0 1\r\nx\r\nEND\r\n");
    EXPECT("get a\nset x 0 0 1\nx\nget x\n", "VALUE a 9 2\r\nok\r\nEND\r\nCLIENT_ERROR bad data chunk\r\nERROR\r\n");
    /* control bytes are key bytes, as in memcached */
    EXPECT("set a\x01 0 0 1\r\nx\r\nget a\x01\r\n", "STORED\r\nVALUE a\x01 0 1\r\nx\r\nEND\r\n");
    /* a long key refuses the whole multi-get */
    char line[600];
    snprintf(line, sizeof line, "get a %0251d a\r\n", 0);
    EXPECT(line, "CLIENT_ERROR bad command line format\r\n");
    EXPECT("gat 100 a nope\r\n", "VALUE a 9 2\r\nok\r\nEND\r\n");
    EXPECT("gats 100 a\r\n", "VALUE a 9 2 #\r\nok\r\nEND\r\n");
    EXPECT("gat abc a\r\n", "CLIENT_ERROR invalid exptime argument\r\n");
    EXPECT("gat 100\r\n", "END\r\n");
    EXPECT("set x 0 -1 1\r\nx\r\nget x\r\n", "STORED\r\nEND\r\n"); /* negative: expired at once */
}

static void test_size_limit(void)
{
    /* memcached's limit counts the whole item (slab_class.h): the largest value of "big" */
    size_t max = env.item_size_max - (size_t)proto_item_total(3, 0, 0);
    char *big = malloc(max + 64);
    int h = snprintf(big, 64, "set big 0 0 %zu\r\n", max);
    memset(big + h, 'v', max);
    memcpy(big + h + max, "\r\n", 3);
    char *got = run(big);
    CHECK(strcmp(got, "STORED\r\n") == 0);
    free(got);
    /* one byte more: refused from the length alone, the block swallowed, the old value gone */
    h = snprintf(big, 64, "set big 0 0 %zu\r\n", max + 1);
    memset(big + h, 'v', max + 1);
    memcpy(big + h + max + 1, "\r\nget big\r\n", 12);
    got = run(big);
    CHECK(strcmp(got, "SERVER_ERROR object too large for cache\r\nEND\r\n") == 0);
    free(got);
    h = snprintf(big, 64, "set big 0 0 %zu noreply\r\n", max + 1);
    memset(big + h, 'v', max + 1);
    memcpy(big + h + max + 1, "\r\nmn\r\n", 7);
    got = run(big);
    CHECK(strcmp(got, "MN\r\n") == 0);
    free(got);
    h = snprintf(big, 64, "ms big %zu T0\r\n", max + 1);
    memset(big + h, 'v', max + 1);
    memcpy(big + h + max + 1, "\r\nmn\r\n", 7);
    got = run(big);
    CHECK(strcmp(got, "SERVER_ERROR object too large for cache\r\nMN\r\n") == 0);
    free(got);
    free(big);
}

static void test_other_commands(void)
{
    EXPECT("set n 0 0 2\r\n10\r\nincr n 5\r\ndecr n 100\r\nincr n 18446744073709551615\r\n",
           "STORED\r\n15\r\n0\r\n18446744073709551615\r\n");
    EXPECT("incr n 1\r\n", "0\r\n"); /* wraps */
    EXPECT("incr nope 1\r\ndecr nope 1\r\n", "NOT_FOUND\r\nNOT_FOUND\r\n");
    EXPECT("set s 0 0 3\r\nabc\r\nincr s 1\r\n",
           "STORED\r\nCLIENT_ERROR cannot increment or decrement non-numeric value\r\n");
    /* the 20-digit value shrank to 0 and 1: padded to its length, as memcached does */
    EXPECT("incr n 1 noreply\r\nget n\r\n", "VALUE n 0 20\r\n1                   \r\nEND\r\n");
    EXPECT("touch n 100\r\ntouch nope 100\r\ntouch n 1 noreply\r\n", "TOUCHED\r\nNOT_FOUND\r\n");
    EXPECT("delete n\r\ndelete n\r\ndelete s noreply\r\nget s\r\n", "DELETED\r\nNOT_FOUND\r\nEND\r\n");
    EXPECT("delete n 0\r\n", "NOT_FOUND\r\n");
    EXPECT("version\r\n", "VERSION 1.6.18-shmc-#.#.#\r\n");
    EXPECT("verbosity 2\r\n", "OK\r\n");
    CHECK(last_verbosity == 2);
    EXPECT("verbosity 1 noreply\r\nmn\r\n", "MN\r\n");
    EXPECT("quit\r\nget a\r\n", "<closed>");
    EXPECT("bogus\r\n\r\n", "ERROR\r\nERROR\r\n");
    EXPECT("shutdown\r\n", "ERROR: shutdown not enabled\r\n");
    EXPECT("set fa 0 0 1\r\nx\r\nflush_all\r\nget fa\r\n", "STORED\r\nOK\r\nEND\r\n");
    EXPECT("set fa 0 0 1\r\nx\r\nflush_all 100\r\nget fa\r\n", "STORED\r\nOK\r\nVALUE fa 0 1\r\nx\r\nEND\r\n");
    EXPECT("flush_all 0 noreply\r\nget fa\r\n", "END\r\n");
    EXPECT("flush_all abc\r\n", "CLIENT_ERROR invalid exptime argument\r\n");
    /* deliberate differences from memcached 1.6.18 (docs/shmcd.md): a flush at an absolute
     * time in the past flushes now (memcached ignores it, and drops a pending one), and an
     * exptime beyond 32 bits is a time that far away (memcached keeps its low 32 bits, so
     * 4294967297 would be one second) */
    EXPECT("set fa 0 0 1\r\nx\r\nflush_all 1000000000\r\nget fa\r\n", "STORED\r\nOK\r\nEND\r\n");
    EXPECT("set fa 0 4294967297 1\r\nx\r\nmg fa t\r\n", "STORED\r\nHD t#\r\n");
    EXPECT("set fa 0 -2147483649 1\r\nx\r\nget fa\r\n", "STORED\r\nEND\r\n");
}

static void test_stats(void)
{
    char *got = run("stats\r\n");
    const char *names[] = {"pid", "uptime", "time", "version", "pointer_size", "rusage_user",
                           "rusage_system", "max_connections", "curr_connections",
                           "total_connections", "cmd_get", "cmd_set", "cmd_flush", "cmd_touch",
                           "get_hits", "get_misses", "get_expired", "get_flushed",
                           "delete_misses", "delete_hits", "incr_misses", "incr_hits",
                           "decr_misses", "decr_hits", "cas_misses", "cas_hits", "cas_badval",
                           "touch_hits", "touch_misses", "bytes_read", "bytes_written",
                           "limit_maxbytes", "threads", "bytes", "curr_items", "total_items",
                           "evictions", "reclaimed"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        char want[64];
        snprintf(want, sizeof want, "\r\nSTAT %s ", names[i]);
        if (strncmp(got, want + 2, strlen(want + 2)) != 0 && !strstr(got, want)) {
            t_failed++;
            fprintf(stderr, "FAIL: stats lacks %s\n", names[i]);
        } else {
            t_passed++;
        }
    }
    CHECK(strstr(got, "STAT curr_connections 3\r\n") != NULL); /* the server's own count */
    CHECK(strstr(got, "STAT threads 2\r\n") != NULL);
    CHECK(strlen(got) > 5 && strcmp(got + strlen(got) - 5, "END\r\n") == 0);
    free(got);

    /* the server's lines first, then memcached's settings no flag made, at their defaults */
    got = run("stats settings\r\n");
    CHECK(strncmp(got, "STAT maxconns 10\r\nSTAT inter NULL\r\nSTAT oldest 0\r\n", 50) == 0);
    CHECK(strstr(got, "STAT growth_factor 1.25\r\n") && strstr(got, "STAT memory_file (null)\r\nEND\r\n"));
    free(got);
    free(run("set si 0 0 1\r\nx\r\n")); /* a class to list */
    got = run("stats items\r\n");
    CHECK(strstr(got, "STAT items:") && strstr(got, ":number ") && strstr(got, ":mem_requested ") &&
          strstr(got, "END\r\n"));
    free(got);
    got = run("stats slabs\r\n");
    CHECK(strstr(got, "STAT active_slabs ") && strstr(got, ":chunk_size ") &&
          strstr(got, "STAT total_malloced "));
    free(got);
    EXPECT("stats sizes\r\n", "STAT sizes_status disabled\r\nEND\r\n");
    EXPECT("stats bogus\r\n", "ERROR\r\n");
    EXPECT("stats detail\r\n", "CLIENT_ERROR usage: stats detail on|off|dump\r\n");
    EXPECT("stats detail dum\r\n", "CLIENT_ERROR usage: stats detail on|off|dump\r\n");
    EXPECT("stats detail dump\r\n", "END\r\n");
    /* memcached's prefix statistics: text get/gets/gat, storage commands, delete; keys
     * without the delimiter and meta commands are not counted */
    EXPECT("stats detail on\r\nset p:1 0 0 1\r\nx\r\nget p:1 p:2 nodelim\r\nmg p:1 v\r\n"
           "delete p:1\r\nadd q:1 0 0 1\r\ny\r\ngat 0 q:1\r\nstats detail off\r\n"
           "get p:1\r\nstats detail dump\r\n",
           "OK\r\nSTORED\r\nVALUE p:1 0 1\r\nx\r\nEND\r\nVA 1\r\nx\r\nDELETED\r\nSTORED\r\n"
           "VALUE q:1 0 1\r\ny\r\nEND\r\nOK\r\nEND\r\n"
           "PREFIX p get 2 hit 1 set 1 del 1\r\nPREFIX q get 1 hit 1 set 1 del 0\r\nEND\r\n");
    EXPECT("stats cachedump 64 1\r\n", "CLIENT_ERROR Illegal slab id\r\n");
    EXPECT("stats cachedump 1\r\n", "CLIENT_ERROR bad command line\r\n");
    EXPECT("stats cachedump 0 0\r\n", "END\r\n");
    /* lru_crawler: enabled at start, as memcached's; disabled, it refuses crawl and metadump */
    EXPECT("lru_crawler enable\r\n", "ERROR failed to start lru crawler thread\r\n");
    EXPECT("lru_crawler crawl all\r\nlru_crawler crawl all\r\n", "OK\r\nOK\r\n"); /* no BUSY */
    EXPECT("lru_crawler disable\r\nlru_crawler disable\r\n", "OK\r\nOK\r\n");
    EXPECT("lru_crawler metadump all\r\n", "CLIENT_ERROR lru crawler disabled\r\n");
    EXPECT("lru_crawler crawl 1\r\n", "CLIENT_ERROR lru crawler disabled\r\n");
    EXPECT("lru_crawler enable\r\nlru_crawler enable\r\n",
           "OK\r\nERROR failed to start lru crawler thread\r\n");
    EXPECT("lru_crawler metadump 64\r\n", "BADCLASS invalid class id\r\n");
    /* a metadump with requests pipelined after it: listed, then they are answered */
    free(run("flush_all\r\n"));
    EXPECT("set k%y 3 100 2\r\nhi\r\nlru_crawler metadump all\r\nversion\r\n",
           "STORED\r\nkey=k%25y exp=# la=# cas=# fetch=no cls=1 size=68\nEND\r\nVERSION "
           PROTO_VERSION_STRING "\r\n");
    EXPECT("stats cachedump 1 0\r\n", "ITEM k%y [2 b; # s]\r\nEND\r\n");
    /* keys of any bytes, as memcached 1.6.18 lists them: cachedump prints the bytes raw up to
     * a NUL (a C string), metadump URI-encodes them */
    free(run("flush_all\r\n"));
    EXPECT("ms bgB1bA== 1 b\r\nx\r\nstats cachedump 1 0\r\n", "HD\r\nITEM n [1 b; 0 s]\r\nEND\r\n");
    free(run("flush_all\r\n"));
    EXPECT("ms bmwKeA== 1 b\r\nx\r\nstats cachedump 1 0\r\nlru_crawler metadump all\r\n",
           "HD\r\nITEM nl\nx [1 b; 0 s]\r\nEND\r\n"
           "key=nl%0Ax exp=-1 la=# cas=# fetch=no cls=1 size=64\nEND\r\n");

    /* reset: later replies count from here, although the cache's counters are shared */
    free(run("get x\r\nget x\r\n"));
    EXPECT("stats reset\r\n", "RESET\r\n");
    got = run("get nope\r\nstats\r\n");
    CHECK(strstr(got, "STAT get_misses 1\r\n") && strstr(got, "STAT cmd_get 1\r\n"));
    free(got);
}

static void test_meta_commands(void)
{
    EXPECT("mn\r\n", "MN\r\n");
    EXPECT("ms m1 2\r\nhi\r\nmg m1\r\nmg m1 v\r\n", "HD\r\nHD\r\nVA 2\r\nhi\r\n");
    EXPECT("mg m1 s v f c k Oabc q\r\n", "VA 2 s2 f0 c# km1 Oabc\r\nhi\r\n");
    EXPECT("mg nope v\r\nmg nope v q\r\nmg nope v k Oxx\r\nmn\r\n", "EN\r\nEN knope Oxx\r\nMN\r\n");
    EXPECT("mg m1 T30 t v\r\n", "VA 2 t30\r\nhi\r\n");
    EXPECT("mg m1 T0 t\r\n", "HD t-1\r\n");
    EXPECT("ms m2 2 T0 F5 c k O1\r\nhi\r\n", "HD c# km2 O1\r\n");
    EXPECT("ms m2 2 q\r\nhi\r\nmn\r\n", "MN\r\n");
    EXPECT("ms m2 2 ME\r\nhi\r\n", "NS\r\n");
    EXPECT("ms m2 2 C1\r\nhi\r\n", "EX\r\n");
    EXPECT("ms nope 2 C1\r\nhi\r\n", "NF\r\n");
    EXPECT("ms m2 2 MA\r\nab\r\nms m2 1 MP\r\n<\r\nmg m2 v f\r\n", "HD\r\nHD\r\nVA 5 f0\r\n<hiab\r\n");
    EXPECT("ms nope 1 MR\r\nx\r\nms nope 1 MA\r\nx\r\n", "NS\r\nNS\r\n");
    EXPECT("ms m2 2 MX\r\nhi\r\nmn\r\n", "CLIENT_ERROR invalid mode for ms M token\r\nMN\r\n");
    EXPECT("ms m2 2 Z\r\nhi\r\nmn\r\n", "CLIENT_ERROR invalid flag\r\nMN\r\n");
    EXPECT("ms m2 S2\r\nhi\r\n", "CLIENT_ERROR bad command line format\r\nERROR\r\n");
    EXPECT("ms m2 2 q\r\nhiX\r\n", "CLIENT_ERROR bad data chunk\r\nERROR\r\n");
    EXPECT("ms o1 2 T-1\r\nhi\r\nmg o1 v\r\n", "HD\r\nEN\r\n");

    /* ms c: the cas a later cas can use */
    char *got = run("ms cc 1 c\r\nx\r\n");
    unsigned long long cas = 0;
    CHECK(sscanf(got, "HD c%llu", &cas) == 1 && cas != 0);
    free(got);
    char req[128];
    snprintf(req, sizeof req, "ms cc 1 C%llu\r\ny\r\nms cc 1 C%llu\r\nz\r\n", cas, cas);
    EXPECT(req, "HD\r\nEX\r\n");

    EXPECT("ms m3 1\r\nx\r\nmd m3\r\nmd m3\r\nmd m3 q\r\nmd m3 k O5\r\n", "HD\r\nHD\r\nNF\r\nNF\r\nNF km3 O5\r\n");
    EXPECT("ms m3 1\r\nx\r\nmd m3 q\r\nmg m3\r\n", "HD\r\nEN\r\n");

    EXPECT("ma m4\r\nma m4 N0 J10 v\r\nma m4 v\r\nma m4 MD D20 v\r\n", "NF\r\nVA 2\r\n10\r\nVA 2\r\n11\r\nVA 1\r\n0\r\n");
    EXPECT("ma m4 M+ D7 k O1\r\nma m4 M- q\r\nmg m4 v\r\n", "HD km4 O1\r\nVA 2\r\n6 \r\n");
    EXPECT("ma m4 c T100 t\r\n", "HD c# t100\r\n");
    EXPECT("ms m5 1\r\nx\r\nma m5\r\n", "HD\r\nCLIENT_ERROR cannot increment or decrement non-numeric value\r\n");
    EXPECT("ma nope q\r\n", "NF\r\n");
    EXPECT("ma m4 Mx\r\n", "CLIENT_ERROR invalid mode for ma M token\r\n");

    EXPECT("me nope\r\n", "EN\r\n");
    EXPECT("ms m6 3 F9\r\nabc\r\nme m6\r\n", "HD\r\nME m6 exp=-1 la=# cas=# fetch=no cls=1 size=68\r\n");

    /* base64 keys are the same items as their decoded text keys */
    EXPECT("ms Zm9v 1 b\r\nx\r\nget foo\r\nmg Zm9v b k v\r\n",
           "HD\r\nVALUE foo 0 1\r\nx\r\nEND\r\nVA 1 kZm9v b\r\nx\r\n");
    EXPECT("mg Zm9v b v k q\r\nmg YmFy b k\r\n", "VA 1 kZm9v b\r\nx\r\nEN kYmFy b\r\n");
    /* any bytes in a base64 key, as memcached: "a b" (a space), "n\0l\n" (NUL, newline) */
    EXPECT("ms YSBi 1 b\r\nx\r\nmg YSBi b k v\r\nmg a v\r\n", "HD\r\nVA 1 kYSBi b\r\nx\r\nEN\r\n");
    EXPECT("ms bgBsCg== 2 b\r\nnl\r\nmg bgBsCg== b v\r\nmd bgBsCg== b\r\nmg bgBsCg== b v\r\n",
           "HD\r\nVA 2\r\nnl\r\nHD\r\nEN\r\n");

    /* vivify on miss: one client wins ('W'), later ones see 'Z' until the item is replaced */
    EXPECT("mg v1 N30 v c\r\n", "VA 0 c# W\r\n\r\n");
    EXPECT("mg v1 N30 v\r\n", "VA 0 Z\r\n\r\n");
    EXPECT("mg v1 v\r\n", "VA 0 Z\r\n\r\n");
    EXPECT("ms v1 3\r\nabc\r\nmg v1 v\r\n", "HD\r\nVA 3\r\nabc\r\n");
}

static void test_pause(void)
{
    /* 40 values of 10 KiB with a 1 KiB high-water mark: the retrieval pauses many times and
     * still answers every key, in order, exactly once */
    char *value = malloc(10240);
    memset(value, 'p', 10240);
    for (int i = 0; i < 40; i++) {
        char key[16];
        snprintf(key, sizeof key, "p%d", i);
        value[0] = (char)('A' + i % 26);
        CHECK_RC(shmc_set(cache, key, strlen(key), value, 10240, (uint32_t)i, 0), SHMC_OK);
    }
    free(value);
    size_t saved = env.out_high_water;
    env.out_high_water = 1024;
    char req[1024] = "get";
    for (int i = 0; i < 40; i++) snprintf(req + strlen(req), sizeof req - strlen(req), " p%d", i);
    strcat(req, "\r\n");
    char *got = run(req);
    const char *p = got;
    bool ordered = true;
    for (int i = 0; i < 40 && ordered; i++) {
        char head[64];
        int n = snprintf(head, sizeof head, "VALUE p%d %d 10240\r\n%c", i, i, 'A' + i % 26);
        ordered = strncmp(p, head, (size_t)n) == 0;
        p += n - 1 + 10240 + 2;
    }
    CHECK(ordered && strcmp(p, "END\r\n") == 0);
    free(got);
    env.out_high_water = saved;
}

/* A get/gets of many keys (looked up 16 at a time with shmc_mget) answers exactly what one
 * shmc_get per key finds, in order: misses left out, duplicates repeated, values larger than
 * the first room offered, an empty value, and a key the library refuses (a miss) amid them. */
static void test_batched_get(void)
{
    char *value = malloc(40000);
    memset(value, 'm', 40000);
    for (int i = 0; i < 50; i++) {
        char key[16];
        snprintf(key, sizeof key, "m%d", i);
        if (i % 3 == 0) {
            shmc_delete(cache, key, strlen(key));
            continue;
        }
        value[0] = (char)('a' + i % 26);
        CHECK_RC(shmc_set(cache, key, strlen(key), value, (size_t)(i == 49 ? 0 : i * 700),
                          (uint32_t)i * 3, 0),
                 SHMC_OK);
    }
    for (int cas = 0; cas < 2; cas++) {
        char req[1024];
        strcpy(req, cas ? "gets" : "get");
        const char *extra[] = {"m7", "m7", "bad\x01key", "m3", "m49", "m44"};
        char keys[56][16];
        int nkeys = 0;
        for (int i = 0; i < 50; i++) snprintf(keys[nkeys++], sizeof keys[0], "m%d", i);
        for (int i = 0; i < 6; i++) snprintf(keys[nkeys++], sizeof keys[0], "%s", extra[i]);
        for (int i = 0; i < nkeys; i++) snprintf(req + strlen(req), sizeof req - strlen(req), " %s", keys[i]);
        strcat(req, "\r\n");
        proto_out want = {0};
        for (int i = 0; i < nkeys; i++) {
            void *v;
            size_t n;
            uint32_t flags;
            uint64_t c;
            if (shmc_get_alloc(cache, keys[i], strlen(keys[i]), &v, &n, &flags, &c) != SHMC_OK) continue;
            char head[128];
            int h = cas ? snprintf(head, sizeof head, "VALUE %s %u %zu %llu\r\n", keys[i], flags, n,
                                   (unsigned long long)c)
                        : snprintf(head, sizeof head, "VALUE %s %u %zu\r\n", keys[i], flags, n);
            proto_out_add(&want, head, (size_t)h);
            proto_out_add(&want, v, n);
            proto_out_add(&want, "\r\n", 2);
            free(v);
        }
        proto_out_add(&want, "END\r\n", 6); /* with the NUL */
        char *got = run(req);
        CHECK(strcmp(got, want.buf) == 0);
        /* and again through pauses at every value */
        size_t saved = env.out_high_water;
        env.out_high_water = 100;
        char *paused = run(req);
        env.out_high_water = saved;
        CHECK(strcmp(paused, want.buf) == 0);
        free(paused);
        free(got);
        proto_out_free(&want);
    }
    free(value);
}

/* memcached -F, -C and -A (each reply as memcached 1.6.18 gives it; tests/server's
 * flags_diff compares them with the real one). */
static void test_flag_switches(void)
{
    env.flush_disabled = true;
    EXPECT("set fd 0 0 1\r\nx\r\nflush_all\r\nflush_all noreply\r\nflush_all 0\r\nget fd\r\n",
           "STORED\r\nCLIENT_ERROR flush_all not allowed\r\n"
           "CLIENT_ERROR flush_all not allowed\r\nVALUE fd 0 1\r\nx\r\nEND\r\n");
    env.flush_disabled = false;

    env.cas_disabled = true;
    EXPECT("set c 3 0 1\r\nx\r\ngets c\r\ngets c nope c\r\ngats 0 c\r\n",
           "STORED\r\nVALUE c 3 1 0\r\nx\r\nEND\r\n"
           "VALUE c 3 1 0\r\nx\r\nVALUE c 3 1 0\r\nx\r\nEND\r\nVALUE c 3 1 0\r\nx\r\nEND\r\n");
    /* a cas compare never matches an item; an absent one is still NOT_FOUND */
    EXPECT("cas c 0 0 1 0\r\ny\r\ncas nope 0 0 1 0\r\ny\r\nget c\r\n",
           "EXISTS\r\nNOT_FOUND\r\nVALUE c 3 1\r\nx\r\nEND\r\n");
    EXPECT("ms c 1 C0\r\nz\r\nms c 1 c\r\nz\r\nmg c c v\r\n",
           "EX\r\nHD c0\r\nVA 1 c0\r\nz\r\n");
    /* md and ma compare with 0, the cas every item has under -C */
    EXPECT("md c C5\r\nmd c C0\r\nmd c C0\r\n", "EX\r\nHD\r\nNF\r\n");
    EXPECT("set n 0 0 1\r\n1\r\nma n C7\r\nma n C0 v c\r\n", "STORED\r\nEX\r\nVA 1 c0\r\n2\r\n");
    env.cas_disabled = false;
    EXPECT("gets n\r\n", "VALUE n 0 1 #\r\n2\r\nEND\r\n");
    char *real = run("gets n\r\n");
    CHECK(!strstr(real, " 0\r\n"));
    free(real);

    EXPECT("shutdown\r\nshutdown graceful\r\n",
           "ERROR: shutdown not enabled\r\nERROR: shutdown not enabled\r\n");
    env.shutdown_enabled = true;
    EXPECT("shutdown now\r\nshutdown graceful x\r\n",
           "CLIENT_ERROR invalid shutdown mode\r\nCLIENT_ERROR invalid shutdown mode\r\n");
    EXPECT("shutdown\r\nget n\r\n", "<closed>");
    EXPECT("shutdown graceful\r\n", "<closed>");
    CHECK(shutdowns == 1 && graceful_shutdowns == 1);
    env.shutdown_enabled = false;
}

int main(void)
{
    t_setup("protocol_exec");
    shmc_config cfg;
    shmc_config_init(&cfg);
    cfg.memory_limit = 4u << 20;
    cfg.item_size_max = 64u << 10;
    CHECK_RC(shmc_open(&cache, t_path("cache"), &cfg), SHMC_OK);
    if (!cache) return t_finish();
    proto_hooks hooks = {.server_stats = fake_server_stats, .settings = fake_settings,
                         .set_verbosity = fake_verbosity, .shutdown = fake_shutdown};
    CHECK_RC(proto_env_init(&env, cache, &hooks), SHMC_OK);
    CHECK(env.item_size_max == 64u << 10);

    test_storage_and_retrieval();
    test_size_limit();
    test_other_commands();
    test_stats();
    test_meta_commands();
    test_pause();
    test_batched_get();
    test_flag_switches();

    proto_env_destroy(&env);
    shmc_close(cache);
    t_check_file(t_path("cache"));
    return t_finish();
}
