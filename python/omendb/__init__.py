"""OmenDB: an embedded, persistent, ordered key-value store with a learned index.

Quick start::

    import omendb
    with omendb.open("mydb") as db:
        db[b"hello"] = b"world"
        print(db[b"hello"])                      # b'world'
        for key, value in db.range(b"a", b"z"):
            ...

Everything lives in the C extension ``omendb._omendb``; this module
re-exports it.  See ``help(omendb.open)`` and ``help(omendb.DB)``.

Keys are bytes, str (UTF-8) or any bytes-like object, ordered bytewise; with
``int_keys=True`` they are Python ints in 0..2**64-1 (stored big-endian so the
order is numeric).  Values are bytes, str (stored UTF-8) or bytes-like and are
always returned as bytes.

Vector search: ``db.vector_set("docs", dim=384, metric="cosine")`` returns an
``omendb.VectorSet`` (add / add_many / search / search_many / delete, numpy
arrays in and out); its writes can join a batch or transaction
(``b.vadd(vs, id, vector)``).  See ``help(omendb.VectorSet)``.

Errors are ``omendb.Error`` subclasses carrying ``.code`` and ``.detail``:
Conflict, Corruption, DiskError (also an OSError), Locked, Closed, ReadOnly,
NotADatabase, NotFoundError (also FileNotFoundError), Exists (also
FileExistsError), InvalidArgument (also ValueError), TooBig, OutOfMemory
(also MemoryError), VersionError, Busy.  Bad argument types raise TypeError;
``db[missing]`` raises KeyError.
"""

from ._omendb import (  # noqa: F401
    DB,
    ENGINE_VERSION,
    MAX_KEY_LEN,
    MAX_VALUE_LEN,
    Busy,
    Closed,
    Conflict,
    Corruption,
    DiskError,
    Error,
    Exists,
    InvalidArgument,
    Iterator,
    Locked,
    NotADatabase,
    NotFoundError,
    OutOfMemory,
    ReadOnly,
    Snapshot,
    TooBig,
    Transaction,
    VectorSet,
    VersionError,
    WriteBatch,
    check,
    destroy,
    open,
    strerror,
)

__version__ = "0.1.0"


def run_transaction(db, fn, retries=10):
    """Run ``fn(txn)`` in a transaction of ``db`` and commit it, retrying
    from scratch (a new transaction) up to ``retries`` times when the commit
    raises Conflict.  Returns what ``fn`` returned; re-raises the last
    Conflict when every attempt lost.  ``fn`` must not have side effects
    outside the transaction, since it may run more than once."""
    if retries < 1:
        raise ValueError("retries must be >= 1")
    for attempt in range(retries):
        try:
            with db.transaction() as txn:
                return fn(txn)
        except Conflict:
            if attempt == retries - 1:
                raise


# `open` would shadow the builtin under `from omendb import *`: leave it out.
__all__ = [
    "DB", "Snapshot", "Transaction", "Iterator", "WriteBatch", "VectorSet",
    "Error", "Busy", "Closed", "Conflict", "Corruption", "DiskError", "Exists",
    "InvalidArgument", "Locked", "NotADatabase", "NotFoundError", "OutOfMemory",
    "ReadOnly", "TooBig", "VersionError",
    "check", "destroy", "strerror", "run_transaction",
    "ENGINE_VERSION", "MAX_KEY_LEN", "MAX_VALUE_LEN",
]
