/*
 * session.c -- one open database and the commands that both the script
 * interface and the shell offer: errors and exit codes, keys as typed
 * (--int-keys), opening (read-only for inspecting commands), get, put,
 * del, scans and stats.
 */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"

/* ---- Errors ------------------------------------------------------------- */

int exit_for(int err)
{
    switch (err) {
    case OMEN_OK: return EX_OK;
    case OMEN_NOTFOUND:
    case OMEN_CORRUPT: return EX_MISS;
    default: return EX_ERR;
    }
}

/* Print "omendb: CONTEXT: NAME (DETAIL)" and return the exit code for err.
 * Locking and foreign directories get a plain-words hint because those are
 * the failures a user meets first. */
int report_hint(int err, const char *hint, const char *fmt, ...)
{
    char detail[1024];
    snprintf(detail, sizeof detail, "%s", omen_last_error());
    const char *name = omen_strerror(err);
    va_list ap;
    fputs("omendb: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, ": %s", name);
    if (detail[0] && strcmp(detail, name) != 0) fprintf(stderr, " (%s)", detail);
    if (hint)
        fprintf(stderr, "; %s", hint);
    else if (err == OMEN_LOCKED)
        fputs(strstr(name, "lock") ? "; is another omendb shell or program using it?"
                                   : "; the database is locked by another process",
              stderr);
    else if (err == OMEN_NOTDB && !strstr(name, "not"))
        fputs("; the directory is not an OmenDB database", stderr);
    fputc('\n', stderr);
    return exit_for(err);
}

int usage_error(const char *fmt, ...)
{
    va_list ap;
    fputs("omendb: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputs(" (try \"omendb help\")\n", stderr);
    return EX_USAGE;
}

/* ---- Keys ---------------------------------------------------------------- */

int parse_u64(const unsigned char *s, size_t n, uint64_t *out)
{
    char buf[32];
    if (n == 0 || n >= sizeof buf || !isdigit(s[0])) return -1;
    memcpy(buf, s, n);
    buf[n] = 0;
    errno = 0;
    char *end;
    unsigned long long v = strtoull(buf, &end, 0);
    if (errno || *end) return -1;
    *out = v;
    return 0;
}

/* Fills k from token bytes; returns 0 or a usage error already reported. */
int make_key(const sbuf *tok, ukey *k)
{
    if (!g_opt.int_keys) {
        k->p = tok->p ? (const void *)tok->p : (const void *)"";
        k->n = tok->len;
        return 0;
    }
    uint64_t v;
    if (parse_u64(tok->p, tok->len, &v) != 0) {
        fputs("omendb: --int-keys: key is not an unsigned 64-bit integer: ", stderr);
        put_bytes(stderr, tok->p, tok->len, FORM_SHELL);
        fputc('\n', stderr);
        return EX_USAGE;
    }
    omen_key_u64(v, k->u);
    k->p = k->u;
    k->n = 8;
    return 0;
}

/* ---- Database session ----------------------------------------------------- */

int open_db(session *s, const char *dir, int mode)
{
    omen_options o;
    omen_options_init(&o);
    o.create_if_missing = mode == OPEN_CREATE;
    o.read_only = mode == OPEN_READ;
    o.compression = g_opt.compression;
    o.sync = g_opt.sync;
    if (g_opt.write_buffer) o.write_buffer_size = g_opt.write_buffer;
    o.wal_recovery = g_opt.wal_recovery;
    s->dir = dir;
    s->txn = NULL;
    s->opened_read_only = o.read_only;
    int rc = omen_open(dir, &o, &s->db);
    /* An absent database is an environment problem (3), not a missing key. */
    if (rc == OMEN_NOTFOUND) {
        report_hint(rc, "put or import creates a database", "open %s", dir);
        return EX_ERR;
    }
    if (rc != OMEN_OK) return report(rc, "open %s", dir);
    omen_stats st;
    if (omen_get_stats(s->db, &st) == OMEN_OK && st.wal_records_skipped)
        fprintf(stderr,
                "omendb: WAL recovery left %" PRIu64 " record(s) (%" PRIu64 " bytes) behind; the "
                "damaged log%s kept aside as *.wal.damaged\n",
                st.wal_records_skipped, st.wal_bytes_skipped,
                o.read_only ? " is not changed (read-only open):" : " is");
    return EX_OK;
}

int close_db(session *s)
{
    int ex = EX_OK;
    if (s->txn) {
        omen_txn_rollback(s->txn);
        s->txn = NULL;
        fputs("omendb: the open transaction was rolled back\n", stderr);
    }
    vsets_close(s);
    int rc = omen_close(s->db);
    s->db = NULL;
    if (rc != OMEN_OK) ex = report(rc, "close %s", s->dir);
    return ex;
}

/* ---- Commands shared by the shell and the script interface ------------------ */

int cmd_get(session *s, const sbuf *ktok)
{
    ukey k;
    int ex = make_key(ktok, &k);
    if (ex) return ex;
    void *v = NULL;
    size_t vn = 0;
    int rc = s->txn ? omen_txn_get(s->txn, k.p, k.n, &v, &vn) : omen_get(s->db, NULL, k.p, k.n, &v, &vn);
    if (rc == OMEN_NOTFOUND) {
        fputs("omendb: get ", stderr);
        put_key(stderr, k.p, k.n, FORM_SHELL);
        fputs(": not found\n", stderr);
        return EX_MISS;
    }
    if (rc != OMEN_OK) return report(rc, "get");
    if (g_opt.raw && s->form == FORM_TSV) {
        fwrite(v, 1, vn, stdout);
    } else {
        put_bytes(stdout, v, vn, s->form);
        fputc('\n', stdout);
    }
    omen_free(v);
    return EX_OK;
}

int cmd_put(session *s, const sbuf *ktok, const sbuf *vtok)
{
    ukey k;
    int ex = make_key(ktok, &k);
    if (ex) return ex;
    const void *v = vtok->p ? (const void *)vtok->p : (const void *)"";
    int rc = s->txn ? omen_txn_put(s->txn, k.p, k.n, v, vtok->len)
                    : omen_put(s->db, k.p, k.n, v, vtok->len, OMEN_SYNC_DEFAULT);
    return rc == OMEN_OK ? EX_OK : report(rc, "put");
}

int cmd_del(session *s, const sbuf *ktok)
{
    ukey k;
    int ex = make_key(ktok, &k);
    if (ex) return ex;
    int rc = s->txn ? omen_txn_delete(s->txn, k.p, k.n) : omen_delete(s->db, k.p, k.n, OMEN_SYNC_DEFAULT);
    return rc == OMEN_OK ? EX_OK : report(rc, "del");
}

int make_range(const sbuf *from, const sbuf *to, range *r)
{
    memset(r, 0, sizeof *r);
    int ex;
    if (from && from->len) {
        if ((ex = make_key(from, &r->lo)) != 0) return ex;
        r->has_lo = 1;
    }
    if (to && to->len) {
        if ((ex = make_key(to, &r->hi)) != 0) return ex;
        r->has_hi = 1;
    }
    return EX_OK;
}

/* Iterate [lo, hi) through the transaction if one is open; print up to
 * limit rows to out (NULL: only count).  *rows gets the number visited. */
int iterate(session *s, const range *r, uint64_t limit, FILE *out, int form, uint64_t *rows,
            void (*tick)(void *ctx, uint64_t rows), void *tick_ctx)
{
    omen_iter_options io;
    memset(&io, 0, sizeof io);
    io.keys_only = out == NULL; /* counting reads no value block */
    const char *what = out ? "scan" : "count";
    if (r->has_lo) {
        io.lower = r->lo.p;
        io.lower_len = r->lo.n;
    }
    if (r->has_hi) {
        io.upper = r->hi.p;
        io.upper_len = r->hi.n;
    }
    omen_iter *it = NULL;
    int rc = s->txn ? omen_txn_iter_create(s->txn, &io, &it) : omen_iter_create(s->db, &io, &it);
    if (rc != OMEN_OK) return report(rc, "%s", what);
    if (r->has_lo)
        omen_iter_seek(it, r->lo.p, r->lo.n);
    else
        omen_iter_seek_first(it);
    uint64_t n = 0;
    while (n < limit && omen_iter_valid(it) && !g_interrupted) {
        if (out) {
            size_t kn, vn;
            const void *k = omen_iter_key(it, &kn);
            const void *v = omen_iter_value(it, &vn);
            put_key(out, k, kn, form);
            fputc('\t', out);
            put_bytes(out, v, vn, form);
            fputc('\n', out);
        }
        n++;
        if (tick && (n & 4095) == 0) tick(tick_ctx, n);
        omen_iter_next(it);
    }
    rc = omen_iter_status(it);
    int ex = rc == OMEN_OK ? EX_OK : report(rc, "%s", what);
    omen_iter_destroy(it);
    *rows = n;
    if (g_interrupted && ex == EX_OK) {
        fputs("omendb: interrupted\n", stderr);
        ex = EX_ERR;
    }
    return ex;
}

static void put_size(FILE *f, uint64_t b)
{
    static const char *unit[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    double d = (double)b;
    int u = 0;
    while (d >= 1024 && u < 4) {
        d /= 1024;
        u++;
    }
    if (u == 0)
        fprintf(f, "%" PRIu64 " B", b);
    else
        fprintf(f, "%.1f %s (%" PRIu64 " bytes)", d, unit[u], b);
}

int cmd_stats(session *s)
{
    omen_stats st;
    int rc = omen_get_stats(s->db, &st);
    if (rc != OMEN_OK) return report(rc, "stats");
    FILE *f = stdout;
    fprintf(f, "sequence          %" PRIu64 "\n", st.sequence);
    fprintf(f, "memtable          %" PRIu64 " entries, ", st.memtable_entries);
    put_size(f, st.memtable_bytes);
    fprintf(f, "\nrun entries       %" PRIu64 "\n", st.run_entries);
    for (int l = 0; l < OMEN_MAX_LEVELS; l++)
        if (st.runs_per_level[l] || st.entries_per_level[l])
            fprintf(f, "  level %d         %" PRIu64 " run%s, %" PRIu64 " entries\n", l, st.runs_per_level[l],
                    st.runs_per_level[l] == 1 ? "" : "s", st.entries_per_level[l]);
    fputs("run files         ", f);
    put_size(f, st.file_bytes);
    fputs("\nlearned index     ", f);
    put_size(f, st.index_bytes);
    fputs("\nbloom filters     ", f);
    put_size(f, st.filter_bytes);
    fputs("\nwrite-ahead log   ", f);
    put_size(f, st.wal_bytes);
    uint64_t lookups = st.cache_hits + st.cache_misses;
    fprintf(f, "\nblock cache       %" PRIu64 " hits, %" PRIu64 " misses", st.cache_hits, st.cache_misses);
    if (lookups) fprintf(f, " (%.1f%% hits)", 100.0 * (double)st.cache_hits / (double)lookups);
    fprintf(f, "\nflushes           %" PRIu64 "\n", st.flushes);
    fprintf(f, "compactions       %" PRIu64 ", ", st.compactions);
    put_size(f, st.compaction_bytes_written);
    fprintf(f, " written\nwrite stalls      %" PRIu64 " us\n", st.write_stalls_us);
    /* The engine reports read-only both for a handle opened so and for one
     * degraded by a fatal I/O error; only the second is news to the user. */
    if (s->opened_read_only)
        fputs("handle            opened read-only (nothing is written)\n", f);
    else
        fprintf(f, "read-only         %s\n", st.read_only ? "YES, after a fatal I/O error" : "no");
    const char *fatal = NULL;
    if (omen_fatal_error(s->db, &fatal) != OMEN_OK && fatal)
        fprintf(f, "fatal error       %s\n", fatal);
    if (st.wal_records_skipped)
        fprintf(f, "WAL recovery      %" PRIu64 " records (%" PRIu64 " bytes) not recovered\n",
                st.wal_records_skipped, st.wal_bytes_skipped);
    return EX_OK;
}

double now_sec(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}
