/*
 * pending.c -- the loop pass's pending writes (see pending.h).
 *
 * Invariants:
 *  - The batch and the overlay hold exactly the same writes, in order; the
 *    overlay maps each engine key to its last pending value or deletion.
 *  - Everything in the overlay lives in the pass's arena and dies at the
 *    commit, so a value pointer handed out stays valid until then.
 *  - During an EXEC transaction (pd.txn) the batch is empty (it was
 *    committed at pend_txn_begin) and every access goes through pd.txn.
 */
#include "server/pending.h"
#include "server/hash.h"

#include <stdlib.h>
#include <string.h>

#define MID_PASS_BATCH_BYTES (32u << 20)

/* ---- the overlay: the pending batch, readable by key ------------------ */

typedef struct ov_ent {
    uint64_t h;
    uint32_t klen;
    int del;
    size_t vlen;
    char *data; /* key bytes, then value bytes */
} ov_ent;

/* The overlay's entries live in a per-pass arena: a pass may write
 * thousands of entries, and all of them die together at the commit. */
typedef struct arena_chunk {
    struct arena_chunk *next;
    size_t used, cap;
    char data[];
} arena_chunk;

static struct {
    omen_db *db;
    arena_chunk *arena;
    omen_batch *batch;
    size_t batch_bytes;
    ov_ent **tab;
    size_t cap, used;
    size_t *slots; /* used slot indexes, for a clear in O(used) */
    int commit_sync;  /* sync mode of mid-pass commits */
    int pass_failed;  /* first failed commit of the pass, 0 if none */
    omen_txn *txn;    /* EXEC in progress: reads and writes go here */
    int txn_unsynced; /* a transaction was committed relaxed in this pass */
} pd;

#define ARENA_CHUNK (256u << 10)

static void *arena_alloc(size_t n)
{
    n = (n + 15) & ~(size_t)15;
    arena_chunk *a = pd.arena;
    if (!a || a->cap - a->used < n) {
        size_t cap = n > ARENA_CHUNK ? n : ARENA_CHUNK;
        arena_chunk *na = malloc(sizeof *na + cap);
        if (!na) return NULL;
        na->used = 0;
        na->cap = cap;
        na->next = a;
        pd.arena = a = na;
    }
    void *p = a->data + a->used;
    a->used += n;
    return p;
}

/* Free all but one standard chunk (kept for the next pass). */
static void arena_reset(void)
{
    arena_chunk *keep = NULL;
    while (pd.arena) {
        arena_chunk *a = pd.arena;
        pd.arena = a->next;
        if (!keep && a->cap == ARENA_CHUNK) {
            keep = a;
            continue;
        }
        free(a);
    }
    if (keep) {
        keep->used = 0;
        keep->next = NULL;
    }
    pd.arena = keep;
}

static ov_ent *ov_find(const void *key, size_t klen, uint64_t h, size_t *slot)
{
    if (!pd.cap) return NULL;
    size_t m = pd.cap - 1, i = h & m;
    for (;;) {
        ov_ent *e = pd.tab[i];
        if (!e) {
            if (slot) *slot = i;
            return NULL;
        }
        if (e->h == h && e->klen == klen && memcmp(e->data, key, klen) == 0) {
            if (slot) *slot = i;
            return e;
        }
        i = (i + 1) & m;
    }
}

static int ov_size(size_t ncap)
{
    ov_ent **nt = calloc(ncap, sizeof *nt);
    size_t *ns = malloc(ncap * sizeof *ns);
    if (!nt || !ns) {
        free(nt);
        free(ns);
        return OMEN_NOMEM;
    }
    size_t n = 0;
    for (size_t k = 0; k < pd.used; k++) {
        ov_ent *e = pd.tab[pd.slots[k]];
        size_t i = e->h & (ncap - 1);
        while (nt[i]) i = (i + 1) & (ncap - 1);
        nt[i] = e;
        ns[n++] = i;
    }
    free(pd.tab);
    free(pd.slots);
    pd.tab = nt;
    pd.slots = ns;
    pd.cap = ncap;
    return OMEN_OK;
}

static int ov_grow(void)
{
    return ov_size(pd.cap ? pd.cap * 2 : 1024);
}

static int ov_set(const void *key, size_t klen, const void *val, size_t vlen, int del)
{
    if ((pd.used + 1) * 2 > pd.cap && ov_grow()) return OMEN_NOMEM;
    uint64_t h = srv_hash64(key, klen);
    size_t slot;
    ov_ent *e = ov_find(key, klen, h, &slot);
    /* A replaced value stays in the arena until the commit: a caller's
     * pointer into it (a value read earlier in the pass) stays valid. */
    char *d = arena_alloc(klen + (del ? 0 : vlen) + 1);
    if (!d) return OMEN_NOMEM;
    memcpy(d, key, klen);
    if (!del && vlen) memcpy(d + klen, val, vlen);
    if (!e) {
        e = arena_alloc(sizeof *e);
        if (!e) return OMEN_NOMEM;
        pd.tab[slot] = e;
        pd.slots[pd.used++] = slot;
    }
    e->h = h;
    e->klen = (uint32_t)klen;
    e->del = del;
    e->vlen = del ? 0 : vlen;
    e->data = d;
    return OMEN_OK;
}

/* After a pass: empty the table, and shrink it when it is far larger than
 * this pass needed.  One big pass (a burst of pipelined requests, or the
 * loop back from a stall with every client's buffer full) grows it; left
 * at that size, every lookup of the ordinary passes after it is a cache
 * miss into a mostly empty table (96% of ov_find's samples were its first
 * load, ~5% of a pass of pipelined SETs).  Sized for this pass, the next
 * one of the same size does not grow it. */
static void ov_clear(void)
{
    size_t used = pd.used;
    for (size_t k = 0; k < pd.used; k++) pd.tab[pd.slots[k]] = NULL;
    pd.used = 0;
    arena_reset();
    size_t want = 1024;
    while (want < 4 * used) want *= 2;
    if (pd.cap >= 4 * want) (void)ov_size(want); /* on failure it just stays large */
}

/* ---- raw engine access through the overlay ------------------------------ */

int pend_put(const void *key, size_t klen, const void *val, size_t vlen)
{
    if (pd.txn) return omen_txn_put(pd.txn, key, klen, val, vlen);
    int rc = omen_batch_put(pd.batch, key, klen, val, vlen);
    if (rc) return rc;
    pd.batch_bytes += klen + vlen + 16;
    return ov_set(key, klen, val, vlen, 0);
}

int pend_vadd(omen_vset *vs, const void *id, size_t idlen, const float *vec, uint32_t dim,
              const char *attrs, size_t alen)
{
    if (pd.txn) return OMEN_INVALID;
    return omen_batch_vadd(pd.batch, vs, id, idlen, vec, dim, attrs, alen);
}

int pend_vdel(omen_vset *vs, const void *id, size_t idlen)
{
    if (pd.txn) return OMEN_INVALID;
    return omen_batch_vdel(pd.batch, vs, id, idlen);
}

int pend_mid_sync(void) { return pd.commit_sync; }
int pend_in_txn(void) { return pd.txn != NULL; }

int pend_del(const void *key, size_t klen)
{
    if (pd.txn) return omen_txn_delete(pd.txn, key, klen);
    int rc = omen_batch_delete(pd.batch, key, klen);
    if (rc) return rc;
    pd.batch_bytes += klen + 16;
    return ov_set(key, klen, NULL, 0, 1);
}

/* Read key into *buf (grown as needed); OMEN_OK/NOTFOUND/error. */
int pend_get(const void *key, size_t klen, char **buf, size_t *cap, const char **val,
                   size_t *vlen)
{
    if (pd.txn) {
        void *v = NULL;
        size_t n = 0;
        int rc = omen_txn_get(pd.txn, key, klen, &v, &n);
        if (rc) return rc;
        if (n > *cap) {
            char *nb = realloc(*buf, n + 64);
            if (!nb) {
                omen_free(v);
                return OMEN_NOMEM;
            }
            *buf = nb;
            *cap = n + 64;
        }
        memcpy(*buf, v, n);
        omen_free(v);
        *val = *buf;
        *vlen = n;
        return OMEN_OK;
    }
    if (pd.used) {
        ov_ent *e = ov_find(key, klen, srv_hash64(key, klen), NULL);
        if (e) {
            if (e->del) return OMEN_NOTFOUND;
            *val = e->data + e->klen;
            *vlen = e->vlen;
            return OMEN_OK;
        }
    }
    for (;;) {
        size_t n = 0;
        int rc = omen_get_into(pd.db, NULL, key, klen, *buf, *cap, &n);
        if (rc) return rc;
        if (n <= *cap) {
            *val = *buf;
            *vlen = n;
            return OMEN_OK;
        }
        size_t nc = n + 64;
        char *nb = realloc(*buf, nc);
        if (!nb) return OMEN_NOMEM;
        *buf = nb;
        *cap = nc;
    }
}

/* ---- pass commit ---------------------------------------------------------- */

static int commit_now(int sync)
{
    int rc = OMEN_OK;
    if (omen_batch_count(pd.batch)) rc = omen_write(pd.db, pd.batch, sync);
    omen_batch_clear(pd.batch);
    pd.batch_bytes = 0;
    ov_clear();
    return rc;
}

int pend_commit(int sync)
{
    int rc;
    if (sync == OMEN_SYNC_FULL && pd.txn_unsynced && !omen_batch_count(pd.batch))
        rc = omen_sync(pd.db); /* only relaxed transaction commits to cover */
    else
        rc = commit_now(sync);
    pd.txn_unsynced = 0;
    if (!rc && pd.pass_failed) rc = pd.pass_failed;
    pd.pass_failed = 0;
    return rc;
}

size_t pend_count(void) { return omen_batch_count(pd.batch); }
void pend_set_mid_sync(int sync) { pd.commit_sync = sync; }
int pend_failed(void) { return pd.pass_failed; }

/* Commit what is pending in the middle of a pass (before an iterator, or
 * when the batch grew large); replies still wait for the pass's end. */
int pend_commit_mid(void)
{
    if (pd.txn || !omen_batch_count(pd.batch)) return OMEN_OK;
    int rc = commit_now(pd.commit_sync);
    if (rc && !pd.pass_failed) pd.pass_failed = rc;
    return rc;
}

void pend_maybe_commit_large(void)
{
    if (pd.batch_bytes > MID_PASS_BATCH_BYTES) pend_commit_mid();
}

int pend_iter(const char *lo, size_t lolen, const char *hi, size_t hilen, omen_iter **out)
{
    pend_commit_mid();
    omen_iter_options o;
    memset(&o, 0, sizeof o);
    o.lower = lo;
    o.lower_len = lolen;
    o.upper = hi;
    o.upper_len = hilen;
    if (pd.txn) return omen_txn_iter_create(pd.txn, &o, out);
    return omen_iter_create(pd.db, &o, out);
}

int pend_txn_begin(void)
{
    int rc = pend_commit_mid();
    if (rc) return rc;
    return omen_txn_begin(pd.db, &pd.txn);
}

int pend_txn_end(void)
{
    omen_txn *t = pd.txn;
    pd.txn = NULL;
    if (!t) return OMEN_OK;
    int rc = omen_txn_commit(t, OMEN_SYNC_RELAXED);
    if (rc == OMEN_OK) pd.txn_unsynced = 1;
    else if (!pd.pass_failed) pd.pass_failed = rc;
    return rc;
}

int pend_open(omen_db *db)
{
    memset(&pd, 0, sizeof pd);
    pd.db = db;
    pd.commit_sync = OMEN_SYNC_RELAXED;
    return omen_batch_create(&pd.batch);
}

void pend_close(void)
{
    ov_clear();
    free(pd.arena);
    omen_batch_destroy(pd.batch);
    free(pd.tab);
    free(pd.slots);
    memset(&pd, 0, sizeof pd);
}

omen_db *pend_db(void) { return pd.db; }
