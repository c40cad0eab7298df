"""Connection and server commands; RESP2/RESP3; AUTH."""
import time

import pytest
import redis

from conftest import Raw, ServerProc


def test_ping_echo_select(r):
    assert r.ping() is True
    assert r.echo("hi") == "hi"

    assert r.execute_command("SELECT", "0") in (True, "OK")
    with pytest.raises(redis.ResponseError, match="DB index is out of range"):
        r.execute_command("SELECT", "1")
    with pytest.raises(redis.ResponseError, match="value is not an integer or out of range"):
        r.execute_command("SELECT", "x")


def test_unknown_command_and_arity(raw):
    assert raw.cmd("NOSUCH", "a", "b") == ("error", "ERR unknown command 'NOSUCH', with args beginning with: 'a' 'b' ")
    assert raw.cmd("GET") == ("error", "ERR wrong number of arguments for 'get' command")
    assert raw.cmd("get", "a", "b") == ("error", "ERR wrong number of arguments for 'get' command")


def test_wrongtype_error(raw, r):
    # A collection key made through the keyspace: only available once a
    # collection family exists; strings alone cannot produce WRONGTYPE
    # except through SET ... GET on a non-string, which needs one too.
    info = raw.cmd("COMMAND", "INFO", "hset")
    if info == [None]:
        pytest.skip("no collection commands in this build")
    raw.cmd("HSET", "h", "f", "v")
    assert raw.cmd("GET", "h") == ("error", "WRONGTYPE Operation against a key holding the wrong kind of value")


def test_hello_resp3(raw):
    rep = raw.cmd("HELLO", "3")
    assert rep[0] == "map"
    d = {k: v for k, v in rep[1]}
    assert d[b"proto"] == 3
    assert d[b"server"] == b"redis"
    raw.cmd("SET", "f", "1.5")
    assert raw.cmd("GET", "nokey") == ("null",)
    assert raw.cmd("INCRBYFLOAT", "f", "1") == b"2.5"
    cfg = raw.cmd("CONFIG", "GET", "port")
    assert cfg[0] == "map"
    assert raw.cmd("HELLO", "2")[0] != "map"
    assert raw.cmd("GET", "nokey") is None
    assert raw.cmd("HELLO", "4") == ("error", "NOPROTO unsupported protocol version")


def test_resp3_client_redis_py(server):
    try:
        c = server.client(protocol=3)
    except TypeError:
        pytest.skip("redis-py without RESP3")
    c.close()


def test_client_commands(r, server):
    cid = r.client_id()
    assert isinstance(cid, int) and cid > 0
    assert r.client_getname() is None
    assert r.client_setname("worker-1") is True
    assert r.client_getname() == "worker-1"
    with pytest.raises(redis.ResponseError, match="Client names cannot contain spaces"):
        r.client_setname("a b")
    lst = r.client_list()
    assert any(c["name"] == "worker-1" and int(c["id"]) == cid for c in lst)
    info = r.execute_command("CLIENT", "INFO")
    assert f"id={cid}" in info
    other = server.client()
    other.ping()
    oid = other.client_id()
    assert r.client_kill_filter(_id=oid) == 1
    assert all(int(c["id"]) != oid for c in r.client_list())
    with pytest.raises(redis.ResponseError, match="No such client"):
        r.execute_command("CLIENT", "KILL", "1.2.3.4:5")


def test_killed_client_is_closed(server):
    a = Raw(server.port)
    b = server.client()
    aid = a.cmd("CLIENT", "ID")
    assert b.execute_command("CLIENT", "KILL", "ID", aid) == 1
    assert a.closed()
    a.close()


def test_command_count_docs_info(raw, r):
    n = raw.cmd("COMMAND", "COUNT")
    assert n >= 60
    info = raw.cmd("COMMAND", "INFO", "get", "set", "nosuch")
    assert info[0][0] == b"get" and info[0][1] == 2
    assert info[1][0] == b"set" and info[1][1] == -3
    assert info[2] is None
    docs = raw.cmd("COMMAND", "DOCS", "get")
    assert docs[0] == b"get" and b"summary" in docs[1]
    assert len(raw.cmd("COMMAND")) == n
    assert raw.cmd("COMMAND", "GETKEYS", "MSET", "a", "1", "b", "2") == [b"a", b"b"]
    # redis-py's own parser of COMMAND accepts the reply
    assert "get" in r.command()


def test_info_sections(r):
    info = r.info()
    for k in ["redis_version", "connected_clients", "used_memory", "aof_enabled", "total_commands_processed"]:
        assert k in info
    assert "omendb_sync" in r.info("persistence")
    assert r.info("clients")["connected_clients"] >= 1
    assert "tcp_port" in r.info("server")


def test_config_get_set(r):
    assert r.config_get("save") == {"save": ""}
    assert r.config_get("appendonly") == {"appendonly": "yes"}
    assert r.config_get("sync") == {"sync": "everysec"}
    assert r.config_set("sync", "always") is True
    assert r.config_get("appendfsync") == {"appendfsync": "always"}
    r.set("k", "v")
    assert r.get("k") == "v"
    assert r.config_set("timeout", "100") is True
    assert r.config_get("timeout") == {"timeout": "100"}
    with pytest.raises(redis.ResponseError, match="can't set immutable config"):
        r.config_set("port", "1")
    with pytest.raises(redis.ResponseError):
        r.config_set("nosuch", "1")
    with pytest.raises(redis.ResponseError):
        r.config_set("sync", "sometimes")
    got = r.config_get("max*")
    assert "maxclients" in got and "max-multibulk-len" in got


def test_time_and_lastsave(r):
    sec, usec = r.time()
    assert abs(sec - time.time()) < 5
    assert 0 <= usec < 1000000
    assert r.lastsave()


def test_quit_and_reset(raw):
    raw.cmd("CLIENT", "SETNAME", "n")
    raw.cmd("HELLO", "3")
    assert raw.cmd("RESET") == ("status", "RESET")
    assert raw.cmd("CLIENT", "GETNAME") is None
    assert raw.cmd("QUIT") == ("status", "OK")
    assert raw.closed()


def test_auth(tmp_path):
    s = ServerProc(tmp_path / "d", "--requirepass", "s3cret").start()
    try:
        raw = Raw(s.port)
        assert raw.cmd("GET", "k") == ("error", "NOAUTH Authentication required.")
        assert raw.cmd("PING") == ("error", "NOAUTH Authentication required.")
        assert raw.cmd("AUTH", "wrong") == ("error", "WRONGPASS invalid username-password pair or user is disabled.")
        assert raw.cmd("AUTH", "nobody", "s3cret")[0] == "error"
        rep = raw.cmd("HELLO", "3")
        assert rep[0] == "error" and rep[1].startswith("NOAUTH HELLO must be called")
        assert raw.cmd("AUTH", "s3cret") == ("status", "OK")
        assert raw.cmd("SET", "k", "v") == ("status", "OK")
        raw.close()
        raw = Raw(s.port)
        rep = raw.cmd("HELLO", "3", "AUTH", "default", "s3cret")
        assert rep[0] == "map"
        assert raw.cmd("GET", "k") == b"v"
        raw.close()
        c = s.client(password="s3cret")
        assert c.get("k") == "v"
        c.close()
        # RESET forgets authentication.
        raw = Raw(s.port)
        raw.cmd("AUTH", "s3cret")
        raw.cmd("RESET")
        assert raw.cmd("GET", "k") == ("error", "NOAUTH Authentication required.")
        raw.close()
    finally:
        s.stop()


def test_auth_without_password(raw):
    rep = raw.cmd("AUTH", "x")
    assert rep[0] == "error" and "without any password configured" in rep[1]


def test_shutdown_command(tmp_path):
    s = ServerProc(tmp_path / "d").start()
    c = s.client()
    c.set("k", "v")
    raw = Raw(s.port)
    raw.send(b"SHUTDOWN\r\n")
    assert raw.closed()
    s.proc.wait(30)
    assert s.proc.returncode == 0
    s2 = ServerProc(tmp_path / "d").start()
    assert s2.client().get("k") == "v"
    s2.stop()


def test_info_commandstats(r):
    r.set("a", "1")
    r.get("a")
    r.get("a")
    stats = r.info("commandstats")
    assert stats["cmdstat_get"]["calls"] == 2
    assert stats["cmdstat_set"]["calls"] == 1
    assert "cmdstat_get" in r.info("all")
    r.set("s", "x")
    with pytest.raises(redis.ResponseError):
        r.execute_command("INCR", "s")
    with pytest.raises(redis.ResponseError):
        r.execute_command("INCR")
    st = r.info("commandstats")["cmdstat_incr"]
    assert st["calls"] == 1 and st["failed_calls"] == 1 and st["rejected_calls"] == 1
