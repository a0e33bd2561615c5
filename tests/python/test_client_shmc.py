"""What shmc.Client adds to pymemcache's API and what has no memcached counterpart: opening
and creating caches (configuration, errors with libshmc's text), shmc.check(), close() while
another thread copies a large value, and the documentation (docstrings on every public
method, help(), the type stub)."""
import os
import pydoc
import threading

import pytest

import shmc
from conftest import cache_dir


def test_create_with_configuration(cache_name):
    c = shmc.Client(cache_name, memory_limit=16 << 20, item_size_max=128 << 10, mode=0o640)
    st = c.stats()
    assert st[b"limit_maxbytes"] == 16 << 20
    assert c.stats("settings")[b"item_size_max"] == 128 << 10
    assert os.stat(os.path.join(cache_dir(), cache_name)).st_mode & 0o777 == 0o640
    c.set("k", b"x" * (128 << 10), noreply=False)
    with pytest.raises(shmc.MemcacheServerError):
        c.set("k", b"x" * ((128 << 10) + 1), noreply=False)
    # reopening: None accepts the file's configuration, another one is refused
    assert shmc.Client(cache_name).stats()[b"limit_maxbytes"] == 16 << 20
    assert shmc.Client(cache_name, memory_limit=16 << 20).get("nope") is None
    with pytest.raises(shmc.ShmcError) as e:
        shmc.Client(cache_name, memory_limit=32 << 20)
    assert "created with memory_limit 16777216" in str(e.value), str(e.value)
    assert e.value.rc is not None


def test_open_errors_are_clear(tmp_path, cache_name):
    junk = tmp_path / "junk"
    junk.write_bytes(b"not a cache at all" * 1000)
    with pytest.raises(shmc.ShmcError) as e:
        shmc.Client(str(junk))
    assert str(junk) in str(e.value) and len(str(e.value)) > len(str(junk)) + 10
    assert junk.read_bytes() == b"not a cache at all" * 1000  # left as it was
    with pytest.raises(shmc.ShmcError):
        shmc.Client(str(tmp_path / "no-such-dir" / "cache"))
    with pytest.raises(ValueError):
        shmc.Client(cache_name, protect="bogus")
    with pytest.raises(ValueError):
        shmc.Client(cache_name, memory_limit=-1)
    with pytest.raises(ValueError):
        shmc.Client(cache_name, memory_limit=0)
    with pytest.raises(TypeError):
        shmc.Client(cache_name, memory_limit="64m")
    with pytest.raises(ValueError):
        shmc.Client(cache_name, mode=0o100000)
    with pytest.raises(TypeError):
        shmc.Client(12345)
    with pytest.raises(ValueError):  # a NUL cannot be in a file name
        shmc.Client(cache_name + "\0x")
    # this machine has no PKU: 'pku' is refused with libshmc's reason (with PKU it opens)
    try:
        shmc.Client(cache_name, protect="pku").close()
    except shmc.ShmcError as e:
        assert "protection" in str(e).lower() or "pku" in str(e).lower() or "support" in str(e).lower()
    assert shmc.Client(cache_name, protect="none").stats()[b"protected_mode"] == 0
    with pytest.raises(shmc.ShmcError):
        shmc.check(str(junk))


def test_pathlike_and_paths(tmp_path):
    path = tmp_path / "cache"
    c = shmc.Client(path, default_noreply=False)
    assert c.set("k", b"v") and path.exists()
    assert shmc.check(path) == (0, shmc.check(str(path))[1])
    violations, report = shmc.check(str(path))
    assert violations == 0 and isinstance(report, str)


def test_close_while_another_thread_copies(cache_name):
    c = shmc.Client(cache_name, default_noreply=False)
    big = os.urandom(900 * 1024)  # copied without the GIL
    c.set("big", big)
    stop = threading.Event()
    errors = []

    def reader():
        try:
            while not stop.is_set():
                assert c.get("big") == big
                c.set("big", big)
        except Exception as e:  # noqa: BLE001
            errors.append(repr(e))

    threads = [threading.Thread(target=reader) for _ in range(4)]
    for t in threads:
        t.start()
    for _ in range(300):
        c.close()  # the handle in use is closed by the last call that leaves it
    stop.set()
    for t in threads:
        t.join(60)
    assert errors == []
    assert c.get("big") == big


def test_docstrings_and_help():
    public = [n for n in dir(shmc.Client) if not n.startswith("_")]
    for name in ("get", "gets", "get_many", "get_multi", "gets_many", "set", "set_many",
                 "set_multi", "add", "replace", "append", "prepend", "cas", "delete",
                 "delete_many", "delete_multi", "incr", "decr", "touch", "gat", "gats",
                 "flush_all", "stats", "version", "close", "quit", "check_key",
                 "cache_memlimit", "shutdown", "disconnect_all"):
        assert name in public, name
    for name in public:
        doc = getattr(shmc.Client, name).__doc__
        assert doc and len(doc.strip()) > 20, name
    assert "Raises" in shmc.Client.set.__doc__ and "expire" in shmc.Client.set.__doc__
    assert "memory_limit" in shmc.Client.__init__.__doc__
    text = pydoc.render_doc(shmc.Client, renderer=pydoc.plaintext)
    assert "get(key, default=None)" in text
    assert "set(key, value, expire=0, noreply=None, flags=None)" in text
    assert "pymemcache" in text
    for cls in (shmc.ShmcError, shmc.Client):
        assert cls.__doc__
    pkg = os.path.dirname(shmc.__file__)
    assert os.path.exists(os.path.join(pkg, "__init__.pyi"))
    assert os.path.exists(os.path.join(pkg, "py.typed"))


def test_threads_reopen_after_close(cache_name):
    """After close(), the first calls of many threads at once reopen one handle between
    them; truthy non-bool options are taken as pymemcache takes them."""
    c = shmc.Client(cache_name, default_noreply=0, allow_unicode_keys=1, ignore_exc=0)
    assert c.default_noreply is False and c.allow_unicode_keys is True
    assert c.set("\u00e9", b"v") is True
    barrier = threading.Barrier(8)
    errors = []

    def first_call():
        try:
            barrier.wait(10)
            assert c.get("\u00e9") == b"v"
        except Exception as e:  # noqa: BLE001
            errors.append(repr(e))

    for _ in range(30):
        c.close()
        threads = [threading.Thread(target=first_call) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        assert errors == [] and not c.closed


def test_without_pymemcache(cache_name):
    """Where pymemcache is not importable, shmc defines the same exception classes itself,
    and its Django backend pickles with a serde of pymemcache's format."""
    import subprocess
    import sys

    code = r"""
import sys
sys.modules["pymemcache"] = None          # as if it were not installed
import shmc, shmc.exceptions as e
assert e.MemcacheError.__module__ == "shmc.exceptions"
assert issubclass(shmc.MemcacheIllegalInputError, shmc.MemcacheClientError)
assert issubclass(shmc.MemcacheUnexpectedCloseError, shmc.MemcacheServerError)
c = shmc.Client(sys.argv[1], default_noreply=False)
try:
    c.set("bad key", b"v")
    raise SystemExit("no exception")
except shmc.MemcacheIllegalInputError as x:
    assert "whitespace" in str(x)
try:
    c.set("big", b"x" * (2 << 20))
    raise SystemExit("no exception")
except shmc.MemcacheServerError:
    pass
from shmc.django import _pickle_serde as s
for v in (b"b", "s\u00e9", 5, [1, {"a": 2}], 1.5):
    data, flags = s.serialize(b"k", v)
    assert s.deserialize("k", data, flags) == v
print("ok")
"""
    r = subprocess.run([sys.executable, "-c", code, cache_name], capture_output=True, text=True)
    assert r.returncode == 0 and r.stdout.strip() == "ok", r.stdout + r.stderr


def test_gil_released_for_big_copies_only(cache_name):
    """A thread that waits for the GIL gets it during a copy over GIL_RELEASE_BYTES (a set
    or a get of a large value) and never during small calls.  The switch interval is set so
    long that the interpreter itself never hands the GIL over while the test runs."""
    import sys
    import time

    c = shmc.Client(cache_name, item_size_max=8 << 20, memory_limit=128 << 20,
                    default_noreply=False)
    big = b"x" * (8 << 20)
    c.set("big", big)
    results = {}
    for op in ("set", "get"):
        gate = threading.Lock()
        gate.acquire()
        ran = []

        def waiter():
            with gate:  # wakes when the gate opens, then needs the GIL
                ran.append(1)

        t = threading.Thread(target=waiter)
        t.start()
        time.sleep(0.2)  # the waiter blocks on the gate
        old = sys.getswitchinterval()
        sys.setswitchinterval(1000)
        try:
            gate.release()
            for _ in range(2000):  # small calls keep the GIL
                c.set("small", b"s" * 1000)
                c.get("small")
            small_ran = bool(ran)
            for _ in range(100):
                c.set("big", big) if op == "set" else c.get("big")
                if ran:
                    break
            results[op] = (small_ran, bool(ran))
        finally:
            sys.setswitchinterval(old)
        t.join(30)
    assert results == {"set": (False, True), "get": (False, True)}, results
