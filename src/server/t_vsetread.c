/*
 * t_vsetread.c -- vector set reads: VSIM (by vector or by element), VCARD
 * VDIM VISMEMBER VEMB VGETATTR VINFO and VRANDMEMBER, over the engine sets
 * that t_vset.c keeps (see there for the key layout and invariants).
 *
 * Every read starts with vset_lookup, which commits the pass's pending
 * writes first: the engine's graph follows committed writes only.
 * Scores are Redis's: similarity 1 - d/2 with d the cosine distance
 * (0..2), so 1 is identical and 0 opposite.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/coll.h"
#include "server/commands.h"
#include "server/keyspace.h"
#include "server/networking.h"
#include "server/t_vset.h"
#include "server/util.h"

#define VS_DEFAULT_COUNT 10

static const char *quant_name(int precision)
{
    return precision == OMEN_PREC_FLOAT32 ? "f32" : "int8";
}

static double similarity(float dist)
{
    double s = 1.0 - (double)dist / 2.0;
    return s < 0 ? 0 : s > 1 ? 1 : s;
}

/* ---- reads -------------------------------------------------------------- */

static void vcardCommand(client *c)
{
    ks_meta m;
    int r = coll_lookup(c, &c->argv[1], OBJ_VSET, &m);
    if (r < 0) return;
    addReplyLongLong(c, r ? (long long)m.count : 0);
}

static void vdimCommand(client *c)
{
    ks_meta m;
    omen_vset *vs;
    omen_vset_info in;
    int r = vset_lookup_info(c, &m, &vs, &in);
    if (r < 0) return;
    if (r == 0) {
        addReplyError(c, "ERR key does not exist");
        return;
    }
    addReplyLongLong(c, in.dim);
}

static void vismemberCommand(client *c)
{
    ks_meta m;
    omen_vset *vs;
    int r = vset_lookup(c, &m, &vs);
    if (r < 0) return;
    int rc = r ? omen_vset_contains(vs, c->argv[2].p, c->argv[2].len) : OMEN_NOTFOUND;
    if (rc != OMEN_OK && rc != OMEN_NOTFOUND && rc != OMEN_INVALID) {
        coll_storage_error(c, rc);
        return;
    }
    addReplyBool(c, rc == OMEN_OK);
}

static float stored_norm(const ks_meta *m, const sarg *el)
{
    const char *v;
    size_t vl;
    float n = 1.0f;
    if (ks_sub_get(m->gen, KS_FAM_VSET, el->p, el->len, &v, &vl) == OMEN_OK && vl == 4) memcpy(&n, v, 4);
    return n;
}

/* VEMB key element [RAW] */
static void vembCommand(client *c)
{
    int raw = 0;
    for (int j = 3; j < c->argc; j++) {
        if (!arg_is(&c->argv[j], "RAW")) {
            addReplyError(c, "ERR invalid option");
            return;
        }
        raw = 1;
    }
    ks_meta m;
    omen_vset *vs;
    omen_vset_info in;
    int r = vset_lookup_info(c, &m, &vs, &in);
    if (r < 0) return;
    if (r == 0) {
        addReplyNull(c);
        return;
    }
    const sarg *el = &c->argv[2];
    float *v = malloc((size_t)in.dim * sizeof *v);
    if (!v) {
        addReplyError(c, "ERR out of memory");
        return;
    }
    int rc = omen_vset_get(vs, el->p, el->len, v, in.dim);
    if (rc == OMEN_NOTFOUND || rc == OMEN_INVALID) {
        free(v);
        addReplyNull(c);
        return;
    }
    if (rc) {
        free(v);
        coll_storage_error(c, rc);
        return;
    }
    float norm = stored_norm(&m, el);
    if (raw) {
        if (in.precision == OMEN_PREC_INT8) {
            int8_t *q = malloc(in.dim);
            float scale = 0, offset = 0;
            rc = q ? omen_vset_get_int8(vs, el->p, el->len, q, in.dim, &scale, &offset) : OMEN_NOMEM;
            if (rc) {
                free(q);
                free(v);
                coll_storage_error(c, rc);
                return;
            }
            /* Redis's four fields, then the offset its codes lack:
             * component i = (code * scale + offset) * norm */
            addReplyArrayLen(c, 5);
            addReplyStatus(c, "int8");
            addReplyBulk(c, q, in.dim);
            addReplyDouble(c, norm);
            addReplyDouble(c, (double)scale * 127.0);
            addReplyDouble(c, offset);
            free(q);
        } else {
            addReplyArrayLen(c, 3);
            addReplyStatus(c, "f32");
            addReplyBulk(c, v, (size_t)in.dim * 4);
            addReplyDouble(c, norm);
        }
        free(v);
        return;
    }
    addReplyArrayLen(c, in.dim);
    for (uint32_t i = 0; i < in.dim; i++) addReplyDouble(c, (double)v[i] * norm);
    free(v);
}

static void vgetattrCommand(client *c)
{
    ks_meta m;
    omen_vset *vs;
    int r = vset_lookup(c, &m, &vs);
    if (r < 0) return;
    if (r == 0) {
        addReplyNull(c);
        return;
    }
    char *json = NULL;
    size_t len = 0;
    int rc = omen_vset_get_attrs(vs, c->argv[2].p, c->argv[2].len, &json, &len);
    if (rc == OMEN_NOTFOUND || rc == OMEN_INVALID || (rc == OMEN_OK && !json)) {
        addReplyNull(c);
        return;
    }
    if (rc) {
        coll_storage_error(c, rc);
        return;
    }
    addReplyBulk(c, json, len);
    omen_free(json);
}

static void vinfoCommand(client *c)
{
    ks_meta m;
    omen_vset *vs;
    omen_vset_info in;
    int r = vset_lookup_info(c, &m, &vs, &in);
    if (r < 0) return;
    if (r == 0) {
        addReplyNullArray(c);
        return;
    }
    addReplyMapLen(c, 9);
    addReplyStatus(c, "quant-type");
    addReplyStatus(c, quant_name(in.precision));
    addReplyStatus(c, "hnsw-m");
    addReplyLongLong(c, in.M);
    addReplyStatus(c, "vector-dim");
    addReplyLongLong(c, in.dim);
    addReplyStatus(c, "projection-input-dim");
    addReplyLongLong(c, 0);
    addReplyStatus(c, "size");
    addReplyLongLong(c, (long long)in.count);
    addReplyStatus(c, "max-level");
    addReplyLongLong(c, in.levels ? (long long)in.levels - 1 : 0);
    addReplyStatus(c, "vset-uid");
    addReplyLongLong(c, (long long)m.gen);
    addReplyStatus(c, "ef-construction");
    addReplyLongLong(c, in.ef_construction);
    addReplyStatus(c, "memory-bytes");
    addReplyLongLong(c, (long long)in.memory_bytes);
}

/* ---- VSIM --------------------------------------------------------------- */

/* VSIM key (ELE element | FP32 blob | VALUES n v...) [WITHSCORES]
 *      [WITHATTRIBS] [COUNT n] [EPSILON d] [EF n] [FILTER expr]
 *      [FILTER-EF n] [TRUTH] [NOTHREAD] */
static void vsimCommand(client *c)
{
    ks_meta m;
    omen_vset *vs;
    omen_vset_info in;
    int r = vset_lookup_info(c, &m, &vs, &in);
    if (r < 0) return;
    if (r == 0) {
        addReplyArrayLen(c, 0);
        return;
    }
    int rc;
    float *vec = NULL;
    uint32_t dim = 0;
    const sarg *ele = NULL;
    int j;
    if (arg_is(&c->argv[2], "ELE")) {
        ele = &c->argv[3];
        j = 4;
    } else if (arg_is(&c->argv[2], "FP32") || arg_is(&c->argv[2], "VALUES")) {
        int used = vset_parse_vector(c, 2, &vec, &dim);
        if (!used) {
            addReplyError(c, "ERR invalid vector specification");
            return;
        }
        if (dim != in.dim) {
            free(vec);
            addReplyErrorFormat(c, "ERR Vector dimension mismatch - got %u but set has %u", dim, in.dim);
            return;
        }
        if (!(vset_vec_norm(vec, dim) > 0)) {
            free(vec);
            addReplyError(c, VSET_ERR_BADVEC);
            return;
        }
        j = 2 + used;
    } else { /* Redis's reply too: it parses any other word as a vector */
        addReplyError(c, "ERR invalid vector specification");
        return;
    }
    int withscores = 0, withattribs = 0, truth = 0;
    long long count = VS_DEFAULT_COUNT, ef = 0, fef;
    double epsilon = 2.0;
    const sarg *filter = NULL;
    const char *err = NULL;
    for (; j < c->argc && !err; j++) {
        const sarg *o = &c->argv[j];
        int more = j + 1 < c->argc;
        if (arg_is(o, "WITHSCORES")) withscores = 1;
        else if (arg_is(o, "WITHATTRIBS")) withattribs = 1;
        else if (arg_is(o, "TRUTH")) truth = 1;
        else if (arg_is(o, "NOTHREAD")) {
        } else if (arg_is(o, "COUNT") && more) {
            if (arg_ll(&c->argv[++j], &count) || count <= 0) err = "ERR invalid COUNT";
        } else if (arg_is(o, "EPSILON") && more) {
            if (arg_double(&c->argv[++j], &epsilon) || epsilon <= 0) err = "ERR invalid EPSILON";
        } else if (arg_is(o, "EF") && more) {
            if (arg_ll(&c->argv[++j], &ef) || ef <= 0 || ef > 1000000) err = "ERR invalid EF";
        } else if (arg_is(o, "FILTER-EF") && more) {
            /* the engine scans filtered candidates exactly when few match */
            if (arg_ll(&c->argv[++j], &fef) || fef <= 0) err = "ERR invalid FILTER-EF";
        } else if (arg_is(o, "FILTER") && more) {
            filter = &c->argv[++j];
        } else {
            err = "ERR syntax error in VSIM command";
        }
    }
    if (err) {
        free(vec);
        addReplyError(c, err);
        return;
    }
    char *fexpr = NULL;
    if (filter) {
        fexpr = malloc(filter->len + 1);
        if (!fexpr) {
            free(vec);
            addReplyError(c, "ERR out of memory");
            return;
        }
        memcpy(fexpr, filter->p, filter->len);
        fexpr[filter->len] = 0;
        /* the engine reads the expression as a C string: a NUL would cut
         * it short, and the engine's last error would describe something
         * else */
        size_t nul = strlen(fexpr);
        int bad = 1;
        if (nul != filter->len)
            addReplyErrorFormat(c, "ERR syntax error in FILTER expression: NUL byte at position %zu", nul);
        else if (omen_vset_filter_check(fexpr) != OMEN_OK)
            addReplyErrorFormat(c, "ERR syntax error in FILTER expression: %s", omen_last_error());
        else
            bad = 0;
        if (bad) {
            free(fexpr);
            free(vec);
            return;
        }
    }
    omen_vset_query q;
    memset(&q, 0, sizeof q);
    q.k = (uint32_t)(count > OMEN_VSET_MAX_K ? OMEN_VSET_MAX_K : count);
    long long e = ef ? ef : VS_DEFAULT_EF;
    if (e < (long long)q.k) e = q.k;
    q.ef = (uint32_t)(e > OMEN_VSET_MAX_K ? OMEN_VSET_MAX_K : e);
    q.filter = fexpr;
    q.exact = truth;
    omen_vset_result *res = NULL;
    if (ele) {
        rc = omen_vset_search_id(vs, ele->p, ele->len, &q, &res);
        if (rc == OMEN_NOTFOUND || (rc == OMEN_INVALID && (ele->len == 0 || ele->len > OMEN_VSET_MAX_ID))) {
            free(fexpr);
            addReplyError(c, "ERR element not found in set");
            return;
        }
    } else {
        rc = omen_vset_search(vs, vec, dim, &q, &res);
    }
    free(vec);
    free(fexpr);
    if (rc) {
        vset_engine_error(c, rc);
        return;
    }
    int resp3 = c->resp >= 3, map = resp3 && (withscores || withattribs);
    size_t n = 0;
    while (n < res->n && res->hits[n].score / 2.0 <= epsilon) n++;
    if (map)
        addReplyMapLen(c, (long long)n);
    else
        addReplyArrayLen(c, (long long)n * (1 + withscores + withattribs));
    for (size_t i = 0; i < n; i++) {
        const omen_vset_hit *h = &res->hits[i];
        addReplyBulk(c, h->id, h->id_len);
        if (resp3 && withscores && withattribs) addReplyArrayLen(c, 2);
        if (withscores) addReplyDouble(c, similarity(h->score));
        if (withattribs) {
            char *json = NULL;
            size_t len = 0;
            if (omen_vset_get_attrs(vs, h->id, h->id_len, &json, &len) == OMEN_OK && json)
                addReplyBulk(c, json, len);
            else
                addReplyNull(c);
            omen_free(json);
        }
    }
    omen_free(res);
}

/* ---- VRANDMEMBER -------------------------------------------------------- */

typedef struct idbuf {
    void *p;
    size_t len;
} idbuf;

static void idbufs_free(idbuf *v, size_t n)
{
    for (size_t i = 0; i < n; i++) omen_free(v[i].p);
    free(v);
}

static uint64_t id_hash(const void *p, size_t n)
{
    const unsigned char *s = p;
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++) h = (h ^ s[i]) * 1099511628211ull;
    return h;
}

/* Up to k distinct random ids (k < count): random draws, duplicates
 * skipped through a hash of what was drawn; gives up after 16k draws. */
static int draw_distinct(omen_vset *vs, uint64_t k, idbuf **out, size_t *nout)
{
    size_t cap = 16;
    while (cap < k * 2) cap *= 2;
    size_t *tab = malloc(cap * sizeof *tab); /* index + 1; 0 = empty */
    idbuf *v = calloc(k ? k : 1, sizeof *v);
    if (!tab || !v) {
        free(tab);
        free(v);
        return OMEN_NOMEM;
    }
    memset(tab, 0, cap * sizeof *tab);
    size_t n = 0;
    int rc = OMEN_OK;
    for (uint64_t tries = 0; n < k && tries < k * 16 + 64; tries++) {
        void *id;
        size_t il;
        rc = omen_vset_random(vs, &id, &il);
        if (rc) break;
        size_t s = id_hash(id, il) & (cap - 1);
        int dup = 0;
        while (tab[s]) {
            idbuf *e = &v[tab[s] - 1];
            if (e->len == il && !memcmp(e->p, id, il)) {
                dup = 1;
                break;
            }
            s = (s + 1) & (cap - 1);
        }
        if (dup) {
            omen_free(id);
            continue;
        }
        v[n].p = id;
        v[n].len = il;
        tab[s] = ++n;
    }
    free(tab);
    if (rc == OMEN_NOTFOUND) rc = OMEN_OK;
    if (rc) {
        idbufs_free(v, n);
        return rc;
    }
    *out = v;
    *nout = n;
    return OMEN_OK;
}

/* Every element, in random order (sets of at most OMEN_VSET_MAX_K). */
static int all_shuffled(omen_vset *vs, uint64_t card, idbuf **out, size_t *nout)
{
    void *seed;
    size_t sl;
    int rc = omen_vset_random(vs, &seed, &sl);
    if (rc) return rc;
    omen_vset_query q;
    memset(&q, 0, sizeof q);
    q.k = (uint32_t)card;
    q.exact = 1;
    omen_vset_result *res;
    rc = omen_vset_search_id(vs, seed, sl, &q, &res);
    omen_free(seed);
    if (rc) return rc;
    idbuf *v = calloc(res->n ? res->n : 1, sizeof *v);
    if (!v) {
        omen_free(res);
        return OMEN_NOMEM;
    }
    size_t n = 0;
    for (; n < res->n; n++) {
        v[n].p = malloc(res->hits[n].id_len);
        if (!v[n].p) {
            for (size_t i = 0; i < n; i++) free(v[i].p);
            free(v);
            omen_free(res);
            return OMEN_NOMEM;
        }
        memcpy(v[n].p, res->hits[n].id, res->hits[n].id_len);
        v[n].len = res->hits[n].id_len;
    }
    omen_free(res);
    for (size_t i = n; i > 1; i--) {
        size_t k = (size_t)coll_random(i);
        idbuf t = v[i - 1];
        v[i - 1] = v[k];
        v[k] = t;
    }
    *out = v;
    *nout = n;
    return OMEN_OK;
}

/* VRANDMEMBER key [count] */
static void vrandmemberCommand(client *c)
{
    long long count = 1;
    int with_count = c->argc == 3;
    if (with_count && arg_ll(&c->argv[2], &count)) {
        addReplyError(c, "ERR COUNT value is not an integer");
        return;
    }
    if (c->argc > 3) {
        addReplyErrorArity(c);
        return;
    }
    if (with_count && count == 0) { /* before the key is read, as Redis */
        addReplyArrayLen(c, 0);
        return;
    }
    ks_meta m;
    omen_vset *vs;
    int r = vset_lookup(c, &m, &vs);
    if (r < 0) return;
    if (r == 0) {
        if (with_count)
            addReplyArrayLen(c, 0);
        else
            addReplyNull(c);
        return;
    }
    int rc;
    if (!with_count) {
        void *id;
        size_t il;
        rc = omen_vset_random(vs, &id, &il);
        if (rc == OMEN_NOTFOUND) {
            addReplyNull(c);
            return;
        }
        if (rc) {
            coll_storage_error(c, rc);
            return;
        }
        addReplyBulk(c, id, il);
        omen_free(id);
        return;
    }
    if (count < 0) {
        if (count < -(long long)COLL_REPEAT_MAX) {
            addReplyError(c, "ERR value is out of range");
            return;
        }
        uint64_t k = (uint64_t)-count;
        addReplyArrayLen(c, (long long)k);
        for (uint64_t i = 0; i < k; i++) {
            void *id;
            size_t il;
            rc = omen_vset_random(vs, &id, &il);
            if (rc) {
                client_close_async(c); /* the array length is already out */
                return;
            }
            addReplyBulk(c, id, il);
            omen_free(id);
        }
        return;
    }
    uint64_t card = m.count, k = (uint64_t)count;
    idbuf *v = NULL;
    size_t n = 0;
    if (k * 2 >= card && card <= OMEN_VSET_MAX_K) {
        rc = all_shuffled(vs, card, &v, &n);
        if (!rc && n > k) {
            for (size_t i = (size_t)k; i < n; i++) free(v[i].p);
            n = (size_t)k;
        }
        if (!rc) {
            addReplyArrayLen(c, (long long)n);
            for (size_t i = 0; i < n; i++) addReplyBulk(c, v[i].p, v[i].len);
            for (size_t i = 0; i < n; i++) free(v[i].p);
            free(v);
            return;
        }
    } else {
        if (k > card) k = card;
        rc = draw_distinct(vs, k, &v, &n);
        if (!rc) {
            addReplyArrayLen(c, (long long)n);
            for (size_t i = 0; i < n; i++) addReplyBulk(c, v[i].p, v[i].len);
            idbufs_free(v, n);
            return;
        }
    }
    coll_storage_error(c, rc);
}

#define VR (CMD_READONLY | CMD_NOTXN)

command vsetread_commands[] = {
    {"vsim", vsimCommand, -4, VR, 1, 1, 1, "vector_set",
     "Returns the elements most similar to a vector or to an element.", "8.0.0", 0},
    {"vcard", vcardCommand, 2, VR | CMD_FAST, 1, 1, 1, "vector_set", "Returns the number of elements of a vector set.",
     "8.0.0", 0},
    {"vdim", vdimCommand, 2, VR | CMD_FAST, 1, 1, 1, "vector_set", "Returns the dimension of a vector set.", "8.0.0",
     0},
    {"vemb", vembCommand, -3, VR | CMD_FAST, 1, 1, 1, "vector_set", "Returns the vector of an element.", "8.0.0", 0},
    {"vgetattr", vgetattrCommand, 3, VR | CMD_FAST, 1, 1, 1, "vector_set",
     "Returns the JSON attributes of an element.", "8.0.0", 0},
    {"vinfo", vinfoCommand, 2, VR | CMD_FAST, 1, 1, 1, "vector_set", "Returns information about a vector set.",
     "8.0.0", 0},
    {"vismember", vismemberCommand, 3, VR | CMD_FAST, 1, 1, 1, "vector_set",
     "Tells whether an element belongs to a vector set.", "8.2.0", 0},
    {"vrandmember", vrandmemberCommand, -2, VR, 1, 1, 1, "vector_set",
     "Returns one or more random elements of a vector set.", "8.0.0", 0},
    {NULL, NULL, 0, 0, 0, 0, 0, NULL, NULL, NULL, 0},
};
