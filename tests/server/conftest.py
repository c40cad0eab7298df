"""Fixtures for the omendb-server tests.

`server` starts build/omendb-server (or $OMENDB_SERVER) on a free loopback
port with a fresh data directory and stops it by PID; `r` is a redis-py
client (RESP2, decode_responses) bound to it, `r3` a RESP3 raw-socket
helper.  ServerProc can restart a server on the same directory (durability
tests).
"""
import os
import signal
import socket
import subprocess
import time

import pytest
import redis

BIN = os.environ.get("OMENDB_SERVER") or os.path.join(
    os.path.dirname(__file__), "..", "..", "build", "omendb-server")
BIN = os.path.abspath(BIN)

if not os.access(BIN, os.X_OK):
    pytest.skip(f"omendb-server not built: {BIN}", allow_module_level=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ServerProc:
    def __init__(self, datadir, *args, port=None, preexec_fn=None):
        self.datadir = str(datadir)
        self.args = list(args)
        self.port = port or free_port()
        self.preexec_fn = preexec_fn  # e.g. lower a resource limit of the server
        self.proc = None
        self.log = None

    def start(self):
        self.log = open(os.path.join(os.path.dirname(self.datadir), f"server-{self.port}.log"), "ab")
        self.proc = subprocess.Popen(
            [BIN, "--port", str(self.port), "--bind", "127.0.0.1", "--dir", self.datadir, *self.args],
            stdout=self.log, stderr=self.log, preexec_fn=self.preexec_fn)
        deadline = time.time() + 30
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"omendb-server exited with {self.proc.returncode}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("omendb-server did not start")

    def client(self, **kw):
        kw.setdefault("decode_responses", True)
        kw.setdefault("socket_timeout", 30)
        return redis.Redis(host="127.0.0.1", port=self.port, **kw)

    def stop(self, sig=signal.SIGTERM, timeout=30):
        if self.proc and self.proc.poll() is None:
            os.kill(self.proc.pid, sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        if self.log:
            self.log.close()
            self.log = None
        return self.proc.returncode if self.proc else None

    def alive(self):
        return self.proc is not None and self.proc.poll() is None


@pytest.fixture
def server(tmp_path):
    s = ServerProc(tmp_path / "data").start()
    yield s
    s.stop()


@pytest.fixture
def r(server):
    c = server.client()
    yield c
    c.close()


class Raw:
    """A raw RESP connection: send commands, read replies unparsed."""

    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.buf = b""

    def send(self, data):
        self.sock.sendall(data)

    def cmd(self, *args):
        out = b"*%d\r\n" % len(args)
        for a in args:
            a = a if isinstance(a, bytes) else str(a).encode()
            out += b"$%d\r\n%s\r\n" % (len(a), a)
        self.send(out)
        return self.read()

    def _fill(self):
        d = self.sock.recv(65536)
        if not d:
            raise ConnectionError("closed")
        self.buf += d

    def line(self):
        while b"\r\n" not in self.buf:
            self._fill()
        ln, self.buf = self.buf.split(b"\r\n", 1)
        return ln

    def read(self):
        """Parse one reply into Python values; RESP3 types keep a tag."""
        ln = self.line()
        t, rest = ln[:1], ln[1:]
        if t in (b"+",):
            return ("status", rest.decode())
        if t == b"-":
            return ("error", rest.decode())
        if t == b":":
            return int(rest)
        if t in (b"$", b"="):
            n = int(rest)
            if n < 0:
                return None
            while len(self.buf) < n + 2:
                self._fill()
            v, self.buf = self.buf[:n], self.buf[n + 2:]
            return v if t == b"$" else ("verbatim", v)
        if t in (b"*", b"~", b">"):
            n = int(rest)
            if n < 0:
                return None
            items = [self.read() for _ in range(n)]
            return items if t == b"*" else (("set" if t == b"~" else "push"), items)
        if t == b"%":
            n = int(rest)
            return ("map", [(self.read(), self.read()) for _ in range(n)])
        if t == b"_":
            return ("null",)
        if t == b",":
            return ("double", rest.decode())
        if t == b"#":
            return ("bool", rest == b"t")
        raise ValueError(f"bad reply type {ln!r}")

    def closed(self, timeout=5):
        """True if the server closed the connection (after any pending data)."""
        self.sock.settimeout(timeout)
        try:
            while True:
                d = self.sock.recv(65536)
                if not d:
                    return True
                self.buf += d
        except (ConnectionResetError, BrokenPipeError):
            return True
        except socket.timeout:
            return False

    def close(self):
        self.sock.close()


@pytest.fixture
def raw(server):
    c = Raw(server.port)
    yield c
    c.close()
