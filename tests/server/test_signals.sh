#!/usr/bin/env bash
# test_signals.sh — shmcd's life cycle: SIGTERM and SIGINT stop it cleanly (exit 0, UNIX
# socket and pid file removed) with clients connected, the cache stays in its file and a new
# shmcd serves the same items; SIGHUP is ignored and SIGUSR1 stops it, as memcached (checked on
# memcached too); bad options (memcached's -m/-I rules too) and a cache it cannot
# open fail with a message; memcached's big-object sizes (-m 64 -I 16m) and -m 3 serve.
. "$(dirname "$0")/lib.sh"

start_shmcd -t 2 -P "$TMP/shmcd.pid" -s "$TMP/shmcd.sock"
# -s with the harness's -p: both TCP and the UNIX socket
if [ "$(cat "$TMP/shmcd.pid")" = "$SHMCD_PID" ]; then pass "pid file"; else fail "pid file"; fi
if [ -S "$TMP/shmcd.sock" ]; then pass "UNIX socket created"; else fail "UNIX socket"; fi
if [ "$(stat -c %a "$TMP/shmcd.sock")" = 700 ]; then pass "socket mode 700"; else fail "socket mode"; fi
if [ "$(mc_line "$PORT" 'set persist 9 0 5\r\nhello\r\n')" = STORED ]; then pass "set"; else fail "set"; fi
# a client still connected at shutdown
python3 -c 'import socket,sys,time; s=socket.create_connection(("127.0.0.1",int(sys.argv[1]))); time.sleep(30)' "$PORT" &
HOLDER=$!
sleep 0.2
stop_shmcd
kill "$HOLDER"; wait "$HOLDER" 2>/dev/null
if [ ! -e "$TMP/shmcd.sock" ] && [ ! -e "$TMP/shmcd.pid" ]; then pass "socket and pid file removed"; else fail "leftovers"; fi

start_shmcd -t 1
if [ "$(mc_line "$PORT" 'get persist\r\n')" = "VALUE persist 9 5" ]; then pass "items survive a restart"; else fail "items lost"; fi
kill -INT "$SHMCD_PID"; wait "$SHMCD_PID"; rc=$?; SHMCD_PID=
if [ "$rc" -eq 0 ]; then pass "SIGINT: clean exit"; else fail "SIGINT exit $rc"; fi

# as memcached 1.6: SIGHUP is ignored, SIGUSR1 stops gracefully (exit 0, pid file removed)
start_shmcd -t 1 -P "$TMP/usr1.pid"
kill -HUP "$SHMCD_PID"; kill -HUP "$SHMCD_PID"
if [ "$(mc_line "$PORT" 'get persist\r\n')" = "VALUE persist 9 5" ]; then pass "SIGHUP: still serving"; else fail "SIGHUP stopped shmcd"; fi
kill -USR1 "$SHMCD_PID"; wait "$SHMCD_PID"; rc=$?; SHMCD_PID=
if [ "$rc" -eq 0 ] && [ ! -e "$TMP/usr1.pid" ]; then pass "SIGUSR1: clean exit, pid file removed"; else fail "SIGUSR1: exit $rc"; fi
if command -v memcached >/dev/null; then
    mc_port=$(( 21000 + ($$ + 517) % 1000 ))
    mc_user=(); [ "$(id -u)" -eq 0 ] && mc_user=(-u nobody)
    memcached "${mc_user[@]}" -U 0 -l 127.0.0.1 -p "$mc_port" & MC=$!
    for i in $(seq 100); do [ -n "$(mc_line "$mc_port" 'version\r\n')" ] && break; sleep 0.05; done
    kill -HUP "$MC"; sleep 0.2
    if kill -0 "$MC" 2>/dev/null; then pass "memcached too survives SIGHUP"; else fail "memcached died of SIGHUP here"; fi
    kill -USR1 "$MC"; wait "$MC"; rc=$?
    if [ "$rc" -eq 0 ]; then pass "memcached too exits 0 on SIGUSR1"; else fail "memcached SIGUSR1 exit $rc"; fi
fi

# bad command lines: a message and exit status 64
for args in "-p abc" "-t 257" "-I 12q" "-I 2g" "-m 1" "-m 64 -I 33m" "-m 0" "-U 5" "-B foo" "--bogus" "-a 999" "extra"; do
    # shellcheck disable=SC2086
    "$SHMCD" $args --cache="$TMP/c2" >/dev/null 2>"$TMP/err"; rc=$?
    if [ "$rc" -eq 64 ] && [ -s "$TMP/err" ]; then :; else fail "shmcd $args: exit $rc"; fi
done
pass "bad options refused"
# memcached's own checks of -t, -c and -R: its message, exit 1
for args in "-t 0" "-c -1" "-R 0" "-c x"; do
    # shellcheck disable=SC2086
    "$SHMCD" $args --cache="$TMP/c2" >/dev/null 2>"$TMP/err"; rc=$?
    if [ "$rc" -eq 1 ] && grep -q "must be greater than 0" "$TMP/err"; then :; else fail "shmcd $args: exit $rc"; fi
done
pass "counts that are not above 0 refused as memcached refuses them"
"$SHMCD" -h | grep -q -- "--cache" && pass "-h" || fail "-h"
"$SHMCD" -V | grep -q "shmc" && pass "-V" || fail "-V"
# a file that is not a cache: refused with the reason, exit 1
echo "not a cache" > "$TMP/notcache"
"$SHMCD" -p 0 -s "$TMP/x.sock" --cache="$TMP/notcache" 2>"$TMP/err"; rc=$?
if [ "$rc" -eq 1 ] && grep -q "cannot open cache" "$TMP/err"; then pass "bad cache file refused"; else fail "bad cache file: exit $rc"; cat "$TMP/err"; fi
# different limits than the existing file's: refused
"$SHMCD" -p 0 -s "$TMP/y.sock" -m 128 --cache="$TMP/cache" 2>"$TMP/err"; rc=$?
if [ "$rc" -eq 1 ]; then pass "mismatched -m refused"; else fail "mismatched -m: exit $rc"; fi
# memcached's sizes for big objects: -m 64 -I 16m stores and serves a 16 MiB item; -m 3 runs
rm -f "$TMP/cache"
start_shmcd -t 1 -m 64 -I 16m
if python3 - "$PORT" <<'PY'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10)
# the largest value of key "big" under -I 16m: memcached counts its 62 bytes of item overhead
v = (bytes(i * 7 % 251 for i in range(1 << 20)) * 16)[:(16 << 20) - 62]
def reply(end):
    data = b""
    while not data.endswith(end):
        chunk = s.recv(1 << 20)
        if not chunk: break
        data += chunk
    return data
s.sendall(b"set big 0 0 %d\r\n" % len(v) + v + b"\r\n")
assert reply(b"\r\n") == b"STORED\r\n"
s.sendall(b"set toobig 0 0 %d\r\n" % (len(v) + 1) + v + b"x\r\n")
assert reply(b"\r\n").startswith(b"SERVER_ERROR")
s.sendall(b"get big\r\n")
assert reply(b"END\r\n") == b"VALUE big 0 %d\r\n" % len(v) + v + b"\r\nEND\r\n"
PY
then pass "-m 64 -I 16m: a 16 MiB item stored and read back"; else fail "-m 64 -I 16m"; fi
stop_shmcd
rm -f "$TMP/cache"
start_shmcd -t 1 -m 3
if [ "$(mc_line "$PORT" 'set small 0 0 2\r\nhi\r\n')" = STORED ]; then pass "-m 3 serves"; else fail "-m 3"; fi
stop_shmcd
finish
