"""Shared fixtures of the Python suites: the interpreter banner, a private cache per test
(in $SHMC_DIR, default /dev/shm, named shmc-test-<pid>-<n>), a private memcached on a free
loopback port in 21000..21999 and a UNIX socket (stopped by PID), and the `shmc` CLI."""
import itertools
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

import pytest

import shmc

BUILD = os.environ.get("SHMC_BUILD_DIR", "")
_counter = itertools.count()


def pytest_sessionstart(session):
    """Say which interpreter and which build of the module run, even under -q."""
    tr = session.config.pluginmanager.get_plugin("terminalreporter")
    if tr:
        tr.write_line("interpreter: %s (%s); shmc module: %s" % (
            sys.executable, sys.version.split()[0], shmc._shmc.__file__))


def cache_dir():
    return os.environ.get("SHMC_DIR", "/dev/shm")


@pytest.fixture
def cache_name():
    """A fresh cache name, removed after the test."""
    name = "shmc-test-%d-py%d" % (os.getpid(), next(_counter))
    path = os.path.join(cache_dir(), name)
    yield name
    if os.path.exists(path):
        os.unlink(path)


def shmc_tool():
    path = os.path.join(BUILD, "tools", "shmc") if BUILD else shutil.which("shmc")
    if not path or not os.path.exists(path):
        pytest.fail("the shmc CLI is needed (set SHMC_BUILD_DIR to the build directory)")
    return path


def _port_free(port):
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def foreign_env():
    """The environment for programs that are not ours (memcached): without the sanitizer
    runtime that the ASan/TSan suites preload into the interpreter."""
    env = dict(os.environ)
    env.pop("LD_PRELOAD", None)
    return env


def start_memcached(extra=()):
    """A private memcached (64 MiB, 1 MiB items): (process, tcp port, unix socket path, dir)."""
    exe = shutil.which("memcached") or "/usr/bin/memcached"
    if not os.path.exists(exe):
        pytest.fail("memcached is needed for the side-by-side tests (Debian: memcached)")
    tmp = tempfile.mkdtemp(prefix="shmc-test-mc-")
    os.chmod(tmp, 0o777)  # memcached drops to nobody before it creates the socket
    sock = os.path.join(tmp, "mc.sock")
    base = os.getpid() % 1000
    for attempt in range(50):
        port = 21000 + (base + attempt * 37) % 1000
        if not _port_free(port):
            continue
        args = [exe, "-l", "127.0.0.1", "-p", str(port), "-U", "0", "-m", "64", "-I", "1m",
                "-t", "2", "-c", "256"] + list(extra)
        if os.geteuid() == 0:
            args += ["-u", "nobody"]
        proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                env=foreign_env())
        for _ in range(200):
            if proc.poll() is not None:
                break
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
                    s.sendall(b"version\r\n")
                    if s.recv(64).startswith(b"VERSION"):
                        return proc, port, None, tmp
            except OSError:
                time.sleep(0.02)
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    pytest.fail("could not start memcached on a free port in 21000..21999")


def start_memcached_unix():
    exe = shutil.which("memcached") or "/usr/bin/memcached"
    tmp = tempfile.mkdtemp(prefix="shmc-test-mc-")
    os.chmod(tmp, 0o777)
    sock = os.path.join(tmp, "mc.sock")
    args = [exe, "-s", sock, "-a", "0777", "-m", "64", "-I", "1m", "-t", "2"]
    if os.geteuid() == 0:
        args += ["-u", "nobody"]
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            env=foreign_env())
    for _ in range(300):
        if proc.poll() is not None:
            break
        try:
            with socket.socket(socket.AF_UNIX) as s:
                s.connect(sock)
                s.sendall(b"version\r\n")
                if s.recv(64).startswith(b"VERSION"):
                    return proc, sock, tmp
        except OSError:
            time.sleep(0.02)
    if proc.poll() is None:
        proc.kill()
    pytest.fail("could not start memcached on a UNIX socket")


def stop(proc, tmp):
    if proc.poll() is None:
        os.kill(proc.pid, signal.SIGTERM)
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
    shutil.rmtree(tmp, ignore_errors=True)


@pytest.fixture(scope="session")
def memcached():
    """(host, port) of a private memcached for the whole session."""
    proc, port, _, tmp = start_memcached()
    yield ("127.0.0.1", port)
    stop(proc, tmp)
