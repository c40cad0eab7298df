/*
 * cli.h -- what the files of the omendb command-line tool share.  The tool
 * uses only the public API in include/omendb.h.
 *
 * Files, in dependency order (each uses only those above it):
 *   text.c      byte buffers, the escape scheme, the shell tokenizer
 *   session.c   errors and exit codes, keys, opening a database, the
 *               commands both interfaces share (get, put, del, scan, stats)
 *   progress.c  the progress bar of long work (stderr, terminals only)
 *   bulk.c      import, export, check, compact
 *   vector.c    the vector-set commands (vadd, vsearch, ...)
 *   vimport.c   vimport: .npy / .fvecs files into a vector set
 *   shell.c     the interactive / piped shell and its command table
 *   main.c      options and script commands (tables), usage, main
 *
 * Invariants the tool relies on:
 *  - Every key or value shown to the user goes through one escaping scheme
 *    (put_bytes) and every key or value read from the user goes through its
 *    inverse (decode_escape), so anything printed can be typed or imported
 *    back and yields the same bytes.
 *  - Exit codes: 0 ok, 1 key not found or data corrupt, 2 usage error,
 *    3 any other failure.  Every command helper returns one of these.
 *  - omen_last_error() is copied before any other OmenDB call, because the
 *    next call may overwrite it.
 *  - Progress bars go to stderr only, and only when it is a terminal and
 *    --quiet is off, so scripts and pipes never see them.
 */
#ifndef OMENDB_CLI_H
#define OMENDB_CLI_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "omendb.h"

enum { EX_OK = 0, EX_MISS = 1, EX_USAGE = 2, EX_ERR = 3 };

/* Options of this run (main.c sets them from the command line). */
typedef struct {
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
} cli_options;

extern cli_options g_opt;
/* Set by SIGINT in the interactive shell: stops a long scan. */
extern volatile sig_atomic_t g_interrupted;

/* ---- text.c ---------------------------------------------------------------- */

/* Growable byte buffer; out of memory ends the tool (exit 3). */
typedef struct {
    unsigned char *p;
    size_t len, cap;
} sbuf;

void sb_reserve(sbuf *b, size_t extra);
void sb_putc(sbuf *b, unsigned char c);
void sb_free(sbuf *b);

/* s[*i] is the character after a backslash: decode one escape into *out
 * and advance *i past it; 0, or -1 for an unknown or truncated escape. */
int decode_escape(const char *s, size_t n, size_t *i, unsigned char *out);
/* Decode the escapes of s[0..n) (no quotes: arguments, TSV fields) into
 * out; 0 or -1 on a bad escape. */
int unescape(const char *s, size_t n, sbuf *out);

enum { FORM_TSV = 0, FORM_SHELL = 1 };
/* Print bytes escaped (FORM_SHELL also quotes what the tokenizer would
 * split), and a key (decimal with --int-keys). */
void put_bytes(FILE *f, const void *data, size_t n, int form);
void put_key(FILE *f, const void *k, size_t n, int form);

/* Tokens of one shell line. */
typedef struct {
    sbuf *v;
    size_t n, cap;
} toks;

/* Split a line into tokens: NULL, or a message saying what is wrong. */
const char *tokenize(const char *s, size_t n, toks *t);
void toks_free(toks *t);

/* ---- session.c ------------------------------------------------------------- */

int exit_for(int err);
/* Print "omendb: CONTEXT: NAME (DETAIL)[; hint]" and return err's exit code. */
int report_hint(int err, const char *hint, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
#define report(err, ...) report_hint(err, NULL, __VA_ARGS__)
/* Print the message and "(try omendb help)"; returns EX_USAGE. */
int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* A key as given by the user, in storage form.  With --int-keys the text
 * is a decimal (or 0x hex) u64 and the stored key its 8 big-endian bytes. */
typedef struct {
    const void *p;
    size_t n;
    unsigned char u[8];
} ukey;

int parse_u64(const unsigned char *s, size_t n, uint64_t *out);
int make_key(const sbuf *tok, ukey *k);

typedef struct {
    const char *dir;
    omen_db *db;
    omen_txn *txn; /* open shell transaction, or NULL */
    int form;      /* FORM_TSV (script commands) or FORM_SHELL */
    int opened_read_only;
} session;

/* How a command opens the database.  Read-only commands never write a
 * byte (no log replay into a new run, no new files), so inspecting a
 * database cannot change it.  OPEN_NONE: the command opens nothing. */
enum { OPEN_READ = 0, OPEN_CREATE = 1, OPEN_WRITE = 2, OPEN_NONE = 3 };
int open_db(session *s, const char *dir, int mode);
int close_db(session *s);

/* Bounds [lo, hi); an empty token means unbounded. */
typedef struct {
    ukey lo, hi;
    int has_lo, has_hi;
} range;

int make_range(const sbuf *from, const sbuf *to, range *r);

/* Iterate [lo, hi) (through the open transaction, if any), printing up to
 * limit rows to out (NULL: count only); *rows gets the number visited.
 * tick (may be NULL) is called every 4096 rows with the count so far. */
int iterate(session *s, const range *r, uint64_t limit, FILE *out, int form, uint64_t *rows,
            void (*tick)(void *ctx, uint64_t rows), void *tick_ctx);

int cmd_get(session *s, const sbuf *ktok);
int cmd_put(session *s, const sbuf *ktok, const sbuf *vtok);
int cmd_del(session *s, const sbuf *ktok);
int cmd_stats(session *s);
double now_sec(void);

/* ---- progress.c ------------------------------------------------------------ */

/* A progress line on stderr, like pv or rsync --info=progress2:
 *   import  [#######......]  53%  12.1 MiB  3.9 MiB/s  84000 rec  ETA 0:03
 * Drawn at most 10 times a second; nothing at all unless `on`. */
typedef struct {
    int on;
    const char *what;   /* "import", "export", "check", "compact" */
    uint64_t total;     /* expected amount of work, 0 = unknown */
    int bytes;          /* the amount is bytes (else records) */
    uint64_t done, recs;
    double t0, last;
    int drawn;          /* a line is on the terminal now */
} progress;

/* 1 when stderr is a terminal and --quiet is off. */
int progress_wanted(void);
void progress_start(progress *p, const char *what, uint64_t total, int bytes, int on);
/* done: amount of work so far; recs: records (shown when counting bytes). */
void progress_update(progress *p, uint64_t done, uint64_t recs);
/* Erase the line (before other output to the terminal); the next update
 * draws it again. */
void progress_hide(progress *p);
/* Draw the final state once and erase it: the summary line replaces it. */
void progress_end(progress *p);

/* ---- bulk.c ---------------------------------------------------------------- */

int cmd_import(session *s, const char *file);
int cmd_export(session *s, const char *file);
int cmd_check(const char *dir);
int cmd_compact(session *s, const range *r);

/* ---- vector.c -------------------------------------------------------------- */

/* Vector-set commands.  a[1..argc] are the arguments as decoded tokens
 * (a[0] the command name); the argument counts are checked by the tables
 * of shell.c and main.c. */
int vcmd_create(session *s, const sbuf *a, int argc);
int vcmd_add(session *s, const sbuf *a, int argc);
int vcmd_del(session *s, const sbuf *a, int argc);
int vcmd_get(session *s, const sbuf *a, int argc);
int vcmd_attrs(session *s, const sbuf *a, int argc);
int vcmd_search(session *s, const sbuf *a, int argc);
int vcmd_info(session *s, const sbuf *a, int argc);
int vcmd_list(session *s, const sbuf *a, int argc);
int vcmd_drop(session *s, const sbuf *a, int argc);
int vcmd_import(session *s, const sbuf *a, int argc);
/* Script form: decode pos[2..nargs] (escapes) into tokens and run fn. */
int vcmd_script(int (*fn)(session *, const sbuf *, int), session *s, const char *const *pos, int nargs);
/* Close the set handles the commands opened on s->db (before omen_close). */
void vsets_close(session *s);
/* A set name token (1..OMEN_VSET_MAX_NAME bytes, no NUL) into out. */
int vset_name_arg(const char *cmd, const sbuf *t, char *out);
/* The session's handle of set `name` (opened once); create_dim > 0 creates
 * an absent set with that dimension and the default options. */
int vset_handle(session *s, const char *cmd, const char *name, uint32_t create_dim, omen_vset **out);
/* EX_USAGE with a message unless the set's dimension is dim. */
int vset_check_dim(const char *cmd, omen_vset *vs, uint32_t dim);

/* ---- shell.c --------------------------------------------------------------- */

int run_shell(const char *dir);

#endif /* OMENDB_CLI_H */
