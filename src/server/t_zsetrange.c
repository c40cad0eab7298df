/*
 * t_zsetrange.c -- sorted-set ranges and ranks: ZRANGE (BYSCORE, BYLEX,
 * REV, LIMIT) and its legacy forms, ZRANGESTORE, ZCOUNT, ZLEXCOUNT, ZRANK,
 * ZREVRANK and ZREMRANGEBYRANK/SCORE/LEX, over the two sub-key families
 * of t_zset.c.
 *
 * A score or lex range becomes element bounds [lo, hi) of one family
 * (exclusive bounds: the next encoding), so a range is one engine range
 * scan; a rank walks from the nearer end of the score family.  A walk
 * either replies its elements or, for ZRANGESTORE and ZREMRANGEBY*,
 * collects copies first and writes after the scan.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "server/coll.h"
#include "server/commands.h"
#include "server/networking.h"
#include "server/t_zset.h"
#include "server/util.h"

/* ---- ranges ------------------------------------------------------------- */

/* A range over one family as element bounds [lo, hi) (NULL: open). */
typedef struct zrange_spec {
    int fam;
    int empty;
    unsigned char lo[8], hi[8]; /* score bounds */
    char *llo, *lhi;            /* lex bounds (owned) */
    size_t llolen, lhilen;
    int has_lo, has_hi;
} zrange_spec;

static void spec_free(zrange_spec *s)
{
    free(s->llo);
    free(s->lhi);
}

/* Add one to a big-endian 8-byte string: 0, or 1 if it overflowed. */
static int be_inc(unsigned char b[8])
{
    for (int i = 7; i >= 0; i--)
        if (++b[i]) return 0;
    return 1;
}

/* A score range bound as Redis's range parser reads it: an optional "("
 * then strtod over the rest, which must be used up (leading spaces, an
 * empty string (0) and overflow to +-inf pass; NaN does not).  Laxer than
 * ZADD's scores, on purpose: the same bounds must mean the same as in Redis. */
static int parse_score_bound(const sarg *a, double *v, int *ex)
{
    *ex = a->len > 0 && a->p[0] == '(';
    size_t n = a->len - (size_t)*ex;
    char small[64], *b = n < sizeof small ? small : malloc(n + 1);
    if (!b) return -1;
    memcpy(b, a->p + *ex, n);
    b[n] = 0;
    char *end;
    *v = strtod(b, &end);
    int bad = *end != 0 || isnan(*v); /* an embedded NUL ends the text, as in C */
    if (b != small) free(b);
    return bad ? -1 : 0;
}

/* min/max as ZRANGEBYSCORE takes them. 0, or -1 after replying. */
static int score_spec(client *c, const sarg *mina, const sarg *maxa, zrange_spec *s)
{
    double min, max;
    int minex, maxex;
    memset(s, 0, sizeof *s);
    s->fam = KS_FAM_ZSCORE;
    if (parse_score_bound(mina, &min, &minex) || parse_score_bound(maxa, &max, &maxex)) {
        addReplyError(c, "ERR min or max is not a float");
        return -1;
    }
    if (min > max || (min == max && (minex || maxex))) {
        s->empty = 1;
        return 0;
    }
    ks_score_encode(min, s->lo);
    s->has_lo = 1;
    if (minex && be_inc(s->lo)) s->empty = 1;
    ks_score_encode(max, s->hi);
    s->has_hi = 1;
    if (!maxex && be_inc(s->hi)) s->has_hi = 0;
    return 0;
}

/* One lex bound: 0 ok (*inf -1 for "-", +1 for "+", else 0 with the
 * bytes), -1 invalid. */
static int parse_lex_bound(const sarg *a, int *inf, int *ex)
{
    *inf = 0;
    *ex = 0;
    if (a->len == 0) return -1;
    if (a->p[0] == '+' || a->p[0] == '-') {
        if (a->len != 1) return -1;
        *inf = a->p[0] == '+' ? 1 : -1;
        return 0;
    }
    if (a->p[0] == '(') *ex = 1;
    else if (a->p[0] != '[') return -1;
    return 0;
}

static int lex_spec(client *c, const sarg *mina, const sarg *maxa, zrange_spec *s)
{
    int mininf, maxinf, minex, maxex;
    memset(s, 0, sizeof *s);
    s->fam = KS_FAM_ZMEMBER;
    if (parse_lex_bound(mina, &mininf, &minex) || parse_lex_bound(maxa, &maxinf, &maxex)) {
        addReplyError(c, "ERR min or max not valid string range item");
        return -1;
    }
    if (mininf > 0 || maxinf < 0) {
        s->empty = 1;
        return 0;
    }
    if (mininf == 0) {
        /* "(a": the first member above "a" is "a\0". */
        s->llolen = mina->len - 1 + (size_t)minex;
        s->llo = malloc(s->llolen + 1);
        if (!s->llo) goto oom;
        memcpy(s->llo, mina->p + 1, mina->len - 1);
        if (minex) s->llo[mina->len - 1] = 0;
        s->has_lo = 1;
    }
    if (maxinf == 0) {
        /* "[b" includes "b": the exclusive upper bound is "b\0". */
        s->lhilen = maxa->len - 1 + (size_t)!maxex;
        s->lhi = malloc(s->lhilen + 1);
        if (!s->lhi) goto oom;
        memcpy(s->lhi, maxa->p + 1, maxa->len - 1);
        if (!maxex) s->lhi[maxa->len - 1] = 0;
        s->has_hi = 1;
    }
    if (s->has_lo && s->has_hi) {
        size_t ml = s->llolen < s->lhilen ? s->llolen : s->lhilen;
        int cmp = memcmp(s->llo, s->lhi, ml);
        if (cmp > 0 || (cmp == 0 && s->llolen >= s->lhilen)) s->empty = 1;
    }
    return 0;
oom:
    spec_free(s);
    addReplyError(c, "ERR out of memory");
    return -1;
}

static int spec_iter(const ks_meta *m, const zrange_spec *s, omen_iter **it)
{
    if (s->fam == KS_FAM_ZSCORE)
        return zset_iter(m, s->has_lo ? (const char *)s->lo : NULL, 8, s->has_hi ? (const char *)s->hi : NULL,
                         8, it);
    return ks_sub_iter_range(m->gen, s->fam, s->has_lo ? s->llo : NULL, s->llolen,
                             s->has_hi ? s->lhi : NULL, s->lhilen, it);
}

/* Emits the elements of a walk; the reply length is set at the end. */
typedef zset_member popped;

/* Receives the elements of a walk: either replies them (the reply length
 * is set at the end) or, for ZREMRANGEBY*, collects copies to delete. */
typedef struct emitter {
    client *c;
    int withscores;
    size_t h;
    long long n;
    int collect;
    popped *col;
    size_t cap;
    int err;
} emitter;

static void emit_begin(emitter *e, client *c, int withscores)
{
    memset(e, 0, sizeof *e);
    e->c = c;
    e->withscores = withscores;
    e->h = addReplyDeferredLen(c);
}

static void emit(emitter *e, const char *mem, size_t ml, double score)
{
    if (e->collect) {
        if ((size_t)e->n == e->cap) {
            size_t nc = e->cap ? e->cap * 2 : 64;
            popped *np = realloc(e->col, nc * sizeof *np);
            if (!np) {
                e->err = OMEN_NOMEM;
                return;
            }
            e->col = np;
            e->cap = nc;
        }
        popped *p = &e->col[e->n];
        if (!(p->mem = malloc(ml + 1))) {
            e->err = OMEN_NOMEM;
            return;
        }
        memcpy(p->mem, mem, ml);
        p->ml = ml;
        p->score = score;
        e->n++;
        return;
    }
    if (e->withscores && e->c->resp >= 3) addReplyArrayLen(e->c, 2);
    addReplyBulk(e->c, mem, ml);
    if (e->withscores) addReplyDouble(e->c, score);
    e->n++;
}

static void emit_end(emitter *e, int rc)
{
    if (rc) {
        client_close_async(e->c);
        return;
    }
    setDeferredArrayLen(e->c, e->h, e->withscores && e->c->resp < 3 ? 2 * e->n : e->n);
}

/* Walk a range (by score or lex) forward or in reverse, skipping offset
 * elements and emitting at most limit (< 0: all). */
static int walk_spec(const ks_meta *m, const zrange_spec *s, int rev, long long offset, long long limit,
                     emitter *e)
{
    if (s->empty || offset < 0 || limit == 0) return OMEN_OK;
    omen_iter *it;
    int rc = spec_iter(m, s, &it);
    if (rc) return rc;
    if (rev)
        omen_iter_seek_last(it);
    else
        omen_iter_seek_first(it);
    for (; omen_iter_valid(it) && offset > 0; offset--) rev ? omen_iter_prev(it) : omen_iter_next(it);
    for (; omen_iter_valid(it) && limit != 0; rev ? omen_iter_prev(it) : omen_iter_next(it)) {
        size_t ml;
        double sc;
        const char *mem = zset_it_member(it, s->fam, &ml, &sc);
        emit(e, mem, ml, sc);
        if (limit > 0) limit--;
    }
    rc = omen_iter_status(it);
    omen_iter_destroy(it);
    return rc;
}

/* An iterator over the score family positioned at forward rank r. */
static int iter_at_rank(const ks_meta *m, uint64_t r, omen_iter **out)
{
    int rc = zset_iter(m, NULL, 0, NULL, 0, out);
    if (rc) return rc;
    omen_iter *it = *out;
    if (r < m->count / 2) {
        omen_iter_seek_first(it);
        for (uint64_t k = 0; k < r && omen_iter_valid(it); k++) omen_iter_next(it);
    } else {
        omen_iter_seek_last(it);
        for (uint64_t k = m->count - 1; k > r && omen_iter_valid(it); k--) omen_iter_prev(it);
    }
    return OMEN_OK;
}

static int walk_rank(const ks_meta *m, long long s, long long e, int rev, emitter *em)
{
    long long len = (long long)m->count;
    if (s < 0) s += len;
    if (e < 0) e += len;
    if (s < 0) s = 0;
    if (s > e || s >= len) return OMEN_OK;
    if (e >= len) e = len - 1;
    omen_iter *it;
    int rc = iter_at_rank(m, (uint64_t)(rev ? len - 1 - s : s), &it);
    if (rc) return rc;
    for (long long k = s; k <= e && omen_iter_valid(it); k++) {
        size_t ml;
        double sc;
        const char *mem = zset_it_member(it, KS_FAM_ZSCORE, &ml, &sc);
        emit(em, mem, ml, sc);
        rev ? omen_iter_prev(it) : omen_iter_next(it);
    }
    rc = omen_iter_status(it);
    omen_iter_destroy(it);
    return rc;
}

enum { ZR_AUTO, ZR_RANK, ZR_SCORE, ZR_LEX };

/* ZRANGE, its legacy forms and ZRANGESTORE.  argv[k] is the key, then the
 * range, then options; k = 1, or 2 for ZRANGESTORE (store: argv[1] is the
 * destination). */
static void zrange_generic(client *c, int type, int rev, int store)
{
    int withscores = 0, has_limit = 0, k = store ? 2 : 1;
    long long offset = 0, limit = -1;
    int legacy = type != ZR_AUTO;
    for (int j = k + 3; j < c->argc; j++) {
        sarg *a = &c->argv[j];
        int left = c->argc - j - 1;
        if (arg_is(a, "withscores") && !store) {
            withscores = 1;
        } else if (arg_is(a, "limit") && left >= 2) {
            if (arg_ll(&c->argv[j + 1], &offset) || arg_ll(&c->argv[j + 2], &limit)) {
                addReplyErrorNotInt(c);
                return;
            }
            has_limit = 1;
            j += 2;
        } else if (!legacy && arg_is(a, "byscore") && type == ZR_AUTO) {
            type = ZR_SCORE;
        } else if (!legacy && arg_is(a, "bylex") && type == ZR_AUTO) {
            type = ZR_LEX;
        } else if (!legacy && arg_is(a, "rev")) {
            rev = 1;
        } else {
            addReplyErrorSyntax(c);
            return;
        }
    }
    if (type == ZR_AUTO) type = ZR_RANK;
    if (has_limit && type == ZR_RANK) {
        addReplyError(c, "ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX");
        return;
    }
    if (withscores && type == ZR_LEX) {
        addReplyError(c, "ERR syntax error, WITHSCORES not supported in combination with BYLEX");
        return;
    }
    /* Reverse score/lex ranges name max first. */
    const sarg *mina = &c->argv[k + 1], *maxa = &c->argv[k + 2];
    if (rev && type != ZR_RANK) {
        mina = &c->argv[k + 2];
        maxa = &c->argv[k + 1];
    }
    long long s = 0, e = 0;
    zrange_spec spec;
    memset(&spec, 0, sizeof spec);
    if (type == ZR_RANK) {
        if (arg_ll(mina, &s) || arg_ll(maxa, &e)) {
            addReplyErrorNotInt(c);
            return;
        }
    } else if (type == ZR_SCORE) {
        if (score_spec(c, mina, maxa, &spec)) return;
    } else {
        if (lex_spec(c, mina, maxa, &spec)) return;
    }
    ks_meta m;
    int r = coll_lookup(c, &c->argv[k], OBJ_ZSET, &m);
    if (r < 0 || (r == 0 && !store)) {
        if (r == 0) addReplyArrayLen(c, 0);
        spec_free(&spec);
        return;
    }
    emitter em;
    if (store) {
        memset(&em, 0, sizeof em);
        em.c = c;
        em.collect = 1;
    } else {
        emit_begin(&em, c, withscores);
    }
    int rc = r == 0 ? OMEN_OK
             : type == ZR_RANK ? walk_rank(&m, s, e, rev, &em)
                               : walk_spec(&m, &spec, rev, offset, limit, &em);
    spec_free(&spec);
    if (!store) {
        emit_end(&em, rc);
        return;
    }
    if (!rc) rc = em.err;
    if (rc)
        coll_storage_error(c, rc);
    else
        zset_store(c, &c->argv[1], em.col, (size_t)em.n);
    for (long long i = 0; i < em.n; i++) free(em.col[i].mem);
    free(em.col);
}

static void zrangeCommand(client *c) { zrange_generic(c, ZR_AUTO, 0, 0); }
static void zrangestoreCommand(client *c) { zrange_generic(c, ZR_AUTO, 0, 1); }
static void zrevrangeCommand(client *c) { zrange_generic(c, ZR_RANK, 1, 0); }
static void zrangebyscoreCommand(client *c) { zrange_generic(c, ZR_SCORE, 0, 0); }
static void zrevrangebyscoreCommand(client *c) { zrange_generic(c, ZR_SCORE, 1, 0); }
static void zrangebylexCommand(client *c) { zrange_generic(c, ZR_LEX, 0, 0); }
static void zrevrangebylexCommand(client *c) { zrange_generic(c, ZR_LEX, 1, 0); }

static void count_generic(client *c, int lex)
{
    zrange_spec spec;
    if ((lex ? lex_spec : score_spec)(c, &c->argv[2], &c->argv[3], &spec)) return;
    ks_meta m;
    int r = coll_lookup(c, &c->argv[1], OBJ_ZSET, &m);
    long long n = 0;
    int rc = OMEN_OK;
    if (r > 0 && !spec.empty) {
        omen_iter *it;
        rc = spec_iter(&m, &spec, &it);
        if (!rc) {
            for (omen_iter_seek_first(it); omen_iter_valid(it); omen_iter_next(it)) n++;
            rc = omen_iter_status(it);
            omen_iter_destroy(it);
        }
    }
    spec_free(&spec);
    if (r < 0) return;
    if (rc)
        coll_storage_error(c, rc);
    else
        addReplyLongLong(c, n);
}

static void zcountCommand(client *c) { count_generic(c, 0); }
static void zlexcountCommand(client *c) { count_generic(c, 1); }

static void rank_generic(client *c, int rev)
{
    ks_meta m;
    int r = coll_lookup(c, &c->argv[1], OBJ_ZSET, &m);
    if (r < 0) return;
    double s;
    int rc = r ? zset_score(&m, c->argv[2].p, c->argv[2].len, &s) : OMEN_NOTFOUND;
    if (rc == OMEN_NOTFOUND) {
        addReplyNull(c);
        return;
    }
    omen_iter *it;
    size_t zl;
    const char *z = rc ? NULL : zset_elem(s, c->argv[2].p, c->argv[2].len, &zl);
    if (!rc && !z) rc = OMEN_NOMEM;
    /* rank = the number of entries before (score, member). */
    if (!rc) rc = zset_iter(&m, NULL, 0, z, zl, &it);
    if (rc) {
        coll_storage_error(c, rc);
        return;
    }
    long long n = 0;
    for (omen_iter_seek_first(it); omen_iter_valid(it); omen_iter_next(it)) n++;
    rc = omen_iter_status(it);
    omen_iter_destroy(it);
    if (rc)
        coll_storage_error(c, rc);
    else
        addReplyLongLong(c, rev ? (long long)m.count - 1 - n : n);
}

static void zrankCommand(client *c) { rank_generic(c, 0); }
static void zrevrankCommand(client *c) { rank_generic(c, 1); }

/* Whether a live member lies below score-family key k (1 yes, 0 no, < 0
 * engine error); create before the command's writes. */
static int live_below(const ks_meta *m, const char *k, size_t kl)
{
    omen_iter *it;
    int rc = zset_iter(m, NULL, 0, k, kl, &it);
    if (rc) return -rc;
    omen_iter_seek_first(it);
    int r = omen_iter_valid(it);
    rc = omen_iter_status(it);
    omen_iter_destroy(it);
    return rc ? -rc : r;
}

/* ZREMRANGEBYRANK / ZREMRANGEBYSCORE / ZREMRANGEBYLEX key a b */
static void zremrange_generic(client *c, int type)
{
    long long s = 0, e = 0;
    zrange_spec spec;
    memset(&spec, 0, sizeof spec);
    if (type == ZR_RANK) {
        if (arg_ll(&c->argv[2], &s) || arg_ll(&c->argv[3], &e)) {
            addReplyErrorNotInt(c);
            return;
        }
    } else if ((type == ZR_SCORE ? score_spec : lex_spec)(c, &c->argv[2], &c->argv[3], &spec)) {
        return;
    }
    ks_meta m, old;
    int r = coll_lookup(c, &c->argv[1], OBJ_ZSET, &m);
    if (r <= 0) {
        if (r == 0) addReplyLongLong(c, 0);
        spec_free(&spec);
        return;
    }
    old = m;
    emitter em;
    memset(&em, 0, sizeof em);
    em.c = c;
    em.collect = 1;
    int rc = type == ZR_RANK ? walk_rank(&m, s, e, 0, &em) : walk_spec(&m, &spec, 0, 0, -1, &em);
    spec_free(&spec);
    if (!rc) rc = em.err;
    /* Removing the lowest members (a sliding window's trim) moves the
     * low-end hint past them; asked before any write, see coll.h. */
    int prefix = 0;
    if (!rc && type != ZR_LEX && em.n > 0 && (uint64_t)em.n < m.count) {
        size_t zl;
        const char *z = zset_elem(em.col[0].score, em.col[0].mem, em.col[0].ml, &zl);
        int x = z ? live_below(&m, z, zl) : 1;
        if (x < 0) rc = -x;
        prefix = x == 0;
    }
    /* Removing every member deletes the key instead: O(1). */
    if (!rc && (uint64_t)em.n < m.count) {
        for (long long i = 0; i < em.n && !rc; i++) rc = zset_del(&m, em.col[i].mem, em.col[i].ml, em.col[i].score);
        if (!rc && prefix) {
            const popped *l = &em.col[em.n - 1];
            size_t zl;
            const char *z = zset_elem(l->score, l->mem, l->ml, &zl);
            if (z) zset_hint_set(m.gen, 0, z, zl);
        }
    }
    if (!rc) {
        m.count -= (uint64_t)em.n;
        if (em.n == 0 || coll_save(c, &c->argv[1], &m, &old) == 0) addReplyLongLong(c, em.n);
    } else {
        coll_storage_error(c, rc);
    }
    for (long long i = 0; i < em.n; i++) free(em.col[i].mem);
    free(em.col);
}

static void zremrangebyrankCommand(client *c) { zremrange_generic(c, ZR_RANK); }
static void zremrangebyscoreCommand(client *c) { zremrange_generic(c, ZR_SCORE); }
static void zremrangebylexCommand(client *c) { zremrange_generic(c, ZR_LEX); }

#define W CMD_WRITE
#define R CMD_READONLY
#define F CMD_FAST
#define D CMD_DENYOOM
command zsetrange_commands[] = {
    {"zcount", zcountCommand, 4, R, 1, 1, 1, "sorted-set", "Returns the count of members in a sorted set that have scores within a range", "2.0.0", 0},
    {"zlexcount", zlexcountCommand, 4, R, 1, 1, 1, "sorted-set", "Returns the number of members in a sorted set within a lexicographical range", "2.8.9", 0},
    {"zrank", zrankCommand, 3, R, 1, 1, 1, "sorted-set", "Returns the index of a member in a sorted set ordered by ascending scores", "2.0.0", 0},
    {"zrevrank", zrevrankCommand, 3, R, 1, 1, 1, "sorted-set", "Returns the index of a member in a sorted set ordered by descending scores", "2.0.0", 0},
    {"zrange", zrangeCommand, -4, R, 1, 1, 1, "sorted-set", "Returns members in a sorted set within a range of indexes, scores or names", "1.2.0", 0},
    {"zrangestore", zrangestoreCommand, -5, W | D, 1, 2, 1, "sorted-set", "Stores a range of members from sorted set in a key", "6.2.0", 0},
    {"zrevrange", zrevrangeCommand, -4, R, 1, 1, 1, "sorted-set", "Returns members in a sorted set within a range of indexes in reverse order", "1.2.0", 0},
    {"zrangebyscore", zrangebyscoreCommand, -4, R, 1, 1, 1, "sorted-set", "Returns members in a sorted set within a range of scores", "1.0.5", 0},
    {"zrevrangebyscore", zrevrangebyscoreCommand, -4, R, 1, 1, 1, "sorted-set", "Returns members in a sorted set within a range of scores in reverse order", "2.2.0", 0},
    {"zrangebylex", zrangebylexCommand, -4, R, 1, 1, 1, "sorted-set", "Returns members in a sorted set within a lexicographical range", "2.8.9", 0},
    {"zrevrangebylex", zrevrangebylexCommand, -4, R, 1, 1, 1, "sorted-set", "Returns members in a sorted set within a lexicographical range in reverse order", "2.8.9", 0},
    {"zremrangebyrank", zremrangebyrankCommand, 4, W, 1, 1, 1, "sorted-set", "Removes members in a sorted set within a range of indexes", "2.0.0", 0},
    {"zremrangebyscore", zremrangebyscoreCommand, 4, W, 1, 1, 1, "sorted-set", "Removes members in a sorted set within a range of scores", "1.2.0", 0},
    {"zremrangebylex", zremrangebylexCommand, 4, W, 1, 1, 1, "sorted-set", "Removes members in a sorted set within a lexicographical range", "2.8.9", 0},
    {0},
};
