/*
 * bulk.c -- the long commands: import and export of TSV files, check, and
 * compaction.  Each shows a progress line on a terminal (progress.c).
 */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

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
    progress bar;

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
    double t0 = now_sec();
    progress_start(&bar, "import", total, 1, progress_wanted());
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
            progress_update(&bar, done, recs);
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
    if (ex == EX_OK) {
        progress_update(&bar, done, recs);
        progress_end(&bar);
    } else {
        progress_hide(&bar);
    }
    double dt = now_sec() - t0;
    if (ex != EX_OK)
        fprintf(stderr, "omendb: import: %" PRIu64 " records were written before the error\n", recs);
    else if (!g_opt.quiet)
        printf("imported %" PRIu64 " records in %.3f s (%.0f records/s)\n", recs, dt,
               dt > 0 ? (double)recs / dt : 0.0);
    return ex;
}

static void export_tick(void *ctx, uint64_t rows)
{
    progress_update(ctx, rows, rows);
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
    /* The total is an estimate (it counts old versions and tombstones too).
     * Data going to the terminal gets no bar: the two would mix. */
    omen_stats st;
    uint64_t total = 0;
    if (omen_get_stats(s->db, &st) == OMEN_OK) total = st.run_entries + st.memtable_entries;
    progress bar;
    progress_start(&bar, "export", total, 0, progress_wanted() && !(to_stdout && isatty(STDOUT_FILENO)));
    int ex = iterate(s, &r, UINT64_MAX, out, FORM_TSV, &rows, export_tick, &bar);
    if (ex == EX_OK) {
        progress_update(&bar, rows, rows);
        progress_end(&bar);
    } else {
        progress_hide(&bar);
    }
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
    uint64_t done; /* bytes of the files checked so far */
    progress bar;
};

/* Bytes of the run and log files in dir: the work omen_check will do. */
static uint64_t check_total(const char *dir)
{
    uint64_t total = 0;
    DIR *d = opendir(dir);
    if (!d) return 0;
    struct dirent *de;
    char path[4096];
    struct stat st;
    while ((de = readdir(d)) != NULL) {
        size_t n = strlen(de->d_name);
        if (n < 5 || (strcmp(de->d_name + n - 4, ".run") && strcmp(de->d_name + n - 4, ".wal"))) continue;
        snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        if (stat(path, &st) == 0 && S_ISREG(st.st_mode)) total += (uint64_t)st.st_size;
    }
    closedir(d);
    return total;
}

/* omen_check ends each file with one line, "run PATH (level N): ..." or
 * "wal PATH: ...": its size counts as checked then.  (The run verifier's
 * own lines, "run PATH: ...", come before and are not counted.) */
static void check_line(void *ctx, const char *line)
{
    struct check_ctx *c = ctx;
    c->lines++;
    int run = !strncmp(line, "run ", 4), wal = !strncmp(line, "wal ", 4);
    if (run || wal) {
        char path[4096];
        size_t n = strcspn(line + 4, " :");
        const char *after = line + 4 + n;
        struct stat st;
        if (n < sizeof path && ((run && !strncmp(after, " (level", 7)) || (wal && *after == ':'))) {
            memcpy(path, line + 4, n);
            path[n] = 0;
            if (stat(path, &st) == 0 && S_ISREG(st.st_mode)) c->done += (uint64_t)st.st_size;
        }
    }
    progress_hide(&c->bar);
    puts(line);
    fflush(stdout);
    progress_update(&c->bar, c->done, 0);
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
    progress_start(&c.bar, "check", check_total(dir), 1, progress_wanted());
    rc = omen_check(dir, check_line, &c);
    progress_end(&c.bar);
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

/* Compaction runs in a thread while this one polls the statistics: the
 * bytes it has written so far, against the bytes of the run files when it
 * started (a full compaction rewrites about that much). */
typedef struct {
    session *s;
    const range *r;
    int rc;
    char err[1024];
    atomic_int done;
} compact_job;

static void *compact_thread(void *arg)
{
    compact_job *j = arg;
    const range *r = j->r;
    j->rc = omen_compact_range(j->s->db, r->has_lo ? r->lo.p : NULL, r->lo.n, r->has_hi ? r->hi.p : NULL,
                               r->hi.n);
    if (j->rc != OMEN_OK) snprintf(j->err, sizeof j->err, "%s", omen_last_error());
    atomic_store(&j->done, 1);
    return NULL;
}

int cmd_compact(session *s, const range *r)
{
    compact_job j = {.s = s, .r = r, .rc = OMEN_OK};
    atomic_init(&j.done, 0);
    omen_stats st0, st;
    int on = progress_wanted() && omen_get_stats(s->db, &st0) == OMEN_OK;
    pthread_t th;
    if (!on || pthread_create(&th, NULL, compact_thread, &j) != 0) {
        compact_thread(&j); /* no bar wanted (or no thread): just do it */
    } else {
        progress bar;
        progress_start(&bar, "compact", st0.file_bytes, 1, 1);
        while (!atomic_load(&j.done)) {
            if (omen_get_stats(s->db, &st) == OMEN_OK)
                progress_update(&bar, st.compaction_bytes_written - st0.compaction_bytes_written, 0);
            struct timespec ts = {0, 50 * 1000 * 1000};
            nanosleep(&ts, NULL);
        }
        pthread_join(th, NULL);
        if (j.rc == OMEN_OK && omen_get_stats(s->db, &st) == OMEN_OK)
            progress_update(&bar, st.compaction_bytes_written - st0.compaction_bytes_written, 0);
        progress_end(&bar);
    }
    if (j.rc == OMEN_OK) return EX_OK;
    /* the thread's last error, not this thread's */
    fprintf(stderr, "omendb: compact: %s", omen_strerror(j.rc));
    if (j.err[0] && strcmp(j.err, omen_strerror(j.rc)) != 0) fprintf(stderr, " (%s)", j.err);
    fputc('\n', stderr);
    return exit_for(j.rc);
}
