/*
 * fio.c -- the file layer: dispatch through the current env, and the posix
 * env that does the real work.
 *
 * Invariants:
 *  - Each fio_file records the env that opened it (set by fio_open/fio_lock
 *    after the env's open returns), so replacing the env never routes an
 *    operation on an existing file to an env that did not create it.
 *  - f->end is the append position: the size at open, moved by writes and
 *    truncates through this handle.  Appends use pwritev at f->end rather
 *    than O_APPEND, because Linux pwrite ignores its offset on O_APPEND files.
 *  - Every failure sets a message naming the path and the OS error.
 */
#include "storage/fio.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/err.h"
#include "util/mem.h"

struct fio_file {
    int fd;
    uint64_t end;
    uint8_t *wmap; /* writable window [wmap_off, wmap_off + wmap_len) or NULL */
    uint64_t wmap_off, wmap_len;
    int wbypass; /* write(2) even inside the window (fio_window_writes) */
    int wready;  /* the window's pages are faulted in for writing        */
    const fio_env *env;
    char *path;
};

static _Atomic(const fio_env *) cur_env;

/* ---- posix env ----------------------------------------------------------- */

static int errno_code(int e)
{
    if (e == ENOENT) return OMEN_NOTFOUND;
    if (e == EEXIST) return OMEN_EXISTS;
    if (e == ENOMEM) return OMEN_NOMEM;
    return OMEN_IO;
}

/* Allocate the handle before any system call, so that an allocation
 * failure never leaves a newly created file behind. */
static fio_file *alloc_file(const char *path)
{
    fio_file *f = util_malloc(sizeof *f);
    char *p = util_strdup(path);
    if (!f || !p) {
        omen_free(f);
        omen_free(p);
        util_seterr(OMEN_NOMEM, "fio: out of memory opening %s", path);
        return NULL;
    }
    f->fd = -1;
    f->end = 0;
    f->wmap = NULL;
    f->wmap_off = f->wmap_len = 0;
    f->wready = 0;
    f->env = NULL;
    f->path = p;
    return f;
}

static void drop_window(fio_file *f)
{
    if (f->wmap) munmap(f->wmap, (size_t)f->wmap_len);
    f->wmap = NULL;
    f->wmap_off = f->wmap_len = 0;
    f->wready = 0;
}

static void free_file(fio_file *f)
{
    drop_window(f);
    omen_free(f->path);
    omen_free(f);
}

static int posix_open(const char *path, int flags, fio_file **out)
{
    int oflags = O_CLOEXEC;
    if (flags & FIO_WRITE)
        oflags |= O_RDWR;
    else
        oflags |= O_RDONLY;
    if (flags & FIO_CREATE) oflags |= O_CREAT;
    if (flags & FIO_TRUNC) oflags |= O_TRUNC;
    if ((flags & FIO_EXCL) && (flags & FIO_CREATE)) oflags |= O_EXCL;
    fio_file *f = alloc_file(path);
    if (!f) return OMEN_NOMEM;
    int fd;
    do {
        fd = open(path, oflags, 0644);
    } while (fd < 0 && errno == EINTR);
    if (fd < 0) {
        int e = errno;
        free_file(f);
        return util_seterr_errno(errno_code(e), e, "fio: open %s", path);
    }
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int e = errno;
        close(fd);
        free_file(f);
        return util_seterr_errno(OMEN_IO, e, "fio: fstat %s", path);
    }
    f->fd = fd;
    f->end = (uint64_t)st.st_size;
    *out = f;
    return OMEN_OK;
}

static int posix_pread(fio_file *f, void *buf, size_t n, uint64_t off, size_t *got)
{
    size_t done = 0;
    while (done < n) {
        size_t want = n - done;
        if (want > (size_t)SSIZE_MAX) want = (size_t)SSIZE_MAX;
        ssize_t r = pread(f->fd, (char *)buf + done, want, (off_t)(off + done));
        if (r < 0) {
            if (errno == EINTR) continue;
            int e = errno;
            *got = done;
            return util_seterr_errno(OMEN_IO, e, "fio: read %s at offset %llu", f->path,
                                     (unsigned long long)(off + done));
        }
        if (r == 0) break; /* end of file */
        done += (size_t)r;
    }
    *got = done;
    return OMEN_OK;
}

/* A write that falls entirely inside the writable window is a copy into
 * the page cache through the map: no system call.
 *
 * MAP_POPULATE read-faults a shared mapping only, so each page's first
 * store would still take a write fault (ext4's page_mkwrite) in the middle
 * of a copy: one per 4 KiB, and expensive under a hypervisor.  The first
 * copy into a window faults all of it in for writing with one madvise
 * instead (2M relaxed 140-byte puts: 270K/s before, 343K/s after).  Not
 * done at map time: a window written only by write(2) (synced appends)
 * must not have pages dirtied ahead of the data, or each fdatasync would
 * flush them. */
static int copy_to_window(fio_file *f, const struct iovec *iov, int iovcnt, uint64_t off)
{
    uint64_t total = 0;
    for (int i = 0; i < iovcnt; i++) total += iov[i].iov_len;
    if (off < f->wmap_off || total > f->wmap_len || off - f->wmap_off > f->wmap_len - total) return 0;
#ifdef MADV_POPULATE_WRITE
    if (!f->wready) {
        uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE);
        uint64_t from = (off - f->wmap_off) & ~(page - 1);
        (void)madvise(f->wmap + from, (size_t)(f->wmap_len - from), MADV_POPULATE_WRITE);
        f->wready = 1; /* a hint: if refused, stores just fault as before */
    }
#endif
    uint8_t *p = f->wmap + (off - f->wmap_off);
    for (int i = 0; i < iovcnt; i++) {
        if (iov[i].iov_len) memcpy(p, iov[i].iov_base, iov[i].iov_len);
        p += iov[i].iov_len;
    }
    if (off + total > f->end) f->end = off + total;
    return 1;
}

/* Write the concatenation of iov at off, continuing short writes. */
static int write_all_v(fio_file *f, const struct iovec *iov, int iovcnt, uint64_t off)
{
    if (f->wmap && !f->wbypass && copy_to_window(f, iov, iovcnt, off)) return OMEN_OK;
    enum { CHUNK = 64 };
    int i = 0;
    size_t skip = 0; /* bytes of iov[i] already written */
    uint64_t start = off;
    for (;;) {
        while (i < iovcnt && iov[i].iov_len == skip) {
            i++;
            skip = 0;
        }
        if (i >= iovcnt) break;
        struct iovec v[CHUNK];
        const struct iovec *src = v;
        int k = 0;
        if (skip == 0 && iovcnt - i <= IOV_MAX) {
            /* The common case: the caller's array as is, one system call. */
            src = iov + i;
            k = iovcnt - i;
        } else {
            for (int j = i; j < iovcnt && k < CHUNK; j++) {
                size_t s = j == i ? skip : 0;
                if (iov[j].iov_len == s) continue;
                v[k].iov_base = (char *)iov[j].iov_base + s;
                v[k].iov_len = iov[j].iov_len - s;
                k++;
            }
        }
        ssize_t r = pwritev(f->fd, src, k, (off_t)off);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) {
            int e = r < 0 ? errno : EIO;
            if (off > f->end) f->end = off;
            return util_seterr_errno(OMEN_IO, e, "fio: write %s at offset %llu (%llu bytes done)",
                                     f->path, (unsigned long long)off,
                                     (unsigned long long)(off - start));
        }
        off += (uint64_t)r;
        size_t rem = (size_t)r;
        while (rem) {
            size_t avail = iov[i].iov_len - skip;
            if (rem >= avail) {
                rem -= avail;
                i++;
                skip = 0;
            } else {
                skip += rem;
                rem = 0;
            }
        }
    }
    if (off > f->end) f->end = off;
    return OMEN_OK;
}

static int posix_pwrite(fio_file *f, const void *buf, size_t n, uint64_t off)
{
    struct iovec v = {.iov_base = (void *)buf, .iov_len = n};
    return write_all_v(f, &v, 1, off);
}

static int posix_appendv(fio_file *f, const struct iovec *iov, int iovcnt)
{
    return write_all_v(f, iov, iovcnt, f->end);
}

static int posix_sync(fio_file *f)
{
    int r;
    do {
        r = fdatasync(f->fd);
    } while (r != 0 && errno == EINTR);
    if (r != 0) return util_seterr_errno(OMEN_IO, errno, "fio: fdatasync %s", f->path);
    return OMEN_OK;
}

static int posix_size(fio_file *f, uint64_t *size)
{
    struct stat st;
    if (fstat(f->fd, &st) != 0) return util_seterr_errno(OMEN_IO, errno, "fio: fstat %s", f->path);
    *size = (uint64_t)st.st_size;
    return OMEN_OK;
}

static int posix_truncate(fio_file *f, uint64_t size)
{
    drop_window(f); /* pages past a shorter end would fault (SIGBUS) */
    int r;
    do {
        r = ftruncate(f->fd, (off_t)size);
    } while (r != 0 && errno == EINTR);
    if (r != 0)
        return util_seterr_errno(OMEN_IO, errno, "fio: truncate %s to %llu", f->path,
                                 (unsigned long long)size);
    f->end = size;
    return OMEN_OK;
}

static int posix_allocate(fio_file *f, uint64_t off, uint64_t len)
{
    int r;
    do {
        r = fallocate(f->fd, 0, (off_t)off, (off_t)len);
    } while (r != 0 && errno == EINTR);
    /* Failing here (also for EOPNOTSUPP) matters: a caller that maps the
     * space it believes reserved must never map past the end of the file. */
    if (r != 0)
        return util_seterr_errno(OMEN_IO, errno, "fio: fallocate %s [%llu, +%llu)", f->path,
                                 (unsigned long long)off, (unsigned long long)len);
    return OMEN_OK;
}

static int posix_map_window(fio_file *f, uint64_t off, uint64_t len)
{
    drop_window(f);
    uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE), start = off & ~(page - 1);
    len += off - start;
    if (len == 0 || len > (uint64_t)SIZE_MAX) return OMEN_OK;
    void *p = mmap(NULL, (size_t)len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, f->fd, (off_t)start);
    if (p == MAP_FAILED)
        return util_seterr_errno(OMEN_IO, errno, "fio: map %s [%llu, +%llu) for writing", f->path,
                                 (unsigned long long)start, (unsigned long long)len);
    f->wmap = p;
    f->wmap_off = start;
    f->wmap_len = len;
    return OMEN_OK;
}

static int posix_close(fio_file *f)
{
    int rc = OMEN_OK;
    /* Never retry close on EINTR: on Linux the descriptor is gone anyway. */
    if (close(f->fd) != 0) rc = util_seterr_errno(OMEN_IO, errno, "fio: close %s", f->path);
    free_file(f);
    return rc;
}

static int posix_mmap(fio_file *f, uint64_t len, const void **addr)
{
    if (len == 0 || len > (uint64_t)SIZE_MAX)
        return util_seterr(OMEN_INVALID, "fio: mmap %s: bad length %llu", f->path,
                           (unsigned long long)len);
    void *p = mmap(NULL, (size_t)len, PROT_READ, MAP_SHARED, f->fd, 0);
    if (p == MAP_FAILED) {
        int e = errno;
        return util_seterr_errno(e == ENOMEM ? OMEN_NOMEM : OMEN_IO, e, "fio: mmap %s (%llu bytes)",
                                 f->path, (unsigned long long)len);
    }
    *addr = p;
    return OMEN_OK;
}

static int posix_rename(const char *from, const char *to)
{
    if (rename(from, to) != 0) {
        int e = errno;
        return util_seterr_errno(errno_code(e) == OMEN_NOTFOUND ? OMEN_NOTFOUND : OMEN_IO, e,
                                 "fio: rename %s -> %s", from, to);
    }
    return OMEN_OK;
}

static int posix_unlink(const char *path)
{
    if (unlink(path) != 0) {
        int e = errno;
        return util_seterr_errno(e == ENOENT ? OMEN_NOTFOUND : OMEN_IO, e, "fio: unlink %s", path);
    }
    return OMEN_OK;
}

static int posix_sync_dir(const char *dir)
{
    int fd;
    do {
        fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    } while (fd < 0 && errno == EINTR);
    if (fd < 0) {
        int e = errno;
        return util_seterr_errno(e == ENOENT ? OMEN_NOTFOUND : OMEN_IO, e, "fio: open directory %s",
                                 dir);
    }
    int r;
    do {
        r = fsync(fd);
    } while (r != 0 && errno == EINTR);
    int e = errno;
    close(fd);
    if (r != 0) return util_seterr_errno(OMEN_IO, e, "fio: fsync directory %s", dir);
    return OMEN_OK;
}

static int posix_mkdir(const char *path)
{
    if (mkdir(path, 0755) == 0) return OMEN_OK;
    int e = errno;
    if (e == EEXIST) {
        struct stat st;
        if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) return OMEN_OK;
        return util_seterr(OMEN_NOTDB, "fio: %s exists and is not a directory", path);
    }
    return util_seterr_errno(e == ENOENT ? OMEN_NOTFOUND : OMEN_IO, e, "fio: mkdir %s", path);
}

static int posix_rmdir(const char *path)
{
    if (rmdir(path) == 0) return OMEN_OK;
    int e = errno;
    int code = e == ENOENT ? OMEN_NOTFOUND : (e == ENOTEMPTY || e == EEXIST) ? OMEN_BUSY : OMEN_IO;
    return util_seterr_errno(code, e, "fio: rmdir %s", path);
}

static int posix_exists(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0;
}

static int posix_list_dir(const char *dir, int (*fn)(void *ctx, const char *name), void *ctx)
{
    DIR *d = opendir(dir);
    if (!d) {
        int e = errno;
        return util_seterr_errno(errno_code(e), e, "fio: open directory %s", dir);
    }
    int rc = OMEN_OK;
    for (;;) {
        errno = 0;
        struct dirent *de = readdir(d);
        if (!de) {
            if (errno) rc = util_seterr_errno(OMEN_IO, errno, "fio: read directory %s", dir);
            break;
        }
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..")) continue;
        rc = fn(ctx, de->d_name);
        if (rc) break;
    }
    closedir(d);
    return rc;
}

static int posix_lock(const char *path, fio_file **lock_out)
{
    fio_file *f;
    int rc = posix_open(path, FIO_READ | FIO_WRITE | FIO_CREATE, &f);
    if (rc) return rc;
    int r;
    do {
        r = flock(f->fd, LOCK_EX | LOCK_NB);
    } while (r != 0 && errno == EINTR);
    if (r != 0) {
        int e = errno;
        posix_close(f);
        if (e == EWOULDBLOCK)
            return util_seterr(OMEN_LOCKED, "fio: %s is locked by another handle or process", path);
        return util_seterr_errno(OMEN_IO, e, "fio: flock %s", path);
    }
    *lock_out = f;
    return OMEN_OK;
}

static const fio_env posix_env = {
    .open = posix_open,
    .pread = posix_pread,
    .pwrite = posix_pwrite,
    .appendv = posix_appendv,
    .sync = posix_sync,
    .allocate = posix_allocate,
    .map_window = posix_map_window,
    .size = posix_size,
    .truncate = posix_truncate,
    .close = posix_close,
    .mmap = posix_mmap,
    .rename = posix_rename,
    .unlink = posix_unlink,
    .sync_dir = posix_sync_dir,
    .mkdir = posix_mkdir,
    .exists = posix_exists,
    .list_dir = posix_list_dir,
    .lock = posix_lock,
    .rmdir = posix_rmdir,
};

/* ---- dispatch ------------------------------------------------------------ */

const fio_env *fio_posix_env(void)
{
    return &posix_env;
}

void fio_set_env(const fio_env *e)
{
    atomic_store(&cur_env, e);
}

const fio_env *fio_get_env(void)
{
    const fio_env *e = atomic_load(&cur_env);
    return e ? e : &posix_env;
}

#define CHECK_FILE(f)                                                                  \
    do {                                                                               \
        if (!(f)) return util_seterr(OMEN_INVALID, "fio: %s: NULL file", __func__);    \
    } while (0)

int fio_open(const char *path, int flags, fio_file **out)
{
    if (out) *out = NULL;
    if (!path || !out) return util_seterr(OMEN_INVALID, "fio_open: NULL argument");
    const fio_env *e = fio_get_env();
    int rc = e->open(path, flags, out);
    if (rc == OMEN_OK) (*out)->env = e;
    return rc;
}

int fio_pread(fio_file *f, void *buf, size_t n, uint64_t off, size_t *got)
{
    CHECK_FILE(f);
    if (!got || (!buf && n)) return util_seterr(OMEN_INVALID, "fio_pread: NULL argument");
    *got = 0;
    if (n == 0) return OMEN_OK;
    return f->env->pread(f, buf, n, off, got);
}

int fio_pwrite(fio_file *f, const void *buf, size_t n, uint64_t off)
{
    CHECK_FILE(f);
    if (!buf && n) return util_seterr(OMEN_INVALID, "fio_pwrite: NULL buffer");
    return f->env->pwrite(f, buf, n, off);
}

int fio_append(fio_file *f, const void *buf, size_t n)
{
    CHECK_FILE(f);
    if (!buf && n) return util_seterr(OMEN_INVALID, "fio_append: NULL buffer");
    struct iovec v = {.iov_base = (void *)buf, .iov_len = n};
    return f->env->appendv(f, &v, 1);
}

int fio_appendv(fio_file *f, const struct iovec *iov, int iovcnt)
{
    CHECK_FILE(f);
    if (iovcnt < 0 || (!iov && iovcnt)) return util_seterr(OMEN_INVALID, "fio_appendv: bad iovec");
    for (int i = 0; i < iovcnt; i++)
        if (!iov[i].iov_base && iov[i].iov_len)
            return util_seterr(OMEN_INVALID, "fio_appendv: NULL buffer in iovec");
    return f->env->appendv(f, iov, iovcnt);
}

int fio_sync(fio_file *f)
{
    CHECK_FILE(f);
    return f->env->sync(f);
}

int fio_size(fio_file *f, uint64_t *size)
{
    CHECK_FILE(f);
    if (!size) return util_seterr(OMEN_INVALID, "fio_size: NULL argument");
    return f->env->size(f, size);
}

int fio_truncate(fio_file *f, uint64_t size)
{
    CHECK_FILE(f);
    return f->env->truncate(f, size);
}

int fio_allocate(fio_file *f, uint64_t off, uint64_t len)
{
    CHECK_FILE(f);
    if (len == 0) return OMEN_OK;
    return f->env->allocate(f, off, len);
}

int fio_map_window(fio_file *f, uint64_t off, uint64_t len)
{
    CHECK_FILE(f);
    return f->env->map_window(f, off, len);
}

void fio_window_writes(fio_file *f, int on)
{
    if (f) f->wbypass = !on;
}

int fio_write_zeros(fio_file *f, uint64_t off, uint64_t len)
{
    static const uint8_t zeros[64 << 10];
    CHECK_FILE(f);
    uint64_t end = f->end;
    int bypass = f->wbypass, rc = OMEN_OK;
    f->wbypass = 1;
    while (len && !rc) {
        size_t n = len < sizeof zeros ? (size_t)len : sizeof zeros;
        rc = f->env->pwrite(f, zeros, n, off);
        off += n;
        len -= n;
    }
    f->wbypass = bypass;
    f->end = end;
    return rc;
}

uint64_t fio_file_end(const fio_file *f)
{
    return f ? f->end : 0;
}

int fio_close(fio_file *f)
{
    if (!f) return OMEN_OK;
    return f->env->close(f);
}

int fio_mmap(fio_file *f, uint64_t len, const void **addr)
{
    CHECK_FILE(f);
    if (!addr) return util_seterr(OMEN_INVALID, "fio_mmap: NULL argument");
    *addr = NULL;
    return f->env->mmap(f, len, addr);
}

void fio_munmap(const void *addr, uint64_t len)
{
    if (addr && len) munmap((void *)addr, (size_t)len);
}

const char *fio_file_path(const fio_file *f)
{
    return f ? f->path : "(null)";
}

int fio_file_fd(const fio_file *f)
{
    return f ? f->fd : -1;
}

int fio_rename(const char *from, const char *to)
{
    if (!from || !to) return util_seterr(OMEN_INVALID, "fio_rename: NULL path");
    return fio_get_env()->rename(from, to);
}

int fio_unlink(const char *path)
{
    if (!path) return util_seterr(OMEN_INVALID, "fio_unlink: NULL path");
    return fio_get_env()->unlink(path);
}

int fio_sync_dir(const char *dir)
{
    if (!dir) return util_seterr(OMEN_INVALID, "fio_sync_dir: NULL path");
    return fio_get_env()->sync_dir(dir);
}

int fio_mkdir(const char *path)
{
    if (!path) return util_seterr(OMEN_INVALID, "fio_mkdir: NULL path");
    return fio_get_env()->mkdir(path);
}

int fio_rmdir(const char *path)
{
    if (!path) return util_seterr(OMEN_INVALID, "fio_rmdir: NULL path");
    return fio_get_env()->rmdir(path);
}

int fio_exists(const char *path)
{
    if (!path) return 0;
    return fio_get_env()->exists(path);
}

int fio_list_dir(const char *dir, int (*fn)(void *ctx, const char *name), void *ctx)
{
    if (!dir || !fn) return util_seterr(OMEN_INVALID, "fio_list_dir: NULL argument");
    return fio_get_env()->list_dir(dir, fn, ctx);
}

int fio_lock(const char *path, fio_file **lock_out)
{
    if (lock_out) *lock_out = NULL;
    if (!path || !lock_out) return util_seterr(OMEN_INVALID, "fio_lock: NULL argument");
    const fio_env *e = fio_get_env();
    int rc = e->lock(path, lock_out);
    if (rc == OMEN_OK) (*lock_out)->env = e;
    return rc;
}

static char *join(const char *dir, const char *name, const char *suffix)
{
    size_t n = strlen(dir) + 1 + strlen(name) + strlen(suffix) + 1;
    char *p = util_malloc(n);
    if (p) snprintf(p, n, "%s/%s%s", dir, name, suffix);
    return p;
}

int fio_write_file_atomic(const char *dir, const char *name, const void *buf, size_t n)
{
    if (!dir || !name || (!buf && n))
        return util_seterr(OMEN_INVALID, "fio_write_file_atomic: NULL argument");
    char *tmp = join(dir, name, ".tmp");
    char *dst = join(dir, name, "");
    int rc;
    if (!tmp || !dst) {
        rc = util_seterr(OMEN_NOMEM, "fio: out of memory writing %s/%s", dir, name);
        goto out;
    }
    fio_file *f;
    rc = fio_open(tmp, FIO_WRITE | FIO_CREATE | FIO_TRUNC, &f);
    if (rc) goto out;
    rc = fio_append(f, buf, n);
    if (!rc) rc = fio_sync(f);
    int crc = fio_close(f);
    if (!rc) rc = crc;
    if (!rc) rc = fio_rename(tmp, dst);
    if (rc) {
        /* Leave no half-written temp file behind if we can help it; the
         * error reported is the original one. */
        char saved[512];
        snprintf(saved, sizeof saved, "%s", omen_last_error());
        fio_get_env()->unlink(tmp);
        util_seterr(rc, "%s", saved);
        goto out;
    }
    rc = fio_sync_dir(dir);
out:
    omen_free(tmp);
    omen_free(dst);
    return rc;
}
