# The omendb command-line shell, built from the files of tools/omendb/
# (line editing via libedit), and its pytest suite hooked into `make test`
# through test-extra.
omendb_LIBS := -ledit
OMENDB_SRC  := $(sort $(wildcard tools/omendb/*.c))

tools: $(B)/omendb

$(B)/omendb: $(OMENDB_SRC) $(wildcard tools/omendb/*.h) $(LIB_A)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Itools/omendb $(OMENDB_SRC) -o $@ $(LIB_A) $(LDFLAGS) $(omendb_LIBS) $(LIBS)

.PHONY: test-shell
test-extra: test-shell

# Runs tests/shell against $(B)/omendb and appends
# "shell test_shell <passed> <failed>" to build/test-summary.txt.
test-shell: $(B)/omendb
	@mkdir -p build $(B)/shell-test
	@echo "== pytest tests/shell"
	@rm -f $(B)/shell-test/junit.xml; rc=0; \
	  OMENDB_BIN=$(abspath $(B)/omendb) PYTHONDONTWRITEBYTECODE=1 \
	  $(PY) -m pytest -q -p no:cacheprovider --junitxml=$(B)/shell-test/junit.xml tests/shell || rc=$$?; \
	  $(PY) tests/shell/junit_summary.py $(B)/shell-test/junit.xml "shell test_shell" >> build/test-summary.txt; \
	  tail -1 build/test-summary.txt | sed 's/^/   /'; \
	  exit $$rc
