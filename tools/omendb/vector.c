/*
 * vector.c -- the vector-set commands of the tool (vcreate, vadd, vsearch,
 * vdel, vget, vattrs, vinfo, vlist, vdrop, vimport), shared by the shell
 * and the script interface: both hand over the arguments as decoded tokens
 * a[1..argc].
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
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

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
static int set_name(const char *cmd, const sbuf *t, char *out)
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
static int get_set(session *s, const char *cmd, const char *name, uint32_t create_dim, omen_vset **out)
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

static int check_dim(const char *cmd, omen_vset *vs, uint32_t dim)
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
    int ex = set_name("vcreate", &a[1], name);
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
    int ex = set_name("vadd", &a[1], name);
    if (ex) return ex;
    ukey id;
    if ((ex = make_key(&a[2], &id))) return ex;
    float *v;
    uint32_t dim;
    if ((ex = parse_vector("vadd", &a[3], &v, &dim))) return ex;
    omen_vset *vs;
    ex = get_set(s, "vadd", name, dim, &vs);
    if (!ex) ex = check_dim("vadd", vs, dim);
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
    int ex = set_name("vdel", &a[1], name);
    if (ex) return ex;
    ukey id;
    omen_vset *vs;
    if ((ex = make_key(&a[2], &id)) || (ex = get_set(s, "vdel", name, 0, &vs))) return ex;
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
    int ex = set_name("vget", &a[1], name);
    if (ex) return ex;
    ukey id;
    omen_vset *vs;
    if ((ex = make_key(&a[2], &id)) || (ex = get_set(s, "vget", name, 0, &vs))) return ex;
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
    int ex = set_name("vattrs", &a[1], name);
    if (ex) return ex;
    ukey id;
    omen_vset *vs;
    if ((ex = make_key(&a[2], &id)) || (ex = get_set(s, "vattrs", name, 0, &vs))) return ex;
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
    int ex = set_name("vsearch", &a[1], name);
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
    if ((ex = get_set(s, "vsearch", name, 0, &vs))) {
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
        if ((ex = check_dim("vsearch", vs, dim))) {
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
    int ex = set_name("vinfo", &a[1], name);
    omen_vset *vs;
    if (ex || (ex = get_set(s, "vinfo", name, 0, &vs))) return ex;
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
    int ex = set_name("vdrop", &a[1], name);
    if (ex) return ex;
    forget_set(s, name);
    int rc = omen_vset_drop(s->db, name);
    if (rc == OMEN_NOTFOUND) {
        fprintf(stderr, "omendb: vdrop: no vector set \"%s\"\n", name);
        return EX_MISS;
    }
    return rc == OMEN_OK ? EX_OK : report(rc, "vdrop %s", name);
}

/* ---- vimport ----------------------------------------------------------------- */

/* A matrix of float32 rows in a file: .npy (little-endian '<f4', C order,
 * 2-D) or .fvecs (per row: int32 dim, then dim float32). */
typedef struct {
    FILE *f;
    int fvecs;
    uint64_t rows;
    uint32_t dim;
} vfile;

static int npy_header(const char *file, FILE *f, vfile *vf)
{
    unsigned char pre[10];
    if (fread(pre, 1, 10, f) != 10) goto bad;
    size_t hlen;
    if (pre[6] == 1) {
        hlen = pre[8] | (size_t)pre[9] << 8;
    } else if (pre[6] == 2 || pre[6] == 3) {
        unsigned char b2[2];
        if (fread(b2, 1, 2, f) != 2) goto bad;
        hlen = pre[8] | (size_t)pre[9] << 8 | (size_t)b2[0] << 16 | (size_t)b2[1] << 24;
    } else {
        fprintf(stderr, "omendb: vimport: %s: unknown .npy version %u\n", file, pre[6]);
        return EX_ERR;
    }
    if (hlen > 1 << 20) goto bad;
    char *h = malloc(hlen + 1);
    if (!h) return EX_ERR;
    if (fread(h, 1, hlen, f) != hlen) {
        free(h);
        goto bad;
    }
    h[hlen] = 0;
    const char *d = strstr(h, "'descr':");
    const char *fo = strstr(h, "'fortran_order':");
    const char *sh = strstr(h, "'shape':");
    int ok = d && fo && sh;
    if (ok) {
        d += 8;
        while (*d == ' ') d++;
        ok = !strncmp(d, "'<f4'", 5);
        if (!ok) fprintf(stderr, "omendb: vimport: %s: the array must be float32 (descr '<f4')\n", file);
    }
    if (ok) {
        fo += 16;
        while (*fo == ' ') fo++;
        ok = !strncmp(fo, "False", 5);
        if (!ok) fprintf(stderr, "omendb: vimport: %s: the array must be in C order\n", file);
    }
    if (ok) {
        sh += 8;
        while (*sh == ' ') sh++;
        unsigned long long r, c;
        int used = 0;
        ok = sscanf(sh, "(%llu, %llu)%n", &r, &c, &used) == 2 && used > 0;
        if (!ok) fprintf(stderr, "omendb: vimport: %s: the array must be 2-D (rows, dim)\n", file);
        if (ok && (c == 0 || c > OMEN_VSET_MAX_DIM)) {
            fprintf(stderr, "omendb: vimport: %s: dimension %llu is out of range\n", file, c);
            ok = 0;
        }
        vf->rows = r;
        vf->dim = (uint32_t)c;
    }
    free(h);
    if (!ok) return EX_ERR;
    return EX_OK;
bad:
    fprintf(stderr, "omendb: vimport: %s: truncated or malformed .npy header\n", file);
    return EX_ERR;
}

static int vfile_open(const char *file, vfile *vf)
{
    memset(vf, 0, sizeof *vf);
    vf->f = fopen(file, "rb");
    if (!vf->f) {
        fprintf(stderr, "omendb: vimport: cannot open %s: %s\n", file, strerror(errno));
        return EX_ERR;
    }
    unsigned char magic[6];
    size_t got = fread(magic, 1, 6, vf->f);
    rewind(vf->f);
    int ex;
    if (got == 6 && !memcmp(magic, "\x93NUMPY", 6)) {
        ex = npy_header(file, vf->f, vf);
        if (ex == EX_OK) {
            /* the data must be all there: a short file would import a prefix */
            struct stat st;
            long pos = ftell(vf->f);
            if (fstat(fileno(vf->f), &st) == 0 && pos >= 0 &&
                (uint64_t)st.st_size - (uint64_t)pos < vf->rows * vf->dim * 4) {
                fprintf(stderr, "omendb: vimport: %s: truncated (%" PRIu64 " rows of %u floats announced)\n",
                        file, vf->rows, vf->dim);
                ex = EX_ERR;
            }
        }
    } else {
        size_t n = strlen(file);
        if (n < 6 || strcmp(file + n - 6, ".fvecs")) {
            fprintf(stderr, "omendb: vimport: %s: not a .npy file, and not named .fvecs\n", file);
            ex = EX_ERR;
        } else {
            vf->fvecs = 1;
            int32_t d;
            struct stat st;
            ex = EX_ERR;
            if (fstat(fileno(vf->f), &st) != 0) {
                fprintf(stderr, "omendb: vimport: %s: %s\n", file, strerror(errno));
            } else if (st.st_size == 0) {
                fprintf(stderr, "omendb: vimport: %s: empty file\n", file);
            } else if (fread(&d, 4, 1, vf->f) != 1 || d <= 0 || (uint32_t)d > OMEN_VSET_MAX_DIM) {
                fprintf(stderr, "omendb: vimport: %s: bad dimension in the first record\n", file);
            } else if ((uint64_t)st.st_size % (4 + 4 * (uint64_t)d) != 0) {
                fprintf(stderr, "omendb: vimport: %s: size is not a whole number of %d-float records\n",
                        file, d);
            } else {
                vf->dim = (uint32_t)d;
                vf->rows = (uint64_t)st.st_size / (4 + 4 * (uint64_t)d);
                rewind(vf->f);
                ex = EX_OK;
            }
        }
    }
    if (ex != EX_OK) {
        fclose(vf->f);
        vf->f = NULL;
    }
    return ex;
}

/* Read n rows into out (n * dim floats); row0 numbers the first for messages. */
static int vfile_read(const char *file, vfile *vf, float *out, size_t n, uint64_t row0)
{
    if (!vf->fvecs) {
        if (fread(out, 4 * (size_t)vf->dim, n, vf->f) != n) goto short_read;
        return EX_OK;
    }
    for (size_t i = 0; i < n; i++) {
        int32_t d;
        if (fread(&d, 4, 1, vf->f) != 1) goto short_read;
        if ((uint32_t)d != vf->dim) {
            fprintf(stderr, "omendb: vimport: %s: record %" PRIu64 " has dimension %d, the first has %u\n", file,
                    row0 + i, d, vf->dim);
            return EX_ERR;
        }
        if (fread(out + i * vf->dim, 4, vf->dim, vf->f) != vf->dim) goto short_read;
    }
    return EX_OK;
short_read:
    fprintf(stderr, "omendb: vimport: %s: short read near row %" PRIu64 "\n", file, row0);
    return EX_ERR;
}

/* Ids, one per line (escapes as in keys), from ids_file; NULL: row numbers. */
static int count_lines(const char *file, uint64_t *n)
{
    FILE *f = fopen(file, "rb");
    if (!f) {
        fprintf(stderr, "omendb: vimport: cannot open %s: %s\n", file, strerror(errno));
        return EX_ERR;
    }
    char *line = NULL;
    size_t cap = 0;
    *n = 0;
    while (getline(&line, &cap, f) >= 0)
        (*n)++;
    free(line);
    fclose(f);
    return EX_OK;
}

int vcmd_import(session *s, const sbuf *a, int argc)
{
    char name[OMEN_VSET_MAX_NAME + 1];
    int ex = set_name("vimport", &a[1], name);
    if (ex) return ex;
    char *file = strndup((const char *)a[2].p ? (const char *)a[2].p : "", a[2].len);
    char *idfile = argc >= 3 ? strndup((const char *)a[3].p ? (const char *)a[3].p : "", a[3].len) : NULL;
    if (!file || (argc >= 3 && !idfile)) {
        free(file);
        free(idfile);
        return EX_ERR;
    }
    vfile vf;
    FILE *ids = NULL;
    float *buf = NULL;
    const void **idp = NULL;
    size_t *idl = NULL;
    sbuf line = {0}, tok = {0};
    char *lp = NULL;
    size_t lcap = 0;
    uint64_t done = 0;
    progress bar;
    memset(&bar, 0, sizeof bar);
    double t0 = now_sec();
    if ((ex = vfile_open(file, &vf))) goto out_nofile;
    if (idfile) {
        uint64_t nl;
        if ((ex = count_lines(idfile, &nl))) goto out;
        if (nl != vf.rows) {
            fprintf(stderr, "omendb: vimport: %s has %" PRIu64 " lines, %s has %" PRIu64 " vectors\n", idfile, nl,
                    file, vf.rows);
            ex = EX_USAGE;
            goto out;
        }
        ids = fopen(idfile, "rb");
        if (!ids) {
            fprintf(stderr, "omendb: vimport: cannot open %s: %s\n", idfile, strerror(errno));
            ex = EX_ERR;
            goto out;
        }
    }
    omen_vset *vs;
    if ((ex = get_set(s, "vimport", name, vf.dim, &vs))) goto out;
    if ((ex = check_dim("vimport", vs, vf.dim))) goto out;
    size_t batch = g_opt.batch;
    buf = malloc(batch * vf.dim * sizeof *buf);
    idp = malloc(batch * sizeof *idp);
    idl = malloc(batch * sizeof *idl);
    if (!buf || !idp || !idl) {
        fputs("omendb: out of memory\n", stderr);
        ex = EX_ERR;
        goto out;
    }
    progress_start(&bar, "vimport", vf.rows, 0, progress_wanted());
    while (done < vf.rows) {
        size_t n = vf.rows - done < batch ? (size_t)(vf.rows - done) : batch;
        if ((ex = vfile_read(file, &vf, buf, n, done))) break;
        /* the ids of this batch, packed into one buffer */
        line.len = 0;
        size_t *off = idl; /* offsets first, turned into lengths below */
        for (size_t i = 0; i < n; i++) {
            off[i] = line.len;
            if (ids) {
                ssize_t got = getline(&lp, &lcap, ids);
                size_t len = got > 0 ? (size_t)got : 0;
                if (len && lp[len - 1] == '\n') len--;
                if (len && lp[len - 1] == '\r') len--;
                if (got < 0 || unescape(lp, len, &tok) != 0) {
                    fprintf(stderr, "omendb: vimport: %s:%" PRIu64 ": bad id line\n", idfile, done + i + 1);
                    ex = EX_ERR;
                    break;
                }
            } else {
                char num[24];
                tok.len = 0;
                int k = snprintf(num, sizeof num, "%" PRIu64, done + i);
                for (int j = 0; j < k; j++) sb_putc(&tok, (unsigned char)num[j]);
            }
            ukey id;
            if (make_key(&tok, &id) != 0) {
                ex = EX_USAGE;
                break;
            }
            sb_reserve(&line, id.n);
            memcpy(line.p + line.len, id.p, id.n);
            line.len += id.n;
        }
        if (ex) break;
        for (size_t i = 0; i < n; i++) {
            size_t end = i + 1 < n ? off[i + 1] : line.len;
            idp[i] = line.p + off[i];
            off[i] = end - off[i];
        }
        int rc = omen_vset_add_many(vs, n, idp, idl, buf, vf.dim, NULL, NULL, OMEN_SYNC_DEFAULT);
        if (rc != OMEN_OK) {
            ex = report(rc, "vimport: rows %" PRIu64 "..%" PRIu64, done, done + n - 1);
            break;
        }
        done += n;
        progress_update(&bar, done, done);
    }
    if (ex == EX_OK) {
        progress_end(&bar);
    } else {
        progress_hide(&bar);
        fprintf(stderr, "omendb: vimport: %" PRIu64 " vectors were written before the error\n", done);
    }
    if (ex == EX_OK && !g_opt.quiet) {
        double dt = now_sec() - t0;
        printf("imported %" PRIu64 " vectors of dimension %u into %s in %.3f s (%.0f vectors/s)\n", done, vf.dim,
               name, dt, dt > 0 ? (double)done / dt : 0.0);
    }
out:
    fclose(vf.f);
out_nofile:
    if (ids) fclose(ids);
    free(buf);
    free(idp);
    free(idl);
    free(lp);
    sb_free(&line);
    sb_free(&tok);
    free(file);
    free(idfile);
    return ex;
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
