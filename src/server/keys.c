/*
 * keys.c -- generic key commands (see keys.h).
 */
#include "server/keys.h"

#include <stdlib.h>
#include <string.h>

#include "server/ae.h"
#include "server/commands.h"
#include "server/keyspace.h"
#include "server/networking.h"
#include "server/t_string.h"
#include "server/util.h"

/* ---- cursors ---------------------------------------------------------- */

#define CURSOR_SLOTS 4096

static struct cursor_slot {
    uint64_t id;
    char *pos;
    size_t len;
} cursors[CURSOR_SLOTS];
static uint64_t cursor_seq;

uint64_t cursor_save(const void *pos, size_t len)
{
    size_t slot = (size_t)(cursor_seq++ % CURSOR_SLOTS);
    struct cursor_slot *s = &cursors[slot];
    char *p = malloc(len + 1);
    if (!p) return 0;
    memcpy(p, pos, len);
    free(s->pos);
    s->pos = p;
    s->len = len;
    /* 31 random-ish bits above the slot number; stays below 2^43 so that
     * clients parsing it as a double lose nothing. */
    uint64_t r = ((uint64_t)ae_now_us() * 2654435761u + cursor_seq) & 0x7FFFFFFFu;
    s->id = (r << 12) | slot;
    if (s->id == 0) s->id = CURSOR_SLOTS;
    return s->id;
}

int cursor_load(uint64_t id, const char **pos, size_t *len)
{
    struct cursor_slot *s = &cursors[id % CURSOR_SLOTS];
    if (s->id != id || !s->pos) return -1;
    *pos = s->pos;
    *len = s->len;
    return 0;
}

int parse_cursor(client *c, const sarg *a, uint64_t *out)
{
    long long v;
    if (arg_ll(a, &v) || v < 0) {
        addReplyError(c, "ERR invalid cursor");
        return -1;
    }
    *out = (uint64_t)v;
    return 0;
}

/* ---- commands ----------------------------------------------------------- */

static void delCommand(client *c)
{
    long long n = 0;
    for (int j = 1; j < c->argc; j++) {
        int r = ks_delete_key(c->argv[j].p, c->argv[j].len);
        if (r < 0) {
            reply_storage_error(c, -r);
            return;
        }
        n += r;
    }
    addReplyLongLong(c, n);
}

static void existsCommand(client *c)
{
    long long n = 0;
    for (int j = 1; j < c->argc; j++) {
        ks_meta m;
        int rc = ks_lookup(c->argv[j].p, c->argv[j].len, &m);
        if (rc == OMEN_OK) n++;
        else if (rc != OMEN_NOTFOUND) {
            reply_storage_error(c, rc);
            return;
        }
    }
    addReplyLongLong(c, n);
}

static void typeCommand(client *c)
{
    ks_meta m;
    int r = ks_lookup_reply(c, c->argv[1].p, c->argv[1].len, -1, &m);
    if (r < 0) return;
    addReplyStatus(c, r ? ks_type_name(m.type) : "none");
}

static void keysCommand(client *c)
{
    omen_iter *it;
    int rc = ks_key_iter(&it);
    if (rc) {
        reply_storage_error(c, rc);
        return;
    }
    const sarg *pat = &c->argv[1];
    int all = pat->len == 1 && pat->p[0] == '*';
    size_t h = addReplyDeferredLen(c);
    long long n = 0;
    for (omen_iter_seek_first(it); omen_iter_valid(it); omen_iter_next(it)) {
        const char *k;
        size_t kl;
        ks_meta m;
        if (!ks_key_at(it, &k, &kl, &m)) continue;
        if (!all && !glob_match(pat->p, pat->len, k, kl, 0)) continue;
        addReplyBulk(c, k, kl);
        n++;
    }
    omen_iter_destroy(it);
    setDeferredArrayLen(c, h, n);
}

static int type_of_name(const sarg *a)
{
    static const char *names[] = {"string", "list", "set", "zset", "hash", "vectorset"};
    for (int t = 0; t < 6; t++)
        if (arg_is(a, names[t])) return t;
    return -2;
}

int scan_options(client *c, int first, long long *count, const sarg **pat, int *type)
{
    *count = 10;
    *pat = NULL;
    if (type) *type = -1;
    for (int j = first; j < c->argc; j += 2) {
        if (j + 1 >= c->argc) {
            addReplyErrorSyntax(c);
            return -1;
        }
        if (arg_is(&c->argv[j], "count")) {
            if (arg_ll(&c->argv[j + 1], count)) {
                addReplyErrorNotInt(c);
                return -1;
            }
            if (*count < 1) {
                addReplyErrorSyntax(c);
                return -1;
            }
        } else if (arg_is(&c->argv[j], "match")) {
            *pat = &c->argv[j + 1];
            if ((*pat)->len == 1 && (*pat)->p[0] == '*') *pat = NULL;
        } else if (type && arg_is(&c->argv[j], "type")) {
            *type = type_of_name(&c->argv[j + 1]);
        } else {
            addReplyErrorSyntax(c);
            return -1;
        }
    }
    return 0;
}

static void scanCommand(client *c)
{
    uint64_t cur;
    if (parse_cursor(c, &c->argv[1], &cur)) return;
    long long count;
    const sarg *pat;
    int type;
    if (scan_options(c, 2, &count, &pat, &type)) return;
    const char *from = NULL;
    size_t fromlen = 0;
    if (cur != 0 && cursor_load(cur, &from, &fromlen)) {
        addReplyError(c, "ERR invalid cursor");
        return;
    }
    omen_iter *it;
    int rc = ks_key_iter(&it);
    if (rc) {
        reply_storage_error(c, rc);
        return;
    }
    if (from)
        ks_key_seek(it, from, fromlen);
    else
        omen_iter_seek_first(it);
    addReplyArrayLen(c, 2);
    /* The cursor precedes the keys: collect them first. */
    sarg *keys = NULL;
    size_t nkeys = 0, cap = 0;
    long long seen = 0;
    uint64_t next = 0;
    for (; omen_iter_valid(it); omen_iter_next(it)) {
        const char *k;
        size_t kl;
        ks_meta m;
        if (seen >= count) {
            omen_iter_key(it, &kl);
            k = omen_iter_key(it, &kl);
            next = cursor_save(k + 1, kl - 1);
            break;
        }
        seen++;
        if (!ks_key_at(it, &k, &kl, &m)) continue;
        if (type != -1 && m.type != type) continue;
        if (pat && !glob_match(pat->p, pat->len, k, kl, 0)) continue;
        if (nkeys == cap) {
            cap = cap ? cap * 2 : 16;
            sarg *nk = realloc(keys, cap * sizeof *nk);
            if (!nk) break;
            keys = nk;
        }
        keys[nkeys].p = malloc(kl + 1);
        if (!keys[nkeys].p) break;
        memcpy(keys[nkeys].p, k, kl);
        keys[nkeys].len = kl;
        nkeys++;
    }
    omen_iter_destroy(it);
    addReplyBulkLongLong(c, (long long)next);
    addReplyArrayLen(c, (long long)nkeys);
    for (size_t i = 0; i < nkeys; i++) {
        addReplyBulk(c, keys[i].p, keys[i].len);
        free(keys[i].p);
    }
    free(keys);
}

static void randomkeyCommand(client *c)
{
    omen_iter *it;
    int rc = ks_key_iter(&it);
    if (rc) {
        reply_storage_error(c, rc);
        return;
    }
    unsigned char r[8];
    for (int i = 0; i < 8; i++) r[i] = (unsigned char)(random() & 0xFF);
    ks_key_seek(it, r, 8);
    int wrapped = 0;
    for (int tries = 0; tries < 100000; tries++) {
        if (!omen_iter_valid(it)) {
            if (wrapped) break;
            wrapped = 1;
            omen_iter_seek_first(it);
            continue;
        }
        const char *k;
        size_t kl;
        ks_meta m;
        if (ks_key_at(it, &k, &kl, &m)) {
            addReplyBulk(c, k, kl);
            omen_iter_destroy(it);
            return;
        }
        omen_iter_next(it);
    }
    omen_iter_destroy(it);
    addReplyNull(c);
}

static void rename_generic(client *c, int nx)
{
    sarg *src = &c->argv[1], *dst = &c->argv[2];
    ks_meta ms, md;
    int r = ks_lookup_reply(c, src->p, src->len, -1, &ms);
    if (r < 0) return;
    if (r == 0) {
        addReplyError(c, "ERR no such key");
        return;
    }
    if (src->len == dst->len && memcmp(src->p, dst->p, src->len) == 0) {
        if (nx)
            addReplyLongLong(c, 0);
        else
            addReplyOK(c);
        return;
    }
    /* Keep the source's string value: the lookup of dst reuses ks memory. */
    char *sv = NULL;
    if (ms.type == OBJ_STRING) {
        sv = malloc(ms.slen + 1);
        if (!sv) {
            addReplyError(c, "ERR out of memory");
            return;
        }
        memcpy(sv, ms.sval, ms.slen);
        ms.sval = sv;
    }
    int rd = ks_lookup(dst->p, dst->len, &md);
    if (rd != OMEN_OK && rd != OMEN_NOTFOUND) {
        free(sv);
        reply_storage_error(c, rd);
        return;
    }
    if (nx && rd == OMEN_OK) {
        free(sv);
        addReplyLongLong(c, 0);
        return;
    }
    int rc = ks_rename(src->p, src->len, &ms, dst->p, dst->len, rd == OMEN_OK ? &md : NULL);
    free(sv);
    if (rc) {
        reply_storage_error(c, rc);
        return;
    }
    if (nx)
        addReplyLongLong(c, 1);
    else
        addReplyOK(c);
}

static void renameCommand(client *c) { rename_generic(c, 0); }
static void renamenxCommand(client *c) { rename_generic(c, 1); }

static void dbsizeCommand(client *c) { addReplyLongLong(c, (long long)ks_dbsize()); }

static void flushCommand(client *c)
{
    if (c->argc > 2 || (c->argc == 2 && !arg_is(&c->argv[1], "sync") && !arg_is(&c->argv[1], "async"))) {
        addReplyErrorSyntax(c);
        return;
    }
    int rc = ks_flushall();
    if (rc)
        reply_storage_error(c, rc);
    else
        addReplyOK(c);
}

static void touchCommand(client *c) { existsCommand(c); }

#define W CMD_WRITE
#define R CMD_READONLY
command keys_commands[] = {
    {"del", delCommand, -2, W, 1, -1, 1, "generic", "Deletes one or more keys", "1.0.0", 0},
    {"unlink", delCommand, -2, W | CMD_FAST, 1, -1, 1, "generic", "Deletes keys (O(1) per key: elements are reclaimed in the background)", "4.0.0", 0},
    {"exists", existsCommand, -2, R | CMD_FAST, 1, -1, 1, "generic", "Determines whether one or more keys exist", "1.0.0", 0},
    {"touch", touchCommand, -2, R | CMD_FAST, 1, -1, 1, "generic", "Returns the number of existing keys out of those specified", "3.2.1", 0},
    {"type", typeCommand, 2, R | CMD_FAST, 1, 1, 1, "generic", "Determines the type of value stored at a key", "1.0.0", 0},
    {"keys", keysCommand, 2, R, 0, 0, 0, "generic", "Returns all key names that match a pattern", "1.0.0", 0},
    {"scan", scanCommand, -2, R, 0, 0, 0, "generic", "Iterates over the key names in the database", "2.8.0", 0},
    {"randomkey", randomkeyCommand, 1, R, 0, 0, 0, "generic", "Returns a random key name from the database", "1.0.0", 0},
    {"rename", renameCommand, 3, W, 1, 2, 1, "generic", "Renames a key and overwrites the destination", "1.0.0", 0},
    {"renamenx", renamenxCommand, 3, W | CMD_FAST, 1, 2, 1, "generic", "Renames a key only when the target key name doesn't exist", "1.0.0", 0},
    {"dbsize", dbsizeCommand, 1, R | CMD_FAST, 0, 0, 0, "server", "Returns the number of keys in the database", "1.0.0", 0},
    {"flushdb", flushCommand, -1, W, 0, 0, 0, "server", "Removes all keys from the current database", "1.0.0", 0},
    {"flushall", flushCommand, -1, W, 0, 0, 0, "server", "Removes all keys from all databases", "1.0.0", 0},
    {0},
};
