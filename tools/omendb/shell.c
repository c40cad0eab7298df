/*
 * shell.c -- the interactive shell (libedit line editing, history and
 * completion when stdin is a terminal) and the piped one (commands read
 * from stdin).  Commands are rows of one table: names, argument counts,
 * synopsis, help line and handler; dispatch, usage errors, `help` and
 * completion all read it.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <editline/readline.h>

#include "cli.h"

/* ---- Commands -------------------------------------------------------------- */

/* a[1..argc] are the arguments (a[0] the command name). */
typedef int (*shell_fn)(session *s, const sbuf *a, int argc, int *quit);

static int sh_get(session *s, const sbuf *a, int argc, int *quit)
{
    (void)argc, (void)quit;
    return cmd_get(s, &a[1]);
}

static int sh_put(session *s, const sbuf *a, int argc, int *quit)
{
    (void)argc, (void)quit;
    return cmd_put(s, &a[1], &a[2]);
}

static int sh_del(session *s, const sbuf *a, int argc, int *quit)
{
    (void)argc, (void)quit;
    return cmd_del(s, &a[1]);
}

static int scan_or_count(session *s, const sbuf *a, int argc, int counting)
{
    range r;
    int ex = make_range(argc >= 1 ? &a[1] : NULL, argc >= 2 ? &a[2] : NULL, &r);
    if (ex) return ex;
    uint64_t limit = g_opt.limit;
    if (argc >= 3 && parse_u64(a[3].p, a[3].len, &limit) != 0) {
        fputs("omendb: scan: LIMIT must be a number\n", stderr);
        return EX_USAGE;
    }
    uint64_t rows;
    ex = iterate(s, &r, counting ? UINT64_MAX : limit, counting ? NULL : stdout, s->form, &rows, NULL, NULL);
    if (counting && ex == EX_OK) printf("%" PRIu64 "\n", rows);
    return ex;
}

static int sh_scan(session *s, const sbuf *a, int argc, int *quit)
{
    (void)quit;
    return scan_or_count(s, a, argc, 0);
}

static int sh_count(session *s, const sbuf *a, int argc, int *quit)
{
    (void)quit;
    return scan_or_count(s, a, argc, 1);
}

static int sh_stats(session *s, const sbuf *a, int argc, int *quit)
{
    (void)a, (void)argc, (void)quit;
    return cmd_stats(s);
}

static int sh_flush(session *s, const sbuf *a, int argc, int *quit)
{
    (void)a, (void)argc, (void)quit;
    int rc = omen_flush(s->db);
    return rc == OMEN_OK ? EX_OK : report(rc, "flush");
}

static int sh_compact(session *s, const sbuf *a, int argc, int *quit)
{
    (void)quit;
    range r;
    int ex = make_range(argc >= 1 ? &a[1] : NULL, argc >= 2 ? &a[2] : NULL, &r);
    return ex ? ex : cmd_compact(s, &r);
}

static int sh_begin(session *s, const sbuf *a, int argc, int *quit)
{
    (void)a, (void)argc, (void)quit;
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

static int txn_end(session *s, int commit, const char *name)
{
    if (!s->txn) {
        fprintf(stderr, "omendb: %s: no transaction is open (use begin)\n", name);
        return EX_USAGE;
    }
    omen_txn *txn = s->txn;
    s->txn = NULL; /* both calls end and free the transaction */
    if (!commit) {
        omen_txn_rollback(txn);
        return EX_OK;
    }
    int rc = omen_txn_commit(txn, g_opt.sync);
    if (rc == OMEN_CONFLICT)
        return report(rc, "commit: another writer changed what the transaction read; it was rolled back");
    return rc == OMEN_OK ? EX_OK : report(rc, "commit");
}

static int sh_commit(session *s, const sbuf *a, int argc, int *quit)
{
    (void)a, (void)argc, (void)quit;
    return txn_end(s, 1, "commit");
}

static int sh_rollback(session *s, const sbuf *a, int argc, int *quit)
{
    (void)argc, (void)quit;
    char name[16] = "rollback"; /* or "abort", as typed */
    size_t n = a[0].len, dot = n && a[0].p[0] == '.';
    if (n - dot < sizeof name) {
        memcpy(name, a[0].p + dot, n - dot);
        name[n - dot] = 0;
    }
    return txn_end(s, 0, name);
}

/* The vector-set commands live in vector.c. */
#define VSH(fn)                                                                                    \
    static int sh_v##fn(session *s, const sbuf *a, int argc, int *quit)                          \
    {                                                                                              \
        (void)quit;                                                                                \
        return vcmd_##fn(s, a, argc);                                                              \
    }
VSH(create)
VSH(add)
VSH(del)
VSH(get)
VSH(attrs)
VSH(search)
VSH(info)
VSH(list)
VSH(drop)
VSH(import)

static int sh_help(session *s, const sbuf *a, int argc, int *quit);

static int sh_quit(session *s, const sbuf *a, int argc, int *quit)
{
    (void)s, (void)a, (void)argc;
    *quit = 1;
    return EX_OK;
}

static const struct shell_cmd {
    const char *name;
    const char *alias[3]; /* other names (NULL-terminated) */
    int min, max;         /* arguments */
    const char *syn;      /* as shown by usage errors and help */
    const char *help;     /* help text; lines after the first start with \n */
    shell_fn run;
} cmds[] = {
    {"get", {NULL}, 1, 1, "get KEY", "print the value of KEY", sh_get},
    {"put", {"set", NULL}, 2, 2, "put KEY VALUE", "insert or overwrite", sh_put},
    {"del", {"delete", NULL}, 1, 1, "del KEY", "delete KEY", sh_del},
    {"scan", {NULL}, 0, 3, "scan [FROM [TO [LIMIT]]]",
     "keys in [FROM, TO) with values, tab-separated;\n\"\" means unbounded", sh_scan},
    {"count", {NULL}, 0, 2, "count [FROM [TO]]", "number of keys in [FROM, TO)", sh_count},
    {"stats", {NULL}, 0, 0, "stats", "engine statistics", sh_stats},
    {"flush", {NULL}, 0, 0, "flush", "write the memtable to a sorted run", sh_flush},
    {"compact", {NULL}, 0, 2, "compact [FROM [TO]]", "compact runs overlapping the range", sh_compact},
    {"begin", {NULL}, 0, 0, "begin", "start an optimistic transaction; while one is open,\n"
                                     "get/put/del/scan/count go through it", sh_begin},
    {"commit", {NULL}, 0, 0, "commit", "validate and apply the transaction", sh_commit},
    {"rollback", {"abort", NULL}, 0, 0, "rollback", "discard the transaction", sh_rollback},
    {"vcreate", {NULL}, 2, 6, "vcreate SET DIM [METRIC [PREC [M [EFC]]]]",
     "create a vector set: METRIC l2|cosine|ip,\nPREC int8|float32 (vadd/vimport create one\nwith defaults)",
     sh_vcreate},
    {"vadd", {NULL}, 3, 4, "vadd SET ID VECTOR [ATTRS]",
     "add or replace an element; VECTOR as 1,2.5,-3;\nATTRS a JSON object, e.g. '{\"year\": 1999}'", sh_vadd},
    {"vsearch", {"vsim", NULL}, 2, 5, "vsearch SET VECTOR|@ID [K [FILTER [EF]]]",
     "K nearest elements (default 10): ID<TAB>distance;\nFILTER e.g. '.year > 1990 and .genre == \"noir\"'",
     sh_vsearch},
    {"vdel", {"vrem", NULL}, 2, 2, "vdel SET ID", "delete an element", sh_vdel},
    {"vget", {"vemb", NULL}, 2, 2, "vget SET ID", "print an element's vector", sh_vget},
    {"vattrs", {NULL}, 2, 3, "vattrs SET ID [JSON]", "print, set, or with \"\" remove its attributes",
     sh_vattrs},
    {"vinfo", {NULL}, 1, 1, "vinfo SET", "describe a vector set", sh_vinfo},
    {"vlist", {NULL}, 0, 0, "vlist", "names of the vector sets", sh_vlist},
    {"vdrop", {NULL}, 1, 1, "vdrop SET", "delete a vector set and its elements", sh_vdrop},
    {"vimport", {NULL}, 2, 3, "vimport SET FILE [IDS]",
     "add the rows of a .npy (float32, 2-D) or .fvecs\nfile; ids are row numbers or IDS' lines", sh_vimport},
    {"help", {"h", "?", NULL}, 0, 0, "help", "this text", sh_help},
    {"quit", {"exit", "q", NULL}, 0, 0, ".quit | quit | exit",
     "leave (Ctrl-D too); an open transaction is\nrolled back", sh_quit},
};
#define NCMDS (sizeof cmds / sizeof cmds[0])

static int sh_help(session *s, const sbuf *a, int argc, int *quit)
{
    (void)s, (void)a, (void)argc, (void)quit;
    fputs("Commands (keys and values may be quoted \"a b\" and use escapes \\x00 \\n \\t \\\\):\n", stdout);
    for (size_t i = 0; i < NCMDS; i++) {
        const char *h = cmds[i].help;
        if (strlen(cmds[i].syn) > 25) /* a long synopsis gets a line of its own */
            printf("  %s\n  %-25s ", cmds[i].syn, "");
        else
            printf("  %-25s ", cmds[i].syn);
        for (; *h; h++) {
            putchar(*h);
            if (*h == '\n') printf("  %-25s ", "");
        }
        putchar('\n');
    }
    return EX_OK;
}

static const struct shell_cmd *find_cmd(const char *name)
{
    for (size_t i = 0; i < NCMDS; i++) {
        if (!strcmp(name, cmds[i].name)) return &cmds[i];
        for (int j = 0; cmds[i].alias[j]; j++)
            if (!strcmp(name, cmds[i].alias[j])) return &cmds[i];
    }
    return NULL;
}

/* Runs one tokenized shell command.  Returns an exit code; *quit is set by
 * the leaving commands. */
static int shell_exec(session *s, toks *t, int *quit)
{
    if (t->n == 0) return EX_OK;
    const sbuf *a = t->v;
    char cmd[32] = "";
    /* An empty, overlong or NUL-containing name matches no command. */
    if (a[0].len > 0 && a[0].len < sizeof cmd && !memchr(a[0].p, 0, a[0].len)) {
        memcpy(cmd, a[0].p, a[0].len);
        cmd[a[0].len] = 0;
    }
    const struct shell_cmd *c = find_cmd(cmd[0] == '.' ? cmd + 1 : cmd); /* ".stats" as in sqlite3 */
    if (!c) {
        fputs("omendb: unknown command ", stderr);
        put_bytes(stderr, a[0].p, a[0].len, FORM_SHELL);
        fputs(" (type \"help\")\n", stderr);
        return EX_USAGE;
    }
    int argc = (int)t->n - 1;
    if (argc < c->min || argc > c->max) {
        fprintf(stderr, "omendb: usage: %s\n", c->syn);
        return EX_USAGE;
    }
    return c->run(s, a, argc, quit);
}

/* ---- Line editing ---------------------------------------------------------- */

/* Names offered by Tab: every command's, then these. */
static const char *const more_completions[] = {".quit", "exit"};

static char *complete_cmd(const char *text, int state)
{
    static size_t i, len;
    if (!state) {
        i = 0;
        len = strlen(text);
    }
    while (i < NCMDS + 2) {
        const char *c = i < NCMDS ? cmds[i].name : more_completions[i - NCMDS];
        i++;
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

int run_shell(const char *dir)
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
