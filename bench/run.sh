#!/usr/bin/env bash
# run.sh — run every benchmark of shmc beside memcached, in one run, on this machine, and
# write docs/benchmarks.md and its plots from what was measured.
#
#   bench/run.sh BUILD_DIR [--full] [--out DIR] [--keys N]
#
# It starts its own memcached (UNIX socket and TCP on 127.0.0.1, ports 22000-22999) and its
# own shmcd (when BUILD_DIR holds one), fills them, runs the latency, throughput, scaling
# and memory programs (shmc_bench_*), stops every process it started (also on Ctrl-C or an
# error), and hands the raw results to bench/report.sh.  Default: a short run of about two
# minutes; --full: more samples and runs, 1-second windows and 10M keys (about 20 minutes).
# --keys N: the main run's item count instead of 1M (a quick try of the script itself).
# Needs: memcached, libmemcached-dev and liblmdb-dev (at build time), gnuplot
# (`./build.sh bench` installs them).  LMDB is measured beside them: its environment on
# /dev/shm, filled with the same items.  Raw results and server logs stay in
# BUILD_DIR/bench-results/.
set -euo pipefail

usage() {
    sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'
    exit 2
}

[ $# -ge 1 ] || usage
BUILD=$(cd "$1" 2>/dev/null && pwd) || { echo "run.sh: no build directory '$1'" >&2; exit 2; }
shift
SRC=$(cd "$(dirname "$0")/.." && pwd)
OUT=$SRC/docs
MODE=short
KEYS_ARG=1M
while [ $# -gt 0 ]; do
    case "$1" in
    --full) MODE=full ;;
    --short) MODE=short ;;
    --out) [ $# -ge 2 ] || usage; OUT=$2; shift ;;
    --keys) [ $# -ge 2 ] || usage; KEYS_ARG=$2; shift ;;
    -h | --help) usage ;;
    *) echo "run.sh: unknown argument '$1'" >&2; usage ;;
    esac
    shift
done

BIN=$BUILD/bench
for p in fill latency throughput memory; do
    if [ ! -x "$BIN/shmc_bench_$p" ]; then
        echo "run.sh: $BIN/shmc_bench_$p is missing: build first (./build.sh bench does)" >&2
        exit 2
    fi
done
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)

# ---- what this run can compare ----
HAVE_LIBMC=0
grep -q '^LIBMEMCACHED_FOUND:INTERNAL=1' "$BUILD/CMakeCache.txt" 2>/dev/null && HAVE_LIBMC=1
HAVE_LMDB=0
grep -q '^LMDB_FOUND:INTERNAL=1' "$BUILD/CMakeCache.txt" 2>/dev/null && HAVE_LMDB=1
MEMCACHED=$(command -v memcached || true)
SHMCD=""
for cand in "$BUILD/server/shmcd" "$BUILD/shmcd"; do
    [ -x "$cand" ] && { SHMCD=$cand; break; }
done
[ -n "$SHMCD" ] || SHMCD=$(find "$BUILD" -maxdepth 3 -type f -name shmcd -perm -u+x 2>/dev/null | head -n 1)

RESULTS=$BUILD/bench-results
rm -rf "$RESULTS"
mkdir -p "$RESULTS"
RAW=$RESULTS/results.tsv
: >"$RAW"
WORK=$(mktemp -d /dev/shm/shmc-bench.XXXXXX)

# ---- processes this script started: stopped by PID, whatever happens ----
STARTED=()
CHILD=0 # the benchmark program running now
stop_pid() {
    local pid=$1
    kill -0 "$pid" 2>/dev/null || return 0
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 50); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    kill -9 "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}
stop_all() {
    local pid
    for pid in "${STARTED[@]}"; do
        stop_pid "$pid"
    done
    STARTED=()
}
cleanup() {
    [ "$CHILD" -gt 0 ] && stop_pid "$CHILD"
    stop_all
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'echo "run.sh: interrupted" >&2; exit 130' INT TERM

say() { echo "run.sh: $*" >&2; }
note() { printf 'note\t%s\n' "$*" >>"$RAW"; } # a remark the report prints

# ---- ports ----
port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
NEXT_PORT=$((22000 + $$ % 800))
PORT=0
free_port() { # sets PORT to a port in 22000-22999 that nothing listens on
    local tries=0
    while port_in_use "$NEXT_PORT"; do
        NEXT_PORT=$((NEXT_PORT + 1))
        [ "$NEXT_PORT" -le 22999 ] || NEXT_PORT=22000
        tries=$((tries + 1))
        [ $tries -lt 1000 ] || { say "no free port in 22000-22999"; exit 1; }
    done
    PORT=$NEXT_PORT
    NEXT_PORT=$((NEXT_PORT + 1))
    [ "$NEXT_PORT" -le 22999 ] || NEXT_PORT=22000
}

# start_server NAME READY(unix:PATH|tcp:PORT) COMMAND... — start it in the background,
# wait until it accepts connections; prints its PID.  Fails (returns 1) with the log shown.
LAST_PID=0
start_server() {
    local name=$1 ready=$2
    shift 2
    "$@" >"$RESULTS/$name.log" 2>&1 &
    local pid=$!
    STARTED+=("$pid")
    LAST_PID=$pid
    local i
    for i in $(seq 100); do
        if ! kill -0 "$pid" 2>/dev/null; then
            say "$name exited at start: $(tail -n 3 "$RESULTS/$name.log" | tr '\n' ' ')"
            return 1
        fi
        case "$ready" in
        unix:*) [ -S "${ready#unix:}" ] && return 0 ;;
        tcp:*) port_in_use "${ready#tcp:}" && return 0 ;;
        esac
        sleep 0.1
    done
    say "$name did not start listening within 10 s"
    return 1
}

MC_USER=()
[ "$(id -u)" -eq 0 ] && MC_USER=(-u root)
memcached_unix() { # name sock MiB
    start_server "$1" "unix:$2" "$MEMCACHED" "${MC_USER[@]}" -s "$2" -a 0600 -m "$3" -t 4 -U 0
}
memcached_tcp() { # name port MiB
    start_server "$1" "tcp:$2" "$MEMCACHED" "${MC_USER[@]}" -l 127.0.0.1 -p "$2" -m "$3" -t 4 -U 0
}
shmcd_unix() { # name sock MiB cache
    start_server "$1" "unix:$2" "$SHMCD" -s "$2" -m "$3" -t 4 --cache "$4"
}
shmcd_tcp() { # name port MiB cache
    start_server "$1" "tcp:$2" "$SHMCD" -l 127.0.0.1 -p "$2" -m "$3" -t 4 --cache "$4"
}

# run_prog NAME ARGS... — run a benchmark program; its result lines go to the raw file,
# its messages to the log and the terminal.
run_prog() {
    local name=$1
    shift
    RUNS=$((RUNS + 1))
    local err="$RESULTS/$RUNS-$name.err"
    echo "$RUNS: $*" >>"$RESULTS/commands.log"
    # in the background and waited for, so that a signal reaches the trap at once
    "$@" >>"$RAW" 2>"$err" &
    CHILD=$!
    local rc=0
    wait "$CHILD" || rc=$?
    CHILD=0
    [ -s "$err" ] && cat "$err" >&2
    if [ $rc -ne 0 ]; then
        say "$name failed (exit status $rc)"
        note "$name failed (exit status $rc): $(tail -n 1 "$err")"
    fi
}
RUNS=0

# ---- parameters ----
if [ "$MODE" = full ]; then
    LAT_SAMPLES=10000 LAT_RUNS=7 GATE_ROUNDS=9
    TP_MIXES=90,95,50 TP_WORKERS=t1,t2,t4,t8,p2,p4,p8,p16 TP_RUNS=7 TP_SECONDS=1 TP_WARMUP=0.1
    SCALE_SIZES="10k 10M"
else
    LAT_SAMPLES=2000 LAT_RUNS=5 GATE_ROUNDS=5
    TP_MIXES=90,95,50 TP_WORKERS=t1,t2,t4,t8,p2,p4,p8,p16 TP_RUNS=5 TP_SECONDS=0.1 TP_WARMUP=0.02
    SCALE_SIZES="10k"
fi
KEYS=$KEYS_ARG BIG_KEYS=10k MAIN_MIB=512
LAT_OPS=getcold,get128,get128z,get5k,set128,set128z,set5k,delete,incr,getmiss,mget16,mget100

# ---- the machine, at the top of the report ----
cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')
[ -n "$cpu" ] || cpu=$(uname -m)
pku=no
grep -qw pku /proc/cpuinfo && grep -qw ospke /proc/cpuinfo && pku=yes
{
    printf 'machine\tcpu\t%s\n' "$cpu"
    printf 'machine\tcores\t%s\n' "$(nproc)"
    printf 'machine\tkernel\t%s\n' "$(uname -sr)"
    printf 'machine\tpku\t%s\n' "$pku"
    printf 'machine\tmemory\t%s GiB\n' "$(awk '/MemTotal/ {printf "%.1f", $2/1048576}' /proc/meminfo)"
    printf 'machine\tos\t%s\n' "$(. /etc/os-release 2>/dev/null && echo "$PRETTY_NAME" || uname -o)"
    printf 'machine\tdate\t%s\n' "$(date -u '+%Y-%m-%d %H:%M UTC')"
    printf 'machine\tmode\t%s\n' "$MODE"
    printf 'machine\tcommit\t%s\n' "$(git -C "$SRC" rev-parse --short HEAD 2>/dev/null || echo unknown)"
    printf 'machine\tshmc\t%s\n' "$(sed -n 's/^#define SHMC_VERSION "\(.*\)"/\1/p' "$SRC/include/shmc.h")"
    printf 'machine\tmemcached\t%s\n' "$([ -n "$MEMCACHED" ] && "$MEMCACHED" -V | sed 's/^memcached //' || echo 'not installed')"
    printf 'machine\tlibmemcached\t%s\n' "$(pkg-config --modversion libmemcached 2>/dev/null || echo 'not installed')"
    printf 'machine\tlmdb\t%s\n' "$(pkg-config --modversion lmdb 2>/dev/null || echo 'not installed')"
    printf 'param\tlat_samples\t%s\nparam\tlat_runs\t%s\n' "$LAT_SAMPLES" "$LAT_RUNS"
    printf 'param\ttp_runs\t%s\nparam\ttp_seconds\t%s\nparam\ttp_warmup\t%s\n' "$TP_RUNS" "$TP_SECONDS" "$TP_WARMUP"
    printf 'param\tkeys\t%s\nparam\tbig_keys\t%s\nparam\tmain_mib\t%s\n' "$KEYS" "$BIG_KEYS" "$MAIN_MIB"
} >>"$RAW"

SOCKETS=1
if [ $HAVE_LIBMC -eq 0 ]; then
    SOCKETS=0
    note "built without libmemcached-dev: the shmcd and memcached columns are missing (install libmemcached-dev and rebuild, or run ./build.sh bench)"
fi
if [ -z "$MEMCACHED" ]; then
    note "memcached is not installed: the memcached columns are missing (apt-get install memcached)"
fi
if [ -z "$SHMCD" ]; then
    note "shmcd not built: the shmcd columns are missing"
fi
if [ $HAVE_LMDB -eq 0 ]; then
    note "built without liblmdb-dev: the LMDB columns are missing (install liblmdb-dev and rebuild, or run ./build.sh bench)"
fi
USE_MC=$((SOCKETS && ${#MEMCACHED} > 0))
USE_SHMCD=$((SOCKETS && ${#SHMCD} > 0))
say "mode $MODE; memcached: $([ $USE_MC -eq 1 ] && echo yes || echo no); shmcd: $([ $USE_SHMCD -eq 1 ] && echo "$SHMCD" || echo no); raw results in $RESULTS"

# ---- main: latency table and throughput, 1M keys ----
T0=$(date +%s)
MAIN_CACHE=$WORK/main.shmc
# libshmc + PKU is timed in a process of its own: once a process has opened a cache protected,
# every call it makes, on any handle, runs through the gate (shmc.h)
LAT_TARGETS=("libshmc=shmc:$MAIN_CACHE")
TP_TARGETS=("libshmc=shmc:$MAIN_CACHE")
FILL_TARGETS=("libshmc=shmc:$MAIN_CACHE" "libshmc-pku=shmc-pku:$WORK/pku.shmc")
if [ $HAVE_LMDB -eq 1 ]; then
    LAT_TARGETS+=("lmdb=lmdb:$WORK/main.lmdb")
    TP_TARGETS+=("lmdb=lmdb:$WORK/main.lmdb")
    FILL_TARGETS+=("lmdb=lmdb:$WORK/main.lmdb")
fi
if [ $USE_SHMCD -eq 1 ]; then
    # both shmcd instances serve the one cache file that libshmc fills: the items are the same
    free_port
    p=$PORT
    if shmcd_unix shmcd-unix "$WORK/shmcd.sock" $MAIN_MIB "$MAIN_CACHE" &&
        shmcd_tcp shmcd-tcp "$p" $MAIN_MIB "$MAIN_CACHE"; then
        LAT_TARGETS+=("shmcd-unix=unix:$WORK/shmcd.sock" "shmcd-tcp=tcp:127.0.0.1:$p")
        TP_TARGETS+=("shmcd-unix=unix:$WORK/shmcd.sock")
    else
        note "shmcd failed to start: $(tail -n 2 "$RESULTS"/shmcd-*.log | tr '\n' ' ')"
    fi
fi
if [ $USE_MC -eq 1 ]; then
    free_port
    p=$PORT
    if memcached_unix memcached-unix "$WORK/mc.sock" $MAIN_MIB && memcached_tcp memcached-tcp "$p" $MAIN_MIB; then
        LAT_TARGETS+=("memcached-unix=unix:$WORK/mc.sock" "memcached-tcp=tcp:127.0.0.1:$p")
        TP_TARGETS+=("memcached-unix=unix:$WORK/mc.sock")
        FILL_TARGETS+=("memcached-unix=unix:$WORK/mc.sock" "memcached-tcp=tcp:127.0.0.1:$p")
    else
        note "memcached failed to start: $(tail -n 2 "$RESULTS"/memcached-*.log | tr '\n' ' ')"
    fi
fi

say "filling $KEYS items of 128 B and $BIG_KEYS of 5 KB into each cache"
run_prog fill "$BIN/shmc_bench_fill" --keys $KEYS --big-keys $BIG_KEYS --memory ${MAIN_MIB}Mi \
    --tag main "${FILL_TARGETS[@]}"
say "latency ($LAT_RUNS runs x $LAT_SAMPLES samples per op and system)"
run_prog latency "$BIN/shmc_bench_latency" --keys $KEYS --big-keys $BIG_KEYS --ops $LAT_OPS \
    --samples $LAT_SAMPLES --runs $LAT_RUNS --memref ${MAIN_MIB}Mi --tag main "${LAT_TARGETS[@]}"
run_prog latency-pku "$BIN/shmc_bench_latency" --keys $KEYS --big-keys $BIG_KEYS --ops $LAT_OPS \
    --samples $LAT_SAMPLES --runs $LAT_RUNS --tag main "libshmc-pku=shmc-pku:$WORK/pku.shmc"
if [ -x "$BIN/shmc_bench_latency_gate" ]; then
    say "the PKU gate's cost, estimated without the instructions ($GATE_ROUNDS alternating rounds)"
    run_prog gate "$SRC/bench/gate_estimate.sh" "$BUILD" --keys $KEYS --rounds $GATE_ROUNDS \
        --runs 1 --samples $LAT_SAMPLES --tsv --out "$RESULTS/gate"
fi
say "throughput (mixes $TP_MIXES, workers $TP_WORKERS, $TP_RUNS runs of ${TP_SECONDS}s)"
run_prog throughput "$BIN/shmc_bench_throughput" --keys $KEYS --mixes $TP_MIXES \
    --dists uniform,zipf --workers $TP_WORKERS --runs $TP_RUNS --seconds $TP_SECONDS \
    --warmup $TP_WARMUP --tag main "${TP_TARGETS[@]}"
stop_all
rm -f "$MAIN_CACHE" "$WORK/pku.shmc" "$WORK"/*.sock "$WORK"/main.lmdb*
say "main part took $(($(date +%s) - T0)) s"

# ---- huge pages: the uniform get with 4 KiB and 2 MiB pages, in a private mount namespace ----
avail_kib=$(awk '/MemAvailable/ {print $2}' /proc/meminfo)
if [ "$(id -u)" -ne 0 ]; then
    note "huge pages: not measured: mounting tmpfs with huge=always (in a private mount namespace) needs root"
elif ! command -v unshare >/dev/null; then
    note "huge pages: not measured: unshare(1) is missing (util-linux)"
elif [ "$avail_kib" -lt $((MAIN_MIB * 1024 * 4)) ]; then
    note "huge pages: not measured: needs about $((MAIN_MIB * 4 / 1024)) GiB free, $((avail_kib / 1048576)) GiB available"
else
    say "huge pages: get 128 B with 4 KiB and 2 MiB pages (tmpfs huge=never/always, hugetlbfs)"
    run_prog huge unshare -m --propagation private "$SRC/bench/huge.sh" "$BIN" "$WORK" "$KEYS" \
        "$MAIN_MIB" "$LAT_SAMPLES" "$LAT_RUNS"
fi

# ---- eviction's quality: zipfian 0.99 gets, cache-aside, in a cache of 10% of the data ----
if [ -x "$BIN/shmc_bench_hitratio" ]; then
    say "hit ratio: zipfian 0.99 over $KEYS keys, cache of 10% of the data, beside an exact LRU"
    run_prog hitratio "$BIN/shmc_bench_hitratio" --keys $KEYS --ops "$([ "$MODE" = full ] && echo 20M || echo 5M)" \
        "$WORK/hitratio.shmc"
fi

# ---- scaling with size: latency and throughput at other key counts (1M is the main run) ----
for size in $SCALE_SIZES; do
    case $size in
    10k) mib=64 ;;
    10M) mib=4096 ;;
    *) mib=512 ;;
    esac
    # each system holds one copy: libshmc file, memcached, LMDB; leave room for the rest
    need_kib=$((mib * 1024 * 4))
    avail_kib=$(awk '/MemAvailable/ {print $2}' /proc/meminfo)
    if [ "$avail_kib" -lt "$need_kib" ]; then
        note "scaling at $size keys skipped: needs about $((need_kib / 1048576)) GiB free, $((avail_kib / 1048576)) GiB available"
        continue
    fi
    cache=$WORK/scale-$size.shmc
    targets=("libshmc=shmc:$cache")
    fills=("libshmc=shmc:$cache")
    if [ $HAVE_LMDB -eq 1 ]; then
        targets+=("lmdb=lmdb:$WORK/scale-$size.lmdb")
        fills+=("lmdb=lmdb:$WORK/scale-$size.lmdb")
    fi
    if [ $USE_SHMCD -eq 1 ] && shmcd_unix "shmcd-unix-$size" "$WORK/shmcd.sock" $mib "$cache"; then
        targets+=("shmcd-unix=unix:$WORK/shmcd.sock")
    fi
    if [ $USE_MC -eq 1 ] && memcached_unix "memcached-unix-$size" "$WORK/mc.sock" $mib; then
        targets+=("memcached-unix=unix:$WORK/mc.sock")
        fills+=("memcached-unix=unix:$WORK/mc.sock")
    fi
    say "scaling: $size keys"
    run_prog fill "$BIN/shmc_bench_fill" --keys $size --big-keys 1 --memory ${mib}Mi --tag $size "${fills[@]}"
    run_prog latency "$BIN/shmc_bench_latency" --keys $size --big-keys 1 --ops get128,set128 \
        --samples $LAT_SAMPLES --runs $LAT_RUNS --tag $size "${targets[@]}"
    run_prog throughput "$BIN/shmc_bench_throughput" --keys $size --mixes 90 --dists uniform \
        --workers t1,t4 --runs $TP_RUNS --seconds $TP_SECONDS --warmup $TP_WARMUP --tag $size "${targets[@]}"
    stop_all
    rm -f "$cache" "$WORK"/*.sock "$WORK"/scale-*.lmdb*
done

# ---- memory efficiency: the same items in the same limit ----
for v in 32 128 1024; do
    say "memory: $v B values in 64 MiB"
    cache=$WORK/mem-$v.shmc
    targets=("libshmc=shmc:$cache")
    pids=()
    if [ $USE_MC -eq 1 ] && memcached_unix "memcached-mem-$v" "$WORK/mc.sock" 64; then
        targets+=("memcached=unix:$WORK/mc.sock")
        pids+=(--pid "memcached=$LAST_PID")
    fi
    run_prog memory "$BIN/shmc_bench_memory" --value $v --memory 64Mi "${pids[@]}" "${targets[@]}"
    stop_all
    rm -f "$cache" "$WORK"/*.sock
done

# ---- Python: shmc.Client beside pymemcache, pylibmc and Django (bench/python_bench.py) ----
PYTHON_MD=""
PY=$(sed -n 's/^SHMC_PYTHON:INTERNAL=//p' "$BUILD/CMakeCache.txt" 2>/dev/null)
if [ -n "$PY" ] && [ -d "$BUILD/python/shmc" ]; then
    say "python: shmc.Client, pymemcache, pylibmc, Django ($PY)"
    py_rounds=3
    [ $MODE = full ] && py_rounds=7
    if "$PY" "$SRC/bench/python_bench.py" --build "$BUILD" --rounds $py_rounds \
        --markdown "$RESULTS/python.md" >"$RESULTS/python.txt"; then
        PYTHON_MD=$RESULTS/python.md
    else
        say "python: the Python benchmark failed (see above); its section is left out"
    fi
else
    say "python: the module is not built (python3-dev missing?): no Python section"
fi

say "whole run took $(($(date +%s) - T0)) s; writing $OUT/benchmarks.md"
"$SRC/bench/report.sh" "$RAW" "$OUT"
if [ -n "$PYTHON_MD" ]; then
    { echo; echo "## Python"; echo; cat "$PYTHON_MD"; } >>"$OUT/benchmarks.md"
fi
