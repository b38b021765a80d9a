/* prefetch.h — the device prefetcher of the training loop: while step k runs, batch k+1 is
 * already read from the loop's batch source (the loader or a batch stream), checked on the
 * host (data/loader.h lm_batch_check), copied into a host tensor of its own (page-locked on
 * CUDA) and queued for upload on a copy stream of its own (shim/lt.h lt_stream); step k+1 then
 * takes it after making the compute stream wait for that upload on the device (issue 21,
 * "input overlapped with compute"). What torch users get from DataLoader(pin_memory=True)
 * plus a CUDA-stream prefetcher around it; the official trainer (Lightning 1.2) copies each
 * batch to the GPU synchronously at the start of its step.
 *
 * Order within one call of lm_prefetch_get(pos, next):
 *   1. the batch at pos: the one prepared by the previous call when it was prepared for pos,
 *      else read and prepared now (the first batch, an epoch's first batch, prefetching off);
 *   2. the compute stream waits for its upload (no host wait);
 *   3. when next is given and prefetching is on: the batch at next is read, checked, copied
 *      and its upload queued — before the caller launches step pos, whose device work then
 *      overlaps the copy. A failure here (a read error, a bad value, a libtorch error) is
 *      kept, not returned: the call that asks for next reports it, so step pos is still run,
 *      logged and checkpointed first.
 * The caller decides what next is; the training loop never asks across an epoch's end or past
 * its last step, so which batch a step trains on is the same with prefetching on or off.
 *
 * Memory rules on CUDA: the device tensors of a batch are allocated on the copy stream, so
 * step 2 also records them as used by the compute stream (lt_stream_wait); their memory goes
 * back to the caching allocator only after that stream's work queued so far is done. The host
 * copy is freed only with the batch (the sample grid and --dump-batches read it), and the
 * caching host allocator keeps page-locked memory until the copies from it are done. On a CPU
 * device there is no stream: a prepared batch is the copy of the source's floats (never the
 * source's own buffer, which its next read recycles), and the device tensors are that copy. */
#ifndef LM_PREFETCH_H
#define LM_PREFETCH_H

#include <stdint.h>

#include "data/loader.h"
#include "shim/lt.h"

/* A batch's place in the run: the global step that trains on it, and its (epoch, batch). */
typedef struct lm_batch_pos {
    int64_t step, epoch, batch;
} lm_batch_pos;

/* The batch source: the batch at pos into *out (borrowed until the next call). 0 with a batch,
 * 1 when it gave up waiting (no batch, no error: e.g. a signal arrived), negative on error
 * (message set). */
typedef int (*lm_prefetch_read_fn)(const lm_batch **out, void *ctx, const lm_batch_pos *pos);

typedef struct lm_prefetch lm_prefetch;

/* A batch ready for a step on the prefetcher's device. Everything is owned by the prefetcher
 * and valid until its next lm_prefetch_get (or free). */
typedef struct lm_prefetched {
    const lm_batch *host; /* header (n, h, w, epoch, batch, image ids) and the batch's host floats */
    lt_tensor *img;       /* (N, 3, H, W) F32 on the device */
    lt_tensor *mask;      /* (N, 1, H, W) F32 on the device */
} lm_prefetched;

/* on: prepare the next batch ahead (data.train.device_prefetch); off: each batch is read,
 * checked and copied to the device synchronously when it is asked for (lt_to_device), as the
 * loop did before the prefetcher. read/ctx: the source, borrowed. */
int lm_prefetch_create(lm_prefetch **out, lt_device dev, int on, lm_prefetch_read_fn read, void *ctx);
void lm_prefetch_free(lm_prefetch *p); /* accepts NULL; a batch prepared ahead is dropped */

/* The batch at pos, then (when next is non-NULL and prefetching is on) the batch at next
 * prepared ahead (see above). Returns 0 with *b filled, 1 when the source gave up waiting for
 * pos (nothing filled, no error), negative on error: the source's or lm_batch_check's message
 * (for a batch read ahead: prefixed with the step it was read during). A batch prepared ahead
 * for another position than pos is dropped and pos read now. */
int lm_prefetch_get(lm_prefetched *b, lm_prefetch *p, const lm_batch_pos *pos, const lm_batch_pos *next);

#endif
