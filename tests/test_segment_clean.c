/* test_segment_clean.c — segment cleaning, looked at from inside (as Pelikan's check_seg.c
 * does for its store).  A 256 KiB cache has four 64 KiB segments and one append head, so
 * items go into the segments in order and the first one filled is the first cleaned.  The
 * test fills that segment with known items, gives each a fate (deleted, expired by touch,
 * fetched, left alone), writes on until the head cleans it, and then reads the segment
 * itself: exactly the fetched items are left, compacted from its start in their old order
 * and marked fetched, followed by the write that needed the room; the counters say what went
 * (evicted, reclaimed, reinserted).  A second case overwrites a few keys until the cache
 * has been cleaned round several times: cleaning that only finds dead space evicts nothing. */
#include "testutil.h"

#include <stddef.h>
#include <stdint.h>

#include "region/region.h"
#include "store/item.h"

#define VALUE 1000
#define NK 62 /* items of 1056 bytes (48 of header) that fill a 64 KiB segment */

static region_t view; /* a read-only mapping of the cache file, to look inside */

static void value_of(const char *key, char *v)
{
    memset(v, key[strlen(key) - 1], VALUE);
    memcpy(v, key, strlen(key));
}

/* The item at byte off of segment seg, if it is one with this key. */
static int item_is(uint32_t seg, uint32_t off, const char *key)
{
    const item_t *it = (const item_t *)(region_segment(&view, seg) + off);
    return item_is_live_kind(it->kind) && it->nkey == strlen(key) &&
           memcmp(it->data, key, it->nkey) == 0 && item_is_whole(&view, it);
}

static shmc_stats_t stats(shmc_t *c)
{
    shmc_stats_t s;
    memset(&s, 0, sizeof s);
    CHECK_RC(shmc_stats(c, &s), SHMC_OK);
    return s;
}

static void clean_by_fate(void)
{
    const char *path = t_path("fate");
    shmc_t *c = t_open_plain(path, 256u << 10, 1024);
    if (!c) return;
    CHECK_RC(region_map_readonly(&view, path), SHMC_OK);
    CHECK(view.nsegments == 4 && view.segment_size == 65536 && view.nheads == 1);
    size_t footprint = item_footprint(5, VALUE);
    CHECK(footprint == 1056 && NK * footprint <= view.segment_size &&
          (NK + 1) * footprint > view.segment_size);

    char key[16], v[VALUE], got[VALUE];
    size_t n;
    for (int i = 0; i < NK; i++) {
        snprintf(key, sizeof key, "k%04d", i);
        value_of(key, v);
        CHECK_RC(shmc_set(c, key, 5, v, VALUE, 0, 0), SHMC_OK);
    }
    /* they lie in one segment, in order, from its start */
    uint32_t s0 = view.nsegments;
    for (uint32_t s = 0; s < view.nsegments; s++)
        if (item_is(s, 0, "k0000")) s0 = s;
    CHECK(s0 < view.nsegments);
    if (s0 >= view.nsegments) return;
    int in_order = 1;
    for (int i = 0; i < NK; i++) {
        snprintf(key, sizeof key, "k%04d", i);
        in_order &= item_is(s0, (uint32_t)(i * footprint), key);
    }
    CHECK(in_order);
    CHECK(atomic_load(&view.segs[s0].write_off) == NK * footprint);

    /* fates: i%6==0 deleted, i%6==3 expired (touch), i%3==1 fetched, i%3==2 left alone */
    int hot = 0, cold = 0, expired = 0;
    for (int i = 0; i < NK; i++) {
        snprintf(key, sizeof key, "k%04d", i);
        if (i % 6 == 0) CHECK_RC(shmc_delete(c, key, 5), SHMC_OK);
        else if (i % 6 == 3) {
            CHECK_RC(shmc_touch(c, key, 5, -1), SHMC_OK);
            expired++;
        } else if (i % 3 == 1) {
            CHECK_RC(shmc_get(c, key, 5, got, sizeof got, &n, NULL, NULL), SHMC_OK);
            hot++;
        } else {
            cold++;
        }
    }
    shmc_stats_t before = stats(c);

    /* write until the head has cleaned that segment and writes into it again */
    int seen_sealed = 0, j;
    for (j = 0; j < 1000; j++) {
        snprintf(key, sizeof key, "n%04d", j);
        value_of(key, v);
        CHECK_RC(shmc_set(c, key, 5, v, VALUE, 0, 0), SHMC_OK);
        uint32_t state = atomic_load(&view.segs[s0].state);
        if (state != SEG_OPEN) seen_sealed = 1;
        else if (seen_sealed) break;
    }
    CHECK(seen_sealed && j < 1000);
    printf("segment %u cleaned at write %d\n", s0, j);

    /* inside: the fetched items, compacted in order, marked fetched; then write j */
    int kept_in_order = 1, k = 0;
    for (int i = 1; i < NK; i += 3, k++) {
        snprintf(key, sizeof key, "k%04d", i);
        const item_t *it = (const item_t *)(region_segment(&view, s0) + k * footprint);
        kept_in_order &= item_is(s0, (uint32_t)(k * footprint), key) && it->kind == ITEM_LIVE_FETCHED;
    }
    CHECK(kept_in_order && k == hot);
    snprintf(key, sizeof key, "n%04d", j);
    CHECK(item_is(s0, (uint32_t)(hot * footprint), key));
    CHECK(atomic_load(&view.segs[s0].write_off) == (hot + 1) * footprint);

    /* what the counters say went */
    shmc_stats_t after = stats(c);
    printf("hot %d cold %d expired %d: reinserted %llu evictions %llu reclaimed %llu\n", hot,
           cold, expired, (unsigned long long)(after.reinserted - before.reinserted),
           (unsigned long long)(after.evictions - before.evictions),
           (unsigned long long)(after.reclaimed - before.reclaimed));
    CHECK(after.reinserted - before.reinserted == (uint64_t)hot);
    CHECK(after.evictions - before.evictions == (uint64_t)cold);
    CHECK(after.evicted_unfetched - before.evicted_unfetched == (uint64_t)cold);
    CHECK(after.reclaimed - before.reclaimed == (uint64_t)expired);
    CHECK(after.expired_unfetched - before.expired_unfetched == (uint64_t)expired);

    /* and from outside: the kept ones are whole, the rest are gone */
    int hits = 0, misses = 0;
    for (int i = 0; i < NK; i++) {
        snprintf(key, sizeof key, "k%04d", i);
        shmc_rc rc = shmc_get(c, key, 5, got, sizeof got, &n, NULL, NULL);
        value_of(key, v);
        if (i % 3 == 1) hits += rc == SHMC_OK && n == VALUE && memcmp(got, v, VALUE) == 0;
        else misses += rc == SHMC_NOT_FOUND;
    }
    CHECK(hits == hot && misses == NK - hot);
    region_close(&view);
    shmc_close(c);
    t_check_file(path);
}

static void clean_dead_space_only(void)
{
    const char *path = t_path("dead");
    shmc_t *c = t_open_plain(path, 256u << 10, 1024);
    if (!c) return;
    char key[16], v[VALUE], got[VALUE];
    size_t n;
    /* 2000 writes of 1 KiB over 10 keys: the cache's 256 KiB turn over about 8 times */
    for (int round = 0; round < 200; round++)
        for (int i = 0; i < 10; i++) {
            snprintf(key, sizeof key, "r%04d", i);
            value_of(key, v);
            v[VALUE - 1] = (char)round;
            CHECK_RC(shmc_set(c, key, 5, v, VALUE, 0, 0), SHMC_OK);
        }
    shmc_stats_t s = stats(c);
    CHECK(s.evictions == 0 && s.curr_items == 10);
    int whole = 0;
    for (int i = 0; i < 10; i++) {
        snprintf(key, sizeof key, "r%04d", i);
        value_of(key, v);
        v[VALUE - 1] = (char)199;
        whole += shmc_get(c, key, 5, got, sizeof got, &n, NULL, NULL) == SHMC_OK && n == VALUE &&
                 memcmp(got, v, VALUE) == 0;
    }
    CHECK(whole == 10);
    printf("dead space only: 2000 writes, evictions %llu, free segments %llu\n",
           (unsigned long long)s.evictions, (unsigned long long)s.segments_free);
    shmc_close(c);
    t_check_file(path);
}

int main(void)
{
    t_setup("segment_clean");
    clean_by_fate();
    clean_dead_space_only();
    return t_finish();
}
