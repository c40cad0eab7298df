/*
 * expire.c -- expiry commands and the background reclamation timer (see
 * expire.h).
 */
#include "server/expire.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "server/ae.h"
#include "server/commands.h"
#include "server/networking.h"
#include "server/t_string.h"
#include "server/util.h"

/* Engine entries one cron run may touch: bounds the pause it causes. */
#define CRON_BUDGET 2000

int expire_from_arg(long long v, long long unit_ms, int absolute, int64_t *out)
{
    /* Redis refuses 0 for EXAT/PXAT too (0 also means "no expiry" in the
     * metadata). */
    if (v <= 0) return -1;
    if (v > LLONG_MAX / unit_ms) return -1;
    long long ms = v * unit_ms;
    if (!absolute) {
        long long now = ae_now_ms();
        if (ms > LLONG_MAX - now) return -1;
        ms += now;
    }
    *out = ms;
    return 0;
}

int expire_set(const void *key, size_t klen, ks_meta *m, int64_t when)
{
    if (m->type == OBJ_STRING) {
        /* Copy: the value lives in ks memory that the write may reuse. */
        char *v = malloc(m->slen + 1);
        if (!v) return OMEN_NOMEM;
        memcpy(v, m->sval, m->slen);
        int rc = ks_set_string(key, klen, v, m->slen, when, m);
        free(v);
        return rc;
    }
    ks_meta n = *m;
    n.expire_ms = when;
    return ks_put_meta(key, klen, &n, m);
}

#define EXP_NX 1
#define EXP_XX 2
#define EXP_GT 4
#define EXP_LT 8

static void expire_generic(client *c, long long unit, int absolute)
{
    int flags = 0;
    for (int j = 3; j < c->argc; j++) {
        if (arg_is(&c->argv[j], "nx")) flags |= EXP_NX;
        else if (arg_is(&c->argv[j], "xx")) flags |= EXP_XX;
        else if (arg_is(&c->argv[j], "gt")) flags |= EXP_GT;
        else if (arg_is(&c->argv[j], "lt")) flags |= EXP_LT;
        else {
            addReplyErrorFormat(c, "ERR Unsupported option %.*s", (int)(c->argv[j].len > 32 ? 32 : c->argv[j].len), c->argv[j].p);
            return;
        }
    }
    if ((flags & EXP_NX) && (flags & (EXP_XX | EXP_GT | EXP_LT))) {
        addReplyError(c, "ERR NX and XX, GT or LT options at the same time are not compatible");
        return;
    }
    if ((flags & EXP_GT) && (flags & EXP_LT)) {
        addReplyError(c, "ERR GT and LT options at the same time are not compatible");
        return;
    }
    /* The time after the options, in Redis's order. */
    long long v;
    if (arg_ll(&c->argv[2], &v)) {
        addReplyErrorNotInt(c);
        return;
    }
    /* Compute the absolute time; Redis checks overflow before the key. */
    long long when;
    char name[16];
    size_t nl = c->argv[0].len < 15 ? c->argv[0].len : 15;
    for (size_t i = 0; i < nl; i++) name[i] = (char)(c->argv[0].p[i] | 0x20);
    name[nl] = 0;
    if (v > LLONG_MAX / unit || v < LLONG_MIN / unit) {
        addReplyErrorFormat(c, "ERR invalid expire time in '%s' command", name);
        return;
    }
    when = v * unit;
    if (!absolute) {
        long long now = ae_now_ms();
        if (when > LLONG_MAX - now) {
            addReplyErrorFormat(c, "ERR invalid expire time in '%s' command", name);
            return;
        }
        when += now;
    }
    ks_meta m;
    int r = ks_lookup_reply(c, c->argv[1].p, c->argv[1].len, -1, &m);
    if (r < 0) return;
    if (r == 0) {
        addReplyLongLong(c, 0);
        return;
    }
    if ((flags & EXP_NX) && m.expire_ms) goto no;
    if ((flags & EXP_XX) && !m.expire_ms) goto no;
    if ((flags & EXP_GT) && (!m.expire_ms || when <= m.expire_ms)) goto no;
    if ((flags & EXP_LT) && m.expire_ms && when >= m.expire_ms) goto no;
    int rc;
    if (when <= ae_now_ms()) {
        m.sval = m.type == OBJ_STRING ? m.sval : NULL;
        rc = ks_delete(c->argv[1].p, c->argv[1].len, &m);
    } else {
        rc = expire_set(c->argv[1].p, c->argv[1].len, &m, when);
    }
    if (rc) {
        reply_storage_error(c, rc);
        return;
    }
    addReplyLongLong(c, 1);
    return;
no:
    addReplyLongLong(c, 0);
}

static void expireCommand(client *c) { expire_generic(c, 1000, 0); }
static void pexpireCommand(client *c) { expire_generic(c, 1, 0); }
static void expireatCommand(client *c) { expire_generic(c, 1000, 1); }
static void pexpireatCommand(client *c) { expire_generic(c, 1, 1); }

static void ttl_generic(client *c, int ms, int abs)
{
    ks_meta m;
    int r = ks_lookup_reply(c, c->argv[1].p, c->argv[1].len, -1, &m);
    if (r < 0) return;
    if (r == 0) {
        addReplyLongLong(c, -2);
        return;
    }
    if (!m.expire_ms) {
        addReplyLongLong(c, -1);
        return;
    }
    long long t = abs ? m.expire_ms : m.expire_ms - ae_now_ms();
    if (t < 0) t = 0;
    addReplyLongLong(c, ms ? t : (t + 500) / 1000);
}

static void ttlCommand(client *c) { ttl_generic(c, 0, 0); }
static void pttlCommand(client *c) { ttl_generic(c, 1, 0); }
static void expiretimeCommand(client *c) { ttl_generic(c, 0, 1); }
static void pexpiretimeCommand(client *c) { ttl_generic(c, 1, 1); }

static void persistCommand(client *c)
{
    ks_meta m;
    int r = ks_lookup_reply(c, c->argv[1].p, c->argv[1].len, -1, &m);
    if (r < 0) return;
    if (r == 0 || !m.expire_ms) {
        addReplyLongLong(c, 0);
        return;
    }
    int rc = expire_set(c->argv[1].p, c->argv[1].len, &m, 0);
    if (rc)
        reply_storage_error(c, rc);
    else
        addReplyLongLong(c, 1);
}

long expire_cron(ae_loop *el, long long id, void *data)
{
    (void)el, (void)id, (void)data;
    if (!server.read_only_err) ks_background(CRON_BUDGET, ae_now_ms());
    return 1000 / (server.hz > 0 ? server.hz : 10);
}

#define W (CMD_WRITE | CMD_FAST)
#define R (CMD_READONLY | CMD_FAST)
command expire_commands[] = {
    {"expire", expireCommand, -3, W, 1, 1, 1, "generic", "Sets the expiration time of a key in seconds", "1.0.0", 0},
    {"pexpire", pexpireCommand, -3, W, 1, 1, 1, "generic", "Sets the expiration time of a key in milliseconds", "2.6.0", 0},
    {"expireat", expireatCommand, -3, W, 1, 1, 1, "generic", "Sets the expiration time of a key to a Unix timestamp", "1.2.0", 0},
    {"pexpireat", pexpireatCommand, -3, W, 1, 1, 1, "generic", "Sets the expiration time of a key to a Unix milliseconds timestamp", "2.6.0", 0},
    {"ttl", ttlCommand, 2, R, 1, 1, 1, "generic", "Returns the expiration time in seconds of a key", "1.0.0", 0},
    {"pttl", pttlCommand, 2, R, 1, 1, 1, "generic", "Returns the expiration time in milliseconds of a key", "2.6.0", 0},
    {"expiretime", expiretimeCommand, 2, R, 1, 1, 1, "generic", "Returns the expiration time of a key as a Unix timestamp", "7.0.0", 0},
    {"pexpiretime", pexpiretimeCommand, 2, R, 1, 1, 1, "generic", "Returns the expiration time of a key as a Unix milliseconds timestamp", "7.0.0", 0},
    {"persist", persistCommand, 2, W, 1, 1, 1, "generic", "Removes the expiration time of a key", "2.2.0", 0},
    {0},
};
