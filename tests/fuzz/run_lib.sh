#!/usr/bin/env bash
# run_lib.sh — build libshmc's libFuzzer targets (fuzz_api: API calls checked against a model;
# fuzz_check: damaged cache files through shmc_check and shmc_open) with clang, ASan and
# UBSan, and run each for a bounded time.
#
#   tests/fuzz/run_lib.sh <seconds-per-target>
#   FUZZ_TARGETS=fuzz_check tests/fuzz/run_lib.sh 600    # one target only
#
# Builds into $FUZZ_BUILD_DIR (default: build-fuzz-lib/ in the repository).  Seeds come
# from tests/fuzz/corpus_api/ and tests/fuzz/corpus_check/ (never written); new inputs go to
# the build directory's corpus-*/, crashes to its artifacts/.  Prints each target's final
# "#N DONE cov: ... ft: ..." line and, last, "fuzz: N passed, M failed"; exits non-zero when
# a target failed (crashed, hung, or did not build).  Needs clang with libFuzzer (Debian:
# apt-get install clang, whose recommended libclang-rt-<version>-dev holds libFuzzer).
set -u

usage() { echo "usage: $0 <seconds-per-target>" >&2; exit 2; }
[ $# -eq 1 ] || usage
case "$1" in ''|*[!0-9]*) usage ;; esac
seconds=$1
[ "$seconds" -ge 1 ] || usage

root=$(cd "$(dirname "$0")/../.." && pwd)
build=${FUZZ_BUILD_DIR:-$root/build-fuzz-lib}
cc=${CC:-clang}
case "$cc" in *clang*) ;; *) cc=clang ;; esac

if ! command -v "$cc" >/dev/null 2>&1; then
    echo "run_lib.sh: $cc not found (Debian: apt-get install -y clang)" >&2
    echo "fuzz: 0 passed, 2 failed"
    exit 1
fi
mkdir -p "$build/obj" "$build/artifacts" || exit 1

probe=$build/obj/probe.c
printf 'int LLVMFuzzerTestOneInput(const unsigned char *d, unsigned long n) { (void)d; (void)n; return 0; }\n' >"$probe"
if ! "$cc" -fsanitize=fuzzer,address,undefined "$probe" -o "$build/obj/probe" 2>"$build/obj/probe.log"; then
    echo "run_lib.sh: $cc cannot link -fsanitize=fuzzer (libFuzzer missing?):" >&2
    sed 's/^/  /' "$build/obj/probe.log" >&2
    echo "  Debian: apt-get install -y libclang-rt-\$($cc -dumpversion | cut -d. -f1)-dev" >&2
    echo "fuzz: 0 passed, 2 failed"
    exit 1
fi

cflags=(-g -O1 -std=c11 -D_GNU_SOURCE -fno-strict-aliasing -Wall -Wextra
        -fno-omit-frame-pointer -fno-sanitize-recover=all
        -I"$root/include" -I"$root/src")

# The library, instrumented for coverage and sanitizers (no libFuzzer main).
objs=()
for src in "$root"/src/*/*.c; do
    rel=${src#"$root"/src/}
    obj=$build/obj/${rel//\//_}
    obj=${obj%.c}.o
    objs+=("$obj")
    if [ ! -e "$obj" ] || [ "$src" -nt "$obj" ] || [ -n "$(find "$root/src" "$root/include" -name '*.h' -newer "$obj" -print -quit)" ]; then
        "$cc" "${cflags[@]}" -fsanitize=fuzzer-no-link,address,undefined -c "$src" -o "$obj" || {
            echo "run_lib.sh: library source $rel does not compile" >&2
            echo "fuzz: 0 passed, 2 failed"
            exit 1
        }
    fi
done

export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1:allocator_may_return_null=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

# A target that crashed or hung could not remove its cache files (/dev/shm/shmc-fuzz-<target>-<pid>...).
sweep_dead_caches() {
    for f in /dev/shm/shmc-fuzz-api-* /dev/shm/shmc-fuzz-check-*; do
        [ -e "$f" ] || continue
        pid=${f#/dev/shm/shmc-fuzz-*-}
        pid=${pid%%-*}
        case "$pid" in ''|*[!0-9]*) continue ;; esac
        kill -0 "$pid" 2>/dev/null || rm -f "$f"
    done
}

passed=0
failed=0
summary=()
for target in ${FUZZ_TARGETS:-fuzz_api fuzz_check}; do
    case $target in fuzz_api|fuzz_check) ;; *) echo "run_lib.sh: no target $target" >&2; failed=$((failed + 1)); continue ;; esac
    seeds=$root/tests/fuzz/corpus_${target#fuzz_}
    work=$build/corpus-${target#fuzz_}
    log=$build/$target.log
    mkdir -p "$work"
    if ! "$cc" "${cflags[@]}" -Werror -fsanitize=fuzzer,address,undefined \
            "$root/tests/fuzz/$target.c" "${objs[@]}" -lpthread -lm -o "$build/$target"; then
        echo "run_lib.sh: $target does not build" >&2
        failed=$((failed + 1))
        summary+=("$target: BUILD FAILED")
        continue
    fi
    dirs=("$work")
    [ -d "$seeds" ] && dirs+=("$seeds")
    echo "== $target: ${seconds}s (log: $log)"
    # in a subshell, so that a target killed by a signal is reported in its log, not here
    ( "$build/$target" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=4096 -max_len=8192 \
        -print_final_stats=1 -artifact_prefix="$build/artifacts/$target-" "${dirs[@]}"; exit $? ) >"$log" 2>&1
    rc=$?
    sweep_dead_caches
    done_line=$(grep -E '^#[0-9]+[[:space:]]+DONE' "$log" | tail -n 1)
    if [ $rc -eq 0 ] && [ -n "$done_line" ]; then
        passed=$((passed + 1))
        echo "$target: $done_line"
        summary+=("$target: ok  $done_line")
    else
        failed=$((failed + 1))
        echo "$target: FAILED (exit $rc); the end of its log:"
        grep -E 'MISMATCH|ERROR|SUMMARY|Test unit written|deadly signal|timeout' "$log" | head -n 20 | sed 's/^/  /'
        tail -n 30 "$log" | sed 's/^/  | /'
        unit=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -n 1)
        hint=""
        [ $target = fuzz_api ] && hint="   (with FUZZ_TRACE=1 it lists every call)"
        [ -n "$unit" ] && echo "  reproduce: $build/$target $unit$hint"
        summary+=("$target: FAILED (exit $rc), artifacts in $build/artifacts/")
    fi
done

for line in "${summary[@]}"; do echo "  $line"; done
echo "fuzz: $passed passed, $failed failed"
[ $failed -eq 0 ]
