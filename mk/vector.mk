# Vector search (src/vector).
#
# vec_bench links hnswlib (header-only, through a C++ shim compiled with
# -march=native so hnswlib gets its own AVX code) and FAISS (static
# libfaiss with BLAS/LAPACK and OpenMP).
vec_bench_OBJS := $(B)/obj/bench/hnswlib_shim.o $(B)/obj/bench/faiss_shim.o
vec_bench_LIBS := -lfaiss -llapack -lblas -lgomp -lstdc++ -lz

$(B)/obj/bench/hnswlib_shim.o: bench/hnswlib_shim.cc
	@mkdir -p $(dir $@)
	$(CXX) -std=c++17 -fPIC -O3 -march=native -w -g -c $< -o $@

$(B)/obj/bench/faiss_shim.o: bench/faiss_shim.cc
	@mkdir -p $(dir $@)
	$(CXX) -std=c++17 -fPIC -O2 -fopenmp -Wall -Wextra -g -c $< -o $@

# The distance kernels once more with AVX-512 emulated (tests/avx512_emu.h),
# as mk/index.mk does for the learned index: test_vec's kernel test then
# checks the AVX-512 variants against scalar on any x86-64.
VEC512_DIR := build/emu512
VEC512_SRC := tests/test_vec.c src/vector/vdist.c

.PHONY: test-emu512-vec
test-extra: test-emu512-vec

$(VEC512_DIR)/tests/test_vec_kernels: $(VEC512_SRC) tests/avx512_emu.h tests/vec_util.h build/asan/libomendb-testing.a
	@mkdir -p $(dir $@)
	$(CC) $(EMU512_FLAGS) -DVEC_KERNELS_ONLY $(VEC512_SRC) -o $@ build/asan/libomendb-testing.a -lcmocka $(LIBS)

test-emu512-vec: $(VEC512_DIR)/tests/test_vec_kernels
	@scripts/run-tests.sh $(VEC512_DIR)/tests $<
