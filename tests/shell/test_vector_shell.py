"""The vector-set commands of the omendb tool (tools/omendb/vector.c), driven
via subprocess: the script form (omendb vadd DIR ...) and the piped shell.
Results are checked against numpy brute force on generated data; .npy and
.fvecs files are written here with numpy / struct, independently of the
tool's reader."""
import os
import struct
import subprocess

import pytest

np = pytest.importorskip("numpy")

BIN = os.path.abspath(os.environ.get("OMENDB_BIN") or os.path.join(
    os.path.dirname(__file__), "..", "..", "build", "omendb"))

if not os.access(BIN, os.X_OK):
    pytest.skip(f"omendb binary not built: {BIN}", allow_module_level=True)


def run(*args, stdin=None):
    env = dict(os.environ, OMENDB_HISTORY="")
    p = subprocess.run([BIN, *[str(a) for a in args]], input=stdin, capture_output=True, timeout=120, env=env)
    assert p.returncode >= 0, f"omendb killed by signal {-p.returncode}: {p.stderr!r}"
    return p


def ok(*args, stdin=None):
    p = run(*args, stdin=stdin)
    assert p.returncode == 0, (args, p.stderr)
    return p.stdout.decode()


def hits(text):
    """ID<TAB>distance lines -> [(id, float)]."""
    out = []
    for line in text.splitlines():
        i, d = line.split("\t")
        out.append((i, float(d)))
    return out


def write_fvecs(path, X):
    with open(path, "wb") as f:
        for row in X:
            f.write(struct.pack("<i", len(row)))
            f.write(np.asarray(row, "<f4").tobytes())


def brute(X, q, k):
    d = ((X.astype(np.float64) - q) ** 2).sum(axis=1)
    return [int(i) for i in np.argsort(d, kind="stable")[:k]]


@pytest.fixture
def d(tmp_path):
    return str(tmp_path / "db")


def test_script_commands_roundtrip(d):
    ok("vcreate", d, "films", 3, "l2", "float32", 8, 50)
    ok("vadd", d, "films", "f1", "1,0,0", '{"year": 1999, "genre": "noir"}')
    ok("vadd", d, "films", "f2", "[0, 1, 0]", '{"year": 1975}')
    ok("vadd", d, "films", "f3", "0 0 1")
    assert ok("vlist", d) == "films\n"
    info = dict(line.split(None, 1) for line in ok("vinfo", d, "films").splitlines())
    assert info["dim"] == "3" and info["metric"] == "l2" and info["precision"] == "float32"
    assert info["m"] == "8" and info["ef_construction"] == "50" and info["count"] == "3"
    assert ok("vget", d, "films", "f2") == "0,1,0\n"
    assert ok("vattrs", d, "films", "f1") == '{"year": 1999, "genre": "noir"}\n'
    assert ok("vattrs", d, "films", "f3") == "null\n"
    res = hits(ok("vsearch", d, "films", "1,0.1,0", 2))
    assert [h for h, _ in res] == ["f1", "f2"]
    assert res[0][1] == pytest.approx(0.01, rel=1e-4) and res[1][1] == pytest.approx(1.81, rel=1e-4)
    assert [h for h, _ in hits(ok("vsearch", d, "films", "@f3", 1))] == ["f3"]
    assert [h for h, _ in hits(ok("vsearch", d, "films", "1,1,1", 10, ".year > 1980"))] == ["f1"]
    # f2 has no genre: an element lacking a field the filter uses does not
    # match, even under `or` (docs/vector.md)
    assert [h for h, _ in hits(ok("vsearch", d, "films", "1,1,1", 10,
                                  '.genre in ["noir", "drama"] or .year < 1980'))] == ["f1"]
    # f1 and f2 are both at distance 2 from (1,1,1): their order is not promised
    assert sorted(h for h, _ in hits(ok("vsearch", d, "films", "1,1,1", 10, ".year < 2000"))) == ["f1", "f2"]
    ok("vattrs", d, "films", "f3", '{"year": 2020}')
    assert ok("vattrs", d, "films", "f3") == '{"year": 2020}\n'
    ok("vattrs", d, "films", "f3", "")
    assert ok("vattrs", d, "films", "f3") == "null\n"
    ok("vdel", d, "films", "f2")
    assert sorted(h for h, _ in hits(ok("vsearch", d, "films", "0,1,0"))) == ["f1", "f3"]
    ok("vdrop", d, "films")
    assert ok("vlist", d) == ""


def test_vadd_creates_the_set(d):
    ok("vadd", d, "auto", "a", "1,2,3,4")
    info = dict(line.split(None, 1) for line in ok("vinfo", d, "auto").splitlines())
    assert info["dim"] == "4" and info["metric"] == "l2" and info["precision"] == "int8"


def test_exit_codes_and_messages(d):
    ok("vcreate", d, "s", 2)
    ok("vadd", d, "s", "a", "1,1")
    cases = [
        (("vget", d, "s", "zz"), 1, "not found"),
        (("vdel", d, "s", "zz"), 1, "not found"),
        (("vattrs", d, "s", "zz"), 1, "not found"),
        (("vsearch", d, "s", "@zz"), 1, "not found"),
        (("vsearch", d, "nope", "1,1"), 1, "no vector set"),
        (("vinfo", d, "nope"), 1, "no vector set"),
        (("vdrop", d, "nope"), 1, "no vector set"),
        (("vadd", d, "s", "b", "1,2,3"), 2, "dimension 2"),
        (("vsearch", d, "s", "1"), 2, "dimension 2"),
        (("vadd", d, "s", "b", "1,x"), 2, "bad vector"),
        (("vadd", d, "s", "b", "[1,2"), 2, "missing ]"),
        (("vadd", d, "s", "b", ""), 2, "empty vector"),
        (("vsearch", d, "s", "1,1", 0), 2, "K must be"),
        (("vsearch", d, "s", "1,1", "ten"), 2, "K must be"),
        (("vsearch", d, "s", "1,1", 5, ".a >"), 3, "invalid argument"),
        (("vadd", d, "s", "b", "1,nan"), 3, "invalid argument"),
        (("vadd", d, "s", "b", "1,1", "[1]"), 3, "invalid argument"),
        (("vcreate", d, "s", 2), 3, "exists"),
        (("vcreate", d, "t", 0), 2, "DIM must be"),
        (("vcreate", d, "t", 2, "manhattan"), 2, "METRIC"),
        (("vcreate", d, "t", 2, "l2", "int4"), 2, "PRECISION"),
        (("vadd", d, "s"), 2, "usage"),
    ]
    for args, code, msg in cases:
        p = run(*args)
        assert p.returncode == code, (args, p.returncode, p.stderr)
        assert msg.encode() in p.stderr, (args, p.stderr)
    # nothing above changed the set
    assert ok("vget", d, "s", "a") == "1,1\n"
    assert ok("vlist", d) == "s\n"
    info = dict(line.split(None, 1) for line in ok("vinfo", d, "s").splitlines())
    assert info["count"] == "1"


def test_read_commands_do_not_create(tmp_path):
    d = str(tmp_path / "absent")
    p = run("vsearch", d, "s", "1,2")
    assert p.returncode == 3
    assert not os.path.exists(d)


def test_vimport_npy_matches_brute_force(tmp_path, d):
    rng = np.random.default_rng(1)
    X = rng.standard_normal((300, 16)).astype(np.float32)
    f = str(tmp_path / "x.npy")
    np.save(f, X)
    out = ok("--batch", 7, "vimport", d, "vecs", f)
    assert "imported 300 vectors of dimension 16 into vecs" in out
    info = dict(line.split(None, 1) for line in ok("vinfo", d, "vecs").splitlines())
    assert info["count"] == "300" and info["dim"] == "16"
    # stored as float32 exactly (vget prints 9 significant digits)
    got = np.array([float(x) for x in ok("vget", d, "vecs", 17).strip().split(",")], np.float32)
    assert np.array_equal(got, X[17])
    recalls = []
    for qi in (0, 5, 99, 299):
        q = X[qi] + 0.01
        res = hits(ok("vsearch", d, "vecs", ",".join("%.9g" % v for v in q), 10, "", 200))
        assert res[0][0] == str(qi)
        recalls.append(len({int(h) for h, _ in res} & set(brute(X, q, 10))) / 10)
    assert np.mean(recalls) >= 0.9
    # a second import with the same row numbers replaces, not duplicates
    ok("vimport", d, "vecs", f)
    info = dict(line.split(None, 1) for line in ok("vinfo", d, "vecs").splitlines())
    assert info["count"] == "300"


def test_vimport_fvecs_with_ids(tmp_path, d):
    rng = np.random.default_rng(2)
    X = rng.standard_normal((50, 8)).astype(np.float32)
    f = str(tmp_path / "x.fvecs")
    write_fvecs(f, X)
    ids = str(tmp_path / "ids.txt")
    with open(ids, "w") as fh:
        for i in range(50):
            fh.write(f"doc\\x{i:02x}-{i}\n")  # escapes are decoded like keys
    ok("vimport", d, "v", f, ids)
    res = hits(ok("vsearch", d, "v", "@doc\\x05-5", 1))
    assert res == [("doc\\x05-5", 0.0)]
    got = np.array([float(x) for x in ok("vget", d, "v", "doc\\x2a-42").strip().split(",")], np.float32)
    assert np.array_equal(got, X[42])


def test_vimport_int_keys(tmp_path, d):
    X = np.arange(40, dtype=np.float32).reshape(10, 4)
    f = str(tmp_path / "x.npy")
    np.save(f, X)
    ok("--int-keys", "vimport", d, "v", f)
    assert hits(ok("--int-keys", "vsearch", d, "v", "@7", 1)) == [("7", 0.0)]
    assert ok("--int-keys", "vget", d, "v", 9) == "36,37,38,39\n"
    # without --int-keys the ids are 8 big-endian bytes
    assert hits(ok("vsearch", d, "v", "0,1,2,3", 1))[0][0] == "\\x00" * 8


def test_vimport_rejects_bad_files(tmp_path, d):
    def fails(path, *extra, msg):
        p = run("vimport", d, "v", path, *extra)
        assert p.returncode != 0, p.stdout
        assert msg.encode() in p.stderr, p.stderr
    f64 = str(tmp_path / "f64.npy")
    np.save(f64, np.ones((3, 4)))
    fails(f64, msg="float32")
    one_d = str(tmp_path / "one.npy")
    np.save(one_d, np.ones(4, np.float32))
    fails(one_d, msg="2-D")
    fortran = str(tmp_path / "fortran.npy")
    np.save(fortran, np.asfortranarray(np.ones((3, 4), np.float32)))
    fails(fortran, msg="C order")
    good = str(tmp_path / "good.npy")
    np.save(good, np.ones((5, 4), np.float32))
    trunc = str(tmp_path / "trunc.npy")
    with open(good, "rb") as a, open(trunc, "wb") as b:
        b.write(a.read()[:-6])
    fails(trunc, msg="truncated")
    badf = str(tmp_path / "bad.fvecs")
    with open(badf, "wb") as fh:
        fh.write(struct.pack("<i", 4) + b"\0" * 16 + struct.pack("<i", 3) + b"\0" * 12 + b"\0" * 4)
    fails(badf, msg="dimension 3")
    odd = str(tmp_path / "odd.fvecs")
    with open(odd, "wb") as fh:
        fh.write(struct.pack("<i", 4) + b"\0" * 10)
    fails(odd, msg="whole number")
    txt = str(tmp_path / "x.txt")
    with open(txt, "w") as fh:
        fh.write("1,2,3\n")
    fails(txt, msg="not a .npy")
    fails(str(tmp_path / "missing.npy"), msg="cannot open")
    ids = str(tmp_path / "ids")
    with open(ids, "w") as fh:
        fh.write("a\nb\n")
    fails(good, ids, msg="2 lines")
    # none of these wrote anything (the set may not even exist)
    p = run("vinfo", d, "v")
    assert p.returncode != 0 or "count             0" in p.stdout.decode()
    # a set of another dimension is refused before anything is written
    ok("vcreate", d, "w", 3)
    p = run("vimport", d, "w", good)
    assert p.returncode == 2 and b"dimension 3" in p.stderr
    assert "count             0" in ok("vinfo", d, "w")


def test_piped_shell_and_transactions(d):
    script = b"""vcreate s 2 cosine
vadd s a 1,0 '{"n": 1}'
vadd s b 0,1
begin
vadd s c 1,1
put k v
rollback
vsearch s 1,1 10
begin
vadd s c 1,1
vdel s a
put k v
commit
vsearch s 1,1 10
get k
vinfo s
"""
    p = run(d, stdin=script)
    assert p.returncode == 0, p.stderr
    out = p.stdout.decode().splitlines()
    far = 1 - 2 ** -0.5  # cosine distance between (1, 0) and (1, 1)
    # after the rollback: a and b only, equally far
    first = hits("\n".join(out[0:2]))
    assert sorted(h for h, _ in first) == ["a", "b"], out
    assert all(s == pytest.approx(far, abs=1e-5) for _, s in first)
    # after the commit: c at distance 0, then b; a is gone; k was written with them
    second = hits("\n".join(out[2:4]))
    assert [h for h, _ in second] == ["c", "b"], out
    assert second[0][1] == pytest.approx(0, abs=1e-6) and second[1][1] == pytest.approx(far, abs=1e-5)
    assert out[4] == "v", out
    assert "count             2" in out


def test_persistence_across_processes(tmp_path, d):
    rng = np.random.default_rng(3)
    X = rng.standard_normal((100, 6)).astype(np.float32)
    f = str(tmp_path / "x.npy")
    np.save(f, X)
    ok("vcreate", d, "p", 6, "ip")
    ok("vimport", d, "p", f)
    ok("vdel", d, "p", 3)
    # a fresh process (read-only open) sees the same set, minus the delete
    q = X[3]
    res = hits(ok("vsearch", d, "p", ",".join("%.9g" % v for v in q), 5, "", 100))
    assert "3" not in [h for h, _ in res]
    scores = -(X.astype(np.float64) @ q)
    scores[3] = np.inf
    assert res[0][0] == str(int(np.argmin(scores)))
    assert res[0][1] == pytest.approx(float(scores.min()), rel=1e-4, abs=1e-4)
