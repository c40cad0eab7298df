/*
 * coll.c -- helpers shared by the collection families (see coll.h).
 */
#include "server/coll.h"

#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/commands.h"
#include "server/keys.h"
#include "server/networking.h"
#include "server/t_string.h"
#include "server/util.h"

void coll_storage_error(client *c, int rc) { reply_storage_error(c, rc); }

int coll_lookup(client *c, const sarg *k, int type, ks_meta *m)
{
    int r = ks_lookup_reply(c, k->p, k->len, type, m);
    if (c->cmd && (c->cmd->flags & CMD_WRITE)) return r; /* Redis counts reads only */
    if (r > 0) server.stat_keyspace_hits++;
    if (r == 0) server.stat_keyspace_misses++;
    return r;
}

int coll_init(client *c, const sarg *k, ks_meta *m, int type)
{
    /* Checked before any element is written under the new generation:
     * elements of a key that can never be stored would be orphans. */
    if (k->len > KS_MAX_KEY) {
        addReplyError(c, "ERR key too long");
        return -1;
    }
    memset(m, 0, sizeof *m);
    m->type = type;
    m->gen = ks_new_gen();
    return 0;
}

int coll_save(client *c, const sarg *k, ks_meta *m, const ks_meta *old)
{
    int rc = ks_collection_save(k->p, k->len, m, old != NULL, old);
    if (rc) {
        coll_storage_error(c, rc);
        return -1;
    }
    return 0;
}

int coll_check_elems(client *c, int from, int step, size_t max)
{
    for (int j = from; j < c->argc; j += step) {
        if (c->argv[j].len > max) {
            addReplyErrorFormat(c, "ERR element too large (fields and members are at most %zu bytes)", max);
            return -1;
        }
    }
    return 0;
}

int coll_fmt_score(char *b, size_t cap, double d)
{
    if (isinf(d)) return snprintf(b, cap, "%s", d > 0 ? "inf" : "-inf");
    return snprintf(b, cap, "%.17g", d);
}

uint64_t coll_random(uint64_t n)
{
    /* random() gives 31 bits: draw 62 and reject the biased tail. */
    uint64_t lim = UINT64_MAX - UINT64_MAX % n;
    for (;;) {
        uint64_t r = ((uint64_t)random() << 33) ^ ((uint64_t)random() << 2) ^ (uint64_t)random();
        if (r < lim) return r % n;
    }
}

typedef struct scan_item {
    char *elem;
    size_t elen;
    char *val;
    size_t vlen;
} scan_item;

void coll_reply_iter(client *c, omen_iter *it, int values, int as_set)
{
    size_t h = addReplyDeferredLen(c);
    long long n = 0;
    for (omen_iter_seek_first(it); omen_iter_valid(it); omen_iter_next(it), n++) {
        size_t l;
        const char *p = values ? omen_iter_value(it, &l) : ks_sub_elem(it, &l);
        addReplyBulk(c, p, l);
    }
    int rc = omen_iter_status(it);
    omen_iter_destroy(it);
    if (rc) {
        client_close_async(c);
        return;
    }
    if (as_set)
        setDeferredSetLen(c, h, n);
    else
        setDeferredArrayLen(c, h, n);
}

void coll_scan(client *c, int type, int fam, int what)
{
    uint64_t cur;
    if (parse_cursor(c, &c->argv[2], &cur)) return;
    /* Redis's order: cursor, then the key (absent: an empty scan), then options. */
    ks_meta m;
    int r = coll_lookup(c, &c->argv[1], type, &m);
    if (r < 0) return;
    if (r == 0) {
        addReplyArrayLen(c, 2);
        addReplyBulkCString(c, "0");
        addReplyArrayLen(c, 0);
        return;
    }
    long long count;
    const sarg *pat;
    if (scan_options(c, 3, &count, &pat, NULL)) return;
    const char *from = NULL;
    size_t fromlen = 0;
    if (cur != 0 && cursor_load(cur, &from, &fromlen)) {
        addReplyError(c, "ERR invalid cursor");
        return;
    }
    omen_iter *it;
    int rc = ks_sub_iter_range(m.gen, fam, from, fromlen, NULL, 0, &it);
    if (rc) {
        coll_storage_error(c, rc);
        return;
    }
    omen_iter_seek_first(it);
    scan_item *items = NULL;
    size_t n = 0, cap = 0;
    long long seen = 0;
    uint64_t next = 0;
    for (; omen_iter_valid(it); omen_iter_next(it)) {
        size_t el, vl;
        const char *e = ks_sub_elem(it, &el);
        if (seen >= count) {
            next = cursor_save(e, el);
            break;
        }
        seen++;
        if (pat && !glob_match(pat->p, pat->len, e, el, 0)) continue;
        const char *v = omen_iter_value(it, &vl);
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            scan_item *ni = realloc(items, cap * sizeof *ni);
            if (!ni) break;
            items = ni;
        }
        scan_item *si = &items[n];
        memset(si, 0, sizeof *si);
        char sb[64];
        if (what == SCAN_SCORE && vl == 8) {
            vl = (size_t)coll_fmt_score(sb, sizeof sb, ks_score_decode((const unsigned char *)v));
            v = sb;
        }
        si->elem = malloc(el + 1);
        si->val = what != SCAN_ELEM ? malloc(vl + 1) : NULL;
        if (!si->elem || (what != SCAN_ELEM && !si->val)) {
            free(si->elem);
            free(si->val);
            break;
        }
        memcpy(si->elem, e, el);
        si->elen = el;
        if (si->val) {
            memcpy(si->val, v, vl);
            si->vlen = vl;
        }
        n++;
    }
    rc = omen_iter_status(it);
    omen_iter_destroy(it);
    if (rc) {
        for (size_t i = 0; i < n; i++) free(items[i].elem), free(items[i].val);
        free(items);
        coll_storage_error(c, rc);
        return;
    }
    addReplyArrayLen(c, 2);
    addReplyBulkLongLong(c, (long long)next);
    addReplyArrayLen(c, (long long)(what == SCAN_ELEM ? n : 2 * n));
    for (size_t i = 0; i < n; i++) {
        addReplyBulk(c, items[i].elem, items[i].elen);
        if (what != SCAN_ELEM) addReplyBulk(c, items[i].val, items[i].vlen);
        free(items[i].elem);
        free(items[i].val);
    }
    free(items);
}

/* ---- random elements ------------------------------------------------------ */

void coll_elems_free(coll_elem *v, size_t n)
{
    if (!v) return;
    for (size_t i = 0; i < n; i++) {
        free(v[i].p);
        free(v[i].v);
    }
    free(v);
}

static int copy_elem(coll_elem *d, omen_iter *it, int values)
{
    size_t el, vl = 0;
    const char *e = ks_sub_elem(it, &el);
    const char *v = values ? omen_iter_value(it, &vl) : NULL;
    d->p = malloc(el + 1);
    d->v = values ? malloc(vl + 1) : NULL;
    if (!d->p || (values && !d->v)) {
        free(d->p);
        free(d->v);
        d->p = d->v = NULL;
        return OMEN_NOMEM;
    }
    memcpy(d->p, e, el);
    d->len = el;
    if (values) {
        memcpy(d->v, v, vl);
        d->vlen = vl;
    }
    return OMEN_OK;
}

typedef struct pick {
    uint64_t rank;
    size_t slot;
} pick;

static int pick_cmp(const void *a, const void *b)
{
    const pick *x = a, *y = b;
    return x->rank < y->rank ? -1 : x->rank > y->rank;
}

int coll_sample(const ks_meta *m, int fam, uint64_t k, int repeat, int values, coll_elem **out)
{
    *out = NULL;
    if (k > SIZE_MAX / sizeof(pick) || (!repeat && k > m->count)) return OMEN_INVALID;
    if (m->count == 0 && k) return OMEN_CORRUPT;
    coll_elem *v = calloc(k ? k : 1, sizeof *v);
    if (!v) return OMEN_NOMEM;
    omen_iter *it;
    int rc = ks_sub_iter(m->gen, fam, &it);
    if (rc) {
        free(v);
        return rc;
    }
    uint64_t got = 0;
    if (k == 1) {
        /* One element: walk to a random rank from the nearer end. */
        uint64_t i = coll_random(m->count);
        if (i < m->count / 2) {
            omen_iter_seek_first(it);
            for (uint64_t s = 0; s < i && omen_iter_valid(it); s++) omen_iter_next(it);
        } else {
            omen_iter_seek_last(it);
            for (uint64_t s = m->count - 1; s > i && omen_iter_valid(it); s--) omen_iter_prev(it);
        }
        if (omen_iter_valid(it) && !(rc = copy_elem(&v[0], it, values))) got = 1;
    } else if (!repeat) {
        /* Selection sampling: each element is taken with probability
         * (still needed) / (still left), which makes every k-subset
         * equally likely; then shuffle (Redis's order is random too). */
        uint64_t seen = 0;
        for (omen_iter_seek_first(it); omen_iter_valid(it) && got < k; omen_iter_next(it), seen++) {
            uint64_t left = m->count > seen ? m->count - seen : 1;
            if (coll_random(left) >= k - got) continue;
            if ((rc = copy_elem(&v[got], it, values))) break;
            got++;
        }
        for (uint64_t i = got; i > 1; i--) {
            uint64_t j = coll_random(i);
            coll_elem t = v[i - 1];
            v[i - 1] = v[j];
            v[j] = t;
        }
    } else {
        /* With repetition: k random ranks, sorted, served by one scan. */
        pick *p = malloc((k ? k : 1) * sizeof *p);
        if (!p) {
            rc = OMEN_NOMEM;
        } else {
            for (uint64_t i = 0; i < k; i++) p[i] = (pick){coll_random(m->count), (size_t)i};
            qsort(p, (size_t)k, sizeof *p, pick_cmp);
            uint64_t rank = 0;
            for (omen_iter_seek_first(it); omen_iter_valid(it) && got < k && !rc; omen_iter_next(it), rank++)
                for (; got < k && p[got].rank == rank && !rc; got++) rc = copy_elem(&v[p[got].slot], it, values);
            free(p);
        }
    }
    if (!rc) rc = omen_iter_status(it);
    omen_iter_destroy(it);
    if (!rc && got != k) rc = OMEN_CORRUPT; /* fewer elements than counted */
    if (rc) {
        coll_elems_free(v, k);
        return rc;
    }
    *out = v;
    return OMEN_OK;
}

void coll_randmember(client *c, int type, int fam, const char *word, int scores)
{
    long long count = 0;
    int with = 0, has = c->argc >= 3;
    if (has) {
        if (arg_ll(&c->argv[2], &count)) {
            addReplyErrorNotInt(c);
            return;
        }
        if (count == LLONG_MIN) {
            addReplyError(c, "ERR value is out of range, value must between -9223372036854775807 and "
                             "9223372036854775807");
            return;
        }
        if (c->argc > 4 || (c->argc == 4 && !arg_is(&c->argv[3], word))) {
            addReplyErrorSyntax(c);
            return;
        }
        with = c->argc == 4;
        if (with && (count < -LLONG_MAX / 2 || count > LLONG_MAX / 2)) {
            addReplyError(c, "ERR value is out of range");
            return;
        }
    }
    ks_meta m;
    int r = coll_lookup(c, &c->argv[1], type, &m);
    if (r < 0) return;
    if (r == 0 || (has && count == 0)) {
        if (has)
            addReplyArrayLen(c, 0);
        else
            addReplyNull(c);
        return;
    }
    int repeat = count < 0;
    uint64_t k = !has ? 1 : repeat ? (uint64_t)-count : (uint64_t)count < m.count ? (uint64_t)count : m.count;
    if (repeat && k > COLL_REPEAT_MAX) {
        addReplyErrorFormat(c, "ERR count is too large (at most %d with repetition)", COLL_REPEAT_MAX);
        return;
    }
    coll_elem *v;
    int rc = coll_sample(&m, fam, k, repeat, with, &v);
    if (rc) {
        coll_storage_error(c, rc);
        return;
    }
    if (!has) {
        addReplyBulk(c, v[0].p, v[0].len);
    } else {
        addReplyArrayLen(c, (long long)(with && c->resp < 3 ? 2 * k : k));
        for (uint64_t i = 0; i < k; i++) {
            if (with && c->resp >= 3) addReplyArrayLen(c, 2);
            addReplyBulk(c, v[i].p, v[i].len);
            if (!with) continue;
            if (scores)
                addReplyDouble(c, v[i].vlen == 8 ? ks_score_decode((const unsigned char *)v[i].v) : 0);
            else
                addReplyBulk(c, v[i].v, v[i].vlen);
        }
    }
    coll_elems_free(v, k);
}
