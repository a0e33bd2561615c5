"""A Django cache backend on a shmc cache: Django's memcached contract, without a socket.

    CACHES = {
        "default": {
            "BACKEND": "shmc.django.ShmcCache",
            "LOCATION": "sessions",          # /dev/shm/sessions (or a path with a '/')
            "TIMEOUT": 300,
            "OPTIONS": {"memory_limit": 256 * 1024 * 1024},
        }
    }

ShmcCache is Django's own memcached backend (``BaseMemcachedCache``, whose code
``PyMemcacheCache`` also runs) with ``shmc.Client`` in place of the network client, so every
rule is Django's: timeouts (None never expires, 0 and negative expire at once, over 30 days
become an absolute time), versions, ``key_func``, ``KEY_PREFIX``, ``validate_key`` (keys
memcached cannot take raise ``InvalidCacheKey``), ``incr``/``decr`` of a missing key raise
ValueError, ``get_or_set``, ``get_many``/``set_many``/``delete_many``, ``touch``,
``has_key``, ``clear`` (which empties the whole shared cache, as on memcached).  Values are
pickled with pymemcache's pickle serde, as PyMemcacheCache does.

OPTIONS are shmc.Client's keyword arguments (memory_limit, item_size_max, mode, protect,
serde, ...).  Every process opens the same file, so all workers of a server share one cache.
"""
from django.core.cache.backends.base import DEFAULT_TIMEOUT  # noqa: F401 (re-exported)
from django.core.cache.backends.memcached import BaseMemcachedCache
from django.utils.functional import cached_property

import shmc

try:
    from pymemcache.serde import pickle_serde as _pickle_serde
except ImportError:  # pragma: no cover - without pymemcache: the same flags and format
    import pickle

    class _PickleSerde:
        """pymemcache's pickle serde format: bytes as is (flags 0), str as UTF-8 (16),
        int as decimal (2), anything else pickled (1)."""

        def serialize(self, key, value):
            if isinstance(value, bytes):
                return value, 0
            if type(value) is str:
                return value.encode("utf8"), 16
            if type(value) is int:
                return b"%d" % value, 2
            return pickle.dumps(value, pickle.DEFAULT_PROTOCOL), 1

        def deserialize(self, key, value, flags):
            if flags == 0:
                return value
            if flags & 16:
                return value.decode("utf8")
            if flags & 2:
                return int(value)
            if flags & 1:
                return pickle.loads(value)
            return value

    _pickle_serde = _PickleSerde()


class ShmcCache(BaseMemcachedCache):
    """Django's cache API on a shmc cache file (LOCATION: a cache name or path).

    Behaves as Django's PyMemcacheCache does with one memcached server, but every call is a
    library call on memory shared by all processes of the machine.
    """

    def __init__(self, location, params):
        """location: the cache's name (a file in $SHMC_DIR) or path; params: Django's
        cache settings (TIMEOUT, KEY_PREFIX, VERSION, KEY_FUNCTION, OPTIONS)."""
        super().__init__(location, params, library=shmc, value_not_found_exception=KeyError)
        if isinstance(location, (list, tuple)):
            if len(location) != 1:
                raise ValueError("ShmcCache takes one cache (LOCATION), not %r" % (location,))
            location = location[0]
        self._location = location
        self._options = {
            "allow_unicode_keys": True,
            "default_noreply": False,
            "serde": _pickle_serde,
            **self._options,
        }

    @cached_property
    def _cache(self):
        """The shmc.Client, opened on first use (in the process that uses it)."""
        return shmc.Client(self._location, **self._options)

    def close(self, **kwargs):
        """Called by Django at the end of each request: nothing to do (no connection)."""
