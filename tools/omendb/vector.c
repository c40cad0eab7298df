/*
 * vector.c -- the vector-set commands of the tool (vcreate, vadd, vsearch,
 * vdel, vget, vattrs, vinfo, vlist, vdrop; vimport is in vimport.c),
 * shared by the shell and the script interface: both hand over the
 * arguments as decoded tokens a[1..argc].
 *
 * Set handles are kept open for the life of the database session (a small
 * cache keyed by name): opening a set loads its graph and closing the last
 * handle checkpoints it, which must not happen on every shell command.
 * close_db() releases them (vsets_close) before omen_close, as the C API
 * requires.
 *
 * Vectors are typed as numbers separated by commas and/or blanks, with
 * optional brackets: 0.1,0.2,0.3  or  "[0.1, 0.2, 0.3]".  Element ids are
 * keys (escapes; decimal u64 with --int-keys).  Attributes are JSON text.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

/* ---- Open sets ------------------------------------------------------------- */

static struct vopen {
    omen_db *db;
    char *name;
    omen_vset *vs;
} *opened;
static size_t nopened, capopened;

void vsets_close(session *s)
{
    size_t keep = 0;
    for (size_t i = 0; i < nopened; i++) {
        if (opened[i].db != s->db) {
            opened[keep++] = opened[i];
            continue;
        }
        int rc = omen_vset_close(opened[i].vs);
        if (rc != OMEN_OK) report(rc, "closing vector set %s", opened[i].name);
        free(opened[i].name);
    }
    nopened = keep;
    if (!nopened) {
        free(opened);
        opened = NULL;
        capopened = 0;
    }
}

static void forget_set(session *s, const char *name)
{
    for (size_t i = 0; i < nopened; i++)
        if (opened[i].db == s->db && !strcmp(opened[i].name, name)) {
            omen_vset_close(opened[i].vs); /* the set may be gone: nothing to report */
            free(opened[i].name);
            opened[i] = opened[--nopened];
            return;
        }
}

/* A set name from a token: 1..OMEN_VSET_MAX_NAME bytes without NUL. */
int vset_name_arg(const char *cmd, const sbuf *t, char *out)
{
    if (t->len == 0 || t->len > OMEN_VSET_MAX_NAME || memchr(t->p, 0, t->len)) {
        fprintf(stderr, "omendb: %s: a vector set name has 1 to %u bytes and no \\0\n", cmd,
                OMEN_VSET_MAX_NAME);
        return EX_USAGE;
    }
    memcpy(out, t->p, t->len);
    out[t->len] = 0;
    return EX_OK;
}

/* The handle of set `name`, opened once per session.  With create_dim > 0 an
 * absent set is created with that dimension and the default options. */
int vset_handle(session *s, const char *cmd, const char *name, uint32_t create_dim, omen_vset **out)
{
    for (size_t i = 0; i < nopened; i++)
        if (opened[i].db == s->db && !strcmp(opened[i].name, name)) {
            *out = opened[i].vs;
            return EX_OK;
        }
    omen_vset *vs = NULL;
    int rc = omen_vset_open(s->db, name, &vs);
    if (rc == OMEN_NOTFOUND && create_dim) {
        omen_vset_options o;
        omen_vset_options_init(&o);
        o.dim = create_dim;
        rc = omen_vset_create(s->db, name, &o, &vs);
    }
    if (rc == OMEN_NOTFOUND) {
        fprintf(stderr, "omendb: %s: no vector set \"%s\" (vlist shows them)\n", cmd, name);
        return EX_MISS;
    }
    if (rc != OMEN_OK) return report(rc, "%s: vector set \"%s\"", cmd, name);
    if (nopened == capopened) {
        size_t cap = capopened ? capopened * 2 : 4;
        struct vopen *p = realloc(opened, cap * sizeof *p);
        char *nm = p ? strdup(name) : NULL;
        if (!p || !nm) {
            free(nm);
            if (p) opened = p;
            omen_vset_close(vs);
            fputs("omendb: out of memory\n", stderr);
            return EX_ERR;
        }
        opened = p;
        capopened = cap;
        opened[nopened] = (struct vopen){s->db, nm, vs};
    } else {
        char *nm = strdup(name);
        if (!nm) {
            omen_vset_close(vs);
            fputs("omendb: out of memory\n", stderr);
            return EX_ERR;
        }
        opened[nopened] = (struct vopen){s->db, nm, vs};
    }
    nopened++;
    *out = vs;
    return EX_OK;
}

/* ---- Arguments ------------------------------------------------------------- */

/* Parse "0.1,0.2 0.3" or "[0.1, 0.2]" into *v (malloc'd) of *dim floats. */
static int parse_vector(const char *cmd, const sbuf *t, float **v, uint32_t *dim)
{
    char *s = malloc(t->len + 1);
    float *out = malloc((t->len / 2 + 1) * sizeof *out); /* every number needs 2 bytes but the last */
    if (!s || !out) {
        free(s);
        free(out);
        fputs("omendb: out of memory\n", stderr);
        return EX_ERR;
    }
    if (t->len) memcpy(s, t->p, t->len);
    s[t->len] = 0;
    char *p = s;
    uint32_t n = 0;
    while (*p == ' ' || *p == '\t') p++;
    int bracket = *p == '[';
    if (bracket) p++;
    for (;;) {
        while (*p == ' ' || *p == '\t' || *p == ',') p++;
        if (!*p || (bracket && *p == ']')) break;
        char *end;
        errno = 0;
        float f = strtof(p, &end);
        if (end == p || errno == ERANGE || n >= OMEN_VSET_MAX_DIM) {
            fprintf(stderr, "omendb: %s: bad vector at \"%.20s\" (numbers separated by commas, e.g. 0.5,1,-2)\n",
                    cmd, p);
            goto bad;
        }
        out[n++] = f;
        p = end;
        if (*p && *p != ',' && *p != ' ' && *p != '\t' && !(bracket && *p == ']')) {
            fprintf(stderr, "omendb: %s: bad vector at \"%.20s\"\n", cmd, p);
            goto bad;
        }
    }
    if (bracket) {
        if (*p != ']') {
            fprintf(stderr, "omendb: %s: vector: missing ]\n", cmd);
            goto bad;
        }
        p++;
        while (*p == ' ' || *p == '\t') p++;
        if (*p) {
            fprintf(stderr, "omendb: %s: text after the vector's ]\n", cmd);
            goto bad;
        }
    }
    if (n == 0) {
        fprintf(stderr, "omendb: %s: empty vector\n", cmd);
        goto bad;
    }
    free(s);
    *v = out;
    *dim = n;
    return EX_OK;
bad:
    free(s);
    free(out);
    return EX_USAGE;
}

static int parse_u32(const char *cmd, const char *what, const sbuf *t, uint32_t lo, uint32_t hi, uint32_t *out)
{
    uint64_t v;
    if (parse_u64(t->p, t->len, &v) != 0 || v < lo || v > hi) {
        fprintf(stderr, "omendb: %s: %s must be a number from %u to %u\n", cmd, what, lo, hi);
        return EX_USAGE;
    }
    *out = (uint32_t)v;
    return EX_OK;
}

static int tok_is(const sbuf *t, const char *s)
{
    return t->len == strlen(s) && !memcmp(t->p, s, t->len);
}

static const char *metric_str(int m)
{
    return m == OMEN_METRIC_L2 ? "l2" : m == OMEN_METRIC_COSINE ? "cosine" : m == OMEN_METRIC_IP ? "ip" : "?";
}

int vset_check_dim(const char *cmd, omen_vset *vs, uint32_t dim)
{
    omen_vset_info inf;
    int rc = omen_vset_info_get(vs, &inf);
    if (rc != OMEN_OK) return report(rc, "%s", cmd);
    if (inf.dim != dim) {
        fprintf(stderr, "omendb: %s: the vector has %u components, set \"%s\" has dimension %u\n", cmd, dim,
                omen_vset_name(vs), inf.dim);
        return EX_USAGE;
    }
    return EX_OK;
}

/* ---- Commands --------------------------------------------------------------- */

int vcmd_create(session *s, const sbuf *a, int argc)
{
    char name[OMEN_VSET_MAX_NAME + 1];
    int ex = vset_name_arg("vcreate", &a[1], name);
    if (ex) return ex;
    omen_vset_options o;
    omen_vset_options_init(&o);
    if ((ex = parse_u32("vcreate", "DIM", &a[2], 1, OMEN_VSET_MAX_DIM, &o.dim))) return ex;
    if (argc >= 3 && a[3].len) {
        if (tok_is(&a[3], "l2"))
            o.metric = OMEN_METRIC_L2;
        else if (tok_is(&a[3], "cosine"))
            o.metric = OMEN_METRIC_COSINE;
        else if (tok_is(&a[3], "ip"))
            o.metric = OMEN_METRIC_IP;
        else
            return usage_error("vcreate: METRIC must be l2, cosine or ip");
    }
    if (argc >= 4 && a[4].len) {
        if (tok_is(&a[4], "float32"))
            o.precision = OMEN_PREC_FLOAT32;
        else if (tok_is(&a[4], "int8"))
            o.precision = OMEN_PREC_INT8;
        else
            return usage_error("vcreate: PRECISION must be float32 or int8");
    }
    if (argc >= 5 && (ex = parse_u32("vcreate", "M", &a[5], 4, 64, &o.M))) return ex;
    if (argc >= 6 && (ex = parse_u32("vcreate", "EF_CONSTRUCTION", &a[6], 1, 100000, &o.ef_construction)))
        return ex;
    omen_vset *vs;
    int rc = omen_vset_create(s->db, name, &o, &vs);
    if (rc == OMEN_EXISTS) {
        fprintf(stderr, "omendb: vcreate: vector set \"%s\" exists\n", name);
        return EX_ERR;
    }
    if (rc != OMEN_OK) return report(rc, "vcreate %s", name);
    rc = omen_vset_close(vs);
    return rc == OMEN_OK ? EX_OK : report(rc, "vcreate %s", name);
}

int vcmd_add(session *s, const sbuf *a, int argc)
{
    char name[OMEN_VSET_MAX_NAME + 1];
    int ex = vset_name_arg("vadd", &a[1], name);
    if (ex) return ex;
    ukey id;
    if ((ex = make_key(&a[2], &id))) return ex;
    float *v;
    uint32_t dim;
    if ((ex = parse_vector("vadd", &a[3], &v, &dim))) return ex;
    omen_vset *vs;
    ex = vset_handle(s, "vadd", name, dim, &vs);
    if (!ex) ex = vset_check_dim("vadd", vs, dim);
    if (!ex) {
        const char *attrs = argc >= 4 ? (a[4].p ? (const char *)a[4].p : "") : NULL;
        size_t alen = argc >= 4 ? a[4].len : 0;
        int rc = s->txn ? omen_txn_vadd(s->txn, vs, id.p, id.n, v, dim, attrs, alen)
                        : omen_vset_add(vs, id.p, id.n, v, dim, attrs, alen, OMEN_SYNC_DEFAULT);
        if (rc != OMEN_OK) ex = report(rc, "vadd");
    }
    free(v);
    return ex;
}

int vcmd_del(session *s, const sbuf *a, int argc)
{
    (void)argc;
    char name[OMEN_VSET_MAX_NAME + 1];
    int ex = vset_name_arg("vdel", &a[1], name);
    if (ex) return ex;
    ukey id;
    omen_vset *vs;
    if ((ex = make_key(&a[2], &id)) || (ex = vset_handle(s, "vdel", name, 0, &vs))) return ex;
    int rc = s->txn ? omen_txn_vdel(s->txn, vs, id.p, id.n) : omen_vset_delete(vs, id.p, id.n, OMEN_SYNC_DEFAULT);
    if (rc == OMEN_NOTFOUND) {
        fputs("omendb: vdel ", stderr);
        put_key(stderr, id.p, id.n, FORM_SHELL);
        fputs(": not found\n", stderr);
        return EX_MISS;
    }
    return rc == OMEN_OK ? EX_OK : report(rc, "vdel");
}

static int not_found(const char *cmd, const ukey *id)
{
    fprintf(stderr, "omendb: %s ", cmd);
    put_key(stderr, id->p, id->n, FORM_SHELL);
    fputs(": not found\n", stderr);
    return EX_MISS;
}

int vcmd_get(session *s, const sbuf *a, int argc)
{
    (void)argc;
    char name[OMEN_VSET_MAX_NAME + 1];
    int ex = vset_name_arg("vget", &a[1], name);
    if (ex) return ex;
    ukey id;
    omen_vset *vs;
    if ((ex = make_key(&a[2], &id)) || (ex = vset_handle(s, "vget", name, 0, &vs))) return ex;
    omen_vset_info inf;
    int rc = omen_vset_info_get(vs, &inf);
    if (rc != OMEN_OK) return report(rc, "vget");
    float *v = malloc(inf.dim * sizeof *v);
    if (!v) {
        fputs("omendb: out of memory\n", stderr);
        return EX_ERR;
    }
    rc = omen_vset_get(vs, id.p, id.n, v, inf.dim);
    if (rc == OMEN_OK) {
        for (uint32_t i = 0; i < inf.dim; i++)
            printf(i ? ",%.9g" : "%.9g", (double)v[i]);
        putchar('\n');
    }
    free(v);
    if (rc == OMEN_NOTFOUND) return not_found("vget", &id);
    return rc == OMEN_OK ? EX_OK : report(rc, "vget");
}

int vcmd_attrs(session *s, const sbuf *a, int argc)
{
    char name[OMEN_VSET_MAX_NAME + 1];
    int ex = vset_name_arg("vattrs", &a[1], name);
    if (ex) return ex;
    ukey id;
    omen_vset *vs;
    if ((ex = make_key(&a[2], &id)) || (ex = vset_handle(s, "vattrs", name, 0, &vs))) return ex;
    int rc;
    if (argc >= 3) {
        rc = omen_vset_set_attrs(vs, id.p, id.n, a[3].p ? (const char *)a[3].p : "", a[3].len,
                                 OMEN_SYNC_DEFAULT);
    } else {
        char *json = NULL;
        size_t len = 0;
        rc = omen_vset_get_attrs(vs, id.p, id.n, &json, &len);
        if (rc == OMEN_OK) {
            if (json)
                fwrite(json, 1, len, stdout);
            else
                fputs("null", stdout);
            putchar('\n');
            omen_free(json);
        }
    }
    if (rc == OMEN_NOTFOUND) return not_found("vattrs", &id);
    return rc == OMEN_OK ? EX_OK : report(rc, "vattrs");
}

int vcmd_search(session *s, const sbuf *a, int argc)
{
    char name[OMEN_VSET_MAX_NAME + 1];
    int ex = vset_name_arg("vsearch", &a[1], name);
    if (ex) return ex;
    omen_vset_query q;
    memset(&q, 0, sizeof q);
    q.k = 10;
    if (argc >= 3 && (ex = parse_u32("vsearch", "K", &a[3], 1, OMEN_VSET_MAX_K, &q.k))) return ex;
    char *filter = NULL;
    if (argc >= 4 && a[4].len) {
        if (memchr(a[4].p, 0, a[4].len)) return usage_error("vsearch: FILTER contains \\0");
        filter = malloc(a[4].len + 1);
        if (!filter) return EX_ERR;
        memcpy(filter, a[4].p, a[4].len);
        filter[a[4].len] = 0;
        q.filter = filter;
    }
    if (argc >= 5 && (ex = parse_u32("vsearch", "EF", &a[5], 1, 1000000, &q.ef))) {
        free(filter);
        return ex;
    }
    omen_vset *vs;
    if ((ex = vset_handle(s, "vsearch", name, 0, &vs))) {
        free(filter);
        return ex;
    }
    omen_vset_result *res = NULL;
    int rc;
    if (a[2].len && a[2].p[0] == '@') { /* @ID: the stored vector of element ID */
        sbuf idt = {a[2].p + 1, a[2].len - 1, 0};
        ukey id;
        if ((ex = make_key(&idt, &id))) {
            free(filter);
            return ex;
        }
        rc = omen_vset_search_id(vs, id.p, id.n, &q, &res);
        if (rc == OMEN_NOTFOUND) {
            free(filter);
            return not_found("vsearch", &id);
        }
    } else {
        float *v;
        uint32_t dim;
        if ((ex = parse_vector("vsearch", &a[2], &v, &dim))) {
            free(filter);
            return ex;
        }
        if ((ex = vset_check_dim("vsearch", vs, dim))) {
            free(v);
            free(filter);
            return ex;
        }
        rc = omen_vset_search(vs, v, dim, &q, &res);
        free(v);
    }
    free(filter);
    if (rc != OMEN_OK) return report(rc, "vsearch");
    for (size_t i = 0; i < res->n; i++) {
        put_key(stdout, res->hits[i].id, res->hits[i].id_len, s->form);
        printf("\t%.6g\n", (double)res->hits[i].score);
    }
    omen_free(res);
    return EX_OK;
}

int vcmd_info(session *s, const sbuf *a, int argc)
{
    (void)argc;
    char name[OMEN_VSET_MAX_NAME + 1];
    int ex = vset_name_arg("vinfo", &a[1], name);
    omen_vset *vs;
    if (ex || (ex = vset_handle(s, "vinfo", name, 0, &vs))) return ex;
    omen_vset_info inf;
    int rc = omen_vset_info_get(vs, &inf);
    if (rc != OMEN_OK) return report(rc, "vinfo");
    printf("name              %s\n", name);
    printf("dim               %u\n", inf.dim);
    printf("metric            %s\n", metric_str(inf.metric));
    printf("precision         %s\n", inf.precision == OMEN_PREC_INT8 ? "int8" : "float32");
    printf("m                 %u\n", inf.M);
    printf("ef_construction   %u\n", inf.ef_construction);
    printf("ef_search         %u\n", inf.ef_search);
    printf("count             %" PRIu64 "\n", inf.count);
    printf("deleted           %" PRIu64 "\n", inf.deleted);
    printf("levels            %u\n", inf.levels);
    printf("memory_bytes      %" PRIu64 "\n", inf.memory_bytes);
    printf("log_tail          %" PRIu64 "\n", inf.log_tail);
    return EX_OK;
}

int vcmd_list(session *s, const sbuf *a, int argc)
{
    (void)a, (void)argc;
    char **names = NULL;
    size_t n = 0;
    int rc = omen_vset_list(s->db, &names, &n);
    if (rc != OMEN_OK) return report(rc, "vlist");
    for (size_t i = 0; i < n; i++)
        printf("%s\n", names[i]);
    omen_free(names);
    return EX_OK;
}

int vcmd_drop(session *s, const sbuf *a, int argc)
{
    (void)argc;
    char name[OMEN_VSET_MAX_NAME + 1];
    int ex = vset_name_arg("vdrop", &a[1], name);
    if (ex) return ex;
    forget_set(s, name);
    int rc = omen_vset_drop(s->db, name);
    if (rc == OMEN_NOTFOUND) {
        fprintf(stderr, "omendb: vdrop: no vector set \"%s\"\n", name);
        return EX_MISS;
    }
    return rc == OMEN_OK ? EX_OK : report(rc, "vdrop %s", name);
}

/* ---- The script form ------------------------------------------------------------ */

int vcmd_script(int (*fn)(session *, const sbuf *, int), session *s, const char *const *pos, int nargs)
{
    /* pos[0] command, pos[1] DIR, pos[2..nargs] the arguments */
    sbuf a[8];
    memset(a, 0, sizeof a);
    int argc = nargs - 1, ex = EX_OK;
    for (int i = 1; i <= argc && ex == EX_OK; i++)
        if (unescape(pos[i + 1], strlen(pos[i + 1]), &a[i]) != 0)
            ex = usage_error("%s: bad escape in \"%s\" (use \\n \\t \\r \\0 \\\\ \\xHH)", pos[0], pos[i + 1]);
    if (ex == EX_OK) ex = fn(s, a, argc);
    for (int i = 0; i < 8; i++)
        sb_free(&a[i]);
    return ex;
}
