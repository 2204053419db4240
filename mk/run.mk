# mk/run.mk - attnres-run (text generation and the depth-attention heatmap),
# its tests, and `make demo`. Included at the end of the Makefile.
#   make demo                        generate with models/block.safetensors and
#                                    draw build/depth_heatmap.png
#   make $(BUILD)/attnres-run        just the program
# attnres-run writes PNGs with stb_image_write.h and draws labels with
# stb_easy_font.h (Debian: apt-get install libstb-dev); STB_INCLUDE is the
# directory holding them.
STB_INCLUDE ?= /usr/include/stb
DEMO_PROMPT ?= The little robot
DEMO_FLAGS  ?= -n 200 -t 0.5 --top-p 0.9 -s 42

.PHONY: demo check-warnings-run

all: $(BUILD)/attnres-run $(BUILD)/test_generate $(BUILD)/test_cli
TESTS += test_generate test_cli

# -isystem: warnings in the stb headers are theirs, not ours
$(BUILD)/attnres-run: tools/attnres-run.c attnres.h $(KERNELS) | $(BUILD)
	@test -f $(STB_INCLUDE)/stb_image_write.h && test -f $(STB_INCLUDE)/stb_easy_font.h || \
	  { echo "attnres-run needs stb_image_write.h and stb_easy_font.h in STB_INCLUDE=$(STB_INCLUDE)"; \
	    echo "(Debian: apt-get install libstb-dev; elsewhere: make STB_INCLUDE=DIR)"; exit 1; }
	$(CC) $(CFLAGS) -isystem $(STB_INCLUDE) $(LDFLAGS) -o $@ $< $(KERNELS) $(LDLIBS)

# the shell test sits next to the programs so tests/run.sh runs it like them
$(BUILD)/test_cli: tests/test_cli.sh $(BUILD)/attnres-run | $(BUILD)
	cp tests/test_cli.sh $@
	chmod +x $@

# tools/attnres-run.c is not in tests/, so check-warnings does not see it
check-warnings: check-warnings-run
check-warnings-run:
	@for cc in gcc clang; do \
	  if command -v $$cc >/dev/null; then \
	    $$cc $(STRICT) -isystem $(STB_INCLUDE) tools/attnres-run.c || exit 1; \
	    echo "warnings: none from $$cc in tools/attnres-run.c"; \
	  fi; \
	done

demo: $(BUILD)/attnres-run
	@test -f models/block.safetensors || \
	  { echo "models/block.safetensors is missing: it comes from the training tools (see README)"; exit 1; }
	@mkdir -p build
	./$(BUILD)/attnres-run models/block.safetensors -p "$(DEMO_PROMPT)" $(DEMO_FLAGS) \
	  --heatmap build/depth_heatmap.png
	@echo "the depth-attention heatmap is in build/depth_heatmap.png"
