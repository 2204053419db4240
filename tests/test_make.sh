#!/bin/sh
# tests/test_make.sh [BUILD_DIR] - what the Makefile promises a user.
#   plain `make` in a fresh copy of the tree builds every test program, the
#   lessons, numdiff and attnres-run (or its .skip without the stb headers),
#   and ends by listing what it built and where;
#   make help names every target (each .PHONY target of Makefile and mk/*.mk,
#   but the parts of check-warnings) and every variable a user may set (each
#   `?=` of Makefile and mk/*.mk, and the switches set on the command line);
#   make install PREFIX=... puts the header, the kernel source, attnres.pc,
#   LICENSE, attnres-run and attnres-train in place; pkg-config then finds attnres (version
#   = ATTNRES_VERSION_STRING) and `cc $(pkg-config --cflags attnres) prog.c -lm`
#   builds a program that loads a model and runs it, also with the installed
#   kernel file; DESTDIR stages without changing the prefix in attnres.pc;
#   make uninstall removes everything install wrote.
# Without pkg-config the pkg-config checks print a skip line (counted as
# skipped by tests/run.sh, never as passed). Run from the repository root;
# BUILD_DIR defaults to the directory this script sits in (mk/install.mk
# copies it there as test_make).
# Prints ok/FAIL/skip lines and "# summary test_make: P passed, F failed, S skipped".
build=${1:-$(dirname "$0")}; build=${build#./}   # run.sh runs ./BUILD/test_x
tmp=$(mktemp -d "${TMPDIR:-/tmp}/attnres-make.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
passed=0; failed=0; skipped=0
. tests/lib.sh   # ok, fail, skip, and no_vm_measure, not_native

# a make of its own (not the outer one's jobserver or command-line
# variables), on the same build directory, never installing packages
# -o: install copies what the build holds; it never rebuilds a program (with
# this make's own CC and flags, which are not the build's: under make
# test-neon that made an aarch64 attnres-train where a wrapper script stood)
mk() { env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -s --no-print-directory BUILD="$build" STB_INSTALL=no \
                -o "$build/flags" -o "$build/attnres-run" -o "$build/attnres-train" "$@"; }

# ---- plain `make` in a fresh copy builds the programs and says what it built ---------
# Once, with the default build (plain make builds build/default whatever the
# outer build is). The copy is the tree without build/, .git and node_modules,
# as a fresh clone has it. The environment changes how, not what: MAKEFLAGS=-j2
# runs it on two cores; CFLAGS=-O0 compiles the 33 programs in a quarter of the
# CPU time of -O3 (14 s against 58 s measured), and which goal runs and what it
# builds do not depend on it (the -O3 programs are what the rest of make test
# runs); STB_INSTALL=no keeps it from installing packages (it then expects the
# skip the outer build got).
if [ "$build" != build/default ]; then
  echo "note: plain make in a fresh copy is checked with the default build only"
else
  fresh=$tmp/fresh
  mkdir -p "$fresh" && tar --exclude=./build --exclude=./.git --exclude=./web/node_modules -cf - . | tar -xf - -C "$fresh"
  ( cd "$fresh" && env -u MFLAGS -u MAKELEVEL MAKEFLAGS=-j2 CFLAGS=-O0 STB_INSTALL=no make ) > "$tmp/plain.log" 2>&1; st=$?
  want="numdiff"
  for f in lessons/*.c; do want="$want lessons/$(basename "$f" .c)"; done
  # the test programs the Makefile lists (not a glob of $build, which may hold
  # make test-32's programs from an earlier run)
  tests=$(printf 'attnres-print-tests:\n\t@echo $(TESTS)\n' |
          mk -f Makefile -f - attnres-print-tests) || tests=""
  [ -n "$tests" ] || fail "plain make in a fresh copy: could not read TESTS from the Makefile"
  want="$want $tests"
  if [ -f "$build/attnres-run.skip" ]; then want="$want attnres-run.skip"; else want="$want attnres-run"; fi
  missing=""
  for p in $want; do
    case $p in *.skip) [ -f "$fresh/build/default/$p" ] || missing="$missing $p";;
               *) [ -x "$fresh/build/default/$p" ] || [ -f "$fresh/build/default/$p.skip" ] || missing="$missing $p";; esac
  done
  if [ "$st" -eq 0 ] && [ -z "$missing" ] && grep -q '^built into build/default/:' "$tmp/plain.log" &&
     grep -q '^  attnres-run ' "$tmp/plain.log"; then
    ok "plain make in a fresh copy: builds the $(echo $want | wc -w) programs (tests, lessons, numdiff, attnres-run or its skip file) and lists them"
  else fail "plain make in a fresh copy: exit $st, missing:$missing; it said: $(tail -n 6 "$tmp/plain.log" | tr '\n' ' ')"; fi
fi

# ---- make help names every target and every variable -------------------------------
mk help > "$tmp/help" 2>&1 || fail "make help: exit status $?"
targets=$(sed -n 's/^\.PHONY *: *//p' Makefile mk/*.mk | tr ' ' '\n' | grep -v -e '^$' -e '^check-warnings-' -e '^stb$' -e '^FORCE$' | sort -u)
missing=""
for t in $targets; do grep -qE "^make $t( |\$)" "$tmp/help" || missing="$missing $t"; done
if [ -n "$targets" ] && [ -z "$missing" ]; then ok "make help: a line for each of the $(echo $targets | wc -w) targets"
else fail "make help: no 'make TARGET' line for:$missing"; fi
vars="$(sed -n 's/^\([A-Z_][A-Z0-9_]*\) *?=.*/\1/p' Makefile mk/*.mk | sort -u) SAN SIMD OMP CUDA LDFLAGS FUZZ_HEADER"
missing=""
for v in $vars; do grep -qw "$v" "$tmp/help" || missing="$missing $v"; done
if [ -z "$missing" ]; then ok "make help: names each of the $(echo $vars | wc -w) variables a user may set"
else fail "make help: does not name:$missing"; fi

# ---- make install PREFIX=... ----------------------------------------------------------
version=$(sed -n 's/^#define ATTNRES_VERSION_STRING "\(.*\)"/\1/p' attnres.h)
prefix="$tmp/prefix"
mk install PREFIX="$prefix" > "$tmp/log" 2>&1; st=$?
bad=""
cmp -s attnres.h "$prefix/include/attnres.h" || bad="$bad include/attnres.h"
cmp -s attnres_kernels.c "$prefix/share/attnres/attnres_kernels.c" || bad="$bad share/attnres/attnres_kernels.c"
cmp -s LICENSE "$prefix/share/doc/attnres/LICENSE" || bad="$bad share/doc/attnres/LICENSE"
grep -qx "prefix=$prefix" "$prefix/share/pkgconfig/attnres.pc" 2>/dev/null || bad="$bad share/pkgconfig/attnres.pc"
if [ "$st" -eq 0 ] && [ -z "$bad" ]; then ok "make install PREFIX=\$tmp: header, kernel source, LICENSE, attnres.pc (prefix=\$tmp)"
else fail "make install PREFIX=\$tmp: exit $st, wrong or missing:$bad: $(tail -n 2 "$tmp/log" | tr '\n' ' ')"; fi
if [ -f "$build/attnres-run.skip" ]; then
  skip "installed attnres-run: it was not built: $(cat "$build/attnres-run.skip")"
elif [ -n "$(not_native "$build/attnres-run")" ]; then
  skip "installed attnres-run runs: $(not_native "$build/attnres-run")"
elif [ "$("$prefix/bin/attnres-run" --version 2>&1)" = "attnres-run $version" ]; then
  ok "installed bin/attnres-run --version: attnres-run $version"
else fail "installed bin/attnres-run --version: '$("$prefix/bin/attnres-run" --version 2>&1 | head -n 1)'"; fi
# attnres-train needs only libc: always built, always installed
if ! cmp -s "$build/attnres-train" "$prefix/bin/attnres-train"; then
  fail "installed bin/attnres-train: missing or not the built program"
elif [ -n "$(not_native "$build/attnres-train")" ]; then
  skip "installed attnres-train runs: $(not_native "$build/attnres-train")"
elif "$prefix/bin/attnres-train" --help 2>&1 | grep -q '^usage: attnres-train TEXT'; then
  ok "installed bin/attnres-train: the built program, --help prints its usage"
else fail "installed bin/attnres-train --help: '$("$prefix/bin/attnres-train" --help 2>&1 | head -n 1)'"; fi

# ---- pkg-config finds it, and a program builds with its flags alone -----------------
cat > "$tmp/prog.c" <<'PROG'
#define ATTNRES_IMPLEMENTATION
#include <attnres.h>
#include <math.h>
#include <stdio.h>
int main(int argc, char **argv) {
    attnres_model model; attnres_state state; attnres_error err;
    float *logits; int i, finite = 1;
    if (argc < 2 || attnres_model_load(&model, argv[1], &err) != ATTNRES_OK) return 1;
    if (attnres_state_init(&state, &model.config, &err) != ATTNRES_OK) return 1;
    logits = attnres_forward(&model, &state, 1, 0, &err);
    for (i = 0; logits && i < model.config.vocab_size; i++) finite &= isfinite(logits[i]) != 0;
#ifdef ATTNRES_KERNELS
    printf("%s %d %s\n", ATTNRES_VERSION_STRING, logits != NULL && finite, attnres_kernel_name());
#else
    printf("%s %d scalar\n", ATTNRES_VERSION_STRING, logits != NULL && finite);
#endif
    attnres_state_free(&state); attnres_model_free(&model);
    return 0;
}
PROG
model=golden/block_s2.model.safetensors
if ! command -v pkg-config > /dev/null; then
  skip "pkg-config: not installed (Debian: apt-get install pkgconf); the pkg-config build was not tried"
else
  export PKG_CONFIG_PATH="$prefix/share/pkgconfig"
  got=$(pkg-config --modversion attnres 2>&1)
  if [ "$got" = "$version" ]; then ok "pkg-config --modversion attnres: $got (ATTNRES_VERSION_STRING)"
  else fail "pkg-config --modversion attnres: '$got', want '$version'"; fi
  cflags=$(pkg-config --cflags attnres 2>&1 | sed "s/ *$//"); libs=$(pkg-config --libs attnres 2>&1 | sed "s/ *$//")
  if [ "$cflags" = "-I$prefix/include" ] && [ "$libs" = "-lm" ]; then ok "pkg-config --cflags/--libs: -I\$tmp/prefix/include, -lm"
  else fail "pkg-config --cflags attnres: '$cflags', --libs: '$libs'"; fi
  # the README's line, literally: cc $(pkg-config --cflags attnres) prog.c -lm
  ( cd "$tmp" && cc $(pkg-config --cflags attnres) prog.c -lm ) > "$tmp/cc.log" 2>&1; st=$?
  out=$("$tmp/a.out" "$model" 2>&1)
  if [ "$st" -eq 0 ] && [ "$out" = "$version 1 scalar" ]; then
    ok "cc \$(pkg-config --cflags attnres) prog.c -lm: builds; it loads $model and runs forward: '$out'"
  else fail "cc \$(pkg-config --cflags attnres) prog.c -lm: exit $st, prints '$out': $(head -n 2 "$tmp/cc.log" | tr '\n' ' ')"; fi
  # the installed kernel file (its portable loops without ISA flags)
  kdir=$(pkg-config --variable=kerneldir attnres)
  ( cd "$tmp" && cc -std=c99 -O2 -ffp-contract=off $(pkg-config --cflags attnres) -c "$kdir/attnres_kernels.c" &&
    cc -std=c99 -O2 -ffp-contract=off -DATTNRES_KERNELS $(pkg-config --cflags attnres) -o k.out prog.c attnres_kernels.o \
       $(pkg-config --libs attnres) ) > "$tmp/cc.log" 2>&1; st=$?
  out=$("$tmp/k.out" "$model" 2>&1)
  case "$out" in
    "$version 1 "*) [ "$st" -eq 0 ] && ok "the installed kernel file (\$kerneldir/attnres_kernels.c) builds and runs: '$out'" ||
                     fail "installed kernel file: exit $st";;
    *) fail "installed kernel file: exit $st, prints '$out': $(head -n 2 "$tmp/cc.log" | tr '\n' ' ')";;
  esac
  unset PKG_CONFIG_PATH
fi

# ---- DESTDIR stages the files; attnres.pc keeps the real prefix ---------------------
mk install DESTDIR="$tmp/stage" PREFIX=/opt/attnres > "$tmp/log" 2>&1; st=$?
if [ "$st" -eq 0 ] && cmp -s attnres.h "$tmp/stage/opt/attnres/include/attnres.h" &&
   cmp -s "$build/attnres-train" "$tmp/stage/opt/attnres/bin/attnres-train" &&
   grep -qx "prefix=/opt/attnres" "$tmp/stage/opt/attnres/share/pkgconfig/attnres.pc"; then
  ok "make install DESTDIR=\$tmp/stage PREFIX=/opt/attnres: files under the stage, attnres.pc says prefix=/opt/attnres"
else fail "make install DESTDIR=... PREFIX=/opt/attnres: exit $st: $(tail -n 2 "$tmp/log" | tr '\n' ' ')"; fi

# ---- make uninstall leaves nothing it wrote -----------------------------------------
mk uninstall PREFIX="$prefix" > "$tmp/log" 2>&1; s1=$?
mk uninstall DESTDIR="$tmp/stage" PREFIX=/opt/attnres >> "$tmp/log" 2>&1; s2=$?
left=$(find "$prefix" "$tmp/stage" -type f | sed "s|^$tmp/||")
if [ "$s1$s2" = "00" ] && [ -z "$left" ]; then ok "make uninstall: no file left under either prefix"
else fail "make uninstall: exit $s1 $s2, left: $left"; fi

echo "# summary test_make: $passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
