# tests/lib.sh - helpers shared by the shell tests, sourced from the
# repository root (`. tests/lib.sh`), where every test runs.

# ok / fail / skip DESCRIPTION: one line, "ok   ...", "FAIL ..." or
# "skip ...", counted in passed, failed or skipped (the test sets them to 0
# and prints them in its summary line; tests/run.sh counts a skip as skipped,
# never as passed)
ok()   { echo "ok   $*"; passed=$((passed + 1)); }
fail() { echo "FAIL $*"; failed=$((failed + 1)); }
skip() { echo "skip $*"; skipped=$((skipped + 1)); }

# no_vm_measure PROG: prints why address space (ulimit -v) is no measure of
# PROG's memory, or nothing when it is. Such builds check results, not memory:
#   - PROG is a script, not an ELF program: under make test-neon every program
#     is a two-line script running qemu-aarch64, whose code buffer and guest
#     address space alone take about 1 GB;
#   - AddressSanitizer (SAN=1) reserves terabytes of shadow memory;
#   - the CUDA runtime reserves address space of its own.
no_vm_measure() {
  if ! head -c 4 "$1" 2>/dev/null | grep -q ELF; then
    echo "$1 is a script (an emulated build), whose address space includes the emulator's"
  elif grep -q __asan_init "$1" 2>/dev/null; then
    echo "$1 is built with AddressSanitizer, which reserves terabytes of address space"
  elif grep -q cudaMalloc "$1" 2>/dev/null; then
    echo "$1 links the CUDA runtime, which reserves address space of its own"
  fi
}

# vm_limit PROG KB: KB, the address space PROG may use (ulimit -v), or
# "unlimited" where no_vm_measure says address space is no measure.
vm_limit() {
  if [ -n "$(no_vm_measure "$1")" ]; then echo unlimited; else echo "$2"; fi
}

# not_native PROG: prints why PROG cannot be started directly on this machine,
# or nothing when it can: a script (make test-neon's wrapper around qemu), or
# an ELF program for another machine (its e_machine, bytes 18-19, differs from
# that of /bin/sh). Such builds run their programs through the build's own
# paths, never a copy made elsewhere (an install).
not_native() {
  if ! head -c 4 "$1" 2>/dev/null | grep -q ELF; then
    echo "$1 is a script (make test-neon wraps each aarch64 program in one), not the program"
  elif [ "$(od -An -tu1 -j18 -N2 "$1")" != "$(od -An -tu1 -j18 -N2 /bin/sh)" ]; then
    echo "$1 is a program for another machine (ELF e_machine $(od -An -tu1 -j18 -N2 "$1" | tr -s " " | sed "s/^ //"))"
  fi
}
