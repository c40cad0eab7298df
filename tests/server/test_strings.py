"""String commands against omendb-server, checked against Redis semantics."""
import time

import pytest
import redis


def test_get_set_basic(r):
    assert r.get("k") is None
    assert r.set("k", "v") is True
    assert r.get("k") == "v"
    assert r.set("k", "") is True
    assert r.get("k") == ""


def test_binary_values(server):
    c = server.client(decode_responses=False)
    v = bytes(range(256)) * 40
    c.set(b"\x00bin\xff", v)
    assert c.get(b"\x00bin\xff") == v


def test_set_options(r):
    assert r.set("a", "1", nx=True) is True
    assert r.set("a", "2", nx=True) is None
    assert r.get("a") == "1"
    assert r.set("b", "1", xx=True) is None
    assert r.get("b") is None
    assert r.set("a", "3", xx=True) is True
    assert r.set("a", "4", get=True) == "3"
    assert r.set("nokey", "x", get=True) is None
    r.set("t", "v", ex=100)
    assert 98 <= r.ttl("t") <= 100
    r.set("t", "w", keepttl=True)
    assert 98 <= r.ttl("t") <= 100
    r.set("t", "w")
    assert r.ttl("t") == -1
    r.set("t", "v", px=100000)
    assert 99000 <= r.pttl("t") <= 100000
    r.set("t", "v", exat=int(time.time()) + 100)
    assert 98 <= r.ttl("t") <= 100
    r.set("t", "v", pxat=int(time.time() * 1000) + 100000)
    assert 98 <= r.ttl("t") <= 100


def test_set_errors(r):
    with pytest.raises(redis.ResponseError, match="syntax error"):
        r.execute_command("SET", "a", "b", "NX", "XX")
    with pytest.raises(redis.ResponseError, match="invalid expire time in 'set' command"):
        r.execute_command("SET", "a", "b", "EX", "0")
    with pytest.raises(redis.ResponseError, match="invalid expire time in 'set' command"):
        r.execute_command("SET", "a", "b", "EX", "-5")
    with pytest.raises(redis.ResponseError, match="not an integer"):
        r.execute_command("SET", "a", "b", "EX", "abc")
    with pytest.raises(redis.ResponseError, match="syntax error"):
        r.execute_command("SET", "a", "b", "EX", "10", "PX", "100")
    with pytest.raises(redis.ResponseError, match="wrong number of arguments for 'set' command"):
        r.execute_command("SET", "a")


def test_setnx_setex_psetex_getset(r):
    assert r.setnx("n", "1") is True
    assert r.setnx("n", "2") is False
    assert r.get("n") == "1"
    assert r.setex("e", 50, "v") is True
    assert 48 <= r.ttl("e") <= 50
    assert r.psetex("p", 50000, "v") is True
    assert 48000 <= r.pttl("p") <= 50000
    with pytest.raises(redis.ResponseError, match="invalid expire time in 'setex' command"):
        r.setex("e", -1, "v")
    assert r.getset("n", "3") == "1"
    assert r.get("n") == "3"
    assert r.getset("fresh", "x") is None


def test_mget_mset_msetnx(r):
    assert r.mset({"a": "1", "b": "2"}) is True
    assert r.mget("a", "b", "c") == ["1", "2", None]
    assert r.msetnx({"c": "3", "a": "9"}) is False
    assert r.get("c") is None and r.get("a") == "1"
    assert r.msetnx({"c": "3", "d": "4"}) is True
    assert r.mget("c", "d") == ["3", "4"]
    with pytest.raises(redis.ResponseError, match="wrong number of arguments for 'mset' command"):
        r.execute_command("MSET", "a", "1", "b")
    assert r.mget("a") == ["1"]


def test_getdel_getex(r):
    r.set("k", "v")
    assert r.getdel("k") == "v"
    assert r.exists("k") == 0
    assert r.getdel("k") is None
    r.set("k", "v")
    assert r.getex("k") == "v"
    assert r.ttl("k") == -1
    assert r.getex("k", ex=100) == "v"
    assert 98 <= r.ttl("k") <= 100
    assert r.getex("k", persist=True) == "v"
    assert r.ttl("k") == -1
    assert r.getex("k", px=5000) == "v"
    assert 4000 <= r.pttl("k") <= 5000
    assert r.getex("missing", ex=10) is None


def test_append_strlen_ranges(r):
    assert r.append("s", "Hello") == 5
    assert r.append("s", " World") == 11
    assert r.strlen("s") == 11
    assert r.strlen("none") == 0
    assert r.getrange("s", 0, 4) == "Hello"
    assert r.getrange("s", -5, -1) == "World"
    assert r.getrange("s", 5, 3) == ""
    assert r.getrange("s", 0, 100) == "Hello World"
    assert r.getrange("none", 0, 10) == ""
    assert r.setrange("s", 6, "Redis") == 11
    assert r.get("s") == "Hello Redis"
    assert r.setrange("z", 3, "x") == 4
    assert r.get("z") == "\x00\x00\x00x"
    with pytest.raises(redis.ResponseError, match="offset is out of range"):
        r.setrange("z", -1, "x")
    assert r.substr("s", 0, 4) == "Hello"


def test_incr_family(r):
    assert r.incr("c") == 1
    assert r.incrby("c", 10) == 11
    assert r.decr("c") == 10
    assert r.decrby("c", 20) == -10
    assert r.get("c") == "-10"
    r.set("c", "9223372036854775807")
    with pytest.raises(redis.ResponseError, match="increment or decrement would overflow"):
        r.incr("c")
    r.set("c", "abc")
    with pytest.raises(redis.ResponseError, match="value is not an integer or out of range"):
        r.incr("c")
    r.set("c", " 1")
    with pytest.raises(redis.ResponseError, match="value is not an integer"):
        r.incr("c")
    r.set("f", "10.5")
    assert r.incrbyfloat("f", 0.1) == pytest.approx(10.6)
    assert r.get("f") == "10.6"
    r.set("f", "5.0e3")
    assert r.incrbyfloat("f", "2.0e2") == 5200
    assert r.get("f") == "5200"
    with pytest.raises(redis.ResponseError, match="not a valid float"):
        r.incrbyfloat("f", "abc")
    r.set("f", "1")
    with pytest.raises(redis.ResponseError, match="NaN or Infinity"):
        r.incrbyfloat("f", "inf")


def test_incr_keeps_ttl(r):
    r.set("c", "1", ex=100)
    r.incr("c")
    assert 98 <= r.ttl("c") <= 100
    assert r.get("c") == "2"


def test_large_value(r):
    v = "x" * (5 * 1024 * 1024)
    r.set("big", v)
    assert r.strlen("big") == len(v)
    assert r.get("big") == v
