/* FNV-1a: simple, stable across platforms; used for fingerprints, not security.
 * yt_checksum64: a faster checksum of large buffers (whole snapshot files). */
#include "common/common.h"

#include <string.h>

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "yt_checksum64 reads little-endian words"
#endif

uint64_t yt_hash64(const void *data, size_t n, uint64_t seed)
{
    const unsigned char *p = data;
    uint64_t h = seed;
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}

/* Four independent lanes so that the multiplies overlap (~5x FNV-1a's speed
 * here); each step yt_mix64(lane ^ word) is a bijection of the lane for a
 * given word and of the word for a given lane, so a change inside one word
 * always changes the result. */
uint64_t yt_checksum64(const void *data, size_t n)
{
    const unsigned char *p = data;
    uint64_t lane[4] = {1, 2, 3, 4};
    size_t i = 0;
    for (; i + 32 <= n; i += 32)
        for (int k = 0; k < 4; k++) {
            uint64_t w;
            memcpy(&w, p + i + 8 * k, 8);
            lane[k] = yt_mix64(lane[k] ^ w);
        }
    unsigned char tail[32] = {0};
    memcpy(tail, p + i, n - i);
    for (size_t k = 0; k < (n - i + 7) / 8; k++) {
        uint64_t w;
        memcpy(&w, tail + 8 * k, 8);
        lane[k] = yt_mix64(lane[k] ^ w);
    }
    uint64_t h = (uint64_t)n;
    for (int k = 0; k < 4; k++)
        h = yt_mix64(h ^ lane[k]);
    return h;
}
