/* checkpoint/ internals: the 512-byte header at the start of a snapshot file
 * (format 2; checkpoint.h has the layout).  Written by snapshot_write.c into
 * the HDF5 user block, checked by snapshot_read.c before HDF5 sees a byte. */
#ifndef YT_SNAPSHOT_HEADER_H
#define YT_SNAPSHOT_HEADER_H

#include <stddef.h>
#include <stdint.h>

#include "common/common.h"

/* yt_checksum64 of the whole image with the hash field, bytes [32, 40), taken
 * as zero (img is restored before returning). */
uint64_t yt_snap_image_hash(unsigned char *img, size_t size);
void yt_snap_put_le(unsigned char *p, uint64_t v, int nbytes);
uint64_t yt_snap_get_le(const unsigned char *p, int nbytes);
/* 0 when img (the whole file, `size` bytes) carries a good header and hash;
 * -2 for a format-1 snapshot (a bare HDF5 file); -1 otherwise.  Messages name
 * `path`. */
int yt_snap_check_header(const char *path, unsigned char *img, size_t size, yt_err *e);

#endif
