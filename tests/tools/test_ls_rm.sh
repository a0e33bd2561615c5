#!/usr/bin/env bash
# test_ls_rm.sh — `shmc ls` (without attaching), `shmc rm` (attached processes are told:
# "cache removed", and a new cache under the name is theirs too), and a cache removed by a
# plain rm that live processes still use: a new cache under its name is refused, so its users
# are never split silently.  A `shmc top` in the
# background is the attached process; it is stopped by its PID.
. "$(dirname "$0")/lib.sh"
py=/usr/bin/python3
HOLDER=
stop_holder() { # signal
    [ -n "$HOLDER" ] || return 0
    kill "-${1:-TERM}" "$HOLDER" 2>/dev/null
    wait "$HOLDER" 2>/dev/null
    HOLDER=
}
trap 'stop_holder KILL; cleanup_dir' EXIT
hold() { # cache: attach a process to it until stop_holder
    "$SHMC" top "$1" -d 3600 </dev/null >/dev/null 2>&1 &
    HOLDER=$!
    for _ in $(seq 100); do # attached once ls counts it
        "$SHMC" ls --json | $py -c 'import json,sys; sys.exit(0 if any(c["name"]==sys.argv[1] and c["attached"] for c in json.load(sys.stdin)) else 1)' "$1" && return 0
        sleep 0.05
    done
    fail "the holder never attached to $1"
}

expect_status 0 "$SHMC" create a -m 4
expect_status 0 "$SHMC" create b -m 4
expect_status 0 "$SHMC" set a k v
echo "not a cache" >"$SHMC_DIR/notes.txt"

expect_status 0 "$SHMC" ls
grep -q "^a .* 1 .* none\|^a .* 1 .* pku" "$OUT" && grep -q "^b " "$OUT" && ! grep -q notes "$OUT" \
    && pass "ls lists the caches only" || fail "ls: $(cat "$OUT")"
expect_status 0 "$SHMC" ls -v
expect_err_has "notes.txt: not listed"
expect_status 0 "$SHMC" ls --json
$py -c '
import json, sys
d = {c["name"]: c for c in json.load(open(sys.argv[1]))}
assert set(d) == {"a", "b"}, d
a = d["a"]
assert a["curr_items"] == 1 and a["attached"] == 0 and a["scrub_pending"] is False, a
assert a["memory_limit"] == 4 << 20 and a["file_size"] > a["memory_limit"], a
' "$OUT" && pass "ls --json" || fail "ls --json: $(cat "$OUT")"
expect_status 0 "$SHMC" ls "$SHMC_DIR" --json     # a directory as argument
total_before=$("$SHMC" stats a --json | $py -c 'import json,sys; print(json.load(sys.stdin)["total_connections"])')
"$SHMC" ls >/dev/null
total_after=$("$SHMC" stats a --json | $py -c 'import json,sys; print(json.load(sys.stdin)["total_connections"])')
[ "$total_after" -eq $((total_before + 1)) ] && pass "ls does not attach" \
    || fail "ls attached: total_connections $total_before -> $total_after"

# attached: ls counts it, rm removes it and tells it
hold a
expect_status 0 "$SHMC" ls --json
$py -c 'import json,sys; d={c["name"]: c for c in json.load(open(sys.argv[1]))}; assert d["a"]["attached"]==1 and d["b"]["attached"]==0' "$OUT" \
    && pass "ls counts the attached process" || fail "attached: $(cat "$OUT")"
expect_status 0 "$SHMC" rm a -v
expect_err_has "1 attached process is told"
[ ! -e "$SHMC_DIR/a" ] && pass "rm removes an attached cache" || fail "a is still there"
stop_holder TERM
expect_status 0 "$SHMC" create a -m 4
expect_status 0 "$SHMC" rm a
[ ! -e "$SHMC_DIR/a" ] && pass "rm removes an idle cache" || fail "a is still there"
expect_status 4 "$SHMC" rm a
expect_status 3 "$SHMC" rm notes.txt
expect_status 0 "$SHMC" rm notes.txt --force

# a holder killed while attached: ls says a scrub is pending, and the next open runs it
hold b
stop_holder KILL
expect_status 0 "$SHMC" ls --json
$py -c 'import json,sys; d={c["name"]: c for c in json.load(open(sys.argv[1]))}; assert d["b"]["scrub_pending"] is True and d["b"]["attached"]==0' "$OUT" \
    && pass "ls: scrub pending after a kill" || fail "scrub pending: $(cat "$OUT")"
expect_status 0 "$SHMC" stats b
grep -q "^recovery_scrubs *1$" "$OUT" && pass "the next open scrubbed" || fail "$(grep recovery "$OUT")"
expect_status 0 "$SHMC" ls
grep -q "^b .* -$" "$OUT" && pass "ls: no scrub pending after it" || fail "ls: $(cat "$OUT")"

# a plain rm under a live user: detected and reported, no second cache made
hold b
holder=$HOLDER
rm "$SHMC_DIR/b"
expect_status 4 "$SHMC" stats b
expect_err_has "removed while process $holder still uses it"
expect_status 3 "$SHMC" create b
expect_err_has "removed while process $holder still uses it"
[ ! -e "$SHMC_DIR/b" ] && pass "no split cache was made" || fail "a new b was made"
stop_holder TERM
expect_status 0 "$SHMC" create b
# shmc rm under a live user: it was told, so a new cache under the name splits nobody (its
# next call uses the new one)
hold b
expect_status 0 "$SHMC" rm b
expect_status 0 "$SHMC" create b
stop_holder TERM
finish
