# mk/run.mk - attnres-run (text generation and the depth-attention heatmap), attnres-train,
# its tests, and `make demo`. Included at the end of the Makefile.
#   make demo                        generate with models/block.safetensors and
#                                    draw build/depth_heatmap.png
#   make $(BUILD)/attnres-run        just the program
# attnres-run writes PNGs with stb_image_write.h and draws labels with
# stb_easy_font.h (Debian: libstb-dev); STB_INCLUDE is the directory holding
# them. Only attnres-run and test_cli need them, never the library.
# When a goal builds attnres-run and the headers are missing, mk/stb.sh (run
# by the `stb` prerequisite, at recipe time: clean, help, golden, lessons...
# never trigger it) installs Debian's libstb-dev if it can (root, apt-get,
# STB_INCLUDE left at /usr/include/stb), saying so. Where it cannot, or with
# STB_INSTALL=no, it prints the one command to run and writes the reason into
# $(BUILD)/stb-missing; attnres-run and test_cli are then not built but get
# a NAME.skip file, which tests/run.sh reports as SKIP (never as a pass), and
# make demo stops with the message (exit 1).
STB_INCLUDE ?= /usr/include/stb
STB_INSTALL ?= auto
STB_MISSING := $(BUILD)/stb-missing
DEMO_PROMPT ?= The little robot
DEMO_FLAGS  ?= -n 200 -t 0.5 --top-p 0.9 -s 42

.PHONY: demo check-warnings-run stb

all: $(BUILD)/attnres-run $(BUILD)/test_generate $(BUILD)/test_cli
TESTS += test_generate test_cli

# the headers, installed if they can be (see the top); once per make run
stb: | $(BUILD)
	@sh mk/stb.sh '$(STB_INCLUDE)' '$(STB_INSTALL)' '$(STB_MISSING)'

# -isystem: warnings in the stb headers are theirs, not ours. Without the
# headers: no program (an old one would be stale), a .skip file instead.
$(BUILD)/attnres-run: tools/attnres-run.c tools/cli_args.h tools/tokenizer.c tools/tokenizer.h attnres.h $(KERNELS) $(FLAGS_STAMP) | $(BUILD) stb
	@if [ -f $(STB_MISSING) ]; then \
	  rm -f $@; cp $(STB_MISSING) $@.skip; echo "skip $@: $$(cat $(STB_MISSING))"; \
	else \
	  rm -f $@.skip; \
	  echo '$(CC) $(CFLAGS) -isystem $(STB_INCLUDE) $(LDFLAGS) -o $@ $< tools/tokenizer.c $(KERNELS) $(LDLIBS)'; \
	  $(CC) $(CFLAGS) -isystem $(STB_INCLUDE) $(LDFLAGS) -o $@ $< tools/tokenizer.c $(KERNELS) $(LDLIBS); \
	fi

# the shell test sits next to the programs so tests/run.sh runs it like them;
# it is skipped (test_cli.skip) when attnres-run could not be built
$(BUILD)/test_cli: tests/test_cli.sh $(BUILD)/attnres-run | $(BUILD)
	cp tests/test_cli.sh $@
	chmod +x $@
	@if [ -f $(BUILD)/attnres-run.skip ]; then cp $(BUILD)/attnres-run.skip $@.skip; else rm -f $@.skip; fi

# tools/attnres-run.c is not in tests/, so check-warnings does not see it
check-warnings: check-warnings-run
check-warnings-run: | stb
	@if [ -f $(STB_MISSING) ]; then \
	  echo "warnings: tools/attnres-run.c skipped: $$(cat $(STB_MISSING))"; \
	else for cc in gcc clang; do \
	  if command -v $$cc >/dev/null; then \
	    $$cc $(STRICT) -isystem $(STB_INCLUDE) tools/attnres-run.c || exit 1; \
	    echo "warnings: none from $$cc in tools/attnres-run.c"; \
	  fi; \
	done; fi

demo: $(BUILD)/attnres-run
	@test -x $(BUILD)/attnres-run || \
	  { echo "make demo: attnres-run was not built: $$(cat $(BUILD)/attnres-run.skip)"; exit 1; }
	@test -f models/block.safetensors || \
	  { echo "models/block.safetensors is missing: it comes from the training tools (see README)"; exit 1; }
	@mkdir -p build
	./$(BUILD)/attnres-run models/block.safetensors -p "$(DEMO_PROMPT)" $(DEMO_FLAGS) \
	  --heatmap build/depth_heatmap.png
	@echo "the depth-attention heatmap is in build/depth_heatmap.png"

# attnres-train: the C trainer (docs/training.md); needs nothing beyond libc.
# test_train_cli runs it end to end (tests/test_train.sh); without the stb
# headers only its load-and-generate check (attnres-run) is skipped.
all: $(BUILD)/attnres-train $(BUILD)/test_train_cli
TESTS += test_train_cli

$(BUILD)/attnres-train: tools/attnres-train.c tools/cli_args.h tools/train_shared.h attnres.h $(KERNELS) $(FLAGS_STAMP) | $(BUILD)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(KERNELS) $(LDLIBS)

$(BUILD)/test_train_cli: tests/test_train.sh $(BUILD)/attnres-train $(BUILD)/attnres-run | $(BUILD)
	cp tests/test_train.sh $@
	chmod +x $@
	@rm -f $@.skip

check-warnings: check-warnings-train
.PHONY: check-warnings-train
check-warnings-train:
	@for cc in gcc clang; do \
	  if command -v $$cc >/dev/null; then \
	    $$cc $(STRICT) tools/attnres-train.c || exit 1; \
	    echo "warnings: none from $$cc in tools/attnres-train.c"; \
	  fi; \
	done
