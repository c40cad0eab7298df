/*
 * check.c -- omen_check: verify a closed (or read-only-opened) database
 * without opening it: the manifest, every run (all checksums, the model,
 * and that the file is the run its manifest entry describes), every log
 * (torn tail versus corruption) and the logs kept aside by recovery.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db/batch.h"
#include "db/version.h"
#include "util/err.h"
#include "util/mem.h"

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

static int check_record(void *ctx, const void *rec, size_t len, uint64_t off)
{
    (void)off;
    check_ctx *c = ctx;
    uint32_t count;
    int rc = batch_decode(rec, len, NULL, &count, NULL, NULL);
    if (rc == OMEN_NOMEM) return rc;
    if (rc) return WAL_REC_BAD;
    c->records++;
    c->ops += count;
    return OMEN_OK;
}

static int list_damaged_cb(void *ctx, const char *name)
{
    uint64_t num;
    if (db_parse_name(name, &num) == 'd')
        say(ctx, "wal %s: kept aside by a WAL recovery mode (not part of the database)", name);
    return 0;
}

/* Compare a run file with its manifest entry (see db_run_matches). */
static int check_run_identity(const manifest_run *meta, const char *fn)
{
    run *r = NULL;
    int rc = run_open(fn, meta->file_number, NULL, &r);
    if (rc) return rc;
    rc = db_run_matches(meta, r, fn);
    run_close(r);
    return rc;
}

int omen_check(const char *path, void (*report)(void *ctx, const char *line), void *ctx)
{
    check_ctx c = {report, ctx, 0, 0};
    if (!path || !*path) return util_seterr(OMEN_INVALID, "omen_check: empty path");
    /* Shared with read-only opens; a writer could change files under us. */
    fio_file *lock = NULL;
    {
        char *lockp = db_path_join(path, "LOCK");
        if (!lockp) return util_seterr(OMEN_NOMEM, "out of memory");
        int lrc = fio_lock_shared(lockp, &lock);
        omen_free(lockp);
        if (lrc == OMEN_LOCKED) {
            lrc = util_seterr(OMEN_LOCKED,
                              "omen_check: %s is open for writing by another process or handle; "
                              "close it first (read-only opens may stay)",
                              path);
            say(&c, "%s", omen_last_error());
            say(&c, "summary: check not run");
            return lrc;
        }
        if (lrc && lrc != OMEN_NOTFOUND) {
            say(&c, "LOCK: %s (%s)", omen_strerror(lrc), omen_last_error());
            say(&c, "summary: check not run");
            return lrc;
        }
    }
    manifest m;
    int rc = manifest_read(path, &m);
    if (rc) {
        if (rc == OMEN_NOTFOUND) rc = util_seterr(OMEN_NOTDB, "%s has no MANIFEST", path);
        char saved[512];
        snprintf(saved, sizeof saved, "%s", omen_last_error());
        say(&c, "MANIFEST: %s (%s)", omen_strerror(rc), saved);
        say(&c, "summary: check failed");
        fio_close(lock);
        util_seterr(rc, "%s", saved);
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
        if (!rc) rc = check_run_identity(&m.runs[i], fn);
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
    db_dir_scan scan;
    memset(&scan, 0, sizeof scan);
    if (fio_list_dir(path, db_scan_cb, &scan) == OMEN_OK) {
        if (scan.nwals) qsort(scan.wals, scan.nwals, sizeof(uint64_t), db_u64_cmp);
        for (size_t i = 0; i < scan.nwals; i++) {
            if (scan.wals[i] < m.log_number) continue;
            char *fn = NULL;
            if (db_filename(path, scan.wals[i], "wal", &fn)) continue;
            wal_replay_info info;
            c.records = c.ops = 0;
            rc = wal_replay_ex(fn, 0, check_record, &c, &info);
            if (rc) {
                problems++;
                say(&c, "wal %s: %s: %s", fn, omen_strerror(rc), omen_last_error());
            } else if (info.corrupt) {
                problems++;
                say(&c,
                    "wal %s: corrupt at offset %llu (%s; %llu good records before it, %llu intact "
                    "records after it): open refuses it unless a WAL recovery mode is chosen",
                    fn, (unsigned long long)info.damage_off,
                    info.header_bad ? "damaged file header" : "damaged record",
                    (unsigned long long)c.records, (unsigned long long)info.records_after);
            } else if (info.tail_state == WAL_TAIL_TORN) {
                say(&c,
                    "wal %s: ok, %llu records, %llu operations; torn tail at offset %llu (%llu "
                    "bytes: an incomplete write cut by a crash, dropped by recovery)",
                    fn, (unsigned long long)c.records, (unsigned long long)c.ops,
                    (unsigned long long)info.damage_off, (unsigned long long)info.bytes_after);
            } else {
                say(&c, "wal %s: ok, %llu records, %llu operations", fn,
                    (unsigned long long)c.records, (unsigned long long)c.ops);
            }
            omen_free(fn);
        }
        if (scan.ndamaged) fio_list_dir(path, list_damaged_cb, &c);
    }
    omen_free(scan.wals);
    say(&c, "summary: %zu runs, %llu entries, %llu bytes, %d problem(s)", m.nruns,
        (unsigned long long)entries, (unsigned long long)bytes, problems);
    manifest_clear(&m);
    fio_close(lock);
    if (problems) return util_seterr(OMEN_CORRUPT, "omen_check: %d problem(s) found", problems);
    return OMEN_OK;
}
