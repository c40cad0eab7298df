# Learned index (src/index): the index benchmark links abseil's B-tree
# through a small C++ shim (btree is header-only; the C++ runtime is all it
# needs at link time).
index_bench_OBJS := $(B)/obj/bench/absl_shim.o
index_bench_LIBS := -lstdc++
# The benchmark's --check and the demo compare with the reference lower
# bound of tests/support/u64_oracle.h (header-only).
index_bench_CFLAGS := -Itests
index_demo_CFLAGS  := -Itests

# test_index once more with the AVX-512 kernels emulated (tests/avx512_emu.h):
# on a CPU without AVX-512 the ordinary build skips them, and this build
# still checks their logic, under ASan+UBSan.  Only the index sources are
# rebuilt with the emulation; the rest comes from the ASan testing library.
EMU512_DIR   := build/emu512
EMU512_FLAGS := -std=c11 -D_GNU_SOURCE -pthread $(WARN) -Wno-psabi -O1 -g -Iinclude -Isrc -Itests -DOMEN_TESTING \
                -include tests/avx512_emu.h $(ASAN_SAN)
EMU512_SRC   := tests/test_index.c $(sort $(wildcard src/index/*.c))

.PHONY: test-emu512
test-extra: test-emu512

$(EMU512_DIR)/tests/test_index: $(EMU512_SRC) tests/avx512_emu.h $(wildcard src/index/*.h) \
                                build/asan/libomendb-testing.a
	@mkdir -p $(dir $@)
	$(CC) $(EMU512_FLAGS) $(EMU512_SRC) -o $@ build/asan/libomendb-testing.a -lcmocka $(LIBS)

ifneq ($(B),build/asan)
build/asan/libomendb-testing.a: FORCE
	@$(MAKE) --no-print-directory B=build/asan OPT=-O1 SAN="$(ASAN_SAN)" build/asan/libomendb-testing.a
endif

test-emu512: $(EMU512_DIR)/tests/test_index
	@scripts/run-tests.sh $(EMU512_DIR)/tests $<

.PHONY: FORCE
FORCE:
