# What the library ships (the public API only), and how it is installed.
#
#   make test-exports   check that libomendb.so exports exactly the functions
#                       include/omendb.h declares (tests/check_exports.sh);
#                       part of `make test` through test-extra.

.PHONY: test-exports
test-extra: test-exports

test-exports: $(LIB_SO)
	@mkdir -p build
	@echo "== exports of $(LIB_SO)"
	@if tests/check_exports.sh $(CC) include/omendb.h $(LIB_SO); then \
	   echo "exports check_exports 1 0" >> build/test-summary.txt; \
	 else echo "exports check_exports 0 1" >> build/test-summary.txt; exit 1; fi
