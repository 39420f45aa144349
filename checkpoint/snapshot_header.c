/* The snapshot header: magic, version, size and whole-file hash (format 2).
 * Checking it first means HDF5 only ever parses bytes that are exactly what
 * our writer produced: a damaged file is refused here, before HDF5's own
 * parsers (which crash or allocate without bound on some damaged files) run. */
#include "checkpoint/snapshot_header.h"

#include <string.h>

#include "checkpoint/checkpoint.h"

#define HASH_AT 32

uint64_t yt_snap_image_hash(unsigned char *img, size_t size)
{
    unsigned char stored[8];
    memcpy(stored, img + HASH_AT, 8);
    memset(img + HASH_AT, 0, 8);
    uint64_t h = yt_checksum64(img, size);
    memcpy(img + HASH_AT, stored, 8);
    return h;
}

void yt_snap_put_le(unsigned char *p, uint64_t v, int nbytes)
{
    for (int i = 0; i < nbytes; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

uint64_t yt_snap_get_le(const unsigned char *p, int nbytes)
{
    uint64_t v = 0;
    for (int i = nbytes; i-- > 0;)
        v = (v << 8) | p[i];
    return v;
}

int yt_snap_check_header(const char *path, unsigned char *img, size_t size, yt_err *e)
{
    static const unsigned char hdf5_sig[8] = {0x89, 'H', 'D', 'F', '\r', '\n', 0x1a, '\n'};
    if (size >= 8 && memcmp(img, hdf5_sig, 8) == 0) {
        yt_errf(e, "%s: a format 1 snapshot (written by an earlier yieldtune, without the "
                   "whole-file checksum); this yieldtune reads format %d only",
                path, YT_SNAP_FORMAT_VERSION);
        return -2;
    }
    if (size < YT_SNAP_HEADER_BYTES || memcmp(img, YT_SNAP_MAGIC, 16) != 0)
        return yt_errf(e, "%s: not a yieldtune snapshot (no snapshot header%s)", path,
                       size < YT_SNAP_HEADER_BYTES ? ": file too short" : "");
    uint64_t version = yt_snap_get_le(img + 16, 4), hbytes = yt_snap_get_le(img + 20, 4);
    uint64_t stored_size = yt_snap_get_le(img + 24, 8), stored = yt_snap_get_le(img + HASH_AT, 8);
    if (version != YT_SNAP_FORMAT_VERSION || hbytes != YT_SNAP_HEADER_BYTES)
        return yt_errf(e, "%s: snapshot header says format %llu with a %llu-byte header; this "
                          "yieldtune reads format %d (%d bytes)",
                       path, (unsigned long long)version, (unsigned long long)hbytes,
                       YT_SNAP_FORMAT_VERSION, YT_SNAP_HEADER_BYTES);
    if (stored_size != size)
        return yt_errf(e, "%s: the header says %llu bytes but the file has %zu (truncated or "
                          "damaged)",
                       path, (unsigned long long)stored_size, size);
    uint64_t h = yt_snap_image_hash(img, size);
    if (h != stored)
        return yt_errf(e, "%s: whole-file checksum mismatch (stored %016llx, data %016llx): "
                          "the file is damaged",
                       path, (unsigned long long)stored, (unsigned long long)h);
    return 0;
}
