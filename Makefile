# OmenDB build.
#
#   make            build libomendb (static + shared), tools, benchmarks
#   make run        install missing packages, build, open the shell
#   make test       install missing packages, build, run every test:
#                   plain, ASan+UBSan, TSan (tests/test_conc_*), fuzzers, pytest
#   make bench      build the benchmark programs into build/bench/
#   make install    PREFIX=/usr/local DESTDIR=: library, header, omendb.pc,
#                   shell, Python package (mk/dist.mk)
#
# Sources are discovered, not listed: every src/*/*.c goes into the library,
# every tests/test_*.c is a cmocka test program, every bench/*.c a benchmark,
# every tools/*.c a tool.  Module-specific rules live in mk/*.mk.
#
# A program of several files is a directory: every .c in tools/NAME/ is
# compiled and linked into build/NAME, every .c in bench/NAME/ into
# build/bench/NAME (with the library, like a one-file program), so it needs
# no rule of its own.  NAME.c and NAME/ must not both exist.  Its headers
# live beside its sources.  For any program, NAME_CFLAGS, NAME_OBJS and
# NAME_LIBS in an mk/*.mk add compile flags, extra objects and libraries.
#
# Variants share this file: B is the build directory, SAN the sanitizer flags.

B    ?= build
SAN  ?=
OPT  ?= -O2
CC   ?= gcc
CXX  ?= g++
PY   := /usr/bin/python3
# The ASan+UBSan variant's sanitizer flags (test-asan, and mk/index.mk's
# emulated AVX-512 suite).
ASAN_SAN := -fsanitize=address,undefined,float-cast-overflow -fno-sanitize-recover=all -fno-omit-frame-pointer

WARN    := -Wall -Wextra -Werror
# -fvisibility=hidden: libomendb.so exports only what include/omendb.h marks
# OMEN_EXPORT.
CFLAGS  := -std=c11 -D_GNU_SOURCE -fPIC -fvisibility=hidden -pthread $(WARN) $(OPT) -g $(SAN) -Iinclude -Isrc $(EXTRA_CFLAGS)
CXXFLAGS:= -std=c++17 -fPIC -pthread -Wall -Wextra -Werror $(OPT) -g $(SAN) -Iinclude -Isrc
LDFLAGS := -pthread $(SAN)
LIBS    := -llz4 -lzstd -lsnappy -lm

# src/server is the omendb-server program (mk/server.mk), not library code.
LIB_SRC := $(sort $(filter-out src/server/%,$(wildcard src/*/*.c)))
LIB_OBJ := $(patsubst %.c,$(B)/obj/%.o,$(LIB_SRC))
LIB_A   := $(B)/libomendb.a
LIB_SO  := $(B)/libomendb.so
# The shared library's versions come from OMEN_VERSION_STRING: the file is
# libomendb.so.X.Y.Z, its soname libomendb.so.X, and libomendb.so (what
# -lomendb finds) a symlink.
VERSION  := $(shell sed -n 's/^\#define OMEN_VERSION_STRING "\(.*\)"/\1/p' include/omendb.h)
SONAME   := libomendb.so.$(firstword $(subst ., ,$(VERSION)))
LIB_SO_V := $(B)/libomendb.so.$(VERSION)

# The testing variant that tests (and fuzzers) use: every library source
# compiled once more with -DOMEN_TESTING, which adds the test hooks (the
# allocation failure countdown, ...), plus the test support code: the
# fault-injecting file env of tests/support/ and the suites' helpers
# tests/testutil.c.  The shipped libraries have neither (docs/testing.md).
TEST_CFLAGS := $(CFLAGS) -DOMEN_TESTING -Itests
TSUP_SRC    := $(sort $(wildcard tests/support/*.c)) tests/testutil.c
TLIB_OBJ    := $(patsubst %.c,$(B)/tobj/%.o,$(LIB_SRC) $(TSUP_SRC))
TLIB_A      := $(B)/libomendb-testing.a

TEST_SRC := $(sort $(wildcard tests/test_*.c))
TEST_BIN := $(patsubst tests/%.c,$(B)/tests/%,$(TEST_SRC))
CONC_BIN := $(patsubst tests/%.c,$(B)/tests/%,$(sort $(wildcard tests/test_conc_*.c)))

BENCH_SRC := $(sort $(wildcard bench/*.c))
BENCH_DIR := $(patsubst %/,%,$(sort $(dir $(wildcard bench/*/*.c))))
BENCH_BIN := $(patsubst bench/%.c,$(B)/bench/%,$(BENCH_SRC)) $(patsubst bench/%,$(B)/bench/%,$(BENCH_DIR))

TOOL_SRC := $(sort $(wildcard tools/*.c))
TOOL_DIR := $(patsubst %/,%,$(sort $(dir $(wildcard tools/*/*.c))))
TOOL_BIN := $(patsubst tools/%.c,$(B)/%,$(TOOL_SRC)) $(patsubst tools/%,$(B)/%,$(TOOL_DIR))

.PHONY: all lib tests bench tools deps run test test-plain test-asan test-tsan test-fuzz \
        test-python test-extra crashtest clean format install
# mk/*.mk fragments hang extra test steps (shell tests, ...) on test-extra.
test-extra:
.DEFAULT_GOAL := all

all: lib tools bench tests

lib: $(LIB_A) $(LIB_SO)
tests: $(TEST_BIN)
bench: $(BENCH_BIN)
tools: $(TOOL_BIN)

deps:
	@scripts/deps.sh

$(B)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP -c $< -o $@

$(B)/tobj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(TEST_CFLAGS) -MMD -MP -c $< -o $@

$(B)/obj/%.o: %.cc
	@mkdir -p $(dir $@)
	$(CXX) $(CXXFLAGS) -MMD -MP -c $< -o $@

$(LIB_A): $(LIB_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

$(TLIB_A): $(TLIB_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

$(LIB_SO_V): $(LIB_OBJ)
	$(CC) -shared -Wl,-soname,$(SONAME) -o $@ $^ $(LDFLAGS) $(LIBS)

$(LIB_SO): $(LIB_SO_V)
	ln -sf $(notdir $<) $(B)/$(SONAME)
	ln -sf $(SONAME) $@

# Tests link the static testing library so they may also reach internal
# symbols and the test hooks.
$(B)/tests/%: tests/%.c $(TLIB_A) $(wildcard tests/*.h tests/support/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(TEST_CFLAGS) $< -o $@ $(TLIB_A) $(LDFLAGS) -lcmocka $(LIBS)

# Benchmarks: per-program extra flags/objects/libraries come from mk/*.mk
# as <name>_CFLAGS, <name>_OBJS and <name>_LIBS.
.SECONDEXPANSION:
$(B)/bench/%: bench/%.c $(LIB_A) $(wildcard bench/*.h) $$($$*_OBJS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $($*_CFLAGS) $< -o $@ $($*_OBJS) $(LIB_A) $(LDFLAGS) $($*_LIBS) $(LIBS)

$(B)/%: tools/%.c $(LIB_A)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $($*_CFLAGS) $< -o $@ $($*_OBJS) $(LIB_A) $(LDFLAGS) $($*_LIBS) $(LIBS)

# Programs from a directory (see the header): $(1) the program, $(2) its
# directory.  Its objects go to $(B)/obj/<dir>/, compiled with NAME_CFLAGS.
define DIR_PROGRAM
$(1)_OBJ := $$(patsubst %.c,$(B)/obj/%.o,$$(sort $$(wildcard $(2)/*.c)))
$$($(1)_OBJ): CFLAGS += $$($(notdir $(1))_CFLAGS)
$(1): $$($(1)_OBJ) $(LIB_A) $$($(notdir $(1))_OBJS)
	@mkdir -p $$(dir $$@)
	$$(CC) $$($(1)_OBJ) -o $$@ $$($(notdir $(1))_OBJS) $(LIB_A) $$(LDFLAGS) $$($(notdir $(1))_LIBS) $$(LIBS)
-include $$($(1)_OBJ:.o=.d)
endef

-include mk/*.mk
# (after mk/*.mk, whose NAME_CFLAGS/_OBJS/_LIBS the rules read)
$(foreach d,$(TOOL_DIR),$(eval $(call DIR_PROGRAM,$(B)/$(notdir $(d)),$(d))))
$(foreach d,$(BENCH_DIR),$(eval $(call DIR_PROGRAM,$(B)/bench/$(notdir $(d)),$(d))))
-include $(LIB_OBJ:.o=.d) $(TLIB_OBJ:.o=.d)

# ---- test driver --------------------------------------------------------

test: deps
	@scripts/run-all-tests.sh

# One variant's tests (used by run-all-tests.sh): make test-plain B=... SAN=...
test-plain: $(TEST_BIN)
	@scripts/run-tests.sh $(B)/tests $(TEST_BIN)

test-asan:
	@$(MAKE) --no-print-directory B=build/asan OPT=-O1 SAN="$(ASAN_SAN)" test-plain

test-tsan:
	@$(MAKE) --no-print-directory B=build/tsan OPT=-O1 SAN="-fsanitize=thread" tsan-bins
	@scripts/run-tests.sh build/tsan/tests $(patsubst $(B)/%,build/tsan/%,$(CONC_BIN))

tsan-bins: $(CONC_BIN)

run: deps all
	@scripts/run-main.sh

clean:
	rm -rf build

format:
	clang-format -i $$(git ls-files '*.c' '*.h' '*.cc')
