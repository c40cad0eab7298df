/*
 * wal.c -- write-ahead log writer and replay (format: docs/format.md).
 *
 * Writer invariants:
 *  - w->size is the number of bytes this writer put in the file; every
 *    append is one header + payload handed to fio_appendv in one call.
 *  - Once w->failed is set (a write, fsync or directory fsync failed),
 *    nothing more is written: see the "sticky" rationale in wal.h.
 * Replay invariants:
 *  - No byte is read outside [buf, buf+len); a record's length is checked
 *    against the bytes that remain before its payload is touched, so bogus
 *    lengths cost nothing (replay maps the file -- or reads it whole where
 *    mmap is unsupported -- and never allocates per record).
 *  - A record reaches fn only after its checksum matched.
 */
#include "storage/wal.h"

#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

#include "storage/fio.h"
#include "util/coding.h"
#include "util/crc32c.h"
#include "util/err.h"
#include "util/mem.h"

#define WAL_MAGIC "OMENWAL\0"
/* Version 2 adds record type 2; version 1 files hold type 1 only. */
#define WAL_VERSION 2u
#define WAL_VERSION_MIN 1u
#define WAL_REC_FULL 1u
/* A whole record appended after every earlier log was durable
 * (wal_mark_earlier_durable): recovery's proof that a tear in an earlier
 * log lost writes that were acknowledged as durable. */
#define WAL_REC_FULL_AFTER 2u
#define REC_TYPE_OK(t) ((t) == WAL_REC_FULL || (t) == WAL_REC_FULL_AFTER)

/* The writer's preallocation step.  Appends go into space reserved ahead
 * of them in WAL_CHUNK steps (fio_allocate), so that a synced append does
 * not also have to persist a new file size and block map.
 *
 * Reserved space is still "unwritten" to the file system (ext4 reads it as
 * zeros without storing any), and the first write into each block turns it
 * into written space: metadata that the next fdatasync must commit through
 * the journal as well.  A synced append that reaches space never written
 * therefore first writes zeros ahead of itself (zero_ahead), so one journal
 * commit converts them all and the synced appends up to their end flush
 * data alone, as for overwriting a page already on disk.  Measured on this
 * VM's ext4, ~6 KB appends each followed by fdatasync: 282 us for a sync
 * that also converts 64 KiB against 116 us for a plain one, ~2 ms for one
 * that converts 1 MiB (the MiB of zeros is written out too).  The zeros
 * run as far ahead as the log is long, from WAL_ZERO_MIN up to WAL_CHUNK:
 * a long log pays one such sync per MiB, and a short one (a process that
 * syncs a few writes and exits) does not pay for a MiB it never uses.
 * (PostgreSQL zero-fills its WAL segments for the same reason.)  The zeros
 * are written inline, just before the append that needs them, and made
 * durable by that append's own fdatasync: a separate sync would add a
 * device flush each time, and zero-filling on another thread would still
 * serialize with the writer's syncs on the same file. */
#define WAL_CHUNK (1u << 20)
#define WAL_ZERO_MIN (64u << 10)

struct wal_writer {
    fio_file *f;
    uint64_t size;
    uint64_t alloc_end; /* file bytes reserved (>= size while prealloc is on) */
    uint64_t zero_end;  /* bytes below this were written (zeros or records) */
    int prealloc;       /* 0 after a failed reservation: plain appends */
    int failed;
    int dir_synced;
    atomic_int earlier_durable; /* appends write WAL_REC_FULL_AFTER */
    char *dir;
    char failmsg[256];
};

static void make_file_header(uint8_t h[WAL_FILE_HEADER_SIZE], uint32_t version)
{
    memcpy(h, WAL_MAGIC, 8);
    put_fixed32(h + 8, version);
    put_fixed32(h + 12, crc32c_mask(crc32c(0, h, 12)));
}

static char *dir_of(const char *path)
{
    const char *slash = strrchr(path, '/');
    if (!slash) return util_strdup(".");
    if (slash == path) return util_strdup("/");
    size_t n = (size_t)(slash - path);
    char *d = util_malloc(n + 1);
    if (d) {
        memcpy(d, path, n);
        d[n] = 0;
    }
    return d;
}

/* Mark the writer dead, remembering why (the current thread's message). */
static int fail(wal_writer *w, int rc)
{
    w->failed = 1;
    snprintf(w->failmsg, sizeof w->failmsg, "%s", omen_last_error());
    return rc;
}

static int failed_err(const wal_writer *w)
{
    return util_seterr(OMEN_IO, "wal: %s: log unusable after an earlier failure (%s)",
                       fio_file_path(w->f), w->failmsg);
}

/* First chunk boundary strictly above off. */
static uint64_t chunk_above(uint64_t off)
{
    return (off / WAL_CHUNK + 1) * WAL_CHUNK;
}

/* Reserve whole WAL_CHUNK chunks past the `need` bytes.  A failure
 * (including an injected one) only turns reservation off: appends then
 * extend the file as usual, and a real I/O problem shows on the append. */
static void reserve(wal_writer *w, uint64_t need)
{
    if (!w->prealloc || need <= w->alloc_end) return;
    uint64_t from = w->alloc_end > w->size ? w->alloc_end : w->size;
    uint64_t end = chunk_above(need);
    if (fio_allocate(w->f, from, end - from) == OMEN_OK) {
        w->alloc_end = end;
        /* Appends inside the reserved space become memory copies (no
         * write(2) per record); if mapping fails they just stay writes. */
        if (fio_map_window(w->f, w->size, end - w->size) != OMEN_OK) util_clearerr();
    } else {
        w->prealloc = 0;
        util_clearerr();
    }
}

/* Before a synced append that ends at `need`: unless the bytes up to it are
 * written space already, reserve and write zeros from the first byte never
 * written to `ahead` bytes past it (see WAL_CHUNK).  Best effort: a failure
 * only stops the zero-filling (the append and its sync still tell of a real
 * I/O problem). */
static void zero_ahead(wal_writer *w, uint64_t need)
{
    if (!w->prealloc || need <= w->zero_end) return;
    uint64_t ahead = w->size < WAL_ZERO_MIN ? WAL_ZERO_MIN : w->size < WAL_CHUNK ? w->size : WAL_CHUNK;
    uint64_t end = need + ahead;
    reserve(w, end);
    if (!w->prealloc) return;
    uint64_t from = w->zero_end > w->size ? w->zero_end : w->size;
    if (fio_write_zeros(w->f, from, end - from) != OMEN_OK) util_clearerr();
    w->zero_end = end; /* after a failure: retried past this point only */
}

int wal_writer_open(const char *path, wal_writer **out)
{
    if (out) *out = NULL;
    if (!path || !out) return util_seterr(OMEN_INVALID, "wal_writer_open: NULL argument");
    wal_writer *w = util_calloc(1, sizeof *w);
    char *dir = dir_of(path);
    if (!w || !dir) {
        omen_free(w);
        omen_free(dir);
        return util_seterr(OMEN_NOMEM, "wal: out of memory opening %s", path);
    }
    w->dir = dir;
    int rc = fio_open(path, FIO_READ | FIO_WRITE | FIO_CREATE | FIO_EXCL, &w->f);
    if (rc) {
        omen_free(dir);
        omen_free(w);
        return rc;
    }
    uint8_t h[WAL_FILE_HEADER_SIZE];
    make_file_header(h, WAL_VERSION);
    rc = fio_append(w->f, h, sizeof h);
    w->prealloc = 1;
    w->size = sizeof h;
    /* A durable header means a log that survives a crash (its directory
     * entry may not) never has a damaged header: after power loss only
     * record tails can be torn, and replay reports those as tails.  The
     * header is synced before any space is reserved, so that no crash can
     * leave a reserved file whose header still reads as zeros. */
    if (!rc) rc = fio_sync(w->f);
    if (!rc) reserve(w, sizeof h);
    if (rc) {
        /* Best effort: don't leave a headerless log behind; keep the
         * original message. */
        char saved[512];
        snprintf(saved, sizeof saved, "%s", omen_last_error());
        fio_close(w->f);
        fio_unlink(path);
        omen_free(dir);
        omen_free(w);
        return util_seterr(rc, "%s", saved);
    }
    *out = w;
    return OMEN_OK;
}

static int append_v(wal_writer *w, const struct iovec *iov, int iovcnt, int synced)
{
    if (!w || iovcnt < 0 || (!iov && iovcnt))
        return util_seterr(OMEN_INVALID, "wal_append_v: bad argument");
    if (w->failed) return failed_err(w);
    uint64_t len = 0;
    for (int i = 0; i < iovcnt; i++) {
        if (!iov[i].iov_base && iov[i].iov_len)
            return util_seterr(OMEN_INVALID, "wal_append_v: NULL piece");
        len += iov[i].iov_len;
        if (len > WAL_MAX_RECORD)
            return util_seterr(OMEN_TOOBIG, "wal: %s: record larger than %u bytes",
                               fio_file_path(w->f), WAL_MAX_RECORD);
    }
    uint8_t h[WAL_RECORD_HEADER_SIZE];
    put_fixed32(h + 4, (uint32_t)len);
    h[8] = atomic_load_explicit(&w->earlier_durable, memory_order_acquire) ? WAL_REC_FULL_AFTER : WAL_REC_FULL;
    uint32_t crc = crc32c(0, h + 4, 5);
    for (int i = 0; i < iovcnt; i++) crc = crc32c(crc, iov[i].iov_base, iov[i].iov_len);
    put_fixed32(h, crc32c_mask(crc));

    struct iovec small[16];
    struct iovec *v = small;
    if (iovcnt + 1 > (int)(sizeof small / sizeof small[0])) {
        v = util_malloc(sizeof *v * ((size_t)iovcnt + 1));
        if (!v) return util_seterr(OMEN_NOMEM, "wal: out of memory appending");
    }
    reserve(w, w->size + sizeof h + len);
    if (synced) zero_ahead(w, w->size + sizeof h + len);
    v[0].iov_base = h;
    v[0].iov_len = sizeof h;
    if (iovcnt) memcpy(v + 1, iov, sizeof *v * (size_t)iovcnt);
    fio_window_writes(w->f, !synced);
    int rc = fio_appendv(w->f, v, iovcnt + 1);
    if (v != small) omen_free(v);
    if (rc) return fail(w, rc == OMEN_NOMEM ? OMEN_NOMEM : OMEN_IO);
    w->size += sizeof h + len;
    return OMEN_OK;
}

int wal_append_v(wal_writer *w, const struct iovec *iov, int iovcnt)
{
    return append_v(w, iov, iovcnt, 0);
}

int wal_append_synced_v(wal_writer *w, const struct iovec *iov, int iovcnt)
{
    return append_v(w, iov, iovcnt, 1);
}

int wal_append(wal_writer *w, const void *rec, size_t len)
{
    if (!rec && len) return util_seterr(OMEN_INVALID, "wal_append: NULL record");
    struct iovec v = {.iov_base = (void *)rec, .iov_len = len};
    return wal_append_v(w, &v, 1);
}

int wal_sync(wal_writer *w)
{
    if (!w) return util_seterr(OMEN_INVALID, "wal_sync: NULL writer");
    if (w->failed) return failed_err(w);
    int rc = fio_sync(w->f);
    if (rc) return fail(w, OMEN_IO);
    if (!w->dir_synced) {
        rc = fio_sync_dir(w->dir);
        if (rc) return fail(w, OMEN_IO);
        w->dir_synced = 1;
    }
    return OMEN_OK;
}

void wal_mark_earlier_durable(wal_writer *w)
{
    if (w) atomic_store_explicit(&w->earlier_durable, 1, memory_order_release);
}

uint64_t wal_size(const wal_writer *w)
{
    return w ? w->size : 0;
}

int wal_writer_close(wal_writer *w)
{
    if (!w) return OMEN_OK;
    /* A closed log ends at its last record (the reserved zeros would read
     * as a torn tail); best effort, since zeros after it are harmless. */
    if (!w->failed && w->alloc_end > w->size && fio_truncate(w->f, w->size) != OMEN_OK) util_clearerr();
    int rc = fio_close(w->f);
    omen_free(w->dir);
    omen_free(w);
    return rc;
}

/* ---- replay -------------------------------------------------------------- */

static int all_zero(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i]) return 0;
    return 1;
}

/* Extent (header + payload) of the intact record at p[off], or 0 if none
 * starts there.  Cheap rejections first: the type byte and the length
 * bound cost nothing, the checksum only runs on plausible headers. */
static size_t intact_at(const uint8_t *p, size_t len, size_t off)
{
    size_t rem = len - off;
    if (rem < WAL_RECORD_HEADER_SIZE) return 0;
    const uint8_t *r = p + off;
    uint32_t n = get_fixed32(r + 4);
    if (!REC_TYPE_OK(r[8]) || n > WAL_MAX_RECORD || (size_t)n > rem - WAL_RECORD_HEADER_SIZE)
        return 0;
    if (crc32c_mask(crc32c(0, r + 4, 5 + (size_t)n)) != get_fixed32(r)) return 0;
    return WAL_RECORD_HEADER_SIZE + (size_t)n;
}

/* First offset >= from where an intact record starts; len if none. */
static size_t next_intact(const uint8_t *p, size_t len, size_t from)
{
    for (size_t q = from; q + WAL_RECORD_HEADER_SIZE <= len; q++)
        if (REC_TYPE_OK(p[q + 8]) && intact_at(p, len, q)) return q;
    return len;
}

/* Intact records from off to the end, resynchronising past damage. */
static uint64_t count_intact(const uint8_t *p, size_t len, size_t off)
{
    uint64_t n = 0;
    while (off < len) {
        size_t ext = intact_at(p, len, off);
        if (ext) {
            n++;
            off += ext;
        } else {
            off = next_intact(p, len, off + 1);
        }
    }
    return n;
}

/* With no intact record anywhere after it and not only zeros up to the
 * end (that is the log's end), is the damage at off what a crash leaves
 * (the incomplete last write, then only the unwritten end of the file)?
 * Yes for: a partial record header, at the end of the file or followed
 * only by zeros from its type byte on (a write torn inside the header); a
 * plausible header whose length runs past the end; a plausible record whose
 * bytes end in zeros that run to the end (a write torn inside the zero-
 * filled space).  A complete record with a bad checksum, type or length is
 * not: it was written whole and changed afterwards.  Nor is a record header
 * of zeros followed by non-zero bytes (e.g. one flipped byte inside the
 * zero-filled space): the writer never leaves that in order, and a synced
 * record whose first sector was lost looks the same. */
static int torn_at(const uint8_t *p, size_t len, size_t off)
{
    size_t rem = len - off;
    const uint8_t *r = p + off;
    if (rem < WAL_RECORD_HEADER_SIZE || all_zero(r + 8, rem - 8)) return 1;
    uint32_t n = get_fixed32(r + 4);
    if (!REC_TYPE_OK(r[8]) || n > WAL_MAX_RECORD) return 0;
    uint64_t extent = WAL_RECORD_HEADER_SIZE + (uint64_t)n;
    if (extent > rem) return 1;
    return all_zero(r + extent - 1, rem - (size_t)extent + 1);
}

int wal_replay_buf_ex(const void *buf, size_t len, int skip,
                      int (*fn)(void *ctx, const void *rec, size_t len, uint64_t off), void *ctx,
                      wal_replay_info *info)
{
    wal_replay_info dummy;
    if (!info) info = &dummy;
    memset(info, 0, sizeof *info);
    info->file_size = len;
    if ((!buf && len) || !fn) return util_seterr(OMEN_INVALID, "wal_replay: bad argument");
    const uint8_t *p = buf;

    uint8_t h[WAL_FILE_HEADER_SIZE], h1[WAL_FILE_HEADER_SIZE];
    make_file_header(h, WAL_VERSION);
    make_file_header(h1, WAL_VERSION_MIN);
    size_t off = WAL_FILE_HEADER_SIZE;
    int header_ok = 1;
    if (len < WAL_FILE_HEADER_SIZE) {
        /* A crash right after creating the log; anything else is foreign. */
        if (!len || memcmp(p, h, len) == 0 || memcmp(p, h1, len) == 0) {
            info->tail_state = WAL_TAIL_TORN;
            info->bytes_after = len;
            return OMEN_OK;
        }
        header_ok = 0;
        off = len;
    } else if (memcmp(p, WAL_MAGIC, 8) != 0 || crc32c_mask(crc32c(0, p, 12)) != get_fixed32(p + 12)) {
        header_ok = 0;
    } else if (get_fixed32(p + 8) < WAL_VERSION_MIN || get_fixed32(p + 8) > WAL_VERSION) {
        return util_seterr(OMEN_VERSION, "wal: format version %u unsupported (this build reads %u to %u)",
                           get_fixed32(p + 8), WAL_VERSION_MIN, WAL_VERSION);
    }
    int damaged = 0;
    if (!header_ok) {
        /* Damage at offset 0: the records behind it are counted (or, when
         * skipping, delivered) like those behind any other damage. */
        info->header_bad = 1;
        info->corrupt = 1;
        info->tail_state = WAL_TAIL_CORRUPT;
        size_t q = next_intact(p, len, off);
        info->resume_off = q < len ? q : 0;
        if (!skip) {
            info->records_after = count_intact(p, len, q);
            info->bytes_after = len;
            return OMEN_OK;
        }
        info->regions = 1;
        info->bytes_skipped = q;
        off = q;
        damaged = 1;
    } else {
        info->valid_len = off;
    }
    while (off < len) {
        size_t ext = intact_at(p, len, off);
        size_t scan_from = off + 1;
        int unusable = 0;
        if (ext) {
            int rc = fn(ctx, p + off + WAL_RECORD_HEADER_SIZE, ext - WAL_RECORD_HEADER_SIZE, off);
            if (rc == 0) {
                info->after_durable += p[off + 8] == WAL_REC_FULL_AFTER;
                off += ext;
                if (!damaged) info->valid_len = off;
                continue;
            }
            if (rc != WAL_REC_BAD) return rc;
            /* Intact by its checksum but unusable to the caller: damage
             * that no crash explains, whose extent is known. */
            unusable = 1;
            scan_from = off + ext;
        }
        /* Zeros from a record boundary to the end of the file are the
         * space the writer reserved and zero-filled ahead of its appends:
         * the log's end, not damage. */
        if (!unusable && all_zero(p + off, len - off)) break;
        size_t q = next_intact(p, len, scan_from);
        int state = (q == len && !unusable && torn_at(p, len, off)) ? WAL_TAIL_TORN : WAL_TAIL_CORRUPT;
        if (!damaged) {
            info->tail_state = state;
            info->damage_off = off;
            info->resume_off = q < len ? q : 0;
        }
        if (state == WAL_TAIL_TORN) {
            if (!skip) info->bytes_after = len - off;
            break;
        }
        info->corrupt = 1;
        if (!skip) {
            info->records_after = count_intact(p, len, q);
            info->bytes_after = len - off;
            break;
        }
        info->regions++;
        info->bytes_skipped += q - off;
        off = q;
        damaged = 1;
    }
    return OMEN_OK;
}

/* Adapter from the plain callback of wal_replay / wal_replay_buf. */
typedef struct plain_fn {
    int (*fn)(void *ctx, const void *rec, size_t len);
    void *ctx;
} plain_fn;

static int call_plain(void *ctx, const void *rec, size_t len, uint64_t off)
{
    (void)off;
    plain_fn *pf = ctx;
    return pf->fn(pf->ctx, rec, len);
}

static int plain_result(int rc, const wal_replay_info *info, uint64_t *valid_len, int *tail_state)
{
    if (valid_len) *valid_len = info->valid_len;
    if (tail_state) *tail_state = info->tail_state;
    if (rc == OMEN_OK && info->header_bad) {
        if (tail_state) *tail_state = WAL_TAIL_CLEAN;
        if (info->file_size < WAL_FILE_HEADER_SIZE)
            return util_seterr(OMEN_CORRUPT, "wal: damaged or foreign file header (%llu bytes)",
                               (unsigned long long)info->file_size);
        return util_seterr(OMEN_CORRUPT, "wal: damaged file header (bad magic or checksum): "
                                         "not an intact OmenDB log");
    }
    return rc;
}

int wal_replay_buf(const void *buf, size_t len, int (*fn)(void *ctx, const void *rec, size_t len),
                   void *ctx, uint64_t *valid_len, int *tail_state)
{
    if (valid_len) *valid_len = 0;
    if (tail_state) *tail_state = WAL_TAIL_CLEAN;
    if (!fn) return util_seterr(OMEN_INVALID, "wal_replay: bad argument");
    plain_fn pf = {fn, ctx};
    wal_replay_info info;
    int rc = wal_replay_buf_ex(buf, len, 0, call_plain, &pf, &info);
    return plain_result(rc, &info, valid_len, tail_state);
}

int wal_replay_ex(const char *path, int skip,
                  int (*fn)(void *ctx, const void *rec, size_t len, uint64_t off), void *ctx,
                  wal_replay_info *info)
{
    wal_replay_info dummy;
    if (!info) info = &dummy;
    memset(info, 0, sizeof *info);
    if (!path || !fn) return util_seterr(OMEN_INVALID, "wal_replay: NULL argument");
    fio_file *f;
    int rc = fio_open(path, FIO_READ, &f);
    if (rc) return rc;
    uint64_t size;
    rc = fio_size(f, &size);
    if (rc) goto out;
    if (size > (uint64_t)SIZE_MAX) {
        rc = util_seterr(OMEN_INVALID, "wal: %s too large to map", path);
        goto out;
    }
    const void *map = NULL;
    void *copy = NULL;
    if (size && fio_mmap(f, size, &map) != OMEN_OK) {
        /* A file system without mmap: read the file instead (its size is
         * real, so the allocation is bounded by what is on disk). */
        map = NULL;
        size_t got;
        copy = util_malloc((size_t)size);
        if (!copy) {
            rc = util_seterr(OMEN_NOMEM, "wal: out of memory reading %s", path);
            goto out;
        }
        rc = fio_pread(f, copy, (size_t)size, 0, &got);
        if (rc) {
            omen_free(copy);
            goto out;
        }
        size = got;
    }
    /* Replay reads every page once, front to back, typically from a cold
     * cache after a crash: ask for aggressive read-ahead.  Hints only. */
    if (map) {
        madvise((void *)map, (size_t)size, MADV_SEQUENTIAL);
        madvise((void *)map, (size_t)size, MADV_WILLNEED);
    }
    rc = wal_replay_buf_ex(map ? map : copy, (size_t)size, skip, fn, ctx, info);
    if (rc == OMEN_CORRUPT || rc == OMEN_VERSION) {
        char saved[400];
        snprintf(saved, sizeof saved, "%s", omen_last_error());
        util_seterr(rc, "%s: %s", path, saved);
    }
    if (map) fio_munmap(map, size);
    omen_free(copy);
out:
    fio_close(f);
    return rc;
}

int wal_replay(const char *path, int (*fn)(void *ctx, const void *rec, size_t len), void *ctx,
               uint64_t *valid_len, int *tail_state)
{
    if (valid_len) *valid_len = 0;
    if (tail_state) *tail_state = WAL_TAIL_CLEAN;
    if (!path || !fn) return util_seterr(OMEN_INVALID, "wal_replay: NULL argument");
    plain_fn pf = {fn, ctx};
    wal_replay_info info;
    int rc = wal_replay_ex(path, 0, call_plain, &pf, &info);
    rc = plain_result(rc, &info, valid_len, tail_state);
    if (rc == OMEN_CORRUPT && info.header_bad) {
        char saved[400];
        snprintf(saved, sizeof saved, "%s", omen_last_error());
        util_seterr(rc, "%s: %s", path, saved);
    }
    return rc;
}
