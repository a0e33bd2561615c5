#!/usr/bin/env bash
# test_cli.sh — the shmc tool as an operator uses it: only `create` creates, exit statuses as
# documented, a quiet `get`, sizes with suffixes, --help for every command, --json output.
. "$(dirname "$0")/lib.sh"
py=/usr/bin/python3

# read-only and data commands never create a cache
for cmd in "get typo k" "stats typo" "set typo k v" "delete typo k" "incr typo k 1" \
           "touch typo k 5" "flush typo" "check typo" "stats typo --json"; do
    # shellcheck disable=SC2086
    expect_status 4 "$SHMC" $cmd
    expect_err_has "no such cache"
done
[ ! -e "$SHMC_DIR/typo" ] && pass "no file left behind" || fail "a command created $SHMC_DIR/typo"
# --json answers with a JSON object on stdout even then
for cmd in stats check; do
    expect_status 4 "$SHMC" $cmd typo --json
    $py -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d == {"cache": "typo", "error": "no such cache"}, d' "$OUT" \
        && pass "$cmd --json on a missing cache" || fail "$cmd --json typo: $(cat "$OUT")"
done

# create: sizes with suffixes, then refuses an existing cache unless --exist-ok
expect_status 0 "$SHMC" create c -m 8m -I 2m
expect_status 0 "$SHMC" stats c
grep -q "^limit_maxbytes *8388608$" "$OUT" && grep -q "^item_size_max *2097152$" "$OUT" \
    && pass "-m 8m -I 2m" || fail "sizes: $(grep -E 'limit_maxbytes|item_size_max' "$OUT")"
expect_status 5 "$SHMC" create c
expect_err_has "exists already"
expect_status 0 "$SHMC" create c --exist-ok
expect_status 3 "$SHMC" create c --exist-ok -m 16   # exists with other sizes: refused
expect_status 0 "$SHMC" create d -m 8               # a bare -m is MiB, as memcached
expect_status 0 "$SHMC" stats d
grep -q "^limit_maxbytes *8388608$" "$OUT" && pass "-m 8 is 8 MiB" || fail "-m 8"
expect_status 2 "$SHMC" create e -m 8x
expect_status 2 "$SHMC" create e -m 0
expect_status 2 "$SHMC" create e -I 12
expect_status 2 "$SHMC" create e -m -5
[ ! -e "$SHMC_DIR/e" ] && pass "bad sizes create nothing" || fail "bad sizes created e"

# shmcd reads sizes with the same parser
if [ -n "${SHMCD:-}" ]; then
    expect_status 64 "$SHMCD" -m 2x
    expect_err_has "not a whole number of MiB"
    expect_status 64 "$SHMCD" -m 1536k
    expect_status 64 "$SHMCD" -I 2q
    expect_status 64 "$SHMCD" -m 1 -I 1m       # -I over half of -m: memcached's rule
    expect_status 64 "$SHMCD" -m 2g -I 2g
else
    echo "SKIPPED shmcd's size options: SHMCD is not set"
fi

# get: the value alone on stdout, nothing on stderr; -v adds the details
expect_status 0 "$SHMC" set c k hello 42
expect_out STORED
expect_status 0 "$SHMC" get c k
expect_out hello
expect_err_empty
expect_status 0 "$SHMC" get -v c k
expect_out hello
expect_err_has "flags 42 cas"
expect_status 0 "$SHMC" get c k -v
expect_err_has "bytes 5"
expect_status 1 "$SHMC" get c missing
expect_err_empty
expect_status 1 "$SHMC" get -v c missing
expect_err_has "not found"

# exit statuses: miss/not stored 1, usage 2, refused request 7
expect_status 1 "$SHMC" add c k again
expect_status 1 "$SHMC" replace c nokey v
expect_status 0 "$SHMC" set c n abc
expect_status 7 "$SHMC" incr c n 1              # not numeric: not a usage error
expect_err_has "non-numeric"
expect_status 2 "$SHMC" incr c n x              # a bad delta is
expect_status 0 "$SHMC" set c n 41
expect_status 0 "$SHMC" incr c n 1
expect_out 42
expect_status 7 "$SHMC" set c "$(printf 'a%.0s' $(seq 300))" v   # key too long
expect_status 2 "$SHMC" set c k
expect_status 2 "$SHMC" get c
expect_status 2 "$SHMC" frobnicate c
expect_status 2 "$SHMC" get c k --bogus
expect_status 0 "$SHMC" touch c k -1            # a negative exptime is a value, not an option
expect_status 1 "$SHMC" get c k
expect_status 0 "$SHMC" set c dash -- -value
expect_status 0 "$SHMC" get c dash
expect_out -value
expect_status 0 "$SHMC" delete c dash
expect_status 1 "$SHMC" delete c dash

# a foreign file is refused with 3
head -c 100000 /dev/urandom >"$SHMC_DIR/junk"
expect_status 3 "$SHMC" stats junk
expect_status 3 "$SHMC" get junk k
expect_status 3 "$SHMC" check junk

# --help: every command answers it, with its synopsis and the exit statuses
commands=$("$SHMC" --help | awk '/^commands:/{on=1; next} /^  --help/{on=0} on {print $1}')
[ "$(echo "$commands" | wc -w)" -ge 14 ] && pass "shmc --help lists the commands" || fail "commands: $commands"
for cmd in $commands; do
    expect_status 0 "$SHMC" "$cmd" --help
    grep -q "^usage: shmc $cmd " "$OUT" && grep -q "4  no such cache" "$OUT" \
        && pass "$cmd --help" || fail "$cmd --help: $(cat "$OUT")"
done
expect_status 0 "$SHMC" --version

# --json: valid JSON with the numbers
expect_status 0 "$SHMC" stats c --json
$py -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["limit_maxbytes"]==8388608 and d["curr_items"]>=1 and d["protection"] in ("none","pku")' "$OUT" \
    && pass "stats --json" || fail "stats --json: $(cat "$OUT")"
expect_status 0 "$SHMC" check c --json
$py -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["ok"] is True and d["violations"]==0 and d["report"]' "$OUT" \
    && pass "check --json" || fail "check --json: $(cat "$OUT")"
expect_status 3 "$SHMC" check junk --json
$py -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["ok"] is False and d["error"]' "$OUT" \
    && pass "check --json on a foreign file" || fail "check --json junk: $(cat "$OUT")"
expect_status 0 "$SHMC" check c
grep -q "repair pending" "$OUT" && fail "a quiet cache has repairs pending: $(cat "$OUT")" \
    || pass "a quiet cache has no repair pending"

# right after a crash: the dead process's locks are repairs pending, not violations (exit 0),
# and the report says what the next open does; that open repairs them
if [ -n "${CRASH_WORKER:-}" ]; then
    truncate -s 16M "$SHMC_DIR/.model"
    SHMC_CRASH_AT=link.version_odd:40 "$CRASH_WORKER" "$SHMC_DIR/crashed" "$SHMC_DIR/.model" 1 2000 2>"$ERR"
    st=$?
    [ "$st" -eq 137 ] && pass "the worker was killed holding a stripe lock" || fail "worker exit $st: $(cat "$ERR")"
    expect_status 0 "$SHMC" check crashed
    grep -q "^repair pending: stripe lock [0-9]*: its owner died holding it$" "$OUT" \
        && grep -q "repairs\? pending, left by a process that died in a call (not damage)$" "$OUT" \
        && grep -q "nobody is attached and the last users died attached (not damage): the next open re-creates every lock" "$OUT" \
        && grep -q ": 0 violations" "$OUT" && ! grep -q "^violation" "$OUT" \
        && pass "check after a crash: repairs pending, what the next open does" \
        || fail "check after a crash: $(cat "$OUT")"
    expect_status 0 "$SHMC" check crashed --json
    $py -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["ok"] is True and d["violations"]==0 and any(l.startswith("repair pending: stripe lock") for l in d["report"]), d' "$OUT" \
        && pass "check --json after a crash" || fail "check --json after a crash: $(cat "$OUT")"
    expect_status 0 "$SHMC" stats crashed   # an open: the recovery repairs
    grep -q "^repairs *[1-9]" "$OUT" && pass "the next open repaired" || fail "no repair counted: $(grep repairs "$OUT")"
    expect_status 0 "$SHMC" check crashed
    grep -q "repair pending" "$OUT" && fail "still pending after the open: $(cat "$OUT")" \
        || pass "nothing pending after the next open"
else
    echo "SKIPPED the check-after-a-crash cases: CRASH_WORKER (tests/crash's worker) is not set"
fi
finish
