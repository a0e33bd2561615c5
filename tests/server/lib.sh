# lib.sh — shared by the script tests: start a private shmcd on a free port in 21000..21999
# (the next is tried when one is taken), check it really is our shmcd, stop it by its PID
# with SIGTERM and require a clean exit.  Sourced, not run.
set -u
SHMCD=${SHMCD:?set SHMCD to the shmcd binary}
TMP=$(mktemp -d /dev/shm/shmcd-test.XXXXXX)
SHMCD_PID=
PORT=
FAILED=0

cleanup() {
    if [ -n "$SHMCD_PID" ]; then kill -KILL "$SHMCD_PID" 2>/dev/null; wait "$SHMCD_PID" 2>/dev/null; fi
    rm -rf "$TMP"
}
trap cleanup EXIT

fail() { echo "FAIL: $*"; FAILED=$((FAILED + 1)); }
pass() { echo "ok: $*"; }

require_tool() { # tool package
    if ! command -v "$1" >/dev/null 2>&1; then
        echo "FAIL: $1 is not installed (Debian package $2; ./build.sh test installs it)"
        exit 1
    fi
}

# Send a request (printf escapes allowed) to 127.0.0.1:PORT and print the reply's first line
# (without "\r"); empty when nothing answers within 2 s.
mc_line() { # port request
    python3 - "$1" "$2" <<'PY'
import socket, sys
try:
    s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=2)
    s.sendall(sys.argv[2].encode().decode("unicode_escape").encode("latin-1"))
    data = b""
    while b"\n" not in data:
        chunk = s.recv(4096)
        if not chunk:
            break
        data += chunk
    print(data.split(b"\n")[0].decode("latin-1").rstrip("\r"))
except OSError:
    print("")
PY
}

# Print the reply to "stats [GROUP]" from 127.0.0.1:PORT, up to its END (without "\r").
mc_stats() { # port [group]
    python3 - "$1" "${2:-}" <<'PY'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5)
s.sendall(("stats %s" % sys.argv[2]).rstrip().encode() + b"\r\n")
data = b""
while not data.endswith(b"END\r\n"):
    chunk = s.recv(65536)
    if not chunk:
        break
    data += chunk
print(data.decode().replace("\r", ""))
PY
}

# Whether 127.0.0.1:$1 answers "version" as shmcd does.
is_shmcd() {
    case "$(mc_line "$1" 'version\r\n')" in VERSION*shmc*) return 0 ;; *) return 1 ;; esac
}

start_shmcd() { # [extra shmcd arguments...]; sets PORT and SHMCD_PID
    local base=$(( $$ % 1000 )) attempt i
    for attempt in $(seq 0 39); do
        PORT=$(( 21000 + (base + attempt * 37) % 1000 ))
        "$SHMCD" -p "$PORT" -l 127.0.0.1 --cache="$TMP/cache" "$@" 2>"$TMP/shmcd.err" &
        SHMCD_PID=$!
        for i in $(seq 200); do
            kill -0 "$SHMCD_PID" 2>/dev/null || break
            if is_shmcd "$PORT"; then return 0; fi
            sleep 0.02
        done
        kill -KILL "$SHMCD_PID" 2>/dev/null
        wait "$SHMCD_PID" 2>/dev/null
        SHMCD_PID=
    done
    echo "FAIL: cannot start $SHMCD"
    cat "$TMP/shmcd.err"
    exit 1
}

stop_shmcd() { # SIGTERM; the exit status must be 0
    local rc
    kill -TERM "$SHMCD_PID"
    wait "$SHMCD_PID"
    rc=$?
    SHMCD_PID=
    if [ "$rc" -eq 0 ]; then pass "shmcd exited cleanly on SIGTERM"; else fail "shmcd exit status $rc"; fi
}

finish() {
    if [ "$FAILED" -eq 0 ]; then echo "all checks passed"; exit 0; fi
    echo "$FAILED checks failed"
    exit 1
}
