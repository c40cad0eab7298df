/*
 * txn.c -- optimistic serializable transactions (see txn.h).
 *
 * Validation rule (run by the write-group leader, the only thread that can
 * commit at that moment): the transaction conflicts if any key it read or
 * wrote, or any key inside a range it scanned, has a committed version
 * newer than its snapshot -- in the memtables/runs, or written by an
 * earlier member of the same write group (not yet in the memtable).
 * Read-only transactions always commit: they serialize at their snapshot.
 */
#include <string.h>

#include "db/batch.h"
#include "db/db.h"
#include "db/iter.h"
#include "db/reserved.h"
#include "db/txn.h"
#include "db/write.h"
#include "util/err.h"
#include "util/mem.h"

static int txn_check(const omen_txn *t, const char *fn)
{
    if (!t) return util_seterr(OMEN_INVALID, "%s: NULL transaction", fn);
    return db_check_handle(t->db, fn);
}

static void txn_free(omen_txn *t)
{
    db_hook_release(&t->hook);
    for (size_t i = 0; i < t->niters; i++) db_iter_detach(t->iters[i]);
    omen_free(t->iters);
    if (t->writes) mt_unref(t->writes);
    if (t->reads) mt_unref(t->reads);
    for (size_t i = 0; i < t->nranges; i++) {
        omen_free(t->ranges[i].lo);
        omen_free(t->ranges[i].hi);
    }
    omen_free(t->ranges);
    if (t->snap) db_snapshot_drop(t->db, t->snap);
    omen_free(t);
}

int omen_txn_begin(omen_db *db, omen_txn **out)
{
    if (!out) return util_seterr(OMEN_INVALID, "omen_txn_begin: NULL out");
    *out = NULL;
    int rc = db_check_handle(db, "omen_txn_begin");
    if (rc) return rc;
    omen_txn *t = util_calloc(1, sizeof *t);
    if (!t) return util_seterr(OMEN_NOMEM, "omen_txn_begin: out of memory");
    t->db = db;
    t->wseq = MT_MAX_SEQ + 1;
    t->rseq = 1;
    rc = mt_new(4096, &t->writes);
    if (!rc) rc = mt_new(2048, &t->reads);
    if (!rc) rc = db_snapshot_acquire(db, &t->snap);
    if (rc) {
        txn_free(t);
        return rc;
    }
    *out = t;
    return OMEN_OK;
}

static int txn_get(omen_txn *t, const void *key, size_t klen, void **val, size_t *vlen, int reserved_ok)
{
    if (val) *val = NULL;
    int rc = txn_check(t, "omen_txn_get");
    if (rc) return rc;
    if (!val || !vlen) return util_seterr(OMEN_INVALID, "omen_txn_get: NULL val or vlen");
    *vlen = 0;
    rc = batch_check_kv("omen_txn_get", key, klen, NULL, 0);
    if (rc) return rc;
    if (!reserved_ok && key && db_key_reserved(key, klen))
        return util_seterr(OMEN_INVALID, "omen_txn_get: the key is in the engine's reserved range (docs/format.md)");
    uint64_t s;
    int type;
    const void *v;
    size_t vl;
    if (mt_get(t->writes, key, klen, UINT64_MAX, &s, &type, &v, &vl)) {
        if (type == MT_TYPE_DELETE) return util_seterr(OMEN_NOTFOUND, "omen_txn_get: key not found");
        void *p = util_malloc(vl ? vl : 1);
        if (!p) return util_seterr(OMEN_NOMEM, "omen_txn_get: out of memory");
        if (vl) memcpy(p, v, vl);
        *val = p;
        *vlen = vl;
        return OMEN_OK;
    }
    rc = mt_reserve(t->reads, mt_entry_cost(klen, 0), 1);
    if (!rc) rc = mt_add(t->reads, t->rseq++, MT_TYPE_PUT, key, klen, NULL, 0);
    if (rc) {
        t->status = rc;
        return rc;
    }
    uint64_t seq;
    int slot;
    db_sv *sv = db_sv_pin(t->db, &seq, &slot);
    rc = db_get_sv(sv, t->snap->seq, key, klen, val, vlen);
    db_sv_unpin(t->db, sv, slot);
    if (rc == OMEN_NOTFOUND) {
        *val = NULL;
        *vlen = 0;
        /* Not an error, but omen_last_error() must not show a stale one. */
        util_seterr(OMEN_NOTFOUND, "omen_txn_get: key not found");
    }
    return rc;
}

int omen_txn_get(omen_txn *t, const void *key, size_t klen, void **val, size_t *vlen)
{
    return txn_get(t, key, klen, val, vlen, 0);
}

int txn_get_reserved(struct omen_txn *t, const void *key, size_t klen, void **val, size_t *vlen)
{
    return txn_get(t, key, klen, val, vlen, 1);
}

static int txn_write(omen_txn *t, int type, const void *key, size_t klen, const void *val,
                     size_t vlen, const char *fn)
{
    int rc = txn_check(t, fn);
    if (rc) return rc;
    rc = batch_check_kv(fn, key, klen, val, vlen);
    if (rc) return rc;
    rc = mt_reserve(t->writes, mt_entry_cost(klen, vlen), 1);
    if (!rc) rc = mt_add(t->writes, t->wseq++, type, key, klen, val, vlen);
    if (rc) t->status = rc;
    return rc;
}

int txn_write_raw(omen_txn *t, int type, const void *key, size_t klen, const void *val,
                  size_t vlen)
{
    return txn_write(t, type, key, klen, val, vlen, "txn_write_raw");
}

int omen_txn_put(omen_txn *t, const void *key, size_t klen, const void *val, size_t vlen)
{
    if (key && db_key_reserved(key, klen))
        return util_seterr(OMEN_INVALID, "omen_txn_put: the key is in the engine's reserved range (docs/format.md)");
    return txn_write(t, MT_TYPE_PUT, key, klen, val, vlen, "omen_txn_put");
}

int omen_txn_delete(omen_txn *t, const void *key, size_t klen)
{
    if (key && db_key_reserved(key, klen))
        return util_seterr(OMEN_INVALID, "omen_txn_delete: the key is in the engine's reserved range (docs/format.md)");
    return txn_write(t, MT_TYPE_DELETE, key, klen, NULL, 0, "omen_txn_delete");
}

/* iter_owner_ops.record_range: a transaction iterator covered [lo, hi]. */
static void txn_record_range(void *owner, const void *lo, size_t lolen, int has_lo, const void *hi,
                             size_t hilen, int has_hi)
{
    omen_txn *t = owner;
    if (t->nranges == t->cranges) {
        size_t nc = t->cranges ? t->cranges * 2 : 4;
        txn_range *p = util_realloc(t->ranges, nc * sizeof *p);
        if (!p) {
            t->status = OMEN_NOMEM;
            return;
        }
        t->ranges = p;
        t->cranges = nc;
    }
    txn_range *r = &t->ranges[t->nranges];
    memset(r, 0, sizeof *r);
    r->has_lo = has_lo;
    r->has_hi = has_hi;
    if (has_lo) {
        r->lo = util_memdup(lo, lolen);
        r->lolen = lolen;
        if (!r->lo) t->status = OMEN_NOMEM;
    }
    if (has_hi) {
        r->hi = util_memdup(hi, hilen);
        r->hilen = hilen;
        if (!r->hi) t->status = OMEN_NOMEM;
    }
    t->nranges++;
}

static void txn_iter_released(void *owner, omen_iter *it);
static const iter_owner_ops txn_iter_ops = {txn_record_range, txn_iter_released};

int omen_txn_iter_create(omen_txn *t, const omen_iter_options *opts, omen_iter **out)
{
    if (!out) return util_seterr(OMEN_INVALID, "omen_txn_iter_create: NULL out");
    *out = NULL;
    int rc = txn_check(t, "omen_txn_iter_create");
    if (rc) return rc;
    if (t->niters == t->citers) {
        size_t nc = t->citers ? t->citers * 2 : 4;
        omen_iter **p = util_realloc(t->iters, nc * sizeof *p);
        if (!p) return util_seterr(OMEN_NOMEM, "omen_txn_iter_create: out of memory");
        t->iters = p;
        t->citers = nc;
    }
    omen_iter_options o;
    memset(&o, 0, sizeof o);
    if (opts) o = *opts;
    o.snapshot = NULL;
    db_sv *sv = db_sv_get(t->db);
    rc = db_iter_new(t->db, sv, t->snap->seq, &o, &txn_iter_ops, t, t->writes, out);
    if (rc) {
        db_sv_put(sv);
        return rc;
    }
    db_iter_hide_reserved(*out);
    t->iters[t->niters++] = *out;
    return OMEN_OK;
}

static void txn_iter_released(void *owner, omen_iter *it)
{
    omen_txn *t = owner;
    for (size_t i = 0; i < t->niters; i++) {
        if (t->iters[i] == it) {
            t->iters[i] = t->iters[--t->niters];
            return;
        }
    }
}

static int in_range(const txn_range *r, const void *k, size_t kl)
{
    if (r->has_lo && ukey_cmp(k, kl, r->lo, r->lolen) < 0) return 0;
    if (r->has_hi && ukey_cmp(k, kl, r->hi, r->hilen) >= 0) return 0;
    return 1;
}

static int touches(const omen_txn *t, const void *k, size_t kl)
{
    if (mt_latest_seq(t->reads, k, kl) || mt_latest_seq(t->writes, k, kl)) return 1;
    for (size_t i = 0; i < t->nranges; i++)
        if (in_range(&t->ranges[i], k, kl)) return 1;
    return 0;
}

static int group_op_check(void *ctx, uint64_t seq, int type, const void *key, size_t klen,
                          const void *val, size_t vlen)
{
    (void)seq, (void)type, (void)val, (void)vlen;
    if (touches(ctx, key, klen))
        return util_seterr(OMEN_CONFLICT,
                           "transaction conflict: a key it used was written by a concurrent "
                           "commit");
    return OMEN_OK;
}

/* Every distinct key of m changed after snap? */
static int check_keys(const mt *m, db_sv *sv, uint64_t snap, const char *what)
{
    mt_iter it;
    mt_iter_init(&it, m);
    const mt_node *prev = NULL;
    for (mt_iter_seek_first(&it); mt_iter_valid(&it); mt_iter_next(&it)) {
        const mt_node *n = it.node;
        if (prev && ukey_cmp(mt_node_key(prev), prev->klen, mt_node_key(n), n->klen) == 0)
            continue;
        prev = n;
        int changed = 0;
        int rc = db_changed_since(sv, mt_node_key(n), n->klen, snap, &changed);
        if (rc) return rc;
        if (changed)
            return util_seterr(OMEN_CONFLICT,
                               "transaction conflict: a key it %s was changed after its snapshot",
                               what);
    }
    return OMEN_OK;
}

static int check_range(const txn_range *r, db_sv *sv, uint64_t snap)
{
    citer **arr = NULL;
    size_t n = 0;
    arr = util_calloc(sv->nruns + 2, sizeof *arr);
    if (!arr) return util_seterr(OMEN_NOMEM, "out of memory");
    int rc = OMEN_OK;
    arr[n++] = citer_mem_new(sv->mem);
    if (sv->imm) arr[n++] = citer_mem_new(sv->imm);
    for (size_t i = 0; i < sv->nruns; i++)
        if (sv->runs[i]->meta.max_seq > snap) arr[n++] = citer_run_new(sv->runs[i]);
    for (size_t i = 0; i < n; i++)
        if (!arr[i]) rc = util_seterr(OMEN_NOMEM, "out of memory");
    for (size_t i = 0; i < n && !rc; i++) {
        citer *c = arr[i];
        if (r->has_lo)
            c->ops->seek(c, r->lo, r->lolen, UINT64_MAX);
        else
            c->ops->seek_first(c);
        while (c->valid) {
            if (r->has_hi && ukey_cmp(c->key, c->klen, r->hi, r->hilen) >= 0) break;
            if (c->seq > snap) {
                rc = util_seterr(OMEN_CONFLICT,
                                 "transaction conflict: a range it scanned was changed after "
                                 "its snapshot");
                break;
            }
            c->ops->next(c);
        }
        if (!rc && c->status) rc = c->status;
    }
    for (size_t i = 0; i < n; i++)
        if (arr[i]) arr[i]->ops->destroy(arr[i]);
    omen_free(arr);
    return rc;
}

/* The write leader's check (db_writer.validate): OMEN_CONFLICT if the
 * transaction must abort; first..self are the members before it. */
static int txn_validate(void *ctx, db_sv *sv, db_writer *first, db_writer *self)
{
    omen_txn *t = ctx;
    if (t->status) return t->status;
    uint64_t snap = t->snap->seq;
    int rc = check_keys(t->reads, sv, snap, "read");
    if (!rc) rc = check_keys(t->writes, sv, snap, "wrote");
    for (size_t i = 0; !rc && i < t->nranges; i++) rc = check_range(&t->ranges[i], sv, snap);
    for (db_writer *x = first; !rc && x != self; x = x->next)
        if (x->status == OMEN_OK && x->count)
            rc = batch_iterate_ops(x->ops, x->ops_len, x->count, 0, group_op_check, t);
    return rc;
}

int omen_txn_commit(omen_txn *t, int sync)
{
    if (!t) return util_seterr(OMEN_INVALID, "omen_txn_commit: NULL transaction");
    omen_db *db = t->db;
    int rc = db_check_writable(db, "omen_txn_commit");
    if (rc || t->status) {
        if (!rc) rc = util_seterr(t->status, "omen_txn_commit: an earlier operation failed");
        txn_free(t);
        return rc;
    }
    /* Iterators still open (a misuse) still count as reads. */
    for (size_t i = 0; i < t->niters; i++) db_iter_flush_range(t->iters[i]);
    if (mt_entries(t->writes) == 0) {
        txn_free(t);
        return OMEN_OK;
    }
    /* Encode the newest version of each written key. */
    struct omen_batch b;
    batch_init(&b);
    mt_iter it;
    mt_iter_init(&it, t->writes);
    const mt_node *prev = NULL;
    for (mt_iter_seek_first(&it); mt_iter_valid(&it) && !rc; mt_iter_next(&it)) {
        const mt_node *n = it.node;
        if (prev && ukey_cmp(mt_node_key(prev), prev->klen, mt_node_key(n), n->klen) == 0)
            continue;
        prev = n;
        rc = batch_add(&b, n->type, mt_node_key(n), n->klen, mt_node_val(n), n->vlen);
    }
    if (!rc) rc = db_write_ops(db, batch_ops(&b), batch_ops_len(&b), b.count, b.mem_cost, txn_validate, t, sync);
    if (rc == OMEN_OK && t->hook.apply) t->hook.apply(t->hook.arg);
    batch_free(&b);
    txn_free(t);
    return rc;
}

void omen_txn_rollback(omen_txn *t)
{
    if (!t) return;
    txn_free(t);
}
