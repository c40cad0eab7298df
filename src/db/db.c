/*
 * db.c -- the database handle: open and recovery, close, superversions,
 * point reads, snapshots, statistics, destroy and check.
 *
 * Recovery invariant: MANIFEST lists every live run and the lowest WAL
 * number still needed (log_number).  Open replays every WAL >= log_number
 * in file-number order (stopping cleanly at a torn tail of the last one),
 * writes what it replayed to a level-0 run, starts a fresh WAL, records both
 * in a new MANIFEST and only then deletes the replayed WALs and any file the
 * manifest does not reference.  A crash at any point leaves either the old
 * or the new manifest, and every file either references is still there.
 *
 * Closed handles are not freed: their (small) struct stays on a global list
 * with every resource released, so a call on a closed handle returns
 * OMEN_CLOSED instead of touching freed memory.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <unistd.h>

#include "db/db_impl.h"
#include "util/err.h"
#include "util/mem.h"

static pthread_mutex_t zombie_mu = PTHREAD_MUTEX_INITIALIZER;
static omen_db *zombies;

void omen_options_init(omen_options *o)
{
    if (!o) return;
    memset(o, 0, sizeof *o);
    o->create_if_missing = 1;
    o->error_if_exists = 0;
    o->write_buffer_size = 64u << 20;
    o->compression = OMEN_COMPRESS_NONE;
    o->sync = OMEN_SYNC_RELAXED;
    o->cache_size = 64u << 20;
    o->bloom_bits_per_key = 10;
    o->index_epsilon = 0;
    o->read_only = 0;
}

void omen_key_u64(uint64_t v, unsigned char out[8])
{
    if (!out) return;
    for (int i = 7; i >= 0; i--) {
        out[i] = (unsigned char)v;
        v >>= 8;
    }
}

uint64_t omen_key_to_u64(const void *key, size_t len)
{
    if (!key || len != 8) return 0;
    const unsigned char *p = key;
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) v = (v << 8) | p[i];
    return v;
}

int db_check_handle(const omen_db *db, const char *fn)
{
    if (!db) return omen_seterr(OMEN_INVALID, "%s: NULL database handle", fn);
    if (db->closed) return omen_seterr(OMEN_CLOSED, "%s: the database handle is closed", fn);
    return OMEN_OK;
}

int db_check_writable(omen_db *db, const char *fn)
{
    int rc = db_check_handle(db, fn);
    if (rc) return rc;
    if (atomic_load_explicit(&db->read_only, memory_order_acquire)) {
        if (db->opts.read_only)
            return omen_seterr(OMEN_READONLY, "%s: the database was opened read-only", fn);
        return omen_seterr(OMEN_READONLY,
                           "%s: the database turned read-only after a fatal I/O error "
                           "(see the error reported when it happened)",
                           fn);
    }
    return OMEN_OK;
}

/* ---- file names ------------------------------------------------------------- */

int db_filename(const char *dir, uint64_t num, const char *ext, char **out)
{
    size_t n = strlen(dir) + 48;
    char *p = omen_malloc(n);
    if (!p) return omen_seterr(OMEN_NOMEM, "out of memory");
    if (ext)
        snprintf(p, n, "%s/%06llu.%s", dir, (unsigned long long)num, ext);
    else
        snprintf(p, n, "%s", dir);
    *out = p;
    return OMEN_OK;
}

static char *path_join(const char *dir, const char *name)
{
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = omen_malloc(n);
    if (p) snprintf(p, n, "%s/%s", dir, name);
    return p;
}

/* "000123.wal" -> 123 and kind 'w'; "000123.run" -> 'r'; 0 otherwise. */
static int parse_name(const char *name, uint64_t *num)
{
    const char *p = name;
    uint64_t v = 0;
    int digits = 0;
    while (*p >= '0' && *p <= '9') {
        if (digits > 18) return 0;
        v = v * 10 + (uint64_t)(*p - '0');
        p++;
        digits++;
    }
    if (!digits) return 0;
    *num = v;
    if (strcmp(p, ".wal") == 0) return 'w';
    if (strcmp(p, ".run") == 0) return 'r';
    return 0;
}

/* ---- runs and superversions -------------------------------------------------- */

void db_run_unref(db_run *r)
{
    if (!r) return;
    if (atomic_fetch_sub_explicit(&r->refs, 1, memory_order_acq_rel) != 1) return;
    run_close(r->r);
    if (r->obsolete && r->db->path) { /* path is gone once the handle closed */
        char *fn = NULL;
        if (db_filename(r->db->path, r->meta.file_number, "run", &fn) == OMEN_OK) {
            fio_unlink(fn);
            omen_free(fn);
        }
    }
    omen_free(r->meta.smallest);
    omen_free(r->meta.largest);
    omen_free(r);
}

int db_run_open(omen_db *db, const manifest_run *meta, db_run **out)
{
    *out = NULL;
    char *fn = NULL;
    int rc = db_filename(db->path, meta->file_number, "run", &fn);
    if (rc) return rc;
    db_run *r = omen_calloc(1, sizeof *r);
    if (!r) {
        omen_free(fn);
        return omen_seterr(OMEN_NOMEM, "out of memory");
    }
    rc = run_open(fn, meta->file_number, db->cache, &r->r);
    if (rc) {
        if (rc == OMEN_NOTFOUND) rc = omen_seterr(OMEN_CORRUPT, "run file %s listed in MANIFEST is missing", fn);
        omen_free(fn);
        omen_free(r);
        return rc;
    }
    omen_free(fn);
    atomic_init(&r->refs, 1);
    r->db = db;
    r->meta = *meta;
    r->meta.smallest = NULL;
    r->meta.largest = NULL;
    r->meta.smallest_len = r->meta.largest_len = 0;
    if (meta->smallest_len) r->meta.smallest = omen_memdup(meta->smallest, meta->smallest_len);
    if (meta->largest_len) r->meta.largest = omen_memdup(meta->largest, meta->largest_len);
    if ((meta->smallest_len && !r->meta.smallest) || (meta->largest_len && !r->meta.largest)) {
        db_run_unref(r);
        return omen_seterr(OMEN_NOMEM, "out of memory");
    }
    r->meta.smallest_len = meta->smallest_len;
    r->meta.largest_len = meta->largest_len;
    *out = r;
    return OMEN_OK;
}

static int run_order(const void *a, const void *b)
{
    const db_run *x = *(db_run *const *)a, *y = *(db_run *const *)b;
    if (x->meta.level != y->meta.level) return x->meta.level < y->meta.level ? -1 : 1;
    /* L0: newest first. */
    if (x->meta.max_seq != y->meta.max_seq) return x->meta.max_seq > y->meta.max_seq ? -1 : 1;
    if (x->meta.file_number != y->meta.file_number)
        return x->meta.file_number > y->meta.file_number ? -1 : 1;
    return 0;
}

/* New superversion referencing mem, imm and the n runs (refs taken). */
db_sv *db_sv_new(mt *mem, mt *imm, db_run **runs, size_t n)
{
    db_sv *sv = omen_calloc(1, sizeof *sv);
    if (!sv) return NULL;
    sv->runs = omen_calloc(n ? n : 1, sizeof(db_run *));
    if (!sv->runs) {
        omen_free(sv);
        return NULL;
    }
    atomic_init(&sv->refs, 1);
    if (n) memcpy(sv->runs, runs, n * sizeof(db_run *));
    qsort(sv->runs, n, sizeof(db_run *), run_order);
    sv->nruns = n;
    size_t i = 0;
    for (int lv = 0; lv <= OMEN_MAX_LEVELS; lv++) {
        while (i < n && (int)sv->runs[i]->meta.level < lv) i++;
        sv->level_start[lv] = i;
    }
    sv->level_start[OMEN_MAX_LEVELS] = n;
    for (size_t k = 0; k < n; k++) atomic_fetch_add(&sv->runs[k]->refs, 1);
    sv->mem = mem;
    sv->imm = imm;
    if (mem) mt_ref(mem);
    if (imm) mt_ref(imm);
    return sv;
}

static void sv_free(db_sv *sv)
{
    if (sv->mem) mt_unref(sv->mem);
    if (sv->imm) mt_unref(sv->imm);
    for (size_t i = 0; i < sv->nruns; i++) db_run_unref(sv->runs[i]);
    omen_free(sv->runs);
    omen_free(sv);
}

static int sv_hazarded(omen_db *db, const db_sv *sv)
{
    if (!db->hp) return 0; /* closed: no reader can pin any more */
    for (int i = 0; i < DB_HP_SLOTS; i++)
        if (atomic_load(&db->hp[i].hp) == sv) return 1;
    return 0;
}

/* Free every retired superversion no reader still names (retire_mu held). */
static void sv_reclaim(omen_db *db)
{
    db_sv **pp = &db->retired;
    while (*pp) {
        db_sv *sv = *pp;
        if (sv_hazarded(db, sv)) {
            pp = &sv->retired_next;
            continue;
        }
        *pp = sv->retired_next;
        sv_free(sv);
    }
}

void db_sv_put(db_sv *sv)
{
    if (!sv) return;
    if (atomic_fetch_sub_explicit(&sv->refs, 1, memory_order_acq_rel) != 1) return;
    omen_db *db = sv->db;
    if (!db) {
        sv_free(sv);
        return;
    }
    pthread_mutex_lock(&db->retire_mu);
    sv->retired_next = db->retired;
    db->retired = sv;
    sv_reclaim(db);
    pthread_mutex_unlock(&db->retire_mu);
}

static _Thread_local unsigned hp_hint;

/* Claim a free hazard slot, starting at this thread's last one; -1 if every
 * slot is busy. */
static int hp_claim(omen_db *db)
{
    unsigned start = hp_hint;
    for (unsigned k = 0; k < DB_HP_SLOTS; k++) {
        unsigned i = (start + k) % DB_HP_SLOTS;
        db_hp_slot *s = &db->hp[i];
        int expect = 0;
        if (atomic_load_explicit(&s->busy, memory_order_relaxed) == 0 &&
            atomic_compare_exchange_strong_explicit(&s->busy, &expect, 1, memory_order_acquire,
                                                    memory_order_relaxed)) {
            hp_hint = i;
            return (int)i;
        }
    }
    return -1;
}

/* Publish the current superversion in a claimed slot.  The slot is
 * published (seq_cst) before re-checking that sv is still current, and an
 * installer swaps db->sv (seq_cst) before dropping the old one's reference
 * and scanning the slots, so either the reader sees the swap and retries,
 * or the reclaimer sees the slot.  Since a published sv cannot be freed (no
 * ABA) and no install happened between the two loads, *seq was read while
 * sv was current: sv holds every write <= *seq and no compaction in it
 * dropped a version visible at *seq. */
static db_sv *hp_publish(omen_db *db, int slot, uint64_t *seq)
{
    db_hp_slot *s = &db->hp[slot];
    db_sv *sv;
    for (;;) {
        sv = atomic_load(&db->sv);
        atomic_store(&s->hp, sv);
        *seq = atomic_load_explicit(&db->last_seq, memory_order_acquire);
        if (atomic_load(&db->sv) == sv) return sv;
    }
}

static void hp_release(omen_db *db, int slot)
{
    atomic_store_explicit(&db->hp[slot].hp, NULL, memory_order_release);
    atomic_store_explicit(&db->hp[slot].busy, 0, memory_order_release);
}

db_sv *db_sv_pin(omen_db *db, uint64_t *seq, int *slot)
{
    *slot = hp_claim(db);
    if (*slot < 0) return db_sv_get_seq(db, seq);
    return hp_publish(db, *slot, seq);
}

void db_sv_unpin(omen_db *db, db_sv *sv, int slot)
{
    if (slot < 0)
        db_sv_put(sv);
    else
        hp_release(db, slot);
}

/* Counted reference (iterators, transactions, stats): pin, then take a
 * reference only if the count is not already 0 (a retired sv stays dead). */
db_sv *db_sv_get_seq(omen_db *db, uint64_t *seq)
{
    for (;;) {
        int slot = hp_claim(db);
        if (slot >= 0) {
            db_sv *sv = hp_publish(db, slot, seq);
            int r = atomic_load(&sv->refs), ok = 0;
            while (r > 0) {
                if (atomic_compare_exchange_weak(&sv->refs, &r, r + 1)) {
                    ok = 1;
                    break;
                }
            }
            hp_release(db, slot);
            if (ok) return sv;
            /* it was retired meanwhile: start over */
        }
        /* every slot busy (or a retry): yield and try again */
        sched_yield();
    }
}

db_sv *db_sv_get(omen_db *db)
{
    uint64_t seq;
    return db_sv_get_seq(db, &seq);
}

/* Replace the current superversion (caller holds mu); returns the old one
 * for the caller to release. */
db_sv *db_sv_install(omen_db *db, db_sv *sv)
{
    sv->db = db;
    return atomic_exchange(&db->sv, sv);
}

/* ---- point reads -------------------------------------------------------------- */

static int get_sv(db_sv *sv, uint64_t seq, const void *key, size_t klen, const run_vdst *d,
                  size_t *vlen)
{
    uint64_t s;
    int type;
    const void *v;
    size_t vl;
    if (mt_get(sv->mem, key, klen, seq, &s, &type, &v, &vl) ||
        (sv->imm && mt_get(sv->imm, key, klen, seq, &s, &type, &v, &vl))) {
        if (type == MT_TYPE_DELETE) return OMEN_NOTFOUND;
        return run_vdst_put(d, v, vl, vlen);
    }
    for (size_t i = 0; i < sv->nruns; i++) {
        db_run *r = sv->runs[i];
        if (r->meta.min_seq > seq) continue; /* everything in it is too new */
        int rc = run_get_to(r->r, key, klen, seq, &s, &type, d, vlen);
        if (rc == OMEN_NOTFOUND) continue;
        if (rc) return rc;
        return type == RUN_TYPE_DELETE ? OMEN_NOTFOUND : OMEN_OK; /* a DELETE hands out no value */
    }
    return OMEN_NOTFOUND;
}

int db_get_sv(db_sv *sv, uint64_t seq, const void *key, size_t klen, void **val, size_t *vlen)
{
    run_vdst d = {val, NULL, 0};
    return get_sv(sv, seq, key, klen, &d, vlen);
}

int db_changed_since(db_sv *sv, const void *key, size_t klen, uint64_t snap, int *changed)
{
    *changed = 0;
    uint64_t s = mt_latest_seq(sv->mem, key, klen);
    if (!s && sv->imm) s = mt_latest_seq(sv->imm, key, klen);
    if (s) {
        *changed = s > snap;
        return OMEN_OK;
    }
    for (size_t i = 0; i < sv->nruns; i++) {
        db_run *r = sv->runs[i];
        if (r->meta.max_seq <= snap) {
            /* Older levels hold older versions: nothing after snap. */
            if (i >= sv->level_start[1]) return OMEN_OK;
            continue;
        }
        int rc = run_latest_seq(r->r, key, klen, &s);
        if (rc == OMEN_NOTFOUND) continue;
        if (rc) return rc;
        *changed = s > snap;
        return OMEN_OK;
    }
    return OMEN_OK;
}

/* omen_get and omen_get_into: argument checks, pin, read, unpin.  d is
 * NULL when omen_get was given no val. */
static int get_common(omen_db *db, const omen_snapshot *snap, const void *key, size_t klen,
                      const run_vdst *d, size_t *vlen, const char *fn)
{
    int rc = db_check_handle(db, fn);
    if (rc) return rc;
    if (!d || !vlen) return omen_seterr(OMEN_INVALID, "%s: NULL %s", fn, vlen ? "val" : "vlen");
    if (!d->val && !d->buf && d->cap)
        return omen_seterr(OMEN_INVALID, "%s: NULL buffer of %zu bytes", fn, d->cap);
    *vlen = 0;
    if (!key && klen) return omen_seterr(OMEN_INVALID, "%s: NULL key with length %zu", fn, klen);
    if (klen > OMEN_MAX_KEY_LEN)
        return omen_seterr(OMEN_TOOBIG, "%s: key of %zu bytes exceeds the %u-byte limit", fn, klen,
                           OMEN_MAX_KEY_LEN);
    if (snap && snap->db != db)
        return omen_seterr(OMEN_INVALID, "%s: snapshot belongs to another handle", fn);
    uint64_t seq;
    int slot;
    db_sv *sv = db_sv_pin(db, &seq, &slot);
    if (snap) seq = snap->seq;
    rc = get_sv(sv, seq, key, klen, d, vlen);
    db_sv_unpin(db, sv, slot);
    if (rc == OMEN_NOTFOUND) *vlen = 0;
    return rc;
}

int omen_get(omen_db *db, const omen_snapshot *snap, const void *key, size_t klen, void **val,
             size_t *vlen)
{
    if (val) *val = NULL;
    run_vdst d = {val, NULL, 0};
    return get_common(db, snap, key, klen, val ? &d : NULL, vlen, "omen_get");
}

int omen_get_into(omen_db *db, const omen_snapshot *snap, const void *key, size_t klen, void *buf,
                  size_t cap, size_t *vlen)
{
    run_vdst d = {NULL, buf, cap};
    return get_common(db, snap, key, klen, &d, vlen, "omen_get_into");
}

/* ---- snapshots ------------------------------------------------------------------ */

int db_snapshot_acquire(omen_db *db, struct omen_snapshot **out)
{
    struct omen_snapshot *s = omen_calloc(1, sizeof *s);
    if (!s) return omen_seterr(OMEN_NOMEM, "snapshot: out of memory");
    s->db = db;
    pthread_mutex_lock(&db->mu);
    s->seq = atomic_load_explicit(&db->last_seq, memory_order_acquire);
    /* Append: the list stays ordered by sequence. */
    s->prev = db->snaps.prev;
    s->next = &db->snaps;
    db->snaps.prev->next = s;
    db->snaps.prev = s;
    db->nsnaps++;
    pthread_mutex_unlock(&db->mu);
    atomic_fetch_add(&db->outstanding, 1);
    *out = s;
    return OMEN_OK;
}

void db_snapshot_drop(omen_db *db, struct omen_snapshot *s)
{
    pthread_mutex_lock(&db->mu);
    s->prev->next = s->next;
    s->next->prev = s->prev;
    db->nsnaps--;
    pthread_mutex_unlock(&db->mu);
    atomic_fetch_sub(&db->outstanding, 1);
    omen_free(s);
}

/* Sorted copy of the live snapshot sequences (caller holds mu). */
int db_snapshot_list(omen_db *db, uint64_t **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    if (!db->nsnaps) return OMEN_OK;
    uint64_t *a = omen_malloc(db->nsnaps * sizeof *a);
    if (!a) return omen_seterr(OMEN_NOMEM, "out of memory");
    size_t k = 0;
    for (struct omen_snapshot *s = db->snaps.next; s != &db->snaps; s = s->next) {
        if (k && a[k - 1] == s->seq) continue;
        a[k++] = s->seq;
    }
    *out = a;
    *n = k;
    return OMEN_OK;
}

int omen_snapshot_create(omen_db *db, omen_snapshot **out)
{
    if (!out) return omen_seterr(OMEN_INVALID, "omen_snapshot_create: NULL out");
    *out = NULL;
    int rc = db_check_handle(db, "omen_snapshot_create");
    if (rc) return rc;
    return db_snapshot_acquire(db, out);
}

void omen_snapshot_release(omen_db *db, omen_snapshot *snap)
{
    /* Also after close (a misuse): the zombie handle keeps the list head. */
    if (!db || !snap || snap->db != db) return;
    db_snapshot_drop(db, snap);
}

uint64_t omen_snapshot_sequence(const omen_snapshot *snap)
{
    return snap ? snap->seq : 0;
}

/* ---- open ------------------------------------------------------------------------ */

typedef struct dir_scan {
    int has_manifest, foreign;
    uint64_t *wals;
    size_t nwals, cwals;
    uint64_t max_number;
    char foreign_name[64];
} dir_scan;

static int scan_cb(void *ctx, const char *name)
{
    dir_scan *s = ctx;
    uint64_t num;
    int kind = parse_name(name, &num);
    if (kind) {
        if (num > s->max_number) s->max_number = num;
        if (kind == 'w') {
            if (s->nwals == s->cwals) {
                size_t nc = s->cwals ? s->cwals * 2 : 8;
                uint64_t *p = omen_realloc(s->wals, nc * sizeof *p);
                if (!p) return omen_seterr(OMEN_NOMEM, "out of memory");
                s->wals = p;
                s->cwals = nc;
            }
            s->wals[s->nwals++] = num;
        }
        return 0;
    }
    if (strcmp(name, MANIFEST_FILE) == 0) {
        s->has_manifest = 1;
        return 0;
    }
    if (strcmp(name, "LOCK") == 0 || strcmp(name, MANIFEST_FILE ".tmp") == 0) return 0;
    if (strstr(name, ".run.tmp")) return 0; /* run writer spill files */
    if (!s->foreign) snprintf(s->foreign_name, sizeof s->foreign_name, "%s", name);
    s->foreign = 1;
    return 0;
}

static int u64_cmp(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

typedef struct replay_ctx {
    omen_db *db;
    mt *mem;
    uint64_t max_seq;
    int bad; /* a record decoded badly */
} replay_ctx;

static int replay_apply(void *ctx, uint64_t seq, int type, const void *key, size_t klen,
                        const void *val, size_t vlen)
{
    replay_ctx *r = ctx;
    if (mt_reserve(r->mem, mt_entry_cost(klen, vlen), 1)) return OMEN_NOMEM;
    int rc = mt_add(r->mem, seq, type, key, klen, val, vlen);
    if (rc) return rc;
    if (seq > r->max_seq) r->max_seq = seq;
    return OMEN_OK;
}

static int replay_record(void *ctx, const void *rec, size_t len)
{
    replay_ctx *r = ctx;
    uint64_t seq;
    uint32_t count;
    int rc = batch_decode(rec, len, &seq, &count, NULL, NULL);
    if (rc) {
        r->bad = 1;
        return rc;
    }
    if (seq <= r->max_seq) {
        r->bad = 1;
        return omen_seterr(OMEN_CORRUPT, "WAL record sequence %llu is not above %llu",
                           (unsigned long long)seq, (unsigned long long)r->max_seq);
    }
    return batch_decode(rec, len, NULL, NULL, replay_apply, r);
}

/* Write the manifest for the given runs (caller holds manifest_mu; takes
 * mu briefly to read the counters). */
int db_write_manifest(omen_db *db, db_run **runs, size_t n, uint64_t log_number)
{
    manifest m;
    memset(&m, 0, sizeof m);
    m.runs = omen_calloc(n ? n : 1, sizeof(manifest_run));
    if (!m.runs) return omen_seterr(OMEN_NOMEM, "out of memory");
    pthread_mutex_lock(&db->mu);
    m.next_file_number = db->next_file;
    pthread_mutex_unlock(&db->mu);
    uint64_t last = db->manifest_last_seq;
    for (size_t i = 0; i < n; i++) {
        m.runs[i] = runs[i]->meta;
        if (runs[i]->meta.max_seq > last) last = runs[i]->meta.max_seq;
    }
    m.nruns = n;
    m.log_number = log_number;
    m.last_sequence = last;
    int rc = manifest_write(db->path, &m);
    omen_free(m.runs);
    if (rc == OMEN_OK) {
        db->manifest_last_seq = last;
        db->log_number = log_number;
    }
    return rc;
}

static int delete_orphans_cb(void *ctx, const char *name)
{
    omen_db *db = ctx;
    uint64_t num;
    int kind = parse_name(name, &num);
    int del = 0;
    if (kind == 'w') {
        del = num < db->wal_number;
    } else if (kind == 'r') {
        del = 1;
        db_sv *sv = db->sv;
        for (size_t i = 0; i < sv->nruns; i++)
            if (sv->runs[i]->meta.file_number == num) del = 0;
    } else if (strcmp(name, MANIFEST_FILE ".tmp") == 0 || strstr(name, ".run.tmp")) {
        del = 1;
    }
    if (del) {
        char *p = path_join(db->path, name);
        if (p) {
            fio_unlink(p);
            omen_free(p);
        }
    }
    return 0;
}

static size_t mem_block_size(const omen_db *db)
{
    size_t b = db->opts.write_buffer_size / 16;
    if (b < 64 * 1024) b = 64 * 1024;
    if (b > 4u << 20) b = 4u << 20;
    return b;
}

static int db_open_impl(omen_db *db)
{
    const omen_options *o = &db->opts;
    dir_scan scan;
    memset(&scan, 0, sizeof scan);
    manifest m;
    memset(&m, 0, sizeof m);
    int rc;
    db_run **runs = NULL;
    size_t nruns = 0;
    mt *mem = NULL;

    if (!fio_exists(db->path)) {
        if (!o->create_if_missing || o->read_only)
            return omen_seterr(OMEN_NOTFOUND, "database %s does not exist", db->path);
        rc = fio_mkdir(db->path);
        if (rc) return rc;
    }
    rc = fio_list_dir(db->path, scan_cb, &scan);
    if (rc) {
        omen_free(scan.wals);
        if (rc == OMEN_NOMEM) return rc;
        return omen_seterr(OMEN_NOTDB, "%s is not a database directory (cannot list it)",
                           db->path);
    }
    if (!scan.has_manifest && scan.foreign) {
        omen_free(scan.wals);
        return omen_seterr(OMEN_NOTDB,
                           "%s holds files that are not OmenDB's (e.g. '%s') and no MANIFEST",
                           db->path, scan.foreign_name);
    }
    if (scan.has_manifest && o->error_if_exists) {
        omen_free(scan.wals);
        return omen_seterr(OMEN_EXISTS, "database %s already exists", db->path);
    }
    if (!scan.has_manifest && (!o->create_if_missing || o->read_only)) {
        omen_free(scan.wals);
        return omen_seterr(OMEN_NOTFOUND, "no database in %s", db->path);
    }
    char *lockp = path_join(db->path, "LOCK");
    if (!lockp) {
        omen_free(scan.wals);
        return omen_seterr(OMEN_NOMEM, "out of memory");
    }
    if (!o->read_only || fio_exists(lockp)) {
        rc = fio_lock(lockp, &db->lock);
        if (rc == OMEN_LOCKED)
            rc = omen_seterr(OMEN_LOCKED,
                             "database %s is already open (its LOCK is held by another process "
                             "or handle)",
                             db->path);
    }
    omen_free(lockp);
    if (rc) goto fail;

    if (scan.has_manifest) {
        rc = manifest_read(db->path, &m);
        if (rc == OMEN_NOTFOUND) rc = omen_seterr(OMEN_CORRUPT, "MANIFEST of %s vanished", db->path);
        if (rc) goto fail;
    }
    rc = cache_new(o->cache_size, &db->cache);
    if (rc) goto fail;

    runs = omen_calloc(m.nruns + 1, sizeof *runs); /* + the replayed memtable */
    if (!runs) {
        rc = omen_seterr(OMEN_NOMEM, "out of memory");
        goto fail;
    }
    for (size_t i = 0; i < m.nruns; i++) {
        if (m.runs[i].level >= OMEN_MAX_LEVELS) {
            rc = omen_seterr(OMEN_CORRUPT, "MANIFEST lists run %llu at level %u",
                             (unsigned long long)m.runs[i].file_number, m.runs[i].level);
            goto fail;
        }
        rc = db_run_open(db, &m.runs[i], &runs[nruns]);
        if (rc) goto fail;
        nruns++;
    }
    db->next_file = m.next_file_number;
    if (db->next_file <= scan.max_number) db->next_file = scan.max_number + 1;
    if (db->next_file < 1) db->next_file = 1;
    db->manifest_last_seq = m.last_sequence;
    uint64_t last = m.last_sequence;
    for (size_t i = 0; i < nruns; i++)
        if (runs[i]->meta.max_seq > last) last = runs[i]->meta.max_seq;

    /* The memtable and the immutable one being flushed, what the engine
     * maps anyway under a write load, plus a block of slack each. */
    rc = mt_pool_new(2 * (db->opts.write_buffer_size + mem_block_size(db)), &db->mt_pool);
    if (rc) goto fail;
    /* Replay the logs the manifest does not cover. */
    rc = mt_new_pooled(mem_block_size(db), db->mt_pool, &mem);
    if (rc) goto fail;
    if (scan.nwals) qsort(scan.wals, scan.nwals, sizeof(uint64_t), u64_cmp);
    replay_ctx rctx = {db, mem, last, 0};
    for (size_t i = 0; i < scan.nwals; i++) {
        if (scan.wals[i] < m.log_number) continue;
        char *fn = NULL;
        rc = db_filename(db->path, scan.wals[i], "wal", &fn);
        if (rc) goto fail;
        uint64_t valid = 0;
        int tail = WAL_TAIL_CLEAN;
        rc = wal_replay(fn, replay_record, &rctx, &valid, &tail);
        int is_last = i + 1 == scan.nwals;
        if (rc == OMEN_CORRUPT && rctx.bad && is_last) rc = OMEN_OK; /* damaged tail */
        if (rc == OMEN_OK && tail == WAL_TAIL_CORRUPT && !is_last)
            rc = omen_seterr(OMEN_CORRUPT, "WAL %s is damaged at offset %llu", fn,
                             (unsigned long long)valid);
        omen_free(fn);
        if (rc) goto fail;
        rctx.bad = 0;
    }
    last = rctx.max_seq;
    atomic_store(&db->last_seq, last);

    if (o->read_only) {
        db->mem = mem;
        mem = NULL;
        db->sv = db_sv_new(db->mem, NULL, runs, nruns);
        if (db->sv) db->sv->db = db;
        if (!db->sv) {
            rc = omen_seterr(OMEN_NOMEM, "out of memory");
            goto fail;
        }
        atomic_store(&db->read_only, 1);
        goto done;
    }

    /* Persist what was replayed as a level-0 run. */
    if (mt_entries(mem) > 0) {
        db_run *nr = NULL;
        uint64_t fnum = db->next_file++;
        rc = db_flush_memtable(db, mem, fnum, &nr);
        if (rc) goto fail;
        if (nr) runs[nruns++] = nr;
    }
    mt_unref(mem);
    mem = NULL;
    rc = mt_new_pooled(mem_block_size(db), db->mt_pool, &db->mem);
    if (rc) goto fail;
    db->wal_number = db->next_file++;
    {
        char *fn = NULL;
        rc = db_filename(db->path, db->wal_number, "wal", &fn);
        if (rc) goto fail;
        rc = wal_writer_open(fn, &db->wal);
        omen_free(fn);
        if (rc) goto fail;
    }
    rc = db_write_manifest(db, runs, nruns, db->wal_number);
    if (rc) goto fail;
    db->sv = db_sv_new(db->mem, NULL, runs, nruns);
    if (!db->sv) {
        rc = omen_seterr(OMEN_NOMEM, "out of memory");
        goto fail;
    }
    db->sv->db = db;
    fio_list_dir(db->path, delete_orphans_cb, db);
    fio_sync_dir(db->path);
    rc = db_start_threads(db);
    if (rc) goto fail;

done:
    for (size_t i = 0; i < nruns; i++) db_run_unref(runs[i]); /* sv holds them */
    omen_free(runs);
    omen_free(scan.wals);
    manifest_clear(&m);
    return OMEN_OK;

fail:
    if (mem) mt_unref(mem);
    for (size_t i = 0; i < nruns; i++) db_run_unref(runs[i]);
    omen_free(runs);
    omen_free(scan.wals);
    manifest_clear(&m);
    return rc;
}

static void db_release_resources(omen_db *db)
{
    if (db->sv) {
        db_sv_put(db->sv);
        db->sv = NULL;
    }
    pthread_mutex_lock(&db->retire_mu);
    sv_reclaim(db); /* no readers remain: frees every retired version */
    pthread_mutex_unlock(&db->retire_mu);
    if (db->mem) mt_unref(db->mem);
    if (db->imm) mt_unref(db->imm);
    db->mem = db->imm = NULL;
    mt_pool_unref(db->mt_pool); /* memtables still pinned keep it alive */
    db->mt_pool = NULL;
    if (db->wal) wal_writer_close(db->wal);
    db->wal = NULL;
    if (db->cache) cache_free(db->cache);
    db->cache = NULL;
    if (db->lock) fio_close(db->lock);
    db->lock = NULL;
    omen_free(db->iov);
    db->iov = NULL;
}

static void zombify(omen_db *db)
{
    omen_free(db->hp_mem);
    db->hp_mem = NULL;
    db->hp = NULL;
    omen_free(db->path);
    db->path = NULL;
    db->closed = 1;
    pthread_mutex_lock(&zombie_mu);
    db->zombie_next = zombies;
    zombies = db;
    pthread_mutex_unlock(&zombie_mu);
}

int omen_open(const char *path, const omen_options *opts, omen_db **out)
{
    if (!out) return omen_seterr(OMEN_INVALID, "omen_open: NULL out");
    *out = NULL;
    if (!path || !*path) return omen_seterr(OMEN_INVALID, "omen_open: empty path");
    omen_options o;
    if (opts)
        o = *opts;
    else
        omen_options_init(&o);
    if (o.compression < OMEN_COMPRESS_NONE || o.compression > OMEN_COMPRESS_ZSTD)
        return omen_seterr(OMEN_INVALID, "omen_open: unknown compression %d", o.compression);
    if (o.sync != OMEN_SYNC_RELAXED && o.sync != OMEN_SYNC_FULL)
        return omen_seterr(OMEN_INVALID, "omen_open: sync option must be RELAXED or FULL");
    if (o.bloom_bits_per_key < 0 || o.bloom_bits_per_key > 64)
        return omen_seterr(OMEN_INVALID, "omen_open: bloom_bits_per_key %d out of range",
                           o.bloom_bits_per_key);
    if (o.index_epsilon < 0 || o.index_epsilon > (1 << 20))
        return omen_seterr(OMEN_INVALID, "omen_open: index_epsilon %d out of range",
                           o.index_epsilon);
    if (o.write_buffer_size == 0) o.write_buffer_size = 64u << 20;
    if (o.write_buffer_size < 4096) o.write_buffer_size = 4096;

    omen_db *db = omen_calloc(1, sizeof *db);
    if (!db) return omen_seterr(OMEN_NOMEM, "omen_open: out of memory");
    db->opts = o;
    size_t pl = strlen(path);
    while (pl > 1 && path[pl - 1] == '/') pl--;
    db->path = omen_malloc(pl + 1);
    if (!db->path) {
        omen_free(db);
        return omen_seterr(OMEN_NOMEM, "omen_open: out of memory");
    }
    memcpy(db->path, path, pl);
    db->path[pl] = 0;
    pthread_mutex_init(&db->mu, NULL);
    pthread_mutex_init(&db->retire_mu, NULL);
    db->hp_mem = omen_calloc(1, sizeof(db_hp_slot) * DB_HP_SLOTS + 64);
    if (!db->hp_mem) {
        pthread_mutex_destroy(&db->mu);
        pthread_mutex_destroy(&db->retire_mu);
        omen_free(db->path);
        omen_free(db);
        return omen_seterr(OMEN_NOMEM, "omen_open: out of memory");
    }
    db->hp = (db_hp_slot *)(((uintptr_t)db->hp_mem + 63) & ~(uintptr_t)63);
    for (int i = 0; i < DB_HP_SLOTS; i++) {
        atomic_init(&db->hp[i].busy, 0);
        atomic_init(&db->hp[i].hp, NULL);
    }
    pthread_mutex_init(&db->manifest_mu, NULL);
    pthread_cond_init(&db->bg_cv, NULL);
    pthread_cond_init(&db->flush_cv, NULL);
    pthread_cond_init(&db->comp_cv, NULL);
    db->snaps.next = db->snaps.prev = &db->snaps;
    atomic_init(&db->last_seq, 0);
    atomic_init(&db->outstanding, 0);
    atomic_init(&db->read_only, 0);
    int rc = db_open_impl(db);
    if (rc) {
        db_stop_threads(db);
        db_release_resources(db);
        pthread_mutex_destroy(&db->mu);
        pthread_mutex_destroy(&db->retire_mu);
        pthread_mutex_destroy(&db->manifest_mu);
        pthread_cond_destroy(&db->bg_cv);
        pthread_cond_destroy(&db->flush_cv);
        pthread_cond_destroy(&db->comp_cv);
        omen_free(db->hp_mem);
        omen_free(db->path);
        omen_free(db);
        return rc;
    }
    *out = db;
    return OMEN_OK;
}

int omen_close(omen_db *db)
{
    if (!db) return OMEN_OK;
    if (db->closed) return omen_seterr(OMEN_CLOSED, "omen_close: handle already closed");
    db_stop_threads(db);
    int rc = OMEN_OK;
    long busy = atomic_load(&db->outstanding);
    if (busy > 0) {
        rc = omen_seterr(OMEN_BUSY,
                         "omen_close: %ld iterator(s), snapshot(s) or transaction(s) were not "
                         "released; their memory is leaked",
                         busy);
        /* They pin runs that use the cache: keep the cache alive (and
         * reachable from the zombie handle). */
        db->kept_cache = db->cache;
        db->cache = NULL;
    }
    if (db->wal && !atomic_load(&db->read_only)) {
        /* Relaxed writes are already in the kernel; nothing to flush. */
    }
    db_release_resources(db);
    zombify(db);
    return rc;
}

/* ---- destroy --------------------------------------------------------------------- */

static int destroy_cb(void *ctx, const char *name)
{
    const char *dir = ctx;
    uint64_t num;
    if (parse_name(name, &num) || strcmp(name, MANIFEST_FILE) == 0 ||
        strcmp(name, MANIFEST_FILE ".tmp") == 0 || strstr(name, ".run.tmp") ||
        (strncmp(name, "vset-", 5) == 0 && strstr(name, ".graph"))) { /* vector graph files */
        char *p = path_join(dir, name);
        if (!p) return OMEN_NOMEM;
        int rc = fio_unlink(p);
        omen_free(p);
        if (rc && rc != OMEN_NOTFOUND) return rc;
    }
    return 0;
}

int omen_destroy(const char *path)
{
    if (!path || !*path) return omen_seterr(OMEN_INVALID, "omen_destroy: empty path");
    if (!fio_exists(path)) return OMEN_OK;
    dir_scan scan;
    memset(&scan, 0, sizeof scan);
    int rc = fio_list_dir(path, scan_cb, &scan);
    omen_free(scan.wals);
    if (rc) return omen_seterr(OMEN_NOTDB, "omen_destroy: %s is not a database directory", path);
    if (!scan.has_manifest && scan.foreign)
        return omen_seterr(OMEN_NOTDB, "omen_destroy: %s holds foreign files and no MANIFEST",
                           path);
    char *lockp = path_join(path, "LOCK");
    if (!lockp) return omen_seterr(OMEN_NOMEM, "out of memory");
    fio_file *lock = NULL;
    rc = fio_lock(lockp, &lock);
    if (rc == OMEN_LOCKED) {
        omen_free(lockp);
        return omen_seterr(OMEN_BUSY, "omen_destroy: database %s is open", path);
    }
    if (rc) {
        omen_free(lockp);
        return rc;
    }
    rc = fio_list_dir(path, destroy_cb, (void *)path);
    fio_unlink(lockp);
    fio_close(lock);
    omen_free(lockp);
    if (rc) return rc;
    fio_sync_dir(path);
    if (!scan.foreign) {
        /* The file layer has no rmdir; removing an empty directory is not
         * data I/O that fault injection needs to see. */
        if (rmdir(path) != 0 && errno != ENOTEMPTY && errno != EEXIST)
            return omen_seterr_errno(OMEN_IO, errno, "omen_destroy: rmdir %s", path);
    }
    return OMEN_OK;
}

/* ---- stats ------------------------------------------------------------------------ */

int omen_get_stats(omen_db *db, omen_stats *out)
{
    int rc = db_check_handle(db, "omen_get_stats");
    if (rc) return rc;
    if (!out) return omen_seterr(OMEN_INVALID, "omen_get_stats: NULL out");
    memset(out, 0, sizeof *out);
    uint64_t seq;
    db_sv *sv = db_sv_get_seq(db, &seq);
    out->sequence = seq;
    unsigned lv = 0;
    for (size_t i = 0; i < sv->nruns; i++) {
        db_run *r = sv->runs[i];
        /* This version's level of the run (a later move may relabel the
         * run itself; see bg.c, install_move). */
        while (lv + 1 < OMEN_MAX_LEVELS && i >= sv->level_start[lv + 1]) lv++;
        out->runs_per_level[lv]++;
        out->entries_per_level[lv] += r->meta.entries;
        out->run_entries += r->meta.entries;
        out->file_bytes += r->meta.file_size;
        out->index_bytes += run_index_bytes(r->r);
        out->filter_bytes += run_filter_bytes(r->r);
    }
    out->memtable_entries = mt_entries(sv->mem) + (sv->imm ? mt_entries(sv->imm) : 0);
    out->memtable_bytes = mt_bytes(sv->mem) + (sv->imm ? mt_bytes(sv->imm) : 0);
    db_sv_put(sv);
    out->wal_bytes = atomic_load_explicit(&db->st_wal_bytes, memory_order_relaxed);
    if (db->cache) {
        out->cache_hits = cache_hits(db->cache);
        out->cache_misses = cache_misses(db->cache);
    }
    out->flushes = atomic_load(&db->st_flushes);
    out->compactions = atomic_load(&db->st_compactions);
    out->compaction_bytes_written = atomic_load(&db->st_comp_bytes);
    out->write_stalls_us = atomic_load(&db->st_stall_us);
    out->read_only = atomic_load(&db->read_only) && !db->opts.read_only ? 1 : 0;
    if (db->opts.read_only) out->read_only = 1;
    return OMEN_OK;
}

/* ---- check ------------------------------------------------------------------------ */

typedef struct check_ctx {
    void (*report)(void *ctx, const char *line);
    void *ctx;
    uint64_t records, ops;
} check_ctx;

static void say(check_ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void say(check_ctx *c, const char *fmt, ...)
{
    if (!c->report) return;
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    c->report(c->ctx, line);
}

static int check_record(void *ctx, const void *rec, size_t len)
{
    check_ctx *c = ctx;
    uint32_t count;
    int rc = batch_decode(rec, len, NULL, &count, NULL, NULL);
    if (rc) return rc;
    c->records++;
    c->ops += count;
    return OMEN_OK;
}

int omen_check(const char *path, void (*report)(void *ctx, const char *line), void *ctx)
{
    check_ctx c = {report, ctx, 0, 0};
    if (!path || !*path) return omen_seterr(OMEN_INVALID, "omen_check: empty path");
    manifest m;
    int rc = manifest_read(path, &m);
    if (rc) {
        if (rc == OMEN_NOTFOUND) rc = omen_seterr(OMEN_NOTDB, "%s has no MANIFEST", path);
        say(&c, "MANIFEST: %s (%s)", omen_strerror(rc), omen_last_error());
        say(&c, "summary: check failed");
        return rc;
    }
    int problems = 0;
    uint64_t entries = 0, bytes = 0;
    say(&c, "MANIFEST: ok, %zu runs, next file %llu, log number %llu, last sequence %llu",
        m.nruns, (unsigned long long)m.next_file_number, (unsigned long long)m.log_number,
        (unsigned long long)m.last_sequence);
    for (size_t i = 0; i < m.nruns; i++) {
        char *fn = NULL;
        if (db_filename(path, m.runs[i].file_number, "run", &fn)) {
            problems++;
            continue;
        }
        rc = run_verify(fn, report, ctx);
        if (rc) {
            problems++;
            say(&c, "run %s (level %u): %s: %s", fn, m.runs[i].level, omen_strerror(rc),
                omen_last_error());
        } else {
            say(&c, "run %s (level %u): ok, %llu entries", fn, m.runs[i].level,
                (unsigned long long)m.runs[i].entries);
        }
        entries += m.runs[i].entries;
        bytes += m.runs[i].file_size;
        omen_free(fn);
    }
    dir_scan scan;
    memset(&scan, 0, sizeof scan);
    if (fio_list_dir(path, scan_cb, &scan) == OMEN_OK) {
        if (scan.nwals) qsort(scan.wals, scan.nwals, sizeof(uint64_t), u64_cmp);
        for (size_t i = 0; i < scan.nwals; i++) {
            if (scan.wals[i] < m.log_number) continue;
            char *fn = NULL;
            if (db_filename(path, scan.wals[i], "wal", &fn)) continue;
            uint64_t valid = 0;
            int tail = 0;
            c.records = c.ops = 0;
            rc = wal_replay(fn, check_record, &c, &valid, &tail);
            if (rc) {
                problems++;
                say(&c, "wal %s: %s at offset %llu: %s", fn, omen_strerror(rc),
                    (unsigned long long)valid, omen_last_error());
            } else if (tail == WAL_TAIL_CORRUPT) {
                problems++;
                say(&c, "wal %s: damaged record at offset %llu (%llu good records before it)",
                    fn, (unsigned long long)valid, (unsigned long long)c.records);
            } else {
                say(&c, "wal %s: ok, %llu records, %llu operations%s", fn,
                    (unsigned long long)c.records, (unsigned long long)c.ops,
                    tail == WAL_TAIL_TORN ? " (torn tail after a crash: ignored)" : "");
            }
            omen_free(fn);
        }
    }
    omen_free(scan.wals);
    say(&c, "summary: %zu runs, %llu entries, %llu bytes, %d problem(s)", m.nruns,
        (unsigned long long)entries, (unsigned long long)bytes, problems);
    manifest_clear(&m);
    if (problems) return omen_seterr(OMEN_CORRUPT, "omen_check: %d problem(s) found", problems);
    return OMEN_OK;
}
