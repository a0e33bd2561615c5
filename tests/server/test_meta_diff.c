/* test_meta_diff.c — the meta commands against the real memcached 1.6.18, byte for byte.
 *
 * Each case is a sequence of requests sent on one fresh connection after a flush_all, to a
 * private shmcd and to a private memcached (Debian's /usr/bin/memcached, or $MEMCACHED),
 * and ended with "mn"; the two replies must be equal, token by token, except where values
 * must differ between two servers: cas values (c<n>, cas=<n>) and last-access times (l<n>,
 * la=<n>) are masked, and TTLs (t<n>, exp=-<n>) may differ by one second (memcached's clock
 * ticks apart from ours).  Without memcached 1.6.18 the test says so and is skipped (77).
 * SHOWDIFF=1 prints both replies of every case. */
#include <stdint.h>

#include "harness.h"
#include "memcached_ref.h"

static const char *const cases[] = {
    /* mg: every return flag on a hit, h and l before the fetch, t before and after T, u */
    "ms a 2 T100 F5\r\nhi\r\nmg a s v f t c k Oq h l\r\nmg a h l t\r\nmg a t T50\r\n"
    "mg a T70 t\r\nmg a u h\r\nmg a h\r\nmg a t T0 v\r\nmg a t\r\n",
    /* mg misses, quiet and not, with and without flags */
    "mg zz v\r\nmg zz t\r\nmg zz h l\r\nmg zz v q k\r\nmg zz k Oxx\r\nmg zz s v q\r\n",
    /* the stampede: N misses, one W then Z; the winner stores; I; the next fetcher gets W
     * and X, the others X and Z, until the new value is stored */
    "mg s N30 v c t\r\nmg s N30 v c t\r\nmg s v t s\r\nms s 3 T60\r\nnew\r\nmg s v t N30\r\n"
    "md s I\r\nmg s v c\r\nmg s v c\r\nmg s v N30\r\nmg s v q\r\nms s 4\r\nnewr\r\nmg s v N30\r\n",
    /* N with h, l, t in either order; N with T */
    "mg w N0 h l t\r\nmg w N0 h l t\r\nmg x t N40\r\nmg y N40 t T80\r\nmg y t\r\n",
    /* N and T on a created item apply in the request's order: the later TTL stays, and a t
     * between them shows the earlier one's (mg and ma alike) */
    "mg a1 N30 T60 t\r\nmg a1 t\r\nmg a2 T60 N30 t\r\nmg a2 t\r\nmg a3 N30 t T60\r\nmg a3 t\r\n"
    "mg a4 t N30 T60\r\nmg a4 t\r\nmg a5 T60 t N30\r\nmg a5 t\r\nmg a5 T90 N10 t\r\nmg a5 t\r\n"
    "ma c1 N30 T60 t\r\nmg c1 t\r\nma c2 T60 N30 t\r\nmg c2 t\r\nma c3 T60 t N30 J4 v\r\n"
    "mg c3 t\r\nms c4 1 T30\r\n4\r\nma c4 T60 N30 t v\r\nmg c4 t\r\n",
    /* R compares the TTL as it stands at R: after an earlier T, before a later one */
    "ms r1 1 T100\r\nx\r\nmg r1 T10 R30 t\r\nmg r1 t\r\nms r2 1 T100\r\nx\r\nmg r2 R30 T10 t\r\n"
    "mg r2 t\r\nms r3 1 T10\r\nx\r\nmg r3 T100 R30 t\r\nmg r3 t\r\nmg r3 R30 T5 t\r\nmg r3 t\r\n",
    /* ma on a stale item: the value changes in place, it stays stale (and see stale_arith).
     * memcached forgets the stale mark, the win and a T when it has to reallocate the item
     * instead: when the number grows longer, or while an earlier reply still holds the item,
     * so no fetch of the same key comes before an ma in these pipelined cases */
    "ms s1 1\r\n5\r\nmd s1 I\r\nma s1 v\r\nmg s1 v c t\r\nmg s1 v t\r\nms s1 1\r\n7\r\n"
    "mg s1 v\r\nms s3 1 T100\r\n5\r\nmd s3 I T30\r\nma s3 v t\r\nmg s3 v t\r\n",
    /* R: recache an item that expires soon, once; never one without expiry */
    "ms r 1 T100\r\nx\r\nmg r R30 t\r\nmg r R200 t\r\nmg r R200 t v\r\nms r 1 T0\r\nx\r\n"
    "mg r R200\r\nmg r R200 X\r\n",
    /* ms: c returns the stored cas (0 when not stored), C on every mode, C with I */
    "ms m 2 c\r\nhi\r\nms m 2 C1 c\r\nxx\r\nms m 2 C1 I c\r\nxx\r\nmg m v\r\n"
    "ms m 2 MA C1 c\r\nzz\r\nms m 2 MA C0 c\r\nzz\r\nms nope 2 MA C5\r\nzz\r\nms nope 2 MP\r\nzz\r\n"
    "ms m 2 ME C1 c\r\nqq\r\nms m 2 MR c k Oa\r\nyy\r\nms m 1 I\r\nz\r\nmg m v\r\n"
    "ms nope 2 C9 k\r\nab\r\nms nope 2 MR C9\r\nab\r\nms m 2 MS q c\r\nab\r\nms m 2 T-1\r\nab\r\nmg m v\r\n",
    /* T before N on a miss, negative, zero or longer: N's TTL is the stub's, one win only */
    "mg n3 T-5 N30 t v\r\nmg n3 t v\r\nmg n6 T-1 N30 t v\r\nmg n6 N30 t v\r\n"
    "mg n4 T0 N30 t\r\nmg n4 t\r\nmg n5 T100 N30 t\r\nmg n5 t\r\n",
    /* md I keeps what the item was: fetched (h1, and me's fetch=yes) stays so */
    "ms f3 1 T100\r\nx\r\nmg f3 v\r\nmd f3 I\r\nmg f3 h\r\nms f4 1 T100\r\nx\r\nmd f4 I\r\n"
    "mg f4 h\r\n",
    /* md: C, q, k, O, I with T, I then a fetch */
    "md d\r\nms d 1\r\nx\r\nmd d C1\r\nmd d C1 q k Oa\r\nmd d I T30 k\r\nmg d t v\r\n"
    "md d I q\r\nmg d v\r\nmg d v\r\nmd d q\r\nmd d q\r\nmd d C0\r\nmd d I\r\n",
    /* ma: N, J, T, t before and after, C, q, modes */
    "ma n\r\nma n N0 J5 t c v\r\nma n t N0 T20 v\r\nma n C1 v\r\nma n C1 q k Oab\r\n"
    "ma n MD D100 v t T-1\r\nma n v\r\nma n q\r\nma n N30 J7 t v\r\nma n N30 v t\r\n"
    "ma n MI D3 T0 t v\r\nma n M+ D2 v k\r\nma n M- v q\r\nma n v\r\n",
    /* me: exp, la, cas, fetch, cls, size */
    "ms e 3 T100\r\nabc\r\nme e\r\nmg e v\r\nme e\r\nms e2 5 F9\r\nhello\r\nme e2\r\nme zz\r\n"
    "ms e3 300\r\n" "0123456789012345678901234567890123456789012345678901234567890123456789"
    "0123456789012345678901234567890123456789012345678901234567890123456789"
    "0123456789012345678901234567890123456789012345678901234567890123456789"
    "0123456789012345678901234567890123456789012345678901234567890123456789"
    "01234567890123456789\r\nme e3\r\n",
    /* errors: flags 1.6.18 does not know (E), duplicates, bad tokens */
    "mg a E5\r\nms a 2 E9\r\nhi\r\nmg a t t\r\nmd a I I\r\nma a Q\r\nmg a Rx\r\nmg a Nx\r\n"
    "md a Cx\r\nma a Cx\r\nms a 2 Cx\r\nhi\r\n",
    /* binary keys */
    "ms Zm9v 2 b\r\nhi\r\nmg Zm9v b k v t\r\nmd Zm9v b I k\r\nmg Zm9v b k c\r\nme Zm9v b\r\n",
    /* base64 keys decoded as memcached decodes them: stray bytes skipped, padding ends */
    "ms k%20x 2 b\r\nhi\r\nmg k!2!0!x b v\r\nmg Zm9=Zm9v b v\r\nmg Zm8= b v\r\n"
    "mg Zm! b v\r\nmg Z=== b v\r\nmg !!!! b v\r\n",
};

/* The stampede across two clients: each step is one client's requests. */
static const struct step {
    int client;
    const char *req;
} stampede[] = {
    {0, "mg k N30 v c"}, {1, "mg k N30 v c"}, {1, "mg k N30 v"}, {0, "ms k 3 T60\r\nnew"},
    {1, "mg k v N30 t"}, {0, "md k I T30"},   {1, "mg k v c t"},  {0, "mg k v c"},
    {1, "mg k v N30"},   {0, "mg k v R10"},   {1, "ms k 4 c\r\nnewr"}, {0, "mg k v t"},
    {1, "mg k v"},
};

/* ma on a stale item whose win is out, one request at a time: it stays stale, the win stays
 * out (Z X) until a store replaces it.  The ma follows a fetch without a value: memcached
 * may still hold an item whose value it sent (even once the client has it), and then it
 * reallocates the counter and forgets both. */
static const struct step stale_arith[] = {
    {0, "ms s2 1\r\n5"}, {0, "md s2 I"}, {1, "mg s2 c"},         {1, "ma s2 v c"},
    {0, "mg s2 v"},       {1, "mg s2 v"}, {0, "ms s2 1\r\n7"}, {1, "mg s2 v"},
};

/* A two-client sequence's replies from one server, all steps' in order. */
static size_t run_steps(int port, const shmcd_proc *s, const struct step *steps, size_t nsteps,
                        char *got, size_t cap)
{
    int fd[2];
    char buf[128];
    size_t n = 0;
    for (int i = 0; i < 2; i++) fd[i] = s ? h_connect(s) : h_connect_tcp(port);
    if (fd[0] < 0 || fd[1] < 0) return 0;
    h_roundtrip(fd[0], "flush_all\r\n", 11, "OK\r\n", buf, sizeof buf);
    for (size_t i = 0; i < nsteps && n + 1 < cap; i++) {
        char req[256];
        snprintf(req, sizeof req, "%s\r\nmn\r\n", steps[i].req);
        n += h_roundtrip(fd[steps[i].client], req, strlen(req), "MN\r\n", got + n, cap - n);
    }
    close(fd[0]);
    close(fd[1]);
    return n;
}

/* One case on a fresh connection: flush_all, the requests, then "mn". */
static size_t run(int port, const shmcd_proc *s, const char *req, char *got, size_t cap)
{
    int fd = s ? h_connect(s) : h_connect_tcp(port);
    if (fd < 0) return 0;
    char buf[64];
    h_roundtrip(fd, "flush_all\r\n", 11, "OK\r\n", buf, sizeof buf);
    h_send_all(fd, req, strlen(req));
    size_t n = h_roundtrip(fd, "mn\r\n", 4, "MN\r\n", got, cap);
    close(fd);
    return n;
}

/* The number after a token's prefix, or false. */
static bool num_after(const char *tok, size_t len, const char *prefix, long long *v)
{
    size_t np = strlen(prefix);
    if (len <= np || strncmp(tok, prefix, np) != 0) return false;
    char tmp[32];
    if (len - np >= sizeof tmp) return false;
    memcpy(tmp, tok + np, len - np);
    tmp[len - np] = 0;
    char *end;
    *v = strtoll(tmp, &end, 10);
    return *end == 0 && (tmp[0] == '-' || (tmp[0] >= '0' && tmp[0] <= '9'));
}

/* Whether two tokens of status lines agree: equal, or both a masked value, or TTLs at most
 * a second apart. */
static bool token_agrees(const char *a, size_t na, const char *b, size_t nb)
{
    if (na == nb && memcmp(a, b, na) == 0) return true;
    static const char *const masked[] = {"c", "l", "cas=", "la="};
    static const char *const ttls[] = {"t", "exp="};
    long long x, y;
    for (size_t i = 0; i < sizeof masked / sizeof masked[0]; i++)
        if (num_after(a, na, masked[i], &x) && num_after(b, nb, masked[i], &y) && x >= 0 && y >= 0)
            return true;
    for (size_t i = 0; i < sizeof ttls / sizeof ttls[0]; i++)
        if (num_after(a, na, ttls[i], &x) && num_after(b, nb, ttls[i], &y) && x != -1 &&
            y != -1 && (x - y <= 1 && y - x <= 1))
            return true;
    return false;
}

/* Compare two replies line by line; status lines token by token, data lines exactly. */
static bool replies_agree(const char *a, const char *b)
{
    while (*a || *b) {
        const char *ea = strstr(a, "\r\n"), *eb = strstr(b, "\r\n");
        if (!ea || !eb) return strcmp(a, b) == 0;
        size_t la = (size_t)(ea - a), lb = (size_t)(eb - b);
        if (la != lb || memcmp(a, b, la) != 0) {
            /* token by token */
            const char *pa = a, *pb = b;
            for (;;) {
                const char *ta = memchr(pa, ' ', (size_t)(ea - pa)), *tb = memchr(pb, ' ', (size_t)(eb - pb));
                if (!ta) ta = ea;
                if (!tb) tb = eb;
                if (!token_agrees(pa, (size_t)(ta - pa), pb, (size_t)(tb - pb))) return false;
                if ((ta == ea) != (tb == eb)) return false;
                if (ta == ea) break;
                pa = ta + 1;
                pb = tb + 1;
            }
        }
        a = ea + 2;
        b = eb + 2;
    }
    return true;
}

static void compare(const shmcd_proc *s)
{
    static char want[65536], got[65536];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t nw = run(mc_port, NULL, cases[i], want, sizeof want);
        size_t ng = run(0, s, cases[i], got, sizeof got);
        bool ok = nw > 0 && ng > 0 && replies_agree(got, want);
        if (getenv("SHOWDIFF")) printf("MC: %s\nSH: %s\n", want, got);
        CHECK(ok);
        if (!ok)
            fprintf(stderr, "case %zu: %s\n  memcached: %s\n  shmcd:     %s\n", i, cases[i],
                    want, got);
    }
    static const struct {
        const char *name;
        const struct step *steps;
        size_t n;
    } seqs[] = {
        {"two-client stampede", stampede, sizeof stampede / sizeof stampede[0]},
        {"ma on a stale item", stale_arith, sizeof stale_arith / sizeof stale_arith[0]},
    };
    for (size_t i = 0; i < sizeof seqs / sizeof seqs[0]; i++) {
        size_t nw = run_steps(mc_port, NULL, seqs[i].steps, seqs[i].n, want, sizeof want);
        size_t ng = run_steps(0, s, seqs[i].steps, seqs[i].n, got, sizeof got);
        bool ok = nw > 0 && ng > 0 && replies_agree(got, want);
        CHECK(ok);
        if (!ok || getenv("SHOWDIFF"))
            fprintf(stderr, "%s:\n  memcached: %s\n  shmcd:     %s\n", seqs[i].name, want, got);
    }
}

int main(void)
{
    static const char *const extra[] = {"-m", "16", "-t", "2", NULL};
    return diff_main("meta_diff", extra, true, compare, NULL);
}
