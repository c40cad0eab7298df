"""A disk that fails: omendb-server over the engine's fault-injecting file
env (build/tests/omendb-server-fault, OMEN_FAULT_SYNC_NTH).  Once an fsync
fails, no write may be acknowledged; reads go on; writes get -MISCONF."""
import os
import signal
import subprocess
import time

import pytest
import redis

from conftest import Raw, ServerProc

FAULT_BIN = os.environ.get("OMENDB_SERVER_FAULT") or os.path.join(
    os.path.dirname(__file__), "..", "..", "build", "tests", "omendb-server-fault")
FAULT_BIN = os.path.abspath(FAULT_BIN)

pytestmark = pytest.mark.skipif(not os.access(FAULT_BIN, os.X_OK), reason="fault build missing")


def test_failed_fsync_stops_acknowledgements(tmp_path, monkeypatch):
    import conftest
    monkeypatch.setattr(conftest, "BIN", FAULT_BIN)
    monkeypatch.setenv("OMEN_FAULT_SYNC_NTH", "40")
    s = ServerProc(tmp_path / "d", "--sync", "always").start()
    monkeypatch.delenv("OMEN_FAULT_SYNC_NTH")
    acked = []
    failed_at = None
    try:
        raw = Raw(s.port)
        for i in range(200):
            try:
                rep = raw.cmd("SET", f"k{i}", f"v{i}")
            except (ConnectionError, OSError):
                failed_at = i
                break
            if rep == ("status", "OK"):
                acked.append(i)
            else:
                assert rep[0] == "error" and rep[1].startswith("MISCONF")
                failed_at = i
                break
        assert failed_at is not None, "the injected fsync failure never surfaced"
        c = s.client()
        # Reads still work; writes are refused with MISCONF.
        assert c.get(f"k{acked[-1]}") == f"v{acked[-1]}"
        with pytest.raises(redis.ResponseError, match="MISCONF"):
            c.set("after", "x")
        assert c.info("persistence")["omendb_read_only"] == 1
        assert s.alive()
    finally:
        s.stop(signal.SIGKILL)
    monkeypatch.undo()  # the normal server binary again
    s2 = ServerProc(tmp_path / "d").start()
    try:
        c = s2.client()
        for i in acked:
            assert c.get(f"k{i}") == f"v{i}"
        assert c.get("after") is None
    finally:
        s2.stop()


def test_failed_log_write_everysec_pipelined(tmp_path, monkeypatch):
    """--sync everysec, several pipelining clients: the log write of a pass
    fails; no write of it or after it is acknowledged, every acknowledged
    one is there after a restart, and the server lives on."""
    import conftest
    monkeypatch.setattr(conftest, "BIN", FAULT_BIN)
    monkeypatch.setenv("OMEN_FAULT_WRITE_NTH", "30")
    s = ServerProc(tmp_path / "d", "--sync", "everysec").start()
    monkeypatch.delenv("OMEN_FAULT_WRITE_NTH")
    acked = []
    try:
        conns = [Raw(s.port) for _ in range(4)]
        stop = False
        for rnd in range(200):
            sent = {}
            for j, raw in enumerate(conns):  # all four in flight at once
                if raw is None:
                    continue
                keys = [f"k{rnd}_{j}_{m}" for m in range(8)]
                try:
                    raw.send(b"".join(b"*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$1\r\nv\r\n" % (len(k), k.encode())
                                      for k in keys))
                    sent[j] = keys
                except (ConnectionError, OSError):
                    conns[j] = None
                    stop = True
            for j, keys in sent.items():
                try:
                    for k in keys:
                        rep = conns[j].read()
                        if rep == ("status", "OK"):
                            acked.append(k)
                        else:
                            assert rep[0] == "error" and rep[1].startswith("MISCONF"), rep
                            stop = True
                except (ConnectionError, OSError):
                    conns[j] = None
                    stop = True
            if stop:
                break
        assert stop, "the injected write failure never surfaced"
        assert s.alive()
        c = s.client()
        with pytest.raises(redis.ResponseError, match="MISCONF"):
            c.set("after", "x")
    finally:
        s.stop(signal.SIGKILL)
    monkeypatch.undo()
    s2 = ServerProc(tmp_path / "d").start()
    try:
        c = s2.client()
        got = c.mget(acked) if acked else []
        missing = [k for k, v in zip(acked, got) if v != "v"]
        assert not missing, missing[:5]
        assert c.get("after") is None
    finally:
        s2.stop()
