#!/bin/sh
# tests/test_gdb.sh - the gdb session of docs/debugging.md, run as written.
#
# Reads the ```console blocks of docs/debugging.md: every "$ " line is a
# shell command, every "(gdb) " line a gdb command. The shell commands run
# as they are, except that each `gdb` line gets `-batch -ex CMD ...` with
# the gdb commands of the first block (the doc's later blocks say "the same
# commands"). Then it checks what gdb printed:
#   - the breakpoint stopped attnres_forward at pos=1;
#   - the printed alpha row ($1 = {...}) holds numbers that sum to 1 (1e-5);
#   - `advance` stopped inside attnres_depth_attention.
# Without gdb it says so and skips; a gdb line whose program was not built
# (attnres-run without the stb headers: build/debug/attnres-run.skip) is
# skipped with that reason. Prints "ok"/"FAIL"/"skip" lines and
# "# summary test_gdb: P passed, F failed, S skipped"; exits 1 on a failure.
#   make check-debug     (or: sh tests/test_gdb.sh, from anywhere)

root=$(cd "$(dirname "$0")/.." && pwd) || exit 2
cd "$root" || exit 2
doc=docs/debugging.md
passed=0; failed=0; skipped=0
pass() { echo "ok   $*"; passed=$((passed + 1)); }
fail() { echo "FAIL $*"; failed=$((failed + 1)); }
skip() { echo "skip $*"; skipped=$((skipped + 1)); }
summary() {
  echo "# summary test_gdb: $passed passed, $failed failed, $skipped skipped"
  [ "$failed" -eq 0 ]
  exit $?
}

if ! command -v gdb >/dev/null 2>&1; then
  skip "the gdb session of $doc: gdb is not installed (Debian: apt-get install gdb)"
  summary
fi
tmp=$(mktemp -d "${TMPDIR:-/tmp}/test_gdb.XXXXXX") || exit 2
trap 'rm -rf "$tmp"' EXIT
trap 'exit 130' INT TERM

# the session, in order: "sh COMMAND" and "gdb COMMAND" lines
awk '/^```console/ { block++; inside = 1; next }
     /^```/        { inside = 0; next }
     inside && /^\$ /     { print "sh " substr($0, 3) }
     inside && /^\(gdb\) / && block == 1 { print "gdb " substr($0, 7) }' "$doc" > "$tmp/session"
grep '^gdb ' "$tmp/session" | sed 's/^gdb //' > "$tmp/gdb_commands"
if [ ! -s "$tmp/gdb_commands" ] || ! grep -q '^sh gdb ' "$tmp/session"; then
  fail "$doc has no \`\`\`console block with a \$ gdb line and (gdb) commands"
  summary
fi

# "gdb ARGS" -> "gdb -batch -ex 'CMD' ... ARGS", each CMD single-quoted for sh
batch=""
while IFS= read -r cmd; do
  batch="$batch -ex '$(printf '%s' "$cmd" | sed "s/'/'\\\\''/g")'"
done < "$tmp/gdb_commands"

n=0
grep '^sh ' "$tmp/session" | sed 's/^sh //' > "$tmp/shell"
while IFS= read -r line; do
  case "$line" in
    gdb\ *)
      n=$((n + 1))
      # the program: the first argument after the options that ends in a path
      prog=$(printf '%s\n' "$line" | tr ' ' '\n' | grep '^build/' | head -n 1)
      if [ -n "$prog" ] && [ ! -x "$prog" ] && [ -f "$prog.skip" ]; then
        skip "gdb session $n ($prog): not built: $(cat "$prog.skip")"
        continue
      fi
      eval "gdb -batch $batch ${line#gdb }" > "$tmp/gdb$n.log" 2>&1 < /dev/null
      log="$tmp/gdb$n.log"
      if grep -q '^Breakpoint 1, attnres_forward (.*pos=1' "$log"; then
        pass "gdb session $n ($prog): break attnres_forward if pos == 1 stops at pos=1"
      else
        fail "gdb session $n ($prog): no stop in attnres_forward at pos=1"; sed 's/^/    /' "$log" | tail -n 20
      fi
      alpha=$(sed -n 's/^\$1 = {\(.*\)}$/\1/p' "$log")
      if [ -n "$alpha" ] && echo "$alpha" | awk -F', *' '{ s = 0; for (i = 1; i <= NF; i++) s += $i;
                                                        exit !(NF >= 1 && s > 1 - 1e-5 && s < 1 + 1e-5) }'; then
        pass "gdb session $n ($prog): the printed alpha row {$alpha} sums to 1"
      else
        fail "gdb session $n ($prog): no alpha row summing to 1 (\$1 = {$alpha})"; grep '^\$' "$log" | sed 's/^/    /'
      fi
      if grep -q '^attnres_depth_attention (' "$log"; then
        pass "gdb session $n ($prog): advance stops in attnres_depth_attention"
      else
        fail "gdb session $n ($prog): advance did not reach attnres_depth_attention"; sed 's/^/    /' "$log" | tail -n 10
      fi
      ;;
    *)
      if sh -c "$line" > "$tmp/sh.log" 2>&1 < /dev/null; then
        pass "\$ $line"
      else
        fail "\$ $line"; sed 's/^/    /' "$tmp/sh.log" | tail -n 20
      fi
      ;;
  esac
done < "$tmp/shell"
[ "$n" -gt 0 ] || fail "$doc: no gdb line was run"
summary
