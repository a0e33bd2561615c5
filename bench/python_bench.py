#!/usr/bin/env python3
"""python_bench.py — Python's view of shmc: get and set of 128 B and 5 KB values, median and
p99 per call, in one run, for shmc.Client, pymemcache to memcached over a UNIX socket and
TCP, pylibmc to memcached, pymemcache to shmcd, Django's cache.get on each backend, and
get_many of 100 keys; beside CPython's own empty-method-call cost.

    python_bench.py --build BUILD_DIR [--rounds N] [--markdown FILE] [--quick]

Starts its own memcached (one on a UNIX socket in a private directory, one on TCP at a free
port in 22000..22999) and shmcd (UNIX socket) and stops them by PID.  Each call is timed alone with perf_counter_ns; the
timer's own cost (two back-to-back reads, median) is subtracted.  Keys are drawn uniformly
from 100,000 (128 B) or 10,000 (5 KB) keys, the same sequence for every target; the targets
take turns, round after round, and every figure is the median (and p99) over all rounds.
Run it with the interpreter the module was built for (bench/run.sh does)."""
import argparse
import faulthandler
import os
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

T0 = time.time()
faulthandler.register(signal.SIGUSR1)  # a stack dump on demand: kill -USR1 PID
ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
ap.add_argument("--build", required=True, help="the CMake build directory (holds python/ and server/shmcd)")
ap.add_argument("--rounds", type=int, default=3)
ap.add_argument("--markdown", help="also write the tables as Markdown to this file")
ap.add_argument("--quick", action="store_true", help="fewer samples (a smoke run)")
args = ap.parse_args()
BUILD = os.path.abspath(args.build)
sys.path.insert(0, os.path.join(BUILD, "python"))

import shmc  # noqa: E402
from pymemcache.client.base import Client as PMClient  # noqa: E402

try:
    import pylibmc  # noqa: E402
except ImportError:
    pylibmc = None

pc = time.perf_counter_ns
SAMPLES_LOCAL = 20000 if args.quick else 100000   # in-process calls per op per round
SAMPLES_SOCKET = 2000 if args.quick else 8000      # socket round trips per op per round
SAMPLES_MANY = 300 if args.quick else 1500
KEYS = {128: 100000, 5000: 10000}
lines = []


def say(*a):
    print(*a, file=sys.stderr, flush=True)


def out(s=""):
    print(s, flush=True)
    lines.append(s)


# ---- servers ----
procs = []
tmp = tempfile.mkdtemp(prefix="shmc-bench-py-")
os.chmod(tmp, 0o777)


def wait_unix(path, proc):
    for _ in range(500):
        if proc.poll() is not None:
            return False
        try:
            with socket.socket(socket.AF_UNIX) as s:
                s.connect(path)
                s.sendall(b"version\r\n")
                if s.recv(64).startswith(b"VERSION"):
                    return True
        except OSError:
            time.sleep(0.01)
    return False


def port_free(port):
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


def start(cmd, sock):
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    procs.append(p)
    if not wait_unix(sock, p):
        raise SystemExit("python_bench: could not start %s" % cmd[0])
    return p


def cleanup():
    for p in procs:
        if p.poll() is None:
            os.kill(p.pid, signal.SIGTERM)
            try:
                p.wait(5)
            except subprocess.TimeoutExpired:
                os.kill(p.pid, signal.SIGKILL)
                p.wait()
    shutil.rmtree(tmp, ignore_errors=True)


memcached = shutil.which("memcached")
shmcd = os.path.join(BUILD, "server", "shmcd")
user = ["-u", "nobody"] if os.geteuid() == 0 else []
mc_sock = os.path.join(tmp, "mc.sock")
port = next((p for p in range(22000 + os.getpid() % 500, 23000) if port_free(p)), None)
cache_path = os.path.join(tmp, "py.shmc")
shmcd_sock = os.path.join(tmp, "shmcd.sock")
signal.signal(signal.SIGTERM, lambda *a: sys.exit(143))  # run cleanup() on a kill too
try:
    if not memcached:
        raise SystemExit("python_bench: memcached is not installed (Debian: memcached)")
    # memcached listens on either a UNIX socket or TCP: one of each
    start([memcached, "-s", mc_sock, "-a", "0777", "-m", "1024", "-t", "2"] + user, mc_sock)
    p = subprocess.Popen([memcached, "-p", str(port), "-l", "127.0.0.1", "-U", "0", "-m", "1024",
                          "-t", "2"] + user, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    procs.append(p)
    for _ in range(500):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            time.sleep(0.01)
    if os.path.exists(shmcd):
        start([shmcd, "--cache=" + os.path.join(tmp, "shmcd.shmc"), "-s", shmcd_sock,
               "-a", "0777", "-m", "1024", "-t", "2"], shmcd_sock)

    # ---- the clients ----
    lib = shmc.Client(cache_path, memory_limit=1 << 30, default_noreply=False)
    targets = {"shmc.Client": lib,
               "pymemcache→memcached (UNIX)": PMClient(mc_sock, default_noreply=False),
               "pymemcache→memcached (TCP)": PMClient(("127.0.0.1", port), default_noreply=False,
                                                      no_delay=True)}
    if pylibmc:
        targets["pylibmc→memcached (UNIX)"] = pylibmc.Client([mc_sock], binary=False)
    if os.path.exists(shmcd_sock):
        targets["pymemcache→shmcd (UNIX)"] = PMClient(shmcd_sock, default_noreply=False)

    # Django, with each backend (a minimal settings.configure)
    django_caches = {}
    try:
        import django
        from django.conf import settings

        caches_cfg = {
            "shmc": {"BACKEND": "shmc.django.ShmcCache", "LOCATION": cache_path},
            "pymemcache": {"BACKEND": "django.core.cache.backends.memcached.PyMemcacheCache",
                           "LOCATION": "unix:" + mc_sock},
        }
        if pylibmc:
            caches_cfg["pylibmc"] = {"BACKEND": "django.core.cache.backends.memcached.PyLibMCCache",
                                     "LOCATION": "unix:" + mc_sock}
        settings.configure(CACHES=dict(default=caches_cfg["shmc"], **caches_cfg))
        django.setup()
        from django.core.cache import caches

        names = {"shmc": "Django ShmcCache", "pymemcache": "Django PyMemcacheCache→memcached (UNIX)",
                 "pylibmc": "Django PyLibMCCache→memcached (UNIX)"}
        django_caches = {names[k]: caches[k] for k in caches_cfg}
    except ImportError:
        say("python_bench: Django is not installed: no Django rows")

    # ---- fill ----
    rnd = random.Random(42)
    values = {size: bytes(rnd.randrange(256) for _ in range(size)) for size in KEYS}
    keys = {size: ["py:%d:%d" % (size, i) for i in range(n)] for size, n in KEYS.items()}
    for name, c in targets.items():
        say("python_bench: filling", name)
        for size, ks in keys.items():
            # small batches: pymemcache writes a whole batch before it reads a reply, which
            # can block both ends once the replies fill the socket buffer
            for i in range(0, len(ks), 20):
                c.set_multi({k: values[size] for k in ks[i:i + 20]})
    for name, c in django_caches.items():
        for i in range(0, 10000, 20):
            c.set_many({k: values[128] for k in keys[128][i:i + 20]}, timeout=None)
    order = {size: [rnd.choice(ks) for _ in range(SAMPLES_LOCAL)] for size, ks in keys.items()}
    many_keys = [rnd.sample(keys[128], 100) for _ in range(64)]
    # YCSB's zipfian 0.99 over the 128 B keys, hot keys scattered (a shuffled ranking)
    ranked = list(keys[128])
    rnd.shuffle(ranked)
    cum, total = [], 0.0
    for r in range(len(ranked)):
        total += 1.0 / (r + 1) ** 0.99
        cum.append(total)
    zipf = rnd.choices(ranked, cum_weights=cum, k=SAMPLES_LOCAL)
    many_zipf = [rnd.choices(ranked, cum_weights=cum, k=100) for _ in range(64)]

    # ---- measurement ----
    def timer_cost():
        s = []
        for _ in range(20000):
            t0 = pc()
            t1 = pc()
            s.append(t1 - t0)
        return statistics.median(s)

    def measure(fn, seq, n):
        lat = [0] * n
        for i in range(n):
            k = seq[i % len(seq)]
            t0 = pc()
            fn(k)
            t1 = pc()
            lat[i] = t1 - t0
        return lat

    class Empty:
        def method(self):
            pass

    empty = Empty()
    empty_list = []
    results = {}  # (row, op) -> list of ns

    def add(row, op, lat):
        results.setdefault((row, op), []).extend(lat)

    overhead = []
    for rnd_no in range(args.rounds):
        say("python_bench: round %d of %d" % (rnd_no + 1, args.rounds))
        overhead.append(timer_cost())
        add("CPython: empty Python method call", "call", measure(lambda k: empty.method(), [0], SAMPLES_LOCAL))
        add("CPython: empty C method call ([].clear())", "call", measure(lambda k: empty_list.clear(), [0], SAMPLES_LOCAL))
        for name, c in targets.items():
            n = SAMPLES_LOCAL if c is lib else SAMPLES_SOCKET
            get, set_ = c.get, c.set
            for size in (128, 5000):
                v = values[size]
                add(name, "get %d" % size, measure(get, order[size], n))
                add(name, "set %d" % size, measure(lambda k: set_(k, v), order[size], n))
            add(name, "get 128 zipf", measure(get, zipf, n))
            gm = c.get_multi if hasattr(c, "get_multi") else c.get_many
            m = SAMPLES_MANY * (10 if c is lib else 1)
            add(name, "get_many 100", measure(gm, many_keys, m))
            add(name, "get_many 100 zipf", measure(gm, many_zipf, m))
        for name, c in django_caches.items():
            n = SAMPLES_LOCAL // 2 if "Shmc" in name else SAMPLES_SOCKET
            seq = [k for k in order[128] if int(k.rsplit(":", 1)[1]) < 10000] or keys[128][:1]
            add(name, "get 128", measure(c.get, seq, n))

    tc = statistics.median(overhead)

    def stat(row, op):
        lat = results.get((row, op))
        if not lat:
            return None
        lat = sorted(lat)
        med = lat[len(lat) // 2] - tc
        p99 = lat[int(len(lat) * 0.99)] - tc
        return max(med, 0) / 1000.0, max(p99, 0) / 1000.0

    def fmt(s):
        if s is None:
            return "—"
        return "%.2f / %.2f" % s if s[0] < 10 else "%.1f / %.1f" % s

    out("### Python (bench/python_bench.py)")
    out()
    out("%s %s on %s; %d rounds; per-call latency in µs, **median / p99**, the timer's own "
        "%.0f ns subtracted; keys uniform over 100,000 (128 B) and 10,000 (5 KB)." % (
            sys.executable, sys.version.split()[0], os.uname().nodename, args.rounds, tc))
    out()
    ops = ["get 128", "get 128 zipf", "get 5000", "set 128", "set 5000", "get_many 100",
           "get_many 100 zipf"]
    out("| client | " + " | ".join(o.replace("5000", "5 KB").replace("128", "128 B")
                                    .replace("zipf", "zipfian") for o in ops) + " |")
    out("|---|" + "---|" * len(ops))
    for name in targets:
        out("| %s | %s |" % (name, " | ".join(fmt(stat(name, o)) for o in ops)))
    for name in django_caches:
        out("| %s (cache.get) | %s |%s" % (name, fmt(stat(name, "get 128")), " — |" * (len(ops) - 1)))
    for name in ("CPython: empty Python method call", "CPython: empty C method call ([].clear())"):
        out("| %s | %s (a call) |%s" % (name, fmt(stat(name, "call")), " |" * (len(ops) - 1)))
    out()
    g = stat("shmc.Client", "get 128")
    ref = stat("pymemcache→memcached (UNIX)", "get 128")
    gm = stat("shmc.Client", "get_many 100")
    refm = stat("pymemcache→memcached (UNIX)", "get_many 100")
    gz = stat("shmc.Client", "get 128 zipf")
    refz = stat("pymemcache→memcached (UNIX)", "get 128 zipf")
    gmz = stat("shmc.Client", "get_many 100 zipf")
    refmz = stat("pymemcache→memcached (UNIX)", "get_many 100 zipf")
    dj = stat("Django ShmcCache", "get 128")
    djref = stat("Django PyMemcacheCache→memcached (UNIX)", "get 128")
    out("Targets: get 128 B median %.2f µs (target ≤ 0.6 µs: %s); %.0f× faster than pymemcache→"
        "memcached over UNIX (target ≥ 30×: %s); get_many of 100 keys %.0f× faster "
        "(target ≥ 20×: %s)%s." % (
            g[0], "met" if g[0] <= 0.6 else "missed", ref[0] / g[0],
            "met" if ref[0] / g[0] >= 30 else "missed", refm[0] / gm[0],
            "met" if refm[0] / gm[0] >= 20 else "missed",
            "; Django cache.get %.0f× faster on ShmcCache than on PyMemcacheCache" % (djref[0] / dj[0])
            if dj and djref else ""))
    out()
    out("With zipfian keys: get 128 B median %.2f µs, %.0f× pymemcache→memcached (UNIX); "
        "get_many of 100 keys %.0f×." % (gz[0], refz[0] / gz[0], refmz[0] / gmz[0]))
    out()
    say("python_bench: took %.0f s" % (time.time() - T0))
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write("\n".join(lines) + "\n")
finally:
    cleanup()
