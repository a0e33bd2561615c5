#!/usr/bin/env bash
# install_check.sh BUILD_DIR SOURCE_DIR — `make install` into a temporary prefix, then build
# and run the README's example against the installed library with pkg-config alone, shared
# and static: what a user of the package does.  The shared program must run without
# LD_LIBRARY_PATH (the pkg-config file carries the run path), also after the whole prefix is
# moved elsewhere (the file is relocatable).  As root, in a private mount namespace with its
# own /usr/local and loader cache, an install into /usr/local runs ldconfig, so a program
# linked without any run path finds the library too.
set -euo pipefail
build=$1 src=$2
prefix=$(mktemp -d)
trap 'rm -rf "$prefix"' EXIT
passed=0
ok() { echo "ok: $*"; passed=$((passed + 1)); }
cmake --install "$build" --prefix "$prefix/a" >/dev/null
cc=${CC:-cc}
build_and_run() { # root label
    local root=$1 pc_dir
    pc_dir=$(dirname "$(find "$root" -name shmc.pc | head -1)")
    export PKG_CONFIG_PATH=$pc_dir
    # shellcheck disable=SC2046
    "$cc" -std=c11 -Wall -Werror -o "$root/example_shared" "$src/examples/example.c" $(pkg-config --cflags --libs shmc)
    # shellcheck disable=SC2046
    "$cc" -std=c11 -Wall -Werror -o "$root/example_static" "$src/examples/example.c" $(pkg-config --cflags shmc) \
        "$(pkg-config --variable=libdir shmc)/libshmc.a" -lpthread
    [ -n "$(pkg-config --variable=rpath shmc)" ] || { echo "FAIL: no rpath variable"; exit 1; }
    pkg-config --libs shmc | grep -qF -- "-Wl,-rpath,$(pkg-config --variable=libdir shmc) " \
        || { pkg-config --libs shmc; echo "FAIL: Libs lacks the run path to libdir"; exit 1; }
    export SHMC_DIR=$root
    env -u LD_LIBRARY_PATH "$root/example_shared" >/dev/null
    ldd "$root/example_shared" | grep -q "libshmc.so.0 => $(cd "$(pkg-config --variable=libdir shmc)" && pwd -P)" \
        || { ldd "$root/example_shared"; echo "FAIL: not linked with the installed library"; exit 1; }
    ok "$2: shared example runs without LD_LIBRARY_PATH"
    "$root/example_static" >/dev/null
    "$root/bin/shmc" check shmc-example >/dev/null   # the installed tool reads the same file
    ok "$2: static example, installed shmc check"
}
build_and_run "$prefix/a" "installed"
# the loader's own prefixes get no run path (a package's staging, DESTDIR, is one)
for sys_prefix in /usr /usr/local; do
    DESTDIR="$prefix/staged" cmake --install "$build" --prefix "$sys_prefix" >/dev/null
    libs=$(PKG_CONFIG_PATH=$(dirname "$(find "$prefix/staged$sys_prefix" -name shmc.pc)") pkg-config --libs shmc)
    case "$libs" in
    *rpath*) echo "FAIL: --prefix $sys_prefix: Libs has a run path: $libs"; exit 1 ;;
    *-lshmc*) ;;
    *) echo "FAIL: --prefix $sys_prefix: Libs: $libs"; exit 1 ;;
    esac
    rm -rf "$prefix/staged"
done
ok "no run path in Libs for /usr and /usr/local"
for page in man3/libshmc.3 man1/shmc.1 man1/shmcd.1; do
    if [ -e "$build/man/shmc.1" ] || [ "$page" = man3/libshmc.3 ]; then
        [ -e "$prefix/a/share/man/$page" ] || { echo "FAIL: $page not installed"; exit 1; }
    fi
done
ok "manual pages installed"
mv "$prefix/a" "$prefix/moved"
build_and_run "$prefix/moved" "prefix moved"

if [ "$(id -u)" -ne 0 ] || ! command -v unshare >/dev/null; then
    echo "SKIPPED the /usr/local + ldconfig case: it needs root and unshare (a private mount namespace)"
else
    mkdir "$prefix/etc-upper" "$prefix/etc-work"   # ldconfig renames its cache into /etc
    unshare -m bash -euc '
        mount --make-rprivate /
        mount -t tmpfs tmpfs /usr/local
        mount -t overlay overlay -o "lowerdir=/etc,upperdir=$1/etc-upper,workdir=$1/etc-work" /etc
        cmake --install "$2" --prefix /usr/local | grep -q "Running ldconfig"
        ldconfig -p | grep -q "libshmc.so.0 .*/usr/local/lib/libshmc.so.0"
        printf "#include <shmc.h>\nint main(void){return shmc_strerror(SHMC_OK)[0] != 0x73;}\n" >"$1/plain.c"
        cc -std=c11 -o "$1/plain" "$1/plain.c" -I/usr/local/include -L/usr/local/lib -lshmc
        env -u LD_LIBRARY_PATH "$1/plain"
    ' _ "$prefix" "$build"
    ok "install into /usr/local runs ldconfig: a program without a run path finds the library"
fi
echo "$passed passed, 0 failed"
