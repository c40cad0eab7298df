/*
 * compress.h -- the block compression wrapper of sorted-run files.
 *
 * One call site per direction so the run code never depends on a codec's
 * API.  Codecs: OMEN_COMPRESS_NONE (copy), OMEN_COMPRESS_LZ4 (liblz4 block
 * format), OMEN_COMPRESS_ZSTD (libzstd frame, level 1), OMEN_COMPRESS_SNAPPY
 * (libsnappy raw block, through its C API snappy-c.h).
 *
 * Invariants:
 *  - Decompression is always told the exact decompressed size (stored in
 *    the run's block index) and fails with OMEN_CORRUPT unless the codec
 *    produces exactly that many bytes; no stored length is trusted beyond
 *    the caller's buffer.  Any input byte sequence is safe to decompress.
 *  - Thread-safe, no global state.
 */
#ifndef OMEN_COMPRESS_H
#define OMEN_COMPRESS_H

#include <stddef.h>

#include "omendb.h"

/* Largest input a codec accepts in one block (a little under 2 GiB, LZ4's
 * limit); run blocks are far smaller (values are at most 256 MiB). */
#define COMPRESS_MAX_INPUT ((size_t)0x7E000000)

/* 1 if type is a known OMEN_COMPRESS_* codec. */
int compress_type_valid(int type);

/* Worst-case compressed size of n input bytes for `type` (0 if the type is
 * unknown or n > COMPRESS_MAX_INPUT). */
size_t compress_bound(int type, size_t n);

/* Compress in[0..n) into out[0..cap).  cap should be compress_bound(type, n).
 * OMEN_OK with *out_len set; OMEN_INVALID for an unknown type or n too big;
 * OMEN_NOMEM/OMEN_INVALID if the codec fails (cap too small). */
int compress_block(int type, const void *in, size_t n, void *out, size_t cap, size_t *out_len);

/* Decompress in[0..n) into out[0..raw_len), which must come out exactly
 * raw_len bytes long.  OMEN_CORRUPT on any malformed input or size mismatch,
 * OMEN_INVALID for an unknown type. */
int decompress_block(int type, const void *in, size_t n, void *out, size_t raw_len);

#endif
