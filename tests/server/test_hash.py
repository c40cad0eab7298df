"""Hashes: HSET HGET HMGET HDEL HGETALL HKEYS HVALS HLEN HEXISTS HSETNX
HINCRBY HINCRBYFLOAT HSTRLEN HSCAN HRANDFIELD, checked directly and against
redis-server 7 reply for reply (RESP2 and RESP3)."""
import pytest
import redis

from conftest import Raw
from redis_oracle import compare_script, oracle  # noqa: F401  (fixture)

WRONGTYPE = "WRONGTYPE Operation against a key holding the wrong kind of value"

SCRIPT = """
hset h a 1 b 2 c 3
hset h a 10 d 4
hset h x
hset h
hset h a 1 a 2
hget h a
hget h zz
hget nokey a
hmget h a zz b
hmget nokey a b
hdel h zz a
hdel h zz
hdel nokey a
hlen h
hlen nokey
hexists h b
hexists h a
hexists nokey a
hsetnx h b 9
hsetnx h e 5
hgetall h
hkeys h
hvals h
hgetall nokey
hkeys nokey
hvals nokey
hincrby h b 5
hincrby h b -100
hincrby h new 7
hincrby h b x
hincrby h b 9223372036854775807
hincrby h b 9223372036854775800
hincrby h b -9223372036854775808
hset h f foo
hincrby h f 1
hincrbyfloat h f 1
hincrbyfloat h g 1.5
hincrbyfloat h g 0.1
hincrbyfloat h g 2.0e2
hincrbyfloat h g -1e3
hincrbyfloat h g abc
hincrbyfloat h g inf
hincrbyfloat h g -inf
hincrbyfloat h i 5.0e3
hincrbyfloat h i 1.23456789012345678901
hincrbyfloat h k -0.0
hstrlen h g
hstrlen h nope
hstrlen nokey a
hmset h q 1 r 2
hmset h q
set str v
hget str a
hmget str a
hset str a 1
hsetnx str a 1
hdel str a
hgetall str
hkeys str
hvals str
hlen str
hexists str a
hstrlen str a
hincrby str a 1
hincrbyfloat str a 1
hscan str 0
hget
hlen
type h
hdel h a b c d e f g i k new q r
exists h
hset h a 1 b 2
hscan h 0
hscan h 0 match a
hscan h 0 count 0
hscan h 0 count x
hscan h 0 bogus 1
hscan h x
hscan nokey 0
multi
hset h c 3
hincrby h c 1
hgetall h
exec
flushall
hset one f v
hrandfield one
hrandfield one 3
hrandfield one -3
hrandfield one 2 withvalues
hrandfield one -2 withvalues
hrandfield one 0
hrandfield one 0 withvalues
hrandfield one x
hrandfield one 1 bogus
hrandfield one 1 withvalues x
hrandfield one -9223372036854775808
hrandfield one -9223372036854775807 withvalues
hrandfield nokey
hrandfield nokey 3
hrandfield nokey 3 withvalues
set str v
hrandfield str
"""


@pytest.mark.parametrize("resp", [2, 3])
def test_hash_matches_redis(oracle, server, resp):  # noqa: F811
    assert compare_script(oracle, server.port, SCRIPT, resp) == []


def test_hash_basics(r):
    assert r.hset("h", mapping={"b": "2", "a": "1"}) == 2
    assert r.hset("h", "a", "x") == 0
    assert r.hget("h", "a") == "x"
    assert r.hmget("h", ["a", "nope", "b"]) == ["x", None, "2"]
    assert r.hgetall("h") == {"a": "x", "b": "2"}
    assert r.hkeys("h") == ["a", "b"]
    assert r.hvals("h") == ["x", "2"]
    assert r.hlen("h") == 2
    assert r.hexists("h", "a") and not r.hexists("h", "zz")
    assert r.hsetnx("h", "a", "y") == 0 and r.hsetnx("h", "c", "3") == 1
    assert r.hstrlen("h", "c") == 1
    assert r.hdel("h", "a", "b", "c", "zz") == 3
    assert r.exists("h") == 0  # the last field took the key with it
    assert r.hgetall("nokey") == {} and r.hlen("nokey") == 0


def test_hash_wrongtype(r):
    r.set("s", "v")
    for call in (lambda: r.hset("s", "a", "1"), lambda: r.hget("s", "a"), lambda: r.hgetall("s"),
                 lambda: r.hincrby("s", "a"), lambda: r.hscan("s")):
        with pytest.raises(redis.ResponseError, match="WRONGTYPE"):
            call()
    r.hset("h", "a", "1")
    with pytest.raises(redis.ResponseError, match="WRONGTYPE"):
        r.get("h")
    with pytest.raises(redis.ResponseError, match="WRONGTYPE"):
        r.lpush("h", "x")


def test_hincrby_and_float_formatting(r):
    assert r.hincrby("h", "n", 5) == 5
    assert r.hincrby("h", "n", -7) == -2
    r.hset("h", "big", str(2**63 - 1))
    with pytest.raises(redis.ResponseError, match="increment or decrement would overflow"):
        r.hincrby("h", "big", 1)
    r.hset("h", "txt", "abc")
    with pytest.raises(redis.ResponseError, match="hash value is not an integer"):
        r.hincrby("h", "txt", 1)
    with pytest.raises(redis.ResponseError, match="hash value is not a float"):
        r.hincrbyfloat("h", "txt", 1)
    with pytest.raises(redis.ResponseError, match="value is NaN or Infinity"):
        r.execute_command("HINCRBYFLOAT", "h", "g", "inf")


def test_hincrbyfloat_text(server):
    c = Raw(server.port)
    assert c.cmd("HINCRBYFLOAT", "h", "f", "1.1") == b"1.1"
    assert c.cmd("HINCRBYFLOAT", "h", "f", "1") == b"2.1"
    assert c.cmd("HINCRBYFLOAT", "h", "f", "2.0e2") == b"202.10000000000000001"
    assert c.cmd("HGET", "h", "f") == b"202.10000000000000001"
    assert c.cmd("HINCRBYFLOAT", "h", "f", "-202.1") == b"0"
    assert c.cmd("HINCRBYFLOAT", "h", "g", "3") == b"3"
    assert c.cmd("HINCRBYFLOAT", "h", "g", "abc") == ("error", "ERR value is not a valid float")
    c.close()


def test_hscan_walks_everything(r):
    fields = {f"f{i:04d}": str(i) for i in range(1000)}
    r.hset("h", mapping=fields)
    seen = {}
    cursor = 0
    while True:
        cursor, items = r.hscan("h", cursor, count=37)
        seen.update(items)
        if cursor == 0:
            break
    assert seen == fields
    cursor, items = r.hscan("h", 0, match="f000*", count=2000)
    assert cursor == 0 and sorted(items) == [f"f000{i}" for i in range(10)]


def test_hgetall_resp3_is_a_map(server):
    c = Raw(server.port)
    c.cmd("HELLO", "3")
    c.cmd("HSET", "h", "a", "1", "b", "2")
    assert c.cmd("HGETALL", "h") == ("map", [(b"a", b"1"), (b"b", b"2")])
    assert c.cmd("HGETALL", "nokey") == ("map", [])
    assert c.cmd("HGET", "h", "zz") == ("null",)
    c.close()


def test_hrandfield(r):
    fields = {f"f{i}": str(i) for i in range(30)}
    r.hset("h", mapping=fields)
    assert r.hrandfield("h") in fields
    got = r.hrandfield("h", 10)
    assert len(set(got)) == 10 and set(got) <= set(fields)
    assert sorted(r.hrandfield("h", 100)) == sorted(fields)
    rep = r.hrandfield("h", -100)
    assert len(rep) == 100 and set(rep) <= set(fields)
    pairs = r.hrandfield("h", -5, withvalues=True)
    assert len(pairs) == 10
    for f, v in zip(pairs[::2], pairs[1::2]):
        assert fields[f] == v
