/*
 * testutil.c -- the shared helpers of the robustness suites (testutil.h):
 * PRNG knobs, scratch directories, the tu_map oracle and the database
 * checkers.  Compiled once into the testing library.
 */
#include "testutil.h"

uint64_t tu_env_u64(const char *name, uint64_t dflt)
{
    const char *s = getenv(name);
    if (!s || !*s)
        return dflt;
    return strtoull(s, NULL, 0);
}

atomic_long *tu_thread_errors(void)
{
    static atomic_long n;
    return &n;
}

void tu_sleep_ns(long ns)
{
    struct timespec ts = {ns / 1000000000L, ns % 1000000000L};
    nanosleep(&ts, NULL);
}

const char *tu_base_dir(void)
{
    static char base[PATH_MAX];
    if (!base[0]) {
        const char *e = getenv("OMEN_TEST_DIR");
        if (e && *e) {
            snprintf(base, sizeof base, "%s", e);
        } else {
            snprintf(base, sizeof base, "/tmp/omentest-manual.XXXXXX");
            if (!mkdtemp(base)) {
                perror("mkdtemp");
                abort();
            }
        }
    }
    return base;
}

void tu_join(char *out, size_t n, const char *a, const char *b)
{
    size_t al = strlen(a), bl = strlen(b);
    if (al + 1 + bl + 1 > n)
        abort();
    memcpy(out, a, al);
    out[al] = '/';
    memcpy(out + al + 1, b, bl + 1);
}

int tu_rmrf(const char *path)
{
    struct stat st;
    if (lstat(path, &st) != 0)
        return errno == ENOENT ? 0 : -1;
    if (S_ISDIR(st.st_mode)) {
        DIR *d = opendir(path);
        if (!d)
            return -1;
        struct dirent *de;
        char sub[PATH_MAX];
        while ((de = readdir(d)) != NULL) {
            if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
                continue;
            tu_join(sub, sizeof sub, path, de->d_name);
            tu_rmrf(sub);
        }
        closedir(d);
        return rmdir(path);
    }
    return unlink(path);
}

void tu_path(char *out, size_t n, const char *name)
{
    tu_join(out, n, tu_base_dir(), name);
    tu_rmrf(out);
}

int tu_mkdtemp(char *dir, size_t n, const char *tag)
{
    const char *t = getenv("TMPDIR");
    snprintf(dir, n, "%s/%s.XXXXXX", t && *t ? t : "/tmp", tag);
    return mkdtemp(dir) ? 0 : -1;
}

int tu_read_file(const char *path, unsigned char **buf, size_t *len)
{
    *buf = NULL;
    *len = 0;
    FILE *f = fopen(path, "rb");
    if (!f)
        return -1;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    *buf = malloc(n > 0 ? (size_t)n : 1);
    *len = n > 0 ? fread(*buf, 1, (size_t)n, f) : 0;
    fclose(f);
    return 0;
}

int tu_write_file(const char *path, const void *buf, size_t len)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return -1;
    size_t w = len ? fwrite(buf, 1, len, f) : 0;
    fclose(f);
    return w == len ? 0 : -1;
}

int tu_copy_dir(const char *src, const char *dst)
{
    tu_rmrf(dst);
    if (mkdir(dst, 0755) != 0)
        return -1;
    DIR *d = opendir(src);
    if (!d)
        return -1;
    struct dirent *de;
    char a[PATH_MAX], b[PATH_MAX];
    int rc = 0;
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.' && (!de->d_name[1] || (de->d_name[1] == '.' && !de->d_name[2])))
            continue;
        tu_join(a, sizeof a, src, de->d_name);
        tu_join(b, sizeof b, dst, de->d_name);
        struct stat st;
        if (stat(a, &st) != 0 || !S_ISREG(st.st_mode))
            continue;
        unsigned char *buf;
        size_t len;
        if (tu_read_file(a, &buf, &len) != 0 || tu_write_file(b, buf, len) != 0)
            rc = -1;
        else
            free(buf);
    }
    closedir(d);
    return rc;
}

static int tu_strcmp_p(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

size_t tu_list(const char *dir, const char *suffix, char ***out)
{
    DIR *d = opendir(dir);
    size_t n = 0, cap = 16;
    char **v = malloc(cap * sizeof *v);
    if (d) {
        struct dirent *de;
        while ((de = readdir(d)) != NULL) {
            size_t l = strlen(de->d_name), sl = suffix ? strlen(suffix) : 0;
            if (de->d_name[0] == '.')
                continue;
            if (suffix && (l < sl || strcmp(de->d_name + l - sl, suffix) != 0))
                continue;
            if (n == cap)
                v = realloc(v, (cap *= 2) * sizeof *v);
            v[n++] = strdup(de->d_name);
        }
        closedir(d);
    }
    qsort(v, n, sizeof *v, tu_strcmp_p);
    *out = v;
    return n;
}

void tu_list_free(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

int tu_keycmp(const void *a, size_t al, const void *b, size_t bl)
{
    size_t m = al < bl ? al : bl;
    int c = m ? memcmp(a, b, m) : 0;
    if (c)
        return c;
    return al < bl ? -1 : al > bl ? 1 : 0;
}

void *tu_dup(const void *p, size_t n)
{
    void *q = malloc(n ? n : 1);
    if (n)
        memcpy(q, p, n);
    return q;
}

size_t tu_map_lb(const tu_map *m, const void *k, size_t kl)
{
    size_t lo = 0, hi = m->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (tu_keycmp(m->a[mid].k, m->a[mid].kl, k, kl) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

const tu_kv *tu_map_get(const tu_map *m, const void *k, size_t kl)
{
    size_t i = tu_map_lb(m, k, kl);
    if (i < m->n && tu_keycmp(m->a[i].k, m->a[i].kl, k, kl) == 0)
        return &m->a[i];
    return NULL;
}

void tu_map_put(tu_map *m, const void *k, size_t kl, const void *v, size_t vl)
{
    size_t i = tu_map_lb(m, k, kl);
    if (i < m->n && tu_keycmp(m->a[i].k, m->a[i].kl, k, kl) == 0) {
        free(m->a[i].v);
        m->a[i].v = tu_dup(v, vl);
        m->a[i].vl = vl;
        return;
    }
    if (m->n == m->cap) {
        m->cap = m->cap ? m->cap * 2 : 64;
        m->a = realloc(m->a, m->cap * sizeof *m->a);
    }
    memmove(&m->a[i + 1], &m->a[i], (m->n - i) * sizeof *m->a);
    m->a[i].k = tu_dup(k, kl);
    m->a[i].kl = kl;
    m->a[i].v = tu_dup(v, vl);
    m->a[i].vl = vl;
    m->n++;
}

void tu_map_del(tu_map *m, const void *k, size_t kl)
{
    size_t i = tu_map_lb(m, k, kl);
    if (i < m->n && tu_keycmp(m->a[i].k, m->a[i].kl, k, kl) == 0) {
        free(m->a[i].k);
        free(m->a[i].v);
        memmove(&m->a[i], &m->a[i + 1], (m->n - i - 1) * sizeof *m->a);
        m->n--;
    }
}

void tu_map_clear(tu_map *m)
{
    for (size_t i = 0; i < m->n; i++) {
        free(m->a[i].k);
        free(m->a[i].v);
    }
    free(m->a);
    memset(m, 0, sizeof *m);
}

void tu_map_copy(tu_map *dst, const tu_map *src)
{
    memset(dst, 0, sizeof *dst);
    dst->cap = src->n ? src->n : 1;
    dst->a = malloc(dst->cap * sizeof *dst->a);
    for (size_t i = 0; i < src->n; i++) {
        dst->a[i].k = tu_dup(src->a[i].k, src->a[i].kl);
        dst->a[i].kl = src->a[i].kl;
        dst->a[i].v = tu_dup(src->a[i].v, src->a[i].vl);
        dst->a[i].vl = src->a[i].vl;
    }
    dst->n = src->n;
}

int tu_map_equal(const tu_map *a, const tu_map *b)
{
    if (a->n != b->n)
        return 0;
    for (size_t i = 0; i < a->n; i++)
        if (tu_keycmp(a->a[i].k, a->a[i].kl, b->a[i].k, b->a[i].kl) != 0 ||
            tu_keycmp(a->a[i].v, a->a[i].vl, b->a[i].v, b->a[i].vl) != 0)
            return 0;
    return 1;
}

void tu_fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n");
    fail();
}

const char *tu_fmt(const void *p, size_t n, char *buf, size_t bn)
{
    const unsigned char *s = p;
    size_t o = 0;
    for (size_t i = 0; i < n && o + 5 < bn; i++) {
        if (s[i] >= 32 && s[i] < 127)
            buf[o++] = (char)s[i];
        else
            o += (size_t)snprintf(buf + o, bn - o, "\\x%02x", s[i]);
    }
    buf[o] = 0;
    return buf;
}

void tu_check_gets(omen_db *db, const omen_snapshot *snap, const tu_map *m)
{
    char b1[128];
    for (size_t i = 0; i < m->n; i++) {
        void *v = NULL;
        size_t vl = 0;
        int rc = omen_get(db, snap, m->a[i].k, m->a[i].kl, &v, &vl);
        if (rc != OMEN_OK)
            tu_fail("get %s: %s (%s)", tu_fmt(m->a[i].k, m->a[i].kl, b1, sizeof b1),
                    omen_strerror(rc), omen_last_error());
        if (vl != m->a[i].vl || (vl && memcmp(v, m->a[i].v, vl) != 0))
            tu_fail("get %s: wrong value (len %zu, want %zu)",
                    tu_fmt(m->a[i].k, m->a[i].kl, b1, sizeof b1), vl, m->a[i].vl);
        omen_free(v);
        /* Probe a neighbour that is absent from the oracle. */
        unsigned char probe[300];
        size_t pl = m->a[i].kl < 290 ? m->a[i].kl : 290;
        memcpy(probe, m->a[i].k, pl);
        probe[pl++] = 0;
        if (!tu_map_get(m, probe, pl)) {
            v = (void *)1;
            rc = omen_get(db, snap, probe, pl, &v, &vl);
            if (rc != OMEN_NOTFOUND)
                tu_fail("get of absent %s: %s", tu_fmt(probe, pl, b1, sizeof b1),
                        omen_strerror(rc));
            assert_null(v);
        }
    }
}

void tu_check_scan(omen_db *db, const omen_snapshot *snap, const tu_map *m,
                   const void *lo, size_t lol, const void *hi, size_t hil)
{
    omen_iter_options io;
    memset(&io, 0, sizeof io);
    io.snapshot = snap;
    io.lower = lo;
    io.lower_len = lol;
    io.upper = hi;
    io.upper_len = hil;
    size_t first = lo ? tu_map_lb(m, lo, lol) : 0;
    size_t end = hi ? tu_map_lb(m, hi, hil) : m->n;
    if (end < first)
        end = first;
    omen_iter *it = NULL;
    TU_OK(omen_iter_create(db, &io, &it));
    char b1[128], b2[128];
    size_t i = first;
    for (omen_iter_seek_first(it); omen_iter_valid(it); omen_iter_next(it), i++) {
        size_t kl, vl;
        const void *k = omen_iter_key(it, &kl);
        const void *v = omen_iter_value(it, &vl);
        if (i >= end)
            tu_fail("forward scan: extra key %s", tu_fmt(k, kl, b1, sizeof b1));
        if (tu_keycmp(k, kl, m->a[i].k, m->a[i].kl) != 0)
            tu_fail("forward scan: key %s, want %s", tu_fmt(k, kl, b1, sizeof b1),
                    tu_fmt(m->a[i].k, m->a[i].kl, b2, sizeof b2));
        if (tu_keycmp(v, vl, m->a[i].v, m->a[i].vl) != 0)
            tu_fail("forward scan: wrong value at %s", tu_fmt(k, kl, b1, sizeof b1));
    }
    TU_OK(omen_iter_status(it));
    if (i != end)
        tu_fail("forward scan: %zu keys, want %zu", i - first, end - first);
    i = end;
    for (omen_iter_seek_last(it); omen_iter_valid(it); omen_iter_prev(it)) {
        size_t kl, vl;
        const void *k = omen_iter_key(it, &kl);
        const void *v = omen_iter_value(it, &vl);
        if (i == first)
            tu_fail("backward scan: extra key %s", tu_fmt(k, kl, b1, sizeof b1));
        i--;
        if (tu_keycmp(k, kl, m->a[i].k, m->a[i].kl) != 0)
            tu_fail("backward scan: key %s, want %s", tu_fmt(k, kl, b1, sizeof b1),
                    tu_fmt(m->a[i].k, m->a[i].kl, b2, sizeof b2));
        if (tu_keycmp(v, vl, m->a[i].v, m->a[i].vl) != 0)
            tu_fail("backward scan: wrong value at %s", tu_fmt(k, kl, b1, sizeof b1));
    }
    TU_OK(omen_iter_status(it));
    if (i != first)
        tu_fail("backward scan: %zu keys missing at the front", i - first);
    omen_iter_destroy(it);
}

int tu_dump(omen_db *db, const omen_snapshot *snap, tu_map *out)
{
    memset(out, 0, sizeof *out);
    omen_iter_options io;
    memset(&io, 0, sizeof io);
    io.snapshot = snap;
    omen_iter *it = NULL;
    int rc = omen_iter_create(db, &io, &it);
    if (rc != OMEN_OK)
        return rc;
    const void *pk = NULL;
    size_t pkl = 0;
    for (omen_iter_seek_first(it); omen_iter_valid(it); omen_iter_next(it)) {
        size_t kl, vl;
        const void *k = omen_iter_key(it, &kl);
        const void *v = omen_iter_value(it, &vl);
        if (out->n && tu_keycmp(pk, pkl, k, kl) >= 0) {
            omen_iter_destroy(it);
            return TU_ORDER_ERR;
        }
        tu_map_put(out, k, kl, v, vl);
        pk = out->a[out->n - 1].k;
        pkl = out->a[out->n - 1].kl;
    }
    rc = omen_iter_status(it);
    omen_iter_destroy(it);
    return rc;
}

static void tu_report_line(void *ctx, const char *line)
{
    if (ctx)
        fprintf(stderr, "  check: %s\n", line);
}

int tu_check_db(const char *path, int verbose)
{
    return omen_check(path, tu_report_line, verbose ? (void *)1 : NULL);
}

void tu_default_opts(omen_options *o)
{
    omen_options_init(o);
}
