"""redis-cli (Debian redis-tools) against omendb-server."""
import shutil
import subprocess

import pytest

CLI = shutil.which("redis-cli")
pytestmark = pytest.mark.skipif(CLI is None, reason="redis-cli not installed")


def cli(server, *args, stdin=None):
    p = subprocess.run([CLI, "-p", str(server.port), *args], input=stdin, capture_output=True,
                       timeout=60, text=True)
    assert p.returncode == 0, p.stderr
    return p.stdout


def test_cli_smoke(server):
    assert cli(server, "PING").strip() == "PONG"
    assert cli(server, "SET", "greeting", "hello").strip() == "OK"
    assert cli(server, "GET", "greeting").strip() == "hello"
    assert cli(server, "INCR", "n").strip() == "1"
    assert cli(server, "DBSIZE").strip() == "2"
    assert "redis_version" in cli(server, "INFO")
    assert cli(server, "--no-raw", "GET", "missing").strip() == "(nil)"
    assert cli(server, "-3", "GET", "greeting").strip() == "hello"
    out = cli(server, stdin="SET a 1\nGET a\nDEL a\n")
    assert out.split() == ["OK", "1", "1"]
    keys = cli(server, "--scan").split()
    assert sorted(keys) == ["greeting", "n"]
    err = cli(server, "NOSUCHCMD")
    assert "unknown command" in err


def test_cli_interactive_hints(server):
    # Interactive mode asks COMMAND DOCS for its hints; piping keeps it simple.
    p = subprocess.run([CLI, "-p", str(server.port)], input="PING\nquit\n", capture_output=True,
                       timeout=60, text=True)
    assert "PONG" in p.stdout
