/*
 * t_zsetops.c -- sorted-set algebra: ZUNION ZINTER ZDIFF and their STORE
 * forms (WEIGHTS, AGGREGATE SUM|MIN|MAX, WITHSCORES).  Inputs may be sorted
 * sets or sets (a set member scores 1).
 *
 * Every input is read in member order (a sorted set's member family, a
 * set's members), so ZUNION is a merge of ordered scans, ZINTER walks the
 * smallest input and probes the others, ZDIFF walks the first input and
 * probes the rest.  Scores are combined in the order Redis uses (inputs by
 * ascending size), so sums round the same way.  The result is sorted by
 * (score, member) in memory before it is replied or stored.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "server/coll.h"
#include "server/commands.h"
#include "server/networking.h"
#include "server/t_zset.h"
#include "server/util.h"

enum { ZOP_UNION, ZOP_INTER, ZOP_DIFF };
enum { AGG_SUM, AGG_MIN, AGG_MAX };

typedef struct zsrc {
    ks_meta m;
    int present, fam, argpos;
    double weight;
    omen_iter *it;
} zsrc;

static void aggregate(double *acc, double v, int agg)
{
    if (agg == AGG_SUM) {
        *acc += v;
        if (isnan(*acc)) *acc = 0; /* inf + -inf: Redis's convention */
    } else if (agg == AGG_MIN) {
        if (v < *acc) *acc = v;
    } else if (v > *acc) {
        *acc = v;
    }
}

static double weighted(double w, double s)
{
    double r = w * s;
    return isnan(r) ? 0 : r; /* 0 * inf */
}

/* Score of mem in input s: 1 found (*score), 0 absent, < 0 engine error. */
static int src_score(const zsrc *s, const char *mem, size_t ml, double *score)
{
    int rc;
    if (s->fam == KS_FAM_SET) {
        const char *v;
        size_t vl;
        rc = ks_sub_get(s->m.gen, KS_FAM_SET, mem, ml, &v, &vl);
        *score = 1;
    } else {
        rc = zset_score(&s->m, mem, ml, score);
    }
    return rc == OMEN_OK ? 1 : rc == OMEN_NOTFOUND ? 0 : -rc;
}

/* The member and score at input s's iterator. */
static const char *src_at(const zsrc *s, size_t *ml, double *score)
{
    const char *e = ks_sub_elem(s->it, ml);
    *score = 1;
    if (s->fam == KS_FAM_ZMEMBER) {
        size_t vl;
        const unsigned char *v = omen_iter_value(s->it, &vl);
        if (vl == 8) *score = ks_score_decode(v);
    }
    return e;
}

typedef struct zres {
    zset_member *v;
    size_t n, cap;
} zres;

static int res_add(zres *r, const char *mem, size_t ml, double score)
{
    if (r->n == r->cap) {
        size_t nc = r->cap ? r->cap * 2 : 64;
        zset_member *nv = realloc(r->v, nc * sizeof *nv);
        if (!nv) return OMEN_NOMEM;
        r->v = nv;
        r->cap = nc;
    }
    char *p = malloc(ml + 1);
    if (!p) return OMEN_NOMEM;
    memcpy(p, mem, ml);
    r->v[r->n++] = (zset_member){p, ml, score};
    return OMEN_OK;
}

static int by_score(const void *a, const void *b)
{
    const zset_member *x = a, *y = b;
    if (x->score != y->score) return x->score < y->score ? -1 : 1;
    size_t ml = x->ml < y->ml ? x->ml : y->ml;
    int c = memcmp(x->mem, y->mem, ml);
    return c ? c : (x->ml > y->ml) - (x->ml < y->ml);
}

static int by_size(const void *a, const void *b)
{
    const zsrc *x = a, *y = b;
    if (x->m.count != y->m.count) return x->m.count < y->m.count ? -1 : 1;
    return x->argpos - y->argpos; /* keep the arguments' order among equals */
}

static int compute(zsrc *src, int n, int op, int agg, zres *res)
{
    int rc = OMEN_OK;
    if (op == ZOP_UNION) {
        for (int i = 0; i < n; i++) {
            if (!src[i].present) continue;
            if ((rc = ks_sub_iter(src[i].m.gen, src[i].fam, &src[i].it))) return rc;
            omen_iter_seek_first(src[i].it);
        }
        for (;;) {
            int best = -1;
            const char *be = NULL;
            size_t bl = 0;
            for (int i = 0; i < n; i++) {
                if (!src[i].it || !omen_iter_valid(src[i].it)) continue;
                size_t ml;
                double sc;
                const char *e = src_at(&src[i], &ml, &sc);
                size_t l = ml < bl ? ml : bl;
                int cmp = best < 0 ? -1 : memcmp(e, be, l);
                if (cmp < 0 || (cmp == 0 && ml < bl)) best = i, be = e, bl = ml;
            }
            if (best < 0) break;
            if ((rc = res_add(res, be, bl, 0))) return rc;
            zset_member *r = &res->v[res->n - 1];
            int first = 1;
            for (int i = 0; i < n; i++) { /* in size order: Redis's summation order */
                if (!src[i].it || !omen_iter_valid(src[i].it)) continue;
                size_t ml;
                double sc;
                const char *e = src_at(&src[i], &ml, &sc);
                if (ml != r->ml || memcmp(e, r->mem, ml) != 0) continue;
                double w = weighted(src[i].weight, sc);
                if (first)
                    r->score = w;
                else
                    aggregate(&r->score, w, agg);
                first = 0;
                omen_iter_next(src[i].it);
            }
        }
    } else {
        /* INTER walks the smallest input (src[0] after sorting), DIFF the
         * first argument (src[0], unsorted). */
        if (!src[0].present) return OMEN_OK;
        if (op == ZOP_INTER)
            for (int i = 1; i < n; i++)
                if (!src[i].present) return OMEN_OK;
        if ((rc = ks_sub_iter(src[0].m.gen, src[0].fam, &src[0].it))) return rc;
        for (omen_iter_seek_first(src[0].it); omen_iter_valid(src[0].it); omen_iter_next(src[0].it)) {
            size_t ml;
            double sc;
            const char *e = src_at(&src[0], &ml, &sc);
            double acc = op == ZOP_INTER ? weighted(src[0].weight, sc) : sc;
            int keep = 1;
            for (int i = 1; i < n && keep; i++) {
                if (!src[i].present) continue;
                double s2;
                int x = src_score(&src[i], e, ml, &s2);
                if (x < 0) return -x;
                if (op == ZOP_INTER) {
                    keep = x;
                    if (x) aggregate(&acc, weighted(src[i].weight, s2), agg);
                } else {
                    keep = !x;
                }
            }
            if (keep && (rc = res_add(res, e, ml, acc))) return rc;
        }
    }
    for (int i = 0; i < n && !rc; i++)
        if (src[i].it) rc = omen_iter_status(src[i].it);
    return rc;
}

static void zsetop_generic(client *c, int op, int store)
{
    int ni = store ? 2 : 1;
    long long setnum;
    if (arg_ll(&c->argv[ni], &setnum)) {
        addReplyErrorNotInt(c);
        return;
    }
    if (setnum < 1) {
        addReplyErrorFormat(c, "ERR at least 1 input key is needed for '%s' command", c->cmd->name);
        return;
    }
    if (setnum > c->argc - (ni + 1)) {
        addReplyErrorSyntax(c);
        return;
    }
    int n = (int)setnum;
    zsrc *src = calloc((size_t)n, sizeof *src);
    zres res = {0};
    if (!src) {
        addReplyError(c, "ERR out of memory");
        return;
    }
    int j = ni + 1;
    for (int i = 0; i < n; i++, j++) {
        int r = ks_lookup_reply(c, c->argv[j].p, c->argv[j].len, -1, &src[i].m);
        if (r < 0) goto out;
        if (r && src[i].m.type != OBJ_ZSET && src[i].m.type != OBJ_SET) {
            addReplyErrorWrongType(c);
            goto out;
        }
        src[i].present = r;
        src[i].fam = r && src[i].m.type == OBJ_SET ? KS_FAM_SET : KS_FAM_ZMEMBER;
        src[i].weight = 1;
        src[i].argpos = i;
        if (!r) src[i].m.count = 0;
    }
    int agg = AGG_SUM, withscores = 0;
    while (j < c->argc) {
        int remaining = c->argc - j;
        if (op != ZOP_DIFF && remaining >= n + 1 && arg_is(&c->argv[j], "weights")) {
            j++;
            for (int i = 0; i < n; i++, j++) {
                if (arg_double(&c->argv[j], &src[i].weight)) {
                    addReplyError(c, "ERR weight value is not a float");
                    goto out;
                }
            }
        } else if (op != ZOP_DIFF && remaining >= 2 && arg_is(&c->argv[j], "aggregate")) {
            const sarg *a = &c->argv[j + 1];
            if (arg_is(a, "sum")) agg = AGG_SUM;
            else if (arg_is(a, "min")) agg = AGG_MIN;
            else if (arg_is(a, "max")) agg = AGG_MAX;
            else {
                addReplyErrorSyntax(c);
                goto out;
            }
            j += 2;
        } else if (!store && arg_is(&c->argv[j], "withscores")) {
            withscores = 1;
            j++;
        } else {
            addReplyErrorSyntax(c);
            goto out;
        }
    }
    if (op != ZOP_DIFF) qsort(src, (size_t)n, sizeof *src, by_size);
    int rc = compute(src, n, op, agg, &res);
    for (int i = 0; i < n; i++)
        if (src[i].it) omen_iter_destroy(src[i].it), src[i].it = NULL;
    if (rc) {
        coll_storage_error(c, rc);
        goto out;
    }
    if (res.n > 1) qsort(res.v, res.n, sizeof *res.v, by_score);
    if (store) {
        zset_store(c, &c->argv[1], res.v, res.n);
    } else {
        addReplyArrayLen(c, (long long)(withscores && c->resp < 3 ? 2 * res.n : res.n));
        for (size_t i = 0; i < res.n; i++) {
            if (withscores && c->resp >= 3) addReplyArrayLen(c, 2);
            addReplyBulk(c, res.v[i].mem, res.v[i].ml);
            if (withscores) addReplyDouble(c, res.v[i].score);
        }
    }
out:
    for (int i = 0; i < n; i++)
        if (src[i].it) omen_iter_destroy(src[i].it);
    for (size_t i = 0; i < res.n; i++) free(res.v[i].mem);
    free(res.v);
    free(src);
}

static void zunionCommand(client *c) { zsetop_generic(c, ZOP_UNION, 0); }
static void zinterCommand(client *c) { zsetop_generic(c, ZOP_INTER, 0); }
static void zdiffCommand(client *c) { zsetop_generic(c, ZOP_DIFF, 0); }
static void zunionstoreCommand(client *c) { zsetop_generic(c, ZOP_UNION, 1); }
static void zinterstoreCommand(client *c) { zsetop_generic(c, ZOP_INTER, 1); }
static void zdiffstoreCommand(client *c) { zsetop_generic(c, ZOP_DIFF, 1); }

#define W CMD_WRITE
#define R CMD_READONLY
#define D CMD_DENYOOM
command zsetops_commands[] = {
    {"zunion", zunionCommand, -3, R, 0, 0, 0, "sorted-set", "Returns the union of multiple sorted sets", "6.2.0", 0},
    {"zinter", zinterCommand, -3, R, 0, 0, 0, "sorted-set", "Returns the intersect of multiple sorted sets", "6.2.0", 0},
    {"zdiff", zdiffCommand, -3, R, 0, 0, 0, "sorted-set", "Returns the difference between multiple sorted sets", "6.2.0", 0},
    {"zunionstore", zunionstoreCommand, -4, W | D, 1, 1, 1, "sorted-set", "Stores the union of multiple sorted sets in a key", "2.0.0", 0},
    {"zinterstore", zinterstoreCommand, -4, W | D, 1, 1, 1, "sorted-set", "Stores the intersect of multiple sorted sets in a key", "2.0.0", 0},
    {"zdiffstore", zdiffstoreCommand, -4, W | D, 1, 1, 1, "sorted-set", "Stores the difference of multiple sorted sets in a key", "6.2.0", 0},
    {0},
};
