#!/usr/bin/env bash
# test_memccapable.sh — libmemcached's conformance checker (memccapable, Debian's
# libmemcached-tools) against shmcd: every ASCII-protocol check must pass.  shmcd leaves the
# binary protocol out (deprecated upstream), so memccapable's binary checks are not
# applicable and are not run.
. "$(dirname "$0")/lib.sh"
require_tool memccapable libmemcached-tools

start_shmcd -t 2
out=$(memccapable -h 127.0.0.1 -p "$PORT" -a -t 10 2>&1)
rc=$?
echo "$out"
npass=$(grep -c '\[pass\]' <<<"$out")
nfail=$(grep -ci '\[fail\]' <<<"$out")
if [ "$rc" -eq 0 ] && grep -q "All tests passed" <<<"$out" && [ "$nfail" -eq 0 ] && [ "$npass" -ge 27 ]; then
    pass "memccapable: $npass ASCII checks passed"
else
    fail "memccapable: exit $rc, $npass passed, $nfail failed"
fi
echo "memccapable binary checks: not applicable (shmcd serves the text and meta protocols only)"
stop_shmcd
finish
