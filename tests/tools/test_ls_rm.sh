#!/usr/bin/env bash
# test_ls_rm.sh — `shmc ls` (without attaching), `shmc rm` (attached processes are told:
# "cache removed", and a new cache under the name is theirs too), and a cache removed by a
# plain rm that live processes still use: a new cache under its name is refused, so its users
# are never split silently.  A `shmc top` in the
# background is the attached process; it is stopped by its PID.
. "$(dirname "$0")/lib.sh"
py=/usr/bin/python3

expect_status 0 "$SHMC" create a -m 4
expect_status 0 "$SHMC" create b -m 4
expect_status 0 "$SHMC" set a k v
echo "not a cache" >"$SHMC_DIR/notes.txt"

# a file that is not a cache is listed too, with the reason; so are damaged caches and caches
# of another layout version (a copy of b with its version set to 4, another with a changed
# hash seed)
cp "$SHMC_DIR/b" "$SHMC_DIR/old" && printf '\004\000\000\000' | dd of="$SHMC_DIR/old" bs=1 seek=8 conv=notrunc 2>/dev/null
cp "$SHMC_DIR/b" "$SHMC_DIR/bent" && printf 'x' | dd of="$SHMC_DIR/bent" bs=1 seek=48 conv=notrunc 2>/dev/null
expect_status 0 "$SHMC" ls
grep -q "^a .* 1 .* none\|^a .* 1 .* pku" "$OUT" && grep -q "^b " "$OUT" \
    && grep -q "^notes.txt  *12 not a shmc cache$" "$OUT" \
    && grep -q "^old .* a cache of another layout version$" "$OUT" \
    && grep -q "^bent .* a damaged cache file (shmc check tells more)$" "$OUT" \
    && pass "ls lists the caches, and the other files with the reason" || fail "ls: $(cat "$OUT")"
expect_status 0 "$SHMC" ls -v
expect_err_has "notes.txt: $SHMC_DIR/notes.txt is too short (12 bytes) to be a cache"
expect_err_has "old: cache file has layout version 4"
expect_status 0 "$SHMC" ls --json
$py -c '
import json, sys
d = {c["name"]: c for c in json.load(open(sys.argv[1]))}
assert set(d) == {"a", "b", "notes.txt", "old", "bent"}, d
a = d["a"]
assert a["curr_items"] == 1 and a["attached"] == 0 and a["scrub_pending"] is False, a
assert a["memory_limit"] == 4 << 20 and a["file_size"] > a["memory_limit"], a
assert "error" not in a, a
n = d["notes.txt"]
assert n["error"] == "not a shmc cache" and n["file_size"] == 12 and "too short" in n["detail"], n
assert "curr_items" not in n, n
assert d["old"]["error"] == "a cache of another layout version", d["old"]
assert d["bent"]["error"].startswith("a damaged cache file") and "checksum" in d["bent"]["detail"], d["bent"]
' "$OUT" && pass "ls --json" || fail "ls --json: $(cat "$OUT")"
rm -f "$SHMC_DIR/old" "$SHMC_DIR/bent"

# a cache this user may not read: listed, "permission denied", and ls still succeeds
if [ -n "$(nobody_skip)" ]; then
    echo "SKIPPED ls of another user's cache: $(nobody_skip)"
else
    seen=$SHMC_DIR/seen
    mkdir "$seen"
    chmod 711 "$SHMC_DIR"
    chmod 755 "$seen"
    expect_status 0 "$SHMC" create "$seen/mine" -m 4 --mode 0600
    expect_status 0 "$SHMC" create "$seen/open" -m 4 --mode 0644
    nobody_ls() { as_nobody "$SHMC" ls "$seen" "$@"; }
    expect_status 0 nobody_ls
    grep -q "^mine  *[0-9.]*M permission denied$" "$OUT" && grep -q "^open .* none\|^open .* pku" "$OUT" \
        && pass "ls as nobody shows the unreadable cache, and why" || fail "ls as nobody: $(cat "$OUT")"
    expect_status 0 nobody_ls --json
    $py -c '
import json, sys
d = {c["name"]: c for c in json.load(open(sys.argv[1]))}
assert d["mine"]["error"] == "permission denied" and "Permission denied" in d["mine"]["detail"], d
assert d["mine"]["file_size"] > 4 << 20, d
assert d["open"]["curr_items"] == 0 and "error" not in d["open"], d
' "$OUT" && pass "ls --json as nobody" || fail "ls --json as nobody: $(cat "$OUT")"
    rm -rf "$seen"
    chmod 700 "$SHMC_DIR"
fi
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
