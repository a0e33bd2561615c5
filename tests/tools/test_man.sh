#!/usr/bin/env bash
# test_man.sh BUILD SOURCE — the manual pages agree with the programs and the header:
# every line of `shmc --help` and of each `shmc COMMAND --help` is in shmc.1, every line of
# `shmcd --help` is in shmcd.1, every function declared in include/shmc.h is in libshmc.3,
# and groff renders the three pages without a warning.
. "$(dirname "$0")/lib.sh"
build=$1 src=$2
norm() { tr -s ' \t\n' '   ' | sed 's/^ //; s/ $//'; }
render() { MANWIDTH=2000 man --nh --nj -l "$1" 2>/dev/null | col -b | norm; }
has() { # page-text line label
    case "$1" in *"$2"*) return 0 ;; esac
    fail "$3: the page lacks '$2'"
    return 1
}

for page in "$build/man/shmc.1" "$build/man/shmcd.1" "$src/man/libshmc.3"; do
    if [ ! -e "$page" ]; then
        echo "SKIPPED $page: not built (help2man missing; Debian package help2man)"
        continue
    fi
    warn=$(MANWIDTH=80 man --warnings -l "$page" 2>&1 >/dev/null)
    [ -z "$warn" ] && pass "$(basename "$page") renders without warnings" || fail "$page: $warn"
done

if [ -e "$build/man/shmc.1" ]; then
    page=$(render "$build/man/shmc.1")
    bad=0
    while IFS= read -r line; do
        l=$(printf '%s' "$line" | norm)
        [ -n "$l" ] && { has "$page" "$l" "shmc --help" || bad=1; }
    done < <("$SHMC" --help)
    for cmd in $("$SHMC" --help | awk '/^commands:/{on=1; next} /^  --help/{on=0} on {print $1}'); do
        while IFS= read -r line; do
            l=$(printf '%s' "$line" | norm)
            [ -n "$l" ] && { has "$page" "$l" "shmc $cmd --help" || bad=1; }
        done < <("$SHMC" "$cmd" --help | sed '/^exit status:/,$d')
    done
    [ $bad = 0 ] && pass "shmc.1 has every line of shmc's --help texts"
fi
if [ -e "$build/man/shmcd.1" ]; then
    page=$(render "$build/man/shmcd.1")
    bad=0
    while IFS= read -r line; do
        l=$(printf '%s' "$line" | norm)
        [ -n "$l" ] && { has "$page" "$l" "shmcd --help" || bad=1; }
    done < <("$SHMCD" --help | tail -n +2 | sed -E 's/^  (-[a-zA-Z], )?(--[a-z-]+(=[^ ]+)?) +/\1\2\n/')
    [ $bad = 0 ] && pass "shmcd.1 has every flag and line of shmcd --help"
fi

# libshmc.3 names every public function of the header
funcs=$(grep -oE '^[a-z_]+( [a-z_]+)* \**(shmc_[a-z0-9_]+)\(' "$src/include/shmc.h" | grep -oE 'shmc_[a-z0-9_]+\($' | tr -d '(' | sort -u)
[ "$(echo "$funcs" | wc -w)" -ge 20 ] && pass "$(echo "$funcs" | wc -w) functions in shmc.h" || fail "functions: $funcs"
page3=$(render "$src/man/libshmc.3")
for f in $funcs; do
    case "$page3" in *"$f("*) ;; *) fail "libshmc.3 lacks $f" ;; esac
    n=$(printf '%s' "$page3" | grep -o "$f" | wc -l)
    [ "$n" -ge 2 ] || fail "libshmc.3 names $f only in its synopsis"
done
pass "libshmc.3 checked against every function"
finish
