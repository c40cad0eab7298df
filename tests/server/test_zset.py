"""Sorted sets: ZADD (NX XX GT LT CH INCR) ZREM ZSCORE ZMSCORE ZCARD ZCOUNT
ZINCRBY ZRANK ZREVRANK ZRANGE (BYSCORE BYLEX REV LIMIT WITHSCORES)
ZRANGEBYSCORE ZREVRANGE ZPOPMIN ZPOPMAX ZSCAN (and ZREMRANGEBY*, ZRANDMEMBER, ZRANGESTORE, ZUNION/ZINTER/ZDIFF
and their STORE forms), checked directly and against
redis-server 7 reply for reply (RESP2 and RESP3 doubles)."""
import math

import pytest
import redis

from conftest import Raw
from redis_oracle import compare_script, oracle  # noqa: F401  (fixture)

SCRIPT = """
zadd z 1 a 2 b 3 c
zadd z 1 a
zadd z 5 a
zadd z ch 6 a 7 d
zadd z nx 100 a 8 e
zadd z xx 100 a 9 f
zadd z gt 50 a
zadd z gt 1 a
zadd z lt 1 a
zadd z lt 200 a
zadd z gt ch 300 a
zadd z gt ch 1 newgt
zadd z nx xx 1 a
zadd z nx gt 1 a
zadd z nx lt 1 a
zadd z gt lt 1 a
zadd z incr 1 a 2 b
zadd z incr 5 a
zadd z incr nx 5 a
zadd z incr xx 5 newm
zadd z incr gt -5 a
zadd z incr lt -5 a
zadd z incr ch 1 a
zadd z abc a
zadd z 1
zadd z 1 a 2
zadd z nan a
zadd z xx
zadd z inf i -inf j
zadd z incr -inf i
zadd z xx 1 nokey
zadd nokeyz xx 1 a
zadd nokeyz xx incr 1 a
exists nokeyz
zadd z 1 dup 2 dup
zscore z dup
zrange z 0 -1 withscores
zscore z a
zscore z i
zscore z j
zscore z zz
zscore nokey a
zmscore z a zz b
zmscore nokey a b
zcard z
zcard nokey
zrank z a
zrank z zz
zrevrank z a
zrank z j
zrevrank z j
zrank nokey a
zcount z -inf +inf
zcount z 1 3
zcount z (1 3
zcount z (1 (3
zcount z 3 1
zcount z (inf +inf
zcount z -inf (-inf
zcount z a b
zcount nokey 0 1
zrange z 0 -1
zrange z 1 2 withscores
zrange z -2 -1
zrange z 100 200
zrange z 0 -1 rev
zrange z 0 -1 rev withscores
zrange z 1 3 rev
zrange z -inf +inf byscore
zrange z (1 +inf byscore withscores
zrange z +inf -inf byscore rev
zrange z +inf -inf byscore rev limit 1 2
zrange z -inf +inf byscore limit 1 2 withscores
zrange z -inf +inf byscore limit 1 -1
zrange z -inf +inf byscore limit -1 2
zrange z -inf +inf byscore limit 0 0
zrange z -inf +inf byscore limit 0
zrange z 0 -1 limit 1 2
zrange z - + bylex withscores
zrange z 0 -1 bogus
zrange z a b
zrange z a b byscore
zrange z a b bylex
zrange z 0 -1 byscore bylex
zrange nokey 0 -1
zrangebyscore z -inf +inf
zrangebyscore z -inf +inf withscores
zrangebyscore z 2 8 withscores limit 1 2
zrangebyscore z (2 (8
zrangebyscore z 5 5
zrangebyscore z (5 5
zrevrangebyscore z +inf -inf
zrevrangebyscore z 8 2 withscores limit 1 1
zrevrangebyscore z 2 8
zrangebyscore z 0 -1 rev
zrangebyscore z 0 1 bylex
zrevrange z 0 1
zrevrange z 0 -1 withscores
zrevrange z -2 -1
zrevrange z 0 1 limit 0 1
zadd lex 0 a 0 b 0 c 0 d 0 e 0 f 0 g 0 gg
zrangebylex lex - +
zrangebylex lex [b [d
zrangebylex lex (b (d
zrangebylex lex (b +
zrangebylex lex - (c
zrangebylex lex + -
zrangebylex lex - -
zrangebylex lex + +
zrangebylex lex [d [b
zrangebylex lex [b [b
zrangebylex lex (b [b
zrangebylex lex [g (gg
zrangebylex lex [g [gg
zrangebylex lex (g +
zrangebylex lex b d
zrangebylex lex [b [d limit 1 1
zrangebylex lex [ +
zrangebylex lex ( +
zrangebylex lex -a +
zrevrangebylex lex + -
zrevrangebylex lex [d [b
zrevrangebylex lex (d - limit 0 2
zrange lex [d [b bylex rev
zrange lex (a [c bylex
zrange lex - + bylex limit 2 3
zlexcount lex - +
zlexcount lex [b (e
zlexcount lex x y
zlexcount nokey - +
zrangebylex lex [b [d withscores
zrange lex 0 -1 withscores
zrem z a zz b
zrem nokey a
zpopmin z
zpopmax z
zpopmin z 2
zpopmax z 0
zpopmin z -1
zpopmin z x
zpopmin z 1 2
zpopmin nokey
zpopmin nokey 3
zpopmax z 100
exists z
zadd z 1 a
set str v
zadd str 1 a
zrem str a
zrange str 0 1
zrangebyscore str 0 1
zrevrange str 0 1
zscore str a
zmscore str a
zcard str
zcount str 0 1
zincrby str 1 a
zrank str a
zpopmin str
zscan str 0
zincrby z 5 a
zincrby z x a
zincrby z 5 newmember
zadd z inf x
zincrby z -inf x
zincrby zz 1 a
zadd z -0 zero
zscore z zero
zadd z 1.5e300 big 0.1 small 1e-300 tiny
zrange z 0 -1 withscores
zadd n 1 a 1 b 1 c 0 d 2 e
zrange n 0 -1 withscores
zrank n c
zrank n e
zrevrank n d
zscan n 0 match a*
zscan nokey 0
multi
zadd mz 2 b 1 a
zincrby mz 5 a
zrange mz 0 -1 withscores
exec
flushall
set str v
zadd z 1 a 2 b 3 c 4 d 5 e 6 f
zremrangebyrank z 0 1
zrange z 0 -1
zremrangebyrank z -1 -1
zremrangebyrank z 5 10
zremrangebyrank z x 1
zremrangebyscore z (3 4
zrange z 0 -1 withscores
zremrangebyscore z a b
zremrangebyscore z -inf +inf
exists z
zadd l 0 a 0 b 0 c 0 d
zremrangebylex l [b (d
zrange l 0 -1
zremrangebylex l x y
zremrangebylex l - +
exists l
zremrangebyrank nokey 0 1
set str v
zremrangebyscore str 0 1
flushall
zadd zone 1.5 m
zrandmember zone
zrandmember zone 3
zrandmember zone -2 withscores
zrandmember zone 2 withscores
zrandmember zone 1 withvalues
zrandmember nokey
zrandmember nokey -1
set str v
zrandmember str 1
flushall
zadd a 1 x 2 y 3 z
zadd b 10 y 20 w
sadd s y q
set str v
zunionstore d 2 a b
zrange d 0 -1 withscores
zunion 2 a b
zunion 2 a b withscores
zinter 2 a b withscores
zdiff 2 a b withscores
zunion 3 a b s withscores
zunion 2 a b weights 2 3 withscores
zunion 2 a b weights 2 withscores
zunion 2 a b weights 2 x
zunion 2 a b aggregate max withscores
zunion 2 a b aggregate min withscores
zunion 2 a b aggregate bogus
zunion 0 a
zunion -1 a
zunion x a
zunion 3 a b
zunionstore d 0 a
zinterstore d 0 a
zdiffstore d 0 a
zdiff 0 a
zdiff 1 a withscores
zdiff 2 a b weights 1 2
zdiff 2 a b aggregate sum
zinterstore d 2 a nokey
exists d
zunionstore d 1 nokey
zunion 2 a str
zunion 2 str nokey
zunionstore str 1 a
type str
zadd i 1 p
zadd j inf p
zadd k -inf p
zunion 2 j k withscores
zunion 2 j k weights 0 1 withscores
zinterstore d 2 a b weights 1 nan
zunion 1 a bogus
zunion 2 a b withscores aggregate max weights 1 1
zrangestore d a 0 -1
zrangestore d a 1 +inf byscore limit 0 1
zrange d 0 -1 withscores
zrangestore d nokey 0 -1
exists d
zrangestore d a 0 -1 withscores
zinter 2 a s withscores
zunionstore d 2 a a
zrange d 0 -1 withscores
zunion 1 s withscores
zadd big 1 a 2 b 3 c 4 d
zadd sm 5 b 6 c
zadd md 7 c 8 d 9 e
zinter 3 big sm md withscores
zinter 3 big sm md weights 1 2 3 withscores aggregate max
zunion 3 big sm md weights 0.1 0.2 0.3 withscores
zdiff 3 big sm md withscores
zdiffstore dd 2 big sm
zrange dd 0 -1 withscores
zinterstore big 2 big sm
zrange big 0 -1 withscores
zunion 1 nokey
zinter 1 nokey withscores
zunion 2 a b withscores weights inf -inf
"""


@pytest.mark.parametrize("resp", [2, 3])
def test_zset_matches_redis(oracle, server, resp):  # noqa: F811
    assert compare_script(oracle, server.port, SCRIPT, resp) == []


def test_zadd_flags(r):
    assert r.zadd("z", {"a": 1, "b": 2}) == 2
    assert r.zadd("z", {"a": 5, "c": 3}, ch=True) == 2
    assert r.zadd("z", {"a": 9, "d": 4}, nx=True) == 1 and r.zscore("z", "a") == 5
    assert r.zadd("z", {"a": 9, "e": 4}, xx=True) == 0 and r.zscore("z", "a") == 9
    assert r.zscore("z", "e") is None
    assert r.zadd("z", {"a": 1}, gt=True, ch=True) == 0 and r.zscore("z", "a") == 9
    assert r.zadd("z", {"a": 10}, gt=True, ch=True) == 1 and r.zscore("z", "a") == 10
    assert r.zadd("z", {"a": 2}, lt=True, ch=True) == 1 and r.zscore("z", "a") == 2
    assert r.zadd("z", {"a": 3}, incr=True) == 5.0
    assert r.zadd("z", {"a": 3}, incr=True, nx=True) is None
    with pytest.raises(redis.ResponseError, match="XX and NX options at the same time are not compatible"):
        r.execute_command("ZADD", "z", "NX", "XX", 1, "a")
    with pytest.raises(redis.ResponseError, match="GT, LT, and/or NX options"):
        r.execute_command("ZADD", "z", "GT", "LT", 1, "a")
    with pytest.raises(redis.ResponseError, match="INCR option supports a single increment-element pair"):
        r.execute_command("ZADD", "z", "INCR", 1, "a", 2, "b")
    with pytest.raises(redis.ResponseError, match="not a valid float"):
        r.execute_command("ZADD", "z", "x", "a")
    r.zadd("z", {"inf": float("inf")})
    with pytest.raises(redis.ResponseError, match="resulting score is not a number"):
        r.zincrby("z", float("-inf"), "inf")


def test_infinite_scores_and_order(r):
    r.zadd("z", {"lo": float("-inf"), "hi": float("inf"), "m": 0, "n": -1.5, "p": 1e300})
    assert r.zrange("z", 0, -1) == ["lo", "n", "m", "p", "hi"]
    assert r.zscore("z", "hi") == math.inf and r.zscore("z", "lo") == -math.inf
    assert r.zrangebyscore("z", "-inf", "+inf") == ["lo", "n", "m", "p", "hi"]
    assert r.zrangebyscore("z", "(-inf", "(inf") == ["n", "m", "p"]
    assert r.zcount("z", "-inf", "-inf") == 1
    assert r.zrevrangebyscore("z", "+inf", 0, withscores=True) == [("hi", math.inf), ("p", 1e300), ("m", 0.0)]
    assert r.zrank("z", "m") == 2 and r.zrevrank("z", "m") == 2 and r.zrank("z", "x") is None


def test_ranges(r):
    r.zadd("z", {f"m{i:02d}": i for i in range(20)})
    assert r.zrange("z", 0, 2) == ["m00", "m01", "m02"]
    assert r.zrange("z", -2, -1) == ["m18", "m19"]
    assert r.zrevrange("z", 0, 1) == ["m19", "m18"]
    assert r.zrange("z", 15, 100) == [f"m{i}" for i in range(15, 20)]
    assert r.zrangebyscore("z", "(5", 8) == ["m06", "m07", "m08"]
    assert r.zrangebyscore("z", 5, "(8", start=1, num=1) == ["m06"]
    assert r.execute_command("ZRANGE", "z", "(12", 10, "BYSCORE", "REV") == ["m11", "m10"]
    assert r.execute_command("ZRANGE", "z", 10, 12, "BYSCORE", "LIMIT", 1, -1) == ["m11", "m12"]
    assert r.zcount("z", "(0", "(19") == 18
    with pytest.raises(redis.ResponseError, match="min or max is not a float"):
        r.zrangebyscore("z", "x", 1)
    with pytest.raises(redis.ResponseError, match="LIMIT is only supported"):
        r.execute_command("ZRANGE", "z", 0, 1, "LIMIT", 0, 1)


def test_lex_ranges(r):
    r.zadd("z", {m: 0 for m in ["a", "b", "ba", "c", "d"]})
    assert r.zrangebylex("z", "-", "+") == ["a", "b", "ba", "c", "d"]
    assert r.zrangebylex("z", "[b", "(c") == ["b", "ba"]
    assert r.zrangebylex("z", "(b", "[c") == ["ba", "c"]
    assert r.zrevrangebylex("z", "+", "(b") == ["d", "c", "ba"]
    assert r.zrangebylex("z", "-", "+", start=1, num=2) == ["b", "ba"]
    assert r.zlexcount("z", "[b", "[b") == 1
    with pytest.raises(redis.ResponseError, match="not valid string range item"):
        r.zrangebylex("z", "b", "+")
    with pytest.raises(redis.ResponseError, match="WITHSCORES not supported"):
        r.execute_command("ZRANGE", "z", "-", "+", "BYLEX", "WITHSCORES")


def test_pop_and_rem(r):
    r.zadd("z", {"a": 1, "b": 2, "c": 3, "d": 4})
    assert r.zpopmin("z") == [("a", 1.0)]
    assert r.zpopmax("z", 2) == [("d", 4.0), ("c", 3.0)]
    assert r.zrem("z", "b", "zz") == 1
    assert r.exists("z") == 0
    assert r.zpopmin("z") == [] and r.zpopmax("z", 3) == []
    with pytest.raises(redis.ResponseError, match="must be positive"):
        r.zpopmin("z", -1)


def test_zscan(r):
    m = {f"m{i:03d}": i / 4 for i in range(300)}
    r.zadd("z", m)
    seen = {}
    cursor = 0
    while True:
        cursor, items = r.zscan("z", cursor, count=25)
        seen.update(dict(items))
        if cursor == 0:
            break
    assert seen == m


def test_resp3_doubles(server):
    c = Raw(server.port)
    c.cmd("HELLO", "3")
    c.cmd("ZADD", "z", "1.5", "a", "inf", "b")
    assert c.cmd("ZSCORE", "z", "a") == ("double", "1.5")
    assert c.cmd("ZSCORE", "z", "b") == ("double", "inf")
    assert c.cmd("ZMSCORE", "z", "a", "x") == [("double", "1.5"), ("null",)]
    assert c.cmd("ZRANGE", "z", "0", "-1", "WITHSCORES") == [[b"a", ("double", "1.5")], [b"b", ("double", "inf")]]
    assert c.cmd("ZINCRBY", "z", "1", "a") == ("double", "2.5")
    assert c.cmd("ZPOPMIN", "z") == [b"a", ("double", "2.5")]
    assert c.cmd("ZPOPMAX", "z", "1") == [[b"b", ("double", "inf")]]
    c.close()


def test_zrandmember(r):
    m = {f"m{i}": i / 2 for i in range(40)}
    r.zadd("z", m)
    assert r.zrandmember("z") in m
    got = r.zrandmember("z", 15)
    assert len(set(got)) == 15 and set(got) <= set(m)
    rep = r.zrandmember("z", -80, withscores=True)
    assert len(rep) == 160
    for mem, sc in zip(rep[::2], rep[1::2]):
        assert m[mem] == float(sc)
