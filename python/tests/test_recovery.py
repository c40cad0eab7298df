"""Reliability behaviour seen from Python: WAL recovery modes, the first fatal
error in stats, shared read-only opens, and exception messages."""
import os

import pytest

import omendb


def _wal_with_three_puts(path):
    with omendb.open(path) as db:
        for i in range(3):
            db.put(b"wk%d" % i, b"value-%d-xyz" % i, sync=True)
    wals = [f for f in os.listdir(path) if f.endswith(".wal")]
    assert len(wals) == 1
    return os.path.join(path, wals[0])


def test_corrupt_wal_refused_then_recovered(path):
    wal = _wal_with_three_puts(path)
    data = bytearray(open(wal, "rb").read())
    data[16] ^= 0x01  # the first record's checksum: two intact records follow
    open(wal, "wb").write(bytes(data))
    with pytest.raises(omendb.Corruption) as ei:
        omendb.open(path)
    assert os.path.basename(wal) in str(ei.value) and "offset 16" in str(ei.value)
    with pytest.raises(omendb.Corruption):
        omendb.check(path)
    assert open(wal, "rb").read() == bytes(data)  # untouched
    with pytest.raises(ValueError):
        omendb.open(path, wal_recovery="maybe")
    with omendb.open(path, wal_recovery="skip", read_only=True) as db:
        assert [db.get(b"wk%d" % i) for i in range(3)] == [None, b"value-1-xyz", b"value-2-xyz"]
        assert db.stats()["wal_records_skipped"] == 1
    with omendb.open(path, wal_recovery="point-in-time") as db:
        assert len(db) == 0
        st = db.stats()
        assert st["wal_records_skipped"] == 3 and st["wal_bytes_skipped"] > 0
        assert st["fatal_error"] is None
    assert os.path.exists(wal + ".damaged") and not os.path.exists(wal)
    with omendb.open(path) as db:
        assert len(db) == 0


def test_two_read_only_opens(path):
    with omendb.open(path) as db:
        db[b"a"] = b"1"
    with omendb.open(path, read_only=True) as r1, omendb.open(path, read_only=True) as r2:
        assert r1[b"a"] == r2[b"a"] == b"1"
        with pytest.raises(omendb.Locked):
            omendb.open(path)


def test_conflict_message_says_it_once(db):
    db[b"acct"] = b"100"
    t = db.transaction()
    t[b"acct"] = t[b"acct"] + b"!"
    db[b"acct"] = b"50"
    with pytest.raises(omendb.Conflict) as ei:
        t.commit()
    assert str(ei.value).count("transaction conflict") == 1, str(ei.value)
