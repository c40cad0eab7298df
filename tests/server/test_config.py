"""Settings: defaults, config file, runtime changes, timed sync."""
import socket
import time

import pytest
import redis

from conftest import BIN, Raw, ServerProc, free_port


def test_defaults_loopback_protected(tmp_path):
    port = free_port()
    s = ServerProc(tmp_path / "d", port=port)
    # No --bind: the server must choose loopback itself.
    import subprocess
    s.log = open(tmp_path / "log", "ab")
    s.proc = subprocess.Popen([BIN, "--port", str(port), "--dir", str(tmp_path / "d")],
                              stdout=s.log, stderr=s.log)
    try:
        deadline = time.time() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                assert time.time() < deadline
                time.sleep(0.05)
        c = s.client()
        assert c.config_get("bind")["bind"] in ("127.0.0.1 ::1", "127.0.0.1")
        assert c.config_get("protected-mode")["protected-mode"] == "yes"
        assert c.config_get("sync")["sync"] == "everysec"
        try:
            v6 = socket.create_connection(("::1", port), timeout=2)
        except OSError:
            pytest.skip("no IPv6 loopback here")
        v6.sendall(b"PING\r\n")
        assert v6.recv(100) == b"+PONG\r\n"
        v6.close()
    finally:
        s.stop()


def test_config_file_and_flag_override(tmp_path):
    conf = tmp_path / "omendb.conf"
    conf.write_text("# comment\nsync always\nmaxclients 77\ntimeout 0\nrequirepass \"pw\"\nsave \"\"\n")
    s = ServerProc(tmp_path / "d", "--config", str(conf), "--maxclients", "88").start()
    try:
        c = s.client(password="pw")
        assert c.config_get("sync")["sync"] == "always"
        assert c.config_get("maxclients")["maxclients"] == "88"
        assert c.info("persistence")["omendb_sync"] == "always"
    finally:
        s.stop()


def test_bad_config_refused(tmp_path):
    import subprocess
    conf = tmp_path / "bad.conf"
    conf.write_text("sync sometimes\n")
    p = subprocess.run([BIN, "--config", str(conf), "--port", str(free_port()), "--dir", str(tmp_path / "d")],
                       capture_output=True, timeout=30)
    assert p.returncode != 0
    assert b"sync" in p.stderr


def test_requirepass_at_runtime(server, r):
    assert r.config_set("requirepass", "newpw") is True
    raw = Raw(server.port)
    assert raw.cmd("GET", "k") == ("error", "NOAUTH Authentication required.")
    assert raw.cmd("AUTH", "newpw") == ("status", "OK")
    # The connection that set it stays authenticated, as in Redis.
    assert r.ping() is True
    r.config_set("requirepass", "")
    raw2 = Raw(server.port)
    assert raw2.cmd("PING") == ("status", "PONG")


def test_long_requirepass_is_kept_whole(server, r):
    pw = "p" * 5000 + "end"
    assert r.config_set("requirepass", pw) is True
    raw = Raw(server.port)
    assert raw.cmd("AUTH", pw[:4095]) == ("error", "WRONGPASS invalid username-password pair or user is disabled.")
    assert raw.cmd("AUTH", pw) == ("status", "OK")
    r.config_set("requirepass", "")
    with pytest.raises(redis.ResponseError, match="NUL byte"):
        r.config_set("requirepass", "a\0b")
    assert Raw(server.port).cmd("PING") == ("status", "PONG")


def test_everysec_timer_syncs(server, r):
    before = r.info("persistence")["omendb_timed_syncs"]
    r.set("k", "v")
    deadline = time.time() + 10
    while time.time() < deadline:
        if r.info("persistence")["omendb_timed_syncs"] > before:
            break
        time.sleep(0.2)
    assert r.info("persistence")["omendb_timed_syncs"] > before


def test_group_commit_counts(tmp_path):
    """Under --sync always many clients' writes share commits."""
    import threading
    s = ServerProc(tmp_path / "d", "--sync", "always").start()
    try:
        def work(t):
            c = s.client()
            for i in range(100):
                c.set(f"{t}:{i}", "v")
        ts = [threading.Thread(target=work, args=(t,)) for t in range(20)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        c = s.client()
        info = c.info("persistence")
        assert c.dbsize() == 2000
        # Every acknowledged write went through a synced commit; with 20
        # concurrent writers, commits are fewer than writes.
        assert 0 < info["omendb_commits"] < 2000
    finally:
        s.stop()


def _main_thread_ticks(pid):
    with open(f"/proc/{pid}/task/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime


def test_loop_spin_setting_and_idle(tmp_path):
    """loop-spin-us: settable at run time, requests are served whatever its
    value, and the loop still sleeps once requests stop (polling only
    follows a pass that served something)."""
    import threading
    s = ServerProc(tmp_path / "d", "--loop-spin-us", "10000").start()
    try:
        c = s.client()
        assert c.config_get("loop-spin-us")["loop-spin-us"] == "10000"
        with pytest.raises(redis.ResponseError):
            c.config_set("loop-spin-us", "10001")

        def work(t):
            cc = s.client()
            for i in range(300):
                cc.set(f"{t}:{i}", i)
                assert cc.get(f"{t}:{i}") == str(i)
        for spin in ("10000", "0", "50"):
            c.config_set("loop-spin-us", spin)
            ts = [threading.Thread(target=work, args=(t,)) for t in range(4)]
            for t in ts:
                t.start()
            for t in ts:
                t.join()
        assert c.dbsize() == 1200
        c.config_set("loop-spin-us", "10000")
        for i in range(200):
            c.ping()
        time.sleep(0.5)
        before = _main_thread_ticks(s.proc.pid)
        time.sleep(2)
        # Idle for 2 s: a loop that kept polling would use up to 200 ticks.
        assert _main_thread_ticks(s.proc.pid) - before < 10
    finally:
        s.stop()
