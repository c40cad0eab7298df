/*
 * avx512_emu.h -- runs the AVX-512 search kernels on a CPU without AVX-512.
 *
 * Forced in (-include) ahead of the index sources for one test build only
 * (mk/index.mk, test-emu512).  With LIDX_EMULATE_AVX512 defined,
 * lsearch_impl.h compiles its AVX-512 kernels without the avx512f target,
 * and the _mm512_* names below resolve to SIMDe's portable versions, so
 * test_index checks the AVX-512 query paths' logic (routing, counts, masks,
 * tails, batch) on any x86-64.  What this cannot check is the native
 * encoding of those instructions: that needs an AVX-512 CPU, where the
 * ordinary test build runs them.
 *
 * SIMDe 0.7.4 lacks three intrinsics the kernels use and misdeclares two;
 * they are defined here from ones it has.  The masked load reads only the lanes its mask selects,
 * as the hardware's does not fault on the others: under ASan that checks
 * that every lane the kernels keep is in bounds.
 */
#ifndef OMEN_AVX512_EMU_H
#define OMEN_AVX512_EMU_H

#define LIDX_EMULATE_AVX512 1

#include <immintrin.h>
#include <stdint.h>
#include <string.h>

/* Aliases for AVX-512F only: the AVX2 kernels stay native. */
#define SIMDE_X86_AVX512F_ENABLE_NATIVE_ALIASES
#include <simde/x86/avx512.h>

static inline simde__mmask8 emu_cmplt_epu64_mask(simde__m512i a, simde__m512i b)
{
    return (simde__mmask8)~simde_mm512_cmple_epu64_mask(b, a);
}

static inline simde__m512i emu_maskz_loadu_epi64(simde__mmask8 k, const void *p)
{
    uint64_t lane[8] = {0};
    for (int i = 0; i < 8; i++)
        if (k >> i & 1) memcpy(&lane[i], (const char *)p + 8 * i, 8);
    return simde_mm512_loadu_si512(lane);
}

/* SIMDe 0.7.4's aliases for these two take a fourth argument the real
 * intrinsics do not have. */
#undef _mm512_mask_cmple_epi64_mask
#undef _mm512_mask_cmple_epu64_mask
#define _mm512_mask_cmple_epi64_mask(k, a, b) ((simde__mmask8)((k) & simde_mm512_cmple_epi64_mask((a), (b))))
#define _mm512_mask_cmple_epu64_mask(k, a, b) ((simde__mmask8)((k) & simde_mm512_cmple_epu64_mask((a), (b))))
#define _mm512_cmplt_epu64_mask(a, b) emu_cmplt_epu64_mask((a), (b))
#define _mm512_mask_cmplt_epu64_mask(k, a, b) ((simde__mmask8)((k)&emu_cmplt_epu64_mask((a), (b))))
#define _mm512_maskz_loadu_epi64(k, p) emu_maskz_loadu_epi64((simde__mmask8)(k), (p))

#endif
