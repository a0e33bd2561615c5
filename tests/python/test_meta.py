"""Item metadata, invalidation and win tokens from Python: meta_get's fields, invalidate(),
meta_delete() by cas, and get_or_compute() computing once across processes."""
import os
import subprocess
import sys

import pytest

import shmc


def test_meta_get_fields(cache_name):
    c = shmc.Client(cache_name)
    assert c.meta_get("none") == (None, None)
    assert c.meta_get("none", default=b"d") == (b"d", None)
    c.set("k", b"hello", expire=100, flags=3)
    value, m = c.meta_get("k", peek=True)
    assert value == b"hello"
    assert m["size"] == 5 and m["flags"] == 3 and 99 <= m["ttl"] <= 100
    assert m["fetched"] is False and m["stale"] is False and m["win"] is None
    assert m["last_access"] <= 1 and m["created"] is False
    assert c.meta_get("k", peek=True)[1]["fetched"] is False  # a peek changes nothing
    c.meta_get("k")
    assert c.meta_get("k")[1]["fetched"] is True
    _, m = c.meta_get("k", touch=0)
    assert m["ttl"] == -1
    assert c.gets("k")[1] == str(m["cas"]).encode()
    _, m = c.meta_get("k", recache=1000)
    assert m["win"] is None  # no expiry: nothing to recache
    c.set("r", b"v", expire=50)
    assert c.meta_get("r", recache=100)[1]["win"] == "won"
    assert c.meta_get("r", recache=100)[1]["win"] == "taken"
    c.close()


def test_invalidate_and_cas_delete(cache_name):
    c = shmc.Client(cache_name)
    assert c.invalidate("nope") is False
    c.set("k", b"v1")
    cas = int(c.gets("k")[1])
    assert c.invalidate("k", cas=cas + 1) is None
    assert c.invalidate("k", cas=cas, expire=60) is True
    value, m = c.meta_get("k")
    assert value == b"v1" and m["stale"] is True and m["win"] == "won" and 59 <= m["ttl"] <= 60
    value, m = c.meta_get("k")
    assert value == b"v1" and m["stale"] is True and m["win"] == "taken"
    c.set("k", b"v2")
    value, m = c.meta_get("k")
    assert value == b"v2" and m["stale"] is False and m["win"] is None
    assert c.meta_delete("k", cas=m["cas"] + 1) is None
    assert c.meta_delete("k", cas=m["cas"]) is True
    assert c.meta_delete("k") is False
    with pytest.raises(shmc.MemcacheIllegalInputError):
        c.meta_get("bad key")
    c.close()


def test_get_or_compute_one_process(cache_name):
    c = shmc.Client(cache_name)
    calls = []
    assert c.get_or_compute("k", lambda: calls.append(1) or b"computed", expire=100) == b"computed"
    assert c.get_or_compute("k", lambda: calls.append(1) or b"again") == b"computed"
    assert len(calls) == 1
    # stale: recomputed once; a failing fn frees the key for the next caller
    c.invalidate("k")
    assert c.get_or_compute("k", lambda: b"fresh") == b"fresh"

    def boom():
        raise RuntimeError("no")

    with pytest.raises(RuntimeError):
        c.get_or_compute("x", boom)
    assert c.get("x") is None
    assert c.get_or_compute("x", lambda: b"ok") == b"ok"
    c.close()


WORKER = r"""
import sys, time
sys.path.insert(0, sys.argv[3])
import shmc
c = shmc.Client(sys.argv[1])
def compute():
    c.incr("computations", 1)
    time.sleep(0.3)
    return b"value-from-" + sys.argv[2].encode()
while c.get("go") is None:
    time.sleep(0.001)
print(c.get_or_compute("shared", compute, expire=600).decode())
"""


def test_get_or_compute_across_processes(cache_name):
    """Eight processes ask for one missing key at once: fn runs once, all get its value."""
    c = shmc.Client(cache_name)
    c.set("computations", b"0")
    pkg = os.path.dirname(os.path.dirname(shmc.__file__))
    procs = [subprocess.Popen([sys.executable, "-c", WORKER, cache_name, str(i), pkg],
                              stdout=subprocess.PIPE) for i in range(8)]
    c.set("go", b"1")
    outs = [p.communicate(timeout=60)[0].decode().strip() for p in procs]
    assert all(p.returncode == 0 for p in procs)
    assert int(c.get("computations")) == 1
    assert len(set(outs)) == 1 and outs[0].startswith("value-from-")
    # invalidated: exactly one recomputes; the others get the stale value meanwhile
    c.set("computations", b"0")
    c.invalidate("shared")
    c.delete("go")
    procs = [subprocess.Popen([sys.executable, "-c", WORKER, cache_name, str(i), pkg],
                              stdout=subprocess.PIPE) for i in range(8)]
    c.set("go", b"1")
    outs = [p.communicate(timeout=60)[0].decode().strip() for p in procs]
    assert int(c.get("computations")) == 1
    assert all(o.startswith("value-from-") for o in outs)
    c.close()
