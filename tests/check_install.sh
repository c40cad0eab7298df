#!/usr/bin/env bash
# check_install.sh MAKE BUILDDIR CC: `make install` into a temporary DESTDIR
# (with PREFIX /opt/omendb, not the default, so that PREFIX is seen to be
# honoured), then build tests/install/app.c the way a user would,
# with pkg-config against the installed files only, linked shared and
# static, and run both.  Also checks the installed layout (soname links,
# header, shell, Python package importable).  Prints a cmocka-style summary
# line ("[  PASSED  ] N").
set -u
make=$1 b=$2 cc=$3
root=$(cd "$(dirname "$0")/.." && pwd)
tmp=$(mktemp -d /tmp/omeninst.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
dest=$tmp/dest prefix=/opt/omendb
passed=0 failed=0
ok() { echo "   ok: $*"; passed=$((passed + 1)); }
bad() { echo "   FAILED: $*"; failed=$((failed + 1)); }
check() { local what=$1; shift; if "$@" >"$tmp/out" 2>&1; then ok "$what"; else bad "$what"; sed 's/^/      /' "$tmp/out"; fi; }

if ! $make --no-print-directory -C "$root" B="$b" install DESTDIR="$dest" PREFIX="$prefix" >"$tmp/install.log" 2>&1; then
  cat "$tmp/install.log"; bad "make install"; echo "[  FAILED  ] $failed"; exit 1
fi
ok "make install DESTDIR=$dest PREFIX=$prefix"
lib=$dest$prefix/lib
version=$(sed -n 's/^#define OMEN_VERSION_STRING "\(.*\)"/\1/p' "$root/include/omendb.h")
major=${version%%.*}

check "libomendb.so.$version, soname link libomendb.so.$major, dev link libomendb.so" \
  test -f "$lib/libomendb.so.$version" -a "$(readlink "$lib/libomendb.so.$major")" = "libomendb.so.$version" \
       -a "$(readlink "$lib/libomendb.so")" = "libomendb.so.$major"
check "soname recorded in the library" \
  sh -c "readelf -d '$lib/libomendb.so.$version' | grep -q 'SONAME.*\[libomendb.so.$major\]'"
check "libomendb.a, omendb.h, omendb.pc, bin/omendb" \
  test -f "$lib/libomendb.a" -a -f "$dest$prefix/include/omendb.h" -a -f "$lib/pkgconfig/omendb.pc" \
       -a -x "$dest$prefix/bin/omendb"
check "python package importable from the install" \
  sh -c "cd '$tmp' && PYTHONPATH=\$(echo '$lib'/python3*/dist-packages) /usr/bin/python3 -c 'import omendb'"

# pkg-config sees only the installed tree: its .pc directory, with the
# DESTDIR as sysroot (prepended to the -I and -L paths it prints).
export PKG_CONFIG_LIBDIR=$lib/pkgconfig PKG_CONFIG_SYSROOT_DIR=$dest
check "pkg-config --modversion omendb is $version" test "$(pkg-config --modversion omendb)" = "$version"
cflags=$(pkg-config --cflags omendb) libs=$(pkg-config --libs omendb)
echo "   pkg-config --cflags --libs omendb: $cflags $libs"

# Shared: the program needs libomendb.so.$major (its soname), found here via
# LD_LIBRARY_PATH as it would be in $prefix/lib after ldconfig.
check "build against the shared library" $cc $cflags "$root/tests/install/app.c" -o "$tmp/app-shared" $libs
check "the program needs libomendb.so.$major" \
  sh -c "readelf -d '$tmp/app-shared' | grep -q 'NEEDED.*\[libomendb.so.$major\]'"
check "run (shared)" sh -c "LD_LIBRARY_PATH='$lib' '$tmp/app-shared' '$tmp/db1' | grep -qx 'ok $version'"

# Static: libomendb.a by path, the rest from pkg-config --static.
slibs=$(pkg-config --static --libs omendb | sed 's/-lomendb//')
check "build against the static library" $cc $cflags "$root/tests/install/app.c" -o "$tmp/app-static" "$lib/libomendb.a" $slibs
check "the static program needs no libomendb.so" sh -c "! readelf -d '$tmp/app-static' | grep -q libomendb"
check "run (static)" sh -c "'$tmp/app-static' '$tmp/db2' | grep -qx 'ok $version'"

if [ "$failed" -ne 0 ]; then echo "[  FAILED  ] $failed"; exit 1; fi
echo "[  PASSED  ] $passed"
