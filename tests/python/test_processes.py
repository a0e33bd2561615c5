"""shmc.Client across threads and processes: 16 threads on one Client, a Client opened
before fork() used by 8 children, a Python writer with the C `shmc` tool as reader (and the
reverse), and Python workers SIGKILLed in the middle of calls while the others go on, after
which `shmc check` must find the cache whole."""
import os
import random
import signal
import subprocess
import sys
import threading
import time

import pytest

import shmc
from conftest import cache_dir, shmc_tool


def value_for(tag, i, size):
    head = ("%s:%d:" % (tag, i)).encode()
    return head + bytes([i % 251]) * (size - len(head))


def test_sixteen_threads_one_client(cache_name):
    c = shmc.Client(cache_name, default_noreply=False)
    c.set("counter", b"0")
    errors = []
    rounds = 300
    big = 100 * 1024  # over GIL_RELEASE_BYTES: these copies run without the GIL

    def work(t):
        try:
            rnd = random.Random(t)
            for i in range(rounds):
                size = big if i % 25 == 0 else rnd.choice((10, 128, 5000))
                key = "t%d:%d" % (t, i % 20)
                v = value_for("t%d" % t, i, size)
                assert c.set(key, v) is True
                got = c.get(key)
                assert got == v, (key, len(got or b""))
                c.incr("counter", 1)
                shared = c.get("shared:%d" % (i % 8))
                if shared is not None:  # written whole by some thread, never torn
                    tag, n, _ = shared.split(b":", 2)
                    assert shared == value_for(tag.decode(), int(n), len(shared))
                c.set("shared:%d" % (i % 8), v)
                many = c.get_many(["t%d:%d" % (t, j) for j in range(20)])
                assert many[key] == v
        except BaseException as e:  # noqa: BLE001
            errors.append((t, repr(e)))

    threads = [threading.Thread(target=work, args=(t,)) for t in range(16)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(120)
    assert not any(th.is_alive() for th in threads), "a thread hung"
    assert errors == []
    assert int(c.get("counter")) == 16 * rounds
    assert shmc.check(cache_name)[0] == 0


def test_client_opened_before_fork(cache_name):
    c = shmc.Client(cache_name, default_noreply=False)
    c.set("from_parent", b"p" * 1000)
    c.set("counter", b"0")
    children = []
    for n in range(8):
        pid = os.fork()
        if pid == 0:  # the child: use the parent's Client as it is
            ok = 0
            try:
                for i in range(200):
                    assert c.get("from_parent") == b"p" * 1000
                    assert c.set("child%d:%d" % (n, i), value_for("c%d" % n, i, 300)) is True
                    c.incr("counter", 1)
                    assert c.get("child%d:%d" % (n, i)) == value_for("c%d" % n, i, 300)
                ok = 1
            finally:
                os._exit(0 if ok else 1)
        children.append(pid)
    for pid in children:
        _, status = os.waitpid(pid, 0)
        assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0
    assert int(c.get("counter")) == 8 * 200
    for n in range(8):
        got = c.get_many(["child%d:%d" % (n, i) for i in range(200)])
        assert len(got) == 200
        assert all(v == value_for("c%d" % n, i, 300) for i, v in
                   ((int(k.split(":")[1]), v) for k, v in got.items()))
    assert c.stats()[b"total_connections"] >= 1
    assert shmc.check(cache_name)[0] == 0


def test_python_writer_c_reader_and_reverse(cache_name):
    tool = shmc_tool()
    c = shmc.Client(cache_name, default_noreply=False)
    for i in range(20):
        c.set("py:%d" % i, "value-%d" % i, flags=i)
    c.set("num", b"41")
    for i in range(20):
        out = subprocess.run([tool, "get", cache_name, "py:%d" % i], capture_output=True,
                             check=True)
        assert out.stdout.rstrip(b"\n") == ("value-%d" % i).encode()
    subprocess.run([tool, "incr", cache_name, "num", "1"], check=True, capture_output=True)
    assert c.get("num") == b"42"
    subprocess.run([tool, "set", cache_name, "from_c", "hello-from-C", "7"], check=True,
                   capture_output=True)
    subprocess.run([tool, "delete", cache_name, "py:0"], check=True, capture_output=True)

    class FlagSerde:
        def serialize(self, key, value):
            return value, 0

        def deserialize(self, key, value, flags):
            return (value, flags)

    c.serde = FlagSerde()
    assert c.get("from_c") == (b"hello-from-C", 7)
    assert c.get("py:5") == (b"value-5", 5)
    assert c.get("py:0") is None
    r = subprocess.run([tool, "check", cache_name], capture_output=True)
    assert r.returncode == 0, r.stdout + r.stderr


# how long the surviving workers may show no progress after a kill (sanitizer builds, whose
# runtime the suite preloads, are many times slower)
STALL_LIMIT = 30 if "san.so" in os.environ.get("LD_PRELOAD", "") else 5

WORKER = r"""
import os, sys, random
sys.path.insert(0, sys.argv[3])
import shmc
c = shmc.Client(sys.argv[1], default_noreply=False)
me = int(sys.argv[2]); rnd = random.Random(me); i = 0
while True:
    size = rnd.choice((16, 128, 5000, 200000))
    k = "w%d" % rnd.randrange(64)
    head = b"%d:%d:" % (me, i)
    v = head + bytes([i % 251]) * (size - len(head))
    c.set(k, v)
    got = c.get(k)
    if got is not None:
        a, b, _ = got.split(b":", 2)
        exp = got[:len(a) + len(b) + 2] + bytes([int(b) % 251]) * (len(got) - len(a) - len(b) - 2)
        if got != exp:
            print("torn value", k, flush=True); os._exit(3)
    c.incr("progress:%d" % me, 1) or c.set("progress:%d" % me, b"1")
    c.get_many(["w%d" % j for j in range(8)])
    i += 1
    if c.get("stop") is not None:
        os._exit(0)
"""


def test_worker_killed_mid_call(cache_name):
    pkg = os.path.dirname(os.path.dirname(shmc.__file__))
    c = shmc.Client(cache_name, default_noreply=False, memory_limit=16 * 1024 * 1024)
    spawned = {}

    def spawn(n):
        spawned[n] = subprocess.Popen([sys.executable, "-c", WORKER, cache_name, str(n), pkg])

    for n in range(4):
        spawn(n)
    time.sleep(1.0)
    rnd = random.Random(1)
    kills = 0
    deadline = time.time() + 8
    hard_stop = time.time() + 240  # sanitizer builds run the workers far slower
    while (time.time() < deadline or kills < 10) and time.time() < hard_stop:
        victim = rnd.randrange(4)
        time.sleep(rnd.uniform(0.05, 0.3))
        os.kill(spawned[victim].pid, signal.SIGKILL)
        spawned[victim].wait()
        kills += 1
        spawn(victim)
        # the others go on: their progress moves within a second
        others = [n for n in range(4) if n != victim]
        before = {n: int(c.get("progress:%d" % n) or 0) for n in others}
        t0 = time.time()
        while time.time() - t0 < STALL_LIMIT:
            now = {n: int(c.get("progress:%d" % n) or 0) for n in others}
            if all(now[n] > before[n] for n in others):
                break
            time.sleep(0.01)
        else:
            raise AssertionError("workers stalled after a kill: %r -> %r" % (before, now))
        for n in range(4):
            assert spawned[n].poll() in (None,), "worker %d exited with %r" % (
                n, spawned[n].returncode)
    assert kills >= 10
    c.set("stop", b"1")  # the survivors finish their call and exit
    for n, p in spawned.items():
        assert p.wait(60) == 0, "worker %d ended with %r" % (n, p.returncode)
    # a lock whose owner was killed is repaired by its next locker; one that nobody took
    # again since the last kill is repaired by the next opener once every user is gone
    pending, _ = shmc.check(cache_name)
    c.close()
    shmc.Client(cache_name).close()
    r = subprocess.run([shmc_tool(), "check", cache_name], capture_output=True)
    assert r.returncode == 0, r.stdout + r.stderr
    assert shmc.check(cache_name)[0] == 0
    print("%d kills; %d leftovers of the last kill before the next open; then checked clean"
          % (kills, pending))


def test_client_follows_resize_and_remove(cache_name):
    """A Client open on a cache follows `shmc resize` by itself (its items, flags and the new
    limit), and after `shmc rm` raises ShmcError "cache removed" until a new cache is made
    under the name, which it then uses: never a second cache silently."""
    c = shmc.Client(cache_name, default_noreply=False)
    for i in range(200):
        assert c.set("k%d" % i, b"v%d" % i) is True
    c.set("ttl", b"t", expire=3600)
    tool = shmc_tool()
    subprocess.run([tool, "resize", cache_name, "-m", "96"], check=True)
    assert c.get_many(["k%d" % i for i in range(200)]) == {"k%d" % i: b"v%d" % i for i in range(200)}
    assert int(c.stats()[b"limit_maxbytes"]) == 96 << 20
    assert c.set("after", b"a") is True
    r = subprocess.run([tool, "get", cache_name, "after"], capture_output=True)
    assert r.stdout == b"a\n", r
    subprocess.run([tool, "rm", cache_name], check=True)
    try:
        c.get("k1")
        raise AssertionError("a get on a removed cache answered")
    except shmc.ShmcError as e:
        assert e.rc == 13 and "cache removed" in str(e), str(e)
    # noreply does not hide it: pymemcache raises on a gone server, noreply or not
    for call in (lambda: c.set("b", b"2", noreply=True), lambda: c.delete("a", noreply=True),
                 lambda: c.touch("a", 5, noreply=True), lambda: c.flush_all(noreply=True),
                 lambda: c.set_many({"x": b"1"}, noreply=True),
                 lambda: c.delete_many(["a", "b"], noreply=True),
                 lambda: c.incr("n", 1, noreply=True), lambda: c.add("y", b"1", noreply=True),
                 lambda: c.cas("y", b"1", 5, noreply=True)):
        with pytest.raises(shmc.ShmcError, match="cache removed"):
            call()
    subprocess.run([tool, "create", cache_name, "-m", "8"], check=True)
    assert c.set("new", b"n") is True
    r = subprocess.run([tool, "get", cache_name, "new"], capture_output=True)
    assert r.stdout == b"n\n", r
    assert int(c.stats()[b"limit_maxbytes"]) == 8 << 20
