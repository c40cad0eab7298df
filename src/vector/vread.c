/*
 * vread.c -- reads of one element by id: omen_vset_contains/get/get_int8/
 * get_attrs, and omen_vset_random.
 *
 * The float32 vector and the attributes are read from the engine (the
 * truth); only get_int8 (the graph's traversal copy, under wmu for the id
 * map) and random (a live graph node, inside a read epoch) use the graph.
 */
#include <string.h>
#include <time.h>

#include "db/db.h"
#include "util/err.h"
#include "util/mem.h"
#include "vector/vkeys.h"
#include "vector/vset.h"

/* ---- public reads ---- */

int omen_vset_contains(omen_vset *vs, const void *id, size_t id_len)
{
    int rc = vset_check(vs, "omen_vset_contains");
    if (!rc) rc = vset_check_id(id, id_len, "omen_vset_contains");
    if (rc) return rc;
    unsigned char k[VK_SET + OMEN_VSET_MAX_ID];
    size_t kl = key_elem(k, vs->set_id, id, id_len);
    size_t vl;
    return db_get_reserved(vs->db, k, kl, NULL, &vl);
}

/* Read and decode element id: *own is the value to free (NULL on error),
 * *vec, *attrs and *alen point into it. */
static int get_elem(omen_vset *vs, const void *id, size_t id_len, const char *fn, void **own,
                    const unsigned char **vec, const char **attrs, size_t *alen)
{
    *own = NULL;
    *vec = NULL;
    *attrs = NULL;
    *alen = 0;
    size_t vl;
    int rc = vset_check(vs, fn);
    if (!rc) rc = vset_check_id(id, id_len, fn);
    if (!rc) rc = vset_elem_read(vs, id, id_len, own, &vl);
    if (rc == OMEN_NOTFOUND) return util_seterr(OMEN_NOTFOUND, "%s: no such element", fn);
    if (!rc) rc = vset_elem_decode(vs, *own, vl, vec, attrs, alen);
    if (rc) {
        omen_free(*own);
        *own = NULL;
    }
    return rc;
}

int omen_vset_get(omen_vset *vs, const void *id, size_t id_len, float *out, uint32_t dim)
{
    if (!out) return util_seterr(OMEN_INVALID, "omen_vset_get: NULL out");
    if (vs && dim != vs->o.dim) return util_seterr(OMEN_INVALID, "omen_vset_get: wrong dimension %u", dim);
    void *v;
    const unsigned char *vb;
    const char *a;
    size_t al;
    int rc = get_elem(vs, id, id_len, "omen_vset_get", &v, &vb, &a, &al);
    if (rc) return rc;
    memcpy(out, vb, (size_t)dim * 4);
    omen_free(v);
    return OMEN_OK;
}

int omen_vset_get_int8(omen_vset *vs, const void *id, size_t id_len, int8_t *out, uint32_t dim, float *scale,
                       float *offset)
{
    if (!out) return util_seterr(OMEN_INVALID, "omen_vset_get_int8: NULL out");
    int rc = vset_check(vs, "omen_vset_get_int8");
    if (rc) return rc;
    if (dim != vs->o.dim) return util_seterr(OMEN_INVALID, "omen_vset_get_int8: wrong dimension %u", dim);
    if (vs->o.precision != OMEN_PREC_INT8)
        return util_seterr(OMEN_INVALID, "omen_vset_get_int8: set '%s' is not int8", vs->name);
    rc = vset_check_id(id, id_len, "omen_vset_get_int8");
    if (rc) return rc;
    int rs = hnsw_read_begin(vs->g);
    pthread_mutex_lock(&vs->wmu);
    uint32_t slot = vset_map_find(vs, id, id_len);
    if (slot == HN_NONE) {
        rc = util_seterr(OMEN_NOTFOUND, "omen_vset_get_int8: no such element");
    } else {
        memcpy(out, hn_vec(vs->g, slot), dim);
        const vquant *m = hn_map(vs->g, slot);
        if (scale) *scale = m->scale;
        if (offset) *offset = m->offset;
    }
    pthread_mutex_unlock(&vs->wmu);
    hnsw_read_end(vs->g, rs);
    return rc;
}

int omen_vset_get_attrs(omen_vset *vs, const void *id, size_t id_len, char **json, size_t *len)
{
    if (!json || !len) return util_seterr(OMEN_INVALID, "omen_vset_get_attrs: NULL out");
    *json = NULL;
    *len = 0;
    void *v;
    const unsigned char *vb;
    const char *a;
    size_t al;
    int rc = get_elem(vs, id, id_len, "omen_vset_get_attrs", &v, &vb, &a, &al);
    if (rc) return rc;
    if (al) {
        char *s = util_malloc(al + 1);
        if (!s) {
            rc = util_seterr(OMEN_NOMEM, "omen_vset_get_attrs: out of memory");
        } else {
            memcpy(s, a, al);
            s[al] = 0;
            *json = s;
            *len = al;
        }
    }
    omen_free(v);
    return rc;
}

int omen_vset_random(omen_vset *vs, void **id, size_t *id_len)
{
    if (!id || !id_len) return util_seterr(OMEN_INVALID, "omen_vset_random: NULL out");
    *id = NULL;
    *id_len = 0;
    int rc = vset_check(vs, "omen_vset_random");
    if (rc) return rc;
    static _Atomic uint64_t ctr;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    uint64_t r = atomic_fetch_add(&ctr, 0x9e3779b97f4a7c15ull) ^ (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 32);
    int rs = hnsw_read_begin(vs->g);
    uint32_t s = hnsw_random_live(vs->g, r);
    if (s == HN_NONE) {
        rc = util_seterr(OMEN_NOTFOUND, "omen_vset_random: set '%s' is empty", vs->name);
    } else {
        vrec *rec = atomic_load_explicit(&hn_node(vs->g, s)->rec, memory_order_acquire);
        if (!rec) {
            rc = util_seterr(OMEN_NOTFOUND, "omen_vset_random: set '%s' is empty", vs->name);
        } else {
            *id = util_memdup(rec->data, rec->id_len);
            *id_len = rec->id_len;
            if (!*id) rc = util_seterr(OMEN_NOMEM, "omen_vset_random: out of memory");
        }
    }
    hnsw_read_end(vs->g, rs);
    return rc;
}
