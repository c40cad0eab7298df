/*
 * omendb.c -- the OmenDB command-line shell and script tool.
 *
 *   omendb DIR                      interactive shell (or commands read from a
 *                                   non-terminal stdin, without prompt)
 *   omendb get|put|del|scan|count|stats|import|export|check DIR ...
 *                                   one command, for scripts
 *
 * Uses only the public API in include/omendb.h.
 *
 * Invariants the rest of the file relies on:
 *  - Every key or value shown to the user goes through one escaping scheme
 *    (put_bytes) and every key or value read from the user goes through its
 *    inverse (decode_escape), so anything printed can be typed or imported
 *    back and yields the same bytes.
 *  - Exit codes: 0 ok, 1 key not found or data corrupt, 2 usage error,
 *    3 any other failure.  Every command helper returns one of these.
 *  - omen_last_error() is copied before any other OmenDB call, because the
 *    next call may overwrite it.
 */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <editline/readline.h>

#include "omendb.h"

enum { EX_OK = 0, EX_MISS = 1, EX_USAGE = 2, EX_ERR = 3 };

/* ---- Options (command line) ------------------------------------------ */

static struct {
    int sync;            /* OMEN_SYNC_FULL with --sync */
    int compression;     /* OMEN_COMPRESS_* */
    int int_keys;        /* keys are decimal u64, stored with omen_key_u64 */
    int raw;             /* get: print the value's bytes unescaped */
    int quiet;           /* no progress or summaries */
    int bail;            /* non-interactive shell: stop at the first error */
    uint64_t limit;      /* scan: maximum rows (UINT64_MAX = none) */
    size_t batch;        /* import: records per omen_write */
    size_t write_buffer; /* 0 = library default */
    int wal_recovery;    /* OMEN_WAL_RECOVER_* (--wal-recovery) */
} g_opt = {OMEN_SYNC_RELAXED, OMEN_COMPRESS_NONE, 0, 0, 0, 0, UINT64_MAX, 1000, 0, OMEN_WAL_RECOVER_TORN_TAIL};

static volatile sig_atomic_t g_interrupted;

/* ---- Growable byte buffer --------------------------------------------- */

typedef struct {
    unsigned char *p;
    size_t len, cap;
} sbuf;

static void sb_reserve(sbuf *b, size_t extra)
{
    if (b->len + extra <= b->cap) return;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < b->len + extra)
        cap *= 2;
    unsigned char *p = realloc(b->p, cap);
    if (!p) {
        /* The tool has nothing sensible to do without memory for a line. */
        fputs("omendb: out of memory\n", stderr);
        exit(EX_ERR);
    }
    b->p = p;
    b->cap = cap;
}

static void sb_putc(sbuf *b, unsigned char c)
{
    sb_reserve(b, 1);
    b->p[b->len++] = c;
}

static void sb_free(sbuf *b)
{
    free(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
}

/* ---- Escapes ------------------------------------------------------------ */

static int hexval(int c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* s[*i] is the character after a backslash.  Decodes one escape into *out
 * and advances *i past it; returns 0, or -1 for an unknown or truncated
 * escape. */
static int decode_escape(const char *s, size_t n, size_t *i, unsigned char *out)
{
    if (*i >= n) return -1;
    char c = s[(*i)++];
    switch (c) {
    case 'n': *out = '\n'; return 0;
    case 't': *out = '\t'; return 0;
    case 'r': *out = '\r'; return 0;
    case '0': *out = 0; return 0;
    case '\\': *out = '\\'; return 0;
    case '"': *out = '"'; return 0;
    case '\'': *out = '\''; return 0;
    case ' ': *out = ' '; return 0;
    case 'x': {
        if (*i + 2 > n) return -1;
        int h = hexval((unsigned char)s[*i]), l = hexval((unsigned char)s[*i + 1]);
        if (h < 0 || l < 0) return -1;
        *out = (unsigned char)(h * 16 + l);
        *i += 2;
        return 0;
    }
    default: return -1;
    }
}

/* Decode escapes in s[0..n) (no quote handling: command-line arguments and
 * TSV fields).  Returns 0 or -1 on a bad escape. */
static int unescape(const char *s, size_t n, sbuf *out)
{
    out->len = 0;
    sb_reserve(out, n + 1);
    for (size_t i = 0; i < n;) {
        unsigned char c = (unsigned char)s[i++];
        if (c == '\\' && decode_escape(s, n, &i, &c) != 0) return -1;
        sb_putc(out, c);
    }
    return 0;
}

enum { FORM_TSV = 0, FORM_SHELL = 1 };

/* Print bytes escaped.  FORM_TSV: backslash, tab, CR, LF and every byte
 * outside printable ASCII are escaped.  FORM_SHELL additionally wraps the
 * text in double quotes when the shell tokenizer would otherwise split or
 * mangle it (spaces, quotes, empty, a leading '#'). */
static void put_bytes(FILE *f, const void *data, size_t n, int form)
{
    const unsigned char *p = data;
    int quote = 0;
    if (form == FORM_SHELL) {
        quote = n == 0 || p[0] == '#';
        for (size_t i = 0; i < n && !quote; i++)
            quote = p[i] == ' ' || p[i] == '"' || p[i] == '\'';
    }
    if (quote) fputc('"', f);
    size_t run = 0; /* start of the pending run of bytes printed as they are */
    for (size_t i = 0; i < n; i++) {
        unsigned char c = p[i];
        int plain = c >= 0x20 && c < 0x7f && c != '\\' && !(quote && c == '"');
        if (plain) continue;
        if (i > run) fwrite(p + run, 1, i - run, f);
        run = i + 1;
        switch (c) {
        case '\\': fputs("\\\\", f); break;
        case '\n': fputs("\\n", f); break;
        case '\t': fputs("\\t", f); break;
        case '\r': fputs("\\r", f); break;
        case '"': fputs("\\\"", f); break;
        default: fprintf(f, "\\x%02x", c); break;
        }
    }
    if (n > run) fwrite(p + run, 1, n - run, f);
    if (quote) fputc('"', f);
}

static void put_key(FILE *f, const void *k, size_t n, int form)
{
    if (g_opt.int_keys && n == 8)
        fprintf(f, "%" PRIu64, omen_key_to_u64(k, n));
    else
        put_bytes(f, k, n, form);
}

/* ---- Shell tokenizer ---------------------------------------------------- */

typedef struct {
    sbuf *v; /* token bytes */
    size_t n, cap;
} toks;

static void toks_clear(toks *t)
{
    for (size_t i = 0; i < t->n; i++)
        t->v[i].len = 0;
    t->n = 0;
}

static void toks_free(toks *t)
{
    for (size_t i = 0; i < t->cap; i++)
        sb_free(&t->v[i]);
    free(t->v);
    memset(t, 0, sizeof *t);
}

static sbuf *toks_next(toks *t)
{
    if (t->n == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 8;
        sbuf *v = realloc(t->v, cap * sizeof *v);
        if (!v) {
            fputs("omendb: out of memory\n", stderr);
            exit(EX_ERR);
        }
        memset(v + t->cap, 0, (cap - t->cap) * sizeof *v);
        t->v = v;
        t->cap = cap;
    }
    sbuf *b = &t->v[t->n++];
    b->len = 0;
    return b;
}

/* Split a line into tokens: blanks separate, "..." groups with escapes,
 * '...' groups literally, a backslash escapes outside single quotes, and a
 * line whose first non-blank is '#' is a comment.  Returns NULL or a
 * message describing the syntax error. */
static const char *tokenize(const char *s, size_t n, toks *t)
{
    toks_clear(t);
    size_t i = 0;
    for (;;) {
        while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\r' || s[i] == '\n'))
            i++;
        if (i >= n) return NULL;
        if (t->n == 0 && s[i] == '#') return NULL;
        sbuf *b = toks_next(t);
        char q = 0; /* open quote character, or 0 */
        while (i < n) {
            unsigned char c = (unsigned char)s[i];
            if (!q && (c == ' ' || c == '\t' || c == '\r' || c == '\n')) break;
            i++;
            if (q == '\'') {
                if (c == '\'')
                    q = 0;
                else
                    sb_putc(b, c);
            } else if (c == '\\') {
                if (decode_escape(s, n, &i, &c) != 0)
                    return "bad escape (use \\n \\t \\r \\0 \\\\ \\\" \\' \\xHH)";
                sb_putc(b, c);
            } else if (q == '"' && c == '"') {
                q = 0;
            } else if (!q && (c == '"' || c == '\'')) {
                q = (char)c;
            } else {
                sb_putc(b, c);
            }
        }
        if (q) return "unterminated quote";
    }
}

/* ---- Errors ------------------------------------------------------------- */

static int exit_for(int err)
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
static int report_hint(int err, const char *hint, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
#define report(err, ...) report_hint(err, NULL, __VA_ARGS__)

static int report_hint(int err, const char *hint, const char *fmt, ...)
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

static int usage_error(const char *fmt, ...)
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

/* A key as given by the user, in storage form.  With --int-keys the text
 * is a decimal (or 0x hex) u64 and the stored key its 8 big-endian bytes. */
typedef struct {
    const void *p;
    size_t n;
    unsigned char u[8];
} ukey;

static int parse_u64(const unsigned char *s, size_t n, uint64_t *out)
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
static int make_key(const sbuf *tok, ukey *k)
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

typedef struct {
    const char *dir;
    omen_db *db;
    omen_txn *txn; /* open shell transaction, or NULL */
    int form;      /* FORM_TSV (script commands) or FORM_SHELL */
    int opened_read_only;
} session;

/* How a command opens the database.  Read-only commands never write a
 * byte (no log replay into a new run, no new files), so inspecting a
 * database cannot change it. */
enum { OPEN_READ = 0, OPEN_CREATE = 1, OPEN_WRITE = 2 };

static int open_db(session *s, const char *dir, int mode)
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

static int close_db(session *s)
{
    int ex = EX_OK;
    if (s->txn) {
        omen_txn_rollback(s->txn);
        s->txn = NULL;
        fputs("omendb: the open transaction was rolled back\n", stderr);
    }
    int rc = omen_close(s->db);
    s->db = NULL;
    if (rc != OMEN_OK) ex = report(rc, "close %s", s->dir);
    return ex;
}

/* ---- Commands shared by the shell and the script interface ------------------ */

static int cmd_get(session *s, const sbuf *ktok)
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

static int cmd_put(session *s, const sbuf *ktok, const sbuf *vtok)
{
    ukey k;
    int ex = make_key(ktok, &k);
    if (ex) return ex;
    const void *v = vtok->p ? (const void *)vtok->p : (const void *)"";
    int rc = s->txn ? omen_txn_put(s->txn, k.p, k.n, v, vtok->len)
                    : omen_put(s->db, k.p, k.n, v, vtok->len, OMEN_SYNC_DEFAULT);
    return rc == OMEN_OK ? EX_OK : report(rc, "put");
}

static int cmd_del(session *s, const sbuf *ktok)
{
    ukey k;
    int ex = make_key(ktok, &k);
    if (ex) return ex;
    int rc = s->txn ? omen_txn_delete(s->txn, k.p, k.n) : omen_delete(s->db, k.p, k.n, OMEN_SYNC_DEFAULT);
    return rc == OMEN_OK ? EX_OK : report(rc, "del");
}

/* Bounds of a scan: [lo, hi); an empty token means unbounded. */
typedef struct {
    ukey lo, hi;
    int has_lo, has_hi;
} range;

static int make_range(const sbuf *from, const sbuf *to, range *r)
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
static int iterate(session *s, const range *r, uint64_t limit, FILE *out, int form, uint64_t *rows)
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

static int cmd_stats(session *s)
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

/* ---- Interactive / piped shell ------------------------------------------ */

static const char *const shell_cmds[] = {
    "get",   "put",    "del",      "scan", "count", "stats", "flush", "compact",
    "begin", "commit", "rollback", "help", ".quit", "quit",  "exit",  NULL,
};

static void shell_help(void)
{
    fputs("Commands (keys and values may be quoted \"a b\" and use escapes \\x00 \\n \\t \\\\):\n"
          "  get KEY                   print the value of KEY\n"
          "  put KEY VALUE             insert or overwrite\n"
          "  del KEY                   delete KEY\n"
          "  scan [FROM [TO [LIMIT]]]  keys in [FROM, TO) with values, tab-separated;\n"
          "                            \"\" means unbounded\n"
          "  count [FROM [TO]]         number of keys in [FROM, TO)\n"
          "  stats                     engine statistics\n"
          "  flush                     write the memtable to a sorted run\n"
          "  compact [FROM [TO]]       compact runs overlapping the range\n"
          "  begin | commit | rollback optimistic transaction; while one is open,\n"
          "                            get/put/del/scan/count go through it\n"
          "  help                      this text\n"
          "  .quit | quit | exit       leave (Ctrl-D too); an open transaction is\n"
          "                            rolled back\n",
          stdout);
}

/* Runs one tokenized shell command.  Returns an exit code; *quit is set by
 * the leaving commands. */
static int shell_exec(session *s, toks *t, int *quit)
{
    if (t->n == 0) return EX_OK;
    sbuf *a = t->v;
    char cmd[32] = "";
    /* An empty, overlong or NUL-containing name matches no command. */
    if (a[0].len > 0 && a[0].len < sizeof cmd && !memchr(a[0].p, 0, a[0].len)) {
        memcpy(cmd, a[0].p, a[0].len);
        cmd[a[0].len] = 0;
    }
    const char *c = cmd[0] == '.' ? cmd + 1 : cmd; /* ".stats" works as in sqlite3 */
    int argc = (int)t->n - 1;
#define NEED(lo, hi, syn)                                                                                    \
    do {                                                                                                     \
        if (argc < (lo) || argc > (hi)) {                                                                    \
            fputs("omendb: usage: " syn "\n", stderr);                                                       \
            return EX_USAGE;                                                                                 \
        }                                                                                                    \
    } while (0)
    if (!strcmp(c, "quit") || !strcmp(c, "exit") || !strcmp(c, "q")) {
        *quit = 1;
        return EX_OK;
    }
    if (!strcmp(c, "help") || !strcmp(c, "h") || !strcmp(c, "?")) {
        shell_help();
        return EX_OK;
    }
    if (!strcmp(c, "get")) {
        NEED(1, 1, "get KEY");
        return cmd_get(s, &a[1]);
    }
    if (!strcmp(c, "put") || !strcmp(c, "set")) {
        NEED(2, 2, "put KEY VALUE");
        return cmd_put(s, &a[1], &a[2]);
    }
    if (!strcmp(c, "del") || !strcmp(c, "delete")) {
        NEED(1, 1, "del KEY");
        return cmd_del(s, &a[1]);
    }
    if (!strcmp(c, "scan") || !strcmp(c, "count")) {
        int counting = c[0] == 'c';
        if (counting)
            NEED(0, 2, "count [FROM [TO]]");
        else
            NEED(0, 3, "scan [FROM [TO [LIMIT]]]");
        range r;
        int ex = make_range(argc >= 1 ? &a[1] : NULL, argc >= 2 ? &a[2] : NULL, &r);
        if (ex) return ex;
        uint64_t limit = g_opt.limit;
        if (argc >= 3 && parse_u64(a[3].p, a[3].len, &limit) != 0) {
            fputs("omendb: scan: LIMIT must be a number\n", stderr);
            return EX_USAGE;
        }
        uint64_t rows;
        ex = iterate(s, &r, counting ? UINT64_MAX : limit, counting ? NULL : stdout, s->form, &rows);
        if (counting && ex == EX_OK) printf("%" PRIu64 "\n", rows);
        return ex;
    }
    if (!strcmp(c, "stats")) {
        NEED(0, 0, "stats");
        return cmd_stats(s);
    }
    if (!strcmp(c, "flush")) {
        NEED(0, 0, "flush");
        int rc = omen_flush(s->db);
        return rc == OMEN_OK ? EX_OK : report(rc, "flush");
    }
    if (!strcmp(c, "compact")) {
        NEED(0, 2, "compact [FROM [TO]]");
        range r;
        int ex = make_range(argc >= 1 ? &a[1] : NULL, argc >= 2 ? &a[2] : NULL, &r);
        if (ex) return ex;
        int rc =
            omen_compact_range(s->db, r.has_lo ? r.lo.p : NULL, r.lo.n, r.has_hi ? r.hi.p : NULL, r.hi.n);
        return rc == OMEN_OK ? EX_OK : report(rc, "compact");
    }
    if (!strcmp(c, "begin")) {
        NEED(0, 0, "begin");
        if (s->txn) {
            fputs("omendb: begin: a transaction is already open (commit or rollback first)\n", stderr);
            return EX_USAGE;
        }
        int rc = omen_txn_begin(s->db, &s->txn);
        if (rc != OMEN_OK) {
            s->txn = NULL;
            return report(rc, "begin");
        }
        return EX_OK;
    }
    if (!strcmp(c, "commit") || !strcmp(c, "rollback") || !strcmp(c, "abort")) {
        NEED(0, 0, "commit | rollback");
        if (!s->txn) {
            fprintf(stderr, "omendb: %s: no transaction is open (use begin)\n", c);
            return EX_USAGE;
        }
        omen_txn *txn = s->txn;
        s->txn = NULL; /* both calls end and free the transaction */
        if (c[0] != 'c') {
            omen_txn_rollback(txn);
            return EX_OK;
        }
        int rc = omen_txn_commit(txn, g_opt.sync);
        if (rc == OMEN_CONFLICT)
            return report(rc, "commit: another writer changed what the transaction read; it was rolled back");
        return rc == OMEN_OK ? EX_OK : report(rc, "commit");
    }
#undef NEED
    fputs("omendb: unknown command ", stderr);
    put_bytes(stderr, a[0].p, a[0].len, FORM_SHELL);
    fputs(" (type \"help\")\n", stderr);
    return EX_USAGE;
}

static char *complete_cmd(const char *text, int state)
{
    static size_t i, len;
    if (!state) {
        i = 0;
        len = strlen(text);
    }
    while (shell_cmds[i]) {
        const char *c = shell_cmds[i++];
        if (!strncmp(c, text, len)) return strdup(c);
    }
    return NULL;
}

/* Complete command names at the start of the line; nothing elsewhere (the
 * default would offer file names, which are never arguments here). */
static char **complete(const char *text, int start, int end)
{
    (void)end;
    rl_attempted_completion_over = 1;
    for (int i = 0; i < start; i++)
        if (rl_line_buffer[i] != ' ' && rl_line_buffer[i] != '\t') return NULL;
    return rl_completion_matches(text, complete_cmd);
}

static void on_sigint(int sig)
{
    (void)sig;
    g_interrupted = 1;
}

static void history_path(char *buf, size_t n)
{
    buf[0] = 0;
    const char *env = getenv("OMENDB_HISTORY");
    if (env) {
        snprintf(buf, n, "%s", env);
        return;
    }
    const char *home = getenv("HOME");
    if (home && *home) snprintf(buf, n, "%s/.omendb_history", home);
}

static int run_shell(const char *dir)
{
    struct stat st;
    int existed = stat(dir, &st) == 0;
    session s = {0};
    s.form = FORM_SHELL;
    int ex = open_db(&s, dir, OPEN_CREATE);
    if (ex) return ex;

    int tty = isatty(STDIN_FILENO);
    char hist[4096];
    if (tty) {
        history_path(hist, sizeof hist);
        rl_readline_name = "omendb";
        rl_attempted_completion_function = complete;
        using_history();
        stifle_history(2000);
        if (hist[0]) read_history(hist); /* absent on first use: not an error */
        printf("OmenDB %s shell on %s%s\n"
               "Type \"help\" for commands, \".quit\" or Ctrl-D to leave.\n",
               OMEN_VERSION_STRING, dir, existed ? "" : " (new database)");
    }

    /* Ctrl-C cancels the line being typed or stops a long scan; it never
     * ends the shell (Ctrl-D and .quit do). */
    struct sigaction sa, old_int;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigint;
    if (tty) sigaction(SIGINT, &sa, &old_int);

    toks t = {0};
    char *line = NULL, *last_hist = NULL;
    size_t cap = 0;
    int status = EX_OK, quit = 0;
    unsigned long lineno = 0;
    while (!quit) {
        ssize_t n;
        char *rl = NULL;
        if (tty) {
            fflush(stdout);
            g_interrupted = 0;
            rl = readline(s.txn ? "omendb [txn]> " : "omendb> ");
            if (!rl) {
                putchar('\n');
                if (g_interrupted) continue;
                break;
            }
            n = (ssize_t)strlen(rl);
            if (n > 0 && (!last_hist || strcmp(last_hist, rl) != 0)) {
                add_history(rl); /* consecutive repeats are kept once, as in bash */
                free(last_hist);
                last_hist = strdup(rl);
            }
        } else {
            n = getline(&line, &cap, stdin);
            if (n < 0) break;
        }
        lineno++;
        const char *text = tty ? rl : line;
        const char *err = tokenize(text, (size_t)n, &t);
        int ex1;
        if (err) {
            if (tty)
                fprintf(stderr, "omendb: %s\n", err);
            else
                fprintf(stderr, "omendb: line %lu: %s\n", lineno, err);
            ex1 = EX_USAGE;
        } else {
            g_interrupted = 0;
            ex1 = shell_exec(&s, &t, &quit);
        }
        free(rl);
        fflush(stdout);
        if (ex1 != EX_OK) {
            status = ex1;
            if (!tty && g_opt.bail) break;
        }
    }
    free(line);
    free(last_hist);
    toks_free(&t);
    if (tty) sigaction(SIGINT, &old_int, NULL);
    if (tty && hist[0] && write_history(hist) != 0)
        fprintf(stderr, "omendb: note: could not save history to %s\n", hist);
    int cex = close_db(&s);
    /* Interactive sessions end well whatever single commands did; scripts
     * learn from the status whether any command failed. */
    if (tty) return cex;
    return cex ? cex : status;
}

/* ---- Script commands --------------------------------------------------- */

static double now_sec(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Convert a command-line argument (escapes allowed) to token bytes. */
static int arg_bytes(const char *what, const char *arg, sbuf *out)
{
    if (unescape(arg, strlen(arg), out) != 0)
        return usage_error("%s: bad escape in \"%s\" (use \\n \\t \\r \\0 \\\\ \\xHH)", what, arg);
    return EX_OK;
}

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

static int cmd_import(session *s, const char *file)
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

static int cmd_export(session *s, const char *file)
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

static int cmd_check(const char *dir)
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

static void usage(FILE *f)
{
    fputs(
        "usage: omendb [OPTIONS] DIR                   interactive shell on the database in DIR\n"
        "                                              (reads commands from stdin if it is not a terminal)\n"
        "       omendb [OPTIONS] get DIR KEY           print the value of KEY\n"
        "       omendb [OPTIONS] put DIR KEY VALUE     insert or overwrite KEY\n"
        "       omendb [OPTIONS] del DIR KEY           delete KEY\n"
        "       omendb [OPTIONS] scan DIR [FROM [TO]]  KEY<TAB>VALUE lines for keys in [FROM, TO)\n"
        "       omendb [OPTIONS] count DIR             number of keys\n"
        "       omendb [OPTIONS] stats DIR             engine statistics\n"
        "       omendb [OPTIONS] import DIR FILE.tsv   load KEY<TAB>VALUE lines (FILE - = stdin)\n"
        "       omendb [OPTIONS] export DIR [FILE.tsv] dump every key (stdout without FILE)\n"
        "       omendb check DIR                       verify checksums and models (exit 1 if corrupt)\n"
        "       omendb version | help\n"
        "options:\n"
        "  --sync                  every write waits for stable storage (fdatasync)\n"
        "  --compression lz4|zstd|none   compression of new sorted runs\n"
        "  --int-keys              keys are unsigned 64-bit integers (numeric order)\n"
        "  --limit N               scan at most N keys\n"
        "  --raw                   get: print the value's bytes unescaped, no newline\n"
        "  --batch N               import: records per atomic write (default 1000)\n"
        "  --write-buffer BYTES    memtable size before a flush (K/M/G suffixes)\n"
        "  --wal-recovery MODE     damaged write-ahead log: tolerate-torn-tail (default),\n"
        "                          absolute, point-in-time or skip (docs/design.md)\n"
        "  --bail                  piped shell: stop at the first failing command\n"
        "  -q, --quiet             no progress bar or summary lines\n"
        "  --                      end of options (for keys starting with '-')\n"
        "Keys and values take escapes: \\xHH \\n \\t \\r \\0 \\\\ ; output uses the same.\n"
        "Exit status: 0 ok, 1 not found or corrupt, 2 usage error, 3 other error.\n",
        f);
}

static int parse_size(const char *s, size_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s || s[0] == '-') return -1;
    unsigned long long mul = 1;
    switch (*end) {
    case 0: break;
    case 'k':
    case 'K':
        mul = 1ull << 10;
        end++;
        break;
    case 'm':
    case 'M':
        mul = 1ull << 20;
        end++;
        break;
    case 'g':
    case 'G':
        mul = 1ull << 30;
        end++;
        break;
    default: return -1;
    }
    if (*end || v > SIZE_MAX / mul) return -1;
    *out = (size_t)(v * mul);
    return 0;
}

int main(int argc, char **argv)
{
    const char *pos[8];
    int npos = 0, opts_done = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (opts_done || a[0] != '-' || !strcmp(a, "-")) {
            if (npos == (int)(sizeof pos / sizeof pos[0])) return usage_error("too many arguments");
            pos[npos++] = a;
            continue;
        }
        if (!strcmp(a, "--")) {
            opts_done = 1;
            continue;
        }
        /* --name=value or --name value */
        char name[64];
        const char *val = NULL;
        const char *eq = strchr(a, '=');
        size_t nl = eq ? (size_t)(eq - a) : strlen(a);
        if (nl >= sizeof name) return usage_error("unknown option %s", a);
        memcpy(name, a, nl);
        name[nl] = 0;
        if (eq) val = eq + 1;
        int takes = !strcmp(name, "--compression") || !strcmp(name, "--limit") || !strcmp(name, "--batch") ||
                    !strcmp(name, "--write-buffer") || !strcmp(name, "--wal-recovery");
        if (takes && !val) {
            if (i + 1 >= argc) return usage_error("%s needs a value", name);
            val = argv[++i];
        } else if (!takes && val) {
            return usage_error("%s takes no value", name);
        }
        if (!strcmp(name, "--sync")) {
            g_opt.sync = OMEN_SYNC_FULL;
        } else if (!strcmp(name, "--int-keys")) {
            g_opt.int_keys = 1;
        } else if (!strcmp(name, "--raw")) {
            g_opt.raw = 1;
        } else if (!strcmp(name, "--bail")) {
            g_opt.bail = 1;
        } else if (!strcmp(name, "-q") || !strcmp(name, "--quiet")) {
            g_opt.quiet = 1;
        } else if (!strcmp(name, "-h") || !strcmp(name, "--help")) {
            usage(stdout);
            return EX_OK;
        } else if (!strcmp(name, "-V") || !strcmp(name, "--version")) {
            printf("omendb %s\n", OMEN_VERSION_STRING);
            return EX_OK;
        } else if (!strcmp(name, "--compression")) {
            if (!strcmp(val, "none"))
                g_opt.compression = OMEN_COMPRESS_NONE;
            else if (!strcmp(val, "lz4"))
                g_opt.compression = OMEN_COMPRESS_LZ4;
            else if (!strcmp(val, "zstd"))
                g_opt.compression = OMEN_COMPRESS_ZSTD;
            else
                return usage_error("--compression must be lz4, zstd or none, not \"%s\"", val);
        } else if (!strcmp(name, "--limit")) {
            uint64_t v;
            if (parse_u64((const unsigned char *)val, strlen(val), &v) != 0)
                return usage_error("--limit needs a number, not \"%s\"", val);
            g_opt.limit = v;
        } else if (!strcmp(name, "--batch")) {
            uint64_t v;
            if (parse_u64((const unsigned char *)val, strlen(val), &v) != 0 || v == 0 || v > 10000000)
                return usage_error("--batch needs a number from 1 to 10000000, not \"%s\"", val);
            g_opt.batch = (size_t)v;
        } else if (!strcmp(name, "--wal-recovery")) {
            if (!strcmp(val, "tolerate-torn-tail"))
                g_opt.wal_recovery = OMEN_WAL_RECOVER_TORN_TAIL;
            else if (!strcmp(val, "absolute"))
                g_opt.wal_recovery = OMEN_WAL_RECOVER_ABSOLUTE;
            else if (!strcmp(val, "point-in-time"))
                g_opt.wal_recovery = OMEN_WAL_RECOVER_POINT_IN_TIME;
            else if (!strcmp(val, "skip"))
                g_opt.wal_recovery = OMEN_WAL_RECOVER_SKIP;
            else
                return usage_error("--wal-recovery must be tolerate-torn-tail, absolute, "
                                   "point-in-time or skip, not \"%s\"", val);
        } else if (!strcmp(name, "--write-buffer")) {
            if (parse_size(val, &g_opt.write_buffer) != 0 || g_opt.write_buffer == 0)
                return usage_error("--write-buffer needs a size such as 4M, not \"%s\"", val);
        } else {
            return usage_error("unknown option %s", a);
        }
    }
    if (npos == 0) {
        usage(stderr);
        return EX_USAGE;
    }

    const char *cmd = pos[0];
    if (!strcmp(cmd, "help")) {
        usage(stdout);
        return EX_OK;
    }
    if (!strcmp(cmd, "version")) {
        if (npos != 1) return usage_error("version takes no arguments");
        printf("omendb %s\n", OMEN_VERSION_STRING);
        return EX_OK;
    }

    static const struct {
        const char *name;
        int min, max; /* positional arguments after the command */
        int mode;     /* OPEN_* */
        const char *syn;
    } tab[] = {
        {"get", 2, 2, OPEN_READ, "get DIR KEY"},
        {"put", 3, 3, OPEN_CREATE, "put DIR KEY VALUE"},
        {"del", 2, 2, OPEN_WRITE, "del DIR KEY"},
        {"scan", 1, 3, OPEN_READ, "scan DIR [FROM [TO]] [--limit N]"},
        {"count", 1, 1, OPEN_READ, "count DIR"},
        {"stats", 1, 1, OPEN_READ, "stats DIR"},
        {"import", 2, 2, OPEN_CREATE, "import DIR FILE.tsv"},
        {"export", 1, 2, OPEN_READ, "export DIR [FILE.tsv]"},
        {"check", 1, 1, OPEN_READ, "check DIR"},
    };
    int which = -1;
    for (size_t i = 0; i < sizeof tab / sizeof tab[0]; i++)
        if (!strcmp(cmd, tab[i].name)) which = (int)i;
    if (which < 0) {
        if (npos != 1) return usage_error("unknown command \"%s\"", cmd);
        return run_shell(cmd);
    }
    int nargs = npos - 1;
    if (nargs < tab[which].min || nargs > tab[which].max)
        return usage_error("usage: omendb %s", tab[which].syn);
    const char *dir = pos[1];
    if (!strcmp(cmd, "check")) return cmd_check(dir);

    /* Decode key/value arguments before opening, so usage errors never
     * create or touch a database. */
    sbuf a1 = {0}, a2 = {0};
    int ex = EX_OK;
    ukey probe;
    if (!strcmp(cmd, "get") || !strcmp(cmd, "put") || !strcmp(cmd, "del") || !strcmp(cmd, "scan")) {
        if (nargs >= 2 && (ex = arg_bytes(cmd, pos[2], &a1)) == EX_OK && g_opt.int_keys && a1.len)
            ex = make_key(&a1, &probe);
        if (ex == EX_OK && nargs >= 3 && (ex = arg_bytes(cmd, pos[3], &a2)) == EX_OK && g_opt.int_keys &&
            !strcmp(cmd, "scan") && a2.len)
            ex = make_key(&a2, &probe);
    }
    if (ex == EX_OK) {
        session s = {0};
        s.form = FORM_TSV;
        ex = open_db(&s, dir, tab[which].mode);
        if (ex == EX_OK) {
            if (!strcmp(cmd, "get")) {
                ex = cmd_get(&s, &a1);
            } else if (!strcmp(cmd, "put")) {
                ex = cmd_put(&s, &a1, &a2);
            } else if (!strcmp(cmd, "del")) {
                ex = cmd_del(&s, &a1);
            } else if (!strcmp(cmd, "scan") || !strcmp(cmd, "count")) {
                range r;
                uint64_t rows;
                ex = make_range(nargs >= 2 ? &a1 : NULL, nargs >= 3 ? &a2 : NULL, &r);
                if (ex == EX_OK) {
                    int counting = cmd[0] == 'c';
                    ex = iterate(&s, &r, counting ? UINT64_MAX : g_opt.limit, counting ? NULL : stdout,
                                 FORM_TSV, &rows);
                    if (counting && ex == EX_OK) printf("%" PRIu64 "\n", rows);
                }
            } else if (!strcmp(cmd, "stats")) {
                ex = cmd_stats(&s);
            } else if (!strcmp(cmd, "import")) {
                ex = cmd_import(&s, pos[2]);
            } else if (!strcmp(cmd, "export")) {
                ex = cmd_export(&s, nargs >= 2 ? pos[2] : NULL);
            }
            int cex = close_db(&s);
            if (ex == EX_OK) ex = cex;
        }
    }
    sb_free(&a1);
    sb_free(&a2);
    if (fflush(stdout) != 0 || ferror(stdout)) {
        fprintf(stderr, "omendb: writing output: %s\n", strerror(errno));
        if (ex == EX_OK) ex = EX_ERR;
    }
    return ex;
}
