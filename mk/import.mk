# mk/import.mk - real checkpoints: the importers' tests and fixtures.
#   make import-golden        rewrite golden/import/ with tools/make_import_golden.py:
#                             tiny random models in each real layout, their
#                             imported form, and the logits of each architecture's
#                             PyTorch reference (needs python3-torch)
#   make check-import-golden  regenerate them into a temporary directory and
#                             require byte-identical files
# In `make test`: test_import (C: imported models against those logits, no
# Python) and test_importers (tools/import_model.py on every layout, the
# 200+ hostile inputs of tests/hostile_imports.py, imports at the engine's
# limits loaded by attnres-run; its cases print "skip" without python3-numpy).
# Included at the end of the Makefile.

.PHONY: import-golden check-import-golden check-warnings-tokenizer unicode-tables
all: $(BUILD)/test_importers
TESTS += test_importers

$(BUILD)/test_importers: tests/test_importers.sh tests/hostile_imports.py $(BUILD)/attnres-run | $(BUILD)
	cp tests/test_importers.sh $@
	chmod +x $@

import-golden:
	$(PYTHON) tools/make_import_golden.py --out golden/import

check-import-golden:
	$(PYTHON) tools/make_import_golden.py --check golden/import

# ---- tokenizers (tools/tokenizer.c, used by attnres-run --tokenizer) ----
# test_tokenizer: C unit checks on small hand-made files (malformed input,
# hand-worked encodings). test_tokenizers: 400 texts against the JS
# reference encoders that npm fetches into $(BUILD)/npm (skips without
# node/npm/network).
all: $(BUILD)/test_tokenizer $(BUILD)/tok_dump $(BUILD)/test_tokenizers
TESTS += test_tokenizer test_tokenizers

$(BUILD)/test_tokenizer: tests/test_tokenizer.c tools/tokenizer.c tools/tokenizer.h tools/tokenizer_unicode.h tests/check.h | $(BUILD)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ tests/test_tokenizer.c tools/tokenizer.c $(LDLIBS)

$(BUILD)/tok_dump: tests/tok_dump.c tools/tokenizer.c tools/tokenizer.h tools/tokenizer_unicode.h | $(BUILD)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ tests/tok_dump.c tools/tokenizer.c $(LDLIBS)

$(BUILD)/test_tokenizers: tests/test_tokenizers.sh $(BUILD)/tok_dump | $(BUILD)
	cp tests/test_tokenizers.sh $@
	chmod +x $@

# tools/tokenizer.c is not in tests/, so check-warnings would not see it
check-warnings: check-warnings-tokenizer
check-warnings-tokenizer:
	@for cc in gcc clang; do \
	  if command -v $$cc >/dev/null; then \
	    $$cc $(STRICT) tools/tokenizer.c || exit 1; \
	    echo "warnings: none from $$cc in tools/tokenizer.c"; \
	  fi; \
	done

# the tokenizer's Unicode tables (pre-tokenizer classes, NFC) from the Unicode
# Character Database that Debian's unicode-data installs; a temporary file, so
# a failed run leaves the header as it was
unicode-tables:
	$(PYTHON) tools/make_unicode_tables.py > tools/tokenizer_unicode.h.tmp && \
	  mv tools/tokenizer_unicode.h.tmp tools/tokenizer_unicode.h || { rm -f tools/tokenizer_unicode.h.tmp; exit 1; }
