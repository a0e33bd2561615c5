/* test_protocol_parse.c — the pure protocol layer alone (no cache, no sockets): numbers as
 * memcached reads them, base64, line framing and its limits, the command table, every text
 * command's parse and every refusal text, meta flags, and the reply buffer.  Expected strings
 * are memcached 1.6.18's, checked against the real server while writing them. */
#include <stdint.h>
#include <stdlib.h>

#include "../testutil.h"
#include "protocol/base64.h"
#include "protocol/command.h"
#include "protocol/frame.h"
#include "protocol/number.h"
#include "protocol/outbuf.h"
#include "protocol/request.h"

static proto_request req;

static proto_request *parse(const char *line)
{
    proto_parse(line, strlen(line), &req);
    return &req;
}

/* The error text a line gets (NULL when it parses). */
static const char *err_of(const char *line)
{
    parse(line);
    return req.cmd == PROTO_ERROR ? req.error : NULL;
}

static void test_numbers(void)
{
    uint64_t u;
    uint32_t u32;
    int64_t i;
    CHECK(proto_parse_u64("0", 1, &u) && u == 0);
    CHECK(proto_parse_u64("18446744073709551615", 20, &u) && u == UINT64_MAX);
    CHECK(!proto_parse_u64("18446744073709551616", 20, &u));
    CHECK(!proto_parse_u64("-1", 2, &u));
    CHECK(proto_parse_u64("-0", 2, &u) && u == 0);
    CHECK(proto_parse_u64("+5", 2, &u) && u == 5);
    CHECK(proto_parse_u64("007", 3, &u) && u == 7);
    CHECK(proto_parse_u64("5\t", 2, &u) && u == 5); /* a blank ends a number, as strtoull */
    CHECK(!proto_parse_u64("5x", 2, &u));
    CHECK(!proto_parse_u64("0x10", 4, &u));
    CHECK(!proto_parse_u64("", 0, &u));
    CHECK(!proto_parse_u64("-", 1, &u));
    CHECK(!proto_parse_u64("+", 1, &u));
    CHECK(proto_parse_u32("4294967295", 10, &u32) && u32 == UINT32_MAX);
    CHECK(!proto_parse_u32("4294967296", 10, &u32));
    CHECK(!proto_parse_u32("-1", 2, &u32));
    CHECK(proto_parse_i64("-1", 2, &i) && i == -1);
    CHECK(proto_parse_i64("9223372036854775807", 19, &i) && i == INT64_MAX);
    CHECK(proto_parse_i64("-9223372036854775808", 20, &i) && i == INT64_MIN);
    CHECK(!proto_parse_i64("9223372036854775808", 19, &i));
    CHECK(!proto_parse_i64("-9223372036854775809", 20, &i));
    CHECK(!proto_parse_i64("1.5", 3, &i));

    char buf[32];
    CHECK(proto_u64_to_text(0, buf) == 1 && buf[0] == '0');
    size_t n = proto_u64_to_text(UINT64_MAX, buf);
    buf[n] = 0;
    CHECK_STR(buf, "18446744073709551615");
    n = proto_i64_to_text(INT64_MIN, buf);
    buf[n] = 0;
    CHECK_STR(buf, "-9223372036854775808");
    n = proto_i64_to_text(-1, buf);
    buf[n] = 0;
    CHECK_STR(buf, "-1");
}

static void test_base64(void)
{
    char enc[64];
    unsigned char dec[64];
    const char *samples[] = {"f", "fo", "foo", "foob", "fooba", "foobar"};
    const char *want[] = {"Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy"};
    for (int i = 0; i < 6; i++) {
        size_t n = proto_base64_encode((const unsigned char *)samples[i], strlen(samples[i]), enc);
        enc[n] = 0;
        CHECK_STR(enc, want[i]);
        size_t m = proto_base64_decode(enc, n, dec);
        CHECK(m == strlen(samples[i]) && memcmp(dec, samples[i], m) == 0);
    }
    unsigned char bin[3] = {0, 0xff, 0x10};
    size_t n = proto_base64_encode(bin, 3, enc);
    CHECK(proto_base64_decode(enc, n, dec) == 3 && memcmp(dec, bin, 3) == 0);
    CHECK(proto_base64_decode("", 0, dec) == 0);
    /* memcached's decoder: bytes outside the alphabet are skipped, padding ends the key */
    CHECK(proto_base64_decode("Zm9", 3, dec) == 0);        /* not a multiple of 4 */
    CHECK(proto_base64_decode("Zm!v", 4, dec) == 0);       /* 3 left after the skip */
    CHECK(proto_base64_decode("Zm9v!", 5, dec) == 3 && memcmp(dec, "foo", 3) == 0);
    CHECK(proto_base64_decode("k%20x", 5, dec) == 3 && memcmp(dec, "\x93m1", 3) == 0);
    CHECK(proto_base64_decode("Zm9=Zm9v", 8, dec) == 2 && memcmp(dec, "fo", 2) == 0);
    CHECK(proto_base64_decode("Z===", 4, dec) == 0);       /* three pads */
    CHECK(proto_base64_decode("!!!!", 4, dec) == 0);       /* nothing left */
}

static void test_framing(void)
{
    size_t line, consumed;
    CHECK(proto_frame_line("get a\r\nxx", 9, &line, &consumed) == PROTO_FRAME_LINE &&
           line == 5 && consumed == 7);
    CHECK(proto_frame_line("get a\nxx", 8, &line, &consumed) == PROTO_FRAME_LINE &&
           line == 5 && consumed == 6);
    CHECK(proto_frame_line("\r\n", 2, &line, &consumed) == PROTO_FRAME_LINE && line == 0);
    CHECK(proto_frame_line("get a", 5, &line, &consumed) == PROTO_FRAME_NEED_MORE);
    /* a binary magic byte is text to the text protocol (the connection chose it, as memcached's) */
    CHECK(proto_frame_line("\x80\x00\r\n", 4, &line, &consumed) == PROTO_FRAME_LINE && line == 2);

    char *big = malloc(5000);
    memset(big, 'x', 5000);
    CHECK(proto_frame_line(big, PROTO_LINE_MAX, &line, &consumed) == PROTO_FRAME_NEED_MORE);
    CHECK(proto_frame_line(big, PROTO_LINE_MAX + 1, &line, &consumed) == PROTO_FRAME_TOO_LONG);
    memcpy(big, "set ", 4);
    CHECK(proto_frame_line(big, 5000, &line, &consumed) == PROTO_FRAME_TOO_LONG);
    /* as memcached, only get and gets stream; gat, gats and bget lines close like others */
    const char *gets[] = {"get ", "gets ", "gat ", "gats ", "bget "};
    for (int i = 0; i < 5; i++) {
        memset(big, 'k', 5000);
        memcpy(big, gets[i], strlen(gets[i]));
        CHECK(proto_frame_line(big, 5000, &line, &consumed) ==
              (i < 2 ? PROTO_FRAME_LONG_GET : PROTO_FRAME_TOO_LONG));
    }
    memcpy(big, "mg ", 3);
    CHECK(proto_frame_line(big, 5000, &line, &consumed) == PROTO_FRAME_TOO_LONG);
    memcpy(big, "getx ", 5);
    CHECK(proto_frame_line(big, 5000, &line, &consumed) == PROTO_FRAME_TOO_LONG);
    memset(big, ' ', 101); /* more than 100 leading spaces: memcached gives up */
    memcpy(big + 101, "get ", 4);
    CHECK(proto_frame_line(big, 5000, &line, &consumed) == PROTO_FRAME_TOO_LONG);
    /* a long line that does hold its '\n' is an ordinary line */
    memset(big, 'x', 5000);
    big[4000] = '\n';
    CHECK(proto_frame_line(big, 5000, &line, &consumed) == PROTO_FRAME_LINE && line == 4000);
    free(big);

    CHECK(proto_data_terminated("ab\r\n", 2));
    CHECK(!proto_data_terminated("abc\n", 2));
    CHECK(!proto_data_terminated("ab\n\r", 2));

    size_t off;
    CHECK(proto_parse_get_prefix("get k1 k2", 9, &req, &off) && req.cmd == PROTO_GET && off == 3);
    CHECK(proto_parse_get_prefix("  gets k1", 9, &req, &off) && req.cmd == PROTO_GETS && off == 6);
    CHECK(proto_parse_get_prefix("gat 30 k1", 9, &req, &off) && req.cmd == PROTO_GAT &&
           req.exptime == 30 && off == 6);
    CHECK(!proto_parse_get_prefix("gat 3", 5, &req, &off)); /* exptime not complete yet */
    CHECK(!proto_parse_get_prefix("gats x k", 8, &req, &off) && req.cmd == PROTO_ERROR);
    CHECK_STR(req.error, "CLIENT_ERROR invalid exptime argument");
    CHECK(!proto_parse_get_prefix("set k", 5, &req, &off));
    CHECK(proto_whole_keys_len("a b cd", 6) == 4);
    CHECK(proto_whole_keys_len("abc", 3) == 0);
    CHECK(proto_whole_keys_len("a b ", 4) == 4);

    const char *text = "  k1  k22 k3 ";
    size_t pos = 0, nkey;
    const char *key;
    CHECK(proto_next_key(text, strlen(text), &pos, &key, &nkey) && nkey == 2 && !memcmp(key, "k1", 2));
    CHECK(proto_next_key(text, strlen(text), &pos, &key, &nkey) && nkey == 3 && !memcmp(key, "k22", 3));
    CHECK(proto_next_key(text, strlen(text), &pos, &key, &nkey) && nkey == 2 && !memcmp(key, "k3", 2));
    CHECK(!proto_next_key(text, strlen(text), &pos, &key, &nkey));
}

/* The command table: a row for every request code, found by its keyword, of the right
 * kind; the parser makes each keyword's line into its row's code. */
static void test_command_table(void)
{
    for (int cmd = 0; cmd < PROTO_CMD_COUNT; cmd++) {
        const proto_command *c = proto_command_of((proto_cmd)cmd);
        CHECK(c->cmd == (proto_cmd)cmd && c->execute != NULL);
        if (cmd == PROTO_ERROR) continue;
        CHECK(c->len == strlen(c->keyword) && c->parse != NULL);
        CHECK(proto_command_find(c->keyword, c->len) == c);
    }
    CHECK(proto_command_of(PROTO_CMD_COUNT)->cmd == PROTO_ERROR);
    CHECK(proto_command_of((proto_cmd)-1)->cmd == PROTO_ERROR);
    static const struct {
        const char *word;
        proto_cmd cmd;
        proto_kind kind;
    } rows[] = {
        {"get", PROTO_GET, PROTO_KIND_RETRIEVAL}, {"bget", PROTO_GET, PROTO_KIND_RETRIEVAL},
        {"gets", PROTO_GETS, PROTO_KIND_RETRIEVAL}, {"gat", PROTO_GAT, PROTO_KIND_RETRIEVAL},
        {"gats", PROTO_GATS, PROTO_KIND_RETRIEVAL}, {"set", PROTO_SET, PROTO_KIND_STORAGE},
        {"add", PROTO_ADD, PROTO_KIND_STORAGE}, {"replace", PROTO_REPLACE, PROTO_KIND_STORAGE},
        {"append", PROTO_APPEND, PROTO_KIND_STORAGE},
        {"prepend", PROTO_PREPEND, PROTO_KIND_STORAGE}, {"cas", PROTO_CAS, PROTO_KIND_STORAGE},
        {"incr", PROTO_INCR, PROTO_KIND_ARITHMETIC}, {"decr", PROTO_DECR, PROTO_KIND_ARITHMETIC},
        {"delete", PROTO_DELETE, PROTO_KIND_OTHER}, {"touch", PROTO_TOUCH, PROTO_KIND_OTHER},
        {"flush_all", PROTO_FLUSH_ALL, PROTO_KIND_OTHER}, {"stats", PROTO_STATS, PROTO_KIND_OTHER},
        {"version", PROTO_VERSION, PROTO_KIND_OTHER},
        {"verbosity", PROTO_VERBOSITY, PROTO_KIND_OTHER}, {"quit", PROTO_QUIT, PROTO_KIND_OTHER},
        {"shutdown", PROTO_SHUTDOWN, PROTO_KIND_OTHER},
        {"cache_memlimit", PROTO_ERROR, PROTO_KIND_OTHER},
        {"mg", PROTO_MG, PROTO_KIND_META}, {"ms", PROTO_MS, PROTO_KIND_META},
        {"md", PROTO_MD, PROTO_KIND_META}, {"ma", PROTO_MA, PROTO_KIND_META},
        {"mn", PROTO_MN, PROTO_KIND_META}, {"me", PROTO_ME, PROTO_KIND_META},
        {"lru_crawler", PROTO_LRU_CRAWLER, PROTO_KIND_OTHER},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        const proto_command *c = proto_command_find(rows[i].word, strlen(rows[i].word));
        CHECK(c && c->cmd == rows[i].cmd && c->kind == rows[i].kind);
    }
    CHECK(proto_cmd_kind(PROTO_GATS) == PROTO_KIND_RETRIEVAL);
    CHECK(proto_cmd_kind(PROTO_ERROR) == PROTO_KIND_NONE);
    CHECK(proto_command_find("ge", 2) == NULL && proto_command_find("gett", 4) == NULL);
    CHECK(proto_command_find("GET", 3) == NULL && proto_command_find("", 0) == NULL);
    CHECK(proto_command_find("mx", 2) == NULL);
}

static bool key_is(const char *want)
{
    return req.nkey == strlen(want) && memcmp(req.key, want, req.nkey) == 0;
}

static void test_text_commands(void)
{
    const char *fmt = "CLIENT_ERROR bad command line format";
    const char *exp = "CLIENT_ERROR invalid exptime argument";
    /* unknown, empty, short, upper case */
    CHECK_STR(err_of(""), "ERROR");
    CHECK_STR(err_of("a"), "ERROR");
    CHECK_STR(err_of("bogus"), "ERROR");
    CHECK_STR(err_of("GET a"), "ERROR");
    CHECK_STR(err_of("mx a"), "ERROR");

    /* retrieval */
    CHECK_STR(err_of("get"), "ERROR");
    CHECK_STR(err_of("gets"), "ERROR");
    parse("get a b  c");
    CHECK(req.cmd == PROTO_GET && req.keys_len == 7 && memcmp(req.keys, " a b  c", 7) == 0);
    CHECK(parse("bget a")->cmd == PROTO_GET);
    CHECK(parse("gets a")->cmd == PROTO_GETS);
    parse("gat 100 a b");
    CHECK(req.cmd == PROTO_GAT && req.exptime == 100 && req.keys_len == 4);
    parse("gats -1 a");
    CHECK(req.cmd == PROTO_GATS && req.exptime == -1);
    CHECK(parse("gat 100")->cmd == PROTO_GAT && req.keys_len == 0); /* memcached: END */
    CHECK_STR(err_of("gat abc a"), exp);
    CHECK_STR(err_of("gat"), "ERROR");

    /* storage */
    parse("set k 5 10 3");
    CHECK(req.cmd == PROTO_SET && key_is("k") && req.flags == 5 && req.exptime == 10 &&
           req.has_value && req.vlen == 3 && !req.noreply);
    parse("set  k  0  0  1 ");
    CHECK(req.cmd == PROTO_SET && req.vlen == 1);
    parse("add k 0 0 1 noreply");
    CHECK(req.cmd == PROTO_ADD && req.noreply);
    parse("append k 0 0 1 norep"); /* any sixth token is allowed; only "noreply" counts */
    CHECK(req.cmd == PROTO_APPEND && !req.noreply);
    CHECK(parse("replace k 0 0 1")->cmd == PROTO_REPLACE);
    CHECK(parse("prepend k 0 0 1")->cmd == PROTO_PREPEND);
    parse("cas k 1 2 3 99 noreply");
    CHECK(req.cmd == PROTO_CAS && req.cas == 99 && req.noreply && req.vlen == 3);
    CHECK_STR(err_of("set k 0 0"), "ERROR");
    CHECK_STR(err_of("set k 0 0 1 noreply x"), "ERROR");
    CHECK_STR(err_of("cas k 0 0 1"), "ERROR");
    CHECK_STR(err_of("cas k 0 0 1 abc"), fmt);
    CHECK_STR(err_of("set k -1 0 1"), fmt);
    CHECK_STR(err_of("set k 4294967296 0 1"), fmt);
    CHECK_STR(err_of("set k 0x10 0 1"), fmt);
    CHECK_STR(err_of("set k 0 abc 1"), fmt);
    CHECK_STR(err_of("set k 0 0 -1"), fmt);
    CHECK_STR(err_of("set k 0 0 1x"), fmt);
    CHECK_STR(err_of("set k 0 0 2147483648"), fmt);
    CHECK(parse("set k 0 0 2147483645")->cmd == PROTO_SET); /* INT_MAX - 2 */
    char longkey[300];
    memset(longkey, 'k', sizeof longkey);
    char line[400];
    snprintf(line, sizeof line, "set %.251s 0 0 1", longkey);
    CHECK_STR(err_of(line), fmt);
    CHECK(!req.has_value); /* a refused line swallows no data block, as in memcached */
    snprintf(line, sizeof line, "set %.250s 0 0 1", longkey);
    CHECK(parse(line)->cmd == PROTO_SET && req.nkey == 250);
    snprintf(line, sizeof line, "set %.251s 0 0 1 noreply", longkey);
    CHECK_STR(err_of(line), fmt);
    CHECK(req.noreply);

    /* arithmetic, touch, delete */
    parse("incr n 5");
    CHECK(req.cmd == PROTO_INCR && req.delta == 5 && key_is("n"));
    parse("decr n 18446744073709551615 noreply");
    CHECK(req.cmd == PROTO_DECR && req.delta == UINT64_MAX && req.noreply);
    CHECK_STR(err_of("incr n"), "ERROR");
    CHECK_STR(err_of("incr n -1"), "CLIENT_ERROR invalid numeric delta argument");
    CHECK_STR(err_of("incr n abc"), "CLIENT_ERROR invalid numeric delta argument");
    CHECK_STR(err_of("incr n 18446744073709551616"), "CLIENT_ERROR invalid numeric delta argument");
    parse("touch k 10");
    CHECK(req.cmd == PROTO_TOUCH && req.exptime == 10);
    CHECK_STR(err_of("touch k abc"), exp);
    CHECK_STR(err_of("touch k"), "ERROR");
    CHECK_STR(err_of("touch a 0 noreply x"), "ERROR");
    CHECK(parse("delete k")->cmd == PROTO_DELETE && key_is("k") && !req.noreply);
    CHECK(parse("delete k 0")->cmd == PROTO_DELETE);
    CHECK(parse("delete k noreply")->cmd == PROTO_DELETE && req.noreply);
    CHECK(parse("delete k 0 noreply")->cmd == PROTO_DELETE && req.noreply);
    const char *usage = "CLIENT_ERROR bad command line format.  Usage: delete <key> [noreply]";
    CHECK_STR(err_of("delete k 1"), usage);
    CHECK_STR(err_of("delete k noreply x"), usage);
    CHECK_STR(err_of("delete k x y"), usage);
    CHECK_STR(err_of("delete"), "ERROR");
    CHECK_STR(err_of("delete a b c d"), "ERROR");

    /* flush_all, verbosity, version, quit, stats */
    CHECK(parse("flush_all")->cmd == PROTO_FLUSH_ALL && req.exptime == 0);
    CHECK(parse("flush_all 10")->cmd == PROTO_FLUSH_ALL && req.exptime == 10);
    CHECK(parse("flush_all noreply")->cmd == PROTO_FLUSH_ALL && req.noreply);
    CHECK(parse("flush_all 5 noreply")->cmd == PROTO_FLUSH_ALL && req.exptime == 5 && req.noreply);
    CHECK(parse("flush_all -1")->cmd == PROTO_FLUSH_ALL && req.exptime == -1);
    CHECK_STR(err_of("flush_all abc"), exp);
    CHECK_STR(err_of("flush_all 0 noreply x"), "ERROR");
    CHECK(parse("verbosity 1")->cmd == PROTO_VERBOSITY && req.exptime == 1);
    CHECK(parse("verbosity 1 noreply")->cmd == PROTO_VERBOSITY && req.noreply);
    CHECK_STR(err_of("verbosity"), "ERROR");
    CHECK_STR(err_of("verbosity abc"), fmt);
    CHECK_STR(err_of("verbosity 1 2 3"), "ERROR");
    CHECK(parse("version")->cmd == PROTO_VERSION);
    CHECK(parse("version x")->cmd == PROTO_VERSION);
    CHECK(parse("quit")->cmd == PROTO_QUIT);
    parse("stats  items ");
    CHECK(req.cmd == PROTO_STATS && req.nargs == 5 && memcmp(req.args, "items", 5) == 0);
    CHECK(parse("stats")->cmd == PROTO_STATS && req.nargs == 0);
    CHECK(parse("shutdown")->cmd == PROTO_SHUTDOWN && req.exptime == 0);
    CHECK(parse("shutdown graceful")->cmd == PROTO_SHUTDOWN && req.exptime == 1);
    CHECK(parse("shutdown now")->cmd == PROTO_SHUTDOWN && req.exptime == -1);
    CHECK(parse("shutdown graceful x")->cmd == PROTO_SHUTDOWN && req.exptime == -1);
    CHECK_STR(err_of("cache_memlimit 100"), "MEMLIMIT_ADJUST_FAILED out of bounds or unable to adjust");
    /* lru_crawler: memcached's token counts and settings checks */
    parse("lru_crawler metadump 1,2");
    CHECK(req.cmd == PROTO_LRU_CRAWLER && req.crawler == PROTO_CRAWLER_METADUMP &&
          req.nargs == 3 && memcmp(req.args, "1,2", 3) == 0);
    CHECK(parse("lru_crawler crawl all")->crawler == PROTO_CRAWLER_CRAWL);
    CHECK(parse("lru_crawler enable")->crawler == PROTO_CRAWLER_ENABLE);
    CHECK(parse("lru_crawler disable")->crawler == PROTO_CRAWLER_DISABLE);
    CHECK(parse("lru_crawler sleep 1000000")->crawler == PROTO_CRAWLER_SET);
    CHECK(parse("lru_crawler tocrawl 4294967296")->crawler == PROTO_CRAWLER_SET);
    CHECK_STR(err_of("lru_crawler sleep 1000001"), "CLIENT_ERROR sleep must be one second or less");
    CHECK_STR(err_of("lru_crawler tocrawl -1"), fmt);
    CHECK_STR(err_of("lru_crawler"), "ERROR");
    CHECK_STR(err_of("lru_crawler metadump"), "ERROR");
    CHECK_STR(err_of("lru_crawler metadump all noreply"), "ERROR");
    CHECK_STR(err_of("lru_crawler mgdump all"), "ERROR");

    /* at most 23 tokens: more is a wrong count for every fixed-arity command */
    CHECK_STR(err_of("delete a b c d e f g h i j k l m n o p q r s t u v w x y z"), "ERROR");
}

static void test_meta(void)
{
    const char *fmt = "CLIENT_ERROR bad command line format";
    CHECK(parse("mn")->cmd == PROTO_MN);
    CHECK(parse("mn x y")->cmd == PROTO_MN);
    CHECK_STR(err_of("mg"), "ERROR");
    CHECK_STR(err_of("ms"), "ERROR");
    CHECK_STR(err_of("md"), "ERROR");
    CHECK_STR(err_of("ma"), "ERROR");
    CHECK_STR(err_of("me"), fmt);

    parse("mg key s v f c k Oabc q T30 N10 u");
    CHECK(req.cmd == PROTO_MG && key_is("key") && req.meta.value && req.meta.quiet &&
           req.meta.has_ttl && req.meta.ttl == 30 && req.meta.vivify && req.meta.vivify_ttl == 10);
    CHECK(req.meta.nflags == 10 && req.meta.flags[0].flag == 's' && req.meta.flags[5].flag == 'O' &&
           req.meta.flags[5].ntoken == 3 && memcmp(req.meta.flags[5].token, "abc", 3) == 0);
    CHECK(parse("mg key")->cmd == PROTO_MG && req.meta.nflags == 0);
    CHECK_STR(err_of("mg key v v"), "CLIENT_ERROR duplicate flag");
    CHECK_STR(err_of("mg key Z"), "CLIENT_ERROR invalid flag");
    CHECK_STR(err_of("mg key T"), "CLIENT_ERROR bad token in command line format");
    CHECK_STR(err_of("mg key Tabc"), "CLIENT_ERROR bad token in command line format");
    CHECK_STR(err_of("mg key Nx"), "CLIENT_ERROR bad token in command line format");
    CHECK_STR(err_of("mg key O123456789012345678901234567890123"), "CLIENT_ERROR opaque token too long");
    CHECK(parse("mg key O1234567890123456789012345678901")->cmd == PROTO_MG); /* 32 with the O */
    CHECK_STR(err_of("mg key a b c d e f g h i j k l m n o p q r"), "CLIENT_ERROR options flags are too long");
    CHECK_STR(err_of("mg key \xff"), "CLIENT_ERROR duplicate flag");
    /* every flag of memcached 1.6.18 is served: h, l, t without T, R, u */
    CHECK(parse("mg key t")->cmd == PROTO_MG && !req.meta.has_ttl);
    CHECK(parse("mg key T10 t")->cmd == PROTO_MG && req.meta.has_ttl && req.meta.ttl == 10);
    CHECK(parse("mg key h l u")->cmd == PROTO_MG && req.meta.no_bump && req.meta.nflags == 3);
    CHECK(parse("mg key R10")->cmd == PROTO_MG && req.meta.has_recache && req.meta.recache == 10);
    CHECK_STR(err_of("mg key Rx"), "CLIENT_ERROR bad token in command line format");
    CHECK_STR(err_of("mg key E5"), "CLIENT_ERROR invalid flag"); /* E came after 1.6.18 */
    char line[400], longkey[300];
    memset(longkey, 'a', sizeof longkey);
    snprintf(line, sizeof line, "mg %.251s v", longkey);
    CHECK_STR(err_of(line), fmt);

    /* base64 keys */
    parse("mg Zm9v b v k");
    CHECK(req.cmd == PROTO_MG && req.meta.base64 && key_is("foo"));
    CHECK_STR(err_of("mg Zm9 b"), "CLIENT_ERROR error decoding key");
    parse("me Zm9v b");
    CHECK(req.cmd == PROTO_ME && key_is("foo") && req.meta.base64);
    CHECK_STR(err_of("me Zm9 b"), fmt);
    CHECK(parse("me key")->cmd == PROTO_ME && key_is("key"));

    /* ms: the length comes first, then flags; an error after the length swallows the block */
    parse("ms key 5 T10 F3 c k O1 q MA");
    CHECK(req.cmd == PROTO_MS && req.vlen == 5 && req.has_value && req.meta.ttl == 10 &&
           req.meta.client_flags == 3 && req.meta.quiet && req.meta.mode == 'A');
    CHECK_STR(err_of("ms key"), fmt);
    CHECK_STR(err_of("ms key S2"), fmt);
    CHECK(!req.has_value);
    CHECK_STR(err_of("ms key -1"), fmt);
    CHECK_STR(err_of("ms key 2 Z"), "CLIENT_ERROR invalid flag");
    CHECK(req.has_value && req.vlen == 2);
    CHECK_STR(err_of("ms key 2 c c"), "CLIENT_ERROR duplicate flag");
    CHECK(req.has_value);
    CHECK_STR(err_of("ms key 2 MX"), "CLIENT_ERROR invalid mode for ms M token");
    CHECK(req.has_value);
    CHECK_STR(err_of("ms key 2 MEE"), "CLIENT_ERROR incorrect length for M token");
    CHECK_STR(err_of("ms key 2 Fabc"), fmt);
    CHECK_STR(err_of("ms key 2 F-1"), fmt);
    CHECK_STR(err_of("ms key 2 Cx"), "CLIENT_ERROR bad token in command line format");
    CHECK_STR(err_of("ms key 2 a b c d e f g h i j k l m n o p q"), "CLIENT_ERROR options flags too long");
    CHECK(parse("ms key 2 I")->cmd == PROTO_MS && req.meta.invalidate && req.has_value);
    CHECK(parse("ms key 2 C5 MA")->cmd == PROTO_MS && req.meta.has_cas && req.meta.mode == 'A');
    parse("ms key 2 C5 MR");
    CHECK(req.cmd == PROTO_MS && req.meta.has_cas && req.meta.cas == 5);

    /* md and ma report every flag problem as "invalid or duplicate flag" */
    parse("md key q k O9");
    CHECK(req.cmd == PROTO_MD && req.meta.quiet && req.meta.nflags == 3);
    CHECK_STR(err_of("md key x"), "CLIENT_ERROR invalid or duplicate flag");
    CHECK_STR(err_of("md key q q"), "CLIENT_ERROR invalid or duplicate flag");
    CHECK_STR(err_of("md key Tx"), "CLIENT_ERROR invalid or duplicate flag");
    CHECK_STR(err_of("md key O123456789012345678901234567890123"), "CLIENT_ERROR opaque token too long");
    CHECK(parse("md key I T30")->cmd == PROTO_MD && req.meta.invalidate && req.meta.ttl == 30);
    CHECK(parse("md key C5")->cmd == PROTO_MD && req.meta.has_cas && req.meta.cas == 5);
    parse("ma key N0 J10 D5 MD v c T20 t");
    CHECK(req.cmd == PROTO_MA && req.meta.vivify && req.meta.initial == 10 &&
           req.meta.delta == 5 && req.meta.mode == 'D' && req.meta.value);
    CHECK(parse("ma key")->cmd == PROTO_MA && req.meta.delta == 1 && req.meta.mode == 0);
    CHECK_STR(err_of("ma key Dabc"), "CLIENT_ERROR invalid or duplicate flag");
    CHECK_STR(err_of("ma key Jabc"), "CLIENT_ERROR invalid or duplicate flag");
    CHECK_STR(err_of("ma key Mx"), "CLIENT_ERROR invalid mode for ma M token");
    CHECK(parse("ma key M+")->cmd == PROTO_MA);
    CHECK(parse("ma key M-")->cmd == PROTO_MA);
    CHECK(parse("ma key t C7")->cmd == PROTO_MA && req.meta.has_cas && req.meta.cas == 7);
}

static void test_outbuf(void)
{
    proto_out o = {0};
    proto_out_line(&o, "STORED");
    CHECK(o.len == 8 && memcmp(o.buf, "STORED\r\n", 8) == 0);
    proto_out_str(&o, "END");
    CHECK(proto_out_pending(&o) == 11);
    proto_out_consumed(&o, 5);
    CHECK(proto_out_pending(&o) == 6 && o.sent == 5);
    proto_out_consumed(&o, 6);
    CHECK(o.len == 0 && o.sent == 0);
    char big[100000];
    memset(big, 'v', sizeof big);
    proto_out_add(&o, big, sizeof big);
    CHECK(o.len == sizeof big && !o.failed);
    proto_out_consumed(&o, sizeof big);
    proto_out_trim(&o, 65536);
    CHECK(o.buf == NULL && o.cap == 0);
    proto_out_free(&o);
}

int main(void)
{
    test_numbers();
    test_base64();
    test_framing();
    test_command_table();
    test_text_commands();
    test_meta();
    test_outbuf();
    return t_finish();
}
