"""Keyspace commands: DEL EXISTS TYPE KEYS SCAN RANDOMKEY RENAME DBSIZE FLUSH*."""
import pytest
import redis


def test_del_exists_unlink(r):
    r.mset({"a": "1", "b": "2", "c": "3"})
    assert r.exists("a", "b", "zz") == 2
    assert r.exists("a", "a") == 2
    assert r.delete("a", "zz") == 1
    assert r.unlink("b", "c") == 2
    assert r.exists("a", "b", "c") == 0
    assert r.dbsize() == 0


def test_type(r):
    r.set("s", "v")
    assert r.type("s") == "string"
    assert r.type("none") == "none"


def test_keys_and_patterns(r):
    for k in ["hello", "hallo", "hxllo", "hllo", "heeeello", "other", "h[a]llo"]:
        r.set(k, "1")
    assert sorted(r.keys("h?llo")) == ["hallo", "hello", "hxllo"]
    assert sorted(r.keys("h*llo")) == sorted(["hello", "hallo", "hxllo", "hllo", "heeeello", "h[a]llo"])
    assert sorted(r.keys("h[ae]llo")) == ["hallo", "hello"]
    assert sorted(r.keys("h[^e]llo")) == ["hallo", "hxllo"]
    assert sorted(r.keys("h[a-b]llo")) == ["hallo"]
    assert r.keys("h\\[a\\]llo") == ["h[a]llo"]
    assert len(r.keys("*")) == 7
    assert r.keys("nomatch*") == []


def test_scan_full_iteration(r):
    keys = {f"key:{i}" for i in range(1000)}
    for k in keys:
        r.set(k, "v")
    r.set("other", "v")
    seen = set()
    cursor = 0
    rounds = 0
    while True:
        cursor, batch = r.scan(cursor=cursor, match="key:*", count=100)
        seen.update(batch)
        rounds += 1
        if cursor == 0:
            break
    assert seen == keys
    assert rounds >= 10
    assert set(r.scan_iter()) == keys | {"other"}


def test_scan_type_and_errors(r):
    r.set("s1", "v")
    _, got = r.scan(0, _type="string", count=1000)
    assert got == ["s1"]
    _, got = r.scan(0, _type="hash", count=1000)
    assert got == []
    with pytest.raises(redis.ResponseError, match="invalid cursor"):
        r.execute_command("SCAN", "abc")
    with pytest.raises(redis.ResponseError, match="syntax error"):
        r.execute_command("SCAN", "0", "COUNT")
    with pytest.raises(redis.ResponseError, match="invalid cursor"):
        r.execute_command("SCAN", "12345")


def test_randomkey(r):
    assert r.randomkey() is None
    for i in range(20):
        r.set(f"k{i}", "v")
    for _ in range(10):
        assert r.randomkey() in {f"k{i}" for i in range(20)}


def test_rename(r):
    r.set("a", "1", ex=100)
    assert r.rename("a", "b") is True
    assert r.get("a") is None and r.get("b") == "1"
    assert 98 <= r.ttl("b") <= 100
    with pytest.raises(redis.ResponseError, match="no such key"):
        r.rename("nokey", "x")
    r.set("c", "3")
    assert r.renamenx("b", "c") is False
    assert r.renamenx("b", "d") is True
    assert r.get("d") == "1"
    assert r.rename("d", "d") is True
    assert r.get("d") == "1"
    assert r.dbsize() == 2


def test_dbsize_flush(r):
    for i in range(50):
        r.set(f"k{i}", "v", ex=1000 if i % 2 else None)
    assert r.dbsize() == 50
    info = r.info("keyspace")
    assert info["db0"]["keys"] == 50
    assert info["db0"]["expires"] == 25
    assert r.flushdb() is True
    assert r.dbsize() == 0
    assert r.keys("*") == []
    r.set("x", "1")
    assert r.flushall() is True
    assert r.dbsize() == 0
    with pytest.raises(redis.ResponseError, match="syntax error"):
        r.execute_command("FLUSHALL", "LATER")


def test_dbsize_survives_restart(tmp_path):
    from conftest import ServerProc
    s = ServerProc(tmp_path / "d").start()
    c = s.client()
    for i in range(100):
        c.set(f"k{i}", "v")
    c.delete("k0")
    c.close()
    s.stop()
    s2 = ServerProc(tmp_path / "d").start()
    c = s2.client()
    assert c.dbsize() == 99
    assert c.get("k5") == "v"
    c.close()
    s2.stop()


def test_pathological_pattern(r):
    r.set("a" * 3000, "1")
    # Exponential for a naive matcher; must come back (with no match).
    assert r.keys("*a*a*a*a*a*a*a*a*a*a*b") == []
    assert r.keys("a*") == ["a" * 3000]
    assert r.ping() is True


def test_flushall_reclaims_disk_at_once(tmp_path):
    """FLUSHALL flushes and compacts before it replies: the run files of
    the deleted data are gone, not left for background compaction."""
    import os
    from conftest import ServerProc
    s = ServerProc(tmp_path / "d").start()
    try:
        c = s.client()

        def run_bytes():
            d = tmp_path / "d"
            return sum(os.path.getsize(d / f) for f in os.listdir(d) if f.endswith(".run"))

        val = "x" * 1000
        for start in range(0, 50000, 1000):  # more than a memtable
            p = c.pipeline(transaction=False)
            for i in range(start, start + 1000):
                p.set(f"k{i}", val)
            p.execute()
        assert c.flushall() is True
        assert run_bytes() < 64 * 1024
        assert c.dbsize() == 0 and c.get("k1") is None
        c.set("k1", "v")
        assert c.dbsize() == 1
        c.close()
    finally:
        s.stop()


def test_flushall_inside_exec(r):
    for i in range(50):
        r.set(f"a{i}", "1")
    p = r.pipeline(transaction=True)
    p.flushall()
    p.set("b", "2")
    assert p.execute() == [True, True]
    assert r.dbsize() == 1
    for i in range(50):
        r.set(f"a{i}", "3")
    assert r.dbsize() == 51
    assert r.get("a7") == "3"
