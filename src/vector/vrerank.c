/*
 * vrerank.c -- exact distances from the engine's float32 vectors
 * (vrerank.h).
 */
#include <string.h>

#include "db/db.h"
#include "util/err.h"
#include "util/mem.h"
#include "vector/vkeys.h"
#include "vector/vrerank.h"

/* Candidates read per engine call: enough to overlap the lookups' misses,
 * few enough that a key buffer per call stays on the stack. */
#define RR_BATCH 16

void vrerank_begin(vrerank *rr, omen_db *db, const hnsw *g, uint32_t set_id, const float *q)
{
    memset(rr, 0, sizeof *rr);
    rr->db = db;
    rr->g = g;
    rr->set_id = set_id;
    rr->q = q;
    rr->sv = db_sv_pin(db, &rr->seq, &rr->slot);
}

void vrerank_end(vrerank *rr)
{
    if (rr->sv) db_sv_unpin(rr->db, rr->sv, rr->slot);
    rr->sv = NULL;
}

typedef struct rr_item {
    vrerank *rr;
    float *d;
    signed char *found;
} rr_item;

/* An element value is 0x01, dim float32, then the attributes. */
static int rr_visit(void *arg, const void *v, size_t len)
{
    rr_item *it = arg;
    const hnsw *g = it->rr->g;
    const unsigned char *b = v;
    if (len < 1 + (size_t)g->dim * 4 || b[0] != 1) return OMEN_OK; /* not a live element: leave it not found */
    *it->d = hnsw_fdist(g, it->rr->q, b + 1); /* in place, at any alignment */
    *it->found = 1;
    return OMEN_OK;
}

int vrerank_read(vrerank *rr, const hn_cand *c, const vrec *const *recs, size_t n, float *d, signed char *st)
{
    const hnsw *g = rr->g;
    size_t vb = 1 + (size_t)g->dim * 4;
    size_t i = 0;
    while (i < n) {
        /* the next RR_BATCH candidates that need a read: those whose vector
         * is where re-ranking last found it are read there directly, the
         * others looked up in one engine call */
        unsigned char kb[RR_BATCH][VK_SET + 64];
        unsigned char *heap[RR_BATCH] = {0};
        const void *keys[RR_BATCH];
        size_t klens[RR_BATCH], vlens[RR_BATCH], at[RR_BATCH];
        uint64_t locs[RR_BATCH];
        run_vdst dsts[RR_BATCH];
        rr_item items[RR_BATCH];
        const unsigned char *direct[RR_BATCH];
        size_t dat[RR_BATCH];
        size_t m = 0, nd = 0;
        int rc = OMEN_OK;
        for (; i < n && m < RR_BATCH && nd < RR_BATCH && rc == OMEN_OK; i++) {
            if (st[i] < 0) continue; /* lossless: its int8 distance is exact */
            const vrec *r = recs[i];
            st[i] = 0;
            if (!r) continue;
            uint64_t loc = atomic_load_explicit(hn_loc(g, c[i].slot), memory_order_relaxed);
            const unsigned char *p = db_sv_value_at(rr->sv, loc, vb);
            if (p) {
                __builtin_prefetch(p);
                direct[nd] = p;
                dat[nd++] = i;
                continue;
            }
            unsigned char *k = kb[m];
            if (r->id_len > sizeof kb[m] - VK_SET) {
                /* long ids (up to 1 KiB) are rare: their key goes to the heap */
                k = heap[m] = util_malloc(VK_SET + (size_t)r->id_len);
                if (!k) {
                    rc = util_seterr(OMEN_NOMEM, "vector search: out of memory");
                    break;
                }
            }
            keys[m] = k;
            klens[m] = key_elem(k, rr->set_id, r->data, r->id_len);
            items[m] = (rr_item){rr, &d[i], &st[i]};
            locs[m] = 0;
            dsts[m] = (run_vdst){NULL, NULL, 0, rr_visit, &items[m], &locs[m]};
            at[m++] = i;
        }
        if (rc == OMEN_OK && m) rc = db_get_many_sv(rr->sv, rr->seq, m, keys, klens, dsts, vlens);
        for (size_t j = 0; j < m; j++) {
            omen_free(heap[j]);
            if (rc == OMEN_OK && st[at[j]] == 1 && locs[j])
                atomic_store_explicit(hn_loc(g, c[at[j]].slot), locs[j], memory_order_relaxed);
        }
        if (rc) return rc;
        for (size_t j = 0; j < nd; j++) {
            const unsigned char *p = direct[j];
            if (p[0] != 1) continue; /* not an element value: cannot be, but never misread */
            d[dat[j]] = hnsw_fdist(g, rr->q, p + 1);
            st[dat[j]] = 1;
        }
    }
    return OMEN_OK;
}
