#!/usr/bin/env bash
# test_memccapable.sh — libmemcached's conformance checker (memccapable, Debian's
# libmemcached-tools) against shmcd, with no -a: every ASCII check and every binary-protocol
# check must pass, as they do against memcached 1.6.
. "$(dirname "$0")/lib.sh"
require_tool memccapable libmemcached-tools

start_shmcd -t 2
out=$(memccapable -h 127.0.0.1 -p "$PORT" -t 10 2>&1)
rc=$?
echo "$out"
nascii=$(grep -c '^ascii .*\[pass\]' <<<"$out")
nbinary=$(grep -c '^binary .*\[pass\]' <<<"$out")
nfail=$(grep -ci '\[fail\]' <<<"$out")
if [ "$rc" -eq 0 ] && grep -q "All tests passed" <<<"$out" && [ "$nfail" -eq 0 ] &&
   [ "$nascii" -ge 27 ] && [ "$nbinary" -ge 27 ]; then
    pass "memccapable: $nascii ASCII and $nbinary binary checks passed"
else
    fail "memccapable: exit $rc, $nascii ASCII and $nbinary binary passed, $nfail failed"
fi
stop_shmcd
finish
