#!/usr/bin/env bash
# test_flags_cli.sh — shmcd's command line against memcached 1.6.18's: the flags memcached
# refuses are refused with memcached's own message and exit status (an unknown -o, -I out of
# range or over half of -m, a bad -o hashpower/read_buf_mem_limit/slab_automove, -f, -l with a
# bad port); memcached's slab/LRU flags and -o settings are accepted and listed in
# "stats settings"; -l takes ADDR:PORT, [IPV6]:PORT, comma-separated and repeated entries;
# two instances with no --cache get a cache each.
. "$(dirname "$0")/lib.sh"
require_tool memcached memcached
MEMCACHED=$(command -v memcached)
MC_USER=()
[ "$(id -u)" -eq 0 ] && MC_USER=(-u nobody)

# Run a command for at most 2 s; print its exit status and its output (stdout and stderr).
outcome() {
    local out rc
    out=$(timeout 2 "$@" 2>&1)
    rc=$?
    printf '%s|%s' "$rc" "$out"
}

refusals=(
    "-o bogus" "-o bogus=1" "-o modern,bogus" "-o hashpower=70" "-o hashpower=x"
    "-o hashpower=11" "-o read_buf_mem_limit=x" "-o slab_automove=5" "-o hot_lru_pct=90"
    "-I 512" "-I 1q" "-I 1g" "-I 2000m" "-m 64 -I 33m" "-m 1" "-f 0.5" "-f x" "-n 0"
    "-l 127.0.0.1:x" "-l [::1]:99999x" "-c 0" "-t 0" "-R 0" "-R abc" "-c x" "-t -2"
    "-N 0" "-N -1" "-N x" "-N 5" "-t 2 -N 3"
)
for args in "${refusals[@]}"; do
    port=$(( 21000 + (RANDOM % 1000) ))
    # shellcheck disable=SC2086
    theirs=$(outcome "$MEMCACHED" "${MC_USER[@]}" -U 0 -p "$port" $args)
    # shellcheck disable=SC2086
    ours=$(outcome "$SHMCD" -p "$port" --cache="$TMP/refused" $args)
    if [ "$ours" = "$theirs" ]; then
        pass "$args: refused as memcached: ${ours//$'\n'/ }"
    else
        fail "$args: memcached '${theirs//$'\n'/ }', shmcd '${ours//$'\n'/ }'"
    fi
done
# memcached 1.6.18's -h lists --napi_ids, but its getopt table lacks it (refused as unknown);
# shmcd takes the long form as -N
ours=$(outcome "$SHMCD" -p 0 -s "$TMP/n.sock" --cache="$TMP/refused" --napi_ids=0)
if [ "$ours" = "1|Maximum number of NAPI IDs must be greater than 0" ]; then
    pass "--napi_ids=0: refused as -N 0"
else
    fail "--napi_ids=0: '$ours'"
fi

# -i: memcached's version line, a blank line and the license, exit 0, before any later flag
# is read; shmcd prints its own license (BSD-3-Clause)
for args in "-i" "--license" "-i -p x"; do
    # shellcheck disable=SC2086
    theirs=$(timeout 2 "$MEMCACHED" $args 2>&1); mc_rc=$?
    # shellcheck disable=SC2086
    ours=$(timeout 2 "$SHMCD" $args 2>&1); sh_rc=$?
    if [ "$sh_rc" = "$mc_rc" ] && [ "$sh_rc" = 0 ] &&
       [ "$(sed -n 2p <<<"$ours")" = "$(sed -n 2p <<<"$theirs")" ] &&
       [[ "$(head -1 <<<"$ours")" == "shmcd 1.6.18-shmc-"* ]] &&
       [[ "$(head -1 <<<"$theirs")" == "memcached 1.6.18" ]] &&
       [ "$(sed -n '3,$p' <<<"$ours")" = "$(cat "$(dirname "$0")/../../LICENSE")" ]; then
        pass "$args: version, blank line, shmc's LICENSE, exit 0 (memcached: exit $mc_rc)"
    else
        fail "$args: exit $sh_rc (memcached $mc_rc), output: $(head -3 <<<"$ours")"
    fi
done
[ ! -e "$TMP/refused" ] && pass "no cache made by a refused command line" || fail "a refused command line made a cache"

# Free ports for the listeners beyond the harness's (checked on 127.0.0.1 and ::1).
free_ports() { # count
    python3 - "$1" <<'PY'
import random, socket, sys
found = []
for p in random.sample(range(21000, 22000), 1000):
    ok = True
    for fam, addr in ((socket.AF_INET, "127.0.0.1"), (socket.AF_INET, "127.0.0.2"), (socket.AF_INET6, "::1")):
        s = socket.socket(fam)
        try:
            s.bind((addr, p))
        except OSError:
            ok = False
        finally:
            s.close()
    if ok:
        found.append(p)
    if len(found) == int(sys.argv[1]):
        break
print(" ".join(map(str, found)))
PY
}

# version over TCP to HOST PORT (IPv6 too); prints the reply's first line.
version_at() { # host port
    python3 - "$1" "$2" <<'PY'
import socket, sys
try:
    s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=3)
    s.sendall(b"version\r\n")
    print(s.recv(200).split(b"\r\n")[0].decode())
except OSError as e:
    print("no answer: %s" % e)
PY
}

read -r P1 P2 P3 <<<"$(free_ports 3)"
start_shmcd -l "127.0.0.2:$P1,[::1]:$P2" -l "127.0.0.1:$P3" -o modern,no_lru_crawler,slab_automove=2,hot_lru_pct=30,ext_path=/x:1G,drop_privileges -k -L -f 1.5 -n 96 -o idle_timeout=30,hashpower=16 -N 2
for at in "127.0.0.1 $PORT" "127.0.0.2 $P1" "::1 $P2" "127.0.0.1 $P3"; do
    # shellcheck disable=SC2086
    case "$(version_at $at)" in
        VERSION*shmc*) pass "-l: listening on $at" ;;
        *) fail "-l: nothing on $at" ;;
    esac
done
settings=$(mc_stats "$PORT" settings)
for want in "STAT inter 127.0.0.1,127.0.0.2:$P1,[::1]:$P2,127.0.0.1:$P3" "STAT growth_factor 1.50" \
            "STAT chunk_size 96" "STAT slab_automove 2" "STAT lru_crawler no" "STAT hot_lru_pct 30" \
            "STAT idle_timeout 30" "STAT hashpower_init 16" "STAT num_napi_ids (null)" \
            "STAT shmc_no_effect -o modern -o no_lru_crawler -o slab_automove=2 -o hot_lru_pct=30 -o ext_path=/x:1G -o drop_privileges -k -L -f 1.5 -n 96 -N 2"; do
    if grep -qxF "$want" <<<"$settings"; then pass "stats settings: $want"; else fail "stats settings lacks '$want'"; fi
done
stop_shmcd

# two instances on two ports with no --cache: two caches, named after the ports
read -r Q1 Q2 <<<"$(free_ports 2)"
mkdir -p "$TMP/dir"
SHMC_DIR="$TMP/dir" "$SHMCD" -p "$Q1" -l 127.0.0.1 -t 1 2>"$TMP/q1.err" & PID1=$!
SHMC_DIR="$TMP/dir" "$SHMCD" -p "$Q2" -l 127.0.0.1 -t 1 2>"$TMP/q2.err" & PID2=$!
for i in $(seq 200); do is_shmcd "$Q1" && is_shmcd "$Q2" && break; sleep 0.05; done
mc_line "$Q1" 'set only1 0 0 1\r\nx\r\n' >/dev/null
if [ "$(mc_line "$Q2" 'get only1\r\n')" = END ] && [ "$(mc_line "$Q1" 'get only1\r\n')" = "VALUE only1 0 1" ]; then
    pass "two instances without --cache do not share a cache"
else
    fail "two instances without --cache share a cache"
fi
if [ -e "$TMP/dir/shmcd-$Q1" ] && [ -e "$TMP/dir/shmcd-$Q2" ]; then pass "default caches shmcd-$Q1 and shmcd-$Q2"; else fail "default cache names: $(ls "$TMP/dir")"; fi
kill -TERM "$PID1" "$PID2"; wait "$PID1"; rc1=$?; wait "$PID2"; rc2=$?
if [ "$rc1" -eq 0 ] && [ "$rc2" -eq 0 ]; then pass "both stop cleanly"; else fail "exit statuses $rc1 $rc2"; fi

# the same with the ports given only by -l ADDR:PORT (no -p): named after those ports, not
# after -p's default 11211
read -r Q3 Q4 <<<"$(free_ports 2)"
SHMC_DIR="$TMP/dir" "$SHMCD" -l "127.0.0.1:$Q3" -t 1 2>"$TMP/q3.err" & PID3=$!
SHMC_DIR="$TMP/dir" "$SHMCD" -l "127.0.0.1:$Q4" -t 1 2>"$TMP/q4.err" & PID4=$!
for i in $(seq 200); do is_shmcd "$Q3" && is_shmcd "$Q4" && break; sleep 0.05; done
mc_line "$Q3" 'set only3 0 0 1\r\nx\r\n' >/dev/null
if [ "$(mc_line "$Q4" 'get only3\r\n')" = END ] && [ -e "$TMP/dir/shmcd-$Q3" ] && [ -e "$TMP/dir/shmcd-$Q4" ] &&
   [ ! -e "$TMP/dir/shmcd-11211" ]; then
    pass "-l ADDR:PORT instances: caches shmcd-$Q3 and shmcd-$Q4, not shared"
else
    fail "-l ADDR:PORT default caches: $(ls "$TMP/dir")"
fi
kill -TERM "$PID3" "$PID4"; wait "$PID3"; wait "$PID4"
finish
