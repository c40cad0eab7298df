/*
 * bulk.c -- the long commands: import and export of TSV files, check, and
 * compaction.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"

static void progress(uint64_t recs, uint64_t done, uint64_t total, double t0, int final)
{
    double dt = now_sec() - t0;
    double rate = dt > 0 ? (double)recs / dt : 0;
    if (total) {
        int pct = (int)(done * 100 / total);
        if (pct > 100) pct = 100;
        char bar[31];
        int fill = pct * 30 / 100;
        for (int i = 0; i < 30; i++)
            bar[i] = i < fill ? '#' : '.';
        bar[30] = 0;
        fprintf(stderr, "\r[%s] %3d%%  %" PRIu64 " records  %.0f/s ", bar, pct, recs, rate);
    } else {
        fprintf(stderr, "\r%" PRIu64 " records  %.0f/s ", recs, rate);
    }
    if (final) fputs("\r\033[K", stderr); /* the summary replaces the bar */
    fflush(stderr);
}

int cmd_import(session *s, const char *file)
{
    FILE *in = strcmp(file, "-") ? fopen(file, "rb") : stdin;
    if (!in) {
        fprintf(stderr, "omendb: import: cannot open %s: %s\n", file, strerror(errno));
        return EX_ERR;
    }
    uint64_t total = 0;
    struct stat st;
    if (fstat(fileno(in), &st) == 0 && S_ISREG(st.st_mode)) total = (uint64_t)st.st_size;
    int show = !g_opt.quiet && isatty(STDERR_FILENO);

    omen_batch *b = NULL;
    int rc = omen_batch_create(&b);
    if (rc != OMEN_OK) {
        if (in != stdin) fclose(in);
        return report(rc, "import");
    }
    sbuf kb = {0}, vb = {0};
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    uint64_t lineno = 0, recs = 0, done = 0;
    int ex = EX_OK;
    double t0 = now_sec(), last = t0;
    while ((n = getline(&line, &cap, in)) >= 0) {
        lineno++;
        done += (uint64_t)n;
        size_t len = (size_t)n;
        if (len && line[len - 1] == '\n') len--;
        if (len && line[len - 1] == '\r') len--;
        if (len == 0) continue;
        const char *tab = memchr(line, '\t', len);
        if (!tab) {
            fprintf(stderr, "omendb: import: %s:%" PRIu64 ": no tab between key and value\n", file, lineno);
            ex = EX_ERR;
            break;
        }
        size_t kl = (size_t)(tab - line);
        if (unescape(line, kl, &kb) != 0 || unescape(tab + 1, len - kl - 1, &vb) != 0) {
            fprintf(stderr, "omendb: import: %s:%" PRIu64 ": bad escape\n", file, lineno);
            ex = EX_ERR;
            break;
        }
        ukey k;
        if (make_key(&kb, &k) != 0) {
            fprintf(stderr, "omendb: import: %s:%" PRIu64 ": bad integer key\n", file, lineno);
            ex = EX_ERR;
            break;
        }
        rc = omen_batch_put(b, k.p, k.n, vb.p ? (const void *)vb.p : (const void *)"", vb.len);
        if (rc != OMEN_OK) {
            ex = report(rc, "import: %s:%" PRIu64, file, lineno);
            break;
        }
        if (omen_batch_count(b) >= g_opt.batch) {
            rc = omen_write(s->db, b, OMEN_SYNC_DEFAULT);
            if (rc != OMEN_OK) {
                ex = report(rc, "import: write before %s:%" PRIu64, file, lineno);
                break;
            }
            recs += omen_batch_count(b);
            omen_batch_clear(b);
            double t = now_sec();
            if (show && t - last >= 0.1) {
                progress(recs, done, total, t0, 0);
                last = t;
            }
        }
    }
    if (ex == EX_OK && ferror(in)) {
        fprintf(stderr, "omendb: import: reading %s: %s\n", file, strerror(errno));
        ex = EX_ERR;
    }
    if (ex == EX_OK && omen_batch_count(b) > 0) {
        rc = omen_write(s->db, b, OMEN_SYNC_DEFAULT);
        if (rc != OMEN_OK)
            ex = report(rc, "import: write");
        else
            recs += omen_batch_count(b);
    }
    omen_batch_destroy(b);
    free(line);
    sb_free(&kb);
    sb_free(&vb);
    if (in != stdin) fclose(in);
    if (show) progress(recs, done, total, t0, 1);
    double dt = now_sec() - t0;
    if (ex != EX_OK)
        fprintf(stderr, "omendb: import: %" PRIu64 " records were written before the error\n", recs);
    else if (!g_opt.quiet)
        printf("imported %" PRIu64 " records in %.3f s (%.0f records/s)\n", recs, dt,
               dt > 0 ? (double)recs / dt : 0.0);
    return ex;
}

int cmd_export(session *s, const char *file)
{
    int to_stdout = !file || !strcmp(file, "-");
    char tmp[4096];
    FILE *out = stdout;
    if (!to_stdout) {
        /* Write beside the target and rename, so a failed export never
         * leaves a truncated file under the requested name. */
        snprintf(tmp, sizeof tmp, "%s.tmp%ld", file, (long)getpid());
        out = fopen(tmp, "wb");
        if (!out) {
            fprintf(stderr, "omendb: export: cannot create %s: %s\n", tmp, strerror(errno));
            return EX_ERR;
        }
    }
    range r;
    memset(&r, 0, sizeof r);
    uint64_t rows = 0;
    double t0 = now_sec();
    int ex = iterate(s, &r, UINT64_MAX, out, FORM_TSV, &rows);
    if (!to_stdout) {
        int bad = ferror(out);
        if (fclose(out) != 0 || bad) {
            if (ex == EX_OK) fprintf(stderr, "omendb: export: writing %s: %s\n", tmp, strerror(errno));
            ex = ex ? ex : EX_ERR;
        }
        if (ex == EX_OK && rename(tmp, file) != 0) {
            fprintf(stderr, "omendb: export: rename %s: %s\n", file, strerror(errno));
            ex = EX_ERR;
        }
        if (ex != EX_OK)
            unlink(tmp);
        else if (!g_opt.quiet) {
            double dt = now_sec() - t0;
            printf("exported %" PRIu64 " records to %s in %.3f s (%.0f records/s)\n", rows, file, dt,
                   dt > 0 ? (double)rows / dt : 0.0);
        }
    }
    return ex;
}

struct check_ctx {
    unsigned long lines;
};

static void check_line(void *ctx, const char *line)
{
    ((struct check_ctx *)ctx)->lines++;
    puts(line);
}

int cmd_check(const char *dir)
{
    struct stat st;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        fprintf(stderr, "omendb: check %s: no such directory\n", dir);
        return EX_ERR;
    }
    /* omen_check needs the database closed everywhere, and a check racing a
     * writer would report phantom damage.  A read-only open takes the lock
     * if the database has one, so it answers "is it in use?" through the
     * public API; any other open failure is left for omen_check to explain. */
    omen_options o;
    omen_options_init(&o);
    o.create_if_missing = 0;
    o.read_only = 1;
    omen_db *db = NULL;
    int rc = omen_open(dir, &o, &db);
    if (rc == OMEN_LOCKED) return report(rc, "check %s", dir);
    if (rc == OMEN_OK) omen_close(db);
    struct check_ctx c = {0};
    rc = omen_check(dir, check_line, &c);
    if (rc == OMEN_OK) {
        printf("check: %s is clean\n", dir);
        return EX_OK;
    }
    if (rc == OMEN_CORRUPT) {
        printf("check: %s is CORRUPT\n", dir);
        return report(rc, "check %s", dir);
    }
    report(rc, "check %s", dir);
    return EX_ERR;
}

int cmd_compact(session *s, const range *r)
{
    int rc = omen_compact_range(s->db, r->has_lo ? r->lo.p : NULL, r->lo.n, r->has_hi ? r->hi.p : NULL, r->hi.n);
    return rc == OMEN_OK ? EX_OK : report(rc, "compact");
}
