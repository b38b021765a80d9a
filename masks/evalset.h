/* evalset.h — the mask side of bin/gen_mask_dataset.py (advimman/lama), which builds the
 * random_{thin,medium,thick}_{256,512} evaluation sets: per image, variants_n masks from
 * MixedMaskGenerator at the (resized) image size, each cut to a random square containing the
 * mask (propose_random_square_crop), variants whose hole area exceeds max_tamper_area
 * dropped, then max_masks_per_image of the rest chosen at random. Image I/O and the resize
 * (min side → out_min_size, PIL bicubic) live with the caller (cli/cmd_masks.c). */
#ifndef LM_MASKS_EVALSET_H
#define LM_MASKS_EVALSET_H

#include <stdint.h>

#include "masks/mask.h"

typedef struct lm_evalset_cfg {
    lm_mask_cfg mask;        /* mask_generator_kwargs */
    int variants_n;          /* 2 (official default when absent); the presets use 5 */
    int max_masks_per_image; /* 1 */
    int out_min_size;        /* cropping.out_min_size: 256 / 512 */
    int drop_small;          /* cropping.handle_small_mode: 0 upscale, 1 drop */
    int out_square_crop;     /* 1 */
    double crop_min_overlap; /* 1 */
    double max_tamper_area;  /* 0.5 (official default when absent: 1) */
} lm_evalset_cfg;

/* One selected mask and where it sits in the resized image. */
typedef struct lm_evalset_pick {
    uint8_t *mask; /* (h, w) 0/1, owned (free()) */
    int x, y, w, h;
} lm_evalset_pick;

/* Official defaults of gen_mask_dataset.py around the given mask config. */
void lm_evalset_cfg_default(lm_evalset_cfg *c);
/* The configs/data_gen presets random_{thin,medium,thick}_{256,512}. */
int lm_evalset_preset(lm_evalset_cfg *c, const char *name);
/* Masks for one image of size h x w (already resized): fills picks[0..*n) (room for
 * cfg->max_masks_per_image), *n may be 0 when every variant was too large. */
int lm_evalset_masks(lm_evalset_pick *picks, int *n, const lm_evalset_cfg *cfg, int h, int w,
                     lm_rng *rng);
/* propose_random_square_crop(mask, min_overlap): square side min(h, w). Returns 1 (no crop
 * possible) when the mask has no hole pixel on a non-square image. */
int lm_evalset_square_crop(int *x, int *y, const uint8_t *mask, int h, int w, double min_overlap,
                           lm_rng *rng);

#endif
