/*
 * keyspace.c -- Redis keys over the engine (see keyspace.h and
 * docs/format.md, "omendb-server key encoding").
 *
 * Engine key families (first byte):
 *   'k' key                      metadata (type, expiry, string value or
 *                                generation/count/list bounds)
 *   's' gen(8) fam(1) element    collection elements (sub-keys)
 *   'x' expire_ms(8) key         expiry index, in due order
 *   'g' gen(8)                   generation waiting for reclamation
 *   '\0' "gen"                   generation high-water mark
 *
 * Invariants:
 *  - Every generation handed out is unique for the life of the database:
 *    the high-water mark is written (in the same batch as the first use of
 *    a block of generations) before any generation at or above it is used.
 *  - A metadata entry with an expiry has a matching 'x' entry; stale 'x'
 *    entries (expiry changed) may exist and are dropped when met.
 *  - Every engine access goes through pending.c, so reads see the pass's
 *    own writes and EXEC runs in one transaction.
 */
#include "server/keyspace.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "server/ae.h"
#include "server/kfilter.h"
#include "server/networking.h"
#include "server/pending.h"
#include "util/coding.h"

#define META_VERSION 0x80
#define META_EXPIRE 0x10
#define GEN_BLOCK 65536

static const char GEN_KEY[4] = {'\0', 'g', 'e', 'n'};

static struct {
    omen_db *db;
    char *rbuf, *sbuf; /* values read: metadata, elements */
    size_t rcap, scap;
    char *kbuf;        /* scratch for engine keys */
    size_t kcap;
    uint64_t gen_next, gen_hw;
    uint64_t nkeys, nexpires, ngarbage;
    void (*touch)(const void *key, size_t klen);
    int (*vdrop)(uint64_t gen);
    void (*vsweep)(void);
    kfilter kf;     /* every key with metadata (kfilter.h)                */
    int kf_rebuild; /* it holds more keys than it was sized for           */
    int kf_off;     /* building it failed: every lookup reads the engine  */
} ks;

static char *kscratch(size_t n)
{
    if (n > ks.kcap) {
        size_t nc = n < 256 ? 256 : n * 2;
        char *nb = realloc(ks.kbuf, nc);
        if (!nb) return NULL;
        ks.kbuf = nb;
        ks.kcap = nc;
    }
    return ks.kbuf;
}

/* ---- metadata encoding ---------------------------------------------------- */

static uint64_t zz(int64_t v) { return ((uint64_t)v << 1) ^ (uint64_t)(v >> 63); }
static int64_t unzz(uint64_t v) { return (int64_t)(v >> 1) ^ -(int64_t)(v & 1); }

static int meta_decode(const char *v, size_t n, ks_meta *m)
{
    const uint8_t *p = (const uint8_t *)v, *end = p + n;
    memset(m, 0, sizeof *m);
    if (n < 1 || (p[0] & 0xE0) != META_VERSION) return OMEN_CORRUPT;
    m->type = p[0] & 0x0F;
    int has_exp = p[0] & META_EXPIRE;
    p++;
    if (has_exp) {
        if (end - p < 8) return OMEN_CORRUPT;
        m->expire_ms = (int64_t)get_be64(p);
        p += 8;
    }
    if (m->type == OBJ_STRING) {
        m->sval = (const char *)p;
        m->slen = (size_t)(end - p);
        return OMEN_OK;
    }
    if (!(p = get_varint64(p, end, &m->gen))) return OMEN_CORRUPT;
    if (!(p = get_varint64(p, end, &m->count))) return OMEN_CORRUPT;
    if (m->type == OBJ_LIST) {
        uint64_t h, t;
        if (!(p = get_varint64(p, end, &h))) return OMEN_CORRUPT;
        if (!(p = get_varint64(p, end, &t))) return OMEN_CORRUPT;
        m->head = unzz(h);
        m->tail = unzz(t);
    }
    return OMEN_OK;
}

/* Encode m (strings: header only; the caller appends the value). */
static size_t meta_encode(const ks_meta *m, uint8_t *out)
{
    uint8_t *p = out;
    *p++ = (uint8_t)(META_VERSION | (m->expire_ms ? META_EXPIRE : 0) | (m->type & 0x0F));
    if (m->expire_ms) {
        put_be64(p, (uint64_t)m->expire_ms);
        p += 8;
    }
    if (m->type != OBJ_STRING) {
        p = put_varint64(p, m->gen);
        p = put_varint64(p, m->count);
        if (m->type == OBJ_LIST) {
            p = put_varint64(p, zz(m->head));
            p = put_varint64(p, zz(m->tail));
        }
    }
    return (size_t)(p - out);
}

#define META_HDR_MAX 64

/* ---- public: keys ----------------------------------------------------- */

static char *meta_key(const void *key, size_t klen)
{
    char *k = kscratch(klen + 1);
    if (!k) return NULL;
    k[0] = 'k';
    memcpy(k + 1, key, klen);
    return k;
}

static int expire_index(int64_t when, const void *key, size_t klen, int add)
{
    char *k = kscratch(klen + 9);
    if (!k) return OMEN_NOMEM;
    k[0] = 'x';
    put_be64(k + 1, (uint64_t)when);
    memcpy(k + 9, key, klen);
    return add ? pend_put(k, klen + 9, "", 0) : pend_del(k, klen + 9);
}

static int queue_garbage(uint64_t gen)
{
    char k[9];
    k[0] = 'g';
    put_be64(k + 1, gen);
    ks.ngarbage++;
    return pend_put(k, 9, "", 0);
}

static void touch(const void *key, size_t klen)
{
    if (ks.touch) ks.touch(key, klen);
}

static int lookup_raw(const void *key, size_t klen, ks_meta *m)
{
    if (klen > KS_MAX_KEY) return OMEN_NOTFOUND;
    /* A key never written has no metadata in the batch or the engine. */
    if (!kf_may_contain(&ks.kf, key, klen)) return OMEN_NOTFOUND;
    char *k = meta_key(key, klen);
    if (!k) return OMEN_NOMEM;
    const char *v;
    size_t vl;
    int rc = pend_get(k, klen + 1, &ks.rbuf, &ks.rcap, &v, &vl);
    if (rc) return rc;
    return meta_decode(v, vl, m);
}

int ks_lookup(const void *key, size_t klen, ks_meta *m)
{
    int rc = lookup_raw(key, klen, m);
    if (rc) return rc;
    if (m->expire_ms && m->expire_ms <= ae_pass_ms()) {
        ks_meta old = *m;
        old.sval = NULL;
        rc = ks_delete(key, klen, &old);
        if (rc) return rc;
        server.stat_expired++;
        return OMEN_NOTFOUND;
    }
    return OMEN_OK;
}

int ks_lookup_reply(client *c, const void *key, size_t klen, int type, ks_meta *m)
{
    int rc = ks_lookup(key, klen, m);
    if (rc == OMEN_NOTFOUND) return 0;
    if (rc) {
        addReplyErrorFormat(c, "ERR storage error: %s", omen_strerror(rc));
        return -1;
    }
    if (type >= 0 && m->type != type) {
        addReplyErrorWrongType(c);
        return -1;
    }
    return 1;
}

static int put_meta_common(const void *key, size_t klen, const ks_meta *m, const void *sval,
                           size_t slen, const ks_meta *old)
{
    if (klen > KS_MAX_KEY) return OMEN_TOOBIG;
    uint8_t hdr[META_HDR_MAX];
    size_t hl = meta_encode(m, hdr);
    int rc;
    /* Old generation: reclaim unless the new metadata keeps it. */
    if (old && old->type != OBJ_STRING && (m->type == OBJ_STRING || m->gen != old->gen)) {
        rc = queue_garbage(old->gen);
        if (rc) return rc;
    }
    if (old && old->expire_ms && old->expire_ms != m->expire_ms) {
        rc = expire_index(old->expire_ms, key, klen, 0);
        if (rc) return rc;
        ks.nexpires--;
    }
    if (m->expire_ms && (!old || old->expire_ms != m->expire_ms)) {
        rc = expire_index(m->expire_ms, key, klen, 1);
        if (rc) return rc;
        ks.nexpires++;
    }
    char *k = kscratch(klen + 1 + hl + slen);
    if (!k) return OMEN_NOMEM;
    /* Into the filter before the metadata can reach the engine. */
    kf_add(&ks.kf, key, klen);
    if (!old && ++ks.kf.added > ks.kf.cap && !ks.kf_off) ks.kf_rebuild = 1;
    k[0] = 'k';
    memcpy(k + 1, key, klen);
    memcpy(k + 1 + klen, hdr, hl);
    if (slen) memcpy(k + 1 + klen + hl, sval, slen);
    rc = pend_put(k, klen + 1, k + 1 + klen, hl + slen);
    if (rc) return rc;
    if (!old) ks.nkeys++;
    touch(key, klen);
    pend_maybe_commit_large();
    return OMEN_OK;
}

int ks_put_meta(const void *key, size_t klen, const ks_meta *m, const ks_meta *old)
{
    return put_meta_common(key, klen, m, NULL, 0, old);
}

int ks_set_string(const void *key, size_t klen, const void *val, size_t vlen, int64_t expire_ms,
                  const ks_meta *old)
{
    if (vlen > OMEN_MAX_VALUE_LEN - META_HDR_MAX) return OMEN_TOOBIG;
    ks_meta m;
    memset(&m, 0, sizeof m);
    m.type = OBJ_STRING;
    m.expire_ms = expire_ms;
    /* val may point into ks memory (an old value): put_meta_common copies
     * it into the scratch key buffer, which never aliases rbuf/sbuf or the
     * overlay, before anything is freed. */
    return put_meta_common(key, klen, &m, val, vlen, old);
}

static int delete_meta(const void *key, size_t klen, const ks_meta *old, int keep_gen)
{
    int rc;
    if (old->type != OBJ_STRING && !keep_gen) {
        rc = queue_garbage(old->gen);
        if (rc) return rc;
    }
    if (old->expire_ms) {
        rc = expire_index(old->expire_ms, key, klen, 0);
        if (rc) return rc;
        ks.nexpires--;
    }
    char *k = meta_key(key, klen);
    if (!k) return OMEN_NOMEM;
    rc = pend_del(k, klen + 1);
    if (rc) return rc;
    if (ks.nkeys) ks.nkeys--;
    touch(key, klen);
    pend_maybe_commit_large();
    return OMEN_OK;
}

int ks_delete(const void *key, size_t klen, const ks_meta *old)
{
    return delete_meta(key, klen, old, 0);
}

int ks_rename(const void *src, size_t slen, const ks_meta *ms, const void *dst, size_t dlen,
              const ks_meta *dold)
{
    int rc;
    if (ms->type == OBJ_STRING) {
        char *v = malloc(ms->slen + 1);
        if (!v) return OMEN_NOMEM;
        memcpy(v, ms->sval, ms->slen);
        ks_meta m = *ms;
        m.sval = NULL;
        rc = put_meta_common(dst, dlen, &m, v, m.slen, dold);
        free(v);
        if (!rc) rc = delete_meta(src, slen, &m, 0);
        return rc;
    }
    rc = put_meta_common(dst, dlen, ms, NULL, 0, dold);
    if (!rc) rc = delete_meta(src, slen, ms, 1);
    return rc;
}

int ks_delete_key(const void *key, size_t klen)
{
    ks_meta m;
    int rc = ks_lookup(key, klen, &m);
    if (rc == OMEN_NOTFOUND) return 0;
    if (rc) return -rc;
    rc = ks_delete(key, klen, &m);
    return rc ? -rc : 1;
}

uint64_t ks_new_gen(void)
{
    if (ks.gen_next >= ks.gen_hw) {
        uint8_t v[8];
        ks.gen_hw = ks.gen_next + GEN_BLOCK;
        put_be64(v, ks.gen_hw);
        pend_put(GEN_KEY, sizeof GEN_KEY, v, 8);
    }
    return ks.gen_next++;
}

uint64_t ks_dbsize(void) { return ks.nkeys; }
uint64_t ks_expires_count(void) { return ks.nexpires; }
uint64_t ks_garbage_pending(void) { return ks.ngarbage; }
void ks_set_touch_hook(void (*fn)(const void *key, size_t klen)) { ks.touch = fn; }

const char *ks_type_name(int type)
{
    switch (type) {
    case OBJ_STRING: return "string";
    case OBJ_LIST: return "list";
    case OBJ_SET: return "set";
    case OBJ_ZSET: return "zset";
    case OBJ_HASH: return "hash";
    case OBJ_VSET: return "vectorset";
    default: return "none";
    }
}

/* ---- collections ------------------------------------------------------- */

int ks_collection_open(client *c, const void *key, size_t klen, int type, int create, ks_meta *m,
                       ks_meta *old)
{
    int r = ks_lookup_reply(c, key, klen, type, m);
    if (r < 0) return -1;
    if (r > 0) {
        *old = *m;
        old->sval = NULL;
        return 1;
    }
    memset(m, 0, sizeof *m);
    memset(old, 0, sizeof *old);
    if (create) {
        if (klen > KS_MAX_KEY) {
            addReplyError(c, "ERR key too long");
            return -1;
        }
        m->type = type;
        m->gen = ks_new_gen();
    }
    return 0;
}

int ks_collection_save(const void *key, size_t klen, ks_meta *m, int existed, const ks_meta *old)
{
    if (m->count == 0) return existed ? ks_delete(key, klen, old) : OMEN_OK;
    return ks_put_meta(key, klen, m, existed ? old : NULL);
}

/* ---- sub-keys ---------------------------------------------------------- */

size_t ks_subkey(char *out, uint64_t gen, int fam, const void *elem, size_t elen)
{
    out[0] = 's';
    put_be64(out + 1, gen);
    out[9] = (char)fam;
    if (elen) memcpy(out + 10, elem, elen);
    return 10 + elen;
}

int ks_sub_get(uint64_t gen, int fam, const void *elem, size_t elen, const char **val,
               size_t *vlen)
{
    if (elen > KS_MAX_ELEM) return OMEN_NOTFOUND;
    char *k = kscratch(KS_SUBKEY_LEN(elen));
    if (!k) return OMEN_NOMEM;
    size_t kl = ks_subkey(k, gen, fam, elem, elen);
    return pend_get(k, kl, &ks.sbuf, &ks.scap, val, vlen);
}

int ks_sub_put(uint64_t gen, int fam, const void *elem, size_t elen, const void *val,
               size_t vlen)
{
    if (elen > KS_MAX_ELEM || vlen > OMEN_MAX_VALUE_LEN) return OMEN_TOOBIG;
    char *k = kscratch(KS_SUBKEY_LEN(elen));
    if (!k) return OMEN_NOMEM;
    size_t kl = ks_subkey(k, gen, fam, elem, elen);
    int rc = pend_put(k, kl, val, vlen);
    if (!rc) pend_maybe_commit_large();
    return rc;
}

int ks_sub_del(uint64_t gen, int fam, const void *elem, size_t elen)
{
    if (elen > KS_MAX_ELEM) return OMEN_NOTFOUND;
    char *k = kscratch(KS_SUBKEY_LEN(elen));
    if (!k) return OMEN_NOMEM;
    size_t kl = ks_subkey(k, gen, fam, elem, elen);
    int rc = pend_del(k, kl);
    if (!rc) pend_maybe_commit_large();
    return rc;
}

int ks_sub_iter(uint64_t gen, int fam, omen_iter **out)
{
    char lo[10], hi[10];
    ks_subkey(lo, gen, fam, NULL, 0);
    ks_subkey(hi, gen, fam + 1, NULL, 0);
    return pend_iter(lo, 10, hi, 10, out);
}

int ks_sub_iter_range(uint64_t gen, int fam, const void *lo, size_t lolen, const void *hi,
                      size_t hilen, omen_iter **out)
{
    if ((lo && lolen > KS_MAX_ELEM) || (hi && hilen > KS_MAX_ELEM)) return OMEN_TOOBIG;
    char *l = malloc(KS_SUBKEY_LEN(lo ? lolen : 0)), *h = malloc(KS_SUBKEY_LEN(hi ? hilen : 0));
    int rc = OMEN_NOMEM;
    if (l && h) {
        size_t ll = ks_subkey(l, gen, fam, lo, lo ? lolen : 0);
        size_t hl = hi ? ks_subkey(h, gen, fam, hi, hilen) : ks_subkey(h, gen, fam + 1, NULL, 0);
        rc = pend_iter(l, ll, h, hl, out);
    }
    free(l);
    free(h);
    return rc;
}

const char *ks_sub_elem(omen_iter *it, size_t *elen)
{
    size_t kl;
    const char *k = omen_iter_key(it, &kl);
    *elen = kl - 10;
    return k + 10;
}

void ks_score_encode(double d, unsigned char out[8])
{
    uint64_t u;
    if (d == 0) d = 0; /* -0.0 sorts as 0 */
    memcpy(&u, &d, 8);
    u = (u & 0x8000000000000000ull) ? ~u : u | 0x8000000000000000ull;
    put_be64(out, u);
}

double ks_score_decode(const unsigned char in[8])
{
    uint64_t u = get_be64(in);
    u = (u & 0x8000000000000000ull) ? u & ~0x8000000000000000ull : ~u;
    double d;
    memcpy(&d, &u, 8);
    return d;
}

void ks_list_pos(int64_t pos, unsigned char out[8])
{
    put_be64(out, (uint64_t)pos ^ 0x8000000000000000ull);
}

/* ---- key iteration ------------------------------------------------------ */

int ks_key_iter(omen_iter **out) { return pend_iter("k", 1, "l", 1, out); }

int ks_key_at(omen_iter *it, const char **key, size_t *klen, ks_meta *m)
{
    size_t kl, vl;
    const char *k = omen_iter_key(it, &kl);
    const char *v = omen_iter_value(it, &vl);
    *key = k + 1;
    *klen = kl - 1;
    if (meta_decode(v, vl, m)) return 0;
    return !(m->expire_ms && m->expire_ms <= ae_pass_ms());
}

void ks_key_seek(omen_iter *it, const void *key, size_t klen)
{
    char *k = kscratch(klen + 1);
    if (!k) return;
    k[0] = 'k';
    memcpy(k + 1, key, klen);
    omen_iter_seek(it, k, klen + 1);
}

/* Delete every entry of [lo, hi) in batches; counts metadata entries. */
static int delete_range(const char *lo, size_t lolen, const char *hi, size_t hilen)
{
    omen_iter *it;
    int rc = pend_iter(lo, lolen, hi, hilen, &it);
    if (rc) return rc;
    for (omen_iter_seek_first(it); omen_iter_valid(it); omen_iter_next(it)) {
        size_t kl;
        const char *k = omen_iter_key(it, &kl);
        rc = pend_del(k, kl);
        if (rc) break;
        if (pend_count() >= 10000) {
            rc = pend_commit_mid();
            if (rc) break;
        }
    }
    if (!rc) rc = omen_iter_status(it);
    omen_iter_destroy(it);
    return rc;
}

int ks_flushall(void)
{
    touch(NULL, 0); /* while the keys are still there to be asked about */
    int rc = pend_commit_mid();
    /* Everything goes: metadata, elements, expiry index, pending garbage. */
    if (!rc) rc = delete_range("g", 1, "h", 1);
    if (!rc) rc = delete_range("k", 1, "l", 1);
    if (!rc) rc = delete_range("s", 1, "t", 1);
    if (!rc) rc = delete_range("x", 1, "y", 1);
    if (!rc) rc = pend_commit_mid();
    /* Inside EXEC the deletes are not committed yet (and may never be):
     * the filter keeps the keys and nothing is compacted. */
    int in_txn = pend_in_txn();
    /* Reclaim now what was deleted: flush the tombstones and compact
     * everything, so that neither the disk nor later reads and background
     * work carry the deleted data (Redis's FLUSHALL frees memory before it
     * replies, too). */
    if (!rc && !in_txn) rc = omen_flush(ks.db);
    if (!rc && !in_txn) rc = omen_compact_range(ks.db, NULL, 0, NULL, 0);
    if (!rc && !in_txn) kf_clear(&ks.kf); /* on failure some keys may remain: keep them */
    ks.nkeys = ks.nexpires = ks.ngarbage = 0;
    if (!rc && ks.vsweep) ks.vsweep();
    return rc;
}

/* ---- background reclamation ------------------------------------------------ */

/* Expire due keys (in due order, from the 'x' index). */
static long expire_cycle(long *budget, int64_t now)
{
    omen_iter *it;
    long expired = 0;
    char hi[9];
    hi[0] = 'x';
    put_be64(hi + 1, (uint64_t)now + 1);
    if (pend_iter("x", 1, hi, 9, &it)) return 0;
    /* Collect first: deleting invalidates nothing in the iterator (it reads
     * a snapshot), but the batch may be committed under it. */
    for (omen_iter_seek_first(it); omen_iter_valid(it) && *budget > 0; omen_iter_next(it)) {
        size_t kl;
        const char *k = omen_iter_key(it, &kl);
        if (kl < 9) continue;
        int64_t when = (int64_t)get_be64(k + 1);
        const char *key = k + 9;
        size_t klen = kl - 9;
        (*budget)--;
        ks_meta m;
        int rc = lookup_raw(key, klen, &m);
        if (rc == OMEN_OK && m.expire_ms == when) {
            m.sval = NULL;
            if (ks_delete(key, klen, &m) == OMEN_OK) {
                expired++;
                server.stat_expired++;
            }
        } else if (rc == OMEN_OK || rc == OMEN_NOTFOUND) {
            /* Stale index entry (expiry changed or key gone). */
            char *x = kscratch(kl);
            if (x) {
                memcpy(x, k, kl);
                pend_del(x, kl);
            }
        }
    }
    omen_iter_destroy(it);
    return expired;
}

/* Delete the elements of generations queued for reclamation. */
static void garbage_cycle(long *budget)
{
    omen_iter *git;
    if (pend_iter("g", 1, "h", 1, &git)) return;
    for (omen_iter_seek_first(git); omen_iter_valid(git) && *budget > 0; omen_iter_next(git)) {
        size_t gl;
        const char *gk = omen_iter_key(git, &gl);
        if (gl != 9) continue;
        char gkey[9];
        memcpy(gkey, gk, 9);
        uint64_t gen = get_be64(gkey + 1);
        char lo[9], hi[9];
        lo[0] = hi[0] = 's';
        put_be64(lo + 1, gen);
        put_be64(hi + 1, gen + 1);
        omen_iter_options o;
        memset(&o, 0, sizeof o);
        o.lower = lo;
        o.lower_len = 9;
        o.upper = hi;
        o.upper_len = 9;
        omen_iter *it;
        if (omen_iter_create(ks.db, &o, &it)) break;
        int done = 1;
        for (omen_iter_seek_first(it); omen_iter_valid(it); omen_iter_next(it)) {
            if (*budget <= 0) {
                done = 0;
                break;
            }
            size_t kl;
            const char *k = omen_iter_key(it, &kl);
            /* A vector set's marker: drop its engine set first (a synced
             * write); if that fails the marker stays and is retried. */
            if (kl == 10 && k[9] == KS_FAM_VSET && ks.vdrop && ks.vdrop(gen)) {
                done = 0;
                break;
            }
            pend_del(k, kl);
            (*budget)--;
        }
        omen_iter_destroy(it);
        if (!done) break;
        pend_del(gkey, 9);
        if (ks.ngarbage) ks.ngarbage--;
        (*budget)--;
    }
    omen_iter_destroy(git);
}

long ks_background(long budget, int64_t now_ms)
{
    long n = expire_cycle(&budget, now_ms);
    garbage_cycle(&budget);
    return n;
}

/* ---- passes ------------------------------------------------------------- */

static void kf_build(void);

int ks_commit(int sync)
{
    int rc = pend_commit(sync);
    /* Nothing is pending now: a scan of the engine sees every key. */
    if (ks.kf_rebuild) kf_build();
    return rc;
}
int ks_flush(void) { return pend_commit_mid(); }
int ks_vadd(omen_vset *vs, const void *id, size_t idlen, const float *vec, uint32_t dim,
            const char *attrs, size_t alen)
{
    return pend_vadd(vs, id, idlen, vec, dim, attrs, alen);
}
int ks_vdel(omen_vset *vs, const void *id, size_t idlen) { return pend_vdel(vs, id, idlen); }
int ks_direct_sync(void) { return pend_mid_sync(); }
void ks_set_vset_hooks(int (*drop)(uint64_t gen), void (*sweep)(void))
{
    ks.vdrop = drop;
    ks.vsweep = sweep;
}
size_t ks_pending(void) { return pend_count(); }
void ks_set_commit_sync(int sync) { pend_set_mid_sync(sync); }
int ks_commit_failed(void) { return pend_failed(); }
int ks_txn_begin(void) { return pend_txn_begin(); }
int ks_txn_end(void) { return pend_txn_end(); }

/* ---- open / close ------------------------------------------------------- */

static uint64_t count_range(const char *lo, const char *hi)
{
    omen_iter *it;
    omen_iter_options o;
    memset(&o, 0, sizeof o);
    o.lower = lo;
    o.lower_len = 1;
    o.upper = hi;
    o.upper_len = 1;
    if (omen_iter_create(ks.db, &o, &it)) return 0;
    uint64_t n = 0;
    for (omen_iter_seek_first(it); omen_iter_valid(it); omen_iter_next(it)) n++;
    omen_iter_destroy(it);
    return n;
}

/* (Re)build the key filter from a scan of every metadata entry (pending
 * writes must be committed), sized for twice the keys there are.  If that
 * fails, the filter is switched off for good: lookups then always read
 * the engine, as they would without it. */
static void kf_build(void)
{
    ks.kf_rebuild = 0;
    /* At least key-filter-min-keys (1.5 MiB for the default 1M keys). */
    uint64_t min = (uint64_t)server.key_filter_min_keys;
    uint64_t cap = ks.nkeys * 2 < min ? min : ks.nkeys * 2;
    kfilter nf;
    omen_iter *it = NULL;
    omen_iter_options o;
    memset(&o, 0, sizeof o);
    o.lower = "k";
    o.lower_len = 1;
    o.upper = "l";
    o.upper_len = 1;
    kf_free(&ks.kf);
    if (kf_init(&nf, cap) || omen_iter_create(ks.db, &o, &it)) {
        kf_free(&nf);
        ks.kf_off = 1;
        server_log(LL_WARNING, "key filter off (out of memory or unreadable keyspace): every lookup reads the engine");
        return;
    }
    uint64_t n = 0;
    for (omen_iter_seek_first(it); omen_iter_valid(it); omen_iter_next(it)) {
        size_t kl;
        const char *k = omen_iter_key(it, &kl);
        kf_add(&nf, k + 1, kl - 1);
        n++;
    }
    int rc = omen_iter_status(it);
    omen_iter_destroy(it);
    if (rc) {
        kf_free(&nf);
        ks.kf_off = 1;
        server_log(LL_WARNING, "key filter off (%s): every lookup reads the engine", omen_strerror(rc));
        return;
    }
    nf.added = n;
    ks.kf = nf;
}

size_t ks_filter_bytes(void) { return kf_bytes(&ks.kf); }
void ks_prefetch_key(const void *key, size_t klen) { kf_prefetch(&ks.kf, key, klen); }

int ks_open(omen_db *db)
{
    memset(&ks, 0, sizeof ks);
    ks.db = db;
    int rc = pend_open(db);
    if (rc) return rc;
    ks.rcap = ks.scap = 4096;
    ks.rbuf = malloc(ks.rcap);
    ks.sbuf = malloc(ks.scap);
    if (!ks.rbuf || !ks.sbuf) return OMEN_NOMEM;
    uint8_t v[8];
    size_t vl = 0;
    rc = omen_get_into(db, NULL, GEN_KEY, sizeof GEN_KEY, v, 8, &vl);
    if (rc == OMEN_OK && vl == 8) {
        ks.gen_next = ks.gen_hw = get_be64(v);
    } else if (rc == OMEN_NOTFOUND) {
        ks.gen_next = ks.gen_hw = 1;
    } else {
        return rc ? rc : OMEN_CORRUPT;
    }
    ks.nkeys = count_range("k", "l");
    ks.nexpires = count_range("x", "y");
    ks.ngarbage = count_range("g", "h");
    kf_build();
    return OMEN_OK;
}

void ks_close(void)
{
    pend_close();
    free(ks.rbuf);
    free(ks.sbuf);
    free(ks.kbuf);
    kf_free(&ks.kf);
    memset(&ks, 0, sizeof ks);
}
