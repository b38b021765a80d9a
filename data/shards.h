/* shards.h — HDF5 shard sets: the training images, stored once, read by random crop.
 *
 * Replaces the official loader's folder of JPEGs (training/data/datasets.py,
 * InpaintingTrainDataset globbing indir for .jpg files) with decoded pixels in HDF5 (DESIGN.md §6).
 *
 * Layout of a shard set directory:
 *   DIR/index.txt          written LAST (temp + rename): "lamac-shards 1", one
 *                          "shard <file> <count>" line per shard, "total <n>".
 *                          A directory without it is not a (complete) shard set.
 *   DIR/shard-00000.h5 …   one HDF5 file per --per-shard images:
 *     attrs  /lamac_shards_version (int32, = LM_SHARDS_VERSION), /count (int64)
 *     /sizes (count, 2) int32      per image (h, w)
 *     /img/0000000 …               one dataset per image: (h, w, 3) uint8, raw HWC RGB,
 *                                  chunked LM_SHARDS_CHUNK x LM_SHARDS_CHUNK x 3,
 *                                  Fletcher32; attribute "name" = source path
 *                                  relative to the source root.
 * A random crop reads only the chunks it touches (hyperslab selection).
 *
 * Thread safety: serial HDF5 is not thread-safe, so every HDF5 call in lamac goes through
 * one process-wide mutex held inside these functions; callers may call lm_shards_read()
 * from any number of threads (they serialise on I/O, parallelise everything else). */
#ifndef LM_SHARDS_H
#define LM_SHARDS_H

#include <stdint.h>
#include <stdio.h>

#include "data/image.h"

#define LM_SHARDS_VERSION 1
#define LM_SHARDS_CHUNK 64
#define LM_SHARDS_INDEX "index.txt"

/* ---- reading ---------------------------------------------------------------------- */
typedef struct lm_shards lm_shards;

/* Opens DIR/index.txt and every shard it lists; reads the per-image sizes. */
int lm_shards_open(lm_shards **out, const char *dir);
void lm_shards_close(lm_shards *s); /* accepts NULL */
int64_t lm_shards_count(const lm_shards *s);
/* Size of image i (0 <= i < count), in pixels. */
void lm_shards_size(const lm_shards *s, int64_t i, int *h, int *w);
/* Reads the region rows [y0, y0+rh) x cols [x0, x0+rw) of image i into out (rh, rw, 3).
 * The region must lie inside the image. Thread-safe. */
int lm_shards_read(lm_shards *s, int64_t i, uint8_t *out, int y0, int x0, int rh, int rw);
/* Source name of image i into buf (truncated to n). Thread-safe. */
int lm_shards_name(lm_shards *s, int64_t i, char *buf, size_t n);

/* Reads every chunk of every image (Fletcher32 checked on read). Each damaged file or image
 * is reported on `report` as one line "damaged: <file> image <k> (<name>): <why>".
 * *n_damaged receives the count; returns 0 if the walk itself ran (even when damage was
 * found), negative when DIR is not a shard set. */
int lm_shards_verify(const char *dir, FILE *report, int64_t *n_images, int64_t *n_damaged);

/* ---- writing ---------------------------------------------------------------------- */
typedef struct lm_shard_writer lm_shard_writer;

/* Starts a shard set in dir (created if missing). Refuses a dir that already holds an
 * index.txt unless overwrite is set (then the old index is removed first, so a crash
 * midway never leaves an index pointing at a mix of old and new shards). */
int lm_shard_writer_open(lm_shard_writer **out, const char *dir, int per_shard, int overwrite);
/* Appends one image (c must be 3). Not thread-safe per writer; call from one thread. */
int lm_shard_writer_add(lm_shard_writer *w, const lm_image *img, const char *name);
/* Closes the last shard, renames the temp files to their final names, writes the index
 * last. Until this returns 0 the directory holds only temp files. */
int lm_shard_writer_finish(lm_shard_writer *w, int64_t *n_images, int *n_shards);
/* Frees; if finish was not reached, removes the temp files written so far. */
void lm_shard_writer_free(lm_shard_writer *w);

/* The process-wide HDF5 lock (for code that calls HDF5 directly, e.g. tests). */
void lm_hdf5_lock(void);
void lm_hdf5_unlock(void);

#endif
