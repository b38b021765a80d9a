/* maskdir.h — training masks drawn from a folder of mask PNGs: the source behind
 * lm_mask_cfg's folder kind (masks/mask.h), listed once when the loader opens. lamac's
 * addition: the official training code only generates masks (training/data/masks.py).
 *
 * Each draw picks a file uniformly with the sample's mask stream (core/rng.h, purpose
 * LM_RNG_MASK, keyed by (seed, epoch, position) like the generated masks, so the result does
 * not depend on the thread count), reads it as 8-bit gray, brings it to the crop size (mode
 * resize: nearest-neighbour scaling so the shorter side equals the crop side, aspect kept,
 * then a random crop along the longer side; mode crop: a random crop at the file's own
 * scale, nearest-upscaled first when a side is smaller than the crop) and binarises it:
 * hole = gray > threshold (default 0, prediction's `mask > 0`; use 127 for anti-aliased
 * masks). Files are re-read on every draw (nothing cached: a folder can be large).
 *
 *     lm_maskdir *md; lm_maskdir_open(&md, &cfg->folder_kwargs);     // errors: missing/empty folder
 *     lm_maskdir_attach(md, &cfg_copy);          // cfg_copy.folder_kwargs.source = this folder
 *     lm_mask_generate(m, 256, 256, &cfg_copy, &rng, iter);
 * Thread-safe after open (draws only read). */
#ifndef LM_MASKDIR_H
#define LM_MASKDIR_H

#include <stddef.h>
#include <stdint.h>

#include "core/rng.h"
#include "masks/mask.h"

typedef struct lm_maskdir lm_maskdir;

/* Lists *.png (any case) under c->indir, recursively, sorted. Errors: missing folder,
 * no PNG in it (both name the folder), bad options. */
int lm_maskdir_open(lm_maskdir **out, const lm_mask_folder_cfg *c);
void lm_maskdir_close(lm_maskdir *md); /* NULL ok */
size_t lm_maskdir_count(const lm_maskdir *md);
const char *lm_maskdir_file(const lm_maskdir *md, size_t i); /* path relative to indir */
/* Points cfg->folder_kwargs.source at md (cfg is the caller's copy; md must outlive it). */
void lm_maskdir_attach(lm_maskdir *md, lm_mask_cfg *cfg);
/* One mask: out (h, w) 0/1. An unreadable file is an error naming it. */
int lm_maskdir_draw(lm_maskdir *md, uint8_t *out, int h, int w, lm_rng *rng);
/* The resize/crop + threshold step alone, for a decoded gray image (sw x sh) with the crop
 * offset drawn from rng: exposed for tests. */
int lm_maskdir_fit(uint8_t *out, int h, int w, const uint8_t *src, int sw, int sh, int mode, int threshold,
                   lm_rng *rng);

#endif
