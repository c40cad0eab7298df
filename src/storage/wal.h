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
 *    (fio_allocate), and a synced append that reaches reserved space never
 *    written first writes zeros ahead of itself (as far as the log is long,
 *    64 KiB to 1 MiB), made durable by that append's sync: the fdatasync of
 *    a synced write then flushes data only, not the file size and block map,
 *    except once per MiB of a long log.  A closed log is cut
 *    back to its last record; after a crash the zeros read as the log's end.
 *  - wal_sync makes every appended record durable (fdatasync; the first
 *    successful wal_sync of a writer also fsyncs the log's directory so the
 *    file's existence is durable too).
 *  - Any failed write or sync makes the writer permanently failed: every
 *    later append/sync returns OMEN_IO without touching the file.  Reason: a
 *    failed write may leave a partial record that would hide every later
 *    record from replay, and after a failed fsync the kernel may already
 *    have dropped the dirty pages (retrying would report false success).
 *
 * Replay contract: records come back in order, each exactly as appended,
 * and a damaged record is never handed out.  Zero bytes from a record
 * boundary to the end of the file are the log's end (the reserved space),
 * not damage.  Replay tells a torn tail from corruption: a torn tail is what
 * a crash leaves (the incomplete last write, followed only by the unwritten
 * or zero-filled end of the file); damage that is
 * followed by an intact record anywhere later in the file is corruption,
 * and so is a complete record (not ending in the zeros of unwritten space)
 * whose checksum, type or length is wrong.  Plain replay stops at the
 * first damage and counts the intact records behind it; wal_replay_ex can
 * instead skip damaged regions, resynchronising at the next intact record
 * (the db layer's recovery modes, docs/design.md "WAL recovery modes").
 * Any byte sequence is safe input; lengths are validated against the file
 * size before any allocation.
 *
 * Records are written whole (no LevelDB-style 32 KiB block fragmentation):
 * one header + payload per append keeps the hot path to a single writev.
 * Resynchronising after damage scans byte by byte for the next record whose
 * checksum matches; it costs nothing unless the log is damaged.
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
    WAL_TAIL_CLEAN = 0,   /* the file ends after the last good record, or only
                             zero bytes (reserved space) follow it */
    WAL_TAIL_TORN = 1,    /* what a crash leaves: an incomplete last write (or
                             file header) followed only by unwritten space */
    WAL_TAIL_CORRUPT = 2, /* damage that no crash explains: intact records
                             follow it, or a complete record failed its checks */
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

/* Every earlier log of the database is durable now: records appended from
 * here on say so (a record type of their own, docs/format.md), so that
 * recovery can tell a tear in an earlier log that lost acknowledged writes
 * from one a crash left before that log was synced.  Safe to call from
 * another thread than the appending one. */
void wal_mark_earlier_durable(wal_writer *w);
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

/* What wal_replay_ex found.  "Damage" is the first spot where no intact
 * record starts (or a record the callback refused with WAL_REC_BAD). */
typedef struct wal_replay_info {
    uint64_t file_size;
    uint64_t valid_len;     /* offset after the last record delivered before the first damage
                               (0 when the file header is torn or damaged) */
    int tail_state;         /* WAL_TAIL_* of the first damage; CLEAN if none */
    int corrupt;            /* some damage was corruption (not a torn tail) */
    int header_bad;         /* the 16-byte file header is damaged (or a short foreign file) */
    uint64_t damage_off;    /* offset of the first damage */
    uint64_t resume_off;    /* first intact record after it (0: none) */
    uint64_t records_after; /* stop mode: intact records after the first damage, not delivered */
    uint64_t bytes_after;   /* stop mode: bytes from the first damage to the end of the file */
    uint64_t regions;       /* skip mode: damaged regions skipped (torn tail excluded) */
    uint64_t bytes_skipped; /* skip mode: bytes in them */
    uint64_t after_durable; /* delivered records appended after every earlier log was
                               durable (wal_mark_earlier_durable) */
} wal_replay_info;

/* A callback's verdict on an intact record it cannot use (e.g. a batch that
 * fails to decode): replay treats the record as damage (corruption). */
#define WAL_REC_BAD (-1)

/* Replay with damage handling.  fn(ctx, rec, len, off) gets each intact
 * record and its file offset; 0 continues, WAL_REC_BAD marks the record as
 * damage, any other value stops replay and is returned as is.
 * skip == 0: stop at the first damage (records_after/bytes_after say what
 * was left behind).  skip != 0: deliver every intact record, skipping
 * damaged regions (regions/bytes_skipped); a torn tail still ends replay.
 * A damaged file header is damage at offset 0 (OMEN_OK with header_bad),
 * not an error; OMEN_VERSION for a valid header of another version. */
int wal_replay_ex(const char *path, int skip,
                  int (*fn)(void *ctx, const void *rec, size_t len, uint64_t off), void *ctx,
                  wal_replay_info *info);
int wal_replay_buf_ex(const void *buf, size_t len, int skip,
                      int (*fn)(void *ctx, const void *rec, size_t len, uint64_t off), void *ctx,
                      wal_replay_info *info);

#endif
