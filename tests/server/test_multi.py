"""MULTI/EXEC/DISCARD/WATCH."""
import threading

import pytest
import redis

from conftest import Raw


def test_multi_exec(raw):
    assert raw.cmd("MULTI") == ("status", "OK")
    assert raw.cmd("SET", "a", "1") == ("status", "QUEUED")
    assert raw.cmd("INCR", "a") == ("status", "QUEUED")
    assert raw.cmd("GET", "a") == ("status", "QUEUED")
    assert raw.cmd("EXEC") == [("status", "OK"), 2, b"2"]


def test_exec_errors(raw):
    assert raw.cmd("EXEC") == ("error", "ERR EXEC without MULTI")
    assert raw.cmd("DISCARD") == ("error", "ERR DISCARD without MULTI")
    raw.cmd("MULTI")
    assert raw.cmd("MULTI") == ("error", "ERR MULTI calls can not be nested")
    assert raw.cmd("WATCH", "x") == ("error", "ERR WATCH inside MULTI is not allowed")
    raw.cmd("SET", "a", "1")
    assert raw.cmd("NOSUCHCMD")[0] == "error"
    assert raw.cmd("EXEC") == ("error", "EXECABORT Transaction discarded because of previous errors.")
    assert raw.cmd("GET", "a") is None
    raw.cmd("MULTI")
    assert raw.cmd("GET") == ("error", "ERR wrong number of arguments for 'get' command")
    assert raw.cmd("EXEC")[1].startswith("EXECABORT")


def test_runtime_error_inside_exec(raw):
    raw.cmd("SET", "s", "notanumber")
    raw.cmd("MULTI")
    raw.cmd("INCR", "s")
    raw.cmd("SET", "b", "2")
    res = raw.cmd("EXEC")
    assert res[0] == ("error", "ERR value is not an integer or out of range")
    assert res[1] == ("status", "OK")
    assert raw.cmd("GET", "b") == b"2"


def test_discard(raw):
    raw.cmd("MULTI")
    raw.cmd("SET", "a", "1")
    assert raw.cmd("DISCARD") == ("status", "OK")
    assert raw.cmd("GET", "a") is None


def test_watch_conflict(server):
    a = Raw(server.port)
    b = server.client()
    b.set("w", "1")
    assert a.cmd("WATCH", "w") == ("status", "OK")
    b.set("w", "2")
    a.cmd("MULTI")
    a.cmd("SET", "w", "3")
    assert a.cmd("EXEC") is None
    assert b.get("w") == "2"
    # Without a conflict it goes through; UNWATCH forgets.
    a.cmd("WATCH", "w")
    a.cmd("MULTI")
    a.cmd("SET", "w", "4")
    assert a.cmd("EXEC") == [("status", "OK")]
    a.cmd("WATCH", "w")
    b.set("w", "5")
    a.cmd("UNWATCH")
    a.cmd("MULTI")
    a.cmd("SET", "w", "6")
    assert a.cmd("EXEC") == [("status", "OK")]


def test_watch_delete_expire_flush(server):
    a = Raw(server.port)
    b = server.client()
    b.set("w", "1")
    a.cmd("WATCH", "w")
    b.delete("w")
    a.cmd("MULTI")
    a.cmd("PING")
    assert a.cmd("EXEC") is None
    # FLUSHALL changes the watched keys that exist, not a missing one
    # (Redis 7.0 alike).
    b.set("f", "1")
    a.cmd("WATCH", "f")
    b.flushall()
    a.cmd("MULTI")
    a.cmd("PING")
    assert a.cmd("EXEC") is None
    a.cmd("WATCH", "nokey")
    b.flushall()
    a.cmd("MULTI")
    a.cmd("PING")
    assert a.cmd("EXEC") == [("status", "PONG")]
    b.set("e", "1")
    a.cmd("WATCH", "e")
    b.expire("e", 100)
    a.cmd("MULTI")
    a.cmd("PING")
    assert a.cmd("EXEC") is None


def test_watch_counter_with_redis_py(server):
    """Concurrent optimistic increments: no update is lost."""
    c0 = server.client()
    c0.set("ctr", 0)
    errors = []

    def worker():
        try:
            c = server.client()
            for _ in range(50):
                while True:
                    with c.pipeline() as p:
                        try:
                            p.watch("ctr")
                            v = int(p.get("ctr"))
                            p.multi()
                            p.set("ctr", v + 1)
                            p.execute()
                            break
                        except redis.WatchError:
                            continue
        except Exception as e:  # noqa: BLE001
            errors.append(e)

    ts = [threading.Thread(target=worker) for _ in range(8)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert not errors
    assert c0.get("ctr") == str(8 * 50)


def test_transaction_pipeline_redis_py(r):
    p = r.pipeline(transaction=True)
    p.set("a", 1).incr("a").mget("a", "b").delete("a")
    assert p.execute() == [True, 2, ["2", None], 1]


def test_exec_with_scan_inside(raw):
    raw.cmd("SET", "x1", "v")
    raw.cmd("MULTI")
    raw.cmd("SET", "x2", "v")
    raw.cmd("KEYS", "x*")
    raw.cmd("DEL", "x1")
    res = raw.cmd("EXEC")
    assert res[0] == ("status", "OK")
    assert sorted(res[1]) == [b"x1", b"x2"]
    assert res[2] == 1
    assert raw.cmd("KEYS", "x*") == [b"x2"]
