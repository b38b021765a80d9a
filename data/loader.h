/* loader.h — the training data loader: shard set -> augmented crops + masks, in batches,
 * prefetched on a worker thread. Mirrors make_default_train_dataloader()
 * (saicinpainting/training/data/datasets.py: InpaintingTrainDataset + get_transforms +
 * the mixed mask generator + torch DataLoader with shuffle), with the DDP split the
 * official code meant to do (DistributedSampler) but never passed to its loader.
 *
 * Determinism (DESIGN.md §7): epoch e's order is a permutation keyed by (seed, e,
 * LM_RNG_SHUFFLE), identical on every rank; rank r of W takes positions r, r+W, r+2W, …
 * of the first W·floor(N/W) (disjoint slices; the remainder is dropped per epoch, as
 * DistributedSampler(drop_last=True)). Position p of epoch e is augmented with the stream
 * (seed, e, p, LM_RNG_AUG) and masked with (seed, e, p, LM_RNG_MASK), iter = e·N + p. So a
 * batch depends only on (seed, epoch, batch index, rank, world size), never on the number
 * of threads or the timing; a resumed run (start_epoch, start_batch) continues exactly.
 * Incomplete last batches of an epoch are dropped (fixed batch shape).
 *
 * Work: `threads` OpenMP threads (started by one producer pthread) fill a ring of
 * `prefetch` + 1 batch buffers ahead of the consumer. They claim samples one by one from a
 * stream that runs across batches (no barrier at the end of a batch) as long as the
 * sample's ring slot is free, and completed batches are handed over in order. Shard reads
 * are serialised by the HDF5 lock; augmentation and masks run in parallel.
 *
 * Test-only hooks (environment, read at open; "E:P" = epoch E, position P of that epoch's
 * order, as the loader's messages name it): LAMAC_TEST_LOADER_FAIL=E:P fails that sample as a
 * read error would (LM_EIO, the usual "loader: epoch E position P (image I)" message);
 * LAMAC_TEST_LOADER_STALL=E:P makes the worker stop at that sample as a read that never
 * returns would, printing "loader: stalled at epoch E position P" to stderr once, until the
 * loader is closed (its batch and those after it never come; lm_loader_next_or can still give
 * up waiting). */
#ifndef LM_LOADER_H
#define LM_LOADER_H

#include <stdint.h>

#include "data/augment.h"

struct lm_mask_cfg; /* masks/mask.h */

typedef struct lm_loader_opts {
    const char *shard_dir;
    int out_size;                   /* crop side, e.g. 256 */
    int batch_size;
    lm_aug_variant variant;         /* transform_variant */
    const struct lm_mask_cfg *mask; /* training masks; borrowed for the loader's life. A folder
                                     * kind (masks/mask.h) is listed at open (data/maskdir.h) */
    uint64_t seed;
    int rank, world_size;           /* 0, 1 when not distributed */
    int threads;                    /* OpenMP threads for sample work; 0 = all cores */
    int prefetch;                   /* batches prepared ahead (>= 1) */
    int64_t start_epoch, start_batch; /* resume point */
} lm_loader_opts;

/* The options that are not config keys: seed 0, rank 0 of 1, threads 0, prefetch 2, start
 * (0, 0). out_size, batch_size, variant, shard_dir and mask are zero: the caller sets them
 * (config/fill.h LM_OPTS_LOADER fills the first three from data.train and its defaults). */
void lm_loader_opts_default(lm_loader_opts *o);

typedef struct lm_batch {
    int n, h, w;
    float *img;         /* (n, 3, h, w) in [0, 1] */
    float *mask;        /* (n, 1, h, w) in {0, 1} */
    int64_t *image_ids; /* (n) index of each sample's image in the shard set (-1: unknown) */
    int64_t epoch, batch; /* position of this batch */
} lm_batch;

/* Checks a batch's values on the host, before it goes to a device: every mask value is 0 or
 * 1 and every image value is finite. 0, or LM_EINVAL with a message naming the batch's
 * position (epoch, batch), the sample (and its image index when known), the first bad value
 * and where it is. Pure C over b's floats (a pass over the batch, no device read). */
int lm_batch_check(const lm_batch *b);

typedef struct lm_loader lm_loader;

int lm_loader_open(lm_loader **out, const lm_loader_opts *o);
/* Next batch in order. *out is borrowed until the next call (or close): the next call hands
 * its buffer back to the worker, which refills it. */
int lm_loader_next(const lm_batch **out, lm_loader *l);
/* lm_loader_next that can give up waiting: while the next batch is not ready it calls
 * stop(ctx) about every LM_LOADER_POLL_MS ms (and once before the first wait), with the
 * loader's lock held (it must be quick and must not call the loader). When stop answers
 * nonzero it returns 1 with *out NULL and no error set: the batch stays next in line (a later
 * call still gets it); the previously returned batch is handed back all the same. stop NULL:
 * lm_loader_next. 0 with a batch, negative on error as lm_loader_next. */
#define LM_LOADER_POLL_MS 50
int lm_loader_next_or(const lm_batch **out, lm_loader *l, int (*stop)(void *ctx), void *ctx);
void lm_loader_close(lm_loader *l); /* accepts NULL; stops the worker */
int64_t lm_loader_images(const lm_loader *l);          /* images in the shard set */
int64_t lm_loader_batches_per_epoch(const lm_loader *l); /* for this rank */

/* The building blocks, usable without the worker (tests, evaluation): */
/* Image index at position p of epoch e's permutation. */
int64_t lm_loader_image_at(lm_loader *l, int64_t epoch, int64_t pos);
/* One sample at (epoch, global position p): img (3, out, out), mask (1, out, out). Thread-safe. */
int lm_loader_sample(float *img, float *mask, lm_loader *l, int64_t epoch, int64_t pos);

#endif
