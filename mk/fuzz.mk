# libFuzzer targets: every fuzz/fuzz_NAME.c is built with clang against the
# library sources (with the test hooks, OMEN_TESTING) and run for FUZZ_SECONDS over its kept corpus
# fuzz/corpus/NAME (new finds go to build/fuzz/new-NAME, not into the tree).
FUZZ_CC      ?= clang-14
FUZZ_SECONDS ?= 10
FUZZ_SRC     := $(sort $(wildcard fuzz/fuzz_*.c))
FUZZ_BIN     := $(patsubst fuzz/%.c,build/fuzz/%,$(FUZZ_SRC))
FUZZ_FLAGS   := -std=c11 -D_GNU_SOURCE -DOMEN_TESTING -g -O1 -pthread -Iinclude -Isrc -Itests \
                -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all

build/fuzz/%: fuzz/%.c $(LIB_SRC)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_FLAGS) $< $(LIB_SRC) -o $@ $(LIBS)

.PHONY: fuzz-bins test-fuzz
fuzz-bins: $(FUZZ_BIN)

test-fuzz: $(FUZZ_BIN)
	@set -e; mkdir -p build; for f in $(FUZZ_BIN); do \
	  n=$${f#build/fuzz/fuzz_}; mkdir -p fuzz/corpus/$$n build/fuzz/new-$$n; \
	  echo "== fuzz $$n ($(FUZZ_SECONDS)s)"; \
	  $$f -max_total_time=$(FUZZ_SECONDS) -rss_limit_mb=2048 -print_final_stats=1 \
	      build/fuzz/new-$$n fuzz/corpus/$$n > build/fuzz/$$n.log 2>&1 \
	    || { tail -40 build/fuzz/$$n.log; echo "fuzz $$n 0 1" >> build/test-summary.txt; exit 1; }; \
	  grep -E 'stat::number_of_executed_units' build/fuzz/$$n.log | sed 's/^/   /'; \
	  echo "fuzz $$n 1 0" >> build/test-summary.txt; \
	done
