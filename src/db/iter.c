/*
 * iter.c -- iterators: children over memtables and runs, the merging
 * iterator over internal entries, and the user-visible omen_iter that turns
 * internal entries into the newest visible version per user key.
 *
 * Invariants:
 *  - Internal keys (user key, seq) are unique across the children of one
 *    merging iterator (a superversion never holds the same entry twice).
 *  - Direction switches follow LevelDB: when the merging iterator turns
 *    around, every non-current child is re-positioned relative to the
 *    current entry; when the user iterator turns around from forward to
 *    reverse it first walks back past every entry of the current user key.
 *  - Forward mode exposes key/value straight from the current child entry
 *    (no copy: readseq is one compare per child per step); reverse mode must
 *    look one user key ahead, so it copies the chosen entry.
 *  - Transaction write sets are children whose sequences exceed MT_MAX_SEQ:
 *    they are always visible and shadow everything committed.
 */
#include <stdlib.h>
#include <string.h>

#include "db/reserved.h"
#include "db/db_impl.h"
#include "db/txn.h"
#include "util/err.h"
#include "util/mem.h"

/* ---- memtable child -------------------------------------------------------- */

typedef struct citer_mem {
    citer base;
    mt_iter it;
} citer_mem;

static inline void cm_load(citer_mem *c)
{
    const mt_node *n = c->it.node;
    if (!n) {
        c->base.valid = 0;
        return;
    }
    c->base.valid = 1;
    c->base.key = mt_node_key(n);
    c->base.klen = n->klen;
    c->base.seq = n->seq;
    c->base.type = n->type;
}

static void cm_seek_first(citer *c)
{
    mt_iter_seek_first(&((citer_mem *)c)->it);
    cm_load((citer_mem *)c);
}
static void cm_seek_last(citer *c)
{
    mt_iter_seek_last(&((citer_mem *)c)->it);
    cm_load((citer_mem *)c);
}
static void cm_seek(citer *c, const void *k, size_t kl, uint64_t seq)
{
    mt_iter_seek(&((citer_mem *)c)->it, k, kl, seq);
    cm_load((citer_mem *)c);
}
static void cm_seek_for_prev(citer *c, const void *k, size_t kl, uint64_t seq)
{
    mt_iter_seek_for_prev(&((citer_mem *)c)->it, k, kl, seq);
    cm_load((citer_mem *)c);
}
static void cm_next(citer *c)
{
    mt_iter_next(&((citer_mem *)c)->it);
    cm_load((citer_mem *)c);
}
static void cm_prev(citer *c)
{
    mt_iter_prev(&((citer_mem *)c)->it);
    cm_load((citer_mem *)c);
}
static int cm_value(citer *c, const void **val, size_t *vlen)
{
    const mt_node *n = ((citer_mem *)c)->it.node;
    *val = mt_node_val(n);
    *vlen = n->vlen;
    return OMEN_OK;
}
static void cm_destroy(citer *c)
{
    omen_free(c);
}

static const citer_ops cm_ops = {cm_seek_first, cm_seek_last, cm_seek,   cm_seek_for_prev,
                                 cm_next,       cm_prev,      cm_value, cm_destroy};

citer *citer_mem_new(const mt *m)
{
    citer_mem *c = omen_calloc(1, sizeof *c);
    if (!c) return NULL;
    c->base.ops = &cm_ops;
    mt_iter_init(&c->it, m);
    return &c->base;
}

/* ---- run child ------------------------------------------------------------- */

typedef struct citer_run {
    citer base;
    run_iter *it;
    db_run *r;
} citer_run;

static inline void cr_load(citer_run *c)
{
    run_iter *it = c->it;
    if (!run_iter_entry(it, &c->base.key, &c->base.klen, &c->base.seq, &c->base.type)) {
        c->base.valid = 0;
        if (!c->base.status) c->base.status = run_iter_status(it);
        return;
    }
    c->base.valid = 1;
}

static void cr_seek_first(citer *c)
{
    run_iter_seek_first(((citer_run *)c)->it);
    cr_load((citer_run *)c);
}
static void cr_seek_last(citer *c)
{
    run_iter_seek_last(((citer_run *)c)->it);
    cr_load((citer_run *)c);
}
/* run_iter_seek lands on the newest version of the first user key >= k;
 * step over the versions newer than seq. */
static void cr_seek(citer *c, const void *k, size_t kl, uint64_t seq)
{
    citer_run *cr = (citer_run *)c;
    run_iter_seek(cr->it, k, kl);
    cr_load(cr);
    while (c->valid && ikey_cmp(c->key, c->klen, c->seq, k, kl, seq) < 0) {
        run_iter_next(cr->it);
        cr_load(cr);
    }
}
static void cr_seek_for_prev(citer *c, const void *k, size_t kl, uint64_t seq)
{
    citer_run *cr = (citer_run *)c;
    cr_seek(c, k, kl, seq);
    if (!c->valid) {
        run_iter_seek_last(cr->it);
        cr_load(cr);
        return;
    }
    if (ikey_cmp(c->key, c->klen, c->seq, k, kl, seq) > 0) {
        run_iter_prev(cr->it);
        cr_load(cr);
    }
}
static void cr_next(citer *c)
{
    run_iter_next(((citer_run *)c)->it);
    cr_load((citer_run *)c);
}
static void cr_prev(citer *c)
{
    run_iter_prev(((citer_run *)c)->it);
    cr_load((citer_run *)c);
}
static int cr_value(citer *c, const void **val, size_t *vlen)
{
    int rc = run_iter_value(((citer_run *)c)->it, val, vlen);
    if (rc && !c->status) c->status = rc;
    return rc;
}
static void cr_destroy(citer *c)
{
    citer_run *cr = (citer_run *)c;
    run_iter_free(cr->it);
    omen_free(cr);
}

static const citer_ops cr_ops = {cr_seek_first, cr_seek_last, cr_seek,  cr_seek_for_prev,
                                 cr_next,       cr_prev,      cr_value, cr_destroy};

citer *citer_run_new(db_run *r)
{
    citer_run *c = omen_calloc(1, sizeof *c);
    if (!c) return NULL;
    if (run_iter_new(r->r, &c->it)) {
        omen_free(c);
        return NULL;
    }
    c->base.ops = &cr_ops;
    c->r = r;
    return &c->base;
}

/* ---- merging iterator ------------------------------------------------------ */

static inline int cit_cmp(const citer *a, const citer *b)
{
    return ikey_cmp(a->key, a->klen, a->seq, b->key, b->klen, b->seq);
}

static void find_smallest(miter *m)
{
    citer *best = NULL, *second = NULL;
    for (size_t i = 0; i < m->n; i++) {
        citer *c = m->c[i];
        if (!c->valid) continue;
        if (!best || cit_cmp(c, best) < 0) {
            second = best;
            best = c;
        } else if (!second || cit_cmp(c, second) < 0) {
            second = c;
        }
    }
    m->cur = best;
    m->second = second;
    m->second_ok = 1;
}

static void find_largest(miter *m)
{
    m->second_ok = 0;
    citer *best = NULL;
    for (size_t i = 0; i < m->n; i++) {
        citer *c = m->c[i];
        if (c->valid && (!best || cit_cmp(c, best) > 0)) best = c;
    }
    m->cur = best;
}

void miter_init(miter *m, citer **children, size_t n)
{
    m->c = children;
    m->n = n;
    m->cur = NULL;
    m->second = NULL;
    m->second_ok = 0;
    m->forward = 1;
}

void miter_free(miter *m)
{
    for (size_t i = 0; i < m->n; i++)
        if (m->c[i]) m->c[i]->ops->destroy(m->c[i]);
    omen_free(m->c);
    m->c = NULL;
    m->n = 0;
    m->cur = NULL;
}

void miter_seek_first(miter *m)
{
    for (size_t i = 0; i < m->n; i++) m->c[i]->ops->seek_first(m->c[i]);
    m->forward = 1;
    find_smallest(m);
}

void miter_seek_last(miter *m)
{
    for (size_t i = 0; i < m->n; i++) m->c[i]->ops->seek_last(m->c[i]);
    m->forward = 0;
    find_largest(m);
}

void miter_seek(miter *m, const void *k, size_t kl, uint64_t seq)
{
    for (size_t i = 0; i < m->n; i++) m->c[i]->ops->seek(m->c[i], k, kl, seq);
    m->forward = 1;
    find_smallest(m);
}

void miter_seek_for_prev(miter *m, const void *k, size_t kl, uint64_t seq)
{
    for (size_t i = 0; i < m->n; i++) m->c[i]->ops->seek_for_prev(m->c[i], k, kl, seq);
    m->forward = 0;
    find_largest(m);
}

void miter_next(miter *m)
{
    citer *cur = m->cur;
    if (!m->forward) {
        for (size_t i = 0; i < m->n; i++) {
            citer *c = m->c[i];
            if (c == cur) continue;
            c->ops->seek(c, cur->key, cur->klen, cur->seq);
            if (c->valid && cit_cmp(c, cur) == 0) c->ops->next(c);
        }
        m->forward = 1;
        m->second_ok = 0;
    }
    cur->ops->next(cur);
    if (m->second_ok && cur->valid && (!m->second || cit_cmp(cur, m->second) < 0)) return;
    find_smallest(m);
}

void miter_prev(miter *m)
{
    citer *cur = m->cur;
    if (m->forward) {
        for (size_t i = 0; i < m->n; i++) {
            citer *c = m->c[i];
            if (c == cur) continue;
            c->ops->seek(c, cur->key, cur->klen, cur->seq);
            if (c->valid)
                c->ops->prev(c);
            else
                c->ops->seek_last(c);
        }
        m->forward = 0;
    }
    cur->ops->prev(cur);
    find_largest(m);
}

int miter_status(const miter *m)
{
    for (size_t i = 0; i < m->n; i++)
        if (m->c[i]->status) return m->c[i]->status;
    return OMEN_OK;
}

static int push_child(citer ***arr, size_t *n, size_t *cap, citer *c)
{
    if (!c) return omen_seterr(OMEN_NOMEM, "iterator: out of memory");
    if (*n == *cap) {
        size_t nc = *cap ? *cap * 2 : 8;
        citer **p = omen_realloc(*arr, nc * sizeof *p);
        if (!p) {
            c->ops->destroy(c);
            return omen_seterr(OMEN_NOMEM, "iterator: out of memory");
        }
        *arr = p;
        *cap = nc;
    }
    (*arr)[(*n)++] = c;
    return OMEN_OK;
}

int db_sv_children(db_sv *sv, citer ***arr, size_t *n, size_t *cap)
{
    int rc = push_child(arr, n, cap, citer_mem_new(sv->mem));
    if (!rc && sv->imm) rc = push_child(arr, n, cap, citer_mem_new(sv->imm));
    for (size_t i = 0; !rc && i < sv->nruns; i++)
        rc = push_child(arr, n, cap, citer_run_new(sv->runs[i]));
    return rc;
}

/* ---- user iterator --------------------------------------------------------- */

typedef struct buf {
    unsigned char *p;
    size_t len, cap;
} buf;

static int buf_set(buf *b, const void *d, size_t n)
{
    if (n > b->cap) {
        size_t c = b->cap ? b->cap : 64;
        while (c < n) c *= 2;
        void *p = omen_realloc(b->p, c);
        if (!p) return OMEN_NOMEM;
        b->p = p;
        b->cap = c;
    }
    if (n) memcpy(b->p, d, n);
    b->len = n;
    return OMEN_OK;
}

struct omen_iter {
    omen_db *db;
    db_sv *sv;
    uint64_t seq, seek_seq;
    miter m;
    int valid;
    int forward;
    buf skey, sval;
    /* Forward mode: the user key being skipped over (the one last returned
     * or a deleted one).  A citer key pointer, which outlives the child's
     * moves (see struct citer), so no copy per entry; or skey's buffer. */
    const void *pkey;
    size_t pklen;
    const void *fval; /* forward mode: value of the current entry */
    size_t fvlen;
    int has_lower, has_upper;
    buf lower, upper;
    int status;
    struct omen_txn *txn;
    mt *txn_writes; /* referenced: may outlive a (misused) transaction */
    /* Transaction iterators: the key interval actually covered so far
     * (every key between a seek target and the key it landed on, and
     * every key stepped over), recorded as a scanned range for validation. */
    int rg_have, rg_lo_inf, rg_hi_inf;
    buf rg_lo, rg_hi;
    int hide_reserved; /* user iterators: step over the engine's keys (reserved.h) */
};

static void cover_key(omen_iter *it, const void *k, size_t kl)
{
    if (!it->txn) return;
    if (!it->rg_have) {
        if (buf_set(&it->rg_lo, k, kl) || buf_set(&it->rg_hi, k, kl)) goto nomem;
        it->rg_have = 1;
        return;
    }
    if (!it->rg_lo_inf && ukey_cmp(k, kl, it->rg_lo.p, it->rg_lo.len) < 0 &&
        buf_set(&it->rg_lo, k, kl))
        goto nomem;
    if (!it->rg_hi_inf && ukey_cmp(k, kl, it->rg_hi.p, it->rg_hi.len) > 0 &&
        buf_set(&it->rg_hi, k, kl))
        goto nomem;
    return;
nomem:
    /* Cannot track precisely: claim everything (still correct). */
    it->rg_have = it->rg_lo_inf = it->rg_hi_inf = 1;
}

/* The covered range reaches the lower (dir < 0) or upper (dir > 0) end of
 * the iterator's bounds, or is unbounded on that side if there is none. */
static void cover_end(omen_iter *it, int dir)
{
    if (!it->txn) return;
    int bounded = dir > 0 ? it->has_upper : it->has_lower;
    const buf *b = dir > 0 ? &it->upper : &it->lower;
    if (bounded) {
        cover_key(it, b->p, b->len);
    } else {
        it->rg_have = 1;
        if (dir > 0)
            it->rg_hi_inf = 1;
        else
            it->rg_lo_inf = 1;
    }
}

/* After a forward (dir > 0) or backward move: extend the covered range to
 * the landing key, or to the end of the bounds if the iterator ran off. */
static void cover_after(omen_iter *it, int dir)
{
    if (!it->txn) return;
    if (it->valid) {
        size_t kl;
        const void *k = omen_iter_key(it, &kl);
        cover_key(it, k, kl);
    } else {
        cover_end(it, dir);
    }
}

void db_iter_txn_flush(omen_iter *it)
{
    if (!it->txn || !it->rg_have) return;
    int has_lo = !it->rg_lo_inf, has_hi = !it->rg_hi_inf;
    /* inclusive hi -> exclusive bound hi + "\0" */
    unsigned char *hi = NULL;
    size_t hilen = 0;
    if (has_hi) {
        hilen = it->rg_hi.len + 1;
        hi = omen_malloc(hilen);
        if (!hi) {
            has_hi = 0; /* claim everything above: still correct */
        } else {
            if (it->rg_hi.len) memcpy(hi, it->rg_hi.p, it->rg_hi.len);
            hi[hilen - 1] = 0;
        }
    }
    txn_record_range(it->txn, it->rg_lo.p, it->rg_lo.len, has_lo, hi, hilen, has_hi);
    omen_free(hi);
    it->rg_have = it->rg_lo_inf = it->rg_hi_inf = 0;
}

static inline int visible(const omen_iter *it, uint64_t seq)
{
    return seq <= it->seq || seq > MT_MAX_SEQ;
}

static inline int below_lower(const omen_iter *it, const void *k, size_t kl)
{
    return it->has_lower && ukey_cmp(k, kl, it->lower.p, it->lower.len) < 0;
}

static inline int at_or_above_upper(const omen_iter *it, const void *k, size_t kl)
{
    return it->has_upper && ukey_cmp(k, kl, it->upper.p, it->upper.len) >= 0;
}

static void set_nomem(omen_iter *it)
{
    it->status = omen_seterr(OMEN_NOMEM, "iterator: out of memory");
    it->valid = 0;
}

/* Forward: from the current internal entry, find the first visible,
 * non-deleted user key (skipping user keys <= pkey when skipping). */
static void find_next_user_entry(omen_iter *it, int skipping)
{
    miter *m = &it->m;
    while (miter_valid(m)) {
        const citer *c = m->cur;
        if (at_or_above_upper(it, c->key, c->klen)) break;
        if (visible(it, c->seq)) {
            if (c->type == MT_TYPE_DELETE) {
                it->pkey = c->key;
                it->pklen = c->klen;
                skipping = 1;
            } else if (!skipping || ukey_cmp(c->key, c->klen, it->pkey, it->pklen) > 0) {
                /* Load the value now: a damaged value block must stop the
                 * iterator (status set) rather than show an empty value. */
                int rc = m->cur->ops->value(m->cur, &it->fval, &it->fvlen);
                if (rc) {
                    it->status = rc;
                    it->valid = 0;
                    return;
                }
                it->valid = 1;
                return;
            }
        }
        miter_next(m);
    }
    it->valid = 0;
    if (!it->status) it->status = miter_status(m);
}

/* Reverse: walk back collecting the newest visible version of the previous
 * user key into skey/sval. */
static void find_prev_user_entry(omen_iter *it)
{
    miter *m = &it->m;
    int type = MT_TYPE_DELETE;
    while (miter_valid(m)) {
        const citer *c = m->cur;
        if (below_lower(it, c->key, c->klen)) break;
        if (visible(it, c->seq)) {
            if (type != MT_TYPE_DELETE &&
                ukey_cmp(c->key, c->klen, it->skey.p, it->skey.len) < 0)
                break;
            type = c->type;
            if (type == MT_TYPE_DELETE) {
                it->skey.len = 0;
                it->sval.len = 0;
            } else {
                const void *v;
                size_t vl;
                int rc = m->cur->ops->value(m->cur, &v, &vl);
                if (rc) {
                    it->status = rc;
                    it->valid = 0;
                    return;
                }
                if (buf_set(&it->skey, c->key, c->klen) || buf_set(&it->sval, v, vl)) {
                    set_nomem(it);
                    return;
                }
            }
        }
        miter_prev(m);
    }
    if (type == MT_TYPE_DELETE) {
        it->valid = 0;
        it->forward = 1;
        if (!it->status) it->status = miter_status(m);
    } else {
        it->valid = 1;
    }
}

int db_iter_new(omen_db *db, db_sv *sv, uint64_t seq, const omen_iter_options *opts,
                struct omen_txn *txn, const mt *txn_writes, omen_iter **out)
{
    *out = NULL;
    if (opts && ((opts->lower == NULL && opts->lower_len) || (opts->upper == NULL && opts->upper_len)))
        return omen_seterr(OMEN_INVALID, "omen_iter_create: NULL bound with non-zero length");
    omen_iter *it = omen_calloc(1, sizeof *it);
    if (!it) return omen_seterr(OMEN_NOMEM, "omen_iter_create: out of memory");
    it->db = db;
    it->sv = sv;
    it->seq = seq;
    it->seek_seq = txn_writes ? UINT64_MAX : seq;
    it->txn = txn;
    it->forward = 1;
    citer **arr = NULL;
    size_t n = 0, cap = 0;
    int rc = OMEN_OK;
    if (txn_writes) {
        rc = push_child(&arr, &n, &cap, citer_mem_new(txn_writes));
        if (!rc) {
            it->txn_writes = (mt *)txn_writes;
            mt_ref(it->txn_writes);
        }
    }
    if (!rc) rc = db_sv_children(sv, &arr, &n, &cap);
    if (!rc && opts && opts->lower) {
        it->has_lower = 1;
        if (buf_set(&it->lower, opts->lower, opts->lower_len)) rc = OMEN_NOMEM;
    }
    if (!rc && opts && opts->upper) {
        it->has_upper = 1;
        if (buf_set(&it->upper, opts->upper, opts->upper_len)) rc = OMEN_NOMEM;
    }
    miter_init(&it->m, arr, n);
    if (rc) {
        miter_free(&it->m);
        if (it->txn_writes) mt_unref(it->txn_writes);
        omen_free(it->lower.p);
        omen_free(it->upper.p);
        omen_free(it);
        return rc == OMEN_NOMEM ? omen_seterr(OMEN_NOMEM, "omen_iter_create: out of memory") : rc;
    }
    *out = it;
    return OMEN_OK;
}

int omen_iter_create(omen_db *db, const omen_iter_options *opts, omen_iter **out)
{
    /* User iterators step over the reserved range. */
    int rc = db_iter_create_any(db, opts, out);
    if (rc == OMEN_OK) (*out)->hide_reserved = 1;
    return rc;
}

int db_iter_create_any(omen_db *db, const omen_iter_options *opts, omen_iter **out)
{
    if (!out) return omen_seterr(OMEN_INVALID, "omen_iter_create: NULL out");
    *out = NULL;
    int rc = db_check_handle(db, "omen_iter_create");
    if (rc) return rc;
    uint64_t seq;
    db_sv *sv = db_sv_get_seq(db, &seq);
    if (opts && opts->snapshot) seq = opts->snapshot->seq;
    rc = db_iter_new(db, sv, seq, opts, NULL, NULL, out);
    if (rc) {
        db_sv_put(sv);
        return rc;
    }
    atomic_fetch_add(&db->outstanding, 1);
    return OMEN_OK;
}

static void raw_seek_first(omen_iter *it)
{
    if (!it) return;
    cover_end(it, -1);
    it->forward = 1;
    if (it->has_lower) {
        miter_seek(&it->m, it->lower.p, it->lower.len, it->seek_seq);
    } else {
        miter_seek_first(&it->m);
    }
    find_next_user_entry(it, 0);
    cover_after(it, 1);
}

static void raw_seek_last(omen_iter *it)
{
    if (!it) return;
    cover_end(it, 1);
    it->forward = 0;
    if (it->has_upper)
        miter_seek_for_prev(&it->m, it->upper.p, it->upper.len, UINT64_MAX);
    else
        miter_seek_last(&it->m);
    find_prev_user_entry(it);
    cover_after(it, -1);
}

static void raw_seek(omen_iter *it, const void *key, size_t klen)
{
    if (!it) return;
    if (!key && klen) {
        it->valid = 0;
        it->status = omen_seterr(OMEN_INVALID, "omen_iter_seek: NULL key");
        return;
    }
    if (it->has_lower && ukey_cmp(key, klen, it->lower.p, it->lower.len) < 0) {
        key = it->lower.p;
        klen = it->lower.len;
    }
    cover_key(it, key, klen);
    it->forward = 1;
    miter_seek(&it->m, key, klen, it->seek_seq);
    find_next_user_entry(it, 0);
    cover_after(it, 1);
}

static void raw_seek_for_prev(omen_iter *it, const void *key, size_t klen)
{
    if (!it) return;
    if (!key && klen) {
        it->valid = 0;
        it->status = omen_seterr(OMEN_INVALID, "omen_iter_seek_for_prev: NULL key");
        return;
    }
    if (it->has_upper && ukey_cmp(key, klen, it->upper.p, it->upper.len) >= 0) {
        raw_seek_last(it);
        return;
    }
    cover_key(it, key, klen);
    it->forward = 0;
    miter_seek_for_prev(&it->m, key, klen, 0);
    find_prev_user_entry(it);
    cover_after(it, -1);
}

int omen_iter_valid(const omen_iter *it)
{
    return it && it->valid;
}

static void raw_next(omen_iter *it)
{
    if (!it || !it->valid) return;
    miter *m = &it->m;
    if (!it->forward) {
        /* m is just before the entries of skey: step into them, then skip
         * past them below. */
        it->forward = 1;
        it->pkey = it->skey.p;
        it->pklen = it->skey.len;
        if (!miter_valid(m))
            miter_seek_first(m);
        else
            miter_next(m);
    } else {
        it->pkey = m->cur->key;
        it->pklen = m->cur->klen;
        miter_next(m);
    }
    find_next_user_entry(it, 1);
    cover_after(it, 1);
}

static void raw_prev(omen_iter *it)
{
    if (!it || !it->valid) return;
    miter *m = &it->m;
    if (it->forward) {
        /* Walk back until before every entry of the current user key. */
        if (buf_set(&it->skey, m->cur->key, m->cur->klen)) {
            set_nomem(it);
            return;
        }
        for (;;) {
            miter_prev(m);
            if (!miter_valid(m)) {
                it->valid = 0;
                it->forward = 1;
                if (!it->status) it->status = miter_status(m);
                cover_end(it, -1);
                return;
            }
            if (ukey_cmp(m->cur->key, m->cur->klen, it->skey.p, it->skey.len) < 0) break;
        }
        it->forward = 0;
    }
    find_prev_user_entry(it);
    cover_after(it, -1);
}

const void *omen_iter_key(const omen_iter *it, size_t *klen)
{
    if (!it || !it->valid) {
        if (klen) *klen = 0;
        return NULL;
    }
    if (it->forward) {
        if (klen) *klen = it->m.cur->klen;
        return it->m.cur->klen ? it->m.cur->key : (const void *)"";
    }
    if (klen) *klen = it->skey.len;
    return it->skey.p ? (const void *)it->skey.p : (const void *)"";
}

const void *omen_iter_value(const omen_iter *it, size_t *vlen)
{
    if (!it || !it->valid) {
        if (vlen) *vlen = 0;
        return NULL;
    }
    if (it->forward) {
        if (vlen) *vlen = it->fvlen;
        return it->fvlen ? it->fval : (const void *)"";
    }
    if (vlen) *vlen = it->sval.len;
    return it->sval.len ? (const void *)it->sval.p : (const void *)"";
}

int omen_iter_status(const omen_iter *it)
{
    if (!it) return OMEN_INVALID;
    return it->status ? it->status : miter_status(&it->m);
}

void omen_iter_destroy(omen_iter *it)
{
    if (!it) return;
    miter_free(&it->m);
    if (it->sv) db_sv_put(it->sv);
    if (it->txn) {
        db_iter_txn_flush(it);
        txn_iter_released(it->txn, it);
    }
    else
        atomic_fetch_sub(&it->db->outstanding, 1);
    if (it->txn_writes) mt_unref(it->txn_writes);
    omen_free(it->skey.p);
    omen_free(it->sval.p);
    omen_free(it->lower.p);
    omen_free(it->upper.p);
    omen_free(it->rg_lo.p);
    omen_free(it->rg_hi.p);
    omen_free(it);
}

void db_iter_detach_txn(omen_iter *it)
{
    it->txn = NULL;
    atomic_fetch_add(&it->db->outstanding, 1);
}

/* ---- public positioning: the raw moves, then a step over the reserved
 * range (one seek past it, or to just before it) for user iterators ---- */

static void skip_fwd(omen_iter *it)
{
    if (!it->hide_reserved || !it->valid) return;
    size_t kl;
    const void *k = omen_iter_key(it, &kl);
    if (db_key_reserved(k, kl)) raw_seek(it, DB_RESERVED_END, DB_RESERVED_LEN);
}

static void skip_bwd(omen_iter *it)
{
    if (!it->hide_reserved || !it->valid) return;
    size_t kl;
    const void *k = omen_iter_key(it, &kl);
    /* No user key equals the prefix itself, so this lands below it. */
    if (db_key_reserved(k, kl)) raw_seek_for_prev(it, DB_RESERVED_PREFIX, DB_RESERVED_LEN);
}

void omen_iter_seek_first(omen_iter *it)
{
    raw_seek_first(it);
    if (it) skip_fwd(it);
}

void omen_iter_seek_last(omen_iter *it)
{
    raw_seek_last(it);
    if (it) skip_bwd(it);
}

void omen_iter_seek(omen_iter *it, const void *key, size_t klen)
{
    raw_seek(it, key, klen);
    if (it) skip_fwd(it);
}

void omen_iter_seek_for_prev(omen_iter *it, const void *key, size_t klen)
{
    raw_seek_for_prev(it, key, klen);
    if (it) skip_bwd(it);
}

void omen_iter_next(omen_iter *it)
{
    raw_next(it);
    if (it) skip_fwd(it);
}

void omen_iter_prev(omen_iter *it)
{
    raw_prev(it);
    if (it) skip_bwd(it);
}

void db_iter_hide_reserved(omen_iter *it)
{
    it->hide_reserved = 1;
}
