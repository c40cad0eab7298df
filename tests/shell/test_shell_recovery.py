"""omendb tool: WAL recovery flag, check's verdict on a damaged log, count
past a damaged value block, concurrent read-only commands (issue 21)."""
import os
import subprocess

import pytest

BIN = os.path.abspath(os.environ.get("OMENDB_BIN") or os.path.join(
    os.path.dirname(__file__), "..", "..", "build", "omendb"))

if not os.access(BIN, os.X_OK):
    pytest.skip(f"omendb binary not built: {BIN}", allow_module_level=True)


def run(*args, stdin=None):
    e = dict(os.environ)
    e["OMENDB_HISTORY"] = ""
    p = subprocess.run([BIN, *[str(a) for a in args]], input=stdin, capture_output=True,
                       timeout=60, env=e)
    assert p.returncode >= 0, p.stderr
    return p


def _three_synced_puts(d):
    # One session: each command-line open would flush the log into a run.
    script = "".join("put wk%d value-%d-xyz\n" % (i, i) for i in range(3))
    assert run("--sync", d, stdin=script.encode()).returncode == 0
    wals = [f for f in os.listdir(d) if f.endswith(".wal")]
    assert len(wals) == 1
    return os.path.join(d, wals[0])


def test_damaged_wal_check_count_and_recovery_flag(tmp_path):
    d = str(tmp_path / "db")
    wal = _three_synced_puts(d)
    assert run("check", d).returncode == 0
    data = bytearray(open(wal, "rb").read())
    data[16] ^= 0x01
    open(wal, "wb").write(bytes(data))
    c = run("check", d)
    assert c.returncode != 0 and b"corrupt at offset 16" in c.stdout + c.stderr
    p = run("count", d)
    assert p.returncode != 0 and b"offset 16" in p.stderr
    p = run("--wal-recovery", "bogus", "count", d)
    assert p.returncode == 2
    p = run("--wal-recovery", "skip", "count", d)
    assert p.returncode == 0 and p.stdout.strip() == b"2"
    assert b"kept aside" in p.stderr or b"not changed" in p.stderr
    p = run("--wal-recovery", "point-in-time", "put", d, "after", "1")
    assert p.returncode == 0
    assert os.path.exists(wal + ".damaged")
    assert run("count", d).stdout.strip() == b"1"  # nothing before the damage, then "after"
    assert run("check", d).returncode == 0


def test_torn_tail_is_reported_as_such(tmp_path):
    d = str(tmp_path / "db")
    wal = _three_synced_puts(d)
    data = open(wal, "rb").read()
    open(wal, "wb").write(data[:-3])
    c = run("check", d)
    assert c.returncode == 0 and b"torn tail" in c.stdout
    assert run("count", d).stdout.strip() == b"2"


def test_count_needs_no_value_block(tmp_path):
    d = str(tmp_path / "db")
    tsv = b"".join(b"k%05d\t%s\n" % (i, b"v" * 60) for i in range(300))
    assert run("import", d, "-", stdin=tsv).returncode == 0
    # A read-write open writes the imported log into a run file.
    assert run("put", d, "zzz", "1").returncode == 0
    runs = sorted((os.path.getsize(os.path.join(d, f)), f) for f in os.listdir(d)
                  if f.endswith(".run"))
    assert runs
    r = os.path.join(d, runs[-1][1])
    data = bytearray(open(r, "rb").read())
    data[16 + 40] ^= 0x5A
    open(r, "wb").write(bytes(data))
    p = run("count", d)
    assert p.returncode == 0 and p.stdout.strip() == b"301", p.stderr
    s = run("scan", d)
    assert s.returncode != 0 and s.stderr.startswith(b"omendb: scan")


def test_read_only_commands_side_by_side(tmp_path):
    d = str(tmp_path / "db")
    _three_synced_puts(d)
    # export writes to a pipe nobody reads yet, so it holds its read-only
    # handle open while count runs beside it.
    tsv = b"".join(b"k%05d\t%s\n" % (i, b"v" * 200) for i in range(3000))
    assert run("import", d, "-", stdin=tsv).returncode == 0
    e = dict(os.environ, OMENDB_HISTORY="")
    exp = subprocess.Popen([BIN, "export", d], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           env=e)
    try:
        os.read(exp.stdout.fileno(), 1)  # export has opened the database
        c = run("count", d)
        assert c.returncode == 0 and c.stdout.strip() == b"3003", c.stderr
    finally:
        out, err = exp.communicate(timeout=60)
    assert exp.returncode == 0, err
