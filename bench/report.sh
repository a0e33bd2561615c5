#!/usr/bin/env bash
# report.sh — write OUTDIR/benchmarks.md and its plots (OUTDIR/bench-*.png, gnuplot) from
# the raw result lines of one run (bench/run.sh calls this; it can be re-run by hand on
# kept results: bench/report.sh build/bench-results/results.tsv docs).
set -euo pipefail
[ $# -eq 2 ] || { echo "usage: bench/report.sh RESULTS.tsv OUTDIR" >&2; exit 2; }
RAW=$1
OUT=$2
HERE=$(cd "$(dirname "$0")" && pwd)
[ -r "$RAW" ] || { echo "report.sh: cannot read $RAW" >&2; exit 2; }
mkdir -p "$OUT"
DATA=$(mktemp -d)
trap 'rm -rf "$DATA"' EXIT

PLOTS=""
HAVE_GNUPLOT=0
command -v gnuplot >/dev/null && HAVE_GNUPLOT=1

# data for the latency plot: one row per op, one column per system (median µs; ? = none)
awk -F'\t' '
    $1 == "lat" && $2 == "main" { v[$4, $3] = $7 / 1000.0; seen[$3] = 1 }
    END {
        n = split("get128 get128z get5k set128 set128z set5k delete incr getmiss", ops, " ")
        m = split("libshmc libshmc-pku shmcd-unix shmcd-tcp memcached-unix memcached-tcp lmdb", sys, " ")
        printf "op"; for (j = 1; j <= m; j++) if (sys[j] in seen) printf "\t%s", sys[j]; printf "\n"
        for (i = 1; i <= n; i++) {
            printf "%s", ops[i]
            for (j = 1; j <= m; j++) if (sys[j] in seen) printf "\t%s", ((ops[i], sys[j]) in v) ? v[ops[i], sys[j]] : "?"
            printf "\n"
        }
    }' "$RAW" >"$DATA/latency.dat"
ncols=$(head -n 1 "$DATA/latency.dat" | awk -F'\t' '{print NF}')

if [ $HAVE_GNUPLOT -eq 1 ] && [ "$ncols" -gt 1 ]; then
    gnuplot <<EOF 2>"$DATA/gnuplot-latency.err" && PLOTS="$PLOTS bench-latency.png" || cat "$DATA/gnuplot-latency.err" >&2
set terminal pngcairo size 1000,520 font ",10"
set output "$OUT/bench-latency.png"
set datafile separator "\t"
set datafile missing "?"
set title "Median latency per operation (µs, log scale; lower is better)"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.8 border -1
set logscale y
set yrange [0.01:*]
set ylabel "µs"
set key outside right top
set grid ytics
plot for [c=2:$ncols] "$DATA/latency.dat" using c:xtic(1) title columnheader(c)
EOF
fi

# the report itself (also writes the throughput plot's data files into $DATA)
awk -v DATADIR="$DATA" -v PLOTS="$PLOTS bench-throughput.png" -f "$HERE/report.awk" "$RAW" >"$DATA/benchmarks.md"

# throughput plot: one panel per mix and key distribution, ops/s against workers
tp_ok=0
if [ $HAVE_GNUPLOT -eq 1 ] && ls "$DATA"/tp-*.dat >/dev/null 2>&1; then
    panels=$(ls "$DATA"/tp-*.dat | sed 's|.*/tp-\([0-9]*\)-\([a-z]*\)-.*|\1-\2|' | sort -u -t- -k1,1nr -k2,2)
    npanels=$(echo "$panels" | wc -l)
    rows=$(((npanels + 1) / 2))
    {
        echo "set terminal pngcairo size 1100,$((rows * 430)) font \",10\""
        echo "set output \"$OUT/bench-throughput.png\""
        echo "set datafile separator \"\\t\""
        echo "set multiplot layout $rows,2 title \"Throughput: ops/s (log scale) against workers (1, 2, 4, 8, 16); error bars: lowest–highest run\""
        echo "set logscale y"
        echo "set format y \"%.0s%c\""
        echo "set logscale x 2"
        echo "set xrange [0.8:20]"
        echo "set xtics (1,2,4,8,16)"
        echo "set grid"
        echo "set key below horizontal maxcols 3 font \",8\""
        for panel in $panels; do
            mix=${panel%%-*}
            dist=${panel#*-}
            case $mix in
            90) title="90% get / 10% set" ;;
            95) title="95% get / 5% set" ;;
            50) title="50% get / 50% set" ;;
            *) title="$mix% get" ;;
            esac
            [ "$dist" = zipf ] && title="$title, zipfian 0.99" || title="$title, uniform"
            echo "set title \"$title\""
            plot="plot"
            sep=""
            color=1
            for sys in libshmc shmcd-unix memcached-unix lmdb; do
                for kind in threads processes; do
                    f="$DATA/tp-$mix-$dist-$sys-$kind.dat"
                    [ -s "$f" ] || continue
                    if [ $kind = threads ]; then
                        plot="$plot$sep \"$f\" using 1:2:3:4 with yerrorlines lc $color pt 7 title \"$sys threads\""
                    else
                        plot="$plot$sep \"$f\" using 1:2:3:4 with yerrorbars lc $color pt 4 ps 1.5 title \"$sys processes\""
                    fi
                    sep=","
                done
                color=$((color + 1))
            done
            [ "$plot" != "plot" ] && echo "$plot"
        done
        echo "unset multiplot"
    } >"$DATA/throughput.gp"
    if gnuplot "$DATA/throughput.gp" 2>"$DATA/gnuplot-tp.err"; then
        tp_ok=1
    else
        cat "$DATA/gnuplot-tp.err" >&2
    fi
fi
if [ $tp_ok -eq 0 ]; then
    # no plot was drawn: drop the link to it
    grep -v 'bench-throughput.png' "$DATA/benchmarks.md" >"$DATA/benchmarks.md.tmp"
    mv "$DATA/benchmarks.md.tmp" "$DATA/benchmarks.md"
    [ $HAVE_GNUPLOT -eq 1 ] || echo "report.sh: gnuplot not installed: no plots (apt-get install gnuplot-nox)" >&2
fi
# the hand-written analysis (bench/notes.md) follows what the run measured
[ -r "$HERE/notes.md" ] && { echo; cat "$HERE/notes.md"; } >>"$DATA/benchmarks.md"
cp "$DATA/benchmarks.md" "$OUT/benchmarks.md"
echo "report.sh: wrote $OUT/benchmarks.md${PLOTS:+ and plots}" >&2
