"""background-nice lowers the engine's background threads below the event
loop (default 0: the same priority); the loop thread keeps the server's."""
import os

from conftest import ServerProc


def thread_nices(pid):
    out = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        with open(f"/proc/{pid}/task/{tid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        out[int(tid)] = int(fields[16])  # field 19 (nice), counted after "comm)"
    return out


def test_background_threads_niced(tmp_path):
    s = ServerProc(tmp_path / "d", "--background-nice", "10").start()
    try:
        n = thread_nices(s.proc.pid)
        base = os.getpriority(os.PRIO_PROCESS, 0)
        assert n.pop(s.proc.pid) == base
        assert len(n) >= 2  # flush and compaction
        assert all(v == min(base + 10, 19) for v in n.values()), n
        assert s.client().config_get("background-nice") == {"background-nice": "10"}
    finally:
        s.stop()


def test_background_nice_default_leaves_them(tmp_path):
    s = ServerProc(tmp_path / "d").start()
    try:
        base = os.getpriority(os.PRIO_PROCESS, 0)
        assert set(thread_nices(s.proc.pid).values()) == {base}
        assert s.client().config_get("background-nice") == {"background-nice": "0"}
    finally:
        s.stop()
