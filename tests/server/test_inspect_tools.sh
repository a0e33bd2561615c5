#!/usr/bin/env bash
# test_inspect_tools.sh — the tools that list a memcached's items, against shmcd: Debian's
# memcached-tool (keys, keys with a limit, dump, whose output stores the same items again)
# reads `lru_crawler metadump all`, and libmemcached's memcdump reads `stats cachedump`
# class by class; memcached-tool display, stats and settings; -X refuses both dumps.
# Every run is under `timeout`: a hang fails.  The timeouts are generous: memcdump walks the
# cache once per class (about 40 walks), which a sanitizer build on a loaded machine does
# slowly; the cache is 8 MiB, not the default 64, so that each walk reads an eighth as much.
. "$(dirname "$0")/lib.sh"
require_tool memcdump libmemcached-tools
MCTOOL=${MEMCACHED_TOOL:-/usr/share/memcached/scripts/memcached-tool}
if [ ! -r "$MCTOOL" ]; then
    echo "FAIL: $MCTOOL is missing (Debian package memcached)"
    exit 1
fi

# Send the bytes of a file (or a printf-escaped string) to shmcd; print the reply.
mc_send() { # port file|-  [request]
    python3 - "$@" <<'PY'
import socket, sys
data = open(sys.argv[2], "rb").read() if sys.argv[2] != "-" else \
    sys.argv[3].encode().decode("unicode_escape").encode("latin-1")
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5)
s.sendall(data + b"mn\r\n")
out = b""
while not out.endswith(b"MN\r\n"):
    chunk = s.recv(65536)
    if not chunk:
        break
    out += chunk
sys.stdout.write(out.decode("latin-1"))
PY
}

start_shmcd -t 2 -m 8
S="--servers=127.0.0.1:$PORT"
cd "$TMP"

# an empty cache: nothing listed, no hang
out=$(timeout 20 perl "$MCTOOL" "127.0.0.1:$PORT" keys 2>/dev/null); rc=$?
if [ "$rc" -eq 0 ] && [ -z "$out" ]; then pass "memcached-tool keys, empty cache"; else fail "keys empty: rc $rc: $out"; fi
out=$(timeout 120 memcdump "$S"); rc=$?
if [ "$rc" -eq 0 ] && [ -z "$out" ]; then pass "memcdump, empty cache"; else fail "memcdump empty: rc $rc: $out"; fi

big=$(head -c 300 /dev/zero | tr '\0' y)
now=$(date +%s)
mc_send "$PORT" - "set foo 5 0 3\r\nbar\r\nset a%20b 0 100 1\r\nx\r\nset big 0 0 300\r\n$big\r\n" >/dev/null
set_done=$(date +%s) # a loaded machine may take seconds between the two

out=$(timeout 20 perl "$MCTOOL" "127.0.0.1:$PORT" keys 2>/dev/null); rc=$?
keys=$(sed 's/ .*//' <<<"$out" | sort | tr '\n' ' ')
if [ "$rc" -eq 0 ] && [ "$keys" = "key=a%2520b key=big key=foo " ]; then pass "memcached-tool keys"; else fail "keys: rc $rc: $out"; fi
if grep -Eq '^key=foo exp=-1 la=[0-9]+ cas=[0-9]+ fetch=no cls=1 size=69$' <<<"$out" &&
   grep -Eq '^key=big exp=-1 la=[0-9]+ cas=[0-9]+ fetch=no cls=7 size=362$' <<<"$out"; then
    pass "memcached-tool keys: memcached's fields"
else fail "keys fields: $out"; fi
out=$(timeout 20 perl "$MCTOOL" "127.0.0.1:$PORT" keys 1 2>/dev/null); rc=$?
if [ "$rc" -eq 0 ] && [ "$(wc -l <<<"$out")" -eq 1 ]; then pass "memcached-tool keys 1 (closes mid-listing)"; else fail "keys 1: rc $rc: $out"; fi

timeout 20 perl "$MCTOOL" "127.0.0.1:$PORT" dump > dump.txt 2>/dev/null; rc=$?
if [ "$rc" -eq 0 ] && grep -q $'^add foo 5 0 3\r$' dump.txt && grep -q $'^bar\r$' dump.txt &&
   grep -q $'^add big 0 0 300\r$' dump.txt && grep -q "^$big"$'\r$' dump.txt; then
    pass "memcached-tool dump"
else fail "dump: rc $rc"; cat -A dump.txt; fi
exp=$(sed -n 's/^add a%20b 0 \([0-9]*\) 1\r$/\1/p' dump.txt)
if [ -n "$exp" ] && [ "$exp" -ge $((now + 99)) ] && [ "$exp" -le $((set_done + 101)) ]; then
    pass "memcached-tool dump: the absolute expiry"
else fail "dump expiry '$exp' (now $now)"; fi
# the dump stores the same items again, in a flushed cache
mc_send "$PORT" - 'flush_all\r\n' >/dev/null
restored=$(mc_send "$PORT" dump.txt | grep -c '^STORED')
got=$(mc_send "$PORT" - 'get foo a%20b big\r\n' | tr -d '\r')
if [ "$restored" -eq 3 ] && [ "$got" = "$(printf 'VALUE foo 5 3\nbar\nVALUE a%%20b 0 1\nx\nVALUE big 0 300\n%s\nEND\nMN' "$big")" ]; then
    pass "memcached-tool dump restores"
else fail "restore: $restored stored; $got"; fi

out=$(timeout 120 memcdump "$S"); rc=$?
if [ "$rc" -eq 0 ] && [ "$(sort <<<"$out" | tr '\n' ' ')" = "a%20b big foo " ]; then pass "memcdump"; else fail "memcdump: rc $rc: $out"; fi

# 2000 items of several sizes: every key listed once by each tool
python3 - "$PORT" <<'PY'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5)
req = b"".join(b"set k%d 0 0 %d noreply\r\n%s\r\n" % (i, i % 700, b"v" * (i % 700)) for i in range(2000))
s.sendall(req + b"mn\r\n")
out = b""
while not out.endswith(b"MN\r\n"):
    out += s.recv(65536)
PY
n=$(timeout 60 perl "$MCTOOL" "127.0.0.1:$PORT" keys 2>/dev/null | grep -c '^key=k')
if [ "$n" -eq 2000 ]; then pass "memcached-tool keys: 2000 items"; else fail "keys listed $n of 2000"; fi
n=$(timeout 120 memcdump "$S" | grep '^k' | sort -u | wc -l)
if [ "$n" -eq 2000 ]; then pass "memcdump: 2000 items"; else fail "memcdump listed $n of 2000"; fi
# memcached-tool's other views: display (stats items + stats slabs, one row per class),
# stats, settings
out=$(timeout 20 perl "$MCTOOL" "127.0.0.1:$PORT" display 2>&1); rc=$?
if [ "$rc" -eq 0 ] && grep -q 'Item_Size' <<<"$out" && [ "$(grep -c 'B ' <<<"$out")" -ge 3 ]; then
    pass "memcached-tool display: a row per class"
else fail "display: rc $rc: $out"; fi
out=$(timeout 20 perl "$MCTOOL" "127.0.0.1:$PORT" stats 2>&1); rc=$?
if [ "$rc" -eq 0 ] && grep -q 'curr_items *20[0-9][0-9]' <<<"$out" && grep -q 'hash_power_level' <<<"$out"; then
    pass "memcached-tool stats"
else fail "stats: rc $rc: $out"; fi
out=$(timeout 20 perl "$MCTOOL" "127.0.0.1:$PORT" settings 2>&1); rc=$?
if [ "$rc" -eq 0 ] && grep -q 'item_size_max *1048576' <<<"$out" && grep -q 'dump_enabled *yes' <<<"$out"; then
    pass "memcached-tool settings"
else fail "settings: rc $rc: $out"; fi
stop_shmcd

# -X: no dumping, with memcached -X's replies (memcached-tool keys then waits forever, with
# memcached -X as with shmcd -X: not run)
start_shmcd -X
got=$(mc_send "$PORT" - 'stats cachedump 1 0\r\nlru_crawler metadump all\r\n' | tr -d '\r')
if [ "$got" = "$(printf 'CLIENT_ERROR stats cachedump not allowed\nERROR metadump not allowed\nMN')" ]; then
    pass "-X refuses cachedump and metadump as memcached -X"
else fail "-X: $got"; fi
if [ "$(mc_send "$PORT" - 'stats settings\r\n' | grep -c 'dump_enabled no')" -eq 1 ]; then
    pass "-X: dump_enabled no"
else fail "-X: stats settings"; fi
stop_shmcd
finish
