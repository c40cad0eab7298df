/*
 * text.c -- bytes as the user sees them: growable buffers, the escape
 * scheme shared by output and input (put_bytes / decode_escape), and the
 * shell's tokenizer.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

/* ---- Growable byte buffer --------------------------------------------- */

void sb_reserve(sbuf *b, size_t extra)
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

void sb_putc(sbuf *b, unsigned char c)
{
    sb_reserve(b, 1);
    b->p[b->len++] = c;
}

void sb_free(sbuf *b)
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
int decode_escape(const char *s, size_t n, size_t *i, unsigned char *out)
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
int unescape(const char *s, size_t n, sbuf *out)
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

/* Print bytes escaped.  FORM_TSV: backslash, tab, CR, LF and every byte
 * outside printable ASCII are escaped.  FORM_SHELL additionally wraps the
 * text in double quotes when the shell tokenizer would otherwise split or
 * mangle it (spaces, quotes, empty, a leading '#'). */
void put_bytes(FILE *f, const void *data, size_t n, int form)
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

void put_key(FILE *f, const void *k, size_t n, int form)
{
    if (g_opt.int_keys && n == 8)
        fprintf(f, "%" PRIu64, omen_key_to_u64(k, n));
    else
        put_bytes(f, k, n, form);
}

/* ---- Shell tokenizer ---------------------------------------------------- */

static void toks_clear(toks *t)
{
    for (size_t i = 0; i < t->n; i++)
        t->v[i].len = 0;
    t->n = 0;
}

void toks_free(toks *t)
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
const char *tokenize(const char *s, size_t n, toks *t)
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
