"""shmc.fleet — the local node in-process, for a Python application in a memcached fleet.

``HashClient`` is pymemcache's ``HashClient`` (same arguments, same ring, same failure
handling) with two more: ``local_server``, the (host, port) of the node that runs on this
host, as it appears in ``servers``, and ``local_cache``, the name or path of the cache file
that node's shmcd serves.  The ring decides every key's node exactly as before; for keys
it gives the local node, the client is a ``shmc.Client`` on that file, so those commands run
in this process through libshmc with no socket.  Every other node is reached over the
protocol as usual, and plain HashClients elsewhere agree on every key's node.
"""
from pymemcache.client.hash import HashClient as _HashClient

from . import Client


class _LocalClient(Client):
    """A shmc.Client that names itself after the node it stands for, as HashClient expects
    of the clients in its ring (set_many maps replies back through ``server``)."""

    def __init__(self, server, cache, **kwargs):
        super().__init__(cache, **kwargs)
        self._node = server

    @property
    def server(self):
        return self._node


class HashClient(_HashClient):
    def __init__(self, servers, *args, local_server=None, local_cache=None, **kwargs):
        if (local_server is None) != (local_cache is None):
            raise ValueError("local_server and local_cache go together")
        self._local_key = None
        if local_server is not None:
            self._local_key = self._make_client_key(tuple(local_server))
        self._local_cache = local_cache
        super().__init__(servers, *args, **kwargs)

    def add_server(self, server, port=None):
        if port is not None:
            server = (server, port)
        key = self._make_client_key(tuple(server) if isinstance(server, list) else server)
        if key != self._local_key:
            return super().add_server(server)
        self.clients[key] = _LocalClient(server, self._local_cache, **self.default_kwargs)
        self.hasher.add_node(key)

    def is_local(self, key):
        """Whether the ring gives key to the local node (served through libshmc)."""
        return self._local_key is not None and self.hasher.get_node(key) == self._local_key
