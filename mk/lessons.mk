# mk/lessons.mk - the course (lessons/*.c), its golden outputs, and numdiff.
#   make lessons          build every lessons/NN_name.c into $(BUILD)/lessons/,
#                         tools/numdiff.c into $(BUILD)/numdiff
#   make check-lessons    run every lesson from the repository root and diff its
#                         output with golden/lessons/NN_name.txt (numdiff)
#   make update-lessons LESSON=NN_name
#                         FOR AUTHORS: rewrite golden/lessons/NN_name.txt from
#                         this build (without LESSON=: every lesson's). Read
#                         every changed line before committing: the golden
#                         text is what a lesson SHOULD print, not merely what
#                         it printed.
# Included at the end of the Makefile (CC, CFLAGS, LDFLAGS, LDLIBS, BUILD and
# KERNELS are set). $(BUILD)/check_lessons is a two-line wrapper so that
# tests/run.sh, which runs programs from $(BUILD), can run the check too.

LESSON_SOURCES := $(sort $(wildcard lessons/*.c))
LESSON_NAMES   := $(basename $(notdir $(LESSON_SOURCES)))
LESSON_BINS    := $(addprefix $(BUILD)/lessons/,$(LESSON_NAMES))

.PHONY: lessons check-lessons update-lessons check-warnings-lessons
lessons: $(LESSON_BINS) $(BUILD)/numdiff $(BUILD)/check_lessons

$(BUILD)/lessons:
	@mkdir -p $@

# each lesson is one file: the header's implementation is compiled into it
$(BUILD)/lessons/%: lessons/%.c attnres.h $(KERNELS) $(FLAGS_STAMP) | $(BUILD)/lessons
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(KERNELS) $(LDLIBS)

# numdiff does not include attnres.h, so the kernel object stays out of it
$(BUILD)/numdiff: tools/numdiff.c $(FLAGS_STAMP) | $(BUILD)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ tools/numdiff.c $(LDLIBS)

$(BUILD)/check_lessons: mk/lessons.mk | $(BUILD)
	@printf '#!/bin/sh\n# made by mk/lessons.mk: runs the lesson check on this build\nexec sh tests/check_lessons.sh %s\n' '$(BUILD)' > $@
	@chmod +x $@

check-lessons: lessons
	@sh tests/check_lessons.sh $(BUILD)

LESSON ?= $(LESSON_NAMES)
update-lessons: lessons
	@mkdir -p golden/lessons
	@for name in $(LESSON); do \
	  [ -f lessons/$$name.c ] || { echo "no lesson lessons/$$name.c"; exit 1; }; \
	  ./$(BUILD)/lessons/$$name > golden/lessons/$$name.txt.new || \
	    { echo "lesson $$name failed; golden/lessons/$$name.txt left as it was"; rm -f golden/lessons/$$name.txt.new; exit 1; }; \
	  mv golden/lessons/$$name.txt.new golden/lessons/$$name.txt; \
	  echo "wrote golden/lessons/$$name.txt"; \
	done
	@echo "now READ the changes (git diff golden/lessons) and check every number you can by hand"

# the lessons and numdiff under the same strict warning check as tests/*.c
check-warnings: check-warnings-lessons
check-warnings-lessons:
	@for cc in gcc clang; do \
	  if command -v $$cc >/dev/null; then \
	    for f in $(LESSON_SOURCES) tools/numdiff.c; do $$cc $(STRICT) $$f || exit 1; done; \
	    echo "warnings: none from $$cc in lessons/*.c and tools/numdiff.c"; \
	  fi; \
	done
