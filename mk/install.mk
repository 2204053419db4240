# mk/install.mk - install the library where other programs find it.
#   make install      the header, the kernel source, attnres.pc, attnres-run
#                     and attnres-train
#   make uninstall    removes exactly what install puts there
# PREFIX (default /usr/local) is where the files are meant to live: it is
# written into attnres.pc. DESTDIR is prepended to every path when copying
# only (staged installs, packages). What goes where:
#   $(PREFIX)/include/attnres.h                  the library
#   $(PREFIX)/share/attnres/attnres_kernels.c    the optional kernel file, as
#                                                source (it is compiled with the
#                                                program's ISA flags, see docs)
#   $(PREFIX)/share/pkgconfig/attnres.pc         Cflags -I$(PREFIX)/include, Libs -lm
#                                                (share/: a header-only library has
#                                                nothing architecture-specific)
#   $(PREFIX)/share/doc/attnres/LICENSE
#   $(PREFIX)/bin/attnres-run                    when it could be built (needs the stb
#                                                headers; otherwise install says so and
#                                                installs the rest)
#   $(PREFIX)/bin/attnres-train                  the C trainer (needs only libc)
# attnres.pc's Version is ATTNRES_VERSION_STRING from attnres.h.
PREFIX  ?= /usr/local
DESTDIR ?=
ATTNRES_VERSION := $(shell sed -n 's/^\#define ATTNRES_VERSION_STRING "\(.*\)"/\1/p' attnres.h)
INSTALL_FILES := include/attnres.h share/attnres/attnres_kernels.c share/pkgconfig/attnres.pc \
                 share/doc/attnres/LICENSE bin/attnres-run bin/attnres-train

.PHONY: install uninstall

# attnres.pc for this PREFIX (rewritten when PREFIX changes: the file names it)
$(BUILD)/attnres.pc: attnres.h mk/install.mk FORCE | $(BUILD)
	@printf '%s\n' 'prefix=$(PREFIX)' 'includedir=$${prefix}/include' \
	  'kerneldir=$${prefix}/share/attnres' '' 'Name: attnres' \
	  'Description: Attention Residuals (arXiv 2603.15031) in a tiny LLaMA-style decoder, one C99 header' \
	  'Version: $(ATTNRES_VERSION)' 'Cflags: -I$${includedir}' 'Libs: -lm' > $@.tmp
	@if cmp -s $@.tmp $@; then rm -f $@.tmp; else mv $@.tmp $@; fi
FORCE:

install: $(BUILD)/attnres.pc $(BUILD)/attnres-run $(BUILD)/attnres-train
	@test -n '$(ATTNRES_VERSION)' || { echo "install: no ATTNRES_VERSION_STRING in attnres.h"; exit 1; }
	install -d '$(DESTDIR)$(PREFIX)/include' '$(DESTDIR)$(PREFIX)/share/attnres' \
	  '$(DESTDIR)$(PREFIX)/share/pkgconfig' '$(DESTDIR)$(PREFIX)/share/doc/attnres' '$(DESTDIR)$(PREFIX)/bin'
	install -m 644 attnres.h '$(DESTDIR)$(PREFIX)/include/attnres.h'
	install -m 644 attnres_kernels.c '$(DESTDIR)$(PREFIX)/share/attnres/attnres_kernels.c'
	install -m 644 $(BUILD)/attnres.pc '$(DESTDIR)$(PREFIX)/share/pkgconfig/attnres.pc'
	install -m 644 LICENSE '$(DESTDIR)$(PREFIX)/share/doc/attnres/LICENSE'
	install -m 755 $(BUILD)/attnres-train '$(DESTDIR)$(PREFIX)/bin/attnres-train'
	@if [ -x $(BUILD)/attnres-run ]; then \
	  echo "install -m 755 $(BUILD)/attnres-run '$(DESTDIR)$(PREFIX)/bin/attnres-run'" && \
	  install -m 755 $(BUILD)/attnres-run '$(DESTDIR)$(PREFIX)/bin/attnres-run'; \
	else echo "install: attnres-run not installed: $$(cat $(BUILD)/attnres-run.skip 2>/dev/null)"; fi
	@echo "installed attnres $(ATTNRES_VERSION) under $(DESTDIR)$(PREFIX)"

# only the files install writes, then the directories it made if now empty
uninstall:
	rm -f $(addprefix '$(DESTDIR)$(PREFIX)'/,$(INSTALL_FILES))
	@for d in share/attnres share/doc/attnres; do \
	  rmdir '$(DESTDIR)$(PREFIX)'/$$d 2>/dev/null || true; done

# tests/test_make.sh (make help, install, pkg-config, uninstall) runs with
# the other tests; like test_cli it sits in $(BUILD) for tests/run.sh
all: $(BUILD)/test_make
TESTS += test_make
$(BUILD)/test_make: tests/test_make.sh | $(BUILD)
	cp tests/test_make.sh $@
	chmod +x $@
