"""Progress bars of the omendb tool (import, export, check, compact).

The bar is drawn on stderr only when stderr is a terminal and --quiet is
off.  These tests give the tool a pseudo-terminal as stderr (the pty
module) and read what it drew; stdout goes to a file, so the data and the
summary lines are checked to be free of bar output.
"""
import os
import pty
import re
import subprocess
import tempfile

import pytest

BIN = os.path.abspath(os.environ.get("OMENDB_BIN") or os.path.join(
    os.path.dirname(__file__), "..", "..", "build", "omendb"))

if not os.access(BIN, os.X_OK):
    pytest.skip(f"omendb binary not built: {BIN}", allow_module_level=True)

TIMEOUT = 60
BAR = re.compile(rb"\[[#.]+\] +\d+%")


def run_tty(*args):
    """Run omendb with a pseudo-terminal as stderr; return (rc, stdout, tty bytes)."""
    master, slave = pty.openpty()
    with tempfile.TemporaryFile() as out:
        p = subprocess.Popen([BIN, *[str(a) for a in args]], stdin=subprocess.DEVNULL, stdout=out,
                             stderr=slave, env=dict(os.environ, OMENDB_HISTORY=""))
        os.close(slave)
        drawn = b""
        while True:
            try:
                d = os.read(master, 65536)
            except OSError:  # EIO: the last holder of the terminal exited
                break
            if not d:
                break
            drawn += d
        os.close(master)
        rc = p.wait(timeout=TIMEOUT)
        out.seek(0)
        return rc, out.read(), drawn


def run_pipe(*args):
    p = subprocess.run([BIN, *[str(a) for a in args]], stdin=subprocess.DEVNULL, capture_output=True,
                       timeout=TIMEOUT, env=dict(os.environ, OMENDB_HISTORY=""))
    return p.returncode, p.stdout, p.stderr


@pytest.fixture
def tsv(tmp_path):
    f = tmp_path / "data.tsv"
    # several batches of --batch 1000, so the bar is drawn before the end
    f.write_bytes(b"".join(b"key%07d\tvalue-%d\n" % (i, i) for i in range(20000)))
    return f


def assert_no_bar(b):
    assert b"\r" not in b and b"\x1b[" not in b and not BAR.search(b) and b"ETA" not in b, b[:300]


def test_import_bar_on_a_terminal(tmp_path, tsv):
    rc, out, drawn = run_tty("import", tmp_path / "db", tsv)
    assert rc == 0, drawn
    assert out.startswith(b"imported 20000 records in ")
    assert_no_bar(out)
    assert drawn.startswith(b"\rimport  ")
    # a line drawn while running: bar, percent, bytes, rate, records, ETA
    assert re.search(rb"import  \[[#.]+\] +\d+%  [\d.]+ (B|KiB|MiB)  [\d.]+ (B|KiB|MiB|GiB)/s  \d+ rec  ETA \d+:\d\d",
                     drawn), drawn
    # the final state, then the line is erased for the summary
    assert re.search(rb"\[#+\] 100%  [\d.]+ (KiB|MiB)  .* 20000 rec", drawn), drawn
    assert drawn.endswith(b"\r\x1b[K")


def test_import_no_bar_when_not_a_terminal_or_quiet(tmp_path, tsv):
    rc, out, err = run_pipe("import", tmp_path / "db1", tsv)
    assert rc == 0 and err == b""
    assert out.startswith(b"imported 20000 records")
    rc, out, drawn = run_tty("--quiet", "import", tmp_path / "db2", tsv)
    assert rc == 0 and out == b""
    assert drawn == b""


def test_export_check_compact_bars(tmp_path, tsv):
    db = tmp_path / "db"
    assert run_pipe("-q", "import", db, tsv)[0] == 0
    rc, out, drawn = run_tty("export", db, tmp_path / "out.tsv")
    assert rc == 0 and out.startswith(b"exported 20000 records")
    assert re.search(rb"export  \[[#.]+\] +\d+%  \d+ rec  \d+ rec/s", drawn), drawn
    assert re.search(rb"\[#+\] 100%  20000 rec", drawn), drawn
    assert (tmp_path / "out.tsv").read_bytes() == tsv.read_bytes()

    rc, out, drawn = run_tty("compact", db)
    assert rc == 0 and out == b""
    assert re.search(rb"compact  \[#+\] 100%  [\d.]+ (B|KiB|MiB)", drawn), drawn

    rc, out, drawn = run_tty("check", db)
    assert rc == 0
    assert out.endswith(b"is clean\n") and b"summary:" in out
    assert_no_bar(out)  # the report lines on stdout are not mixed with the bar
    assert re.search(rb"check  \[#+\] 100%", drawn), drawn

    for args in (("export", db, tmp_path / "o2.tsv"), ("compact", db), ("check", db)):
        rc, out, err = run_pipe(*args)
        assert rc == 0 and err == b"", (args, err)
        rc, out, drawn = run_tty("-q", *args)
        assert rc == 0 and drawn == b"", (args, drawn)


def test_export_to_a_terminal_stdout_draws_no_bar(tmp_path, tsv):
    db = tmp_path / "db"
    assert run_pipe("-q", "import", db, tsv)[0] == 0
    master, slave = pty.openpty()
    p = subprocess.Popen([BIN, "export", str(db)], stdin=subprocess.DEVNULL, stdout=slave, stderr=slave)
    os.close(slave)
    got = b""
    while True:
        try:
            d = os.read(master, 65536)
        except OSError:
            break
        if not d:
            break
        got += d
    os.close(master)
    assert p.wait(timeout=TIMEOUT) == 0
    assert not BAR.search(got) and b"ETA" not in got
    assert got.count(b"\n") == 20000
