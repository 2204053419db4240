# mk/import.mk - real checkpoints: the importers' tests and fixtures.
#   make import-golden        rewrite golden/import/ with tools/make_import_golden.py:
#                             tiny random models in each real layout, their
#                             imported form, and the logits of each architecture's
#                             PyTorch reference (needs python3-torch)
#   make check-import-golden  regenerate them into a temporary directory and
#                             require byte-identical files
# In `make test`: test_import (C: imported models against those logits, no
# Python) and test_importers (tools/import_model.py on every layout; its
# cases print "skip" without python3-numpy).
# Included at the end of the Makefile.

.PHONY: import-golden check-import-golden
all: $(BUILD)/test_importers
TESTS += test_importers

$(BUILD)/test_importers: tests/test_importers.sh | $(BUILD)
	cp tests/test_importers.sh $@
	chmod +x $@

import-golden:
	$(PYTHON) tools/make_import_golden.py --out golden/import

check-import-golden:
	$(PYTHON) tools/make_import_golden.py --check golden/import
