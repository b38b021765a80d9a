/* refine.h — the Big-LaMa feature refinement of `lamac predict --refine` (official
 * saicinpainting/evaluation/refinement.py, refine_predict, with the knobs of
 * configs/prediction/default.yaml `refiner:`; official PR #112). Batch size 1.
 *
 * The procedure, as the official code runs it:
 *  1. image (1, 3, h, w) in 0-1 and mask (1, 1, h, w) (grey / 255, > 0 = hole). If h * w >
 *     px_budget, both are resized (bilinear, align_corners False: kornia.resize) to
 *     (int(h * r), int(w * r)), r = sqrt(px_budget / (h * w)), and mask > 1e-8 set to 1. The
 *     result then has that smaller size (the official output does too).
 *  2. A pyramid of n_scales = min(1 + round(max(0, log2(min(h, w) / min_side))), max_scales)
 *     levels (round half to even, as Python's round), each from the one above by a 5x5
 *     Gaussian blur (sigma 1, reflect border; kornia.filters.gaussian_blur2d, its kernel
 *     computed in float32) and a bilinear resize to (H // 2, W // 2); the mask level is
 *     blurred the same way and set to (x >= 1e-8).
 *  3. From the coarsest level up, each level padded bottom/right to a multiple of `modulo`
 *     (torch reflect mode) and its mask set to (x >= 1e-8): the generator's front (pad, init
 *     conv, downsampling) runs once without gradients on cat(image * (1 - mask), mask) and
 *     gives the feature pair (z_l, z_g). The coarsest level: pred = rear(z), one forward.
 *     Every finer level: Adam (lr, betas 0.9 / 0.999, eps 1e-8) on (z_l, z_g) for n_iters
 *     forwards and n_iters - 1 steps, the loss
 *       mean |pred - image| over the known pixels (mask < 1e-8, padding included)
 *     + mean |pyrdown(pred[:h, :w]) - previous level's result| over mask_d, where mask_d is
 *       the level's mask cropped, resized (bilinear) to (h // 2, w // 2), set to (x >= 1 -
 *       1e-8), eroded by the 15x15 OpenCV ellipse (kornia.morphology.erosion: the image
 *       border does not erode) and set to (x >= 1 - 1e-8) again;
 *     an empty mask_d (a hole narrower than the ellipse) adds nothing (the official term is
 *     then NaN in the progress line but gives no gradient).
 *  4. The level's result is mask * pred + (1 - mask) * image, cropped to the level's size.
 * A single level (smaller side below min_side * sqrt(2), or max_scales 1) is therefore the
 * plain forward and blend of eval/predict.c (after the budget resize, with the reflect
 * padding of pad_tensor_to_modulo instead of the dataset's symmetric one).
 *
 * Memory: with `checkpoint` (the default) the rear's residual blocks run without autograd,
 * keeping only each block's input; the backward recomputes one block at a time with
 * autograd and passes the gradient through it (lt_vjp). checkpoint 0 keeps the whole rear
 * graph (plain autograd, as the official code). Both give the same result up to rounding. */
#ifndef LM_REFINE_H
#define LM_REFINE_H

#include <stdint.h>
#include <stdio.h>

#include "model/generator.h"

typedef struct lm_refine_opts {
    int n_iters;      /* refiner.n_iters: forwards per refined level (>= 1) */
    double lr;        /* refiner.lr: Adam's learning rate */
    int min_side;     /* refiner.min_side */
    int max_scales;   /* refiner.max_scales (>= 1) */
    double px_budget; /* refiner.px_budget: h * w above it is resized down */
    int modulo;       /* refiner.modulo (= dataset.pad_out_to_modulo) */
    int checkpoint;   /* 1: recompute the rear blocks in backward (bounded memory); 0: plain */
    FILE *log;        /* one line per level and the resize / single-level notes; NULL: quiet */
    /* Called with each level's result (1, 3, h_s, w_s) (borrowed, valid during the call). */
    void (*on_scale)(void *ctx, int scale, int n_scales, lt_tensor *result);
    void *ctx;
} lm_refine_opts;

/* The official defaults (configs/prediction/default.yaml refiner:): 15 iterations, lr 0.002,
 * min_side 512, max_scales 3, px_budget 1800000, modulo 8; checkpointing on, no log. */
lm_refine_opts lm_refine_defaults(void);

/* What the refiner will do with an h x w image: the size after the budget resize (*rh, *rw;
 * *resized 1 if it shrinks) and the number of pyramid levels. Options are checked here
 * (LM_EINVAL naming the knob). */
int lm_refine_plan(const lm_refine_opts *o, int h, int w, int *rh, int *rw, int *resized,
                   int *n_scales);

/* cv2.getStructuringElement(MORPH_ELLIPSE, (size, size)) into k (size * size, row-major). */
void lm_refine_ellipse(uint8_t *k, int size);

/* *out (1, 3, h', w') in the caller's scope: the refined inpainting of image (1, 3, h, w)
 * under mask (1, 1, h, w) (grey in 0-1, > 0 = hole), both of the weights' dtype (float32 or
 * float64) and on the generator's device. g must be an ffc_resnet generator (else
 * LM_ENOTSUP naming its kind) with a global branch at the bottleneck. */
int lm_refine_predict(lt_tensor **out, lm_generator *g, lt_tensor *image, lt_tensor *mask,
                      const lm_refine_opts *o);

/* The same on HWC uint8 buffers as bin/predict.py loads them (RGB / 255, grey / 255 in
 * float32, converted to dt = LT_F32 or LT_F64): *out (h', w', 3) float32 in 0-1, malloc'd
 * (free() it), *ow x *oh its size (smaller than w x h after a budget resize). */
int lm_refine_image(float **out, int *ow, int *oh, lm_generator *g, const uint8_t *img,
                    const uint8_t *mask, int w, int h, lt_device dev, lt_dtype dt,
                    const lm_refine_opts *o);

#endif
