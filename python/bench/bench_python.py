#!/usr/bin/python3
"""Puts and gets per second from Python: OmenDB beside LMDB (python3-lmdb) and
LevelDB (python3-plyvel), same data, same process.

    PYTHONPATH=build/python /usr/bin/python3 python/bench/bench_python.py [--n 1000000] [--reps 5]

Data: n random 16-byte keys (fixed seed), 100-byte values.  Each engine
loads the keys in random order one put() call at a time (LMDB: one write
transaction for the whole load; OmenDB and LevelDB: relaxed durability, i.e.
no fsync per write), then is compacted (OmenDB flush+compact, LevelDB
compact_range) so reads hit the engines' on-disk structures, then serves
random get()s (a different permutation, every key present; LMDB: one read
transaction).  Bulk variants are measured too: OmenDB put_many/get_many,
LevelDB write_batch, LMDB putmulti.  Each figure is the median of --reps
timed repetitions (--load-reps loads, each into a new database; --reps
passes of gets).  Directory: --dir
(default: a temporary directory under /tmp).
"""
import argparse
import os
import random
import shutil
import statistics
import sys
import tempfile
import time

import omendb

try:
    import lmdb
except ImportError:  # pragma: no cover
    lmdb = None
try:
    import plyvel
except ImportError:  # pragma: no cover
    plyvel = None


def make_data(n, seed=42):
    rng = random.Random(seed)
    keys = list({rng.randbytes(16) for _ in range(n + n // 100 + 16)})[:n]
    rng.shuffle(keys)
    vals = [rng.randbytes(100) for _ in range(1024)]
    values = [vals[i % 1024] for i in range(n)]
    probe = keys[:]
    rng.shuffle(probe)
    return keys, values, probe



def count_misses(get, probe):
    """The timed get loop, the same code for every engine."""
    miss = 0
    for k in probe:
        if get(k) is None:
            miss += 1
    return miss

class OmenEngine:
    name = "OmenDB"

    def __init__(self, path):
        self.path = path
        self.db = omendb.open(path)

    def load(self, keys, values):
        put = self.db.put
        for k, v in zip(keys, values):
            put(k, v)

    def load_bulk(self, keys, values):
        step = 10000
        for i in range(0, len(keys), step):
            self.db.put_many(keys[i:i + step], values[i:i + step])

    def settle(self):
        self.db.flush()
        self.db.compact()

    def gets(self, probe):
        return count_misses(self.db.get, probe)

    def gets_bulk(self, probe):
        step = 10000
        miss = 0
        for i in range(0, len(probe), step):
            miss += self.db.get_many(probe[i:i + step]).count(None)
        return miss

    def close(self):
        self.db.close()


class LmdbEngine:
    name = "LMDB"

    def __init__(self, path):
        os.makedirs(path, exist_ok=True)
        self.env = lmdb.open(path, map_size=8 << 30, sync=False, metasync=False, writemap=False)

    def load(self, keys, values):
        with self.env.begin(write=True) as txn:
            put = txn.put
            for k, v in zip(keys, values):
                put(k, v)

    def load_bulk(self, keys, values):
        with self.env.begin(write=True) as txn:
            with txn.cursor() as c:
                c.putmulti(zip(keys, values))

    def settle(self):
        self.env.sync(True)

    def gets(self, probe):
        with self.env.begin() as txn:
            return count_misses(txn.get, probe)

    gets_bulk = None

    def close(self):
        self.env.close()


class LevelEngine:
    name = "LevelDB"

    def __init__(self, path):
        self.db = plyvel.DB(path, create_if_missing=True)

    def load(self, keys, values):
        put = self.db.put
        for k, v in zip(keys, values):
            put(k, v)

    def load_bulk(self, keys, values):
        step = 10000
        for i in range(0, len(keys), step):
            with self.db.write_batch() as wb:
                for k, v in zip(keys[i:i + step], values[i:i + step]):
                    wb.put(k, v)

    def settle(self):
        self.db.compact_range()

    def gets(self, probe):
        return count_misses(self.db.get, probe)

    gets_bulk = None

    def close(self):
        self.db.close()


CPU = False  # --cpu: rates from process CPU time instead of wall-clock time


def timed(fn, *a):
    """Seconds taken by fn(*a): wall clock, or with --cpu the CPU time of the
    whole process (all threads, so engines' background flush/compaction
    threads are charged too).  CPU time is the fairer figure on a machine
    shared with other jobs."""
    clock = time.process_time if CPU else time.perf_counter
    t = clock()
    r = fn(*a)
    return clock() - t, r


def run_engine(cls, base, keys, values, probe, reps, load_reps, bulk):
    n = len(keys)
    res = {}
    put_t, bulk_t = [], []
    eng = None
    for r in range(load_reps):
        for which, times in (("load", put_t), ("load_bulk", bulk_t)):
            if which == "load_bulk" and not bulk:
                continue
            path = os.path.join(base, "%s-%s-%d" % (cls.name, which, r))
            e = cls(path)
            dt, _ = timed(getattr(e, which), keys, values)
            times.append(dt)
            if which == "load" and r == load_reps - 1:
                eng = e  # keep the last per-call load for the reads
            else:
                e.close()
                shutil.rmtree(path, ignore_errors=True)
    res["put"] = n / statistics.median(put_t)
    if bulk_t:
        res["put_bulk"] = n / statistics.median(bulk_t)
    eng.settle()
    get_t, gbulk_t = [], []
    eng.gets(probe[: min(n, 100000)])  # warm up
    for _ in range(reps):
        dt, miss = timed(eng.gets, probe)
        assert miss == 0, "%s: %d keys missing" % (cls.name, miss)
        get_t.append(dt)
        if eng.gets_bulk:
            dt, miss = timed(eng.gets_bulk, probe)
            assert miss == 0
            gbulk_t.append(dt)
    res["get"] = n / statistics.median(get_t)
    if gbulk_t:
        res["get_bulk"] = n / statistics.median(gbulk_t)
    eng.close()
    return res


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=1000000)
    ap.add_argument("--reps", type=int, default=5, help="timed passes of random gets")
    ap.add_argument("--load-reps", type=int, default=3, help="timed loads (each into a new database)")
    ap.add_argument("--dir", default=None)
    ap.add_argument("--no-bulk", action="store_true")
    ap.add_argument("--cpu", action="store_true",
                    help="measure process CPU time instead of wall-clock time")
    args = ap.parse_args()
    global CPU
    CPU = args.cpu

    base = tempfile.mkdtemp(prefix="omendb-pybench-", dir=args.dir)
    try:
        keys, values, probe = make_data(args.n)
        engines = [OmenEngine]
        if lmdb:
            engines.append(LmdbEngine)
        else:
            print("python3-lmdb not installed: LMDB skipped", file=sys.stderr)
        if plyvel:
            engines.append(LevelEngine)
        else:
            print("python3-plyvel not installed: LevelDB skipped", file=sys.stderr)
        results = {}
        for cls in engines:
            results[cls.name] = run_engine(cls, base, keys, values, probe, args.reps,
                                           args.load_reps, not args.no_bulk)
            print("  %-8s done: %s" % (cls.name, ", ".join(
                "%s %.0f/s" % kv for kv in results[cls.name].items())), file=sys.stderr, flush=True)
    finally:
        shutil.rmtree(base, ignore_errors=True)

    print("Python %s, %d random keys (16 B) x 100 B values, ops per %s second, "
          "median of %d load reps / %d get reps"
          % (sys.version.split()[0], args.n, "CPU" if CPU else "wall-clock", args.load_reps,
             args.reps))
    cols = ["put", "put_bulk", "get", "get_bulk"]
    print("%-9s" % "engine" + "".join("%14s" % c for c in cols))
    for name, r in results.items():
        print("%-9s" % name + "".join(
            "%14s" % ("%.0f" % r[c] if c in r else "-") for c in cols))
    o = results["OmenDB"]
    for name, r in results.items():
        if name == "OmenDB":
            continue
        print("OmenDB / %-7s" % name + "  put %.2fx  get %.2fx" % (o["put"] / r["put"], o["get"] / r["get"])
              + ("  bulk put %.2fx" % (o["put_bulk"] / r["put_bulk"]) if "put_bulk" in r and "put_bulk" in o else ""))
    if "get_bulk" in o:
        print("OmenDB get_many vs its own get(): %.2fx" % (o["get_bulk"] / o["get"]))


if __name__ == "__main__":
    main()
