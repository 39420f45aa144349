/* runner/tensorboard: TensorBoard event files, written by hand (no TensorFlow,
 * no protobuf library).  A file is a sequence of records: uint64 length,
 * uint32 masked CRC-32C of those 8 bytes, the serialized Event protobuf,
 * uint32 masked CRC-32C of it (little endian).  The first record holds
 * file_version "brain.Event:2"; the second a SessionLog START at the first
 * step this file will write, so that TensorBoard drops the points of an
 * earlier attempt from that step on (steps lost to a restart from an older
 * snapshot).  Scalars go as Summary{value{tag, simple_value}}.
 * One file per attempt, named so that sorting the names sorts them by time. */
#ifndef YT_TENSORBOARD_H
#define YT_TENSORBOARD_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "common/common.h"

#define YT_TB_MAX_VALUES 16
#define YT_TB_BUF 4096

typedef struct yt_tb {
    FILE *f;
    char path[4400];
    unsigned char *buf; /* one record, allocated at open */
} yt_tb;

/* Creates DIR (mkdir -p) and a new event file in it, writes the version and
 * the START record for first_step. */
int yt_tb_open(yt_tb *tb, const char *dir, long first_step, double wall, yt_err *e);
/* One Event at (step, wall) holding n scalars; flushed. */
int yt_tb_scalars(yt_tb *tb, long step, double wall, const char *const *tags, const float *values,
                  int n, yt_err *e);
void yt_tb_close(yt_tb *tb);

/* CRC-32C (Castagnoli), chainable from crc = 0; and TensorFlow's mask of it. */
uint32_t yt_tb_crc32c(const void *data, size_t n, uint32_t crc);
uint32_t yt_tb_mask(uint32_t crc);

#endif
