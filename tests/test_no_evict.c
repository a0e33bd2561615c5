/* test_no_evict.c — SHMC_OPEN_NO_EVICT (memcached -M): a handle opened with it fills the cache
 * and then gets SHMC_NO_MEMORY instead of evicting; every item stored before is still there
 * byte for byte and evictions stays 0.  Deleted and expired items' room is reused; another
 * handle on the same cache, opened without the flag, still evicts; bad flag bits are refused. */
#include <stdbool.h>
#include <time.h>

#include "testutil.h"
#include "progs/mp_common.h"

#define VLEN 1000

static shmc_t *open_cache(const char *path, unsigned flags)
{
    shmc_config cfg;
    shmc_config_init(&cfg);
    cfg.memory_limit = 4 << 20;
    cfg.item_size_max = 64 << 10;
    cfg.flags = flags;
    shmc_t *c = NULL;
    CHECK_RC(shmc_open(&c, path, &cfg), SHMC_OK);
    return c;
}

static void value_of(unsigned char *v, const char *prefix, uint64_t i)
{
    uint64_t s = mp_mix(i * 31 + (unsigned char)prefix[0]);
    for (size_t k = 0; k < VLEN; k += 8) {
        s = mp_mix(s);
        memcpy(v + k, &s, VLEN - k < 8 ? VLEN - k : 8);
    }
}

static shmc_rc put(shmc_t *c, const char *prefix, uint64_t i, int64_t exptime)
{
    char key[64];
    unsigned char v[VLEN];
    size_t nkey = mp_key(key, sizeof key, prefix, i);
    value_of(v, prefix, i);
    return shmc_set(c, key, nkey, v, VLEN, 0, exptime);
}

static bool holds(shmc_t *c, const char *prefix, uint64_t i)
{
    char key[64];
    unsigned char want[VLEN], got[VLEN];
    size_t nkey = mp_key(key, sizeof key, prefix, i), n = 0;
    if (shmc_get(c, key, nkey, got, sizeof got, &n, NULL, NULL) != SHMC_OK) return false;
    value_of(want, prefix, i);
    return n == VLEN && memcmp(got, want, VLEN) == 0;
}

/* Sets until the first SHMC_NO_MEMORY; how many were stored (any other result fails). */
static uint64_t fill_until_full(shmc_t *c, const char *prefix, int64_t exptime)
{
    for (uint64_t i = 0; i < 100000; i++) {
        shmc_rc rc = put(c, prefix, i, exptime);
        if (rc == SHMC_NO_MEMORY) return i;
        if (rc != SHMC_OK) {
            CHECK_RC(rc, SHMC_OK);
            return i;
        }
    }
    CHECK(!"the cache never filled");
    return 0;
}

static uint64_t evictions(shmc_t *c)
{
    shmc_stats_t st;
    CHECK_RC(shmc_stats(c, &st), SHMC_OK);
    return st.evictions;
}

static void refuses_when_full(void)
{
    printf("(a) a full cache refuses stores and keeps every item\n");
    shmc_t *c = open_cache(t_path("full"), SHMC_OPEN_NO_EVICT);
    if (!c) return;
    uint64_t n = fill_until_full(c, "k", 0);
    printf("    %llu items of %d bytes stored before SHMC_NO_MEMORY\n", (unsigned long long)n, VLEN);
    CHECK(n * VLEN > (4u << 20) / 3); /* most of the memory was usable */
    for (int i = 0; i < 50; i++) CHECK_RC(put(c, "more", (uint64_t)i, 0), SHMC_NO_MEMORY);
    uint64_t kept = 0;
    for (uint64_t i = 0; i < n; i++) kept += holds(c, "k", i);
    CHECK(kept == n);
    CHECK(evictions(c) == 0);

    printf("(b) deleted items' room is reused\n");
    char key[64];
    for (uint64_t i = 0; i < n / 2; i++)
        CHECK_RC(shmc_delete(c, key, mp_key(key, sizeof key, "k", i)), SHMC_OK);
    for (uint64_t i = 0; i < n / 4; i++) CHECK_RC(put(c, "new", i, 0), SHMC_OK);
    kept = 0;
    for (uint64_t i = n / 2; i < n; i++) kept += holds(c, "k", i);
    for (uint64_t i = 0; i < n / 4; i++) kept += holds(c, "new", i);
    CHECK(kept == n - n / 2 + n / 4);
    CHECK(evictions(c) == 0);

    printf("(c) a handle without the flag on the same cache still evicts\n");
    fill_until_full(c, "top", 0);
    shmc_t *plain = open_cache(t_path("full"), 0);
    if (plain) {
        for (uint64_t i = 0; i < 2000; i++) CHECK_RC(put(plain, "plain", i, 0), SHMC_OK);
        CHECK(evictions(plain) > 0);
        shmc_close(plain);
    }
    shmc_close(c);
    t_check_file(t_path("full"));
}

static void expired_room_reused(void)
{
    printf("(d) expired items' room is reused\n");
    shmc_t *c = open_cache(t_path("expiring"), SHMC_OPEN_NO_EVICT);
    if (!c) return;
    uint64_t n = fill_until_full(c, "e", 0);
    CHECK(n > 0);
    /* then each gets 1 s (touch changes an item in place), so that how long the fill took
     * (long under ThreadSanitizer) does not matter */
    char key[64];
    for (uint64_t i = 0; i < n; i++)
        CHECK_RC(shmc_touch(c, key, mp_key(key, sizeof key, "e", i), 1), SHMC_OK);
    struct timespec ts = {2, 500 * 1000 * 1000};
    nanosleep(&ts, NULL); /* every item is now past its 1 s */
    uint64_t stored = 0;
    for (uint64_t i = 0; i < n / 2; i++) stored += put(c, "f", i, 0) == SHMC_OK;
    printf("    %llu of %llu sets stored after the items expired\n", (unsigned long long)stored,
           (unsigned long long)(n / 2));
    CHECK(stored == n / 2);
    CHECK(evictions(c) == 0);
    shmc_close(c);
    t_check_file(t_path("expiring"));
}

static void flag_checks(void)
{
    printf("(e) the flag combines with SHMC_OPEN_EXISTING / CREATE; unknown bits are refused\n");
    shmc_t *c = open_cache(t_path("flags"), SHMC_OPEN_CREATE | SHMC_OPEN_NO_EVICT);
    shmc_close(c);
    c = open_cache(t_path("flags"), SHMC_OPEN_EXISTING | SHMC_OPEN_NO_EVICT);
    shmc_close(c);
    shmc_config cfg;
    shmc_config_init(&cfg);
    cfg.flags = 8;
    c = NULL;
    CHECK_RC(shmc_open(&c, t_path("flags"), &cfg), SHMC_INVALID);
    cfg.flags = SHMC_OPEN_EXISTING | SHMC_OPEN_CREATE | SHMC_OPEN_NO_EVICT;
    CHECK_RC(shmc_open(&c, t_path("flags"), &cfg), SHMC_INVALID);
    CHECK(c == NULL);
}

int main(void)
{
    t_setup("no_evict");
    refuses_when_full();
    expired_room_reused();
    flag_checks();
    return t_finish();
}
