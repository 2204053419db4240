# mk/neon.mk - the NEON kernels of attnres_kernels.c, run on a machine that
# is not aarch64 (user-mode emulation with qemu-aarch64).
#   make test-neon           cross-compile the SIMD=1 build for aarch64 into
#                            build/neon, then `make test` on it: every test,
#                            lesson and determinism check runs under qemu
#   make test-neon OMP=1     the same with OpenMP (build/neon-omp, 2 threads)
# Needs (Debian 12, as root, ~330 MB):
#   apt-get install qemu-user gcc-aarch64-linux-gnu libc6-dev-arm64-cross
# NEON_CC, NEON_QEMU, NEON_SYSROOT, NEON_LDFLAGS, NEON_BUILD override the
# defaults (paths without spaces); e.g. NEON_LDFLAGS=-static links programs that need no sysroot
# (with OMP=1 the linker then warns about dlopen in static libgomp, harmless).
#
# How it runs without touching tests/run.sh: tests/run.sh, check_lessons.sh,
# determinism.sh and test_cli.sh start programs by their path. After the
# cross build, every aarch64 program X in NEON_BUILD (and NEON_BUILD/lessons)
# is renamed X.aarch64 and X becomes a two-line shell script that runs it
# under NEON_QEMU (same timestamp, so make does not rebuild it). Then the
# ordinary `make test` runs on that build. qemu finds the aarch64 dynamic
# loader and libraries (libc, libm, libgomp) under NEON_SYSROOT, where
# Debian's libc6-dev-arm64-cross puts them. The host's nm reads the aarch64
# objects of the ATTNRES_STATIC check (binutils' generic ELF reader).
# Afterwards test-neon also requires test_kernels to have printed
# "kernels: neon": a build that fell back to the portable loops fails.

NEON_CC      ?= aarch64-linux-gnu-gcc
NEON_SYSROOT ?= /usr/aarch64-linux-gnu
NEON_QEMU    ?= qemu-aarch64 -L $(NEON_SYSROOT)
NEON_LDFLAGS ?=
NEON_BUILD   ?= build/neon$(if $(filter 1,$(OMP)),-omp)
# the sub-makes: this build, whatever SAN/CUDA the outer make was given
NEON_MAKE     = $(MAKE) --no-print-directory SIMD=1 SAN= CUDA= CC="$(NEON_CC)" BUILD=$(NEON_BUILD)

# the script that stands in for an aarch64 program X (printf format; %s is NEON_QEMU)
NEON_WRAPPER := \#!/bin/sh\n\# made by mk/neon.mk: $$0.aarch64 is an aarch64 program, run under user-mode emulation\nexec %s "$$0.aarch64" "$$@"\n

.PHONY: test-neon
test-neon:
	@for tool in $(firstword $(NEON_CC)) $(firstword $(NEON_QEMU)); do \
	  command -v $$tool >/dev/null || { echo "test-neon: $$tool is not installed"; \
	    echo "  (Debian, as root: apt-get install qemu-user gcc-aarch64-linux-gnu libc6-dev-arm64-cross)"; exit 1; }; \
	done
	@case " $(NEON_LDFLAGS) " in *" -static "*) ;; *) \
	  test -e "$(NEON_SYSROOT)/lib/ld-linux-aarch64.so.1" || { \
	    echo "test-neon: no aarch64 loader $(NEON_SYSROOT)/lib/ld-linux-aarch64.so.1"; \
	    echo "  (set NEON_SYSROOT=DIR, or link with NEON_LDFLAGS=-static)"; exit 1; };; esac
	@# the NEON path of the kernel file, warning-free (the host's check-warnings never compiles it)
	$(NEON_CC) -std=c99 -Wall -Wextra -pedantic -Werror -fsyntax-only attnres_kernels.c
	$(NEON_CC) -std=c99 -Wall -Wextra -pedantic -Werror -fsyntax-only -fopenmp attnres_kernels.c
	@echo "warnings: none from $(NEON_CC) in attnres_kernels.c (NEON, with and without OpenMP)"
	LDFLAGS="$(NEON_LDFLAGS)" $(NEON_MAKE) all lessons
	@n=0; for f in $(NEON_BUILD)/* $(NEON_BUILD)/lessons/*; do \
	  [ -f "$$f" ] && [ -x "$$f" ] || continue; \
	  case "$$f" in *.aarch64) continue;; esac; \
	  set -- $$(od -An -tu1 -N20 "$$f"); \
	  [ "$$1 $$2 $$3 $$4 $${19}" = "127 69 76 70 183" ] || continue; \
	  mv "$$f" "$$f.aarch64" && printf '$(NEON_WRAPPER)' '$(NEON_QEMU)' > "$$f" && \
	    chmod +x "$$f" && touch -r "$$f.aarch64" "$$f" || exit 1; \
	  n=$$((n + 1)); \
	done; echo "test-neon: $$n new aarch64 programs in $(NEON_BUILD) run under $(NEON_QEMU)"
	@# -o: nothing is rebuilt now (a fresh aarch64 program would not be wrapped)
	OMP_NUM_THREADS=$${OMP_NUM_THREADS:-2} OMP_WAIT_POLICY=passive LDFLAGS="$(NEON_LDFLAGS)" $(NEON_MAKE) -o all -o lessons test
	@if grep -q '^kernels: neon' $(NEON_BUILD)/test_kernels.log; then \
	  echo "test-neon: test_kernels ran the NEON kernels ($$(grep '^kernels:' $(NEON_BUILD)/test_kernels.log))"; \
	else echo "FAIL test-neon: test_kernels did not report the NEON kernels:"; \
	  grep '^kernels:' $(NEON_BUILD)/test_kernels.log; exit 1; fi
