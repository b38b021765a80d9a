/* synth.h — a synthetic dataset of periodic textures for the embedded default (`make demo`)
 * and for tests: bricks, tiles, stripes, grids and dots with random periods, phases, angles,
 * colours and pixel noise — the repeating structures Fourier convolutions are good at
 * (LaMa's paper, §3). No official counterpart (the official code trains on Places/CelebA).
 *
 *   <dir>/train/   HDF5 shards (data/shards.h) of n_train images, train_size x train_size
 *   <dir>/val/     n_val pairs NAME.png + NAME_mask000.png (the official evaluation layout)
 *   <dir>/test/    n_test pairs, other textures (held out), same layout
 * Evaluation masks are the `mask_preset` (e.g. random_thick_256) drawn at 256 x 256 and
 * subsampled (nearest) to the image size, so their proportions are the preset's; a mask
 * covering more than half the image is redrawn (up to 5 tries, as the official variants). */
#ifndef LM_SYNTH_H
#define LM_SYNTH_H

#include <stdint.h>

#include "data/image.h"

/* Texture number `index` of the stream `seed` (family = index % 5), size x size RGB. */
int lm_synth_texture(lm_image *out, int size, uint64_t seed, int64_t index);

typedef struct lm_synth_opts {
    int n_train, n_val, n_test;
    int train_size, eval_size;
    const char *mask_preset; /* masks/mask.h preset for val/test */
    uint64_t seed;
} lm_synth_opts;

/* n_train 600, n_val 16, n_test 48, train_size 96, eval_size 64, random_thick_256, seed 0. */
lm_synth_opts lm_synth_defaults(void);
int lm_synth_dataset(const char *dir, const lm_synth_opts *o);

#endif
