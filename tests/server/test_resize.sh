#!/usr/bin/env bash
# test_resize.sh — shmcd on an existing cache of another size: refused with a message that
# names --resize; with --resize the cache is resized, its items kept; and while shmcd serves,
# `shmc resize` moves its workers to the new cache by themselves (items, sets and stats over
# the socket see the new cache, and the CLI sees what clients wrote).
. "$(dirname "$0")/lib.sh"
SHMC=${SHMC:?set SHMC to the shmc binary}
export SHMC_DIR=$TMP

"$SHMC" create cache -m 4 || fail "create"
"$SHMC" set cache old 1 >/dev/null || fail "set"
"$SHMCD" -p 0 -s "$TMP/sock" --cache="$TMP/cache" -m 8 >/dev/null 2>"$TMP/err"; rc=$?
if [ $rc -ne 0 ] && grep -q -- "--resize" "$TMP/err" && grep -q "has -m 4m" "$TMP/err"; then
    pass "another -m is refused, naming --resize"
else fail "rc $rc: $(cat "$TMP/err")"; fi
[ "$("$SHMC" stats cache | awk '$1=="limit_maxbytes"{print $2}')" = $((4 << 20)) ] \
    && pass "the refused start left the cache as it was" || fail "the cache changed"

start_shmcd -t 2 -m 8 --resize
grep -q "resized cache .* 1 items kept" "$TMP/shmcd.err" && pass "--resize says what it kept" \
    || fail "$(cat "$TMP/shmcd.err")"
[ "$(mc_line "$PORT" 'get old\r\n')" = "VALUE old 0 1" ] && pass "items kept" || fail "old lost"
[ "$(mc_stats "$PORT" | awk '$2 == "limit_maxbytes" { print $3 }')" = $((8 << 20)) ] && pass "serves the resized cache" || fail "limit after --resize"

# resized under the running server: its workers follow
python3 - "$PORT" <<'PY' || fail "sets before the resize"
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10)
s.sendall(b"".join(b"set k%d 0 0 2\r\nv%d\r\n" % (i, i % 10) for i in range(1, 51)))
data = b""
while data.count(b"STORED\r\n") < 50:
    chunk = s.recv(65536)
    if not chunk:
        sys.exit(1)
    data += chunk
PY
"$SHMC" resize cache -m 16 || fail "shmc resize under shmcd"
[ "$(mc_line "$PORT" 'get k7\r\n')" = "VALUE k7 0 2" ] && pass "shmcd answers from the new cache" || fail "k7"
[ "$(mc_line "$PORT" 'set after 0 0 1\r\nA\r\n')" = STORED ] && pass "set after the resize" || fail "set"
[ "$("$SHMC" get cache after)" = A ] && pass "the set landed in the cache under the name" || fail "split"
[ "$("$SHMC" stats cache | awk '$1=="limit_maxbytes"{print $2}')" = $((16 << 20)) ] \
    && pass "the new size" || fail "size"
stop_shmcd
finish
