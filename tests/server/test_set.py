"""Sets: SADD SREM SMEMBERS SISMEMBER SMISMEMBER SCARD SPOP SRANDMEMBER
SINTER SUNION SDIFF SSCAN (and SMOVE, S*STORE), checked directly and against redis-server 7
(unordered replies compared as multisets)."""
import collections

import pytest
import redis

from conftest import Raw
from redis_oracle import compare_script, oracle  # noqa: F401  (fixture)

SCRIPT = """
sadd s a b c
sadd s a d d
sadd s
srem s a zz
srem s zz
srem nokey a
scard s
scard nokey
sismember s b
sismember s a
sismember nokey a
smismember s a b zz
smismember nokey a
smismember s
~smembers s
~smembers nokey
sadd s2 c d e
sadd s3 d x
~sinter s s2
~sinter s s2 s3
~sinter s nokey
~sinter nokey
~sinter s
~sunion s s2 s3
~sunion nokey
~sunion s nokey
~sdiff s s2
~sdiff s s3
~sdiff s nokey
~sdiff nokey s
~sdiff s s
set str v
sinter s str
sinter nokey str
sunion s str
sdiff str s
sdiff s str
sadd str a
srem str a
smembers str
sismember str a
smismember str a
scard str
spop str
spop str 2
srandmember str
srandmember str 2
sscan str 0
spop s -1
spop s x
spop s 0
spop s 1 2
srandmember s 0
srandmember s x
srandmember s 1 2
spop nokey
spop nokey 5
srandmember nokey
srandmember nokey 5
srandmember nokey -5
srem s b c d
exists s
sadd one only
spop one
exists one
sadd one only
~spop one 5
exists one
sadd one only
srandmember one
~srandmember one 3
srandmember one -3
sscan nokey 0
sscan s 0 count 0
multi
sadd ms a b
sismember ms a
scard ms
exec
flushall
set str v
sadd s1 a b c
sadd s2 b c d
sinterstore d s1 s2
~smembers d
sunionstore d s1 s2 nokey
~smembers d
sdiffstore d s1 s2
~smembers d
sinterstore d s1 nokey
exists d
set d string
sunionstore d s1
type d
sinterstore d str
sdiffstore s1 s1 s2
~smembers s1
smove s1 s2 a
smove s1 s2 a
~smembers s2
exists s1
smove s2 s3 b
~smembers s3
smove s2 s2 c
smove s2 s2 zz
smove nokey s2 a
smove nokey str a
smove s2 str c
smove str s2 c
sadd s3 c
smove s2 s3 c
~smembers s3
~smembers s2
"""


@pytest.mark.parametrize("resp", [2, 3])
def test_set_matches_redis(oracle, server, resp):  # noqa: F811
    assert compare_script(oracle, server.port, SCRIPT, resp) == []


def test_set_basics(r):
    assert r.sadd("s", "a", "b", "c", "a") == 3
    assert r.smembers("s") == {"a", "b", "c"}
    assert r.sismember("s", "a") and not r.sismember("s", "z")
    assert r.smismember("s", ["a", "z", "c"]) == [1, 0, 1]
    assert r.scard("s") == 3
    assert r.srem("s", "a", "z") == 1
    r.sadd("t", "b", "x")
    assert r.sinter("s", "t") == {"b"}
    assert r.sunion("s", "t", "nokey") == {"b", "c", "x"}
    assert r.sdiff("s", "t") == {"c"}
    assert r.sinter("s", "nokey") == set()
    assert r.sdiff("nokey", "s") == set()
    r.set("str", "v")
    with pytest.raises(redis.ResponseError, match="WRONGTYPE"):
        r.sunion("s", "str")
    with pytest.raises(redis.ResponseError, match="WRONGTYPE"):
        r.sinter("nokey", "str")  # every key's type is checked first


def test_spop_counts(r):
    members = {f"m{i}" for i in range(100)}
    r.sadd("s", *members)
    one = r.spop("s")
    assert one in members and not r.sismember("s", one)
    got = r.spop("s", 10)
    assert len(got) == 10 and len(set(got)) == 10 and set(got) <= members - {one}
    assert not any(r.smismember("s", got))
    assert r.scard("s") == 89
    assert r.spop("s", 0) == [] or r.spop("s", 0) == set()
    rest = r.spop("s", 1000)
    assert len(rest) == 89 and set(rest) | set(got) | {one} == members
    assert r.exists("s") == 0
    assert r.spop("s") is None
    with pytest.raises(redis.ResponseError, match="must be positive"):
        r.spop("s", -1)


def test_srandmember_counts(r):
    members = {f"m{i}" for i in range(50)}
    r.sadd("s", *members)
    assert r.srandmember("s") in members
    pos = r.srandmember("s", 20)
    assert len(pos) == 20 and len(set(pos)) == 20 and set(pos) <= members
    assert sorted(r.srandmember("s", 500)) == sorted(members)
    neg = r.srandmember("s", -500)
    assert len(neg) == 500 and set(neg) <= members
    # 500 draws with repetition from 50: repeats must occur.
    assert max(collections.Counter(neg).values()) > 1
    assert r.scard("s") == 50  # SRANDMEMBER removes nothing
    assert r.srandmember("nokey") is None and r.srandmember("nokey", 3) == []
    r.sadd("one", "x")
    assert r.srandmember("one", -4) == ["x"] * 4


def test_spop_is_roughly_uniform(r):
    # Every member must be reachable by the random walk (both ends and the middle).
    r.sadd("s", *[f"m{i:02d}" for i in range(10)])
    seen = collections.Counter(r.srandmember("s") for _ in range(400))
    assert set(seen) == {f"m{i:02d}" for i in range(10)}


def test_sscan_walks_everything(r):
    members = {f"m{i:04d}" for i in range(777)}
    r.sadd("s", *members)
    seen = set()
    cursor = 0
    while True:
        cursor, items = r.sscan("s", cursor, count=50)
        seen.update(items)
        if cursor == 0:
            break
    assert seen == members


def test_smembers_resp3_is_a_set(server):
    c = Raw(server.port)
    c.cmd("HELLO", "3")
    c.cmd("SADD", "s", "b", "a")
    kind, items = c.cmd("SMEMBERS", "s")
    assert kind == "set" and sorted(items) == [b"a", b"b"]
    assert c.cmd("SPOP", "s", "1")[0] == "set"
    assert isinstance(c.cmd("SRANDMEMBER", "s", "1"), list)
    assert c.cmd("SISMEMBER", "s", "zz") == 0
    c.close()


def test_srandmember_count_limits(r):
    r.sadd("s", "a")
    with pytest.raises(redis.ResponseError, match="value is out of range"):
        r.srandmember("s", -(2**63))
    with pytest.raises(redis.ResponseError, match="count is too large"):
        r.srandmember("s", -(2**40))
    assert r.srandmember("s", 2**40) == ["a"]  # positive counts stop at the set's size


def test_spop_large_set_drains_exactly(r):
    # Large sets pop from a pool drawn by one scan: every pop must still be
    # a member (SREM'd and re-added members included), and popping until
    # empty returns each member exactly once.
    n = 6000
    members = {f"m{i:05d}" for i in range(n)}
    p = r.pipeline(transaction=False)
    for i in range(0, n, 1000):
        p.sadd("s", *[f"m{j:05d}" for j in range(i, i + 1000)])
    p.execute()
    popped = [r.spop("s") for _ in range(100)]
    assert len(set(popped)) == 100 and set(popped) <= members
    removed = set(r.srandmember("s", 200))
    assert r.srem("s", *removed) == 200
    r.sadd("s", "late1", "late2")
    members = members - set(popped) - removed | {"late1", "late2"}
    rest = []
    while True:
        m = r.spop("s")
        if m is None:
            break
        assert m not in removed
        rest.append(m)
    assert len(rest) == len(set(rest)) and set(rest) == members
    assert r.exists("s") == 0


def test_spop_reaches_every_member(r):
    # Pop and put back: every member must come up (new members are never
    # passed over by SPOP's pool of pre-drawn members).
    members = [f"m{i}" for i in range(10)]
    r.sadd("s", *members)
    seen = collections.Counter()
    for _ in range(300):
        m = r.spop("s")
        seen[m] += 1
        assert r.sadd("s", m) == 1
    assert set(seen) == set(members)
