"""Collections with the rest of the server: large collections (range reads
served by range scans, DEL in O(1) with background reclamation), TYPE /
SCAN TYPE / RENAME / EXPIRE, MULTI/EXEC and WATCH, and persistence across
restarts and kill -9."""
import signal
import time

import pytest
import redis

from conftest import Raw, ServerProc

N = 50000


def load_big(r, n=N):
    p = r.pipeline(transaction=False)
    for i in range(0, n, 1000):
        rng = range(i, min(i + 1000, n))
        p.rpush("bl", *[f"e{j}" for j in rng])
        p.sadd("bs", *[f"m{j:06d}" for j in rng])
        p.hset("bh", mapping={f"f{j:06d}": str(j) for j in rng})
        p.zadd("bz", {f"z{j:06d}": j for j in rng})
    p.execute()


def garbage(r):
    return int(r.info()["omendb_garbage_generations"])


def wait_for(cond, timeout=120):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if cond():
            return True
        time.sleep(0.1)
    return cond()


def test_large_collections(r):
    load_big(r)
    assert (r.llen("bl"), r.scard("bs"), r.hlen("bh"), r.zcard("bz")) == (N, N, N, N)
    assert r.lrange("bl", 25000, 25004) == [f"e{j}" for j in range(25000, 25005)]
    assert r.lrange("bl", -3, -1) == [f"e{j}" for j in range(N - 3, N)]
    assert r.lindex("bl", 40000) == "e40000"
    assert r.zrangebyscore("bz", 40000, "(40003") == ["z040000", "z040001", "z040002"]
    assert r.zrange("bz", 30000, 30001, withscores=True) == [("z030000", 30000.0), ("z030001", 30001.0)]
    assert r.zrevrange("bz", 0, 0) == [f"z{N - 1:06d}"]
    assert r.zrank("bz", "z030000") == 30000 and r.zrevrank("bz", "z030000") == N - 30001
    assert r.zcount("bz", "(100", 200) == 100
    assert r.execute_command("ZRANGE", "bz", "[z049998", "+", "BYLEX") == ["z049998", "z049999"]
    assert r.hget("bh", "f012345") == "12345"
    assert r.sismember("bs", "m049999") and not r.sismember("bs", "m050000")
    assert len(r.sinter("bs", "bs")) == N
    assert r.lrem("bl", 1, "e25000") == 1 and r.lindex("bl", 25000) == "e25001"
    assert r.ltrim("bl", 1, -2) and r.llen("bl") == N - 3 and r.lindex("bl", 0) == "e1"
    popped = r.spop("bs", 10)
    assert len(set(popped)) == 10 and r.scard("bs") == N - 10
    assert r.zpopmax("bz", 2) == [(f"z{N - 1:06d}", N - 1.0), (f"z{N - 2:06d}", N - 2.0)]

    before = garbage(r)
    assert r.delete("bl", "bs", "bh", "bz") == 4
    assert r.exists("bl", "bs", "bh", "bz") == 0
    # The elements are left to the background: the keys are new and empty.
    assert r.rpush("bl", "x") == 1 and r.lrange("bl", 0, -1) == ["x"]
    assert r.hset("bh", "f", "v") == 1 and r.hgetall("bh") == {"f": "v"}
    assert r.zadd("bz", {"a": 1}) == 1 and r.zrange("bz", 0, -1) == ["a"]
    assert r.sadd("bs", "m1") == 1 and r.smembers("bs") == {"m1"}
    assert garbage(r) >= before
    assert wait_for(lambda: garbage(r) == 0), "old generations never reclaimed"
    assert r.lrange("bl", 0, -1) == ["x"] and r.scard("bs") == 1


def test_type_scan_rename_expire(r):
    r.hset("h", "a", "1")
    r.rpush("l", "a")
    r.sadd("s", "a")
    r.zadd("z", {"a": 1})
    r.set("str", "v")
    assert [r.type(k) for k in ("h", "l", "s", "z", "str", "nokey")] == \
        ["hash", "list", "set", "zset", "string", "none"]
    for t, k in (("hash", "h"), ("list", "l"), ("set", "s"), ("zset", "z")):
        assert list(r.scan_iter(_type=t)) == [k]
    assert sorted(r.keys("*")) == ["h", "l", "s", "str", "z"]

    r.hset("big", mapping={f"f{i}": i for i in range(100)})
    assert r.rename("h", "big")  # overwrites a collection: old elements reclaimed
    assert r.hgetall("big") == {"a": "1"} and r.exists("h") == 0
    assert r.rename("z", "str") and r.type("str") == "zset" and r.zscore("str", "a") == 1
    assert r.renamenx("l", "s") is False
    assert r.rename("l", "l2") and r.lrange("l2", 0, -1) == ["a"]

    assert r.pexpire("s", 100)
    assert 0 < r.pttl("s") <= 100
    assert wait_for(lambda: r.exists("s") == 0, 30)
    assert r.sadd("s", "b") == 1 and r.smembers("s") == {"b"}  # nothing of the old set
    assert r.expire("big", 1000) and r.hset("big", "b", "2") == 1
    assert r.ttl("big") > 0  # writing a field keeps the key's expiry
    assert r.persist("big") and r.ttl("big") == -1
    r.zadd("gone", {"a": 1})
    r.pexpire("gone", 50)
    assert wait_for(lambda: r.dbsize() == 4 and r.exists("gone") == 0, 30)
    assert wait_for(lambda: garbage(r) == 0)


def test_multi_exec_and_watch(server):
    a = Raw(server.port)
    b = server.client()
    assert a.cmd("MULTI") == ("status", "OK")
    for cmd in (("HSET", "h", "a", "1"), ("RPUSH", "l", "x", "y"), ("SADD", "s", "m"),
                ("ZADD", "z", "2", "b", "1", "a"), ("LPOP", "l"), ("ZRANGE", "z", "0", "-1"),
                ("HGETALL", "h"), ("SCARD", "s")):
        assert a.cmd(*cmd) == ("status", "QUEUED")
    assert a.cmd("EXEC") == [1, 2, 1, 2, b"x", [b"a", b"b"], [b"a", b"1"], 1]

    for key, change in (("h", lambda: b.hset("h", "b", "2")), ("l", lambda: b.rpush("l", "z")),
                        ("s", lambda: b.srem("s", "m")), ("z", lambda: b.zincrby("z", 1, "a"))):
        assert a.cmd("WATCH", key) == ("status", "OK")
        change()
        a.cmd("MULTI")
        a.cmd("SET", "marker", key)
        assert a.cmd("EXEC") is None, key
        assert b.get("marker") is None

    # A WATCHed collection left untouched lets EXEC through.
    assert a.cmd("WATCH", "h") == ("status", "OK")
    b.hget("h", "a")
    a.cmd("MULTI")
    a.cmd("HDEL", "h", "a", "b")
    assert a.cmd("EXEC") == [2]
    assert b.exists("h") == 0

    # A runtime error inside EXEC does not stop the rest.
    a.cmd("MULTI")
    a.cmd("SET", "str", "v")
    a.cmd("LPUSH", "str", "x")
    a.cmd("SADD", "s2", "x")
    res = a.cmd("EXEC")
    assert res[1] == ("error", "WRONGTYPE Operation against a key holding the wrong kind of value")
    assert res[2] == 1 and b.smembers("s2") == {"x"}
    a.close()


def fill_small(r):
    r.hset("h", mapping={"a": "1", "b": "2"})
    r.hincrbyfloat("h", "f", 1.5)
    r.rpush("l", *[f"e{i}" for i in range(100)])
    r.lpush("l", "head")
    r.lrem("l", 0, "e50")
    r.ltrim("l", 0, 90)
    r.sadd("s", *[f"m{i}" for i in range(100)])
    r.srem("s", "m7")
    r.zadd("z", {f"z{i}": i / 2 for i in range(100)})
    r.zadd("z", {"z3": -1}, xx=True)
    r.zpopmax("z")
    r.delete("s")
    r.sadd("s", "fresh")


def check_small(r):
    assert r.hgetall("h") == {"a": "1", "b": "2", "f": "1.5"}
    expect_l = (["head"] + [f"e{i}" for i in range(100) if i != 50])[:91]
    assert r.lrange("l", 0, -1) == expect_l and r.lindex("l", -1) == expect_l[-1]
    assert r.smembers("s") == {"fresh"}
    z = {f"z{i}": i / 2 for i in range(99)}
    z["z3"] = -1
    assert dict(r.zrange("z", 0, -1, withscores=True)) == z
    assert r.zrange("z", 0, 1) == ["z3", "z0"]


def test_restart_keeps_collections(tmp_path):
    s = ServerProc(tmp_path / "data").start()
    r = s.client()
    fill_small(r)
    check_small(r)
    r.close()
    assert s.stop() == 0
    s2 = ServerProc(tmp_path / "data").start()
    r = s2.client()
    check_small(r)
    # Generations handed out after the restart never collide with old ones.
    r.sadd("s3", "x")
    r.delete("s3")
    check_small(r)
    r.close()
    s2.stop()


def test_kill9_keeps_acknowledged_collection_writes(tmp_path):
    s = ServerProc(tmp_path / "data", "--sync", "always").start()
    r = s.client()
    for i in range(300):
        r.rpush("l", i)
        r.hset("h", f"f{i}", i)
        r.zadd("z", {f"m{i}": i})
        r.sadd("s", i)
        if i % 3 == 0:
            r.lpop("l")
            r.zrem("z", f"m{i}")
    s.stop(sig=signal.SIGKILL)
    r.close()
    s2 = ServerProc(tmp_path / "data").start()
    r = s2.client()
    assert r.lrange("l", 0, -1) == [str(i) for i in range(100, 300)]
    assert r.hlen("h") == 300 and r.hget("h", "f299") == "299"
    assert r.zcard("z") == 200 and r.zrange("z", 0, 0) == ["m1"]
    assert r.scard("s") == 300
    r.close()
    s2.stop()


def test_element_too_large(r):
    with pytest.raises(redis.ResponseError, match="element too large"):
        r.sadd("s", "x" * 20000)
    assert r.exists("s") == 0
    r.rpush("l", "x" * 100000)  # list elements and hash values are values, not keys
    assert r.lindex("l", 0) == "x" * 100000
