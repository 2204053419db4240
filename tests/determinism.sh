#!/bin/sh
# tests/determinism.sh BUILD_DIR - the same logits, bit for bit:
#   1. each det_dump_O* in BUILD_DIR run twice prints the same hashes;
#   2. -O0, -O2 and -O3 builds print the same hashes (the build uses
#      -ffp-contract=off and never -ffast-math, so the compiler may not
#      reorder or fuse float operations);
#   3. (information only, never a failure) a build by another compiler,
#      BUILD_DIR/det_dump_cc2 if present: libm's expf/sqrtf/pow/cos/sin may
#      round differently in another toolchain, so this is reported, not
#      asserted.
# Prints check.h-style lines and "# summary determinism: P passed, F failed";
# exits 1 on any failure. det_dump hashes the raw bits of every logit of the
# golden models over their prompts (see tests/det_dump.c).
build=${1:?usage: tests/determinism.sh BUILD_DIR}
golden=${GOLDEN_DIR:-golden}
passed=0; failed=0
. tests/lib.sh   # ok, fail, skip: print the line and count it (passed, failed, skipped)

ref=""
for level in O0 O2 O3; do
  bin="$build/det_dump_$level"
  if [ ! -x "$bin" ]; then fail "$bin is missing (make determinism builds it)"; continue; fi
  if ! "$bin" "$golden" > "$build/det_$level.1" 2> "$build/det_$level.err"; then
    fail "det_dump_$level exited with an error: $(head -n 1 "$build/det_$level.err")"; continue
  fi
  "$bin" "$golden" > "$build/det_$level.2" 2>> "$build/det_$level.err"
  runs=$(grep -vc '^all ' "$build/det_$level.1")   # model/path runs, one hash each
  if cmp -s "$build/det_$level.1" "$build/det_$level.2"; then
    ok "det_dump_$level: two runs give the same logits bits on all $runs model/path runs ($(tail -n 1 "$build/det_$level.1"))"
  else
    fail "det_dump_$level: two runs differ"; diff "$build/det_$level.1" "$build/det_$level.2" | head -n 6
  fi
  if [ -z "$ref" ]; then ref=$level; continue; fi
  if cmp -s "$build/det_$ref.1" "$build/det_$level.1"; then
    ok "-$ref and -$level give bit-identical logits ($runs model/path runs)"
  else
    fail "-$ref and -$level give different logits:"; diff "$build/det_$ref.1" "$build/det_$level.1" | head -n 10
  fi
done

if [ -x "$build/det_dump_cc2" ] && [ -n "$ref" ]; then
  "$build/det_dump_cc2" "$golden" > "$build/det_cc2.1" 2>/dev/null
  same=$(paste -d ' ' "$build/det_$ref.1" "$build/det_cc2.1" | awk '$1 != "all" && $4 == $8' | wc -l | tr -d ' ')
  total=$(grep -vc '^all ' "$build/det_$ref.1")
  echo "# info: another compiler ($(cat "$build/det_dump_cc2.cc" 2>/dev/null || echo '?')) gives identical bits on $same of $total model/path runs (not asserted: libm may differ)"
fi

echo "# summary determinism: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
