/*
 * mem_probe -- what this machine's memory lets a single lookup cost.
 *
 *   build/bench/mem_probe [--mb M] [--queries Q] [--reps R] [--hugepages 0|1]
 *
 * index_bench times single lookups against binary search; this program
 * measures the floor under those times, with nothing of the learned index
 * but its last step, on an array of M MiB (default 800: 100M keys):
 *
 *   chase       one dependent random load per step (a pointer chase over
 *               the array's cache lines): the DRAM round trip with the TLB
 *               as the array's page size leaves it;
 *   window dep  the data-window step of a lookup, counting the 36 keys
 *               (epsilon 16) at a random position, each position depending
 *               on the previous count: the latency of that step alone;
 *   window ind  the same with independent positions: the core overlaps
 *               consecutive steps as far as its buffers allow;
 *   filler F    independent windows, each after F extra one-cycle ALU
 *               instructions (four independent chains, so they add
 *               instructions, not latency): how many instructions per
 *               lookup the core tolerates before consecutive lookups stop
 *               overlapping;
 *   gather L    L adjacent lines read at each of many random spots, each
 *               spot's lines prefetched 32 spots ahead, as a batch lookup
 *               does: the rate at which the machine delivers random lines
 *               when nothing waits on them, which bounds a batch.
 *
 * A single lookup cannot run below "window dep" plus its model walk unless
 * consecutive lookups overlap, and the filler rows show how far they can.
 * Medians of R reps.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "bench_util.h"
#include "index/lsearch_impl.h"
#include "util/mem.h"

#define WIN 36 /* LIDX_WIDTH(16): the default data window */

/* 62 random bits from libc's generator (seeded once in main): enough for
 * positions, and the probe needs no quality beyond that. */
static uint64_t rnd(void)
{
    return ((uint64_t)random() << 31) ^ (uint64_t)random();
}

static int use_avx2;

static size_t count_le(const uint64_t *k, uint64_t q)
{
    return use_avx2 ? lidx_c_avx2(k, WIN, q) : lidx_c_scalar(k, WIN, q);
}

/* One window step after F filler instructions.  The filler's result
 * feeds the position (it never changes it), so it cannot be dropped.
 * (x86-64 only, like the SIMD kernels this program includes.) */
#define FILLER_STEP(F)                                                                          \
    __attribute__((noinline)) static size_t step_##F(const uint64_t *k, size_t p, uint64_t q)  \
    {                                                                                           \
        uint64_t a = q, b = q, c = q, d = q;                                                    \
        _Pragma("GCC unroll 64")                                                                \
        for (int j = 0; j < (F) / 4; j++)                                                       \
            __asm__("add $1, %0\n\tadd $1, %1\n\tadd $1, %2\n\tadd $1, %3"                      \
                    : "+r"(a), "+r"(b), "+r"(c), "+r"(d));                                      \
        p += ((a ^ b ^ c ^ d) == 0x0123456789abcdefull);                                        \
        return p + count_le(k + p, q);                                                          \
    }
FILLER_STEP(0)
FILLER_STEP(50)
FILLER_STEP(100)
FILLER_STEP(150)
FILLER_STEP(250)

typedef size_t (*step_fn)(const uint64_t *, size_t, uint64_t);

int main(int argc, char **argv)
{
    size_t mb = 800, nq = 1000000;
    int reps = 5, huge = 1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (i + 1 < argc && !strcmp(a, "--mb")) mb = strtoull(argv[++i], NULL, 10);
        else if (i + 1 < argc && !strcmp(a, "--queries")) nq = strtoull(argv[++i], NULL, 10);
        else if (i + 1 < argc && !strcmp(a, "--reps")) reps = atoi(argv[++i]);
        else if (i + 1 < argc && !strcmp(a, "--hugepages")) huge = atoi(argv[++i]);
        else {
            fprintf(stderr, "usage: mem_probe [--mb M] [--queries Q] [--reps R] [--hugepages 0|1]\n");
            return 2;
        }
    }
    if (mb < 1 || nq < 1 || reps < 1 || reps > 99) {
        fprintf(stderr, "mem_probe: --mb, --queries >= 1 and --reps 1..99\n");
        return 2;
    }
    use_avx2 = __builtin_cpu_supports("avx2");
    srandom(0x2545f491u);
    size_t bytes = util_huge_len(mb << 20);
    size_t n = bytes / sizeof(uint64_t), lines = bytes / 64;
    uint64_t *k = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (k == MAP_FAILED) {
        perror("mem_probe: mmap");
        return 1;
    }
    (void)madvise(k, bytes, huge ? MADV_HUGEPAGE : MADV_NOHUGEPAGE);
    size_t *perm = malloc(lines * sizeof *perm);
    size_t *pos = malloc((nq + 1) * sizeof *pos);
    uint64_t *qs = malloc(nq * sizeof *qs);
    if (!perm || !pos || !qs) {
        fprintf(stderr, "mem_probe: out of memory\n");
        return 1;
    }

    /* The chase: one random cycle through all cache lines, its links in
     * each line's first word. */
    for (size_t i = 0; i < lines; i++) perm[i] = i;
    for (size_t i = lines - 1; i > 0; i--) {
        size_t j = rnd() % (i + 1), t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
    }
    for (size_t i = 0; i < lines; i++) k[perm[i] * 8] = perm[(i + 1) % lines] * 8;
    double chase[99];
    size_t at = 0;
    for (int r = 0; r < reps; r++) {
        double t = bench_now_ns();
        for (size_t i = 0; i < nq; i++) at = k[at];
        chase[r] = (bench_now_ns() - t) / (double)nq;
    }

    /* Sorted keys for the windows, and random windows with a query inside. */
    for (size_t i = 0; i < n; i++) k[i] = (uint64_t)i * 10;
    for (size_t i = 0; i <= nq; i++) pos[i] = rnd() % (n - WIN);
    for (size_t i = 0; i < nq; i++) qs[i] = k[pos[i] + rnd() % WIN];

    double dep[99], ind[99];
    size_t sum = at;
    for (int r = 0; r < reps; r++) {
        size_t c = 0;
        double t = bench_now_ns();
        for (size_t i = 0; i < nq; i++) c = step_0(k, pos[i + (c == SIZE_MAX)], qs[i]);
        dep[r] = (bench_now_ns() - t) / (double)nq;
        sum += c;
        t = bench_now_ns();
        for (size_t i = 0; i < nq; i++) sum += step_0(k, pos[i], qs[i]);
        ind[r] = (bench_now_ns() - t) / (double)nq;
    }
    printf("# mem_probe: %zu MiB, %s pages, %zu queries, %d reps, %s counts\n", bytes >> 20,
           huge ? "huge" : "4 KiB", nq, reps, use_avx2 ? "avx2" : "scalar");
    printf("chase        %7.1f ns per dependent load\n", bench_median(chase, reps));
    printf("window dep   %7.1f ns per %d-key window, each after the previous\n", bench_median(dep, reps), WIN);
    printf("window ind   %7.1f ns per %d-key window, independent\n", bench_median(ind, reps), WIN);

    static const struct {
        int f;
        step_fn fn;
    } fill[] = {{50, step_50}, {100, step_100}, {150, step_150}, {250, step_250}};
    for (size_t j = 0; j < sizeof fill / sizeof fill[0]; j++) {
        double v[99];
        for (int r = 0; r < reps; r++) {
            double t = bench_now_ns();
            for (size_t i = 0; i < nq; i++) sum += fill[j].fn(k, pos[i], qs[i]);
            v[r] = (bench_now_ns() - t) / (double)nq;
        }
        printf("filler %3d   %7.1f ns per independent window after %d instructions\n", fill[j].f,
               bench_median(v, reps), fill[j].f);
    }
    for (size_t L = 1; L <= 4; L *= 2) { /* spots start below n - WIN, so 4 lines fit */
        double v[99];
        for (int r = 0; r < reps; r++) {
            double t = bench_now_ns();
            for (size_t i = 0; i < nq; i++) {
                if (i + 32 < nq)
                    for (size_t l = 0; l < L; l++) __builtin_prefetch(&k[(pos[i + 32] & ~(size_t)7) + 8 * l]);
                for (size_t l = 0; l < L; l++) sum += k[(pos[i] & ~(size_t)7) + 8 * l];
            }
            v[r] = (bench_now_ns() - t) / (double)nq;
        }
        double m = bench_median(v, reps);
        printf("gather %zu     %7.1f ns per spot of %zu lines, %.1f per line\n", L, m, L, m / (double)L);
    }
    printf("(checksum %zx)\n", sum);
    munmap(k, bytes);
    free(perm);
    free(pos);
    free(qs);
    return 0;
}
