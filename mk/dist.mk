# What the library ships (the public API only), and how it is installed.
#
#   make install [PREFIX=/usr/local] [DESTDIR=]
#       installs into $(DESTDIR)$(PREFIX):
#         lib/libomendb.a, lib/libomendb.so.X.Y.Z with its soname link
#         libomendb.so.X and the development link libomendb.so,
#         include/omendb.h, lib/pkgconfig/omendb.pc (generated here),
#         bin/omendb and every other tool named omendb-* (the server, when
#         tools/ has it), and the Python package (install-python, in
#         mk/python.mk, into lib/python3.X/dist-packages).
#       Other mk files add their own steps with `install: install-NAME`
#       and may add programs with `INSTALL_PROGS += $(B)/NAME`.
#   make test-exports   check that libomendb.so exports exactly the functions
#                       include/omendb.h declares (tests/check_exports.sh)
#   make test-install   install into a temporary DESTDIR and build and run a
#                       program against it with pkg-config, linked shared
#                       and static (tests/check_install.sh)
# Both tests are part of `make test` through test-extra.
PREFIX     ?= /usr/local
LIBDIR     ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
BINDIR     ?= $(PREFIX)/bin
PCDIR      ?= $(LIBDIR)/pkgconfig
INSTALL_PROGS += $(filter $(B)/omendb $(B)/omendb-%,$(TOOL_BIN))

.PHONY: install-lib install-progs test-exports test-install FORCE
FORCE:
install: install-lib install-progs
test-extra: test-exports test-install

# The pkg-config file for this PREFIX.  Libs.private lists what a static
# link needs besides libomendb.a (pkg-config --static --libs omendb).
$(B)/omendb.pc: include/omendb.h mk/dist.mk FORCE
	@mkdir -p $(dir $@)
	@printf '%s\n' 'prefix=$(PREFIX)' 'libdir=$(LIBDIR)' 'includedir=$(INCLUDEDIR)' '' \
	  'Name: omendb' \
	  'Description: embedded, persistent, ordered key-value engine with a learned index' \
	  'Version: $(VERSION)' \
	  'Libs: -L$${libdir} -lomendb' \
	  'Libs.private: -pthread $(LIBS)' \
	  'Cflags: -I$${includedir}' > $@.tmp
	@if cmp -s $@.tmp $@; then rm -f $@.tmp; else mv $@.tmp $@; fi

install-lib: $(LIB_A) $(LIB_SO) $(B)/omendb.pc
	install -d $(DESTDIR)$(LIBDIR) $(DESTDIR)$(INCLUDEDIR) $(DESTDIR)$(PCDIR)
	install -m 644 $(LIB_A) $(DESTDIR)$(LIBDIR)/
	install -m 755 $(LIB_SO_V) $(DESTDIR)$(LIBDIR)/
	ln -sf $(notdir $(LIB_SO_V)) $(DESTDIR)$(LIBDIR)/$(SONAME)
	ln -sf $(SONAME) $(DESTDIR)$(LIBDIR)/libomendb.so
	install -m 644 include/omendb.h $(DESTDIR)$(INCLUDEDIR)/
	install -m 644 $(B)/omendb.pc $(DESTDIR)$(PCDIR)/

install-progs: $$(INSTALL_PROGS)
	install -d $(DESTDIR)$(BINDIR)
	install -m 755 $(INSTALL_PROGS) $(DESTDIR)$(BINDIR)/

test-exports: $(LIB_SO)
	@mkdir -p build
	@echo "== exports of $(LIB_SO)"
	@if tests/check_exports.sh $(CC) include/omendb.h $(LIB_SO); then \
	   echo "exports check_exports 1 0" >> build/test-summary.txt; \
	 else echo "exports check_exports 0 1" >> build/test-summary.txt; exit 1; fi

test-install: $(LIB_A) $(LIB_SO) $$(INSTALL_PROGS) python
	@mkdir -p build
	@echo "== make install into a temporary DESTDIR"
	@if tests/check_install.sh "$(MAKE)" $(B) $(CC); then \
	   echo "install check_install 1 0" >> build/test-summary.txt; \
	 else echo "install check_install 0 1" >> build/test-summary.txt; exit 1; fi
