/* FNV-1a: simple, stable across platforms; used for fingerprints, not security. */
#include "common/common.h"

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
