/* mask.h — the training and evaluation mask generators of LaMa
 * (saicinpainting/training/data/masks.py): MixedMaskGenerator over irregular strokes,
 * boxes, "squares", super-resolution grids and outpainting borders, with invert_proba and
 * the LinearRamp schedules; get_mask_generator's kinds "mixed", "outpainting", "dumb".
 * Segmentation masks (detectron2) are not supported: a positive segm_proba is an error.
 *
 * Sampling follows the official code draw for draw (numpy randint semantics: exclusive upper
 * bound; the 2π−angle rule for even stroke indices; the ramps' off-by-one maxima, e.g.
 * irregular strokes are drawn in [min_times, max_times+1] when no ramp applies), but every
 * draw comes from our counter-based generator (core/rng.h, purpose LM_RNG_MASK), so masks
 * match the official ones in distribution, not bit for bit.
 *
 * Masks are (h, w) uint8 with 1 = hole (to be inpainted), 0 = known.
 *     lm_mask_cfg cfg; lm_mask_preset(&cfg, "train");
 *     lm_rng r; lm_rng_init(&r, seed, epoch, sample, LM_RNG_MASK);
 *     lm_mask_generate(mask, 256, 256, &cfg, &r, -1);
 * The structs are plain C; config/ fills them from YAML. */
#ifndef LM_MASKS_MASK_H
#define LM_MASKS_MASK_H

#include <stdint.h>

#include "core/rng.h"
#include "masks/ramp.h" /* lm_ramp in the irregular and box options */

enum { LM_DRAW_LINE = 0, LM_DRAW_CIRCLE = 1, LM_DRAW_SQUARE = 2 };

typedef struct lm_mask_irregular_cfg { /* RandomIrregularMaskGenerator */
    int max_angle, max_len, max_width, min_times, max_times; /* 4, 60, 20, 0, 10 */
    lm_ramp ramp;
    int draw_method; /* LM_DRAW_*; Mixed forces LINE (irregular) and SQUARE (squares) */
} lm_mask_irregular_cfg;

typedef struct lm_mask_box_cfg { /* RandomRectangleMaskGenerator */
    int margin, bbox_min_size, bbox_max_size, min_times, max_times; /* 10, 30, 100, 0, 3 */
    lm_ramp ramp;
} lm_mask_box_cfg;

typedef struct lm_mask_superres_cfg { /* RandomSuperresMaskGenerator */
    int min_step, max_step, min_width, max_width; /* 2, 4, 1, 3 */
} lm_mask_superres_cfg;

typedef struct lm_mask_outpainting_cfg { /* OutpaintingMaskGenerator */
    double min_padding_percent, max_padding_percent; /* 0.04, 0.25 */
    double left_padding_prob, top_padding_prob, right_padding_prob, bottom_padding_prob; /* 0.5 */
    int is_fixed_randomness; /* 1 is not supported (it hashes the raw image) */
} lm_mask_outpainting_cfg;

/* Masks from a folder of PNGs (lamac's addition; no official counterpart). masks/ cannot
 * read files (DESIGN §1): the data loader lists the folder (data/maskdir.h) and attaches
 * itself as `source`; without a source, drawing a folder mask is an error. */
enum { LM_MASK_FOLDER_RESIZE = 0, LM_MASK_FOLDER_CROP = 1 };
typedef int (*lm_mask_source_fn)(void *ctx, uint8_t *out, int h, int w, lm_rng *rng);
typedef struct lm_mask_folder_cfg {
    const char *indir; /* folder of mask PNGs (searched recursively); borrowed */
    int mode;          /* LM_MASK_FOLDER_RESIZE (default): nearest-resize so the shorter side
                        * is the crop size, then a random crop; _CROP: a random crop at the
                        * file's own scale (nearest-upscaled first if smaller than the crop) */
    int threshold;     /* hole where the gray value > threshold (0..254; default 0, as
                        * predict's `mask > 0`) */
    lm_mask_source_fn source; /* set by the loader */
    void *source_ctx;
} lm_mask_folder_cfg;

enum { LM_MASK_MIXED = 0, LM_MASK_OUTPAINTING = 1, LM_MASK_DUMB = 2, LM_MASK_FOLDER = 3 };

typedef struct lm_mask_cfg {
    int kind; /* get_mask_generator kind: LM_MASK_MIXED (default), _OUTPAINTING, _DUMB, or
               * lamac's _FOLDER (only folder masks; the mixed probabilities are unused) */
    /* MixedMaskGenerator; probabilities are renormalised over the positive ones */
    double irregular_proba; /* 1/3 */
    lm_mask_irregular_cfg irregular_kwargs;
    double box_proba; /* 1/3 */
    lm_mask_box_cfg box_kwargs;
    double segm_proba; /* 1/3 in the official defaults; > 0 is an error here */
    double squares_proba; /* 0 */
    lm_mask_irregular_cfg squares_kwargs;
    double superres_proba; /* 0 */
    lm_mask_superres_cfg superres_kwargs;
    double outpainting_proba; /* 0 */
    lm_mask_outpainting_cfg outpainting_kwargs; /* also the kind OUTPAINTING's options */
    double folder_proba; /* 0; masks from folder_kwargs.indir, drawn after the official kinds */
    lm_mask_folder_cfg folder_kwargs; /* also the kind FOLDER's options */
    double invert_proba; /* 0 (kinds MIXED and FOLDER) */
    int dumb_is_training; /* DumbAreaMaskGenerator(is_training) */
} lm_mask_cfg;

/* The official constructor defaults (MixedMaskGenerator() with default sub-generators). */
void lm_mask_cfg_default(lm_mask_cfg *cfg);
void lm_mask_irregular_default(lm_mask_irregular_cfg *c);
void lm_mask_box_default(lm_mask_box_cfg *c);
/* Validates (probabilities, ranges, unsupported options); message names the field. */
int lm_mask_cfg_check(const lm_mask_cfg *cfg);
/* Fills cfg from a preset: train (abl-04-256-mh-dist), random_{thin,medium,thick}_{256,512}
 * (configs/data_gen). Unknown name: LM_EINVAL listing the names. */
int lm_mask_preset(lm_mask_cfg *out, const char *name);
/* NULL-terminated list of preset names. */
const char *const *lm_mask_preset_names(void);

/* One mask. iter: training iteration for the ramps, -1 for none (coefficient 1).
 * out: (h, w) 0/1. */
int lm_mask_generate(uint8_t *out, int h, int w, const lm_mask_cfg *cfg, lm_rng *rng, int64_t iter);

/* The individual generators (out is cleared first). */
int lm_mask_irregular(uint8_t *out, int h, int w, const lm_mask_irregular_cfg *c, lm_rng *rng,
                      int64_t iter);
int lm_mask_box(uint8_t *out, int h, int w, const lm_mask_box_cfg *c, lm_rng *rng, int64_t iter);
int lm_mask_superres(uint8_t *out, int h, int w, const lm_mask_superres_cfg *c, lm_rng *rng);
int lm_mask_outpainting(uint8_t *out, int h, int w, const lm_mask_outpainting_cfg *c, lm_rng *rng);
/* Validates the outpainting options (the official asserts); message names the field. */
int lm_mask_outpainting_check(const lm_mask_outpainting_cfg *c);
int lm_mask_dumb(uint8_t *out, int h, int w, int is_training, lm_rng *rng);
/* One mask from the folder source (error naming the missing source if none is attached). */
int lm_mask_folder(uint8_t *out, int h, int w, const lm_mask_folder_cfg *c, lm_rng *rng);
/* 1 when cfg draws folder masks (kind FOLDER, or MIXED with folder_proba > 0). */
int lm_mask_uses_folder(const lm_mask_cfg *cfg);

#endif
