"""Debian's redis-server 7 as an oracle for reply shapes.

`oracle` (module-scoped fixture) starts /usr/bin/redis-server in memory on
a free loopback port and stops it by PID; tests skip if it is not
installed.  `compare_script` sends the same commands to Redis and to
omendb-server over raw sockets (RESP2, and RESP3 after HELLO 3) and
returns the replies that differ byte for byte, after sorting the elements
of replies that Redis defines as unordered (RESP3 sets, and commands the
script marks with a leading "~").  A test may pass `same(args, a, b)` to
judge replies that may differ within limits (remaining TTLs).
"""
import os
import shlex
import shutil
import signal
import socket
import subprocess
import time

import pytest

from conftest import free_port

REDIS = shutil.which("redis-server") or "/usr/bin/redis-server"


def _enc(args):
    out = b"*%d\r\n" % len(args)
    for a in args:
        a = a if isinstance(a, bytes) else str(a).encode()
        out += b"$%d\r\n%s\r\n" % (len(a), a)
    return out


class Wire:
    """Replies as nested lists of their raw header/payload lines."""

    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=30)
        self.buf = b""

    def _fill(self):
        d = self.sock.recv(65536)
        if not d:
            raise ConnectionError("closed")
        self.buf += d

    def _line(self):
        while b"\r\n" not in self.buf:
            self._fill()
        ln, self.buf = self.buf.split(b"\r\n", 1)
        return ln

    def read(self):
        ln = self._line()
        t = ln[:1]
        if t in (b"$", b"="):
            n = int(ln[1:])
            if n < 0:
                return ln
            while len(self.buf) < n + 2:
                self._fill()
            v, self.buf = self.buf[:n], self.buf[n + 2:]
            return ln + b" " + v
        if t in (b"*", b"~", b"%", b">"):
            n = int(ln[1:])
            if n < 0:
                return ln
            items = [self.read() for _ in range(n * (2 if t == b"%" else 1))]
            if t == b"~":
                items.sort(key=repr)
            return [ln] + items
        return ln

    def cmd(self, args):
        self.sock.sendall(_enc(args))
        return self.read()

    def close(self):
        self.sock.close()


@pytest.fixture(scope="module")
def oracle(tmp_path_factory):
    if not os.access(REDIS, os.X_OK):
        pytest.skip("redis-server not installed")
    d = tmp_path_factory.mktemp("redis-oracle")
    port = free_port()
    log = open(d / "redis.log", "wb")
    proc = subprocess.Popen([REDIS, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                             "--appendonly", "no", "--dir", str(d)], stdout=log, stderr=log)
    deadline = time.time() + 30
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            break
        except OSError:
            if proc.poll() is not None or time.time() > deadline:
                raise RuntimeError("redis-server did not start")
            time.sleep(0.05)
    yield port
    os.kill(proc.pid, signal.SIGTERM)
    proc.wait(30)
    log.close()


def compare_script(redis_port, omen_port, script, resp=2, same=None):
    """Run the script's lines on both servers; return a list of differences."""
    diffs = []
    a, b = Wire(redis_port), Wire(omen_port)
    try:
        for c in (a, b):
            c.cmd(["FLUSHALL"])
            if resp == 3:
                c.cmd(["HELLO", "3"])
        for line in script.splitlines():
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            unordered = line.startswith("~")
            args = shlex.split(line.lstrip("~ "))
            ra, rb = a.cmd(args), b.cmd(args)
            if unordered and isinstance(ra, list) and isinstance(rb, list):
                ra = [ra[0]] + sorted(ra[1:], key=repr)
                rb = [rb[0]] + sorted(rb[1:], key=repr)
            if not (same(args, ra, rb) if same else ra == rb):
                diffs.append((line, ra, rb))
    finally:
        a.close()
        b.close()
    return diffs
