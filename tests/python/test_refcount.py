"""No leaks in the extension: every method called 100,000 times must leave the reference
counts of its arguments and results as they were (sys.getrefcount) and the interpreter's
traced memory flat (tracemalloc), on hits, misses and every error path."""
import gc
import os
import sys
import tracemalloc
import warnings

import pytest
from pymemcache import serde as pm_serde

import shmc

# 100,000 calls; the TSan suite (where leaks are not what is checked, and each call is ~50x
# slower) sets SHMC_PY_LEAK_CALLS lower and says so.
N = int(os.environ.get("SHMC_PY_LEAK_CALLS", "100000"))


def calls(c):
    key, value, missing, bad = "key", b"v" * 128, "missing", "bad key"
    big = b"B" * (100 * 1024)
    many = ["key", "missing", b"key", "big"]
    return [
        lambda: c.get(key),
        lambda: c.get(missing, value),
        lambda: c.gets(key),
        lambda: c.gets(missing, key, value),
        lambda: c.gat(key, 0),
        lambda: c.gats(key, 0),
        lambda: c.get_many(many),
        lambda: c.gets_many(many),
        lambda: c.set(key, value),
        lambda: c.set("str", "text"),
        lambda: c.set("big", big),
        lambda: c.get("big"),
        lambda: c.add(key, value),
        lambda: c.replace(key, value),
        lambda: c.append(missing, value),
        lambda: c.prepend(missing, value),
        lambda: c.cas(key, value, b"1"),
        lambda: c.cas(missing, value, 1),
        lambda: c.set_many({key: value, "k2": value}),
        lambda: c.delete(missing),
        lambda: c.delete_many([missing, "k3"]),
        lambda: c.incr("n", 1),
        lambda: c.decr(missing, 1),
        lambda: c.touch(key, 0),
        lambda: c.flush_all(delay=1000),
        lambda: c.set(bad, value),               # MemcacheIllegalInputError
        lambda: c.get_many([key, bad]),
        lambda: c.get(12),                       # TypeError
        lambda: c.set("x" * 300, value),         # too long
        lambda: c.cas(key, value, "abc"),
        lambda: c.incr(key, -1),                 # MemcacheClientError
        lambda: c.incr("str", 1),                # non-numeric
        lambda: c.set("huge", b"x" * (2 << 20)), # MemcacheServerError
        lambda: c.set("u", "\u00e9"),            # value not ASCII
    ]


@pytest.fixture
def client(cache_name):
    c = shmc.Client(cache_name, default_noreply=False)
    c.set("key", b"v" * 128)
    c.set("n", b"0")
    return c


def run_all(c, fns, n):
    for fn in fns:
        for _ in range(n):
            try:
                fn()
            except (shmc.MemcacheError, TypeError):
                pass


@pytest.mark.parametrize("with_serde", [False, True], ids=["bytes", "pickle_serde"])
def test_no_leak_over_100k_calls(client, with_serde):
    if N != 100_000:
        warnings.warn("%d calls instead of 100,000 (SHMC_PY_LEAK_CALLS)" % N)
    if with_serde:
        client.serde = pm_serde.pickle_serde
    fns = calls(client)
    probes = [b"v" * 128, "key", "missing", client, shmc.MemcacheIllegalInputError]
    run_all(client, fns, 50)  # warm caches (interned strings, free lists, method caches)
    gc.collect()
    refs = [sys.getrefcount(o) for o in probes]
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    blocks_before = len(tracemalloc.take_snapshot().traces)
    per_fn = max(1, N // len(fns))  # ~100,000 calls in all, every path
    run_all(client, fns, per_fn)
    for _ in range(N):  # and 100,000 of the hot path alone
        client.get("key")
    gc.collect()
    after = tracemalloc.get_traced_memory()[0]
    blocks_after = len(tracemalloc.take_snapshot().traces)
    tracemalloc.stop()
    assert [sys.getrefcount(o) for o in probes] == refs
    # a leak of one object per call would be >= N blocks / megabytes
    assert after - before < 64 * 1024, (before, after)
    assert blocks_after - blocks_before < 200, (blocks_before, blocks_after)


def test_total_refcount_stable_when_available(client):
    """With a debug interpreter (sys.gettotalrefcount), the total must not grow either."""
    if not hasattr(sys, "gettotalrefcount"):
        pytest.skip("%s is not a debug build (no sys.gettotalrefcount); "
                    "test_no_leak_over_100k_calls checks the counts" % sys.executable)
    fns = calls(client)
    run_all(client, fns, 10)
    gc.collect()
    total = sys.gettotalrefcount()
    run_all(client, fns, 1000)
    gc.collect()
    assert sys.gettotalrefcount() - total < 100
