#!/usr/bin/env bash
# Run cmocka test programs: run-tests.sh DIR BIN...
# Each program runs in its own scratch directory (TMPDIR) and is counted
# by the cmocka summary it prints.  Totals go to build/test-summary.txt.
set -u
dir=$1; shift
summary=build/test-summary.txt
mkdir -p build
fail=0
for bin in "$@"; do
  name=$(basename "$bin")
  scratch=$(mktemp -d /tmp/omentest.XXXXXX)
  log=$scratch.log
  echo "== $bin"
  if (cd "$scratch" && TMPDIR=$scratch OMEN_TEST_DIR=$scratch "$OLDPWD/$bin") >"$log" 2>&1; then rc=0; else rc=$?; fi
  passed=$(grep -aoE '\[  PASSED  \] [0-9]+' "$log" | awk '{s+=$4} END {print s+0}')
  failed=$(grep -aoE '\[  FAILED  \] [0-9]+' "$log" | awk '{s+=$4} END {print s+0}')
  if [ "$rc" -ne 0 ] && [ "$failed" -eq 0 ]; then failed=1; fi
  if [ "$rc" -ne 0 ] || [ "$failed" -ne 0 ]; then
    cat "$log"; echo "!! $name failed (exit $rc)"; fail=1
  else
    echo "   $name: $passed passed"
  fi
  echo "$dir $name $passed $failed" >>"$summary"
  rm -rf "$scratch" "$log"
done
exit $fail
