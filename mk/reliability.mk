# mk/reliability.mk - hostile input, fuzzing, valgrind and determinism.
#   make fuzz          libFuzzer on the loader, then on forward (FUZZ_SECONDS each)
#   make fuzz-coverage line coverage of attnres.h by the loader corpus
#   make valgrind      the default-build tests under valgrind (leaks, invalid reads)
#   make determinism   the same logits bits across runs and -O0/-O2/-O3
#   make regress       replay tests/regress/* (checkpoints that once broke the loader)

FUZZ_CC      ?= clang
FUZZ_SECONDS ?= 60
FUZZ_DIR     := build/fuzz
FUZZ_FLAGS   := -std=c99 -g -O1 -ffp-contract=off -fno-omit-frame-pointer \
                -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all
# FUZZ_HEADER=path/to/attnres.h fuzzes a patched copy of the header (its
# binaries live apart, so switching back rebuilds nothing by mistake)
FUZZ_BIN     := $(FUZZ_DIR)/bin
ifneq ($(FUZZ_HEADER),)
FUZZ_FLAGS   += -DATTNRES_HEADER='"$(abspath $(FUZZ_HEADER))"'
FUZZ_BIN     := $(FUZZ_DIR)/bin-patched
endif
FUZZ_DEPS    := attnres.h $(FUZZ_HEADER)

.PHONY: fuzz fuzz-build fuzz-seeds fuzz-coverage valgrind determinism regress

all: $(BUILD)/test_regress $(BUILD)/det_dump_O0 $(BUILD)/det_dump_O2 $(BUILD)/det_dump_O3 \
     $(BUILD)/det_dump_cc2 $(BUILD)/check_determinism

# a two-line wrapper, so that tests/run.sh (which runs programs from
# $(BUILD)) runs the determinism check inside make test
$(BUILD)/check_determinism: mk/reliability.mk | $(BUILD)
	@printf '#!/bin/sh\n# made by mk/reliability.mk\nexec sh tests/determinism.sh %s\n' '$(BUILD)' > $@
	@chmod +x $@

# ---------------------------------------------------------------- fuzzing
$(FUZZ_BIN)/fuzz_%: tests/fuzz_%.c $(FUZZ_DEPS)
	@mkdir -p $(FUZZ_BIN)
	$(FUZZ_CC) $(FUZZ_FLAGS) -o $@ $< -lm

fuzz-build: $(FUZZ_BIN)/fuzz_loader $(FUZZ_BIN)/fuzz_forward

# Seeds: the golden checkpoints, every regression file, and (when the
# PyTorch reference runs) tiny checkpoints whose header is most of the file,
# so that more mutations land in the JSON. The grown corpus stays in build/.
fuzz-seeds:
	@mkdir -p $(FUZZ_DIR)/corpus_loader $(FUZZ_DIR)/corpus_forward $(FUZZ_DIR)/seeds $(FUZZ_DIR)/seeds_forward
	@cp golden/*.model.safetensors $(FUZZ_DIR)/seeds/
	@if ls tests/regress/* >/dev/null 2>&1; then cp tests/regress/* $(FUZZ_DIR)/seeds/; fi
	@cd tools && $(PYTHON) -c "$$FUZZ_TINY_SEEDS" ../$(FUZZ_DIR)/seeds 2>/dev/null \
	  || echo "fuzz: PyTorch reference not available, no tiny seeds"
	@printf '\001\000\000\000\000\001\003\000\000\004\007\007\000' > $(FUZZ_DIR)/seeds_forward/forward.bin
	@ls $(FUZZ_DIR)/seeds | wc -l | sed 's/^/fuzz: seeds: /'

define FUZZ_TINY_SEEDS
import sys, torch, reference as ref
out = sys.argv[1]
g = torch.Generator().manual_seed(7)
for name, kw in [("tiny_std", dict(residual="standard")), ("tiny_full", dict(block_size=1)),
                 ("tiny_block", dict(block_size=3, n_kv_heads=1, tie_embeddings=True))]:
    kw.setdefault("residual", "attnres"); kw.setdefault("block_size", 0)
    kw.setdefault("n_kv_heads", 2); kw.setdefault("tie_embeddings", False)
    cfg = ref.Config(dim=4, hidden_dim=4, n_layers=2, n_heads=2, vocab_size=4, seq_len=4,
                     rope_theta=10000.0, norm_eps=1e-5, **kw)
    w = {n: torch.randn(*s, generator=g) for n, s in ref.tensor_names_and_shapes(cfg)}
    ref.save_checkpoint(out + "/" + name + ".safetensors", cfg, w)
endef
export FUZZ_TINY_SEEDS

# One fuzzer at a time (the machine is shared). libFuzzer stops at the
# first crash and writes the input to $(FUZZ_DIR)/crash-*; keep it as a
# regression file under tests/regress/ once fixed. Inputs are capped at
# 16 KB: the loader's logic lives in the header, and small inputs run ~50x
# faster than the 500 KB golden files (19000/s against 340/s); set
# FUZZ_MAX_LEN=600000 to mutate whole golden checkpoints.
FUZZ_MAX_LEN ?= 16384
fuzz: fuzz-build fuzz-seeds
	cd $(FUZZ_DIR) && ../../$(FUZZ_BIN)/fuzz_loader -max_total_time=$(FUZZ_SECONDS) -timeout=10 -rss_limit_mb=2048 \
	  -max_len=$(FUZZ_MAX_LEN) -print_final_stats=1 corpus_loader seeds
	cd $(FUZZ_DIR) && ../../$(FUZZ_BIN)/fuzz_forward -max_total_time=$(FUZZ_SECONDS) -timeout=10 -max_len=256 \
	  -print_final_stats=1 corpus_forward seeds_forward

# Line coverage of the loader by the grown corpus (after make fuzz).
fuzz-coverage: fuzz-seeds
	$(FUZZ_CC) -std=c99 -g -O0 -ffp-contract=off -fsanitize=fuzzer -fprofile-instr-generate -fcoverage-mapping -DFUZZ_KEEP_GOING \
	  -o $(FUZZ_DIR)/fuzz_loader_cov tests/fuzz_loader.c -lm
	cd $(FUZZ_DIR) && LLVM_PROFILE_FILE=loader.profraw ./fuzz_loader_cov -runs=0 corpus_loader seeds 2>/dev/null
	llvm-profdata merge -o $(FUZZ_DIR)/loader.profdata $(FUZZ_DIR)/loader.profraw
	llvm-cov report $(FUZZ_DIR)/fuzz_loader_cov -instr-profile=$(FUZZ_DIR)/loader.profdata

# ---------------------------------------------------------------- valgrind
# Memory errors (invalid reads/writes, uninitialised values, definite or
# indirect leaks) make valgrind exit 99; a program's own failed checks are
# reported separately, since `make test` already judges those.
VALGRIND := valgrind -q --error-exitcode=99 --leak-check=full \
            --errors-for-leak-kinds=definite,indirect --show-leak-kinds=definite,indirect
# (recursive =: TESTS may still grow in fragments included after this one;
# shell-script tests are skipped, valgrind would only see the shell)
VALGRIND_PROGS = $(TESTS) test_regress det_dump_O2
valgrind: all
	@command -v valgrind >/dev/null || { echo "valgrind not installed (apt-get install valgrind)"; exit 1; }
	@if [ "$(SAN)" = 1 ]; then echo "valgrind: use the default build, not SAN=1"; exit 1; fi
	@fail=0; pass=0; t0=$$(date +%s); for t in $(VALGRIND_PROGS); do \
	  if ! head -c 4 ./$(BUILD)/$$t | grep -q ELF; then echo "#    valgrind $$t: skipped (not a compiled program)"; continue; fi; \
	  start=$$(date +%s); $(VALGRIND) ./$(BUILD)/$$t > $(BUILD)/$$t.valgrind.log 2>&1; rc=$$?; \
	  took=$$(( $$(date +%s) - start )); \
	  if [ $$rc -eq 99 ]; then echo "FAIL valgrind $$t: memory errors ($$took s), see $(BUILD)/$$t.valgrind.log"; fail=$$((fail+1)); \
	  elif [ $$rc -ne 0 ]; then echo "ok   valgrind $$t: no memory errors ($$took s; its own checks failed, exit $$rc)"; pass=$$((pass+1)); \
	  else echo "ok   valgrind $$t: no memory errors, no leaks ($$took s)"; pass=$$((pass+1)); fi; \
	done; echo "# summary valgrind: $$pass passed, $$fail failed ($$(( $$(date +%s) - t0 )) s)"; [ $$fail -eq 0 ]

# ---------------------------------------------------------------- determinism
# det_dump at three optimisation levels; determinism.sh compares their hashes.
$(BUILD)/det_dump_O%: tests/det_dump.c attnres.h $(KERNELS) $(FLAGS_STAMP) | $(BUILD)
	$(CC) $(filter-out -O%,$(CFLAGS)) -O$* $(LDFLAGS) -o $@ $< $(KERNELS) $(LDLIBS)

# The other compiler (clang if CC is gcc, and the reverse), for information:
# determinism.sh reports whether its bits agree but does not require it.
DET_CC2 ?= $(if $(findstring clang,$(CC)),gcc,clang)
$(BUILD)/det_dump_cc2: tests/det_dump.c attnres.h $(FLAGS_STAMP) | $(BUILD)
	@if [ -z "$(KERNELS)" ] && command -v $(DET_CC2) >/dev/null; then \
	  echo "$(DET_CC2) ... -o $@"; \
	  $(DET_CC2) $(filter-out -O%,$(CFLAGS)) -O2 $(LDFLAGS) -o $@ $< $(LDLIBS) && $(DET_CC2) --version | head -n 1 > $@.cc; \
	else rm -f $@; fi

determinism: $(BUILD)/det_dump_O0 $(BUILD)/det_dump_O2 $(BUILD)/det_dump_O3 $(BUILD)/det_dump_cc2
	@sh tests/determinism.sh $(BUILD)

regress: $(BUILD)/test_regress
	@./$(BUILD)/test_regress
