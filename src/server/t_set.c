/*
 * t_set.c -- set commands.  A set is one sub-key per member (family
 * KS_FAM_SET, empty value), ordered by member bytes, plus its key's
 * metadata holding the member count.  SISMEMBER is one point read;
 * SMEMBERS/SSCAN are range scans; SUNION merges the members' ordered scans;
 * SINTER walks the smallest set and probes the others; SDIFF walks the
 * first and probes the rest.
 *
 * SPOP and SRANDMEMBER draw members with coll_sample (coll.h): uniform,
 * by walking the ordered members.
 */
#include "server/t_set.h"

#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/coll.h"
#include "server/commands.h"
#include "server/networking.h"
#include "server/util.h"

static void spool_forget(uint64_t gen); /* SPOP's pool: see below */

static int is_member(const ks_meta *m, const void *e, size_t el)
{
    const char *v;
    size_t vl;
    int rc = ks_sub_get(m->gen, KS_FAM_SET, e, el, &v, &vl);
    return rc == OMEN_OK ? 1 : rc == OMEN_NOTFOUND ? 0 : -rc;
}

static void saddCommand(client *c)
{
    if (coll_check_elems(c, 2, 1, KS_MAX_ELEM)) return;
    ks_meta m, old;
    int r = coll_lookup(c, &c->argv[1], OBJ_SET, &m);
    if (r < 0) return;
    if (r == 0 && coll_init(c, &c->argv[1], &m, OBJ_SET)) return;
    old = m;
    long long added = 0;
    for (int j = 2; j < c->argc; j++) {
        int rc = is_member(&m, c->argv[j].p, c->argv[j].len);
        if (rc == 1) continue;
        if (rc == 0) rc = ks_sub_put(m.gen, KS_FAM_SET, c->argv[j].p, c->argv[j].len, "", 0);
        else rc = -rc;
        if (rc) {
            coll_storage_error(c, rc);
            return;
        }
        added++;
    }
    m.count += (uint64_t)added;
    if (added) spool_forget(m.gen);
    if (added && coll_save(c, &c->argv[1], &m, r ? &old : NULL)) return;
    addReplyLongLong(c, added);
}

static void sremCommand(client *c)
{
    ks_meta m, old;
    int r = coll_lookup(c, &c->argv[1], OBJ_SET, &m);
    if (r <= 0) {
        if (r == 0) addReplyLongLong(c, 0);
        return;
    }
    old = m;
    long long removed = 0;
    for (int j = 2; j < c->argc && m.count; j++) {
        int rc = is_member(&m, c->argv[j].p, c->argv[j].len);
        if (rc == 0) continue;
        if (rc == 1) rc = ks_sub_del(m.gen, KS_FAM_SET, c->argv[j].p, c->argv[j].len);
        else rc = -rc;
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

static void smembersCommand(client *c)
{
    ks_meta m;
    int r = coll_lookup(c, &c->argv[1], OBJ_SET, &m);
    if (r < 0) return;
    if (r == 0) {
        addReplySetLen(c, 0);
        return;
    }
    omen_iter *it;
    int rc = ks_sub_iter(m.gen, KS_FAM_SET, &it);
    if (rc) {
        coll_storage_error(c, rc);
        return;
    }
    coll_reply_iter(c, it, 0, 1);
}

static void sismemberCommand(client *c)
{
    ks_meta m;
    int r = coll_lookup(c, &c->argv[1], OBJ_SET, &m);
    if (r < 0) return;
    int rc = r ? is_member(&m, c->argv[2].p, c->argv[2].len) : 0;
    if (rc < 0)
        coll_storage_error(c, -rc);
    else
        addReplyLongLong(c, rc);
}

static void smismemberCommand(client *c)
{
    ks_meta m;
    int r = coll_lookup(c, &c->argv[1], OBJ_SET, &m);
    if (r < 0) return;
    addReplyArrayLen(c, c->argc - 2);
    for (int j = 2; j < c->argc; j++) addReplyLongLong(c, r ? is_member(&m, c->argv[j].p, c->argv[j].len) == 1 : 0);
}

static void scardCommand(client *c)
{
    ks_meta m;
    int r = coll_lookup(c, &c->argv[1], OBJ_SET, &m);
    if (r < 0) return;
    addReplyLongLong(c, r ? (long long)m.count : 0);
}

/* ---- random members --------------------------------------------------- */

typedef coll_elem member;

static void free_members(member *v, size_t n) { coll_elems_free(v, n); }

static int copy_member(member *d, const char *p, size_t len)
{
    memset(d, 0, sizeof *d);
    d->p = malloc(len + 1);
    if (!d->p) return OMEN_NOMEM;
    memcpy(d->p, p, len);
    d->len = len;
    return OMEN_OK;
}

/* Parse the optional count: 0 none given, 1 given, -1 replied an error. */
static int parse_count(client *c, int positive_only, long long *count)
{
    if (c->argc > 3) {
        addReplyErrorSyntax(c);
        return -1;
    }
    if (c->argc < 3) return 0;
    if (arg_ll(&c->argv[2], count)) {
        if (positive_only)
            addReplyError(c, "ERR value is out of range, must be positive");
        else
            addReplyErrorNotInt(c);
        return -1;
    }
    if (positive_only && *count < 0) {
        addReplyError(c, "ERR value is out of range, must be positive");
        return -1;
    }
    return 1;
}

static void reply_members(client *c, member *v, size_t n, int as_set)
{
    if (as_set)
        addReplySetLen(c, (long long)n);
    else
        addReplyArrayLen(c, (long long)n);
    for (size_t i = 0; i < n; i++) addReplyBulk(c, v[i].p, v[i].len);
}

/* SPOP of one member: walking to a random rank costs O(n) per pop, so a
 * pool of up to SPOP_POOL members drawn uniformly by one scan (coll_sample,
 * in random order) serves the next pops of the same set, each checked to
 * still be a member.  A uniform random subset in random order yields, pop
 * after pop, a member uniform among those left; adding members to the set
 * drops its pool (SADD, SMOVE), so new members are never passed over.
 * One pool, for the set popped last. */
#define SPOP_POOL 1024

static struct {
    uint64_t gen;
    member *v;
    size_t n;
} spool;

static void spool_forget(uint64_t gen)
{
    if (spool.gen != gen) return;
    free_members(spool.v, spool.n);
    spool.v = NULL;
    spool.n = 0;
    spool.gen = 0;
}

static int spop_pooled(const ks_meta *m, member *out)
{
    for (int refills = 0; refills < 4;) {
        if (spool.gen != m->gen || spool.n == 0) {
            free_members(spool.v, spool.n);
            spool.v = NULL;
            spool.n = 0;
            uint64_t k = m->count < SPOP_POOL ? m->count : SPOP_POOL;
            int rc = coll_sample(m, KS_FAM_SET, k, 0, 0, &spool.v);
            if (rc) return rc;
            spool.n = (size_t)k;
            spool.gen = m->gen;
            refills++;
        }
        member cand = spool.v[--spool.n];
        int in = is_member(m, cand.p, cand.len);
        if (in == 1) {
            *out = cand;
            return OMEN_OK;
        }
        free(cand.p);
        if (in < 0) return -in;
    }
    return OMEN_CORRUPT; /* fresh samples kept naming non-members */
}

static void spopCommand(client *c)
{
    long long count = 1;
    int has = parse_count(c, 1, &count);
    if (has < 0) return;
    ks_meta m, old;
    int r = coll_lookup(c, &c->argv[1], OBJ_SET, &m);
    if (r < 0) return;
    if (r == 0) {
        if (has)
            addReplySetLen(c, 0);
        else
            addReplyNull(c);
        return;
    }
    old = m;
    if (has && count == 0) {
        addReplySetLen(c, 0);
        return;
    }
    uint64_t k = (uint64_t)count < m.count ? (uint64_t)count : m.count;
    member *v = NULL;
    int rc;
    if (k == 1) {
        v = calloc(1, sizeof *v);
        rc = v ? spop_pooled(&m, v) : OMEN_NOMEM;
        if (rc) free(v), v = NULL;
    } else {
        rc = coll_sample(&m, KS_FAM_SET, k, 0, 0, &v);
    }
    if (rc) {
        coll_storage_error(c, rc);
        return;
    }
    if (k < m.count) /* popping them all deletes the key in O(1) instead */
        for (uint64_t i = 0; i < k && !rc; i++) rc = ks_sub_del(m.gen, KS_FAM_SET, v[i].p, v[i].len);
    m.count -= k;
    if (rc) {
        free_members(v, k);
        coll_storage_error(c, rc);
        return;
    }
    if (coll_save(c, &c->argv[1], &m, &old) == 0) {
        if (has)
            reply_members(c, v, k, 1);
        else
            addReplyBulk(c, v[0].p, v[0].len);
    }
    free_members(v, k);
}

static void srandmemberCommand(client *c)
{
    long long count = 1;
    int has = parse_count(c, 0, &count);
    if (has < 0) return;
    if (has && count == LLONG_MIN) {
        addReplyError(c, "ERR value is out of range, value must between -9223372036854775807 and "
                         "9223372036854775807");
        return;
    }
    ks_meta m;
    int r = coll_lookup(c, &c->argv[1], OBJ_SET, &m);
    if (r < 0) return;
    if (r == 0) {
        if (has)
            addReplyArrayLen(c, 0);
        else
            addReplyNull(c);
        return;
    }
    member *v = NULL;
    uint64_t k;
    int rc;
    if (!has) {
        k = 1;
        rc = coll_sample(&m, KS_FAM_SET, 1, 0, 0, &v);
    } else if (count < 0) {
        k = (uint64_t)-count;
        if (k > COLL_REPEAT_MAX) { /* the reply alone would take gigabytes */
            addReplyErrorFormat(c, "ERR count is too large (at most %d with repetition)", COLL_REPEAT_MAX);
            return;
        }
        rc = coll_sample(&m, KS_FAM_SET, k, 1, 0, &v);
    } else {
        k = (uint64_t)count < m.count ? (uint64_t)count : m.count;
        rc = coll_sample(&m, KS_FAM_SET, k, 0, 0, &v);
    }
    if (rc) {
        coll_storage_error(c, rc);
        return;
    }
    if (has)
        reply_members(c, v, k, 0);
    else
        addReplyBulk(c, v[0].p, v[0].len);
    free_members(v, k);
}

/* ---- SINTER SUNION SDIFF ------------------------------------------------- */

enum { OP_INTER, OP_UNION, OP_DIFF };

typedef struct mlist {
    member *v;
    size_t n, cap;
} mlist;

static int mlist_add(mlist *l, const char *p, size_t len)
{
    if (l->n == l->cap) {
        size_t nc = l->cap ? l->cap * 2 : 64;
        member *nv = realloc(l->v, nc * sizeof *nv);
        if (!nv) return OMEN_NOMEM;
        l->v = nv;
        l->cap = nc;
    }
    int rc = copy_member(&l->v[l->n], p, len);
    if (!rc) l->n++;
    return rc;
}

/* The members of the SINTER/SUNION/SDIFF of keys argv[first..], in byte
 * order.  0, or -1 after replying an error (WRONGTYPE is checked for every
 * key before anything is read, as Redis does). */
static int setop_compute(client *c, int op, int first, mlist *out)
{
    int nk = c->argc - first;
    ks_meta *ms = calloc((size_t)nk, sizeof *ms);
    int *present = calloc((size_t)nk, sizeof *present);
    omen_iter **its = calloc((size_t)nk, sizeof *its);
    int rc = OMEN_OK, missing = 0, res = 0;
    memset(out, 0, sizeof *out);
    if (!ms || !present || !its) {
        rc = OMEN_NOMEM;
        goto out;
    }
    for (int j = 0; j < nk; j++) {
        int r = coll_lookup(c, &c->argv[first + j], OBJ_SET, &ms[j]);
        if (r < 0) {
            res = -1;
            goto out;
        }
        present[j] = r;
        if (!r) missing++;
    }
    if (op == OP_INTER || op == OP_DIFF) {
        /* Walk one set, probe the others: the smallest for SINTER (empty
         * if any key is missing), the first for SDIFF. */
        int walk = 0;
        if (op == OP_INTER) {
            if (missing) goto out;
            for (int j = 1; j < nk; j++)
                if (ms[j].count < ms[walk].count) walk = j;
        } else if (!present[0]) {
            goto out;
        }
        if ((rc = ks_sub_iter(ms[walk].gen, KS_FAM_SET, &its[0]))) goto out;
        for (omen_iter_seek_first(its[0]); omen_iter_valid(its[0]); omen_iter_next(its[0])) {
            size_t el;
            const char *e = ks_sub_elem(its[0], &el);
            int keep = 1;
            for (int j = 0; j < nk && keep; j++) {
                if (j == walk || !present[j]) continue;
                int x = is_member(&ms[j], e, el);
                if (x < 0) {
                    rc = -x;
                    break;
                }
                keep = op == OP_INTER ? x == 1 : x == 0;
            }
            if (!rc && keep) rc = mlist_add(out, e, el);
            if (rc) break;
        }
    } else {
        /* Union: merge the sets' ordered scans, keeping each member once. */
        for (int j = 0; j < nk; j++) {
            if (!present[j]) continue;
            if ((rc = ks_sub_iter(ms[j].gen, KS_FAM_SET, &its[j]))) goto out;
            omen_iter_seek_first(its[j]);
        }
        for (;;) {
            int best = -1;
            const char *be = NULL;
            size_t bl = 0;
            for (int j = 0; j < nk; j++) {
                if (!its[j] || !omen_iter_valid(its[j])) continue;
                size_t el;
                const char *e = ks_sub_elem(its[j], &el);
                size_t ml = el < bl ? el : bl;
                int cmp = best < 0 ? -1 : memcmp(e, be, ml);
                if (cmp < 0 || (cmp == 0 && el < bl)) best = j, be = e, bl = el;
            }
            if (best < 0) break;
            if ((rc = mlist_add(out, be, bl))) break;
            const member *last = &out->v[out->n - 1]; /* be dies as iterators move */
            for (int j = 0; j < nk; j++) {
                if (!its[j] || !omen_iter_valid(its[j])) continue;
                size_t el;
                const char *e = ks_sub_elem(its[j], &el);
                if (el == last->len && memcmp(e, last->p, el) == 0) omen_iter_next(its[j]);
            }
        }
    }
    for (int j = 0; j < nk && !rc; j++)
        if (its[j]) rc = omen_iter_status(its[j]);
out:
    for (int j = 0; its && j < nk; j++)
        if (its[j]) omen_iter_destroy(its[j]);
    free(ms);
    free(present);
    free(its);
    if (rc && !res) {
        coll_storage_error(c, rc);
        res = -1;
    }
    if (res) {
        free_members(out->v, out->n);
        memset(out, 0, sizeof *out);
    }
    return res;
}

static void setop_generic(client *c, int op)
{
    mlist l;
    if (setop_compute(c, op, 1, &l)) return;
    reply_members(c, l.v, l.n, 1);
    free_members(l.v, l.n);
}

/* S*STORE dst key...: replaces dst (of any type) with the result; an empty
 * result deletes dst. */
static void setop_store(client *c, int op)
{
    mlist l;
    if (setop_compute(c, op, 2, &l)) return;
    const sarg *dk = &c->argv[1];
    ks_meta dm, nm;
    int rd = ks_lookup(dk->p, dk->len, &dm);
    int rc = rd == OMEN_NOTFOUND ? OMEN_OK : rd;
    if (!rc && l.n && coll_init(c, dk, &nm, OBJ_SET)) {
        free_members(l.v, l.n);
        return;
    }
    for (size_t i = 0; !rc && i < l.n; i++) rc = ks_sub_put(nm.gen, KS_FAM_SET, l.v[i].p, l.v[i].len, "", 0);
    if (!rc) {
        dm.sval = NULL;
        if (l.n) {
            nm.count = l.n;
            rc = ks_put_meta(dk->p, dk->len, &nm, rd == OMEN_OK ? &dm : NULL);
        } else if (rd == OMEN_OK) {
            rc = ks_delete(dk->p, dk->len, &dm);
        }
    }
    if (rc)
        coll_storage_error(c, rc);
    else
        addReplyLongLong(c, (long long)l.n);
    free_members(l.v, l.n);
}

static void sinterCommand(client *c) { setop_generic(c, OP_INTER); }
static void sunionCommand(client *c) { setop_generic(c, OP_UNION); }
static void sdiffCommand(client *c) { setop_generic(c, OP_DIFF); }
static void sinterstoreCommand(client *c) { setop_store(c, OP_INTER); }
static void sunionstoreCommand(client *c) { setop_store(c, OP_UNION); }
static void sdiffstoreCommand(client *c) { setop_store(c, OP_DIFF); }

static void smoveCommand(client *c)
{
    const sarg *sk = &c->argv[1], *dk = &c->argv[2], *mem = &c->argv[3];
    ks_meta sm, sold, dm, dold;
    int rs = coll_lookup(c, sk, OBJ_SET, &sm);
    if (rs < 0) return;
    int rd = ks_lookup_reply(c, dk->p, dk->len, -1, &dm);
    if (rd < 0) return;
    if (rs == 0) { /* Redis answers 0 before looking at the destination's type */
        addReplyLongLong(c, 0);
        return;
    }
    if (rd && dm.type != OBJ_SET) {
        addReplyErrorWrongType(c);
        return;
    }
    int in = is_member(&sm, mem->p, mem->len);
    if (in < 0) {
        coll_storage_error(c, -in);
        return;
    }
    if (!in || (sk->len == dk->len && memcmp(sk->p, dk->p, sk->len) == 0)) {
        addReplyLongLong(c, in);
        return;
    }
    if (rd == 0 && coll_init(c, dk, &dm, OBJ_SET)) return;
    sold = sm;
    dold = dm;
    int rc = ks_sub_del(sm.gen, KS_FAM_SET, mem->p, mem->len);
    sm.count--;
    int din = rc ? 0 : rd ? is_member(&dm, mem->p, mem->len) : 0;
    if (din < 0) rc = -din;
    if (!rc && !din) {
        rc = ks_sub_put(dm.gen, KS_FAM_SET, mem->p, mem->len, "", 0);
        dm.count++;
        spool_forget(dm.gen);
    }
    if (rc) {
        coll_storage_error(c, rc);
        return;
    }
    if (coll_save(c, sk, &sm, &sold)) return;
    if (!din && coll_save(c, dk, &dm, rd ? &dold : NULL)) return;
    addReplyLongLong(c, 1);
}

static void sscanCommand(client *c) { coll_scan(c, OBJ_SET, KS_FAM_SET, SCAN_ELEM); }

#define W CMD_WRITE
#define R CMD_READONLY
#define F CMD_FAST
#define D CMD_DENYOOM
command set_commands[] = {
    {"sadd", saddCommand, -3, W | D | F, 1, 1, 1, "set", "Adds one or more members to a set", "1.0.0", 0},
    {"srem", sremCommand, -3, W | F, 1, 1, 1, "set", "Removes one or more members from a set", "1.0.0", 0},
    {"smembers", smembersCommand, 2, R, 1, 1, 1, "set", "Returns all members of a set", "1.0.0", 0},
    {"sismember", sismemberCommand, 3, R | F, 1, 1, 1, "set", "Determines whether a member belongs to a set", "1.0.0", 0},
    {"smismember", smismemberCommand, -3, R | F, 1, 1, 1, "set", "Determines whether multiple members belong to a set", "6.2.0", 0},
    {"scard", scardCommand, 2, R | F, 1, 1, 1, "set", "Returns the number of members in a set", "1.0.0", 0},
    {"spop", spopCommand, -2, W | F, 1, 1, 1, "set", "Returns one or more random members from a set after removing them", "1.0.0", 0},
    {"srandmember", srandmemberCommand, -2, R, 1, 1, 1, "set", "Get one or multiple random members from a set", "1.0.0", 0},
    {"sinter", sinterCommand, -2, R, 1, -1, 1, "set", "Returns the intersect of multiple sets", "1.0.0", 0},
    {"sunion", sunionCommand, -2, R, 1, -1, 1, "set", "Returns the union of multiple sets", "1.0.0", 0},
    {"sdiff", sdiffCommand, -2, R, 1, -1, 1, "set", "Returns the difference of multiple sets", "1.0.0", 0},
    {"sinterstore", sinterstoreCommand, -3, W | D, 1, -1, 1, "set", "Stores the intersect of multiple sets in a key", "1.0.0", 0},
    {"sunionstore", sunionstoreCommand, -3, W | D, 1, -1, 1, "set", "Stores the union of multiple sets in a key", "1.0.0", 0},
    {"sdiffstore", sdiffstoreCommand, -3, W | D, 1, -1, 1, "set", "Stores the difference of multiple sets in a key", "1.0.0", 0},
    {"smove", smoveCommand, 4, W | F, 1, 2, 1, "set", "Moves a member from one set to another", "1.0.0", 0},
    {"sscan", sscanCommand, -3, R, 1, 1, 1, "set", "Iterates over members of a set", "2.0.0", 0},
    {0},
};
