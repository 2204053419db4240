# attnres - GNU Make. `make help` lists the targets.
CC      ?= cc
# Compiler flags come in three parts, so that no command line can lose the
# ones the project depends on:
#   CFLAGS        optimisation and warnings: yours to replace (make CFLAGS=-O2)
#   EXTRA_CFLAGS  added after CFLAGS and the variant's flags (make EXTRA_CFLAGS=-g)
#   always        -std=c99, and strict IEEE arithmetic: never -ffast-math, no
#                 fused multiply-add either (-ffp-contract=off), so the scalar
#                 path gives the same bits at every optimisation level. They
#                 are added with `override`, which a CFLAGS given on the
#                 command line cannot switch off; so are the variants' flags.
# -O3 rather than -O2: the scalar loops measured ~3% faster (110M model, one
# thread, interleaved runs), enough to match llama2.c's run.c built -O3.
CFLAGS  ?= -O3 -Wall -Wextra -pedantic
EXTRA_CFLAGS ?=
override CFLAGS := -std=c99 $(CFLAGS)
LDLIBS  ?= -lm
# Debian's system Python is the one python3-torch installs for.
PYTHON  ?= /usr/bin/python3

# Build variants, each in its own directory:
#   DEBUG=1 -O0 -g, for stepping through in a debugger (`make debug`, docs/debugging.md)
#   SAN=1   AddressSanitizer + UndefinedBehaviorSanitizer
#   SIMD=1  the optional kernel file attnres_kernels.c (AVX2+FMA / NEON)
#   OMP=1   with SIMD=1: OpenMP over matrix rows (threads from OMP_NUM_THREADS)
#   CUDA=1  attnres_kernels.cu instead, compiled by nvcc (rules in mk/kernels.mk)
VARIANT :=
ifeq ($(DEBUG),1)
override CFLAGS := $(filter-out -O%,$(CFLAGS)) -O0 -g
VARIANT := $(VARIANT)debug
endif
ifeq ($(SAN),1)
override CFLAGS  += -g -O1 -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=all
override LDFLAGS += -fsanitize=address,undefined
VARIANT := $(VARIANT)san
endif
KERNELS :=
ifeq ($(SIMD),1)
override CFLAGS += -DATTNRES_KERNELS
KERNELS  = $(BUILD)/attnres_kernels.o
VARIANT := $(VARIANT)simd
ifeq ($(OMP),1)
override CFLAGS  += -fopenmp
override LDFLAGS += -fopenmp
VARIANT := $(VARIANT)-omp
endif
endif
ifeq ($(CUDA),1)
override CFLAGS += -DATTNRES_KERNELS
KERNELS  = $(BUILD)/attnres_kernels.o
VARIANT := $(VARIANT)cuda
endif
override CFLAGS += $(EXTRA_CFLAGS) -ffp-contract=off
BUILD   ?= build/$(if $(VARIANT),$(VARIANT),default)

# Every build directory remembers the flags that made it, in $(BUILD)/flags,
# and everything compiled into it depends on that file. The file is
# rewritten only when the text changes, so a different CC, CFLAGS,
# EXTRA_CFLAGS, LDFLAGS or LDLIBS rebuilds the directory, and the same ones
# rebuild nothing. (Recipe-time expansion: it sees flags the mk/ parts add.)
FLAGS_STAMP := $(BUILD)/flags
FLAGS_TEXT  = $(CC) $(CFLAGS) $(LDFLAGS) $(LDLIBS) $(NVCCFLAGS)
.PHONY: FORCE
$(FLAGS_STAMP): FORCE | $(BUILD)
	@flags='$(subst ','\'',$(FLAGS_TEXT))'; \
	if [ "$$flags" != "$$(cat $@ 2>/dev/null)" ]; then \
	  [ -f $@ ] && echo "flags changed: $(BUILD) is rebuilt with $$flags"; \
	  printf '%s\n' "$$flags" > $@; fi

TESTS   := test_primitives test_model test_invariants test_two_phase test_prefill test_errors test_regress test_link test_static test_import test_q8 \
           test_grad test_train test_sizes test_sizes_m32 test_regress_m32 test_docs
SOURCES := $(wildcard tests/*.c)
STRICT  := -std=c99 -Wall -Wextra -pedantic -Werror -fsyntax-only

# Plain `make` is `make all`: the first rule above (the flags stamp) would
# otherwise be the default goal, and a fresh clone would build nothing else.
.DEFAULT_GOAL := all
.PHONY: all test check-warnings golden clean help
# all: every test program, attnres-run (when the stb headers can be had), the
# lessons and numdiff (mk/*.mk add their programs as prerequisites); then,
# when `all` was asked for by name or by plain `make`, what it built and where.
all: $(addprefix $(BUILD)/,$(TESTS)) lessons
	@$(if $(filter all,$(or $(MAKECMDGOALS),all)),$(ALL_SUMMARY))

$(BUILD):
	@mkdir -p $@

$(BUILD)/test_%: tests/test_%.c attnres.h tests/check.h tests/fixture.h tests/st_i32.h $(KERNELS) $(FLAGS_STAMP) | $(BUILD)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(KERNELS) $(LDLIBS)

# two files include the header, one of them with the implementation
$(BUILD)/test_link: tests/link_impl.c tests/link_user.c attnres.h tests/check.h $(KERNELS) $(FLAGS_STAMP) | $(BUILD)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ tests/link_impl.c tests/link_user.c $(KERNELS) $(LDLIBS)

# two private copies of the implementation side by side (ATTNRES_STATIC)
$(BUILD)/static_%.o: tests/static_%.c attnres.h tests/check.h $(FLAGS_STAMP) | $(BUILD)
	$(CC) $(CFLAGS) -c -o $@ $<
$(BUILD)/test_static: $(BUILD)/static_a.o $(BUILD)/static_b.o $(KERNELS) $(FLAGS_STAMP)
	$(CC) $(LDFLAGS) -o $@ $(filter %.o,$^) $(LDLIBS)

# tests/test_docs.sh: what README.md and docs/ state, checked against the tree
# (after test_errors, whose log it reads); it sits in $(BUILD) for tests/run.sh
$(BUILD)/test_docs: tests/test_docs.sh | $(BUILD)
	cp tests/test_docs.sh $@
	chmod +x $@

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

# The summary of `make all` (recipe-time: TESTS and LESSON_NAMES are complete).
ALL_SUMMARY = echo "built into $(BUILD)/:"; \
	if [ -x $(BUILD)/attnres-run ]; then echo "  attnres-run     ./$(BUILD)/attnres-run --help"; \
	else echo "  attnres-run     not built: $$(cat $(BUILD)/attnres-run.skip 2>/dev/null)"; fi; \
	echo "  attnres-train   ./$(BUILD)/attnres-train --help (docs/training.md)"; \
	echo "  $(words $(LESSON_NAMES)) lessons      ./$(BUILD)/lessons/NN_name (docs/course.md)"; \
	echo "  numdiff         ./$(BUILD)/numdiff --help"; \
	echo "  $(words $(TESTS)) test programs  make test runs them; make demo generates text"

test: check-warnings all lessons
	@sh tests/run.sh $(BUILD) $(TESTS) check_lessons check_determinism

golden:
	$(PYTHON) tools/make_golden.py --out golden

clean:
	rm -rf build

help:
	@echo "Start here:"
	@echo "make demo          generate text with models/block.safetensors; draws build/depth_heatmap.png"
	@echo "                   (DEMO_PROMPT='...', DEMO_FLAGS='-n 100 -t 0' change the prompt and options)"
	@echo "make test          warning check, then every test; ends with 'N passed, N failed'"
	@echo "                   (', N skipped' when something could not run, e.g. test_cli without stb)"
	@echo "make lessons       build the course (lessons/*.c) and numdiff into $(BUILD)"
	@echo "make check-lessons run every lesson and diff its output with golden/lessons/"
	@echo "Building and installing:"
	@echo "make all           plain 'make': the tests, attnres-run, attnres-train, the lessons and numdiff into $(BUILD)"
	@echo "make check-warnings  every C file under gcc and clang -std=c99 -Wall -Wextra -pedantic -Werror"
	@echo "make install       header, kernel source, attnres.pc, LICENSE, attnres-run, attnres-train under PREFIX"
	@echo "                   (PREFIX=$(PREFIX); DESTDIR=DIR stages the copy for packaging)"
	@echo "make uninstall     remove what make install wrote (same PREFIX and DESTDIR)"
	@echo "make clean         remove build/"
	@echo "Other builds of the tests:"
	@echo "make test SAN=1    under AddressSanitizer + UBSan"
	@echo "make test SIMD=1   through attnres_kernels.c (AVX2+FMA / NEON); OMP=1 adds OpenMP"
	@echo "make test CUDA=1   through attnres_kernels.cu (NVCC, NVCCFLAGS, CUDA_HOME; GPU checks skip without a GPU)"
	@echo "make test-32       the tests built with gcc -m32 (a 32-bit size_t, as in WebAssembly), under qemu-i386"
	@echo "                   (M32_CC, M32_QEMU, M32_ASM)"
	@echo "make test-neon     the NEON kernels: aarch64 build under qemu-aarch64 (OMP=1 too;"
	@echo "                   NEON_CC, NEON_QEMU, NEON_SYSROOT, NEON_LDFLAGS, NEON_BUILD)"
	@echo "make bench         tokens/s of the scalar, SIMD and SIMD+OpenMP builds"
	@echo "                   (environment: BENCH_TOKENS, BENCH_REPS, BENCH_SHAPES, BENCH_BW_MB, BENCH_HUGEPAGES)"
	@echo "make bench-prefill a 256-token prompt at the 110M shape: token by token vs batched"
	@echo "                   (environment: BENCH_PREFILL, BENCH_REPS, BENCH_SHAPES)"
	@echo "make bench-train   training tokens/s: attnres-train (SIMD+OpenMP) vs tools/experiment.py (PyTorch+OpenBLAS)"
	@echo "Reliability:"
	@echo "make regress       replay tests/regress/ (inputs that once got through)"
	@echo "make valgrind      the tests under valgrind: no invalid reads, no leaks"
	@echo "make determinism   the same logits bits across runs, at -O0/-O2/-O3 and with DET_CC2"
	@echo "make fuzz          libFuzzer on the loader, then on forward (FUZZ_CC, FUZZ_SECONDS, FUZZ_MAX_LEN,"
	@echo "                   FUZZ_HEADER=path to fuzz a patched header)"
	@echo "make fuzz-build    build the fuzz harnesses only"
	@echo "make fuzz-seeds    write the fuzzers' seed inputs only"
	@echo "make fuzz-coverage line coverage of attnres.h by the loader corpus"
	@echo "PyTorch tools (python3-torch; PYTHON=$(PYTHON)):"
	@echo "make golden        regenerate golden/ with the PyTorch reference"
	@echo "make corpus        regenerate models/corpus_*.txt"
	@echo "make train         retrain models/ (TRAIN_BLAS=DIR: a BLAS for the training process)"
	@echo "make train-blas    fetch Debian's OpenBLAS into build/openblas, for TRAIN_BLAS"
	@echo "make generate-golden  the PyTorch reference's greedy generations, golden/generate/"
	@echo "make update-lessons LESSON=NN_name  for lesson authors: rewrite its golden/lessons/ file"
	@echo "make kjv-corpus    build/corpus/kjv/ from Debian's bible-kjv"
	@echo "make experiments-quick  try the experiment kit: 6 short runs, build/experiments/quick/ (~4 min)"
	@echo "make experiments   the full depth x residual x seed sweep and ablations (~50 min; resumable)"
	@echo "make experiments-long  the L = 32 models with 4x the training (~15 min)"
	@echo "make experiments-grammar  the sweep's grid on the generated grammar text (~20 min)"
	@echo "make experiments-round2  round 2 (docs/experiments/round2/PLAN.md): many hours, resumable; runs to docs/"
	@echo "make experiments-publish  copy the full sweep's results and models to docs/ and models/experiments/"
	@echo "make test-ddp      1 process vs torchrun with 2 (TORCHRUN): same loss curve"
	@echo "make import-golden rewrite golden/import/ (real-layout tiny models + their PyTorch references)"
	@echo "make check-import-golden  regenerate golden/import/ elsewhere and require identical bytes"
	@echo "make unicode-tables  regenerate tools/tokenizer_unicode.h (Unicode classes and NFC; needs unicode-data)"
	@echo "Debugging and the browser:"
	@echo "make debug         tests, lessons and attnres-run at -O0 -g into build/debug (docs/debugging.md)"
	@echo "make check-debug   make debug, then the gdb session of docs/debugging.md, run as written"
	@echo "make web           the lab in a browser: attnres.h as WebAssembly (EMCC) + page, in build/web"
	@echo "make web-serve     serve build/web (WEB_BUILD) on http://127.0.0.1:8000/ (WEB_PORT)"
	@echo "make test-web      wasm vs native bit for bit (NODE), then the page in headless Chromium (CHROMIUM;"
	@echo "                   WEB_NPM=no: never run npm ci; EMFLAGS: the emcc flags)"
	@echo "make help          this list"
	@echo "Variables: CC, CFLAGS (replaces -O3 -Wall -Wextra -pedantic), EXTRA_CFLAGS (added after it),"
	@echo "  LDFLAGS, LDLIBS, BUILD (default build/default or build/<variant>),"
	@echo "  DEBUG, SAN, SIMD, OMP, CUDA, PYTHON, PREFIX, DESTDIR; -std=c99 -ffp-contract=off are always added;"
	@echo "  STB_INCLUDE (default /usr/include/stb), STB_INSTALL=no: never apt-get install libstb-dev"

# The rest lives in parts, each with its targets listed at its top:
#   mk/lessons.mk      the course: lessons, check-lessons, update-lessons, numdiff
#   mk/run.mk          attnres-run, its tests, make demo
#   mk/train.mk        PyTorch training and golden generations (needs python3-torch)
#   mk/kernels.mk      the kernel file (SIMD=1, CUDA=1), test_kernels, make bench
#   mk/reliability.mk  fuzz, valgrind, determinism, regress
#   mk/neon.mk         make test-neon: the NEON kernels under qemu-aarch64
#   mk/sizes.mk        make test-32: the tests with a 32-bit size_t, under qemu-i386
#   mk/experiments.mk  the depth x residual sweeps, test-ddp (needs python3-torch)
#   mk/debug.mk        make debug (-O0 -g into build/debug), check-debug (the gdb session)
#   mk/web.mk          web, web-serve, test-web: the page and its WebAssembly build
#   mk/import.mk       real checkpoints: importer tests, make import-golden
#   mk/install.mk      install, uninstall, attnres.pc; test_make (help, install)
include mk/lessons.mk mk/run.mk mk/train.mk mk/kernels.mk mk/reliability.mk mk/neon.mk mk/sizes.mk mk/experiments.mk \
        mk/debug.mk mk/web.mk mk/install.mk mk/import.mk
