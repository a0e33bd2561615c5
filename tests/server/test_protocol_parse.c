/* test_protocol_parse.c — the pure protocol layer alone (no cache, no sockets): numbers as
 * memcached reads them, base64, line framing and its limits, every text command's parse and
 * every refusal text, meta flags, and the reply buffer.  Expected strings are memcached
 * 1.6.18's, checked against the real server while writing them. */
#include <stdint.h>
#include <stdlib.h>

#include "base64.h"
#include "frame.h"
#include "number.h"
#include "outbuf.h"
#include "proto_check.h"
#include "request.h"

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
    PCHECK(proto_parse_u64("0", 1, &u) && u == 0);
    PCHECK(proto_parse_u64("18446744073709551615", 20, &u) && u == UINT64_MAX);
    PCHECK(!proto_parse_u64("18446744073709551616", 20, &u));
    PCHECK(!proto_parse_u64("-1", 2, &u));
    PCHECK(proto_parse_u64("-0", 2, &u) && u == 0);
    PCHECK(proto_parse_u64("+5", 2, &u) && u == 5);
    PCHECK(proto_parse_u64("007", 3, &u) && u == 7);
    PCHECK(proto_parse_u64("5\t", 2, &u) && u == 5); /* a blank ends a number, as strtoull */
    PCHECK(!proto_parse_u64("5x", 2, &u));
    PCHECK(!proto_parse_u64("0x10", 4, &u));
    PCHECK(!proto_parse_u64("", 0, &u));
    PCHECK(!proto_parse_u64("-", 1, &u));
    PCHECK(!proto_parse_u64("+", 1, &u));
    PCHECK(proto_parse_u32("4294967295", 10, &u32) && u32 == UINT32_MAX);
    PCHECK(!proto_parse_u32("4294967296", 10, &u32));
    PCHECK(!proto_parse_u32("-1", 2, &u32));
    PCHECK(proto_parse_i64("-1", 2, &i) && i == -1);
    PCHECK(proto_parse_i64("9223372036854775807", 19, &i) && i == INT64_MAX);
    PCHECK(proto_parse_i64("-9223372036854775808", 20, &i) && i == INT64_MIN);
    PCHECK(!proto_parse_i64("9223372036854775808", 19, &i));
    PCHECK(!proto_parse_i64("-9223372036854775809", 20, &i));
    PCHECK(!proto_parse_i64("1.5", 3, &i));

    char buf[32];
    PCHECK(proto_u64_to_text(0, buf) == 1 && buf[0] == '0');
    size_t n = proto_u64_to_text(UINT64_MAX, buf);
    buf[n] = 0;
    PCHECK_STR(buf, "18446744073709551615");
    n = proto_i64_to_text(INT64_MIN, buf);
    buf[n] = 0;
    PCHECK_STR(buf, "-9223372036854775808");
    n = proto_i64_to_text(-1, buf);
    buf[n] = 0;
    PCHECK_STR(buf, "-1");
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
        PCHECK_STR(enc, want[i]);
        size_t m = proto_base64_decode(enc, n, dec);
        PCHECK(m == strlen(samples[i]) && memcmp(dec, samples[i], m) == 0);
    }
    unsigned char bin[3] = {0, 0xff, 0x10};
    size_t n = proto_base64_encode(bin, 3, enc);
    PCHECK(proto_base64_decode(enc, n, dec) == 3 && memcmp(dec, bin, 3) == 0);
    PCHECK(proto_base64_decode("", 0, dec) == 0);
    PCHECK(proto_base64_decode("Zm9", 3, dec) == 0);     /* not a multiple of 4 */
    PCHECK(proto_base64_decode("Zm9v!", 5, dec) == 0);
    PCHECK(proto_base64_decode("Zm!v", 4, dec) == 0);    /* outside the alphabet */
    PCHECK(proto_base64_decode("Z=9v", 4, dec) == 0);    /* padding inside */
    PCHECK(proto_base64_decode("Zm9=Zm9v", 8, dec) == 0); /* padding before the end */
    PCHECK(proto_base64_decode("Zg=a", 4, dec) == 0);
}

static void test_framing(void)
{
    size_t line, consumed;
    PCHECK(proto_frame_line("get a\r\nxx", 9, &line, &consumed) == PROTO_FRAME_LINE &&
           line == 5 && consumed == 7);
    PCHECK(proto_frame_line("get a\nxx", 8, &line, &consumed) == PROTO_FRAME_LINE &&
           line == 5 && consumed == 6);
    PCHECK(proto_frame_line("\r\n", 2, &line, &consumed) == PROTO_FRAME_LINE && line == 0);
    PCHECK(proto_frame_line("get a", 5, &line, &consumed) == PROTO_FRAME_NEED_MORE);
    PCHECK(proto_frame_line("\x80\x00\x00\x05", 4, &line, &consumed) == PROTO_FRAME_BINARY);

    char *big = malloc(5000);
    memset(big, 'x', 5000);
    PCHECK(proto_frame_line(big, PROTO_LINE_MAX, &line, &consumed) == PROTO_FRAME_NEED_MORE);
    PCHECK(proto_frame_line(big, PROTO_LINE_MAX + 1, &line, &consumed) == PROTO_FRAME_TOO_LONG);
    memcpy(big, "set ", 4);
    PCHECK(proto_frame_line(big, 5000, &line, &consumed) == PROTO_FRAME_TOO_LONG);
    const char *gets[] = {"get ", "gets ", "gat ", "gats "};
    for (int i = 0; i < 4; i++) {
        memset(big, 'k', 5000);
        memcpy(big, gets[i], strlen(gets[i]));
        PCHECK(proto_frame_line(big, 5000, &line, &consumed) == PROTO_FRAME_LONG_GET);
    }
    memset(big, ' ', 101); /* more than 100 leading spaces: memcached gives up */
    memcpy(big + 101, "get ", 4);
    PCHECK(proto_frame_line(big, 5000, &line, &consumed) == PROTO_FRAME_TOO_LONG);
    /* a long line that does hold its '\n' is an ordinary line */
    memset(big, 'x', 5000);
    big[4000] = '\n';
    PCHECK(proto_frame_line(big, 5000, &line, &consumed) == PROTO_FRAME_LINE && line == 4000);
    free(big);

    PCHECK(proto_data_terminated("ab\r\n", 2));
    PCHECK(!proto_data_terminated("abc\n", 2));
    PCHECK(!proto_data_terminated("ab\n\r", 2));

    size_t off;
    PCHECK(proto_parse_get_prefix("get k1 k2", 9, &req, &off) && req.cmd == PROTO_GET && off == 3);
    PCHECK(proto_parse_get_prefix("  gets k1", 9, &req, &off) && req.cmd == PROTO_GETS && off == 6);
    PCHECK(proto_parse_get_prefix("gat 30 k1", 9, &req, &off) && req.cmd == PROTO_GAT &&
           req.exptime == 30 && off == 6);
    PCHECK(!proto_parse_get_prefix("gat 3", 5, &req, &off)); /* exptime not complete yet */
    PCHECK(!proto_parse_get_prefix("gats x k", 8, &req, &off) && req.cmd == PROTO_ERROR);
    PCHECK_STR(req.error, "CLIENT_ERROR invalid exptime argument");
    PCHECK(!proto_parse_get_prefix("set k", 5, &req, &off));
    PCHECK(proto_whole_keys_len("a b cd", 6) == 4);
    PCHECK(proto_whole_keys_len("abc", 3) == 0);
    PCHECK(proto_whole_keys_len("a b ", 4) == 4);

    const char *text = "  k1  k22 k3 ";
    size_t pos = 0, nkey;
    const char *key;
    PCHECK(proto_next_key(text, strlen(text), &pos, &key, &nkey) && nkey == 2 && !memcmp(key, "k1", 2));
    PCHECK(proto_next_key(text, strlen(text), &pos, &key, &nkey) && nkey == 3 && !memcmp(key, "k22", 3));
    PCHECK(proto_next_key(text, strlen(text), &pos, &key, &nkey) && nkey == 2 && !memcmp(key, "k3", 2));
    PCHECK(!proto_next_key(text, strlen(text), &pos, &key, &nkey));
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
    PCHECK_STR(err_of(""), "ERROR");
    PCHECK_STR(err_of("a"), "ERROR");
    PCHECK_STR(err_of("bogus"), "ERROR");
    PCHECK_STR(err_of("GET a"), "ERROR");
    PCHECK_STR(err_of("mx a"), "ERROR");

    /* retrieval */
    PCHECK_STR(err_of("get"), "ERROR");
    PCHECK_STR(err_of("gets"), "ERROR");
    parse("get a b  c");
    PCHECK(req.cmd == PROTO_GET && req.keys_len == 7 && memcmp(req.keys, " a b  c", 7) == 0);
    PCHECK(parse("bget a")->cmd == PROTO_GET);
    PCHECK(parse("gets a")->cmd == PROTO_GETS);
    parse("gat 100 a b");
    PCHECK(req.cmd == PROTO_GAT && req.exptime == 100 && req.keys_len == 4);
    parse("gats -1 a");
    PCHECK(req.cmd == PROTO_GATS && req.exptime == -1);
    PCHECK(parse("gat 100")->cmd == PROTO_GAT && req.keys_len == 0); /* memcached: END */
    PCHECK_STR(err_of("gat abc a"), exp);
    PCHECK_STR(err_of("gat"), "ERROR");

    /* storage */
    parse("set k 5 10 3");
    PCHECK(req.cmd == PROTO_SET && key_is("k") && req.flags == 5 && req.exptime == 10 &&
           req.has_value && req.vlen == 3 && !req.noreply);
    parse("set  k  0  0  1 ");
    PCHECK(req.cmd == PROTO_SET && req.vlen == 1);
    parse("add k 0 0 1 noreply");
    PCHECK(req.cmd == PROTO_ADD && req.noreply);
    parse("append k 0 0 1 norep"); /* any sixth token is allowed; only "noreply" counts */
    PCHECK(req.cmd == PROTO_APPEND && !req.noreply);
    PCHECK(parse("replace k 0 0 1")->cmd == PROTO_REPLACE);
    PCHECK(parse("prepend k 0 0 1")->cmd == PROTO_PREPEND);
    parse("cas k 1 2 3 99 noreply");
    PCHECK(req.cmd == PROTO_CAS && req.cas == 99 && req.noreply && req.vlen == 3);
    PCHECK_STR(err_of("set k 0 0"), "ERROR");
    PCHECK_STR(err_of("set k 0 0 1 noreply x"), "ERROR");
    PCHECK_STR(err_of("cas k 0 0 1"), "ERROR");
    PCHECK_STR(err_of("cas k 0 0 1 abc"), fmt);
    PCHECK_STR(err_of("set k -1 0 1"), fmt);
    PCHECK_STR(err_of("set k 4294967296 0 1"), fmt);
    PCHECK_STR(err_of("set k 0x10 0 1"), fmt);
    PCHECK_STR(err_of("set k 0 abc 1"), fmt);
    PCHECK_STR(err_of("set k 0 0 -1"), fmt);
    PCHECK_STR(err_of("set k 0 0 1x"), fmt);
    PCHECK_STR(err_of("set k 0 0 2147483648"), fmt);
    PCHECK(parse("set k 0 0 2147483645")->cmd == PROTO_SET); /* INT_MAX - 2 */
    char longkey[300];
    memset(longkey, 'k', sizeof longkey);
    char line[400];
    snprintf(line, sizeof line, "set %.251s 0 0 1", longkey);
    PCHECK_STR(err_of(line), fmt);
    PCHECK(!req.has_value); /* a refused line swallows no data block, as in memcached */
    snprintf(line, sizeof line, "set %.250s 0 0 1", longkey);
    PCHECK(parse(line)->cmd == PROTO_SET && req.nkey == 250);
    snprintf(line, sizeof line, "set %.251s 0 0 1 noreply", longkey);
    PCHECK_STR(err_of(line), fmt);
    PCHECK(req.noreply);

    /* arithmetic, touch, delete */
    parse("incr n 5");
    PCHECK(req.cmd == PROTO_INCR && req.delta == 5 && key_is("n"));
    parse("decr n 18446744073709551615 noreply");
    PCHECK(req.cmd == PROTO_DECR && req.delta == UINT64_MAX && req.noreply);
    PCHECK_STR(err_of("incr n"), "ERROR");
    PCHECK_STR(err_of("incr n -1"), "CLIENT_ERROR invalid numeric delta argument");
    PCHECK_STR(err_of("incr n abc"), "CLIENT_ERROR invalid numeric delta argument");
    PCHECK_STR(err_of("incr n 18446744073709551616"), "CLIENT_ERROR invalid numeric delta argument");
    parse("touch k 10");
    PCHECK(req.cmd == PROTO_TOUCH && req.exptime == 10);
    PCHECK_STR(err_of("touch k abc"), exp);
    PCHECK_STR(err_of("touch k"), "ERROR");
    PCHECK_STR(err_of("touch a 0 noreply x"), "ERROR");
    PCHECK(parse("delete k")->cmd == PROTO_DELETE && key_is("k") && !req.noreply);
    PCHECK(parse("delete k 0")->cmd == PROTO_DELETE);
    PCHECK(parse("delete k noreply")->cmd == PROTO_DELETE && req.noreply);
    PCHECK(parse("delete k 0 noreply")->cmd == PROTO_DELETE && req.noreply);
    const char *usage = "CLIENT_ERROR bad command line format.  Usage: delete <key> [noreply]";
    PCHECK_STR(err_of("delete k 1"), usage);
    PCHECK_STR(err_of("delete k noreply x"), usage);
    PCHECK_STR(err_of("delete k x y"), usage);
    PCHECK_STR(err_of("delete"), "ERROR");
    PCHECK_STR(err_of("delete a b c d"), "ERROR");

    /* flush_all, verbosity, version, quit, stats */
    PCHECK(parse("flush_all")->cmd == PROTO_FLUSH_ALL && req.exptime == 0);
    PCHECK(parse("flush_all 10")->cmd == PROTO_FLUSH_ALL && req.exptime == 10);
    PCHECK(parse("flush_all noreply")->cmd == PROTO_FLUSH_ALL && req.noreply);
    PCHECK(parse("flush_all 5 noreply")->cmd == PROTO_FLUSH_ALL && req.exptime == 5 && req.noreply);
    PCHECK(parse("flush_all -1")->cmd == PROTO_FLUSH_ALL && req.exptime == -1);
    PCHECK_STR(err_of("flush_all abc"), exp);
    PCHECK_STR(err_of("flush_all 0 noreply x"), "ERROR");
    PCHECK(parse("verbosity 1")->cmd == PROTO_VERBOSITY && req.exptime == 1);
    PCHECK(parse("verbosity 1 noreply")->cmd == PROTO_VERBOSITY && req.noreply);
    PCHECK_STR(err_of("verbosity"), "ERROR");
    PCHECK_STR(err_of("verbosity abc"), fmt);
    PCHECK_STR(err_of("verbosity 1 2 3"), "ERROR");
    PCHECK(parse("version")->cmd == PROTO_VERSION);
    PCHECK(parse("version x")->cmd == PROTO_VERSION);
    PCHECK(parse("quit")->cmd == PROTO_QUIT);
    parse("stats  items ");
    PCHECK(req.cmd == PROTO_STATS && req.nargs == 5 && memcmp(req.args, "items", 5) == 0);
    PCHECK(parse("stats")->cmd == PROTO_STATS && req.nargs == 0);
    PCHECK_STR(err_of("shutdown"), "ERROR: shutdown not enabled");
    PCHECK_STR(err_of("cache_memlimit 100"), "MEMLIMIT_ADJUST_FAILED out of bounds or unable to adjust");

    /* at most 23 tokens: more is a wrong count for every fixed-arity command */
    PCHECK_STR(err_of("delete a b c d e f g h i j k l m n o p q r s t u v w x y z"), "ERROR");
}

static void test_meta(void)
{
    const char *fmt = "CLIENT_ERROR bad command line format";
    PCHECK(parse("mn")->cmd == PROTO_MN);
    PCHECK(parse("mn x y")->cmd == PROTO_MN);
    PCHECK_STR(err_of("mg"), "ERROR");
    PCHECK_STR(err_of("ms"), "ERROR");
    PCHECK_STR(err_of("md"), "ERROR");
    PCHECK_STR(err_of("ma"), "ERROR");
    PCHECK_STR(err_of("me"), fmt);

    parse("mg key s v f c k Oabc q T30 N10 u");
    PCHECK(req.cmd == PROTO_MG && key_is("key") && req.meta.value && req.meta.quiet &&
           req.meta.has_ttl && req.meta.ttl == 30 && req.meta.vivify && req.meta.vivify_ttl == 10);
    PCHECK(req.meta.nflags == 10 && req.meta.flags[0].flag == 's' && req.meta.flags[5].flag == 'O' &&
           req.meta.flags[5].ntoken == 3 && memcmp(req.meta.flags[5].token, "abc", 3) == 0);
    PCHECK(parse("mg key")->cmd == PROTO_MG && req.meta.nflags == 0);
    PCHECK_STR(err_of("mg key v v"), "CLIENT_ERROR duplicate flag");
    PCHECK_STR(err_of("mg key Z"), "CLIENT_ERROR invalid flag");
    PCHECK_STR(err_of("mg key T"), "CLIENT_ERROR bad token in command line format");
    PCHECK_STR(err_of("mg key Tabc"), "CLIENT_ERROR bad token in command line format");
    PCHECK_STR(err_of("mg key Nx"), "CLIENT_ERROR bad token in command line format");
    PCHECK_STR(err_of("mg key O123456789012345678901234567890123"), "CLIENT_ERROR opaque token too long");
    PCHECK(parse("mg key O1234567890123456789012345678901")->cmd == PROTO_MG); /* 32 with the O */
    PCHECK_STR(err_of("mg key a b c d e f g h i j k l m n o p q r"), "CLIENT_ERROR options flags are too long");
    PCHECK_STR(err_of("mg key \xff"), "CLIENT_ERROR duplicate flag");
    /* every flag of memcached 1.6.18 is served: h, l, t without T, R, u */
    PCHECK(parse("mg key t")->cmd == PROTO_MG && !req.meta.has_ttl);
    PCHECK(parse("mg key T10 t")->cmd == PROTO_MG && req.meta.has_ttl && req.meta.ttl == 10);
    PCHECK(parse("mg key h l u")->cmd == PROTO_MG && req.meta.no_bump && req.meta.nflags == 3);
    PCHECK(parse("mg key R10")->cmd == PROTO_MG && req.meta.has_recache && req.meta.recache == 10);
    PCHECK_STR(err_of("mg key Rx"), "CLIENT_ERROR bad token in command line format");
    PCHECK_STR(err_of("mg key E5"), "CLIENT_ERROR invalid flag"); /* E came after 1.6.18 */
    char line[400], longkey[300];
    memset(longkey, 'a', sizeof longkey);
    snprintf(line, sizeof line, "mg %.251s v", longkey);
    PCHECK_STR(err_of(line), fmt);

    /* base64 keys */
    parse("mg Zm9v b v k");
    PCHECK(req.cmd == PROTO_MG && req.meta.base64 && key_is("foo"));
    PCHECK_STR(err_of("mg Zm9 b"), "CLIENT_ERROR error decoding key");
    parse("me Zm9v b");
    PCHECK(req.cmd == PROTO_ME && key_is("foo") && req.meta.base64);
    PCHECK_STR(err_of("me Zm9 b"), fmt);
    PCHECK(parse("me key")->cmd == PROTO_ME && key_is("key"));

    /* ms: the length comes first, then flags; an error after the length swallows the block */
    parse("ms key 5 T10 F3 c k O1 q MA");
    PCHECK(req.cmd == PROTO_MS && req.vlen == 5 && req.has_value && req.meta.ttl == 10 &&
           req.meta.client_flags == 3 && req.meta.quiet && req.meta.mode == 'A');
    PCHECK_STR(err_of("ms key"), fmt);
    PCHECK_STR(err_of("ms key S2"), fmt);
    PCHECK(!req.has_value);
    PCHECK_STR(err_of("ms key -1"), fmt);
    PCHECK_STR(err_of("ms key 2 Z"), "CLIENT_ERROR invalid flag");
    PCHECK(req.has_value && req.vlen == 2);
    PCHECK_STR(err_of("ms key 2 c c"), "CLIENT_ERROR duplicate flag");
    PCHECK(req.has_value);
    PCHECK_STR(err_of("ms key 2 MX"), "CLIENT_ERROR invalid mode for ms M token");
    PCHECK(req.has_value);
    PCHECK_STR(err_of("ms key 2 MEE"), "CLIENT_ERROR incorrect length for M token");
    PCHECK_STR(err_of("ms key 2 Fabc"), fmt);
    PCHECK_STR(err_of("ms key 2 F-1"), fmt);
    PCHECK_STR(err_of("ms key 2 Cx"), "CLIENT_ERROR bad token in command line format");
    PCHECK_STR(err_of("ms key 2 a b c d e f g h i j k l m n o p q"), "CLIENT_ERROR options flags too long");
    PCHECK(parse("ms key 2 I")->cmd == PROTO_MS && req.meta.invalidate && req.has_value);
    PCHECK(parse("ms key 2 C5 MA")->cmd == PROTO_MS && req.meta.has_cas && req.meta.mode == 'A');
    parse("ms key 2 C5 MR");
    PCHECK(req.cmd == PROTO_MS && req.meta.has_cas && req.meta.cas == 5);

    /* md and ma report every flag problem as "invalid or duplicate flag" */
    parse("md key q k O9");
    PCHECK(req.cmd == PROTO_MD && req.meta.quiet && req.meta.nflags == 3);
    PCHECK_STR(err_of("md key x"), "CLIENT_ERROR invalid or duplicate flag");
    PCHECK_STR(err_of("md key q q"), "CLIENT_ERROR invalid or duplicate flag");
    PCHECK_STR(err_of("md key Tx"), "CLIENT_ERROR invalid or duplicate flag");
    PCHECK_STR(err_of("md key O123456789012345678901234567890123"), "CLIENT_ERROR opaque token too long");
    PCHECK(parse("md key I T30")->cmd == PROTO_MD && req.meta.invalidate && req.meta.ttl == 30);
    PCHECK(parse("md key C5")->cmd == PROTO_MD && req.meta.has_cas && req.meta.cas == 5);
    parse("ma key N0 J10 D5 MD v c T20 t");
    PCHECK(req.cmd == PROTO_MA && req.meta.vivify && req.meta.initial == 10 &&
           req.meta.delta == 5 && req.meta.mode == 'D' && req.meta.value);
    PCHECK(parse("ma key")->cmd == PROTO_MA && req.meta.delta == 1 && req.meta.mode == 0);
    PCHECK_STR(err_of("ma key Dabc"), "CLIENT_ERROR invalid or duplicate flag");
    PCHECK_STR(err_of("ma key Jabc"), "CLIENT_ERROR invalid or duplicate flag");
    PCHECK_STR(err_of("ma key Mx"), "CLIENT_ERROR invalid mode for ma M token");
    PCHECK(parse("ma key M+")->cmd == PROTO_MA);
    PCHECK(parse("ma key M-")->cmd == PROTO_MA);
    PCHECK(parse("ma key t C7")->cmd == PROTO_MA && req.meta.has_cas && req.meta.cas == 7);
}

static void test_outbuf(void)
{
    proto_out o = {0};
    proto_out_line(&o, "STORED");
    PCHECK(o.len == 8 && memcmp(o.buf, "STORED\r\n", 8) == 0);
    proto_out_str(&o, "END");
    PCHECK(proto_out_pending(&o) == 11);
    proto_out_consumed(&o, 5);
    PCHECK(proto_out_pending(&o) == 6 && o.sent == 5);
    proto_out_consumed(&o, 6);
    PCHECK(o.len == 0 && o.sent == 0);
    char big[100000];
    memset(big, 'v', sizeof big);
    proto_out_add(&o, big, sizeof big);
    PCHECK(o.len == sizeof big && !o.failed);
    proto_out_consumed(&o, sizeof big);
    proto_out_trim(&o, 65536);
    PCHECK(o.buf == NULL && o.cap == 0);
    proto_out_free(&o);
}

int main(void)
{
    test_numbers();
    test_base64();
    test_framing();
    test_text_commands();
    test_meta();
    test_outbuf();
    return pc_finish();
}
