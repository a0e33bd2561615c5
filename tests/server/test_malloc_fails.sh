#!/usr/bin/env bash
# test_malloc_fails.sh — `stats malloc_fails` counts the allocations shmcd could not make, and
# the server goes on serving: a running shmcd's address space is capped (prlimit) just above
# what it holds, a set of a 900,000-byte value then needs a larger input buffer than the cap
# allows, its connection is closed (memcached closes a connection it cannot buffer), the cap
# is lifted, and stats shows malloc_fails 1 while other connections are served as before.
# Registered for builds without a sanitizer only: ASan's and TSan's allocators reserve their
# heap up front, so an address-space cap cannot make their malloc fail.
. "$(dirname "$0")/lib.sh"
require_tool prlimit util-linux

# glibc's dynamic mmap threshold and per-thread arenas would serve the buffer from address
# space reserved before the cap: one arena, a fixed threshold, so that it needs a new mapping.
export GLIBC_TUNABLES=glibc.malloc.arena_max=1:glibc.malloc.mmap_threshold=131072
start_shmcd -t 1 -m 8
unset GLIBC_TUNABLES
[ "$(mc_line "$PORT" 'set small 0 0 1\r\nx\r\n')" = "STORED" ] || fail "a set before the cap"
vm_kb=$(awk '/^VmSize:/ {print $2}' "/proc/$SHMCD_PID/status")
prlimit --pid "$SHMCD_PID" --as=$(( (vm_kb + 64) * 1024 )): # the soft limit: lifted again below
got=$(python3 - "$PORT" <<'PY'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10)
try:
    s.sendall(b"set big 0 0 900000\r\n" + b"v" * 900000 + b"\r\n")
    data = s.recv(4096)
    print(data.decode("latin-1").strip() or "closed")
except OSError:
    print("closed")
PY
)
prlimit --pid "$SHMCD_PID" --as=unlimited:
case "$got" in
closed) pass "the set that needed more memory than the cap: connection closed" ;;
*) fail "the set under the cap answered '$got' (expected the connection closed)" ;;
esac
n=$(mc_stats "$PORT" | awk '$2 == "malloc_fails" {print $3}')
[ "$n" = "1" ] && pass "malloc_fails 1" || fail "malloc_fails '$n' (expected 1)"
[ "$(mc_line "$PORT" 'get small\r\n')" = "VALUE small 0 1" ] && pass "served after the failure" ||
    fail "get after the failure"
[ "$(mc_line "$PORT" 'get big\r\n')" = "END" ] && pass "nothing half-stored" || fail "big stored"
stop_shmcd
finish
