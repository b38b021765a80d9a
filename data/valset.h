/* valset.h — validation / evaluation sets in the official layout: NAME.png with one or more
 * NAME_mask*.png beside it, anywhere under a directory. Mirrors
 * saicinpainting/evaluation/data.py InpaintingDataset: mask files are every "*mask*.png"
 * under the directory (recursively, sorted by path), each paired with the image
 * mask_path.rsplit("_mask", 1)[0] + img_suffix; the image is RGB / 255, the mask is
 * grayscale / 255 (not thresholded, as the official dataset). */
#ifndef LM_VALSET_H
#define LM_VALSET_H

#include <stdint.h>

#include "data/image.h"

typedef struct lm_valset lm_valset;

/* Lists the pairs; an image that does not exist is an error naming the mask it belongs to.
 * No mask file at all is an error too. img_suffix: ".png" (the val configs) or NULL for it. */
int lm_valset_open(lm_valset **out, const char *dir, const char *img_suffix);
void lm_valset_close(lm_valset *v); /* accepts NULL */
int64_t lm_valset_count(const lm_valset *v);
const char *lm_valset_image_path(const lm_valset *v, int64_t i);
const char *lm_valset_mask_path(const lm_valset *v, int64_t i);
/* Pair i as uint8: img (h, w, 3), mask (h, w, 1); sizes must agree. Thread-safe. */
int lm_valset_read(const lm_valset *v, int64_t i, lm_image *img, lm_image *mask);
/* Pair i as float CHW: *img (3, h, w) in [0, 1], *mask (1, h, w) = gray / 255; malloc'd,
 * the caller frees both. */
int lm_valset_read_float(const lm_valset *v, int64_t i, float **img, float **mask, int *h, int *w);

#endif
