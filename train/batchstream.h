/* batchstream.h — a batch stream: the training batches of a run, in the order the steps used
 * them, as one safetensors file. `lamac train --dump-batches FILE` writes the batches its
 * loader produced (those of this invocation: after a --resume, batch 0 is the first one after
 * the checkpoint); `data.train.stream=FILE` trains on such a file instead of the shards
 * (step k, counted from 0 over the whole run, takes batch k; the stream's batch shape replaces
 * data.batch_size and data.train.out_size). The official trainer side of
 * bench/curve_vs_official.sh reads the same file (tests/ref/official_train.py), so both
 * sides see identical images, crops, augmentations and masks (docs/curves.md).
 *
 * Format: image.NNNNNN (N, 3, H, W) and mask.NNNNNN (N, 1, H, W), NNNNNN = the batch's index
 * in the stream (6 digits, from 0), every batch the same shape. image is F32 in [0, 1] or U8
 * (value / 255: a compact fixture); mask is F32 or U8 with values in {0, 1}. Metadata:
 * format = lamac-batch-stream-1, batches = the count, and per batch epoch.NNNNNN /
 * batch.NNNNNN (the loader's position it came from, informational). */
#ifndef LM_BATCHSTREAM_H
#define LM_BATCHSTREAM_H

#include <stdint.h>

#include "data/loader.h"

typedef struct lm_bstream lm_bstream;

/* Opens and checks a stream (the format above; every batch present with equal shapes). */
int lm_bstream_open(lm_bstream **out, const char *path);
void lm_bstream_close(lm_bstream *s); /* accepts NULL */
int64_t lm_bstream_count(const lm_bstream *s);
int lm_bstream_batch_size(const lm_bstream *s);
int lm_bstream_side(const lm_bstream *s, int *h, int *w);
/* Batch i as float32 (img in [0, 1], mask in {0, 1}), labelled with the run's position
 * (epoch, batch); *out is borrowed until the next call. */
int lm_bstream_get(const lm_batch **out, lm_bstream *s, int64_t i, int64_t epoch, int64_t batch);

typedef struct lm_bstream_writer lm_bstream_writer;

/* Nothing touches path before lm_bstream_writer_close. Batches are kept in memory until then
 * (a stream is for short comparison runs: 300 steps of the demo's 4 x 64 px are 79 MB). */
int lm_bstream_writer_open(lm_bstream_writer **out, const char *path);
int lm_bstream_writer_add(lm_bstream_writer *w, const lm_batch *b);
/* Writes the file atomically and frees w (NULL ok). */
int lm_bstream_writer_close(lm_bstream_writer *w);
void lm_bstream_writer_abort(lm_bstream_writer *w); /* frees w without writing (NULL ok) */

#endif
