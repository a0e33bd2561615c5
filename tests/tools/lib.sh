# lib.sh — shared by the shmc tool's script tests: a private $SHMC_DIR, pass/fail counting,
# and `expect_status N cmd...` (run, require exit status N).  Sourced, not run.
set -u
SHMC=${SHMC:?set SHMC to the shmc binary}
SHMC_DIR=$(mktemp -d /dev/shm/shmc-test-$$.XXXXXX)
export SHMC_DIR
FAILED=0
PASSED=0
OUT=$SHMC_DIR/.out
ERR=$SHMC_DIR/.err

cleanup_dir() { rm -rf "$SHMC_DIR"; }
trap cleanup_dir EXIT

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

finish() {
    echo "$PASSED passed, $FAILED failed"
    [ "$FAILED" -eq 0 ]
}
