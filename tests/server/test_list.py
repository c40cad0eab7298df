"""Lists: LPUSH RPUSH LPOP RPOP (with count) LLEN LRANGE LINDEX LSET LREM
LTRIM (and LPUSHX RPUSHX LMOVE RPOPLPUSH LINSERT LPOS), checked directly and against redis-server 7."""
import pytest
import redis

from conftest import Raw
from redis_oracle import compare_script, oracle  # noqa: F401  (fixture)

SCRIPT = """
rpush l a b c d e
lpush l z y
rpush nokey2
lrange l 0 -1
lrange l -3 -1
lrange l 5 100
lrange l 10 20
lrange l -100 1
lrange l -100 -50
lrange l 3 1
lrange nokey 0 -1
lrange l a b
lindex l 0
lindex l -1
lindex l 100
lindex l -100
lindex l x
lindex nokey 0
lset l 0 Z
lset l -1 E
lset l 100 x
lset l -100 x
lset l x x
lset nokey 0 x
lrange l 0 -1
llen l
llen nokey
lpop l
rpop l
lpop l 2
rpop l 2
lpop l 0
lpop l -1
lpop l x
lpop l 1 2
lpop nokey
lpop nokey 3
rpop nokey 0
lrange l 0 -1
lpop l 10
exists l
rpush l a b a c a d a
lrem l 2 a
lrange l 0 -1
rpush l a b a
lrem l -2 a
lrange l 0 -1
lrem l 0 a
lrange l 0 -1
lrem l 0 zz
lrem nokey 0 a
lrem l x a
rpush l a a a
lrem l 0 a
lrange l 0 -1
lrem l 0 b
lrem l 0 c
lrem l 0 d
exists l
rpush l x1 x2 x3 x4 x5 x6 x7 x8 x9 x10
lrem l 1 x9
lrange l 0 -1
lrem l -1 x2
lrange l 0 -1
lindex l 1
lindex l 7
rpush l 1 2 3 4 5 6 7 8 9
ltrim l 2 -3
lrange l 0 -1
ltrim l 1 1
lrange l 0 -1
ltrim l 5 10
exists l
ltrim nokey 0 1
rpush l a b c
ltrim l -100 100
lrange l 0 -1
ltrim l 1 0
exists l
set str x
lpush str x
rpush str x
lpop str
rpop str
llen str
lrange str 0 1
lindex str 0
lset str 0 a
lrem str 0 a
ltrim str 0 1
lpushx str a
lpushx nokey a
rpushx nokey a
exists nokey
rpush l a
lpushx l b
rpushx l c
lrange l 0 -1
lpush l
lrange l 0
lset l 0
lrem l 0
ltrim l 0
multi
rpush ml 1 2 3
lpop ml
lrange ml 0 -1
exec
flushall
set str v
rpush a 1 2 3
rpush b x
rpoplpush a b
lrange a 0 -1
lrange b 0 -1
lmove a b left left
lmove a b left right
lrange a 0 -1
lrange b 0 -1
exists a
rpoplpush a b
lmove b b left right
lrange b 0 -1
rpoplpush b b
lrange b 0 -1
lmove b b up down
lmove b str left left
lmove str b left left
lmove nokey str left left
rpush one z
rpoplpush one one
lrange one 0 -1
rpoplpush one fresh
exists one
lrange fresh 0 -1
rpush li a b c d e
linsert li before c X
linsert li after c Y
linsert li after e Z
linsert li before a W
linsert li before nope Q
linsert li middle a Q
linsert nokey before a b
linsert str before a b
lrange li 0 -1
lindex li 0
lindex li -1
rpush lp a b c a b c a
lpos lp a
lpos lp a rank 2
lpos lp a rank -1
lpos lp a rank -2
lpos lp a count 0
lpos lp a count 2
lpos lp a count 0 rank -1
lpos lp a count 0 maxlen 4
lpos lp a rank -1 maxlen 2
lpos lp zz
lpos lp zz count 0
lpos lp a rank 0
lpos lp a count -1
lpos lp a maxlen -1
lpos lp a rank
lpos lp a bogus 1
lpos lp a rank x
lpos nokey a
lpos nokey a count 2
lpos str a
"""


@pytest.mark.parametrize("resp", [2, 3])
def test_list_matches_redis(oracle, server, resp):  # noqa: F811
    assert compare_script(oracle, server.port, SCRIPT, resp) == []


def test_push_pop_and_indexes(r):
    assert r.rpush("l", "b", "c") == 2
    assert r.lpush("l", "a", "z") == 4  # z a b c
    assert r.lrange("l", 0, -1) == ["z", "a", "b", "c"]
    assert r.lrange("l", -2, -1) == ["b", "c"]
    assert r.lrange("l", -100, 100) == ["z", "a", "b", "c"]
    assert r.lrange("l", 2, 1) == []
    assert r.lindex("l", -1) == "c" and r.lindex("l", 4) is None and r.lindex("l", -5) is None
    r.lset("l", -4, "Z")
    with pytest.raises(redis.ResponseError, match="index out of range"):
        r.lset("l", 4, "x")
    with pytest.raises(redis.ResponseError, match="no such key"):
        r.lset("nokey", 0, "x")
    assert r.lpop("l") == "Z" and r.rpop("l") == "c"
    assert r.lpop("l", 5) == ["a", "b"]
    assert r.exists("l") == 0 and r.lpop("l") is None and r.lpop("l", 2) is None
    with pytest.raises(redis.ResponseError, match="must be positive"):
        r.rpop("l", -1)


def test_lrem_counts(r):
    base = ["a", "x", "a", "y", "a", "z", "a"]
    r.rpush("l", *base)
    assert r.lrem("l", 2, "a") == 2
    assert r.lrange("l", 0, -1) == ["x", "y", "a", "z", "a"]
    r.delete("l")
    r.rpush("l", *base)
    assert r.lrem("l", -3, "a") == 3
    assert r.lrange("l", 0, -1) == ["a", "x", "y", "z"]
    r.delete("l")
    r.rpush("l", *base)
    assert r.lrem("l", 0, "a") == 4
    assert r.lrange("l", 0, -1) == ["x", "y", "z"]
    assert r.lindex("l", 1) == "y" and r.llen("l") == 3
    assert r.lrem("l", 0, "nothere") == 0
    assert r.lrem("l", 0, "x") + r.lrem("l", 0, "y") + r.lrem("l", 0, "z") == 3
    assert r.exists("l") == 0


def test_lrem_keeps_positions_contiguous(r):
    # Removals near either end take the cheaper side; indexes stay exact.
    items = [f"e{i}" for i in range(200)]
    r.rpush("l", *items)
    for victim in ("e3", "e196", "e100", "e0", "e199"):
        assert r.lrem("l", 1, victim) == 1
        items.remove(victim)
        assert r.lrange("l", 0, -1) == items
        assert [r.lindex("l", i) for i in (0, 50, -1)] == [items[0], items[50], items[-1]]
    r.lpush("l", "front")
    r.rpush("l", "back")
    items = ["front"] + items + ["back"]
    assert r.lrange("l", 0, -1) == items


def test_ltrim(r):
    r.rpush("l", *range(10))
    assert r.ltrim("l", 2, -3)
    assert r.lrange("l", 0, -1) == [str(i) for i in range(2, 8)]
    assert r.lindex("l", 0) == "2"
    r.ltrim("l", 5, 1)
    assert r.exists("l") == 0


def test_lpop_count_resp3(server):
    c = Raw(server.port)
    c.cmd("HELLO", "3")
    c.cmd("RPUSH", "l", "a", "b", "c")
    assert c.cmd("LPOP", "l", "2") == [b"a", b"b"]
    assert c.cmd("LPOP", "l", "0") == []
    assert c.cmd("LPOP", "nokey", "2") == ("null",)
    assert c.cmd("LINDEX", "l", "5") == ("null",)
    c.close()
