"""shmc: a memcached cache shared by every process on the machine, used in-process.

``shmc.Client("sessions")`` opens (or creates) the cache file /dev/shm/sessions and runs
memcached's commands on it directly, without a socket and without a server: a get is a
hash lookup and a copy.  The Client follows pymemcache's ``Client`` method for method (the
same names, arguments, defaults, return values and exceptions), so an application moves from
pymemcache by changing one constructor::

    from shmc import Client
    from pymemcache import serde

    cache = Client("sessions", serde=serde.pickle_serde)
    cache.set("user:42", {"name": "alice"}, expire=300)
    cache.get("user:42")            # {'name': 'alice'}

Any number of processes and threads may use one cache at once; a Client opened before
fork() keeps working in every child; a process killed in the middle of a call leaves the
cache whole.  ``shmc.django.ShmcCache`` is a Django cache backend over the same Client.
"""

import os as _os
import resource as _resource

from . import exceptions
from .exceptions import (  # noqa: F401
    MemcacheError,
    MemcacheClientError,
    MemcacheUnknownCommandError,
    MemcacheIllegalInputError,
    MemcacheServerError,
    MemcacheUnknownError,
    MemcacheUnexpectedCloseError,
    ShmcError,
)
from . import _shmc
from ._shmc import (  # noqa: F401
    GIL_RELEASE_BYTES,
    KEY_MAX,
    PROTECT_AUTO,
    PROTECT_NONE,
    PROTECT_PKU,
    PROTECT_SEALED,
    SHMC_VERSION,
    check,
)

__version__ = SHMC_VERSION
__all__ = [
    "Client",
    "check",
    "ShmcError",
    "MemcacheError",
    "MemcacheClientError",
    "MemcacheUnknownCommandError",
    "MemcacheIllegalInputError",
    "MemcacheServerError",
    "MemcacheUnknownError",
    "MemcacheUnexpectedCloseError",
]

# Counters that memcached reports in "stats settings" rather than "stats".
_SETTINGS_FROM_CACHE = {"maxbytes": "limit_maxbytes", "item_size_max": "item_size_max"}


class _LegacyWrappingSerde:
    """pymemcache's wrapper for the deprecated serializer/deserializer functions."""

    def __init__(self, serializer_func, deserializer_func):
        self.serialize = serializer_func or (lambda key, value: (value, 0))
        self.deserialize = deserializer_func or (lambda key, value, flags: value)


class Client(_shmc.Client):
    """A memcached client on a shmc cache: pymemcache's ``Client``, in-process.

    Every method has the name, arguments, defaults, return values and exceptions of
    ``pymemcache.client.base.Client``; where pymemcache talks to a server over a socket, this
    Client runs the command itself on the shared cache file, so no method blocks on a network
    and there are no connection errors.  One Client may be shared by any number of threads,
    and keeps working in the children of a fork().

    Keys are str (ASCII; UTF-8 when ``allow_unicode_keys``) or bytes, at most 250 bytes after
    ``key_prefix``, without NUL or whitespace (space, TAB, LF, VT, FF, CR) beside other bytes:
    exactly what pymemcache's ``check_key_helper`` lets through (other control bytes and DEL
    included; a key made only of whitespace too).  libshmc takes any bytes in a key, so such
    keys are stored as they are; only an empty key it refuses, with
    ``MemcacheIllegalInputError``.  Values are stored through ``serde`` (see
    pymemcache's serde protocol; ``pymemcache.serde.pickle_serde`` works as is); without one,
    bytes are stored as they are and anything else as ``str(value)`` in ``encoding``, and
    reads return bytes.

    Errors raise pymemcache's exception classes (the very classes, where pymemcache is
    installed): ``MemcacheIllegalInputError`` for an illegal key or argument,
    ``MemcacheServerError`` for a value over the item size limit or a full cache,
    ``MemcacheClientError`` for incr/decr of a non-number; ``ShmcError`` (a ``MemcacheError``)
    for a cache file that cannot be opened, with libshmc's message.
    """

    def __init__(
        self,
        name,
        serde=None,
        serializer=None,
        deserializer=None,
        connect_timeout=None,
        timeout=None,
        no_delay=False,
        ignore_exc=False,
        socket_module=None,
        socket_keepalive=None,
        key_prefix=b"",
        default_noreply=True,
        allow_unicode_keys=False,
        encoding="ascii",
        tls_context=None,
        *,
        memory_limit=None,
        item_size_max=None,
        mode=None,
        protect=None,
        hash_power=None,
    ):
        """Open the cache ``name``, creating it if it does not exist.

        Args:
          name: str, bytes or os.PathLike: a plain name is a file in $SHMC_DIR (default
            /dev/shm); a name with a '/' is a path (as shmc_open()).
          serde: an object with ``serialize(key, value) -> (bytes, flags)`` and
            ``deserialize(key, value, flags) -> object``; None: bytes as they are.
          serializer, deserializer: pymemcache's deprecated functions, wrapped into a serde.
          connect_timeout, timeout, no_delay, socket_module, socket_keepalive, tls_context:
            accepted for pymemcache compatibility and ignored: there is no socket.
          ignore_exc: bool, True to return misses instead of raising when a read fails
            (e.g. a failing deserialize).
          key_prefix: bytes (or ASCII str) put in front of every key.
          default_noreply: the noreply of stores, delete, touch and flush_all when they
            pass None (pymemcache's default, True).  Nothing is ever left unsent here: every
            command is done before the call returns; noreply only makes the call return
            pymemcache's noreply value (True, or None for incr/decr) whatever the outcome.
          allow_unicode_keys: bool, encode str keys as UTF-8 instead of requiring ASCII.
          encoding: str, the codec for values that are not bytes (default 'ascii').
          memory_limit: int, bytes for items when the cache is created (default 64 MiB).
          item_size_max: int, the largest value in bytes when created (default 1 MiB).
            For an existing cache, a memory_limit or item_size_max other than the file's
            raises ShmcError; None accepts the file's.
          mode: int, the file mode when created (default 0o600).
          protect: 'auto' (default), 'none', 'pku' or 'sealed' (see include/shmc.h).
          hash_power: int, log2 of the hash buckets when created (default: from
            memory_limit).

        Raises:
          ShmcError: the file is not a cache, has another configuration or layout version,
            or cannot be created (libshmc's message says which).
          ValueError, TypeError: a configuration argument of the wrong value or type.
        """
        super().__init__(
            name,
            memory_limit=memory_limit,
            item_size_max=item_size_max,
            mode=mode,
            protect=protect,
            hash_power=hash_power,
        )
        if serde is None and (serializer is not None or deserializer is not None):
            serde = _LegacyWrappingSerde(serializer, deserializer)
        self.serde = serde
        self.key_prefix = key_prefix
        self.encoding = encoding
        self.allow_unicode_keys = bool(allow_unicode_keys)
        self.default_noreply = bool(default_noreply)
        self.ignore_exc = bool(ignore_exc)
        self.connect_timeout = connect_timeout
        self.timeout = timeout
        self.no_delay = no_delay
        self.socket_module = socket_module
        self.socket_keepalive = socket_keepalive
        self.tls_context = tls_context

    def __repr__(self):
        state = "closed" if self.closed else "open"
        return "<shmc.Client %r (%s)>" % (self.name, state)

    @property
    def server(self):
        """The cache's name: what pymemcache's ``server`` attribute holds for a socket."""
        return self.name

    def check_key(self, key):
        """The key as the cache stores it: ``key_prefix`` + the encoded key, as bytes.

        Raises MemcacheIllegalInputError (or TypeError) exactly where pymemcache's
        check_key_helper does; every command raises there too, and for an empty key, which
        libshmc refuses.
        """
        if isinstance(key, str):
            if self.allow_unicode_keys:
                key = key.encode("utf8")
            else:
                try:
                    key = key.encode("ascii")
                except UnicodeEncodeError:
                    raise MemcacheIllegalInputError("Non-ASCII key: %r" % key)
        key = self.key_prefix + key
        if len(key) > KEY_MAX:
            raise MemcacheIllegalInputError("Key is too long: %r" % key)
        parts = key.split()
        if len(parts) > 1 or (parts and parts[0] != key):
            raise MemcacheIllegalInputError("Key contains whitespace: %r" % key)
        if b"\00" in key:
            raise MemcacheIllegalInputError("Key contains null: %r" % key)
        return key

    def stats(self, *args):
        """memcached's "stats" command, on the shared cache.

        Args:
          *args: nothing for the general counters, or "settings" for the configuration.

        Returns:
          A dict of bytes names to values, with memcached's names and the types pymemcache
          gives them (int for counters, float for rusage_*, bytes for version).  The counters
          are summed over every process and thread that used the cache since it was created.
          shmc's own counters (segments, repairs, recovery_scrubs, damaged_dropped, ...) are
          added under their libshmc names.  "items", "slabs" and "sizes" return {} (a shmc
          cache has no slab classes).

        Raises:
          MemcacheUnknownCommandError: another argument, as memcached answers ERROR.
        """
        raw = self._raw_stats()
        if not args:
            usage = _resource.getrusage(_resource.RUSAGE_SELF)
            out = {
                b"pid": _os.getpid(),
                b"uptime": raw["uptime"],
                b"time": raw["time"],
                b"version": SHMC_VERSION.encode(),
                b"pointer_size": 64 if _sys_maxsize_64 else 32,
                b"rusage_user": usage.ru_utime,
                b"rusage_system": usage.ru_stime,
                b"threads": 1,
            }
            for name, value in raw.items():
                if name not in ("time", "uptime", "item_size_max"):
                    out[name.encode()] = value
            return out
        args = [a.decode() if isinstance(a, bytes) else str(a) for a in args]
        if args == ["settings"]:
            out = {name.encode(): raw[field] for name, field in _SETTINGS_FROM_CACHE.items()}
            out[b"evictions"] = b"on"
            out[b"cas_enabled"] = b"yes"
            out[b"flush_enabled"] = b"yes"
            out[b"hashpower_init"] = raw["hash_buckets"].bit_length() - 1
            return out
        if args[0] in ("items", "slabs", "sizes", "conns"):
            return {}
        raise MemcacheUnknownCommandError(b"stats")

    def version(self):
        """memcached's "version" command: libshmc's version, as bytes (e.g. b'0.1.0')."""
        return SHMC_VERSION.encode()

    def quit(self):
        """memcached's "quit": the same as close()."""
        self.close()

    disconnect_all = _shmc.Client.close

    def cache_memlimit(self, memlimit):
        """memcached's "cache_memlimit".  A shmc cache's memory is fixed when the file is
        created, so this raises MemcacheServerError (after checking memlimit is an int)."""
        if not isinstance(memlimit, int):
            raise MemcacheIllegalInputError(
                "memlimit must be integer, got bad value: %r" % (memlimit,))
        raise MemcacheServerError(b"cache_memlimit is not supported: the size is fixed at creation")

    def shutdown(self, graceful=False):
        """memcached's "shutdown": there is no server to stop, so this raises
        MemcacheUnknownCommandError, as memcached does without --enable-shutdown."""
        raise MemcacheUnknownCommandError(b"shutdown")

    def invalidate(self, key, cas=None, expire=None):
        """memcached's ``md key I``: mark key stale instead of deleting it.  It is still
        served (meta_get says stale=True), and its next fetcher through meta_get or
        get_or_compute wins the right to recompute it while the others keep the stale value.
        cas: only if the item's cas is still this.  expire: also set its expiry.  Returns
        True, False when key is missing, None when cas differs."""
        return self.meta_delete(key, cas=cas, invalidate=True, expire=expire)

    def get_or_compute(self, key, fn, expire=0, lease=30, poll=0.01):
        """The value of key; when it is missing or stale, fn() computed once across every
        process and thread that shares the cache (shmc's answer to apcu_entry).

        Exactly one caller wins the right to compute (a memcached win token, N/W): it calls
        fn(), stores the result with expire and returns it.  While it computes, the others
        return the stale value when there is one, else wait for the winner's value (polling
        every poll seconds).  lease: seconds the empty placeholder of a missing key lives, so
        a winner that dies frees the key by then (a stale item's win is retaken after 30 s).
        If fn raises, its placeholder is removed (so the next caller computes) and the
        exception propagates."""
        import time as _time
        while True:
            value, meta = self.meta_get(key, vivify=lease)
            if meta is None:  # went between the miss and the fetch: look again
                continue
            if meta["win"] == "won":
                try:
                    value = fn()
                except BaseException:
                    if meta["created"]:
                        self.meta_delete(key, cas=meta["cas"])
                    raise
                self.set(key, value, expire=expire)
                return value
            if meta["win"] != "taken" or meta["stale"]:
                return value
            _time.sleep(poll)  # a placeholder: the winner is computing

    def __enter__(self):
        """Use as a context manager: the cache is closed (detached) at the end."""
        return self

    def __exit__(self, exc_type, exc_value, traceback):
        """Close the Client (its items stay in the cache); exceptions propagate."""
        self.close()
        return False

    def __setitem__(self, key, value):
        """``client[key] = value``: set(key, value, noreply=True)."""
        self.set(key, value, noreply=True)

    def __getitem__(self, key):
        """``client[key]``: get(key); KeyError when missing."""
        value = self.get(key)
        if value is None:
            raise KeyError
        return value

    def __delitem__(self, key):
        """``del client[key]``: delete(key, noreply=True)."""
        self.delete(key, noreply=True)


_sys_maxsize_64 = __import__("sys").maxsize > 2**32
