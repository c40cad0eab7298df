"""The wire protocol: inline commands, pipelines, protocol errors, limits."""
import os
import socket
import threading
import time

import pytest
import redis

from conftest import Raw, ServerProc


def test_inline_commands(raw):
    raw.send(b"SET k \"hello world\"\r\nGET k\r\nPING\r\n\r\nECHO 'it\\'s'\r\n")
    assert raw.read() == ("status", "OK")
    assert raw.read() == b"hello world"
    assert raw.read() == ("status", "PONG")
    assert raw.read() == b"it's"
    raw.send(b"ECHO \"a\\x41\\n\"\n")
    assert raw.read() == b"aA\n"
    raw.send(b"ECHO \"unbalanced\r\n")
    assert raw.read() == ("error", "ERR Protocol error: unbalanced quotes in request")
    assert raw.closed()


def test_pipeline_many(r):
    p = r.pipeline(transaction=False)
    for i in range(5000):
        p.set(f"k{i}", i)
    for i in range(5000):
        p.get(f"k{i}")
    res = p.execute()
    assert res[:5000] == [True] * 5000
    assert res[5000:] == [str(i) for i in range(5000)]


def test_split_request_bytes(raw):
    msg = b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$10\r\n0123456789\r\n*2\r\n$3\r\nGET\r\n$1\r\nk\r\n"
    for b in msg:
        raw.send(bytes([b]))
    assert raw.read() == ("status", "OK")
    assert raw.read() == b"0123456789"


@pytest.mark.parametrize("payload,err", [
    (b"*abc\r\n", "ERR Protocol error: invalid multibulk length"),
    (b"*1\r\n+foo\r\n", "ERR Protocol error: expected '$', got '+'"),
    (b"*1\r\n$-5\r\n", "ERR Protocol error: invalid bulk length"),
    (b"*1\r\n$999999999999\r\n", "ERR Protocol error: invalid bulk length"),
    (b"*3000000000\r\n", "ERR Protocol error: invalid multibulk length"),
    # Lengths are read in canonical form only, as Redis reads them: a
    # leading zero or "-0" is a protocol error there, so such a request
    # must not run.
    (b"*02\r\n$4\r\nECHO\r\n$1\r\na\r\n", "ERR Protocol error: invalid multibulk length"),
    (b"*-0\r\nPING\r\n", "ERR Protocol error: invalid multibulk length"),
    (b"*2\r\n$04\r\nECHO\r\n$1\r\na\r\n", "ERR Protocol error: invalid bulk length"),
    (b"*1\r\n$-0\r\n\r\n", "ERR Protocol error: invalid bulk length"),
    (b"*1\r\n$00000000000000000004\r\nPING\r\n", "ERR Protocol error: invalid bulk length"),
])
def test_protocol_errors_close(raw, payload, err):
    raw.send(payload)
    assert raw.read() == ("error", err)
    assert raw.closed()


def test_server_survives_garbage(server):
    import random
    rnd = random.Random(7)
    for _ in range(50):
        s = socket.create_connection(("127.0.0.1", server.port))
        s.sendall(bytes(rnd.randrange(256) for _ in range(rnd.randrange(1, 2000))))
        s.close()
    c = server.client()
    assert c.ping() is True


def test_unauthenticated_limits(tmp_path):
    s = ServerProc(tmp_path / "d", "--requirepass", "pw").start()
    try:
        raw = Raw(s.port)
        raw.send(b"*100\r\n")
        assert raw.read() == ("error", "ERR Protocol error: unauthenticated multibulk length")
        assert raw.closed()
        raw = Raw(s.port)
        raw.send(b"*2\r\n$3\r\nGET\r\n$100000\r\n")
        assert raw.read() == ("error", "ERR Protocol error: unauthenticated bulk length")
        assert raw.closed()
        raw = Raw(s.port)
        raw.cmd("AUTH", "pw")
        assert raw.cmd("MSET", *[x for i in range(20) for x in (f"k{i}", "v")]) == ("status", "OK")
    finally:
        s.stop()


def test_bulk_limit(tmp_path):
    s = ServerProc(tmp_path / "d", "--proto-max-bulk-len", "1mb").start()
    try:
        raw = Raw(s.port)
        raw.send(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$2000000\r\n")
        assert raw.read() == ("error", "ERR Protocol error: invalid bulk length")
        assert raw.closed()
    finally:
        s.stop()


def test_query_buffer_limit(tmp_path):
    s = ServerProc(tmp_path / "d", "--client-query-buffer-limit", "1mb").start()
    try:
        sock = socket.create_connection(("127.0.0.1", s.port))
        sock.sendall(b"*2\r\n$3\r\nGET\r\n$2000000\r\n")
        closed = False
        try:
            for _ in range(40):
                sock.sendall(b"x" * 65536)
        except (BrokenPipeError, ConnectionResetError):
            closed = True
        if not closed:
            sock.settimeout(5)
            try:
                closed = sock.recv(100) == b""
            except ConnectionResetError:
                closed = True
        assert closed
        assert s.client().ping() is True
    finally:
        s.stop()


def test_inline_too_big(raw):
    raw.send(b"A" * (70 * 1024))
    assert raw.read() == ("error", "ERR Protocol error: too big inline request")
    assert raw.closed()


def test_output_buffer_limit_drops_slow_reader(tmp_path):
    s = ServerProc(tmp_path / "d", "--client-output-buffer-limit", "2mb").start()
    try:
        c = s.client()
        c.set("big", "x" * 500000)
        sock = socket.create_connection(("127.0.0.1", s.port))
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        # Ask for far more than the limit and never read.
        req = b"*2\r\n$3\r\nGET\r\n$3\r\nbig\r\n" * 200
        try:
            sock.sendall(req)
        except (BrokenPipeError, ConnectionResetError):
            pass
        deadline = time.time() + 10
        dropped = 0
        while time.time() < deadline:
            dropped = c.info("stats")["client_output_buffer_limit_disconnections"]
            if dropped:
                break
            time.sleep(0.1)
        assert dropped >= 1
        assert c.ping() is True
        sock.close()
    finally:
        s.stop()


def test_maxclients(tmp_path):
    s = ServerProc(tmp_path / "d", "--maxclients", "3").start()
    try:
        conns = []
        deadline = time.time() + 10
        while len(conns) < 3:  # the start-up probe may hold a slot a moment
            c = Raw(s.port)
            if c.cmd("PING") == ("status", "PONG"):
                conns.append(c)
            else:
                c.close()
                assert time.time() < deadline
                time.sleep(0.1)
        extra = Raw(s.port)
        assert extra.read() == ("error", "ERR max number of clients reached")
        assert extra.closed()
        conns[0].close()
        deadline = time.time() + 10
        while True:  # the server frees the slot once it has seen the close
            again = Raw(s.port)
            rep = again.cmd("PING")
            if rep == ("status", "PONG") or time.time() > deadline:
                break
            again.close()
            time.sleep(0.1)
        assert rep == ("status", "PONG")
    finally:
        s.stop()


# An idle client is closed, also one inside MULTI (as Redis does).
@pytest.mark.parametrize("cmd,reply", [("PING", "PONG"), ("MULTI", "OK")])
def test_idle_timeout(tmp_path, cmd, reply):
    s = ServerProc(tmp_path / "d", "--timeout", "1").start()
    try:
        raw = Raw(s.port)
        assert raw.cmd(cmd) == ("status", reply)
        assert raw.closed(timeout=5)
    finally:
        s.stop()


def test_many_concurrent_clients(server):
    errors = []

    def work(t):
        try:
            c = server.client()
            for i in range(200):
                c.set(f"t{t}:{i}", f"{t}-{i}")
            for i in range(200):
                assert c.get(f"t{t}:{i}") == f"{t}-{i}"
            c.incrby("counter", 200)
            c.close()
        except Exception as e:  # noqa: BLE001
            errors.append(e)

    threads = [threading.Thread(target=work, args=(t,)) for t in range(40)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    c = server.client()
    assert c.get("counter") == str(40 * 200)
    assert c.dbsize() == 40 * 200 + 1


def test_many_idle_connections(server):
    conns = [Raw(server.port) for _ in range(300)]
    for i, c in enumerate(conns):
        c.send(b"PING\r\n")
    for c in conns:
        assert c.read() == ("status", "PONG")
    for c in conns:
        c.close()


@pytest.mark.parametrize("payload,err", [
    (b"*" + b"1" * 70000 + b"\r\n", "ERR Protocol error: invalid multibulk length"),
    (b"*1\r\n$" + b"1" * 70000 + b"\r\n", "ERR Protocol error: invalid bulk length"),
    (b"*" + b"1" * 70000, "ERR Protocol error: too big mbulk count string"),
    (b"*1\r\n$" + b"1" * 70000, "ERR Protocol error: too big bulk count string"),
], ids=["mbulk-ended", "bulk-ended", "mbulk-open", "bulk-open"])
def test_long_header_lines(raw, payload, err):
    # As in Redis: a header line over 64 KiB that has ended is a bad length;
    # only one still without its CR is "too big".
    raw.send(payload)
    assert raw.read() == ("error", err)
    assert raw.closed()


def test_negative_multibulk_is_skipped(raw):
    raw.send(b"*-1\r\n*0\r\n*1\r\n$4\r\nPING\r\n")
    assert raw.read() == ("status", "PONG")


def test_inline_split_like_redis(raw):
    # Only space, tab, CR and LF end an unquoted argument; any C isspace
    # may follow a closing quote.
    raw.send(b"ECHO a\x0bb\r\n")
    assert raw.read() == b"a\x0bb"
    raw.send(b"ECHO a\x0cb\r\n")
    assert raw.read() == b"a\x0cb"
    raw.send(b"ECHO \"abc\"\x0b\r\n")
    assert raw.read() == b"abc"
    raw.send(b"ECHO 'abc'\x0c\r\n")
    assert raw.read() == b"abc"
    raw.send(b"\x0b\x0cECHO x\r\n")
    assert raw.read() == b"x"


def test_expected_dollar_error_shows_nul(raw):
    # The offending byte is part of the message: a NUL must not cut it.
    raw.send(b"*1\r\n\x00\r\n")
    assert raw.read() == ("error", "ERR Protocol error: expected '$', got ' '")
    assert raw.closed()


def test_unknown_command_args_like_redis(raw):
    # Redis quotes arguments until 128 characters are shown, the last cut
    # to what is left of them.
    raw.send(b"FOO " + b" ".join(b"a%d" % i for i in range(100)) + b"\r\n")
    shown = "".join(f"'a{i}' " for i in range(23))
    assert raw.read() == ("error", f"ERR unknown command 'FOO', with args beginning with: {shown}")
    raw.send(b"FOO " + b"y" * 300 + b" z\r\n")
    assert raw.read() == ("error", "ERR unknown command 'FOO', with args beginning with: '" + "y" * 128 + "' ")
    raw.send(b"FOO " + b"y" * 120 + b" zzzzzzzzzzzz w\r\n")
    assert raw.read() == ("error", "ERR unknown command 'FOO', with args beginning with: '"
                          + "y" * 120 + "' 'zzzzz' ")


def test_hello_version_not_integer(raw):
    assert raw.cmd("HELLO", "x") == ("error", "ERR Protocol version is not an integer or out of range")
    assert raw.cmd("HELLO", "4") == ("error", "NOPROTO unsupported protocol version")
    assert raw.cmd("PING") == ("status", "PONG")


def _cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        st = f.read().rsplit(")", 1)[1].split()
    return (int(st[11]) + int(st[12])) / os.sysconf("SC_CLK_TCK")


@pytest.mark.parametrize("last", [b"*x\r\n", b"QUIT\r\n"])
def test_close_after_reply_does_not_spin(server, last):
    # A client to be closed once its reply is sent (protocol error, QUIT)
    # whose reply waits for it to read (more than the socket buffers hold),
    # while more of its input, then EOF, is pending: the loop must not keep
    # waking up for that input.
    c = server.client()
    c.set("big", "x" * 1000000)
    s = socket.create_connection(("127.0.0.1", server.port))
    s.sendall(b"*2\r\n$3\r\nGET\r\n$3\r\nbig\r\n" * 40)
    time.sleep(0.3)
    s.sendall(last)
    time.sleep(0.2)
    s.sendall(b"PING\r\n" * 10)
    s.shutdown(socket.SHUT_WR)
    time.sleep(0.3)
    before = _cpu_seconds(server.proc.pid)
    time.sleep(2)
    assert _cpu_seconds(server.proc.pid) - before < 0.5
    # The reply still arrives whole once the client reads, then the close
    # (a graceful one: input left unread would reset the connection).
    s.settimeout(10)
    data = bytearray()
    while True:
        d = s.recv(1 << 20)
        if not d:
            break
        data += d
    s.close()
    tail = b"-ERR Protocol error: invalid multibulk length\r\n" if last.startswith(b"*") else b"+OK\r\n"
    assert data == (b"$1000000\r\n" + b"x" * 1000000 + b"\r\n") * 40 + tail
    assert c.ping() is True


def _nofile(n):
    def lower():
        import resource
        resource.setrlimit(resource.RLIMIT_NOFILE, (n, n))
    return lower


def test_maxclients_fits_open_file_limit(tmp_path):
    # 200 descriptors leave room for 72 clients beside the engine's 128:
    # more clients would take the descriptors the engine needs to roll its
    # log, and accepting would fail (EMFILE) with no reply.
    s = ServerProc(tmp_path / "d", "--write-buffer-size", "1mb", preexec_fn=_nofile(200)).start()
    try:
        c = s.client()
        assert c.config_get("maxclients") == {"maxclients": "72"}
        with pytest.raises(redis.ResponseError, match="not able to handle the specified number of clients"):
            c.config_set("maxclients", "100")
        conns = [Raw(s.port) for _ in range(90)]
        replies = []
        for r in conns:
            r.send(b"PING\r\n")
            replies.append(r.read())
        assert replies.count(("status", "PONG")) == 71  # c holds a slot
        assert replies.count(("error", "ERR max number of clients reached")) == 19
        # The engine still has descriptors: writes that roll the log work.
        for i in range(3000):
            c.set(f"k{i}", "v" * 1000)
        assert c.dbsize() == 3000
        before = _cpu_seconds(s.proc.pid)
        time.sleep(1)
        assert _cpu_seconds(s.proc.pid) - before < 0.5
        for r in conns:
            r.close()
    finally:
        s.stop()


def _soft_nofile(pid):
    with open(f"/proc/{pid}/limits") as f:
        for line in f:
            if line.startswith("Max open files"):
                return int(line.split()[3])
    raise AssertionError("no open-file limit in /proc")


def test_failed_config_set_leaves_open_file_limit(tmp_path):
    # Soft 300, hard 1000: maxclients 500 fits once the soft limit is
    # raised.  A CONFIG SET that fails on another pair changes nothing, the
    # process's limit included; one that succeeds raises it.
    def lower():
        import resource
        resource.setrlimit(resource.RLIMIT_NOFILE, (300, 1000))
    s = ServerProc(tmp_path / "d", "--maxclients", "100", preexec_fn=lower).start()
    try:
        c = s.client()
        soft = _soft_nofile(s.proc.pid)
        with pytest.raises(redis.ResponseError, match="couldn't be parsed"):
            c.execute_command("CONFIG", "SET", "maxclients", "500", "timeout", "abc")
        assert c.config_get("maxclients") == {"maxclients": "100"}
        assert _soft_nofile(s.proc.pid) == soft
        assert c.config_set("maxclients", "500") is True
        assert _soft_nofile(s.proc.pid) >= 500 + 128
    finally:
        s.stop()


def test_idle_timeout_spares_reader_of_long_reply(tmp_path):
    s = ServerProc(tmp_path / "d", "--timeout", "1").start()
    try:
        c = s.client()
        size = 20 * 1024 * 1024
        c.set("huge", "x" * size)
        sock = socket.create_connection(("127.0.0.1", s.port))
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
        sock.sendall(b"*2\r\n$3\r\nGET\r\n$4\r\nhuge\r\n")
        want = len(b"$%d\r\n" % size) + size + 2
        got = 0
        t0 = time.time()
        while got < want:
            d = sock.recv(65536)
            if not d:
                break
            got += len(d)
            time.sleep(0.01)  # a slow reader: the reply takes seconds
        sock.close()
        assert time.time() - t0 > 1.5
        assert got == want
    finally:
        s.stop()
