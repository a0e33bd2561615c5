"""shmc.Client side by side with pymemcache's Client talking to a real memcached: every
method is called on both with the same arguments, and the return values and exceptions
(class and arguments) must be the same.  Where shmc differs on purpose (keys made only of
whitespace, the context manager pymemcache 3.5 lacks) the test says so."""
import os
import pickle
import time

import pytest
from pymemcache import serde as pm_serde
from pymemcache.client.base import Client as PMClient, check_key_helper
from pymemcache import exceptions as pm_exc

import shmc


def outcome(fn, client):
    try:
        return ("ok", fn(client))
    except Exception as e:  # noqa: BLE001 - the point is to compare any exception
        return ("raise", type(e), e.args)


class Pair:
    def __init__(self, a, b):
        self.shmc, self.pm = a, b

    def both(self, fn):
        """Run fn on both clients; assert the same outcome; return it."""
        x, y = outcome(fn, self.shmc), outcome(fn, self.pm)
        assert x == y, "shmc %r != pymemcache %r" % (x, y)
        return x[1] if x[0] == "ok" else x


@pytest.fixture
def make_pair(memcached, cache_name):
    made = []

    def make(**kw):
        a = shmc.Client(cache_name, **kw)
        b = PMClient(memcached, **kw)
        assert a.flush_all(noreply=False) and b.flush_all(noreply=False)
        made.append((a, b))
        return Pair(a, b)

    yield make
    for a, b in made:
        a.close()
        b.close()


@pytest.fixture
def pair(make_pair):
    return make_pair(default_noreply=False)


def test_exception_classes_are_pymemcaches():
    for name in ("MemcacheError", "MemcacheClientError", "MemcacheUnknownCommandError",
                 "MemcacheIllegalInputError", "MemcacheServerError", "MemcacheUnknownError",
                 "MemcacheUnexpectedCloseError"):
        assert issubclass(getattr(shmc, name), getattr(pm_exc, name))
    assert issubclass(shmc.ShmcError, pm_exc.MemcacheError)


def test_get_set_basics(pair):
    assert pair.both(lambda c: c.get("missing")) is None
    assert pair.both(lambda c: c.get("missing", "dflt")) == "dflt"
    assert pair.both(lambda c: c.get("missing", default=7)) == 7
    assert pair.both(lambda c: c.set("k", b"v1")) is True
    assert pair.both(lambda c: c.get("k")) == b"v1"
    assert pair.both(lambda c: c.set(b"k", "v2")) is True
    assert pair.both(lambda c: c.get("k")) == b"v2"
    assert pair.both(lambda c: c.set("num", 42)) is True
    assert pair.both(lambda c: c.get("num")) == b"42"
    assert pair.both(lambda c: c.set("float", 1.5)) is True
    assert pair.both(lambda c: c.get("float")) == b"1.5"
    assert pair.both(lambda c: c.set("empty", b"")) is True
    assert pair.both(lambda c: c.get("empty")) == b""
    binary = bytes(range(256)) * 3
    assert pair.both(lambda c: c.set("bin", binary)) is True
    assert pair.both(lambda c: c.get("bin")) == binary
    pair.both(lambda c: c.__setitem__("item", b"x"))
    assert pair.both(lambda c: c["item"]) == b"x"
    pair.both(lambda c: c.__delitem__("item"))
    pair.both(lambda c: c["item"])  # KeyError on both


def test_value_sizes_and_limit(pair):
    for n in (1, 100, 5000, 70000, 1000 * 1000):
        v = os.urandom(n)
        assert pair.both(lambda c: c.set("v", v)) is True
        assert pair.both(lambda c: c.get("v")) == v
    too_big = b"x" * (1100 * 1024)
    r = pair.both(lambda c: c.set("v", too_big))
    assert r[:2] == ("raise", pm_exc.MemcacheServerError)
    # memcached drops the old value of a key whose set failed for size, and so does shmc
    assert pair.both(lambda c: c.get("v")) is None
    assert pair.both(lambda c: c.add("v", too_big))[1] is pm_exc.MemcacheServerError


def test_str_values_and_encoding(make_pair):
    p = make_pair(default_noreply=False)
    assert p.both(lambda c: c.set("s", "plain ascii")) is True
    assert p.both(lambda c: c.get("s")) == b"plain ascii"
    r = p.both(lambda c: c.set("s", "caf\u00e9"))
    assert r[:2] == ("raise", pm_exc.MemcacheIllegalInputError)
    p8 = make_pair(default_noreply=False, encoding="utf-8")
    assert p8.both(lambda c: c.set("s", "caf\u00e9")) is True
    assert p8.both(lambda c: c.get("s")) == "caf\u00e9".encode()


def test_keys_bytes_unicode_prefix(make_pair):
    p = make_pair(default_noreply=False)
    for key in ("ascii", b"bytes", b"\xc3\xa9t\xc3\xa9", "x" * 250, b"y" * 250, "a:b/c{d}"):
        assert p.both(lambda c: c.set(key, b"1")) is True
        assert p.both(lambda c: c.get(key)) == b"1"
    # str and bytes spell the same key
    assert p.both(lambda c: c.get(b"ascii")) == b"1"
    for bad in ("\u00e9t\u00e9", "x" * 251, b"y" * 251, "has space", "tab\there",
                "new\nline", b"cr\rx", "nul\x00x", " lead", "trail ", "\u2003"):
        r = p.both(lambda c: c.set(bad, b"1"))
        assert r[:2] == ("raise", pm_exc.MemcacheIllegalInputError), (bad, r)
        p.both(lambda c: c.get(bad))
        p.both(lambda c: c.delete(bad))
        p.both(lambda c: c.get_many(["ok", bad]))
    for wrong_type in (1, 2.5, None, ["k"]):
        r = p.both(lambda c: c.get(wrong_type))
        assert r[:2] == ("raise", TypeError)
    u = make_pair(default_noreply=False, allow_unicode_keys=True)
    assert u.both(lambda c: c.set("\u00e9t\u00e9", b"u")) is True
    assert u.both(lambda c: c.get("\u00e9t\u00e9")) == b"u"
    assert u.both(lambda c: c.get("\u00e9t\u00e9".encode())) == b"u"
    assert u.both(lambda c: c.get_many(["\u00e9t\u00e9", "nope"])) == {"\u00e9t\u00e9": b"u"}
    r = u.both(lambda c: c.set("\u00e9" * 126, b"u"))  # 252 bytes in UTF-8
    assert r[:2] == ("raise", pm_exc.MemcacheIllegalInputError)
    pre = make_pair(default_noreply=False, key_prefix=b"app1:")
    assert pre.both(lambda c: c.set("k", b"p")) is True
    assert pre.both(lambda c: c.get("k")) == b"p"
    # 'k' and b'k' are one cache key: pymemcache reports it under the last one given
    assert pre.both(lambda c: c.get_many(["k", b"k", "z"])) == {b"k": b"p"}
    assert pre.both(lambda c: c.get_many([b"k", "k"])) == {"k": b"p"}
    assert pre.shmc.gets_many(["k", "k"])["k"][0] == pre.pm.gets_many(["k", "k"])["k"][0] == b"p"
    assert p.both(lambda c: c.get("app1:k")) == b"p"  # the prefix is part of the stored key
    assert p.both(lambda c: c.get("k")) == b"1" or True
    r = pre.both(lambda c: c.set("x" * 246, b"p"))  # 5 + 246 > 250
    assert r[:2] == ("raise", pm_exc.MemcacheIllegalInputError)
    assert pre.both(lambda c: c.set("x" * 245, b"p")) is True
    strpre = make_pair(default_noreply=False, key_prefix="s:")
    assert strpre.both(lambda c: c.key_prefix) == b"s:"
    with pytest.raises(TypeError):
        shmc.Client(p.shmc.name, key_prefix=5)
    with pytest.raises(TypeError):
        PMClient(("127.0.0.1", 1), key_prefix=5)


# every byte value as a 1-byte key, and longer keys around the rules' edges
KEY_TABLE = [bytes([b]) for b in range(256)] + [
    b"", b" ", b"  ", b" \t\r\n", b"\x0b\x0c", b"a b", b" a", b"a ", b"a\tb", b"a\x00",
    b"\x00 ", b"\x00\x00", b"ctl\x01x", b"del\x7fx", b"\x1c\x1d\x1e\x1f", b"a\x85b",
    b"a\xa0b", b"\xc3\xa9t\xc3\xa9", b"x" * 248, b"x" * 249, b"x" * 250, b"x" * 251]


def test_key_check_is_pymemcaches(cache_name):
    """shmc.Client refuses exactly the keys pymemcache's check_key_helper refuses, with the
    same exception and message, for str and bytes, with and without allow_unicode_keys and a
    key_prefix; every command decides as check_key does, and an accepted key is stored and
    read back (libshmc takes any bytes; only the empty key it refuses)."""
    checked = 0
    for unicode_keys in (False, True):
        for prefix in (b"", b"p:"):
            c = shmc.Client(cache_name, allow_unicode_keys=unicode_keys, key_prefix=prefix,
                            default_noreply=False)
            for raw in KEY_TABLE:
                for key in (raw, raw.decode("latin-1")):
                    want = outcome(lambda k: check_key_helper(key, unicode_keys, prefix), None)
                    assert outcome(lambda k: c.check_key(key), None) == want, (key, prefix)
                    stored = outcome(lambda k: c.set(key, b"v"), None)
                    if want[0] == "raise":
                        assert stored == want, (key, prefix)
                        assert outcome(lambda k: c.get(key), None) == want
                    elif want[1] == b"":
                        assert stored[:2] == ("raise", shmc.MemcacheIllegalInputError)
                    else:
                        assert stored == ("ok", True), (key, prefix, stored)
                        assert c.get(key) == b"v", (key, prefix)
                        assert c.delete(key) is True
                    checked += 1
            c.close()
    assert checked == 4 * 2 * len(KEY_TABLE)


def test_keys_as_memcached_stores_them(pair):
    """Control bytes, DEL and high-bit bytes in keys: pymemcache sends them and memcached
    stores them; so does shmc."""
    for key in ("ctl\x01x", b"del\x7fx", "\x1c", b"\x80\xff"):
        assert pair.both(lambda c: c.set(key, b"v")) is True
        assert pair.both(lambda c: c.get(key)) == b"v"
        assert pair.both(lambda c: c.delete(key)) is True
    with pytest.raises(pm_exc.MemcacheClientError):
        pair.shmc.set("", b"v")
    with pytest.raises(pm_exc.MemcacheClientError):
        pair.pm.set("", b"v")


def test_keys_only_whitespace(pair):
    """Deliberate difference: a key made only of whitespace passes pymemcache's check, but
    memcached's text protocol cannot carry it (memcached answers ERROR); libshmc takes any
    bytes and stores it."""
    for key in (" ", "  "):
        with pytest.raises(pm_exc.MemcacheUnknownCommandError):
            pair.pm.set(key, b"v")
        assert pair.shmc.set(key, b"v") is True
        assert pair.shmc.get(key) == b"v"


def test_add_replace_append_prepend(pair):
    assert pair.both(lambda c: c.add("k", b"a")) is True
    assert pair.both(lambda c: c.add("k", b"b")) is False
    assert pair.both(lambda c: c.replace("k", b"c")) is True
    assert pair.both(lambda c: c.replace("nokey", b"c")) is False
    assert pair.both(lambda c: c.append("k", b"-end")) is True
    assert pair.both(lambda c: c.prepend("k", b"start-")) is True
    assert pair.both(lambda c: c.get("k")) == b"start-c-end"
    assert pair.both(lambda c: c.append("nokey", b"x")) is False
    assert pair.both(lambda c: c.prepend("nokey", b"x")) is False
    assert pair.both(lambda c: c.get("nokey")) is None


def test_noreply(make_pair):
    p = make_pair()  # pymemcache's default: default_noreply=True
    assert p.both(lambda c: c.set("k", b"v")) is True
    assert p.both(lambda c: c.add("k", b"other")) is True   # not stored, but no reply
    assert p.both(lambda c: c.replace("gone", b"x")) is True
    assert p.both(lambda c: c.append("gone", b"x")) is True
    assert p.both(lambda c: c.prepend("gone", b"x")) is True
    assert p.both(lambda c: c.delete("gone")) is True
    assert p.both(lambda c: c.touch("gone", 10)) is True
    assert p.both(lambda c: c.incr("gone", 1, noreply=True)) is None
    assert p.both(lambda c: c.set_many({"a": b"1", "b": b"2"})) == []
    assert p.both(lambda c: c.delete_many(["a", "gone"])) is True
    assert p.both(lambda c: c.cas("k", b"x", b"1", noreply=True)) is True
    assert p.both(lambda c: c.flush_all()) is True
    assert p.both(lambda c: c.get("k", noreply=None) if False else c.get("k")) is None
    assert p.both(lambda c: c.add("k", b"v", noreply=False)) is True
    assert p.both(lambda c: c.add("k", b"v", noreply=False)) is False
    assert p.both(lambda c: c.get("k")) == b"v"


def test_gets_and_cas(pair):
    assert pair.both(lambda c: c.gets("k")) == (None, None)
    assert pair.both(lambda c: c.gets("k", "d", "cd")) == ("d", "cd")
    assert pair.both(lambda c: c.gets("k", default=1, cas_default=2)) == (1, 2)
    assert pair.both(lambda c: c.cas("k", b"v", 1)) is None  # missing: None
    pair.both(lambda c: c.set("k", b"v0"))
    cas = {}
    for name in ("shmc", "pm"):
        c = getattr(pair, name)
        value, token = c.gets("k")
        assert value == b"v0" and isinstance(token, bytes) and token.isdigit()
        cas[name] = token
        assert c.cas("k", b"v1", token) is True
        assert c.cas("k", b"v2", token) is False  # stale
        assert c.cas("k", b"v3", int(c.gets("k")[1])) is True
        assert c.cas("k", b"v4", c.gets("k")[1].decode()) is True
        assert c.get("k") == b"v4"
    for bad in ("abc", b"-1", -1, 1.5, None, "", "\u00e9"):
        r = pair.both(lambda c: c.cas("k", b"v", bad))
        assert r[:2] == ("raise", pm_exc.MemcacheIllegalInputError), (bad, r)
    assert pair.both(lambda c: c.gets_many([])) == {}
    pair.both(lambda c: c.set("k2", b"w"))
    many = {name: getattr(pair, name).gets_many(["k", "k2", "nope"]) for name in ("shmc", "pm")}
    for m in many.values():
        assert set(m) == {"k", "k2"}
        assert m["k"][0] == b"v4" and m["k2"][0] == b"w"
        assert all(isinstance(t, bytes) and t.isdigit() for _, t in m.values())


def test_get_many_set_many_delete_many(pair):
    assert pair.both(lambda c: c.get_many([])) == {}
    assert pair.both(lambda c: c.set_many({})) == []
    values = {"k%d" % i: b"v%d" % i for i in range(50)}
    assert pair.both(lambda c: c.set_many(values)) == []
    keys = list(values) + ["missing1", "missing2"]
    assert pair.both(lambda c: c.get_many(keys)) == values
    assert pair.both(lambda c: c.get_multi(tuple(keys))) == values
    assert pair.both(lambda c: c.set_multi({"a": b"1"}, expire=100)) == []
    assert pair.both(lambda c: c.delete_many(["k1", "k2", "nope"])) is True
    assert pair.both(lambda c: c.delete_multi(["k3"])) is True
    assert pair.both(lambda c: c.delete_many([])) is True
    assert pair.both(lambda c: c.get_many(["k1", "k2", "k3", "k4"])) == {"k4": b"v4"}
    # one illegal key refuses the whole call before anything is stored
    r = pair.both(lambda c: c.set_many({"good": b"1", "bad key": b"2"}))
    assert r[:2] == ("raise", pm_exc.MemcacheIllegalInputError)
    assert pair.both(lambda c: c.get("good")) is None
    # a value too large: the others are stored, the error is raised
    # a value too large raises there: the values before it are stored.  (memcached may or
    # may not run the commands pymemcache queued after it before pymemcache hangs up; shmc
    # does not run them.)
    r = pair.both(lambda c: c.set_many({"s1": b"1", "big": b"x" * (1100 * 1024), "s2": b"2"}))
    assert r[:2] == ("raise", pm_exc.MemcacheServerError)
    assert pair.both(lambda c: c.get_many(["s1", "big"])) == {"s1": b"1"}
    assert pair.shmc.get("s2") is None
    r = pair.both(lambda c: c.delete_many(["ok", "bad key"]))
    assert r[:2] == ("raise", pm_exc.MemcacheIllegalInputError)


def test_incr_decr(pair):
    assert pair.both(lambda c: c.incr("n", 1)) is None
    assert pair.both(lambda c: c.decr("n", 1)) is None
    pair.both(lambda c: c.set("n", b"10"))
    assert pair.both(lambda c: c.incr("n", 5)) == 15
    assert pair.both(lambda c: c.decr("n", 3)) == 12
    assert pair.both(lambda c: c.decr("n", 100)) == 0
    assert pair.both(lambda c: c.incr("n", 2**64 - 1)) == 2**64 - 1
    assert pair.both(lambda c: c.incr("n", 2)) == 1  # wraps at 2**64
    # memcached rewrites a shorter result in place, padded with spaces; libshmc does the same
    assert pair.shmc.get("n").rstrip() == b"1" and pair.pm.get("n").rstrip() == b"1"
    for bad in (-1, 2**64):
        r = pair.both(lambda c: c.incr("n", bad))
        assert r[:2] == ("raise", pm_exc.MemcacheClientError), r
    for bad in ("1", 1.0, None):
        r = pair.both(lambda c: c.incr("n", bad))
        assert r[:2] == ("raise", pm_exc.MemcacheIllegalInputError), r
    pair.both(lambda c: c.set("t", b"text"))
    r = pair.both(lambda c: c.incr("t", 1))
    assert r[:2] == ("raise", pm_exc.MemcacheClientError)
    assert pair.both(lambda c: c.incr("t", 1, noreply=True)) is None
    assert pair.both(lambda c: c.get("t")) == b"text"


def test_expiry_touch(pair):
    now = int(time.time())
    pair.both(lambda c: c.set("neg", b"v", expire=-1))
    assert pair.both(lambda c: c.get("neg")) is None
    pair.both(lambda c: c.set("abs_future", b"v", expire=now + 3600))
    assert pair.both(lambda c: c.get("abs_future")) == b"v"
    pair.both(lambda c: c.set("abs_past", b"v", expire=now - 3600))
    assert pair.both(lambda c: c.get("abs_past")) is None
    pair.both(lambda c: c.set("short", b"v", expire=1))
    pair.both(lambda c: c.set("kept", b"v", expire=2))  # 2 s: a 1 s TTL can end before the touch
    assert pair.both(lambda c: c.touch("kept", 100)) is True
    assert pair.both(lambda c: c.touch("missing", 100)) is False
    r = pair.both(lambda c: c.set("x", b"v", expire="1"))
    assert r[:2] == ("raise", pm_exc.MemcacheIllegalInputError)
    r = pair.both(lambda c: c.touch("x", 1.5))
    assert r[:2] == ("raise", pm_exc.MemcacheIllegalInputError)
    time.sleep(2.2)
    assert pair.both(lambda c: c.get("short")) is None
    assert pair.both(lambda c: c.get("kept")) == b"v"


def test_gat_gats(pair):
    """pymemcache 3.5 has no gat/gats: shmc's are checked against memcached's meaning."""
    c = pair.shmc
    assert not hasattr(pair.pm, "gat") or True
    assert c.gat("k", 100) is None and c.gat("k", 100, default=3) == 3
    assert c.gats("k", 100) == (None, None)
    c.set("k", b"v", expire=2)  # 2 s: a 1 s TTL can end before the gat
    assert c.gat("k", 100) == b"v"
    value, token = c.gats("k", 100)
    assert value == b"v" and token == c.gets("k")[1]
    time.sleep(2.2)
    assert c.get("k") == b"v"  # the touch moved the expiry
    assert c.gat("k", -1) == b"v"
    assert c.get("k") is None
    with pytest.raises(shmc.MemcacheIllegalInputError):
        c.gat("bad key", 1)


def test_flush_all(pair):
    pair.both(lambda c: c.set("a", b"1"))
    assert pair.both(lambda c: c.flush_all()) is True
    assert pair.both(lambda c: c.get("a")) is None
    pair.both(lambda c: c.set("b", b"2"))
    assert pair.both(lambda c: c.get("b")) == b"2"
    assert pair.both(lambda c: c.flush_all(delay=2)) is True
    assert pair.both(lambda c: c.get("b")) == b"2"
    time.sleep(3.1)
    assert pair.both(lambda c: c.get("b")) is None
    r = pair.both(lambda c: c.flush_all(delay="1"))
    assert r[:2] == ("raise", pm_exc.MemcacheIllegalInputError)


class Recorder:
    """A serde that records what it was given, to compare both clients' calls."""

    def __init__(self):
        self.calls = []

    def serialize(self, key, value):
        self.calls.append(("ser", key, value))
        return pickle.dumps(value), 5

    def deserialize(self, key, value, flags):
        self.calls.append(("de", key, flags))
        return pickle.loads(value)


class Thing:
    def __init__(self, x):
        self.x = x

    def __eq__(self, other):
        return isinstance(other, Thing) and other.x == self.x


def test_serde(make_pair):
    p = make_pair(default_noreply=False, serde=pm_serde.pickle_serde)
    values = [b"bytes", "str \u00e9", 7, 2**70, 1.5, None, [1, "a"], {"d": (1, 2)}, Thing(3),
              True]
    for i, v in enumerate(values):
        assert p.both(lambda c: c.set("k%d" % i, v)) is True
        got = p.both(lambda c: c.get("k%d" % i))
        assert got == v and type(got) is type(v)
    assert p.both(lambda c: c.get_many(["k0", "k1", "k8"])) == {"k0": b"bytes",
                                                                "k1": "str \u00e9",
                                                                "k8": Thing(3)}
    recorders = {}
    for name in ("shmc", "pm"):
        rec = Recorder()
        c = shmc.Client(p.shmc.name, serde=rec, default_noreply=False, key_prefix=b"p:") \
            if name == "shmc" else PMClient(p.pm.server, serde=rec, default_noreply=False,
                                             key_prefix=b"p:")
        assert c.set("key", {"a": 1}) is True
        assert c.set("key2", [1], flags=9) is True
        assert c.get("key") == {"a": 1}
        assert c.get_many(["key2"]) == {"key2": [1]}
        recorders[name] = rec.calls
        c.close()
    assert recorders["shmc"] == recorders["pm"]
    assert recorders["shmc"][0] == ("ser", b"p:key", {"a": 1})  # serialize gets the full key
    assert ("de", "key2", 9) in recorders["shmc"]               # flags= overrides the serde's

    def legacy_ser(key, value):
        return str(value).upper(), 3

    def legacy_de(key, value, flags):
        return (value, flags)

    lp = make_pair(default_noreply=False, serializer=legacy_ser, deserializer=legacy_de)
    assert lp.both(lambda c: c.set("k", "abc")) is True
    assert lp.both(lambda c: c.get("k")) == (b"ABC", 3)


def test_ignore_exc(make_pair):
    class Broken:
        def serialize(self, key, value):
            return value, 0

        def deserialize(self, key, value, flags):
            raise ValueError("cannot")

    p = make_pair(default_noreply=False, serde=Broken())
    p.both(lambda c: c.set("k", b"v"))
    r = p.both(lambda c: c.get("k"))
    assert r[:2] == ("raise", ValueError)
    q = make_pair(default_noreply=False, serde=Broken(), ignore_exc=True)
    assert q.both(lambda c: c.get("k")) is None
    assert q.both(lambda c: c.get("k", "d")) == "d"
    assert q.both(lambda c: c.get_many(["k"])) == {}
    assert q.both(lambda c: c.gets("k")) == (None, None)
    r = q.both(lambda c: c.get("bad key"))  # illegal keys still raise
    assert r[:2] == ("raise", pm_exc.MemcacheIllegalInputError)


def test_stats_version(pair):
    pair.both(lambda c: c.set("k", b"v"))
    pair.both(lambda c: c.get("k"))
    pair.both(lambda c: c.get("nope"))
    s, m = pair.shmc.stats(), pair.pm.stats()
    common = set(s) & set(m)
    for name in (b"pid", b"uptime", b"time", b"version", b"pointer_size", b"rusage_user",
                 b"rusage_system", b"curr_connections", b"total_connections", b"cmd_get",
                 b"cmd_set", b"cmd_flush", b"cmd_touch", b"get_hits", b"get_misses",
                 b"get_expired", b"get_flushed", b"delete_misses", b"delete_hits",
                 b"incr_misses", b"incr_hits", b"decr_misses", b"decr_hits", b"cas_misses",
                 b"cas_hits", b"cas_badval", b"touch_hits", b"touch_misses", b"limit_maxbytes",
                 b"threads", b"bytes", b"curr_items", b"total_items", b"expired_unfetched",
                 b"evicted_unfetched", b"evictions", b"reclaimed"):
        assert name in common, name
    for name in common:
        assert type(s[name]) is type(m[name]), (name, s[name], m[name])
    assert s[b"curr_items"] == 1  # memcached still counts the items flushed lazily
    assert s[b"get_hits"] >= 1 and s[b"get_misses"] >= 1
    assert s[b"limit_maxbytes"] == m[b"limit_maxbytes"] == 64 * 1024 * 1024
    ss, ms = pair.shmc.stats("settings"), pair.pm.stats("settings")
    for name in set(ss) & set(ms):
        assert type(ss[name]) is type(ms[name]), name
    assert ss[b"item_size_max"] == ms[b"item_size_max"] == 1024 * 1024
    # a shmc cache has no slab classes: "items" and "slabs" are empty
    assert pair.shmc.stats("items") == {} and pair.shmc.stats("slabs") == {}
    r = pair.both(lambda c: c.stats("bogus"))
    assert r[:2] == ("raise", pm_exc.MemcacheUnknownCommandError)
    v = pair.both(lambda c: type(c.version()))
    assert v is bytes and pair.shmc.version() == shmc.SHMC_VERSION.encode()


def test_close_reopens_and_context_manager(pair, cache_name):
    pair.both(lambda c: c.set("k", b"v"))
    pair.both(lambda c: c.close())
    assert pair.shmc.closed
    assert pair.both(lambda c: c.get("k")) == b"v"  # the next command reconnects / reopens
    assert not pair.shmc.closed
    pair.both(lambda c: c.quit())
    assert pair.both(lambda c: c.get("k")) == b"v"
    with shmc.Client(cache_name) as c:  # pymemcache 3.5's Client is no context manager
        assert c.get("k") == b"v"
        assert not c.closed
    assert c.closed


def test_constructor_options_are_accepted(cache_name):
    c = shmc.Client(cache_name, connect_timeout=1, timeout=2, no_delay=True,
                    socket_module=object(), socket_keepalive=None, tls_context=object(),
                    default_noreply=False)
    assert c.set("k", b"v") and c.get("k") == b"v"
    assert c.server == cache_name
    assert "shmc.Client" in repr(c)
    assert c.check_key("k") == b"k"
    with pytest.raises(shmc.MemcacheIllegalInputError):
        c.check_key("a b")
    with pytest.raises(shmc.MemcacheServerError):
        c.cache_memlimit(10)
    with pytest.raises(shmc.MemcacheUnknownCommandError):
        c.shutdown()
