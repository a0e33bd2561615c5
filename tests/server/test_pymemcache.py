#!/usr/bin/env python3
"""test_pymemcache.py — a real Python client (python3-pymemcache) against shmcd over TCP and
a UNIX socket: every call pymemcache offers for the text protocol, with and without noreply,
large and binary values, and a second client sharing the same items.  Starts its own shmcd
(free port in 21000..21999) and stops it by PID with SIGTERM."""
import os
import shutil
import signal
import socket
import sys
import tempfile

try:
    from pymemcache.client.base import Client
    from pymemcache.exceptions import MemcacheClientError, MemcacheServerError
except ImportError:
    print("FAIL: pymemcache is not installed (Debian package python3-pymemcache)")
    sys.exit(1)

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pyharness import SHMCD, check, start_shmcd, summary  # noqa: E402


def is_shmcd(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
            s.sendall(b"version\r\n")
            return b"shmc" in s.recv(100)
    except OSError:
        return False


def start(tmp):
    sock = os.path.join(tmp, "shmcd.sock")
    proc, port = start_shmcd(tmp, ("-s", sock), is_shmcd)
    return proc, port, sock


def exercise(c, other, label):
    c.flush_all()
    check(c.set("k1", b"v1") is True, label + " set")
    check(c.get("k1") == b"v1", label + " get")
    check(other.get("k1") == b"v1", label + " seen by a second client")
    check(c.get("missing") is None, label + " get miss")
    check(c.set("flagged", b"x", flags=77, noreply=False) is True, label + " set flags")
    check(c.get_many(["k1", "missing", "flagged"]) == {"k1": b"v1", "flagged": b"x"}, label + " get_many")
    check(c.add("k1", b"no", noreply=False) is False, label + " add existing")
    check(c.add("k2", b"yes", noreply=False) is True, label + " add new")
    check(c.replace("nope", b"x", noreply=False) is False, label + " replace missing")
    check(c.replace("k2", b"YES", noreply=False) is True, label + " replace")
    check(c.append("k2", b"!", noreply=False) is True, label + " append")
    check(c.prepend("k2", b"<", noreply=False) is True, label + " prepend")
    check(c.get("k2") == b"<YES!", label + " append+prepend value")
    value, cas = c.gets("k2")
    check(value == b"<YES!" and cas is not None, label + " gets")
    check(c.cas("k2", b"new", cas, noreply=False) is True, label + " cas ok")
    check(c.cas("k2", b"newer", cas, noreply=False) is False, label + " cas stale")
    check(c.cas("nope", b"x", b"1", noreply=False) is None, label + " cas missing")
    check(c.set("n", b"10") and c.incr("n", 5) == 15, label + " incr")
    check(c.decr("n", 20) == 0, label + " decr floors at 0")
    check(c.incr("missing", 1) is None, label + " incr missing")
    c.set("text", b"abc")
    try:
        c.incr("text", 1)
        check(False, label + " incr non-numeric raises")
    except MemcacheClientError as e:
        check("non-numeric" in str(e), label + " incr non-numeric raises")
    check(c.touch("k1", 100, noreply=False) is True, label + " touch")
    check(c.touch("missing", 100, noreply=False) is False, label + " touch missing")
    check(c.delete("k1", noreply=False) is True, label + " delete")
    check(c.delete("k1", noreply=False) is False, label + " delete missing")
    # noreply (pymemcache's default for set): the next request still lines up
    for i in range(100):
        c.set("nr%d" % i, str(i).encode(), noreply=True)
    check(c.get("nr99") == b"99", label + " noreply pipeline")
    big = os.urandom(1000000)
    check(c.set("big", big, noreply=False) is True and c.get("big") == big, label + " 1 MB binary value")
    try:
        c.set("toobig", b"x" * (1024 * 1024 + 1), noreply=False)
        check(False, label + " over the item limit raises")
    except MemcacheServerError as e:
        check("too large" in str(e), label + " over the item limit raises")
    check(c.set("expired", b"x", expire=-1, noreply=False) and c.get("expired") is None, label + " negative expire")
    check(c.gat if hasattr(c, "gat") else True, label + " gat present")
    if hasattr(c, "gat"):
        c.set("g", b"gv")
        check(c.gat("g", 100) == b"gv", label + " gat")
        v, cas2 = c.gats("g", 100)
        check(v == b"gv" and cas2 is not None, label + " gats")
    stats = c.stats()
    for name in (b"pid", b"uptime", b"curr_connections", b"cmd_get", b"get_hits", b"curr_items",
                 b"limit_maxbytes", b"threads", b"version"):
        check(name in stats, label + " stats has " + name.decode())
    check(stats[b"threads"] == 2, label + " stats threads")
    settings = c.stats("settings")
    check(settings.get(b"maxconns") == 1024, label + " stats settings")
    check(c.version().startswith(b"1.6"), label + " version")
    check(c.flush_all(noreply=False) is True and c.get("n") is None, label + " flush_all")
    c.quit()


def main():
    if not SHMCD:
        print("FAIL: set SHMCD to the shmcd binary")
        return 1
    tmp = tempfile.mkdtemp(prefix="shmcd-py.", dir="/dev/shm")
    proc = None
    try:
        proc, port, sock = start(tmp)
        tcp = Client(("127.0.0.1", port), connect_timeout=5, timeout=5)
        tcp2 = Client(("127.0.0.1", port), connect_timeout=5, timeout=5)
        exercise(tcp, tcp2, "tcp")
        unix = Client(sock, connect_timeout=5, timeout=5)
        exercise(unix, tcp2, "unix")
        proc.send_signal(signal.SIGTERM)
        check(proc.wait(timeout=10) == 0, "clean exit on SIGTERM")
        proc = None
    finally:
        if proc is not None:
            proc.kill()
            proc.wait()
        shutil.rmtree(tmp, ignore_errors=True)
    return summary()


if __name__ == "__main__":
    sys.exit(main())
