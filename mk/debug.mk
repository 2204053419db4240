# mk/debug.mk - a build to step through in a debugger, and the test of the
# gdb session that docs/debugging.md shows.
#   make debug        the tests, the lessons and attnres-run at -O0 -g into
#                     build/debug (the DEBUG=1 variant of the Makefile: any
#                     other target takes DEBUG=1 too, e.g. make test DEBUG=1)
#   make check-debug  make debug, then tests/test_gdb.sh: the gdb session of
#                     docs/debugging.md, run as written there (gdb -batch);
#                     skipped, with the reason, where gdb is not installed
# Extra flags go through EXTRA_CFLAGS (make debug EXTRA_CFLAGS=-g3); the
# required -std=c99 -ffp-contract=off stay whatever is passed.

.PHONY: debug check-debug
debug:
	@$(MAKE) --no-print-directory DEBUG=1 all lessons
	@echo "debug build: build/debug$(VARIANT) (-O0 -g); docs/debugging.md shows a gdb session"

check-debug: debug
	@sh tests/test_gdb.sh
