# lib.sh — shared by the shmc tool's script tests: a private $SHMC_DIR, pass/fail counting,
# `expect_status N cmd...` (run, require exit status N), a process held attached to a cache,
# and commands run as the user nobody.  Sourced, not run.
set -u
SHMC=${SHMC:?set SHMC to the shmc binary}
SHMC=$(realpath "$SHMC") # the tests may run it from another directory
SHMC_DIR=$(mktemp -d /dev/shm/shmc-test-$$.XXXXXX)
export SHMC_DIR
FAILED=0
PASSED=0
OUT=$SHMC_DIR/.out
ERR=$SHMC_DIR/.err

cleanup_dir() { rm -rf "$SHMC_DIR"; }
trap 'stop_holder KILL; cleanup_dir' EXIT

fail() { echo "FAIL: $*"; FAILED=$((FAILED + 1)); }
pass() { echo "ok: $*"; PASSED=$((PASSED + 1)); }

# expect_status N CMD...: run CMD (stdout in $OUT, stderr in $ERR); require status N
expect_status() {
    local want=$1; shift
    "$@" >"$OUT" 2>"$ERR"
    local got=$?
    if [ "$got" -eq "$want" ]; then pass "$* -> $want"
    else fail "$* -> $got, want $want (stdout: $(head -c 300 "$OUT"); stderr: $(head -c 300 "$ERR"))"; fi
}

# expect_out TEXT: stdout of the last expect_status is exactly TEXT (plus a newline)
expect_out() {
    if [ "$(cat "$OUT")" = "$1" ]; then pass "stdout is '$1'"; else fail "stdout '$(cat "$OUT")', want '$1'"; fi
}
# expect_err_has TEXT: the last stderr contains TEXT
expect_err_has() {
    if grep -qF -- "$1" "$ERR"; then pass "stderr has '$1'"; else fail "stderr '$(cat "$ERR")' lacks '$1'"; fi
}
expect_err_empty() {
    if [ ! -s "$ERR" ]; then pass "stderr empty"; else fail "stderr not empty: $(cat "$ERR")"; fi
}

# hold CACHE: attach a process to CACHE (a `shmc top` in the background, pid in $HOLDER)
# until stop_holder [SIGNAL]; returns once `shmc ls` counts it
HOLDER=
hold() {
    "$SHMC" top "$1" -d 3600 </dev/null >/dev/null 2>&1 &
    HOLDER=$!
    for _ in $(seq 200); do
        "$SHMC" ls --json | /usr/bin/python3 -c 'import json,sys; sys.exit(0 if any(c["name"]==sys.argv[1] and c.get("attached") for c in json.load(sys.stdin)) else 1)' "$1" && return 0
        sleep 0.05
    done
    fail "the holder never attached to $1"
}
stop_holder() {
    [ -n "$HOLDER" ] || return 0
    kill "-${1:-TERM}" "$HOLDER" 2>/dev/null
    wait "$HOLDER" 2>/dev/null
    HOLDER=
}

# as_nobody CMD...: run CMD as the user nobody.  nobody_skip: why that cannot be done here
# (nothing when it can).
as_nobody() { setpriv --reuid=nobody --regid=nogroup --clear-groups "$@"; }
nobody_skip() {
    if [ "$(id -u)" != 0 ]; then echo "needs root to run a command as nobody"
    elif ! command -v setpriv >/dev/null; then echo "setpriv (util-linux) is not installed"
    fi
}

finish() {
    echo "$PASSED passed, $FAILED failed"
    [ "$FAILED" -eq 0 ]
}
