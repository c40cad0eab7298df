#!/usr/bin/env bash
# check_exports.sh CC HEADER SO: the shared library must export exactly the
# functions that HEADER declares, nothing more and nothing less.
#
# The expected names come from the compiler, not from a list kept by hand:
# gcc -aux-info writes out every function prototype the header declares
# (static inline helpers excluded, as they are not exported), so a function
# added to include/omendb.h without OMEN_EXPORT, or an internal symbol that
# leaks out of the library, fails this test.  Prints a cmocka-style summary
# line so that run-tests.sh-style counting works ("[  PASSED  ] 1").
set -u
cc=$1 header=$2 so=$3
tmp=$(mktemp -d /tmp/omenexp.XXXXXX)
trap 'rm -rf "$tmp"' EXIT

printf '#include "%s"\n' "$(basename "$header")" >"$tmp/h.c"
if ! "$cc" -std=c11 -I"$(dirname "$header")" -aux-info "$tmp/aux" -fsyntax-only "$tmp/h.c"; then
  echo "check_exports: cannot compile $header"; echo "[  FAILED  ] 1"; exit 1
fi
# Lines look like: /* include/omendb.h:91:NC */ extern void omen_options_init (omen_options *);
grep -F "$(basename "$header"):" "$tmp/aux" | grep -v '\*/ *static ' |
  sed -E 's/^[^*]*\*\/ *//; s/^([^(]*[^A-Za-z0-9_(])?([A-Za-z_][A-Za-z0-9_]*) *\(.*$/\2/' |
  sort -u >"$tmp/declared"
nm -D --defined-only "$so" | awk '{print $NF}' | sed 's/@.*//' | sort -u >"$tmp/exported"

nd=$(wc -l <"$tmp/declared") ne=$(wc -l <"$tmp/exported")
echo "check_exports: $nd functions declared in $header, $ne symbols exported by $so"
fail=0
if [ "$nd" -lt 10 ]; then echo "  too few declarations parsed from $header"; fail=1; fi
extra=$(comm -13 "$tmp/declared" "$tmp/exported")
missing=$(comm -23 "$tmp/declared" "$tmp/exported")
if [ -n "$extra" ]; then echo "  exported but not declared in the header:"; echo "$extra" | sed 's/^/    /'; fail=1; fi
if [ -n "$missing" ]; then echo "  declared but not exported (no OMEN_EXPORT?):"; echo "$missing" | sed 's/^/    /'; fail=1; fi
if [ "$fail" -ne 0 ]; then echo "[  FAILED  ] 1"; exit 1; fi
echo "[  PASSED  ] 1"
