"""Build the omendb Python package: a C extension over libomendb.

The extension links the static library libomendb.a (built with -fPIC by the
top-level Makefile).  Where to find it:

  OMENDB_LIB      path of libomendb.a      (default: ../build/libomendb.a)
  OMENDB_INCLUDE  directory of omendb.h    (default: ../include)
  OMENDB_CFLAGS / OMENDB_LDFLAGS  extra flags (e.g. -fsanitize=address for a
                  sanitizer build, with a libomendb.a built the same way)

`make python` at the top level sets both and builds into build/python/.
"""
import os

from setuptools import Extension, setup

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
LIB = os.environ.get("OMENDB_LIB", os.path.join(ROOT, "build", "libomendb.a"))
INC = os.environ.get("OMENDB_INCLUDE", os.path.join(ROOT, "include"))
XCFLAGS = os.environ.get("OMENDB_CFLAGS", "").split()
XLDFLAGS = os.environ.get("OMENDB_LDFLAGS", "").split()

if not os.path.exists(LIB):
    raise SystemExit(f"omendb: {LIB} not found; run `make lib` at the top of the repository first")

# One file per Python type plus the shared layers (see src/omendb_py.h).
SOURCES = ["errors.c", "gate.c", "convert.c", "iterator.c", "reader.c", "snapshot.c",
           "transaction.c", "batch.c", "vconvert.c", "vset.c", "vsetdb.c", "db.c", "module.c"]

ext = Extension(
    "omendb._omendb",
    sources=["src/" + s for s in SOURCES],
    include_dirs=[INC],
    extra_objects=[LIB],
    libraries=["lz4", "zstd", "snappy", "m", "pthread"],
    # hidden: the files share internal symbols; only PyInit__omendb is exported
    extra_compile_args=["-std=gnu11", "-Wall", "-Wextra", "-Werror", "-O2", "-fvisibility=hidden"]
    + XCFLAGS,
    extra_link_args=XLDFLAGS,
    depends=[LIB, os.path.join(INC, "omendb.h"), "src/omendb_py.h"],
)

setup(
    name="omendb",
    version="0.1.0",
    description="Python bindings for OmenDB, an embedded ordered key-value engine with a learned index",
    packages=["omendb"],
    package_data={"omendb": ["py.typed", "*.pyi"]},
    ext_modules=[ext],
    python_requires=">=3.8",
    zip_safe=False,
)
