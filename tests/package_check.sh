#!/usr/bin/env bash
# package_check.sh SOURCE_DIR — build the Debian packages from the tree
# (dpkg-buildpackage -us -uc -b, in a copy, since it writes the .debs next to the tree), run
# lintian on them (no errors allowed), install them with dpkg into a clean root, and there
# run shmcd --version, shmc create/set/get and a C program built with pkg-config against the
# installed files.
#
# The clean root: a private mount namespace (unshare -m) where /usr, /etc, /var and /lib
# are overlays of the host's (their changes go to a directory in /dev/shm and vanish with the
# namespace), with nothing of shmc in them before.  So `dpkg -i` runs for real, maintainer
# scripts included (systemd-sysusers makes user shmcd), without a chroot's second Debian
# and without touching the host.  Needs root; without it the packages are only built and
# checked with lintian, and the install part says it was skipped.
set -euo pipefail
src=$(cd "$1" && pwd)
work=$(mktemp -d /var/tmp/shmc-package.XXXXXX)
ovl=$(mktemp -d /dev/shm/shmc-test-package-ov.XXXXXX) # outside the trees it overlays
trap 'rm -rf "$work" "$ovl"' EXIT
passed=0
ok() { echo "ok: $*"; passed=$((passed + 1)); }
die() { echo "FAIL: $*"; exit 1; }
for tool in dpkg-buildpackage dh lintian; do
    command -v "$tool" >/dev/null || die "$tool is missing (Debian packages dpkg-dev, debhelper, lintian; ./build.sh package installs them)"
done

mkdir "$work/shmc"
if git -C "$src" rev-parse --git-dir >/dev/null 2>&1; then
    (cd "$src" && git ls-files -co --exclude-standard -z | xargs -0 tar -cf - --no-recursion) | tar -xf - -C "$work/shmc"
else
    tar -C "$src" --exclude='./build*' -cf - . | tar -xf - -C "$work/shmc"
fi
start=$SECONDS
(cd "$work/shmc" && dpkg-buildpackage -us -uc -b -j"$(nproc)" >"$work/build.log" 2>&1) \
    || { tail -40 "$work/build.log"; die "dpkg-buildpackage failed"; }
ok "dpkg-buildpackage -us -uc -b ($((SECONDS - start)) s)"
debs=$(ls "$work"/*.deb)
for p in libshmc0 libshmc-dev shmcd shmc-tools; do
    ls "$work/${p}_"*.deb >/dev/null 2>&1 || die "no $p package"
done
ok "packages: $(cd "$work" && ls ./*.deb | grep -v dbgsym | tr '\n' ' ')"
contents=$(dpkg-deb -c "$work"/shmcd_*.deb)
grep -q "lib/systemd/system/shmcd.service" <<<"$contents" || die "shmcd lacks its unit"
contents=$(dpkg-deb -c "$work"/libshmc-dev_*.deb)
grep -q "man3/libshmc.3" <<<"$contents" || die "libshmc-dev lacks libshmc.3"

changes=$(ls "$work"/*.changes)
if lintian --fail-on error --suppress-tags-from-file /dev/null "$changes" >"$work/lintian.log" 2>&1; then
    ok "lintian: no errors ($(grep -c '^W:' "$work/lintian.log" || true) warnings)"
else
    cat "$work/lintian.log"
    die "lintian found errors"
fi
grep '^[EW]:' "$work/lintian.log" | head -20 || true

if [ "$(id -u)" -ne 0 ] || ! command -v unshare >/dev/null; then
    echo "SKIPPED the install in a clean root: it needs root and unshare (a private mount namespace)"
    echo "$passed passed, 0 failed"
    exit 0
fi
mkdir -p "$work/cache"
# shellcheck disable=SC2016
unshare -m bash -euc '
    work=$1 ovl=$2; shift 2
    mount --make-rprivate /
    for d in usr etc var $([ -L /lib ] || echo lib); do # /lib is /usr/lib where /usr is merged
        mkdir -p "$ovl/$d/upper" "$ovl/$d/work"
        mount -t overlay overlay -o "lowerdir=/$d,upperdir=$ovl/$d/upper,workdir=$ovl/$d/work" "/$d"
    done
    mount -t tmpfs tmpfs /usr/local     # nothing of a ./build.sh install is seen
    mount -t tmpfs tmpfs /tmp
    ! dpkg -s shmcd >/dev/null 2>&1 || { echo "FAIL: shmcd is installed on the host"; exit 1; }
    dpkg -i "$@" >"$work/dpkg.log" 2>&1 || { cat "$work/dpkg.log"; echo "FAIL: dpkg -i"; exit 1; }
    echo "ok: dpkg -i of the four packages"
    if getent passwd shmcd | grep -q ":/nonexistent:" && getent group shmc >/dev/null; then
        echo "ok: user shmcd and group shmc made by the package"
    else
        echo "user: $(getent passwd shmcd) group: $(getent group shmc)"; cat /var/lib/dpkg/info/shmcd.postinst
    fi
    [ "$(command -v shmcd)" = /usr/bin/shmcd ] && [ "$(command -v shmc)" = /usr/bin/shmc ]
    /usr/bin/shmcd --version | grep -q "^shmcd " && echo "ok: shmcd --version: $(/usr/bin/shmcd --version)"
    export SHMC_DIR=$work/cache
    shmc create pkgtest -m 8 && shmc set pkgtest greeting hello >/dev/null
    [ "$(shmc get pkgtest greeting)" = hello ] && echo "ok: shmc create/set/get"
    printf "%s\n" "#include <shmc.h>" "#include <stdio.h>" "#include <string.h>" \
        "int main(void) {" "    shmc_t *c; char v[16]; size_t n;" \
        "    if (shmc_open(&c, \"pkgtest\", NULL) != SHMC_OK) return 1;" \
        "    if (shmc_get(c, \"greeting\", 8, v, sizeof v, &n, NULL, NULL) != SHMC_OK) return 2;" \
        "    printf(\"%.*s\\n\", (int)n, v); shmc_close(c); return n == 5 && !memcmp(v, \"hello\", 5) ? 0 : 3;" \
        "}" >"$work/prog.c"
    # shellcheck disable=SC2046
    cc -std=c11 -Wall -Werror -o "$work/prog" "$work/prog.c" $(pkg-config --cflags --libs shmc)
    linked=$(ldd "$work/prog")
    if grep -Eq "libshmc.so.0 => (/usr)?/lib/.*/libshmc.so.0" <<<"$linked"; then
        echo "ok: linked with the packaged libshmc"
    else
        echo "$linked"
    fi
    [ "$("$work/prog")" = hello ] && echo "ok: a C program built with pkg-config reads the item"
    man -w shmc shmcd libshmc >/dev/null && echo "ok: man shmc, shmcd, libshmc"
    [ -f /etc/shmcd.conf ] && grep -q "^/etc/shmcd.conf$" /var/lib/dpkg/info/shmcd.conffiles && echo "ok: /etc/shmcd.conf is a conffile"
' _ "$work" "$ovl" $(echo "$debs" | grep -v dbgsym) | tee "$work/install.log"
n=$(grep -c "^ok:" "$work/install.log")
[ "$n" -eq 8 ] || die "the install checks passed $n of 8"
passed=$((passed + n))
echo "$passed passed, 0 failed"
