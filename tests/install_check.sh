#!/usr/bin/env bash
# install_check.sh BUILD_DIR SOURCE_DIR — `make install` into a temporary prefix, then build
# and run the README's example against the installed library with pkg-config alone, shared
# and static: what a user of the package does.
set -euo pipefail
build=$1 src=$2
prefix=$(mktemp -d)
trap 'rm -rf "$prefix"' EXIT
cmake --install "$build" --prefix "$prefix" >/dev/null
pc_dir=$(dirname "$(find "$prefix" -name shmc.pc | head -1)")
export PKG_CONFIG_PATH=$pc_dir
cc=${CC:-cc}
"$cc" -std=c11 -Wall -Werror -o "$prefix/example_shared" "$src/examples/example.c" $(pkg-config --cflags --libs shmc)
"$cc" -std=c11 -Wall -Werror -o "$prefix/example_static" "$src/examples/example.c" $(pkg-config --cflags shmc) \
    "$(pkg-config --variable=libdir shmc)/libshmc.a" -lpthread
export SHMC_DIR=$prefix
LD_LIBRARY_PATH="$(pkg-config --variable=libdir shmc)" "$prefix/example_shared"
"$prefix/example_static"
"$prefix/bin/shmc" check shmc-example   # the installed tool reads the same file
echo "1 passed, 0 failed"
