/*
 * version.c -- the handle's shared state (version.h): handle checks and the
 * fatal flag, file names and directory scans, reference-counted runs,
 * superversions and their hazard-slot pinning, the snapshot list, manifest
 * writes.  Everything above it (iterators, the write path, background work,
 * transactions, open) builds on these; nothing here calls up.
 *
 * Hazard slots: a reader publishes the superversion it is using in a slot
 * (own cache line) instead of bumping a shared reference count; a
 * superversion whose count reached 0 is freed only once no slot names it.
 */
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db/version.h"
#include "util/err.h"
#include "util/mem.h"

int db_check_handle(const omen_db *db, const char *fn)
{
    if (!db) return util_seterr(OMEN_INVALID, "%s: NULL database handle", fn);
    if (db->closed) return util_seterr(OMEN_CLOSED, "%s: the database handle is closed", fn);
    return OMEN_OK;
}

int db_check_writable(omen_db *db, const char *fn)
{
    int rc = db_check_handle(db, fn);
    if (rc) return rc;
    if (atomic_load_explicit(&db->read_only, memory_order_acquire)) {
        if (db->opts.read_only)
            return util_seterr(OMEN_READONLY, "%s: the database was opened read-only", fn);
        if (atomic_load_explicit(&db->fatal_code, memory_order_acquire) != OMEN_OK)
            return util_seterr(OMEN_READONLY, "%s: the database is read-only since an earlier fatal error: %s",
                               fn, db->fatal_msg);
        return util_seterr(OMEN_READONLY, "%s: the database turned read-only after a fatal I/O error",
                           fn);
    }
    return OMEN_OK;
}

void db_set_fatal(omen_db *db, int rc, const char *what)
{
    /* Copy the cause first: formatting the thread's error buffer into
     * itself would garble it. */
    char cause[400];
    snprintf(cause, sizeof cause, "%s", omen_last_error());
    pthread_mutex_lock(&db->fatal_mu);
    if (atomic_load_explicit(&db->fatal_code, memory_order_relaxed) == OMEN_OK) {
        snprintf(db->fatal_msg, sizeof db->fatal_msg,
                 "%s failed; the database is now read-only (%s)", what, cause);
        atomic_store_explicit(&db->fatal_code, rc ? rc : OMEN_IO, memory_order_release);
    }
    pthread_mutex_unlock(&db->fatal_mu);
    atomic_store(&db->read_only, 1);
    util_seterr(rc, "%s failed; the database is now read-only (%s)", what, cause);
}

/* ---- memtable blocks ---------------------------------------------------------- */

size_t db_mem_block_size(const omen_db *db)
{
    /* A whole number of huge pages (util_huge_len would round anything
     * between up to the next one and leave it partly unused). */
    size_t b = db->opts.write_buffer_size / 16;
    if (b < 64 * 1024) return 64 * 1024;
    if (b > 4u << 20) return 4u << 20;
    if (b >= UTIL_HUGE_PAGE) b -= b % UTIL_HUGE_PAGE;
    return b;
}

/* ---- file names ------------------------------------------------------------- */

int db_filename(const char *dir, uint64_t num, const char *ext, char **out)
{
    size_t n = strlen(dir) + 48;
    char *p = util_malloc(n);
    if (!p) return util_seterr(OMEN_NOMEM, "out of memory");
    if (ext)
        snprintf(p, n, "%s/%06llu.%s", dir, (unsigned long long)num, ext);
    else
        snprintf(p, n, "%s", dir);
    *out = p;
    return OMEN_OK;
}

char *db_path_join(const char *dir, const char *name)
{
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = util_malloc(n);
    if (p) snprintf(p, n, "%s/%s", dir, name);
    return p;
}

int db_parse_name(const char *name, uint64_t *num)
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
    if (strcmp(p, ".wal" DB_DAMAGED_SUFFIX) == 0) return 'd';
    return 0;
}

int db_scan_cb(void *ctx, const char *name)
{
    db_dir_scan *s = ctx;
    uint64_t num;
    int kind = db_parse_name(name, &num);
    if (kind) {
        if (num > s->max_number) s->max_number = num;
        if (kind == 'd') s->ndamaged++;
        if (kind == 'w') {
            if (s->nwals == s->cwals) {
                size_t nc = s->cwals ? s->cwals * 2 : 8;
                uint64_t *p = util_realloc(s->wals, nc * sizeof *p);
                if (!p) return util_seterr(OMEN_NOMEM, "out of memory");
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
    if (strstr(name, DB_DAMAGED_SUFFIX ".tmp")) return 0; /* a log being copied aside */
    if (!s->foreign) snprintf(s->foreign_name, sizeof s->foreign_name, "%s", name);
    s->foreign = 1;
    return 0;
}

int db_u64_cmp(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
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

int db_run_matches(const manifest_run *meta, run *r, const char *fn)
{
    size_t sl, ll;
    const void *sk = run_smallest(r, &sl), *lk = run_largest(r, &ll);
    const char *what = NULL;
    if (run_file_size(r) != meta->file_size)
        what = "size";
    else if (run_entries(r) != meta->entries)
        what = "entry count";
    else if (run_min_seq(r) != meta->min_seq || run_max_seq(r) != meta->max_seq)
        what = "sequence range";
    else if (sl != meta->smallest_len || (sl && memcmp(sk, meta->smallest, sl)) ||
             ll != meta->largest_len || (ll && memcmp(lk, meta->largest, ll)))
        what = "key range";
    else if (meta->footer_crc && run_footer_crc(r) != meta->footer_crc)
        what = "footer checksum";
    else if (run_stored_number(r) && run_stored_number(r) != (uint32_t)meta->file_number)
        what = "file number recorded inside it";
    if (!what) return OMEN_OK;
    return util_seterr(OMEN_CORRUPT,
                       "run file %s is not the run the MANIFEST lists as number %llu (its %s "
                       "differs): a file was replaced or renamed",
                       fn, (unsigned long long)meta->file_number, what);
}

int db_run_open(omen_db *db, const manifest_run *meta, run_meta *fresh, db_run **out)
{
    *out = NULL;
    char *fn = NULL;
    int rc = db_filename(db->path, meta->file_number, "run", &fn);
    if (rc) return rc;
    db_run *r = util_calloc(1, sizeof *r);
    if (!r) {
        omen_free(fn);
        return util_seterr(OMEN_NOMEM, "out of memory");
    }
    rc = run_open_fresh(fn, meta->file_number, db->cache, fresh, &r->r);
    if (rc) {
        if (rc == OMEN_NOTFOUND) rc = util_seterr(OMEN_CORRUPT, "run file %s listed in MANIFEST is missing", fn);
        omen_free(fn);
        omen_free(r);
        return rc;
    }
    rc = db_run_matches(meta, r->r, fn);
    omen_free(fn);
    if (rc) {
        run_close(r->r);
        omen_free(r);
        return rc;
    }
    atomic_init(&r->refs, 1);
    r->db = db;
    r->meta = *meta;
    /* Runs written since this manifest format (and fresh flush outputs):
     * remember the footer checksum for the next manifest. */
    if (!r->meta.footer_crc) r->meta.footer_crc = run_footer_crc(r->r);
    r->meta.smallest = NULL;
    r->meta.largest = NULL;
    r->meta.smallest_len = r->meta.largest_len = 0;
    if (meta->smallest_len) r->meta.smallest = util_memdup(meta->smallest, meta->smallest_len);
    if (meta->largest_len) r->meta.largest = util_memdup(meta->largest, meta->largest_len);
    if ((meta->smallest_len && !r->meta.smallest) || (meta->largest_len && !r->meta.largest)) {
        db_run_unref(r);
        return util_seterr(OMEN_NOMEM, "out of memory");
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
    db_sv *sv = util_calloc(1, sizeof *sv);
    if (!sv) return NULL;
    sv->runs = util_calloc(n ? n : 1, sizeof(db_run *));
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

void db_sv_reclaim(omen_db *db)
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
    db_sv_reclaim(db);
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

/* ---- snapshots ------------------------------------------------------------------ */

int db_snapshot_acquire(omen_db *db, struct omen_snapshot **out)
{
    struct omen_snapshot *s = util_calloc(1, sizeof *s);
    if (!s) return util_seterr(OMEN_NOMEM, "snapshot: out of memory");
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

int db_snapshot_list(omen_db *db, uint64_t **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    if (!db->nsnaps) return OMEN_OK;
    uint64_t *a = util_malloc(db->nsnaps * sizeof *a);
    if (!a) return util_seterr(OMEN_NOMEM, "out of memory");
    size_t k = 0;
    for (struct omen_snapshot *s = db->snaps.next; s != &db->snaps; s = s->next) {
        if (k && a[k - 1] == s->seq) continue;
        a[k++] = s->seq;
    }
    *out = a;
    *n = k;
    return OMEN_OK;
}

/* ---- manifest ------------------------------------------------------------------ */

int db_write_manifest(omen_db *db, db_run **runs, size_t n, uint64_t log_number)
{
    manifest m;
    memset(&m, 0, sizeof m);
    m.runs = util_calloc(n ? n : 1, sizeof(manifest_run));
    if (!m.runs) return util_seterr(OMEN_NOMEM, "out of memory");
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

