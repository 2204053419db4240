#!/bin/sh
# tests/run.sh BUILD_DIR TEST... - runs every test program, shows its
# output, adds up the "# summary NAME: P passed, F failed" lines, and ends
# with one line "N passed, N failed". A program that dies before its
# summary counts as one failure. Exits non-zero on any failure.
build=$1; shift
passed=0; failed=0
for t in "$@"; do
  log="$build/$t.log"
  "./$build/$t" > "$log" 2>&1
  status=$?
  cat "$log"
  line=$(grep '^# summary ' "$log" | tail -n 1)
  if [ -z "$line" ]; then
    echo "FAIL $t exited with status $status before its summary"
    failed=$((failed + 1))
    continue
  fi
  p=$(echo "$line" | sed 's/.*: \([0-9]*\) passed, \([0-9]*\) failed/\1/')
  f=$(echo "$line" | sed 's/.*: \([0-9]*\) passed, \([0-9]*\) failed/\2/')
  passed=$((passed + p)); failed=$((failed + f))
  if [ "$status" -ne 0 ] && [ "$f" -eq 0 ]; then
    echo "FAIL $t exited with status $status"; failed=$((failed + 1))
  fi
done
# ATTNRES_STATIC must leave no attnres_ symbol visible outside its object
exported=$(nm -g --defined-only "$build"/static_a.o "$build"/static_b.o 2>/dev/null | grep -c ' attnres')
if [ "$exported" -eq 0 ] && [ -f "$build/static_a.o" ]; then
  echo "ok   ATTNRES_STATIC objects export no attnres_ symbol (nm)"; passed=$((passed + 1))
else
  echo "FAIL ATTNRES_STATIC objects export $exported attnres_ symbols (nm)"; failed=$((failed + 1))
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
