"""Expiry: EXPIRE family, TTL family, PERSIST, lazy hiding, background reclaim."""
import time

import pytest
import redis


def test_expire_ttl_persist(r):
    r.set("k", "v")
    assert r.ttl("k") == -1
    assert r.pttl("k") == -1
    assert r.ttl("none") == -2
    assert r.expire("k", 100) is True
    assert 98 <= r.ttl("k") <= 100
    assert r.pexpire("k", 50000) is True
    assert 49000 <= r.pttl("k") <= 50000
    assert r.persist("k") is True
    assert r.persist("k") is False
    assert r.ttl("k") == -1
    assert r.expire("none", 10) is False
    at = int(time.time()) + 200
    assert r.expireat("k", at) is True
    assert r.execute_command("EXPIRETIME", "k") == at
    assert r.pexpireat("k", at * 1000) is True
    assert r.execute_command("PEXPIRETIME", "k") == at * 1000


def test_expire_options(r):
    r.set("k", "v")
    assert r.execute_command("EXPIRE", "k", 100, "XX") == 0
    assert r.execute_command("EXPIRE", "k", 100, "NX") == 1
    assert r.execute_command("EXPIRE", "k", 200, "NX") == 0
    assert r.execute_command("EXPIRE", "k", 50, "GT") == 0
    assert r.execute_command("EXPIRE", "k", 200, "GT") == 1
    assert r.execute_command("EXPIRE", "k", 300, "LT") == 0
    assert r.execute_command("EXPIRE", "k", 100, "LT") == 1
    with pytest.raises(redis.ResponseError, match="NX and XX, GT or LT options at the same time are not compatible"):
        r.execute_command("EXPIRE", "k", 100, "NX", "XX")
    with pytest.raises(redis.ResponseError, match="GT and LT options at the same time are not compatible"):
        r.execute_command("EXPIRE", "k", 100, "GT", "LT")
    with pytest.raises(redis.ResponseError, match="invalid expire time in 'expire' command"):
        r.execute_command("EXPIRE", "k", "9223372036854775807")


def test_expire_in_past_deletes(r):
    r.set("k", "v")
    assert r.expire("k", -1) is True
    assert r.exists("k") == 0
    r.set("k", "v")
    assert r.pexpireat("k", 1) is True
    assert r.get("k") is None


def test_expired_key_hidden_at_once(r):
    r.set("k", "v", px=50)
    r.set("k2", "v", px=50)
    time.sleep(0.12)
    assert r.get("k") is None
    assert r.exists("k2") == 0
    assert r.ttl("k2") == -2


def test_background_reclaim(r):
    for i in range(200):
        r.set(f"e{i}", "v", px=30)
    r.set("keep", "v")
    assert r.dbsize() == 201
    deadline = time.time() + 10
    while time.time() < deadline and r.dbsize() > 1:
        time.sleep(0.05)
    # Nobody read the keys: the background cycle reclaimed them.
    assert r.dbsize() == 1
    assert r.info("stats")["expired_keys"] >= 200
    assert r.keys("*") == ["keep"]


def test_expiry_survives_restart(tmp_path):
    from conftest import ServerProc
    s = ServerProc(tmp_path / "d").start()
    c = s.client()
    c.set("short", "v", px=300)
    c.set("long", "v", ex=1000)
    c.close()
    s.stop()
    time.sleep(0.4)
    s2 = ServerProc(tmp_path / "d").start()
    c = s2.client()
    assert c.get("short") is None
    assert c.get("long") == "v"
    assert 990 <= c.ttl("long") <= 1000
    c.close()
    s2.stop()


def test_overwrite_clears_ttl_and_keys_skip_expired(r):
    r.set("k", "v", ex=100)
    r.set("k", "w")
    assert r.ttl("k") == -1
    r.set("gone", "v", px=20)
    time.sleep(0.06)
    assert "gone" not in r.keys("*")
    assert "gone" not in set(r.scan_iter())
