/*
 * t_hash.c -- hash commands.  A hash is one sub-key per field (family
 * KS_FAM_HASH, value = the field's value), ordered by field bytes, plus its
 * key's metadata holding the field count.  HGET is one point read;
 * HGETALL/HKEYS/HVALS/HSCAN are range scans of the hash's sub-keys.
 */
#include "server/t_hash.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/coll.h"
#include "server/commands.h"
#include "server/networking.h"
#include "server/util.h"

/* Look up the hash for a write: creates it in *m when absent.  Returns 1
 * existed, 0 created, -1 replied an error. */
static int hash_for_write(client *c, ks_meta *m)
{
    int r = coll_lookup(c, &c->argv[1], OBJ_HASH, m);
    if (r == 0 && coll_init(c, &c->argv[1], m, OBJ_HASH)) return -1;
    return r;
}

static void hset_generic(client *c, int hmset)
{
    if (c->argc % 2 == 1) {
        addReplyErrorFormat(c, "ERR wrong number of arguments for '%s' command", hmset ? "hmset" : "hset");
        return;
    }
    if (coll_check_elems(c, 2, 2, KS_MAX_ELEM)) return;
    ks_meta m, old;
    int r = hash_for_write(c, &m);
    if (r < 0) return;
    old = m;
    long long added = 0;
    for (int j = 2; j < c->argc; j += 2) {
        const char *v;
        size_t vl;
        int rc = r ? ks_sub_get(m.gen, KS_FAM_HASH, c->argv[j].p, c->argv[j].len, &v, &vl)
                   : OMEN_NOTFOUND;
        if (rc == OMEN_NOTFOUND) {
            /* A field repeated in one HSET counts once. */
            int dup = 0;
            for (int i = 2; i < j && !dup; i += 2)
                dup = c->argv[i].len == c->argv[j].len &&
                      memcmp(c->argv[i].p, c->argv[j].p, c->argv[j].len) == 0;
            if (!dup) added++;
        } else if (rc) {
            coll_storage_error(c, rc);
            return;
        }
        rc = ks_sub_put(m.gen, KS_FAM_HASH, c->argv[j].p, c->argv[j].len, c->argv[j + 1].p,
                        c->argv[j + 1].len);
        if (rc) {
            coll_storage_error(c, rc);
            return;
        }
    }
    m.count += (uint64_t)added;
    if (coll_save(c, &c->argv[1], &m, r ? &old : NULL)) return;
    if (hmset)
        addReplyOK(c);
    else
        addReplyLongLong(c, added);
}

static void hsetCommand(client *c) { hset_generic(c, 0); }
static void hmsetCommand(client *c) { hset_generic(c, 1); }

static void hsetnxCommand(client *c)
{
    if (coll_check_elems(c, 2, 1, KS_MAX_ELEM)) return;
    ks_meta m, old;
    int r = hash_for_write(c, &m);
    if (r < 0) return;
    old = m;
    if (r) {
        const char *v;
        size_t vl;
        int rc = ks_sub_get(m.gen, KS_FAM_HASH, c->argv[2].p, c->argv[2].len, &v, &vl);
        if (rc == OMEN_OK) {
            addReplyLongLong(c, 0);
            return;
        }
        if (rc != OMEN_NOTFOUND) {
            coll_storage_error(c, rc);
            return;
        }
    }
    int rc = ks_sub_put(m.gen, KS_FAM_HASH, c->argv[2].p, c->argv[2].len, c->argv[3].p, c->argv[3].len);
    if (rc) {
        coll_storage_error(c, rc);
        return;
    }
    m.count++;
    if (coll_save(c, &c->argv[1], &m, r ? &old : NULL)) return;
    addReplyLongLong(c, 1);
}

static void hgetCommand(client *c)
{
    ks_meta m;
    int r = coll_lookup(c, &c->argv[1], OBJ_HASH, &m);
    if (r < 0) return;
    const char *v;
    size_t vl;
    int rc = r ? ks_sub_get(m.gen, KS_FAM_HASH, c->argv[2].p, c->argv[2].len, &v, &vl) : OMEN_NOTFOUND;
    if (rc == OMEN_NOTFOUND)
        addReplyNull(c);
    else if (rc)
        coll_storage_error(c, rc);
    else
        addReplyBulk(c, v, vl);
}

static void hmgetCommand(client *c)
{
    ks_meta m;
    int r = coll_lookup(c, &c->argv[1], OBJ_HASH, &m);
    if (r < 0) return;
    addReplyArrayLen(c, c->argc - 2);
    for (int j = 2; j < c->argc; j++) {
        const char *v;
        size_t vl;
        int rc = r ? ks_sub_get(m.gen, KS_FAM_HASH, c->argv[j].p, c->argv[j].len, &v, &vl) : OMEN_NOTFOUND;
        if (rc == OMEN_OK)
            addReplyBulk(c, v, vl);
        else
            addReplyNull(c); /* a storage error mid-array cannot be an error reply */
    }
}

static void hdelCommand(client *c)
{
    ks_meta m, old;
    int r = coll_lookup(c, &c->argv[1], OBJ_HASH, &m);
    if (r <= 0) {
        if (r == 0) addReplyLongLong(c, 0);
        return;
    }
    old = m;
    long long deleted = 0;
    for (int j = 2; j < c->argc && m.count > 0; j++) {
        const char *v;
        size_t vl;
        int rc = ks_sub_get(m.gen, KS_FAM_HASH, c->argv[j].p, c->argv[j].len, &v, &vl);
        if (rc == OMEN_NOTFOUND) continue;
        if (!rc) rc = ks_sub_del(m.gen, KS_FAM_HASH, c->argv[j].p, c->argv[j].len);
        if (rc) {
            coll_storage_error(c, rc);
            return;
        }
        deleted++;
        m.count--;
    }
    if (deleted && coll_save(c, &c->argv[1], &m, &old)) return;
    addReplyLongLong(c, deleted);
}

static void hlenCommand(client *c)
{
    ks_meta m;
    int r = coll_lookup(c, &c->argv[1], OBJ_HASH, &m);
    if (r < 0) return;
    addReplyLongLong(c, r ? (long long)m.count : 0);
}

static void hexistsCommand(client *c)
{
    ks_meta m;
    int r = coll_lookup(c, &c->argv[1], OBJ_HASH, &m);
    if (r < 0) return;
    const char *v;
    size_t vl;
    int rc = r ? ks_sub_get(m.gen, KS_FAM_HASH, c->argv[2].p, c->argv[2].len, &v, &vl) : OMEN_NOTFOUND;
    if (rc && rc != OMEN_NOTFOUND) {
        coll_storage_error(c, rc);
        return;
    }
    addReplyLongLong(c, rc == OMEN_OK);
}

static void hstrlenCommand(client *c)
{
    ks_meta m;
    int r = coll_lookup(c, &c->argv[1], OBJ_HASH, &m);
    if (r < 0) return;
    const char *v;
    size_t vl = 0;
    int rc = r ? ks_sub_get(m.gen, KS_FAM_HASH, c->argv[2].p, c->argv[2].len, &v, &vl) : OMEN_NOTFOUND;
    if (rc && rc != OMEN_NOTFOUND) {
        coll_storage_error(c, rc);
        return;
    }
    addReplyLongLong(c, rc == OMEN_OK ? (long long)vl : 0);
}

#define GA_KEYS 1
#define GA_VALS 2

static void getall_generic(client *c, int what)
{
    ks_meta m;
    int r = coll_lookup(c, &c->argv[1], OBJ_HASH, &m);
    if (r < 0) return;
    if (r == 0) {
        if (what == (GA_KEYS | GA_VALS))
            addReplyMapLen(c, 0);
        else
            addReplyArrayLen(c, 0);
        return;
    }
    omen_iter *it;
    int rc = ks_sub_iter(m.gen, KS_FAM_HASH, &it);
    if (rc) {
        coll_storage_error(c, rc);
        return;
    }
    size_t h = addReplyDeferredLen(c);
    long long n = 0;
    for (omen_iter_seek_first(it); omen_iter_valid(it); omen_iter_next(it)) {
        size_t el, vl;
        const char *e = ks_sub_elem(it, &el);
        if (what & GA_KEYS) addReplyBulk(c, e, el);
        if (what & GA_VALS) {
            const char *v = omen_iter_value(it, &vl);
            addReplyBulk(c, v, vl);
        }
        n++;
    }
    rc = omen_iter_status(it);
    omen_iter_destroy(it);
    if (rc) { /* the partial reply is in the buffer: drop the client rather than send it */
        client_close_async(c);
        return;
    }
    if (what == (GA_KEYS | GA_VALS))
        setDeferredMapLen(c, h, n);
    else
        setDeferredArrayLen(c, h, n);
}

static void hgetallCommand(client *c) { getall_generic(c, GA_KEYS | GA_VALS); }
static void hkeysCommand(client *c) { getall_generic(c, GA_KEYS); }
static void hvalsCommand(client *c) { getall_generic(c, GA_VALS); }

/* HINCRBY / HINCRBYFLOAT: the hash for writing and the field's current
 * value.  -1 after replying an error; else HI_KEY if the hash existed and
 * HI_FIELD if the field did (then *v, *vl hold its value). */
enum { HI_KEY = 1, HI_FIELD = 2 };
static int hash_incr_begin(client *c, ks_meta *m, ks_meta *old, const char **v, size_t *vl)
{
    if (coll_check_elems(c, 2, 2, KS_MAX_ELEM)) return -1;
    int r = hash_for_write(c, m);
    if (r <= 0) return r;
    *old = *m;
    int rc = ks_sub_get(m->gen, KS_FAM_HASH, c->argv[2].p, c->argv[2].len, v, vl);
    if (rc == OMEN_NOTFOUND) return HI_KEY;
    if (rc) {
        coll_storage_error(c, rc);
        return -1;
    }
    return HI_KEY | HI_FIELD;
}

/* Store the field's new text b[0..bl) and the hash: 0, or -1 after replying
 * an error.  st is what hash_incr_begin returned. */
static int hash_incr_end(client *c, ks_meta *m, const ks_meta *old, int st, const char *b, size_t bl)
{
    int rc = ks_sub_put(m->gen, KS_FAM_HASH, c->argv[2].p, c->argv[2].len, b, bl);
    if (rc) {
        coll_storage_error(c, rc);
        return -1;
    }
    if (!(st & HI_FIELD)) m->count++;
    return coll_save(c, &c->argv[1], m, (st & HI_KEY) ? old : NULL) ? -1 : 0;
}

static void hincrbyCommand(client *c)
{
    long long incr, cur = 0;
    if (arg_ll(&c->argv[3], &incr)) {
        addReplyErrorNotInt(c);
        return;
    }
    ks_meta m, old;
    const char *v;
    size_t vl;
    int st = hash_incr_begin(c, &m, &old, &v, &vl);
    if (st < 0) return;
    if ((st & HI_FIELD) && str_ll(v, vl, &cur)) {
        addReplyError(c, "ERR hash value is not an integer");
        return;
    }
    if ((incr < 0 && cur < 0 && incr < LLONG_MIN - cur) ||
        (incr > 0 && cur > 0 && incr > LLONG_MAX - cur)) {
        addReplyError(c, "ERR increment or decrement would overflow");
        return;
    }
    cur += incr;
    char b[32];
    int bl = ll_fmt(b, cur);
    if (hash_incr_end(c, &m, &old, st, b, (size_t)bl)) return;
    addReplyLongLong(c, cur);
}

static void hincrbyfloatCommand(client *c)
{
    long double incr, cur = 0;
    if (arg_long_double(&c->argv[3], &incr)) {
        addReplyError(c, "ERR value is not a valid float");
        return;
    }
    if (isnan(incr) || isinf(incr)) {
        addReplyError(c, "ERR value is NaN or Infinity");
        return;
    }
    ks_meta m, old;
    const char *v;
    size_t vl;
    int st = hash_incr_begin(c, &m, &old, &v, &vl);
    if (st < 0) return;
    if (st & HI_FIELD) {
        sarg a = {(char *)v, vl};
        if (arg_long_double(&a, &cur)) {
            addReplyError(c, "ERR hash value is not a float");
            return;
        }
    }
    cur += incr;
    if (isnan(cur) || isinf(cur)) {
        addReplyError(c, "ERR increment would produce NaN or Infinity");
        return;
    }
    char b[LD_HUMAN_MAX];
    int bl = ld_fmt_human(b, sizeof b, cur);
    if (bl < 0) {
        addReplyError(c, "ERR increment would produce NaN or Infinity");
        return;
    }
    if (hash_incr_end(c, &m, &old, st, b, (size_t)bl)) return;
    addReplyBulk(c, b, (size_t)bl);
}

static void hrandfieldCommand(client *c) { coll_randmember(c, OBJ_HASH, KS_FAM_HASH, "withvalues", 0); }

static void hscanCommand(client *c) { coll_scan(c, OBJ_HASH, KS_FAM_HASH, SCAN_VALUE); }

#define W CMD_WRITE
#define R CMD_READONLY
#define F CMD_FAST
#define D CMD_DENYOOM
command hash_commands[] = {
    {"hset", hsetCommand, -4, W | D | F, 1, 1, 1, "hash", "Creates or modifies the value of a field in a hash", "2.0.0", 0},
    {"hmset", hmsetCommand, -4, W | D | F, 1, 1, 1, "hash", "Sets the values of multiple fields", "2.0.0", 0},
    {"hsetnx", hsetnxCommand, 4, W | D | F, 1, 1, 1, "hash", "Sets the value of a field in a hash only when the field doesn't exist", "2.0.0", 0},
    {"hget", hgetCommand, 3, R | F, 1, 1, 1, "hash", "Returns the value of a field in a hash", "2.0.0", 0},
    {"hmget", hmgetCommand, -3, R | F, 1, 1, 1, "hash", "Returns the values of all fields in a hash", "2.0.0", 0},
    {"hdel", hdelCommand, -3, W | F, 1, 1, 1, "hash", "Deletes one or more fields and their values from a hash", "2.0.0", 0},
    {"hlen", hlenCommand, 2, R | F, 1, 1, 1, "hash", "Returns the number of fields in a hash", "2.0.0", 0},
    {"hexists", hexistsCommand, 3, R | F, 1, 1, 1, "hash", "Determines whether a field exists in a hash", "2.0.0", 0},
    {"hstrlen", hstrlenCommand, 3, R | F, 1, 1, 1, "hash", "Returns the length of the value of a field", "3.2.0", 0},
    {"hgetall", hgetallCommand, 2, R, 1, 1, 1, "hash", "Returns all fields and values in a hash", "2.0.0", 0},
    {"hkeys", hkeysCommand, 2, R, 1, 1, 1, "hash", "Returns all fields in a hash", "2.0.0", 0},
    {"hvals", hvalsCommand, 2, R, 1, 1, 1, "hash", "Returns all values in a hash", "2.0.0", 0},
    {"hincrby", hincrbyCommand, 4, W | D | F, 1, 1, 1, "hash", "Increments the integer value of a field in a hash by a number", "2.0.0", 0},
    {"hincrbyfloat", hincrbyfloatCommand, 4, W | D | F, 1, 1, 1, "hash", "Increments the floating point value of a field by a number", "2.6.0", 0},
    {"hrandfield", hrandfieldCommand, -2, R, 1, 1, 1, "hash", "Returns one or more random fields from a hash", "6.2.0", 0},
    {"hscan", hscanCommand, -3, R, 1, 1, 1, "hash", "Iterates over fields and values of a hash", "2.8.0", 0},
    {0},
};
