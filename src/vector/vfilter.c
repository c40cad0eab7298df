/*
 * vfilter.c -- compiler and evaluator of filter expressions (vfilter.h).
 *
 * Precedence, loosest first:  or ||  |  and &&  |  == != < <= > >= in  |
 * + -  |  * / %  |  **  (right-assoc)  |  unary - not !  |  primary.  As in
 * Redis (and JavaScript), `not` binds tighter than any binary operator:
 * `not .a > 5` is `(not .a) > 5`.
 * Primaries: numbers, "strings" or 'strings' (with \ escapes), true, false,
 * null, .field, ( expr ), [ list of primaries ].  A field name is every
 * letter, digit, `_` and `-` after the dot, as Redis reads it: `.a-1` is
 * the field "a-1" (`.a - 1` subtracts), `.2024` the field "2024".
 *
 * The compiled tree is a flat node array; recursion depth is bounded by
 * VF_MAX_DEPTH so hostile input cannot exhaust the stack (the parser is
 * fuzzed: fuzz/fuzz_vfilter.c).
 */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util/err.h"
#include "util/mem.h"
#include "vector/vfilter.h"

#define VF_MAX_DEPTH 64
#define VF_MAX_NODES 4096
#define VF_MAX_LIST 1024

enum { T_UNDEF = 0, T_NUM, T_STR, T_LIST, T_NULL };

enum {
    N_NUM = 1, N_STR, N_NULL, N_FIELD, N_LIST,
    N_OR, N_AND, N_NOT, N_NEG,
    N_EQ, N_NE, N_LT, N_LE, N_GT, N_GE, N_IN,
    N_ADD, N_SUB, N_MUL, N_DIV, N_MOD, N_POW
};

typedef struct vnode {
    int op;
    int a, b;        /* children (node index), or list: first item, count */
    double num;
    char *str;       /* decoded string / field name (owned) */
    size_t slen;
} vnode;

struct vfilter {
    vnode *n;
    int nn, cap;
    int root;
    int *items; /* list members, indexes into n */
    int nitems, citems;
};

/* ---- tokenizer / parser ---- */

typedef struct vparser {
    const char *s, *p;
    vfilter *f;
    int depth;
    int err;
    char msg[160];
} vparser;

static int perr(vparser *ps, const char *what)
{
    if (!ps->err) {
        ps->err = 1;
        snprintf(ps->msg, sizeof ps->msg, "%s at position %zu", what, (size_t)(ps->p - ps->s));
    }
    return -1;
}

static void skipws(vparser *ps)
{
    while (*ps->p && isspace((unsigned char)*ps->p)) ps->p++;
}

static int newnode(vparser *ps, int op)
{
    vfilter *f = ps->f;
    if (f->nn >= VF_MAX_NODES) return perr(ps, "expression too long");
    if (f->nn == f->cap) {
        int nc = f->cap ? f->cap * 2 : 16;
        vnode *nn = util_realloc(f->n, (size_t)nc * sizeof *nn);
        if (!nn) return perr(ps, "out of memory");
        f->n = nn;
        f->cap = nc;
    }
    memset(&f->n[f->nn], 0, sizeof(vnode));
    f->n[f->nn].op = op;
    return f->nn++;
}

/* Does the input continue with keyword kw (not followed by a name char)? */
static int kw(vparser *ps, const char *k)
{
    size_t l = strlen(k);
    if (strncmp(ps->p, k, l) != 0) return 0;
    char c = ps->p[l];
    if (isalnum((unsigned char)c) || c == '_') return 0;
    ps->p += l;
    return 1;
}

static int lit(vparser *ps, const char *t)
{
    size_t l = strlen(t);
    if (strncmp(ps->p, t, l) != 0) return 0;
    ps->p += l;
    return 1;
}

/* Decode a quoted string starting at ps->p (the quote). */
static int parse_string(vparser *ps, char **out, size_t *olen)
{
    char q = *ps->p++;
    size_t cap = 16, len = 0;
    char *b = util_malloc(cap);
    if (!b) return perr(ps, "out of memory");
    for (;;) {
        char c = *ps->p;
        if (!c) {
            omen_free(b);
            return perr(ps, "unterminated string");
        }
        ps->p++;
        if (c == q) break;
        if (c == '\\') {
            char e = *ps->p;
            if (!e) {
                omen_free(b);
                return perr(ps, "unterminated string");
            }
            ps->p++;
            c = e == 'n' ? '\n' : e == 't' ? '\t' : e == 'r' ? '\r' : e;
        }
        if (len + 1 >= cap) {
            cap *= 2;
            char *nb = util_realloc(b, cap);
            if (!nb) {
                omen_free(b);
                return perr(ps, "out of memory");
            }
            b = nb;
        }
        b[len++] = c;
    }
    b[len] = 0;
    *out = b;
    *olen = len;
    return 0;
}

static int parse_expr(vparser *ps);

static int field_char(char c)
{
    return isalnum((unsigned char)c) || c == '_' || c == '-';
}

static int parse_primary(vparser *ps)
{
    skipws(ps);
    char c = *ps->p;
    if (c == '(') {
        ps->p++;
        int r = parse_expr(ps);
        if (r < 0) return r;
        skipws(ps);
        if (*ps->p != ')') return perr(ps, "expected ')'");
        ps->p++;
        return r;
    }
    if (c == '"' || c == '\'') {
        int id = newnode(ps, N_STR);
        if (id < 0) return id;
        char *s = NULL;
        size_t l = 0;
        if (parse_string(ps, &s, &l) < 0) return -1;
        ps->f->n[id].str = s;
        ps->f->n[id].slen = l;
        return id;
    }
    if (c == '.' && field_char(ps->p[1])) {
        const char *st = ++ps->p;
        while (field_char(*ps->p)) ps->p++;
        int id = newnode(ps, N_FIELD);
        if (id < 0) return id;
        size_t l = (size_t)(ps->p - st);
        char *s = util_malloc(l + 1);
        if (!s) return perr(ps, "out of memory");
        memcpy(s, st, l);
        s[l] = 0;
        ps->f->n[id].str = s;
        ps->f->n[id].slen = l;
        return id;
    }
    if (isdigit((unsigned char)c)) {
        char *end;
        double v = strtod(ps->p, &end);
        if (end == ps->p || !isfinite(v)) return perr(ps, "bad number");
        ps->p = end;
        int id = newnode(ps, N_NUM);
        if (id < 0) return id;
        ps->f->n[id].num = v;
        return id;
    }
    if (c == '[') {
        ps->p++;
        int tmp[VF_MAX_LIST];
        int cnt = 0;
        skipws(ps);
        if (*ps->p != ']') {
            for (;;) {
                if (cnt >= VF_MAX_LIST) return perr(ps, "list too long");
                if (++ps->depth > VF_MAX_DEPTH) return perr(ps, "expression nested too deeply");
                int it = parse_primary(ps);
                ps->depth--;
                if (it < 0) return it;
                int op = ps->f->n[it].op;
                if (op != N_NUM && op != N_STR && op != N_NULL)
                    return perr(ps, "list items must be numbers, strings or booleans");
                tmp[cnt++] = it;
                skipws(ps);
                if (*ps->p == ',') {
                    ps->p++;
                    continue;
                }
                if (*ps->p == ']') break;
                return perr(ps, "expected ',' or ']' in list");
            }
        }
        ps->p++;
        int id = newnode(ps, N_LIST);
        if (id < 0) return id;
        vfilter *f = ps->f;
        if (f->nitems + cnt > f->citems) {
            int nc = (f->nitems + cnt) * 2 + 8;
            int *ni = util_realloc(f->items, (size_t)nc * sizeof(int));
            if (!ni) return perr(ps, "out of memory");
            f->items = ni;
            f->citems = nc;
        }
        f->n[id].a = f->nitems;
        f->n[id].b = cnt;
        for (int i = 0; i < cnt; i++) f->items[f->nitems++] = tmp[i];
        return id;
    }
    if (kw(ps, "true") || kw(ps, "false")) {
        int id = newnode(ps, N_NUM);
        if (id < 0) return id;
        ps->f->n[id].num = ps->p[-1] == 'e' && ps->p[-2] == 'u' ? 1 : 0;
        return id;
    }
    if (kw(ps, "null")) return newnode(ps, N_NULL);
    if (!c) return perr(ps, "unexpected end of expression");
    return perr(ps, "unexpected character");
}

static int mk2(vparser *ps, int op, int a, int b)
{
    int id = newnode(ps, op);
    if (id < 0) return id;
    ps->f->n[id].a = a;
    ps->f->n[id].b = b;
    return id;
}

static int parse_unary(vparser *ps);

static int parse_pow(vparser *ps)
{
    int l = parse_unary(ps);
    if (l < 0) return l;
    skipws(ps);
    if (lit(ps, "**")) {
        if (++ps->depth > VF_MAX_DEPTH) return perr(ps, "expression nested too deeply");
        int r = parse_pow(ps);
        ps->depth--;
        if (r < 0) return r;
        return mk2(ps, N_POW, l, r);
    }
    return l;
}

static int parse_unary(vparser *ps)
{
    skipws(ps);
    int op = 0;
    if (*ps->p == '-') {
        ps->p++;
        op = N_NEG;
    } else if (ps->p[0] == '!' && ps->p[1] != '=') {
        ps->p++;
        op = N_NOT;
    } else if (kw(ps, "not")) {
        op = N_NOT;
    }
    if (op) {
        if (++ps->depth > VF_MAX_DEPTH) return perr(ps, "expression nested too deeply");
        int a = parse_unary(ps);
        ps->depth--;
        if (a < 0) return a;
        return mk2(ps, op, a, -1);
    }
    if (++ps->depth > VF_MAX_DEPTH) return perr(ps, "expression nested too deeply");
    int r = parse_primary(ps);
    ps->depth--;
    return r;
}

static int parse_mul(vparser *ps)
{
    int l = parse_pow(ps);
    while (l >= 0) {
        skipws(ps);
        int op;
        if (ps->p[0] == '*' && ps->p[1] != '*') op = N_MUL;
        else if (*ps->p == '/') op = N_DIV;
        else if (*ps->p == '%') op = N_MOD;
        else break;
        ps->p++;
        int r = parse_pow(ps);
        if (r < 0) return r;
        l = mk2(ps, op, l, r);
    }
    return l;
}

static int parse_add(vparser *ps)
{
    int l = parse_mul(ps);
    while (l >= 0) {
        skipws(ps);
        int op;
        if (*ps->p == '+') op = N_ADD;
        else if (*ps->p == '-') op = N_SUB;
        else break;
        ps->p++;
        int r = parse_mul(ps);
        if (r < 0) return r;
        l = mk2(ps, op, l, r);
    }
    return l;
}

static int parse_cmp(vparser *ps)
{
    int l = parse_add(ps);
    while (l >= 0) {
        skipws(ps);
        int op;
        if (lit(ps, "==")) op = N_EQ;
        else if (lit(ps, "!=")) op = N_NE;
        else if (lit(ps, "<=")) op = N_LE;
        else if (lit(ps, ">=")) op = N_GE;
        else if (lit(ps, "<")) op = N_LT;
        else if (lit(ps, ">")) op = N_GT;
        else if (kw(ps, "in")) op = N_IN;
        else break;
        int r = parse_add(ps);
        if (r < 0) return r;
        l = mk2(ps, op, l, r);
    }
    return l;
}

static int parse_and(vparser *ps)
{
    int l = parse_cmp(ps);
    while (l >= 0) {
        skipws(ps);
        if (!(lit(ps, "&&") || kw(ps, "and"))) break;
        int r = parse_cmp(ps);
        if (r < 0) return r;
        l = mk2(ps, N_AND, l, r);
    }
    return l;
}

static int parse_expr(vparser *ps)
{
    if (++ps->depth > VF_MAX_DEPTH) return perr(ps, "expression nested too deeply");
    int l = parse_and(ps);
    while (l >= 0) {
        skipws(ps);
        if (!(lit(ps, "||") || kw(ps, "or"))) break;
        int r = parse_and(ps);
        if (r < 0) return r;
        l = mk2(ps, N_OR, l, r);
    }
    ps->depth--;
    return l;
}

void vfilter_free(vfilter *f)
{
    if (!f) return;
    for (int i = 0; i < f->nn; i++) omen_free(f->n[i].str);
    omen_free(f->n);
    omen_free(f->items);
    omen_free(f);
}

int vfilter_compile(const char *expr, vfilter **out)
{
    if (!out) return util_seterr(OMEN_INVALID, "filter: NULL out");
    *out = NULL;
    if (!expr) return util_seterr(OMEN_INVALID, "filter: NULL expression");
    vfilter *f = util_calloc(1, sizeof *f);
    if (!f) return util_seterr(OMEN_NOMEM, "filter: out of memory");
    vparser ps = {.s = expr, .p = expr, .f = f};
    int r = parse_expr(&ps);
    if (r >= 0) {
        skipws(&ps);
        if (*ps.p) r = perr(&ps, "unexpected text after the expression");
    }
    if (r < 0) {
        vfilter_free(f);
        return util_seterr(OMEN_INVALID, "filter: %s", ps.msg);
    }
    f->root = r;
    *out = f;
    return OMEN_OK;
}

/* ---- JSON reading ---- */

typedef struct jcur {
    const char *p, *e;
} jcur;

static void jws(jcur *c)
{
    while (c->p < c->e && (*c->p == ' ' || *c->p == '\t' || *c->p == '\n' || *c->p == '\r')) c->p++;
}

/* Skip a JSON string at c->p (the quote); 0 ok, -1 malformed. */
static int jskip_str(jcur *c)
{
    if (c->p >= c->e || *c->p != '"') return -1;
    c->p++;
    while (c->p < c->e) {
        unsigned char ch = (unsigned char)*c->p++;
        if (ch == '"') return 0;
        if (ch < 0x20) return -1;
        if (ch == '\\') {
            if (c->p >= c->e) return -1;
            char e = *c->p++;
            if (e == 'u') {
                for (int i = 0; i < 4; i++, c->p++)
                    if (c->p >= c->e || !isxdigit((unsigned char)*c->p)) return -1;
            } else if (!strchr("\"\\/bfnrt", e) || !e) {
                return -1;
            }
        }
    }
    return -1;
}

static int jskip_num(jcur *c)
{
    const char *s = c->p;
    if (c->p < c->e && *c->p == '-') c->p++;
    if (c->p >= c->e || !isdigit((unsigned char)*c->p)) return -1;
    while (c->p < c->e && isdigit((unsigned char)*c->p)) c->p++;
    if (c->p < c->e && *c->p == '.') {
        c->p++;
        if (c->p >= c->e || !isdigit((unsigned char)*c->p)) return -1;
        while (c->p < c->e && isdigit((unsigned char)*c->p)) c->p++;
    }
    if (c->p < c->e && (*c->p == 'e' || *c->p == 'E')) {
        c->p++;
        if (c->p < c->e && (*c->p == '+' || *c->p == '-')) c->p++;
        if (c->p >= c->e || !isdigit((unsigned char)*c->p)) return -1;
        while (c->p < c->e && isdigit((unsigned char)*c->p)) c->p++;
    }
    return c->p > s ? 0 : -1;
}

static int jword(jcur *c, const char *w)
{
    size_t l = strlen(w);
    if ((size_t)(c->e - c->p) < l || memcmp(c->p, w, l) != 0) return -1;
    c->p += l;
    return 0;
}

static int jskip_value(jcur *c, int depth)
{
    if (depth > 64) return -1;
    jws(c);
    if (c->p >= c->e) return -1;
    char ch = *c->p;
    if (ch == '"') return jskip_str(c);
    if (ch == '{' || ch == '[') {
        char close = ch == '{' ? '}' : ']';
        c->p++;
        jws(c);
        if (c->p < c->e && *c->p == close) {
            c->p++;
            return 0;
        }
        for (;;) {
            if (ch == '{') {
                jws(c);
                if (jskip_str(c)) return -1;
                jws(c);
                if (c->p >= c->e || *c->p != ':') return -1;
                c->p++;
            }
            if (jskip_value(c, depth + 1)) return -1;
            jws(c);
            if (c->p >= c->e) return -1;
            if (*c->p == ',') {
                c->p++;
                continue;
            }
            if (*c->p == close) {
                c->p++;
                return 0;
            }
            return -1;
        }
    }
    if (ch == 't') return jword(c, "true");
    if (ch == 'f') return jword(c, "false");
    if (ch == 'n') return jword(c, "null");
    return jskip_num(c);
}

int vfilter_json_check(const char *json, size_t len)
{
    if (!json) return util_seterr(OMEN_INVALID, "attributes: NULL text");
    jcur c = {json, json + len};
    jws(&c);
    if (c.p >= c.e || *c.p != '{') return util_seterr(OMEN_INVALID, "attributes: not a JSON object");
    if (jskip_value(&c, 0)) return util_seterr(OMEN_INVALID, "attributes: malformed JSON near byte %zu", (size_t)(c.p - json));
    jws(&c);
    if (c.p != c.e) return util_seterr(OMEN_INVALID, "attributes: text after the JSON object");
    return OMEN_OK;
}

/* ---- evaluation ---- */

typedef struct vval {
    int t;
    double num;
    const char *s; /* T_STR: decoded bytes; T_LIST from JSON: the array text */
    size_t slen;
    int list_node; /* T_LIST literal: node index; -1: JSON array in s/slen */
} vval;

/* Strings with escapes are decoded into the scratch buffer, or, when it
 * is full, into heap blocks; an operator node gives back what its operands
 * took once its result (a number) is known, so the space held at any time
 * is bounded by the expression's depth, not by how many strings it reads. */
#define VF_SCRATCH 8192
#define VF_HEAP_MAX 16
typedef struct vctx {
    const vfilter *f;
    const char *json;
    size_t jlen;
    char scratch[VF_SCRATCH];
    size_t used;
    char *heap[VF_HEAP_MAX];
    int nheap;
    int missing; /* a field was absent or unreadable: no match at all */
} vctx;

typedef struct vmark {
    size_t used;
    int nheap;
} vmark;

static vmark ctx_mark(const vctx *x) { return (vmark){x->used, x->nheap}; }

static void ctx_release(vctx *x, vmark m)
{
    x->used = m.used;
    while (x->nheap > m.nheap) free(x->heap[--x->nheap]);
}

/* Read the JSON string at c->p: in place when it has no escapes, else
 * decoded (never longer than its source) into scratch or a heap block. */
static int jdecode_str(vctx *x, jcur *c, vval *v)
{
    const char *st = c->p;
    if (jskip_str(c)) return -1;
    const char *s = st + 1, *e = c->p - 1;
    v->t = T_STR;
    if (!memchr(s, '\\', (size_t)(e - s))) {
        v->s = s;
        v->slen = (size_t)(e - s);
        return 0;
    }
    char *o = x->scratch + x->used;
    size_t room = VF_SCRATCH - x->used, n = 0;
    int on_heap = (size_t)(e - s) > room;
    if (on_heap) {
        if (x->nheap == VF_HEAP_MAX || !(o = malloc((size_t)(e - s)))) return -1;
        x->heap[x->nheap++] = o;
        room = (size_t)(e - s);
    }
    while (s < e) {
        char ch = *s++;
        if (ch == '\\') {
            char q = *s++;
            if (q == 'u') {
                unsigned cp = (unsigned)strtoul((char[5]){s[0], s[1], s[2], s[3], 0}, NULL, 16);
                s += 4;
                unsigned char u8[3];
                size_t k;
                if (cp < 0x80) {
                    u8[0] = (unsigned char)cp;
                    k = 1;
                } else if (cp < 0x800) {
                    u8[0] = (unsigned char)(0xc0 | cp >> 6);
                    u8[1] = (unsigned char)(0x80 | (cp & 63));
                    k = 2;
                } else {
                    u8[0] = (unsigned char)(0xe0 | cp >> 12);
                    u8[1] = (unsigned char)(0x80 | ((cp >> 6) & 63));
                    u8[2] = (unsigned char)(0x80 | (cp & 63));
                    k = 3;
                }
                if (n + k > room) return -1;
                memcpy(o + n, u8, k);
                n += k;
                continue;
            }
            ch = q == 'n' ? '\n' : q == 't' ? '\t' : q == 'r' ? '\r' : q == 'b' ? '\b' : q == 'f' ? '\f' : q;
        }
        if (n + 1 > room) return -1;
        o[n++] = ch;
    }
    if (!on_heap) x->used += n;
    v->s = o;
    v->slen = n;
    return 0;
}

/* Read the scalar or array JSON value at c into v. */
static int jread_value(vctx *x, jcur *c, vval *v)
{
    jws(c);
    if (c->p >= c->e) return -1;
    char ch = *c->p;
    if (ch == '"') return jdecode_str(x, c, v);
    if (ch == 't' || ch == 'f') {
        if (jword(c, ch == 't' ? "true" : "false")) return -1;
        v->t = T_NUM;
        v->num = ch == 't';
        return 0;
    }
    if (ch == 'n') {
        if (jword(c, "null")) return -1;
        v->t = T_NULL;
        return 0;
    }
    if (ch == '[') {
        const char *st = c->p;
        if (jskip_value(c, 1)) return -1;
        v->t = T_LIST;
        v->s = st;
        v->slen = (size_t)(c->p - st);
        v->list_node = -1;
        return 0;
    }
    if (ch == '{') return -1; /* objects are not values of the language */
    const char *st = c->p;
    if (jskip_num(c)) return -1;
    char buf[64];
    size_t l = (size_t)(c->p - st);
    if (l >= sizeof buf) return -1;
    memcpy(buf, st, l);
    buf[l] = 0;
    v->t = T_NUM;
    v->num = strtod(buf, NULL);
    return 0;
}

static void field(vctx *x, const vnode *n, vval *v)
{
    v->t = T_UNDEF;
    if (!x->json || !x->jlen) return;
    jcur c = {x->json, x->json + x->jlen};
    jws(&c);
    if (c.p >= c.e || *c.p != '{') return;
    c.p++;
    jws(&c);
    if (c.p < c.e && *c.p == '}') return;
    for (;;) {
        jws(&c);
        const char *ks = c.p;
        if (jskip_str(&c)) return;
        /* Keys with escapes are compared after decoding. */
        int match;
        size_t klen = (size_t)(c.p - ks) - 2;
        if (memchr(ks + 1, '\\', klen)) {
            jcur kc = {ks, c.p};
            vmark m = ctx_mark(x);
            vval kv;
            if (jdecode_str(x, &kc, &kv)) return;
            match = kv.slen == n->slen && memcmp(kv.s, n->str, n->slen) == 0;
            ctx_release(x, m);
        } else {
            match = klen == n->slen && memcmp(ks + 1, n->str, klen) == 0;
        }
        jws(&c);
        if (c.p >= c.e || *c.p != ':') return;
        c.p++;
        if (match) {
            if (jread_value(x, &c, v)) v->t = T_UNDEF;
            return;
        }
        if (jskip_value(&c, 1)) return;
        jws(&c);
        if (c.p >= c.e || *c.p != ',') return;
        c.p++;
    }
}

static int truthy(const vval *v)
{
    if (v->t == T_NUM) return v->num != 0;
    if (v->t == T_STR) return v->slen > 0;
    if (v->t == T_LIST) return 1;
    return 0;
}

/* A number for v: itself, or a string that is entirely a number (Redis
 * compares and computes "1990" as 1990).  0 with *d set, else -1. */
static int as_num(const vval *v, double *d)
{
    if (v->t == T_NUM) {
        *d = v->num;
        return 0;
    }
    if (v->t != T_STR || v->slen == 0 || v->slen >= 64) return -1;
    char buf[64], *end;
    memcpy(buf, v->s, v->slen);
    buf[v->slen] = 0;
    *d = strtod(buf, &end);
    return end != buf + v->slen || isnan(*d) ? -1 : 0;
}

/* -1 undefined, else 1 equal / 0 not. */
static int veq(const vval *a, const vval *b)
{
    if (a->t == T_NUM && b->t == T_NUM) return a->num == b->num;
    if (a->t == T_STR && b->t == T_STR) return a->slen == b->slen && memcmp(a->s, b->s, a->slen) == 0;
    if (a->t == T_NULL || b->t == T_NULL) return a->t == b->t;
    if (a->t == T_UNDEF || b->t == T_UNDEF || a->t == T_LIST || b->t == T_LIST) return -1;
    double x, y; /* number vs string: equal when the string is that number */
    return as_num(a, &x) == 0 && as_num(b, &y) == 0 && x == y;
}

static void eval(vctx *x, int id, vval *out, int depth);

static void eval_in(vctx *x, const vval *l, const vval *r, vval *out)
{
    out->t = T_UNDEF;
    if (l->t == T_UNDEF || l->t == T_LIST) return;
    if (r->t == T_STR && l->t == T_STR) { /* substring test, as Redis */
        out->t = T_NUM;
        out->num = l->slen == 0 || (l->slen <= r->slen && memmem(r->s, r->slen, l->s, l->slen) != NULL);
        return;
    }
    if (r->t != T_LIST) return;
    out->t = T_NUM;
    out->num = 0;
    if (r->list_node >= 0) {
        const vnode *ln = &x->f->n[r->list_node];
        for (int i = 0; i < ln->b; i++) {
            vval it;
            eval(x, x->f->items[ln->a + i], &it, 1);
            if (veq(l, &it) == 1) {
                out->num = 1;
                return;
            }
        }
        return;
    }
    jcur c = {r->s + 1, r->s + r->slen};
    jws(&c);
    if (c.p < c.e && *c.p == ']') return;
    for (;;) {
        vmark m = ctx_mark(x);
        vval it;
        if (jread_value(x, &c, &it)) return;
        int eq = veq(l, &it) == 1;
        ctx_release(x, m);
        if (eq) {
            out->num = 1;
            return;
        }
        jws(&c);
        if (c.p >= c.e || *c.p != ',') return;
        c.p++;
    }
}

/* An operator node: its result is a number (or undefined), so nothing it
 * returns points into space its operands took (eval gives that back). */
static void eval_op(vctx *x, const vnode *n, vval *out, int depth)
{
    vval a, b;
    switch (n->op) {
    case N_AND:
    case N_OR: {
        /* No short cut: a field missing on the side not needed must still
         * fail the element, as in Redis (x->missing).  A side that is
         * undefined for another reason (operands of unfit types) does not
         * matter when the other side settles the result. */
        eval(x, n->a, &a, depth + 1);
        eval(x, n->b, &b, depth + 1);
        int settles = n->op == N_OR; /* the value that decides it alone */
        if ((a.t != T_UNDEF && truthy(&a) == settles) || (b.t != T_UNDEF && truthy(&b) == settles)) {
            out->t = T_NUM;
            out->num = settles;
            return;
        }
        if (a.t == T_UNDEF || b.t == T_UNDEF) return;
        out->t = T_NUM;
        out->num = !settles;
        return;
    }
    case N_NOT:
        eval(x, n->a, &a, depth + 1);
        if (a.t == T_UNDEF) return;
        out->t = T_NUM;
        out->num = !truthy(&a);
        return;
    case N_NEG:
        eval(x, n->a, &a, depth + 1);
        if (as_num(&a, &out->num)) return;
        out->t = T_NUM;
        out->num = -out->num;
        return;
    default: break;
    }
    eval(x, n->a, &a, depth + 1);
    eval(x, n->b, &b, depth + 1);
    if (n->op == N_IN) {
        eval_in(x, &a, &b, out);
        return;
    }
    if (n->op == N_EQ || n->op == N_NE) {
        int e = veq(&a, &b);
        if (e < 0) return;
        out->t = T_NUM;
        out->num = n->op == N_EQ ? e : !e;
        return;
    }
    double u, w;
    int numeric = as_num(&a, &u) == 0 && as_num(&b, &w) == 0;
    if (n->op >= N_LT && n->op <= N_GE) {
        int c;
        if (numeric) {
            c = u < w ? -1 : u > w ? 1 : 0;
        } else if (a.t == T_STR && b.t == T_STR) {
            size_t m = a.slen < b.slen ? a.slen : b.slen;
            c = memcmp(a.s, b.s, m);
            if (!c) c = a.slen < b.slen ? -1 : a.slen > b.slen;
        } else {
            return;
        }
        out->t = T_NUM;
        out->num = n->op == N_LT ? c < 0 : n->op == N_LE ? c <= 0 : n->op == N_GT ? c > 0 : c >= 0;
        return;
    }
    if (!numeric) return;
    double r; /* IEEE, as Redis: x / 0 is infinite; 0 / 0 and x % 0 are NaN */
    switch (n->op) {
    case N_ADD: r = u + w; break;
    case N_SUB: r = u - w; break;
    case N_MUL: r = u * w; break;
    case N_DIV: r = u / w; break;
    case N_MOD: r = fmod(u, w); break;
    case N_POW: r = pow(u, w); break;
    default: return;
    }
    if (isnan(r)) return;
    out->t = T_NUM;
    out->num = r;
}

static void eval(vctx *x, int id, vval *out, int depth)
{
    const vnode *n = &x->f->n[id];
    out->t = T_UNDEF;
    if (depth > 3 * VF_MAX_DEPTH + 8) return;
    switch (n->op) {
    case N_NUM: out->t = T_NUM; out->num = n->num; return;
    case N_STR: out->t = T_STR; out->s = n->str; out->slen = n->slen; return;
    case N_NULL: out->t = T_NULL; return;
    case N_FIELD:
        field(x, n, out);
        if (out->t == T_UNDEF) x->missing = 1;
        return;
    case N_LIST: out->t = T_LIST; out->list_node = id; return;
    default: break;
    }
    vmark m = ctx_mark(x);
    eval_op(x, n, out, depth);
    ctx_release(x, m);
}

int vfilter_match(const vfilter *f, const char *json, size_t len)
{
    if (!f) return 1;
    if (!json || !len) return 0; /* as Redis: no attributes, no match, even for `true` */
    vctx x;
    x.f = f;
    x.json = json;
    x.jlen = len;
    x.used = 0;
    x.nheap = 0;
    x.missing = 0;
    vval v;
    eval(&x, f->root, &v, 0);
    int match = !x.missing && v.t != T_UNDEF && truthy(&v);
    ctx_release(&x, (vmark){0, 0});
    return match;
}
