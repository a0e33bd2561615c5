/* test_scrub.c — the recovery scrub's decisions, looked at from inside.  A cache of 200
 * known items is opened as a bare region (no other user: as recovery runs), damaged in
 * chosen ways, and scrubbed: an intact cache loses nothing; an item whose value rotted, one
 * whose key changed (so it sits in another key's chain) and one past what its segment wrote
 * are each unlinked and counted, nothing else is; the stripes' counts are recomputed from
 * what stays, and the cache then serves exactly the survivors and passes the checker. */
#include "testutil.h"

#include <stddef.h>
#include <stdint.h>

#include "region/region.h"
#include "store/item.h"
#include "store/scrub.h"

#define N 200
#define VALUE 100

static void value_of(int i, char *v) { memset(v, 'a' + i % 26, VALUE); }

/* The linked-or-not copy of key in r's segments (the last one written), or NULL. */
static item_t *find(const region_t *r, const char *key, uint32_t *seg_out)
{
    item_t *found = NULL;
    for (uint32_t s = 0; s < r->nsegments; s++) {
        unsigned char *base = region_segment(r, s);
        uint32_t end = atomic_load(&r->segs[s].write_off), off = 0, sz = 0;
        for (;;) {
            if (off >= end) break;
            enum item_step step = item_step(r, base, off, end, &sz);
            if ((step != STEP_ITEM && step != STEP_FILLER) || sz == 0) break;
            item_t *it = (item_t *)(base + off);
            if (step == STEP_ITEM && it->nkey == strlen(key) && memcmp(it->data, key, it->nkey) == 0) {
                found = it;
                *seg_out = s;
            }
            off += sz;
        }
    }
    return found;
}

static int64_t stripe_items(const region_t *r)
{
    int64_t n = 0;
    for (uint32_t i = 0; i < r->nstripes; i++) n += atomic_load(&r->stripes[i].items);
    return n;
}

int main(void)
{
    t_setup("scrub");
    const char *path = t_path("scrub");
    shmc_t *c = t_open_plain(path, 1u << 20, 1024);
    if (!c) return t_finish();
    char key[16], v[VALUE], got[VALUE];
    size_t n;
    for (int i = 0; i < N; i++) {
        snprintf(key, sizeof key, "s%04d", i);
        value_of(i, v);
        CHECK_RC(shmc_set(c, key, 5, v, VALUE, 0, 0), SHMC_OK);
    }
    shmc_close(c);

    region_t r;
    CHECK_RC(region_open(&r, path, 0, 0, 0, 0600, REGION_OPEN_ONLY), SHMC_OK);
    CHECK_RC(region_attach_done(&r), SHMC_OK);
    CHECK(r.alone);

    /* intact: nothing dropped, the counts stay */
    uint64_t dropped = 99;
    CHECK_RC(store_scrub(&r, &dropped), SHMC_OK);
    CHECK(dropped == 0 && stripe_items(&r) == N);

    /* three kinds of damage */
    uint32_t seg;
    item_t *rot = find(&r, "s0010", &seg), *moved = find(&r, "s0020", &seg);
    item_t *last = find(&r, "s0199", &seg);
    CHECK(rot && moved && last);
    if (!rot || !moved || !last) return t_finish();
    rot->data[rot->nkey + 7] ^= 0x40;      /* a value byte rotted */
    moved->data[4] = 'X';                  /* key "s002X": sums fail, and in another chain */
    uint32_t last_off = (uint32_t)((unsigned char *)last - region_segment(&r, seg));
    atomic_store(&r.segs[seg].write_off, last_off); /* s0199 lies past what was written */
    CHECK(last_off > 0);

    CHECK_RC(store_scrub(&r, &dropped), SHMC_OK);
    printf("scrub dropped %llu of %d items\n", (unsigned long long)dropped, N);
    CHECK(dropped == 3 && stripe_items(&r) == N - 3);
    region_close(&r);

    /* the cache serves exactly the survivors */
    c = t_open_plain(path, 1u << 20, 1024);
    if (!c) return t_finish();
    int served = 0, gone = 0;
    for (int i = 0; i < N; i++) {
        snprintf(key, sizeof key, "s%04d", i);
        value_of(i, v);
        shmc_rc rc = shmc_get(c, key, 5, got, sizeof got, &n, NULL, NULL);
        if (i == 10 || i == 20 || i == 199) gone += rc == SHMC_NOT_FOUND;
        else served += rc == SHMC_OK && n == VALUE && memcmp(got, v, VALUE) == 0;
    }
    CHECK(served == N - 3 && gone == 3);
    CHECK_RC(shmc_get(c, "s002X", 5, got, sizeof got, &n, NULL, NULL), SHMC_NOT_FOUND);
    shmc_stats_t st;
    CHECK_RC(shmc_stats(c, &st), SHMC_OK);
    CHECK(st.curr_items == N - 3);
    shmc_close(c);
    t_check_file(path);
    return t_finish();
}
