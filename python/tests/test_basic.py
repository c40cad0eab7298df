"""Point operations, key/value types, iteration, batches, bulk calls, options, maintenance."""
import pytest

import omendb


def test_put_get_delete_bytes(db):
    db[b"k"] = b"v"
    assert db[b"k"] == b"v"
    assert db.get(b"k") == b"v"
    db.put(b"k", b"w")
    assert db.get(b"k") == b"w"
    del db[b"k"]
    assert db.get(b"k") is None
    assert b"k" not in db


def test_get_default_and_keyerror(db):
    assert db.get(b"nope") is None
    assert db.get(b"nope", 42) == 42
    assert db.get(b"nope", default="d") == "d"
    with pytest.raises(KeyError) as ei:
        db[b"nope"]
    assert ei.value.args[0] == b"nope"


def test_delete_absent_is_not_an_error(db):
    db.delete(b"absent")
    del db[b"absent"]


def test_str_keys_and_values_are_utf8(db):
    db["clé"] = "välue"
    assert db["clé"] == "välue".encode()
    assert db["clé".encode()] == "välue".encode()
    assert "clé" in db
    assert list(db.keys()) == ["clé".encode()]


def test_bytes_like_keys_and_values(db):
    db[bytearray(b"ba")] = memoryview(b"mv")
    assert db[memoryview(b"ba")] == b"mv"
    assert db.get(bytearray(b"ba")) == b"mv"
    assert isinstance(db[b"ba"], bytes)


def test_empty_key_and_value(db):
    db[b""] = b""
    assert db[b""] == b""
    assert b"" in db


def test_binary_keys_order(db):
    keys = [b"\x00", b"\x00\x00", b"\x01", b"a", b"ab", b"b", b"\xff", b"\xff\xff"]
    for k in reversed(keys):
        db[k] = k
    assert list(db.keys()) == keys
    assert [v for v in db.values()] == keys


def test_bad_types(db, idb):
    with pytest.raises(TypeError):
        db[5] = b"x"
    with pytest.raises(TypeError):
        db.get(1.5)
    with pytest.raises(TypeError):
        db[b"k"] = 12
    with pytest.raises(TypeError):
        db.put(b"k", None)
    with pytest.raises(TypeError):
        idb[b"k"] = b"x"
    with pytest.raises(TypeError):
        idb.get("k")
    with pytest.raises(OverflowError):
        idb[-1] = b"x"
    with pytest.raises(OverflowError):
        idb[2**64] = b"x"
    with pytest.raises(TypeError):
        db.put(b"k")
    with pytest.raises(TypeError):
        db.get(b"k", None, None)
    with pytest.raises(TypeError):
        db.put(b"k", b"v", bogus=1)


def test_oversize_key_raises_toobig(db):
    with pytest.raises(omendb.TooBig) as ei:
        db[b"k" * (omendb.MAX_KEY_LEN + 1)] = b"v"
    assert isinstance(ei.value, omendb.InvalidArgument)
    assert isinstance(ei.value, ValueError)
    assert ei.value.code == 12
    db[b"k" * omendb.MAX_KEY_LEN] = b"v"
    assert db[b"k" * omendb.MAX_KEY_LEN] == b"v"


def test_int_keys_numeric_order(idb):
    nums = [0, 1, 255, 256, 65535, 2**32, 2**63, 2**64 - 1]
    for n in reversed(nums):
        idb[n] = str(n)
    assert list(idb.keys()) == nums
    assert idb[2**64 - 1] == str(2**64 - 1).encode()
    assert 256 in idb and 257 not in idb
    assert list(idb.range(255, 2**32)) == [(255, b"255"), (256, b"256"), (65535, b"65535")]
    assert [k for k, _ in idb.range(2**32, reverse=True)] == [2**64 - 1, 2**63, 2**32]
    assert idb.int_keys


def test_int_keys_are_big_endian_bytes(tmp_path):
    p = str(tmp_path / "d")
    with omendb.open(p, int_keys=True) as d:
        d[0x0102030405060708] = b"x"
    with omendb.open(p) as d:
        assert list(d.keys()) == [bytes([1, 2, 3, 4, 5, 6, 7, 8])]


def test_int_keys_accept_index_types(idb):
    class Idx:
        def __index__(self):
            return 7

    idb[Idx()] = b"seven"
    assert idb[7] == b"seven"
    with pytest.raises(TypeError):
        idb[True] = b"bool is not a key"


def test_len_count_and_iter(db):
    assert len(db) == 0
    for i in range(100):
        db[b"k%03d" % i] = b"v"
    assert len(db) == 100
    assert db.count() == 100
    assert db.count(b"k010", b"k020") == 10
    assert db.count(start=b"k090") == 10
    assert list(db) == [b"k%03d" % i for i in range(100)]
    del db[b"k050"]
    assert len(db) == 99


@pytest.fixture
def filled(db):
    for i in range(0, 100, 2):  # even numbers only
        db[b"%03d" % i] = b"v%d" % i
    return db


def test_range_bounds(filled):
    assert [k for k, _ in filled.range(b"010", b"020")] == [b"010", b"012", b"014", b"016", b"018"]
    assert [k for k, _ in filled.range(b"011", b"019")] == [b"012", b"014", b"016", b"018"]
    assert [k for k, _ in filled.range(stop=b"004")] == [b"000", b"002"]
    assert [k for k, _ in filled.range(start=b"096")] == [b"096", b"098"]
    assert list(filled.range(b"050", b"050")) == []
    assert list(filled.range(b"060", b"050")) == []


def test_range_reverse_with_bounds_and_limit(filled):
    assert [k for k, _ in filled.range(b"010", b"020", reverse=True)] == [
        b"018", b"016", b"014", b"012", b"010"]
    # exclusive stop even when the stop key exists
    assert [k for k, _ in filled.range(b"011", b"018", reverse=True)] == [b"016", b"014", b"012"]
    assert [k for k, _ in filled.range(reverse=True, limit=3)] == [b"098", b"096", b"094"]
    assert [k for k, _ in filled.range(b"010", reverse=True, limit=2)] == [b"098", b"096"]
    assert [k for k, _ in filled.range(stop=b"005", reverse=True)] == [b"004", b"002", b"000"]
    assert list(filled.range(limit=0)) == []
    assert [k for k, _ in filled.range(b"040", limit=2)] == [b"040", b"042"]
    assert len(list(filled.range(limit=1000))) == 50
    with pytest.raises(ValueError):
        filled.range(limit=-1)


def test_range_values_and_items(filled):
    assert list(filled.items(b"000", b"004")) == [(b"000", b"v0"), (b"002", b"v2")]
    assert list(filled.values(b"000", b"004")) == [b"v0", b"v2"]
    assert list(filled.keys(b"000", b"004", reverse=True)) == [b"002", b"000"]


def test_range_prefix(db):
    for k in [b"a", b"ab", b"abc", b"abd", b"ac", b"b", b"a\xff", b"a\xff\xff", b"b\x00"]:
        db[k] = b"1"
    assert list(db.keys(prefix=b"ab")) == [b"ab", b"abc", b"abd"]
    assert list(db.keys(prefix=b"a\xff")) == [b"a\xff", b"a\xff\xff"]
    assert list(db.keys(prefix=b"ab", reverse=True)) == [b"abd", b"abc", b"ab"]
    assert list(db.keys(prefix="b")) == [b"b", b"b\x00"]
    assert list(db.keys(prefix=b"zz")) == []
    with pytest.raises(ValueError):
        db.range(b"a", prefix=b"a")


def test_large_scan_spans_many_chunks(db):
    n = 5000
    db.put_many([b"%06d" % i for i in range(n)], [b"x" * (i % 50) for i in range(n)])
    got = list(db.range())
    assert len(got) == n
    assert got[0] == (b"000000", b"")
    assert got[-1] == (b"%06d" % (n - 1), b"x" * ((n - 1) % 50))
    assert [k for k in db.keys(reverse=True)] == [b"%06d" % i for i in reversed(range(n))]


def test_iterator_is_a_consistent_view(db):
    for i in range(10):
        db[b"%d" % i] = b"old"
    it = db.range()
    db[b"5"] = b"new"
    db[b"55"] = b"inserted"
    got = dict(it)
    assert got[b"5"] == b"old" and b"55" not in got


def test_iterator_close_and_context(db):
    db[b"a"] = b"1"
    db[b"b"] = b"2"
    with db.range() as it:
        assert next(it) == (b"a", b"1")
    with pytest.raises(omendb.Closed):
        next(it)
    it2 = db.keys()
    assert list(it2) == [b"a", b"b"]
    assert list(it2) == []  # exhausted iterators stay exhausted
    it2.close()


def test_batch_context_applies_atomically(db):
    db[b"gone"] = b"x"
    with db.batch() as b:
        b.put(b"a", b"1")
        b[b"b"] = "2"
        b.delete(b"gone")
        del b[b"nothing"]
        assert len(b) == 4
        assert db.get(b"a") is None  # not applied before the block ends
    assert db[b"a"] == b"1" and db[b"b"] == b"2" and b"gone" not in db


def test_batch_discarded_on_exception(db):
    db[b"keep"] = b"x"
    with pytest.raises(RuntimeError):
        with db.batch() as b:
            b.put(b"a", b"1")
            b.delete(b"keep")
            raise RuntimeError("boom")
    assert db.get(b"a") is None and db[b"keep"] == b"x"


def test_batch_explicit_write_and_standalone(db, idb):
    b = db.batch()
    b.put(b"x", b"1")
    b.write()
    assert db[b"x"] == b"1" and len(b) == 0
    wb = omendb.WriteBatch()
    wb.put(b"y", b"2")
    wb.put(b"z", b"3")
    db.write(wb)
    assert db[b"y"] == b"2" and len(wb) == 2  # db.write leaves it unchanged
    wb.clear()
    assert len(wb) == 0
    with pytest.raises(ValueError):
        wb.write()
    ib = omendb.WriteBatch(int_keys=True)
    ib[5] = b"five"
    idb.write(ib, sync=True)
    assert idb[5] == b"five"


def test_get_many_put_many_sequences(db):
    keys = [b"k%d" % i for i in range(100)]
    db.put_many(keys, [b"v%d" % i for i in range(100)])
    got = db.get_many(keys + [b"missing"])
    assert got[:100] == [b"v%d" % i for i in range(100)] and got[100] is None
    assert db.get_many([b"missing"], default=b"d") == [b"d"]
    assert db.get_many([]) == []
    db.put_many(("a", "b"), ("1", b"2"))
    assert db.get_many(["a", "b"]) == [b"1", b"2"]
    with pytest.raises(ValueError):
        db.put_many([b"a"], [b"1", b"2"])
    with pytest.raises(TypeError):
        db.put_many([b"a"], b"1")
    with pytest.raises(TypeError):
        db.put_many([b"a", 3], [b"1", b"2"])
    assert db.get(b"a") == b"1"  # the failed put_many wrote nothing


def test_numpy_int_keys(idb):
    np = pytest.importorskip("numpy")
    keys = np.arange(0, 20000, 2, dtype=np.uint64)
    vals = np.frombuffer(np.arange(len(keys), dtype="<u4").tobytes(), dtype="S4")
    idb.put_many(keys, vals)
    assert idb.count() == len(keys)
    probe = np.array([0, 1, 2, 19998, 19999], dtype=np.uint64)
    got = idb.get_many(probe)
    assert got == [(0).to_bytes(4, "little"), None, (1).to_bytes(4, "little"),
                   (9999).to_bytes(4, "little"), None]
    assert idb.get_many(np.array([4], dtype=np.int64)) == [(2).to_bytes(4, "little")]
    assert idb.get_many(np.array([4], dtype=">u8")) == [(2).to_bytes(4, "little")]
    with pytest.raises(OverflowError):
        idb.get_many(np.array([-1], dtype=np.int64))
    with pytest.raises(TypeError):
        idb.get_many(np.array([1], dtype=np.uint32))
    # rows of a 2-D uint8 array are the values
    rows = np.arange(30, dtype=np.uint8).reshape(3, 10)
    idb.put_many([100001, 100002, 100003], rows)
    assert idb[100002] == bytes(range(10, 20))
    # numpy scalars work as single keys
    assert idb[np.uint64(100003)] == bytes(range(20, 30))
    first = list(idb.range(limit=3))
    assert [k for k, _ in first] == [0, 2, 4] and all(type(k) is int for k, _ in first)


def test_numpy_fixed_width_bytes_keys(db):
    np = pytest.importorskip("numpy")
    keys = np.array([b"aa", b"bb", b"cc"], dtype="S2")
    db.put_many(keys, [b"1", b"2", b"3"])
    assert db.get_many(keys) == [b"1", b"2", b"3"]
    with pytest.raises(TypeError):
        db.get_many(np.array([b"x", 1], dtype=object))


def test_sync_flags(path):
    with omendb.open(path, sync=True) as d:
        d.put(b"a", b"1", sync=True)
        d.put(b"b", b"2", sync=False)
        d.delete(b"b", sync=True)
        with d.batch(sync=True) as b:
            b.put(b"c", b"3")
    with omendb.open(path) as d:
        assert d[b"a"] == b"1" and b"b" not in d and d[b"c"] == b"3"


@pytest.mark.parametrize("comp", [None, "none", "lz4", "zstd"])
def test_compression_and_reopen(tmp_path, comp):
    p = str(tmp_path / "c")
    with omendb.open(p, compression=comp, write_buffer_size=1 << 16) as d:
        for i in range(3000):
            d[b"%05d" % i] = b"value-%d" % i * 5
        d.flush()
        st = d.stats()
        assert st["run_entries"] > 0 and st["flushes"] >= 1
    with omendb.open(p) as d:
        assert d[b"01234"] == b"value-1234" * 5
        assert d.count() == 3000


def test_bad_options():
    with pytest.raises(ValueError):
        omendb.open("/tmp/never-created-omendb", compression="gzip")
    with pytest.raises(TypeError):
        omendb.open("/tmp/never-created-omendb", bogus=True)
    with pytest.raises(TypeError):
        omendb.open()


def test_flush_compact_stats(db):
    for i in range(2000):
        db[b"%05d" % i] = b"v"
    st = db.stats()
    assert st["memtable_entries"] == 2000 and st["sequence"] >= 2000
    db.flush()
    db.compact()
    db.compact(b"00100", b"00200")
    st = db.stats()
    assert st["run_entries"] >= 2000 and st["memtable_entries"] == 0
    assert isinstance(st["runs_per_level"], list) and len(st["runs_per_level"]) == 8
    assert st["read_only"] is False
    assert db.count() == 2000


def test_persistence_and_paths(tmp_path):
    import pathlib

    p = pathlib.Path(tmp_path) / "pl"
    with omendb.open(p) as d:
        d[b"k"] = b"v"
        assert d.path == str(p)
        assert "omendb.DB" in repr(d)
    assert d.closed
    with omendb.DB(p, create=False) as d:
        assert d[b"k"] == b"v"


def test_read_only_open(path):
    with omendb.open(path) as d:
        d[b"k"] = b"v"
    with omendb.open(path, read_only=True) as d:
        assert d[b"k"] == b"v"
        with pytest.raises(omendb.ReadOnly) as ei:
            d[b"x"] = b"y"
        assert ei.value.code == 10
        with pytest.raises(omendb.ReadOnly):
            d.put_many([b"x"], [b"y"])
        assert list(d.items()) == [(b"k", b"v")]


def test_destroy(path):
    with omendb.open(path) as d:
        d[b"k"] = b"v"
    omendb.destroy(path)
    with pytest.raises(omendb.NotFoundError):
        omendb.open(path, create=False)


def test_run_transaction_helper(db):
    db[b"n"] = b"0"

    def incr(t):
        n = int(t[b"n"]) + 1
        t[b"n"] = str(n)
        return n

    assert omendb.run_transaction(db, incr) == 1
    assert db[b"n"] == b"1"


def test_docstrings():
    for obj in [omendb.open, omendb.DB, omendb.DB.get, omendb.DB.put, omendb.DB.range,
                omendb.DB.batch, omendb.DB.transaction, omendb.DB.snapshot, omendb.DB.stats,
                omendb.DB.get_many, omendb.DB.put_many, omendb.DB.close, omendb.Snapshot,
                omendb.Transaction, omendb.Transaction.commit, omendb.WriteBatch, omendb.Iterator,
                omendb.check, omendb.destroy, omendb.Error, omendb.Conflict]:
        assert obj.__doc__ and len(obj.__doc__) > 20, obj
    import inspect

    assert "int_keys" in str(inspect.signature(omendb.open))
    assert str(inspect.signature(omendb.DB.get)) == "(self, key, default=None, /)"


def test_get_many_spans_chunks(db):
    n = 40000  # more than one internal chunk (16384)
    db.put_many([b"%06d" % i for i in range(0, n, 3)], [b"%d" % i for i in range(0, n, 3)])
    got = db.get_many([b"%06d" % i for i in range(n)], default=b"-")
    assert got == [b"%d" % i if i % 3 == 0 else b"-" for i in range(n)]
    with db.snapshot() as s:
        db.put_many([b"%06d" % i for i in range(n)], [b"new"] * n)
        assert s.get_many([b"%06d" % i for i in range(n)])[16383:16386] == [b"16383", None, None]


def test_get_many_matches_get_across_runs(tmp_path):
    """get_many (one batched engine lookup per chunk) returns exactly what
    get() returns, for keys in the memtable, in runs of several levels,
    deleted, absent or repeated, in any order, now and at a snapshot."""
    import random
    rng = random.Random(7)
    db = omendb.open(str(tmp_path / "m"), write_buffer_size=64 << 10)
    try:
        space = [b"k%05d" % i for i in range(3000)] + [b"x" * 40 + b"%d" % i for i in range(200)]
        snap = None
        for rnd in range(6):
            for _ in range(1500):
                k = rng.choice(space)
                if rng.random() < 0.2:
                    db.delete(k)
                else:
                    db.put(k, b"%d-%d" % (rnd, rng.randrange(1000)))
            if rnd == 2:
                db.compact()
                snap = db.snapshot()
                at_snap = {k: db.get(k) for k in space}
        probe = space + space[:500] + [b"absent%d" % i for i in range(100)]
        rng.shuffle(probe)
        assert db.get_many(probe) == [db.get(k) for k in probe]
        assert snap.get_many(probe, default=b"?") == [
            b"?" if at_snap.get(k) is None else at_snap[k] for k in probe]
        assert sum(db.stats()["runs_per_level"]) >= 2
        snap.release()
    finally:
        db.close()


def test_snappy_compression_option(tmp_path):
    """compression='snappy' is a known option.  An engine built without
    Snappy rejects it at open with InvalidArgument naming the compression;
    one with it round-trips the data through compressed runs."""
    p = str(tmp_path / "s")
    try:
        d = omendb.open(p, compression="snappy", write_buffer_size=1 << 16)
    except omendb.InvalidArgument as e:
        assert e.code == 2 and "compression" in e.detail
        return
    with d:
        for i in range(3000):
            d[b"%05d" % i] = b"value-%d" % i * 5
        d.flush()
        assert d.stats()["run_entries"] > 0
    with omendb.open(p) as d:
        assert d[b"01234"] == b"value-1234" * 5
        assert d.count() == 3000
