/*
 * vkeys.h -- the engine keys of vector sets (layout in vset.h and
 * docs/format.md, "Reserved keys"), shared by the set code and re-ranking.
 */
#ifndef OMEN_VKEYS_H
#define OMEN_VKEYS_H

#include <stdint.h>
#include <string.h>

#include "db/reserved.h"
#include "util/coding.h"

/* Every key: the reserved prefix, 'V', a kind byte; then the set number
 * (big-endian) for elements and log keys. */
#define VK_PRE_LEN (DB_RESERVED_LEN + 1)
#define VK_HDR (VK_PRE_LEN + 1)
#define VK_SET (VK_HDR + 4)
#define VK_LOG_LEN (VK_SET + 8)

static inline size_t vk_head(unsigned char *k, char kind)
{
    memcpy(k, DB_RESERVED_PREFIX "V", VK_PRE_LEN);
    k[VK_PRE_LEN] = (unsigned char)kind;
    return VK_HDR;
}

static inline void vk_set(unsigned char *k, uint32_t set)
{
    k[VK_HDR] = (unsigned char)(set >> 24);
    k[VK_HDR + 1] = (unsigned char)(set >> 16);
    k[VK_HDR + 2] = (unsigned char)(set >> 8);
    k[VK_HDR + 3] = (unsigned char)set;
}

static inline size_t key_meta(unsigned char *k, const char *name, size_t nlen)
{
    vk_head(k, 'M');
    memcpy(k + VK_HDR, name, nlen);
    return VK_HDR + nlen;
}

static inline size_t key_elem(unsigned char *k, uint32_t set, const void *id, size_t idlen)
{
    vk_head(k, 'E');
    vk_set(k, set);
    memcpy(k + VK_SET, id, idlen);
    return VK_SET + idlen;
}

static inline size_t key_log(unsigned char *k, uint32_t set, uint64_t logno)
{
    vk_head(k, 'L');
    vk_set(k, set);
    put_be64(k + VK_SET, logno);
    return VK_LOG_LEN;
}

/* [lo, hi) of a set's elements ('E') or logs ('L'), VK_SET bytes each. */
static inline void key_range(unsigned char *lo, unsigned char *hi, char kind, uint32_t set)
{
    vk_head(lo, kind);
    vk_set(lo, set);
    memcpy(hi, lo, VK_SET);
    if (set == UINT32_MAX) {
        hi[VK_PRE_LEN]++;
        memset(hi + VK_HDR, 0, 4);
    } else {
        vk_set(hi, set + 1);
    }
}

#endif
