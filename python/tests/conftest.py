"""Shared fixtures: every test gets a fresh database directory under pytest's tmp_path."""
import os
import sys

import pytest

import omendb


@pytest.fixture
def path(tmp_path):
    return str(tmp_path / "db")


@pytest.fixture
def db(path):
    d = omendb.open(path)
    yield d
    d.close()


@pytest.fixture
def idb(tmp_path):
    d = omendb.open(str(tmp_path / "idb"), int_keys=True)
    yield d
    d.close()


def child_env():
    """Environment for subprocesses: they must import the same build of omendb."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
    return env
