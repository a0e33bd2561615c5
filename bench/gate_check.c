/* gate_check.c — ctest gate_emulated: bench's copy of the library with SHMC_GATE_EMULATED
 * (bench/CMakeLists.txt) really runs the protected path on a CPU without PKU, so that
 * bench/gate_estimate.sh measures the gate and not an unprotected call: a protected open
 * succeeds and says so in its statistics, calls through the gate give the right answers,
 * bad input is refused as in protected mode, and a plain handle opened beside it works. */
#include "../tests/testutil.h"

int main(void)
{
    const char *dir = t_setup("gate_emulated");
    if (!dir) return 1;
    shmc_config cfg;
    shmc_config_init(&cfg);
    cfg.memory_limit = 8u << 20;
    cfg.protect = SHMC_PROTECT_PKU;
    shmc_t *c = NULL;
    CHECK_RC(shmc_open(&c, t_path("gated.shmc"), &cfg), SHMC_OK);
    if (!c) return t_finish();

    shmc_stats_t st;
    CHECK_RC(shmc_stats(c, &st), SHMC_OK);
    CHECK(st.protected_mode == 1);

    char value[128], buf[256];
    for (size_t i = 0; i < sizeof value; i++) value[i] = (char)('a' + i % 26);
    CHECK_RC(shmc_set(c, "k1", 2, value, sizeof value, 7, 0), SHMC_OK);
    size_t n = 0;
    uint32_t flags = 0;
    CHECK_RC(shmc_get(c, "k1", 2, buf, sizeof buf, &n, &flags, NULL), SHMC_OK);
    CHECK(n == sizeof value && flags == 7 && memcmp(buf, value, n) == 0);
    CHECK_RC(shmc_get(c, "nope", 4, buf, sizeof buf, &n, NULL, NULL), SHMC_NOT_FOUND);
    static const char long_key[251] = {0}; /* one byte over SHMC_KEY_MAX */
    CHECK_RC(shmc_set(c, long_key, sizeof long_key, value, 1, 0, 0), SHMC_BAD_KEY);
    CHECK_RC(shmc_get(c, NULL, 3, buf, sizeof buf, &n, NULL, NULL), SHMC_INVALID);
    CHECK_RC(shmc_get(c, "k1", 2, buf, sizeof buf, &n, &flags, NULL), SHMC_OK); /* intact */
    CHECK(n == sizeof value && memcmp(buf, value, n) == 0);

    /* a handle opened unprotected in the same process: its calls run through the gate too */
    shmc_config plain = cfg;
    plain.protect = SHMC_PROTECT_NONE;
    shmc_t *p = NULL;
    CHECK_RC(shmc_open(&p, t_path("plain.shmc"), &plain), SHMC_OK);
    if (p) {
        CHECK_RC(shmc_set(p, "k2", 2, "v2", 2, 0, 0), SHMC_OK);
        CHECK_RC(shmc_get(p, "k2", 2, buf, sizeof buf, &n, NULL, NULL), SHMC_OK);
        CHECK(n == 2 && memcmp(buf, "v2", 2) == 0);
        CHECK_RC(shmc_stats(p, &st), SHMC_OK);
        CHECK(st.protected_mode == 0);
        shmc_close(p);
    }
    shmc_close(c);
    CHECK_RC(shmc_get(c, "k1", 2, buf, sizeof buf, &n, NULL, NULL), SHMC_INVALID); /* closed */
    return t_finish();
}
