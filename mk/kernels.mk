# mk/kernels.mk - the optional kernel file, its test, and `make bench`.
#   make test SIMD=1 [OMP=1]             attnres_kernels.c (AVX2+FMA / NEON / portable)
#   make test CUDA=1                     attnres_kernels.cu with nvcc (see below)
#   make bench                           tokens/s: scalar, SIMD, SIMD+OpenMP builds
#   make bench-prefill                   a 256-token prompt: token by token vs batched
#   make bench-train                     training tokens/s: attnres-train vs PyTorch
# Included at the end of the Makefile, so CC, CFLAGS, BUILD, KERNELS, TESTS
# are already set. Target and prerequisite lists of the Makefile were
# expanded when it was read; a rule here may only ADD prerequisites.

# Instruction-set flags for attnres_kernels.c only; the rest of the build
# stays plain. x86-64: AVX2+FMA. aarch64: NEON needs no flag. Others: the
# file's portable scalar loops.
KERNEL_ISA := $(if $(findstring x86_64,$(shell $(CC) -dumpmachine 2>/dev/null)),-mavx2 -mfma)

# ---------------------------------------------------------------- CUDA=1
# nvcc compiles attnres_kernels.cu (the Makefile's CUDA=1 already adds
# -DATTNRES_KERNELS and builds into build/cuda); C files are built as usual
# and linked with libcudart.
ifeq ($(CUDA),1)
NVCC      ?= nvcc
CUDA_HOME ?= $(patsubst %/bin/,%,$(dir $(shell command -v $(NVCC) 2>/dev/null)))
override CFLAGS += -DATTNRES_CUDA
LDLIBS  += -L$(CUDA_HOME)/lib64 -Wl,-rpath,$(CUDA_HOME)/lib64 -lcudart -lstdc++
NVCCFLAGS ?= -O2 -std=c++17 -Xcompiler -Wall,-Wextra,-ffp-contract=off
TESTS   += test_kernels
all: $(BUILD)/test_kernels

$(BUILD)/attnres_kernels.o: attnres_kernels.cu attnres.h $(FLAGS_STAMP) | $(BUILD)
	$(NVCC) $(NVCCFLAGS) -c -o $@ $<

# ---------------------------------------------------------------- SIMD=1
else ifeq ($(SIMD),1)
TESTS   += test_kernels
all: $(BUILD)/test_kernels

$(BUILD)/attnres_kernels.o: attnres_kernels.c attnres.h $(FLAGS_STAMP) | $(BUILD)
	$(CC) $(CFLAGS) $(KERNEL_ISA) -c -o $@ $<
endif

# ---------------------------------------------------------------- warnings
# The kernel file and the bench are not in tests/, so check-warnings would
# not see them. Each is checked in the variants a user can build: the
# portable loops, AVX2+FMA, and AVX2+FMA with OpenMP (clang finds omp.h
# only with libomp-dev installed; without it that one check says skipped);
# clang also checks the NEON variant by cross-target syntax check.
check-warnings: check-warnings-kernels
check-warnings-kernels:
	@for cc in gcc clang; do \
	  if command -v $$cc >/dev/null; then \
	    for isa in "" $(if $(KERNEL_ISA),"$(KERNEL_ISA)"); do \
	      $$cc $(STRICT) $$isa attnres_kernels.c || exit 1; \
	      $$cc $(STRICT) $$isa -DATTNRES_KERNELS tools/bench.c || exit 1; \
	    done; \
	    if echo '#include <omp.h>' | $$cc -fopenmp -x c -fsyntax-only - 2>/dev/null; then \
	      $$cc $(STRICT) $(KERNEL_ISA) -fopenmp attnres_kernels.c || exit 1; \
	      $$cc $(STRICT) $(KERNEL_ISA) -fopenmp -DATTNRES_KERNELS tools/bench.c || exit 1; \
	    else echo "warnings: $$cc -fopenmp skipped, no omp.h (install libomp-dev for clang)"; fi; \
	    echo "warnings: none from $$cc in attnres_kernels.c and tools/bench.c"; \
	  fi; \
	done
	@# the probe includes what the kernel file includes: an empty file would pass
	@# even where the aarch64 C headers are missing, and the real check then fail
	@if ! command -v clang >/dev/null; then :; \
	elif printf '#include <math.h>\n#include <stdio.h>\n#include <arm_neon.h>\n' | \
	     clang --target=aarch64-linux-gnu -std=c99 -fsyntax-only -x c - 2>/dev/null; then \
	  clang --target=aarch64-linux-gnu $(STRICT) attnres_kernels.c || exit 1; \
	  echo "warnings: none from clang --target=aarch64-linux-gnu (NEON) in attnres_kernels.c"; \
	else echo "warnings: clang aarch64 (NEON) check skipped, no aarch64 headers (apt-get install libc6-dev-arm64-cross)"; fi

# ---------------------------------------------------------------- bench
# Three builds of the same tools/bench.c, run one after another; each has
# int8 rows too (q8: standard and block with attnres_model_quantize). Fixed
# flags (the default build's), whatever SAN/SIMD/OMP say, so the numbers
# mean the same thing every time. BENCH_TOKENS, BENCH_REPS, BENCH_SHAPES,
# BENCH_BW_MB (environment) shorten or lengthen the run.
BENCH_DIR    := build/bench
BENCH_CFLAGS := -std=c99 -O3 -Wall -Wextra -pedantic -ffp-contract=off
BENCH_BUILDS := scalar simd simd-omp

.PHONY: bench
bench: $(addsuffix /bench,$(addprefix $(BENCH_DIR)/,$(BENCH_BUILDS)))
	@rm -f $(BENCH_DIR)/rows.md
	@for b in $(BENCH_BUILDS); do \
	  echo "== build $$b"; \
	  ./$(BENCH_DIR)/$$b/bench $(BENCH_DIR)/rows.md || exit 1; \
	done
	@echo; echo "== all builds"; \
	echo "| shape | mode | build | tok/s | vs standard | MB/token | of bw limit |"; \
	echo "|---|---|---|---:|---:|---:|---:|"; \
	cat $(BENCH_DIR)/rows.md

# The prompt benchmark: a 256-token prompt at the 110M shape, token by
# token against attnres_prefill's batched path, interleaved in one process,
# in the SIMD+OpenMP build (OMP_NUM_THREADS threads; the scalar build would
# take minutes per prompt). BENCH_PREFILL, BENCH_REPS, BENCH_SHAPES override.
.PHONY: bench-prefill
bench-prefill: $(BENCH_DIR)/simd-omp/bench $(BENCH_DIR)/simd/bench
	@for b in simd simd-omp; do \
	  echo "== build $$b"; \
	  BENCH_PREFILL=$${BENCH_PREFILL:-256} BENCH_SHAPES=$${BENCH_SHAPES:-110M} BENCH_REPS=$${BENCH_REPS:-5} \
	    ./$(BENCH_DIR)/$$b/bench || exit 1; \
	done

# Training tokens/s, attnres-train (SIMD+OpenMP) against tools/experiment.py
# (PyTorch with OpenBLAS) on the experiment's shapes, interleaved; needs
# Debian's torch and OpenBLAS unpacked into build/openblas (the script's
# header says how). THREADS, STEPS, ROUNDS, DIMS, DEPTHS, MODES override.
.PHONY: bench-train
bench-train:
	$(MAKE) SIMD=1 OMP=1 build/simd-omp/attnres-train
	sh tools/bench_train.sh build/simd-omp/attnres-train

$(BENCH_DIR)/scalar/bench: tools/bench.c attnres.h
	@mkdir -p $(@D)
	$(CC) $(BENCH_CFLAGS) -o $@ tools/bench.c -lm

$(BENCH_DIR)/simd/attnres_kernels.o: attnres_kernels.c attnres.h
	@mkdir -p $(@D)
	$(CC) $(BENCH_CFLAGS) -DATTNRES_KERNELS $(KERNEL_ISA) -c -o $@ attnres_kernels.c
$(BENCH_DIR)/simd/bench: tools/bench.c attnres.h $(BENCH_DIR)/simd/attnres_kernels.o
	$(CC) $(BENCH_CFLAGS) -DATTNRES_KERNELS -o $@ tools/bench.c $(@D)/attnres_kernels.o -lm

$(BENCH_DIR)/simd-omp/attnres_kernels.o: attnres_kernels.c attnres.h
	@mkdir -p $(@D)
	$(CC) $(BENCH_CFLAGS) -fopenmp -DATTNRES_KERNELS $(KERNEL_ISA) -c -o $@ attnres_kernels.c
$(BENCH_DIR)/simd-omp/bench: tools/bench.c attnres.h $(BENCH_DIR)/simd-omp/attnres_kernels.o
	$(CC) $(BENCH_CFLAGS) -fopenmp -DATTNRES_KERNELS -o $@ tools/bench.c $(@D)/attnres_kernels.o -lm
