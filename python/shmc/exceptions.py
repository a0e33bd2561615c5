"""shmc's exceptions: pymemcache's own classes where pymemcache is importable, so the same
``except`` clauses catch errors from both clients; otherwise classes of the same names and
hierarchy.  ShmcError (a MemcacheError) carries libshmc's errors that memcached has no word
for: a file that is not a cache, a refused configuration, a failed system call."""

try:
    from pymemcache.exceptions import (  # noqa: F401
        MemcacheError,
        MemcacheClientError,
        MemcacheUnknownCommandError,
        MemcacheIllegalInputError,
        MemcacheServerError,
        MemcacheUnknownError,
        MemcacheUnexpectedCloseError,
    )
except ImportError:  # pragma: no cover - exercised by tests/python/test_exceptions.py

    class MemcacheError(Exception):
        "Base exception class"

    class MemcacheClientError(MemcacheError):
        """Raised when memcached fails to parse the arguments to a request, likely due
        to a malformed key and/or value, a bug in this library, or a version mismatch."""

    class MemcacheUnknownCommandError(MemcacheClientError):
        """Raised when memcached fails to parse a request, likely due to a bug in this
        library or a version mismatch with memcached."""

    class MemcacheIllegalInputError(MemcacheClientError):
        """Raised when a key or value is not legal for memcached (see the class docs
        for Client for more details)."""

    class MemcacheServerError(MemcacheError):
        """Raised when memcached reports a failure while processing a request, likely
        due to a bug or transient issue in memcached."""

    class MemcacheUnknownError(MemcacheError):
        """Raised when this library receives a response from memcached that it cannot
        parse, likely due to a bug in this library or a version mismatch."""

    class MemcacheUnexpectedCloseError(MemcacheServerError):
        "Raised when the connection with memcached closes unexpectedly."


class ShmcError(MemcacheError):
    """An error of libshmc itself: the cache file cannot be opened or created (not a
    cache file, another layout version, a configuration that differs from the file's,
    permissions, out of memory), or the cache was removed (``shmc rm``) while the Client had
    it open: "cache removed", ``e.rc`` 13 (SHMC_REMOVED), until a new cache is made under the
    name, which the Client then uses (after ``shmc resize`` it follows by itself).  ``str(e)``
    is libshmc's message; ``e.rc`` is the shmc_rc number (see include/shmc.h)."""

    def __init__(self, message, rc=None):
        super().__init__(message)
        self.rc = rc


__all__ = [
    "MemcacheError",
    "MemcacheClientError",
    "MemcacheUnknownCommandError",
    "MemcacheIllegalInputError",
    "MemcacheServerError",
    "MemcacheUnknownError",
    "MemcacheUnexpectedCloseError",
    "ShmcError",
]
