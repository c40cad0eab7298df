/*
 * main.c -- the omendb command-line tool: options, script commands and
 * usage, each a table that parsing, dispatch and the help text all read.
 *
 *   omendb DIR                      interactive shell (or commands read from a
 *                                   non-terminal stdin, without prompt)
 *   omendb COMMAND DIR ...          one command, for scripts
 *
 * Adding an option or a command is adding a row (and its handler).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

cli_options g_opt = {OMEN_SYNC_RELAXED, OMEN_COMPRESS_NONE, 0, 0, 0, 0, UINT64_MAX, 1000, 0,
                     OMEN_WAL_RECOVER_TORN_TAIL};
volatile sig_atomic_t g_interrupted;

/* ---- Options ------------------------------------------------------------- */

/* A handler returns EX_OK, a usage error, or OPT_EXIT (done: exit 0). */
#define OPT_EXIT (-1)

static void usage(FILE *f);

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

static int o_sync(const char *v)
{
    (void)v;
    g_opt.sync = OMEN_SYNC_FULL;
    return EX_OK;
}

static int o_int_keys(const char *v)
{
    (void)v;
    g_opt.int_keys = 1;
    return EX_OK;
}

static int o_raw(const char *v)
{
    (void)v;
    g_opt.raw = 1;
    return EX_OK;
}

static int o_bail(const char *v)
{
    (void)v;
    g_opt.bail = 1;
    return EX_OK;
}

static int o_quiet(const char *v)
{
    (void)v;
    g_opt.quiet = 1;
    return EX_OK;
}

static int o_help(const char *v)
{
    (void)v;
    usage(stdout);
    return OPT_EXIT;
}

static int o_version(const char *v)
{
    (void)v;
    printf("omendb %s\n", OMEN_VERSION_STRING);
    return OPT_EXIT;
}

static const struct {
    const char *name;
    int code;
} compressions[] = {
    {"none", OMEN_COMPRESS_NONE},
    {"lz4", OMEN_COMPRESS_LZ4},
    {"zstd", OMEN_COMPRESS_ZSTD},
    {"snappy", OMEN_COMPRESS_SNAPPY},
};

static int o_compression(const char *v)
{
    for (size_t i = 0; i < sizeof compressions / sizeof compressions[0]; i++)
        if (!strcmp(v, compressions[i].name)) {
            g_opt.compression = compressions[i].code;
            return EX_OK;
        }
    return usage_error("--compression must be lz4, zstd, snappy or none, not \"%s\"", v);
}

static int o_limit(const char *v)
{
    if (parse_u64((const unsigned char *)v, strlen(v), &g_opt.limit) != 0)
        return usage_error("--limit needs a number, not \"%s\"", v);
    return EX_OK;
}

static int o_batch(const char *v)
{
    uint64_t n;
    if (parse_u64((const unsigned char *)v, strlen(v), &n) != 0 || n == 0 || n > 10000000)
        return usage_error("--batch needs a number from 1 to 10000000, not \"%s\"", v);
    g_opt.batch = (size_t)n;
    return EX_OK;
}

static int o_write_buffer(const char *v)
{
    if (parse_size(v, &g_opt.write_buffer) != 0 || g_opt.write_buffer == 0)
        return usage_error("--write-buffer needs a size such as 4M, not \"%s\"", v);
    return EX_OK;
}

static const struct {
    const char *name;
    int mode;
} wal_modes[] = {
    {"tolerate-torn-tail", OMEN_WAL_RECOVER_TORN_TAIL},
    {"absolute", OMEN_WAL_RECOVER_ABSOLUTE},
    {"point-in-time", OMEN_WAL_RECOVER_POINT_IN_TIME},
    {"skip", OMEN_WAL_RECOVER_SKIP},
};

static int o_wal_recovery(const char *v)
{
    for (size_t i = 0; i < sizeof wal_modes / sizeof wal_modes[0]; i++)
        if (!strcmp(v, wal_modes[i].name)) {
            g_opt.wal_recovery = wal_modes[i].mode;
            return EX_OK;
        }
    return usage_error("--wal-recovery must be tolerate-torn-tail, absolute, point-in-time or skip, "
                       "not \"%s\"", v);
}

static const struct option {
    const char *name, *alt; /* long name, and a short one or NULL */
    const char *arg;        /* the value's placeholder; NULL for a flag */
    int (*set)(const char *val);
    const char *help; /* NULL: not listed (-h and -V are listed with help/version) */
} options[] = {
    {"--sync", NULL, NULL, o_sync, "every write waits for stable storage (fdatasync)"},
    {"--compression", NULL, "lz4|zstd|snappy|none", o_compression, "compression of new sorted runs"},
    {"--int-keys", NULL, NULL, o_int_keys, "keys are unsigned 64-bit integers (numeric order)"},
    {"--limit", NULL, "N", o_limit, "scan at most N keys"},
    {"--raw", NULL, NULL, o_raw, "get: print the value's bytes unescaped, no newline"},
    {"--batch", NULL, "N", o_batch, "import: records per atomic write (default 1000)"},
    {"--write-buffer", NULL, "BYTES", o_write_buffer, "memtable size before a flush (K/M/G suffixes)"},
    {"--wal-recovery", NULL, "MODE", o_wal_recovery,
     "damaged write-ahead log: tolerate-torn-tail (default), absolute, point-in-time or skip"},
    {"--bail", NULL, NULL, o_bail, "piped shell: stop at the first failing command"},
    {"--quiet", "-q", NULL, o_quiet, "no progress bar or summary lines"},
    {"--help", "-h", NULL, o_help, NULL},
    {"--version", "-V", NULL, o_version, NULL},
};
#define NOPTIONS (sizeof options / sizeof options[0])

static const struct option *find_option(const char *name)
{
    for (size_t i = 0; i < NOPTIONS; i++)
        if (!strcmp(name, options[i].name) || (options[i].alt && !strcmp(name, options[i].alt)))
            return &options[i];
    return NULL;
}

/* ---- Script commands ------------------------------------------------------ */

/* Which positional arguments after DIR are decoded (escapes; --int-keys
 * keys checked) before the database is opened, so a usage error never
 * creates or touches a database. */
enum { A_KEY = 1, A_VALUE = 2, A_KEY2 = 4 };

/* pos[0] is the command, pos[1] DIR; a1/a2 hold the decoded pos[2], pos[3]. */
typedef int (*script_fn)(session *s, const char *const *pos, int nargs, const sbuf *a1, const sbuf *a2);

static int run_get(session *s, const char *const *pos, int nargs, const sbuf *a1, const sbuf *a2)
{
    (void)pos, (void)nargs, (void)a2;
    return cmd_get(s, a1);
}

static int run_put(session *s, const char *const *pos, int nargs, const sbuf *a1, const sbuf *a2)
{
    (void)pos, (void)nargs;
    return cmd_put(s, a1, a2);
}

static int run_del(session *s, const char *const *pos, int nargs, const sbuf *a1, const sbuf *a2)
{
    (void)pos, (void)nargs, (void)a2;
    return cmd_del(s, a1);
}

static int scan_or_count(session *s, int nargs, const sbuf *a1, const sbuf *a2, int counting)
{
    range r;
    uint64_t rows;
    int ex = make_range(nargs >= 2 ? a1 : NULL, nargs >= 3 ? a2 : NULL, &r);
    if (ex) return ex;
    ex = iterate(s, &r, counting ? UINT64_MAX : g_opt.limit, counting ? NULL : stdout, FORM_TSV, &rows,
                 NULL, NULL);
    if (counting && ex == EX_OK) printf("%" PRIu64 "\n", rows);
    return ex;
}

static int run_scan(session *s, const char *const *pos, int nargs, const sbuf *a1, const sbuf *a2)
{
    (void)pos;
    return scan_or_count(s, nargs, a1, a2, 0);
}

static int run_count(session *s, const char *const *pos, int nargs, const sbuf *a1, const sbuf *a2)
{
    (void)pos;
    return scan_or_count(s, nargs, a1, a2, 1);
}

static int run_stats(session *s, const char *const *pos, int nargs, const sbuf *a1, const sbuf *a2)
{
    (void)pos, (void)nargs, (void)a1, (void)a2;
    return cmd_stats(s);
}

static int run_import(session *s, const char *const *pos, int nargs, const sbuf *a1, const sbuf *a2)
{
    (void)nargs, (void)a1, (void)a2;
    return cmd_import(s, pos[2]);
}

static int run_export(session *s, const char *const *pos, int nargs, const sbuf *a1, const sbuf *a2)
{
    (void)a1, (void)a2;
    return cmd_export(s, nargs >= 2 ? pos[2] : NULL);
}

static int run_compact(session *s, const char *const *pos, int nargs, const sbuf *a1, const sbuf *a2)
{
    (void)pos;
    range r;
    int ex = make_range(nargs >= 2 ? a1 : NULL, nargs >= 3 ? a2 : NULL, &r);
    return ex ? ex : cmd_compact(s, &r);
}

static int run_check(session *s, const char *const *pos, int nargs, const sbuf *a1, const sbuf *a2)
{
    (void)s, (void)nargs, (void)a1, (void)a2;
    return cmd_check(pos[1]);
}

/* The vector-set commands live in vector.c. */
#define VRUN(fn)                                                                                   \
    static int run_v##fn(session *s, const char *const *pos, int nargs, const sbuf *a1, const sbuf *a2) \
    {                                                                                              \
        (void)a1, (void)a2;                                                                        \
        return vcmd_script(vcmd_##fn, s, pos, nargs);                                              \
    }
VRUN(create)
VRUN(add)
VRUN(del)
VRUN(get)
VRUN(attrs)
VRUN(search)
VRUN(info)
VRUN(list)
VRUN(drop)
VRUN(import)

static const struct script_cmd {
    const char *name;
    int min, max; /* positional arguments after the command, DIR included */
    int mode;     /* OPEN_*: how the database is opened for it */
    int args;     /* A_*: arguments decoded before opening */
    const char *syn, *help;
    script_fn run;
} commands[] = {
    {"get", 2, 2, OPEN_READ, A_KEY, "get DIR KEY", "print the value of KEY", run_get},
    {"put", 3, 3, OPEN_CREATE, A_KEY | A_VALUE, "put DIR KEY VALUE", "insert or overwrite KEY", run_put},
    {"del", 2, 2, OPEN_WRITE, A_KEY, "del DIR KEY", "delete KEY", run_del},
    {"scan", 1, 3, OPEN_READ, A_KEY | A_KEY2, "scan DIR [FROM [TO]]", "KEY<TAB>VALUE lines for keys in [FROM, TO)",
     run_scan},
    {"count", 1, 1, OPEN_READ, 0, "count DIR", "number of keys", run_count},
    {"stats", 1, 1, OPEN_READ, 0, "stats DIR", "engine statistics", run_stats},
    {"import", 2, 2, OPEN_CREATE, 0, "import DIR FILE.tsv", "load KEY<TAB>VALUE lines (FILE - = stdin)",
     run_import},
    {"export", 1, 2, OPEN_READ, 0, "export DIR [FILE.tsv]", "dump every key (stdout without FILE)", run_export},
    {"compact", 1, 3, OPEN_WRITE, A_KEY | A_KEY2, "compact DIR [FROM [TO]]",
     "compact the runs overlapping [FROM, TO] into the bottom level", run_compact},
    {"check", 1, 1, OPEN_NONE, 0, "check DIR", "verify checksums and models (exit 1 if corrupt)", run_check},
    {"vcreate", 3, 7, OPEN_CREATE, 0, "vcreate DIR SET DIM [METRIC [PREC [M [EFC]]]]",
     "create a vector set (l2|cosine|ip, int8|float32)", run_vcreate},
    {"vadd", 4, 5, OPEN_CREATE, 0, "vadd DIR SET ID VECTOR [ATTRS]", "add an element (VECTOR as 1,2.5,-3)",
     run_vadd},
    {"vsearch", 3, 6, OPEN_READ, 0, "vsearch DIR SET VECTOR|@ID [K [FILTER [EF]]]",
     "ID<TAB>distance of the K nearest", run_vsearch},
    {"vdel", 3, 3, OPEN_WRITE, 0, "vdel DIR SET ID", "delete an element", run_vdel},
    {"vget", 3, 3, OPEN_READ, 0, "vget DIR SET ID", "print an element's vector", run_vget},
    {"vattrs", 3, 4, OPEN_WRITE, 0, "vattrs DIR SET ID [JSON]", "print or set an element's attributes",
     run_vattrs},
    {"vinfo", 2, 2, OPEN_READ, 0, "vinfo DIR SET", "describe a vector set", run_vinfo},
    {"vlist", 1, 1, OPEN_READ, 0, "vlist DIR", "names of the vector sets", run_vlist},
    {"vdrop", 2, 2, OPEN_WRITE, 0, "vdrop DIR SET", "delete a vector set", run_vdrop},
    {"vimport", 3, 4, OPEN_CREATE, 0, "vimport DIR SET FILE [IDS]",
     "add the rows of a .npy/.fvecs file (ids: row numbers or IDS' lines)", run_vimport},
};
#define NCOMMANDS (sizeof commands / sizeof commands[0])

static void usage(FILE *f)
{
    fprintf(f, "usage: omendb [OPTIONS] %-24s interactive shell on the database in DIR\n", "DIR");
    fprintf(f, "       %-41s (reads commands from stdin if it is not a terminal)\n", "");
    for (size_t i = 0; i < NCOMMANDS; i++) {
        if (strlen(commands[i].syn) > 24) /* a long synopsis gets a line of its own */
            fprintf(f, "       omendb [OPTIONS] %s\n       %-41s %s\n", commands[i].syn, "", commands[i].help);
        else
            fprintf(f, "       omendb [OPTIONS] %-24s %s\n", commands[i].syn, commands[i].help);
    }
    fprintf(f, "       omendb version | help\noptions:\n");
    for (size_t i = 0; i < NOPTIONS; i++) {
        if (!options[i].help) continue;
        char name[64];
        snprintf(name, sizeof name, "%s%s%s%s%s", options[i].alt ? options[i].alt : "", options[i].alt ? ", " : "",
                 options[i].name, options[i].arg ? " " : "", options[i].arg ? options[i].arg : "");
        fprintf(f, "  %-23s %s\n", name, options[i].help);
    }
    fputs("  --                      end of options (for keys starting with '-')\n"
          "Long work (import, export, check, compact) shows a progress bar on stderr when it\n"
          "is a terminal.\n"
          "Keys and values take escapes: \\xHH \\n \\t \\r \\0 \\\\ ; output uses the same.\n"
          "Exit status: 0 ok, 1 not found or corrupt, 2 usage error, 3 other error.\n",
          f);
}

/* Convert a command-line argument (escapes allowed) to token bytes. */
static int arg_bytes(const char *what, const char *arg, sbuf *out)
{
    if (unescape(arg, strlen(arg), out) != 0)
        return usage_error("%s: bad escape in \"%s\" (use \\n \\t \\r \\0 \\\\ \\xHH)", what, arg);
    return EX_OK;
}

/* Decode pos[2] into a1 and pos[3] into a2 as the command's row says. */
static int decode_args(const struct script_cmd *c, const char *const *pos, int nargs, sbuf *a1, sbuf *a2)
{
    if (!c->args) return EX_OK;
    ukey probe;
    int ex = EX_OK;
    if (nargs >= 2 && (ex = arg_bytes(c->name, pos[2], a1)) == EX_OK && g_opt.int_keys && a1->len)
        ex = make_key(a1, &probe);
    if (ex == EX_OK && nargs >= 3 && (ex = arg_bytes(c->name, pos[3], a2)) == EX_OK && g_opt.int_keys &&
        (c->args & A_KEY2) && a2->len)
        ex = make_key(a2, &probe);
    return ex;
}

static int run_script(const struct script_cmd *c, const char *const *pos, int npos)
{
    int nargs = npos - 1;
    if (nargs < c->min || nargs > c->max) return usage_error("usage: omendb %s", c->syn);
    sbuf a1 = {0}, a2 = {0};
    int ex = decode_args(c, pos, nargs, &a1, &a2);
    if (ex == EX_OK && c->mode == OPEN_NONE) {
        ex = c->run(NULL, pos, nargs, &a1, &a2);
    } else if (ex == EX_OK) {
        session s = {0};
        s.form = FORM_TSV;
        ex = open_db(&s, pos[1], c->mode);
        if (ex == EX_OK) {
            ex = c->run(&s, pos, nargs, &a1, &a2);
            int cex = close_db(&s);
            if (ex == EX_OK) ex = cex;
        }
    }
    sb_free(&a1);
    sb_free(&a2);
    return ex;
}

/* Options may appear anywhere; the rest are positional (at most 8). */
static int parse_command_line(int argc, char **argv, const char **pos, int *npos)
{
    int opts_done = 0;
    *npos = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (opts_done || a[0] != '-' || !strcmp(a, "-")) {
            if (*npos == 8) return usage_error("too many arguments");
            pos[(*npos)++] = a;
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
        const struct option *o = find_option(name);
        if (!o) return usage_error("unknown option %s", a);
        if (o->arg && !val) {
            if (i + 1 >= argc) return usage_error("%s needs a value", name);
            val = argv[++i];
        } else if (!o->arg && val) {
            return usage_error("%s takes no value", name);
        }
        int ex = o->set(val);
        if (ex != EX_OK) return ex;
    }
    return EX_OK;
}

int main(int argc, char **argv)
{
    const char *pos[8];
    int npos;
    int ex = parse_command_line(argc, argv, pos, &npos);
    if (ex == OPT_EXIT) return EX_OK;
    if (ex != EX_OK) return ex;
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
    const struct script_cmd *c = NULL;
    for (size_t i = 0; i < NCOMMANDS; i++)
        if (!strcmp(cmd, commands[i].name)) c = &commands[i];
    if (!c) {
        if (npos != 1) return usage_error("unknown command \"%s\"", cmd);
        ex = run_shell(cmd);
    } else {
        ex = run_script(c, pos, npos);
    }
    if (fflush(stdout) != 0 || ferror(stdout)) {
        fprintf(stderr, "omendb: writing output: %s\n", strerror(errno));
        if (ex == EX_OK) ex = EX_ERR;
    }
    return ex;
}
