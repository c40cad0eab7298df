/*
 * t_string.c -- string commands over the keyspace (strings are stored
 * inline in their key's metadata entry: one engine read per GET).
 */
#include "server/t_string.h"

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/ae.h"
#include "server/commands.h"
#include "server/expire.h"
#include "server/keyspace.h"
#include "server/networking.h"
#include "server/util.h"

/* 1 if a string of old + add bytes would exceed proto-max-bulk-len (Redis
 * bounds APPEND and SETRANGE results by it); replies the error. */
static int string_too_long(client *c, long long old, long long add)
{
    long long max = server.proto_max_bulk_len;
    if (add <= max && old <= max - add) return 0;
    addReplyError(c, "ERR string exceeds maximum allowed size (proto-max-bulk-len)");
    return 1;
}

void reply_storage_error(client *c, int rc)
{
    if (rc == OMEN_TOOBIG)
        addReplyError(c, "ERR string exceeds maximum allowed size (proto-max-bulk-len)");
    else
        addReplyErrorFormat(c, "ERR storage error: %s (%s)", omen_strerror(rc), omen_last_error());
}

/* 1 string found, 0 absent, -1 replied an error. */
static int get_string(client *c, const sarg *k, ks_meta *m)
{
    int r = ks_lookup_reply(c, k->p, k->len, OBJ_STRING, m);
    if (r > 0) server.stat_keyspace_hits++;
    if (r == 0) server.stat_keyspace_misses++;
    return r;
}

static void getCommand(client *c)
{
    ks_meta m;
    int r = get_string(c, &c->argv[1], &m);
    if (r < 0) return;
    if (r == 0)
        addReplyNull(c);
    else
        addReplyBulk(c, m.sval, m.slen);
}

#define SET_NX 1
#define SET_XX 2
#define SET_KEEPTTL 4
#define SET_GET 8
#define SET_PERSIST 16

/* SET's or GETEX's options.  Redis checks them in two steps: the words
 * first (a misplaced one is a syntax error even after a bad number), the
 * expiry's value later (SET: before the key is read; GETEX: only once the
 * key is found to be a string), so its argument is kept unparsed here. */
typedef struct set_opts {
    int flags;
    const sarg *exp; /* the EX/PX/EXAT/PXAT value, NULL if none */
    long long unit;  /* ms per unit of *exp */
    int absolute;    /* EXAT, PXAT */
} set_opts;

/* Returns 0, or -1 after replying.  An expiry option may repeat (the last
 * one counts, as in Redis) but not be mixed with another expiry option,
 * KEEPTTL or PERSIST. */
static int parse_set_opts(client *c, int from, int getex, set_opts *o)
{
    static const char *exp_names[] = {"ex", "px", "exat", "pxat"};
    int kind = -1;
    memset(o, 0, sizeof *o);
    for (int j = from; j < c->argc; j++) {
        sarg *a = &c->argv[j];
        int e = -1;
        for (int i = 0; i < 4; i++)
            if (arg_is(a, exp_names[i])) e = i;
        if (e >= 0 && j + 1 < c->argc && (kind < 0 || kind == e) && !(o->flags & (SET_KEEPTTL | SET_PERSIST))) {
            kind = e;
            o->exp = &c->argv[++j];
            o->unit = (e == 0 || e == 2) ? 1000 : 1;
            o->absolute = e >= 2;
        } else if (!getex && arg_is(a, "nx") && !(o->flags & SET_XX)) {
            o->flags |= SET_NX;
        } else if (!getex && arg_is(a, "xx") && !(o->flags & SET_NX)) {
            o->flags |= SET_XX;
        } else if (!getex && arg_is(a, "get")) {
            o->flags |= SET_GET;
        } else if (!getex && arg_is(a, "keepttl") && kind < 0) {
            o->flags |= SET_KEEPTTL;
        } else if (getex && arg_is(a, "persist") && kind < 0) {
            o->flags |= SET_PERSIST;
        } else {
            addReplyErrorSyntax(c);
            return -1;
        }
    }
    return 0;
}

/* The options' expiry as absolute unix ms (0: none); -1 after replying. */
static int set_opts_expire(client *c, const set_opts *o, const char *cmdname, int64_t *expire)
{
    *expire = 0;
    if (!o->exp) return 0;
    long long v;
    if (arg_ll(o->exp, &v)) {
        addReplyErrorNotInt(c);
        return -1;
    }
    if (expire_from_arg(v, o->unit, o->absolute, expire)) {
        addReplyErrorFormat(c, "ERR invalid expire time in '%s' command", cmdname);
        return -1;
    }
    return 0;
}

/* The SET family's core: flags SET_*, expire absolute ms (0 none). */
static void set_generic(client *c, const sarg *k, const sarg *v, int flags, int64_t expire,
                        const char *ok_reply, const char *abort_reply)
{
    ks_meta m;
    int r = ks_lookup_reply(c, k->p, k->len, (flags & SET_GET) ? OBJ_STRING : -1, &m);
    if (r < 0) return;
    char *oldv = NULL;
    size_t oldl = 0;
    if ((flags & SET_GET) && r > 0) {
        oldv = malloc(m.slen + 1);
        if (!oldv) {
            addReplyError(c, "ERR out of memory");
            return;
        }
        memcpy(oldv, m.sval, m.slen);
        oldl = m.slen;
    }
    if (((flags & SET_NX) && r > 0) || ((flags & SET_XX) && r == 0)) {
        if (flags & SET_GET) {
            if (r > 0) addReplyBulk(c, oldv, oldl);
            else addReplyNull(c);
        } else if (abort_reply) {
            addReplyRaw(c, abort_reply, strlen(abort_reply));
        } else {
            addReplyNull(c);
        }
        free(oldv);
        return;
    }
    if ((flags & SET_KEEPTTL) && r > 0) expire = m.expire_ms;
    int rc = ks_set_string(k->p, k->len, v->p, v->len, expire, r > 0 ? &m : NULL);
    if (rc) {
        reply_storage_error(c, rc);
    } else if (flags & SET_GET) {
        if (r > 0) addReplyBulk(c, oldv, oldl);
        else addReplyNull(c);
    } else {
        addReplyRaw(c, ok_reply, strlen(ok_reply));
    }
    free(oldv);
}

static void setCommand(client *c)
{
    set_opts o;
    int64_t expire;
    if (parse_set_opts(c, 3, 0, &o) || set_opts_expire(c, &o, "set", &expire)) return;
    set_generic(c, &c->argv[1], &c->argv[2], o.flags, expire, "+OK\r\n", NULL);
}

static void setnxCommand(client *c)
{
    set_generic(c, &c->argv[1], &c->argv[2], SET_NX, 0, ":1\r\n", ":0\r\n");
}

static void setex_generic(client *c, int unit)
{
    long long v;
    int64_t expire;
    if (arg_ll(&c->argv[2], &v)) {
        addReplyErrorNotInt(c);
        return;
    }
    if (expire_from_arg(v, unit, 0, &expire)) {
        addReplyErrorFormat(c, "ERR invalid expire time in '%s' command", unit == 1000 ? "setex" : "psetex");
        return;
    }
    set_generic(c, &c->argv[1], &c->argv[3], 0, expire, "+OK\r\n", NULL);
}

static void setexCommand(client *c) { setex_generic(c, 1000); }
static void psetexCommand(client *c) { setex_generic(c, 1); }

static void getsetCommand(client *c)
{
    set_generic(c, &c->argv[1], &c->argv[2], SET_GET, 0, "+OK\r\n", NULL);
}

static void mgetCommand(client *c)
{
    addReplyArrayLen(c, c->argc - 1);
    for (int j = 1; j < c->argc; j++) {
        ks_meta m;
        int rc = ks_lookup(c->argv[j].p, c->argv[j].len, &m);
        if (rc == OMEN_OK && m.type == OBJ_STRING) {
            server.stat_keyspace_hits++;
            addReplyBulk(c, m.sval, m.slen);
        } else {
            server.stat_keyspace_misses++;
            addReplyNull(c);
        }
    }
}

static void mset_generic(client *c, int nx)
{
    if (c->argc % 2 == 0) {
        addReplyErrorArity(c);
        return;
    }
    if (nx) {
        for (int j = 1; j < c->argc; j += 2) {
            ks_meta m;
            int rc = ks_lookup(c->argv[j].p, c->argv[j].len, &m);
            if (rc == OMEN_OK) {
                addReplyLongLong(c, 0);
                return;
            }
            if (rc != OMEN_NOTFOUND) {
                reply_storage_error(c, rc);
                return;
            }
        }
    }
    for (int j = 1; j < c->argc; j += 2) {
        ks_meta m;
        int rc = ks_lookup(c->argv[j].p, c->argv[j].len, &m);
        if (rc && rc != OMEN_NOTFOUND) {
            reply_storage_error(c, rc);
            return;
        }
        rc = ks_set_string(c->argv[j].p, c->argv[j].len, c->argv[j + 1].p, c->argv[j + 1].len, 0,
                           rc == OMEN_OK ? &m : NULL);
        if (rc) {
            reply_storage_error(c, rc);
            return;
        }
    }
    if (nx)
        addReplyLongLong(c, 1);
    else
        addReplyOK(c);
}

static void msetCommand(client *c) { mset_generic(c, 0); }
static void msetnxCommand(client *c) { mset_generic(c, 1); }

static void getdelCommand(client *c)
{
    ks_meta m;
    int r = get_string(c, &c->argv[1], &m);
    if (r < 0) return;
    if (r == 0) {
        addReplyNull(c);
        return;
    }
    addReplyBulk(c, m.sval, m.slen);
    m.sval = NULL;
    int rc = ks_delete(c->argv[1].p, c->argv[1].len, &m);
    if (rc) { /* the reply above is already queued; the pass fails as a whole */
        client_close_async(c);
    }
}

static void getexCommand(client *c)
{
    set_opts o;
    if (parse_set_opts(c, 2, 1, &o)) return;
    ks_meta m;
    int r = get_string(c, &c->argv[1], &m);
    if (r < 0) return;
    if (r == 0) {
        addReplyNull(c);
        return;
    }
    int64_t nexp;
    if (set_opts_expire(c, &o, "getex", &nexp)) return;
    addReplyBulk(c, m.sval, m.slen);
    if (!o.exp && !(o.flags & SET_PERSIST)) return; /* no option: a plain GET */
    if (nexp == m.expire_ms) return;
    int rc;
    if (nexp && nexp <= ae_now_ms()) {
        /* A time already past: Redis deletes the key at once (SET stores
         * it to expire), so DBSIZE no longer counts it. */
        m.sval = NULL;
        rc = ks_delete(c->argv[1].p, c->argv[1].len, &m);
    } else {
        rc = ks_set_string(c->argv[1].p, c->argv[1].len, m.sval, m.slen, nexp, &m);
    }
    if (rc) client_close_async(c); /* the reply is queued; the pass fails as a whole */
}

static void appendCommand(client *c)
{
    ks_meta m;
    int r = ks_lookup_reply(c, c->argv[1].p, c->argv[1].len, OBJ_STRING, &m);
    if (r < 0) return;
    size_t ol = r > 0 ? m.slen : 0, nl = ol + c->argv[2].len;
    if (string_too_long(c, (long long)ol, (long long)c->argv[2].len)) return;
    char *buf = malloc(nl + 1);
    if (!buf) {
        addReplyError(c, "ERR out of memory");
        return;
    }
    if (ol) memcpy(buf, m.sval, ol);
    memcpy(buf + ol, c->argv[2].p, c->argv[2].len);
    int rc = ks_set_string(c->argv[1].p, c->argv[1].len, buf, nl, r > 0 ? m.expire_ms : 0, r > 0 ? &m : NULL);
    free(buf);
    if (rc)
        reply_storage_error(c, rc);
    else
        addReplyLongLong(c, (long long)nl);
}

static void strlenCommand(client *c)
{
    ks_meta m;
    int r = ks_lookup_reply(c, c->argv[1].p, c->argv[1].len, OBJ_STRING, &m);
    if (r < 0) return;
    addReplyLongLong(c, r > 0 ? (long long)m.slen : 0);
}

static void getrangeCommand(client *c)
{
    long long start, end;
    if (arg_ll(&c->argv[2], &start) || arg_ll(&c->argv[3], &end)) {
        addReplyErrorNotInt(c);
        return;
    }
    ks_meta m;
    int r = ks_lookup_reply(c, c->argv[1].p, c->argv[1].len, OBJ_STRING, &m);
    if (r < 0) return;
    long long len = r > 0 ? (long long)m.slen : 0;
    if (start < 0 && end < 0 && start > end) {
        addReplyBulk(c, "", 0);
        return;
    }
    if (start < 0) start += len;
    if (end < 0) end += len;
    if (start < 0) start = 0;
    if (end < 0) end = 0;
    if (end >= len) end = len - 1;
    if (len == 0 || start > end) {
        addReplyBulk(c, "", 0);
        return;
    }
    addReplyBulk(c, m.sval + start, (size_t)(end - start + 1));
}

static void setrangeCommand(client *c)
{
    long long off;
    if (arg_ll(&c->argv[2], &off)) {
        addReplyErrorNotInt(c);
        return;
    }
    if (off < 0) {
        addReplyError(c, "ERR offset is out of range");
        return;
    }
    sarg *v = &c->argv[3];
    ks_meta m;
    int r = ks_lookup_reply(c, c->argv[1].p, c->argv[1].len, OBJ_STRING, &m);
    if (r < 0) return;
    size_t ol = r > 0 ? m.slen : 0;
    if (v->len == 0) {
        addReplyLongLong(c, (long long)ol);
        return;
    }
    if (string_too_long(c, off, (long long)v->len)) return;
    size_t nl = (size_t)off + v->len > ol ? (size_t)off + v->len : ol;
    char *buf = calloc(1, nl + 1);
    if (!buf) {
        addReplyError(c, "ERR out of memory");
        return;
    }
    if (ol) memcpy(buf, m.sval, ol);
    memcpy(buf + off, v->p, v->len);
    int rc = ks_set_string(c->argv[1].p, c->argv[1].len, buf, nl, r > 0 ? m.expire_ms : 0, r > 0 ? &m : NULL);
    free(buf);
    if (rc)
        reply_storage_error(c, rc);
    else
        addReplyLongLong(c, (long long)nl);
}

static void incr_generic(client *c, long long by)
{
    ks_meta m;
    int r = ks_lookup_reply(c, c->argv[1].p, c->argv[1].len, OBJ_STRING, &m);
    if (r < 0) return;
    long long v = 0;
    if (r > 0 && str_ll(m.sval, m.slen, &v)) {
        addReplyErrorNotInt(c);
        return;
    }
    if ((by < 0 && v < 0 && by < LLONG_MIN - v) || (by > 0 && v > 0 && by > LLONG_MAX - v)) {
        addReplyError(c, "ERR increment or decrement would overflow");
        return;
    }
    v += by;
    char b[32];
    int l = ll_fmt(b, v);
    int rc = ks_set_string(c->argv[1].p, c->argv[1].len, b, (size_t)l, r > 0 ? m.expire_ms : 0, r > 0 ? &m : NULL);
    if (rc)
        reply_storage_error(c, rc);
    else
        addReplyLongLong(c, v);
}

static void incrCommand(client *c) { incr_generic(c, 1); }
static void decrCommand(client *c) { incr_generic(c, -1); }

static void incrbyCommand(client *c)
{
    long long by;
    if (arg_ll(&c->argv[2], &by)) {
        addReplyErrorNotInt(c);
        return;
    }
    incr_generic(c, by);
}

static void decrbyCommand(client *c)
{
    long long by;
    if (arg_ll(&c->argv[2], &by)) {
        addReplyErrorNotInt(c);
        return;
    }
    if (by == LLONG_MIN) {
        addReplyError(c, "ERR decrement would overflow");
        return;
    }
    incr_generic(c, -by);
}

static void incrbyfloatCommand(client *c)
{
    long double by, v = 0;
    /* Unlike INCRBY's, the increment is read after the key (WRONGTYPE
     * first), as Redis does. */
    ks_meta m;
    int r = ks_lookup_reply(c, c->argv[1].p, c->argv[1].len, OBJ_STRING, &m);
    if (r < 0) return;
    if (r > 0) {
        sarg cur = {(char *)m.sval, m.slen};
        if (arg_long_double(&cur, &v)) {
            addReplyErrorNotFloat(c);
            return;
        }
    }
    if (arg_long_double(&c->argv[2], &by)) {
        addReplyErrorNotFloat(c);
        return;
    }
    v += by;
    if (isnan(v) || isinf(v)) {
        addReplyError(c, "ERR increment would produce NaN or Infinity");
        return;
    }
    char b[LD_HUMAN_MAX];
    int l = ld_fmt_human(b, sizeof b, v);
    if (l < 0) {
        addReplyError(c, "ERR increment would produce NaN or Infinity");
        return;
    }
    int rc = ks_set_string(c->argv[1].p, c->argv[1].len, b, (size_t)l, r > 0 ? m.expire_ms : 0, r > 0 ? &m : NULL);
    if (rc)
        reply_storage_error(c, rc);
    else
        addReplyBulk(c, b, (size_t)l);
}

#define W (CMD_WRITE | CMD_DENYOOM)
#define R (CMD_READONLY)
command string_commands[] = {
    {"get", getCommand, 2, R | CMD_FAST, 1, 1, 1, "string", "Returns the string value of a key", "1.0.0", 0},
    {"set", setCommand, -3, W, 1, 1, 1, "string", "Sets the string value of a key, ignoring its type", "1.0.0", 0},
    {"setnx", setnxCommand, 3, W | CMD_FAST, 1, 1, 1, "string", "Set the string value of a key only when the key doesn't exist", "1.0.0", 0},
    {"setex", setexCommand, 4, W, 1, 1, 1, "string", "Sets the string value and expiration time (seconds) of a key", "2.0.0", 0},
    {"psetex", psetexCommand, 4, W, 1, 1, 1, "string", "Sets the string value and expiration time (milliseconds) of a key", "2.6.0", 0},
    {"getset", getsetCommand, 3, W | CMD_FAST, 1, 1, 1, "string", "Returns the previous string value of a key after setting it to a new value", "1.0.0", 0},
    {"mget", mgetCommand, -2, R | CMD_FAST, 1, -1, 1, "string", "Atomically returns the string values of one or more keys", "1.0.0", 0},
    {"mset", msetCommand, -3, W, 1, -1, 2, "string", "Atomically creates or modifies the string values of one or more keys", "1.0.1", 0},
    {"msetnx", msetnxCommand, -3, W, 1, -1, 2, "string", "Atomically sets string values of keys only when none of them exist", "1.0.1", 0},
    {"getdel", getdelCommand, 2, CMD_WRITE | CMD_FAST, 1, 1, 1, "string", "Returns the string value of a key after deleting the key", "6.2.0", 0},
    {"getex", getexCommand, -2, CMD_WRITE | CMD_FAST, 1, 1, 1, "string", "Returns the string value of a key after setting its expiration time", "6.2.0", 0},
    {"append", appendCommand, 3, W | CMD_FAST, 1, 1, 1, "string", "Appends a string to the value of a key", "2.0.0", 0},
    {"strlen", strlenCommand, 2, R | CMD_FAST, 1, 1, 1, "string", "Returns the length of a string value", "2.2.0", 0},
    {"getrange", getrangeCommand, 4, R, 1, 1, 1, "string", "Returns a substring of the string stored at a key", "2.4.0", 0},
    {"substr", getrangeCommand, 4, R, 1, 1, 1, "string", "Returns a substring of the string stored at a key", "1.0.0", 0},
    {"setrange", setrangeCommand, 4, W, 1, 1, 1, "string", "Overwrites a part of a string value with another by an offset", "2.2.0", 0},
    {"incr", incrCommand, 2, W | CMD_FAST, 1, 1, 1, "string", "Increments the integer value of a key by one", "1.0.0", 0},
    {"decr", decrCommand, 2, W | CMD_FAST, 1, 1, 1, "string", "Decrements the integer value of a key by one", "1.0.0", 0},
    {"incrby", incrbyCommand, 3, W | CMD_FAST, 1, 1, 1, "string", "Increments the integer value of a key by a number", "1.0.0", 0},
    {"decrby", decrbyCommand, 3, W | CMD_FAST, 1, 1, 1, "string", "Decrements a number from the integer value of a key", "1.0.0", 0},
    {"incrbyfloat", incrbyfloatCommand, 3, W | CMD_FAST, 1, 1, 1, "string", "Increment the floating point value of a key by a number", "2.6.0", 0},
    {0},
};
