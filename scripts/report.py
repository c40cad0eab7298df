#!/usr/bin/python3
"""Runs OmenDB's benchmarks at one scale, plots them and writes the report.

    scripts/report.py [--scale small|full] [--out build/report] [--no-run]
                      [--publish] [--build B]

Runs build/bench/index_bench and build/bench/kv_bench, and, when they exist,
build/bench/vec_bench, bench/server_bench and bench/cluster_bench, each with
--csv, into <out>/<bench>.csv (stderr into <out>/<bench>.log).  Then draws
PNG plots into <out>, and writes <out>/benchmarks.md: the machine, the commit,
the exact commands, tables, plots and what each means.  Sections appear only
for the CSVs that exist, so a report can be made from any subset.

--no-run     reuse the CSVs already in <out> (and its meta.json)
--publish    also copy the plots to docs/img/, the report to
             docs/benchmarks.md, and rewrite README.md's headline block
             (between <!-- headline:begin --> and <!-- headline:end -->)

Run with Debian's /usr/bin/python3 (matplotlib from python3-matplotlib).
"""
import argparse
import csv
import datetime
import json
import os
import platform
import re
import shlex
import shutil
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# ---- what each scale runs ------------------------------------------------------

SCALES = {
    "small": {
        "index": ["--n", "1M", "--reps", "3", "--chained"],
        "kv": ["--n", "200k", "--reps", "3", "--duration", "3", "--writes", "100k",
               "--txn-n", "20k", "--sync-n", "1000", "--workloads", "all"],
    },
    "full": {
        "index": ["--n", "10M", "--reps", "3", "--chained"],
        "kv": ["--n", "2M", "--reps", "3", "--workloads", "all"],
    },
}

# The peers' order and colours, the same in every plot.
KV_ENGINES = ["omendb", "rocksdb", "leveldb", "lmdb", "sqlite"]
COLORS = {"omendb": "#d62728", "rocksdb": "#1f77b4", "leveldb": "#2ca02c", "lmdb": "#9467bd",
          "sqlite": "#8c564b", "binary-search": "#7f7f7f", "absl-btree": "#1f77b4",
          "omendb-batch": "#ff9896", "omendb-chained": "#e377c2", "binary-chained": "#bcbd22",
          "hnswlib": "#1f77b4", "faiss": "#2ca02c", "redis": "#1f77b4"}
LAT_WORKLOADS = ["readrandom", "readwhilewriting_1r", "readwhilewriting_2r", "overwrite",
                 "fillsync_1w", "fillsync_4w", "fillsync_16w"]


def sh(cmd):
    try:
        return subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT).stdout.strip()
    except OSError:
        return ""


def machine():
    cpu, flags = "?", set()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name") and cpu == "?":
                    cpu = line.split(":", 1)[1].strip()
                if line.startswith("flags") and not flags:
                    flags = set(line.split(":", 1)[1].split())
    except OSError:
        pass
    mem = 0
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal"):
                    mem = int(line.split()[1]) * 1024
    except OSError:
        pass
    simd = [f for f in ("sse4_2", "avx", "avx2", "bmi2", "avx512f", "avx512bw", "avx512vl",
                        "avx512dq") if f in flags]
    dirty = sh(["git", "status", "--porcelain", "--untracked-files=no"])
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "simd": simd,
        "mem_gib": round(mem / 2**30, 1),
        "kernel": platform.release(),
        "os": sh(["sh", "-c", ". /etc/os-release && echo $PRETTY_NAME"]),
        "gcc": sh(["gcc", "-dumpfullversion"]),
        "commit": sh(["git", "rev-parse", "--short=12", "HEAD"]) + (" (with local changes)" if dirty else ""),
        "commit_subject": sh(["git", "log", "-1", "--format=%s"]),
    }


# ---- running -------------------------------------------------------------------

def help_text(cmd):
    try:
        p = subprocess.run(cmd + ["--help"], capture_output=True, text=True, timeout=30, cwd=ROOT)
        return p.stdout + p.stderr
    except (OSError, subprocess.TimeoutExpired):
        return ""


def external_args(name, cmd, scale):
    """Arguments for a bench this script does not know in detail: an explicit
    REPORT_<NAME>_ARGS wins; at SCALE=small a --quick option is used when the
    program offers one, else --runs 1."""
    env = os.environ.get("REPORT_%s_ARGS" % name.upper())
    if env is not None:
        return shlex.split(env)
    if scale != "small":
        return []
    h = help_text(cmd)
    if "--quick" in h:
        return ["--quick"]
    if "--runs" in h:
        return ["--runs", "1"]
    return []


def benches(build, scale):
    """(name, argv) of every bench that exists, in run order."""
    out = []
    kv_dir = os.path.join(build, "report-kvdb")
    out.append(("index", [os.path.join(build, "bench", "index_bench"), "--csv"] +
                SCALES[scale]["index"]))
    out.append(("kv", [os.path.join(build, "bench", "kv_bench"), "--csv", "--dir", kv_dir] +
                SCALES[scale]["kv"]))
    vec = os.path.join(build, "bench", "vec_bench")
    if os.path.exists(vec):
        out.append(("vec", [vec, "--csv"] + external_args("vec", [vec], scale)))
    for name, path in (("server", "bench/server_bench"), ("cluster", "bench/cluster_bench")):
        if os.path.exists(os.path.join(ROOT, path)):
            out.append((name, [path, "--csv"] + external_args(name, [path], scale)))
    return out


def run_all(out, build, scale):
    meta = {"scale": scale, "machine": machine(), "runs": [],
            "started": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "load_before": os.getloadavg()}
    for name, argv in benches(build, scale):
        if not os.path.exists(os.path.join(ROOT, argv[0])):
            print("report: %s missing (%s); skipped" % (name, argv[0]), flush=True)
            continue
        print("report: %s: %s" % (name, " ".join(argv)), flush=True)
        t0 = time.time()
        env = dict(os.environ)
        if os.path.exists(os.path.join(build, "omendb-server")):
            env.setdefault("OMENDB_SERVER", os.path.join(ROOT, build, "omendb-server"))
        with open(os.path.join(out, name + ".csv"), "w") as fo, \
             open(os.path.join(out, name + ".log"), "w") as fe:
            rc = subprocess.run(argv, stdout=fo, stderr=fe, cwd=ROOT, env=env).returncode
        secs = time.time() - t0
        print("report: %s done in %.0f s (exit %d)" % (name, secs, rc), flush=True)
        meta["runs"].append({"name": name, "argv": argv, "seconds": round(secs, 1), "rc": rc,
                             "load_after": os.getloadavg()})
    meta["finished"] = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    with open(os.path.join(out, "meta.json"), "w") as f:
        json.dump(meta, f, indent=1)
    return meta


# ---- reading -------------------------------------------------------------------

def read_csv(out, name):
    path = os.path.join(out, name + ".csv")
    if not os.path.exists(path):
        return None
    with open(path) as f:
        # Benchmarks may print notes as "# ..." lines among their CSV rows.
        rows = [r for r in csv.DictReader(line for line in f if not line.startswith("#")) if r]
    return rows or None


def num(x):
    try:
        return float(x)
    except (TypeError, ValueError):
        return None


def fmt_int(v):
    return "-" if v is None else "{:,.0f}".format(v)


def fmt_ratio(a, b):
    return "-" if not a or not b else "%.2fx" % (a / b)


def fmt_us(ns):
    v = num(ns)
    if v is None:
        return "-"
    us = v / 1e3
    return "%.2f" % us if us < 10 else "%.1f" % us if us < 1000 else "{:,.0f}".format(us)


# ---- plots ---------------------------------------------------------------------

def plt_mod():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def grouped_bars(plt, path, title, groups, series, value, ylabel, log=False, rotate=False):
    """One cluster of bars per group, one bar per series; value(g, s) or None."""
    fig, ax = plt.subplots(figsize=(min(13, max(7, 0.35 * len(groups) * max(1, len(series)))), 4.5))
    width = 0.8 / max(1, len(series))
    for i, s in enumerate(series):
        xs, ys = [], []
        for j, g in enumerate(groups):
            v = value(g, s)
            if v is not None:
                xs.append(j - 0.4 + width * (i + 0.5))
                ys.append(v)
        ax.bar(xs, ys, width, label=s, color=COLORS.get(s))
    ax.set_xticks(range(len(groups)))
    ax.set_xticklabels(groups, rotation=30 if rotate else 0, ha="right" if rotate else "center")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    if log:
        ax.set_yscale("log")
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_index(plt, out, rows):
    datasets = list(dict.fromkeys(r["dataset"] for r in rows))
    methods = [m for m in ("omendb", "omendb-batch", "binary-search", "absl-btree")
               if any(r["method"] == m for r in rows)]
    v = {(r["dataset"], r["method"]): num(r["ns_per_lookup"]) for r in rows}
    grouped_bars(plt, os.path.join(out, "index_ns.png"),
                 "Learned index: ns per lookup (lower is better), n=%s" % rows[0]["n"],
                 datasets, methods, lambda g, s: v.get((g, s)), "ns per lookup", log=True)
    return ["index_ns.png"]


def plot_kv(plt, out, rows):
    eng = [e for e in KV_ENGINES if any(r["engine"] == e for r in rows)]
    wls = [w for w in dict.fromkeys(r["workload"] for r in rows) if not w.startswith("compress_")]
    v = {(r["workload"], r["engine"]): num(r["ops_per_sec"]) for r in rows}
    grouped_bars(plt, os.path.join(out, "kv_ops.png"),
                 "Key-value workloads: operations per second (higher is better), n=%s" % rows[0]["n"],
                 wls, eng, lambda g, s: v.get((g, s)), "ops/s (log scale)", log=True, rotate=True)
    files = ["kv_ops.png"]
    lat = [w for w in LAT_WORKLOADS if any(r["workload"] == w and num(r.get("p50_ns")) for r in rows)]
    if lat:
        cols = min(4, len(lat))
        nrow = (len(lat) + cols - 1) // cols
        fig, axes = plt.subplots(nrow, cols, figsize=(3.6 * cols, 3.3 * nrow), squeeze=False)
        by = {(r["workload"], r["engine"]): r for r in rows}
        qs = [("p50_ns", "p50"), ("p99_ns", "p99"), ("p999_ns", "p99.9"), ("max_ns", "max")]
        for k, w in enumerate(lat):
            ax = axes[k // cols][k % cols]
            present = [e for e in eng if num(by.get((w, e), {}).get("p50_ns"))]
            width = 0.8 / len(qs)
            for i, (q, label) in enumerate(qs):
                ys = [num(by[(w, e)][q]) / 1e3 for e in present]
                ax.bar([j - 0.4 + width * (i + 0.5) for j in range(len(present))], ys, width,
                       label=label, color=plt.cm.viridis(i / (len(qs) - 1)))
            ax.set_xticks(range(len(present)))
            ax.set_xticklabels(present, rotation=30, ha="right", fontsize=8)
            ax.set_yscale("log")
            ax.set_title(w, fontsize=9)
            ax.grid(axis="y", alpha=0.3)
            if k % cols == 0:
                ax.set_ylabel("latency, us (log)")
        for k in range(len(lat), nrow * cols):
            axes[k // cols][k % cols].axis("off")
        axes[0][0].legend(fontsize=7)
        fig.suptitle("Per-operation latency (lower is better)")
        fig.tight_layout()
        fig.savefig(os.path.join(out, "kv_latency.png"), dpi=110)
        plt.close(fig)
        files.append("kv_latency.png")
    return files


def plot_vec(plt, out, rows):
    metrics = list(dict.fromkeys(r["metric"] for r in rows))
    fig, axes = plt.subplots(1, len(metrics), figsize=(5.5 * len(metrics), 4.2), squeeze=False)
    for ax, m in zip(axes[0], metrics):
        for e in dict.fromkeys(r["engine"] for r in rows):
            pts = sorted((num(r["recall_at_10"]), num(r["qps"])) for r in rows
                         if r["engine"] == e and r["metric"] == m and r["threads"] == "1"
                         and num(r["recall_at_10"]) is not None and num(r["qps"]))
            if pts:
                ax.plot([p[0] for p in pts], [p[1] for p in pts], "o-", label=e, color=COLORS.get(e))
        ax.set_xlabel("recall@10")
        ax.set_ylabel("queries/s, 1 thread (log)")
        ax.set_yscale("log")
        ax.set_title("%s: recall vs QPS (up and right is better)" % m, fontsize=10)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(os.path.join(out, "vec_recall_qps.png"), dpi=110)
    plt.close(fig)
    return ["vec_recall_qps.png"]


def server_label(r):
    return "%s %s P%s c%s" % (r["test"], r["mode"], r["pipeline"], r["clients"])


def plot_server(plt, out, rows):
    groups = list(dict.fromkeys("%s P%s c%s" % (r["test"], r["pipeline"], r["clients"]) for r in rows))
    series = list(dict.fromkeys("%s %s" % (r["server"], r["mode"]) for r in rows))
    v = {("%s P%s c%s" % (r["test"], r["pipeline"], r["clients"]), "%s %s" % (r["server"], r["mode"])):
         num(r["ops_per_sec"]) for r in rows}
    grouped_bars(plt, os.path.join(out, "server_ops.png"),
                 "Server throughput, redis-benchmark (higher is better)", groups, series,
                 lambda g, s: v.get((g, s)), "ops/s (log scale)", log=True, rotate=True)
    return ["server_ops.png"]


def plot_cluster(plt, out, rows):
    setups = list(dict.fromkeys(r["setup"] for r in rows))
    tests = list(dict.fromkeys(r["test"] for r in rows))
    v = {(r["setup"], r["test"]): num(r["ops_per_sec"]) for r in rows}
    grouped_bars(plt, os.path.join(out, "cluster_ops.png"),
                 "One server directly and through the proxy (higher is better)", setups, tests,
                 lambda g, s: v.get((g, s)), "ops/s")
    return ["cluster_ops.png"]


# ---- the report ----------------------------------------------------------------

def md_table(header, rows):
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return "\n".join(lines)


def command_of(meta, name):
    for r in meta.get("runs", []):
        if r["name"] == name:
            return " ".join(shlex.quote(a) for a in r["argv"])
    return None


def run_of(meta, name):
    for r in meta.get("runs", []):
        if r["name"] == name:
            return r
    return None


def kv_versions(out):
    try:
        with open(os.path.join(out, "kv.log")) as f:
            for line in f:
                m = re.match(r"kv_bench\s+\S+ \S+ UTC\s+\((.*)\)", line)
                if m:
                    return m.group(1)
    except OSError:
        pass
    return None


def section_index(rows, img, meta):
    n = rows[0]["n"]
    v = {(r["dataset"], r["method"]): num(r["ns_per_lookup"]) for r in rows}
    meta_rows = {(r["dataset"], r["method"]): r for r in rows}
    datasets = list(dict.fromkeys(r["dataset"] for r in rows))
    has = lambda m: any(r["method"] == m for r in rows)
    header = ["dataset", "omendb ns"]
    if has("omendb-batch"):
        header.append("omendb batch ns")
    header += ["binary search ns", "B-tree ns", "binary / omendb", "B-tree / omendb"]
    if has("omendb-chained"):
        header += ["omendb chained ns", "binary chained ns"]
    header += ["index bytes", "build ms"]
    body = []
    for d in datasets:
        o = v.get((d, "omendb"))
        row = [d, "%.1f" % o if o else "-"]
        if has("omendb-batch"):
            b = v.get((d, "omendb-batch"))
            row.append("%.1f" % b if b else "-")
        bs, bt = v.get((d, "binary-search")), v.get((d, "absl-btree"))
        row += ["%.1f" % bs if bs else "-", "%.1f" % bt if bt else "-", fmt_ratio(bs, o),
                fmt_ratio(bt, o)]
        if has("omendb-chained"):
            oc, bc = v.get((d, "omendb-chained")), v.get((d, "binary-chained"))
            row += ["%.1f" % oc if oc else "-", "%.1f" % bc if bc else "-"]
        om = meta_rows.get((d, "omendb"), {})
        row += [fmt_int(num(om.get("index_bytes"))), om.get("build_ms", "-")]
        body.append(row)
    s = ["## The learned index (index_bench)", "",
         "`%s`" % (command_of(meta, "index") or "build/bench/index_bench --csv"), "",
         "%s keys per dataset; every method looks up the same random sequence of existing keys; "
         "the figure is the median of the repetitions. `omendb` is one `lidx_lower_bound` per key, "
         "`omendb-batch` the batched lookup over the whole sequence, `binary-search` a branchless "
         "binary search over the whole sorted array, `B-tree` abseil's `btree_multiset`. "
         "The *chained* columns make each query depend on the previous answer, so lookups cannot "
         "overlap: they measure a lookup's latency, the plain columns the throughput of "
         "independent lookups. `index bytes` is the learned model's size (the B-tree's is its "
         "whole structure)." % fmt_int(num(n)), "",
         md_table(header, body), "",
         "![ns per lookup by dataset](%sindex_ns.png)" % img, "",
         "What it means: below 1.00x in the ratio columns the learned index is slower than the "
         "plain binary search on that dataset. The figures are from memory-resident arrays, so "
         "they show the index's CPU and cache cost, not a disk's. String datasets (`user`, "
         "`rand16`) have no batch path.", ""]
    return "\n".join(s)


def kv_lookup(rows):
    return {(r["workload"], r["engine"]): r for r in rows}


ENGINE_NAMES = {"omendb": "OmenDB", "rocksdb": "RocksDB", "leveldb": "LevelDB", "lmdb": "LMDB",
                "sqlite": "SQLite"}


def kv_notes(out):
    """The run's notes from kv.log: {(engine, result): text} (last one wins)."""
    notes = {}
    try:
        with open(os.path.join(out, "kv.log")) as f:
            for line in f:
                m = re.match(r"note: (\S+) (\S+): (.*)", line.rstrip("\n"))
                if m:
                    notes[(m.group(1), m.group(2))] = m.group(3)
    except OSError:
        pass
    return notes


def argv_value(meta, name, opt):
    r = run_of(meta, name)
    if r and opt in r["argv"]:
        i = r["argv"].index(opt)
        if i + 1 < len(r["argv"]):
            return r["argv"][i + 1]
    return None


def section_kv(rows, img, meta, out):
    by = kv_lookup(rows)
    n = rows[0]["n"]
    eng = [e for e in KV_ENGINES if any(r["engine"] == e for r in rows)]
    wls = [w for w in dict.fromkeys(r["workload"] for r in rows) if not w.startswith("compress_")]
    header = ["workload"] + ["%s ops/s" % e for e in eng] + ["omendb / %s" % e for e in eng if e != "omendb"]
    body = []
    for w in wls:
        vals = {e: num(by.get((w, e), {}).get("ops_per_sec")) for e in eng}
        err = {e: by.get((w, e), {}).get("ops_per_sec") == "error" for e in eng}
        row = [w] + ["error" if err[e] else fmt_int(vals[e]) for e in eng]
        row += [fmt_ratio(vals.get("omendb"), vals[e]) for e in eng if e != "omendb"]
        body.append(row)
    vers = kv_versions(out)
    s = ["## Key-value engine (kv_bench)", "",
         "`%s`" % (command_of(meta, "kv") or "build/bench/kv_bench --csv"), "",
         "%s keys (16-byte decimal strings) with 100-byte values (half compressible), the same "
         "key sequences for every engine, in one process; engines take turns within each "
         "repetition and the median of the repetitions is shown. No-sync workloads log every "
         "write without an fsync (every engine); `fillsync_*` writes %s keys, each write "
         "fsync'd, with 1, 4 and 16 concurrent writers. The method, each workload and every "
         "engine's configuration are in [bench-kv.md](bench-kv.md)." % (
             fmt_int(num(n)), argv_value(meta, "kv", "--sync-n") or "10000"), ""]
    if vers:
        s += ["Versions: %s." % vers, ""]
    s += [md_table(header, body), "",
          "![ops/s per workload](%skv_ops.png)" % img, "",
          "What it means: each ratio column is OmenDB's rate over that engine's in the same run "
          "(above 1.00x OmenDB did more operations per second). All databases fit in RAM, so "
          "this compares the engines' CPU paths and their write-ahead logs, not disks; the "
          "fsync'd workloads are the exception and depend on this machine's virtual disk.", ""]
    notes = kv_notes(out)
    nl = [(e, w, notes[(e, w)]) for w in wls for e in eng if (e, w) in notes]
    if nl:
        s += ["Notes the run printed (readwhilewriting's writer must reach its target rate for "
              "the readers' figure to mean reading beside a writer):", ""]
        s += ["- %s %s: %s" % (w, e, t) for e, w, t in nl]
        s += [""]
    lat = [w for w in LAT_WORKLOADS if any(num(by.get((w, e), {}).get("p50_ns")) for e in eng)]
    if lat:
        lh = ["workload", "engine", "p50 us", "p99 us", "p99.9 us", "max us"]
        lb = []
        for w in lat:
            for e in eng:
                r = by.get((w, e))
                if r and num(r.get("p50_ns")):
                    lb.append([w, e, fmt_us(r["p50_ns"]), fmt_us(r["p99_ns"]),
                               fmt_us(r["p999_ns"]), fmt_us(r["max_ns"])])
        s += ["### Latency per operation", "",
              "Every operation of these workloads is timed (one clock read per operation: the "
              "interval from the end of the thread's previous operation to the end of this one) "
              "into a log-bucket histogram (32 buckets per power of two, so a percentile is "
              "overstated by at most 3.1%), pooled over threads and repetitions. For "
              "readwhilewriting it is the readers' gets, for fillsync each writer's fsync'd put.",
              "", md_table(lh, lb), "",
              "![latency percentiles per workload](%skv_latency.png)" % img, "",
              "What it means: p50 is the typical operation, p99 and p99.9 the slow tail that "
              "throughput hides (flushes, compactions, lock waits, group-commit queues); max is "
              "a single worst operation and on a shared machine often a scheduling delay rather "
              "than the engine. Timing costs one clock read (about 17 ns here) per operation, "
              "which lowers the ops/s of the same workloads by a few percent for every engine.",
              ""]
    comp = [r for r in rows if r["workload"].startswith("compress_fill_")]
    if comp:
        ch = ["engine", "codec", "fill ops/s", "read ops/s", "MiB on disk", "size vs none"]
        cb = []
        for e in eng:
            none = num(by.get(("compress_fill_none", e), {}).get("db_bytes"))
            for c in ("none", "lz4", "zstd", "snappy"):
                f = by.get(("compress_fill_" + c, e))
                if not f:
                    continue
                rd = by.get(("compress_read_" + c, e), {})
                b = num(f.get("db_bytes"))
                cb.append([e, c, fmt_int(num(f["ops_per_sec"])), fmt_int(num(rd.get("ops_per_sec"))),
                           "%.1f" % (b / 2**20) if b else "-", fmt_ratio(b, none) if b and none else "-"])
        missing = [e for e in ("omendb",) if e in eng and not by.get(("compress_fill_snappy", e))]
        s += ["### Compression", "",
              "Per codec, a fresh database is filled in random order (timed), flushed and fully "
              "compacted (untimed), measured on disk (every file in its directory, so OmenDB's "
              "preallocated 1 MiB WAL is counted), then read at random (timed). LevelDB's C API "
              "offers Snappy only; LMDB and SQLite do not compress blocks.", "",
              md_table(ch, cb), ""]
        if missing:
            s += ["OmenDB has no Snappy row: the engine this report was built from rejects it "
                  "(`kv.log` says why).", ""]
    return "\n".join(s)


def section_vec(rows, img, meta):
    # The recall levels the project's targets name (issue text: 2x hnswlib's
    # QPS at recall >= 0.95, 1.5x at >= 0.99).
    levels = (0.95, 0.99)
    header = ["engine", "metric", "build s", "bytes/vector", "best recall@10"]
    for th in levels:
        header += ["QPS at recall >= %.2f" % th, "vs hnswlib"]
    body = []
    def best_qps(e, m, th):
        q = [num(r["qps"]) for r in rows if r["engine"] == e and r["metric"] == m and
             r["threads"] == "1" and (num(r["recall_at_10"]) or 0) >= th and num(r["qps"])]
        return max(q) if q else None
    for e in dict.fromkeys(r["engine"] for r in rows):
        for m in dict.fromkeys(r["metric"] for r in rows):
            rs = [r for r in rows if r["engine"] == e and r["metric"] == m and r["threads"] == "1"]
            if not rs:
                continue
            line = [e, m, rs[0]["build_s"], rs[0]["bytes_per_vector"],
                    "%.4f" % max(num(r["recall_at_10"]) or 0 for r in rs)]
            for th in levels:
                q = best_qps(e, m, th)
                line += [fmt_int(q), fmt_ratio(q, best_qps("hnswlib", m, th))]
            body.append(line)
    multi = [r for r in rows if r["threads"] != "1"]
    s = ["## Vector search (vec_bench)", "",
         "`%s`" % (command_of(meta, "vec") or "build/bench/vec_bench --csv"), "",
         "Each engine builds its index over the same vectors with the same graph parameters and "
         "answers the same queries one at a time (1 thread) while `ef` is swept; recall@10 is "
         "measured against exact brute-force neighbours.", "",
         md_table(header, body), "",
         "![recall vs QPS](%svec_recall_qps.png)" % img, "",
         "What it means: a curve further up and to the right answers more queries per second "
         "at the same recall. Compare engines at equal recall, never at equal `ef`.", ""]
    if multi:
        s += ["All-cores batch rows: " + "; ".join(
            "%s %s %s threads ef %s: recall %s, %s QPS" % (r["engine"], r["metric"], r["threads"],
                                                         r["ef"], r["recall_at_10"], fmt_int(num(r["qps"])))
            for r in multi) + ".", ""]
    return "\n".join(s)


def section_server(rows, img, meta):
    header = ["test", "pipeline", "clients"] + list(dict.fromkeys("%s %s" % (r["server"], r["mode"]) for r in rows))
    keys = list(dict.fromkeys((r["test"], r["pipeline"], r["clients"]) for r in rows))
    v = {(r["test"], r["pipeline"], r["clients"], "%s %s" % (r["server"], r["mode"])): num(r["ops_per_sec"]) for r in rows}
    body = [[t, p, c] + [fmt_int(v.get((t, p, c, h))) for h in header[3:]] for (t, p, c) in keys]
    # OmenDB over Redis in the pairings the targets name: everysec against
    # in-memory Redis, --sync always against appendfsync always.
    header.append("omendb / redis")
    for line, (t, p, c) in zip(body, keys):
        pairs = [("omendb everysec", "redis memory"), ("omendb always", "redis always")]
        r = [fmt_ratio(v.get((t, p, c, a)), v.get((t, p, c, b))) + " (%s)" % a.split()[1]
             for a, b in pairs if v.get((t, p, c, a)) and v.get((t, p, c, b))]
        line.append(", ".join(r) if r else "-")
    s = ["## Server (server_bench)", "",
         "`%s`" % (command_of(meta, "server") or "bench/server_bench --csv"), "",
         "`redis-benchmark` against omendb-server and Debian's redis-server on loopback, in the "
         "same run; Redis `memory` keeps data in RAM only, Redis `always` fsyncs its append-only "
         "file per write, OmenDB's mode is its `--sync` setting.  Each case first runs once, "
         "untimed, on each server (warm-up), and FLUSHALL precedes every run.", "",
         md_table(header, body), "",
         "![server throughput](%sserver_ops.png)" % img, "",
         "What it means: the client, the server and the kernel's loopback share the same two "
         "cores, so these are the throughput of the whole loop on this machine, not a server's "
         "limit; pipelined (P16) rows show the server's own cost best.", ""]
    always = v.get(("set", "1", "50", "redis always"))
    memory = v.get(("set", "1", "50", "redis memory"))
    everysec = v.get(("set", "1", "50", "omendb everysec"))
    if always and memory and everysec:
        # The durable target (3x appendfsync always at -c 50) against what
        # the client drove without any sync at all in the same run.
        s += ["Client ceiling: 3x Redis `always` at `-c 50` would be %s SET/s.  Without waiting "
              "for any sync, in-memory Redis ran SET `-P 1 -c 50` at %s/s and OmenDB `everysec` at "
              "%s/s in the same run (%.2fx and %.2fx Redis `always`): that is where "
              "redis-benchmark, sharing the two cores, tops out, so no durable server reaches "
              "3x here." % (fmt_int(3 * always), fmt_int(memory), fmt_int(everysec),
                            memory / always, everysec / always), ""]
    return "\n".join(s)


def section_cluster(rows, img, meta):
    tests = list(dict.fromkeys(r["test"] for r in rows))
    v = {(r["setup"], r["test"]): num(r["ops_per_sec"]) for r in rows}
    setups = list(dict.fromkeys(r["setup"] for r in rows))
    body = []
    for st in setups:
        row = [st] + [fmt_int(v.get((st, t))) for t in tests]
        if "direct" in setups:
            row += [fmt_ratio(v.get((st, t)), v.get(("direct", t))) for t in tests]
        body.append(row)
    header = ["setup"] + ["%s ops/s" % t for t in tests]
    if "direct" in setups:
        header += ["%s vs direct" % t for t in tests]
    s = ["## Scale-out (cluster_bench)", "",
         "`%s`" % (command_of(meta, "cluster") or "bench/cluster_bench --csv"), "",
         "One omendb-server directly, and through twemproxy in front of 1 and 2 shards, all on "
         "this one machine.", "",
         md_table(header, body), "",
         "![proxy cost](%scluster_ops.png)" % img, "",
         "What it means: the proxy row against `direct` is the proxy's cost. Shards, proxy and "
         "client share two cores here, so the 2-shard row cannot show how a multi-machine "
         "cluster scales.", ""]
    return "\n".join(s)


def headline(out, meta, link):
    """A few lines for README.md, from the same CSVs."""
    lines = []
    idx = read_csv(out, "index")
    if idx:
        v = {(r["dataset"], r["method"]): num(r["ns_per_lookup"]) for r in idx}
        d = "lognormal" if ("lognormal", "omendb") in v else idx[0]["dataset"]
        o, b, t = v.get((d, "omendb")), v.get((d, "binary-search")), v.get((d, "absl-btree"))
        if o:
            lines.append("| lookup in the learned index, %s %s keys | %.0f ns | binary search %s ns (%s), B-tree %s ns (%s) |" % (
                fmt_int(num(idx[0]["n"])), d, o, "%.0f" % b if b else "-", fmt_ratio(b, o),
                "%.0f" % t if t else "-", fmt_ratio(t, o)))
    kv = read_csv(out, "kv")
    if kv:
        by = kv_lookup(kv)
        for w, what in (("fillrandom", "random-order writes"), ("readrandom", "random reads"),
                        ("fillsync_16w", "fsync'd writes, 16 writers")):
            o = num(by.get((w, "omendb"), {}).get("ops_per_sec"))
            if not o:
                continue
            peers = ", ".join("%s %s" % (ENGINE_NAMES[e], fmt_ratio(o, num(by.get((w, e), {}).get("ops_per_sec"))))
                              for e in ("rocksdb", "leveldb", "lmdb", "sqlite")
                              if num(by.get((w, e), {}).get("ops_per_sec")))
            count = (argv_value(meta, "kv", "--sync-n") or "10000") + " puts" if w.startswith("fillsync") \
                else fmt_int(num(kv[0]["n"])) + " keys"
            lines.append("| %s (`%s`), %s | %s ops/s | OmenDB's rate over %s |" % (
                what, w, count, fmt_int(o), peers))
        r = by.get(("readrandom", "omendb"), {})
        if num(r.get("p99_ns")):
            lines.append("| random read latency | p50 %s us, p99 %s us | |" % (fmt_us(r["p50_ns"]), fmt_us(r["p99_ns"])))
    vec = read_csv(out, "vec")
    if vec:
        for m in dict.fromkeys(r["metric"] for r in vec):
            def best(e):
                q = [num(r["qps"]) for r in vec if r["engine"] == e and r["metric"] == m
                     and r["threads"] == "1" and (num(r["recall_at_10"]) or 0) >= 0.95 and num(r["qps"])]
                return max(q) if q else None
            o = best("omendb")
            others = ", ".join("%s %s" % (e, fmt_int(best(e))) for e in dict.fromkeys(r["engine"] for r in vec)
                               if e != "omendb" and best(e))
            if o:
                lines.append("| vector search (%s), QPS at recall@10 >= 0.95 | %s | %s |" % (m, fmt_int(o), others))
    srv = read_csv(out, "server")
    if srv:
        p16 = [r for r in srv if r["pipeline"] == "16"]
        for t in ("set", "get"):
            om = [num(r["ops_per_sec"]) for r in p16 if r["server"] == "omendb" and r["test"] == t]
            rd = [(r["mode"], num(r["ops_per_sec"])) for r in p16 if r["server"] == "redis" and r["test"] == t]
            if om:
                lines.append("| server %s, pipeline 16 | %s ops/s | %s |" % (
                    t.upper(), fmt_int(max(om)), ", ".join("Redis %s %s" % (m, fmt_int(x)) for m, x in rd)))
    if not lines:
        return None
    m = meta.get("machine", {})
    head = ["| measure | OmenDB | beside |", "|---|---|---|"]
    foot = ["", "SCALE=%s on %s (%s cores), commit `%s`, %s; shared machine, ratios are from the same run. "
            "Everything, with the method and caveats: [%s](%s)." % (
                meta.get("scale", "?"), m.get("cpu", "?"), m.get("cores", "?"),
                m.get("commit", "?").split()[0], meta.get("finished", "?"), link, link)]
    return "\n".join(head + lines + foot)


def write_report(out, meta, img):
    m = meta.get("machine", {})
    total = sum(r["seconds"] for r in meta.get("runs", []))
    s = ["# OmenDB benchmarks", "",
         "<!-- Generated by scripts/report.py (make report); edit the script, not this file. -->", "",
         "This report is generated from one run of `make report SCALE=%s` (%s to %s, %.0f s of "
         "benchmarks). Rerun it on your machine with `make report` (SCALE=small, a few minutes) "
         "or `make report SCALE=full` (the README's headline scale); the results, plots and this "
         "file are written to `build/report/`." % (meta.get("scale", "?"), meta.get("started", "?"),
                                                 meta.get("finished", "?"), total), "",
         "## Machine and build", "",
         md_table(["", ""], [
             ["CPU", "%s, %s cores" % (m.get("cpu", "?"), m.get("cores", "?"))],
             ["SIMD flags", ", ".join(m.get("simd", [])) or "-"],
             ["memory", "%s GiB" % m.get("mem_gib", "?")],
             ["kernel / OS", "%s / %s" % (m.get("kernel", "?"), m.get("os", "?"))],
             ["compiler", "gcc %s, -O2" % m.get("gcc", "?")],
             ["commit", "`%s` %s" % (m.get("commit", "?"), m.get("commit_subject", ""))],
             ["load average", "%s before; after each bench: %s" % (
                 " ".join("%.2f" % x for x in meta.get("load_before", [])),
                 "; ".join("%s %.2f" % (r["name"], r["load_after"][0]) for r in meta.get("runs", [])))],
         ]), "",
         "## Caveats", "",
         "- The machine is a shared virtual machine with two cores: other work ran beside these "
         "benchmarks (see the load average). Absolute figures move from run to run by tens of "
         "percent; ratios between engines measured in the same run, with engines taking turns "
         "inside every repetition, are the figures to trust.",
         "- Every database here fits in memory. The figures compare CPU paths, caches and logs, "
         "not disks, except the fsync'd workloads, which measure this machine's virtual disk.",
         "- SIMD kernels are picked at run time from the flags above: the learned index's "
         "search takes AVX2 where the CPU has it, even beside AVX-512 (its 512-bit counts "
         "measured slower; see src/index/lsearch.c); the vector distances take AVX-512 "
         "(with VNNI when present), then AVX2, then scalar.",
         "- At SCALE=small the data sets are small (the index's arrays and the key-value "
         "databases fit in the CPU caches far more than at SCALE=full), so per-operation costs "
         "are lower than at full scale and ratios can differ.", "",
         "## Commands", "", "```"]
    for r in meta.get("runs", []):
        s.append(" ".join(shlex.quote(a) for a in r["argv"]) +
                 "    # %.0f s%s" % (r["seconds"], "" if r["rc"] == 0 else ", exit %d" % r["rc"]))
    s += ["```", ""]
    failed = [r["name"] for r in meta.get("runs", []) if r["rc"] != 0]
    if failed:
        s += ["Benchmarks that exited with an error (their logs are in `build/report/`): %s. "
              "Their rows may be missing or marked `error`." % ", ".join(failed), ""]
    sections = [("index", section_index), ("kv", None), ("vec", section_vec),
                ("server", section_server), ("cluster", section_cluster)]
    for name, fn in sections:
        rows = read_csv(out, name)
        if not rows:
            continue
        s.append(section_kv(rows, img, meta, out) if name == "kv" else fn(rows, img, meta))
    return "\n".join(s).rstrip() + "\n"


def plots(out):
    plt = plt_mod()
    made = []
    for name, fn in (("index", plot_index), ("kv", plot_kv), ("vec", plot_vec),
                     ("server", plot_server), ("cluster", plot_cluster)):
        rows = read_csv(out, name)
        if rows:
            try:
                made += fn(plt, out, rows)
            except (KeyError, ValueError, TypeError) as e:
                print("report: cannot plot %s.csv: %r" % (name, e), file=sys.stderr)
    return made


def replace_block(path, block):
    with open(path) as f:
        text = f.read()
    b, e = "<!-- headline:begin -->", "<!-- headline:end -->"
    if b not in text or e not in text:
        print("report: %s has no headline markers; not changed" % path, file=sys.stderr)
        return
    head, rest = text.split(b, 1)
    _, tail = rest.split(e, 1)
    with open(path, "w") as f:
        f.write(head + b + "\n" + block + "\n" + e + tail)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--scale", choices=sorted(SCALES), default="small")
    ap.add_argument("--out", default="build/report")
    ap.add_argument("--build", default="build")
    ap.add_argument("--no-run", action="store_true")
    ap.add_argument("--publish", action="store_true")
    ap.add_argument("--docs", default=os.path.join(ROOT, "docs"))
    ap.add_argument("--readme", default=os.path.join(ROOT, "README.md"))
    a = ap.parse_args()
    out = os.path.join(ROOT, a.out) if not os.path.isabs(a.out) else a.out
    os.makedirs(out, exist_ok=True)
    if a.no_run:
        try:
            with open(os.path.join(out, "meta.json")) as f:
                meta = json.load(f)
        except OSError:
            meta = {"scale": a.scale, "machine": machine(), "runs": []}
    else:
        meta = run_all(out, a.build, a.scale)
    made = plots(out)
    with open(os.path.join(out, "benchmarks.md"), "w") as f:
        f.write(write_report(out, meta, ""))
    hl = headline(out, meta, "docs/benchmarks.md")
    if hl:
        with open(os.path.join(out, "headline.md"), "w") as f:
            f.write(hl + "\n")
    print("report: %s, plots: %s" % (os.path.join(out, "benchmarks.md"), ", ".join(made) or "none"))
    if a.publish:
        img = os.path.join(a.docs, "img")
        os.makedirs(img, exist_ok=True)
        for p in made:
            shutil.copy(os.path.join(out, p), os.path.join(img, p))
        with open(os.path.join(a.docs, "benchmarks.md"), "w") as f:
            f.write(write_report(out, meta, "img/"))
        if hl:
            replace_block(a.readme, hl)
        print("report: published %s, %s/, and the headline block of %s" % (
            os.path.join(a.docs, "benchmarks.md"), img, a.readme))
    failed = [r["name"] for r in meta.get("runs", []) if r["rc"] != 0]
    return 1 if failed and not a.no_run else 0


if __name__ == "__main__":
    sys.exit(main())
