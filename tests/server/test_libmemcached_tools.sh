#!/usr/bin/env bash
# test_libmemcached_tools.sh — libmemcached's command-line tools against shmcd: memccp
# stores files, memccat reads them back byte for byte, memcexist/memctouch/memcrm work on
# keys, memcstat shows memcached's stat names, memcflush empties the cache.
. "$(dirname "$0")/lib.sh"
for t in memccp memccat memcstat memcflush memcrm memcexist memctouch; do
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
stop_shmcd
finish
