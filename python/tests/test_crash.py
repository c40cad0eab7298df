"""Durability: a child writing with sync=True is killed with SIGKILL; every
key it reported as acknowledged must be there after reopening."""
import os
import signal
import subprocess
import sys
import textwrap
import time

import omendb
from conftest import child_env

CHILD = textwrap.dedent("""
    import sys, omendb
    db = omendb.open(sys.argv[1], sync=True, write_buffer_size=1 << 16)
    i = 0
    while True:
        if i % 7 == 3:
            with db.batch() as b:
                b.put(b"b%08d" % i, b"batch-%d" % i)
                b.put(b"c%08d" % i, b"batch-%d" % i)
        else:
            db.put(b"k%08d" % i, b"value-%d" % i * 10)
        sys.stdout.write("%d\\n" % i)
        sys.stdout.flush()
        i += 1
""")


def _expect(db, i):
    if i % 7 == 3:
        assert db[b"b%08d" % i] == b"batch-%d" % i
        assert db[b"c%08d" % i] == b"batch-%d" % i
    else:
        assert db[b"k%08d" % i] == b"value-%d" % i * 10


def test_sigkill_keeps_acknowledged_writes(path):
    for round_ in range(3):
        p = subprocess.Popen([sys.executable, "-c", CHILD, path], stdout=subprocess.PIPE,
                             env=child_env())
        acked = -1
        deadline = time.time() + 60
        target = 300 + 200 * round_
        while acked < target and time.time() < deadline:
            line = p.stdout.readline()
            if not line:
                break
            acked = int(line)
        os.kill(p.pid, signal.SIGKILL)
        # lines already written after our last read are acknowledged too
        rest = p.stdout.read()
        p.wait()
        for line in rest.split():
            acked = int(line)
        assert acked >= target, "child stopped early"
        with omendb.open(path) as db:
            for i in range(acked + 1):
                _expect(db, i)
            # atomic batches: both halves or neither
            for i in range(acked + 1, acked + 50):
                if i % 7 == 3:
                    assert (db.get(b"b%08d" % i) is None) == (db.get(b"c%08d" % i) is None)
