/*
 * multiget.c -- omen_get_many: many point reads at one sequence number.
 *
 * The keys are sorted once; the memtables are probed key by key (a skip
 * list gains nothing from a batch), and the keys still unresolved go to
 * each sorted run, newest first, as one batch (run_get_batch: the learned
 * model's batch search with the misses of many keys overlapped).  A key is
 * resolved by the first source holding a version <= the read sequence, as
 * in a single get, so the result equals n omen_get calls at that sequence.
 *
 * Invariants: the pending list stays in key order, so the keys a run can
 * hold (within its smallest..largest user key) are one contiguous slice
 * found by binary search; on any error every value handed out so far is
 * freed and every vals[i] is NULL.  db_get_many_sv is the same over a
 * superversion the caller pinned, with a destination per key (the vector
 * layer re-ranks through it with visitors, reading values in place).
 */
#include <stdlib.h>
#include <string.h>

#include "db/db.h"
#include "db/reserved.h"
#include "util/err.h"
#include "util/mem.h"

typedef struct mg_key {
    uint64_t head; /* the key's first 8 bytes, big-endian, zero-padded */
    const unsigned char *k;
    size_t kl;
    size_t i; /* position in the caller's arrays */
} mg_key;

static uint64_t head_of(const unsigned char *k, size_t kl)
{
    uint64_t h = 0;
    for (size_t j = 0; j < 8; j++) h = h << 8 | (j < kl ? k[j] : 0);
    return h;
}

static int keycmp(const void *a, size_t al, const void *b, size_t bl)
{
    int c = memcmp(a, b, al < bl ? al : bl);
    if (c) return c;
    return (al > bl) - (al < bl);
}

static int mg_order(const void *a, const void *b)
{
    const mg_key *x = a, *y = b;
    /* most pairs differ in their first 8 bytes: no memcmp for them */
    if (x->head != y->head) return x->head < y->head ? -1 : 1;
    int c = keycmp(x->k, x->kl, y->k, y->kl);
    if (c) return c;
    return (x->i > y->i) - (x->i < y->i);
}

/* Sort ks[0..n) by key, then position: a stable LSD radix sort on the
 * 8-byte heads (a pass whose byte is the same for every key is skipped),
 * then the rare runs of equal heads by full key.  tmp holds n entries.
 * A comparison sort through qsort cost more than the lookups it orders. */
static void sort_keys(mg_key *ks, mg_key *tmp, size_t n)
{
    mg_key *a = ks, *b = tmp;
    for (unsigned shift = 0; shift < 64; shift += 8) {
        size_t cnt[256] = {0};
        for (size_t i = 0; i < n; i++) cnt[(a[i].head >> shift) & 255]++;
        if (cnt[(a[0].head >> shift) & 255] == n) continue;
        size_t sum = 0;
        for (int d = 0; d < 256; d++) {
            size_t c = cnt[d];
            cnt[d] = sum;
            sum += c;
        }
        for (size_t i = 0; i < n; i++) b[cnt[(a[i].head >> shift) & 255]++] = a[i];
        mg_key *t = a;
        a = b;
        b = t;
    }
    if (a != ks) memcpy(ks, a, n * sizeof *ks);
    for (size_t i = 0; i < n;) {
        size_t j = i + 1;
        while (j < n && ks[j].head == ks[i].head) j++;
        if (j - i > 16) {
            qsort(ks + i, j - i, sizeof *ks, mg_order);
        } else {
            /* short runs (a small batch of keys under one common head, as
             * the vector layer's re-ranking reads): insertion sort, no
             * qsort set-up per call */
            for (size_t a = i + 1; a < j; a++) {
                mg_key t = ks[a];
                size_t b = a;
                while (b > i && mg_order(&ks[b - 1], &t) > 0) {
                    ks[b] = ks[b - 1];
                    b--;
                }
                ks[b] = t;
            }
        }
        i = j;
    }
}

/* First index in q[0..n) whose key is >= k (>, with after set). */
static size_t bound(const run_getq *q, size_t n, const void *k, size_t kl, int after)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = keycmp(q[mid].key, q[mid].klen, k, kl);
        if (c < 0 || (after && c == 0))
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static int check_args(omen_db *db, size_t n, const void *const *keys, const size_t *klens,
                      void **vals, size_t *vlens)
{
    if (n && (!keys || !klens || !vals || !vlens))
        return util_seterr(OMEN_INVALID, "omen_get_many: NULL array with %zu keys", n);
    for (size_t i = 0; i < n; i++) {
        vals[i] = NULL;
        vlens[i] = 0;
    }
    int rc = db_check_handle(db, "omen_get_many");
    if (rc) return rc;
    for (size_t i = 0; i < n; i++) {
        if (!keys[i] && klens[i])
            return util_seterr(OMEN_INVALID, "omen_get_many: key %zu is NULL with length %zu", i,
                               klens[i]);
        if (klens[i] > OMEN_MAX_KEY_LEN)
            return util_seterr(OMEN_TOOBIG, "omen_get_many: key %zu of %zu bytes exceeds the %u-byte limit",
                               i, klens[i], OMEN_MAX_KEY_LEN);
        if (keys[i] && db_key_reserved(keys[i], klens[i]))
            return util_seterr(OMEN_INVALID,
                               "omen_get_many: key %zu is in the engine's reserved range (docs/format.md)", i);
    }
    return OMEN_OK;
}

/* Resolve from the memtables what they hold; the rest goes to pend[] (in
 * key order).  Returns OMEN_OK or OMEN_NOMEM. */
static int probe_memtables(const db_sv *sv, uint64_t seq, const mg_key *ks, size_t n, run_getq *pend,
                           size_t *npend, const run_vdst *dsts, size_t *vlens)
{
    size_t m = 0;
    for (size_t j = 0; j < n; j++) {
        const mg_key *x = &ks[j];
        uint64_t s;
        int type;
        const void *v;
        size_t vl;
        if (mt_get(sv->mem, x->k, x->kl, seq, &s, &type, &v, &vl) ||
            (sv->imm && mt_get(sv->imm, x->k, x->kl, seq, &s, &type, &v, &vl))) {
            if (type == MT_TYPE_DELETE) continue;
            int rc = run_vdst_put(&dsts[x->i], v, vl, &vlens[x->i]);
            if (rc) return rc;
            continue;
        }
        run_getq *q = &pend[m++];
        memset(q, 0, sizeof *q);
        q->key = x->k;
        q->klen = x->kl;
        q->d = dsts[x->i];
        q->vlen = &vlens[x->i];
    }
    *npend = m;
    return OMEN_OK;
}

/* Ask every run, newest first, for the keys no newer source resolved. */
static int probe_runs(const db_sv *sv, uint64_t seq, run_getq *pend, size_t m)
{
    for (size_t ri = 0; ri < sv->nruns && m; ri++) {
        db_run *r = sv->runs[ri];
        if (r->meta.min_seq > seq) continue; /* everything in it is too new */
        size_t sl, ll;
        const void *small = run_smallest(r->r, &sl), *large = run_largest(r->r, &ll);
        if (!small) continue; /* empty run */
        size_t lo = bound(pend, m, small, sl, 0), hi = bound(pend, m, large, ll, 1);
        if (lo >= hi) continue;
        int rc = run_get_batch(r->r, seq, pend + lo, hi - lo);
        if (rc) return rc;
        size_t w = lo;
        for (size_t j = lo; j < hi; j++)
            if (pend[j].rc == OMEN_NOTFOUND) pend[w++] = pend[j];
        if (w < hi) {
            memmove(pend + w, pend + hi, (m - hi) * sizeof *pend);
            m -= hi - w;
        }
    }
    return OMEN_OK;
}

const void *db_sv_value_at(const db_sv *sv, uint64_t loc, size_t len)
{
    if (!loc) return NULL;
    for (size_t i = 0; i < sv->nruns; i++) {
        const void *p = run_value_at(sv->runs[i]->r, loc, len);
        if (p) return p;
    }
    return NULL;
}

#define MG_STACK_KEYS 16

int db_get_many_sv(db_sv *sv, uint64_t seq, size_t n, const void *const *keys, const size_t *klens,
                   const run_vdst *dsts, size_t *vlens)
{
    if (n == 0) return OMEN_OK;
    /* Small batches (the vector layer's re-ranking reads) stay on the stack. */
    mg_key ks_stack[2 * MG_STACK_KEYS];
    run_getq pend_stack[MG_STACK_KEYS];
    int small = n <= MG_STACK_KEYS;
    mg_key *ks = small ? ks_stack : util_malloc(2 * n * sizeof *ks); /* and the sort's scratch */
    run_getq *pend = small ? pend_stack : util_malloc(n * sizeof *pend);
    if (!ks || !pend) {
        if (!small) {
            omen_free(ks);
            omen_free(pend);
        }
        return util_seterr(OMEN_NOMEM, "omen_get_many: out of memory for %zu keys", n);
    }
    for (size_t i = 0; i < n; i++) {
        ks[i].k = keys[i] ? keys[i] : (const void *)""; /* memcmp wants non-NULL */
        ks[i].kl = klens[i];
        ks[i].i = i;
        ks[i].head = head_of(ks[i].k, klens[i]);
    }
    sort_keys(ks, ks + n, n);
    size_t m = 0;
    int rc = probe_memtables(sv, seq, ks, n, pend, &m, dsts, vlens);
    if (rc == OMEN_OK) rc = probe_runs(sv, seq, pend, m);
    if (!small) {
        omen_free(ks);
        omen_free(pend);
    }
    return rc;
}

int omen_get_many(omen_db *db, const omen_snapshot *snap, size_t n, const void *const *keys,
                  const size_t *klens, void **vals, size_t *vlens)
{
    int rc = check_args(db, n, keys, klens, vals, vlens);
    if (rc) return rc;
    if (snap && snap->db != db)
        return util_seterr(OMEN_INVALID, "omen_get_many: snapshot belongs to another handle");
    if (n == 0) return OMEN_OK;
    run_vdst *dsts = util_calloc(n, sizeof *dsts);
    if (!dsts) return util_seterr(OMEN_NOMEM, "omen_get_many: out of memory for %zu keys", n);
    for (size_t i = 0; i < n; i++) dsts[i].val = &vals[i];
    uint64_t seq;
    int slot;
    db_sv *sv = db_sv_pin(db, &seq, &slot);
    if (snap) seq = snap->seq;
    rc = db_get_many_sv(sv, seq, n, keys, klens, dsts, vlens);
    db_sv_unpin(db, sv, slot);
    omen_free(dsts);
    if (rc != OMEN_OK) {
        for (size_t i = 0; i < n; i++) {
            omen_free(vals[i]);
            vals[i] = NULL;
            vlens[i] = 0;
        }
    }
    return rc;
}
