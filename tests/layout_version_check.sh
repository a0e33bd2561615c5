#!/bin/bash
# layout_version_check.sh — the build fails when the cache file's layout changes and
# LAYOUT_VERSION does not (layout.h's static assertions): compiles src/region/layout.c as it
# is (must pass), with a counter added to shmc.h's table, with two counters swapped, and with
# a field added to a lock stripe (each must fail, naming LAYOUT_VERSION).
# usage: layout_version_check.sh C_COMPILER SOURCE_DIR
set -u
cc=$1 src=$2
tmp=$(mktemp -d /tmp/shmc-test-layout.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
pass=0 fail=0
compile() { # $1: label, $2: include dir placed first, $3: expect ok|fail
    local out
    out=$("$cc" -std=c11 -fsyntax-only -I"$2" -I"$src/include" -I"$src/src" "$src/src/region/layout.c" 2>&1)
    local rc=$?
    if [ "$3" = ok ] && [ $rc -eq 0 ]; then pass=$((pass + 1)); echo "ok: $1 compiles"
    elif [ "$3" = fail ] && [ $rc -ne 0 ] && grep -q "bump LAYOUT_VERSION" <<<"$out"; then
        pass=$((pass + 1)); echo "ok: $1 fails the build: $(grep -m1 -o 'static assertion failed.*' <<<"$out")"
    else fail=$((fail + 1)); echo "FAIL: $1 (rc $rc, expected $3)"; echo "$out" | head -5; fi
}
mkdir -p "$tmp/none"
compile "the layout as it is" "$tmp/none" ok

mkdir -p "$tmp/added"
sed 's/^\(    X(COUNTER, get_hits, .*\)$/\1\n    X(COUNTER, get_new, "get_new", ZERO, "a new counter") \\/' \
    "$src/include/shmc.h" > "$tmp/added/shmc.h"
grep -q get_new "$tmp/added/shmc.h" || { echo "FAIL: could not add a row"; exit 1; }
compile "a counter added" "$tmp/added" fail

mkdir -p "$tmp/swapped"
awk '/X\(COUNTER, cmd_get,/ { held = $0; next } { print } /X\(COUNTER, get_hits,/ { print held }' \
    "$src/include/shmc.h" > "$tmp/swapped/shmc.h"
compile "two counters moved" "$tmp/swapped" fail

mkdir -p "$tmp/field/region"
sed 's/^\(    _Atomic int64_t items, bytes;\)$/\1\n    _Atomic int64_t extra[16];/' \
    "$src/src/region/layout.h" > "$tmp/field/region/layout.h"
grep -q 'extra\[16\]' "$tmp/field/region/layout.h" || { echo "FAIL: could not add a field"; exit 1; }
compile "a field added to stripe_t" "$tmp/field" fail

# tests/layout_values.c prints the LAYOUT_V_* lines: as they stand in layout.h for the layout
# as it is, and a count one higher with a counter added
values() { # $1: include dir placed first; prints the lines
    "$cc" -std=c11 -I"$1" -I"$src/include" -I"$src/src" "$src/tests/layout_values.c" \
        -o "$tmp/values" && "$tmp/values"
}
now=$(values "$tmp/none")
missing=$(while read -r d name v; do
    grep -Eq "^#define $name +$v( |$)" "$src/src/region/layout.h" || echo "$name $v"; done <<<"$now")
if [ -n "$now" ] && [ -z "$missing" ]; then pass=$((pass + 1)); echo "ok: layout_values prints layout.h's values"
else fail=$((fail + 1)); echo "FAIL: layout_values and layout.h differ: $missing"; fi
count=$(grep -o 'LAYOUT_V_COUNTERS [0-9]*' <<<"$now" | grep -o '[0-9]*$')
if grep -q "LAYOUT_V_COUNTERS $((count + 1))u" <<<"$(values "$tmp/added")"; then
    pass=$((pass + 1)); echo "ok: layout_values counts an added counter"
else fail=$((fail + 1)); echo "FAIL: layout_values with a counter added"; fi

echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
