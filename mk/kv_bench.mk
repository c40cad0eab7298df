# kv_bench: OmenDB beside RocksDB, LevelDB, LMDB and SQLite through their C
# APIs (Debian librocksdb-dev, libleveldb-dev, liblmdb-dev, libsqlite3-dev).
# Everything it needs is in those C APIs, so there are no C++ shims; -lstdc++
# because librocksdb/libleveldb are C++ libraries linked by the C driver.
#
# A program from a directory (the Makefile's DIR_PROGRAM rule):
# bench/kv_bench/*.c (the harness and one adapter per engine) ->
# $(B)/bench/kv_bench.
kv_bench_LIBS := -lrocksdb -lleveldb -llmdb -lsqlite3 -lstdc++
