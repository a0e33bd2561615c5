/* test_monitoring_stats.c — every stat name that Prometheus' memcached_exporter, Datadog's
 * memcache check and Netdata's memcached collectors read (monitoring_stats.txt, with where
 * each list came from) is in shmcd's reply to its group ("stats", "stats settings", "stats
 * items", "stats slabs"), over the text protocol and over the binary protocol's STAT.  Names
 * marked absent are those memcached 1.6.18 does not print either: checked against it when it
 * runs here, and shmcd must not print them.  The text replies also have the shape the
 * exporter's parser (gomemcache) needs: "STAT name value", a setting at most one more word.
 * Argument: the data file.  Missing names are listed. */
#include "binary_packet.h"
#include "memcached_ref.h"

#define MAX_ROWS 512
#define MAX_NAMES 512

enum group { G_STATS, G_SETTINGS, G_ITEMS, G_SLABS, G_COUNT };
static const char *const group_name[G_COUNT] = {"stats", "settings", "items", "slabs"};
static const char *const group_text[G_COUNT] = {"stats\r\n", "stats settings\r\n",
                                                "stats items\r\n", "stats slabs\r\n"};
static const char *const group_key[G_COUNT] = {NULL, "settings", "items", "slabs"};

typedef struct row {
    char checker[32], name[64];
    int group;
    bool absent;
} row;

typedef struct names {
    size_t n;
    char name[MAX_NAMES][64];
} names;

static row rows[MAX_ROWS];
static size_t nrows;

static bool load(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "FAIL: cannot read %s\n", path);
        return false;
    }
    char line[512];
    while (fgets(line, sizeof line, f) && nrows < MAX_ROWS) {
        char checker[32], group[32], name[64], mark[32] = "";
        if (line[0] == '#' || sscanf(line, "%31s %31s %63s %31s", checker, group, name, mark) < 3)
            continue;
        row *r = &rows[nrows];
        r->group = -1;
        for (int g = 0; g < G_COUNT; g++)
            if (!strcmp(group, group_name[g])) r->group = g;
        if (r->group < 0) {
            fprintf(stderr, "FAIL: %s: unknown group %s\n", path, group);
            fclose(f);
            return false;
        }
        snprintf(r->checker, sizeof r->checker, "%s", checker);
        snprintf(r->name, sizeof r->name, "%s", name);
        r->absent = !strcmp(mark, "absent");
        nrows++;
    }
    fclose(f);
    return nrows > 0;
}

/* The name a checker reads from a line's full name: "items:<class>:x" and "<class>:x" are x. */
static const char *base_name(int g, const char *full)
{
    const char *colon = strrchr(full, ':');
    return (g == G_ITEMS || g == G_SLABS) && colon ? colon + 1 : full;
}

static void add(names *ns, int g, const char *full, size_t len)
{
    char name[64];
    snprintf(name, sizeof name, "%.*s", (int)(len < 63 ? len : 63), full);
    const char *b = base_name(g, name);
    for (size_t i = 0; i < ns->n; i++)
        if (!strcmp(ns->name[i], b)) return;
    if (ns->n < MAX_NAMES) snprintf(ns->name[ns->n++], 64, "%s", b);
}

static bool has(const names *ns, const char *name)
{
    for (size_t i = 0; i < ns->n; i++)
        if (!strcmp(ns->name[i], name)) return true;
    return false;
}

/* The names of a text reply to group g; *bad_shape counts lines gomemcache cannot read. */
static void text_names(int fd, int g, names *ns, size_t *bad_shape)
{
    static char reply[262144];
    size_t n = h_roundtrip(fd, group_text[g], strlen(group_text[g]), "END\r\n", reply, sizeof reply - 1);
    reply[n] = 0;
    ns->n = 0;
    for (char *line = strtok(reply, "\r\n"); line; line = strtok(NULL, "\r\n")) {
        if (strncmp(line, "STAT ", 5) != 0) continue;
        size_t words = 1;
        for (const char *p = line; *p; p++) words += *p == ' ';
        if (words != 3 && !(g == G_SETTINGS && words == 4)) {
            (*bad_shape)++;
            fprintf(stderr, "  line gomemcache cannot read: %s\n", line);
        }
        const char *name = line + 5, *sp = strchr(name, ' ');
        add(ns, g, name, sp ? (size_t)(sp - name) : strlen(name));
    }
}

/* The names of a binary STAT reply to group g: one packet per stat, ending with an empty key. */
static void binary_names(int fd, int g, names *ns)
{
    buf out = {0}, got = {0};
    req(&out, 0x10, NULL, 0, group_key[g], NULL, 0, 0, 1);
    req(&out, BIN_NOOP, NULL, 0, NULL, NULL, 0, 0, BIN_END_OPAQUE);
    h_send_all(fd, out.p, out.n);
    read_until_end(fd, &got, true);
    ns->n = 0;
    for (size_t off = 0; off + 24 <= got.n;) {
        const unsigned char *h = got.p + off;
        uint32_t body = bin_body(h);
        if (off + 24 + body > got.n) break;
        size_t keylen = (size_t)h[2] << 8 | h[3], extlen = h[4];
        if (h[0] == 0x81 && h[1] == 0x10 && h[7] == 0 && keylen && extlen + keylen <= body)
            add(ns, g, (const char *)h + 24 + extlen, keylen);
        off += 24 + body;
    }
    free(out.p);
    free(got.p);
}

int main(int argc, char **argv)
{
    t_setup("monitoring_stats");
    if (argc < 2 || !load(argv[1])) {
        t_failed++;
        return t_finish();
    }
    bool reference = reference_up();
    if (!reference) printf("names marked absent are not checked against memcached (above)\n");
    static names text[G_COUNT], binary[G_COUNT], mc[G_COUNT];
    size_t bad_shape = 0;
    /* items of two classes, so that "stats items" and "stats slabs" list classes */
    static const char set[] = "set a 0 0 1\r\nx\r\nset b 0 100 300\r\n%0300d\r\nmn\r\n";
    char setreq[512], scratch[256];
    snprintf(setreq, sizeof setreq, set, 0);
    if (reference) {
        int fd = h_connect_tcp(mc_port);
        h_roundtrip(fd, setreq, strlen(setreq), "MN\r\n", scratch, sizeof scratch);
        for (int g = 0; g < G_COUNT; g++) {
            size_t ignored = 0;
            /* memcached's per-class lines can lag a store on a loaded machine */
            for (int i = 0; i < 100; i++) {
                text_names(fd, g, &mc[g], &ignored);
                if (g != G_ITEMS || has(&mc[g], "number")) break;
                h_sleep_ms(100);
            }
        }
        close(fd);
    }
    shmcd_proc s;
    if (!h_start(&s, t_path("cache"), true, NULL)) {
        t_failed++;
    } else {
        int fd = h_connect(&s);
        h_roundtrip(fd, setreq, strlen(setreq), "MN\r\n", scratch, sizeof scratch);
        for (int g = 0; g < G_COUNT; g++) text_names(fd, g, &text[g], &bad_shape);
        close(fd);
        fd = h_connect(&s);
        for (int g = 0; g < G_COUNT; g++) binary_names(fd, g, &binary[g]);
        close(fd);
        h_stop(&s);
    }
    if (reference) reference_down();

    CHECK(bad_shape == 0);
    size_t missing = 0, wrong_absent = 0, checked = 0;
    for (size_t i = 0; i < nrows; i++) {
        const row *r = &rows[i];
        int g = r->group;
        checked++;
        if (r->absent) {
            bool ok = !has(&text[g], r->name) && !has(&binary[g], r->name) &&
                      (!reference || !has(&mc[g], r->name));
            if (!ok) {
                wrong_absent++;
                fprintf(stderr, "  %s %s %s: marked absent, but printed by%s%s%s\n", r->checker,
                        group_name[g], r->name, has(&text[g], r->name) ? " shmcd (text)" : "",
                        has(&binary[g], r->name) ? " shmcd (binary)" : "",
                        reference && has(&mc[g], r->name) ? " memcached" : "");
            }
            continue;
        }
        bool t = has(&text[g], r->name), b = has(&binary[g], r->name);
        if (!t || !b) {
            missing++;
            printf("  %s reads %s %s: missing in shmcd's %s reply\n", r->checker, group_name[g],
                   r->name, !t && !b ? "text and binary" : !t ? "text" : "binary");
        }
    }
    printf("%zu names of the monitoring checks: %zu missing, %zu wrongly marked absent, "
           "%zu lines of the wrong shape\n", checked, missing, wrong_absent, bad_shape);
    CHECK(checked > 150);
    CHECK(missing == 0);
    CHECK(wrong_absent == 0);
    return t_finish();
}
