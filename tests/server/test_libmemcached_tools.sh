#!/usr/bin/env bash
# test_libmemcached_tools.sh — libmemcached's command-line tools against shmcd: memccp
# stores files, memccat reads them back byte for byte, memcexist/memctouch/memcrm work on
# keys, memcstat shows memcached's stat names, memcflush empties the cache; then the same
# over the binary protocol (--binary), with a short bounded memcslap --binary load.
. "$(dirname "$0")/lib.sh"
for t in memccp memccat memcstat memcflush memcrm memcexist memctouch memcslap; do
    require_tool "$t" libmemcached-tools
done

start_shmcd -t 2
S="--servers=127.0.0.1:$PORT"
cd "$TMP"
printf 'hello from memccp\n' > small.txt
head -c 500000 /dev/urandom > large.bin   # under the 1 MiB item limit
: > empty.txt

if memccp "$S" small.txt large.bin empty.txt; then pass "memccp stored 3 files"; else fail "memccp"; fi
# memccat prints each value followed by a newline
if [ "$(memccat "$S" small.txt)" = "hello from memccp" ]; then pass "memccat small"; else fail "memccat small"; fi
if memccat "$S" large.bin | head -c 500000 | cmp -s - large.bin; then pass "memccat large (500000 bytes)"; else fail "memccat large"; fi
if [ "$(memccat "$S" large.bin | wc -c)" -eq 500001 ]; then pass "memccat large length"; else fail "memccat large length"; fi
if [ -z "$(memccat "$S" empty.txt)" ]; then pass "memccat empty"; else fail "memccat empty"; fi

stats=$(memcstat "$S")
for name in pid uptime version curr_connections total_connections cmd_get cmd_set get_hits \
            get_misses curr_items total_items bytes limit_maxbytes threads evictions; do
    if grep -q "^[[:space:]]*$name:" <<<"$stats"; then :; else fail "memcstat lacks $name"; fi
done
if grep -q "curr_items: 3" <<<"$stats"; then pass "memcstat (3 items)"; else fail "memcstat curr_items"; echo "$stats"; fi

if memcexist "$S" small.txt; then pass "memcexist present"; else fail "memcexist present"; fi
if ! memcexist "$S" nope.txt 2>/dev/null; then pass "memcexist absent"; else fail "memcexist absent"; fi
if memctouch "$S" --expire=1000 small.txt; then pass "memctouch"; else fail "memctouch"; fi
if memcrm "$S" small.txt && ! memccat "$S" small.txt >/dev/null 2>&1; then pass "memcrm"; else fail "memcrm"; fi
if memcflush "$S" && ! memccat "$S" large.bin >/dev/null 2>&1; then pass "memcflush"; else fail "memcflush"; fi

# the binary protocol (the server negotiates it from each connection's first byte)
B="--binary"
if memccp $B "$S" small.txt large.bin empty.txt; then pass "memccp --binary"; else fail "memccp --binary"; fi
if [ "$(memccat $B "$S" small.txt)" = "hello from memccp" ]; then pass "memccat --binary small"; else fail "memccat --binary small"; fi
if memccat $B "$S" large.bin | head -c 500000 | cmp -s - large.bin; then pass "memccat --binary large"; else fail "memccat --binary large"; fi
stats=$(memcstat $B "$S")
if grep -q "^[[:space:]]*curr_items: [0-9]" <<<"$stats" && grep -q "^[[:space:]]*version: " <<<"$stats"; then
    pass "memcstat --binary"
else
    fail "memcstat --binary"; echo "$stats"
fi
if memcexist $B "$S" small.txt && ! memcexist $B "$S" nope.txt 2>/dev/null; then pass "memcexist --binary"; else fail "memcexist --binary"; fi
if memctouch $B "$S" --expire=1000 small.txt; then pass "memctouch --binary"; else fail "memctouch --binary"; fi
if memcrm $B "$S" small.txt && ! memccat $B "$S" small.txt >/dev/null 2>&1; then pass "memcrm --binary"; else fail "memcrm --binary"; fi
# a short bounded load: 2 threads, 2000 sets and gets each, then multi-gets
for t in set get mget; do
    if timeout 120 memcslap $B "$S" --test=$t --execute-number=2000 --concurrency=2 >"$TMP/slap" 2>&1 &&
       grep -q "Time total" "$TMP/slap"; then
        pass "memcslap --binary --test=$t"
    else
        fail "memcslap --binary --test=$t"; cat "$TMP/slap"
    fi
done
if memcflush $B "$S" && ! memccat $B "$S" large.bin >/dev/null 2>&1; then pass "memcflush --binary"; else fail "memcflush --binary"; fi
stop_shmcd
finish
