#!/usr/bin/env bash
# build.sh — the project's one entry point, so that a fresh Debian 12 machine needs nothing
# but this file's two quick-start commands:
#   ./build.sh demo    install build tools, build, run the multi-process demo
#   ./build.sh test    install test tools, build plain + ASan/UBSan + TSan, run every suite
#   ./build.sh bench   benchmarks beside memcached (see bench/README.md)
#   ./build.sh fuzz    only the libFuzzer targets, FUZZ_SECONDS each (default 30; the long
#                      mode before a release: FUZZ_SECONDS=600, ten minutes per target)
#   ./build.sh package build the Debian packages (debian/), lintian them, install them in a
#                      clean root and use them (tests/package_check.sh; ./build.sh test runs it)
#   ./build.sh install [PREFIX]   build and `make install` (default /usr/local; ldconfig there)
set -euo pipefail
cd "$(dirname "$0")"
ROOT=$PWD
JOBS=$(nproc)

# Debian packages, each for a reason:
BUILD_PKGS="build-essential cmake pkg-config libssl-dev libsasl2-dev help2man"
                                                           # gcc, make, cmake, pkg-config file;
                                                           # OpenSSL: shmcd's TLS (-Z);
                                                           # Cyrus SASL: shmcd's SASL (-S);
                                                           # help2man: man pages from --help
TEST_PKGS="clang libclang-rt-14-dev memcached libmemcached-tools python3 python3-pymemcache procps
           qemu-system-x86 linux-image-amd64 busybox-static cpio
           python3-dev python3-pytest python3-pylibmc python3-django python3-venv python3-setuptools
           openssl nutcracker libmemcached-dev tmux systemd sasl2-bin"
                                                           # clang + its runtime: libFuzzer;
                                                           # memcached, libmemcached-tools,
                                                           # pymemcache: real peers for shmcd;
                                                           # qemu (its software CPU has PKU),
                                                           # a kernel, busybox, cpio: the
                                                           # protected-mode suite in a VM;
                                                           # python3-dev: the Python module;
                                                           # pytest, pylibmc, Django: its
                                                           # suites; venv + setuptools: the
                                                           # offline `pip install` test;
                                                           # openssl: test certificates;
                                                           # nutcracker (twemproxy) and
                                                           # libmemcached's ketama: the fleet
                                                           # tmux: `shmc top` in a terminal;
                                                           # systemd: systemd-analyze for the unit;
                                                           # sasl2-bin: saslpasswd2, a sasldb
                                                           # for the -S (SASL) tests
PACKAGE_PKGS="dpkg-dev debhelper lintian help2man"     # dpkg-buildpackage, dh, lintian
BENCH_PKGS="memcached libmemcached-dev gnuplot-nox"        # the incumbent, its client, plots
BENCH_PKGS="$BENCH_PKGS python3-dev python3-pymemcache python3-pylibmc python3-django"
                                                           # Python: the module and its peers
BENCH_PKGS="$BENCH_PKGS liblmdb-dev"                       # LMDB, the embedded peer (lmdb_client.c)

need() {
    local missing=()
    for p in "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    echo "build.sh: installing ${missing[*]}"
    local sudo=""
    [ "$(id -u)" -eq 0 ] || sudo=sudo
    export DEBIAN_FRONTEND=noninteractive
    $sudo apt-get update -qq
    $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
}

configure_build() { # dir [cmake args...]
    local dir=$1; shift
    cmake -S "$ROOT" -B "$ROOT/$dir" "$@" >/dev/null
    cmake --build "$ROOT/$dir" -j "$JOBS"
}

run_suite() { # dir label
    echo "=== $2 ==="
    (cd "$ROOT/$1" && ctest --output-on-failure -j 1 "${CTEST_ARGS[@]}")
}

CTEST_ARGS=()
case "${1:-help}" in
demo)
    need $BUILD_PKGS
    configure_build build
    "$ROOT/build/examples/shmc_demo"
    ;;
test)
    need $BUILD_PKGS $TEST_PKGS
    configure_build build -DCMAKE_BUILD_TYPE=RelWithDebInfo # bench leaves it Release
    run_suite build "plain build (RelWithDebInfo)"
    configure_build build-asan -DSHMC_SANITIZE=address -DCMAKE_BUILD_TYPE=Debug
    run_suite build-asan "AddressSanitizer + UndefinedBehaviorSanitizer"
    configure_build build-tsan -DSHMC_SANITIZE=thread -DCMAKE_BUILD_TYPE=Debug
    run_suite build-tsan "ThreadSanitizer"
    echo "=== Debian packages: build, lintian, install in a clean root ==="
    need $PACKAGE_PKGS
    "$ROOT/tests/package_check.sh" "$ROOT"
    echo "=== bounded fuzzing (libFuzzer; longer: FUZZ_SECONDS=N) ==="
    "$ROOT/tests/fuzz/run.sh" "${FUZZ_SECONDS:-30}"
    "$ROOT/tests/fuzz/run_lib.sh" "${FUZZ_SECONDS:-30}"
    echo "build.sh: every suite passed"
    ;;
fuzz)
    need $BUILD_PKGS $TEST_PKGS
    echo "=== fuzzing, ${FUZZ_SECONDS:-30} s per target ==="
    "$ROOT/tests/fuzz/run.sh" "${FUZZ_SECONDS:-30}"
    "$ROOT/tests/fuzz/run_lib.sh" "${FUZZ_SECONDS:-30}"
    ;;
package)
    need $BUILD_PKGS $PACKAGE_PKGS
    "$ROOT/tests/package_check.sh" "$ROOT"
    ;;
bench)
    shift
    need $BUILD_PKGS $BENCH_PKGS
    configure_build build -DCMAKE_BUILD_TYPE=Release
    "$ROOT/bench/run.sh" "$ROOT/build" "$@"
    ;;
install)
    need $BUILD_PKGS
    prefix=$(realpath -m "${2:-/usr/local}")
    configure_build build -DCMAKE_INSTALL_PREFIX="$prefix"
    cmake --install "$ROOT/build"
    case "$prefix" in
    /usr|/usr/local) ;; # cmake --install ran ldconfig (as root)
    *) echo "build.sh: installed in $prefix; programs built with \`pkg-config --libs shmc\` find"
       echo "  the library by their run path; others need LD_LIBRARY_PATH=$prefix/lib, the"
       echo "  tools PATH=$prefix/bin:\$PATH, pkg-config PKG_CONFIG_PATH=$prefix/lib/pkgconfig" ;;
    esac
    ;;
*)
    sed -n '2,11p' "$0"
    exit 2
    ;;
esac
