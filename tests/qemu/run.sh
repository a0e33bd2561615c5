#!/usr/bin/env bash
# tests/qemu/run.sh — run test programs inside a QEMU virtual machine whose software CPU
# (TCG, -cpu max) implements protection keys (PKU), so that protected-mode tests run on
# machines whose own CPU has none.  It installs nothing: it needs qemu-system-x86_64
# (package qemu-system-x86), a kernel /boot/vmlinuz-* (linux-image-amd64), a static busybox
# (busybox-static) and cpio.
#
#   tests/qemu/run.sh [options] PROGRAM[=NAME]...
#
# Each PROGRAM is copied into the guest at its own absolute path (with the shared libraries
# it needs, if it is dynamic), run there in turn by a busybox init script, and counts as
# passed when it exits 0.  Options:
#   --env NAME=VALUE   environment for every program in the guest (repeatable)
#   --tree DIR         also copy every executable under DIR (helpers the programs exec)
#   --test-timeout S   limit for one program inside the guest (default 300)
#   --timeout S        limit for the whole virtual machine (default 900)
#   --smp N --mem MiB  guest CPUs (default 2) and memory (default 1024)
#   --log FILE         keep the guest's console output there
#   --verbose          print the output of every program, not only of failed ones
# The last line of output is "qemu: N passed, M failed"; the exit status is 0 only when
# every program ran and passed.
set -euo pipefail

die() { echo "qemu: $*" >&2; echo "qemu: 0 passed, 1 failed"; exit 2; }

ENVS=() TREES=() PROGS=() NAMES=()
TEST_TIMEOUT=300 VM_TIMEOUT=900 SMP=2 MEM=1024 LOG="" VERBOSE=0
while [ $# -gt 0 ]; do
    case "$1" in
    --env) [[ "${2:-}" =~ ^[A-Za-z_][A-Za-z0-9_]*=[^\'[:space:]]*$ ]] || die "bad --env '${2:-}'"
           ENVS+=("$2"); shift 2 ;;
    --tree) [ -d "${2:-}" ] || die "--tree ${2:-}: not a directory"; TREES+=("$(realpath "$2")"); shift 2 ;;
    --test-timeout) TEST_TIMEOUT=$2; shift 2 ;;
    --timeout) VM_TIMEOUT=$2; shift 2 ;;
    --smp) SMP=$2; shift 2 ;;
    --mem) MEM=$2; shift 2 ;;
    --log) LOG=$2; shift 2 ;;
    --verbose) VERBOSE=1; shift ;;
    -h|--help) sed -n '2,22p' "$0"; exit 0 ;;
    -*) die "unknown option $1" ;;
    *) prog=${1%%=*} name=${1#*=}
       [ "$name" != "$1" ] || name=$(basename "$prog")
       [ -x "$prog" ] && [ -f "$prog" ] || die "$prog: not an executable file"
       [[ "$name" =~ ^[A-Za-z0-9_:-]+$ ]] || die "bad test name '$name'"
       PROGS+=("$(realpath "$prog")"); NAMES+=("$name"); shift ;;
    esac
done
for n in "$TEST_TIMEOUT" "$VM_TIMEOUT" "$SMP" "$MEM"; do
    [[ "$n" =~ ^[1-9][0-9]*$ ]] || die "bad number '$n'"
done
[ ${#PROGS[@]} -gt 0 ] || die "no test programs given (see --help)"

# ---- what the host must have ----
QEMU=$(command -v qemu-system-x86_64) || die "qemu-system-x86_64 missing: apt-get install qemu-system-x86"
KERNEL=$(ls /boot/vmlinuz-* 2>/dev/null | sort -V | tail -n 1)
[ -n "$KERNEL" ] && [ -r "$KERNEL" ] || die "no readable /boot/vmlinuz-*: apt-get install linux-image-amd64"
BUSYBOX=""
for b in /bin/busybox /usr/bin/busybox; do
    if [ -x "$b" ] && ! ldd "$b" >/dev/null 2>&1; then BUSYBOX=$b; break; fi
done
[ -n "$BUSYBOX" ] || die "no static busybox: apt-get install busybox-static"
command -v cpio >/dev/null || die "cpio missing: apt-get install cpio"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/shmc-qemu.XXXXXX")
QEMU_PID=""
cleanup() {
    [ -z "$QEMU_PID" ] || kill "$QEMU_PID" 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT
ROOTFS=$WORK/root
mkdir -p "$ROOTFS"/{bin,dev,proc,sys,tmp}

# Copy a file into the guest at its own absolute path (symlinks resolved).
place() {
    local src=$1 dest=$ROOTFS$1
    [ -e "$dest" ] && return 0
    mkdir -p "$(dirname "$dest")"
    cp -L "$src" "$dest"
}
# A program and, when it is dynamic, its loader and libraries.
place_program() {
    place "$1"
    local lib
    while read -r lib; do
        [ -n "$lib" ] && place "$lib"
    done < <(ldd "$1" 2>/dev/null | sed -n 's/.*=> \(\/[^ ]*\).*/\1/p; s/^[[:space:]]*\(\/[^ ]*\) (.*/\1/p')
}

cp "$BUSYBOX" "$ROOTFS/bin/busybox"
# glibc dlopens libgcc_s for pthread_cancel/pthread_exit unwinding, static programs too.
LIBGCC_S=$(ldconfig -p 2>/dev/null | sed -n 's/.*libgcc_s\.so\.1 (libc6,x86-64) => //p' | head -n 1)
[ -z "$LIBGCC_S" ] || place_program "$LIBGCC_S"
[ ! -f /etc/ld.so.cache ] || place /etc/ld.so.cache
for p in "${PROGS[@]}"; do place_program "$p"; done
for t in "${TREES[@]}"; do
    while IFS= read -r -d '' f; do place_program "$f"; done < <(find "$t" -type f -perm -u+x -print0)
done

# ---- the guest's init: mount, run each program, report, power off ----
{
    echo '#!/bin/busybox sh'
    echo '/bin/busybox --install -s /bin'
    echo 'mount -t devtmpfs dev /dev'
    echo 'exec </dev/console >/dev/console 2>&1'
    echo 'mount -t proc proc /proc; mount -t sysfs sys /sys'
    echo 'mkdir -p /dev/shm /tmp; mount -t tmpfs shm /dev/shm'  # the root itself is writable
    echo 'export PATH=/bin HOME=/tmp TMPDIR=/tmp'
    for e in "${ENVS[@]}"; do echo "export '$e'"; done
    echo 'if grep -qw pku /proc/cpuinfo && grep -qw ospke /proc/cpuinfo; then pku=yes; else pku=no; fi'
    echo 'echo; echo "@@qemu-boot pku=$pku"'
    echo 'cd /tmp'
    for i in "${!PROGS[@]}"; do
        echo "echo '@@qemu-begin ${NAMES[$i]}'; t0=\$(date +%s)"
        echo "timeout $TEST_TIMEOUT '${PROGS[$i]}'; rc=\$?"
        echo "echo \"@@qemu-end ${NAMES[$i]} rc=\$rc\"; echo \"@@qemu-time ${NAMES[$i]} \$((\$(date +%s) - t0))\""
    done
    echo 'echo "@@qemu-done"'
    echo 'sync; poweroff -f'
} > "$ROOTFS/init"
chmod 755 "$ROOTFS/init"
(cd "$ROOTFS" && find . | cpio -o -H newc --quiet) > "$WORK/initramfs.cpio"

# ---- boot ----
CONSOLE=$WORK/console.log
START=$(date +%s)
timeout --kill-after=5 "$VM_TIMEOUT" "$QEMU" -accel tcg -cpu max -smp "$SMP" -m "$MEM" \
    -nographic -nic none -no-reboot -kernel "$KERNEL" -initrd "$WORK/initramfs.cpio" \
    -append "console=ttyS0 panic=-1 quiet loglevel=3" </dev/null >"$CONSOLE" 2>&1 &
QEMU_PID=$!
vm_rc=0
wait "$QEMU_PID" || vm_rc=$?
QEMU_PID=""
ELAPSED=$(( $(date +%s) - START ))
# Without carriage returns and the firmware's terminal escapes.
sed 's/\r$//; s/\x1b\[[0-9;?]*[A-Za-z]//g; s/\x1b[A-Za-z]//g' "$CONSOLE" > "$CONSOLE.txt"
[ -z "$LOG" ] || cp "$CONSOLE.txt" "$LOG"

# ---- console output -> pass/fail ----
passed=0 failed=0
grep -q '^@@qemu-boot pku=yes' "$CONSOLE.txt" ||
    echo "qemu: the guest CPU reports no PKU (is qemu-system-x86_64 -cpu max new enough?)"
for name in "${NAMES[@]}"; do
    out=$(awk -v n="$name" '$0 == "@@qemu-begin " n {on=1; next}
                            on && index($0, "@@qemu-end " n " rc=") == 1 {exit}
                            on {print}' "$CONSOLE.txt")
    end=$(grep -m1 "^@@qemu-end $name rc=" "$CONSOLE.txt" || true)
    secs=$(sed -n "s/^@@qemu-time $name \([0-9]*\)$/\1/p" "$CONSOLE.txt" | head -n 1)
    if [ "$end" = "@@qemu-end $name rc=0" ]; then
        passed=$((passed + 1))
        echo "PASS $name (${secs:-?}s)"
        [ "$VERBOSE" = 0 ] || printf '%s\n' "$out" | sed 's/^/    /'
    else
        failed=$((failed + 1))
        if [ -z "$end" ]; then why="did not finish"; else why="exit status ${end##*rc=}"; fi
        echo "FAIL $name ($why${secs:+, ${secs}s})"
        printf '%s\n' "$out" | tail -n 60 | sed 's/^/    /'
    fi
done
if ! grep -q '^@@qemu-done' "$CONSOLE.txt"; then
    echo "qemu: the guest did not finish (qemu status $vm_rc after ${ELAPSED}s); last console lines:"
    tail -n 20 "$CONSOLE.txt" | sed 's/^/    /'
    [ "$failed" -gt 0 ] || failed=1
fi
echo "qemu: ran ${#NAMES[@]} programs in ${ELAPSED}s"
echo "qemu: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
