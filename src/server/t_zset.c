/*
 * t_zset.c -- sorted set commands.  A sorted set keeps two sub-keys per
 * member (keyspace.h): KS_FAM_ZMEMBER member -> score (for ZSCORE and
 * membership) and KS_FAM_ZSCORE score+member -> "" (the order Redis's
 * skiplist keeps: by score, then member bytes).  Scores are stored in an
 * order-preserving 8-byte form, so:
 *   - ZRANGEBYSCORE / ZCOUNT are one engine range scan of the score family
 *     between the encoded bounds (exclusive bounds: the next encoding);
 *   - ZRANGEBYLEX is a range scan of the member family (Redis defines lex
 *     ranges only for equal scores, where both orders agree);
 *   - rank-based reads (ZRANGE by index, ZRANK) walk from the nearer end
 *     of the score family: O(rank) instead of Redis's O(log n).
 * Invariant: both sub-keys of a member exist together and agree on the
 * score; the metadata count is the number of members.
 * This file: the encoding, the tombstone hints, ZADD ZINCRBY ZREM ZSCORE
 * ZMSCORE ZCARD ZPOPMIN ZPOPMAX ZRANDMEMBER ZSCAN.  Ranges and ranks are
 * in t_zsetrange.c, ZUNION/ZINTER/ZDIFF in t_zsetops.c.
 */
#include "server/t_zset.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/coll.h"
#include "server/commands.h"
#include "server/networking.h"
#include "server/util.h"

#define ZMAX_MEMBER (KS_MAX_ELEM - 8)

static char *zbuf;
static size_t zcap;

/* score+member element of the score family, in a static buffer. */
const char *zset_elem(double score, const void *mem, size_t ml, size_t *len)
{
    if (ml + 8 > zcap) {
        size_t nc = (ml + 8) * 2;
        char *nb = realloc(zbuf, nc);
        if (!nb) return NULL;
        zbuf = nb;
        zcap = nc;
    }
    ks_score_encode(score, (unsigned char *)zbuf);
    memcpy(zbuf + 8, mem, ml);
    *len = ml + 8;
    return zbuf;
}

/* ---- tombstone hints ------------------------------------------------------
 * Popping from a sorted set's ends (ZPOPMIN/ZPOPMAX, ZREMRANGEBY* of a
 * lowest range) leaves deleted entries at the ends of its score family
 * until compaction drops them.  A scan from the family's start would step
 * over every one of them, so a queue's pops (ZADD + ZPOPMIN) and a sliding
 * window (ZADD + ZREMRANGEBYSCORE -inf ...) would grow quadratic.  The
 * server therefore remembers, per generation, a key below which the score
 * family holds only deleted entries (lo) and one at and above which it
 * does (hi), and starts its scans of that family there.  Hints live in
 * memory only (a restart forgets them: they are an optimisation); zs_put
 * drops a hint that an insert falls outside of. */

#define ZHINTS 64

static struct zhint {
    uint64_t gen;
    char *b[2]; /* [0] lo (inclusive start), [1] hi (exclusive end) */
    size_t len[2];
} zhints[ZHINTS];

static int keycmp(const char *a, size_t al, const char *b, size_t bl)
{
    int c = memcmp(a, b, al < bl ? al : bl);
    return c ? c : (al > bl) - (al < bl);
}

static void hint_drop(struct zhint *h, int which)
{
    free(h->b[which]);
    h->b[which] = NULL;
    h->len[which] = 0;
}

static struct zhint *hint_of(uint64_t gen)
{
    struct zhint *h = &zhints[gen % ZHINTS];
    return h->gen == gen ? h : NULL;
}

void zset_hint_set(uint64_t gen, int which, const char *k, size_t kl)
{
    struct zhint *h = &zhints[gen % ZHINTS];
    if (h->gen != gen) {
        hint_drop(h, 0);
        hint_drop(h, 1);
        h->gen = gen;
    }
    char *c = malloc(kl ? kl : 1);
    if (!c) {
        hint_drop(h, which);
        return;
    }
    memcpy(c, k, kl);
    free(h->b[which]);
    h->b[which] = c;
    h->len[which] = kl;
}

/* A new score-family key k: a hint it falls outside of is no longer true. */
static void hint_insert(uint64_t gen, const char *k, size_t kl)
{
    struct zhint *h = hint_of(gen);
    if (!h) return;
    if (h->b[0] && keycmp(k, kl, h->b[0], h->len[0]) < 0) hint_drop(h, 0);
    if (h->b[1] && keycmp(k, kl, h->b[1], h->len[1]) >= 0) hint_drop(h, 1);
}

/* Iterator over the score family in [lo, hi) (NULL: open), narrowed by the
 * generation's hints. */
int zset_iter(const ks_meta *m, const char *lo, size_t lolen, const char *hi, size_t hilen, omen_iter **it)
{
    struct zhint *h = hint_of(m->gen);
    if (h && h->b[0] && (!lo || keycmp(h->b[0], h->len[0], lo, lolen) > 0)) lo = h->b[0], lolen = h->len[0];
    if (h && h->b[1] && (!hi || keycmp(h->b[1], h->len[1], hi, hilen) < 0)) hi = h->b[1], hilen = h->len[1];
    return ks_sub_iter_range(m->gen, KS_FAM_ZSCORE, lo, lolen, hi, hilen, it);
}

/* OMEN_OK with *score, OMEN_NOTFOUND, or an engine error. */
static int zs_score(const ks_meta *m, const void *mem, size_t ml, double *score)
{
    const char *v;
    size_t vl;
    int rc = ks_sub_get(m->gen, KS_FAM_ZMEMBER, mem, ml, &v, &vl);
    if (rc) return rc;
    if (vl != 8) return OMEN_CORRUPT;
    *score = ks_score_decode((const unsigned char *)v);
    return OMEN_OK;
}

static int zs_put(const ks_meta *m, const void *mem, size_t ml, double score, int had, double old)
{
    size_t zl;
    const char *z;
    int rc;
    if (had) {
        if (!(z = zset_elem(old, mem, ml, &zl))) return OMEN_NOMEM;
        if ((rc = ks_sub_del(m->gen, KS_FAM_ZSCORE, z, zl))) return rc;
    }
    if (!(z = zset_elem(score, mem, ml, &zl))) return OMEN_NOMEM;
    hint_insert(m->gen, z, zl);
    if ((rc = ks_sub_put(m->gen, KS_FAM_ZSCORE, z, zl, "", 0))) return rc;
    unsigned char enc[8];
    ks_score_encode(score, enc);
    return ks_sub_put(m->gen, KS_FAM_ZMEMBER, mem, ml, enc, 8);
}

int zset_del(const ks_meta *m, const void *mem, size_t ml, double score)
{
    size_t zl;
    const char *z = zset_elem(score, mem, ml, &zl);
    if (!z) return OMEN_NOMEM;
    int rc = ks_sub_del(m->gen, KS_FAM_ZSCORE, z, zl);
    if (!rc) rc = ks_sub_del(m->gen, KS_FAM_ZMEMBER, mem, ml);
    return rc;
}

int zset_score(const ks_meta *m, const void *mem, size_t ml, double *score)
{
    return zs_score(m, mem, ml, score);
}

void zset_store(client *c, const sarg *dk, const zset_member *v, size_t n)
{
    ks_meta dm, nm;
    int rd = ks_lookup(dk->p, dk->len, &dm);
    int rc = rd == OMEN_NOTFOUND ? OMEN_OK : rd;
    if (!rc && n && coll_init(c, dk, &nm, OBJ_ZSET)) return;
    for (size_t i = 0; !rc && i < n; i++) rc = zs_put(&nm, v[i].mem, v[i].ml, v[i].score, 0, 0);
    if (!rc) {
        dm.sval = NULL;
        if (n) {
            nm.count = n;
            rc = ks_put_meta(dk->p, dk->len, &nm, rd == OMEN_OK ? &dm : NULL);
        } else if (rd == OMEN_OK) {
            rc = ks_delete(dk->p, dk->len, &dm);
        }
    }
    if (rc)
        coll_storage_error(c, rc);
    else
        addReplyLongLong(c, (long long)n);
}

/* The member and score at an iterator over family fam. */
const char *zset_it_member(omen_iter *it, int fam, size_t *ml, double *score)
{
    size_t el;
    const char *e = ks_sub_elem(it, &el);
    if (fam == KS_FAM_ZSCORE) {
        *score = ks_score_decode((const unsigned char *)e);
        *ml = el - 8;
        return e + 8;
    }
    size_t vl;
    const unsigned char *v = omen_iter_value(it, &vl);
    *score = vl == 8 ? ks_score_decode(v) : 0;
    *ml = el;
    return e;
}

static void reply_score(client *c, double d) { addReplyDouble(c, d); }

/* ---- ZADD ZINCRBY ------------------------------------------------------- */

#define ZA_NX 1
#define ZA_XX 2
#define ZA_GT 4
#define ZA_LT 8
#define ZA_CH 16
#define ZA_INCR 32

static void zadd_generic(client *c, int flags)
{
    int j = 2;
    for (; j < c->argc; j++) {
        sarg *a = &c->argv[j];
        if (arg_is(a, "nx")) flags |= ZA_NX;
        else if (arg_is(a, "xx")) flags |= ZA_XX;
        else if (arg_is(a, "gt")) flags |= ZA_GT;
        else if (arg_is(a, "lt")) flags |= ZA_LT;
        else if (arg_is(a, "ch")) flags |= ZA_CH;
        else if (arg_is(a, "incr")) flags |= ZA_INCR;
        else break;
    }
    int elements = c->argc - j;
    if (elements % 2 || !elements) {
        addReplyErrorSyntax(c);
        return;
    }
    elements /= 2;
    if ((flags & ZA_NX) && (flags & ZA_XX)) {
        addReplyError(c, "ERR XX and NX options at the same time are not compatible");
        return;
    }
    if (((flags & ZA_GT) && (flags & ZA_NX)) || ((flags & ZA_LT) && (flags & ZA_NX)) ||
        ((flags & ZA_GT) && (flags & ZA_LT))) {
        addReplyError(c, "ERR GT, LT, and/or NX options at the same time are not compatible");
        return;
    }
    if ((flags & ZA_INCR) && elements > 1) {
        addReplyError(c, "ERR INCR option supports a single increment-element pair");
        return;
    }
    double *scores = malloc((size_t)elements * sizeof *scores);
    if (!scores) {
        addReplyError(c, "ERR out of memory");
        return;
    }
    for (int i = 0; i < elements; i++) {
        if (arg_double(&c->argv[j + 2 * i], &scores[i])) {
            addReplyErrorNotFloat(c);
            free(scores);
            return;
        }
    }
    if (coll_check_elems(c, j + 1, 2, ZMAX_MEMBER)) {
        free(scores);
        return;
    }
    ks_meta m, old;
    int r = coll_lookup(c, &c->argv[1], OBJ_ZSET, &m);
    if (r < 0) {
        free(scores);
        return;
    }
    long long added = 0, updated = 0, processed = 0;
    double newscore = 0;
    if (r == 0 && (flags & ZA_XX)) goto reply;
    if (r == 0 && coll_init(c, &c->argv[1], &m, OBJ_ZSET)) {
        free(scores);
        return;
    }
    old = m;
    for (int i = 0; i < elements; i++) {
        const sarg *mem = &c->argv[j + 2 * i + 1];
        double score = scores[i], cur = 0;
        int rc = zs_score(&m, mem->p, mem->len, &cur);
        if (rc && rc != OMEN_NOTFOUND) {
            coll_storage_error(c, rc);
            free(scores);
            return;
        }
        if (rc == OMEN_OK) {
            if (flags & ZA_NX) continue;
            if (flags & ZA_INCR) {
                score += cur;
                if (isnan(score)) {
                    addReplyError(c, "ERR resulting score is not a number (NaN)");
                    free(scores);
                    return;
                }
            }
            if (((flags & ZA_LT) && score >= cur) || ((flags & ZA_GT) && score <= cur)) continue;
            newscore = score;
            processed++;
            if (score != cur) {
                if ((rc = zs_put(&m, mem->p, mem->len, score, 1, cur))) {
                    coll_storage_error(c, rc);
                    free(scores);
                    return;
                }
                updated++;
            }
        } else {
            if (flags & ZA_XX) continue;
            if ((rc = zs_put(&m, mem->p, mem->len, score, 0, 0))) {
                coll_storage_error(c, rc);
                free(scores);
                return;
            }
            newscore = score;
            added++;
            processed++;
            m.count++;
        }
    }
    if ((added || updated) && coll_save(c, &c->argv[1], &m, r ? &old : NULL)) {
        free(scores);
        return;
    }
reply:
    free(scores);
    if (flags & ZA_INCR) {
        if (processed)
            reply_score(c, newscore);
        else
            addReplyNull(c);
    } else {
        addReplyLongLong(c, (flags & ZA_CH) ? added + updated : added);
    }
}

static void zaddCommand(client *c) { zadd_generic(c, 0); }

static void zincrbyCommand(client *c)
{
    /* ZINCRBY key incr member == ZADD key INCR incr member */
    double d;
    if (arg_double(&c->argv[2], &d)) {
        addReplyErrorNotFloat(c);
        return;
    }
    zadd_generic(c, ZA_INCR);
}

static void zremCommand(client *c)
{
    ks_meta m, old;
    int r = coll_lookup(c, &c->argv[1], OBJ_ZSET, &m);
    if (r <= 0) {
        if (r == 0) addReplyLongLong(c, 0);
        return;
    }
    old = m;
    long long removed = 0;
    for (int j = 2; j < c->argc && m.count; j++) {
        double s;
        int rc = zs_score(&m, c->argv[j].p, c->argv[j].len, &s);
        if (rc == OMEN_NOTFOUND) continue;
        if (!rc) rc = zset_del(&m, c->argv[j].p, c->argv[j].len, s);
        if (rc) {
            coll_storage_error(c, rc);
            return;
        }
        removed++;
        m.count--;
    }
    if (removed && coll_save(c, &c->argv[1], &m, &old)) return;
    addReplyLongLong(c, removed);
}

static void zscoreCommand(client *c)
{
    ks_meta m;
    int r = coll_lookup(c, &c->argv[1], OBJ_ZSET, &m);
    if (r < 0) return;
    double s;
    int rc = r ? zs_score(&m, c->argv[2].p, c->argv[2].len, &s) : OMEN_NOTFOUND;
    if (rc == OMEN_NOTFOUND)
        addReplyNull(c);
    else if (rc)
        coll_storage_error(c, rc);
    else
        reply_score(c, s);
}

static void zmscoreCommand(client *c)
{
    ks_meta m;
    int r = coll_lookup(c, &c->argv[1], OBJ_ZSET, &m);
    if (r < 0) return;
    addReplyArrayLen(c, c->argc - 2);
    for (int j = 2; j < c->argc; j++) {
        double s;
        if (r && zs_score(&m, c->argv[j].p, c->argv[j].len, &s) == OMEN_OK)
            reply_score(c, s);
        else
            addReplyNull(c);
    }
}

static void zcardCommand(client *c)
{
    ks_meta m;
    int r = coll_lookup(c, &c->argv[1], OBJ_ZSET, &m);
    if (r < 0) return;
    addReplyLongLong(c, r ? (long long)m.count : 0);
}

static void zpop_generic(client *c, int max)
{
    long long count = 1;
    int has = c->argc == 3;
    if (c->argc > 3) {
        addReplyErrorSyntax(c);
        return;
    }
    if (has && (arg_ll(&c->argv[2], &count) || count < 0)) {
        addReplyError(c, "ERR value is out of range, must be positive");
        return;
    }
    ks_meta m, old;
    int r = coll_lookup(c, &c->argv[1], OBJ_ZSET, &m);
    if (r < 0) return;
    if (r == 0 || count == 0) {
        addReplyArrayLen(c, 0);
        return;
    }
    old = m;
    uint64_t k = (uint64_t)count < m.count ? (uint64_t)count : m.count;
    zset_member *p = calloc(k, sizeof *p);
    omen_iter *it;
    int rc = p ? zset_iter(&m, NULL, 0, NULL, 0, &it) : OMEN_NOMEM;
    uint64_t n = 0;
    if (!rc) {
        if (max)
            omen_iter_seek_last(it);
        else
            omen_iter_seek_first(it);
        for (; omen_iter_valid(it) && n < k; max ? omen_iter_prev(it) : omen_iter_next(it)) {
            size_t ml;
            double sc;
            const char *mem = zset_it_member(it, KS_FAM_ZSCORE, &ml, &sc);
            if (!(p[n].mem = malloc(ml + 1))) {
                rc = OMEN_NOMEM;
                break;
            }
            memcpy(p[n].mem, mem, ml);
            p[n].ml = ml;
            p[n++].score = sc;
        }
        if (!rc) rc = omen_iter_status(it);
        omen_iter_destroy(it);
        if (!rc && n != k) rc = OMEN_CORRUPT;
    }
    /* Popping them all deletes the key: O(1), reclaimed in the background. */
    if (!rc && k < m.count) {
        for (uint64_t i = 0; i < n && !rc; i++) rc = zset_del(&m, p[i].mem, p[i].ml, p[i].score);
        size_t zl;
        const char *z = rc || !n ? NULL : zset_elem(p[n - 1].score, p[n - 1].mem, p[n - 1].ml, &zl);
        if (z) zset_hint_set(m.gen, max, z, zl); /* everything beyond the last popped is gone */
    }
    if (!rc) {
        m.count -= k;
        if (coll_save(c, &c->argv[1], &m, &old) == 0) {
            int nested = has && c->resp >= 3;
            addReplyArrayLen(c, nested ? (long long)n : 2 * (long long)n);
            for (uint64_t i = 0; i < n; i++) {
                if (nested) addReplyArrayLen(c, 2);
                addReplyBulk(c, p[i].mem, p[i].ml);
                reply_score(c, p[i].score);
            }
        }
    } else {
        coll_storage_error(c, rc);
    }
    for (uint64_t i = 0; i < n; i++) free(p[i].mem);
    free(p);
}

static void zpopminCommand(client *c) { zpop_generic(c, 0); }
static void zpopmaxCommand(client *c) { zpop_generic(c, 1); }

static void zrandmemberCommand(client *c) { coll_randmember(c, OBJ_ZSET, KS_FAM_ZMEMBER, "withscores", 1); }

static void zscanCommand(client *c) { coll_scan(c, OBJ_ZSET, KS_FAM_ZMEMBER, SCAN_SCORE); }

#define W CMD_WRITE
#define R CMD_READONLY
#define F CMD_FAST
#define D CMD_DENYOOM
command zset_commands[] = {
    {"zadd", zaddCommand, -4, W | D | F, 1, 1, 1, "sorted-set", "Adds one or more members to a sorted set, or updates their scores", "1.2.0", 0},
    {"zincrby", zincrbyCommand, 4, W | D | F, 1, 1, 1, "sorted-set", "Increments the score of a member in a sorted set", "1.2.0", 0},
    {"zrem", zremCommand, -3, W | F, 1, 1, 1, "sorted-set", "Removes one or more members from a sorted set", "1.2.0", 0},
    {"zscore", zscoreCommand, 3, R | F, 1, 1, 1, "sorted-set", "Returns the score of a member in a sorted set", "1.2.0", 0},
    {"zmscore", zmscoreCommand, -3, R | F, 1, 1, 1, "sorted-set", "Returns the score of one or more members in a sorted set", "6.2.0", 0},
    {"zcard", zcardCommand, 2, R | F, 1, 1, 1, "sorted-set", "Returns the number of members in a sorted set", "1.2.0", 0},
    {"zpopmin", zpopminCommand, -2, W | F, 1, 1, 1, "sorted-set", "Returns the lowest-scoring members from a sorted set after removing them", "5.0.0", 0},
    {"zpopmax", zpopmaxCommand, -2, W | F, 1, 1, 1, "sorted-set", "Returns the highest-scoring members from a sorted set after removing them", "5.0.0", 0},
    {"zrandmember", zrandmemberCommand, -2, R, 1, 1, 1, "sorted-set", "Returns one or more random members from a sorted set", "6.2.0", 0},
    {"zscan", zscanCommand, -3, R, 1, 1, 1, "sorted-set", "Iterates over members and scores of a sorted set", "2.8.0", 0},
    {0},
};
