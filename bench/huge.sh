#!/usr/bin/env bash
# huge.sh — the uniform get of libshmc with 4 KiB and with 2 MiB pages, side by side: the
# same items in caches on tmpfs mounted huge=never and huge=always, and on hugetlbfs where
# the administrator reserved enough 2 MiB pages (vm.nr_hugepages; this script never changes
# that host-wide setting).  bench/run.sh calls it inside a private mount namespace
# (unshare -m --propagation private), so its mounts vanish with it.  Result lines (and
# notes) go to stdout, as the other programs' do.
#
#   bench/huge.sh BIN_DIR WORK_DIR KEYS MIB SAMPLES RUNS
set -euo pipefail
[ $# -eq 6 ] || { sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
BIN=$1 WORK=$2 KEYS=$3 MIB=$4 SAMPLES=$5 RUNS=$6

targets=()
for mode in never always; do
    dir=$WORK/tmpfs-$mode
    mkdir -p "$dir"
    if mount -t tmpfs -o "size=$((MIB * 2 + 64))m,huge=$mode,mode=0700" "shmc-bench-$mode" "$dir"; then
        targets+=("tmpfs-$mode=shmc:$dir/cache")
    else
        printf 'note\thuge pages: cannot mount tmpfs with huge=%s here\n' "$mode"
    fi
done
# hugetlbfs: the file is the cache (MIB) plus its table and bookkeeping, in whole 2 MiB pages
need=$((MIB * 5 / 8 + 16))
free=$(awk '/^HugePages_Free:/ {print $2}' /proc/meminfo)
size_kb=$(awk '/^Hugepagesize:/ {print $2}' /proc/meminfo)
if [ "${size_kb:-0}" -eq 2048 ] && [ "${free:-0}" -ge "$need" ]; then
    dir=$WORK/hugetlbfs
    mkdir -p "$dir"
    if mount -t hugetlbfs -o pagesize=2M,mode=0700 shmc-bench-hugetlb "$dir"; then
        targets+=("hugetlbfs=shmc:$dir/cache")
    else
        printf 'note\thuge pages: cannot mount hugetlbfs here\n'
    fi
else
    printf 'note\thuge pages: no hugetlbfs column: %s free 2 MiB pages, about %s needed (an administrator reserves them: sysctl vm.nr_hugepages=%s)\n' \
        "${free:-0}" "$need" "$need"
fi
[ ${#targets[@]} -gt 0 ] || exit 0
"$BIN/shmc_bench_fill" --keys "$KEYS" --big-keys 1 --memory "${MIB}Mi" --tag huge "${targets[@]}"
"$BIN/shmc_bench_latency" --keys "$KEYS" --big-keys 1 --ops get128,getmiss,set128 \
    --samples "$SAMPLES" --runs "$RUNS" --tag huge "${targets[@]}"
