/*
 * fio.h -- the file layer.  ALL engine file I/O goes through these calls.
 *
 * Why: tests replace the operations table (fio_set_env) with a fault-
 * injecting one (tests/support/fio_fault.h, test support code outside the
 * library) that fails the Nth write/fsync/rename/open and simulates power
 * loss.  Code that bypasses fio escapes those tests, so no
 * engine module calls open/read/write/fsync/rename/unlink directly.
 *
 * Contract of every call:
 *  - Returns OMEN_OK or an OMEN_* code and sets a message naming the path
 *    (and strerror for OS failures) via util_seterr*.
 *  - EINTR is retried; short reads/writes are continued, so a write call
 *    either wrote everything or returned an error (possibly after a prefix
 *    reached the file: a failed write leaves unspecified bytes at its range).
 *  - A fio_file remembers the env that opened it; swapping the env affects
 *    files opened afterwards only.
 *  - Thread-safety: different files are independent.  On one file,
 *    fio_pread / fio_size / fio_sync / fio_mmap may run concurrently with
 *    anything; writers (pwrite/append/truncate) must be serialized by the
 *    caller (the WAL has one writer; run files are written by one thread).
 *  - fio_append writes at the file's end as tracked by the handle (initial
 *    size at open, advanced by append/pwrite/truncate through this handle);
 *    files are never opened O_APPEND (pwrite would ignore its offset).
 */
#ifndef OMEN_FIO_H
#define OMEN_FIO_H

#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "omendb.h"

typedef struct fio_file fio_file;

/* fio_open flags.  FIO_WRITE without FIO_READ still allows pread. */
enum { FIO_READ = 1, FIO_WRITE = 2, FIO_CREATE = 4, FIO_TRUNC = 8, FIO_EXCL = 16 };

/* Open `path`.  OMEN_NOTFOUND if absent and !FIO_CREATE; OMEN_EXISTS if
 * FIO_CREATE|FIO_EXCL and it exists; OMEN_IO otherwise.  New files get mode
 * 0644.  *out is NULL on failure. */
int fio_open(const char *path, int flags, fio_file **out);

/* Read up to n bytes at off.  *got (required) is the number read: < n only
 * at end of file. */
int fio_pread(fio_file *f, void *buf, size_t n, uint64_t off, size_t *got);

/* Write all n bytes at off. */
int fio_pwrite(fio_file *f, const void *buf, size_t n, uint64_t off);

/* Write all n bytes at the end of the file (one write(2) in the common
 * case).  On success the data is in the kernel: it survives a process
 * crash, not a power loss (that needs fio_sync). */
int fio_append(fio_file *f, const void *buf, size_t n);

/* Gather-append: like fio_append of the concatenation of iov[0..iovcnt)
 * (one writev(2) in the common case; iovcnt may exceed IOV_MAX). */
int fio_appendv(fio_file *f, const struct iovec *iov, int iovcnt);

/* fdatasync: every byte written before the call is durable after it. */
int fio_sync(fio_file *f);

/* Current size of the file (fstat). */
int fio_size(fio_file *f, uint64_t *size);

/* Set the file's size (the handle's append position follows). */
int fio_truncate(fio_file *f, uint64_t size);

/* Reserve [off, off + len) on disk, extending the file size if needed
 * (fallocate mode 0: the new space reads as zeros), WITHOUT moving the
 * append position: later appends write into the reserved space.  Why: an
 * fdatasync after an append that grew the file must also commit the new
 * size and block map through the filesystem journal; appends into space
 * reserved (and synced) beforehand make it a pure data flush.  OMEN_IO if
 * the space cannot be reserved (no space left, or a file system without
 * fallocate): nothing is reserved then, and the caller just appends. */
int fio_allocate(fio_file *f, uint64_t off, uint64_t len);

/* Map [off, off + len) of the file (which must lie within its size, e.g.
 * space from fio_allocate) shared and writable, replacing any earlier
 * window of the handle.  Appends and pwrites that fall entirely inside the
 * window are then memory copies into the page cache instead of write(2)
 * calls: the same durability (they survive a process crash at once; power
 * loss only after fio_sync), without a system call per write.  Other writes
 * still use write(2) (coherent with the map).  fio_truncate drops the
 * window.  The caller must not let the file shrink below a live window. */
int fio_map_window(fio_file *f, uint64_t off, uint64_t len);

/* Whether writes inside the window are memory copies (on, the default) or
 * write(2) calls (off).  A copy dirties the page through the map, so the
 * next fdatasync must write-protect the page again (a TLB shoot-down across
 * CPUs) and the next copy into it faults: a write the caller syncs at once
 * is cheaper as write(2), which leaves the map alone. */
void fio_window_writes(fio_file *f, int on);

/* Write zeros over [off, off + len) with write(2), leaving the append
 * position where it was: turns space reserved by fio_allocate (which the
 * file system keeps as "unwritten") into written space ahead of use. */
int fio_write_zeros(fio_file *f, uint64_t off, uint64_t len);

/* The handle's append position (where fio_append writes next). */
uint64_t fio_file_end(const fio_file *f);

/* Close and free the handle.  NULL is OK.  The handle is invalid afterwards
 * even if close(2) reported an error. */
int fio_close(fio_file *f);

/* Read-only shared map of [0, len).  len must be > 0 and should not exceed
 * the file size (touching pages past EOF raises SIGBUS).  The map stays
 * valid after fio_close of f; release it with fio_munmap(addr, len). */
int fio_mmap(fio_file *f, uint64_t len, const void **addr);
void fio_munmap(const void *addr, uint64_t len);

/* Path the handle was opened with (owned by the handle). */
const char *fio_file_path(const fio_file *f);

/* rename(2): atomically replace `to`.  Durable only after fio_sync_dir of
 * the directory (of both paths if they differ). */
int fio_rename(const char *from, const char *to);
/* unlink(2).  OMEN_NOTFOUND if absent. */
int fio_unlink(const char *path);
/* fsync a directory: makes creations, renames and unlinks in it durable. */
int fio_sync_dir(const char *dir);
/* mkdir 0755; OMEN_OK if it already exists as a directory. */
int fio_mkdir(const char *path);
/* Remove an empty directory.  OMEN_NOTFOUND if absent, OMEN_BUSY if not
 * empty. */
int fio_rmdir(const char *path);
/* 1 if path exists (any type), 0 otherwise (including on errors). */
int fio_exists(const char *path);
/* Call fn(ctx, name) for each entry of dir except "." and "..", in no
 * particular order.  A non-zero return from fn stops the walk and is
 * returned.  OMEN_NOTFOUND if dir is absent. */
int fio_list_dir(const char *dir, int (*fn)(void *ctx, const char *name), void *ctx);

/* Create/open `path` and take an exclusive flock on it (LOCK_EX|LOCK_NB).
 * OMEN_LOCKED if another open file description holds it (another process,
 * or another handle of this process).  Release with fio_close(*lock_out). */
int fio_lock(const char *path, fio_file **lock_out);

/* Replace dir/name atomically and durably with buf: write dir/name.tmp,
 * fsync it, rename over dir/name, fsync dir.  After OMEN_OK the new content
 * survives power loss; after a failure dir/name holds the old or (only if
 * the failure was the final directory fsync) possibly the new content --
 * never a mix.  A stale name.tmp may remain after a failure. */
int fio_write_file_atomic(const char *dir, const char *name, const void *buf, size_t n);

/* ---- Replaceable operations table -------------------------------------- */

/* Every call above dispatches through the current env (file operations
 * through the env that opened the file).  An env implementation builds its
 * files with the posix env (fio_posix_env()->open) and wraps the other
 * posix operations; fio stamps each opened file with the env that opened
 * it.  Implementations set error messages themselves. */
typedef struct fio_env {
    int (*open)(const char *path, int flags, fio_file **out);
    int (*pread)(fio_file *f, void *buf, size_t n, uint64_t off, size_t *got);
    int (*pwrite)(fio_file *f, const void *buf, size_t n, uint64_t off);
    int (*appendv)(fio_file *f, const struct iovec *iov, int iovcnt);
    int (*sync)(fio_file *f);
    int (*size)(fio_file *f, uint64_t *size);
    int (*truncate)(fio_file *f, uint64_t size);
    int (*allocate)(fio_file *f, uint64_t off, uint64_t len);
    int (*map_window)(fio_file *f, uint64_t off, uint64_t len);
    int (*close)(fio_file *f);
    int (*mmap)(fio_file *f, uint64_t len, const void **addr);
    int (*rename)(const char *from, const char *to);
    int (*unlink)(const char *path);
    int (*sync_dir)(const char *dir);
    int (*mkdir)(const char *path);
    int (*exists)(const char *path);
    int (*list_dir)(const char *dir, int (*fn)(void *ctx, const char *name), void *ctx);
    int (*lock)(const char *path, fio_file **lock_out);
    int (*rmdir)(const char *path);
} fio_env;

/* Install e as the env for subsequent calls; NULL restores posix.  The env
 * must outlive every file it opened. */
void fio_set_env(const fio_env *e);
const fio_env *fio_get_env(void);
const fio_env *fio_posix_env(void);

/* The file's OS descriptor (for env implementations and tests). */
int fio_file_fd(const fio_file *f);

#endif
