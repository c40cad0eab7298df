"""Snapshots, transactions, and many threads on one database, including
close() racing calls in flight."""
import threading

import pytest

import omendb


def test_snapshot_isolation(db):
    db[b"a"] = b"1"
    db[b"b"] = b"1"
    with db.snapshot() as snap:
        db[b"a"] = b"2"
        del db[b"b"]
        db[b"c"] = b"new"
        assert snap[b"a"] == b"1" and snap.get(b"b") == b"1" and b"c" not in snap
        assert list(snap.range()) == [(b"a", b"1"), (b"b", b"1")]
        assert list(snap.range(reverse=True, limit=1)) == [(b"b", b"1")]
        assert list(snap) == [b"a", b"b"]
        assert snap.get_many([b"a", b"c"]) == [b"1", None]
        assert list(snap.keys(prefix=b"a")) == [b"a"]
        assert list(snap.values()) == [b"1", b"1"]
        with pytest.raises(KeyError):
            snap[b"c"]
        assert isinstance(snap.sequence, int)
    assert snap.released
    with pytest.raises(omendb.Closed):
        snap.get(b"a")
    assert db[b"a"] == b"2"


def test_snapshot_release_invalidates_iterators(db):
    for i in range(10):
        db[b"%d" % i] = b"v"
    snap = db.snapshot()
    it = snap.range()
    assert next(it)[0] == b"0"
    snap.release()
    snap.release()
    with pytest.raises(omendb.Closed):
        next(it)


def test_transaction_commit(db):
    db[b"y"] = b"Y"
    with db.transaction() as t:
        t[b"x"] = t[b"y"]
        t.put(b"z", "zz")
        assert t.get(b"x") == b"Y"  # own writes visible
        assert b"z" in t
        assert db.get(b"x") is None  # not before commit
        assert list(t.keys()) == [b"x", b"y", b"z"]
        t.delete(b"y")
        assert list(t.range(reverse=True)) == [(b"z", b"zz"), (b"x", b"Y")]
    assert not t.active
    assert db[b"x"] == b"Y" and db[b"z"] == b"zz" and b"y" not in db
    with pytest.raises(omendb.Closed, match="committed"):
        t.get(b"x")


def test_transaction_rollback_on_exception(db):
    db[b"a"] = b"1"
    with pytest.raises(ZeroDivisionError):
        with db.transaction() as t:
            t[b"a"] = b"2"
            t[b"b"] = b"2"
            1 / 0
    assert db[b"a"] == b"1" and b"b" not in db
    t2 = db.transaction()
    t2[b"a"] = b"3"
    t2.rollback()
    assert db[b"a"] == b"1"
    with pytest.raises(omendb.Closed, match="rolled back"):
        t2.commit()


def test_transaction_explicit_end_inside_with(db):
    with db.transaction() as t:
        t[b"k"] = b"v"
        t.commit()
    assert db[b"k"] == b"v"


def test_conflict_raises(db):
    db[b"acct"] = b"100"
    t = db.transaction()
    bal = int(t[b"acct"])
    db[b"acct"] = b"50"  # another writer commits first
    t[b"acct"] = str(bal - 10)
    with pytest.raises(omendb.Conflict) as ei:
        t.commit()
    assert ei.value.code == 11
    assert db[b"acct"] == b"50"
    with pytest.raises(omendb.Conflict):
        with db.transaction() as t2:
            t2[b"acct"] = t2[b"acct"] + b"!"
            db[b"acct"] = b"0"
    assert db[b"acct"] == b"0"


def test_conflict_on_scanned_range(db):
    db[b"r1"] = b"x"
    t = db.transaction()
    assert list(t.keys(b"r", b"s")) == [b"r1"]
    db[b"r2"] = b"phantom"
    t[b"other"] = b"1"
    with pytest.raises(omendb.Conflict):
        t.commit()


def test_transaction_counter_with_retries_from_threads(db):
    db[b"n"] = b"0"

    def incr(t):
        t[b"n"] = str(int(t[b"n"]) + 1)

    def worker():
        for _ in range(50):
            omendb.run_transaction(db, incr, retries=1000)

    ts = [threading.Thread(target=worker) for _ in range(4)]
    for th in ts:
        th.start()
    for th in ts:
        th.join()
    assert db[b"n"] == b"200"


def test_many_threads_read_and_write(db):
    n_threads, n_keys = 8, 500
    errors = []

    def writer(tid):
        try:
            for i in range(n_keys):
                db[b"t%d-%05d" % (tid, i)] = b"%d" % i
                if i % 50 == 0:
                    with db.batch() as b:
                        b.put(b"batch-%d-%d" % (tid, i), b"x")
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)

    def reader(tid):
        try:
            for _ in range(20):
                seen = list(db.keys(b"t%d-" % tid, b"t%d." % tid))
                assert seen == sorted(seen)
                for k in seen[:50]:
                    assert db.get(k) is not None
                db.get_many(seen[:100])
                db.stats()
        except Exception as e:  # pragma: no cover
            errors.append(e)

    ts = [threading.Thread(target=writer, args=(i,)) for i in range(n_threads)]
    ts += [threading.Thread(target=reader, args=(i,)) for i in range(n_threads)]
    for th in ts:
        th.start()
    for th in ts:
        th.join()
    assert not errors, errors
    for tid in range(n_threads):
        assert db.count(b"t%d-" % tid, b"t%d." % tid) == n_keys
    assert db.count(b"batch-", b"batch.") == n_threads * (n_keys // 50)


def test_close_races_in_flight_calls(tmp_path):
    for round_ in range(5):
        db = omendb.open(str(tmp_path / ("race%d" % round_)))
        db.put_many([b"%05d" % i for i in range(2000)], [b"v" * 50] * 2000)
        start = threading.Event()
        outcomes = []

        def hammer(kind):
            start.wait()
            ok = closed = 0
            try:
                while True:
                    try:
                        if kind == 0:
                            db.get(b"00042")
                        elif kind == 1:
                            db.put(b"w", b"x")
                        elif kind == 2:
                            for _ in db.range(limit=300):
                                pass
                        else:
                            with db.snapshot() as s:
                                s.get(b"00001")
                        ok += 1
                    except omendb.Closed:
                        closed += 1
                        break
            except Exception as e:  # pragma: no cover
                outcomes.append(e)
                return
            outcomes.append((ok, closed))

        ts = [threading.Thread(target=hammer, args=(k % 4,)) for k in range(8)]
        for th in ts:
            th.start()
        start.set()
        import time

        time.sleep(0.05)
        db.close()
        for th in ts:
            th.join(timeout=60)
            assert not th.is_alive()
        assert all(isinstance(o, tuple) and o[1] == 1 for o in outcomes), outcomes


def test_same_iterator_from_two_threads_is_refused_or_serialized(db):
    db.put_many([b"%06d" % i for i in range(20000)], [b"v" * 10] * 20000)
    it = db.keys()
    got = []
    lock = threading.Lock()
    errs = []

    def consume():
        while True:
            try:
                k = next(it)
            except StopIteration:
                return
            except RuntimeError:
                continue  # another thread is filling: try again
            except Exception as e:  # pragma: no cover
                errs.append(e)
                return
            with lock:
                got.append(k)

    ts = [threading.Thread(target=consume) for _ in range(4)]
    for th in ts:
        th.start()
    for th in ts:
        th.join()
    assert not errs
    assert sorted(got) == [b"%06d" % i for i in range(20000)]


def test_gil_is_released_during_bulk_reads(db):
    """A pure-Python thread keeps running while another thread sits in one
    long get_many call: the call does not hold the GIL.  (A C call that kept
    the GIL would let the spinner run only in the few bytecodes around it.)"""
    n = 200000
    db.put_many([b"%08d" % i for i in range(n)], [b"v"] * n)
    keys = [b"%08d" % i for i in range(n)] * 3
    ticks = [0]
    stop = threading.Event()

    def spin():
        while not stop.is_set():
            ticks[0] += 1

    th = threading.Thread(target=spin)
    th.start()
    try:
        import sys

        old = sys.getswitchinterval()
        sys.setswitchinterval(0.05)
        before = ticks[0]
        db.get_many(keys)
        during = ticks[0] - before
    finally:
        sys.setswitchinterval(old)
        stop.set()
        th.join()
    assert during > 0
