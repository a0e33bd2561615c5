#!/usr/bin/env bash
# test_systemd.sh BUILD SOURCE — the shmcd.service unit passes `systemd-analyze verify`,
# scores a low exposure in `systemd-analyze security` (at most 2.0: "OK"), and shmcd accepts
# the flags /etc/shmcd.conf gives it.  The unit is checked with ExecStart pointing at the
# built shmcd (verify requires the binary to exist) and --man=no (its man pages are installed
# with the package, not on the build machine).
. "$(dirname "$0")/lib.sh"
build=$1 src=$2
unit=$SHMC_DIR/shmcd.service
sed -e "s|^ExecStart=[^ ]*|ExecStart=$SHMCD|" -e "s|^EnvironmentFile=.*|EnvironmentFile=$src/systemd/shmcd.conf|" \
    "$build/systemd/shmcd.service" >"$unit"
grep -q "^ExecStart=$SHMCD \$SHMCD_OPTS" "$unit" && pass "unit configured" || fail "unit: $(grep Exec "$unit")"
for want in "User=shmcd" "ProtectSystem=strict" "NoNewPrivileges=yes" "PrivateTmp=yes" \
            "CapabilityBoundingSet=" "EnvironmentFile=" "ExecReload=/bin/kill -HUP"; do
    grep -q "^$want" "$unit" && pass "unit has $want" || fail "unit lacks $want"
done

if ! command -v systemd-analyze >/dev/null 2>&1; then
    echo "SKIPPED systemd-analyze verify/security: systemd-analyze is not installed (Debian package systemd)"
else
    expect_status 0 systemd-analyze verify --man=no "$unit"
    expect_err_empty
    systemd-analyze security --offline=true "$unit" >"$OUT" 2>&1
    score=$(grep -oE "Overall exposure level for shmcd.service: [0-9.]+" "$OUT" | grep -oE "[0-9.]+$")
    echo "systemd-analyze security: exposure $score"
    [ -n "$score" ] && awk -v s="$score" 'BEGIN { exit !(s <= 2.0) }' && pass "exposure $score <= 2.0" \
        || fail "exposure '$score': $(tail -5 "$OUT")"
fi

# the configuration's flags are ones shmcd takes (the group may not exist here: a number)
# shellcheck disable=SC1091
. "$src/systemd/shmcd.conf"
[ -n "${SHMCD_OPTS:-}" ] && pass "shmcd.conf sets SHMCD_OPTS" || fail "no SHMCD_OPTS"
# shellcheck disable=SC2086
expect_status 0 "$SHMCD" ${SHMCD_OPTS//--group=shmc/--group=0} -V
grep -q "^g shmc" "$src/systemd/shmcd.sysusers" && grep -q "^u shmcd -:shmc" "$src/systemd/shmcd.sysusers" \
    && pass "sysusers: user shmcd in group shmc" || fail "sysusers"
finish
