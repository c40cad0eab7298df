/*
 * fio_fault.c -- fault-injecting fio env (model and API: fio_fault.h).
 *
 * State, all under `mu`:
 *  - the armed failure point and the operation/failure counters;
 *  - per inode, the synced length (fdatasync model);
 *  - every path (normalised) a file was opened, created or renamed to, so
 *    power loss can find the files to cut back;
 *  - the pending directory operations (create / rename / unlink) not yet
 *    covered by a fio_sync_dir, oldest first, each with the hard-link backup
 *    needed to undo it.
 * Namespace operations (open, rename, unlink) hold the mutex across their
 * system calls so their bookkeeping is atomic with them; data operations
 * (read, write, sync) run their system calls outside it.
 * This is test infrastructure: its own bookkeeping uses plain malloc so
 * that util_mem_fail_after() only hits the engine.
 */
#include "support/fio_fault.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/err.h"

#define BACKUP_PREFIX ".fiofault."

typedef struct {
    dev_t dev;
    ino_t ino;
    uint64_t synced;
    uint64_t dirty_lo; /* lowest offset written since the last sync, or UINT64_MAX */
    uint64_t wgen;     /* writes seen: a sync clears dirty_lo only if none raced it */
} ino_ent;

enum { P_CREATE, P_RENAME, P_UNLINK };

typedef struct {
    int kind;
    long seq;
    char *path;   /* created / renamed-from / unlinked path */
    char *path2;  /* renamed-to path */
    char *backup; /* hard link to the replaced / unlinked file, or NULL */
    char *dir1, *dir2;
    int synced1, synced2;
} pend;

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static int armed_kinds, armed_flags;
static long armed_n, nops, nmatch, nfail;
static uint64_t rng = 0x9e3779b97f4a7c15ull;

static ino_ent *inos;
static size_t ninos, cap_inos;
static char **paths;
static size_t npaths, cap_paths;
static pend *pends;
static size_t npend, cap_pend;
static long next_seq = 1;
static unsigned long backup_counter;

static const fio_env *px(void)
{
    return fio_posix_env();
}

/* ---- helpers (callers hold mu unless noted) ------------------------------ */

static void *xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n);
    if (!q) abort(); /* test infrastructure: no sane way to continue */
    return q;
}

static char *xstrdup(const char *s)
{
    char *d = strdup(s);
    if (!d) abort();
    return d;
}

/* Lexical normalisation: collapse "//", drop "." components and trailing
 * slashes.  ".." is kept as is. */
static char *norm(const char *path)
{
    size_t n = strlen(path);
    char *out = xrealloc(NULL, n + 2);
    size_t o = 0;
    int abs = path[0] == '/';
    const char *p = path;
    if (abs) out[o++] = '/';
    while (*p) {
        while (*p == '/') p++;
        if (!*p) break;
        const char *s = p;
        while (*p && *p != '/') p++;
        size_t len = (size_t)(p - s);
        if (len == 1 && s[0] == '.') continue;
        if (o > (size_t)abs) out[o++] = '/';
        memcpy(out + o, s, len);
        o += len;
    }
    if (o == 0) out[o++] = '.';
    out[o] = 0;
    return out;
}

static char *dir_of(const char *normpath)
{
    const char *slash = strrchr(normpath, '/');
    if (!slash) return xstrdup(".");
    if (slash == normpath) return xstrdup("/");
    size_t n = (size_t)(slash - normpath);
    char *d = xrealloc(NULL, n + 1);
    memcpy(d, normpath, n);
    d[n] = 0;
    return d;
}

static ino_ent *ino_find(dev_t dev, ino_t ino)
{
    for (size_t i = 0; i < ninos; i++)
        if (inos[i].dev == dev && inos[i].ino == ino) return &inos[i];
    return NULL;
}

static void ino_set(dev_t dev, ino_t ino, uint64_t synced)
{
    ino_ent *e = ino_find(dev, ino);
    if (!e) {
        if (ninos == cap_inos) {
            cap_inos = cap_inos ? cap_inos * 2 : 64;
            inos = xrealloc(inos, cap_inos * sizeof *inos);
        }
        e = &inos[ninos++];
        e->dev = dev;
        e->ino = ino;
        e->wgen = 0;
    }
    e->synced = synced;
    e->dirty_lo = UINT64_MAX;
}

/* Remember that f is being written at off (before the write, so that a sync
 * racing with it cannot count it as durable). */
static void note_write(fio_file *f, uint64_t off)
{
    struct stat st;
    if (fstat(fio_file_fd(f), &st) != 0) return;
    pthread_mutex_lock(&mu);
    ino_ent *e = ino_find(st.st_dev, st.st_ino);
    if (e) {
        if (off < e->dirty_lo) e->dirty_lo = off;
        e->wgen++;
    }
    pthread_mutex_unlock(&mu);
}

static void path_add(const char *np)
{
    for (size_t i = 0; i < npaths; i++)
        if (!strcmp(paths[i], np)) return;
    if (npaths == cap_paths) {
        cap_paths = cap_paths ? cap_paths * 2 : 64;
        paths = xrealloc(paths, cap_paths * sizeof *paths);
    }
    paths[npaths++] = xstrdup(np);
}

static pend *pend_add(int kind)
{
    if (npend == cap_pend) {
        cap_pend = cap_pend ? cap_pend * 2 : 32;
        pends = xrealloc(pends, cap_pend * sizeof *pends);
    }
    pend *p = &pends[npend++];
    memset(p, 0, sizeof *p);
    p->kind = kind;
    p->seq = next_seq++;
    return p;
}

static void pend_free(pend *p, int drop_backup)
{
    if (drop_backup && p->backup) unlink(p->backup);
    free(p->path);
    free(p->path2);
    free(p->backup);
    free(p->dir1);
    free(p->dir2);
}

/* Hard-link `path` (which exists) to a fresh hidden name in its directory. */
static char *make_backup(const char *np)
{
    char *d = dir_of(np);
    size_t n = strlen(d) + 64;
    char *b = xrealloc(NULL, n);
    snprintf(b, n, "%s/" BACKUP_PREFIX "%lu.%ld", d, ++backup_counter, (long)getpid());
    free(d);
    if (link(np, b) != 0) {
        free(b);
        return NULL;
    }
    return b;
}

static uint64_t rnd(void)
{
    /* xorshift64*: deterministic from fio_fault_seed. */
    rng ^= rng >> 12;
    rng ^= rng << 25;
    rng ^= rng >> 27;
    return rng * 0x2545F4914F6CDD1Dull;
}

/* Count an operation of `kind`.  Returns 0, or (message set) 1 if it must
 * fail, 3 if it must fail after writing a prefix (FIO_FAULT_PARTIAL). */
static int inject_locked(int kind, const char *what, const char *path)
{
    if (!armed_kinds || armed_n <= 0) {
        nops++;
        return 0;
    }
    if (!(armed_kinds & kind)) return 0;
    nops++;
    nmatch++;
    if (nmatch == armed_n || (nmatch > armed_n && (armed_flags & FIO_FAULT_STICKY))) {
        nfail++;
        util_seterr_errno(OMEN_IO, EIO, "fio: injected fault: %s %s", what, path);
        return (armed_flags & FIO_FAULT_PARTIAL) ? 3 : 1;
    }
    return 0;
}

static int inject(int kind, const char *what, const char *path)
{
    pthread_mutex_lock(&mu);
    int r = inject_locked(kind, what, path);
    pthread_mutex_unlock(&mu);
    return r;
}

/* ---- env operations ------------------------------------------------------ */

static int ff_open(const char *path, int flags, fio_file **out)
{
    pthread_mutex_lock(&mu);
    int rc;
    if (inject_locked(FIO_FAULT_OPEN, "open", path)) {
        rc = OMEN_IO;
        goto out;
    }
    int created = 0;
    if (flags & FIO_CREATE) {
        /* Find out atomically whether this open creates the file. */
        rc = px()->open(path, flags | FIO_EXCL, out);
        if (rc == OMEN_EXISTS && !(flags & FIO_EXCL))
            rc = px()->open(path, flags & ~FIO_CREATE, out);
        else if (rc == OMEN_OK)
            created = 1;
    } else {
        rc = px()->open(path, flags, out);
    }
    if (rc) goto out;
    struct stat st;
    if (fstat(fio_file_fd(*out), &st) == 0) {
        ino_ent *e = ino_find(st.st_dev, st.st_ino);
        if (created || (flags & FIO_TRUNC))
            ino_set(st.st_dev, st.st_ino, 0); /* fresh inode, or truncate: durable now */
        else if (!e)
            ino_set(st.st_dev, st.st_ino, (uint64_t)st.st_size); /* predates us: durable */
    }
    char *np = norm(path);
    path_add(np);
    if (created) {
        pend *p = pend_add(P_CREATE);
        p->path = np;
        p->dir1 = dir_of(np);
        p->synced2 = 1;
    } else {
        free(np);
    }
out:
    pthread_mutex_unlock(&mu);
    return rc;
}

static int ff_pread(fio_file *f, void *buf, size_t n, uint64_t off, size_t *got)
{
    if (inject(FIO_FAULT_READ, "read", fio_file_path(f))) return OMEN_IO;
    return px()->pread(f, buf, n, off, got);
}

static int ff_pwrite(fio_file *f, const void *buf, size_t n, uint64_t off)
{
    int inj = inject(FIO_FAULT_WRITE, "write", fio_file_path(f));
    if (inj) {
        if (inj == 3 && n / 2) {
            char saved[512];
            snprintf(saved, sizeof saved, "%s", omen_last_error());
            note_write(f, off);
            px()->pwrite(f, buf, n / 2, off);
            util_seterr(OMEN_IO, "%s", saved);
        }
        return OMEN_IO;
    }
    note_write(f, off);
    return px()->pwrite(f, buf, n, off);
}

static int ff_appendv(fio_file *f, const struct iovec *iov, int iovcnt)
{
    int inj = inject(FIO_FAULT_WRITE, "write", fio_file_path(f));
    if (inj) {
        if (inj == 3) {
            /* Write the first half of the concatenation, then fail. */
            size_t total = 0;
            for (int i = 0; i < iovcnt; i++) total += iov[i].iov_len;
            size_t left = total / 2;
            struct iovec *v = xrealloc(NULL, sizeof *v * (size_t)(iovcnt ? iovcnt : 1));
            int k = 0;
            for (int i = 0; i < iovcnt && left; i++) {
                v[k].iov_base = iov[i].iov_base;
                v[k].iov_len = iov[i].iov_len < left ? iov[i].iov_len : left;
                left -= v[k].iov_len;
                k++;
            }
            char saved[512];
            snprintf(saved, sizeof saved, "%s", omen_last_error());
            note_write(f, fio_file_end(f));
            if (k) px()->appendv(f, v, k);
            util_seterr(OMEN_IO, "%s", saved);
            free(v);
        }
        return OMEN_IO;
    }
    note_write(f, fio_file_end(f));
    return px()->appendv(f, iov, iovcnt);
}

/* Writes through the window still pass ff_appendv / ff_pwrite first, so
 * they are counted, failed and tracked like any other write. */
static int ff_map_window(fio_file *f, uint64_t off, uint64_t len)
{
    return px()->map_window(f, off, len);
}

static int ff_allocate(fio_file *f, uint64_t off, uint64_t len)
{
    if (inject(FIO_FAULT_WRITE, "fallocate", fio_file_path(f))) return OMEN_IO;
    return px()->allocate(f, off, len);
}

static int ff_truncate(fio_file *f, uint64_t size)
{
    if (inject(FIO_FAULT_WRITE, "truncate", fio_file_path(f))) return OMEN_IO;
    int rc = px()->truncate(f, size);
    if (rc) return rc;
    struct stat st;
    pthread_mutex_lock(&mu);
    if (fstat(fio_file_fd(f), &st) == 0) {
        ino_ent *e = ino_find(st.st_dev, st.st_ino);
        if (e && e->synced > size) e->synced = size;
    }
    pthread_mutex_unlock(&mu);
    return OMEN_OK;
}

static int ff_sync(fio_file *f)
{
    if (inject(FIO_FAULT_SYNC, "fsync", fio_file_path(f))) return OMEN_IO;
    struct stat st;
    /* Size first: bytes appended while fdatasync runs are not known durable. */
    if (fstat(fio_file_fd(f), &st) != 0)
        return util_seterr_errno(OMEN_IO, errno, "fio: fstat %s", fio_file_path(f));
    pthread_mutex_lock(&mu);
    ino_ent *e0 = ino_find(st.st_dev, st.st_ino);
    uint64_t gen = e0 ? e0->wgen : 0;
    pthread_mutex_unlock(&mu);
    int rc = px()->sync(f);
    if (rc) return rc;
    pthread_mutex_lock(&mu);
    ino_ent *e = ino_find(st.st_dev, st.st_ino);
    if (!e) {
        ino_set(st.st_dev, st.st_ino, (uint64_t)st.st_size);
    } else {
        if ((uint64_t)st.st_size > e->synced) e->synced = (uint64_t)st.st_size;
        if (e->wgen == gen) e->dirty_lo = UINT64_MAX;
    }
    pthread_mutex_unlock(&mu);
    return OMEN_OK;
}

static int ff_size(fio_file *f, uint64_t *size)
{
    return px()->size(f, size);
}

static int ff_close(fio_file *f)
{
    return px()->close(f);
}

static int ff_mmap(fio_file *f, uint64_t len, const void **addr)
{
    return px()->mmap(f, len, addr);
}

static int ff_rename(const char *from, const char *to)
{
    pthread_mutex_lock(&mu);
    int rc = OMEN_IO;
    char *nf = NULL, *nt = NULL, *backup = NULL;
    if (inject_locked(FIO_FAULT_RENAME, "rename", from)) goto out;
    nf = norm(from);
    nt = norm(to);
    struct stat st;
    if (lstat(to, &st) == 0 && !(backup = make_backup(nt))) {
        rc = util_seterr_errno(OMEN_IO, errno, "fio fault env: cannot keep undo link for %s", to);
        goto out;
    }
    rc = px()->rename(from, to);
    if (rc) {
        if (backup) unlink(backup);
        free(backup);
        goto out;
    }
    path_add(nt);
    pend *p = pend_add(P_RENAME);
    p->path = nf;
    p->path2 = nt;
    p->backup = backup;
    p->dir1 = dir_of(nf);
    p->dir2 = dir_of(nt);
    nf = nt = NULL;
out:
    free(nf);
    free(nt);
    pthread_mutex_unlock(&mu);
    return rc;
}

static int ff_unlink(const char *path)
{
    pthread_mutex_lock(&mu);
    int rc = OMEN_IO;
    char *np = NULL, *backup = NULL;
    if (inject_locked(FIO_FAULT_UNLINK, "unlink", path)) goto out;
    np = norm(path);
    struct stat st;
    if (lstat(path, &st) == 0 && S_ISREG(st.st_mode) && !(backup = make_backup(np))) {
        rc = util_seterr_errno(OMEN_IO, errno, "fio fault env: cannot keep undo link for %s", path);
        goto out;
    }
    rc = px()->unlink(path);
    if (rc) {
        if (backup) unlink(backup);
        free(backup);
        goto out;
    }
    pend *p = pend_add(P_UNLINK);
    p->path = np;
    p->backup = backup;
    p->dir1 = dir_of(np);
    p->synced2 = 1;
    np = NULL;
out:
    free(np);
    pthread_mutex_unlock(&mu);
    return rc;
}

static int ff_sync_dir(const char *dir)
{
    pthread_mutex_lock(&mu);
    if (inject_locked(FIO_FAULT_SYNC, "fsync directory", dir)) {
        pthread_mutex_unlock(&mu);
        return OMEN_IO;
    }
    long snapshot = next_seq; /* only operations issued before the fsync */
    pthread_mutex_unlock(&mu);
    int rc = px()->sync_dir(dir);
    if (rc) return rc;
    char *nd = norm(dir);
    pthread_mutex_lock(&mu);
    size_t keep = 0;
    for (size_t i = 0; i < npend; i++) {
        pend *p = &pends[i];
        if (p->seq < snapshot) {
            if (p->dir1 && !strcmp(p->dir1, nd)) p->synced1 = 1;
            if (p->dir2 && !strcmp(p->dir2, nd)) p->synced2 = 1;
        }
        if (p->synced1 && p->synced2)
            pend_free(p, 1);
        else
            pends[keep++] = *p;
    }
    npend = keep;
    pthread_mutex_unlock(&mu);
    free(nd);
    return OMEN_OK;
}

static int ff_mkdir(const char *path)
{
    if (inject(FIO_FAULT_MKDIR, "mkdir", path)) return OMEN_IO;
    return px()->mkdir(path);
}

/* Removing a directory commits the pending operations inside it (their
 * undo links would otherwise keep it non-empty); the removal itself, like
 * mkdir, is durable at once. */
static int ff_rmdir(const char *path)
{
    pthread_mutex_lock(&mu);
    int rc = OMEN_IO;
    if (inject_locked(FIO_FAULT_UNLINK, "rmdir", path)) goto out;
    char *nd = norm(path);
    size_t keep = 0;
    for (size_t i = 0; i < npend; i++) {
        pend *p = &pends[i];
        if ((p->dir1 && !strcmp(p->dir1, nd)) || (p->dir2 && !strcmp(p->dir2, nd)))
            pend_free(p, 1);
        else
            pends[keep++] = *p;
    }
    npend = keep;
    free(nd);
    rc = px()->rmdir(path);
out:
    pthread_mutex_unlock(&mu);
    return rc;
}

static int ff_exists(const char *path)
{
    return px()->exists(path);
}

struct list_ctx {
    int (*fn)(void *ctx, const char *name);
    void *ctx;
};

static int list_filter(void *ctx, const char *name)
{
    struct list_ctx *c = ctx;
    if (!strncmp(name, BACKUP_PREFIX, sizeof BACKUP_PREFIX - 1)) return 0;
    return c->fn(c->ctx, name);
}

static int ff_list_dir(const char *dir, int (*fn)(void *ctx, const char *name), void *ctx)
{
    struct list_ctx c = {fn, ctx};
    return px()->list_dir(dir, list_filter, &c);
}

static int ff_lock(const char *path, fio_file **lock_out)
{
    if (inject(FIO_FAULT_OPEN, "lock", path)) return OMEN_IO;
    return px()->lock(path, lock_out);
}

static const fio_env fault_env = {
    .open = ff_open,
    .pread = ff_pread,
    .pwrite = ff_pwrite,
    .appendv = ff_appendv,
    .sync = ff_sync,
    .size = ff_size,
    .truncate = ff_truncate,
    .allocate = ff_allocate,
    .map_window = ff_map_window,
    .close = ff_close,
    .mmap = ff_mmap,
    .rename = ff_rename,
    .unlink = ff_unlink,
    .sync_dir = ff_sync_dir,
    .mkdir = ff_mkdir,
    .exists = ff_exists,
    .list_dir = ff_list_dir,
    .lock = ff_lock,
    .rmdir = ff_rmdir,
};

/* ---- control ------------------------------------------------------------- */

/* Forget everything; pending operations count as committed. */
static void reset_locked(void)
{
    for (size_t i = 0; i < npend; i++) pend_free(&pends[i], 1);
    free(pends);
    pends = NULL;
    npend = cap_pend = 0;
    for (size_t i = 0; i < npaths; i++) free(paths[i]);
    free(paths);
    paths = NULL;
    npaths = cap_paths = 0;
    free(inos);
    inos = NULL;
    ninos = cap_inos = 0;
    armed_kinds = armed_flags = 0;
    armed_n = nops = nmatch = nfail = 0;
}

void fio_fault_install(void)
{
    pthread_mutex_lock(&mu);
    reset_locked();
    pthread_mutex_unlock(&mu);
    fio_set_env(&fault_env);
}

void fio_fault_remove(void)
{
    fio_set_env(NULL);
    pthread_mutex_lock(&mu);
    reset_locked();
    pthread_mutex_unlock(&mu);
}

void fio_fault_fail_nth(int kinds, long n, int flags)
{
    pthread_mutex_lock(&mu);
    armed_kinds = n > 0 ? kinds : 0;
    armed_n = kinds ? n : 0;
    armed_flags = flags;
    nops = nmatch = nfail = 0;
    pthread_mutex_unlock(&mu);
}

long fio_fault_ops(void)
{
    pthread_mutex_lock(&mu);
    long n = nops;
    pthread_mutex_unlock(&mu);
    return n;
}

long fio_fault_failures(void)
{
    pthread_mutex_lock(&mu);
    long n = nfail;
    pthread_mutex_unlock(&mu);
    return n;
}

void fio_fault_seed(uint64_t seed)
{
    pthread_mutex_lock(&mu);
    rng = seed ? seed : 0x9e3779b97f4a7c15ull;
    pthread_mutex_unlock(&mu);
}

/* Lose the unsynced bytes of one file: everything from `from` (the synced
 * length, or the lowest offset written since the last sync if lower) up to
 * its size.  Unsynced bytes below the synced length were written into space
 * reserved with fio_allocate, so losing them means reading zeros again;
 * unsynced bytes past it are cut off.  DROP loses them all, TEAR keeps a
 * random prefix, SCRAMBLE also garbles random sectors of that prefix. */
static int lose_tail(const char *path, uint64_t size, uint64_t synced, uint64_t from, int mode,
                     uint64_t *final)
{
    uint64_t keep = from;
    if (mode == FIO_POWER_TEAR || mode == FIO_POWER_SCRAMBLE) keep = from + rnd() % (size - from + 1);
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0) return util_seterr_errno(OMEN_IO, errno, "fio fault env: open %s", path);
    int rc = OMEN_OK;
    uint64_t end = keep > synced ? keep : synced;
    if (ftruncate(fd, (off_t)end) != 0)
        rc = util_seterr_errno(OMEN_IO, errno, "fio fault env: truncate %s", path);
    static const unsigned char zeros[512];
    for (uint64_t a = keep; rc == OMEN_OK && a < end;) {
        size_t chunk = end - a < sizeof zeros ? (size_t)(end - a) : sizeof zeros;
        if (pwrite(fd, zeros, chunk, (off_t)a) != (ssize_t)chunk)
            rc = util_seterr_errno(OMEN_IO, errno, "fio fault env: zero %s", path);
        a += chunk;
    }
    if (rc == OMEN_OK && mode == FIO_POWER_SCRAMBLE && keep > from) {
        /* Each 512-byte sector of the kept unsynced bytes is, with
         * probability 1/2, replaced by garbage. */
        for (uint64_t s = from & ~(uint64_t)511; s < keep; s += 512) {
            if (rnd() & 1) continue;
            uint64_t a = s < from ? from : s, b = s + 512 < keep ? s + 512 : keep;
            unsigned char junk[512];
            for (size_t i = 0; i < sizeof junk; i++) junk[i] = (unsigned char)rnd();
            if (pwrite(fd, junk, (size_t)(b - a), (off_t)a) != (ssize_t)(b - a)) {
                rc = util_seterr_errno(OMEN_IO, errno, "fio fault env: scramble %s", path);
                break;
            }
        }
    }
    close(fd);
    *final = end;
    return rc;
}

int fio_fault_power_loss(int mode)
{
    int rc = OMEN_OK;
    pthread_mutex_lock(&mu);
    /* 1. Undo directory operations that no directory fsync covered. */
    for (size_t i = npend; i-- > 0;) {
        pend *p = &pends[i];
        switch (p->kind) {
        case P_CREATE:
            if (unlink(p->path) != 0 && errno != ENOENT && !rc)
                rc = util_seterr_errno(OMEN_IO, errno, "fio fault env: undo create %s", p->path);
            break;
        case P_RENAME:
            if (rename(p->path2, p->path) != 0 && errno != ENOENT && !rc)
                rc = util_seterr_errno(OMEN_IO, errno, "fio fault env: undo rename %s", p->path2);
            if (p->backup && rename(p->backup, p->path2) != 0 && !rc)
                rc = util_seterr_errno(OMEN_IO, errno, "fio fault env: restore %s", p->path2);
            break;
        case P_UNLINK:
            if (p->backup && rename(p->backup, p->path) != 0 && !rc)
                rc = util_seterr_errno(OMEN_IO, errno, "fio fault env: restore %s", p->path);
            break;
        }
        pend_free(p, 1); /* backup already renamed away unless restore failed */
    }
    npend = 0;
    /* 2. Cut every known file back to what was synced. */
    for (size_t i = 0; i < npaths; i++) {
        struct stat st;
        if (lstat(paths[i], &st) != 0 || !S_ISREG(st.st_mode)) continue;
        ino_ent *e = ino_find(st.st_dev, st.st_ino);
        uint64_t size = (uint64_t)st.st_size, final = size;
        uint64_t from = e ? (e->dirty_lo < e->synced ? e->dirty_lo : e->synced) : size;
        if (from > size) from = size;
        if (e && size > from) {
            int r = lose_tail(paths[i], size, e->synced < size ? e->synced : size, from, mode, &final);
            if (r && !rc) rc = r;
        }
        /* 3. What survived is durable from now on. */
        ino_set(st.st_dev, st.st_ino, final);
    }
    pthread_mutex_unlock(&mu);
    return rc;
}

int64_t fio_fault_synced_len(const char *path)
{
    struct stat st;
    int64_t r = -1;
    pthread_mutex_lock(&mu);
    if (path && lstat(path, &st) == 0) {
        ino_ent *e = ino_find(st.st_dev, st.st_ino);
        if (e) r = (int64_t)e->synced;
    }
    pthread_mutex_unlock(&mu);
    return r;
}
