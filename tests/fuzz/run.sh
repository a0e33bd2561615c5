#!/usr/bin/env bash
# run.sh <seconds> — build the protocol fuzz target with clang's libFuzzer, ASan and UBSan
# (from the protocol and library sources, in a temporary directory) and run it for that many
# seconds on a seed corpus of real requests; print its executions and coverage.  Exits
# non-zero when the build fails or the fuzzer finds a crash, leak or undefined behaviour.
set -euo pipefail
SECONDS_TO_RUN=${1:?usage: tests/fuzz/run.sh <seconds>}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
CC=${CC:-clang}
command -v "$CC" >/dev/null || { echo "run.sh: $CC not found (Debian package clang)"; exit 1; }
WORK=$(mktemp -d /tmp/shmc-fuzz.XXXXXX)
trap 'rm -rf "$WORK"' EXIT

echo "fuzz: building in $WORK"
"$CC" -g -O1 -std=c11 -D_GNU_SOURCE -DSHMC_BUILDING_LIBRARY \
    -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
    -I"$ROOT" -I"$ROOT/include" -I"$ROOT/src" \
    "$ROOT"/tests/fuzz/fuzz_protocol.c "$ROOT"/protocol/*.c "$ROOT"/src/*/*.c \
    -lpthread -o "$WORK/fuzz_protocol"

mkdir -p "$WORK/corpus"
i=0
seed() { printf '%b' "$1" > "$WORK/corpus/seed$i"; i=$((i + 1)); }
seed 'set a 5 0 3\r\nabc\r\nget a b\r\ngets a\r\n'
seed 'add k 0 0 1 noreply\r\nx\r\nappend k 0 0 1\r\ny\r\nprepend k 0 0 1\r\nz\r\ncas k 0 0 1 1\r\nq\r\n'
seed 'set n 0 0 2\r\n10\r\nincr n 5\r\ndecr n 1\r\ntouch n 10\r\ngat 10 n\r\ngats 0 n\r\ndelete n\r\n'
seed 'flush_all 10\r\nverbosity 1\r\nversion\r\nstats\r\nstats settings\r\nstats items\r\nstats reset\r\nquit\r\n'
seed 'ms m 2 T0 F5 c k O1 q MA\r\nhi\r\nmg m s v f c k Oabc q T30 t\r\nmd m q k\r\nma m N0 J10 D5 MD v c\r\nmn\r\nme m\r\n'
seed 'mg Zm9v b v k N30\r\nms Zm9v 1 b\r\nx\r\nme Zm9v b\r\n'
seed 'ms s 1 T60\r\nx\r\nmd s I T30 k\r\nmg s h l t R30 u v c\r\nms s 1 C5 I c\r\ny\r\nms s 1 MA C0\r\nz\r\nmd s C1 q\r\nma c N0 C0 t T5 v\r\nme s\r\n'
seed 'set big 0 0 70000\r\n'
# the binary protocol: set, getk, incr with an initial value, quiet forms, stat, noop
seed '\x80\x01\x00\x01\x08\x00\x00\x00\x00\x00\x00\x0a\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x05\x00\x00\x00\x00kv\x80\x0c\x00\x01\x00\x00\x00\x00\x00\x00\x00\x01\x00\x00\x00\x02\x00\x00\x00\x00\x00\x00\x00\x00k\x80\x05\x00\x01\x14\x00\x00\x00\x00\x00\x00\x15\x00\x00\x00\x03\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00\x07\x00\x00\x00\x00n\x80\x0d\x00\x01\x00\x00\x00\x00\x00\x00\x00\x01\x00\x00\x00\x04\x00\x00\x00\x00\x00\x00\x00\x00n\x80\x10\x00\x05\x00\x00\x00\x00\x00\x00\x00\x05\x00\x00\x00\x05\x00\x00\x00\x00\x00\x00\x00\x00items\x80\x0a\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x06\x00\x00\x00\x00\x00\x00\x00\x00'
seed 'get k1 k2 k3 k4 k5 k6 k7 k8 k9 k10 k11 k12 k13 k14 k15 k16 k17 k18 k19 k20 k21 k22 k23 k24 k25\r\n'

echo "fuzz: running for ${SECONDS_TO_RUN}s"
cd "$WORK"
status=0
./fuzz_protocol -max_total_time="$SECONDS_TO_RUN" -max_len=8192 -timeout=10 \
    -rss_limit_mb=2048 -print_final_stats=1 corpus >fuzz.log 2>&1 || status=$?
grep -E '^#[0-9]+.*(INITED|DONE)|^stat::|^==[0-9]+==ERROR|^SUMMARY' fuzz.log || true
if [ "$status" -ne 0 ]; then
    echo "fuzz: the fuzzer failed (exit $status); its log:"
    tail -60 fuzz.log
    KEEP=${FUZZ_ARTIFACTS:-/tmp/shmc-fuzz-artifacts}
    mkdir -p "$KEEP"
    for f in crash-* leak-* timeout-* oom-*; do
        [ -e "$f" ] || continue
        cp "$f" "$KEEP/"
        echo "reproducer $KEEP/$f:"
        od -c "$f" | head -20
    done
    exit 1
fi
echo "fuzz: done, no crash"
