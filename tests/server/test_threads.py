"""The engine's background threads run at a lower priority than the event
loop (background-nice, default 10); the loop thread and the commit thread
keep the server's.  With --sync everysec the pass commits run on the
commit thread; with commit-thread no there is none."""
import os

from conftest import ServerProc


def thread_nices(pid, skip_commit=True):
    out = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        with open(f"/proc/{pid}/task/{tid}/comm") as f:
            comm = f.read().strip()
        with open(f"/proc/{pid}/task/{tid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        if comm == "omen-commit" and skip_commit:
            out["commit"] = int(fields[16])
            continue
        out[int(tid)] = int(fields[16])  # field 19 (nice), counted after "comm)"
    return out


def test_background_threads_niced(tmp_path):
    s = ServerProc(tmp_path / "d").start()
    try:
        n = thread_nices(s.proc.pid)
        base = os.getpriority(os.PRIO_PROCESS, 0)
        assert n.pop(s.proc.pid) == base
        assert n.pop("commit") == base
        assert len(n) >= 2  # flush and compaction
        assert all(v == min(base + 10, 19) for v in n.values()), n
        assert s.client().config_get("background-nice") == {"background-nice": "10"}
    finally:
        s.stop()


def test_background_nice_zero_leaves_them(tmp_path):
    s = ServerProc(tmp_path / "d", "--background-nice", "0").start()
    try:
        base = os.getpriority(os.PRIO_PROCESS, 0)
        assert set(thread_nices(s.proc.pid).values()) == {base}
    finally:
        s.stop()


def test_commit_thread_off(tmp_path):
    s = ServerProc(tmp_path / "d", "--commit-thread", "no").start()
    try:
        assert "commit" not in thread_nices(s.proc.pid)
        c = s.client()
        p = c.pipeline(transaction=False)
        for i in range(1000):
            p.set(f"k{i}", i)
            p.get(f"k{i}")
        out = p.execute()
        assert out[1::2] == [str(i) for i in range(1000)]
        assert c.dbsize() == 1000
    finally:
        s.stop()
