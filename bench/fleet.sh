#!/usr/bin/env bash
# fleet.sh — the fleet figures of docs/fleet.md, on loopback: three shmcd nodes (and, for
# the proxy run, three memcached nodes), nutcracker in front of each fleet, then
# shmc_bench_fleet's two measurements.  Servers run on free ports in 21000..21999 and are
# stopped by PID.
#   bench/fleet.sh BUILD_DIR [local KEYS RUNS GETS] [proxy THREADS SECONDS RUNS]
# (defaults: local 30000 7 20000, proxy 4 2 5; the build should be Release)
set -u
BUILD=${1:?usage: bench/fleet.sh BUILD_DIR}
BENCH=$BUILD/bench/shmc_bench_fleet
SHMCD=$BUILD/server/shmcd
NUTCRACKER=$(command -v nutcracker || echo /usr/sbin/nutcracker)
TMP=$(mktemp -d /dev/shm/shmc-bench-fleet.XXXXXX)
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null; done
    for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null; done
    rm -rf "$TMP"
}
trap cleanup EXIT
for tool in "$BENCH" "$SHMCD" "$NUTCRACKER" memcached; do
    command -v "$tool" >/dev/null || { echo "fleet.sh: $tool is missing (Release build with libmemcached-dev; Debian nutcracker, memcached)"; exit 1; }
done

NEXT=$(( 21000 + ($$ * 11) % 1000 ))
free_port() { # sets PORT to a port nothing listens on
    while :; do
        NEXT=$(( 21000 + (NEXT - 21000 + 17) % 1000 ))
        (exec 3<>/dev/tcp/127.0.0.1/$NEXT) 2>/dev/null || { PORT=$NEXT; return; }
    done
}
wait_port() { for _ in $(seq 200); do (exec 3<>/dev/tcp/127.0.0.1/$1) 2>/dev/null && return 0; sleep 0.05; done; echo "fleet.sh: nothing on port $1"; exit 1; }

SHMC_PORTS=(); MC_PORTS=()
for i in 0 1 2; do
    free_port; "$SHMCD" -p "$PORT" -l 127.0.0.1 -t 2 --cache="$TMP/node$i" & PIDS+=($!); SHMC_PORTS+=("$PORT"); wait_port "$PORT"
    free_port; user=(); [ "$(id -u)" -eq 0 ] && user=(-u nobody)
    memcached "${user[@]}" -p "$PORT" -l 127.0.0.1 -U 0 -t 2 -m 64 & PIDS+=($!); MC_PORTS+=("$PORT"); wait_port "$PORT"
done
proxy() { # name ports... ; sets PORT to the proxy's
    local name=$1; shift
    free_port; local listen=$PORT; free_port; local stats=$PORT
    { echo "$name:"; echo "  listen: 127.0.0.1:$listen"; echo "  hash: md5"; echo "  distribution: ketama"
      echo "  auto_eject_hosts: true"; echo "  server_retry_timeout: 2000"; echo "  server_failure_limit: 1"
      echo "  servers:"; local i=0; for p in "$@"; do echo "   - 127.0.0.1:$p:1 node$i"; i=$((i + 1)); done; } > "$TMP/$name.yml"
    "$NUTCRACKER" -c "$TMP/$name.yml" -s "$stats" -a 127.0.0.1 -o "$TMP/$name.log" -p "$TMP/$name.pid" & PIDS+=($!)
    wait_port "$listen"; PORT=$listen
}
proxy shmcd "${SHMC_PORTS[@]}"; PROXY_SHMC=$PORT
proxy memcached "${MC_PORTS[@]}"; PROXY_MC=$PORT

shift
LOCAL_ARGS=(30000 7 20000); PROXY_ARGS=(4 2 5)
while [ $# -gt 0 ]; do
    case "$1" in
    local) LOCAL_ARGS=("$2" "$3" "$4"); shift 4 ;;
    proxy) PROXY_ARGS=("$2" "$3" "$4"); shift 4 ;;
    *) echo "fleet.sh: unknown argument $1"; exit 2 ;;
    esac
done
echo "== the local node in-process: 3 shmcd nodes, node 0 local"
"$BENCH" local "${SHMC_PORTS[@]}" "$TMP/node0" "${LOCAL_ARGS[@]}" || exit 1
echo "== through nutcracker: shmcd nodes vs memcached nodes"
"$BENCH" proxy "$PROXY_SHMC" "$PROXY_MC" "${PROXY_ARGS[@]}" || exit 1
