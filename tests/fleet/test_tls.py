"""test_tls.py — shmcd -Z: TLS with OpenSSL, memcached's -o ssl_* settings.

Certificates are made here with the openssl CLI: a CA that signs the server's and a good
client's certificate, and a second, untrusted CA that signs a rogue client's.  Checked:
a client with the right certificate stores and reads items; with ssl_verify_mode=2 a client
with the untrusted certificate, or with none, is refused; plain TCP to the TLS port is closed
without a reply; a half-done handshake holds up no one (one worker thread serves a good
client meanwhile); "stats settings" reports the ssl_* lines exactly as memcached 1.6.18 does
with the same options; SIGHUP loads renewed certificates for new connections (and broken
files keep the old ones); bad TLS settings stop shmcd at start with a message."""
import os
import signal
import socket
import ssl
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fleetlib as fl  # noqa: E402


def tls_client(port, ca, cert=None):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(ca)
    if cert:
        ctx.load_cert_chain(cert[1], cert[0])
    raw = socket.create_connection(("127.0.0.1", port), timeout=5)
    return ctx.wrap_socket(raw, server_hostname="localhost")


def refused(port, ca, cert):
    """Whether a TLS client with `cert` gets no answer to a request (TLS 1.3 reports a
    refused client certificate after the handshake, on the first read)."""
    try:
        s = tls_client(port, ca, cert)
        reply = fl.request(s, b"version\r\n", until=b"\r\n")
        s.close()
        return not reply.startswith(b"VERSION")
    except (ssl.SSLError, OSError):
        return True


def settings_lines(sock):
    reply = fl.request(sock, b"stats settings\r\n", until=b"END\r\n")
    return [l for l in reply.decode().split("\r\n") if l.startswith("STAT ssl_")]


def main():
    fl.require("openssl", "openssl")
    wd = fl.Workdir()
    try:
        ca = fl.make_ca(wd, "ca")
        rogue_ca = fl.make_ca(wd, "rogue-ca")
        server = fl.make_cert(wd, "server", ca, server=True)
        good = fl.make_cert(wd, "client", ca)
        rogue = fl.make_cert(wd, "rogue", rogue_ca)
        opts = "ssl_chain_cert=%s,ssl_key=%s,ssl_ca_cert=%s,ssl_verify_mode=2" % (
            server[1], server[0], ca[1])

        node = wd.shmcd("tls", "-Z", "-o", opts, "-t", "1")
        port = node.port

        s = tls_client(port, ca[1], good)
        r = fl.request(s, b"set k 0 0 5\r\nhello\r\nget k\r\n", until=b"END\r\n")
        fl.check(r == b"STORED\r\nVALUE k 0 5\r\nhello\r\nEND\r\n",
                 "a client with a certificate from the trusted CA stores and reads: %r" % r)
        big = os.urandom(200000).hex().encode()  # many TLS records each way
        r = fl.request(s, b"set big 0 0 %d\r\n%s\r\nget big\r\n" % (len(big), big),
                       timeout=10, until=b"END\r\n")
        fl.check(r == b"STORED\r\nVALUE big 0 %d\r\n%s\r\nEND\r\n" % (len(big), big),
                 "a 400 KB value goes both ways through TLS")
        ours = settings_lines(s)
        s.close()

        fl.check(refused(port, ca[1], rogue), "a client certificate from an untrusted CA is refused")
        fl.check(refused(port, ca[1], None), "no client certificate with ssl_verify_mode=2 is refused")

        plain = socket.create_connection(("127.0.0.1", port), timeout=5)
        r = fl.request(plain, b"version\r\n", timeout=5)
        fl.check(not r.startswith(b"VERSION") and (r.endswith(b"<EOF>") or r.endswith(b"<RESET>")),
                 "plain TCP to the TLS port is closed without an answer: %r" % r[:60])
        plain.close()

        # a handshake left half-done: the record header of a ClientHello, then silence
        stuck = socket.create_connection(("127.0.0.1", port), timeout=5)
        stuck.sendall(b"\x16\x03\x01\x02\x00\x01")
        t0 = time.time()
        s = tls_client(port, ca[1], good)
        r = fl.request(s, b"get k\r\n", until=b"END\r\n")
        fl.check(r == b"VALUE k 0 5\r\nhello\r\nEND\r\n" and time.time() - t0 < 5,
                 "a half-done handshake does not hold up another client on the same worker")
        s.close()
        stuck.close()

        # the ssl_* settings lines, against memcached 1.6.18 with the same options
        mc = wd.memcached("-Z", "-o", opts)
        s = tls_client(mc.port, ca[1], good)
        theirs = settings_lines(s)
        s.close()
        mc.stop()
        fl.check(len(theirs) >= 10 and ours == theirs,
                 "stats settings' ssl_* lines match memcached's:\n  ours   %s\n  theirs %s"
                 % (ours, theirs))

        # -l notls:ADDR:PORT: one listener without TLS beside the TLS ones, as memcached's
        for name, start in (("memcached", lambda p: wd.memcached("-Z", "-o", opts, "-l", p)),
                            ("shmcd", lambda p: wd.shmcd("notls", "-Z", "-o", opts, "-l", p))):
            plain_port = fl.free_port()
            srv = start("notls:127.0.0.1:%d" % plain_port)
            fl.wait_port(plain_port, srv.p)
            plain = socket.create_connection(("127.0.0.1", plain_port), timeout=5)
            r = fl.request(plain, b"set n 0 0 1\r\nx\r\nget n\r\n", until=b"END\r\n")
            fl.check(r == b"STORED\r\nVALUE n 0 1\r\nx\r\nEND\r\n",
                     "%s: plain TCP on the notls: listener: %r" % (name, r[:60]))
            plain.close()
            s = tls_client(srv.port, ca[1], good)
            r = fl.request(s, b"get n\r\n", until=b"END\r\n")
            fl.check(r == b"VALUE n 0 1\r\nx\r\nEND\r\n",
                     "%s: TLS still on the other listener: %r" % (name, r[:60]))
            s.close()
            fl.check(srv.stop() == 0, "%s with a notls: listener exits cleanly" % name)

        # ssl_verify_mode=0: no client certificate needed; TLS 1.3 minimum is honoured
        node2 = wd.shmcd("tls2", "-Z", "-o", "ssl_chain_cert=%s,ssl_key=%s,ssl_min_version=3"
                         % (server[1], server[0]))
        s = tls_client(node2.port, ca[1], None)
        r = fl.request(s, b"version\r\n", until=b"\r\n")
        fl.check(r.startswith(b"VERSION") and s.version() == "TLSv1.3",
                 "ssl_verify_mode=0 serves a client without a certificate (%s)" % s.version())
        s.close()
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.load_verify_locations(ca[1])
        ctx.maximum_version = ssl.TLSVersion.TLSv1_2
        try:
            s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", node2.port), timeout=5),
                                server_hostname="localhost")
            s.close()
            ok = False
        except (ssl.SSLError, OSError):
            ok = True
        fl.check(ok, "ssl_min_version=3 refuses a TLS 1.2 client")

        # TLS and -Y together: authentication runs inside the TLS session
        with open(wd.file("auth"), "w") as f:
            f.write("app:s3cret\n")
        node3 = wd.shmcd("tls3", "-Z", "-o", opts, "-Y", wd.file("auth"))
        s = tls_client(node3.port, ca[1], good)
        r1 = fl.request(s, b"get k\r\n", until=b"\r\n")
        r2 = fl.request(s, b"set x 0 0 10\r\napp s3cret\r\nversion\r\n", until=b"\r\n", timeout=1)
        fl.check(r1 == b"CLIENT_ERROR unauthenticated\r\n" and r2.startswith(b"STORED\r\nVERSION"),
                 "-Y over -Z: refused until authenticated, then served: %r %r" % (r1, r2))
        s.close()

        # SIGHUP loads renewed certificates for new connections; open ones keep theirs, and
        # files that do not load leave the old context in use
        live_crt, live_key = wd.file("live.pem"), wd.file("live.key")
        renewed = fl.make_cert(wd, "renewed", ca, server=True)

        def install(cert):
            for src, dst in ((cert[1], live_crt), (cert[0], live_key)):
                with open(src, "rb") as f, open(dst + ".tmp", "wb") as g:
                    g.write(f.read())
                os.replace(dst + ".tmp", dst)

        def peer_cn(s):
            return dict(x[0] for x in s.getpeercert()["subject"])["commonName"]

        install(server)
        node4 = wd.shmcd("tls4", "-Z", "-o", "ssl_chain_cert=%s,ssl_key=%s" % (live_crt, live_key))
        before = tls_client(node4.port, ca[1])
        fl.check(peer_cn(before) == "server", "before SIGHUP: the first certificate")
        install(renewed)
        node4.p.send_signal(signal.SIGHUP)
        cn = None
        for _ in range(100):  # the main thread reloads when it reads the signal
            s = tls_client(node4.port, ca[1])
            cn = peer_cn(s)
            s.close()
            if cn == "renewed":
                break
            time.sleep(0.05)
        fl.check(cn == "renewed", "after SIGHUP, new connections get the renewed certificate: %r" % cn)
        fl.check(fl.request(before, b"version\r\n", until=b"\r\n").startswith(b"VERSION"),
                 "a connection opened before SIGHUP still works")
        before.close()
        with open(live_crt, "w") as f:
            f.write("not a certificate\n")
        node4.p.send_signal(signal.SIGHUP)
        time.sleep(0.5)
        s = tls_client(node4.port, ca[1])
        fl.check(node4.p.poll() is None and peer_cn(s) == "renewed" and
                 fl.request(s, b"version\r\n", until=b"\r\n").startswith(b"VERSION"),
                 "a SIGHUP with broken files keeps shmcd up with the certificate it had")
        s.close()

        # bad settings: a clear message and no server
        bad = [
            (["-Z"], 64, "ssl_chain_cert"),
            (["-Z", "-o", "ssl_chain_cert=%s,ssl_verify_mode=7" % server[1]], 64, "ssl_verify_mode"),
            (["-Z", "-o", "ssl_chain_cert=%s,ssl_verify_mode=2" % server[1]], 64, "ssl_ca_cert"),
            (["-Z", "-o", "ssl_chain_cert=%s,ssl_key=%s" % (wd.file("none.pem"), server[0])], 1,
             "certificate chain"),
            (["-Z", "-o", "ssl_chain_cert=%s,ssl_key=%s" % (server[1], good[0])], 1,
             "private key"),
            (["-Z", "-o", "ssl_chain_cert=%s,ssl_key=%s,ssl_ciphers=NOPE" % (server[1], server[0])],
             1, "cipher"),
        ]
        for args, rc, word in bad:
            p = wd.shmcd_refused("bad", *args)
            fl.check(p.returncode == rc and word in p.stderr,
                     "shmcd %s: exit %d, says %r (%s)" % (" ".join(args)[-60:], p.returncode,
                                                          word, p.stderr.strip()[:100]))
        fl.check_clean_exits([node, node2, node3, node4])
    finally:
        wd.close()
    fl.finish()


if __name__ == "__main__":
    main()
