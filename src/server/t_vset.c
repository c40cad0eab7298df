/*
 * t_vset.c -- vector set commands over the engine's vector sets.
 *
 * A Redis key of type vector set is a collection like the others (metadata
 * with a generation and an element count, keyspace.h) whose elements live
 * in one engine vector set named "redis:" + the generation in hex.  Naming
 * by generation keeps DEL and RENAME O(1): RENAME moves the metadata and
 * the set keeps its name; DEL (and overwrite, expiry, the last VREM) queues
 * the generation for reclamation, which drops the engine set when it meets
 * the generation's marker.  Sub-keys of family KS_FAM_VSET hold, per
 * generation, the marker (empty element; it exists from the set's first
 * VADD until reclamation) and, per element, its L2 norm as a float32 (the
 * engine stores cosine vectors normalised; VEMB multiplies the norm back).
 *
 * Invariants:
 *  - Every vector command first commits the pass's pending writes
 *    (ks_flush): the engine's graph follows committed writes only, so
 *    after the flush membership tests and searches see every write
 *    acknowledged or queued before the command.
 *  - VADD/VREM put the engine write (omen_batch_vadd/vdel), the norm and
 *    the metadata in the pass's batch: one WAL record, committed with the
 *    pass's --sync mode before any reply leaves.  VSETATTR writes directly
 *    with the same sync mode (it changes no count) and rewrites the
 *    metadata in the batch (WATCH sees it).
 *  - Creating an engine set is a synced write of its own, made before the
 *    batch that writes the key and the marker; a crash in between leaves
 *    an engine set without a marker, which vset_init drops at startup.
 *  - Vector commands are refused inside MULTI (CMD_NOTXN): their reads
 *    could not see writes queued in the same transaction.
 *
 * Every set is a cosine set, as in Redis.  This file: the engine handles,
 * the helpers every vector command shares (t_vset.h), VADD VREM VSETATTR;
 * VSIM and the other reads are in t_vsetread.c.
 */
#include "server/t_vset.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/coll.h"
#include "server/commands.h"
#include "server/keyspace.h"
#include "server/networking.h"
#include "server/util.h"

#define VS_PREFIX "redis:"
#define VS_CONSTRUCT_EF 200   /* graph build ef (Redis's default)        */
#define VS_DEFAULT_M 16

/* ---- engine handles, cached by generation ----------------------------- */

typedef struct vs_slot {
    uint64_t gen;
    omen_vset *vs;
} vs_slot;

static struct {
    omen_db *db;
    vs_slot *v;
    size_t n, cap;
} vc;

static void vs_name(char out[40], uint64_t gen)
{
    snprintf(out, 40, VS_PREFIX "%016llx", (unsigned long long)gen);
}

static int cache_add(uint64_t gen, omen_vset *vs)
{
    if (vc.n == vc.cap) {
        size_t nc = vc.cap ? vc.cap * 2 : 16;
        vs_slot *nv = realloc(vc.v, nc * sizeof *nv);
        if (!nv) return OMEN_NOMEM;
        vc.v = nv;
        vc.cap = nc;
    }
    vc.v[vc.n].gen = gen;
    vc.v[vc.n].vs = vs;
    vc.n++;
    return OMEN_OK;
}

static omen_vset *cache_find(uint64_t gen)
{
    for (size_t i = 0; i < vc.n; i++)
        if (vc.v[i].gen == gen) return vc.v[i].vs;
    return NULL;
}

static void cache_forget(uint64_t gen)
{
    for (size_t i = 0; i < vc.n; i++)
        if (vc.v[i].gen == gen) {
            omen_vset_close(vc.v[i].vs);
            vc.v[i] = vc.v[--vc.n];
            return;
        }
}

/* The engine set of generation gen (opened on first use). */
static int vs_get(uint64_t gen, omen_vset **out)
{
    if ((*out = cache_find(gen))) return OMEN_OK;
    char name[40];
    vs_name(name, gen);
    int rc = omen_vset_open(vc.db, name, out);
    if (rc) return rc;
    rc = cache_add(gen, *out);
    if (rc) {
        omen_vset_close(*out);
        *out = NULL;
    }
    return rc;
}

static int vs_drop(uint64_t gen)
{
    cache_forget(gen);
    char name[40];
    vs_name(name, gen);
    int rc = omen_vset_drop(vc.db, name);
    return rc == OMEN_NOTFOUND ? OMEN_OK : rc;
}

static int has_marker(uint64_t gen)
{
    const char *v;
    size_t vl;
    int rc = ks_sub_get(gen, KS_FAM_VSET, "", 0, &v, &vl);
    return rc == OMEN_OK ? 1 : rc == OMEN_NOTFOUND ? 0 : -1;
}

/* Drop every "redis:" engine set whose generation has no marker. */
static void vs_sweep(void)
{
    char **names;
    size_t n;
    if (omen_vset_list(vc.db, &names, &n)) return;
    for (size_t i = 0; i < n; i++) {
        const char *s = names[i];
        size_t pl = sizeof VS_PREFIX - 1;
        if (strncmp(s, VS_PREFIX, pl) || strlen(s) != pl + 16) continue;
        char *end;
        unsigned long long gen = strtoull(s + pl, &end, 16);
        if (*end) continue;
        if (has_marker(gen) == 0) vs_drop(gen);
    }
    omen_free(names);
}

int vset_init(omen_db *db)
{
    vc.db = db;
    ks_set_vset_hooks(vs_drop, vs_sweep);
    vs_sweep();
    return OMEN_OK;
}

void vset_shutdown(void)
{
    for (size_t i = 0; i < vc.n; i++) omen_vset_close(vc.v[i].vs);
    free(vc.v);
    memset(&vc, 0, sizeof vc);
}

/* ---- helpers ------------------------------------------------------------ */

void vset_engine_error(client *c, int rc)
{
    if (rc == OMEN_INVALID)
        addReplyErrorFormat(c, "ERR %s", omen_last_error());
    else
        coll_storage_error(c, rc);
}

/* Commit pending writes; -1 after replying an error. */
static int vs_begin(client *c)
{
    int rc = ks_flush();
    if (rc) {
        coll_storage_error(c, rc);
        return -1;
    }
    return 0;
}

/* Open the engine set of an existing key; -1 after replying. */
static int vs_open_reply(client *c, const ks_meta *m, omen_vset **vs)
{
    int rc = vs_get(m->gen, vs);
    if (rc) {
        coll_storage_error(c, rc);
        return -1;
    }
    return 0;
}

int vset_lookup(client *c, ks_meta *m, omen_vset **vs)
{
    if (vs_begin(c)) return -1;
    int r = coll_lookup(c, &c->argv[1], OBJ_VSET, m);
    if (r <= 0) return r;
    return vs_open_reply(c, m, vs) ? -1 : 1;
}

/* vset_lookup, and the set's description into *in: 1, 0 (absent, nothing
 * replied) or -1 (an error was replied). */
int vset_lookup_info(client *c, ks_meta *m, omen_vset **vs, omen_vset_info *in)
{
    int r = vset_lookup(c, m, vs);
    if (r <= 0) return r;
    int rc = omen_vset_info_get(*vs, in);
    if (rc) {
        coll_storage_error(c, rc);
        return -1;
    }
    return 1;
}

/* FP32 blob | VALUES n v1..vn at argv[at]: a malloc'd vector in *out.
 * Returns the number of arguments consumed, or 0 (invalid). */
int vset_parse_vector(client *c, int at, float **out, uint32_t *dim)
{
    *out = NULL;
    if (at >= c->argc) return 0;
    if (arg_is(&c->argv[at], "FP32")) {
        if (at + 1 >= c->argc) return 0;
        const sarg *b = &c->argv[at + 1];
        if (b->len < 4 || b->len % 4 || b->len / 4 > OMEN_VSET_MAX_DIM) return 0;
        *dim = (uint32_t)(b->len / 4);
        float *v = malloc(b->len);
        if (!v) return 0;
        memcpy(v, b->p, b->len); /* little-endian, as the host */
        *out = v;
        return 2;
    }
    if (arg_is(&c->argv[at], "VALUES")) {
        long long n;
        if (at + 1 >= c->argc || arg_ll(&c->argv[at + 1], &n) || n < 1 || n > OMEN_VSET_MAX_DIM)
            return 0;
        if (at + 2 + n > c->argc) return 0;
        float *v = malloc((size_t)n * sizeof *v);
        if (!v) return 0;
        for (long long j = 0; j < n; j++) {
            double d;
            if (arg_double(&c->argv[at + 2 + j], &d)) {
                free(v);
                return 0;
            }
            v[j] = (float)d;
        }
        *dim = (uint32_t)n;
        *out = v;
        return (int)(2 + n);
    }
    return 0;
}

float vset_vec_norm(const float *v, uint32_t dim)
{
    double s = 0;
    for (uint32_t i = 0; i < dim; i++) {
        if (!isfinite(v[i])) return 0;
        s += (double)v[i] * v[i];
    }
    float n = (float)sqrt(s); /* a double sum cannot overflow here */
    return isfinite(n) ? n : 0;
}

/* ---- VADD --------------------------------------------------------------- */

/* VADD key [REDUCE dim] (FP32 blob | VALUES n v...) element [CAS]
 *      [NOQUANT | Q8 | BIN] [EF n] [SETATTR json] [M n] */
static void vaddCommand(client *c)
{
    if (arg_is(&c->argv[2], "REDUCE")) {
        addReplyError(c, "ERR REDUCE is not supported by this server");
        return;
    }
    float *vec;
    uint32_t dim = 0;
    int used = vset_parse_vector(c, 2, &vec, &dim);
    if (!used) {
        addReplyError(c, "ERR invalid vector specification");
        return;
    }
    int ei = 2 + used;
    if (ei >= c->argc) {
        free(vec);
        addReplyErrorArity(c);
        return;
    }
    int precision = OMEN_PREC_INT8;
    long long M = VS_DEFAULT_M, ef = VS_CONSTRUCT_EF;
    const sarg *attr = NULL;
    for (int j = ei + 1; j < c->argc; j++) {
        const sarg *o = &c->argv[j];
        if (arg_is(o, "CAS")) {
            /* a threading hint in Redis: every VADD here runs inline */
        } else if (arg_is(o, "NOQUANT")) {
            precision = OMEN_PREC_FLOAT32;
        } else if (arg_is(o, "Q8") || arg_is(o, "BIN")) {
            precision = OMEN_PREC_INT8; /* BIN: no binary quantization; int8 */
        } else if (arg_is(o, "EF") && j + 1 < c->argc) {
            if (arg_ll(&c->argv[++j], &ef) || ef <= 0 || ef > 1000000) {
                free(vec);
                addReplyError(c, "ERR invalid EF");
                return;
            }
        } else if (arg_is(o, "M") && j + 1 < c->argc) {
            if (arg_ll(&c->argv[++j], &M) || M < 4 || M > 64) {
                free(vec);
                addReplyError(c, "ERR invalid M");
                return;
            }
        } else if (arg_is(o, "SETATTR") && j + 1 < c->argc) {
            attr = &c->argv[++j];
        } else {
            free(vec);
            addReplyError(c, "ERR invalid option after element");
            return;
        }
    }
    const sarg *el = &c->argv[ei];
    float norm = vset_vec_norm(vec, dim);
    if (el->len == 0 || el->len > OMEN_VSET_MAX_ID) {
        free(vec);
        addReplyErrorFormat(c, "ERR element must be 1..%u bytes", OMEN_VSET_MAX_ID);
        return;
    }
    if (!(norm > 0)) {
        free(vec);
        addReplyError(c, VSET_ERR_BADVEC);
        return;
    }
    if (attr && attr->len > OMEN_VSET_MAX_ATTRS) {
        free(vec);
        addReplyErrorFormat(c, "ERR attributes longer than %u bytes", OMEN_VSET_MAX_ATTRS);
        return;
    }
    if (vs_begin(c)) {
        free(vec);
        return;
    }
    ks_meta m, old;
    int r = coll_lookup(c, &c->argv[1], OBJ_VSET, &m);
    if (r < 0) {
        free(vec);
        return;
    }
    omen_vset *vs = NULL;
    int created = 0, rc;
    if (r == 0) {
        if (coll_init(c, &c->argv[1], &m, OBJ_VSET)) {
            free(vec);
            return;
        }
        omen_vset_options o;
        omen_vset_options_init(&o);
        o.dim = dim;
        o.metric = OMEN_METRIC_COSINE;
        o.precision = precision;
        o.M = (uint32_t)M;
        o.ef_construction = (uint32_t)(ef < VS_CONSTRUCT_EF ? VS_CONSTRUCT_EF : ef > 4096 ? 4096 : ef);
        o.ef_search = VS_DEFAULT_EF;
        char name[40];
        vs_name(name, m.gen);
        rc = omen_vset_create(vc.db, name, &o, &vs);
        if (rc == OMEN_EXISTS) { /* an orphan cannot share a fresh generation; be safe */
            omen_vset_drop(vc.db, name);
            rc = omen_vset_create(vc.db, name, &o, &vs);
        }
        if (!rc && (rc = cache_add(m.gen, vs))) omen_vset_close(vs);
        if (rc) {
            free(vec);
            vset_engine_error(c, rc);
            return;
        }
        created = 1;
    } else {
        old = m;
        if (vs_open_reply(c, &m, &vs)) {
            free(vec);
            return;
        }
        omen_vset_info in;
        if ((rc = omen_vset_info_get(vs, &in))) {
            free(vec);
            coll_storage_error(c, rc);
            return;
        }
        const char *err = NULL;
        if (in.precision != precision) err = "ERR asked quantization mismatch with existing vector set";
        else if (in.M != (uint32_t)M) err = "ERR asked M value mismatch with existing vector set";
        if (err) {
            free(vec);
            addReplyError(c, err);
            return;
        }
        if (in.dim != dim) {
            free(vec);
            addReplyErrorFormat(c, "ERR Vector dimension mismatch - got %u but set has %u", dim, in.dim);
            return;
        }
    }
    int exists = created ? 0 : omen_vset_contains(vs, el->p, el->len) == OMEN_OK;
    rc = ks_vadd(vs, el->p, el->len, vec, dim, attr ? attr->p : NULL, attr ? attr->len : 0);
    free(vec);
    if (rc) {
        if (created) vs_drop(m.gen);
        if (rc == OMEN_INVALID && attr)
            addReplyErrorFormat(c, "ERR invalid JSON attributes: %s", omen_last_error());
        else
            vset_engine_error(c, rc);
        return;
    }
    unsigned char nb[4];
    memcpy(nb, &norm, 4);
    rc = ks_sub_put(m.gen, KS_FAM_VSET, el->p, el->len, nb, 4);
    if (!rc && created) rc = ks_sub_put(m.gen, KS_FAM_VSET, "", 0, "\x01", 1);
    if (rc) {
        coll_storage_error(c, rc);
        return;
    }
    if (!exists) m.count++;
    if (coll_save(c, &c->argv[1], &m, created ? NULL : &old)) return;
    addReplyBool(c, !exists);
}

/* ---- VREM, VSETATTR ----------------------------------------------------- */

static void vremCommand(client *c)
{
    ks_meta m;
    omen_vset *vs;
    int r = vset_lookup(c, &m, &vs);
    if (r <= 0) {
        if (r == 0) addReplyBool(c, 0);
        return;
    }
    ks_meta old = m;
    const sarg *el = &c->argv[2];
    int rc = omen_vset_contains(vs, el->p, el->len);
    if (rc == OMEN_NOTFOUND || rc == OMEN_INVALID) {
        addReplyBool(c, 0);
        return;
    }
    if (rc || (rc = ks_vdel(vs, el->p, el->len)) || (rc = ks_sub_del(m.gen, KS_FAM_VSET, el->p, el->len))) {
        coll_storage_error(c, rc);
        return;
    }
    if (m.count) m.count--;
    if (coll_save(c, &c->argv[1], &m, &old)) return;
    addReplyBool(c, 1);
}

static void vsetattrCommand(client *c)
{
    /* as VADD says it: the engine's OMEN_TOOBIG would read as a string
     * beyond proto-max-bulk-len */
    if (c->argv[3].len > OMEN_VSET_MAX_ATTRS) {
        addReplyErrorFormat(c, "ERR attributes longer than %u bytes", OMEN_VSET_MAX_ATTRS);
        return;
    }
    ks_meta m;
    omen_vset *vs;
    int r = vset_lookup(c, &m, &vs);
    if (r <= 0) {
        if (r == 0) addReplyBool(c, 0);
        return;
    }
    ks_meta old = m;
    const sarg *el = &c->argv[2], *j = &c->argv[3];
    int rc = omen_vset_set_attrs(vs, el->p, el->len, j->p, j->len, ks_direct_sync());
    if (rc == OMEN_NOTFOUND) {
        addReplyBool(c, 0);
        return;
    }
    if (rc == OMEN_INVALID) {
        if (el->len == 0 || el->len > OMEN_VSET_MAX_ID)
            addReplyBool(c, 0);
        else
            addReplyErrorFormat(c, "ERR invalid JSON attributes: %s", omen_last_error());
        return;
    }
    if (rc) {
        coll_storage_error(c, rc);
        return;
    }
    if (coll_save(c, &c->argv[1], &m, &old)) return; /* tells WATCH */
    addReplyBool(c, 1);
}

#define VW (CMD_WRITE | CMD_DENYOOM | CMD_NOTXN)

command vset_commands[] = {
    {"vadd", vaddCommand, -5, VW, 1, 1, 1, "vector_set", "Adds an element and its vector to a vector set.", "8.0.0", 0},
    {"vrem", vremCommand, 3, CMD_WRITE | CMD_NOTXN, 1, 1, 1, "vector_set", "Removes an element from a vector set.",
     "8.0.0", 0},
    {"vsetattr", vsetattrCommand, 4, VW, 1, 1, 1, "vector_set",
     "Sets or removes the JSON attributes of a vector set element.", "8.0.0", 0},
    {NULL, NULL, 0, 0, 0, 0, 0, NULL, NULL, NULL, 0},
};
