# report.awk — turn the raw result lines of one benchmark run (bench/run.sh writes them;
# formats in bench/common.h and the programs' headers) into docs/benchmarks.md, and write
# the data files the plots are drawn from.  Every figure printed comes from a result line:
# nothing here is a number about shmc or memcached.
#
# Variables (awk -v): DATADIR, where plot data files go; PLOTS, space-separated PNG names
# that were requested (the report links them).
BEGIN {
    FS = "\t"
    nsys = split("libshmc libshmc-pku shmcd-unix shmcd-tcp memcached-unix memcached-tcp lmdb", SYS, " ")
    NAME["libshmc"] = "libshmc"
    NAME["libshmc-pku"] = "libshmc + PKU"
    NAME["shmcd-unix"] = "shmcd UNIX"
    NAME["shmcd-tcp"] = "shmcd TCP"
    NAME["memcached-unix"] = "memcached UNIX"
    NAME["memcached-tcp"] = "memcached TCP"
    NAME["lmdb"] = "LMDB"
    nops = split("get128 get128z get5k set128 set128z set5k delete incr getmiss mget16 mget100 getcold", OPS, " ")
    OPNAME["get128"] = "get 128 B"
    OPNAME["get128z"] = "get 128 B (zipf 0.99)"
    OPNAME["set128z"] = "set 128 B (zipf 0.99)"
    OPNAME["get5k"] = "get 5 KB"
    OPNAME["set128"] = "set 128 B"
    OPNAME["set5k"] = "set 5 KB"
    OPNAME["delete"] = "delete"
    OPNAME["incr"] = "incr"
    OPNAME["getmiss"] = "get miss"
    OPNAME["mget16"] = "mget of 16 keys of 128 B, per key"
    OPNAME["mget100"] = "mget of 100 keys of 128 B, per key"
    OPNAME["getcold"] = "get 128 B, just attached ¹"
    ntp = split("libshmc shmcd-unix memcached-unix lmdb", TPSYS, " ")
    nnotes = 0
}

$1 == "machine" { M[$2] = $3; next }
$1 == "param" { P[$2] = $3; next }
$1 == "note" { NOTES[++nnotes] = $2; next }
$1 == "timer" { TIMER[$2] = $3; next }
$1 == "memref" { MEMREF[$2] = $4; MEMREFLO[$2] = $5; MEMREFHI[$2] = $6; MEMREFSIZE[$2] = $3; next }
$1 == "hitratio" { HR[$2] = $6; HRLRU[$2] = $7; HRKEYS[$2] = $3; HRSHARE[$2] = $4; HROPS[$2] = $5; HRITEMS[$2] = $8; next }
$1 == "loads" { k = $2 SUBSEP $3 SUBSEP $4; LOADS[k] = $5; LOADSLO[k] = $6; LOADSHI[k] = $7; next }
$1 == "unavailable" {
    if (!(($2, $3) in UNAV)) UNAV[$2, $3] = $4
    next
}
$1 == "fill" {
    FILLS[$2, $3] = $6
    if ($8 > 0) NOTES[++nnotes] = sprintf("fill of %s (%s keys): %d of %d sampled keys were missing afterwards", $3, $2, $8, $7)
    next
}
$1 == "lat" {
    k = $2 SUBSEP $3 SUBSEP $4
    LAT[k] = $7; LATLO[k] = $8; LATHI[k] = $9
    P99[k] = $10; P99LO[k] = $11; P99HI[k] = $12
    LATERR[k] = $13
    LATRUNS[$2] = $5; LATSAMPLES[$2] = $6
    next
}
$1 == "tput" {
    k = $2 SUBSEP $3 SUBSEP $4 SUBSEP $5 SUBSEP $6 SUBSEP $7
    TP[k] = $9; TPLO[k] = $10; TPHI[k] = $11; TPERR[k] = $12
    TPRUNS[$2] = $8
    if (!(($2, $4) in HAVEMIX)) { HAVEMIX[$2, $4] = 1; MIXES[$2] = MIXES[$2] " " $4 }
    if (!(($2, "w", $6, $7) in HAVEW)) { HAVEW[$2, "w", $6, $7] = 1; WORKERS[$2] = WORKERS[$2] " " $6 ":" $7 }
    next
}
$1 == "tputfail" {
    TPFAIL[$2, $3, $4, $5, $6, $7] = $8
    next
}
$1 == "cpuref" { CPUREF[$2, $3, $4, $5] = $6; next }
$1 == "mem" { MEM[$2, $3, $4] = $5; MEMSYS[$2] = 1; next }
$1 == "estparam" { EP["rounds"] = $2; EP["runs"] = $3; EP["samples"] = $4; EP["cycles"] = $6; sub(/,/, "–", EP["cycles"]); EP["ghz"] = $7; EP["mhz"] = $8; next }
$1 == "estimate" { EST[$2] = 1; NEST++; ESTPLAIN[$2] = $3; ESTGATE[$2] = $4; ESTDIFF[$2] = $5; ESTN[$2] = $6; ESTLO[$2] = $9; ESTHI[$2] = $10; ESTLOHERE[$2] = $7; ESTHIHERE[$2] = $8; next }
$1 == "mapping" { MAPPED[$2, $3] = $4; HUGEMAPPED[$2, $3] = $5; next }

function us(ns) {
    ns = ns / 1000.0
    if (ns < 1) return sprintf("%.3f", ns)
    if (ns < 10) return sprintf("%.2f", ns)
    if (ns < 100) return sprintf("%.1f", ns)
    return sprintf("%.0f", ns)
}
function times(r) {
    if (r >= 10) return sprintf("%.0f×", r)
    return sprintf("%.1f×", r)
}
function ops(v) {
    if (v >= 1e6) return sprintf("%.2f M", v / 1e6)
    if (v >= 1e3) return sprintf("%.1f k", v / 1e3)
    return sprintf("%.0f", v)
}
function bytes(v) { return sprintf("%.1f", v) }
function why(tag, s) {
    if ((tag, s) in UNAV) return UNAV[tag, s]
    if (s ~ /^shmcd/ && shmcd_missing) return "shmcd not built"
    if (s ~ /^(shmcd|memcached)/ && sockets_missing) return "no libmemcached"
    if (s ~ /^memcached/ && memcached_missing) return "memcached not installed"
    if (s ~ /^shmcd/ && shmcd_failed) return "shmcd failed to start"
    if (s ~ /^memcached/ && memcached_failed) return "memcached failed to start"
    if (s == "lmdb" && lmdb_missing) return "no liblmdb-dev"
    return "not measured"
}
function latcell(tag, s, op, which,    k, v, lo, hi, cell) {
    k = tag SUBSEP s SUBSEP op
    if (!(k in LAT)) return why(tag, s)
    if (which == "p99") { v = P99[k]; lo = P99LO[k]; hi = P99HI[k] }
    else { v = LAT[k]; lo = LATLO[k]; hi = LATHI[k] }
    cell = us(v) " (" us(lo) "–" us(hi) ")"
    if (LATERR[k] > 0) cell = cell " ⚠ " LATERR[k] " unexpected results"
    return cell
}
function loadscell(tag, s, op,    k) {
    k = tag SUBSEP s SUBSEP op
    if (!(k in LOADS)) return "—"
    if (LOADSLO[k] == "") return sprintf("%.2f", LOADS[k])
    return sprintf("%.2f (%.2f–%.2f)", LOADS[k], LOADSLO[k], LOADSHI[k])
}
function loadstarget(text, op, limit,    k) {
    k = "main" SUBSEP "libshmc" SUBSEP op
    if (k in LOADS) target(text, sprintf("%.2f loads", LOADS[k]), LOADS[k] <= limit ? "yes" : "**no**", "")
    else target(text, "not measured", "—", "")
}
function speedup(tag, s, base, op,    a, b) {
    a = tag SUBSEP s SUBSEP op
    b = tag SUBSEP base SUBSEP op
    if (!(a in LAT) || !(b in LAT) || LAT[a] <= 0) return "—"
    return times(LAT[b] / LAT[a])
}
function tpcell(tag, s, mix, dist, kind, n,    k, cell) {
    k = tag SUBSEP s SUBSEP mix SUBSEP dist SUBSEP kind SUBSEP n
    if (k in TP) {
        cell = ops(TP[k]) " (" ops(TPLO[k]) "–" ops(TPHI[k]) ")"
        if (TPERR[k] > 0) cell = cell " ⚠ " TPERR[k] " misses/errors"
        return cell
    }
    if (k in TPFAIL) return "failed: " TPFAIL[k]
    return why(tag, s)
}
function tpratio(tag, a, b, mix, dist, kind, n,    ka, kb) {
    ka = tag SUBSEP a SUBSEP mix SUBSEP dist SUBSEP kind SUBSEP n
    kb = tag SUBSEP b SUBSEP mix SUBSEP dist SUBSEP kind SUBSEP n
    if (!(ka in TP) || !(kb in TP) || TP[kb] <= 0) return "—"
    return times(TP[ka] / TP[kb])
}
function mixname(mix, dist) {
    if (mix == 90) return "90% get / 10% set"
    if (mix == 95) return "95% get / 5% set" (dist == "zipf" ? " (YCSB-B)" : "")
    if (mix == 50) return "50% get / 50% set" (dist == "zipf" ? " (YCSB-A)" : "")
    return mix "% get / " (100 - mix) "% set"
}
function tpval(tag, s, mix, dist, kind, n,    k) {
    k = tag SUBSEP s SUBSEP mix SUBSEP dist SUBSEP kind SUBSEP n
    return (k in TP) ? TP[k] : -1
}
function target(text, measured, ok, ref) {
    printf "| %s | %s | %s | %s |\n", text, measured, ok, ref
}

function loadsfig(op,    k) {
    k = "main" SUBSEP "libshmc" SUBSEP op
    return (k in LOADS) ? sprintf("%.2f loads (runs %.2f–%.2f)", LOADS[k], LOADSLO[k], LOADSHI[k]) : ""
}
function met(ok) { return ok ? "**met**" : "**not met**" }
function latof1(tag, s, op,    k) { k = tag SUBSEP s SUBSEP op; return (k in LAT) ? LAT[k] : -1 }
function latof(s, op) { return latof1("main", s, op) }
# The targets of issue 17 (performance at the memory floor), each with this run's figure.
function issue17(    k, v, t2, t8, t16, n, op, g, names, i, a, b, c, ok, a1, b1) {
    print "## Issue 17: performance at the memory floor"
    print ""
    print "Each target of issue 17 with this run's figure.  Random loads are ratios to one random"
    print "load measured in the same run (³ above), which is what survives a loaded machine."
    print ""
    n = split("get128 getmiss mget16", a, " ")
    split("a hit of 128 B costs at most 2.0 random loads|a miss costs at most 1.0 random load|a 16-key `shmc_mget` of uniform 128 B keys costs at most 0.5 random loads per key", b, "|")
    split("2.0 1.0 0.5", c, " ")
    print "**Fewer dependent misses per get; batched gets.**"
    print ""
    for (i = 1; i <= n; i++) {
        v = loadsfig(a[i])
        k = "main" SUBSEP "libshmc" SUBSEP a[i]
        if (v == "") printf "- %s: not measured.\n", b[i]
        else printf "- %s: %s: %s.\n", b[i], v, met(LOADS[k] <= c[i] + 0)
    }
    a1 = latof("shmcd-unix", "mget100"); b1 = latof("memcached-unix", "mget100")
    if (a1 > 0 && b1 > 0) printf "- shmcd's 100-key `get` over a UNIX socket: %s µs per key against memcached's %s µs in the same run (%s faster).\n", us(a1), us(b1), times(b1 / a1)
    if ("main" in HR) printf "- Eviction's quality: a zipfian 0.99 trace in a cache of 10%% of the data hits %.1f%%, an exact LRU of as many items %.1f%%: %s.\n", 100 * HR["main"], 100 * HRLRU["main"], met(HR["main"] >= 0.9 * HRLRU["main"])
    print ""
    print "**Huge pages.**"
    print ""
    a1 = latof1("huge", "tmpfs-never", "get128"); b1 = latof1("huge", "tmpfs-always", "get128")
    if (a1 > 0 && b1 > 0) {
        k = "huge" SUBSEP "tmpfs-always"
        printf "- The uniform get of 128 B with 4 KiB pages %s µs, with 2 MiB pages (tmpfs `huge=always`) %s µs (%s), %s of the mapping huge; hugetlbfs: %s.\n", us(a1), us(b1), times(a1 / b1), ((k in MAPPED) && MAPPED[k] > 0 ? sprintf("%.0f%%", 100 * HUGEMAPPED[k] / MAPPED[k]) : "—"), (latof1("huge", "hugetlbfs", "get128") > 0 ? us(latof1("huge", "hugetlbfs", "get128")) " µs" : "not measured (see the notes above)")
    } else print "- Not measured in this run (see the notes above)."
    print ""
    print "**The peers a local user would pick instead** (get / set 128 B, µs, this run):"
    print ""
    split("libshmc lmdb memcached-unix shmcd-unix", names, " ")
    for (i = 1; i <= 4; i++) {
        a1 = latof(names[i], "get128"); b1 = latof(names[i], "set128")
        if (a1 > 0 && b1 > 0) printf "- %s: %s / %s%s\n", NAME[names[i]], us(a1), us(b1), ((i > 1 && latof("libshmc", "get128") > 0) ? sprintf(" (libshmc %s / %s faster)", times(a1 / latof("libshmc", "get128")), times(b1 / latof("libshmc", "set128"))) : "")
        else printf "- %s: not measured\n", NAME[names[i]]
    }
    print ""
    print "**Throughput with many processes** (90/10 uniform, libshmc):"
    print ""
    t2 = tpval("main", "libshmc", 90, "uniform", "processes", 2)
    t8 = tpval("main", "libshmc", 90, "uniform", "processes", 8)
    t16 = tpval("main", "libshmc", 90, "uniform", "processes", 16)
    if (t2 > 0 && t8 > 0 && t16 > 0)
        printf "- 2 processes %s ops/s, 8 processes %s (%.2f×), 16 processes %s (%.2f×) on %s cores: the aggregate must not fall past the core count (a fall within 10%%, this shared machine's run-to-run spread, counts as none): %s.\n", ops(t2), ops(t8), t8 / t2, ops(t16), t16 / t2, M["cores"], met(t8 >= 0.9 * t2 && t16 >= 0.9 * t2)
    else print "- not measured"
    print ""
    print "**The PKU gate's cost** (target: at most 50 ns per call):"
    print ""
    ok = 0
    split("get128 set128 getmiss", g, " ")
    for (i = 1; i <= 3; i++) {
        a1 = latof("libshmc-pku", g[i]); b1 = latof("libshmc", g[i])
        if (a1 > 0 && b1 > 0) { ok = 1; printf "- Measured, %s: %.0f ns per call (libshmc + PKU %s µs, libshmc %s µs, separate processes): %s.\n", g[i], a1 - b1, us(a1), us(b1), met(a1 - b1 <= 50) }
    }
    if (!ok) print "- Measured: not on this CPU (no PKU).  `bench/device_check.sh` measures it on a machine with PKU, in a few minutes."
    if (NEST > 0) {
        printf "- **Estimated** without PKU (`bench/gate_estimate.sh`, %s alternating rounds): the gate run with its RDPKRU/WRPKRU replaced by register moves (a copy of the library built for the benchmark only) against the unprotected library, then the instructions added at %s cycles per WRPKRU (the range ERIM reports; Vahldiek-Oberwagner et al., USENIX Security 2019) at %s GHz; this CPU runs at %.2f GHz:\n", EP["rounds"], EP["cycles"], EP["ghz"], EP["mhz"] / 1000
        print ""
        print "| op | unprotected | gate without its instructions | difference | WRPKRUs per call | + their cost | estimated gate cost | within 50 ns |"
        print "|---|---|---|---|---|---|---|---|"
        for (i = 1; i <= 3; i++) {
            op = g[i]
            if (!(op in EST)) continue
            v = ESTDIFF[op] > 0 ? ESTDIFF[op] : 0
            printf "| %s | %.0f ns | %.0f ns | %+.0f ns | %d | %.0f–%.0f ns | %.0f–%.0f ns | %s |\n", op, ESTPLAIN[op], ESTGATE[op], ESTDIFF[op], ESTN[op], ESTLO[op], ESTHI[op], v + ESTLO[op], v + ESTHI[op], ((v + ESTHI[op] <= 50) ? "yes" : (v + ESTLO[op] <= 50 ? "only at the low end" : "no"))
        }
        print ""
        print "*difference*: the median over rounds of each round's difference (gate − unprotected); the"
        print "*estimated gate cost* counts a negative difference (not resolved above the noise) as 0."
        print "An estimate, not a measurement: the instructions' real cost on a given CPU, and how much of it"
        print "overlaps the call's other work, is what `bench/device_check.sh` measures where PKU exists."
    }
    print ""
}

END {
    sockets_missing = 0; shmcd_missing = 0; memcached_missing = 0
    for (i = 1; i <= nnotes; i++) {
        if (NOTES[i] ~ /^built without libmemcached/) sockets_missing = 1
        if (NOTES[i] ~ /^shmcd not built/) shmcd_missing = 1
        if (NOTES[i] ~ /^memcached is not installed/) memcached_missing = 1
        if (NOTES[i] ~ /^shmcd failed to start/) shmcd_failed = 1
        if (NOTES[i] ~ /^memcached failed to start/) memcached_failed = 1
        if (NOTES[i] ~ /^built without liblmdb-dev/) lmdb_missing = 1
    }
    print "# shmc benchmarks"
    print ""
    printf "Generated by `bench/run.sh` (`./build.sh bench%s`) on %s, a **%s** run. Every figure\n", (M["mode"] == "full" ? " --full" : ""), M["date"], M["mode"]
    print "below was measured in that one run, all systems side by side on the same machine; the"
    print "report is written from the run's own result lines (kept in `build/bench-results/`)."
    print "Re-run it on your machine to get your numbers."
    print ""
    print "## Machine"
    print ""
    print "| CPU | cores | kernel | PKU | memory | OS |"
    print "|---|---|---|---|---|---|"
    printf "| %s | %s | %s | %s | %s | %s |\n", M["cpu"], M["cores"], M["kernel"], M["pku"], M["memory"], M["os"]
    print ""
    printf "Software: shmc %s (git %s), memcached %s, libmemcached %s, LMDB %s.\n", M["shmc"], M["commit"], M["memcached"], M["libmemcached"], (M["lmdb"] != "" ? M["lmdb"] : "not recorded")
    print ""
    if (nnotes > 0) {
        print "**Notes on this run:**"
        print ""
        for (i = 1; i <= nnotes; i++) print "- " NOTES[i]
        print ""
    }

    print "## Method"
    print ""
    print "- Systems: **libshmc** (the library called in-process, unprotected), **libshmc + PKU**"
    print "  (the same with `SHMC_PROTECT_PKU`), **shmcd** over a UNIX socket and over TCP on"
    print "  127.0.0.1, **memcached** over a UNIX socket and over TCP on 127.0.0.1.  shmcd and memcached"
    print "  are driven by the same load generator (`bench/memcached_client.c`, libmemcached, text"
    print "  protocol), one connection per worker; each server runs 4 worker threads (`-t 4`)."
    print "  **LMDB** (`bench/lmdb_client.c`), the embedded store a local user might pick instead: its"
    print "  environment on /dev/shm with `MDB_NOSYNC | MDB_NOMETASYNC | MDB_WRITEMAP` (no flushes,"
    print "  writes into the mapping), one read-only transaction per get (reset after the get and"
    print "  renewed for the next, as LMDB advises for point reads) and one write transaction per"
    print "  set, delete or incr; threads share one environment, a worker process opens its own."
    print "- Every system holds the same items: keys of 16 bytes, the same counts and value sizes."
    print "  Both shmcd instances serve the cache file that libshmc filled (that is what shmcd is for);"
    print "  memcached's two instances were each filled over their socket with pipelined sets."
    printf "- Latency: each op is timed on its own with `clock_gettime(CLOCK_MONOTONIC)`; the clock's\n"
    printf "  own cost (%s ns per pair of reads, measured at start) is subtracted.  A run is %s timed ops\n", TIMER["main"], LATSAMPLES["main"]
    printf "  after 200 untimed warm-up ops of the same kind; each figure is the median over %s runs of\n", LATRUNS["main"]
    print "  that run's median (or p99), with the lowest and highest run in brackets.  Runs of the"
    print "  systems are interleaved, and every system sees the same key sequence: uniform random, or"
    print "  in the *zipf 0.99* rows zipfian with constant 0.99 (YCSB's generator, scrambled as YCSB does);"
    print "  those rows warm up with 20,000 untimed ops, the steady state of skewed traffic."
    print "- Steady state first: before anything is timed, every key is read once (untimed; over the"
    print "  sockets with multi-key gets), so that each process that maps a cache file (the libshmc"
    print "  process, each libshmc worker process, shmcd) has its page tables populated, as in a process"
    print "  that has been running a while.  The cost before that is measured too: the row *get 128 B,"
    print "  just attached* (¹) is a get right after a new `shmc_open` (a fresh mapping: each 4 KiB page"
    print "  touched first costs a minor page fault) or, for the servers, right after a new connection."
    print "- Throughput: workers (threads, or separate processes) start together, run the mix for a"
    printf "  warm-up of %s s, then count their ops over %s s, each timing its own window with the\n", P["tp_warmup"], P["tp_seconds"]
    printf "  monotonic clock; ops/s is the sum of the workers' rates, median of %s runs (lowest–highest).\n", P["tp_runs"]
    print "  Keys: uniform, or zipfian with constant 0.99 (YCSB's generator, scrambled as YCSB does)."
    print "  Sets overwrite existing keys with values of the same size (128 B)."
    print "- The load generator, the servers and the library all share this machine's cores: over a"
    print "  socket, the server's CPU time is part of each op."
    print ""

    # ---- latency ----
    printf "## Latency: %s items of 128 B and %s of 5 KB\n", P["keys"], P["big_keys"]
    print ""
    print "Median per operation in µs (lowest–highest run), and the speedup of each system over"
    print "memcached on the same transport (libshmc compared with memcached over its fastest,"
    print "a UNIX socket)."
    print ""
    line = "| operation |"; sep = "|---|"
    for (i = 1; i <= nsys; i++) { line = line " " NAME[SYS[i]] " |"; sep = sep "---|" }
    line = line " libshmc vs memcached UNIX | shmcd UNIX vs memcached UNIX | shmcd TCP vs memcached TCP | libshmc vs LMDB | libshmc in random loads ³ |"
    sep = sep "---|---|---|---|---|"
    print line; print sep
    for (o = 1; o <= nops; o++) {
        op = OPS[o]
        line = "| " OPNAME[op] " |"
        for (i = 1; i <= nsys; i++) line = line " " latcell("main", SYS[i], op, "median") " |"
        line = line " " speedup("main", "libshmc", "memcached-unix", op) " | " speedup("main", "shmcd-unix", "memcached-unix", op) " | " speedup("main", "shmcd-tcp", "memcached-tcp", op) " | " speedup("main", "libshmc", "lmdb", op) " | " loadscell("main", "libshmc", op) " |"
        print line
    }
    print ""
    if ("main" in MEMREF && MEMREF["main"] > 0) {
        printf "³ For scale: one random memory load over %d MiB (a cache and TLB miss, a step of a pointer\nchase timed alone as each op is) took %.0f ns on this machine in this run", MEMREFSIZE["main"] / 1048576, MEMREF["main"]
        if (MEMREFLO["main"] != "") printf " (%.0f–%.0f ns as the machine's load moved)", MEMREFLO["main"], MEMREFHI["main"]
        print ".  It is measured before each op's round, run by run; an op in random loads is the median"
        print "over runs of that run's ratio.  A get of a uniformly random key out of a cache much larger"
        print "than the CPU caches needs two dependent loads (the hash bucket, then the item), a miss one;"
        print "a multi-key get overlaps its keys' loads.  See *Where a get's time goes* below."
        print ""
    }
    print "p99 per operation in µs (lowest–highest run):"
    print ""
    line = "| operation |"; sep = "|---|"
    for (i = 1; i <= nsys; i++) { line = line " " NAME[SYS[i]] " |"; sep = sep "---|" }
    print line " libshmc vs memcached UNIX |"; print sep "---|"
    for (o = 1; o <= nops; o++) {
        op = OPS[o]
        line = "| " OPNAME[op] " |"
        for (i = 1; i <= nsys; i++) line = line " " latcell("main", SYS[i], op, "p99") " |"
        a = "main" SUBSEP "libshmc" SUBSEP op; b = "main" SUBSEP "memcached-unix" SUBSEP op
        line = line " " (((a in P99) && (b in P99) && P99[a] > 0) ? times(P99[b] / P99[a]) : "—") " |"
        print line
    }
    print ""
    print "¹ A get right after attaching (libshmc: a new `shmc_open`, so a fresh mapping whose pages"
    print "fault in on first touch) or connecting (sockets), before any warm-up; the other rows are"
    print "measured in the steady state (see Method)."
    print ""
    if (index(PLOTS, "bench-latency.png")) { print "![median latency per operation](bench-latency.png)"; print "" }

    # ---- huge pages ----
    print "## Huge pages: get with 4 KiB and 2 MiB pages"
    print ""
    if (("huge", "tmpfs-never", "get128") in LAT || ("huge", "tmpfs-always", "get128") in LAT) {
        printf "libshmc on the same %s items of 128 B (uniform keys) in caches on a tmpfs mounted\n", P["keys"]
        print "`huge=never` (4 KiB pages), on one mounted `huge=always` (the kernel maps the file with"
        print "2 MiB pages where it can) and on hugetlbfs (2 MiB pages the administrator reserved), each"
        print "mounted for this run in a private mount namespace (`bench/huge.sh`).  Median µs (lowest–"
        print "highest run); *huge-mapped*: the share of the benchmark's own mapping of the file that the"
        print "kernel mapped with 2 MiB pages while it ran."
        print ""
        nh = split("tmpfs-never tmpfs-always hugetlbfs", HS, " ")
        HN["tmpfs-never"] = "4 KiB pages (tmpfs huge=never)"
        HN["tmpfs-always"] = "2 MiB pages (tmpfs huge=always)"
        HN["hugetlbfs"] = "2 MiB pages (hugetlbfs)"
        line = "| |"; sep = "|---|"
        for (i = 1; i <= nh; i++) { line = line " " HN[HS[i]] " |"; sep = sep "---|" }
        print line " huge=always vs 4 KiB | hugetlbfs vs 4 KiB |"; print sep "---|---|"
        nho = split("get128 getmiss set128", HO, " ")
        for (o = 1; o <= nho; o++) {
            line = "| " OPNAME[HO[o]] " |"
            for (i = 1; i <= nh; i++) {
                k = "huge" SUBSEP HS[i] SUBSEP HO[o]
                line = line " " ((k in LAT) ? latcell("huge", HS[i], HO[o], "median") : "not measured") " |"
            }
            line = line " " speedup("huge", "tmpfs-always", "tmpfs-never", HO[o]) " | " speedup("huge", "hugetlbfs", "tmpfs-never", HO[o]) " |"
            print line
        }
        line = "| huge-mapped |"
        for (i = 1; i <= nh; i++) {
            k = "huge" SUBSEP HS[i]
            line = line " " ((k in MAPPED) && MAPPED[k] > 0 ? sprintf("%.0f%% of %.0f MiB", 100 * HUGEMAPPED[k] / MAPPED[k], MAPPED[k] / 1048576) : "—") " |"
        }
        print line " | |"
        print ""
        print "A ratio above 1× means the 2 MiB pages made the operation faster.  How an operator sets"
        print "this up: [docs/huge-pages.md](huge-pages.md)."
    } else {
        print "Not measured in this run (see the notes at the top)."
    }
    print ""

    # ---- throughput ----
    printf "## Throughput: %s keys, 128 B values\n", P["keys"]
    print ""
    print "Operations per second, summed over all workers (lowest–highest run).  t = threads in one"
    print "process (libshmc: one shared handle; sockets: one connection each), p = separate processes"
    print "(libshmc: one handle each).  Each pool of workers (one per system and worker count) is set"
    print "up and brought to its steady state once, then runs every mix; the runs of all pools"
    print "interleave, so each ratio compares runs made at nearly the same time."
    print ""
    nm = split(MIXES["main"], mixlist, " ")
    nw = split(WORKERS["main"], wlist, " ")
    for (m = 1; m <= nm; m++) {
        for (d = 1; d <= 2; d++) {
            dist = (d == 1) ? "uniform" : "zipf"
            if (!(("main", mixlist[m]) in HAVEMIX)) continue
            printf "**%s, %s keys**\n\n", mixname(mixlist[m], dist), (dist == "zipf" ? "zipfian 0.99" : "uniform")
            line = "| workers |"; sep = "|---|"
            for (i = 1; i <= ntp; i++) { line = line " " NAME[TPSYS[i]] " |"; sep = sep "---|" }
            print line " libshmc vs memcached | shmcd vs memcached | libshmc vs LMDB |"; print sep "---|---|---|"
            for (w = 1; w <= nw; w++) {
                split(wlist[w], kw, ":")
                line = "| " kw[2] (kw[1] == "threads" ? " t" : " p") " |"
                for (i = 1; i <= ntp; i++) line = line " " tpcell("main", TPSYS[i], mixlist[m], dist, kw[1], kw[2]) " |"
                line = line " " tpratio("main", "libshmc", "memcached-unix", mixlist[m], dist, kw[1], kw[2]) " | " tpratio("main", "shmcd-unix", "memcached-unix", mixlist[m], dist, kw[1], kw[2]) " | " tpratio("main", "libshmc", "lmdb", mixlist[m], dist, kw[1], kw[2]) " |"
                print line
                for (i = 1; i <= ntp; i++) {
                    k = "main" SUBSEP TPSYS[i] SUBSEP mixlist[m] SUBSEP dist SUBSEP kw[1] SUBSEP kw[2]
                    if (k in TP) printf "%s\t%s\t%s\t%s\t%s\n", kw[2], TP[k], TPLO[k], TPHI[k], kw[1] > (DATADIR "/tp-" mixlist[m] "-" dist "-" TPSYS[i] "-" kw[1] ".dat")
                }
            }
            print ""
        }
    }
    if (index(PLOTS, "bench-throughput.png")) { print "![throughput against workers](bench-throughput.png)"; print "" }

    # ---- targets ----
    print "## Targets of the library"
    print ""
    print "| target | measured in this run | met | a pure CPU loop in the same runs ² |"
    print "|---|---|---|---|"
    k = "main" SUBSEP "libshmc" SUBSEP "get128"
    if (k in LAT) target("get 128 B median ≤ 0.2 µs", us(LAT[k]) " µs", LAT[k] <= 200 ? "yes" : "**no**", "")
    else target("get 128 B median ≤ 0.2 µs", "not measured", "—", "")
    loadstarget("get 128 B ≤ 2.0 random loads", "get128", 2.0)
    loadstarget("get miss ≤ 1.0 random loads", "getmiss", 1.0)
    loadstarget("mget of 16 keys ≤ 0.5 random loads per key", "mget16", 0.5)
    if ("main" in HR) target("zipf 0.99, cache of 10% of the data: hit ratio ≥ 0.9× an exact LRU's", sprintf("%.1f%% vs LRU %.1f%%", 100 * HR["main"], 100 * HRLRU["main"]), HR["main"] >= 0.9 * HRLRU["main"] ? "yes" : "**no**", "")
    else target("zipf 0.99, cache of 10% of the data: hit ratio ≥ 0.9× an exact LRU's", "not measured", "—", "")
    k = "main" SUBSEP "libshmc" SUBSEP "set128"
    if (k in LAT) target("set 128 B median ≤ 0.4 µs", us(LAT[k]) " µs", LAT[k] <= 400 ? "yes" : "**no**", "")
    else target("set 128 B median ≤ 0.4 µs", "not measured", "—", "")
    for (d = 1; d <= 2; d++) {
        dist = (d == 1) ? "uniform" : "zipf"
        t1 = tpval("main", "libshmc", 90, dist, "threads", 1)
        t2 = tpval("main", "libshmc", 90, dist, "threads", 2)
        t8 = tpval("main", "libshmc", 90, dist, "threads", 8)
        c1 = CPUREF["main", 90, dist, 1]; c2 = CPUREF["main", 90, dist, 2]; c8 = CPUREF["main", 90, dist, 8]
        if (t1 > 0 && t2 > 0) target("2 threads ≥ 1.8× 1 thread, 90/10 " dist, sprintf("%.2f×", t2 / t1), t2 / t1 >= 1.8 ? "yes" : "**no**", (c1 > 0 && c2 > 0) ? sprintf("%.2f×", c2 / c1) : "—")
        else target("2 threads ≥ 1.8× 1 thread, 90/10 " dist, "not measured", "—", "")
        if (t2 > 0 && t8 > 0) target("8 threads ≥ 0.9× 2 threads, 90/10 " dist, sprintf("%.2f×", t8 / t2), t8 / t2 >= 0.9 ? "yes" : "**no**", (c2 > 0 && c8 > 0) ? sprintf("%.2f×", c8 / c2) : "—")
        else target("8 threads ≥ 0.9× 2 threads, 90/10 " dist, "not measured", "—", "")
        p2 = tpval("main", "libshmc", 90, dist, "processes", 2)
        p16 = tpval("main", "libshmc", 90, dist, "processes", 16)
        if (p2 > 0 && p16 > 0) target("16 processes ≥ 0.9× 2 processes, 90/10 " dist, sprintf("%.2f×", p16 / p2), p16 / p2 >= 0.9 ? "yes" : "**no**", "")
        else target("16 processes ≥ 0.9× 2 processes, 90/10 " dist, "not measured", "—", "")
    }
    a = MEM["libshmc", 128, "alloc_bytes"]; b = MEM["memcached", 128, "alloc_bytes"]
    if (a != "" && b != "") target("per-item overhead at 128 B ≤ memcached's", sprintf("%.1f B vs %.1f B", a - 16 - 128, b - 16 - 128), (a <= b) ? "yes" : "**no**", "")
    else if (a != "") target("per-item overhead at 128 B ≤ memcached's", sprintf("%.1f B (memcached not measured)", a - 16 - 128), "—", "")
    print ""
    print "² The same ratio for a loop that only computes (no memory traffic, no locks), run with the"
    print "same thread counts between the runs of that mix: the most any program could have scaled on"
    print "this machine as it was loaded then (other work may share its cores)."
    if (M["cores"] + 0 < 8) {
        print ""
        printf "This machine has %s cores: thread counts above %s share cores, so the 8-thread target\n", M["cores"], M["cores"]
        print "measures how well the cache holds up when oversubscribed, not parallel speedup."
    }
    print ""

    issue17()

    # ---- scaling with size ----
    print "## Scaling with the number of keys"
    print ""
    print "128 B values, uniform keys.  The 1M row is the main run above; the others were filled"
    print "afresh in this run (10M only in a full run, memory permitting)."
    print ""
    nsz = split("10k main 10M", sizes, " ")
    line = "| keys |"; sep = "|---|"
    for (i = 1; i <= ntp; i++) { line = line " get 128 B " NAME[TPSYS[i]] " |"; sep = sep "---|" }
    for (i = 1; i <= ntp; i++) { line = line " set 128 B " NAME[TPSYS[i]] " |"; sep = sep "---|" }
    print line; print sep
    for (z = 1; z <= nsz; z++) {
        tag = sizes[z]
        if (!((tag, "libshmc", "get128") in LAT)) continue
        line = "| " (tag == "main" ? P["keys"] : tag) " |"
        for (i = 1; i <= ntp; i++) line = line " " latcell(tag, TPSYS[i], "get128", "median") " |"
        for (i = 1; i <= ntp; i++) line = line " " latcell(tag, TPSYS[i], "set128", "median") " |"
        print line
    }
    print ""
    print "Throughput (ops/s), 90% get / 10% set, uniform keys:"
    print ""
    line = "| keys |"; sep = "|---|"
    for (i = 1; i <= ntp; i++) { line = line " " NAME[TPSYS[i]] " 1 t |"; sep = sep "---|" }
    for (i = 1; i <= ntp; i++) { line = line " " NAME[TPSYS[i]] " 4 t |"; sep = sep "---|" }
    print line; print sep
    for (z = 1; z <= nsz; z++) {
        tag = sizes[z]
        if (!((tag, "libshmc", 90, "uniform", "threads", 1) in TP)) continue
        line = "| " (tag == "main" ? P["keys"] : tag) " |"
        for (i = 1; i <= ntp; i++) line = line " " tpcell(tag, TPSYS[i], 90, "uniform", "threads", 1) " |"
        for (i = 1; i <= ntp; i++) line = line " " tpcell(tag, TPSYS[i], 90, "uniform", "threads", 4) " |"
        print line
    }
    print ""

    # ---- eviction ----
    if ("main" in HR) {
        print "## Eviction: hit ratio on zipfian keys"
        print ""
        printf "A cache of %.0f%% of the data (%s keys of 128 B) serves %s zipfian 0.99 gets as a cache-aside\n", 100 * HRSHARE["main"], HRKEYS["main"], HROPS["main"]
        print "user does (a miss is followed by a set), after as many uncounted ones; beside it, an exact"
        printf "LRU of as many items (%s, what the cache held) over the same trace (`shmc_bench_hitratio`).\n", HRITEMS["main"]
        print ""
        print "| libshmc (CLOCK over segments) | exact LRU |"
        print "|---|---|"
        printf "| %.1f%% | %.1f%% |\n", 100 * HR["main"], 100 * HRLRU["main"]
        print ""
    }

    # ---- memory ----
    print "## Memory efficiency"
    print ""
    print "Each system gets a 64 MiB limit (memcached `-m 64`, libshmc `memory_limit`), 16-byte keys."
    print "First a fixed number of items that fits in both is stored and each system's own statistics"
    print "are read; then far more than the limit can hold is written and the items that remain are"
    print "counted.  Per item: *item bytes* = the `bytes` statistic ÷ items; *allocated* = memory taken"
    print "from the limit ÷ items (memcached: `total_malloced` of its slab pages; libshmc: used segments"
    print "× segment size); *overhead* = allocated − key − value; *footprint* = the whole memcached"
    print "process (RSS) or the whole cache file (allocated blocks), hash table included, ÷ items."
    print ""
    print "| value | system | items stored | item bytes / item | allocated / item | overhead / item | footprint / item | items kept in 64 MiB | written |"
    print "|---|---|---|---|---|---|---|---|---|"
    nv = split("32 128 1024", vals, " ")
    nmsys = split("libshmc memcached", msys, " ")
    for (v = 1; v <= nv; v++) {
        for (i = 1; i <= nmsys; i++) {
            s = msys[i]; val = vals[v]
            if (!((s, val, "items") in MEM)) {
                if (("memory", s) in UNAV) printf "| %s B | %s | %s | | | | | | |\n", val, s, UNAV["memory", s]
                continue
            }
            al = MEM[s, val, "alloc_bytes"]
            printf "| %s B | %s | %s | %s | %s | %s | %s | %s | %s |\n", val, s, MEM[s, val, "items"], \
                bytes(MEM[s, val, "item_bytes"]), (al != "" ? bytes(al) : "—"), \
                (al != "" ? bytes(al - 16 - val) : "—"), \
                (((s, val, "footprint_bytes") in MEM) ? bytes(MEM[s, val, "footprint_bytes"]) : "—"), \
                (((s, val, "kept_items") in MEM) ? MEM[s, val, "kept_items"] : "—"), \
                (((s, val, "written") in MEM) ? MEM[s, val, "written"] : "—")
        }
    }
    print ""
    print "---"
    print "Regenerate: `./build.sh bench` (short, about 2 minutes) or `./build.sh bench --full`."
}
