/*
 * wal.h -- the write-ahead log: a file of checksummed, length-prefixed
 * records.  The payload is opaque (the db layer encodes write batches).
 * Byte layout: docs/format.md, "WAL file".
 *
 * Durability contract:
 *  - wal_append returns after the whole record is in the kernel's page
 *    cache (a copy into the shared, writable map of the reserved space --
 *    fio_map_window -- or, outside it, one write(2)): it survives a process
 *    crash.
 *  - The writer reserves the file ahead of its appends in 1 MiB chunks
 *    (fio_allocate), so the fdatasync of a synced write flushes data only,
 *    not the file size and block map; a closed log is cut back to its last
 *    record, and after a crash the reserved zeros read as a torn tail.
 *  - wal_sync makes every appended record durable (fdatasync; the first
 *    successful wal_sync of a writer also fsyncs the log's directory so the
 *    file's existence is durable too).
 *  - Any failed write or sync makes the writer permanently failed: every
 *    later append/sync returns OMEN_IO without touching the file.  Reason: a
 *    failed write may leave a partial record that would hide every later
 *    record from replay, and after a failed fsync the kernel may already
 *    have dropped the dirty pages (retrying would report false success).
 *
 * Replay contract: records come back in order, each exactly as appended;
 * replay stops at the first record that is incomplete (torn tail: power
 * loss during an unsynced append) or fails its checksum/structure checks
 * (corrupt), and never hands out a damaged record.  Any byte sequence is
 * safe input; lengths are validated against the file size before any
 * allocation.
 *
 * Records are written whole (no LevelDB-style 32 KiB block fragmentation):
 * one header + payload per append keeps the hot path to a single writev,
 * and block fragmentation only buys resynchronising after mid-log damage,
 * which OmenDB deliberately does not do (it stops at the first bad record
 * and reports it -- skipping a damaged batch would break atomicity of what
 * follows).
 *
 * A wal_writer is used by one thread at a time (the write-group leader).
 */
#ifndef OMEN_WAL_H
#define OMEN_WAL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "omendb.h"

/* Largest record payload (a batch of values up to 256 MiB each must be
 * split by the caller to fit). */
#define WAL_MAX_RECORD (512u * 1024u * 1024u)

/* File header and record header sizes (bytes). */
#define WAL_FILE_HEADER_SIZE 16
#define WAL_RECORD_HEADER_SIZE 9

/* tail_state values reported by wal_replay. */
enum {
    WAL_TAIL_CLEAN = 0,   /* the file ends exactly after the last good record */
    WAL_TAIL_TORN = 1,    /* an incomplete record/header at the end of file
                             (or the file header itself is incomplete) */
    WAL_TAIL_CORRUPT = 2, /* a complete-looking record failed its checks */
};

typedef struct wal_writer wal_writer;

/* Create a new log at path (FIO_CREATE|FIO_EXCL: an existing file is never
 * overwritten -> OMEN_EXISTS) and write and fdatasync its header, so that
 * after a crash the log either is absent (its directory entry is synced by
 * the first wal_sync or any fio_sync_dir of the directory) or has an intact
 * header.  On failure *out is NULL and the file is removed (best effort). */
int wal_writer_open(const char *path, wal_writer **out);

/* Append one record.  len <= WAL_MAX_RECORD (else OMEN_TOOBIG, not sticky);
 * rec may be NULL iff len == 0. */
int wal_append(wal_writer *w, const void *rec, size_t len);

/* Append one record whose payload is the concatenation of the pieces (group
 * commit: no copy into a contiguous buffer).  iovcnt >= 0. */
int wal_append_v(wal_writer *w, const struct iovec *iov, int iovcnt);

/* wal_append_v for a record the caller syncs straight away (wal_sync): the
 * same bytes, written with write(2) rather than copied into the mapped
 * reservation (fio_window_writes says why). */
int wal_append_synced_v(wal_writer *w, const struct iovec *iov, int iovcnt);

/* fdatasync (+ directory fsync the first time).  Failure is sticky. */
int wal_sync(wal_writer *w);

/* Bytes in the log so far (header included) as appended by this writer. */
uint64_t wal_size(const wal_writer *w);

/* Close (no implicit sync).  NULL is OK.  Frees w whatever the result. */
int wal_writer_close(wal_writer *w);

/* Replay the log at path: call fn(ctx, rec, len) for each good record in
 * order.  rec is valid only during the call.  On return (OMEN_OK):
 *   *valid_len  = offset just after the last good record (>= the header size
 *                 unless the header was torn: then 0);
 *   *tail_state = WAL_TAIL_*.
 * valid_len / tail_state may be NULL.
 * Errors: fn's non-zero return is returned as is (replay stops; *valid_len
 * is then the offset after the last record fn accepted);
 * OMEN_NOTFOUND (no file); OMEN_CORRUPT (complete file header with bad magic
 * or checksum); OMEN_VERSION (unknown format version); OMEN_IO, OMEN_NOMEM. */
int wal_replay(const char *path, int (*fn)(void *ctx, const void *rec, size_t len), void *ctx,
               uint64_t *valid_len, int *tail_state);

/* The same over an in-memory image of a log file (used by wal_replay and by
 * the fuzzer).  buf may be NULL iff len == 0. */
int wal_replay_buf(const void *buf, size_t len,
                   int (*fn)(void *ctx, const void *rec, size_t len), void *ctx,
                   uint64_t *valid_len, int *tail_state);

#endif
