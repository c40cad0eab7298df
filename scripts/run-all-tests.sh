#!/usr/bin/env bash
# Everything `make test` runs, in order; prints one closing total line.
set -u
cd "$(dirname "$0")/.."
rm -f build/test-summary.txt
status=0
step() { echo; echo "#### $*"; "$@" || status=1; }
step make --no-print-directory -j2 all
step make --no-print-directory test-plain
step make --no-print-directory -j2 test-asan
step make --no-print-directory -j2 test-tsan
if make -n test-fuzz >/dev/null 2>&1; then step make --no-print-directory test-fuzz; fi
step make --no-print-directory test-extra
if make -n test-python >/dev/null 2>&1; then step make --no-print-directory test-python; fi
p=$(awk '{s+=$3} END {print s+0}' build/test-summary.txt 2>/dev/null || echo 0)
f=$(awk '{s+=$4} END {print s+0}' build/test-summary.txt 2>/dev/null || echo 0)
[ "$status" -ne 0 ] && [ "$f" -eq 0 ] && f=1
echo
echo "tests: $p passed, $f failed"
exit $status
