"""pyharness.py — what the Python client tests of shmcd share: pass/fail counting and starting
their own shmcd on a free port in 21000..21999 (stopped by the caller, by PID)."""
import os
import subprocess
import sys
import time

SHMCD = os.environ.get("SHMCD")
counts = {"passed": 0, "failed": 0}


def check(cond, what):
    if cond:
        counts["passed"] += 1
    else:
        counts["failed"] += 1
        print("FAIL:", what)


def summary():
    """Print the counts; the exit status for them."""
    print("%d passed, %d failed" % (counts["passed"], counts["failed"]))
    return 1 if counts["failed"] else 0


def start_shmcd(tmp, extra, ready, offset=0):
    """Start shmcd on 127.0.0.1 with `extra` arguments and a cache in tmp; ready(port) says
    when it serves.  Returns (process, port); exits the test when no port works."""
    base = os.getpid() % 1000
    for attempt in range(40):
        port = 21000 + (base + offset + attempt * 37) % 1000
        proc = subprocess.Popen([SHMCD, "-p", str(port), "-l", "127.0.0.1", "-t", "2", *extra,
                                 "--cache=" + os.path.join(tmp, "cache")],
                                stderr=subprocess.DEVNULL)
        for _ in range(200):
            if proc.poll() is not None:
                break
            if ready(port):
                return proc, port
            time.sleep(0.02)
        if proc.poll() is None:
            proc.kill()
        proc.wait()
    print("FAIL: cannot start", SHMCD)
    sys.exit(1)
