/*
 * db.c -- options, integer keys, point reads, the public snapshot calls and
 * statistics.  Open, close and destroy are in open.c, omen_check in
 * check.c, the shared handle state in version.c.
 */
#include <stdio.h>
#include <string.h>

#include "db/batch.h"
#include "db/db.h"
#include "db/reserved.h"
#include "util/err.h"
#include "util/mem.h"

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
    o->wal_recovery = OMEN_WAL_RECOVER_TORN_TAIL;
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
    run_vdst d = {.val = val};
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
                      const run_vdst *d, size_t *vlen, const char *fn, int reserved_ok)
{
    int rc = db_check_handle(db, fn);
    if (rc) return rc;
    if (!d || !vlen) return util_seterr(OMEN_INVALID, "%s: NULL %s", fn, vlen ? "val" : "vlen");
    if (!d->val && !d->buf && d->cap)
        return util_seterr(OMEN_INVALID, "%s: NULL buffer of %zu bytes", fn, d->cap);
    *vlen = 0;
    if ((rc = batch_check_kv(fn, key, klen, NULL, 0)) != OMEN_OK) return rc;
    if (!reserved_ok && key && db_key_reserved(key, klen))
        return util_seterr(OMEN_INVALID, "%s: the key is in the engine's reserved range (docs/format.md)", fn);
    if (snap && snap->db != db)
        return util_seterr(OMEN_INVALID, "%s: snapshot belongs to another handle", fn);
    uint64_t seq;
    int slot;
    db_sv *sv = db_sv_pin(db, &seq, &slot);
    if (snap) seq = snap->seq;
    rc = get_sv(sv, seq, key, klen, d, vlen);
    db_sv_unpin(db, sv, slot);
    if (rc == OMEN_NOTFOUND) {
        *vlen = 0;
        /* Not an error, but omen_last_error() must not show a stale one. */
        util_seterr(OMEN_NOTFOUND, "%s: key not found", fn);
    }
    return rc;
}

int omen_get(omen_db *db, const omen_snapshot *snap, const void *key, size_t klen, void **val,
             size_t *vlen)
{
    if (val) *val = NULL;
    run_vdst d = {.val = val};
    return get_common(db, snap, key, klen, val ? &d : NULL, vlen, "omen_get", 0);
}

int omen_get_into(omen_db *db, const omen_snapshot *snap, const void *key, size_t klen, void *buf,
                  size_t cap, size_t *vlen)
{
    run_vdst d = {.buf = buf, .cap = cap};
    return get_common(db, snap, key, klen, &d, vlen, "omen_get_into", 0);
}

int db_get_reserved(omen_db *db, const void *key, size_t klen, void **val, size_t *vlen)
{
    if (val) *val = NULL;
    run_vdst d = {.val = val};
    return get_common(db, NULL, key, klen, &d, vlen, "engine read", 1);
}

/* ---- snapshots ------------------------------------------------------------------ */

int omen_snapshot_create(omen_db *db, omen_snapshot **out)
{
    if (!out) return util_seterr(OMEN_INVALID, "omen_snapshot_create: NULL out");
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

/* ---- stats ------------------------------------------------------------------------ */

int omen_get_stats(omen_db *db, omen_stats *out)
{
    int rc = db_check_handle(db, "omen_get_stats");
    if (rc) return rc;
    if (!out) return util_seterr(OMEN_INVALID, "omen_get_stats: NULL out");
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
    out->fatal_error = atomic_load_explicit(&db->fatal_code, memory_order_acquire);
    out->wal_records_skipped = db->wal_records_skipped;
    out->wal_bytes_skipped = db->wal_bytes_skipped;
    return OMEN_OK;
}

int omen_fatal_error(omen_db *db, const char **msg)
{
    if (msg) *msg = NULL;
    int rc = db_check_handle(db, "omen_fatal_error");
    if (rc) return rc;
    int code = atomic_load_explicit(&db->fatal_code, memory_order_acquire);
    if (code != OMEN_OK && msg) *msg = db->fatal_msg;
    return code;
}

