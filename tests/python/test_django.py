"""shmc.django.ShmcCache against Django's cache contract, side by side with Django's own
PyMemcacheCache talking to a private memcached: timeouts (None, 0, negative, over 30 days),
versions, key_func, KEY_PREFIX, validate_key, incr/decr of missing keys, get_or_set,
get_many/set_many with failures, delete_many, touch, has_key, clear, and a real model
instance (django.contrib.auth's User, saved in an in-memory SQLite database) pickled."""
import os
import time
import warnings

import pytest

import django  # Debian's python3-django (build.sh installs it for the tests)
from conftest import start_memcached, stop


@pytest.fixture(scope="module")
def caches():
    from django.conf import settings

    proc, port, _, tmp = start_memcached()
    name = "shmc-test-%d-django" % os.getpid()
    common = {"TIMEOUT": 300}
    settings.configure(
        INSTALLED_APPS=["django.contrib.contenttypes", "django.contrib.auth"],
        DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}},
        CACHES={
            "default": {"BACKEND": "shmc.django.ShmcCache", "LOCATION": name, **common},
            "shmc": {"BACKEND": "shmc.django.ShmcCache", "LOCATION": name, **common},
            "pm": {"BACKEND": "django.core.cache.backends.memcached.PyMemcacheCache",
                   "LOCATION": "127.0.0.1:%d" % port, **common},
            "shmc_prefixed": {"BACKEND": "shmc.django.ShmcCache", "LOCATION": name,
                              "KEY_PREFIX": "site1", "VERSION": 3,
                              "KEY_FUNCTION": "test_django.reverse_key"},
            "pm_prefixed": {"BACKEND": "django.core.cache.backends.memcached.PyMemcacheCache",
                            "LOCATION": "127.0.0.1:%d" % port, "KEY_PREFIX": "site1",
                            "VERSION": 3, "KEY_FUNCTION": "test_django.reverse_key"},
            "shmc_small": {"BACKEND": "shmc.django.ShmcCache", "LOCATION": name + "-opts",
                           "OPTIONS": {"memory_limit": 8 * 1024 * 1024,
                                       "item_size_max": 64 * 1024}},
        },
        USE_TZ=True,
    )
    django.setup()
    from django.core.cache import caches as django_caches
    from django.core.management import call_command

    call_command("migrate", verbosity=0, run_syncdb=True)
    yield django_caches
    for alias in ("shmc", "pm"):
        django_caches[alias].close()
    stop(proc, tmp)
    for suffix in ("", "-opts"):
        path = os.path.join(os.environ.get("SHMC_DIR", "/dev/shm"), name + suffix)
        if os.path.exists(path):
            os.unlink(path)


def reverse_key(key, key_prefix, version):
    return "%s|%s|%s" % (key[::-1], key_prefix, version)


def outcome(fn, cache):
    try:
        return ("ok", fn(cache))
    except Exception as e:  # noqa: BLE001
        return ("raise", type(e), str(e))


@pytest.fixture
def both(caches):
    shmc_cache, pm_cache = caches["shmc"], caches["pm"]
    shmc_cache.clear()
    pm_cache.clear()

    def run(fn, a=shmc_cache, b=pm_cache):
        x, y = outcome(fn, a), outcome(fn, b)
        assert x == y, "ShmcCache %r != PyMemcacheCache %r" % (x, y)
        return x[1] if x[0] == "ok" else x

    run.shmc, run.pm = shmc_cache, pm_cache
    return run


def test_basic_and_types(both):
    assert both(lambda c: c.get("k")) is None
    assert both(lambda c: c.get("k", "dflt")) == "dflt"
    assert both(lambda c: c.set("k", "v")) is None
    assert both(lambda c: c.get("k")) == "v"
    for v in (b"bytes", "str \u00e9", 5, 2**80, 1.25, None, True, [1, {"a": (2, 3)}], {1, 2}):
        both(lambda c: c.set("typed", v))
        got = both(lambda c: c.get("typed", "missing"))
        assert got == v and type(got) is type(v)
    assert both(lambda c: c.add("k", "other")) is False
    assert both(lambda c: c.add("new", "n")) is True
    assert both(lambda c: c.has_key("new")) is True
    assert both(lambda c: "new" in c) is True
    assert both(lambda c: c.has_key("nope")) is False
    assert both(lambda c: c.delete("new")) is True
    assert both(lambda c: c.delete("new")) is False
    assert both(lambda c: c.set("\u00fcnicode-k\u00e9y", "\u2603")) is None
    assert both(lambda c: c.get("\u00fcnicode-k\u00e9y")) == "\u2603"


def test_timeouts(both):
    both(lambda c: c.set("none", 1, timeout=None))
    both(lambda c: c.set("zero", 1, timeout=0))
    both(lambda c: c.set("neg", 1, timeout=-5))
    both(lambda c: c.set("short", 1, timeout=3))  # 3 s: a 1 s TTL can end before the next line
    both(lambda c: c.set("default", 1))
    both(lambda c: c.set("month", 1, timeout=60 * 60 * 24 * 31))  # > 30 days: absolute
    both(lambda c: c.set("year", 1, timeout=60 * 60 * 24 * 365))
    assert both(lambda c: c.add("zero_add", 1, timeout=0)) is True
    assert both(lambda c: c.get_many(["none", "zero", "neg", "short", "default", "month",
                                      "year", "zero_add"])) == \
        {"none": 1, "short": 1, "default": 1, "month": 1, "year": 1}
    assert both(lambda c: c.get_backend_timeout(60 * 60 * 24 * 31)) - int(time.time()) in \
        range(60 * 60 * 24 * 31 - 2, 60 * 60 * 24 * 31 + 2)
    assert both(lambda c: c.get_backend_timeout(None)) == 0
    assert both(lambda c: c.get_backend_timeout(0)) == -1
    assert both(lambda c: c.touch("none", 1)) is True
    assert both(lambda c: c.touch("missing", 10)) is False
    both(lambda c: c.set("touched0", 1))
    assert both(lambda c: c.touch("touched0", 0)) is True  # 0: expire now
    assert both(lambda c: c.get("touched0")) is None
    time.sleep(4.2)  # past "short"'s 3 s, whole seconds as memcached counts them
    assert both(lambda c: c.get_many(["none", "short", "default", "month"])) == \
        {"default": 1, "month": 1}


def test_versions_and_key_func(both, caches):
    both(lambda c: c.set("v", "one"))
    both(lambda c: c.set("v", "two", version=2))
    assert both(lambda c: c.get("v")) == "one"
    assert both(lambda c: c.get("v", version=2)) == "two"
    assert both(lambda c: c.get("v", version=3)) is None
    assert both(lambda c: c.incr_version("v")) == 2  # moves "one" to version 2
    assert both(lambda c: c.get("v", version=2)) == "one"
    assert both(lambda c: c.get("v")) is None
    assert both(lambda c: c.decr_version("v", version=2)) == 1
    assert both(lambda c: c.get("v")) == "one"
    r = both(lambda c: c.incr_version("missing"))
    assert r[:2] == ("raise", ValueError)
    a, b = caches["shmc_prefixed"], caches["pm_prefixed"]
    assert both(lambda c: c.make_key("abc"), a, b) == "cba|site1|3"
    assert both(lambda c: c.set("abc", "prefixed"), a, b) is None
    assert both(lambda c: c.get("abc"), a, b) == "prefixed"
    assert both(lambda c: c._cache.get("cba|site1|3")) == "prefixed"  # the key key_func made
    assert both(lambda c: c.get("abc", version=1), a, b) is None


def test_validate_key(both):
    from django.core.cache.backends.base import InvalidCacheKey

    for bad in ("has space", "x" * 251, "ctl\x01", "nl\n"):
        r = both(lambda c: c.set(bad, 1))
        assert r[:2] == ("raise", InvalidCacheKey), r
        r = both(lambda c: c.get(bad))
        assert r[:2] == ("raise", InvalidCacheKey)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert both(lambda c: c.set("fine-key", 1)) is None


def test_incr_decr(both):
    r = both(lambda c: c.incr("missing"))
    assert r[:2] == ("raise", ValueError)
    r = both(lambda c: c.decr("missing"))
    assert r[:2] == ("raise", ValueError)
    both(lambda c: c.set("n", 10))
    assert both(lambda c: c.incr("n")) == 11
    assert both(lambda c: c.incr("n", 10)) == 21
    assert both(lambda c: c.decr("n", 5)) == 16
    assert both(lambda c: c.incr("n", -6)) == 10
    assert both(lambda c: c.decr("n", -1)) == 11
    assert both(lambda c: c.decr("n", 100)) == 0
    assert both(lambda c: c.get("n")) == 0


def test_get_or_set(both):
    assert both(lambda c: c.get_or_set("g", "first")) == "first"
    assert both(lambda c: c.get_or_set("g", "second")) == "first"
    assert both(lambda c: c.get_or_set("h", lambda: "called")) == "called"
    assert both(lambda c: c.get("h")) == "called"
    assert both(lambda c: c.get_or_set("none", None)) is None


def test_many_and_failures(both):
    data = {"k%d" % i: i for i in range(30)}
    assert both(lambda c: c.set_many(data)) == []
    assert both(lambda c: c.get_many(list(data) + ["missing"])) == data
    assert both(lambda c: c.delete_many(["k1", "k2", "missing"])) is None
    assert both(lambda c: c.get_many(["k1", "k2", "k3"])) == {"k3": 3}
    big = os.urandom(1100 * 1024)
    r = both(lambda c: c.set("big", big))
    assert r[0] == "raise"  # both raise MemcacheServerError: the value is over 1 MiB
    r = both(lambda c: c.set_many({"a": 1, "big": big}))
    assert r[0] == "raise"
    assert both(lambda c: c.get("big")) is None
    assert both(lambda c: c.set_many({}, timeout=10)) == []
    both(lambda c: c.clear())
    assert both(lambda c: c.get_many(["k3", "k4"])) == {}


def test_pickled_model_instance(both):
    from django.contrib.auth.models import Group, User

    group = Group.objects.create(name="editors")
    user = User.objects.create_user("alice", "alice@example.com", "pw", first_name="Al\u00efce")
    user.groups.add(group)
    for c in (both.shmc, both.pm):
        c.set("user", user)
        c.set("users", list(User.objects.all()))
        got = c.get("user")
        assert got == user and got.pk == user.pk and got.first_name == "Al\u00efce"
        assert got.check_password("pw")
        assert [g.name for g in got.groups.all()] == ["editors"]
        assert c.get("users") == [user]
        assert c.get_many(["user"]) == {"user": user}


def test_options_reach_the_client(caches):
    c = caches["shmc_small"]
    c.set("k", b"x" * 1000)
    assert c.get("k") == b"x" * 1000
    stats = c._cache.stats()
    assert stats[b"limit_maxbytes"] == 8 * 1024 * 1024
    assert c._cache.stats("settings")[b"item_size_max"] == 64 * 1024
    with pytest.raises(Exception):
        c.set("big", b"x" * (65 * 1024))
    c.close()  # Django calls this after every request: the cache stays usable
    assert c.get("k") == b"x" * 1000
