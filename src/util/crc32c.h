/*
 * crc32c.h -- CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), the
 * checksum of every OmenDB file format.
 *
 * crc32c() uses the SSE4.2 crc32 instruction when the CPU has it and a
 * slicing-by-8 table otherwise; both give identical results (tested against
 * the RFC 3720 vectors).  It is thread-safe and allocation-free.
 *
 * Stored checksums are *masked* (crc32c_mask): a CRC computed over bytes
 * that themselves embed CRCs is otherwise prone to degenerate agreement, and
 * masking makes an all-zero region (a common torn-write artefact) fail the
 * check, since crc32c_mask(crc32c(0, zeros, n)) != 0.
 */
#ifndef OMEN_CRC32C_H
#define OMEN_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/* Extend `crc` (0 for a fresh checksum) with n bytes at p.
 * crc32c(crc32c(0, a, na), b, nb) == crc32c(0, a||b, na+nb). */
uint32_t crc32c(uint32_t crc, const void *p, size_t n);

/* The portable implementation (exposed so tests compare both paths). */
uint32_t crc32c_sw(uint32_t crc, const void *p, size_t n);

/* 1 when crc32c() uses the hardware instruction. */
int crc32c_hw_available(void);

#define CRC32C_MASK_DELTA 0xa282ead8u

static inline uint32_t crc32c_mask(uint32_t crc)
{
    return ((crc >> 15) | (crc << 17)) + CRC32C_MASK_DELTA;
}

static inline uint32_t crc32c_unmask(uint32_t masked)
{
    uint32_t rot = masked - CRC32C_MASK_DELTA;
    return (rot >> 17) | (rot << 15);
}

#endif
