/* test_stats_abi.c — shmc_stats_t grows without breaking programs built against an older
 * shmc.h: a program with version 0.1's struct (copied below as it was) calls the function
 * shmc_stats and gets every field at its old place and nothing written past its end; a
 * program newer than the library gets zeros for the fields the library does not know; sizes
 * no shmc.h ever had are refused.  Also: the table's rows are the struct's fields, in order. */
#include "testutil.h"

#include <stddef.h>
#include <stdint.h>

/* shmc_stats_t of shmc 0.1, field for field. */
struct stats_v1 {
    uint64_t curr_items, total_items, bytes, limit_maxbytes, item_size_max;
    uint64_t hash_buckets, segments, segment_size, segments_free;
    uint64_t curr_connections;
    uint64_t total_connections;
    uint64_t time, uptime;
    uint64_t protected_mode;
    uint64_t cmd_get, cmd_set, cmd_touch, cmd_flush;
    uint64_t get_hits, get_misses, get_expired, get_flushed;
    uint64_t delete_hits, delete_misses;
    uint64_t incr_hits, incr_misses, decr_hits, decr_misses;
    uint64_t cas_hits, cas_misses, cas_badval;
    uint64_t touch_hits, touch_misses;
    uint64_t evictions, expired_unfetched, evicted_unfetched, reclaimed;
    uint64_t reinserted;
    uint64_t repairs;
    uint64_t recovery_scrubs;
    uint64_t damaged_dropped;
};

_Static_assert(sizeof(struct stats_v1) == SHMC_STATS_SIZE_V1, "0.1's size");
/* every field of 0.1 is where it was */
#define SAME_PLACE(f)                                                                       \
    _Static_assert(offsetof(struct stats_v1, f) == offsetof(shmc_stats_t, f), #f " moved");
SAME_PLACE(curr_items) SAME_PLACE(total_items) SAME_PLACE(bytes) SAME_PLACE(limit_maxbytes)
SAME_PLACE(item_size_max) SAME_PLACE(hash_buckets) SAME_PLACE(segments)
SAME_PLACE(segment_size) SAME_PLACE(segments_free) SAME_PLACE(curr_connections)
SAME_PLACE(total_connections) SAME_PLACE(time) SAME_PLACE(uptime) SAME_PLACE(protected_mode)
SAME_PLACE(cmd_get) SAME_PLACE(cmd_set) SAME_PLACE(cmd_touch) SAME_PLACE(cmd_flush)
SAME_PLACE(get_hits) SAME_PLACE(get_misses) SAME_PLACE(get_expired) SAME_PLACE(get_flushed)
SAME_PLACE(delete_hits) SAME_PLACE(delete_misses) SAME_PLACE(incr_hits)
SAME_PLACE(incr_misses) SAME_PLACE(decr_hits) SAME_PLACE(decr_misses) SAME_PLACE(cas_hits)
SAME_PLACE(cas_misses) SAME_PLACE(cas_badval) SAME_PLACE(touch_hits)
SAME_PLACE(touch_misses) SAME_PLACE(evictions) SAME_PLACE(expired_unfetched)
SAME_PLACE(evicted_unfetched) SAME_PLACE(reclaimed) SAME_PLACE(reinserted)
SAME_PLACE(repairs) SAME_PLACE(recovery_scrubs) SAME_PLACE(damaged_dropped)

#define GUARD 0xa5
#define EXTRA 6 /* fields a newer shmc.h might have */

static int guard_intact(const unsigned char *g, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (g[i] != GUARD) return 0;
    return 1;
}

int main(void)
{
    t_setup("stats_abi");
    shmc_config cfg;
    shmc_config_init(&cfg);
    cfg.memory_limit = 4u << 20;
    cfg.protect = SHMC_PROTECT_NONE;
    shmc_t *c = NULL;
    CHECK_RC(shmc_open(&c, t_path("abi"), &cfg), SHMC_OK);
    if (!c) return t_finish();
    char v[128] = {0};
    for (int i = 0; i < 10; i++) {
        char k[16];
        snprintf(k, sizeof k, "k%d", i);
        CHECK_RC(shmc_set(c, k, strlen(k), v, sizeof v, 0, 0), SHMC_OK);
    }
    size_t n;
    CHECK_RC(shmc_get(c, "k1", 2, v, sizeof v, &n, NULL, NULL), SHMC_OK);
    CHECK_RC(shmc_get(c, "nope", 4, v, sizeof v, &n, NULL, NULL), SHMC_NOT_FOUND);

    /* this header's program */
    shmc_stats_t now;
    CHECK_RC(shmc_stats(c, &now), SHMC_OK);
    CHECK(now.curr_items == 10 && now.cmd_set == 10 && now.get_hits == 1 && now.get_misses == 1);

    /* a 0.1 program: calls the function shmc_stats with its smaller struct */
    struct {
        struct stats_v1 s;
        unsigned char guard[256];
    } old;
    memset(&old, GUARD, sizeof old);
    CHECK_RC((shmc_stats)(c, (shmc_stats_t *)(void *)&old.s), SHMC_OK);
    CHECK(guard_intact(old.guard, sizeof old.guard));
    CHECK(old.s.curr_items == 10 && old.s.cmd_set == 10 && old.s.get_hits == 1 &&
          old.s.get_misses == 1 && old.s.limit_maxbytes == cfg.memory_limit &&
          old.s.damaged_dropped == 0 && old.s.bytes == now.bytes &&
          old.s.segments == now.segments && old.s.cmd_get == 2);
    /* and the same through shmc_stats_sized with its size, as 0.1's macro would pass it */
    memset(&old, GUARD, sizeof old);
    CHECK_RC(shmc_stats_sized(c, (shmc_stats_t *)(void *)&old.s, sizeof old.s), SHMC_OK);
    CHECK(guard_intact(old.guard, sizeof old.guard) && old.s.curr_items == 10 &&
          old.s.damaged_dropped == 0);

    /* a program newer than this library: its extra fields come back zero, nothing beyond */
    struct {
        shmc_stats_t s;
        uint64_t extra[EXTRA];
        unsigned char guard[256];
    } newer;
    memset(&newer, GUARD, sizeof newer);
    CHECK_RC(shmc_stats_sized(c, &newer.s, sizeof newer.s + sizeof newer.extra), SHMC_OK);
    int zero = 1;
    for (int i = 0; i < EXTRA; i++) zero &= newer.extra[i] == 0;
    CHECK(zero && guard_intact(newer.guard, sizeof newer.guard) && newer.s.curr_items == 10);

    /* sizes no shmc.h ever had, and NULLs */
    memset(&old, GUARD, sizeof old);
    CHECK_RC(shmc_stats_sized(c, (shmc_stats_t *)(void *)&old.s, 8), SHMC_INVALID);
    CHECK_RC(shmc_stats_sized(c, (shmc_stats_t *)(void *)&old.s, SHMC_STATS_SIZE_V1 - 8),
             SHMC_INVALID);
    CHECK_RC(shmc_stats_sized(c, (shmc_stats_t *)(void *)&old.s, SHMC_STATS_SIZE_V1 + 4),
             SHMC_INVALID);
    CHECK(guard_intact((const unsigned char *)&old, sizeof old)); /* refused: nothing written */
    CHECK_RC(shmc_stats_sized(c, NULL, sizeof now), SHMC_INVALID);
    CHECK_RC(shmc_stats_sized(NULL, &now, sizeof now), SHMC_INVALID);

    /* the table is the struct: one 8-byte field per row, in the rows' order */
    size_t rows = 0, in_order = 1;
#define ROW(kind, name, wire, reset, meaning)                                               \
    in_order &= offsetof(shmc_stats_t, name) == rows * sizeof(uint64_t);                   \
    rows++;
    SHMC_STATS(ROW)
#undef ROW
    CHECK(in_order && rows * sizeof(uint64_t) == sizeof(shmc_stats_t));

    shmc_close(c);
    t_check_file(t_path("abi"));
    return t_finish();
}
