"""Protocol handling against Debian's redis-server 7 as an oracle.

The same raw bytes go to Redis and to omendb-server; the replies (byte for
byte) and whether the server closed the connection must agree.  Only
stateless commands are used (PING, ECHO, unknown ones), so the two
servers' data cannot make them differ.  Known, documented differences are
kept out of the inputs: NUL bytes (Redis stops reading an inline request
at one), inline requests over 64 KiB and multibulk counts over
max-multibulk-len.
"""
import random
import socket
import time

import pytest

from redis_oracle import oracle  # noqa: F401  (fixture)

SENTINEL = b"*2\r\n$4\r\nECHO\r\n$8\r\nSENTINEL\r\n"
SENTINEL_REPLY = b"$8\r\nSENTINEL\r\n"


def talk(port, data, cuts=()):
    """Send data (in pieces cut at `cuts`), then a sentinel request; read
    until the sentinel's reply, the close, or a quiet 0.3 s (a request left
    incomplete swallows the sentinel)."""
    s = socket.create_connection(("127.0.0.1", port))
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    out = bytearray()
    closed = False
    try:
        prev = 0
        for c in list(cuts) + [len(data)]:
            s.sendall(data[prev:c])
            prev = c
            if c != len(data):
                time.sleep(0.002)
        s.sendall(SENTINEL)
    except OSError:
        pass
    s.settimeout(0.3)
    try:
        while not out.endswith(SENTINEL_REPLY):
            d = s.recv(65536)
            if not d:
                closed = True
                break
            out += d
    except socket.timeout:
        pass
    except ConnectionResetError:
        closed = True
    s.close()
    return bytes(out), closed


CASES = [
    # multibulk and bulk lengths
    b"*abc\r\n", b"*\r\n", b"*+1\r\n$4\r\nPING\r\n", b"* 1\r\n", b"*1 \r\n$4\r\nPING\r\n",
    b"*02\r\n$4\r\nECHO\r\n$1\r\na\r\n", b"*-0\r\nPING\r\n", b"*-1\r\nPING\r\n", b"*-5\r\nPING\r\n",
    b"*0\r\nPING\r\n", b"*2147483648\r\n", b"*99999999999999999999999\r\n",
    b"*2\r\n$04\r\nECHO\r\n$1\r\na\r\n", b"*1\r\n$-0\r\n\r\n", b"*1\r\n$-1\r\n", b"*1\r\n$\r\n",
    b"*1\r\n$00000000000000000004\r\nPING\r\n", b"*1\r\n$99999999999999999999999\r\n",
    b"*1\r\n$536870913\r\n", b"*2\r\n$4\r\nECHO\r\n$0\r\n\r\n",
    # what stands where a bulk header should
    b"*1\r\n*1\r\n$4\r\nPING\r\n", b"*1\r\n+foo\r\n", b"*1\r\n:1\r\n", b"*1\r\n\r\n", b"*1\r\n\n\r\n",
    b"*1\r\n\xff\r\n",
    # CR without LF, bulk payloads not followed by CRLF
    b"*1\rX$4\r\nPING\r\n", b"*1\r\n$4\r\nPINGxxPING\r\n",
    # header lines too long
    b"*" + b"1" * 70000, b"*1\r\n$" + b"1" * 70000,
    # inline requests
    b"ECHO \"abc\r\n", b"ECHO 'abc\r\n", b"ECHO \"abc\"d\r\n", b"ECHO \"abc\"\x0b\r\n", b"ECHO a\x0bb\r\n",
    b"ECHO a\x0cb\r\n", b"\r\r\nPING\r\n", b"\nPING\n", b"\tECHO\t\tx\t\r\n", b"ECHO \"\"\r\n",
    b"ECHO \"a\\\"\r\n", b"ECHO \"\\x4\"\r\n", b"ECHO \"\\xZZ\"\r\n", b"ECHO \"\\x41\\n\\t\\z\"\r\n",
    b"ECHO 'a\\'b'\r\n", b"ECHO 'a\\nb'\r\n", b"ECHO a\"b c\"d\r\n", b"ECHO \"a\rb\"\r\n", b"   \r\nPING\r\n",
    # unknown commands and arity
    b"FOO bar baz\r\n", b"*2\r\n$3\r\nFOO\r\n$3\r\nbar\r\n", b"*1\r\n$0\r\n\r\n", b"\"\"\r\n", b"GET\r\n",
    b"*1\r\n$200\r\n" + b"x" * 200 + b"\r\n", b"FOO " + b" ".join(b"a%d" % i for i in range(100)) + b"\r\n",
    b"FOO " + b"y" * 300 + b"\r\n", b"FOO " + b"y" * 120 + b" zzzzzzzzzzzz w\r\n",
    b"FOO a\rb\r\n", b"HELLO x\r\n", b"HELLO 4\r\n", b"HELLO 1\r\n",
    # pipelines mixing valid and invalid requests
    b"PING\r\n*1\r\n$4\r\nPING\r\n*x\r\nPING\r\n", b"QUIT\r\nPING\r\n", b"*0\r\n*1\r\n$4\r\nPING\r\n",
]


@pytest.mark.parametrize("payload", CASES, ids=lambda p: repr(p[:40]))
def test_protocol_matches_redis(oracle, server, payload):  # noqa: F811
    assert talk(server.port, payload) == talk(oracle, payload)


def test_protocol_split_matches_redis(oracle, server):  # noqa: F811
    # Byte by byte: the incremental parser resumes where it stopped.
    for payload in (b"*2\r\n$4\r\nECHO\r\n$3\r\nabc\r\n", b"ECHO \"a b\"\r\n", b"*1\r\n$-0\r\n",
                    b"*2\r\n$4\r\nECHO\r\n$02\r\nab\r\n"):
        cuts = range(1, len(payload))
        assert talk(server.port, payload, cuts) == talk(oracle, payload, cuts), payload


def _random_stream(rnd):
    def bulk(a):
        return b"$%d\r\n%s\r\n" % (len(a), a)

    def mb(args):
        return b"*%d\r\n" % len(args) + b"".join(bulk(a) for a in args)

    words = [b"PING", b"ECHO", b"echo", b"FOO", b"", b"hello world", b"a\"b", b"'", b"\\x41", b"x" * 50]

    def arg():
        if rnd.random() < 0.5:
            return rnd.choice(words)
        return bytes(rnd.choice(b"abc \t\"'\\x0123456789*$-\r\n\x0b\x0c") for _ in range(rnd.randrange(12)))

    def valid():
        r = rnd.random()
        if r < 0.35:
            return mb([b"PING"])
        if r < 0.7:
            return mb([b"ECHO", arg()])
        if r < 0.8:
            return b"ECHO " + rnd.choice([b"abc", b"\"a b\"", b"'x y'", b"\"\\x41\\n\"", b"a\x0bb"]) + b"\r\n"
        if r < 0.9:
            return b"PING\r\n"
        return mb([rnd.choice(words) for _ in range(rnd.randrange(4))])

    def mutate(b):
        b = bytearray(b)
        for _ in range(rnd.randrange(1, 4)):
            if not b:
                b += b"*"
                continue
            i, op = rnd.randrange(len(b)), rnd.random()
            if op < 0.3:
                b[i] = rnd.choice(b"*$-0123456789\r\n \"'\\ax")
            elif op < 0.5:
                del b[i]
            elif op < 0.7:
                b[i:i] = bytes([rnd.choice(b"*$-0\r\n\"'")])
            elif op < 0.85:
                del b[i:]
            else:
                b[i:i] = rnd.choice([b"*-1\r\n", b"$-1\r\n", b"*0\r\n", b"\r", b"\n", b"*2\r\n", b"$0\r\n\r\n"])
        return bytes(b)

    return b"".join(mutate(v) if rnd.random() < 0.3 else v for v in (valid() for _ in range(rnd.randrange(1, 8))))


@pytest.mark.parametrize("seed", [1, 2])
def test_random_streams_match_redis(oracle, server, seed):  # noqa: F811
    rnd = random.Random(seed)
    diffs = []
    for _ in range(60):
        data = _random_stream(rnd)
        n = rnd.randrange(4) if len(data) > 1 else 0
        cuts = sorted(rnd.sample(range(1, len(data)), min(len(data) - 1, n))) if len(data) > 1 else []
        a, b = talk(oracle, data, cuts), talk(server.port, data, cuts)
        if a != b:
            diffs.append((data, a, b))
    assert diffs[:3] == []
