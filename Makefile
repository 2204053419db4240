# attnres - GNU Make. `make help` lists the targets.
CC      ?= cc
# -O3 rather than -O2: the scalar loops measured ~3% faster (110M model, one
# thread, interleaved runs), enough to match llama2.c's run.c built -O3.
CFLAGS  ?= -std=c99 -O3 -Wall -Wextra -pedantic
# Strict IEEE arithmetic: never -ffast-math; no fused multiply-add either, so
# the scalar path gives the same bits at every optimisation level.
CFLAGS  += -ffp-contract=off
LDLIBS  ?= -lm
# Debian's system Python is the one python3-torch installs for.
PYTHON  ?= /usr/bin/python3

# Build variants, each in its own directory:
#   SAN=1   AddressSanitizer + UndefinedBehaviorSanitizer
#   SIMD=1  the optional kernel file attnres_kernels.c (AVX2+FMA / NEON)
#   OMP=1   with SIMD=1: OpenMP over matrix rows (threads from OMP_NUM_THREADS)
#   CUDA=1  attnres_kernels.cu instead, compiled by nvcc (rules in mk/kernels.mk)
VARIANT :=
ifeq ($(SAN),1)
CFLAGS  += -g -O1 -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=all
LDFLAGS += -fsanitize=address,undefined
VARIANT := $(VARIANT)san
endif
KERNELS :=
ifeq ($(SIMD),1)
CFLAGS  += -DATTNRES_KERNELS
KERNELS  = $(BUILD)/attnres_kernels.o
VARIANT := $(VARIANT)simd
ifeq ($(OMP),1)
CFLAGS  += -fopenmp
LDFLAGS += -fopenmp
VARIANT := $(VARIANT)-omp
endif
endif
ifeq ($(CUDA),1)
CFLAGS  += -DATTNRES_KERNELS
KERNELS  = $(BUILD)/attnres_kernels.o
VARIANT := $(VARIANT)cuda
endif
BUILD   ?= build/$(if $(VARIANT),$(VARIANT),default)

TESTS   := test_primitives test_model test_invariants test_two_phase test_q8 test_errors test_regress test_link test_static
SOURCES := $(wildcard tests/*.c)
STRICT  := -std=c99 -Wall -Wextra -pedantic -Werror -fsyntax-only

.PHONY: all test check-warnings golden clean help
all: $(addprefix $(BUILD)/,$(TESTS))

$(BUILD):
	@mkdir -p $@

$(BUILD)/test_%: tests/test_%.c attnres.h tests/check.h tests/fixture.h tests/st_i32.h $(KERNELS) | $(BUILD)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(KERNELS) $(LDLIBS)

# two files include the header, one of them with the implementation
$(BUILD)/test_link: tests/link_impl.c tests/link_user.c attnres.h tests/check.h $(KERNELS) | $(BUILD)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ tests/link_impl.c tests/link_user.c $(KERNELS) $(LDLIBS)

# two private copies of the implementation side by side (ATTNRES_STATIC)
$(BUILD)/static_%.o: tests/static_%.c attnres.h tests/check.h | $(BUILD)
	$(CC) $(CFLAGS) -c -o $@ $<
$(BUILD)/test_static: $(BUILD)/static_a.o $(BUILD)/static_b.o $(KERNELS)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# every C file, warning-free under gcc and clang; the header also as C++
check-warnings:
	@for cc in gcc clang; do \
	  if command -v $$cc >/dev/null; then \
	    for f in $(SOURCES); do $$cc $(STRICT) $$f || exit 1; done; \
	    echo "warnings: none from $$cc -std=c99 -Wall -Wextra -pedantic"; \
	  else echo "warnings: $$cc not installed, skipped"; fi; \
	done
	@if command -v g++ >/dev/null; then \
	  g++ -x c++ -Wall -Wextra -pedantic -Werror -fsyntax-only -DATTNRES_IMPLEMENTATION attnres.h && \
	  echo "warnings: none from g++ compiling attnres.h as C++"; fi

test: check-warnings all lessons
	@sh tests/run.sh $(BUILD) $(TESTS) check_lessons check_determinism

golden:
	$(PYTHON) tools/make_golden.py --out golden

clean:
	rm -rf build

help:
	@echo "make               build the tests (into $(BUILD))"
	@echo "make test          warning check, then every test; ends with 'N passed, N failed'"
	@echo "                   (', N skipped' when a test could not be built: test_cli without stb)"
	@echo "make test SAN=1    the same under AddressSanitizer + UBSan"
	@echo "make test SIMD=1   the same through attnres_kernels.c (AVX2+FMA); OMP=1 adds OpenMP"
	@echo "make test CUDA=1   the same through attnres_kernels.cu (nvcc; GPU checks skip without a GPU)"
	@echo "make test-neon     the same through the NEON kernels: aarch64 build run under qemu-aarch64 (OMP=1 too)"
	@echo "make bench         tokens/s of the scalar, SIMD and SIMD+OpenMP builds (BENCH_TOKENS, BENCH_REPS)"
	@echo "make demo          generate text with models/block.safetensors; draws build/depth_heatmap.png"
	@echo "make lessons       build the course (lessons/*.c) and numdiff into $(BUILD)"
	@echo "make check-lessons run every lesson and diff its output with golden/lessons/"
	@echo "make golden        regenerate golden/ with the PyTorch reference (PYTHON=$(PYTHON))"
	@echo "make valgrind      the tests under valgrind: no invalid reads, no leaks"
	@echo "make determinism   the same logits bits across runs and at -O0/-O2/-O3"
	@echo "make fuzz          libFuzzer on the loader, then on forward (FUZZ_SECONDS each)"
	@echo "make regress       replay tests/regress/ (inputs that once got through)"
	@echo "make train         retrain models/ with tools/train.py (PyTorch; see README)"
	@echo "make generate-golden  the PyTorch reference's greedy generations, golden/generate/"
	@echo "make experiments-quick  try the experiment kit: 6 short runs, build/experiments/quick/ (~4 min)"
	@echo "make experiments   the full depth x residual x seed sweep and ablations (~50 min; resumable)"
	@echo "make experiments-long  the L = 32 models with 4x the training (~15 min)"
	@echo "make experiments-grammar  the sweep's grid on the generated grammar text (~20 min)"
	@echo "make experiments-publish  copy the full sweep's results and models to docs/ and models/experiments/"
	@echo "make test-ddp      1 process vs torchrun with 2 (DistributedDataParallel): same loss curve"
	@echo "make clean         remove build/"
	@echo "variables: CC, CFLAGS, LDLIBS, PYTHON, SAN, SIMD, OMP, CUDA, NVCC"
	@echo "  STB_INCLUDE (default /usr/include/stb), STB_INSTALL=no: never apt-get install libstb-dev"

# The rest lives in parts, each with its targets listed at its top:
#   mk/lessons.mk      the course: lessons, check-lessons, update-lessons, numdiff
#   mk/run.mk          attnres-run, its tests, make demo
#   mk/train.mk        PyTorch training and golden generations (needs python3-torch)
#   mk/kernels.mk      the kernel file (SIMD=1, CUDA=1), test_kernels, make bench
#   mk/reliability.mk  fuzz, valgrind, determinism, regress
#   mk/neon.mk         make test-neon: the NEON kernels under qemu-aarch64
#   mk/experiments.mk  the depth x residual sweeps, test-ddp (needs python3-torch)
include mk/lessons.mk mk/run.mk mk/train.mk mk/kernels.mk mk/reliability.mk mk/neon.mk mk/experiments.mk
