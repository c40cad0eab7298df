"""Exception classes and the engine errors they map: closed handles, locks,
foreign directories, corruption, existence checks."""
import os
import subprocess
import sys
import textwrap

import pytest

import omendb
from conftest import child_env


def test_hierarchy():
    for cls in [omendb.Conflict, omendb.Corruption, omendb.DiskError, omendb.Locked, omendb.Closed,
                omendb.ReadOnly, omendb.NotADatabase, omendb.InvalidArgument, omendb.TooBig,
                omendb.NotFoundError, omendb.Exists, omendb.OutOfMemory, omendb.VersionError,
                omendb.Busy]:
        assert issubclass(cls, omendb.Error)
    assert issubclass(omendb.DiskError, OSError)
    assert issubclass(omendb.NotFoundError, FileNotFoundError)
    assert issubclass(omendb.Exists, FileExistsError)
    assert issubclass(omendb.InvalidArgument, ValueError)
    assert issubclass(omendb.OutOfMemory, MemoryError)
    assert not issubclass(omendb.Error, OSError)
    assert omendb.strerror(11) and omendb.strerror(0)


def test_closed_handle(path):
    db = omendb.open(path)
    db[b"k"] = b"v"
    db.close()
    db.close()  # idempotent
    assert db.closed
    calls = [lambda: db[b"k"], lambda: db.get(b"k"), lambda: db.put(b"k", b"v"),
             lambda: db.delete(b"k"), lambda: b"k" in db, lambda: len(db), lambda: db.range(),
             lambda: db.snapshot(), lambda: db.transaction(), lambda: db.batch(),
             lambda: db.stats(), lambda: db.flush(), lambda: db.compact(),
             lambda: db.get_many([b"k"]), lambda: db.put_many([b"k"], [b"v"]), lambda: iter(db)]
    for c in calls:
        with pytest.raises(omendb.Closed) as ei:
            c()
        assert ei.value.code == 9
        assert "closed" in str(ei.value)
    # the lock was released: the directory opens again
    with omendb.open(path) as d2:
        assert d2[b"k"] == b"v"


def test_close_invalidates_dependants(path):
    db = omendb.open(path)
    for i in range(100):
        db[b"%03d" % i] = b"v"
    it = db.range()
    assert next(it) == (b"000", b"v")
    snap = db.snapshot()
    snap_it = snap.keys()
    txn = db.transaction()
    txn[b"t"] = b"1"
    txn_it = txn.range()
    batch = db.batch()
    batch.put(b"b", b"1")
    db.close()
    with pytest.raises(omendb.Closed):
        next(it)
    with pytest.raises(omendb.Closed):
        next(snap_it)
    with pytest.raises(omendb.Closed):
        next(txn_it)
    with pytest.raises(omendb.Closed):
        snap.get(b"000")
    with pytest.raises(omendb.Closed):
        txn.get(b"000")
    with pytest.raises(omendb.Closed):
        txn.commit()
    with pytest.raises(omendb.Closed):
        batch.write()
    snap.release()  # harmless after close
    with omendb.open(path) as d2:  # the transaction was rolled back
        assert b"t" not in d2 and b"b" not in d2


def test_dependants_keep_db_alive(path):
    db = omendb.open(path)
    db[b"k"] = b"v"
    it = db.range()
    snap = db.snapshot()
    del db  # iterator and snapshot still hold it
    assert snap[b"k"] == b"v"
    assert list(it) == [(b"k", b"v")]
    del snap, it
    import gc

    gc.collect()
    with omendb.open(path) as d2:  # the last reference closed it
        assert d2[b"k"] == b"v"


LOCK_CHILD = textwrap.dedent("""
    import sys, omendb
    try:
        omendb.open(sys.argv[1])
    except omendb.Locked as e:
        print("LOCKED", e.code)
        sys.exit(0)
    print("OPENED")
    sys.exit(1)
""")


def test_locked_by_another_process(path):
    with omendb.open(path) as db:
        db[b"k"] = b"v"
        r = subprocess.run([sys.executable, "-c", LOCK_CHILD, path], capture_output=True,
                           text=True, env=child_env(), timeout=60)
        assert r.returncode == 0, r.stdout + r.stderr
        assert r.stdout.split() == ["LOCKED", "6"]
        with pytest.raises(omendb.Busy):
            omendb.destroy(path)
    r = subprocess.run([sys.executable, "-c", LOCK_CHILD, path], capture_output=True, text=True,
                       env=child_env(), timeout=60)
    assert r.stdout.strip() == "OPENED"


def test_locked_in_same_process(path):
    with omendb.open(path):
        with pytest.raises(omendb.Locked) as ei:
            omendb.open(path)
        assert ei.value.code == 6 and ei.value.detail


def test_not_a_database(tmp_path):
    d = tmp_path / "foreign"
    d.mkdir()
    (d / "notes.txt").write_text("hello")
    with pytest.raises(omendb.NotADatabase) as ei:
        omendb.open(str(d))
    assert ei.value.code == 8 and "notes.txt" in str(ei.value)
    f = tmp_path / "plainfile"
    f.write_text("x")
    with pytest.raises(omendb.NotADatabase):
        omendb.open(str(f))


def test_not_found_and_exists(path):
    with pytest.raises(omendb.NotFoundError) as ei:
        omendb.open(path, create=False)
    assert isinstance(ei.value, FileNotFoundError) and ei.value.code == 1
    omendb.open(path).close()
    with pytest.raises(omendb.Exists):
        omendb.open(path, error_if_exists=True)


def _make_run(path, n=20000):
    with omendb.open(path) as db:
        db.put_many([b"k%06d" % i for i in range(n)], [b"v" * 100] * n)
        db.flush()
    runs = [f for f in os.listdir(path) if f.endswith(".run")]
    assert runs
    return os.path.join(path, runs[0])


def test_corrupt_run_file(path):
    run = _make_run(path)
    assert any("ok" in line for line in omendb.check(path))
    size = os.path.getsize(run)
    with open(run, "r+b") as f:
        f.seek(size // 3)
        f.write(b"\xff" * 64)
    with pytest.raises(omendb.Corruption) as ei:
        omendb.check(path)
    assert ei.value.code == 3
    assert any("mismatch" in line or "corrupt" in line for line in ei.value.report)
    with pytest.raises(omendb.Corruption):
        with omendb.open(path) as db:
            for _ in db.range():
                pass


def test_corrupt_manifest(path):
    _make_run(path)
    m = os.path.join(path, "MANIFEST")
    data = bytearray(open(m, "rb").read())
    data[len(data) // 2] ^= 0xFF
    open(m, "wb").write(bytes(data))
    with pytest.raises((omendb.Corruption, omendb.NotADatabase)):
        omendb.open(path)


def test_exception_carries_code_and_detail(path):
    with pytest.raises(omendb.Error) as ei:
        omendb.open(path, create=False)
    e = ei.value
    assert e.code == 1 and isinstance(e.detail, str) and e.detail in str(e)
