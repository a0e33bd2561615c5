#!/usr/bin/env bash
# device_check.sh — one bounded check (a few minutes) for a bigger machine, possibly with
# protection keys (PKU): builds a Release tree, then prints
#   1. libshmc's get/set 128 B latency unprotected beside protected (SHMC_PROTECT_PKU), and
#      the gate's cost per call (protected − unprotected, separate processes; target ≤ 50 ns);
#   2. libshmc's throughput at 1, 2, 4, 8 and 16 processes (90 % get, uniform keys), and
#      whether the aggregate holds up past the core count;
#   3. an estimate of the gate's cost from the gate without its instructions
#      (bench/gate_estimate.sh), beside the measured one where the CPU has PKU;
#   4. memcached beside it (UNIX socket, same client code), when memcached and
#      libmemcached-dev are already installed — this script never installs anything.
#
#   bench/device_check.sh [--keys N] [--seconds S] [--runs N] [--samples N] [--out DIR]
#
# Needs only a C compiler and cmake.  Defaults: 1M keys, 5 runs of 0.5 s per throughput
# figure, 5 runs of 2000 samples per latency figure.  Raw result lines, the build log and a
# summary stay in DIR (default build-device/check).  Every step has a time limit.
set -euo pipefail

usage() {
    sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//'
    exit 2
}

SRC=$(cd "$(dirname "$0")/.." && pwd)
KEYS=1M SECONDS_PER_RUN=0.5 RUNS=5 SAMPLES=2000 OUT=""
while [ $# -gt 0 ]; do
    case "$1" in
    --keys) [ $# -ge 2 ] || usage; KEYS=$2; shift ;;
    --seconds) [ $# -ge 2 ] || usage; SECONDS_PER_RUN=$2; shift ;;
    --runs) [ $# -ge 2 ] || usage; RUNS=$2; shift ;;
    --samples) [ $# -ge 2 ] || usage; SAMPLES=$2; shift ;;
    --out) [ $# -ge 2 ] || usage; OUT=$2; shift ;;
    -h | --help) usage ;;
    *) echo "device_check.sh: unknown argument '$1'" >&2; usage ;;
    esac
    shift
done

BUILD=$SRC/build-device
OUT=${OUT:-$BUILD/check}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
RAW=$OUT/results.tsv
: >"$RAW"
say() { echo "device_check: $*" >&2; }
T0=$(date +%s)

# ---- the machine ----
CORES=$(nproc)
CPU=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//' || true)
PKU=no
grep -qw pku /proc/cpuinfo && grep -qw ospke /proc/cpuinfo && PKU=yes
say "${CPU:-$(uname -m)}, $CORES cores, PKU: $PKU, $(uname -sr)"

# ---- build (Release), only what is measured; offline ----
for tool in cmake cc; do
    command -v $tool >/dev/null || { say "$tool is missing: cannot build"; exit 1; }
done
say "building Release in $BUILD (log: $OUT/build.log)"
JOBS=$CORES
[ "$JOBS" -le 16 ] || JOBS=16
if ! timeout 600 cmake -S "$SRC" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release >"$OUT/build.log" 2>&1 ||
    ! timeout 600 cmake --build "$BUILD" -j"$JOBS" --target shmc_bench_fill shmc_bench_latency \
        shmc_bench_throughput shmc_bench_latency_gate >>"$OUT/build.log" 2>&1; then
    tail -n 20 "$OUT/build.log" >&2
    say "build failed"
    exit 1
fi
BIN=$BUILD/bench
say "built in $(($(date +%s) - T0)) s"

# ---- memcached, if it is here already ----
# the caches (two of 1 GiB) go to /dev/shm, unless it is too small (a container's 64 MiB)
SHM_DIR=/dev/shm
if [ "$(df -Pk /dev/shm 2>/dev/null | awk 'NR == 2 {print $4}')" -lt $((3 * 1024 * 1024)) ] 2>/dev/null; then
    SHM_DIR=${TMPDIR:-/tmp}
    say "/dev/shm has less than 3 GiB free: caches in $SHM_DIR instead (page cache of a disk file)"
fi
WORK=$(mktemp -d "$SHM_DIR/shmc-device.XXXXXX")
MC_PID=0
cleanup() {
    if [ "$MC_PID" -gt 0 ]; then
        kill "$MC_PID" 2>/dev/null || true
        wait "$MC_PID" 2>/dev/null || true
    fi
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'say interrupted; exit 130' INT TERM

MC_TARGET=()
MEMCACHED=$(command -v memcached || true)
if ! grep -q '^LIBMEMCACHED_FOUND:INTERNAL=1' "$BUILD/CMakeCache.txt"; then
    say "memcached column skipped: libmemcached-dev is not installed (no apt here: install it by hand to compare)"
elif [ -z "$MEMCACHED" ]; then
    say "memcached column skipped: memcached is not installed"
else
    user=()
    [ "$(id -u)" -eq 0 ] && user=(-u root)
    threads=$CORES
    [ "$threads" -le 16 ] || threads=16
    "$MEMCACHED" "${user[@]}" -s "$WORK/mc.sock" -a 0600 -m 1024 -t "$threads" -U 0 \
        >"$OUT/memcached.log" 2>&1 &
    MC_PID=$!
    for _ in $(seq 50); do
        [ -S "$WORK/mc.sock" ] && break
        sleep 0.1
    done
    if [ -S "$WORK/mc.sock" ]; then
        MC_TARGET=("memcached-unix=unix:$WORK/mc.sock")
    else
        say "memcached column skipped: memcached did not start ($(tail -n 1 "$OUT/memcached.log"))"
    fi
fi

# run LIMIT_S NAME PROGRAM ARGS... — result lines to the raw file; fails the check on error
run() {
    local limit=$1 name=$2
    shift 2
    if ! timeout "$limit" "$@" >>"$RAW" 2>"$OUT/$name.err"; then
        cat "$OUT/$name.err" >&2
        say "$name failed or ran past ${limit} s"
        exit 1
    fi
    [ -s "$OUT/$name.err" ] && cat "$OUT/$name.err" >&2
    return 0
}

CACHE=$WORK/plain.shmc PKU_CACHE=$WORK/pku.shmc
say "filling $KEYS items of 128 B"
run 300 fill "$BIN/shmc_bench_fill" --keys "$KEYS" --big-keys 1 --memory 1Gi \
    "libshmc=shmc:$CACHE" "libshmc-pku=shmc-pku:$PKU_CACHE" "${MC_TARGET[@]}"
# Protected and unprotected in separate processes: once a process has opened a cache
# protected, every call it makes, on any handle, runs through the gate (shmc.h).  They
# alternate run by run, the order swapped every run; each figure is the median of the runs'.
say "latency: get/set 128 B, unprotected and protected ($RUNS alternating runs x $SAMPLES samples)"
for r in $(seq "$RUNS"); do
    plain=("libshmc=shmc:$CACHE" "${MC_TARGET[@]}") pku=("libshmc-pku=shmc-pku:$PKU_CACHE")
    [ $((r % 2)) -eq 1 ] || { plain=("${pku[@]}"); pku=("libshmc=shmc:$CACHE" "${MC_TARGET[@]}"); }
    for targets in plain pku; do
        declare -n t=$targets
        run 120 latency "$BIN/shmc_bench_latency" --keys "$KEYS" --big-keys 1 \
            --ops get128,set128,getmiss --samples "$SAMPLES" --runs 1 --tag "r$r" "${t[@]}"
        unset -n t
    done
done
say "the gate's estimate without the instructions (gate_estimate.sh; beside the measured row on a PKU CPU)"
if ! timeout 300 "$SRC/bench/gate_estimate.sh" "$BUILD" --keys "$KEYS" --rounds 3 --runs 1 \
    --samples "$SAMPLES" --out "$OUT" >/dev/null 2>"$OUT/gate_estimate.err"; then
    cat "$OUT/gate_estimate.err" >&2
    say "gate_estimate.sh failed or ran past 300 s"
    exit 1
fi
say "throughput: 1..16 processes, 90% get, uniform keys ($RUNS runs of ${SECONDS_PER_RUN} s)"
run 600 throughput "$BIN/shmc_bench_throughput" --keys "$KEYS" --mixes 90 --dists uniform \
    --workers t1,p1,p2,p4,p8,p16 --runs "$RUNS" --seconds "$SECONDS_PER_RUN" --warmup 0.05 \
    "libshmc=shmc:$CACHE" "${MC_TARGET[@]}"

# ---- the summary ----
awk -F'\t' -v cores="$CORES" -v pku="$PKU" '
    function median(a, n,    i, j, t) {
        for (i = 2; i <= n; i++) for (j = i; j > 1 && a[j - 1] > a[j]; j--) { t = a[j]; a[j] = a[j - 1]; a[j - 1] = t }
        return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
    }
    $1 == "lat" { RUN[$3, $4, $2] = $7; N[$3, $4]++; R[$3, $4, N[$3, $4]] = $7 }
    $1 == "unavailable" { UNAV[$3] = $4 }
    $1 == "tput" { TP[$3, $6, $7] = $9; TPLO[$3, $6, $7] = $10; TPHI[$3, $6, $7] = $11; SEEN[$3] = 1 }
    function cell(s, op) {
        if ((s, op) in LAT) return sprintf("%7.0f ns (%.0f-%.0f)", LAT[s, op], LO[s, op], HI[s, op])
        return (s in UNAV) ? UNAV[s] : "not measured"
    }
    END {
        for (k in N) {
            n = N[k]
            for (i = 1; i <= n; i++) A[i] = R[k, i]
            LAT[k] = median(A, n); LO[k] = A[1]; HI[k] = A[n]
        }
        printf "\n== latency, median per op (lowest-highest run); PKU on this CPU: %s ==\n", pku
        printf "%-10s %-28s %-28s %-28s %s\n", "op", "libshmc", "libshmc + PKU", "memcached UNIX", "gate cost (PKU - plain)"
        n = split("get128 set128 getmiss", ops, " ")
        for (i = 1; i <= n; i++) {
            op = ops[i]
            gate = "-"
            if ((("libshmc", op) in LAT) && (("libshmc-pku", op) in LAT)) {
                nd = 0
                for (r = 1; r <= 1000; r++)
                    if ((("libshmc", op, "r" r) in RUN) && (("libshmc-pku", op, "r" r) in RUN))
                        D[++nd] = RUN["libshmc-pku", op, "r" r] - RUN["libshmc", op, "r" r]
                d = nd ? median(D, nd) : LAT["libshmc-pku", op] - LAT["libshmc", op] # run by run
                gate = sprintf("%.0f ns per call: %s", d, d <= 50 ? "within the 50 ns target" : "OVER the 50 ns target")
            }
            printf "%-10s %-28s %-28s %-28s %s\n", op, cell("libshmc", op), cell("libshmc-pku", op), cell("memcached-unix", op), gate
        }
        printf "\n== throughput, 90%% get / 10%% set, uniform keys, ops/s (lowest-highest run); %d cores ==\n", cores
        m = split("libshmc memcached-unix", sys, " ")
        for (j = 1; j <= m; j++) {
            s = sys[j]
            if (!(s in SEEN)) continue
            printf "%s:\n", s
            best = 0
            for (k = 1; k <= 16; k *= 2) {
                if (!((s, "processes", k) in TP)) continue
                v = TP[s, "processes", k]
                if (k <= cores && v > best) best = v
                base = TP[s, "processes", 1]
                printf "  %2d processes %14.0f (%.0f-%.0f)  %5.2fx one process\n", k, v, TPLO[s, "processes", k], TPHI[s, "processes", k], (base > 0 ? v / base : 0)
            }
            if (((s, "threads", 1) in TP)) printf "   1 thread    %14.0f\n", TP[s, "threads", 1]
            if (best > 0 && ((s, "processes", 16) in TP)) {
                r = TP[s, "processes", 16] / best
                printf "  16 processes vs the best at <= %d processes: %.2fx (%s)\n", cores, r, (r >= 0.9 ? "holds up" : "FALLS past the core count")
            }
        }
    }' "$RAW" | tee "$OUT/summary.txt"
tee -a "$OUT/summary.txt" <"$OUT/gate_estimate.txt"
say "done in $(($(date +%s) - T0)) s; raw results, logs and summary in $OUT"
