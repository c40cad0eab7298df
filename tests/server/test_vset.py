"""Vector set commands (VADD VSIM VREM VCARD VDIM VEMB VGETATTR VSETATTR
VINFO VISMEMBER VRANDMEMBER) against omendb-server: Redis 8 replies and
errors, search results checked against a brute-force cosine ranking,
durability across restart and kill -9."""
import math
import random
import signal
import struct
import threading

import pytest
import redis

from conftest import Raw, ServerProc


def vadd(r, key, vec, elem, *opts):
    return r.execute_command("VADD", key, "VALUES", len(vec), *vec, elem, *opts)


def cos_sim(a, b):
    na = math.sqrt(sum(x * x for x in a))
    nb = math.sqrt(sum(x * x for x in b))
    return sum(x * y for x, y in zip(a, b)) / (na * nb)


def score_of(a, b):
    """Redis's similarity: 1 - cosine distance / 2."""
    return 1 - (1 - cos_sim(a, b)) / 2


def pairs(flat):
    return [(flat[i], float(flat[i + 1])) for i in range(0, len(flat), 2)]


def test_add_update_remove(r):
    assert vadd(r, "vs", [1, 0, 0], "a") == 1
    assert vadd(r, "vs", [0, 1, 0], "b") == 1
    assert vadd(r, "vs", [0.5, 0.5, 0], "a") == 0  # update: not added
    assert r.execute_command("VCARD", "vs") == 2
    assert r.execute_command("VDIM", "vs") == 3
    # the update replaced a's vector
    emb = [float(x) for x in r.execute_command("VEMB", "vs", "a")]
    assert emb == pytest.approx([0.5, 0.5, 0], abs=1e-5)
    assert r.execute_command("VREM", "vs", "a") == 1
    assert r.execute_command("VREM", "vs", "a") == 0
    assert r.execute_command("VISMEMBER", "vs", "a") == 0
    assert r.execute_command("VISMEMBER", "vs", "b") == 1
    assert r.execute_command("VREM", "vs", "b") == 1
    # the last element gone: the key goes too, as in Redis
    assert r.exists("vs") == 0
    assert r.type("vs") == "none"
    assert r.execute_command("VREM", "nokey", "x") == 0


def test_update_of_the_only_element_keeps_it_searchable(r):
    # Replacing the vector of a set's only element left the graph's entry
    # point on the deleted old node: every later graph search (not TRUTH)
    # came back empty, even after more elements were added.
    vadd(r, "vs", [1, 0], "a", "SETATTR", '{"x": 1}')
    assert vadd(r, "vs", [1, 1], "a") == 0
    assert r.execute_command("VSIM", "vs", "VALUES", 2, 1, 0) == ["a"]
    vadd(r, "vs", [0, 1], "b")
    assert r.execute_command("VSIM", "vs", "VALUES", 2, 0, 1) == ["b", "a"]
    assert r.execute_command("VSIM", "vs", "ELE", "a", "COUNT", 5) == ["a", "b"]


def test_type_and_wrongtype(r):
    vadd(r, "vs", [1, 2], "a")
    assert r.type("vs") == "vectorset"
    r.set("str", "v")
    r.rpush("lst", "x")
    with pytest.raises(redis.ResponseError, match="WRONGTYPE"):
        vadd(r, "str", [1, 2], "a")
    for cmd in (("VCARD", "lst"), ("VSIM", "str", "ELE", "a"), ("VEMB", "str", "a"),
                ("VREM", "lst", "x"), ("VINFO", "str"), ("VISMEMBER", "str", "a"),
                ("VRANDMEMBER", "lst"), ("VGETATTR", "str", "a"), ("VSETATTR", "str", "a", "{}"),
                ("VDIM", "lst")):
        with pytest.raises(redis.ResponseError, match="WRONGTYPE"):
            r.execute_command(*cmd)
    with pytest.raises(redis.ResponseError, match="WRONGTYPE"):
        r.get("vs")
    with pytest.raises(redis.ResponseError, match="WRONGTYPE"):
        r.hset("vs", "f", "v")
    # SET replaces a vector set like any other value
    r.set("vs", "now a string")
    assert r.get("vs") == "now a string"
    assert vadd(r, "vs2", [1, 2], "z") == 1


@pytest.mark.parametrize("dim,quant", [(2, "Q8"), (8, "Q8"), (33, "Q8"), (16, "NOQUANT")])
def test_vsim_matches_brute_force(r, dim, quant):
    rnd = random.Random(dim * 7 + len(quant))
    vecs = {}
    for i in range(300):
        v = [rnd.gauss(0, 1) for _ in range(dim)]
        vecs[f"e{i}"] = v
        vadd(r, "vs", v, f"e{i}", quant)
    assert r.execute_command("VCARD", "vs") == 300
    hits = 0
    for qi in range(10):
        q = [rnd.gauss(0, 1) for _ in range(dim)]
        truth = sorted(vecs, key=lambda e: -cos_sim(vecs[e], q))
        # TRUTH is an exact scan: the same order as brute force (up to ties)
        exact = pairs(r.execute_command("VSIM", "vs", "VALUES", dim, *q, "WITHSCORES", "COUNT", 10, "TRUTH"))
        want = [score_of(vecs[e], q) for e in truth[:10]]
        assert [s for _, s in exact] == pytest.approx(want, abs=1e-4)
        for e, s in exact:
            assert s == pytest.approx(score_of(vecs[e], q), abs=1e-4)
        # the graph search: high recall on 300 points, ordered, scores in [0, 1]
        got = pairs(r.execute_command("VSIM", "vs", "VALUES", dim, *q, "WITHSCORES", "COUNT", 10))
        assert len(got) == 10
        scores = [s for _, s in got]
        assert all(0 <= s <= 1 for s in scores)
        assert scores == sorted(scores, reverse=True)
        hits += len({e for e, _ in got} & set(truth[:10]))
    assert hits >= 90  # recall@10 over 10 queries
    # default COUNT is 10; ELE queries by a member's vector (itself first, score 1)
    assert len(r.execute_command("VSIM", "vs", "ELE", "e5")) == 10
    first = pairs(r.execute_command("VSIM", "vs", "ELE", "e5", "WITHSCORES", "COUNT", 3))[0]
    assert first[0] == "e5" and first[1] == pytest.approx(1.0, abs=1e-5)


def test_scores_range_and_epsilon(r):
    vadd(r, "vs", [1, 0], "same")
    vadd(r, "vs", [0, 1], "orth")
    vadd(r, "vs", [-1, 0], "opp")
    got = dict(pairs(r.execute_command("VSIM", "vs", "VALUES", 2, 2, 0, "WITHSCORES")))
    assert got["same"] == pytest.approx(1.0, abs=1e-6)
    assert got["orth"] == pytest.approx(0.5, abs=1e-6)
    assert got["opp"] == pytest.approx(0.0, abs=1e-6)
    # EPSILON: only results with distance/2 <= eps, i.e. score >= 1 - eps
    got = r.execute_command("VSIM", "vs", "VALUES", 2, 1, 0, "EPSILON", 0.6)
    assert got == ["same", "orth"]
    assert r.execute_command("VSIM", "vs", "VALUES", 2, 1, 0, "EPSILON", 0.1) == ["same"]


def test_vsim_fp32_blob(r):
    blob = struct.pack("<3f", 1, 0, 0)
    assert r.execute_command("VADD", "vs", "FP32", blob, "a") == 1
    vadd(r, "vs", [0, 1, 0], "b")
    assert r.execute_command("VSIM", "vs", "FP32", struct.pack("<3f", 0.1, 1, 0), "COUNT", 1) == ["b"]
    with pytest.raises(redis.ResponseError, match="invalid vector specification"):
        r.execute_command("VADD", "vs", "FP32", b"\x00\x00\x80", "c")


def test_filter_expressions(r):
    rnd = random.Random(5)
    attrs = {}
    for i in range(200):
        a = {"year": 1950 + i % 70, "genre": ["noir", "scifi", "drama"][i % 3], "rating": (i % 10) / 2}
        attrs[f"m{i}"] = a
        vadd(r, "films", [rnd.gauss(0, 1) for _ in range(4)], f"m{i}", "SETATTR", __import__("json").dumps(a))
    vadd(r, "films", [1, 1, 1, 1], "noattr")
    q = [0.3, -0.2, 0.5, 1.0]

    def run(expr, count=500):
        return set(r.execute_command("VSIM", "films", "VALUES", 4, *q, "COUNT", count, "FILTER", expr))

    assert run(".year > 2000") == {e for e, a in attrs.items() if a["year"] > 2000}
    assert run('.genre == "noir" and .year < 1970') == {
        e for e, a in attrs.items() if a["genre"] == "noir" and a["year"] < 1970}
    assert run('.genre in ["scifi", "drama"] or .rating >= 4.5') == {
        e for e, a in attrs.items() if a["genre"] in ("scifi", "drama") or a["rating"] >= 4.5}
    assert run("not (.year >= 1960)") == {e for e, a in attrs.items() if not a["year"] >= 1960}
    assert run(".missing == 1") == set()
    # with COUNT, the best matches by similarity among those that pass
    top = r.execute_command("VSIM", "films", "VALUES", 4, *q, "COUNT", 5, "FILTER", ".year > 2000",
                            "FILTER-EF", 1000)
    assert len(top) == 5 and all(attrs[e]["year"] > 2000 for e in top)
    with pytest.raises(redis.ResponseError, match="syntax error in FILTER expression"):
        r.execute_command("VSIM", "films", "VALUES", 4, *q, "FILTER", ".year >")
    with pytest.raises(redis.ResponseError, match="syntax error in VSIM"):
        r.execute_command("VSIM", "films", "VALUES", 4, *q, "BOGUS")


def test_filter_semantics_as_redis(r):
    """The FILTER rules Redis documents or its own tests pin: `not`/`!`
    bind tighter than comparisons, a field missing anywhere skips the
    element, a string holding a number compares as that number, selectors
    keep `-` and digits, and an element without attributes matches
    nothing."""
    vadd(r, "vs", [1, 0], "i1", "SETATTR", '{"active": true, "n": 5, "year": "1950", "release-year": 2001}')
    vadd(r, "vs", [0, 1], "i2", "SETATTR", '{"active": false, "n": 0, "year": 1960, "2024": 1}')
    vadd(r, "vs", [1, 1], "i3")  # no attributes: matches no filter, not even `1`

    def match(expr):
        return sorted(r.execute_command("VSIM", "vs", "VALUES", 2, 1, 0, "FILTER", expr))

    # Redis's own test (filter_double_not.py): ! binds tighter than ==
    assert match("!!.n == 1") == ["i1"]
    assert match("!.active or !!.active") == ["i1", "i2"]
    assert match("not .n > 3") == []  # (not .n) > 3: 0 or 1 is never > 3
    assert match("not .n < 1") == ["i1"]  # (not 5) < 1
    assert match("not (.n > 3)") == ["i2"]
    # "If a field is missing or invalid, the element is skipped"
    assert match('.n == 5 or .release-year == 2001') == ["i1"]
    assert match(".n >= 0 or .nothere == 1") == []
    # numbers stored as strings
    assert match(".year == 1950") == ["i1"]
    assert match('.year > 1940 and .year < "1955"') == ["i1"]
    assert match(".year in [1950, 1960]") == ["i1", "i2"]
    # selectors: letters, digits, _ and -
    assert match(".release-year > 2000") == ["i1"]
    assert match(".2024 == 1") == ["i2"]
    assert match(".n - 1 == 4") == ["i1"]
    assert match("1") == ["i1", "i2"]
    assert match("not .missing") == []


def test_vemb_round_trip(r):
    rnd = random.Random(3)
    for quant, tol in (("Q8", 1e-4), ("NOQUANT", 1e-5)):
        key = "vs" + quant
        vecs = {f"e{i}": [rnd.uniform(-5, 5) for _ in range(12)] for i in range(30)}
        for e, v in vecs.items():
            vadd(r, key, v, e, quant)
        for e, v in vecs.items():
            got = [float(x) for x in r.execute_command("VEMB", key, e)]
            assert got == pytest.approx(v, rel=tol, abs=tol)
        rb = redis.Redis(port=r.connection_pool.connection_kwargs["port"], decode_responses=False)
        raw = rb.execute_command("VEMB", key, "e0", "RAW")
        rb.close()
        if quant == "NOQUANT":
            assert raw[0] == b"f32" and len(raw) == 3 and len(raw[1]) == 12 * 4
        else:
            assert raw[0] == b"int8" and len(raw) == 5 and len(raw[1]) == 12
            # the codes decode with the element's own scale and offset
            scale, offset, norm = float(raw[3]) / 127, float(raw[4]), float(raw[2])
            codes = [b - 256 if b > 127 else b for b in raw[1]]
            dec = [(q * scale + offset) * norm for q in codes]
            assert dec == pytest.approx(vecs["e0"], abs=0.6 * scale * norm + 1e-6)
        assert float(raw[2]) == pytest.approx(math.sqrt(sum(x * x for x in vecs["e0"])), rel=1e-5)
        info = r.execute_command("VINFO", key)
        assert dict(zip(info[::2], info[1::2]))["quant-type"] == ("f32" if quant == "NOQUANT" else "int8")
    assert r.execute_command("VEMB", "vsQ8", "nope") is None
    assert r.execute_command("VEMB", "nokey", "e0") is None
    # BIN is accepted and maps to int8 (no binary quantization here)
    vadd(r, "bin", [1, 2, 3], "a", "BIN")
    info = r.execute_command("VINFO", "bin")
    assert dict(zip(info[::2], info[1::2]))["quant-type"] == "int8"
    with pytest.raises(redis.ResponseError, match="quantization mismatch"):
        vadd(r, "vsQ8", [0] * 11 + [1], "x", "NOQUANT")


def test_attributes(r):
    vadd(r, "vs", [1, 0], "a")
    vadd(r, "vs", [0, 1], "b", "SETATTR", '{"color": "red"}')
    assert r.execute_command("VGETATTR", "vs", "a") is None
    assert r.execute_command("VGETATTR", "vs", "b") == '{"color": "red"}'
    assert r.execute_command("VSETATTR", "vs", "a", '{"n": 1}') == 1
    assert r.execute_command("VGETATTR", "vs", "a") == '{"n": 1}'
    assert r.execute_command("VSIM", "vs", "VALUES", 2, 1, 0, "FILTER", ".n == 1") == ["a"]
    assert r.execute_command("VSETATTR", "vs", "a", "") == 1  # removes
    assert r.execute_command("VGETATTR", "vs", "a") is None
    assert r.execute_command("VSIM", "vs", "VALUES", 2, 1, 0, "FILTER", ".n == 1") == []
    assert r.execute_command("VSETATTR", "vs", "zzz", '{"n": 1}') == 0
    assert r.execute_command("VSETATTR", "nokey", "a", '{"n": 1}') == 0
    assert r.execute_command("VGETATTR", "nokey", "a") is None
    with pytest.raises(redis.ResponseError, match="JSON"):
        r.execute_command("VSETATTR", "vs", "a", "[1, 2]")
    big = '{"s": "%s"}' % ("x" * 70000)
    for cmd in (("VSETATTR", "vs", "a", big), ("VADD", "vs", "VALUES", 2, 1, 0, "a", "SETATTR", big)):
        with pytest.raises(redis.ResponseError, match="^attributes longer than 65536 bytes$"):
            r.execute_command(*cmd)
    assert r.execute_command("VGETATTR", "vs", "a") is None
    with pytest.raises(redis.ResponseError, match="JSON"):
        vadd(r, "vs", [1, 1], "c", "SETATTR", "not json")
    assert r.execute_command("VISMEMBER", "vs", "c") == 0
    # VADD without SETATTR keeps attributes of an existing element
    vadd(r, "vs", [0.5, 1], "b")
    assert r.execute_command("VGETATTR", "vs", "b") == '{"color": "red"}'
    # WITHATTRIBS (RESP2: flat element, score, attributes)
    got = r.execute_command("VSIM", "vs", "VALUES", 2, 0, 1, "WITHSCORES", "WITHATTRIBS", "COUNT", 2)
    assert got[0] == "b" and got[2] == '{"color": "red"}' and got[3] == "a" and got[5] is None


def test_card_dim_info_ismember_randmember(r):
    assert r.execute_command("VCARD", "nokey") == 0
    with pytest.raises(redis.ResponseError, match="key does not exist"):
        r.execute_command("VDIM", "nokey")
    assert r.execute_command("VINFO", "nokey") is None
    assert r.execute_command("VISMEMBER", "nokey", "a") == 0
    assert r.execute_command("VRANDMEMBER", "nokey") is None
    assert r.execute_command("VRANDMEMBER", "nokey", 3) == []
    names = [f"e{i}" for i in range(20)]
    for i, e in enumerate(names):
        vadd(r, "vs", [math.cos(i), math.sin(i), 1], e, "M", 8)
    assert r.execute_command("VCARD", "vs") == 20
    assert r.execute_command("VDIM", "vs") == 3
    info = r.execute_command("VINFO", "vs")
    info = dict(zip(info[::2], info[1::2]))
    assert info["size"] == 20 and info["vector-dim"] == 3 and info["hnsw-m"] == 8
    with pytest.raises(redis.ResponseError, match="M value mismatch"):
        vadd(r, "vs", [1, 1, 1], "x")  # default M 16 against a set built with M 8
    assert r.execute_command("VRANDMEMBER", "vs") in names
    assert r.execute_command("VRANDMEMBER", "vs", 0) == []
    # Redis's error, and a count of 0 answers before the key is even read
    with pytest.raises(redis.ResponseError, match="^COUNT value is not an integer$"):
        r.execute_command("VRANDMEMBER", "vs", "x")
    r.set("str", "v")
    assert r.execute_command("VRANDMEMBER", "str", 0) == []
    with pytest.raises(redis.ResponseError, match="WRONGTYPE"):
        r.execute_command("VRANDMEMBER", "str", 1)
    five = r.execute_command("VRANDMEMBER", "vs", 5)
    assert len(five) == 5 and len(set(five)) == 5 and set(five) <= set(names)
    allm = r.execute_command("VRANDMEMBER", "vs", 100)
    assert sorted(allm) == sorted(names)
    rep = r.execute_command("VRANDMEMBER", "vs", -50)
    assert len(rep) == 50 and set(rep) <= set(names) and len(set(rep)) < 50
    seen = set()
    for _ in range(200):
        seen.add(r.execute_command("VRANDMEMBER", "vs"))
    assert len(seen) > 10  # draws are spread, not one fixed member


def test_resp3_replies(server):
    c = Raw(server.port)
    try:
        c.cmd("HELLO", 3)
        c.cmd("VADD", "vs", "VALUES", 2, 1, 0, "a", "SETATTR", '{"x": 1}')
        c.cmd("VADD", "vs", "VALUES", 2, 0, 1, "b")
        assert c.cmd("VISMEMBER", "vs", "a") == ("bool", True)
        assert c.cmd("VADD", "vs", "VALUES", 2, 0, 1, "b") == ("bool", False)
        t, items = c.cmd("VSIM", "vs", "VALUES", 2, 1, 0, "WITHSCORES")
        assert t == "map" and items[0][0] == b"a" and items[0][1][0] == "double"
        assert float(items[0][1][1]) == pytest.approx(1.0)
        t, items = c.cmd("VSIM", "vs", "VALUES", 2, 1, 0, "WITHSCORES", "WITHATTRIBS")
        assert t == "map"
        assert items[0][0] == b"a" and items[0][1][0][0] == "double" and items[0][1][1] == b'{"x": 1}'
        assert items[1][0] == b"b" and items[1][1][1] == ("null",)
        t, items = c.cmd("VSIM", "vs", "VALUES", 2, 1, 0, "WITHATTRIBS")
        assert t == "map" and items[1] == (b"b", ("null",))
        assert c.cmd("VSIM", "vs", "VALUES", 2, 1, 0) == [b"a", b"b"]
        t, info = c.cmd("VINFO", "vs")
        assert t == "map" and info[0] == (("status", "quant-type"), ("status", "int8"))
        emb = c.cmd("VEMB", "vs", "a")
        assert emb[0][0] == "double"
        assert c.cmd("VINFO", "nokey") == ("null",)
    finally:
        c.close()


def test_bad_input(r):
    vadd(r, "vs", [1, 2, 3], "a")
    with pytest.raises(redis.ResponseError, match="dimension mismatch - got 2 but set has 3"):
        vadd(r, "vs", [1, 2], "b")
    with pytest.raises(redis.ResponseError, match="dimension mismatch"):
        r.execute_command("VSIM", "vs", "VALUES", 4, 1, 2, 3, 4)
    with pytest.raises(redis.ResponseError, match="invalid vector specification"):
        r.execute_command("VADD", "vs", "VALUES", 3, "nan", 0, 0, "b")
    with pytest.raises(redis.ResponseError, match="invalid vector specification"):
        r.execute_command("VADD", "vs", "VALUES", 3, "x", 0, 0, "b")
    with pytest.raises(redis.ResponseError, match="invalid vector"):
        r.execute_command("VADD", "vs", "FP32", struct.pack("<3f", float("nan"), 0, 0), "b")
    with pytest.raises(redis.ResponseError, match="invalid vector"):
        vadd(r, "vs", [0, 0, 0], "zero")
    with pytest.raises(redis.ResponseError, match="REDUCE"):
        r.execute_command("VADD", "vs", "REDUCE", 2, "VALUES", 3, 1, 2, 3, "b")
    with pytest.raises(redis.ResponseError, match="invalid option after element"):
        vadd(r, "vs", [1, 2, 3], "b", "WHATEVER")
    with pytest.raises(redis.ResponseError, match="wrong number of arguments"):
        r.execute_command("VADD", "vs", "VALUES", 3, 1, 2, 3)
    with pytest.raises(redis.ResponseError, match="invalid EF"):
        vadd(r, "vs", [1, 2, 3], "b", "EF", 0)
    with pytest.raises(redis.ResponseError, match="invalid COUNT"):
        r.execute_command("VSIM", "vs", "ELE", "a", "COUNT", 0)
    with pytest.raises(redis.ResponseError, match="element not found"):
        r.execute_command("VSIM", "vs", "ELE", "nope")
    with pytest.raises(redis.ResponseError, match="^invalid vector specification$"):
        r.execute_command("VSIM", "vs", "VECTOR", 1)
    with pytest.raises(redis.ResponseError, match="invalid option"):
        r.execute_command("VEMB", "vs", "a", "BOGUS")
    assert r.execute_command("VSIM", "nokey", "VALUES", 3, 1, 2, 3) == []
    # the components are finite but the norm overflows a float
    with pytest.raises(redis.ResponseError, match="invalid vector: a component"):
        vadd(r, "vs", [3e38, 3e38, 0], "big")
    # a query vector a cosine set cannot use: the VADD error, not the engine's
    for q in ([0, 0, 0], ["inf", 0, 0], [1e38, "-inf", 1]):
        with pytest.raises(redis.ResponseError, match="^invalid vector: a component"):
            r.execute_command("VSIM", "vs", "VALUES", 3, *q)
    with pytest.raises(redis.ResponseError, match="^invalid vector: a component"):
        r.execute_command("VSIM", "vs", "FP32", struct.pack("<3f", 1, float("nan"), 0))
    # a NUL inside FILTER is named as such, not as the engine's last,
    # unrelated error
    with pytest.raises(redis.ResponseError, match="list too long"):
        r.execute_command("VSIM", "vs", "ELE", "a", "FILTER", "[" + "1," * 2000 + "1]")
    with pytest.raises(redis.ResponseError, match="FILTER expression: NUL byte at position 6"):
        r.execute_command("VSIM", "vs", "ELE", "a", "FILTER", ".a > 1\x00 or 1")
    assert r.execute_command("VCARD", "vs") == 1  # nothing bad was written
    assert r.execute_command("VEMB", "vs", "b") is None


def test_pipeline_sees_its_own_writes(r):
    p = r.pipeline(transaction=False)
    for i in range(20):
        p.execute_command("VADD", "vs", "VALUES", 2, 1, i, f"e{i}")
        p.execute_command("VCARD", "vs")
        p.execute_command("VISMEMBER", "vs", f"e{i}")
    p.execute_command("VSIM", "vs", "VALUES", 2, 1, 0, "COUNT", 1)
    out = p.execute()
    for i in range(20):
        assert out[3 * i:3 * i + 3] == [1, i + 1, 1]
    assert out[-1] == ["e0"]


def test_multi_refuses_vector_commands(r):
    p = r.pipeline(transaction=True)
    p.set("k", "v")
    p.execute_command("VADD", "vs", "VALUES", 2, 1, 0, "a")
    with pytest.raises(redis.ResponseError):
        p.execute()
    assert r.get("k") is None and r.exists("vs") == 0


def test_watch_sees_vector_writes(server):
    a, b = server.client(), server.client()
    vadd(a, "vs", [1, 0], "x")
    p = a.pipeline(transaction=True)
    p.watch("vs")
    vadd(b, "vs", [0, 1], "y")
    p.multi()
    p.set("after", "1")
    with pytest.raises(redis.WatchError):
        p.execute()
    assert a.get("after") is None
    a.close()
    b.close()


def test_del_rename_flush(r):
    for i in range(50):
        vadd(r, "vs", [1, i, 0], f"e{i}")
    assert r.rename("vs", "moved")
    assert r.exists("vs") == 0
    assert r.execute_command("VCARD", "moved") == 50
    assert r.execute_command("VSIM", "moved", "VALUES", 3, 1, 0, 0, "COUNT", 1) == ["e0"]
    # RENAME over another vector set replaces it
    vadd(r, "other", [1, 2], "o")
    assert r.rename("moved", "other")
    assert r.execute_command("VDIM", "other") == 3
    assert r.execute_command("VISMEMBER", "other", "o") == 0
    assert r.delete("other") == 1
    assert r.execute_command("VCARD", "other") == 0
    # a new set under the same key starts empty, with its own dimension
    assert vadd(r, "other", [1, 2], "n") == 1
    assert r.execute_command("VCARD", "other") == 1
    assert r.execute_command("VSIM", "other", "VALUES", 2, 1, 0) == ["n"]
    r.flushall()
    assert r.execute_command("VCARD", "other") == 0
    assert vadd(r, "other", [1, 2, 3, 4], "m") == 1
    assert r.execute_command("VSIM", "other", "VALUES", 4, 1, 0, 0, 0) == ["m"]


def test_expire_vector_set(r):
    vadd(r, "vs", [1, 0], "a")
    assert r.pexpire("vs", 1)
    deadline = __import__("time").time() + 10
    while r.exists("vs") and __import__("time").time() < deadline:
        pass
    assert r.exists("vs") == 0
    assert r.execute_command("VCARD", "vs") == 0
    assert vadd(r, "vs", [1, 0, 0], "b") == 1


def test_persistence_across_restart(tmp_path):
    d = tmp_path / "d"
    s = ServerProc(d).start()
    c = s.client()
    rnd = random.Random(11)
    vecs = {f"e{i}": [rnd.gauss(0, 1) for _ in range(8)] for i in range(150)}
    for e, v in vecs.items():
        vadd(c, "vs", v, e, "SETATTR", '{"i": %s}' % e[1:])
    c.execute_command("VREM", "vs", "e7")
    vadd(c, "gone", [1, 2], "x")
    c.delete("gone")
    q = [rnd.gauss(0, 1) for _ in range(8)]
    before = c.execute_command("VSIM", "vs", "VALUES", 8, *q, "COUNT", 10, "TRUTH")
    c.close()
    assert s.stop() == 0
    s = ServerProc(d).start()
    c = s.client()
    try:
        assert c.type("vs") == "vectorset"
        assert c.execute_command("VCARD", "vs") == 149
        assert c.execute_command("VISMEMBER", "vs", "e7") == 0
        assert c.execute_command("VSIM", "vs", "VALUES", 8, *q, "COUNT", 10, "TRUTH") == before
        assert c.execute_command("VSIM", "vs", "VALUES", 8, *q, "COUNT", 10, "FILTER", ".i == 42") == ["e42"]
        emb = [float(x) for x in c.execute_command("VEMB", "vs", "e3")]
        assert emb == pytest.approx(vecs["e3"], rel=1e-4, abs=1e-4)
        assert c.exists("gone") == 0
        assert vadd(c, "vs", [1] * 8, "new") == 1
        # The deleted set's engine set is dropped by the background
        # reclamation: its graph file (written when the first server
        # closed) goes, the live set's stays.
        import glob, time
        deadline = time.time() + 30
        while len(glob.glob(str(d / "vset-*.graph"))) != 1 and time.time() < deadline:
            time.sleep(0.05)
        assert len(glob.glob(str(d / "vset-*.graph"))) == 1
    finally:
        c.close()
        s.stop()


def test_kill9_sync_always_keeps_acked_vectors(tmp_path):
    d = tmp_path / "d"
    s = ServerProc(d, "--sync", "always").start()
    acked = []
    stop = threading.Event()
    lock = threading.Lock()

    def writer(t):
        c = s.client(socket_timeout=10)
        rnd = random.Random(t)
        i = 0
        try:
            while not stop.is_set():
                e = f"w{t}:{i}"
                vadd(c, "vs", [rnd.gauss(0, 1) for _ in range(6)], e, "SETATTR", '{"t": %d}' % t)
                with lock:
                    acked.append(e)
                i += 1
        except (redis.ConnectionError, redis.TimeoutError, ConnectionError, OSError):
            pass

    threads = [threading.Thread(target=writer, args=(t,)) for t in range(4)]
    for t in threads:
        t.start()
    while True:
        with lock:
            if len(acked) >= 300:
                break
        threads[0].join(0.01)
    s.stop(sig=signal.SIGKILL)
    stop.set()
    for t in threads:
        t.join()
    s = ServerProc(d, "--sync", "always").start()
    c = s.client()
    try:
        card = c.execute_command("VCARD", "vs")
        assert card >= len(acked)
        p = c.pipeline(transaction=False)
        for e in acked:
            p.execute_command("VISMEMBER", "vs", e)
        assert all(x == 1 for x in p.execute())
        # every element counted is reachable by an exact scan
        assert len(c.execute_command("VSIM", "vs", "VALUES", 6, *([1] * 6), "COUNT", card + 10, "TRUTH")) == card
        assert c.execute_command("VGETATTR", "vs", acked[0]) is not None
    finally:
        c.close()
        s.stop()


def test_flushall_drops_engine_sets(tmp_path):
    """FLUSHALL drops the engine's vector sets (their graph files go with
    them), and a restart leaves no engine set that no key owns."""
    import glob
    d = tmp_path / "d"
    s = ServerProc(d).start()
    c = s.client()
    for k in ("a", "b", "c"):
        for i in range(20):
            vadd(c, k, [1, i, 2], f"e{i}")
    c.close()
    assert s.stop() == 0
    assert len(glob.glob(str(d / "vset-*.graph"))) == 3  # checkpointed at close
    s = ServerProc(d).start()
    c = s.client()
    try:
        assert c.execute_command("VCARD", "b") == 20
        c.flushall()
        assert glob.glob(str(d / "vset-*.graph")) == []
        assert c.execute_command("VCARD", "b") == 0
        vadd(c, "b", [1, 2], "x")
    finally:
        c.close()
        assert s.stop() == 0
    assert len(glob.glob(str(d / "vset-*.graph"))) == 1
