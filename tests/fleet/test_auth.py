"""test_auth.py — shmcd -Y FILE: memcached's ASCII authentication.

The same conversations go to memcached 1.6.18 (-Y, the same file) and to shmcd, one request
at a time, and the replies must be equal byte for byte: refused commands, malformed and
wrong credentials, the line-length limit, then a successful login and ordinary use.  Then
what an unauthenticated connection can do to items is checked directly: nothing (it sees no
value, changes none, deletes none, flushes nothing), and "stats" counts auth_cmds and
auth_errors as memcached does.  One deliberate difference is checked too: memcached answers
only one pipelined request per read before authentication (the rest wait for more input);
shmcd answers every request it has.

A refused storage command's data block (ms, cas, append: anything but the login "set") is
not consumed: memcached 1.6.18 reads it as the next command line (measured: "ms k 1" then
"x" is two "CLIENT_ERROR unauthenticated" and two auth_cmds; a block that is itself a login
line logs in), and so does shmcd; the conversations below hold it to that."""
import os
import socket
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fleetlib as fl  # noqa: E402

CONVERSATIONS = [
    [b"get foo\r\n", b"version\r\n", b"stats\r\n", b"quit\r\n", b"bogus\r\n", b"\r\n"],
    [b"mg k v\r\n", b"ms k 1\r\n", b"x\r\n", b"gets k\r\n", b"incr k 1\r\n", b"delete k\r\n",
     b"flush_all\r\n", b"SET foo 0 0 12\r\n"],
    [b"set foo 0 0 3\r\nabc\r\n", b"set foo 0 0 11\r\nalicesecret\r\n",
     b"set foo 0 0 9\r\nalice bad\r\n", b"set foo 0 0 12\r\nalice secreX\r\n",
     b"set foo 0 0 12\r\nalice secretXY", b"set foo 0 0 -1\r\n", b"set foo 0 0\r\n",
     b"set foo 0 0 x\r\n", b"add foo 0 0 12\r\n", b"set foo 0 0 10\r\nbob secret\r\n",
     b"set foo 0 0 7\r\nalice s\r\n", b"set a 0 0 500\r\n" + b"a" * 500 + b"\r\n"],
    [b"set a 0 0 3 noreply\r\nabc\r\n", b"set foo 0 0 13\r\nalice  secret\r\n",
     b"set  foo  0 0 12\r\nalice secret\r\n", b"set k 0 0 1\r\nx\r\n", b"get k\r\n"],
    [b"set foo 0 0 13\r\nalice secret \r\n", b"get k\r\n"],
    [b"set foo 0 0 7\r\nbob pw2\r\n", b"set k 0 0 1\r\ny\r\n", b"gets k\r\n"],
    [b"set foo 0 0 12\nalice secret\r\n", b"get k\r\n"],
    [b"ms k 12\r\n", b"set x 0 0 12\r\n", b"alice secret\r\n", b"get x\r\n"],
    [b"ms k S12 T0\r\n", b"alice secret\r\n", b"cas k 0 0 3 1\r\n", b"abc\r\n",
     b"append k 0 0 3\r\n", b"abc\r\n", b"version\r\n"],
    [b"x" * 2048, b"\r\n"],
    [b"x" * 2049],
]


def complete(reply):
    return reply.endswith(b"\r\n") and (not reply.startswith(b"VALUE") or reply.endswith(b"END\r\n"))


def talk(port, conversation):
    """Each request's reply: complete replies end at once; a request that gets none (the
    server waits for more input) costs a 2 s wait."""
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    replies = [fl.request(s, req, timeout=2.0, done=complete) for req in conversation]
    s.close()
    return replies


def stats(port, *names):
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    fl.request(s, b"set x 0 0 12\r\nalice secret\r\n", until=b"\r\n")
    r = fl.request(s, b"stats\r\n", until=b"END\r\n").decode()
    s.close()
    got = dict(l.split(" ", 2)[1:] for l in r.split("\r\n") if l.startswith("STAT "))
    return [got.get(n) for n in names]


def main():
    wd = fl.Workdir()
    try:
        auth = wd.file("users")
        with open(auth, "w") as f:
            f.write("alice:secret\nbob:pw2\n")
        os.chmod(auth, 0o644)
        mc = wd.memcached("-Y", auth)
        node = wd.shmcd("auth", "-Y", auth)
        for conv in CONVERSATIONS:
            theirs = talk(mc.port, conv)
            ours = talk(node.port, conv)
            fl.check(ours == theirs, "same replies as memcached to %r:\n  %r" %
                     ([c[:40] for c in conv], ours) + ("" if ours == theirs else
                                                      "\n  memcached: %r" % theirs))
        a = stats(mc.port, "auth_cmds", "auth_errors")
        b = stats(node.port, "auth_cmds", "auth_errors")
        fl.check(a == b, "auth_cmds, auth_errors counted as memcached counts them: %s %s" % (b, a))

        # an unauthenticated connection reaches no item
        good = socket.create_connection(("127.0.0.1", node.port), timeout=5)
        fl.request(good, b"set x 0 0 12\r\nalice secret\r\n", until=b"\r\n")
        fl.request(good, b"set secret 0 0 6\r\nvalue1\r\n", until=b"\r\n")
        bad = socket.create_connection(("127.0.0.1", node.port), timeout=5)
        for req in [b"get secret\r\n", b"mg secret v\r\n", b"delete secret\r\n",
                    b"flush_all\r\n", b"incr secret 1\r\n", b"append secret 0 0 1\r\nz\r\n",
                    b"ms secret 2\r\nzz\r\n", b"set x 0 0 8\r\nalice no\r\n",
                    b"set secret 0 0 6\r\nvalue2\r\n", b"touch secret 1\r\n",
                    b"gat 1 secret\r\n"]:
            r = fl.request(bad, req, timeout=0.5)
            fl.check(b"value" not in r and b"VALUE" not in r and not r.startswith(b"STORED")
                     and not r.startswith(b"OK") and not r.startswith(b"DELETED"),
                     "unauthenticated %r answered %r" % (req[:30], r))
        r = fl.request(good, b"get secret\r\n", until=b"END\r\n", timeout=2)
        fl.check(r == b"VALUE secret 0 6\r\nvalue1\r\nEND\r\n",
                 "the item is untouched after the unauthenticated attempts: %r" % r)
        bad.close()
        good.close()

        # pipelining before authentication: shmcd answers every request (memcached: one)
        s = socket.create_connection(("127.0.0.1", node.port), timeout=5)
        r = fl.request(s, b"bogus\r\nget a\r\nset x 0 0 12\r\nalice secret\r\nget secret\r\n",
                       until=b"END\r\n")
        fl.check(r == b"CLIENT_ERROR unauthenticated\r\n" * 2 + b"STORED\r\n"
                 b"VALUE secret 0 6\r\nvalue1\r\nEND\r\n", "pipelined login and get: %r" % r)
        s.close()

        # an oversized data block is discarded as it comes and refused
        s = socket.create_connection(("127.0.0.1", node.port), timeout=5)
        r = fl.request(s, b"set x 0 0 1000000\r\n" + b"a" * 1000000 + b"\r\nversion\r\n",
                       timeout=10, until=b"unauthenticated\r\n")
        fl.check(r == b"CLIENT_ERROR authentication failure\r\nCLIENT_ERROR unauthenticated\r\n",
                 "a 1 MB credential block is discarded unbuffered: %r" % r[:80])
        s.close()
        settings = fl.request(socket.create_connection(("127.0.0.1", node.port), timeout=5),
                              b"set x 0 0 7\r\nbob pw2\r\nstats settings\r\n", until=b"END\r\n")
        fl.check(b"STAT auth_enabled_ascii yes\r\n" in settings
                 and b"STAT auth_enabled_sasl no\r\n" in settings,
                 "stats settings says auth_enabled_ascii yes")

        # bad files stop shmcd at start
        with open(wd.file("malformed"), "w") as f:
            f.write("alice:secret\nnocolon\n")
        for path, word in [(wd.file("missing"), "cannot read"), (wd.file("malformed"), "line 2")]:
            p = wd.shmcd_refused("b", "-Y", path)
            fl.check(p.returncode == 1 and word in p.stderr,
                     "-Y %s: exit %d, %r" % (os.path.basename(path), p.returncode, p.stderr.strip()))
        mc.stop()
        fl.check_clean_exits([node])
    finally:
        wd.close()
    fl.finish()


if __name__ == "__main__":
    main()
