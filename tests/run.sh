#!/bin/sh
# tests/run.sh BUILD_DIR TEST... - runs every test program, shows its
# output, adds up the "# summary NAME: P passed, F failed[, S skipped]"
# lines, and ends with one line "N passed, N failed" (", N skipped" added
# when some were skipped). A program that dies before its summary counts as
# one failure. A test the build could not make (mk/run.mk: attnres-run
# without the stb headers) has a file BUILD_DIR/TEST.skip holding the reason
# instead: it is reported as SKIP and counted as skipped, never as passed.
# Skips inside a program (its "skip ..." lines, e.g. test_kernels without a
# GPU, unless its summary line gives ", S skipped") are counted too.
# Exits non-zero on any failure (skips alone do not fail).
build=$1; shift
passed=0; failed=0; skipped=0
for t in "$@"; do
  log="$build/$t.log"
  if [ -f "$build/$t.skip" ]; then
    echo "SKIP $t: $(cat "$build/$t.skip")"
    skipped=$((skipped + 1))
    continue
  fi
  "./$build/$t" > "$log" 2>&1
  status=$?
  cat "$log"
  line=$(grep '^# summary ' "$log" | tail -n 1)
  if [ -z "$line" ]; then
    echo "FAIL $t exited with status $status before its summary"
    failed=$((failed + 1))
    continue
  fi
  p=$(echo "$line" | sed -n 's/.*: \([0-9][0-9]*\) passed, \([0-9][0-9]*\) failed.*/\1/p')
  f=$(echo "$line" | sed -n 's/.*: \([0-9][0-9]*\) passed, \([0-9][0-9]*\) failed.*/\2/p')
  s=$(echo "$line" | sed -n 's/.* failed, \([0-9][0-9]*\) skipped.*/\1/p')
  # a program without a skipped count reports skips as "skip ..." lines
  [ -n "$s" ] || s=$(grep -c '^skip ' "$log")
  if [ -z "$p" ] || [ -z "$f" ]; then
    echo "FAIL $t: unreadable summary line '$line'"
    failed=$((failed + 1))
    continue
  fi
  passed=$((passed + p)); failed=$((failed + f)); skipped=$((skipped + ${s:-0}))
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
if [ "$skipped" -gt 0 ]; then echo "$passed passed, $failed failed, $skipped skipped"
else echo "$passed passed, $failed failed"; fi
[ "$failed" -eq 0 ]
