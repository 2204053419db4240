#!/bin/sh
# tests/check_lessons.sh BUILD_DIR - runs every lesson and diffs its output
# with golden/lessons/NAME.txt using BUILD_DIR/numdiff (numbers within
# tolerance, text exact; see tools/numdiff.c).
#
# First it proves numdiff can fail: it must reject a number changed beyond
# the tolerance, a changed integer, changed text and a missing line, and
# accept an identical file and a change inside the tolerance.
#
# Then, for every lessons/NAME.c: the lesson must be built, must have a
# golden file, must exit 0 and must print what the golden file says. A
# golden file without a lesson fails too. Lessons run from the repository
# root (they open golden/*.safetensors by relative path).
#
# Prints "ok   ..." / "FAIL ..." lines and "# summary check_lessons: P passed,
# F failed" (the format tests/run.sh adds up); exits 1 on any failure.
#   make lessons && sh tests/check_lessons.sh build/default

if [ $# -ne 1 ]; then
  echo "usage: sh tests/check_lessons.sh BUILD_DIR   (after: make lessons)" >&2
  exit 2
fi
root=$(cd "$(dirname "$0")/.." && pwd) || exit 2
passed=0; failed=0
pass() { echo "ok   $*"; passed=$((passed + 1)); }
fail() { echo "FAIL $*"; failed=$((failed + 1)); }
summary() {
  echo "# summary check_lessons: $passed passed, $failed failed"
  [ "$failed" -eq 0 ]
  exit $?
}

if ! build=$(cd "$1" 2>/dev/null && pwd); then
  fail "build directory $1 does not exist (run: make lessons)"
  summary
fi
cd "$root" || exit 2
numdiff="$build/numdiff"
if [ ! -x "$numdiff" ]; then
  fail "$1/numdiff is not built (run: make lessons)"
  summary
fi
tmp=$(mktemp -d "${TMPDIR:-/tmp}/check_lessons.XXXXXX") || exit 2
trap 'rm -rf "$tmp"' EXIT
trap 'exit 130' INT TERM

# ---------------------------------------------------------------- numdiff
# expect_status WANT DESCRIPTION FILE...: runs numdiff FILE... and checks
# its exit status (0 equal, 1 different, 2 bad input).
expect_status() {
  want=$1; what=$2; shift 2
  "$numdiff" "$@" > "$tmp/numdiff.log" 2>&1
  got=$?
  if [ "$got" -eq "$want" ]; then
    pass "numdiff $what (exit $got)"
  else
    fail "numdiff $what: exit $got, expected $want"
    sed 's/^/    /' "$tmp/numdiff.log"
  fi
}

e="$tmp/expected.txt"
printf 'alpha over [b0 b1 partial] = 0.250000 0.750000 -1.5e-03\nsublayer 3 reads [b0(=emb), partial(=f2)]\ncache_len 20\n' > "$e"
printf 'alpha over [b0 b1 partial] = 0.250000 0.750000 -1.5e-03\nsublayer 3 reads [b0(=emb), partial(=f2)]\ncache_len 20\n' > "$tmp/same.txt"
printf 'alpha over [b0 b1 partial] = 0.250004 0.750000 -1.5e-03\nsublayer 3 reads [b0(=emb), partial(=f2)]\ncache_len 20\n' > "$tmp/within.txt"
printf 'alpha over [b0 b1 partial] = 0.250400 0.750000 -1.5e-03\nsublayer 3 reads [b0(=emb), partial(=f2)]\ncache_len 20\n' > "$tmp/beyond.txt"
printf 'alpha over [b0 b1 partial] = 0.250000 0.750000 1.5e-03\nsublayer 3 reads [b0(=emb), partial(=f2)]\ncache_len 20\n' > "$tmp/sign.txt"
printf 'alpha over [b0 b1 partial] = 0.250000 0.750000 -1.5e-03\nsublayer 3 reads [b0(=emb), partial(=f2)]\ncache_len 21\n' > "$tmp/integer.txt"
printf 'alpha over [b0 b1 partial] = 0.250000 0.750000 -1.5e-03\nsublayer 3 reads [b0(=emb), partial(=f3)]\ncache_len 20\n' > "$tmp/text.txt"
printf 'alpha over [b0 b1 partial] = 0.250000 0.750000 -1.5e-03\nsublayer 3 reads [b0(=emb), partial(=f2)]\n' > "$tmp/short.txt"
printf 'alpha over  [b0 b1 partial] =  0.250000 0.750000 -1.5e-03  \r\nsublayer 3 reads [b0(=emb), partial(=f2)]\r\ncache_len 20' > "$tmp/crlf.txt"
printf 'loss nan, b0 = 1.5\n' > "$tmp/nan.txt"
printf 'loss nan, b0 = 1.5\n' > "$tmp/nan_same.txt"
printf 'loss 0.5, b0 = 1.5\n' > "$tmp/nan_not.txt"
printf 'loss nan, b1 = 1.5\n' > "$tmp/nan_label.txt"
expect_status 0 "accepts an identical file" "$e" "$tmp/same.txt"
expect_status 0 "accepts nan where nan is expected" "$tmp/nan.txt" "$tmp/nan_same.txt"
expect_status 1 "rejects a number where nan is expected" "$tmp/nan.txt" "$tmp/nan_not.txt"
expect_status 1 "rejects a changed label (b0 is text, not a number)" "$tmp/nan.txt" "$tmp/nan_label.txt"
expect_status 0 "accepts a number changed within atol + rtol*|expected|" "$e" "$tmp/within.txt"
expect_status 1 "rejects a number changed beyond the tolerance" "$e" "$tmp/beyond.txt"
expect_status 1 "rejects a flipped sign" "$e" "$tmp/sign.txt"
expect_status 1 "rejects a changed integer" "$e" "$tmp/integer.txt"
expect_status 1 "rejects changed text" "$e" "$tmp/text.txt"
expect_status 1 "rejects a missing line" "$e" "$tmp/short.txt"
expect_status 0 "accepts CRLF, other blank padding, no final newline" "$e" "$tmp/crlf.txt"
expect_status 1 "rejects the in-tolerance change with --atol 0 --rtol 0" --atol 0 --rtol 0 "$e" "$tmp/within.txt"
expect_status 2 "reports a missing file" "$e" "$tmp/no-such-file.txt"
expect_status 2 "reports a bad tolerance" --atol -1 "$e" "$tmp/same.txt"

# the same on the first golden file with a decimal number: that number
# changed by 1e-6 (inside atol) and by 1% + 0.01 (far outside)
first_golden=$(grep -l '[0-9]\.[0-9]' golden/lessons/*.txt 2>/dev/null | head -n 1)
if [ -n "$first_golden" ]; then
  perturb() {
    awk -v delta="$1" -v rel="$2" -v fmt="$3" '
      !done && match($0, /[0-9]+\.[0-9]+/) {
        v = substr($0, RSTART, RLENGTH) + 0
        $0 = substr($0, 1, RSTART - 1) sprintf(fmt, v + delta + rel * v) substr($0, RSTART + RLENGTH)
        done = 1
      }
      { print }
      END { exit done ? 0 : 1 }' "$first_golden"
  }
  if perturb 1e-6 0 "%.7f" > "$tmp/golden_within.txt" && perturb 0.01 0.01 "%.6f" > "$tmp/golden_beyond.txt"; then
    expect_status 0 "accepts $first_golden with a number moved by 1e-6" "$first_golden" "$tmp/golden_within.txt"
    expect_status 1 "rejects $first_golden with a number moved by 1% + 0.01" "$first_golden" "$tmp/golden_beyond.txt"
  else
    fail "numdiff self-test: no decimal number in $first_golden to perturb"
  fi
fi

# ---------------------------------------------------------------- lessons
run() {   # a lesson gets 120 s (sanitizer builds are slower); none needs 1 s
  if command -v timeout >/dev/null 2>&1; then timeout 120 "$@"; else "$@"; fi
}
for src in lessons/*.c; do
  [ -e "$src" ] || continue
  name=$(basename "$src" .c)
  bin="$build/lessons/$name"
  golden="golden/lessons/$name.txt"
  if [ ! -x "$bin" ]; then fail "lesson $name: not built (run: make lessons)"; continue; fi
  if [ ! -f "$golden" ]; then fail "lesson $name: no golden output $golden"; continue; fi
  run "$bin" > "$tmp/$name.out" 2> "$tmp/$name.err"
  status=$?
  "$numdiff" "$golden" "$tmp/$name.out" > "$tmp/$name.diff" 2>&1
  diff_status=$?
  if [ "$status" -eq 0 ] && [ "$diff_status" -eq 0 ]; then
    pass "lesson $name"
    continue
  fi
  if [ "$status" -ne 0 ]; then fail "lesson $name: exit status $status"; else fail "lesson $name"; fi
  sed 's/^/    /' "$tmp/$name.err" "$tmp/$name.diff"
done
for golden in golden/lessons/*.txt; do
  [ -e "$golden" ] || continue
  name=$(basename "$golden" .txt)
  [ -e "lessons/$name.c" ] || fail "$golden has no lesson lessons/$name.c"
done
summary
