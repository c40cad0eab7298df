# Learned index (src/index): the index benchmark links abseil's B-tree
# through a small C++ shim (btree is header-only; the C++ runtime is all it
# needs at link time).
index_bench_OBJS := $(B)/obj/bench/absl_shim.o
index_bench_LIBS := -lstdc++
