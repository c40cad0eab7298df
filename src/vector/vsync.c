/*
 * vsync.c -- a set's elements as the graph sees them: the id map (element
 * id -> live graph slot), element values read back from the engine, and the
 * sync that makes an element's graph node match its engine entry.
 *
 * Invariants: the id map, the applied list and the sync are writer state,
 * used with the set's wmu held (the one reader that needs the map,
 * omen_vset_get_int8, takes wmu too); decoding and reading an element value
 * need no lock.  The engine entry is the truth and the graph follows it, so
 * syncing the same id twice is harmless.
 */
#include <string.h>

#include "db/db.h"
#include "util/err.h"
#include "util/mem.h"
#include "vector/vkeys.h"
#include "vector/vset.h"

/* ---- id map (writer side only) ---- */

static uint64_t hash_id(const void *id, size_t n)
{
    const unsigned char *p = id;
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 1099511628211ull;
    h ^= h >> 29;
    return h ? h : 1;
}

static int rec_is(const hnsw *g, uint32_t slot, const void *id, size_t n)
{
    vrec *r = atomic_load_explicit(&hn_node(g, slot)->rec, memory_order_relaxed);
    return r && r->id_len == n && memcmp(r->data, id, n) == 0;
}

uint32_t vset_map_find(const omen_vset *vs, const void *id, size_t n)
{
    if (!vs->map.cap) return HN_NONE;
    uint64_t h = hash_id(id, n);
    size_t m = vs->map.cap - 1;
    for (size_t i = h & m;; i = (i + 1) & m) {
        vmap_ent *e = &vs->map.t[i];
        if (!e->h) return HN_NONE;
        if (e->h == h && rec_is(vs->g, e->slot, id, n)) return e->slot;
    }
}

static int map_grow(vmap *mp)
{
    size_t nc = mp->cap ? mp->cap * 2 : 1024;
    vmap_ent *t = util_calloc(nc, sizeof *t);
    if (!t) return OMEN_NOMEM;
    for (size_t i = 0; i < mp->cap; i++) {
        if (!mp->t[i].h) continue;
        size_t j = mp->t[i].h & (nc - 1);
        while (t[j].h) j = (j + 1) & (nc - 1);
        t[j] = mp->t[i];
    }
    omen_free(mp->t);
    mp->t = t;
    mp->cap = nc;
    return OMEN_OK;
}

int vset_map_put(omen_vset *vs, const void *id, size_t n, uint32_t slot)
{
    if ((vs->map.n + 1) * 2 > vs->map.cap && map_grow(&vs->map))
        return util_seterr(OMEN_NOMEM, "vector: out of memory");
    uint64_t h = hash_id(id, n);
    size_t m = vs->map.cap - 1;
    size_t i = h & m;
    while (vs->map.t[i].h) i = (i + 1) & m;
    vs->map.t[i] = (vmap_ent){h, slot};
    vs->map.n++;
    return OMEN_OK;
}

static void map_del(omen_vset *vs, const void *id, size_t n)
{
    if (!vs->map.cap) return;
    uint64_t h = hash_id(id, n);
    size_t m = vs->map.cap - 1;
    size_t i = h & m;
    for (;; i = (i + 1) & m) {
        if (!vs->map.t[i].h) return;
        if (vs->map.t[i].h == h && rec_is(vs->g, vs->map.t[i].slot, id, n)) break;
    }
    /* Backward-shift deletion keeps probe chains intact. */
    size_t j = i;
    for (;;) {
        vs->map.t[i].h = 0;
        for (;;) {
            j = (j + 1) & m;
            if (!vs->map.t[j].h) {
                vs->map.n--;
                return;
            }
            size_t k = vs->map.t[j].h & m;
            if ((j > i && (k <= i || k > j)) || (j < i && (k <= i && k > j))) break;
        }
        vs->map.t[i] = vs->map.t[j];
        i = j;
    }
}

/* ---- element values ---- */

/* Decode an element value: vector pointer (unaligned LE floats) + attrs. */
int vset_elem_decode(const omen_vset *vs, const void *val, size_t vlen, const unsigned char **vec,
                     const char **attrs, size_t *alen)
{
    const unsigned char *p = val;
    size_t need = 1 + (size_t)vs->o.dim * 4;
    if (vlen < need || p[0] != 1)
        return util_seterr(OMEN_CORRUPT, "vector set '%s': malformed element value", vs->name);
    *vec = p + 1;
    *attrs = (const char *)p + need;
    *alen = vlen - need;
    return OMEN_OK;
}

/* Read the element's value (malloc'd) from the engine. */
int vset_elem_read(omen_vset *vs, const void *id, size_t idlen, void **val, size_t *vlen)
{
    unsigned char k[VK_SET + OMEN_VSET_MAX_ID];
    size_t kl = key_elem(k, vs->set_id, id, idlen);
    return db_get_reserved(vs->db, k, kl, val, vlen);
}

/* ---- graph sync (wmu held) ---- */

int vset_push_applied(omen_vset *vs, uint64_t logno)
{
    if (vs->napplied == vs->capplied) {
        size_t nc = vs->capplied ? vs->capplied * 2 : 256;
        uint64_t *p = util_realloc(vs->applied, nc * sizeof *p);
        if (!p) return util_seterr(OMEN_NOMEM, "vector: out of memory");
        vs->applied = p;
        vs->capplied = nc;
    }
    vs->applied[vs->napplied++] = logno;
    return OMEN_OK;
}

static void maybe_consolidate(omen_vset *vs)
{
    uint64_t del = atomic_load(&vs->g->deleted), live = atomic_load(&vs->g->live);
    if (del > 64 + live / 8) hnsw_consolidate(vs->g);
}

/* Make the graph's node for `id` match the engine's entry. */
int vset_sync_elem(omen_vset *vs, const void *id, size_t idlen)
{
    void *val = NULL;
    size_t vlen = 0;
    int rc = vset_elem_read(vs, id, idlen, &val, &vlen);
    uint32_t slot = vset_map_find(vs, id, idlen);
    if (rc == OMEN_NOTFOUND) {
        if (slot != HN_NONE) {
            map_del(vs, id, idlen);
            hnsw_mark_deleted(vs->g, slot);
            maybe_consolidate(vs);
        }
        return OMEN_OK;
    }
    if (rc) return rc;
    const unsigned char *vb = NULL;
    const char *attrs = NULL;
    size_t alen = 0;
    rc = vset_elem_decode(vs, val, vlen, &vb, &attrs, &alen);
    if (rc) {
        omen_free(val);
        return rc;
    }
    float *vec = util_malloc((size_t)vs->o.dim * 4);
    if (!vec) {
        omen_free(val);
        return util_seterr(OMEN_NOMEM, "vector: out of memory");
    }
    memcpy(vec, vb, (size_t)vs->o.dim * 4);
    if (!vs->g->trained) hnsw_train(vs->g, vec, 1);
    if (slot != HN_NONE) {
        if (hnsw_same_vector(vs->g, slot, vec)) {
            vrec *old = atomic_load(&hn_node(vs->g, slot)->rec);
            if (!(old->attrs_len == alen && memcmp(vrec_attrs(old), attrs, alen) == 0)) {
                vrec *r = vrec_new(id, idlen, attrs, alen);
                if (!r) rc = util_seterr(OMEN_NOMEM, "vector: out of memory");
                else hnsw_set_rec(vs->g, slot, r);
            }
            omen_free(vec);
            omen_free(val);
            return rc;
        }
        map_del(vs, id, idlen);
        hnsw_mark_deleted(vs->g, slot);
    }
    vrec *r = vrec_new(id, idlen, attrs, alen);
    omen_free(val);
    if (!r) {
        omen_free(vec);
        return util_seterr(OMEN_NOMEM, "vector: out of memory");
    }
    uint32_t ns;
    rc = hnsw_insert(vs->g, vec, r, &ns);
    omen_free(vec);
    if (rc) {
        omen_free(r);
        return rc;
    }
    rc = vset_map_put(vs, id, idlen, ns);
    maybe_consolidate(vs);
    return rc;
}
