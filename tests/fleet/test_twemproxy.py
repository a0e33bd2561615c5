"""test_twemproxy.py — three shmcd nodes behind nutcracker (twemproxy), all on loopback.

nutcracker runs with distribution ketama, hash md5, auto_eject_hosts, server_failure_limit 1
and server_retry_timeout 1 s; its reply timeout is a generous 10 s, so that a node slowed
down by a sanitizer on a busy machine is not taken for a dead one.  Checked, each bounded in count and time:
 - 600 keys set through the proxy each land on the node twemproxy's ketama predicts (the
   continuum is computed here, as nc_ketama.c builds it) and on no other, asked directly;
 - every memcached command twemproxy forwards works through it;
 - a node killed with SIGKILL is ejected: within the retry bound every key is served again,
   and the dead node's keys now live where ketama over the two live nodes puts them;
 - the node restarted on its cache file rejoins warm: its keys answer again with the values
   it held before it died (shmc's warm restart; a restarted memcached node comes back empty)."""
import os
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fleetlib as fl  # noqa: E402

NKEYS = 600


def main():
    nutcracker = fl.require("nutcracker", "nutcracker")
    wd = fl.Workdir()
    try:
        nodes = [wd.shmcd("node%d" % i) for i in range(3)]
        names = ["node%d" % i for i in range(3)]
        proxy_port, stats_port = fl.free_port(), fl.free_port()
        conf = wd.file("nutcracker.yml")
        with open(conf, "w") as f:
            f.write("fleet:\n  listen: 127.0.0.1:%d\n  hash: md5\n  distribution: ketama\n"
                    "  auto_eject_hosts: true\n  server_failure_limit: 1\n"
                    "  server_retry_timeout: 1000\n  timeout: 10000\n  servers:\n" % proxy_port)
            for n, name in zip(nodes, names):
                f.write("   - 127.0.0.1:%d:1 %s\n" % (n.port, name))
        proxy = wd.start([nutcracker, "-c", conf, "-s", str(stats_port), "-a", "127.0.0.1",
                          "-o", wd.file("nutcracker.log"), "-p", wd.file("nutcracker.pid")],
                         proxy_port)

        keys = ["key:%d" % i for i in range(NKEYS)]
        c = fl.Client(proxy_port)
        stored = sum(c.cmd("set %s 0 0 %d" % (k, len(k) + 2), b"v-" + k.encode()) == "STORED"
                     for k in keys)
        fl.check(stored == NKEYS, "%d/%d sets through nutcracker stored" % (stored, NKEYS))

        all3 = fl.ketama_points(names)
        expect = {k: fl.ketama_node(all3, k) for k in keys}
        direct = [fl.Client(n.port) for n in nodes]
        where = {k: [] for k in keys}
        for i, d in enumerate(direct):
            for j in range(0, NKEYS, 100):
                for k in d.get(*keys[j:j + 100]):
                    where[k].append(i)
        placed = sum(where[k] == [expect[k]] for k in keys)
        share = [sum(v == i for v in expect.values()) for i in range(3)]
        fl.check(placed == NKEYS, "%d/%d keys on exactly the node ketama predicts" % (placed, NKEYS))
        fl.check(min(share) > NKEYS // 6, "keys spread over the three nodes: %s" % share)

        # the commands twemproxy forwards
        r = c.cmd("add fresh 0 0 1", b"a"), c.cmd("add fresh 0 0 1", b"b")
        fl.check(r == ("STORED", "NOT_STORED"), "add: %s" % (r,))
        r = c.cmd("replace fresh 5 0 2", b"r1"), c.cmd("replace nothere 0 0 1", b"x")
        fl.check(r == ("STORED", "NOT_STORED"), "replace: %s" % (r,))
        r = c.cmd("append fresh 0 0 2", b"-a"), c.cmd("prepend fresh 0 0 2", b"p-")
        fl.check(r == ("STORED", "STORED") and c.get("fresh")["fresh"][:2] == (5, b"p-r1-a"),
                 "append, prepend: %s" % (r,))
        cas = c.get("fresh", cmd="gets")["fresh"][2]
        r = c.cmd("cas fresh 0 0 1 %d" % cas, b"c"), c.cmd("cas fresh 0 0 1 %d" % cas, b"d")
        fl.check(r == ("STORED", "EXISTS"), "gets + cas: %s" % (r,))
        c.cmd("set n 0 0 2", b"10")
        r = c.cmd("incr n 5"), c.cmd("decr n 3"), c.cmd("incr nothere 1")
        fl.check(r == ("15", "12", "NOT_FOUND"), "incr, decr: %s" % (r,))
        r = c.cmd("touch n 100"), c.cmd("touch nothere 100")
        fl.check(r == ("TOUCHED", "NOT_FOUND"), "touch: %s" % (r,))
        r = c.cmd("delete n"), c.cmd("delete n")
        fl.check(r == ("DELETED", "NOT_FOUND"), "delete: %s" % (r,))
        got = c.get(*keys[:50])
        fl.check(len(got) == 50 and all(got[k][1] == b"v-" + k.encode() for k in keys[:50]),
                 "a 50-key multi-get spanning the three nodes")
        got = c.get(*keys[:20], cmd="gets")
        fl.check(len(got) == 20 and all(v[2] for v in got.values()), "multi-gets with cas")
        fl.check(c.cmd("set big 0 0 100000", b"b" * 100000) == "STORED"
                 and c.get("big")["big"][1] == b"b" * 100000, "a 100 KB value")
        c.s.sendall(b"set noreply-k 0 0 1 noreply\r\nz\r\n")
        fl.check(c.get("noreply-k").get("noreply-k", (0, b""))[1] == b"z", "set noreply")

        # kill node 1: it is ejected and its keys move
        victim = 1
        nodes[victim].stop(signal.SIGKILL)
        direct[victim].close()
        two = fl.ketama_points([names[0], names[2]])
        deadline = time.time() + 20
        moved_ok = 0
        while time.time() < deadline:
            c.close()
            c = fl.Client(proxy_port)
            fails = 0
            for k in keys:
                if c.cmd("set %s 0 0 %d" % (k, len(k) + 6), b"after-" + k.encode()) != "STORED":
                    fails += 1
            if fails == 0:
                break
            time.sleep(0.2)
        fl.check(fails == 0, "after node%d died every set succeeds again within the bound" % victim)
        survivors = {0: 0, 1: 2}
        mine = [k for k in keys if expect[k] == victim]
        for k in mine:
            node = survivors[fl.ketama_node(two, k)]
            if direct[node].get(k).get(k, (0, b""))[1] == b"after-" + k.encode():
                moved_ok += 1
        fl.check(len(mine) > 0 and moved_ok == len(mine),
                 "node%d's %d keys moved to where ketama over the two live nodes puts them (%d)"
                 % (victim, len(mine), moved_ok))

        # restart it on its cache file: it rejoins with its items
        nodes[victim] = wd.shmcd("node%d" % victim, port=nodes[victim].port)
        deadline = time.time() + 20
        warm = 0
        while time.time() < deadline:
            time.sleep(0.3)
            try:
                c.close()
                c = fl.Client(proxy_port)
                got = {}
                for j in range(0, len(mine), 100):
                    got.update(c.get(*mine[j:j + 100]))
            except (RuntimeError, ConnectionError):
                continue
            warm = sum(got.get(k, (0, b""))[1] == b"v-" + k.encode() for k in mine)
            if warm == len(mine):
                break
        fl.check(warm == len(mine), "node%d rejoined warm: %d/%d of its keys answer with the "
                 "values it held before it died" % (victim, warm, len(mine)))
        others = [k for k in keys if expect[k] != victim][:100]
        got = c.get(*others)
        fl.check(all(got[k][1] == b"after-" + k.encode() for k in others),
                 "the other nodes' keys are unaffected by the rejoin")
        c.close()
        for d in direct:
            d.close()
        proxy.stop()
        fl.check_clean_exits(nodes)
    finally:
        wd.close()
    fl.finish()


if __name__ == "__main__":
    main()
