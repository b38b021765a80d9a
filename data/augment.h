/* augment.h — the training augmentation variants of the official pipeline
 * (saicinpainting/training/data/datasets.py get_transforms, aug.py IAAPerspective2 /
 * IAAAffine2, albumentations 0.5 + imgaug 0.4 semantics), in C.
 *
 * One sample = one lm_aug_plan: every random parameter is drawn up front from an lm_rng
 * (purpose LM_RNG_AUG), which makes the result a pure function of the key. The geometric
 * part (perspective, affine / random scale, PadIfNeeded, OpticalDistortion, RandomCrop,
 * HorizontalFlip) is composed into ONE coordinate map from output pixel to source pixel;
 * the source is then sampled once, bilinearly. Because the map is known before any pixel
 * is read, the loader reads from the shard only the bounding box the map touches (for
 * every variant, distortions included).
 *
 * Approximations against the official code (documented, deliberate):
 *  - The official pipeline resamples once per geometric transform (up to 3 bilinear
 *    passes plus imgaug's cubic resize in PerspectiveTransform keep_size); we resample once
 *    with the composed map (bilinear), so outputs are slightly sharper. Intermediate border
 *    modes are applied to coordinates (reflect-101 for affine / pad / optical distortion,
 *    replicate for perspective), the continuous analogue of each stage's border.
 *  - IAAAffine2: imgaug's matrix (centre shift, scale x/y drawn independently, rotation,
 *    shear x/y in DEGREES as imgaug 0.4 reads dict shear — so ±0.1 is ±0.1°) is built the
 *    same way; no translation (translate_percent=None).
 *  - IAAPerspective2: imgaug PerspectiveTransform: sigma ~ U(scale), 4 corner jitters
 *    |N(0, sigma)| mod 1, the quad mapped to its max-width x max-height rectangle, resized
 *    back to (h, w) (keep_size) — resize folded into the map, bilinear instead of cubic.
 *  - OpticalDistortion (albumentations 0.5): k ~ U(-0.05, 0.05), dx = dy = round(U(-0.05,
 *    0.05)) = 0 always (the official quirk, kept), map as cv2.initUndistortRectifyMap.
 *  - CLAHE's Lab conversion: float formulas (see color.h).
 *  - Probabilities as albumentations defaults: IAA*, OpticalDistortion, HorizontalFlip,
 *    CLAHE, RandomBrightnessContrast, HueSaturationValue, RandomScale p = 0.5; the affine
 *    of distortions_scale* variants p = 1; PadIfNeeded, RandomCrop p = 1.
 *  - PadIfNeeded: BORDER_REFLECT_101, centred (top = (size - h) / 2), as albumentations. */
#ifndef LM_AUGMENT_H
#define LM_AUGMENT_H

#include <stdint.h>

#include "core/rng.h"

typedef enum lm_aug_variant {
    LM_AUG_DEFAULT = 0,
    LM_AUG_DISTORTIONS,
    LM_AUG_DISTORTIONS_SCALE05_1,
    LM_AUG_DISTORTIONS_SCALE03_12,
    LM_AUG_DISTORTIONS_SCALE03_07,
    LM_AUG_DISTORTIONS_LIGHT,
    LM_AUG_NON_SPACE_TRANSFORM,
    LM_AUG_NO_AUGS,
    LM_AUG_N_VARIANTS
} lm_aug_variant;

/* Official names ("default", "distortions", …, "no_augs"). Error names the bad value. */
int lm_aug_variant_parse(lm_aug_variant *out, const char *name);
const char *lm_aug_variant_name(lm_aug_variant v);

/* Every parameter of one sample's augmentation. Geometry maps OUTPUT -> SOURCE. */
typedef struct lm_aug_plan {
    lm_aug_variant variant;
    int out_size;         /* output crop side; for no_augs/non_space the crop is the
                             top-left out_size square after padding (see lm_aug_plan_draw) */
    int src_h, src_w;     /* source image */
    int persp_on;
    double persp_h[9];    /* homography: perspective-output (x, y) -> source (x, y) */
    int affine_on;
    double affine_inv[6]; /* affine-output (x, y) -> its input (x, y), 2x3 row-major */
    int scale_on;         /* default variant: RandomScale */
    int scaled_h, scaled_w;
    int pad_top, pad_left, padded_h, padded_w; /* PadIfNeeded */
    int optical_on;
    double optical_k, optical_dx, optical_dy;
    int crop_y, crop_x;   /* RandomCrop offset in padded space */
    int flip;
    int clahe_on;
    double clahe_clip;
    int bc_on;
    double bc_alpha, bc_beta;
    int hsv_on;
    double hsv_h, hsv_s, hsv_v;
} lm_aug_plan;

/* Draws all parameters for a (h, w) source. no_augs / non_space_transform have no crop in
 * the official code (they return the image as it is and need equal-size images); lamac
 * takes the top-left out_size square, padding reflect-101 like PadIfNeeded where smaller,
 * so batches have one shape. */
void lm_aug_plan_draw(lm_aug_plan *p, lm_aug_variant v, int out_size, int h, int w, lm_rng *rng);

/* The composed map: map[2 * (y * out + x) + {0, 1}] = source (x, y) of output pixel (x, y),
 * always inside [0, w-1] x [0, h-1]. map has 2 * out_size² floats. */
void lm_aug_geometry(float *map, const lm_aug_plan *p);
/* Smallest source region that bilinear sampling of map touches. */
void lm_aug_map_bbox(const float *map, int n_pixels, int h, int w, int *y0, int *x0, int *rh, int *rw);
/* Bilinear sampling (values rounded like OpenCV): out (out_h, out_w, 3) from a source
 * region src (rh, rw, 3) whose top-left is source pixel (y0, x0). Map entries must lie in
 * the region's [x0, x0+rw-1] x [y0, y0+rh-1]. */
void lm_aug_remap(uint8_t *out, int out_h, int out_w, const float *map, const uint8_t *src, int y0, int x0, int rh,
                  int rw);
/* The photometric part (CLAHE, brightness/contrast, HSV), in place on (out, out, 3). */
int lm_aug_color(uint8_t *img, const lm_aug_plan *p);

/* A whole sample: plan -> map -> read region via `read` -> remap -> color. `read` fills
 * (rh, rw, 3) from the source at (y0, x0); returns <0 on error. out: (out, out, 3). */
typedef int (*lm_aug_read_fn)(void *ctx, uint8_t *dst, int y0, int x0, int rh, int rw);
int lm_aug_sample(uint8_t *out, const lm_aug_plan *p, lm_aug_read_fn read, void *ctx);

/* Helpers with cv2 semantics, used by the pipeline and exposed for tests. M is a FORWARD
 * 2x3 matrix (source -> destination), as cv2.warpAffine without WARP_INVERSE_MAP;
 * border: 0 = reflect-101 (BORDER_REFLECT_101), 1 = replicate. Returns <0 on OOM. */
int lm_aug_warp_affine(uint8_t *dst, int dh, int dw, const uint8_t *src, int h, int w, const double M[6],
                       int border);

#endif
