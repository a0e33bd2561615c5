/* test_hidden_items.c — no store writes over a linked item, whatever a damaged file says
 * about item extents (issue 10).
 *
 * A valid cache is closed cleanly, so the next open is warm (no scrub), and is then damaged
 * while nobody has it open so that a linked item lies where the segment log does not expect
 * one:
 *  - inside: a copy of a small item is written inside a large item's value, in a sealed
 *    segment, and the chain is pointed at the copy (two linked items overlap);
 *  - past_end: a sealed segment's write offset is lowered below its last linked item;
 *  - open_seg: the same in the segment of an append head, where the next append goes;
 *  - free_seg: a sealed segment is marked free while its items stay linked.
 * The test then opens the cache warm and writes twice its memory of new keys, so every
 * segment is cleaned and reused, checking after every 40 sets, straight from the file, that
 * every linked item is byte for byte an item this test stored (or one the damaged file
 * held), never bytes written over it.  A hidden item is dropped (damaged_dropped counts it)
 * or stays intact; the checker finds the cache whole at the end. */
#include "testutil.h"

#include <fcntl.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/mman.h>

#include "region/layout.h"
#include "store/index.h"
#include "store/item.h"
#include "util/hash.h"

#define MEMORY (1024u * 1024u)
#define ITEM_MAX 4096u
#define NOLD 400
#define MAX_KEYS 8192

static header_t hdr;

/* The inside case's two overlapping linked items: the copy's header is part of the large
 * item's value, and the fields the library legitimately writes in a linked item (its chain
 * link when a neighbour is unlinked, exptime, atime, meta) change those value bytes. */
static uint64_t inside_big, inside_copy;
static const void *inside_rec;

/* ---- what the test stored: key -> value, flags, cas ---- */

typedef struct rec {
    char key[32];
    unsigned char *value;
    uint32_t nvalue, flags;
    uint64_t cas; /* 0: not known (stored through the API) */
} rec_t;

static rec_t recs[MAX_KEYS]; /* "old-N" at N, "new-N" at NOLD + N */

/* The record's place for a key of this test; -1 for any other bytes. */
static int rec_index(const unsigned char *key, uint32_t nkey)
{
    if (nkey < 5 || nkey > 12 || (memcmp(key, "old-", 4) && memcmp(key, "new-", 4))) return -1;
    int n = 0;
    for (uint32_t i = 4; i < nkey; i++) {
        if (key[i] < '0' || key[i] > '9') return -1;
        n = n * 10 + (key[i] - '0');
    }
    n += key[0] == 'n' ? NOLD : 0;
    return n < MAX_KEYS ? n : -1;
}

static rec_t *rec_of(const unsigned char *key, uint32_t nkey)
{
    int i = rec_index(key, nkey);
    if (i < 0 || strlen(recs[i].key) != nkey || memcmp(recs[i].key, key, nkey)) return NULL;
    return &recs[i];
}

static void value_of(unsigned i, unsigned char *v, uint32_t n)
{
    for (uint32_t j = 0; j < n; j++) v[j] = (unsigned char)('a' + (i * 7 + j) % 26);
}

static void remember(const char *key, const unsigned char *v, uint32_t n, uint32_t flags,
                     uint64_t cas)
{
    int i = rec_index((const unsigned char *)key, (uint32_t)strlen(key));
    if (i < 0) exit(2);
    rec_t *r = &recs[i];
    snprintf(r->key, sizeof r->key, "%s", key);
    free(r->value);
    r->value = malloc(n ? n : 1);
    memcpy(r->value, v, n);
    r->nvalue = n;
    r->flags = flags;
    r->cas = cas;
}

static void forget_all(void)
{
    for (int i = 0; i < MAX_KEYS; i++) free(recs[i].value);
    memset(recs, 0, sizeof recs);
}

/* ---- the file, as raw bytes ---- */

static unsigned char *map_file(const char *path, size_t *size)
{
    int fd = open(path, O_RDWR);
    if (fd < 0) return NULL;
    *size = (size_t)lseek(fd, 0, SEEK_END);
    unsigned char *f = mmap(NULL, *size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd);
    return f == MAP_FAILED ? NULL : f;
}

static _Atomic uint64_t *bucket_in(unsigned char *f, uint64_t b)
{
    return (_Atomic uint64_t *)(f + hdr.off_buckets) + b;
}
static item_t *item_in(unsigned char *f, uint64_t unit) { return (item_t *)(f + unit * LAYOUT_UNIT); }
static segmeta_t *seg_in(unsigned char *f, uint32_t s) { return (segmeta_t *)(f + hdr.off_segs) + s; }
static unsigned char *seg_base(unsigned char *f, uint32_t s)
{
    return f + hdr.off_data + (uint64_t)s * hdr.segment_size;
}
static uint64_t unit_of(unsigned char *f, const void *p)
{
    return (uint64_t)((const unsigned char *)p - f) / LAYOUT_UNIT;
}
static bool unit_ok(uint64_t u, uint64_t size)
{
    return u * LAYOUT_UNIT >= hdr.off_data && u * LAYOUT_UNIT + ITEM_HEADER <= size;
}

/* Whether unit u is linked in its chain; *link gets the word that names it. */
static bool linked_at(unsigned char *f, size_t size, uint64_t u, _Atomic uint64_t **link)
{
    item_t *it = item_in(f, u);
    uint64_t b = hash_key(it->data, it->nkey, hdr.hash_seed) & (((uint64_t)1 << hdr.hash_power) - 1);
    _Atomic uint64_t *w = bucket_in(f, b);
    uint64_t x = bucket_head(atomic_load(w));
    for (int steps = 0; x && steps < 100000 && unit_ok(x, size); steps++) {
        if (x == u) {
            *link = w;
            return true;
        }
        w = &item_in(f, x)->next;
        x = atomic_load(w) & BUCKET_HEAD_MASK;
    }
    return false;
}

/* Point the word that names `from` at `to` (a bucket keeps its version). */
static void relink(_Atomic uint64_t *link, bool is_bucket, uint64_t to)
{
    uint64_t w = atomic_load(link);
    atomic_store(link, is_bucket ? bucket_word(bucket_version(w), to) : to);
}

/* Take the inside copy's mutable header fields, as they are now, into what the large item's
 * value is expected to hold. */
static void follow_copy(unsigned char *f, const item_t *big, rec_t *r)
{
    static const struct { size_t at, n; } fields[] = {
        {offsetof(item_t, next), sizeof(uint64_t)},    {offsetof(item_t, exptime), 4},
        {offsetof(item_t, atime), 4},                  {offsetof(item_t, meta), 4},
    };
    const unsigned char *copy = (const unsigned char *)item_in(f, inside_copy);
    const unsigned char *value = big->data + big->nkey;
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
        const unsigned char *p = copy + fields[i].at;
        if (p < value || p + fields[i].n > value + r->nvalue) continue;
        memcpy((unsigned char *)r->value + (p - value), p, fields[i].n);
    }
}

/* Every linked item must be one the test knows, byte for byte.  Returns the violations. */
static int verify_linked(unsigned char *f, size_t size, const char *when)
{
    int bad = 0;
    for (uint64_t b = 0; b < ((uint64_t)1 << hdr.hash_power); b++) {
        uint64_t x = bucket_head(atomic_load(bucket_in(f, b)));
        for (int steps = 0; x && steps < 100000; steps++) {
            if (!unit_ok(x, size)) {
                fprintf(stderr, "%s: bucket %llu links unit %llu outside the items\n", when,
                        (unsigned long long)b, (unsigned long long)x);
                bad++;
                break;
            }
            item_t *it = item_in(f, x);
            rec_t *r = it->nkey && it->nkey <= 250 ? rec_of(it->data, it->nkey) : NULL;
            if (r && r == inside_rec && x == inside_big) follow_copy(f, it, r);
            bool same = r && it->nvalue == r->nvalue && it->flags == r->flags &&
                        (!r->cas || it->cas == r->cas) &&
                        !memcmp(it->data + it->nkey, r->value, r->nvalue);
            if (!same) {
                fprintf(stderr, "%s: linked item at unit %llu (bucket %llu) is not what was stored"
                        " (key %.*s)\n", when, (unsigned long long)x, (unsigned long long)b,
                        it->nkey <= 40 ? it->nkey : 40, (const char *)it->data);
                bad++;
            }
            x = atomic_load(&it->next) & BUCKET_HEAD_MASK;
        }
    }
    return bad;
}

/* ---- the cases ---- */

enum damage { INSIDE, PAST_END, OPEN_SEG, FREE_SEG };
static const char *const damage_name[] = {"inside", "past_end", "open_seg", "free_seg"};

static shmc_config config(void)
{
    shmc_config cfg;
    shmc_config_init(&cfg);
    cfg.memory_limit = MEMORY;
    cfg.item_size_max = ITEM_MAX;
    return cfg;
}

/* A valid cache of NOLD keys, alternately large and small, closed cleanly. */
static void build(const char *path)
{
    shmc_config cfg = config();
    shmc_t *c = NULL;
    CHECK_RC(shmc_open(&c, path, &cfg), SHMC_OK);
    if (!c) exit(t_finish());
    static unsigned char v[ITEM_MAX];
    char key[32];
    for (unsigned i = 0; i < NOLD; i++) {
        uint32_t n = i % 2 ? 16 : 900 + i % 50;
        snprintf(key, sizeof key, "old-%u", i);
        value_of(i, v, n);
        CHECK_RC(shmc_set(c, key, strlen(key), v, n, i, 0), SHMC_OK);
        remember(key, v, n, i, 0);
    }
    shmc_close(c);
}

/* The items a walk of segment s reaches, linked ones only: their units, up to max. */
static int linked_items(unsigned char *f, size_t size, uint32_t s, uint64_t *units, int max)
{
    int n = 0;
    unsigned char *base = seg_base(f, s);
    uint32_t end = atomic_load(&seg_in(f, s)->write_off), off = 0;
    while (off + ITEM_HEADER <= end && n < max) {
        item_t *it = (item_t *)(base + off);
        uint32_t sz = it->kind == ITEM_FILLER ? it->nvalue : (uint32_t)item_footprint(it->nkey, it->nvalue);
        _Atomic uint64_t *link;
        if (it->kind != ITEM_FILLER && linked_at(f, size, unit_of(f, it), &link)) units[n++] = unit_of(f, it);
        if (!sz) break;
        off += sz;
    }
    return n;
}

static uint32_t seg_with_state(unsigned char *f, uint32_t state, uint32_t skip)
{
    for (uint32_t s = 0; s < hdr.nsegments; s++)
        if (atomic_load(&seg_in(f, s)->state) == state && s != skip) return s;
    return UINT32_MAX;
}

/* Damage the closed file; returns how many linked items the damage hid (at least 1). */
static int damage(unsigned char *f, size_t size, enum damage d)
{
    uint64_t units[4096];
    if (d == INSIDE) {
        uint32_t s = seg_with_state(f, SEG_SEALED, UINT32_MAX);
        CHECK(s != UINT32_MAX);
        if (s == UINT32_MAX) return 0;
        int n = linked_items(f, size, s, units, 4096);
        uint64_t big = 0, small = 0;
        for (int i = 0; i < n; i++) {
            item_t *it = item_in(f, units[i]);
            if (!big && it->nvalue >= 800) big = units[i];
            if (!small && it->nvalue < 64) small = units[i];
        }
        CHECK(big && small);
        if (!big || !small) return 0;
        item_t *x = item_in(f, small);
        uint32_t sz = (uint32_t)item_footprint(x->nkey, x->nvalue);
        /* the first unit inside the large item's value */
        uint64_t at = big + (ITEM_HEADER + item_in(f, big)->nkey + LAYOUT_UNIT - 1) / LAYOUT_UNIT;
        _Atomic uint64_t *link;
        CHECK(linked_at(f, size, small, &link));
        bool is_bucket = (unsigned char *)link >= f + hdr.off_buckets &&
                         (unsigned char *)link < f + hdr.off_data;
        memmove(item_in(f, at), x, sz); /* the copy is whole: its checksum covers no place */
        relink(link, is_bucket, at);
        /* the large item's value now holds the copy: that is what the file says it is */
        item_t *a = item_in(f, big);
        rec_t *r = rec_of(a->data, a->nkey);
        memcpy(r->value, a->data + a->nkey, r->nvalue);
        inside_big = big;
        inside_copy = at;
        inside_rec = r;
        printf("inside: item at unit %llu linked inside the item at unit %llu (segment %u)\n",
               (unsigned long long)at, (unsigned long long)big, s);
        return 1;
    }
    uint32_t s = seg_with_state(f, d == OPEN_SEG ? SEG_OPEN : SEG_SEALED, UINT32_MAX);
    if (d == PAST_END) s = seg_with_state(f, SEG_SEALED, s); /* not the one cleaned first */
    CHECK(s != UINT32_MAX);
    if (s == UINT32_MAX) return 0;
    int n = linked_items(f, size, s, units, 4096);
    CHECK(n >= 2);
    if (n < 2) return 0;
    if (d == FREE_SEG) {
        atomic_store(&seg_in(f, s)->state, SEG_FREE);
        printf("free_seg: segment %u marked free with %d items linked\n", s, n);
        return n;
    }
    uint32_t off = (uint32_t)(units[n - 1] * LAYOUT_UNIT - (uint64_t)(seg_base(f, s) - f));
    atomic_store(&seg_in(f, s)->write_off, off);
    printf("%s: segment %u's write offset lowered to %u, below its last linked item\n",
           damage_name[d], s, off);
    return 1;
}

static void run_case(const char *clean, enum damage d)
{
    const char *path = t_path(damage_name[d]);
    char cmd[700];
    snprintf(cmd, sizeof cmd, "cp %s %s", clean, path);
    CHECK(system(cmd) == 0);
    size_t size;
    unsigned char *f = map_file(path, &size);
    CHECK(f != NULL);
    if (!f) return;
    inside_big = inside_copy = 0;
    inside_rec = NULL;
    int hidden = damage(f, size, d);
    CHECK(hidden >= 1);
    CHECK(verify_linked(f, size, "after the damage") == 0); /* what the test now expects */

    shmc_config cfg = config();
    shmc_t *c = NULL;
    CHECK_RC(shmc_open(&c, path, &cfg), SHMC_OK);
    if (!c) return;
    shmc_stats_t st;
    CHECK_RC(shmc_stats(c, &st), SHMC_OK);
    CHECK(st.recovery_scrubs == 0); /* a warm open: nothing verified the items */
    uint64_t evictions0 = st.evictions;
    static unsigned char v[ITEM_MAX];
    char key[32];
    int bad = 0;
    for (unsigned i = 0; i < 2 * MEMORY / 600 && !bad; i++) {
        uint32_t n = 100 + (i * 37) % 900;
        snprintf(key, sizeof key, "new-%u", i);
        value_of(i + 1000, v, n);
        shmc_rc rc = shmc_set(c, key, strlen(key), v, n, 7, 0);
        CHECK(rc == SHMC_OK);
        remember(key, v, n, 7, 0);
        if (i % 5 == 0) { /* fetched: cleaning keeps and compacts these */
            size_t nv;
            snprintf(key, sizeof key, "old-%u", i % NOLD);
            shmc_get(c, key, strlen(key), v, sizeof v, &nv, NULL, NULL);
        }
        if (i % 40 == 39) {
            char when[64];
            snprintf(when, sizeof when, "%s, after %u sets", damage_name[d], i + 1);
            bad = verify_linked(f, size, when);
        }
    }
    CHECK(bad == 0);
    CHECK_RC(shmc_stats(c, &st), SHMC_OK);
    CHECK(st.evictions > evictions0); /* every segment was cleaned, the old ones evicted */
    CHECK(st.damaged_dropped >= 1);   /* the hidden item(s) */
    CHECK(st.damaged_dropped <= (uint64_t)hidden + 1);
    printf("%s: %llu dropped as damaged, %llu evicted, %d checks of every linked item\n",
           damage_name[d], (unsigned long long)st.damaged_dropped,
           (unsigned long long)(st.evictions - evictions0), 2 * MEMORY / 600 / 40);
    shmc_close(c);
    t_check_file(path);
    munmap(f, size);
}

int main(void)
{
    t_setup("hidden");
    const char *clean = t_path("clean");
    for (int d = INSIDE; d <= FREE_SEG; d++) {
        forget_all();
        build(clean);
        size_t size;
        unsigned char *f = map_file(clean, &size);
        CHECK(f != NULL);
        if (!f) break;
        memcpy(&hdr, f, sizeof hdr);
        munmap(f, size);
        run_case(clean, (enum damage)d);
        unlink(clean);
    }
    return t_finish();
}
