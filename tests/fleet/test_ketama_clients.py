"""test_ketama_clients.py — consistent-hashing clients against three shmcd nodes.

 - libmemcached's ketama and the local-node helper: runs test_ketama (C) against three
   shmcd nodes; it kills node 1 itself (see test_ketama.c).
 - pymemcache's HashClient, run against three memcached nodes and then against three shmcd
   nodes on the same ports: the same keys land on the same nodes, and when a node is killed
   both fleets behave alike (no exception with ignore_exc, the dead node's keys miss, then
   are stored on the live nodes once it is marked dead).
 - shmc.fleet.HashClient (the Python module's local-node client): the keys the ring gives
   the local node go to its cache file through libshmc; a plain HashClient over the same
   nodes reads every value it wrote, and it reads every value a plain HashClient wrote."""
import os
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fleetlib as fl  # noqa: E402

NKEYS = 300


def hashclient_run(wd, ports, start):
    """Start three nodes with start(port) -> Proc, run the HashClient scenario; a summary."""
    from pymemcache.client.hash import HashClient
    nodes = [start(p) for p in ports]
    servers = [("127.0.0.1", p) for p in ports]
    hc = HashClient(servers, ignore_exc=True, retry_attempts=1, retry_timeout=0,
                    dead_timeout=60, connect_timeout=5, timeout=10)
    keys = ["hk%d" % i for i in range(NKEYS)]
    for k in keys:
        hc.set(k, b"v-" + k.encode(), noreply=False)
    placement = {}
    for i, p in enumerate(ports):
        c = fl.Client(p)
        for j in range(0, NKEYS, 100):
            for k in c.get(*keys[j:j + 100]):
                placement[k] = i
        c.close()
    nodes[1].stop(signal.SIGKILL)
    errors = 0
    for k in keys:  # the first touches of the dead node fail quietly, then it is dropped
        try:
            hc.set(k, b"a-" + k.encode(), noreply=False)
        except Exception:
            errors += 1
    got = hc.get_many(keys)
    after = sum(got.get(k) == b"a-" + k.encode() for k in keys)
    for n in nodes:
        n.stop(signal.SIGKILL)
    hc.quit()
    return placement, errors, after


def main():
    wd = fl.Workdir()
    try:
        # libmemcached ketama + the C local-node helper
        nodes = [wd.shmcd("c%d" % i) for i in range(3)]
        ketama = os.path.join(os.environ["SHMC_FLEET_BIN"], "test_ketama")
        p = fl.run([ketama] + [str(n.port) for n in nodes]
                           + [wd.file("c0"), str(nodes[1].p.pid)],
                           capture_output=True, text=True, timeout=120)
        sys.stdout.write(p.stdout + p.stderr)
        fl.check(p.returncode == 0, "libmemcached ketama and shmc_fleet.h (test_ketama)")
        for n in nodes:
            n.stop(signal.SIGKILL)

        try:
            import pymemcache  # noqa: F401
        except ImportError:
            print("FAIL: pymemcache is not installed (Debian python3-pymemcache)")
            sys.exit(1)
        ports = [fl.free_port() for _ in range(3)]
        mc = hashclient_run(wd, ports, lambda p: wd.memcached(port=p))
        sh = hashclient_run(wd, ports, lambda p: wd.shmcd("h%d" % p, port=p))
        fl.check(len(sh[0]) == NKEYS and sh[0] == mc[0],
                 "HashClient puts every key on the same node with shmcd as with memcached")
        fl.check(min(list(sh[0].values()).count(i) for i in range(3)) > NKEYS // 6,
                 "HashClient spreads keys over the three shmcd nodes")
        fl.check(sh[1:] == mc[1:] and sh[2] >= NKEYS * 9 // 10,
                 "a killed node: errors raised %d, keys readable after %d/%d (memcached: %d, %d)"
                 % (sh[1], sh[2], NKEYS, mc[1], mc[2]))

        # shmc.fleet.HashClient: the local node through libshmc
        try:
            import shmc.fleet
        except ImportError as e:
            print("FAIL: the shmc module is not importable (%s; PYTHONPATH=<build>/python)" % e)
            sys.exit(1)
        from pymemcache.client.hash import HashClient
        nodes = [wd.shmcd("l%d" % i) for i in range(3)]
        servers = [("127.0.0.1", n.port) for n in nodes]
        local = shmc.fleet.HashClient(servers, local_server=servers[0],
                                      local_cache=wd.file("l0"))
        plain = HashClient(servers)
        keys = ["lk%d" % i for i in range(NKEYS)]
        local.set_many({k: b"L-" + k.encode() for k in keys}, noreply=False)
        got = plain.get_many(keys)
        fl.check(all(got.get(k) == b"L-" + k.encode() for k in keys),
                 "a plain HashClient reads every value shmc.fleet.HashClient wrote")
        n_local = sum(local.is_local(k) for k in keys)
        direct = fl.Client(nodes[0].port)
        on0 = set()
        for j in range(0, NKEYS, 100):
            on0.update(direct.get(*keys[j:j + 100]))
        direct.close()
        fl.check(n_local == len(on0) and n_local > NKEYS // 6,
                 "the local node owns %d keys and its shmcd serves exactly those (%d)"
                 % (n_local, len(on0)))
        for k in keys:
            plain.set(k, b"P-" + k.encode(), noreply=False)
        fl.check(all(local.get(k) == b"P-" + k.encode() for k in keys),
                 "shmc.fleet.HashClient reads every value a plain HashClient wrote")
        local.delete(keys[0], noreply=False)
        fl.check(plain.get(keys[0]) is None, "delete through it")
        fl.check_clean_exits(nodes)
    finally:
        wd.close()
    fl.finish()


if __name__ == "__main__":
    main()
