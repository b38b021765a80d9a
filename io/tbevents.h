/* tbevents.h — TensorBoard event files written in plain C (no protobuf library), what
 * the official trainer gets from PyTorch Lightning's TensorBoardLogger
 * (torch.utils.tensorboard.SummaryWriter → tensorboard/summary/writer/event_file_writer.py).
 *
 * File: <dir>/events.out.tfevents.<unix seconds>.<hostname>[.<n>] (TensorBoard picks up any
 * file whose name contains "tfevents"; ".<n>" only when that name already exists).
 * Records (TFRecord framing, tensorflow/core/lib/io/record_writer.cc):
 *     uint64 length (LE) | uint32 masked_crc32c(length bytes) | data | uint32 masked_crc32c(data)
 *     masked_crc(c) = ((c >> 15) | (c << 17)) + 0xa282ead8
 * Each record's data is one Event protobuf (tensorflow/core/util/event.proto), encoded by
 * hand: wall_time double = 1, step int64 = 2, file_version string = 3 ("brain.Event:2" in the
 * first record), summary = 5 → Summary { repeated Value value = 1 }, Value { tag = 1,
 * simple_value float = 2, image = 4 → Image { height = 1, width = 2, colorspace = 3,
 * encoded_image_string bytes = 4 } }.
 *
 *     lm_tbevents_writer *tb; lm_tbevents_open(&tb, "run/tb");
 *     lm_tbevents_scalar(tb, "train/gen_total", step, loss);
 *     lm_tbevents_image(tb, "samples", step, h, w, 3, png, png_len);  // PNG bytes from data/image.h
 *     lm_tbevents_flush(tb); ... lm_tbevents_close(tb);
 * Not thread-safe: one writer per thread. After a write error the writer refuses further
 * records (a half-written record would hide the ones after it), returning LM_EIO. */
#ifndef LM_TBEVENTS_H
#define LM_TBEVENTS_H

#include <stddef.h>
#include <stdint.h>

typedef struct lm_tbevents_writer lm_tbevents_writer;

/* Creates dir (one level; the parent must exist) if missing and a new event file in it,
 * and writes the file_version record. */
int lm_tbevents_open(lm_tbevents_writer **out, const char *dir);
/* Same with an explicit file path (must not exist) and wall time source fixed to `wall`
 * seconds when wall >= 0 (tests; pass -1 for the clock). */
int lm_tbevents_open_path(lm_tbevents_writer **out, const char *path, double wall);
const char *lm_tbevents_path(const lm_tbevents_writer *w); /* the event file's path */

/* One scalar (Value.simple_value). tag: non-empty, at most LM_TBEVENTS_MAX_TAG bytes. */
int lm_tbevents_scalar(lm_tbevents_writer *w, const char *tag, int64_t step, float value);
/* n scalars in one Event (same step). */
int lm_tbevents_scalars(lm_tbevents_writer *w, int64_t step, int n, const char *const *tags, const float *values);
/* One image: PNG bytes (checked for the PNG signature) of an h x w image with c channels
 * (1 gray, 3 RGB, 4 RGBA: TensorBoard's colorspace). */
int lm_tbevents_image(lm_tbevents_writer *w, const char *tag, int64_t step, int h, int wd, int c, const void *png,
                size_t n);
/* Pushes buffered records to the file (fflush). */
int lm_tbevents_flush(lm_tbevents_writer *w);
/* Flushes, fsyncs and closes; frees w (NULL ok, returns 0). */
int lm_tbevents_close(lm_tbevents_writer *w);

#define LM_TBEVENTS_MAX_TAG 1024

/* CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), continuing from crc (0 to start). */
uint32_t lm_crc32c(uint32_t crc, const void *data, size_t n);
/* TFRecord's masked CRC of data. */
uint32_t lm_tbevents_masked_crc(const void *data, size_t n);

#endif
