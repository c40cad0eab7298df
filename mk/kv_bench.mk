# kv_bench: OmenDB beside RocksDB, LevelDB, LMDB and SQLite through their C
# APIs (Debian librocksdb-dev, libleveldb-dev, liblmdb-dev, libsqlite3-dev).
# Everything it needs is in those C APIs, so there are no C++ shims; -lstdc++
# because librocksdb/libleveldb are C++ libraries linked by the C driver.
kv_bench_LIBS := -lrocksdb -lleveldb -llmdb -lsqlite3 -lstdc++

# A program from a directory: bench/kv_bench/*.c (the harness and one
# adapter per engine) -> $(B)/bench/kv_bench.  A Makefile that already
# builds programs from directories lists it in BENCH_BIN; then its rule is
# used and this one stays out of the way.
ifeq ($(filter $(B)/bench/kv_bench,$(BENCH_BIN)),)
KV_BENCH_SRC := $(sort $(wildcard bench/kv_bench/*.c))
KV_BENCH_OBJ := $(patsubst %.c,$(B)/obj/%.o,$(KV_BENCH_SRC))

bench: $(B)/bench/kv_bench

$(B)/bench/kv_bench: $(KV_BENCH_OBJ) $(LIB_A)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(KV_BENCH_OBJ) -o $@ $(LIB_A) $(LDFLAGS) $(kv_bench_LIBS) $(LIBS)

-include $(KV_BENCH_OBJ:.o=.d)
endif
