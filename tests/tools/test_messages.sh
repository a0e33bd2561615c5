#!/usr/bin/env bash
# test_messages.sh — what every command that opens, creates, removes or reads a cache says
# when the name does not hold a usable cache: a missing name, an empty file, a foreign file,
# a directory, another user's file, a cache removed by a plain rm that a process still uses,
# and a full filesystem.  Each message is the plain reason, never the generic "not a usable
# cache file (foreign, ...)" or "system call failed" in front of it, and nothing is created.
. "$(dirname "$0")/lib.sh"

# expect_plain: the last stderr carries none of the generic prefixes
expect_plain() {
    if grep -qE "foreign, other version|system call failed|invalid argument:" "$ERR"; then
        fail "misleading prefix: $(cat "$ERR")"
    else
        pass "no generic prefix"
    fi
}
# every command on NAME: exit status STATUS and REASON on stderr, plainly
each_command() { # name status reason
    local name=$1 status=$2 reason=$3 cmd
    for cmd in "stats $name" "get $name k" "set $name k v" "check $name" "resize $name -m 8" \
               "dump $name /dev/null" "flush $name"; do
        # shellcheck disable=SC2086
        expect_status "$status" "$SHMC" $cmd
        expect_err_has "$reason"
        expect_plain
    done
}

# an empty file and a foreign one: refused (3) with what is wrong; create says the name is
# taken by something that is not a cache, and how to remove it
: >"$SHMC_DIR/empty"
head -c 8192 /dev/zero | tr '\0' x >"$SHMC_DIR/foreign"
each_command empty 3 "empty is too short (0 bytes) to be a cache"
each_command foreign 3 "not a shmc cache file (bad magic)"
for f in empty foreign; do
    expect_status 3 "$SHMC" create $f -m 4
    expect_err_has "the name is taken by a file that is not a cache"
    expect_err_has "shmc rm --force $f"
    expect_plain
    expect_status 3 "$SHMC" create $f -m 4 --exist-ok
    expect_plain
    expect_status 3 "$SHMC" rm $f
    expect_err_has "(--force removes it anyway)"
    expect_plain
done
[ "$(wc -c <"$SHMC_DIR/foreign")" -eq 8192 ] && [ ! -s "$SHMC_DIR/empty" ] \
    && pass "the files are untouched" || fail "a refused file was changed"
expect_status 0 "$SHMC" rm foreign --force
expect_status 0 "$SHMC" create foreign -m 4   # the name is free again

# a directory: refused as such, and --force does not pretend to help
mkdir "$SHMC_DIR/adir"
each_command adir 3 "adir is a directory, not a cache file"
expect_status 3 "$SHMC" create adir -m 4
expect_err_has "adir is a directory, not a cache file"
expect_status 3 "$SHMC" rm adir --force
expect_err_has "is a directory"
if grep -q -- "--force" "$ERR"; then fail "rm suggests --force for a directory"; else pass "no --force hint"; fi
[ -d "$SHMC_DIR/adir" ] && pass "the directory stays" || fail "adir was removed"

# a bad --group: said once, with the prefix, and nothing created
expect_status 2 "$SHMC" create grp --group no-such-group-here
expect_err_has "shmc: --group no-such-group-here: no such group"
[ "$(wc -l <"$ERR")" -eq 1 ] && pass "one line" || fail "--group: $(cat "$ERR")"
[ ! -e "$SHMC_DIR/grp" ] && pass "--group: nothing created" || fail "--group created grp"

# missing: no such cache (4), and only create makes one
each_command missing 4 "missing: no such cache"
expect_status 4 "$SHMC" rm missing
expect_err_has "no such cache"
[ ! -e "$SHMC_DIR/missing" ] && pass "nothing created" || fail "missing was created"

# a cache removed by a plain rm that a process still uses: every command says so, create
# refuses (a second cache would split its users), and after `shmc rm` (which tells its users)
# create works
expect_status 0 "$SHMC" create gone -m 4
hold gone
rm "$SHMC_DIR/gone"
reason="was removed while process $HOLDER still uses it"
for cmd in "stats gone" "get gone k" "resize gone -m 8" "dump gone /dev/null"; do
    # shellcheck disable=SC2086
    expect_status 4 "$SHMC" $cmd
    expect_err_has "no such cache: "
    expect_err_has "$reason"
done
for opt in "" --exist-ok; do
    # shellcheck disable=SC2086
    expect_status 3 "$SHMC" create gone -m 4 $opt
    expect_err_has "$reason"
    expect_plain
done
[ ! -e "$SHMC_DIR/gone" ] && pass "no second cache made" || fail "a second gone was made"
stop_holder
expect_status 0 "$SHMC" create gone -m 4
expect_status 0 "$SHMC" rm gone
expect_status 0 "$SHMC" create gone -m 4      # after shmc rm too
expect_err_empty

# a handle open while `shmc rm` removes its cache (SHMC_REMOVED): top stops with the reason,
# once, and exit status 4
expect_status 0 "$SHMC" create told -m 4
"$SHMC" top told -d 0.2 </dev/null >/dev/null 2>"$SHMC_DIR/.top.err" &
top_pid=$!
for _ in $(seq 200); do
    "$SHMC" ls --json | /usr/bin/python3 -c 'import json,sys; sys.exit(0 if any(c["name"]=="told" and c.get("attached") for c in json.load(sys.stdin)) else 1)' && break
    sleep 0.05
done
expect_status 0 "$SHMC" rm told
for _ in $(seq 600); do kill -0 "$top_pid" 2>/dev/null || break; sleep 0.1; done
kill "$top_pid" 2>/dev/null   # still running after a minute: stop it, and fail below
wait "$top_pid"
st=$?
[ "$st" -eq 4 ] && pass "top after shmc rm: exit 4" || fail "top after shmc rm: exit $st ($(cat "$SHMC_DIR/.top.err"))"
cp "$SHMC_DIR/.top.err" "$ERR"
expect_err_has "shmc: told: cache $SHMC_DIR/told was removed while this handle had it open"
[ "$(grep -c "removed while this handle" "$ERR")" -eq 1 ] && ! grep -q "cache removed: the cache file" "$ERR" \
    && pass "the reason, once" || fail "top's message: $(cat "$ERR")"

# another user's cache that this user may not open: permission denied, plainly
if [ -n "$(nobody_skip)" ]; then
    echo "SKIPPED another user's cache: $(nobody_skip)"
else
    shared=$SHMC_DIR/shared
    chmod 711 "$SHMC_DIR"   # nobody may pass through to shared/, no further
    mkdir -m 755 "$shared"
    expect_status 0 "$SHMC" create "$shared/priv" -m 4 --mode 0600
    for cmd in "stats $shared/priv" "get $shared/priv k" "check $shared/priv" \
               "resize $shared/priv -m 8" "dump $shared/priv /dev/null" "create $shared/priv -m 4 --exist-ok"; do
        # shellcheck disable=SC2086
        expect_status 8 as_nobody "$SHMC" $cmd
        expect_err_has "Permission denied"
        expect_plain
    done
    expect_status 8 as_nobody "$SHMC" rm "$shared/priv"
    expect_err_has "Permission denied"
    if grep -q -- "--force" "$ERR"; then fail "rm suggests --force on a permission error"; else pass "no --force hint"; fi
    expect_status 0 "$SHMC" stats "$shared/priv"   # intact
fi

# a full filesystem (a small tmpfs in a private mount namespace): create says how much it
# needed and how much there is, and leaves no file; a resize that does not fit says that it
# holds both files, and the cache stays as it was
if ! unshare -m true 2>/dev/null; then
    echo "SKIPPED the full filesystem: no private mount namespace here (unshare -m needs root)"
else
    small=$SHMC_DIR/small
    mkdir "$small"
    in_small() { # size script: run script in a private namespace with a tmpfs of size on $small
        unshare -m bash -c 'mount -t tmpfs -o size="$1" none "$2" && cd "$2" && shift 2 && eval "$1"' \
            _ "$1" "$small" "$2" >"$OUT" 2>"$ERR"
    }
    in_small 2m '"$SHMC" create ./big -m 8; s=$?; ls -A >../small.ls; exit $s'
    st=$?
    [ "$st" -eq 8 ] && pass "full: exit 8" || fail "full: exit $st, want 8 ($(cat "$ERR"))"
    expect_err_has "big needs "
    expect_err_has "No space left on device"
    if grep -q "more than the file holds" "$ERR"; then fail "a new file said to hold bytes"; else pass "no 'more than the file holds' for a new file"; fi
    expect_plain
    [ ! -s "$small.ls" ] && pass "full: no file left" || fail "full: left $(cat "$small.ls")"
    in_small 8m '"$SHMC" create ./r -m 4 >/dev/null && "$SHMC" set ./r k v >/dev/null || exit 99
                 "$SHMC" resize ./r -m 6; s=$?; "$SHMC" get ./r k >&2; ls -A >../small.ls; exit $s'
    st=$?
    [ "$st" -eq 8 ] && pass "full resize: exit 8" || fail "full resize: exit $st, want 8 ($(cat "$ERR"))"
    expect_err_has "a resize holds both files until it is done: cache ./r needs "
    expect_err_has "No space left on device"
    expect_plain
    grep -qx v "$ERR" && pass "full resize: the cache keeps its item" || fail "full resize: $(cat "$ERR")"
    [ "$(cat "$small.ls")" = r ] && pass "full resize: no file left beside it" || fail "full resize: left $(cat "$small.ls")"
fi
finish
