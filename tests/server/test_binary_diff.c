/* test_binary_diff.c — the binary protocol against the real memcached 1.6.18, byte for byte.
 *
 * Each case is a stream of request packets sent on one fresh connection (after a FLUSH on
 * another) to a private shmcd and to a private memcached (Debian's /usr/bin/memcached, or
 * $MEMCACHED), followed by a NOOP whose opaque marks the end; the reply packets must be
 * equal byte for byte, except where two servers must differ: a cas value is compared only
 * as zero or not, and VERSION's text is shmcd's own.  Cases cover every opcode memcached
 * 1.6 serves and their quiet forms, pipelining, requests split across many writes,
 * malformed headers (which close the connection, as memcached's) and oversize bodies.
 * Without memcached 1.6.18 the test says so and is skipped (77). */
#include <stdint.h>

#include "binary_packet.h"
#include "harness.h"
#include "memcached_ref.h"

static void store(buf *b, uint8_t op, const char *key, const char *val, uint32_t flags,
                  uint32_t exptime, uint64_t cas, uint32_t opaque)
{
    unsigned char ext[8];
    be(ext, flags, 4);
    be(ext + 4, exptime, 4);
    req(b, op, ext, 8, key, val, strlen(val), cas, opaque);
}

static void key_only(buf *b, uint8_t op, const char *key, uint64_t cas, uint32_t opaque)
{
    req(b, op, NULL, 0, key, NULL, 0, cas, opaque);
}

static void arith(buf *b, uint8_t op, const char *key, uint64_t delta, uint64_t initial,
                  uint32_t exptime, uint32_t opaque)
{
    unsigned char ext[20];
    be(ext, delta, 8);
    be(ext + 8, initial, 8);
    be(ext + 16, exptime, 4);
    req(b, op, ext, 20, key, NULL, 0, 0, opaque);
}

static void touch(buf *b, uint8_t op, const char *key, uint32_t exptime, uint32_t opaque)
{
    unsigned char ext[4];
    be(ext, exptime, 4);
    req(b, op, ext, 4, key, NULL, 0, 0, opaque);
}

static void bare(buf *b, uint8_t op, uint32_t opaque)
{
    req(b, op, NULL, 0, NULL, NULL, 0, 0, opaque);
}

enum {
    GET = 0x00, SET, ADD, REPLACE, DELETE, INCR, DECR, QUIT, FLUSH, GETQ, NOOP, VERSION, GETK,
    GETKQ, APPEND, PREPEND, STAT, SETQ, ADDQ, REPLACEQ, DELETEQ, INCRQ, DECRQ, QUITQ, FLUSHQ,
    APPENDQ, PREPENDQ, VERBOSITY, TOUCH, GAT, GATQ, SASL_LIST = 0x20, SASL_AUTH, SASL_STEP,
    GATK, GATKQ
};

/* ---- the cases ---- */

static void case_gets(buf *b)
{
    key_only(b, GET, "nope", 0, 1);
    key_only(b, GETQ, "nope", 0, 2);
    key_only(b, GETK, "nope", 0, 3);
    key_only(b, GETKQ, "nope", 0, 4);
    store(b, SET, "k", "value", 0xdeadbeef, 0, 0, 5);
    key_only(b, GET, "k", 0, 6);
    key_only(b, GETQ, "k", 0, 7);
    key_only(b, GETK, "k", 0, 8);
    key_only(b, GETKQ, "k", 0, 9);
    store(b, SET, "empty", "", 0, 0, 0, 10);
    key_only(b, GETK, "empty", 0, 11);
}

static void case_stores(buf *b)
{
    store(b, ADD, "a", "1", 1, 0, 0, 1);
    store(b, ADD, "a", "2", 2, 0, 0, 2);
    store(b, ADDQ, "a", "2", 2, 0, 0, 3);
    store(b, ADDQ, "a2", "2", 2, 0, 0, 4);
    store(b, REPLACE, "r", "1", 0, 0, 0, 5);
    store(b, REPLACEQ, "r", "1", 0, 0, 0, 6);
    store(b, REPLACE, "a", "3", 3, 0, 0, 7);
    store(b, REPLACEQ, "a2", "4", 4, 0, 0, 8);
    store(b, SETQ, "s", "x", 9, 0, 0, 9);
    key_only(b, GETK, "a", 0, 10);
    key_only(b, GETK, "a2", 0, 11);
    key_only(b, GETK, "s", 0, 12);
    req(b, APPEND, NULL, 0, "s", "yz", 2, 0, 13);
    req(b, PREPEND, NULL, 0, "s", "w", 1, 0, 14);
    req(b, APPENDQ, NULL, 0, "s", "!", 1, 0, 15);
    req(b, PREPENDQ, NULL, 0, "s", "^", 1, 0, 16);
    req(b, APPEND, NULL, 0, "none", "yz", 2, 0, 17);
    req(b, PREPENDQ, NULL, 0, "none", "yz", 2, 0, 18);
    key_only(b, GET, "s", 0, 19);
    key_only(b, GET, "none", 0, 20);
}

static void case_cas(buf *b)
{
    store(b, SET, "c", "v", 0, 0, 0x1234567890ull, 1); /* cas on a missing key */
    store(b, ADD, "c", "v", 0, 0, 77, 2);
    store(b, SET, "c", "v", 0, 0, 0, 3);
    store(b, SET, "c", "w", 0, 0, 0x1234567890ull, 4); /* a wrong cas */
    store(b, REPLACEQ, "c", "w", 0, 0, 0x1234567890ull, 5);
    req(b, APPEND, NULL, 0, "c", "x", 1, 0x1234567890ull, 6);
    key_only(b, DELETE, "c", 0x1234567890ull, 7);
    key_only(b, GET, "c", 0, 8);
    arith(b, INCR, "c", 1, 0, 0, 9);
}

static void case_delete(buf *b)
{
    store(b, SET, "d", "v", 0, 0, 0, 1);
    key_only(b, DELETE, "d", 0, 2);
    key_only(b, DELETE, "d", 0, 3);
    store(b, SET, "d", "v", 0, 0, 0, 4);
    key_only(b, DELETEQ, "d", 0, 5);
    key_only(b, DELETEQ, "d", 0, 6);
    key_only(b, GET, "d", 0, 7);
}

static void case_arith(buf *b)
{
    arith(b, INCR, "n", 1, 5, 0xffffffffu, 1); /* a miss, not created */
    arith(b, DECR, "n", 1, 5, 0xffffffffu, 2);
    arith(b, INCRQ, "n", 1, 5, 0xffffffffu, 3);
    arith(b, INCR, "n", 1, 5, 0, 4); /* created with the initial value */
    arith(b, INCR, "n", 10, 5, 0, 5);
    arith(b, DECR, "n", 3, 5, 0, 6);
    arith(b, DECR, "n", 100, 5, 0, 7); /* floors at 0 */
    arith(b, INCRQ, "n", 7, 0, 0, 8);
    arith(b, DECRQ, "n", 2, 0, 0, 9);
    arith(b, INCR, "n", 0, 0, 0, 10);
    arith(b, INCR, "n", UINT64_MAX, 0, 0, 11); /* wraps */
    store(b, SET, "t", "text", 0, 0, 0, 12);
    arith(b, INCR, "t", 1, 0, 0, 13);
    arith(b, INCRQ, "t", 1, 0, 0, 14);
    arith(b, DECRQ, "m", 1, 9, 0, 15); /* quietly created */
    key_only(b, GETK, "m", 0, 16);
    store(b, SET, "big", "18446744073709551615", 0, 0, 0, 17);
    arith(b, INCR, "big", 2, 0, 0, 18); /* wraps (what it stores is the text protocol's) */
}

static void case_touch(buf *b)
{
    touch(b, TOUCH, "nope", 100, 1);
    touch(b, GAT, "nope", 100, 2);
    touch(b, GATQ, "nope", 100, 3);
    touch(b, GATK, "nope", 100, 4);
    touch(b, GATKQ, "nope", 100, 5);
    store(b, SET, "g", "val", 42, 0, 0, 6);
    touch(b, TOUCH, "g", 100, 7);
    touch(b, GAT, "g", 100, 8);
    touch(b, GATQ, "g", 100, 9);
    touch(b, GATK, "g", 100, 10);
    touch(b, GATKQ, "g", 100, 11);
    store(b, SET, "h", "val", 1, 0, 0, 12);
    touch(b, GAT, "h", 0xffffffffu - 10, 13); /* an absolute time, far ahead */
    key_only(b, GET, "h", 0, 14);
}

static void case_flush(buf *b)
{
    store(b, SET, "f", "1", 0, 0, 0, 1);
    bare(b, FLUSH, 2);
    key_only(b, GET, "f", 0, 3);
    store(b, SET, "f", "1", 0, 0, 0, 4);
    bare(b, FLUSHQ, 5);
    key_only(b, GET, "f", 0, 6);
    unsigned char ext[4] = {0, 0, 0, 0};
    req(b, FLUSH, ext, 4, NULL, NULL, 0, 0, 7);
    be(ext, 1000, 4); /* later: items stay until then */
    store(b, SET, "f", "1", 0, 0, 0, 8);
    req(b, FLUSHQ, ext, 4, NULL, NULL, 0, 0, 9);
    key_only(b, GET, "f", 0, 10);
    be(ext, 0, 4);
    req(b, FLUSH, ext, 4, NULL, NULL, 0, 0, 11);
}

static void case_misc(buf *b)
{
    bare(b, NOOP, 1);
    bare(b, VERSION, 2);
    bare(b, SASL_LIST, 3); /* no -S: unknown */
    req(b, SASL_AUTH, NULL, 0, "PLAIN", "\0u\0p", 4, 0, 4);
    /* an unknown opcode: its body is discarded (memcached discards as many bytes again as
     * the extras and key held, so those are left out here; see binary_divergences) */
    req(b, 0x30, NULL, 0, NULL, "junkjunk", 8, 0, 6);
    raw(b, 0x80, 0xfe, 0, 0, 0, 7, 0);
    key_only(b, STAT, "bogus", 0, 8);
    key_only(b, STAT, "reset", 0, 9);
    bare(b, NOOP, 10);
}

/* Quiet gets answer hits only; a NOOP ends the batch (memcached's multi-get idiom). */
static void case_quiet_batch(buf *b)
{
    store(b, SETQ, "q1", "one", 1, 0, 0, 1);
    store(b, SETQ, "q3", "three", 3, 0, 0, 2);
    for (int i = 0; i < 5; i++) {
        char k[8];
        snprintf(k, sizeof k, "q%d", i);
        key_only(b, i % 2 ? GETKQ : GETQ, k, 0, (uint32_t)(10 + i));
    }
    bare(b, NOOP, 20);
    key_only(b, GETKQ, "q0", 0, 21);
    key_only(b, GETK, "q0", 0, 22);
}

static void case_large(buf *b)
{
    static char big[600001];
    for (size_t i = 0; i < sizeof big - 1; i++) big[i] = (char)('a' + i % 26);
    store(b, SET, "L", big, 7, 0, 0, 1);
    key_only(b, GETK, "L", 0, 2);
    req(b, APPEND, NULL, 0, "L", big, 600000, 0, 3); /* grows past 1 MiB: not stored */
    key_only(b, GET, "L", 0, 4);
}

/* A value over the item limit: refused before it is read, its body discarded; a set drops
 * the old value. */
static void case_oversize(buf *b)
{
    store(b, SET, "o", "old", 0, 0, 0, 1);
    size_t n = (1u << 20) + 1;
    char *v = malloc(n + 1);
    memset(v, 'x', n);
    v[n] = 0;
    store(b, SET, "o", v, 0, 0, 0, 2);
    store(b, ADDQ, "o2", v, 0, 0, 0, 3);
    req(b, APPEND, NULL, 0, "o", v, n, 0, 4);
    free(v);
    key_only(b, GET, "o", 0, 5);
}

/* The rest close the connection; what came before them is answered. */
static void case_quit(buf *b)
{
    bare(b, NOOP, 1);
    bare(b, QUIT, 2);
    bare(b, NOOP, 3);
}

static void case_quitq(buf *b)
{
    bare(b, NOOP, 1);
    bare(b, QUITQ, 2);
    bare(b, NOOP, 3);
}

static void case_bad_magic(buf *b)
{
    bare(b, NOOP, 1);
    raw(b, 0x81, NOOP, 0, 0, 0, 2, 0);
}

static void case_get_with_extras(buf *b)
{
    unsigned char ext[4] = {1, 2, 3, 4};
    req(b, GET, ext, 4, "k", NULL, 0, 0, 1);
    bare(b, NOOP, 2);
}

static void case_short_body(buf *b)
{
    raw(b, 0x80, GET, 5, 0, 3, 1, 0);
    put(b, "abcde", 5);
    bare(b, NOOP, 2);
}

static void case_long_key(buf *b)
{
    char k[252];
    memset(k, 'k', 251);
    k[251] = 0;
    key_only(b, GET, k, 0, 1);
    bare(b, NOOP, 2);
}

static void case_bad_lengths(buf *b)
{
    store(b, SET, "x", "1", 0, 0, 0, 1);
    req(b, VERSION, NULL, 0, "k", NULL, 0, 0, 2); /* version with a key */
    bare(b, NOOP, 3);
}

static void case_set_no_key(buf *b)
{
    unsigned char ext[8] = {0};
    req(b, SET, ext, 8, NULL, "v", 1, 0, 1);
}

static void case_incr_bad_extras(buf *b)
{
    unsigned char ext[8] = {0};
    req(b, INCR, ext, 8, "n", NULL, 0, 0, 1);
}

/* Keys of any bytes, as memcached takes them: space, TAB, NUL, newline, CR, DEL. */
static const struct {
    const char *k;
    size_t n;
} odd_keys[] = {{"a b", 3},  {"t\tab", 4}, {"n\0ul", 4}, {"nl\nx", 4},
                {"\0", 1},   {" ", 1},     {"cr\r\n\x7f", 5}};
#define NODD (sizeof odd_keys / sizeof odd_keys[0])

/* A request on the odd key i (extras ext[0..next), value val[0..nval)). */
static void odd_req(buf *b, uint8_t op, size_t i, const unsigned char *ext, uint8_t next,
                    const char *val, size_t nval, uint32_t opaque)
{
    size_t n = odd_keys[i].n;
    raw(b, 0x80, op, (uint16_t)n, next, (uint32_t)(next + n + nval), opaque, 0);
    if (next) put(b, ext, next);
    put(b, odd_keys[i].k, n);
    if (nval) put(b, val, nval);
}

static void case_key_bytes(buf *b)
{
    unsigned char ext[8] = {0, 0, 0, 7, 0, 0, 0, 0}; /* flags 7, no expiry */
    uint32_t opaque = 1;
    for (size_t i = 0; i < NODD; i++) {
        char v = (char)('A' + i);
        odd_req(b, SET, i, ext, 8, &v, 1, opaque++);
    }
    for (size_t i = 0; i < NODD; i++) odd_req(b, GETK, i, NULL, 0, NULL, 0, opaque++);
    for (size_t i = 0; i < NODD; i++) odd_req(b, GET, i, NULL, 0, NULL, 0, opaque++);
    key_only(b, GETK, "n", 0, opaque++); /* the bytes before a NUL are another key */
    key_only(b, GETK, "a", 0, opaque++);
    odd_req(b, DELETE, 0, NULL, 0, NULL, 0, opaque++);
    odd_req(b, GETK, 0, NULL, 0, NULL, 0, opaque++);
    odd_req(b, GETK, 1, NULL, 0, NULL, 0, opaque++);
}

static const struct bcase {
    const char *name;
    void (*build)(buf *b);
    bool closes;
    int split; /* send in pieces of this many bytes; 0: one write */
} cases[] = {
    {"gets", case_gets, false, 0},
    {"keys of any bytes", case_key_bytes, false, 0},
    {"stores", case_stores, false, 0},
    {"stores split", case_stores, false, 7},
    {"cas", case_cas, false, 0},
    {"delete", case_delete, false, 0},
    {"arith", case_arith, false, 0},
    {"arith split", case_arith, false, 1},
    {"touch and gat", case_touch, false, 0},
    {"flush", case_flush, false, 0},
    {"misc", case_misc, false, 0},
    {"misc split", case_misc, false, 5},
    {"quiet batch", case_quiet_batch, false, 0},
    {"large", case_large, false, 0},
    {"oversize", case_oversize, false, 0},
    {"quit", case_quit, true, 0},
    {"quitq", case_quitq, true, 0},
    {"bad magic", case_bad_magic, true, 0},
    {"get with extras", case_get_with_extras, true, 0},
    {"key and extras longer than the body", case_short_body, true, 0},
    {"key over 250 bytes", case_long_key, true, 0},
    {"version with a key", case_bad_lengths, true, 0},
    {"set without a key", case_set_no_key, true, 0},
    {"incr with 8 bytes of extras", case_incr_bad_extras, true, 0},
};

/* ---- running and comparing ---- */

static bool send_split(int fd, const unsigned char *p, size_t n, int split)
{
    if (split == 0) return h_send_all(fd, p, n);
    for (size_t off = 0; off < n; off += (size_t)split) {
        size_t len = n - off < (size_t)split ? n - off : (size_t)split;
        if (!h_send_all(fd, p + off, len)) return false;
        if ((off / (size_t)split) % 16 == 0) h_sleep_ms(1);
    }
    return true;
}

/* Read reply packets until the end-marking NOOP's reply, or the peer closes (10 s of quiet
 * at most).  Returns the bytes read, "<closed>" appended when the peer closed. */
static size_t read_replies(int fd, buf *got) { return read_until_end(fd, got, false); }

static void run(int port, const shmcd_proc *s, const struct bcase *c, buf *got)
{
    int fd = s ? h_connect(s) : h_connect_tcp(port);
    got->n = 0;
    if (fd < 0) return;
    buf flush = {0};
    bare(&flush, FLUSH, 0);
    bare(&flush, NOOP, BIN_END_OPAQUE);
    h_send_all(fd, flush.p, flush.n);
    read_replies(fd, got);
    free(flush.p);
    close(fd);

    fd = s ? h_connect(s) : h_connect_tcp(port);
    if (fd < 0) return;
    buf b = {0};
    c->build(&b);
    bare(&b, NOOP, BIN_END_OPAQUE);
    send_split(fd, b.p, b.n, c->split);
    read_replies(fd, got);
    free(b.p);
    close(fd);
}

/* Mask what must differ: a non-zero cas becomes 1; VERSION's text becomes "V". */
static void mask(buf *g)
{
    size_t off = 0;
    while (off + 24 <= g->n) {
        unsigned char *h = g->p + off;
        if (h[0] != 0x81) break;
        uint32_t body = bin_body(h);
        if (off + 24 + body > g->n) break;
        bool nonzero = false;
        for (int i = 16; i < 24; i++) nonzero |= h[i] != 0;
        memset(h + 16, 0, 8);
        h[23] = nonzero;
        if (h[1] == VERSION && h[6] == 0 && h[7] == 0 && body > 0) {
            memmove(h + 24 + 1, h + 24 + body, g->n - off - 24 - body);
            g->n -= body - 1;
            h[24] = 'V';
            body = 1;
            be(h + 8, 1, 4);
        }
        off += 24 + body;
    }
}

static void dump(const char *who, const buf *g)
{
    fprintf(stderr, "  %s (%zu bytes):", who, g->n);
    size_t off = 0;
    while (off + 24 <= g->n) {
        const unsigned char *h = g->p + off;
        uint32_t body = bin_body(h);
        fprintf(stderr, "\n    op %02x status %02x%02x key %u ext %u body %u opaque %02x%02x%02x%02x cas %u",
                h[1], h[6], h[7], h[2] << 8 | h[3], h[4], body, h[12], h[13], h[14], h[15], h[23]);
        if (body < 64 && off + 24 + body <= g->n) fprintf(stderr, " [%.*s]", (int)body, (const char *)h + 24);
        off += 24 + body;
        if (off > g->n) break;
    }
    if (off < g->n) fprintf(stderr, "\n    tail: %.*s", (int)(g->n - off), (const char *)g->p + off);
    fputc('\n', stderr);
}

/* A cas read from one reply makes the next request succeed, on both servers. */
static bool cas_exchange(int port, const shmcd_proc *s)
{
    int fd = s ? h_connect(s) : h_connect_tcp(port);
    if (fd < 0) return false;
    buf b = {0}, got = {0};
    store(&b, SET, "cx", "v1", 0, 0, 0, 1);
    bare(&b, NOOP, BIN_END_OPAQUE);
    h_send_all(fd, b.p, b.n);
    read_replies(fd, &got);
    bool ok = got.n >= 48 && got.p[7] == 0;
    uint64_t cas = 0;
    for (int i = 16; i < 24 && ok; i++) cas = cas << 8 | got.p[i];
    b.n = 0;
    store(&b, SET, "cx", "v2", 0, 0, cas, 2);
    store(&b, SET, "cx", "v3", 0, 0, cas, 3); /* the cas has moved on */
    bare(&b, NOOP, BIN_END_OPAQUE);
    h_send_all(fd, b.p, b.n);
    read_replies(fd, &got);
    ok = ok && got.n == 24 + 24 + 20 + 24 && got.p[7] == 0 && got.p[24 + 7] == 2;
    free(b.p);
    free(got.p);
    close(fd);
    return ok;
}

/* STAT: one packet per statistic, then an empty one; every one echoes opcode and opaque. */
static bool stat_shape(int port, const shmcd_proc *s, const char *group, const char *must)
{
    int fd = s ? h_connect(s) : h_connect_tcp(port);
    if (fd < 0) return false;
    buf b = {0}, got = {0};
    req(&b, STAT, NULL, 0, group, NULL, 0, 0, 0x55);
    bare(&b, NOOP, BIN_END_OPAQUE);
    h_send_all(fd, b.p, b.n);
    read_replies(fd, &got);
    close(fd);
    bool ok = true, found = false, ended = false;
    size_t off = 0;
    while (off + 24 <= got.n && !ended) {
        const unsigned char *h = got.p + off;
        uint32_t body = bin_body(h);
        unsigned klen = h[2] << 8 | h[3];
        ok &= h[0] == 0x81 && h[1] == STAT && h[6] == 0 && h[7] == 0 && h[15] == 0x55 &&
              klen <= body;
        if (klen == strlen(must) && memcmp(h + 24, must, klen) == 0) found = true;
        ended = body == 0;
        off += 24 + body;
    }
    free(b.p);
    free(got.p);
    return ok && found && ended;
}

/* Where shmcd answers differently on purpose (docs/shmcd.md): an unknown opcode's body is
 * discarded exactly, extras and key included, so the stream stays in step; memcached
 * discards as many bytes again, eating into the next request (VERBOSITY, which it does not
 * serve, is one such opcode: libmemcached sends it with 4 bytes of extras). */
static bool binary_divergences(const shmcd_proc *s)
{
    int fd = h_connect(s);
    if (fd < 0) return false;
    buf b = {0}, got = {0}, want = {0};
    unsigned char v[4] = {0, 0, 0, 1};
    req(&b, VERBOSITY, v, 4, NULL, NULL, 0, 0, 1);
    req(&b, 0x31, v, 4, "kk", "junk", 4, 0, 2);
    bare(&b, NOOP, BIN_END_OPAQUE);
    h_send_all(fd, b.p, b.n);
    read_replies(fd, &got);
    close(fd);
    static const char unknown[] = "Unknown command";
    unsigned char h[24] = {0x81, VERBOSITY, 0, 0, 0, 0, 0, 0x81, 0, 0, 0, 15, 0, 0, 0, 1};
    put(&want, h, 24);
    put(&want, unknown, 15);
    h[1] = 0x31;
    h[15] = 2;
    put(&want, h, 24);
    put(&want, unknown, 15);
    memset(h, 0, sizeof h);
    h[0] = 0x81;
    h[1] = NOOP;
    be(h + 12, BIN_END_OPAQUE, 4);
    put(&want, h, 24);
    bool ok = got.n == want.n && memcmp(got.p, want.p, got.n) == 0;
    if (!ok) dump("shmcd", &got);
    free(b.p);
    free(got.p);
    free(want.p);
    return ok;
}

/* Items stored over the binary protocol with keys of any bytes, then read over the text
 * protocol as meta base64 keys (without `k`: memcached answers the raw bytes of a key stored
 * over the binary protocol, shmcd the request's base64): the reply (up to "MN"), or "" when
 * the server is not up.  (memcached's cachedump lists only its COLD LRU, which such items
 * reach at a time of its own: test_protocol_exec checks shmcd's listing of them.) */
static void binary_then_meta(int port, const shmcd_proc *s, char *reply, size_t cap)
{
    buf b = {0}, got = {0};
    reply[0] = 0;
    case_key_bytes(&b);
    bare(&b, NOOP, BIN_END_OPAQUE);
    int fd = s ? h_connect(s) : h_connect_tcp(port);
    if (fd < 0) return;
    h_send_all(fd, b.p, b.n);
    read_replies(fd, &got);
    close(fd);
    free(b.p);
    free(got.p);
    /* "a b" was deleted; "t\tab", "n\0ul", "nl\nx", "\0", " ", "cr\r\n\x7f" are there */
    static const char req[] = "mg YSBi b v f\r\nmg dAlhYg== b v f t\r\nmg bgB1bA== b v\r\n"
                              "mg bmwKeA== b v\r\nmg AA== b v s\r\nmg IA== b v\r\n"
                              "mg Y3INCn8= b v\r\nmg bg== b v\r\nma bmwKeA== b\r\n"
                              "md IA== b q\r\nmg IA== b v\r\nmn\r\n";
    fd = s ? h_connect(s) : h_connect_tcp(port);
    if (fd < 0) return;
    h_roundtrip(fd, req, sizeof req - 1, "MN\r\n", reply, cap);
    close(fd);
}

/* -B ascii: a binary request is a text line, as memcached -B ascii reads it. */
static bool ascii_only(void)
{
    shmcd_proc s;
    const char *extra[] = {"-m", "16", "-t", "1", "-B", "ascii", NULL};
    if (!h_start_argv(&s, t_path("cache-ascii"), true, NULL, extra)) return false;
    int fd = h_connect(&s);
    buf b = {0};
    key_only(&b, GET, "k", 0, 1); /* (a NOOP's opcode byte is a newline) */
    put(&b, "\r\n", 2);
    char reply[64];
    size_t n = fd < 0 ? 0 : h_roundtrip(fd, (const char *)b.p, b.n, "\r\n", reply, sizeof reply);
    close(fd);
    free(b.p);
    h_stop(&s);
    return n == 7 && memcmp(reply, "ERROR\r\n", 7) == 0;
}

static void compare(const shmcd_proc *s)
{
    buf want = {0}, got = {0};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        run(mc_port, NULL, &cases[i], &want);
        run(0, s, &cases[i], &got);
        mask(&want);
        mask(&got);
        bool closed = got.n >= 8 && memcmp(got.p + got.n - 8, "<closed>", 8) == 0;
        bool ok = want.n > 0 && want.n == got.n && memcmp(want.p, got.p, got.n) == 0 &&
                  closed == cases[i].closes;
        CHECK(ok);
        if (!ok || getenv("SHOWDIFF")) {
            fprintf(stderr, "case %s:\n", cases[i].name);
            dump("memcached", &want);
            dump("shmcd", &got);
        }
    }
    free(want.p);
    free(got.p);
    static char mc_meta[4096], sh_meta[4096];
    binary_then_meta(mc_port, NULL, mc_meta, sizeof mc_meta);
    binary_then_meta(0, s, sh_meta, sizeof sh_meta);
    CHECK(mc_meta[0] && strcmp(mc_meta, sh_meta) == 0);
    if (strcmp(mc_meta, sh_meta) || getenv("SHOWDIFF"))
        fprintf(stderr, "binary keys read as meta base64 keys:\n  memcached: %s\n  shmcd: %s\n",
                mc_meta, sh_meta);
    CHECK(cas_exchange(mc_port, NULL));
    CHECK(cas_exchange(0, s));
    static const char *const groups[][2] = {
        {"", "curr_items"}, {"settings", "item_size_max"}, {"items", NULL},
        {"slabs", "active_slabs"},
    };
    for (size_t i = 0; i < sizeof groups / sizeof groups[0]; i++) {
        const char *must = groups[i][1];
        if (!must) continue;
        CHECK(stat_shape(mc_port, NULL, groups[i][0], must));
        bool ok = stat_shape(0, s, groups[i][0], must);
        CHECK(ok);
        if (!ok) fprintf(stderr, "stat '%s' lacks %s\n", groups[i][0], must);
    }
    CHECK(binary_divergences(s));
}

static void check_ascii_only(void) { CHECK(ascii_only()); }

int main(void)
{
    static const char *const extra[] = {"-m", "16", "-t", "2", NULL};
    return diff_main("binary_diff", extra, true, compare, check_ascii_only);
}
