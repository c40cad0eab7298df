/*
 * t_list.c -- list commands.  A list is one sub-key per element (family
 * KS_FAM_LIST) named by a signed 64-bit position; its metadata holds head
 * (position of the first element) and tail (one past the last).
 *
 * Invariant: positions are contiguous, tail - head == count, so element i
 * lives at position head + i: LINDEX/LSET are one point operation, LRANGE
 * is one range scan from head + start, pushes and pops at either end touch
 * one element.  LREM keeps the invariant by moving the elements on the
 * shorter side of the removed ones (never the whole list unless the
 * removals span it).
 */
#include "server/t_list.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/coll.h"
#include "server/commands.h"
#include "server/networking.h"
#include "server/util.h"

static int put_at(const ks_meta *m, int64_t pos, const void *v, size_t vl)
{
    unsigned char p[8];
    ks_list_pos(pos, p);
    return ks_sub_put(m->gen, KS_FAM_LIST, p, 8, v, vl);
}

static int del_at(const ks_meta *m, int64_t pos)
{
    unsigned char p[8];
    ks_list_pos(pos, p);
    return ks_sub_del(m->gen, KS_FAM_LIST, p, 8);
}

static int get_at(const ks_meta *m, int64_t pos, const char **v, size_t *vl)
{
    unsigned char p[8];
    ks_list_pos(pos, p);
    return ks_sub_get(m->gen, KS_FAM_LIST, p, 8, v, vl);
}

/* Iterator over positions [from, to). */
static int iter_at(const ks_meta *m, int64_t from, int64_t to, omen_iter **it)
{
    unsigned char lo[8], hi[8];
    ks_list_pos(from, lo);
    ks_list_pos(to, hi);
    return ks_sub_iter_range(m->gen, KS_FAM_LIST, lo, 8, hi, 8, it);
}

static void push_generic(client *c, int left, int only_existing)
{
    ks_meta m, old;
    int r = coll_lookup(c, &c->argv[1], OBJ_LIST, &m);
    if (r < 0) return;
    if (r == 0) {
        if (only_existing) {
            addReplyLongLong(c, 0);
            return;
        }
        if (coll_init(c, &c->argv[1], &m, OBJ_LIST)) return;
    }
    old = m;
    for (int j = 2; j < c->argc; j++) {
        int64_t pos = left ? m.head - 1 : m.tail;
        int rc = put_at(&m, pos, c->argv[j].p, c->argv[j].len);
        if (rc) {
            coll_storage_error(c, rc);
            return;
        }
        if (left)
            m.head--;
        else
            m.tail++;
        m.count++;
    }
    if (coll_save(c, &c->argv[1], &m, r ? &old : NULL)) return;
    addReplyLongLong(c, (long long)m.count);
}

static void lpushCommand(client *c) { push_generic(c, 1, 0); }
static void rpushCommand(client *c) { push_generic(c, 0, 0); }
static void lpushxCommand(client *c) { push_generic(c, 1, 1); }
static void rpushxCommand(client *c) { push_generic(c, 0, 1); }

static void pop_generic(client *c, int left)
{
    long long count = -1;
    if (c->argc > 3) {
        addReplyErrorArity(c);
        return;
    }
    if (c->argc == 3) {
        if (arg_ll(&c->argv[2], &count) || count < 0) {
            addReplyError(c, "ERR value is out of range, must be positive");
            return;
        }
    }
    ks_meta m, old;
    int r = coll_lookup(c, &c->argv[1], OBJ_LIST, &m);
    if (r < 0) return;
    if (r == 0) {
        if (count < 0)
            addReplyNull(c);
        else
            addReplyNullArray(c);
        return;
    }
    old = m;
    if (count < 0) {
        const char *v;
        size_t vl;
        int64_t pos = left ? m.head : m.tail - 1;
        int rc = get_at(&m, pos, &v, &vl);
        if (rc) {
            coll_storage_error(c, rc == OMEN_NOTFOUND ? OMEN_CORRUPT : rc);
            return;
        }
        addReplyBulk(c, v, vl);
        rc = del_at(&m, pos);
        if (rc) {
            client_close_async(c);
            return;
        }
        if (left)
            m.head++;
        else
            m.tail--;
        m.count--;
        if (m.count == 0) m.head = m.tail = 0;
        if (coll_save(c, &c->argv[1], &m, &old)) client_close_async(c);
        return;
    }
    uint64_t n = (uint64_t)count < m.count ? (uint64_t)count : m.count;
    addReplyArrayLen(c, (long long)n);
    if (n == 0) return;
    int64_t from = left ? m.head : m.tail - (int64_t)n, to = from + (int64_t)n;
    omen_iter *it;
    int rc = iter_at(&m, from, to, &it);
    if (rc) {
        client_close_async(c);
        return;
    }
    uint64_t got = 0;
    if (left) {
        for (omen_iter_seek_first(it); omen_iter_valid(it) && got < n; omen_iter_next(it), got++) {
            size_t vl;
            const char *v = omen_iter_value(it, &vl);
            addReplyBulk(c, v, vl);
        }
    } else {
        for (omen_iter_seek_last(it); omen_iter_valid(it) && got < n; omen_iter_prev(it), got++) {
            size_t vl;
            const char *v = omen_iter_value(it, &vl);
            addReplyBulk(c, v, vl);
        }
    }
    omen_iter_destroy(it);
    if (got != n) { /* positions missing: the list is damaged; send nothing */
        client_close_async(c);
        return;
    }
    if (n < m.count) {
        for (int64_t p = from; p < to; p++) {
            if (del_at(&m, p)) {
                client_close_async(c);
                return;
            }
        }
        if (left)
            m.head = to;
        else
            m.tail = from;
    }
    /* Popping everything deletes the key: its generation is reclaimed in
     * the background, so the elements need no deletes of their own. */
    m.count -= n;
    if (coll_save(c, &c->argv[1], &m, &old)) client_close_async(c);
}

static void lpopCommand(client *c) { pop_generic(c, 1); }
static void rpopCommand(client *c) { pop_generic(c, 0); }

static void llenCommand(client *c)
{
    ks_meta m;
    int r = coll_lookup(c, &c->argv[1], OBJ_LIST, &m);
    if (r < 0) return;
    addReplyLongLong(c, r ? (long long)m.count : 0);
}

/* Redis's start/stop normalisation: 0 and the range [*s, *e], or -1 if empty. */
static int norm_range(long long len, long long *s, long long *e)
{
    if (*s < 0) *s += len;
    if (*e < 0) *e += len;
    if (*s < 0) *s = 0;
    if (*s > *e || *s >= len) return -1;
    if (*e >= len) *e = len - 1;
    return 0;
}

static void lrangeCommand(client *c)
{
    long long s, e;
    if (arg_ll(&c->argv[2], &s) || arg_ll(&c->argv[3], &e)) {
        addReplyErrorNotInt(c);
        return;
    }
    ks_meta m;
    int r = coll_lookup(c, &c->argv[1], OBJ_LIST, &m);
    if (r < 0) return;
    if (r == 0 || norm_range((long long)m.count, &s, &e)) {
        addReplyArrayLen(c, 0);
        return;
    }
    omen_iter *it;
    int rc = iter_at(&m, m.head + s, m.head + e + 1, &it);
    if (rc) {
        coll_storage_error(c, rc);
        return;
    }
    coll_reply_iter(c, it, 1, 0);
}

static void lindexCommand(client *c)
{
    long long i;
    ks_meta m;
    int r = coll_lookup(c, &c->argv[1], OBJ_LIST, &m); /* the key first, as Redis */
    if (r < 0) return;
    if (r == 0) {
        addReplyNull(c);
        return;
    }
    if (arg_ll(&c->argv[2], &i)) {
        addReplyErrorNotInt(c);
        return;
    }
    if (r && i < 0) i += (long long)m.count;
    if (r == 0 || i < 0 || i >= (long long)m.count) {
        addReplyNull(c);
        return;
    }
    const char *v;
    size_t vl;
    int rc = get_at(&m, m.head + i, &v, &vl);
    if (rc)
        coll_storage_error(c, rc == OMEN_NOTFOUND ? OMEN_CORRUPT : rc);
    else
        addReplyBulk(c, v, vl);
}

static void lsetCommand(client *c)
{
    long long i;
    ks_meta m;
    int r = coll_lookup(c, &c->argv[1], OBJ_LIST, &m); /* the key first, as Redis */
    if (r < 0) return;
    if (r == 0) {
        addReplyError(c, "ERR no such key");
        return;
    }
    if (arg_ll(&c->argv[2], &i)) {
        addReplyErrorNotInt(c);
        return;
    }
    if (i < 0) i += (long long)m.count;
    if (i < 0 || i >= (long long)m.count) {
        addReplyError(c, "ERR index out of range");
        return;
    }
    int rc = put_at(&m, m.head + i, c->argv[3].p, c->argv[3].len);
    if (rc) {
        coll_storage_error(c, rc);
        return;
    }
    if (coll_save(c, &c->argv[1], &m, &m)) return;
    addReplyOK(c);
}

static void ltrimCommand(client *c)
{
    long long s, e;
    if (arg_ll(&c->argv[2], &s) || arg_ll(&c->argv[3], &e)) {
        addReplyErrorNotInt(c);
        return;
    }
    ks_meta m, old;
    int r = coll_lookup(c, &c->argv[1], OBJ_LIST, &m);
    if (r < 0) return;
    if (r == 0) {
        addReplyOK(c);
        return;
    }
    old = m;
    if (norm_range((long long)m.count, &s, &e)) {
        m.count = 0; /* the whole list goes: O(1), reclaimed in the background */
    } else {
        int64_t nh = m.head + s, nt = m.head + e + 1;
        for (int64_t p = m.head; p < nh; p++)
            if (del_at(&m, p)) goto fail;
        for (int64_t p = nt; p < m.tail; p++)
            if (del_at(&m, p)) goto fail;
        if (nh == m.head && nt == m.tail) {
            addReplyOK(c);
            return;
        }
        m.head = nh;
        m.tail = nt;
        m.count = (uint64_t)(nt - nh);
    }
    if (coll_save(c, &c->argv[1], &m, &old)) return;
    addReplyOK(c);
    return;
fail:
    coll_storage_error(c, OMEN_NOMEM);
}

typedef struct moved {
    char *v;
    size_t vl;
} moved;

static void lremCommand(client *c)
{
    long long cnt;
    if (arg_ll(&c->argv[2], &cnt)) {
        addReplyErrorNotInt(c);
        return;
    }
    ks_meta m, old;
    int r = coll_lookup(c, &c->argv[1], OBJ_LIST, &m);
    if (r < 0) return;
    if (r == 0) {
        addReplyLongLong(c, 0);
        return;
    }
    old = m;
    const sarg *el = &c->argv[3];
    unsigned long long limit = cnt == 0 ? ~0ull : cnt < 0 ? (unsigned long long)-(cnt + 1) + 1 : (unsigned long long)cnt;
    /* Pass 1: the positions to remove, in ascending order. */
    int64_t *rm = NULL;
    size_t nrm = 0, cap = 0;
    omen_iter *it;
    int rc = iter_at(&m, m.head, m.tail, &it);
    if (rc) {
        coll_storage_error(c, rc);
        return;
    }
    int64_t pos = cnt < 0 ? m.tail - 1 : m.head;
    if (cnt < 0)
        omen_iter_seek_last(it);
    else
        omen_iter_seek_first(it);
    while (omen_iter_valid(it) && nrm < limit) {
        size_t vl;
        const char *v = omen_iter_value(it, &vl);
        if (vl == el->len && memcmp(v, el->p, vl) == 0) {
            if (nrm == cap) {
                cap = cap ? cap * 2 : 16;
                int64_t *nr = realloc(rm, cap * sizeof *nr);
                if (!nr) {
                    rc = OMEN_NOMEM;
                    break;
                }
                rm = nr;
            }
            rm[nrm++] = pos;
        }
        if (cnt < 0) {
            omen_iter_prev(it);
            pos--;
        } else {
            omen_iter_next(it);
            pos++;
        }
    }
    if (!rc) rc = omen_iter_status(it);
    omen_iter_destroy(it);
    if (rc) {
        free(rm);
        coll_storage_error(c, rc);
        return;
    }
    if (nrm == 0) {
        addReplyLongLong(c, 0);
        return;
    }
    if (cnt < 0) /* collected backwards */
        for (size_t i = 0; i < nrm / 2; i++) {
            int64_t t = rm[i];
            rm[i] = rm[nrm - 1 - i];
            rm[nrm - 1 - i] = t;
        }
    if (nrm == m.count) {
        m.count = 0;
    } else {
        int64_t first = rm[0], last = rm[nrm - 1];
        /* Close the gaps from the cheaper side: shift the elements after
         * the first removal left, or those before the last one right. */
        int toward_head = (m.tail - first) <= (last - m.head + 1);
        int64_t lo = toward_head ? first : m.head, hi = toward_head ? m.tail : last + 1;
        size_t nm = (size_t)(hi - lo) - nrm;
        moved *mv = calloc(nm ? nm : 1, sizeof *mv);
        rc = mv ? iter_at(&m, lo, hi, &it) : OMEN_NOMEM;
        size_t k = 0, ri = 0;
        if (!rc) {
            int64_t p = lo;
            for (omen_iter_seek_first(it); omen_iter_valid(it); omen_iter_next(it), p++) {
                if (ri < nrm && rm[ri] == p) {
                    ri++;
                    continue;
                }
                size_t vl;
                const char *v = omen_iter_value(it, &vl);
                if (k >= nm || !(mv[k].v = malloc(vl + 1))) {
                    rc = OMEN_CORRUPT;
                    break;
                }
                memcpy(mv[k].v, v, vl);
                mv[k++].vl = vl;
            }
            if (!rc) rc = omen_iter_status(it);
            omen_iter_destroy(it);
            if (!rc && k != nm) rc = OMEN_CORRUPT;
        }
        if (!rc) {
            if (toward_head) {
                for (size_t i = 0; i < nm && !rc; i++) rc = put_at(&m, first + (int64_t)i, mv[i].v, mv[i].vl);
                for (int64_t p = first + (int64_t)nm; p < m.tail && !rc; p++) rc = del_at(&m, p);
                m.tail = first + (int64_t)nm;
            } else {
                int64_t base = last + 1 - (int64_t)nm;
                for (size_t i = 0; i < nm && !rc; i++) rc = put_at(&m, base + (int64_t)i, mv[i].v, mv[i].vl);
                for (int64_t p = m.head; p < base && !rc; p++) rc = del_at(&m, p);
                m.head = base;
            }
            m.count -= nrm;
        }
        for (size_t i = 0; i < k; i++) free(mv[i].v);
        free(mv);
        if (rc) {
            free(rm);
            coll_storage_error(c, rc);
            return;
        }
    }
    free(rm);
    if (coll_save(c, &c->argv[1], &m, &old)) return;
    addReplyLongLong(c, (long long)nrm);
}

/* ---- LMOVE RPOPLPUSH LINSERT LPOS ---------------------------------------- */

static int parse_side(const sarg *a, int *left)
{
    if (arg_is(a, "left")) *left = 1;
    else if (arg_is(a, "right")) *left = 0;
    else return -1;
    return 0;
}

static void lmove_generic(client *c, int from_left, int to_left)
{
    const sarg *sk = &c->argv[1], *dk = &c->argv[2];
    ks_meta sm, sold, dm, dold;
    int rs = coll_lookup(c, sk, OBJ_LIST, &sm);
    if (rs < 0) return;
    if (rs == 0) {
        addReplyNull(c);
        return;
    }
    sold = sm;
    int same = sk->len == dk->len && memcmp(sk->p, dk->p, sk->len) == 0;
    int rd = 1;
    if (!same) {
        rd = coll_lookup(c, dk, OBJ_LIST, &dm);
        if (rd < 0) return;
        if (rd == 0 && coll_init(c, dk, &dm, OBJ_LIST)) return;
        dold = dm;
    }
    const char *v;
    size_t vl;
    int64_t pos = from_left ? sm.head : sm.tail - 1;
    int rc = get_at(&sm, pos, &v, &vl);
    if (rc) {
        coll_storage_error(c, rc == OMEN_NOTFOUND ? OMEN_CORRUPT : rc);
        return;
    }
    char *val = malloc(vl + 1);
    if (!val) {
        coll_storage_error(c, OMEN_NOMEM);
        return;
    }
    memcpy(val, v, vl);
    rc = del_at(&sm, pos);
    if (from_left)
        sm.head++;
    else
        sm.tail--;
    sm.count--;
    ks_meta *d = same ? &sm : &dm;
    if (!rc) {
        if (d->count == 0) d->head = d->tail = 0;
        int64_t np = to_left ? d->head - 1 : d->tail;
        rc = put_at(d, np, val, vl);
        if (to_left)
            d->head--;
        else
            d->tail++;
        d->count++;
    }
    if (rc) {
        free(val);
        coll_storage_error(c, rc);
        return;
    }
    if ((!same && coll_save(c, sk, &sm, &sold)) || coll_save(c, dk, d, same ? &sold : rd ? &dold : NULL)) {
        free(val);
        return;
    }
    addReplyBulk(c, val, vl);
    free(val);
}

static void lmoveCommand(client *c)
{
    int from, to;
    if (parse_side(&c->argv[3], &from) || parse_side(&c->argv[4], &to)) {
        addReplyErrorSyntax(c);
        return;
    }
    lmove_generic(c, from, to);
}

static void rpoplpushCommand(client *c) { lmove_generic(c, 0, 1); }

static void linsertCommand(client *c)
{
    int after;
    if (arg_is(&c->argv[2], "after")) after = 1;
    else if (arg_is(&c->argv[2], "before")) after = 0;
    else {
        addReplyErrorSyntax(c);
        return;
    }
    ks_meta m, old;
    int r = coll_lookup(c, &c->argv[1], OBJ_LIST, &m);
    if (r <= 0) {
        if (r == 0) addReplyLongLong(c, 0);
        return;
    }
    old = m;
    const sarg *pivot = &c->argv[3], *el = &c->argv[4];
    omen_iter *it;
    int rc = iter_at(&m, m.head, m.tail, &it);
    if (rc) {
        coll_storage_error(c, rc);
        return;
    }
    int64_t pos = m.head, found = 0;
    int hit = 0; /* positions may be negative: no sentinel value */
    for (omen_iter_seek_first(it); omen_iter_valid(it); omen_iter_next(it), pos++) {
        size_t vl;
        const char *v = omen_iter_value(it, &vl);
        if (vl == pivot->len && memcmp(v, pivot->p, vl) == 0) {
            found = pos;
            hit = 1;
            break;
        }
    }
    rc = omen_iter_status(it);
    omen_iter_destroy(it);
    if (rc) {
        coll_storage_error(c, rc);
        return;
    }
    if (!hit) {
        addReplyLongLong(c, -1);
        return;
    }
    /* The new element goes at position p; open the slot by shifting the
     * shorter side outwards by one. */
    int64_t p = found + after;
    int left = p - m.head < m.tail - p;
    int64_t lo = left ? m.head : p, hi = left ? p : m.tail;
    size_t n = (size_t)(hi - lo);
    moved *mv = calloc(n ? n : 1, sizeof *mv);
    size_t k = 0;
    rc = mv ? (n ? iter_at(&m, lo, hi, &it) : OMEN_OK) : OMEN_NOMEM;
    if (!rc && n) {
        for (omen_iter_seek_first(it); omen_iter_valid(it) && k < n; omen_iter_next(it)) {
            size_t vl;
            const char *v = omen_iter_value(it, &vl);
            if (!(mv[k].v = malloc(vl + 1))) {
                rc = OMEN_NOMEM;
                break;
            }
            memcpy(mv[k].v, v, vl);
            mv[k++].vl = vl;
        }
        if (!rc) rc = omen_iter_status(it);
        omen_iter_destroy(it);
        if (!rc && k != n) rc = OMEN_CORRUPT;
    }
    for (size_t i = 0; i < k && !rc; i++) rc = put_at(&m, lo + (int64_t)i + (left ? -1 : 1), mv[i].v, mv[i].vl);
    if (!rc) rc = put_at(&m, left ? p - 1 : p, el->p, el->len);
    for (size_t i = 0; i < k; i++) free(mv[i].v);
    free(mv);
    if (rc) {
        coll_storage_error(c, rc);
        return;
    }
    if (left)
        m.head--;
    else
        m.tail++;
    m.count++;
    if (coll_save(c, &c->argv[1], &m, &old)) return;
    addReplyLongLong(c, (long long)m.count);
}

static void lposCommand(client *c)
{
    long long rank = 1, count = -1, maxlen = 0;
    for (int j = 3; j < c->argc; j += 2) {
        const sarg *o = &c->argv[j];
        if (j + 1 >= c->argc) {
            addReplyErrorSyntax(c);
            return;
        }
        long long v;
        int is_rank = arg_is(o, "rank"), is_count = arg_is(o, "count"), is_maxlen = arg_is(o, "maxlen");
        if (!is_rank && !is_count && !is_maxlen) {
            addReplyErrorSyntax(c);
            return;
        }
        if (arg_ll(&c->argv[j + 1], &v)) {
            addReplyErrorNotInt(c);
            return;
        }
        if (is_rank) {
            if (v == 0 || v == LLONG_MIN) {
                addReplyError(c, v ? "ERR value is out of range"
                                   : "ERR RANK can't be zero: use 1 to start from the first match, 2 from "
                                     "the second ... or use negative to start from the end of the list");
                return;
            }
            rank = v;
        } else if (is_count) {
            if (v < 0) {
                addReplyError(c, "ERR COUNT can't be negative");
                return;
            }
            count = v;
        } else {
            if (v < 0) {
                addReplyError(c, "ERR MAXLEN can't be negative");
                return;
            }
            maxlen = v;
        }
    }
    ks_meta m;
    int r = coll_lookup(c, &c->argv[1], OBJ_LIST, &m);
    if (r < 0) return;
    if (r == 0) {
        if (count >= 0)
            addReplyArrayLen(c, 0);
        else
            addReplyNull(c);
        return;
    }
    omen_iter *it;
    int rc = iter_at(&m, m.head, m.tail, &it);
    if (rc) {
        coll_storage_error(c, rc);
        return;
    }
    const sarg *el = &c->argv[2];
    int fwd = rank > 0;
    long long skip = (fwd ? rank : -rank) - 1, want = count < 0 ? 1 : count, seen = 0;
    size_t h = count >= 0 ? addReplyDeferredLen(c) : 0;
    long long n = 0, idx = fwd ? 0 : (long long)m.count - 1;
    if (fwd)
        omen_iter_seek_first(it);
    else
        omen_iter_seek_last(it);
    for (; omen_iter_valid(it) && (maxlen == 0 || seen < maxlen) && (want == 0 || n < want); seen++) {
        size_t vl;
        const char *v = omen_iter_value(it, &vl);
        if (vl == el->len && memcmp(v, el->p, vl) == 0) {
            if (skip > 0) {
                skip--;
            } else {
                if (count >= 0) addReplyLongLong(c, idx);
                n++;
                if (count < 0) break;
            }
        }
        if (fwd) {
            omen_iter_next(it);
            idx++;
        } else {
            omen_iter_prev(it);
            idx--;
        }
    }
    rc = omen_iter_status(it);
    omen_iter_destroy(it);
    if (count >= 0) {
        if (rc)
            client_close_async(c);
        else
            setDeferredArrayLen(c, h, n);
    } else if (rc) {
        coll_storage_error(c, rc);
    } else if (n) {
        addReplyLongLong(c, idx);
    } else {
        addReplyNull(c);
    }
}

#define W CMD_WRITE
#define R CMD_READONLY
#define F CMD_FAST
#define D CMD_DENYOOM
command list_commands[] = {
    {"lpush", lpushCommand, -3, W | D | F, 1, 1, 1, "list", "Prepends one or more elements to a list", "1.0.0", 0},
    {"rpush", rpushCommand, -3, W | D | F, 1, 1, 1, "list", "Appends one or more elements to a list", "1.0.0", 0},
    {"lpushx", lpushxCommand, -3, W | D | F, 1, 1, 1, "list", "Prepends elements to a list only when the list exists", "2.2.0", 0},
    {"rpushx", rpushxCommand, -3, W | D | F, 1, 1, 1, "list", "Appends elements to a list only when the list exists", "2.2.0", 0},
    {"lpop", lpopCommand, -2, W | F, 1, 1, 1, "list", "Returns the first elements in a list after removing it", "1.0.0", 0},
    {"rpop", rpopCommand, -2, W | F, 1, 1, 1, "list", "Returns and removes the last elements of a list", "1.0.0", 0},
    {"llen", llenCommand, 2, R | F, 1, 1, 1, "list", "Returns the length of a list", "1.0.0", 0},
    {"lrange", lrangeCommand, 4, R, 1, 1, 1, "list", "Returns a range of elements from a list", "1.0.0", 0},
    {"lindex", lindexCommand, 3, R, 1, 1, 1, "list", "Returns an element from a list by its index", "1.0.0", 0},
    {"lset", lsetCommand, 4, W | D, 1, 1, 1, "list", "Sets the value of an element in a list by its index", "1.0.0", 0},
    {"lmove", lmoveCommand, 5, W | D, 1, 2, 1, "list", "Returns an element after popping it from one list and pushing it to another", "6.2.0", 0},
    {"rpoplpush", rpoplpushCommand, 3, W | D, 1, 2, 1, "list", "Returns the last element of a list after removing and pushing it to another list", "1.2.0", 0},
    {"linsert", linsertCommand, 5, W | D, 1, 1, 1, "list", "Inserts an element before or after another element in a list", "2.2.0", 0},
    {"lpos", lposCommand, -3, R, 1, 1, 1, "list", "Returns the index of matching elements in a list", "6.0.6", 0},
    {"lrem", lremCommand, 4, W, 1, 1, 1, "list", "Removes elements from a list", "1.0.0", 0},
    {"ltrim", ltrimCommand, 4, W, 1, 1, 1, "list", "Removes elements from both ends a list", "1.0.0", 0},
    {0},
};
