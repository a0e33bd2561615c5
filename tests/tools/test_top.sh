#!/usr/bin/env bash
# test_top.sh — `shmc top` in a real terminal (tmux, as over ssh): it draws the live view,
# its rates follow the traffic, and q quits it with exit status 0.  Also its plain mode
# (stdout not a terminal, -n refreshes).
. "$(dirname "$0")/lib.sh"
if ! command -v tmux >/dev/null 2>&1; then
    echo "SKIPPED the terminal cases: tmux is not installed (Debian package tmux; ./build.sh test installs it)"
    TMUX_OK=0
else
    TMUX_OK=1
fi
SOCK=$SHMC_DIR/.tmux
tm() { tmux -S "$SOCK" "$@"; }
trap 'tm kill-server 2>/dev/null; cleanup_dir' EXIT

expect_status 0 "$SHMC" create c -m 4
expect_status 4 "$SHMC" top nope -n 1
expect_status 2 "$SHMC" top c -d 0
expect_status 0 "$SHMC" top c -n 2 -d 0.1
[ "$(grep -c '^ops/s' "$OUT")" -eq 2 ] && ! grep -q $'\033' "$OUT" && pass "plain mode: 2 blocks, no escapes" \
    || fail "plain mode: $(cat -v "$OUT")"

if [ "$TMUX_OK" = 1 ]; then
    tm new-session -d -s top -x 100 -y 30 "SHMC_DIR='$SHMC_DIR' '$SHMC' top c -d 0.2; echo \"top exited \$?\"; sleep 30"
    # traffic while it watches (gets that hit), until a refresh shows it (up to 20 s: the
    # sanitizer builds are slow)
    "$SHMC" set c k v >/dev/null
    (while :; do "$SHMC" get c k >/dev/null; done) &
    traffic=$!
    get_rate=0
    end=$((SECONDS + 20))
    while [ $SECONDS -lt $end ]; do
        sleep 0.3
        screen=$(tm capture-pane -p -t top)
        get_rate=$(echo "$screen" | awk '/^ops\/s/ {print $3}')
        [ -n "$get_rate" ] && [ "$get_rate" -gt 0 ] && echo "$screen" | grep -Eq "^hits +100.0 % now" && break
    done
    kill "$traffic"
    wait "$traffic" 2>/dev/null
    echo "$screen" | head -12
    echo "$screen" | grep -q "^shmc top c .*attached 1 .*q quits" && pass "header" || fail "no header"
    get_rate=$(echo "$screen" | awk '/^ops\/s/ {print $3}')
    [ -n "$get_rate" ] && [ "$get_rate" -gt 0 ] && pass "get rate $get_rate/s" || fail "get rate '$get_rate'"
    echo "$screen" | grep -Eq "^hits +100.0 % now" && pass "hit ratio" || fail "hit ratio"
    echo "$screen" | grep -Eq "^  (used|free|dead) " && pass "memory lines" || fail "memory lines"
    tm send-keys -t top q
    for _ in $(seq 50); do
        tm capture-pane -p -t top | grep -q "top exited" && break
        sleep 0.1
    done
    tm capture-pane -p -t top | grep -q "top exited 0" && pass "q quits with status 0" \
        || fail "q did not quit: $(tm capture-pane -p -t top | tail -3)"
fi
finish
