#!/usr/bin/env python3
"""test_pylibmc_binary.py — pylibmc (Debian's python3-pylibmc, over libmemcached) with
binary=True against a shmcd started with -B binary: every call it offers, quiet multi-key
forms included, and a text-protocol request refused as memcached -B binary refuses it (the
connection is closed); then SASL (-S) with pylibmc's username/password, against a sasldb
made with saslpasswd2 (Debian's sasl2-bin).  Starts its own shmcd (free port in 21000..21999), stops it by PID."""
import os
import shutil
import socket
import struct
import subprocess
import sys
import tempfile

try:
    import pylibmc
except ImportError:
    print("FAIL: pylibmc is not installed (Debian package python3-pylibmc)")
    sys.exit(1)

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pyharness import SHMCD, check, start_shmcd, summary  # noqa: E402


def binary_version(port):
    """The server's VERSION over the binary protocol, or None."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
            s.sendall(struct.pack(">BBHBBHIIQ", 0x80, 0x0B, 0, 0, 0, 0, 0, 7, 0))
            data = b""
            while len(data) < 24:
                chunk = s.recv(4096)
                if not chunk:
                    return None
                data += chunk
            body = struct.unpack(">I", data[8:12])[0]
            while len(data) < 24 + body:
                data += s.recv(4096)
            return data[24:24 + body]
    except OSError:
        return None


def start(tmp, extra=("-B", "binary"), offset=500):
    return start_shmcd(tmp, extra, lambda port: b"shmc" in (binary_version(port) or b""), offset)


def sasl(tmp):
    """-S: pylibmc authenticates with SASL PLAIN; a wrong password reaches nothing."""
    if not pylibmc.support_sasl:
        print("skipped SASL: this pylibmc is built without SASL support")
        return
    saslpasswd2 = shutil.which("saslpasswd2") or "/usr/sbin/saslpasswd2"
    db = os.path.join(tmp, "sasldb2")
    r = subprocess.run([saslpasswd2, "-p", "-f", db, "-a", "memcached", "-c", "alice"],
                       input=b"secret", stderr=subprocess.DEVNULL)
    check(r.returncode == 0, "saslpasswd2 (Debian's sasl2-bin) makes a sasldb")
    if r.returncode != 0:
        return
    with open(os.path.join(tmp, "memcached.conf"), "w") as f:
        f.write("mech_list: plain\nsasldb_path: %s\n" % db)
    os.environ["SASL_CONF_PATH"] = tmp
    proc, port = start(tmp, ("-S",), 300)
    try:
        good = pylibmc.Client(["127.0.0.1:%d" % port], binary=True, username="alice",
                              password="secret")
        check(good.set("s", "kept") and good.get("s") == "kept", "SASL: good password")
        bad = pylibmc.Client(["127.0.0.1:%d" % port], binary=True, username="alice",
                             password="wrong")
        for what, call in (("get", lambda: bad.get("s")), ("set", lambda: bad.set("s", "x")),
                           ("delete", lambda: bad.delete("s"))):
            try:
                call()
                check(False, "SASL: a wrong password can %s" % what)
            except pylibmc.Error:
                check(True, "SASL: a wrong password cannot %s" % what)
        check(good.get("s") == "kept", "SASL: the item is unchanged")
    finally:
        proc.terminate()
        check(proc.wait(timeout=30) == 0, "shmcd -S exited cleanly on SIGTERM")


def main():
    if not SHMCD:
        print("FAIL: set SHMCD to the shmcd binary")
        return 1
    tmp = tempfile.mkdtemp(prefix="shmc-test-pylibmc-")
    proc, port = start(tmp)
    try:
        mc = pylibmc.Client(["127.0.0.1:%d" % port], binary=True,
                            behaviors={"cas": True, "tcp_nodelay": True})
        check(mc.set("a", "hello"), "set")
        check(mc.get("a") == "hello", "get")
        check(mc.get("missing") is None, "get miss")
        check(not mc.add("a", "x"), "add on a present key")
        check(mc.add("b", 5), "add")
        check(mc.get("b") == 5, "int value round trip (flags)")
        check(mc.replace("a", "world"), "replace")
        try:  # libmemcached raises on the binary protocol's "Not found", as with memcached
            mc.replace("nope", "x")
            check(False, "replace on a missing key raises")
        except pylibmc.NotFound:
            check(True, "replace on a missing key raises")
        check(mc.append("a", "!"), "append")
        check(mc.prepend("a", ">"), "prepend")
        check(mc.get("a") == ">world!", "append/prepend result")
        check(mc.set("n", "10") and mc.incr("n", 5) == 15, "incr")
        check(mc.decr("n", 20) == 0, "decr floors at 0")
        try:
            mc.incr("nope")
            check(False, "incr on a missing key raises")
        except pylibmc.NotFound:
            check(True, "incr on a missing key raises")
        value, cas = mc.gets("a")
        check(value == ">world!" and cas, "gets")
        check(mc.cas("a", "new", cas), "cas with the current cas")
        check(not mc.cas("a", "newer", cas), "cas with an old cas")
        check(mc.get("a") == "new", "cas stored")
        big = os.urandom(300000)
        check(mc.set("big", big) and mc.get("big") == big, "a 300000-byte value")
        data = {"k%d" % i: "v%d" % i for i in range(200)}
        check(mc.set_multi(data) == [], "set_multi (quiet sets)")
        got = mc.get_multi(list(data) + ["absent1", "absent2"])
        check(got == data, "get_multi (quiet getkq batch) returns the hits only")
        check(mc.delete("a") and not mc.delete("a"), "delete")
        check(mc.delete_multi(["k1", "k2"]) and mc.get("k1") is None, "delete_multi")
        check(mc.touch("k3", 100), "touch")
        check(not mc.touch("absent", 100), "touch a missing key")
        stats = mc.get_stats()
        check(len(stats) == 1 and "curr_items" in stats[0][1] and "pid" in stats[0][1],
              "get_stats")
        check(mc.flush_all() and mc.get("k4") is None, "flush_all")
        mc.disconnect_all()

        # -B binary: text closes the connection once a header's 24 bytes are in, as
        # memcached -B binary does
        with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
            s.sendall(b"version\r\nversion\r\nversion\r\n")
            check(s.recv(100) == b"", "a text request on a -B binary server is closed")
    finally:
        proc.terminate()
        rc = proc.wait(timeout=30)
        check(rc == 0, "shmcd exited cleanly on SIGTERM")
    try:
        sasl(tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return summary()


if __name__ == "__main__":
    sys.exit(main())
