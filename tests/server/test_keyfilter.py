"""The key filter (src/server/kfilter.c): a lookup of a key the filter has
never seen answers "absent" without reading the engine.  These tests check
that it never hides a key that exists: after a restart (the filter is
rebuilt from a scan), after it outgrew its size (rebuilt mid-run), after
FLUSHALL (emptied), and for every type (WRONGTYPE, replacing a collection,
expiry bookkeeping), by the exact DBSIZE and the replies."""
import re

import pytest

from conftest import ServerProc


def keyspace_info(c):
    ks = c.info("keyspace").get("db0") or {"keys": 0, "expires": 0}
    return ks["keys"], ks["expires"]


class Servers:
    """Starts servers on one directory and stops whichever runs at the end,
    also when an assertion fails."""

    def __init__(self, tmp_path):
        self.tmp_path = tmp_path
        self.cur = None

    def start(self, *args):
        if self.cur:
            self.cur.stop()
        self.cur = ServerProc(self.tmp_path / "d", *args).start()
        return self.cur

    def stop(self):
        if self.cur:
            self.cur.stop()
            self.cur = None


@pytest.fixture
def servers(tmp_path):
    sv = Servers(tmp_path)
    yield sv
    sv.stop()


def test_existing_keys_seen_after_restart(servers):
    s = servers.start()
    c = s.client()
    for i in range(200):
        if i % 2:
            c.set(f"k{i}", f"v{i}", ex=100000)
        else:
            c.set(f"k{i}", f"v{i}")
    c.hset("h", mapping={"a": "1", "b": "2"})
    c.rpush("l", "x", "y")
    c.close()
    s = servers.start()
    c = s.client()
    assert c.dbsize() == 202
    assert keyspace_info(c) == (202, 100)
    assert all(c.get(f"k{i}") == f"v{i}" for i in range(200))
    # Overwriting keys that exist (only the engine knew them at start) must
    # not count them again, and must drop their old expiries.
    p = c.pipeline(transaction=False)
    for i in range(200):
        p.set(f"k{i}", "new")
    p.execute()
    assert c.dbsize() == 202
    assert keyspace_info(c) == (202, 0)
    assert c.ttl("k1") == -1
    # Types are still seen: WRONGTYPE, and SET over a collection replaces it.
    try:
        c.get("h")
        assert False, "GET of a hash must fail"
    except Exception as e:
        assert "WRONGTYPE" in str(e)
    assert c.set("l", "s") is True
    assert c.type("l") == "string"
    assert c.dbsize() == 202
    assert c.setnx("k3", "no") is False
    assert c.get("k3") == "new"
    c.close()


def test_filter_outgrown_is_rebuilt(servers):
    # Sized for 16 keys: it is rebuilt (from a scan) several times here.
    s = servers.start("--key-filter-min-keys", "16")
    c = s.client()
    n = 3000
    for start in range(0, n, 250):
        p = c.pipeline(transaction=False)
        for i in range(start, start + 250):
            p.set(f"key:{i}", str(i))
        p.execute()
        assert c.dbsize() == start + 250
    assert c.dbsize() == n
    p = c.pipeline(transaction=False)
    for i in range(n):
        p.get(f"key:{i}")
    assert p.execute() == [str(i) for i in range(n)]
    p = c.pipeline(transaction=False)
    for i in range(n):
        p.set(f"key:{i}", "again", ex=1000)
    p.execute()
    assert keyspace_info(c) == (n, n)
    assert c.delete(*[f"key:{i}" for i in range(0, n, 2)]) == n // 2
    for i in range(0, n, 2):
        c.set(f"key:{i}", "back")
    assert keyspace_info(c) == (n, n // 2)
    assert c.exists(*[f"key:{i}" for i in range(n)]) == n
    assert c.get("never-written") is None
    c.close()
    s = servers.start("--key-filter-min-keys", "16")
    c = s.client()
    assert keyspace_info(c) == (n, n // 2)
    assert c.mget([f"key:{i}" for i in (0, 1, n - 1)]) == ["back", "again", "again"]
    c.close()


def test_flushall_empties_filter(servers):
    s = servers.start()
    c = s.client()
    for i in range(100):
        c.set(f"a{i}", "1")
    c.flushall()
    assert c.dbsize() == 0
    assert c.get("a1") is None
    for i in range(50):
        c.set(f"a{i}", "2")
    assert c.dbsize() == 50
    assert c.get("a49") == "2" and c.get("a50") is None
    c.close()
    s = servers.start()
    c = s.client()
    assert c.dbsize() == 50
    c.set("a0", "3")
    assert c.dbsize() == 50
    c.close()


def test_info_reports_filter_memory(server):
    c = server.client()
    mem = c.info("memory")
    assert int(mem["key_filter_bytes"]) >= (1 << 20) * 12 // 8
    assert re.match(r"^\d+$", str(mem["key_filter_bytes"]))
    c.close()
