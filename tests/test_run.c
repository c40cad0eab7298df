/*
 * test_run.c -- sorted-run files against an in-memory oracle.
 *
 * Every test writes runs with run_writer from a sorted entry array (the
 * oracle) and reads them back through run_get / run_latest_seq / run_iter
 * / run_verify, for each compression.  Corruption tests flip bytes at many
 * positions of every section and truncate the file at many lengths; the
 * rule checked is that the run either refuses (OMEN_CORRUPT or another
 * error code) or returns exactly the oracle's data -- never wrong data --
 * and that run_verify always notices.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "omendb.h"
#include "storage/bloom.h"
#include "storage/cache.h"
#include "storage/compress.h"
#include "storage/fio.h"
#include "support/fio_fault.h"
#include "storage/run.h"
#include "storage/run_format.h" /* RUN_REC_SIZE, RUN_HOT_HUGE_MIN */
#include "util/coding.h"
#include "util/crc32c.h"
#include "util/mem.h"

/* ---- helpers ------------------------------------------------------------ */

static uint64_t rng_s = 1;
static uint64_t rnd(void)
{
    uint64_t z = (rng_s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static char dir[256];
static fio_env nosync_env;

static void path_of(char *buf, size_t cap, const char *name)
{
    snprintf(buf, cap, "%s/%s", dir, name);
}

typedef struct ent {
    uint8_t *k;
    size_t kl;
    uint64_t seq;
    int type;
    uint8_t *v;
    size_t vl;
} ent;

static int kcmp(const uint8_t *a, size_t al, const uint8_t *b, size_t bl)
{
    size_t m = al < bl ? al : bl;
    int c = m ? memcmp(a, b, m) : 0;
    if (c) return c;
    return (al > bl) - (al < bl);
}

static int ent_cmp(const void *pa, const void *pb)
{
    const ent *a = pa, *b = pb;
    int c = kcmp(a->k, a->kl, b->k, b->kl);
    if (c) return c;
    return a->seq > b->seq ? -1 : a->seq < b->seq;
}

static void ents_free(ent *e, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(e[i].k);
        free(e[i].v);
    }
    free(e);
}

static void fill_value(ent *e, size_t vl)
{
    e->vl = vl;
    e->v = malloc(vl ? vl : 1);
    for (size_t j = 0; j < vl; j++)
        e->v[j] = (uint8_t)(e->seq * 31 + j * 7 + e->kl);
}

/* Sort, drop duplicate (key, seq) pairs. */
static size_t ents_sort(ent *e, size_t n)
{
    qsort(e, n, sizeof *e, ent_cmp);
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        if (m && ent_cmp(&e[m - 1], &e[i]) == 0) {
            free(e[i].k);
            free(e[i].v);
            continue;
        }
        e[m++] = e[i];
    }
    return m;
}

enum { KEYS_FIXED16, KEYS_VAR, KEYS_PREFIXED };

/* n entries: ~n/versions distinct keys with up to `versions` versions,
 * tombstones and empty values mixed in. */
static ent *gen(size_t n, int keykind, int versions, size_t vmax, size_t *out_n)
{
    ent *e = calloc(n ? n : 1, sizeof *e);
    size_t i = 0;
    while (i < n) {
        size_t kl;
        uint8_t kb[64];
        if (keykind == KEYS_FIXED16) {
            kl = 16;
            for (int j = 0; j < 16; j++)
                kb[j] = (uint8_t)rnd();
        } else if (keykind == KEYS_VAR) {
            kl = rnd() % 24;
            for (size_t j = 0; j < kl; j++)
                kb[j] = (uint8_t)(rnd() % 4 ? rnd() : 0);
        } else {
            /* Long shared prefix and keys that tie on their slot. */
            memcpy(kb, "tenant/0042/user:", 17);
            kl = 17 + rnd() % 20;
            for (size_t j = 17; j < kl; j++)
                kb[j] = (uint8_t)('a' + rnd() % 3);
        }
        int nv = 1 + (int)(rnd() % (uint64_t)versions);
        for (int v = 0; v < nv && i < n; v++, i++) {
            e[i].k = malloc(kl ? kl : 1);
            memcpy(e[i].k, kb, kl);
            e[i].kl = kl;
            e[i].seq = 1 + rnd() % 100000;
            e[i].type = rnd() % 5 == 0 ? RUN_TYPE_DELETE : RUN_TYPE_PUT;
            size_t vl = 0;
            if (e[i].type == RUN_TYPE_PUT && rnd() % 7) vl = vmax ? rnd() % (vmax + 1) : 0;
            fill_value(&e[i], vl);
        }
    }
    *out_n = ents_sort(e, n);
    return e;
}

static void bounds(const ent *e, size_t n, const uint8_t **lo, size_t *lol, const uint8_t **hi, size_t *hil)
{
    static const uint8_t none[1];
    if (n == 0) {
        *lo = *hi = none;
        *lol = *hil = 0;
        return;
    }
    *lo = e[0].k;
    *lol = e[0].kl;
    *hi = e[n - 1].k;
    *hil = e[n - 1].kl;
}

/* write_run with a size hint (run_writer_expect) unless both are 0. */
static void write_run_hint(const char *path, const ent *e, size_t n, const run_opts *o, run_meta *meta,
                           uint64_t expect, uint64_t expect_kb)
{
    const uint8_t *lo, *hi;
    size_t lol, hil;
    bounds(e, n, &lo, &lol, &hi, &hil);
    run_writer *w;
    assert_int_equal(run_writer_open(path, o, lo, lol, hi, hil, &w), OMEN_OK);
    if (expect || expect_kb) run_writer_expect(w, expect, expect_kb);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(run_writer_add(w, e[i].k, e[i].kl, e[i].seq, e[i].type, e[i].v, e[i].vl), OMEN_OK);
    run_meta m;
    assert_int_equal(run_writer_finish(w, &m), OMEN_OK);
    assert_int_equal(m.entries, n);
    if (n) {
        assert_int_equal(m.smallest_len, e[0].kl);
        assert_memory_equal(m.smallest, e[0].k, e[0].kl ? e[0].kl : 0);
        assert_int_equal(m.largest_len, e[n - 1].kl);
        if (e[n - 1].kl) assert_memory_equal(m.largest, e[n - 1].k, e[n - 1].kl);
    } else {
        assert_null(m.smallest);
    }
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal((uint64_t)st.st_size, m.file_size);
    if (meta)
        *meta = m;
    else
        run_meta_clear(&m);
}

static void write_run(const char *path, const ent *e, size_t n, const run_opts *o, run_meta *meta)
{
    write_run_hint(path, e, n, o, meta, 0, 0);
}

/* Oracle: index of the first entry whose key is >= k. */
static size_t oracle_lb(const ent *e, size_t n, const uint8_t *k, size_t kl)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (kcmp(e[mid].k, e[mid].kl, k, kl) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* Oracle: index of newest version of key with seq <= snap, or -1. */
static long oracle(const ent *e, size_t n, const uint8_t *k, size_t kl, uint64_t snap)
{
    for (size_t i = oracle_lb(e, n, k, kl); i < n && kcmp(e[i].k, e[i].kl, k, kl) == 0; i++)
        if (e[i].seq <= snap) return (long)i;
    return -1;
}

static void check_get(run *r, const ent *e, size_t n, const uint8_t *k, size_t kl, uint64_t snap)
{
    uint64_t seq = 0;
    int type = -1;
    void *val = (void *)1;
    size_t vl = 99;
    int rc = run_get(r, k, kl, snap, &seq, &type, &val, &vl);
    long o = oracle(e, n, k, kl, snap);
    if (o < 0) {
        assert_int_equal(rc, OMEN_NOTFOUND);
        assert_null(val);
        return;
    }
    assert_int_equal(rc, OMEN_OK);
    assert_int_equal(seq, e[o].seq);
    assert_int_equal(type, e[o].type);
    if (type == RUN_TYPE_PUT) {
        assert_non_null(val);
        assert_int_equal(vl, e[o].vl);
        if (vl) assert_memory_equal(val, e[o].v, vl);
    } else {
        assert_null(val);
    }
    omen_free(val);
    /* run_get_into: the same answer, into a buffer cut to half the value
     * (the full length reported, nothing written past the cap). */
    size_t want = type == RUN_TYPE_PUT ? e[o].vl : 0, cap = want / 2;
    uint8_t *buf = malloc(cap + 1);
    memset(buf, 0xEE, cap + 1);
    seq = 0;
    vl = 99;
    assert_int_equal(run_get_into(r, k, kl, snap, &seq, &type, buf, cap, &vl), OMEN_OK);
    assert_int_equal(seq, e[o].seq);
    assert_int_equal(vl, want);
    if (cap) assert_memory_equal(buf, e[o].v, cap);
    assert_int_equal(buf[cap], 0xEE);
    free(buf);
}

static void check_all(run *r, const ent *e, size_t n)
{
    assert_int_equal(run_entries(r), n);
    uint64_t maxseq = 0;
    for (size_t i = 0; i < n; i++)
        if (e[i].seq > maxseq) maxseq = e[i].seq;
    /* Every key at several snapshots (only at each key's first version). */
    for (size_t i = 0; i < n; i++) {
        if (i && kcmp(e[i - 1].k, e[i - 1].kl, e[i].k, e[i].kl) == 0) continue;
        check_get(r, e, n, e[i].k, e[i].kl, RUN_MAX_SEQ);
        check_get(r, e, n, e[i].k, e[i].kl, e[i].seq);
        check_get(r, e, n, e[i].k, e[i].kl, e[i].seq - 1);
        check_get(r, e, n, e[i].k, e[i].kl, maxseq / 2);
        check_get(r, e, n, e[i].k, e[i].kl, 0);
        uint64_t ls;
        assert_int_equal(run_latest_seq(r, e[i].k, e[i].kl, &ls), OMEN_OK);
        assert_int_equal(ls, e[i].seq);
    }
    /* Absent keys: random ones and neighbours of present ones. */
    for (int t = 0; t < 500; t++) {
        uint8_t k[40];
        size_t kl = rnd() % 20;
        for (size_t j = 0; j < kl; j++)
            k[j] = (uint8_t)rnd();
        check_get(r, e, n, k, kl, RUN_MAX_SEQ);
        if (n) {
            const ent *x = &e[rnd() % n];
            size_t l = x->kl < 39 ? x->kl : 39;
            memcpy(k, x->k, l);
            k[l] = 0; /* key + "\0": the next possible key */
            check_get(r, e, n, k, l + 1, RUN_MAX_SEQ);
            if (l) check_get(r, e, n, k, l - 1, RUN_MAX_SEQ);
        }
    }
    /* Forward iteration over every entry, values included. */
    run_iter *it;
    assert_int_equal(run_iter_new(r, &it), OMEN_OK);
    assert_false(run_iter_valid(it));
    size_t i = 0;
    for (run_iter_seek_first(it); run_iter_valid(it); run_iter_next(it), i++) {
        assert_true(i < n);
        size_t kl;
        const void *k = run_iter_key(it, &kl);
        assert_int_equal(kl, e[i].kl);
        if (kl) assert_memory_equal(k, e[i].k, kl);
        assert_int_equal(run_iter_seq(it), e[i].seq);
        assert_int_equal(run_iter_type(it), e[i].type);
        const void *v;
        size_t vl;
        assert_int_equal(run_iter_value(it, &v, &vl), OMEN_OK);
        assert_int_equal(vl, e[i].vl);
        if (vl) assert_memory_equal(v, e[i].v, vl);
    }
    assert_int_equal(i, n);
    /* Backward. */
    i = n;
    for (run_iter_seek_last(it); run_iter_valid(it); run_iter_prev(it)) {
        assert_true(i > 0);
        i--;
        size_t kl;
        const void *k = run_iter_key(it, &kl);
        assert_int_equal(kl, e[i].kl);
        if (kl) assert_memory_equal(k, e[i].k, kl);
        assert_int_equal(run_iter_seq(it), e[i].seq);
        const void *v;
        size_t vl;
        assert_int_equal(run_iter_value(it, &v, &vl), OMEN_OK);
        assert_int_equal(vl, e[i].vl);
        if (vl) assert_memory_equal(v, e[i].v, vl);
    }
    assert_int_equal(i, 0);
    /* Seeks: present keys, slightly larger and smaller keys, random. */
    for (int t = 0; t < 300 && n; t++) {
        const ent *x = &e[rnd() % n];
        uint8_t k[40];
        size_t l = x->kl < 38 ? x->kl : 38;
        memcpy(k, x->k, l);
        size_t ql = l;
        int mode = t % 4;
        if (mode == 1) k[ql++] = 0;
        if (mode == 2 && ql) ql--;
        if (mode == 3) {
            ql = rnd() % 10;
            for (size_t j = 0; j < ql; j++)
                k[j] = (uint8_t)rnd();
        }
        run_iter_seek(it, k, ql);
        size_t want = oracle_lb(e, n, k, ql);
        if (want == n) {
            assert_false(run_iter_valid(it));
        } else {
            assert_true(run_iter_valid(it));
            size_t kl;
            const void *got = run_iter_key(it, &kl);
            assert_int_equal(kl, e[want].kl);
            if (kl) assert_memory_equal(got, e[want].k, kl);
            assert_int_equal(run_iter_seq(it), e[want].seq);
            if (want > 0) {
                run_iter_prev(it);
                assert_true(run_iter_valid(it));
                assert_int_equal(run_iter_seq(it), e[want - 1].seq);
            }
        }
    }
    assert_int_equal(run_iter_status(it), OMEN_OK);
    run_iter_free(it);
}

/* Open the run at path (file number fno, through cache if non-NULL), check
 * every entry against e[0..n), close it. */
static void check_file(const char *path, uint64_t fno, block_cache *cache, const ent *e, size_t n)
{
    run *r;
    assert_int_equal(run_open(path, fno, cache, &r), OMEN_OK);
    check_all(r, e, n);
    run_close(r);
}

/* The end of a round trip: the file passes run_verify, then it, the cache
 * and the entries go. */
static void verify_and_drop(const char *path, block_cache *cache, ent *e, size_t n)
{
    assert_int_equal(run_verify(path, NULL, NULL), OMEN_OK);
    cache_free(cache);
    ents_free(e, n);
    unlink(path);
}

static int comps[] = {OMEN_COMPRESS_NONE, OMEN_COMPRESS_LZ4, OMEN_COMPRESS_ZSTD,
                      OMEN_COMPRESS_SNAPPY};
#define NCOMPS ((int)(sizeof comps / sizeof *comps))

static void roundtrip(size_t n, int keykind, int versions, size_t vmax, int with_cache)
{
    for (int c = 0; c < NCOMPS; c++) {
        size_t m;
        ent *e = gen(n, keykind, versions, vmax, &m);
        char path[300];
        path_of(path, sizeof path, "rt.run");
        run_opts o = {comps[c], 10, 16, 4096};
        write_run(path, e, m, &o, NULL);
        block_cache *cache = NULL;
        if (with_cache) assert_int_equal(cache_new(1 << 20, &cache), OMEN_OK);
        check_file(path, 7, cache, e, m);
        check_file(path, 7, cache, e, m); /* reopen and check again */
        verify_and_drop(path, cache, e, m);
    }
}

/* ---- tests --------------------------------------------------------------- */

static void test_tiny_runs(void **state)
{
    (void)state;
    for (size_t n = 0; n <= 3; n++) {
        roundtrip(n, KEYS_VAR, 1, 10, 0);
        roundtrip(n, KEYS_FIXED16, 2, 10, 1);
    }
}

static void test_fixed_keys(void **state)
{
    (void)state;
    roundtrip(5000, KEYS_FIXED16, 1, 100, 0);
    roundtrip(5000, KEYS_FIXED16, 1, 100, 1);
}

static void test_var_keys_versions(void **state)
{
    (void)state;
    roundtrip(6000, KEYS_VAR, 6, 300, 1);
    roundtrip(6000, KEYS_PREFIXED, 40, 50, 0);
}

static void test_large_values(void **state)
{
    (void)state;
    for (int c = 0; c < NCOMPS; c++) {
        size_t n = 60;
        ent *e = calloc(n, sizeof *e);
        for (size_t i = 0; i < n; i++) {
            e[i].kl = 8;
            e[i].k = malloc(8);
            for (int j = 0; j < 8; j++)
                e[i].k[j] = (uint8_t)(i >> (56 - 8 * j));
            e[i].seq = 100 + i;
            e[i].type = RUN_TYPE_PUT;
            size_t vl = i % 10 == 3 ? (1u << 20) + 12345 * (i % 4) : i % 7 * 50;
            fill_value(&e[i], vl);
        }
        char path[300];
        path_of(path, sizeof path, "big.run");
        run_opts o = {comps[c], 10, 0, 4096};
        write_run(path, e, n, &o, NULL);
        block_cache *cache;
        assert_int_equal(cache_new(8 << 20, &cache), OMEN_OK);
        check_file(path, 1, cache, e, n);
        verify_and_drop(path, cache, e, n);
    }
}

/* Writes n keys made by mk(i), reopens the run and returns the epsilon
 * its writer chose (o.epsilon = 0) or kept (o.epsilon != 0); every key must
 * still be found at its place. */
static unsigned epsilon_of(size_t n, void (*mk)(size_t i, ent *e), unsigned eps)
{
    ent *e = calloc(n, sizeof *e);
    for (size_t i = 0; i < n; i++) {
        mk(i, &e[i]);
        e[i].seq = 1 + i;
        e[i].type = RUN_TYPE_PUT;
        fill_value(&e[i], 8);
    }
    char path[300];
    path_of(path, sizeof path, "eps.run");
    run_opts o = {OMEN_COMPRESS_NONE, 10, eps, 4096};
    write_run(path, e, n, &o, NULL);
    run *r;
    assert_int_equal(run_open(path, 1, NULL, &r), OMEN_OK);
    unsigned got = run_index_epsilon(r);
    run_close(r);
    block_cache *cache;
    assert_int_equal(cache_new(1 << 20, &cache), OMEN_OK);
    check_file(path, 2, cache, e, n);
    verify_and_drop(path, cache, e, n);
    return got;
}

/* db_bench-style keys: 16 decimal digits, every other number. */
static void mk_decimal(size_t i, ent *e)
{
    e->kl = 16;
    e->k = malloc(17);
    snprintf((char *)e->k, 17, "%016zu", 2 * i);
}

/* Big-endian integers with random gaps: lines fit them well. */
static void mk_int(size_t i, ent *e)
{
    e->kl = 8;
    e->k = malloc(8);
    uint64_t v = (uint64_t)i * 1000 + rnd() % 1000;
    for (int j = 0; j < 8; j++)
        e->k[j] = (uint8_t)(v >> (56 - 8 * j));
}

static void test_writer_picks_epsilon(void **state)
{
    (void)state;
    /* Decimal slots jump at every carry: epsilon 16 would need a segment
     * per ~50 keys, so the writer takes 32. */
    assert_int_equal(epsilon_of(200000, mk_decimal, 0), 32);
    /* Smooth keys keep the smallest candidate. */
    assert_int_equal(epsilon_of(200000, mk_int, 0), 16);
    /* An epsilon asked for is kept, whatever the keys. */
    assert_int_equal(epsilon_of(200000, mk_decimal, 8), 8);
    assert_int_equal(epsilon_of(3, mk_int, 0), 16);
}

/* bloom_hash is part of the run format: filters written by earlier
 * builds must keep answering the same way.  These values were computed by
 * the original byte-copying implementation, for every length 0-20 (the
 * tail paths, both under and over 8 bytes). */
static void test_bloom_hash_stable(void **state)
{
    (void)state;
    static const uint64_t want[21] = {
        0x4e17cf67001b3979ull, /* 0 */
        0x54034db87426550eull, /* 1 */
        0x9310c609cbe03677ull, /* 2 */
        0xe6edc85be028ea28ull, /* 3 */
        0xecc544a0b274a8f7ull, /* 4 */
        0x3677c40a3f35bfe5ull, /* 5 */
        0xc83bde87eca34356ull, /* 6 */
        0x00d8cd116857f0c3ull, /* 7 */
        0x4a714a36c26479efull, /* 8 */
        0x8d5354f6b1237db0ull, /* 9 */
        0xbd4560c3ba87ee7dull, /* 10 */
        0x9541af660b38db81ull, /* 11 */
        0x263e59db8526f58aull, /* 12 */
        0xa4445cee754d007dull, /* 13 */
        0x0ca3246d3e3b6fdeull, /* 14 */
        0x6830fda7f2868518ull, /* 15 */
        0xb6c7934e539004ddull, /* 16 */
        0x6cf0224fa84c93dfull, /* 17 */
        0xa52624f4dfab8f53ull, /* 18 */
        0xd5ef1e20f778500eull, /* 19 */
        0x31028b265b9ca5a4ull, /* 20 */
    };
    const char *k = "omendb-bloom-hash-golden-key";
    for (size_t len = 0; len <= 20; len++)
        assert_int_equal(bloom_hash(k, len), want[len]);
}

static void test_bloom_fp_rate(void **state)
{
    (void)state;
    size_t n = 20000, m;
    ent *e = gen(n, KEYS_FIXED16, 1, 0, &m);
    char path[300];
    path_of(path, sizeof path, "bloom.run");
    run_opts o = {OMEN_COMPRESS_NONE, 10, 0, 0};
    run_meta meta;
    write_run(path, e, m, &o, &meta);
    assert_true(meta.filter_bytes >= m * 10 / 8);
    run_meta_clear(&meta);
    run *r;
    assert_int_equal(run_open(path, 1, NULL, &r), OMEN_OK);
    assert_true(run_filter_bytes(r) >= m * 10 / 8);
    /* Reach the bloom image through the public hash: count positives of
     * absent keys via run_get (which answers NOTFOUND either way) would not
     * show the filter, so probe a filter built the same way directly. */
    size_t img_len = bloom_image_size(m, 10);
    uint64_t *h = malloc(m * sizeof *h);
    for (size_t i = 0; i < m; i++)
        h[i] = bloom_hash(e[i].k, e[i].kl);
    uint8_t *img = malloc(img_len);
    assert_int_equal(bloom_build_array(h, m, 10, img, img_len), OMEN_OK);
    assert_int_equal(bloom_check_image(img, img_len), OMEN_OK);
    for (size_t i = 0; i < m; i++)
        assert_true(bloom_may_contain(img, h[i]));
    size_t fp = 0, probes = 200000;
    for (size_t i = 0; i < probes; i++) {
        uint8_t k[17];
        for (int j = 0; j < 17; j++)
            k[j] = (uint8_t)rnd();
        fp += (size_t)bloom_may_contain(img, bloom_hash(k, 17));
    }
    double rate = (double)fp / (double)probes;
    print_message("bloom: %zu keys, 10 bits/key, false-positive rate %.4f\n", m, rate);
    assert_true(rate > 0.001 && rate < 0.03);
    /* A disabled filter says "maybe" for everything; a wrong-size image is
     * refused. */
    uint8_t off[BLOOM_HEADER_BYTES];
    assert_int_equal(bloom_image_size(m, 0), sizeof off);
    assert_int_equal(bloom_build_array(h, m, 0, off, sizeof off), OMEN_OK);
    assert_int_equal(bloom_check_image(off, sizeof off), OMEN_OK);
    assert_true(bloom_may_contain(off, 12345));
    assert_int_equal(bloom_check_image(img, img_len - 1), OMEN_CORRUPT);
    assert_int_equal(bloom_check_image(img, 3), OMEN_CORRUPT);
    free(img);
    free(h);
    run_close(r);
    /* A run without a filter still answers correctly. */
    run_opts o0 = {OMEN_COMPRESS_LZ4, 0, 0, 0};
    write_run(path, e, m, &o0, NULL);
    assert_int_equal(run_open(path, 1, NULL, &r), OMEN_OK);
    assert_int_equal(run_filter_bytes(r), BLOOM_HEADER_BYTES);
    check_all(r, e, m);
    run_close(r);
    ents_free(e, m);
    unlink(path);
}

static void test_compress_roundtrip(void **state)
{
    (void)state;
    uint8_t in[10000], out[20000], back[10000];
    for (size_t i = 0; i < sizeof in; i++)
        in[i] = (uint8_t)(i % 13 == 0 ? rnd() : i % 7);
    for (int c = 0; c < NCOMPS; c++) {
        size_t cl;
        assert_true(compress_bound(comps[c], sizeof in) <= sizeof out);
        assert_int_equal(compress_block(comps[c], in, sizeof in, out, sizeof out, &cl), OMEN_OK);
        assert_int_equal(decompress_block(comps[c], out, cl, back, sizeof back), OMEN_OK);
        assert_memory_equal(in, back, sizeof in);
        /* Wrong stated size and damaged input are refused. */
        assert_int_equal(decompress_block(comps[c], out, cl, back, sizeof back - 1), OMEN_CORRUPT);
        if (c) {
            assert_int_equal(decompress_block(comps[c], out, cl / 2, back, sizeof back), OMEN_CORRUPT);
            for (int t = 0; t < 200; t++) {
                uint8_t dam[20000];
                memcpy(dam, out, cl);
                dam[rnd() % cl] ^= (uint8_t)(1 + rnd() % 255);
                int rc = decompress_block(comps[c], dam, cl, back, sizeof back);
                assert_true(rc == OMEN_OK || rc == OMEN_CORRUPT);
            }
        }
    }
    assert_int_equal(compress_block(9, in, 10, out, sizeof out, &(size_t){0}), OMEN_INVALID);
    assert_int_equal(decompress_block(9, in, 10, out, 10), OMEN_INVALID);
}

/* Every run is written as format version 2.  Version 1 files are still
 * read, but may not name codec 3 (Snappy): rewritten as version 1 (with the
 * version-1 footer checksum) a Snappy run is corrupt and the others open; a
 * version-3 file is too new. */
static void test_format_version(void **state)
{
    (void)state;
    for (int c = 0; c < NCOMPS; c++) {
        size_t m;
        ent *e = gen(200, KEYS_VAR, 2, 300, &m);
        char path[300], bad[300];
        path_of(path, sizeof path, "ver.run");
        path_of(bad, sizeof bad, "ver-bad.run");
        run_opts o = {comps[c], 10, 0, 512};
        write_run(path, e, m, &o, NULL);
        FILE *f = fopen(path, "rb");
        fseek(f, 0, SEEK_END);
        long size = ftell(f);
        fseek(f, 0, SEEK_SET);
        uint8_t *img = malloc((size_t)size);
        assert_int_equal(fread(img, 1, (size_t)size, f), (size_t)size);
        fclose(f);
        uint8_t *ft = img + size - 176;
        assert_int_equal(get_fixed32(img + 8), 2);
        assert_int_equal(get_fixed32(ft + 160), 2);
        assert_int_equal(get_fixed32(ft + 124), (uint32_t)comps[c]);
        for (uint32_t v = 1; v <= 3; v += 2) {
            put_fixed32(img + 8, v);
            put_fixed32(ft + 160, v);
            if (v == 1) {
                /* A version-1 footer: no file number, checksum of 0..155. */
                put_fixed32(ft + 164, 0);
                put_fixed32(ft + 156, crc32c_mask(crc32c(0, ft, 156)));
            }
            f = fopen(bad, "wb");
            fwrite(img, 1, (size_t)size, f);
            fclose(f);
            run *r = NULL;
            int rc = run_open(bad, 1, NULL, &r);
            int expect = v == 3 ? OMEN_VERSION
                         : comps[c] == OMEN_COMPRESS_SNAPPY ? OMEN_CORRUPT
                                                            : OMEN_OK;
            assert_int_equal(rc, expect);
            if (rc == OMEN_OK) run_close(r);
        }
        free(img);
        ents_free(e, m);
        unlink(path);
        unlink(bad);
    }
}

static void test_writer_rejects_bad_input(void **state)
{
    (void)state;
    char path[300];
    path_of(path, sizeof path, "bad.run");
    run_writer *w;
    run_opts bad = {77, 10, 0, 0};
    assert_int_equal(run_writer_open(path, &bad, "a", 1, "b", 1, &w), OMEN_INVALID);
    assert_null(w);
    assert_int_equal(run_writer_open(path, NULL, "b", 1, "a", 1, &w), OMEN_INVALID);
    assert_int_equal(run_writer_open(path, NULL, "key0", 4, "key9", 4, &w), OMEN_OK);
    assert_int_equal(run_writer_add(w, "key5", 4, 10, RUN_TYPE_PUT, "v", 1), OMEN_OK);
    /* Out of order: smaller key, equal key with a larger or equal seq. */
    assert_int_equal(run_writer_add(w, "key4", 4, 10, RUN_TYPE_PUT, "v", 1), OMEN_INVALID);
    assert_int_equal(run_writer_add(w, "key5", 4, 10, RUN_TYPE_PUT, "v", 1), OMEN_INVALID);
    assert_int_equal(run_writer_add(w, "key5", 4, 11, RUN_TYPE_PUT, "v", 1), OMEN_INVALID);
    /* Outside the prefix bound; bad type; tombstone with a value; seq. */
    assert_int_equal(run_writer_add(w, "zzz", 3, 1, RUN_TYPE_PUT, "v", 1), OMEN_INVALID);
    assert_int_equal(run_writer_add(w, "key6", 4, 1, 7, "v", 1), OMEN_INVALID);
    assert_int_equal(run_writer_add(w, "key6", 4, 1, RUN_TYPE_DELETE, "v", 1), OMEN_INVALID);
    assert_int_equal(run_writer_add(w, "key6", 4, RUN_MAX_SEQ + 1, RUN_TYPE_PUT, "v", 1), OMEN_INVALID);
    assert_int_equal(run_writer_add(w, NULL, 4, 1, RUN_TYPE_PUT, "v", 1), OMEN_INVALID);
    /* Still usable after rejected adds. */
    assert_int_equal(run_writer_add(w, "key5", 4, 9, RUN_TYPE_DELETE, NULL, 0), OMEN_OK);
    assert_int_equal(run_writer_add(w, "key6", 4, 3, RUN_TYPE_PUT, "", 0), OMEN_OK);
    run_writer_abort(w);
    assert_false(fio_exists(path));
    /* Finish works after the rejected calls too. */
    assert_int_equal(run_writer_open(path, NULL, "key0", 4, "key9", 4, &w), OMEN_OK);
    assert_int_equal(run_writer_add(w, "key5", 4, 10, RUN_TYPE_PUT, "v", 1), OMEN_OK);
    assert_int_equal(run_writer_add(w, "key4", 4, 10, RUN_TYPE_PUT, "v", 1), OMEN_INVALID);
    run_meta m;
    assert_int_equal(run_writer_finish(w, &m), OMEN_OK);
    assert_int_equal(m.entries, 1);
    assert_int_equal(m.min_seq, 10);
    run_meta_clear(&m);
    run *r;
    assert_int_equal(run_open(path, 1, NULL, &r), OMEN_OK);
    uint64_t s;
    int t;
    void *v;
    size_t vl;
    assert_int_equal(run_get(r, "key5", 4, 100, &s, &t, &v, &vl), OMEN_OK);
    assert_int_equal(vl, 1);
    assert_memory_equal(v, "v", 1);
    omen_free(v);
    assert_int_equal(run_get(r, NULL, 3, 100, &s, &t, &v, &vl), OMEN_INVALID);
    run_close(r);
    /* An empty run whose bounds share a prefix. */
    assert_int_equal(run_writer_open(path, NULL, "key0", 4, "key9", 4, &w), OMEN_OK);
    assert_int_equal(run_writer_finish(w, &m), OMEN_OK);
    assert_int_equal(m.entries, 0);
    run_meta_clear(&m);
    assert_int_equal(run_open(path, 1, NULL, &r), OMEN_OK);
    assert_int_equal(run_entries(r), 0);
    assert_int_equal(run_get(r, "key5", 4, 100, &s, &t, &v, &vl), OMEN_NOTFOUND);
    run_close(r);
    assert_int_equal(run_verify(path, NULL, NULL), OMEN_OK);
    /* Missing file and non-run files. */
    char other[300];
    path_of(other, sizeof other, "missing.run");
    assert_int_equal(run_open(other, 1, NULL, &r), OMEN_NOTFOUND);
    FILE *f = fopen(other, "w");
    for (int i = 0; i < 1000; i++)
        fputc(i, f);
    fclose(f);
    assert_int_equal(run_open(other, 1, NULL, &r), OMEN_CORRUPT);
    assert_int_equal(run_verify(other, NULL, NULL), OMEN_CORRUPT);
    unlink(other);
    unlink(path);
}

/* Big enough that slots, records, keys and hashes spill to temp files. */
static void test_spill_large_run(void **state)
{
    (void)state;
    size_t n = 300000;
    ent *e = calloc(n, sizeof *e);
    for (size_t i = 0; i < n; i++) {
        e[i].kl = 24;
        e[i].k = malloc(24);
        char kb[32];
        snprintf(kb, sizeof kb, "spill-test-key-%09zu", i);
        memcpy(e[i].k, kb, 24);
        e[i].seq = i + 1;
        e[i].type = RUN_TYPE_PUT;
        fill_value(&e[i], i % 3);
    }
    char path[300];
    path_of(path, sizeof path, "spill.run");
    run_opts o = {OMEN_COMPRESS_NONE, 10, 0, 0};
    write_run(path, e, n, &o, NULL);
    for (int i = 0; i < 4; i++) {
        char tmp[320];
        snprintf(tmp, sizeof tmp, "%s.tmp%d", path, i);
        assert_false(fio_exists(tmp));
    }
    run *r;
    assert_int_equal(run_open(path, 1, NULL, &r), OMEN_OK);
    assert_int_equal(run_entries(r), n);
    for (size_t t = 0; t < 20000; t++) {
        size_t i = rnd() % n;
        check_get(r, e, n, e[i].k, e[i].kl, RUN_MAX_SEQ);
    }
    run_close(r);
    assert_int_equal(run_verify(path, NULL, NULL), OMEN_OK);
    ents_free(e, n);
    unlink(path);
}

static uint8_t *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    assert_int_equal(fseek(f, 0, SEEK_END), 0);
    long l = ftell(f);
    assert_true(l > 0);
    rewind(f);
    uint8_t *b = malloc((size_t)l);
    assert_non_null(b);
    assert_int_equal(fread(b, 1, (size_t)l, f), (size_t)l);
    fclose(f);
    *len = (size_t)l;
    return b;
}

/* Enough entries for the writer's hot region (run_writer_expect) even when
 * announced at half their number. */
#define HOT_N ((size_t)(2 * RUN_HOT_HUGE_MIN / (8 + RUN_REC_SIZE)) + 4000)

/* A size hint only sizes the writer's buffers and decides whether the hot
 * sections are built in place: right, too small (the region's entries move
 * to the spills), too large or absurd, the file comes out byte for byte as
 * without one.  With the right count the region is handed over and the run
 * opened on it reads like any other. */
static void test_writer_expect(void **state)
{
    (void)state;
    size_t n;
    ent *e = gen(HOT_N, KEYS_FIXED16, 2, 20, &n);
    char path[300];
    path_of(path, sizeof path, "expect.run");
    run_opts o = {OMEN_COMPRESS_NONE, 10, 0, 0};
    write_run(path, e, n, &o, NULL);
    size_t blen;
    uint8_t *base = slurp(path, &blen);
    const uint64_t hints[][3] = {/* entries, key bytes, hands over */
                                 {n, 16 * n, 1},         {n / 2, 100, 0}, {4 * n, 0, 0},
                                 {1ull << 40, 1ull << 50, 0}, {1, 1, 0}};
    for (size_t h = 0; h < sizeof hints / sizeof *hints; h++) {
        run_meta m;
        write_run_hint(path, e, n, &o, &m, hints[h][0], hints[h][1]);
        assert_int_equal(m.hot != NULL, (int)hints[h][2]);
        size_t len;
        uint8_t *b = slurp(path, &len);
        assert_int_equal(len, blen);
        assert_memory_equal(b, base, blen);
        free(b);
        run *r;
        assert_int_equal(run_open_fresh(path, 0, NULL, &m, &r), OMEN_OK);
        assert_null(m.hot);
        if (hints[h][2]) check_all(r, e, n);
        run_close(r);
        run_meta_clear(&m);
    }
    free(base);
    ents_free(e, n);
    unlink(path);
}

/* The handed-over sections are checked against the file's checksums as a
 * copy would be; a region that does not match the file's layout is not
 * used (the sections are then copied from the file). */
static void test_fresh_region_checked(void **state)
{
    (void)state;
    size_t n;
    ent *e = gen(HOT_N / 2 + 1000, KEYS_FIXED16, 1, 10, &n);
    char path[300];
    path_of(path, sizeof path, "fresh.run");
    run_opts o = {OMEN_COMPRESS_NONE, 10, 0, 0};
    run_meta m;
    run *r;
    write_run_hint(path, e, n, &o, &m, n, 16 * n);
    assert_non_null(m.hot);
    m.hot[m.hot_recs + 3 * RUN_REC_SIZE + 9] ^= 0x10; /* a record's key slot */
    assert_int_equal(run_open_fresh(path, 0, NULL, &m, &r), OMEN_CORRUPT);
    assert_null(r);
    assert_null(m.hot);
    run_meta_clear(&m);

    write_run_hint(path, e, n, &o, &m, n, 16 * n);
    assert_non_null(m.hot);
    m.hot[5] ^= 0x01; /* a slot, but the region claims another entry count */
    m.entries++;
    assert_int_equal(run_open_fresh(path, 0, NULL, &m, &r), OMEN_OK);
    assert_null(m.hot);
    check_all(r, e, n);
    run_close(r);
    run_meta_clear(&m);
    ents_free(e, n);
    unlink(path);
}

/* Reading a damaged run: either an error or exactly the oracle's data. */
static void damaged_reads(const char *path, const ent *e, size_t n, int *detected)
{
    run *r;
    int rc = run_open(path, 3, NULL, &r);
    if (rc != OMEN_OK) {
        assert_true(rc == OMEN_CORRUPT || rc == OMEN_VERSION);
        *detected = 1;
        return;
    }
    for (size_t i = 0; i < n; i++) {
        uint64_t seq;
        int type;
        void *val;
        size_t vl;
        rc = run_get(r, e[i].k, e[i].kl, e[i].seq, &seq, &type, &val, &vl);
        if (rc == OMEN_CORRUPT) {
            *detected = 1;
            continue;
        }
        assert_int_equal(rc, OMEN_OK);
        assert_int_equal(seq, e[i].seq);
        assert_int_equal(type, e[i].type);
        if (type == RUN_TYPE_PUT) {
            assert_int_equal(vl, e[i].vl);
            if (vl) assert_memory_equal(val, e[i].v, vl);
        }
        omen_free(val);
    }
    run_iter *it;
    assert_int_equal(run_iter_new(r, &it), OMEN_OK);
    size_t i = 0;
    for (run_iter_seek_first(it); run_iter_valid(it); run_iter_next(it), i++) {
        assert_true(i < n);
        assert_int_equal(run_iter_seq(it), e[i].seq);
        const void *v;
        size_t vl;
        rc = run_iter_value(it, &v, &vl);
        if (rc != OMEN_OK) {
            assert_int_equal(rc, OMEN_CORRUPT);
            assert_int_equal(run_iter_status(it), OMEN_CORRUPT);
            *detected = 1;
            continue;
        }
        assert_int_equal(vl, e[i].vl);
        if (vl) assert_memory_equal(v, e[i].v, vl);
    }
    run_iter_free(it);
    run_close(r);
}

static void test_corruption(void **state)
{
    (void)state;
    for (int c = 0; c < NCOMPS; c++) {
        size_t m;
        ent *e = gen(90, KEYS_VAR, 3, 120, &m);
        char path[300], bad[300];
        path_of(path, sizeof path, "good.run");
        path_of(bad, sizeof bad, "bad.run");
        run_opts o = {comps[c], 10, 4, 512};
        write_run(path, e, m, &o, NULL);
        FILE *f = fopen(path, "rb");
        fseek(f, 0, SEEK_END);
        long size = ftell(f);
        fseek(f, 0, SEEK_SET);
        uint8_t *img = malloc((size_t)size);
        assert_int_equal(fread(img, 1, (size_t)size, f), (size_t)size);
        fclose(f);
        /* Flip one byte at every position of the sections after the value
         * blocks (slots, records, keys, model, filter, block index, footer)
         * and at every 5th of the header and value blocks: reads never
         * return wrong data and run_verify always notices. */
        long slots_off = (long)get_fixed64(img + size - 176 + 24);
        assert_true(slots_off > 16 && slots_off < size);
        for (long pos = 0; pos < size; pos += pos < slots_off ? 5 : 1) {
            img[pos] ^= (uint8_t)(1 + rnd() % 255);
            f = fopen(bad, "wb");
            fwrite(img, 1, (size_t)size, f);
            fclose(f);
            int detected = 0;
            damaged_reads(bad, e, m, &detected);
            int vrc = run_verify(bad, NULL, NULL);
            if (vrc == OMEN_OK) {
                const uint8_t *ft = img + size - 176;
                fprintf(stderr,
                        "undetected flip at %ld of %ld (comp %d): slots %llu recs %llu keys %llu+%llu model "
                        "%llu bloom %llu bindex %llu\n",
                        pos, size, c, (unsigned long long)get_fixed64(ft + 24),
                        (unsigned long long)get_fixed64(ft + 40), (unsigned long long)get_fixed64(ft + 48),
                        (unsigned long long)get_fixed64(ft + 56), (unsigned long long)get_fixed64(ft + 64),
                        (unsigned long long)get_fixed64(ft + 80), (unsigned long long)get_fixed64(ft + 96));
            }
            assert_int_not_equal(vrc, OMEN_OK);
            f = fopen(path, "rb");
            fseek(f, pos, SEEK_SET);
            assert_int_equal(fread(&img[pos], 1, 1, f), 1);
            fclose(f);
        }
        /* Truncation at many lengths. */
        for (long len = 0; len < size; len += 1 + len / 16) {
            f = fopen(bad, "wb");
            fwrite(img, 1, (size_t)len, f);
            fclose(f);
            run *r;
            int rc = run_open(bad, 1, NULL, &r);
            assert_int_equal(rc, OMEN_CORRUPT);
            assert_int_equal(run_verify(bad, NULL, NULL), OMEN_CORRUPT);
        }
        /* A flipped byte in a value block is caught on first read. */
        free(img);
        ents_free(e, m);
        unlink(path);
        unlink(bad);
    }
}

/* I/O faults while writing: the error surfaces and nothing is left. */
static void test_write_faults(void **state)
{
    (void)state;
    size_t m;
    ent *e = gen(3000, KEYS_FIXED16, 2, 3000, &m);
    char path[300];
    path_of(path, sizeof path, "fault.run");
    fio_fault_install();
    for (long nth = 1;; nth++) {
        fio_fault_fail_nth(FIO_FAULT_MUTATING, nth, 0);
        run_writer *w;
        int rc = run_writer_open(path, NULL, e[0].k, e[0].kl, e[m - 1].k, e[m - 1].kl, &w);
        for (size_t i = 0; rc == OMEN_OK && i < m; i++)
            rc = run_writer_add(w, e[i].k, e[i].kl, e[i].seq, e[i].type, e[i].v, e[i].vl);
        if (rc == OMEN_OK) {
            rc = run_writer_finish(w, NULL);
        } else if (w && rc != OMEN_OK) {
            assert_int_equal(rc, OMEN_IO);
            run_writer_abort(w);
        }
        long failures = fio_fault_failures();
        fio_fault_fail_nth(0, 0, 0);
        if (failures == 0) {
            assert_int_equal(rc, OMEN_OK);
            check_file(path, 1, NULL, e, m);
            break;
        }
        assert_int_not_equal(rc, OMEN_OK);
        assert_false(fio_exists(path));
    }
    fio_fault_remove();
    fio_set_env(&nosync_env);
    unlink(path);
    ents_free(e, m);
}

/* Allocation failures in writer and reader: clean errors, no leaks. */
static void test_alloc_faults(void **state)
{
    (void)state;
    size_t m;
    ent *e = gen(400, KEYS_VAR, 2, 100, &m);
    char path[300];
    path_of(path, sizeof path, "nomem.run");
    run_opts o = {OMEN_COMPRESS_LZ4, 10, 0, 256};
    for (long nth = 0;; nth++) {
        util_mem_fail_after(nth);
        run_writer *w = NULL;
        int rc = run_writer_open(path, &o, "", 0, "\xff\xff", 2, &w);
        for (size_t i = 0; rc == OMEN_OK && i < m; i++)
            rc = run_writer_add(w, e[i].k, e[i].kl, e[i].seq, e[i].type, e[i].v, e[i].vl);
        if (rc == OMEN_OK)
            rc = run_writer_finish(w, NULL);
        else if (w)
            run_writer_abort(w);
        run *r = NULL;
        if (rc == OMEN_OK) rc = run_open(path, 1, NULL, &r);
        void *v = NULL;
        if (rc == OMEN_OK) {
            rc = run_get(r, e[m / 2].k, e[m / 2].kl, RUN_MAX_SEQ, NULL, NULL, &v, NULL);
            if (rc == OMEN_NOTFOUND) rc = OMEN_OK;
        }
        omen_free(v);
        run_close(r);
        unsigned long fails = util_mem_failures();
        util_mem_fail_after(-1);
        if (fails == 0) {
            assert_int_equal(rc, OMEN_OK);
            break;
        }
        assert_int_equal(rc, OMEN_NOMEM);
    }
    unlink(path);
    ents_free(e, m);
}

static void report(void *ctx, const char *line)
{
    (void)line;
    (*(int *)ctx)++;
}

static void test_verify_reports(void **state)
{
    (void)state;
    size_t m;
    ent *e = gen(500, KEYS_FIXED16, 1, 100, &m);
    char path[300];
    path_of(path, sizeof path, "rep.run");
    write_run(path, e, m, NULL, NULL);
    int lines = 0;
    assert_int_equal(run_verify(path, report, &lines), OMEN_OK);
    assert_int_equal(lines, 1);
    /* Damage a value block byte: open still works (blocks are checked when
     * read), verify and the read of that value both report it. */
    FILE *f = fopen(path, "r+b");
    fseek(f, 100, SEEK_SET);
    int ch = fgetc(f);
    fseek(f, 100, SEEK_SET);
    fputc(ch ^ 0x40, f);
    fclose(f);
    run *r;
    assert_int_equal(run_open(path, 1, NULL, &r), OMEN_OK);
    int detected = 0;
    run_close(r);
    damaged_reads(path, e, m, &detected);
    assert_true(detected);
    lines = 0;
    assert_int_equal(run_verify(path, report, &lines), OMEN_CORRUPT);
    assert_true(lines >= 1);
    ents_free(e, m);
    unlink(path);
}

/* fdatasync is irrelevant to what these tests check and costs seconds on a
 * busy disk: every test but the fault test runs with syncs turned off. */
static int nosync(fio_file *f)
{
    (void)f;
    return OMEN_OK;
}

static int setup(void **state)
{
    (void)state;
    nosync_env = *fio_posix_env();
    nosync_env.sync = nosync;
    fio_set_env(&nosync_env);
    const char *t = getenv("TMPDIR");
    snprintf(dir, sizeof dir, "%s/runtestXXXXXX", t && *t ? t : "/tmp");
    if (!mkdtemp(dir)) return -1;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    rmdir(dir);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_compress_roundtrip),
        cmocka_unit_test(test_tiny_runs),
        cmocka_unit_test(test_fixed_keys),
        cmocka_unit_test(test_var_keys_versions),
        cmocka_unit_test(test_large_values),
        cmocka_unit_test(test_bloom_fp_rate),
        cmocka_unit_test(test_bloom_hash_stable),
        cmocka_unit_test(test_writer_picks_epsilon),
        cmocka_unit_test(test_format_version),
        cmocka_unit_test(test_writer_rejects_bad_input),
        cmocka_unit_test(test_spill_large_run),
        cmocka_unit_test(test_writer_expect),
        cmocka_unit_test(test_fresh_region_checked),
        cmocka_unit_test(test_corruption),
        cmocka_unit_test(test_write_faults),
        cmocka_unit_test(test_alloc_faults),
        cmocka_unit_test(test_verify_reports),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
