# mk/sizes.mk - the library where size_t has 32 bits, as in WebAssembly: a
# size past 4 GiB must be refused, never counted modulo 2^32.
#   make test-32        the tests in M32_TESTS built with gcc -m32 and run under
#                       qemu-i386 (the kernel need not run i386 programs itself);
#                       fails if the toolchain is missing
#   BUILD/TEST_m32      one of them, as a program make test runs (TESTS lists
#                       test_sizes_m32 and test_regress_m32): a script that runs
#                       BUILD/TEST_m32.i386 under qemu-i386. Without gcc -m32 or
#                       qemu-i386 it is a file BUILD/TEST_m32.skip saying why,
#                       which tests/run.sh counts as skipped, never as passed.
# Needs (Debian 12, as root):
#   apt-get install libc6-dev-i386 lib32gcc-12-dev qemu-user
# (not gcc-multilib: it conflicts with the aarch64 cross compiler of mk/neon.mk).
# Without gcc-multilib there is no /usr/include/asm, which <errno.h> includes
# under -m32; the x86 one of linux-libc-dev (M32_ASM) serves i386 and x86_64
# alike, so a link to it in M32_INCLUDE stands in.
M32_CC      ?= gcc
M32_QEMU    ?= qemu-i386
M32_ASM     ?= /usr/include/x86_64-linux-gnu/asm
M32_INCLUDE  = build/m32-include
# -msse2 -mfpmath=sse: float arithmetic in SSE registers, as on x86_64, not in
#   the x87's 80-bit ones (whose extra precision moves logits past the golden
#   tolerances); _FILE_OFFSET_BITS=64: readdir works where inodes exceed 32
#   bits; -static: qemu-i386 needs no i386 loader.
M32_FLAGS    = -m32 -msse2 -mfpmath=sse -D_FILE_OFFSET_BITS=64 -std=c99 -O2 -Wall -Wextra -pedantic -Werror \
               -ffp-contract=off -static -isystem $(M32_INCLUDE)
M32_TESTS    = test_sizes test_regress test_primitives test_model test_invariants test_two_phase test_errors test_q8 \
               test_grad test_train

# Prints why a 32-bit program cannot be built and run here, and fails; or
# prints nothing.
# The probe's files are the target's own ($@.probe*), and the asm link is
# made by one symlink() that fails harmlessly if another job made it first:
# under make -j two targets probe at once and must not see each other's
# half-written files (that once skipped a 32-bit test at random).
M32_PROBE = command -v $(M32_QEMU) >/dev/null || { echo "$(M32_QEMU) not installed (Debian: apt-get install qemu-user)"; exit 1; }; \
  mkdir -p $(M32_INCLUDE) && { [ -e /usr/include/asm ] || [ ! -d $(M32_ASM) ] || [ -e $(M32_INCLUDE)/asm ] || \
    ln -s $(M32_ASM) $(M32_INCLUDE)/asm 2>/dev/null || [ -e $(M32_INCLUDE)/asm ]; } && \
  printf '\#include <errno.h>\n\#include <math.h>\nint main(void) { return (int)sqrt((double)errno); }\n' > $@.probe.c && \
  $(M32_CC) $(M32_FLAGS) -o $@.probe $@.probe.c -lm >/dev/null 2>&1 || \
    { rm -f $@.probe.c; echo "$(M32_CC) -m32 cannot build a static program (Debian: apt-get install libc6-dev-i386 lib32gcc-12-dev)"; exit 1; }; \
  $(M32_QEMU) $@.probe || { rm -f $@.probe $@.probe.c; echo "$(M32_QEMU) cannot run a static i386 program"; exit 1; }; \
  rm -f $@.probe $@.probe.c

# the script that stands in for an i386 program X (printf format; %s is M32_QEMU)
M32_WRAPPER := \#!/bin/sh\n\# made by mk/sizes.mk: $$0.i386 is an i386 program, run under user-mode emulation\nexec %s "$$0.i386" "$$@"\n

.PHONY: test-32
$(BUILD)/%_m32: tests/%.c attnres.h tests/check.h tests/fixture.h tests/st_i32.h | $(BUILD)
	@rm -f $@ $@.i386 $@.skip
	@if reason=$$($(M32_PROBE)); then \
	  echo "$(M32_CC) $(M32_FLAGS) -o $@.i386 $< -lm"; \
	  $(M32_CC) $(M32_FLAGS) -o $@.i386 $< -lm && printf '$(M32_WRAPPER)' '$(M32_QEMU)' > $@ && chmod +x $@; \
	else echo "$$reason" > $@.skip; echo "$@: skipped: $$reason"; fi

# attnres-train as an i386 program, in a directory of its own (BUILD/m32) so
# that tests/test_train.sh runs it as it runs the native one; attnres-run is
# not built there (its .skip file says so, and the test counts that as skipped)
M32_DIR = $(BUILD)/m32
$(M32_DIR)/attnres-train: tools/attnres-train.c tools/cli_args.h tools/train_shared.h attnres.h | $(BUILD)
	@mkdir -p $(M32_DIR); rm -f $@ $@.i386
	@if reason=$$($(M32_PROBE)); then \
	  echo "$(M32_CC) $(M32_FLAGS) -o $@.i386 tools/attnres-train.c -lm"; \
	  $(M32_CC) $(M32_FLAGS) -o $@.i386 tools/attnres-train.c -lm && printf '$(M32_WRAPPER)' '$(M32_QEMU)' > $@ && chmod +x $@; \
	else echo "test-32: $$reason"; exit 1; fi
	@echo "test-32 builds attnres-train only" > $(M32_DIR)/attnres-run.skip

# every test of M32_TESTS, and no skipping: asked for by name, the toolchain must be there;
# then tests/test_train.sh on the i386 attnres-train, whose checkpoints must
# also be the x86_64 build's, byte for byte (TRAIN_TWIN)
test-32: $(addprefix $(BUILD)/,$(addsuffix _m32,$(M32_TESTS))) $(M32_DIR)/attnres-train $(BUILD)/attnres-train
	@passed=0; failed=0; for t in $(M32_TESTS) test_train_cli; do \
	  if [ -f $(BUILD)/$${t}_m32.skip ]; then echo "test-32: $$(cat $(BUILD)/$${t}_m32.skip)"; exit 1; fi; \
	  if [ $$t = test_train_cli ]; then TRAIN_TWIN=$(BUILD)/attnres-train sh tests/test_train.sh $(M32_DIR) \
	    > $(BUILD)/$${t}_m32.log 2>&1; status=$$?; \
	  else ./$(BUILD)/$${t}_m32 > $(BUILD)/$${t}_m32.log 2>&1; status=$$?; fi; \
	  grep -v '^ok ' $(BUILD)/$${t}_m32.log; \
	  line=$$(grep '^# summary ' $(BUILD)/$${t}_m32.log | tail -n 1); \
	  p=$$(echo "$$line" | sed -n 's/.*: \([0-9][0-9]*\) passed, \([0-9][0-9]*\) failed.*/\1/p'); \
	  f=$$(echo "$$line" | sed -n 's/.*: \([0-9][0-9]*\) passed, \([0-9][0-9]*\) failed.*/\2/p'); \
	  if [ -z "$$p" ] || [ -z "$$f" ]; then echo "FAIL $$t (i386) stopped with status $$status before its summary"; failed=$$((failed + 1)); \
	  else passed=$$((passed + p)); failed=$$((failed + f)); \
	    [ "$$status" -eq 0 ] || [ "$$f" -gt 0 ] || { echo "FAIL $$t (i386) exited with status $$status"; failed=$$((failed + 1)); }; fi; \
	done; echo "test-32: $$passed passed, $$failed failed (i386 under $(M32_QEMU))"; [ "$$failed" -eq 0 ]
