/*
 * index_bench.c -- the learned index against binary search and abseil's
 * B-tree on generated data (fixed seed, so every run sees the same keys).
 *
 *   index_bench [--n 10M] [--dist NAME|all] [--eps E] [--reps R]
 *               [--queries Q] [--hugepages 0|1] [--csv] [--check]
 *               [--search auto|scalar|avx2|avx512] [--chained]
 *
 * Datasets (uint64): uniform (sparse 64-bit), normal and lognormal
 * (sigma 2) by the SOSD quantile method (inverse CDF of uniform draws,
 * scaled), timestamps (exponential gaps), osm (Morton codes of points
 * from a mixture of 2-D Gaussians), piecewise (a GRE-style hard set: runs
 * of very different densities and jumps).  Strings: user (`user:%d`,
 * unpadded) and rand16 (random 16-byte keys).
 *
 * Methods, timed on the same random sequence of existing keys: omendb
 * (lidx_lower_bound per key), omendb-batch (lidx_lower_bound_batch over the
 * whole sequence; uint64 only), binary-search (branchless, whole array),
 * absl-btree (absl::btree_multiset via bench/absl_shim.cc).  Each method's
 * loop folds every answer into a checksum that is printed, so nothing is
 * optimised away; the figure is the median over --reps repetitions.
 * --check verifies every answer against binary search (untimed).
 * --chained (uint64 only) adds omendb-chained and binary-chained: the same
 * lookups, each query's index made to depend on the previous answer, so
 * no lookup can start before the one before it ends.  They measure a
 * lookup's latency; the plain rows measure what the core makes of
 * independent lookups, which may overlap.
 * Key arrays are 2 MiB aligned and madvise(MADV_HUGEPAGE)d unless
 * --hugepages 0.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "bench_util.h"
#include "index/lindex.h"
#include "index/lsearch.h"
#include "support/u64_oracle.h"
#include "omendb.h"

/* ---- abseil shim -------------------------------------------------------- */

void *absl_u64_build(const uint64_t *keys, size_t n);
uint64_t absl_u64_lower_bound(const void *tree, uint64_t q, int *found);
size_t absl_u64_bytes(const void *tree);
void absl_u64_free(void *tree);
void *absl_str_build(const unsigned char *const *keys, const size_t *lens, size_t n);
const unsigned char *absl_str_lower_bound(const void *tree, const unsigned char *q, size_t qlen,
                                          size_t *len);
size_t absl_str_bytes(const void *tree);
void absl_str_free(void *tree);

/* ---- options, timing, rng ---------------------------------------------- */

static struct {
    size_t n;
    const char *dist;
    unsigned eps;
    int reps;
    size_t queries;
    int huge;
    int csv;
    int check;
    int search;
    int chained;
} opt = {10000000, "all", 0, 5, 2000000, 1, 0, 0, LIDX_SEARCH_AUTO, 0};

static uint64_t rng_s[4];

static uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

/* xoshiro256** */
static uint64_t rnd(void)
{
    uint64_t r = rotl(rng_s[1] * 5, 7) * 9, t = rng_s[1] << 17;
    rng_s[2] ^= rng_s[0];
    rng_s[3] ^= rng_s[1];
    rng_s[1] ^= rng_s[2];
    rng_s[0] ^= rng_s[3];
    rng_s[2] ^= t;
    rng_s[3] = rotl(rng_s[3], 45);
    return r;
}

static void seed(uint64_t s)
{
    for (int i = 0; i < 4; i++) {
        uint64_t z = (s += 0x9e3779b97f4a7c15ull);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
        rng_s[i] = z ^ (z >> 31);
    }
}

/* uniform in (0, 1) */
static double unit(void)
{
    return ((double)(rnd() >> 11) + 0.5) * (1.0 / 9007199254740992.0);
}

/* Inverse of the standard normal CDF: a rational first guess (tails and
 * centre separately) refined by two Newton steps on erfc, accurate to
 * double precision over (0, 1). */
static double norm_quantile(double p)
{
    double x;
    if (p < 0.02425 || p > 1 - 0.02425) {
        double t = sqrt(-2.0 * log(p < 0.5 ? p : 1 - p));
        x = t - (2.515517 + 0.802853 * t + 0.010328 * t * t) /
                    (1 + 1.432788 * t + 0.189269 * t * t + 0.001308 * t * t * t);
        if (p < 0.5) x = -x;
    } else {
        double q = p - 0.5;
        x = q * 2.5066282746310002 * (1 + q * q * (1.0 + q * q * 2.0)); /* rough */
    }
    for (int i = 0; i < 3; i++) {
        double cdf = 0.5 * erfc(-x / 1.4142135623730951);
        double pdf = 0.3989422804014327 * exp(-0.5 * x * x);
        if (pdf < 1e-300) break;
        x -= (cdf - p) / pdf;
    }
    return x;
}

/* ---- memory ------------------------------------------------------------- */

static void *big_alloc(size_t bytes)
{
    size_t align = (size_t)2 << 20;
    size_t sz = (bytes + align - 1) / align * align;
    void *p = aligned_alloc(align, sz ? sz : align);
    if (!p) {
        fprintf(stderr, "out of memory (%zu bytes)\n", bytes);
        exit(1);
    }
    if (opt.huge) madvise(p, sz, MADV_HUGEPAGE);
    return p;
}

/* The share of [p, p + bytes) that the kernel backs with huge pages, from
 * the AnonHugePages of the mappings it overlaps (/proc/self/smaps), or -1
 * when unknown.  A run whose keys did not get them pays a page walk per
 * lookup, so the table says how it went rather than assuming. */
static double huge_share(const void *p, size_t bytes)
{
    FILE *f = fopen("/proc/self/smaps", "r");
    if (!f) return -1;
    uintptr_t lo = (uintptr_t)p, hi = lo + bytes;
    unsigned long long a, b, kb;
    int in = 0;
    double huge = 0;
    char line[256];
    while (fgets(line, sizeof line, f)) {
        if (sscanf(line, "%llx-%llx ", &a, &b) == 2)
            in = a < hi && b > lo;
        else if (in && sscanf(line, "AnonHugePages: %llu kB", &kb) == 1)
            huge += (double)kb * 1024;
    }
    fclose(f);
    return huge >= (double)bytes ? 1.0 : huge / (double)bytes;
}

/* LSD radix sort, 8 passes of 8 bits (qsort is too slow at 100M). */
static void sort_u64(uint64_t *a, size_t n)
{
    uint64_t *tmp = big_alloc(n * sizeof *tmp);
    uint64_t *src = a, *dst = tmp;
    for (int pass = 0; pass < 8; pass++) {
        size_t cnt[256] = {0};
        int sh = pass * 8;
        for (size_t i = 0; i < n; i++) cnt[(src[i] >> sh) & 0xff]++;
        size_t sum = 0;
        for (int b = 0; b < 256; b++) {
            size_t c = cnt[b];
            cnt[b] = sum;
            sum += c;
        }
        for (size_t i = 0; i < n; i++) dst[cnt[(src[i] >> sh) & 0xff]++] = src[i];
        uint64_t *t = src;
        src = dst;
        dst = t;
    }
    /* 8 passes: the result is back in a */
    free(tmp);
}

/* ---- datasets ------------------------------------------------------------ */

static uint64_t morton(uint32_t x, uint32_t y)
{
    uint64_t r = 0;
    for (int i = 0; i < 32; i++)
        r |= ((uint64_t)((x >> i) & 1) << (2 * i)) | ((uint64_t)((y >> i) & 1) << (2 * i + 1));
    return r;
}

static double clampd(double v, double lo, double hi)
{
    return v < lo ? lo : v > hi ? hi : v;
}

static const char *const u64_dists[] = {"uniform", "normal", "lognormal", "timestamps",
                                        "osm", "piecewise"};
static const char *const str_dists[] = {"user", "rand16"};

static uint64_t *gen_u64(const char *d, size_t n)
{
    uint64_t *k = big_alloc(n * sizeof *k);
    seed(0x5eed0000 + (uint64_t)strlen(d) * 131 + (uint64_t)d[0]);
    if (!strcmp(d, "uniform")) {
        for (size_t i = 0; i < n; i++) k[i] = rnd();
    } else if (!strcmp(d, "normal")) {
        /* N(0,1) quantiles mapped onto [0, 2^63): mean 2^62, sd 2^58 */
        for (size_t i = 0; i < n; i++)
            k[i] = (uint64_t)clampd(4.611686018427388e18 + 2.8823037615171174e17 * norm_quantile(unit()),
                                    0, 9.2e18);
    } else if (!strcmp(d, "lognormal")) {
        /* lognormal(0, 2) quantiles scaled by 1e12 (as SOSD scales to
         * integers); duplicates are rare but allowed */
        for (size_t i = 0; i < n; i++)
            k[i] = (uint64_t)clampd(exp(2.0 * norm_quantile(unit())) * 1e12, 0, 1.8e19);
    } else if (!strcmp(d, "timestamps")) {
        /* nanosecond timestamps, exponential gaps with mean 1 ms */
        uint64_t t = 1700000000ull * 1000000000ull;
        for (size_t i = 0; i < n; i++) {
            t += (uint64_t)(-log(unit()) * 1e6);
            k[i] = t;
        }
    } else if (!strcmp(d, "osm")) {
        enum { C = 24 };
        double cx[C], cy[C], sx[C], sy[C], w[C], tot = 0;
        for (int c = 0; c < C; c++) {
            cx[c] = unit() * 4.0e9;
            cy[c] = unit() * 4.0e9;
            sx[c] = 1e6 + unit() * 2e8;
            sy[c] = 1e6 + unit() * 2e8;
            w[c] = exp(2.0 * unit());
            tot += w[c];
        }
        for (size_t i = 0; i < n; i++) {
            double u = unit() * tot;
            int c = 0;
            while (c < C - 1 && u > w[c]) u -= w[c++];
            double x = clampd(cx[c] + sx[c] * norm_quantile(unit()), 0, 4294967295.0);
            double y = clampd(cy[c] + sy[c] * norm_quantile(unit()), 0, 4294967295.0);
            k[i] = morton((uint32_t)x, (uint32_t)y);
        }
    } else if (!strcmp(d, "piecewise")) {
        /* GRE-style hard data: consecutive runs (geometric lengths, mean
         * 2000) each with its own gap scale, from dense (gap 1) to sparse
         * (2^40), with occasional huge jumps between runs. */
        uint64_t t = 0;
        size_t i = 0;
        while (i < n) {
            size_t len = 1 + (size_t)(-log(unit()) * 2000.0);
            uint64_t gap = (uint64_t)1 << (rnd() % 41);
            int noisy = (int)(rnd() % 2);
            if (rnd() % 8 == 0) t += (uint64_t)1 << (40 + rnd() % 8);
            for (size_t j = 0; j < len && i < n; j++, i++) {
                t += noisy ? 1 + rnd() % (2 * gap) : gap;
                k[i] = t;
            }
        }
    } else {
        fprintf(stderr, "unknown dataset %s\n", d);
        exit(2);
    }
    sort_u64(k, n);
    return k;
}

typedef struct {
    unsigned char *blob;
    unsigned char **k;
    size_t *len;
    size_t n;
} strset;

static int cmp_str(const unsigned char *a, size_t al, const unsigned char *b, size_t bl)
{
    size_t m = al < bl ? al : bl;
    int c = memcmp(a, b, m);
    return c ? c : (al > bl) - (al < bl);
}

static const strset *sort_ss;
static int cmp_idx(const void *x, const void *y)
{
    size_t i = *(const size_t *)x, j = *(const size_t *)y;
    return cmp_str(sort_ss->k[i], sort_ss->len[i], sort_ss->k[j], sort_ss->len[j]);
}

static strset gen_str(const char *d, size_t n)
{
    strset s = {0};
    size_t w = !strcmp(d, "user") ? 24 : 16;
    s.n = n;
    s.blob = big_alloc(n * w);
    unsigned char **k = malloc(n * sizeof *k);
    size_t *len = malloc(n * sizeof *len);
    seed(0xabcdef);
    for (size_t i = 0; i < n; i++) {
        k[i] = s.blob + i * w;
        if (w == 24) {
            len[i] = (size_t)snprintf((char *)k[i], 24, "user:%zu", i);
        } else {
            uint64_t a = rnd(), b = rnd();
            memcpy(k[i], &a, 8);
            memcpy(k[i] + 8, &b, 8);
            len[i] = 16;
        }
    }
    size_t *idx = malloc(n * sizeof *idx);
    for (size_t i = 0; i < n; i++) idx[i] = i;
    strset tmp = {s.blob, k, len, n};
    sort_ss = &tmp;
    qsort(idx, n, sizeof *idx, cmp_idx);
    s.k = malloc(n * sizeof *s.k);
    s.len = malloc(n * sizeof *s.len);
    for (size_t i = 0; i < n; i++) {
        s.k[i] = k[idx[i]];
        s.len[i] = len[idx[i]];
    }
    free(idx);
    free(k);
    free(len);
    return s;
}

/* ---- reporting ----------------------------------------------------------- */

static int printed_header;

static void report(const char *dataset, const char *method, double ns, double build_ms,
                   size_t bytes, const char *extra)
{
    if (opt.csv) {
        if (!printed_header++) printf("dataset,n,method,ns_per_lookup,build_ms,index_bytes\n");
        printf("%s,%zu,%s,%.1f,%.1f,%zu\n", dataset, opt.n, method, ns, build_ms, bytes);
    } else {
        if (!printed_header++)
            printf("%-11s %11s %-14s %9s %10s %13s  %s\n", "dataset", "n", "method", "ns/lookup",
                   "build_ms", "index_bytes", "notes");
        printf("%-11s %11zu %-14s %9.1f %10.1f %13zu  %s\n", dataset, opt.n, method, ns, build_ms,
               bytes, extra ? extra : "");
    }
    fflush(stdout);
}

static volatile uint64_t sink;

/* ---- uint64 methods ------------------------------------------------------ */

static size_t bs_lower_bound(const uint64_t *keys, size_t n, uint64_t q)
{
    if (n == 0) return 0;
    const uint64_t *base = keys;
    size_t len = n;
    while (len > 1) {
        size_t half = len / 2;
        base = (base[half] < q) ? base + half : base;
        len -= half;
    }
    return (size_t)(base - keys) + (*base < q);
}

enum { M_OMEN, M_BATCH, M_BS, M_BTREE, M_OMEN_CH, M_BS_CH, M_COUNT };

static uint64_t run_u64(int method, const lidx *m, const void *bt, const uint64_t *keys, size_t n,
                        const uint64_t *qs, size_t nq, size_t *out)
{
    uint64_t sum = 0;
    switch (method) {
    case M_OMEN:
        for (size_t i = 0; i < nq; i++) sum += lidx_lower_bound(m, keys, n, qs[i]);
        break;
    case M_BATCH:
        lidx_lower_bound_batch(m, keys, n, qs, nq, out);
        for (size_t i = 0; i < nq; i++) sum += out[i];
        break;
    case M_BS:
        for (size_t i = 0; i < nq; i++) sum += bs_lower_bound(keys, n, qs[i]);
        break;
    case M_BTREE:
        for (size_t i = 0; i < nq; i++) {
            int f;
            sum += absl_u64_lower_bound(bt, qs[i], &f);
        }
        break;
    /* The chained loops read qs[i + (prev == SIZE_MAX)]: always qs[i],
     * but the load's address waits for the previous answer.  qs has one
     * spare entry, so the address is always in bounds. */
    case M_OMEN_CH: {
        size_t prev = 0;
        for (size_t i = 0; i < nq; i++) {
            prev = lidx_lower_bound(m, keys, n, qs[i + (prev == SIZE_MAX)]);
            sum += prev;
        }
        break;
    }
    case M_BS_CH: {
        size_t prev = 0;
        for (size_t i = 0; i < nq; i++) {
            prev = bs_lower_bound(keys, n, qs[i + (prev == SIZE_MAX)]);
            sum += prev;
        }
        break;
    }
    }
    return sum;
}

static int check_u64(int method, const lidx *m, const void *bt, const uint64_t *keys, size_t n,
                     const uint64_t *qs, size_t nq, size_t *out)
{
    if (method == M_BATCH) lidx_lower_bound_batch(m, keys, n, qs, nq, out);
    for (size_t i = 0; i < nq; i++) {
        size_t want = u64_oracle_lower_bound(keys, n, qs[i]);
        int ok = 1;
        if (method == M_OMEN) ok = lidx_lower_bound(m, keys, n, qs[i]) == want;
        if (method == M_BATCH) ok = out[i] == want;
        if (method == M_BTREE) {
            int f;
            uint64_t v = absl_u64_lower_bound(bt, qs[i], &f);
            ok = (want == n) ? !f : (f && v == keys[want]);
        }
        if (!ok) {
            fprintf(stderr, "CHECK FAILED: method %d query %zu (%llu)\n", method, i,
                    (unsigned long long)qs[i]);
            return 0;
        }
    }
    return 1;
}

static int bench_u64(const char *d)
{
    size_t n = opt.n, nq = opt.queries;
    double t0 = bench_now_ns();
    uint64_t *keys = gen_u64(d, n);
    double gen_ms = (bench_now_ns() - t0) / 1e6;
    uint64_t *qs = big_alloc((nq + 1) * sizeof *qs); /* + the chained loops' spare */
    size_t *out = big_alloc(nq * sizeof *out);
    seed(0x9999);
    for (size_t i = 0; i < nq; i++) qs[i] = keys[rnd() % n];
    qs[nq] = qs[0];
    /* Absent keys too, for --check only (the timed sequence is existing
     * keys, as the task defines). */
    int fails = 0;

    t0 = bench_now_ns();
    lidx *m = NULL;
    if (lidx_build(keys, n, opt.eps, &m) != OMEN_OK) {
        fprintf(stderr, "lidx_build failed\n");
        return 1;
    }
    double build_omen = (bench_now_ns() - t0) / 1e6;
    t0 = bench_now_ns();
    void *bt = absl_u64_build(keys, n);
    double build_bt = (bench_now_ns() - t0) / 1e6;

    static const char *const names[] = {"omendb",        "omendb-batch",   "binary-search",
                                        "absl-btree",    "omendb-chained", "binary-chained"};
    double res[M_COUNT][64];
    uint64_t sums[M_COUNT] = {0};
    int nmeth = opt.chained ? M_COUNT : M_OMEN_CH;
    int reps = opt.reps < 1 ? 1 : opt.reps > 64 ? 64 : opt.reps;
    /* Interleave methods across repetitions so that machine noise hits all
     * of them alike. */
    for (int r = 0; r < reps; r++) {
        for (int meth = 0; meth < nmeth; meth++) {
            double s = bench_now_ns();
            sums[meth] = run_u64(meth, m, bt, keys, n, qs, nq, out);
            res[meth][r] = (bench_now_ns() - s) / (double)nq;
            sink += sums[meth];
        }
    }
    if (opt.check) {
        uint64_t *mixed = malloc(nq * sizeof *mixed);
        for (size_t i = 0; i < nq; i++) mixed[i] = (i % 2) ? qs[i] : (i % 4 ? qs[i] + 1 : rnd());
        mixed[0] = 0;
        mixed[1] = UINT64_MAX;
        for (int meth = 0; meth < 4; meth++)
            if (!check_u64(meth, m, bt, keys, n, qs, nq, out) || !check_u64(meth, m, bt, keys, n, mixed, nq, out))
                fails++;
        if (sums[M_OMEN] != sums[M_BS] || sums[M_BATCH] != sums[M_BS]) fails++;
        if (opt.chained && (sums[M_OMEN_CH] != sums[M_BS] || sums[M_BS_CH] != sums[M_BS])) fails++;
        free(mixed);
    }
    char note[200];
    int len = snprintf(note, sizeof note, "eps %u, %zu segments, %zu levels, %.3f%% of key bytes",
                       lidx_epsilon(m), lidx_segments(m), lidx_levels(m),
                       100.0 * (double)lidx_bytes(m) / (double)(n * 8));
    double hs = huge_share(keys, n * sizeof *keys);
    if (hs >= 0) snprintf(note + len, sizeof note - (size_t)len, ", keys %.0f%% on huge pages", 100 * hs);
    report(d, names[M_OMEN], bench_median(res[M_OMEN], reps), build_omen, lidx_bytes(m), note);
    report(d, names[M_BATCH], bench_median(res[M_BATCH], reps), build_omen, lidx_bytes(m), NULL);
    report(d, names[M_BS], bench_median(res[M_BS], reps), 0, 0, NULL);
    report(d, names[M_BTREE], bench_median(res[M_BTREE], reps), build_bt, absl_u64_bytes(bt),
           "bytes include the keys");
    if (opt.chained) {
        report(d, names[M_OMEN_CH], bench_median(res[M_OMEN_CH], reps), build_omen, lidx_bytes(m),
               "each query waits for the previous answer");
        report(d, names[M_BS_CH], bench_median(res[M_BS_CH], reps), 0, 0, NULL);
    }
    if (!opt.csv)
        printf("  (generation %.0f ms, checksum %llx%s)\n", gen_ms,
               (unsigned long long)sums[M_OMEN], opt.check ? (fails ? ", CHECK FAILED" : ", check ok") : "");
    absl_u64_free(bt);
    lidx_free(m);
    free(keys);
    free(qs);
    free(out);
    return fails;
}

/* ---- string methods ------------------------------------------------------ */

static lidx_slice str_at(const void *ctx, size_t i)
{
    const strset *s = ctx;
    lidx_slice r = {s->k[i], s->len[i]};
    return r;
}

static size_t bs_str(const strset *s, const unsigned char *q, size_t ql)
{
    size_t lo = 0, len = s->n;
    while (len > 0) {
        size_t half = len / 2;
        if (cmp_str(s->k[lo + half], s->len[lo + half], q, ql) < 0) {
            lo += half + 1;
            len -= half + 1;
        } else {
            len = half;
        }
    }
    return lo;
}

static int bench_str(const char *d)
{
    size_t n = opt.n, nq = opt.queries;
    strset s = gen_str(d, n);
    size_t *qi = malloc(nq * sizeof *qi);
    seed(0x7777);
    for (size_t i = 0; i < nq; i++) qi[i] = rnd() % n;
    int fails = 0;

    double t0 = bench_now_ns();
    lidx_str ls = {0};
    ls.n = n;
    ls.key = str_at;
    ls.ctx = &s;
    ls.lcp_len = lidx_str_lcp(str_at, &s, n);
    ls.lcp = s.k[0];
    uint64_t *slots = big_alloc(n * sizeof *slots);
    for (size_t i = 0; i < n; i++) slots[i] = lidx_slot(s.k[i], s.len[i], ls.lcp_len);
    ls.slots = slots;
    if (lidx_build(slots, n, opt.eps, &ls.model) != OMEN_OK) return 1;
    double build_omen = (bench_now_ns() - t0) / 1e6;
    t0 = bench_now_ns();
    void *bt = absl_str_build((const unsigned char *const *)s.k, s.len, n);
    double build_bt = (bench_now_ns() - t0) / 1e6;

    double res[3][64];
    uint64_t sums[3] = {0};
    int reps = opt.reps < 1 ? 1 : opt.reps > 64 ? 64 : opt.reps;
    for (int r = 0; r < reps; r++) {
        for (int meth = 0; meth < 3; meth++) {
            uint64_t sum = 0;
            double st = bench_now_ns();
            for (size_t i = 0; i < nq; i++) {
                const unsigned char *q = s.k[qi[i]];
                size_t ql = s.len[qi[i]];
                if (meth == 0) sum += lidx_str_lower_bound(&ls, q, ql);
                else if (meth == 1) sum += bs_str(&s, q, ql);
                else {
                    size_t l;
                    const unsigned char *p = absl_str_lower_bound(bt, q, ql, &l);
                    sum += l + (p ? p[0] : 0);
                }
            }
            res[meth][r] = (bench_now_ns() - st) / (double)nq;
            sums[meth] = sum;
            sink += sum;
        }
    }
    if (opt.check) {
        unsigned char qb[32];
        for (size_t i = 0; i < nq && !fails; i++) {
            const unsigned char *q = s.k[qi[i]];
            size_t ql = s.len[qi[i]];
            if (i % 2) { /* an absent neighbour */
                memcpy(qb, q, ql);
                qb[ql - 1] ^= 1;
                if (i % 4 == 1 && ql < 31) qb[ql++] = 0;
                q = qb;
            }
            size_t want = bs_str(&s, q, ql), l;
            const unsigned char *p = absl_str_lower_bound(bt, q, ql, &l);
            if (lidx_str_lower_bound(&ls, q, ql) != want) fails++;
            if (want == n ? p != NULL : (p == NULL || cmp_str(p, l, s.k[want], s.len[want]) != 0)) fails++;
        }
        if (sums[0] != sums[1]) fails++;
    }
    char note[160];
    snprintf(note, sizeof note, "model %zu B + slots %zu B; lcp %zu, %zu segments", lidx_bytes(ls.model),
             n * sizeof(uint64_t), ls.lcp_len, lidx_segments(ls.model));
    report(d, "omendb", bench_median(res[0], reps), build_omen, lidx_bytes(ls.model) + n * sizeof(uint64_t),
           note);
    report(d, "binary-search", bench_median(res[1], reps), 0, 0, NULL);
    report(d, "absl-btree", bench_median(res[2], reps), build_bt, absl_str_bytes(bt),
           "holds 16-byte views, not key copies");
    if (!opt.csv)
        printf("  (checksum %llx%s)\n", (unsigned long long)sums[0],
               opt.check ? (fails ? ", CHECK FAILED" : ", check ok") : "");
    absl_str_free(bt);
    lidx_free(ls.model);
    free(slots);
    free(s.blob);
    free(s.k);
    free(s.len);
    free(qi);
    return fails;
}

/* ---- main ------------------------------------------------------------------ */

static size_t parse_count(const char *s)
{
    char *end;
    double v = strtod(s, &end);
    if (*end == 'k' || *end == 'K') v *= 1e3;
    if (*end == 'm' || *end == 'M') v *= 1e6;
    if (*end == 'g' || *end == 'G') v *= 1e9;
    return (size_t)v;
}

static void usage(void)
{
    fprintf(stderr,
            "usage: index_bench [--n 10M] [--dist all|uniform|normal|lognormal|timestamps|osm|"
            "piecewise|user|rand16]\n"
            "                   [--eps E] [--reps R] [--queries Q] [--hugepages 0|1] [--csv] "
            "[--check]\n"
            "                   [--search auto|scalar|avx2|avx512] [--chained]\n");
    exit(2);
}

int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--csv")) opt.csv = 1;
        else if (!strcmp(a, "--check")) opt.check = 1;
        else if (!strcmp(a, "--chained")) opt.chained = 1;
        else if (!v) usage();
        else if (!strcmp(a, "--n")) opt.n = parse_count(argv[++i]);
        else if (!strcmp(a, "--dist")) opt.dist = argv[++i];
        else if (!strcmp(a, "--eps")) opt.eps = (unsigned)atoi(argv[++i]);
        else if (!strcmp(a, "--reps")) opt.reps = atoi(argv[++i]);
        else if (!strcmp(a, "--queries")) opt.queries = parse_count(argv[++i]);
        else if (!strcmp(a, "--hugepages")) opt.huge = atoi(argv[++i]);
        else if (!strcmp(a, "--search")) {
            v = argv[++i];
            opt.search = !strcmp(v, "scalar") ? LIDX_SEARCH_SCALAR
                       : !strcmp(v, "avx2")   ? LIDX_SEARCH_AVX2
                       : !strcmp(v, "avx512") ? LIDX_SEARCH_AVX512
                                              : LIDX_SEARCH_AUTO;
        }
        else usage();
    }
    if (opt.n < 1 || opt.queries < 1) usage();
    lidx_search_force(opt.search);
    if (!opt.csv)
        printf("# index_bench n=%zu queries=%zu reps=%d hugepages=%d eps=%u\n", opt.n, opt.queries,
               opt.reps, opt.huge, opt.eps ? opt.eps : LIDX_DEFAULT_EPSILON);
    int fails = 0, ran = 0;
    for (size_t i = 0; i < sizeof u64_dists / sizeof *u64_dists; i++)
        if (!strcmp(opt.dist, "all") || !strcmp(opt.dist, u64_dists[i])) {
            fails += bench_u64(u64_dists[i]);
            ran++;
        }
    for (size_t i = 0; i < sizeof str_dists / sizeof *str_dists; i++)
        if (!strcmp(opt.dist, "all") || !strcmp(opt.dist, str_dists[i])) {
            fails += bench_str(str_dists[i]);
            ran++;
        }
    if (!ran) usage();
    if (fails) fprintf(stderr, "index_bench: %d check failure(s)\n", fails);
    return fails ? 1 : 0;
}
