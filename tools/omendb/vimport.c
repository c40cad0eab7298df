/*
 * vimport.c -- `vimport SET FILE [IDS]`: the rows of a .npy file (a 2-D
 * little-endian float32 array in C order, as numpy.save writes it) or an
 * .fvecs file (per row: int32 dimension, then that many float32) added to
 * a vector set, --batch rows per atomic omen_vset_add_many.  Ids are the
 * row numbers or the lines of IDS.  Every header field and the file size
 * are checked before anything is written, so a malformed or truncated file
 * adds nothing.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"

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
    int ex = vset_name_arg("vimport", &a[1], name);
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
    if ((ex = vset_handle(s, "vimport", name, vf.dim, &vs))) goto out;
    if ((ex = vset_check_dim("vimport", vs, vf.dim))) goto out;
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
