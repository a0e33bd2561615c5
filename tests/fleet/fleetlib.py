"""fleetlib.py — shared by the fleet tests (TLS, auth, twemproxy, ketama clients): start
private shmcd / memcached / nutcracker processes on free loopback ports in 21000..21999,
stop them by PID, make test certificates with the openssl CLI, and speak the text protocol
over a socket.  Every wait is bounded."""
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

SHMCD = os.environ.get("SHMCD", "")
FAILED = []
# Under the sanitizer builds the interpreter runs with the sanitizer's runtime preloaded (for
# the shmc module); the programs started from here carry their own or none.
CHILD_ENV = {k: v for k, v in os.environ.items() if k not in ("LD_PRELOAD", "PYTHONMALLOC")}


def run(argv, **kwargs):
    """subprocess.run with the children's environment."""
    return subprocess.run(argv, env=CHILD_ENV, **kwargs)


def check(cond, what):
    """Record a check; the script exits 1 at the end if any failed."""
    print(("ok: " if cond else "FAIL: ") + what, flush=True)
    if not cond:
        FAILED.append(what)


def finish():
    if FAILED:
        print("%d check(s) failed" % len(FAILED))
        sys.exit(1)
    print("all checks passed")


def require(tool, package):
    path = shutil.which(tool) or (os.path.exists("/usr/sbin/" + tool) and "/usr/sbin/" + tool)
    if not path:
        print("FAIL: %s is not installed (Debian package %s; ./build.sh test installs it)"
              % (tool, package))
        sys.exit(1)
    return path


def port_free(port):
    s = socket.socket()
    try:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", port))
        return True
    except OSError:
        return False
    finally:
        s.close()


_next_port = [21000 + (os.getpid() * 7) % 1000]


def free_port():
    for _ in range(1000):
        p = _next_port[0]
        _next_port[0] = 21000 + (p - 21000 + 13) % 1000
        if port_free(p):
            return p
    raise RuntimeError("no free port in 21000..21999")


def wait_port(port, proc, timeout=10.0):
    end = time.time() + timeout
    while time.time() < end:
        if proc.poll() is not None:
            return False
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return True
        except OSError:
            time.sleep(0.02)
    return False


class Proc:
    """A server process we started; stop() ends it by its PID."""

    def __init__(self, argv, port, log):
        self.argv, self.port, self.log = argv, port, log
        self.p = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, env=CHILD_ENV)

    def stop(self, sig=signal.SIGTERM):
        if self.p.poll() is None:
            self.p.send_signal(sig)
            try:
                self.p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait()
        return self.p.returncode


def check_clean_exits(procs):
    """Stop each server with SIGTERM; each must exit 0."""
    for pr in procs:
        check(pr.stop() == 0, "%s on port %d exits cleanly on SIGTERM"
              % (os.path.basename(pr.argv[0]), pr.port))


class Workdir:
    """A private temporary directory (world-readable, for memcached -u nobody)."""

    def __init__(self):
        self.path = tempfile.mkdtemp(prefix="shmc-test-fleet-%d-" % os.getpid(), dir="/dev/shm")
        os.chmod(self.path, 0o755)
        self.procs = []
        self.log = open(os.path.join(self.path, "servers.log"), "ab")

    def file(self, name):
        return os.path.join(self.path, name)

    def start(self, argv, port, wait=True):
        pr = Proc(argv, port, self.log)
        self.procs.append(pr)
        if wait and not wait_port(port, pr.p):
            pr.stop(signal.SIGKILL)
            self.log.flush()
            print(open(self.file("servers.log"), errors="replace").read()[-3000:])
            raise RuntimeError("cannot start %s" % " ".join(argv))
        return pr

    def shmcd_argv(self, cache, *args, port):
        return [SHMCD, "-p", str(port), "-l", "127.0.0.1", "-t", "2",
                "--cache=" + self.file(cache)] + list(args)

    def shmcd(self, cache, *args, port=None, wait=True):
        port = port or free_port()
        return self.start(self.shmcd_argv(cache, *args, port=port), port, wait)

    def shmcd_refused(self, cache, *args):
        """Run shmcd with arguments it must refuse at start: its CompletedProcess (text)."""
        return run(self.shmcd_argv(cache, *args, port=free_port()), capture_output=True,
                   text=True, timeout=20)

    def memcached(self, *args, port=None, wait=True):
        port = port or free_port()
        argv = [require("memcached", "memcached"), "-p", str(port), "-l", "127.0.0.1", "-U", "0"]
        if os.getuid() == 0:
            argv += ["-u", "nobody"]
        return self.start(argv + list(args), port, wait)

    def close(self):
        for pr in self.procs:
            pr.stop(signal.SIGKILL)
        self.log.close()
        with open(self.file("servers.log"), errors="replace") as f:
            text = f.read()
        reports = [l for l in text.splitlines() if "Sanitizer" in l or "runtime error:" in l]
        check(not reports, "no sanitizer report from the servers%s"
              % ("".join("\n  " + l for l in reports[:10])))
        shutil.rmtree(self.path, ignore_errors=True)


def openssl(*args):
    run(["openssl"] + list(args), check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL, timeout=60)


def make_ca(wd, name):
    key, crt = wd.file(name + ".key"), wd.file(name + ".pem")
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
            "-nodes", "-keyout", key, "-out", crt, "-days", "2", "-subj", "/CN=" + name)
    return key, crt


def make_cert(wd, name, ca, server=False):
    """A certificate for `name` signed by ca (key, cert); servers get localhost/127.0.0.1."""
    key, csr, crt = wd.file(name + ".key"), wd.file(name + ".csr"), wd.file(name + ".pem")
    openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
            "-keyout", key, "-out", csr, "-subj", "/CN=" + name)
    ext = wd.file(name + ".ext")
    with open(ext, "w") as f:
        f.write("subjectAltName=DNS:localhost,IP:127.0.0.1\n" if server
                else "extendedKeyUsage=clientAuth\n")
    openssl("x509", "-req", "-in", csr, "-CA", ca[1], "-CAkey", ca[0], "-CAcreateserial",
            "-out", crt, "-days", "2", "-extfile", ext)
    for p in (key, crt):
        os.chmod(p, 0o644)
    return key, crt


def request(sock, data, timeout=2.0, until=None, done=None):
    """Send data, then read until `until` (bytes) ends the reply, done(reply) is true, EOF or
    the timeout."""
    sock.settimeout(timeout)
    if data:
        sock.sendall(data)
    got = b""
    end = time.time() + timeout
    while time.time() < end:
        if (until is not None and got.endswith(until)) or (done is not None and done(got)):
            break
        try:
            chunk = sock.recv(65536)
        except socket.timeout:
            break
        except ConnectionResetError:
            got += b"<RESET>"
            break
        if not chunk:
            got += b"<EOF>"
            break
        got += chunk
    return got


def ketama_points(names, weights=None):
    """twemproxy's ketama continuum (nc_ketama.c) over the live servers `names`: 160
    points per server at equal weight, 4 per MD5 digest of "<name>-<i>"; sorted (value,
    server index) pairs."""
    import hashlib
    import struct
    weights = weights or [1] * len(names)
    total = float(sum(weights))
    points = []
    for idx, (name, w) in enumerate(zip(names, weights)):
        pct = w / total
        per_server = int((pct * 160 / 4 * len(names) + 0.0000000001) // 1) * 4
        for i in range(per_server // 4):
            digest = hashlib.md5(("%s-%d" % (name, i)).encode()).digest()
            for x in range(4):
                points.append((struct.unpack_from("<I", digest, x * 4)[0], idx))
    points.sort()
    return points


def ketama_node(points, key):
    """The server index that owns key: the first point at or after md5(key)'s first word."""
    import bisect
    import hashlib
    import struct
    h = struct.unpack_from("<I", hashlib.md5(key.encode()).digest(), 0)[0]
    i = bisect.bisect_left(points, (h, -1))
    return points[i if i < len(points) else 0][1]


class Client:
    """A text-protocol connection with whole-reply reads."""

    def __init__(self, port, timeout=5.0):
        self.s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.buf = b""

    def line(self):
        while b"\r\n" not in self.buf:
            chunk = self.s.recv(65536)
            if not chunk:
                raise ConnectionError("closed")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def exact(self, n):
        while len(self.buf) < n:
            chunk = self.s.recv(65536)
            if not chunk:
                raise ConnectionError("closed")
            self.buf += chunk
        data, self.buf = self.buf[:n], self.buf[n:]
        return data

    def cmd(self, line, data=None):
        """One request; the reply line (retrievals: see get)."""
        self.s.sendall(line.encode() + b"\r\n" + (data + b"\r\n" if data is not None else b""))
        return self.line().decode()

    def get(self, *keys, cmd="get"):
        """{key: (flags, value, cas or None)}; raises on an error line."""
        self.s.sendall(("%s %s\r\n" % (cmd, " ".join(keys))).encode())
        out = {}
        while True:
            line = self.line().decode()
            if line == "END":
                return out
            parts = line.split()
            if parts[0] != "VALUE":
                raise RuntimeError(line)
            value = self.exact(int(parts[3]) + 2)[:-2]
            out[parts[1]] = (int(parts[2]), value, int(parts[4]) if len(parts) > 4 else None)

    def close(self):
        self.s.close()
