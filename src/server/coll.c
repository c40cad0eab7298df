/*
 * coll.c -- helpers shared by the collection families (see coll.h).
 */
#include "server/coll.h"

#include <math.h>
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
    long long count = 10;
    const sarg *pat = NULL;
    for (int j = 3; j < c->argc; j += 2) {
        if (j + 1 >= c->argc) {
            addReplyErrorSyntax(c);
            return;
        }
        if (arg_is(&c->argv[j], "count")) {
            if (arg_ll(&c->argv[j + 1], &count)) {
                addReplyErrorNotInt(c);
                return;
            }
            if (count < 1) {
                addReplyErrorSyntax(c);
                return;
            }
        } else if (arg_is(&c->argv[j], "match")) {
            pat = &c->argv[j + 1];
            if (pat->len == 1 && pat->p[0] == '*') pat = NULL;
        } else {
            addReplyErrorSyntax(c);
            return;
        }
    }
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
