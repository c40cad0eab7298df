# kv_bench: OmenDB beside RocksDB, LevelDB, LMDB and SQLite through their C
# APIs (Debian librocksdb-dev, libleveldb-dev, liblmdb-dev, libsqlite3-dev).
# Everything it needs is in those C APIs, so there are no C++ shims; -lstdc++
# because librocksdb/libleveldb are C++ libraries linked by the C driver.
kv_bench_LIBS := -lrocksdb -lleveldb -llmdb -lsqlite3 -lstdc++
