"""Tests of the omendb command-line tool (tools/omendb/), driven via subprocess.

The binary comes from $OMENDB_BIN (make test-shell sets it); every test works
in its own pytest tmp_path.  The escape format is re-implemented here
independently (escape/unescape below) so that the tests check the tool
against the documented format rather than against itself.
"""
import os
import random
import shutil
import signal
import subprocess
import tempfile
import time

import pytest

BIN = os.environ.get("OMENDB_BIN") or os.path.join(
    os.path.dirname(__file__), "..", "..", "build", "omendb")
BIN = os.path.abspath(BIN)

if not os.access(BIN, os.X_OK):
    pytest.skip(f"omendb binary not built: {BIN}", allow_module_level=True)

TIMEOUT = 60


def run(*args, stdin=None, env=None, check_signal=True):
    """Run omendb with args; return CompletedProcess with bytes stdout/stderr."""
    e = dict(os.environ)
    e.setdefault("OMENDB_HISTORY", "")
    if env:
        e.update(env)
    p = subprocess.run([BIN, *[str(a) for a in args]], input=stdin, capture_output=True,
                       timeout=TIMEOUT, env=e)
    if check_signal:
        assert p.returncode >= 0, f"omendb killed by signal {-p.returncode}: {p.stderr!r}"
    return p


def escape(b: bytes) -> bytes:
    """The documented output form (TSV form)."""
    out = bytearray()
    for c in b:
        if c == 0x5C:
            out += b"\\\\"
        elif c == 0x0A:
            out += b"\\n"
        elif c == 0x09:
            out += b"\\t"
        elif c == 0x0D:
            out += b"\\r"
        elif 0x20 <= c < 0x7F:
            out.append(c)
        else:
            out += b"\\x%02x" % c
    return bytes(out)


def unescape(b: bytes) -> bytes:
    out = bytearray()
    i = 0
    simple = {ord("n"): 10, ord("t"): 9, ord("r"): 13, ord("0"): 0, ord("\\"): 92,
              ord('"'): 34, ord("'"): 39, ord(" "): 32}
    while i < len(b):
        c = b[i]
        i += 1
        if c != 0x5C:
            out.append(c)
            continue
        e = b[i]
        i += 1
        if e == ord("x"):
            out.append(int(b[i:i + 2], 16))
            i += 2
        else:
            out.append(simple[e])
    return bytes(out)


def parse_tsv(data: bytes):
    rows = []
    for line in data.split(b"\n"):
        if not line:
            continue
        k, v = line.split(b"\t", 1)
        rows.append((unescape(k), unescape(v)))
    return rows


def session(db, script: str, *opts):
    """Pipe a shell script into `omendb DIR` (stdin is not a terminal)."""
    return run(*opts, db, stdin=script.encode())


# ---- version, help, usage ---------------------------------------------------

def test_version_and_help():
    p = run("version")
    assert p.returncode == 0
    assert p.stdout.startswith(b"omendb ") and b"." in p.stdout
    p = run("help")
    assert p.returncode == 0
    for word in (b"get DIR KEY", b"import", b"export", b"check", b"--int-keys", b"Exit status"):
        assert word in p.stdout
    assert run("--version").stdout == run("version").stdout


@pytest.mark.parametrize("args", [
    [],
    ["get"],
    ["get", "DB"],
    ["put", "DB", "k"],
    ["put", "DB", "k", "v", "extra"],
    ["del", "DB"],
    ["scan", "DB", "a", "b", "c"],
    ["import", "DB"],
    ["check"],
    ["version", "x"],
    ["--frobnicate", "DB"],
    ["--compression", "brotli", "put", "DB", "k", "v"],
    ["--limit", "ten", "scan", "DB"],
    ["--limit"],
    ["put", "DB", "bad\\q", "v"],
    ["put", "DB", "k", "trailing\\"],
    ["put", "DB", "k", "\\x4"],
    ["--int-keys", "put", "DB", "twelve", "v"],
    ["--int-keys", "get", "DB", "-1"],
    ["--int-keys", "put", "DB", "18446744073709551616", "v"],
    ["DB", "extra-arg"],
])
def test_usage_errors(tmp_path, args):
    db = tmp_path / "db"
    p = run(*[str(db) if a == "DB" else a for a in args])
    assert p.returncode == 2, p
    assert p.stderr.strip(), "a usage error must say something on stderr"
    assert p.stdout == b""
    assert not db.exists(), "a usage error must not create the database"


# ---- script commands -----------------------------------------------------------

def test_put_get_del(tmp_path):
    db = tmp_path / "db"
    assert run("put", db, "hello", "world").returncode == 0
    p = run("get", db, "hello")
    assert (p.returncode, p.stdout) == (0, b"world\n")
    assert run("put", db, "hello", "again").returncode == 0
    assert run("get", db, "hello").stdout == b"again\n"
    assert run("del", db, "hello").returncode == 0
    p = run("get", db, "hello")
    assert p.returncode == 1
    assert p.stdout == b""
    assert b"not found" in p.stderr
    # deleting an absent key is not an error
    assert run("del", db, "never-there").returncode == 0


def test_get_missing_key_and_missing_db(tmp_path):
    db = tmp_path / "db"
    run("put", db, "a", "1")
    p = run("get", db, "b")
    assert (p.returncode, p.stdout) == (1, b"")
    assert b"not found" in p.stderr
    nodb = tmp_path / "nothing-here"
    for args in (["get", nodb, "a"], ["scan", nodb], ["count", nodb], ["stats", nodb],
                 ["export", nodb], ["check", nodb], ["del", nodb, "a"]):
        p = run(*args)
        assert p.returncode == 3, (args, p)
        assert p.stderr.strip()
        assert not nodb.exists(), f"{args[0]} must not create a database"


def test_binary_keys_values_via_escapes(tmp_path):
    db = tmp_path / "db"
    assert run("put", db, "a\\x00b", "x\\ty\\nz\\\\").returncode == 0
    p = run("get", db, "a\\x00b")
    assert p.stdout == b"x\\ty\\nz\\\\\n"
    p = run("--raw", "get", db, "a\\x00b")
    assert p.stdout == b"x\ty\nz\\"
    # the key with the NUL byte is distinct from "a" and "ab"
    assert run("get", db, "a").returncode == 1
    assert run("get", db, "ab").returncode == 1
    # empty value and empty key
    assert run("put", db, "empty", "").returncode == 0
    p = run("get", db, "empty")
    assert (p.returncode, p.stdout) == (0, b"\n")
    assert run("put", db, "", "empty key").returncode == 0
    assert run("get", db, "").stdout == b"empty key\n"
    p = run("scan", db)
    assert parse_tsv(p.stdout) == [(b"", b"empty key"), (b"a\x00b", b"x\ty\nz\\"), (b"empty", b"")]
    # high bytes are escaped on output
    run("put", db, "\\xff\\x80", "\\x01")
    p = run("scan", db, "\\xf0")
    assert p.stdout == b"\\xff\\x80\t\\x01\n"


def test_key_starting_with_dash(tmp_path):
    db = tmp_path / "db"
    assert run("put", db, "--", "-k", "-v").returncode == 0
    assert run("get", db, "--", "-k").stdout == b"-v\n"


def test_scan_ranges_and_limit(tmp_path):
    db = tmp_path / "db"
    keys = ["a", "b", "c", "d", "e"]
    for k in keys:
        assert run("put", db, k, k.upper()).returncode == 0
    p = run("scan", db)
    assert p.returncode == 0
    assert p.stdout == b"".join(b"%s\t%s\n" % (k.encode(), k.upper().encode()) for k in keys)
    # [FROM, TO) is half-open
    assert run("scan", db, "b", "d").stdout == b"b\tB\nc\tC\n"
    assert run("scan", db, "c").stdout == b"c\tC\nd\tD\ne\tE\n"
    assert run("scan", db, "bb", "dd").stdout == b"c\tC\nd\tD\n"
    assert run("scan", db, "", "b").stdout == b"a\tA\n"
    assert run("scan", db, "b", "", "--limit", "2").stdout == b"b\tB\nc\tC\n"
    assert run("--limit=1", "scan", db).stdout == b"a\tA\n"
    assert run("scan", db, "--limit", "0").stdout == b""
    assert run("scan", db, "x").stdout == b""
    assert run("count", db).stdout == b"5\n"
    run("del", db, "c")
    assert run("count", db).stdout == b"4\n"


def test_int_keys_numeric_order(tmp_path):
    db = tmp_path / "db"
    for n in (10, 9, 100, 0, 18446744073709551615, 256):
        assert run("--int-keys", "put", db, n, f"v{n}").returncode == 0
    p = run("--int-keys", "scan", db)
    assert p.returncode == 0
    got = [line.split(b"\t")[0] for line in p.stdout.splitlines()]
    assert got == [b"0", b"9", b"10", b"100", b"256", b"18446744073709551615"]
    assert run("--int-keys", "scan", db, 9, 100).stdout == b"9\tv9\n10\tv10\n"
    assert run("--int-keys", "get", db, "0x100").stdout == b"v256\n"
    # the stored key is 8 big-endian bytes
    p = run("get", db, "\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x0a")
    assert p.stdout == b"v10\n"
    assert run("--int-keys", "get", db, 11).returncode == 1


def test_stats(tmp_path):
    db = tmp_path / "db"
    for i in range(20):
        run("put", db, f"k{i:03d}", "v" * 100)
    p = run("stats", db)
    assert p.returncode == 0, p
    for word in (b"sequence", b"memtable", b"run entries", b"learned index", b"block cache",
                 b"compactions", b"read-only"):
        assert word in p.stdout
    assert b"read-only         no" in session(db, "stats\n").stdout
    seq = int(p.stdout.split(b"sequence", 1)[1].split()[0])
    assert seq >= 20


@pytest.mark.parametrize("comp", ["none", "lz4", "zstd"])
def test_compression_option_and_sync(tmp_path, comp):
    db = tmp_path / "db"
    rows = "".join(f"key{i:05d}\t{'value-%d ' % i * 8}\n" for i in range(3000))
    f = tmp_path / "in.tsv"
    f.write_text(rows)
    p = run("--compression", comp, "-q", "import", db, f)
    assert p.returncode == 0, p
    p = session(db, "flush\ncount\n", "--compression", comp, "--sync")
    assert (p.returncode, p.stdout) == (0, b"3000\n"), p
    assert run("--sync", "put", db, "zz", "last").returncode == 0
    p = run("export", db)
    assert p.stdout == rows.encode() + b"zz\tlast\n"


# ---- import / export --------------------------------------------------------

def random_records(rng, n):
    recs = {b"": b"value of the empty key", b"empty-value": b""}
    specials = [b"\t", b"\n", b"\r", b"\\", b"\\x00", b"\x00", b'"', b"'", b" ", b"#", b"\xff"]
    for s in specials:
        recs[b"k" + s + b"k"] = s + b"v" + s
    while len(recs) < n:
        k = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 24)))
        v = bytes(rng.randrange(256) for _ in range(rng.randrange(0, 64)))
        recs[k] = v
    return recs


def test_import_export_round_trip_binary(tmp_path):
    rng = random.Random(1234)
    recs = random_records(rng, 2500)
    src = tmp_path / "src.tsv"
    src.write_bytes(b"".join(escape(k) + b"\t" + escape(v) + b"\n" for k, v in recs.items()))
    db1, db2 = tmp_path / "db1", tmp_path / "db2"
    p = run("import", db1, src)
    assert p.returncode == 0, p
    assert b"2500" in p.stdout and b"records/s" in p.stdout
    out1 = tmp_path / "out1.tsv"
    p = run("export", db1, out1)
    assert p.returncode == 0, p
    assert b"2500" in p.stdout
    exported = out1.read_bytes()
    # sorted bytewise, exactly the records imported
    assert parse_tsv(exported) == sorted(recs.items())
    # and the export is in exactly the documented form
    assert exported == b"".join(escape(k) + b"\t" + escape(v) + b"\n" for k, v in sorted(recs.items()))
    # export to stdout is identical to export to a file
    assert run("export", db1).stdout == exported
    # import of the export into a fresh db, export again: byte-identical
    assert run("-q", "import", db2, out1).returncode == 0
    assert run("export", db2).stdout == exported
    # values come back exactly through get --raw as well
    for k in (b"k\x00k", b"empty-value", b"k\nk"):
        p = run("--raw", "get", db2, escape(k).decode())
        assert (p.returncode, p.stdout) == (0, recs[k])


def test_import_from_stdin_batches_and_overwrites(tmp_path):
    db = tmp_path / "db"
    data = b"".join(b"k%05d\t%d\n" % (i, i) for i in range(2345))
    data += b"k00000\tlast-wins\n\n"   # duplicates: the later line wins; blank lines skipped
    p = run("--batch", "100", "import", db, "-", stdin=data)
    assert p.returncode == 0, p
    assert b"2346 records" in p.stdout
    assert run("count", db).stdout == b"2345\n"
    assert run("get", db, "k00000").stdout == b"last-wins\n"
    assert run("get", db, "k02344").stdout == b"2344\n"


def test_import_crlf_and_int_keys(tmp_path):
    db = tmp_path / "db"
    f = tmp_path / "in.tsv"
    f.write_bytes(b"300\tc\r\n20\tb\r\n1\ta\r\n")
    assert run("--int-keys", "import", db, f).returncode == 0
    assert run("--int-keys", "export", db).stdout == b"1\ta\n20\tb\n300\tc\n"


@pytest.mark.parametrize("bad,line", [
    (b"a\t1\nno tab here\nc\t3\n", b":2"),
    (b"a\t1\nb\t\\q\n", b":2"),
    (b"a\t1\nb\t2\nc\t\\x0\n", b":3"),
])
def test_import_malformed(tmp_path, bad, line):
    db = tmp_path / "db"
    f = tmp_path / "bad.tsv"
    f.write_bytes(bad)
    p = run("import", db, f)
    assert p.returncode == 3, p
    assert line in p.stderr


def test_import_missing_file(tmp_path):
    p = run("import", tmp_path / "db", tmp_path / "nope.tsv")
    assert p.returncode == 3
    assert b"nope.tsv" in p.stderr


def test_export_to_unwritable_path(tmp_path):
    db = tmp_path / "db"
    run("put", db, "a", "1")
    p = run("export", db, tmp_path / "no" / "such" / "dir.tsv")
    assert p.returncode == 3
    assert p.stderr.strip()


# ---- the shell, piped -------------------------------------------------------

def test_piped_session_basic(tmp_path):
    db = tmp_path / "db"
    script = (
        "# a comment line\n"
        "\n"
        "put a 1\n"
        'put "b c" "two words"\n'
        "put 'single' 'it''s'\n"
        "put bin \\x00\\x01\\t\n"
        "put empty \"\"\n"
        "get a\n"
        'get "b c"\n'
        "get bin\n"
        "get empty\n"
        "get single\n"
        "scan\n"
        "count\n"
        "del a\n"
        "count\n"
        ".quit\n"
        "put after-quit x\n"
    )
    p = session(db, script)
    assert p.returncode == 0, p
    assert p.stdout.decode().split("\n") == [
        "1",
        '"two words"',
        "\\x00\\x01\\t",
        '""',
        "its",
        'a\t1',
        '"b c"\t"two words"',
        'bin\t\\x00\\x01\\t',
        'empty\t""',
        "single\tits",
        "5",
        "4",
        "",
    ]
    assert p.stderr == b""   # no banner, no prompt when stdin is not a terminal
    assert run("get", db, "after-quit").returncode == 1


def test_shell_output_round_trips(tmp_path):
    """What the shell prints for a key/value can be typed back in."""
    db = tmp_path / "db"
    rng = random.Random(99)
    recs = random_records(rng, 200)
    f = tmp_path / "in.tsv"
    f.write_bytes(b"".join(escape(k) + b"\t" + escape(v) + b"\n" for k, v in recs.items()))
    assert run("-q", "import", db, f).returncode == 0
    p = session(db, "scan\n")
    assert p.returncode == 0
    lines = p.stdout.splitlines()
    assert len(lines) == len(recs)
    # feed every printed "KEY<TAB>VALUE" line back as "put KEY VALUE" into a new db
    db2 = tmp_path / "db2"
    script = b"".join(b"put " + line.replace(b"\t", b" ", 1) + b"\n" for line in lines)
    p = session(db2, script.decode("latin-1"))
    assert p.returncode == 0, p.stderr
    assert run("export", db2).stdout == run("export", db).stdout


def test_piped_transactions(tmp_path):
    db = tmp_path / "db"
    p = session(db, "put base 0\n"
                    "begin\nput t1 x\nget t1\nscan\nrollback\nget t1\n"
                    "begin\nput t2 y\ndel base\ncount\ncommit\nscan\n")
    assert p.returncode == 1   # the "get t1" after the rollback is not found
    out = p.stdout.decode().split("\n")
    assert out == ["x", "base\t0", "t1\tx", "1", "t2\ty", ""]
    assert b"get t1: not found" in p.stderr
    # the committed transaction is durable, the rolled-back one left nothing
    assert run("scan", db).stdout == b"t2\ty\n"


def test_piped_session_int_keys(tmp_path):
    db = tmp_path / "db"
    p = session(db, "put 10 ten\nput 9 nine\nput 100 hundred\nscan\nscan 9 100\nscan 10 \"\" 1\n"
                    "count 10\nget 0x64\nput x bad\n", "--int-keys")
    assert p.returncode == 2   # "x" is not an integer key
    assert p.stdout.decode().split("\n") == [
        "9\tnine", "10\tten", "100\thundred",
        "9\tnine", "10\tten",
        "10\tten",
        "2",
        "hundred", ""]
    assert b"not an unsigned 64-bit integer" in p.stderr


def test_write_buffer_option_makes_runs(tmp_path):
    db = tmp_path / "db"
    f = tmp_path / "in.tsv"
    f.write_bytes(b"".join(b"k%07d\t%s\n" % (i, b"x" * 100) for i in range(20000)))
    p = run("--write-buffer", "256K", "-q", "import", db, f)
    assert p.returncode == 0, p
    assert any(x.name.endswith(".run") for x in db.iterdir()), sorted(os.listdir(db))
    assert run("count", db).stdout == b"20000\n"
    assert run("check", db).returncode == 0


def test_transaction_left_open_is_rolled_back(tmp_path):
    db = tmp_path / "db"
    p = session(db, "begin\nput k v\n")
    assert b"rolled back" in p.stderr
    assert run("get", db, "k").returncode == 1


def test_transaction_command_errors(tmp_path):
    db = tmp_path / "db"
    for script in ("commit\n", "rollback\n", "begin\nbegin\n"):
        p = session(db, script)
        assert p.returncode == 2, (script, p)
        assert p.stderr.strip()


def test_session_errors_continue_or_bail(tmp_path):
    db = tmp_path / "db"
    p = session(db, "frobnicate\nput a\nput \"unterminated\nget a\\q\nput ok 1\n")
    assert p.returncode == 2
    err = p.stderr.decode()
    assert "unknown command" in err and "usage" in err and "unterminated" in err and "escape" in err
    assert run("get", db, "ok").stdout == b"1\n"   # later commands still ran
    for bad in ('""', "get\\x00", "g" * 100, "."):
        p = session(db, bad + " k\n")
        assert p.returncode == 2 and b"unknown command" in p.stderr, (bad, p)
    p = session(db, "frobnicate\nput bailed 1\n", "--bail")
    assert p.returncode == 2
    assert run("get", db, "bailed").returncode == 1


def test_session_garbage_input_never_crashes(tmp_path):
    """Random lines (quotes, backslashes, NULs, command words) give errors, never a signal."""
    db = tmp_path / "db"
    rng = random.Random(7)
    alphabet = [b"get", b"put", b"del", b"scan", b"count", b"begin", b"commit", b"rollback",
                b" ", b"\"", b"'", b"\\", b"\\x", b"\\x4", b"0", b"\x00", b"\xff", b"#", b"\t",
                b"a", b"zz", b"\r"]
    lines = []
    for _ in range(3000):
        lines.append(b"".join(rng.choice(alphabet) for _ in range(rng.randrange(0, 12))))
    p = run(db, stdin=b"\n".join(lines) + b"\n")
    assert p.returncode in (0, 1, 2, 3)
    p = run("--int-keys", db, stdin=b"\n".join(lines) + b"\n")
    assert p.returncode in (0, 1, 2, 3)
    assert run("check", db).returncode == 0


def test_session_help_and_stats_and_flush(tmp_path):
    db = tmp_path / "db"
    p = session(db, "help\nput a 1\nflush\nstats\ncompact\nget a\n")
    assert p.returncode == 0, p
    assert b"begin" in p.stdout and b"rollback" in p.stdout
    assert b"sequence" in p.stdout
    assert p.stdout.endswith(b"\n1\n")


# ---- check, corruption, locking, foreign directories ------------------------

def make_db_with_files(db, tmp_path, n=3000):
    f = tmp_path / "fill.tsv"
    f.write_bytes(b"".join(b"key%06d\t%s\n" % (i, b"v" * (20 + i % 50)) for i in range(n)))
    assert run("-q", "import", db, f).returncode == 0
    # flush into a sorted run, then leave some writes in the log
    p = session(db, "flush\n" + "".join(f"put wal{i} {i}\n" for i in range(50)))
    assert p.returncode == 0, p


def test_check_clean(tmp_path):
    db = tmp_path / "db"
    make_db_with_files(db, tmp_path)
    p = run("check", db)
    assert p.returncode == 0, p
    assert b"clean" in p.stdout


def flip(path, at, n=16):
    data = bytearray(path.read_bytes())
    if not data:
        return False
    at = min(at, max(0, len(data) - n))
    for i in range(at, min(len(data), at + n)):
        data[i] ^= 0xFF
    path.write_bytes(bytes(data))
    return True


def test_check_corrupted_files(tmp_path):
    """Flip bytes in every run, log and manifest file in turn: check must say
    so (non-zero, a message) and no command may die by a signal."""
    base = tmp_path / "base"
    make_db_with_files(base, tmp_path)
    files = sorted(x.name for x in base.iterdir()
                   if x.name.endswith(".run") or x.name.endswith(".wal") or x.name == "MANIFEST")
    assert any(x.endswith(".run") for x in files), f"no sorted run after flush: {files}"
    assert "MANIFEST" in files
    tried = 0
    for name in files:
        size = (base / name).stat().st_size
        for where in ("middle", "start"):
            db = tmp_path / f"c-{name}-{where}"
            shutil.copytree(base, db)
            if not flip(db / name, size // 2 if where == "middle" else 0):
                continue
            tried += 1
            p = run("check", db)
            assert p.returncode in (1, 3), f"check missed corruption in {name} ({where}): {p}"
            assert p.stderr.strip(), "a failing check must say why"
            assert b"check:" not in p.stdout or b"clean" not in p.stdout
            # reading a corrupt database fails cleanly or works; never crashes
            for args in (["count", db], ["scan", db], ["get", db, "key001500"], ["export", db]):
                q = run(*args)
                assert q.returncode in (0, 1, 3), (args, q.returncode)
                if q.returncode == 3 or (q.returncode == 1 and args[0] != "get"):
                    assert q.stderr.strip()
    assert tried >= 2


def test_locked_database(tmp_path):
    db = tmp_path / "db"
    env = dict(os.environ, OMENDB_HISTORY="")
    holder = subprocess.Popen([BIN, str(db)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, env=env)
    try:
        holder.stdin.write(b"put a 1\nget a\n")
        holder.stdin.flush()
        assert holder.stdout.readline() == b"1\n"   # the shell has the database open
        for args in (["get", db, "a"], ["put", db, "b", "2"], ["scan", db], [db], ["check", db]):
            p = run(*args, stdin=b"get a\n")
            assert p.returncode == 3, (args, p)
            assert b"locked" in p.stderr.lower(), p.stderr
    finally:
        holder.stdin.write(b".quit\n")
        holder.stdin.close()
        assert holder.wait(timeout=TIMEOUT) == 0
        holder.stdout.close()
        holder.stderr.close()
    # released on exit
    assert run("get", db, "a").stdout == b"1\n"


def test_not_a_database(tmp_path):
    d = tmp_path / "notdb"
    d.mkdir()
    (d / "holiday.jpg").write_bytes(b"\xff\xd8\xff\xe0 not a database")
    before = sorted(os.listdir(d))
    for args in (["get", d, "k"], ["put", d, "k", "v"], ["scan", d], [d], ["check", d]):
        p = run(*args, stdin=b"")
        assert p.returncode in (1, 3), (args, p)
        assert p.returncode != 0
        assert p.stderr.strip()
    assert sorted(os.listdir(d)) == before, "a foreign directory must not be written to"
    # a regular file where the directory should be
    f = tmp_path / "plainfile"
    f.write_bytes(b"hello")
    for args in (["get", f, "k"], ["put", f, "k", "v"], ["check", f]):
        p = run(*args)
        assert p.returncode == 3, (args, p)
        assert p.stderr.strip()
    assert f.read_bytes() == b"hello"


# ---- the real interactive shell, through tmux ----------------------------

class Tmux:
    """One detached tmux server running one command in a 100x30 pane."""

    def __init__(self, cmd):
        self.dir = tempfile.mkdtemp(prefix="omtmux")   # short: socket paths are limited
        self.sock = os.path.join(self.dir, "sock")
        self.run("-f", "/dev/null", "new-session", "-d", "-s", "t", "-x", "100", "-y", "30",
                 cmd + "; echo EXITED-$?; sleep 60")

    def run(self, *a, check=True):
        return subprocess.run(["tmux", "-S", self.sock, *a], capture_output=True,
                              timeout=TIMEOUT, check=check)

    def keys(self, *keys):
        self.run("send-keys", "-t", "t", *keys)

    def screen(self):
        return self.run("capture-pane", "-p", "-t", "t").stdout.decode()

    def wait_for(self, pred, what):
        deadline = time.time() + 20
        while time.time() < deadline:
            s = self.screen()
            if pred(s):
                return s
            time.sleep(0.05)
        raise AssertionError(f"timed out waiting for {what}; screen:\n{self.screen()}")

    def close(self):
        self.run("kill-server", check=False)
        shutil.rmtree(self.dir, ignore_errors=True)


def shell_cmd(db, hist):
    return f"env OMENDB_HISTORY={hist} TERM=xterm {BIN} {db}"


needs_tmux = pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")


@needs_tmux
def test_interactive_tmux(tmp_path):
    db = tmp_path / "db"
    hist = tmp_path / "history"
    t = Tmux(shell_cmd(db, hist))
    try:
        s = t.wait_for(lambda s: "omendb>" in s, "the prompt")
        assert "help" in s and "new database" in s   # the banner says what to type
        t.keys("put k1 hello-world", "Enter")
        # line editing: type the end of the command, go to the line start, insert "g"
        t.keys("et k1")
        t.keys("C-a")
        t.keys("g", "Enter")
        t.wait_for(lambda s: s.count("hello-world") >= 2, "get's output")
        # history: up-arrow recalls "get k1"
        t.keys("Up")
        t.wait_for(lambda s: s.rstrip().endswith("omendb> get k1"), "the recalled command")
        t.keys("Enter")
        t.wait_for(lambda s: s.count("hello-world") >= 3, "the recalled command's output")
        # Ctrl-C cancels the line being typed and keeps the shell running
        t.keys("put k1 CANCELLED")
        t.keys("C-c")
        t.keys("get k1", "Enter")
        t.wait_for(lambda s: s.count("hello-world") >= 4, "get after Ctrl-C")
        # Tab completes command names
        t.keys("sta", "Tab")
        t.wait_for(lambda s: s.rstrip().endswith("omendb> stats"), "the completed command")
        t.keys("Enter")
        t.wait_for(lambda s: "run entries" in s, "stats output")
        # the prompt shows an open transaction
        t.keys("begin", "Enter")
        t.wait_for(lambda s: "omendb [txn]>" in s, "the transaction prompt")
        t.keys("rollback", "Enter")
        # Ctrl-D only once the shell reads again: typed while a command runs, the
        # tty is in cooked mode and takes it as its own end-of-file, not the shell's
        t.wait_for(lambda s: s.rstrip().endswith("omendb>"), "the prompt after rollback")
        t.keys("C-d")
        s = t.wait_for(lambda s: "EXITED-" in s, "the shell to exit")
        assert "EXITED-0" in s
    finally:
        t.close()
    h = hist.read_text(errors="replace").replace("\\040", " ")  # libedit vis-encodes blanks
    assert "get k1" in h and "put k1 hello-world" in h
    assert "CANCELLED" not in h
    assert run("get", db, "k1").stdout == b"hello-world\n"

    # a new session finds the history of the last one
    t = Tmux(shell_cmd(db, hist))
    try:
        s = t.wait_for(lambda s: "omendb>" in s, "the prompt")
        assert "new database" not in s
        t.keys("Up")
        t.wait_for(lambda s: s.rstrip().endswith("omendb> rollback"), "the last session's command")
        t.keys("C-u", ".quit", "Enter")
        assert "EXITED-0" in t.wait_for(lambda s: "EXITED-" in s, "the shell to exit")
    finally:
        t.close()


@needs_tmux
def test_interactive_unwritable_history_is_not_fatal(tmp_path):
    db = tmp_path / "db"
    t = Tmux(shell_cmd(db, tmp_path / "no" / "such" / "dir" / "history"))
    try:
        t.wait_for(lambda s: "omendb>" in s, "the prompt")
        t.keys("put a 1", "Enter")
        t.wait_for(lambda s: s.count("omendb>") >= 2, "the prompt after put")
        t.keys("C-d")
        s = t.wait_for(lambda s: "EXITED-" in s, "the shell to exit")
        assert "EXITED-0" in s
        assert "history" in s   # a note says it was not saved
    finally:
        t.close()
    assert run("get", db, "a").stdout == b"1\n"


def test_snappy_compression_option(tmp_path):
    """--compression snappy parses (never a usage error).  An engine built
    without Snappy refuses it at open (exit 3, naming the compression); one
    with it round-trips the data."""
    db = tmp_path / "db"
    rows = "".join(f"key{i:05d}\t{'value-%d ' % i * 8}\n" for i in range(3000))
    f = tmp_path / "in.tsv"
    f.write_text(rows)
    p = run("--compression", "snappy", "-q", "import", db, f)
    if p.returncode == 3:
        assert b"compression" in p.stderr, p
        return
    assert p.returncode == 0, p
    p = session(db, "flush\ncount\n", "--compression", "snappy")
    assert (p.returncode, p.stdout) == (0, b"3000\n"), p
    assert run("export", db).stdout == rows.encode()
