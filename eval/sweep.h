/* sweep.h — the resolution-robustness sweep of `lamac eval --sizes` (no official counterpart:
 * the official evaluation is one resolution per run, the LaMa paper's claim is that the model
 * trained at 256 holds up at higher resolutions). Per size S every image is resized (shorter
 * side -> S, PIL bicubic, then center-crop S x S) and gets one mask from the official
 * bin/gen_mask_dataset.py preset for that size (configs/data_gen/random_<kind>_{256,512}.yaml:
 * the 256 preset below 512, the 512 preset from 512 up; variants_n 5, max_tamper_area 0.5),
 * seeded per image; the CLI predicts and scores each size with eval/evaluate.h and writes
 * sweep.json / sweep.md (lm_sweep_write). */
#ifndef LM_EVAL_SWEEP_H
#define LM_EVAL_SWEEP_H

#include <stdint.h>

#include "data/image.h"
#include "data/walk.h"
#include "eval/evaluate.h"
#include "masks/evalset.h"

#define LM_SWEEP_MAX_SIZES 32

/* "256,512,1024" -> sizes; every item an integer in 64..16384 and a multiple of 8 (the
 * generator pads to 8), no duplicates; errors name the bad item. */
int lm_sweep_parse_sizes(int *sizes, int cap, int *n, const char *list);

/* The gen_mask_dataset preset for masks kind ("thick", "medium", "thin") at size S:
 * random_<kind>_256 when S < 512, random_<kind>_512 otherwise, out_min_size set to S.
 * name (cap >= 32) receives the preset name. */
int lm_sweep_preset(lm_evalset_cfg *ev, char *name, size_t cap, const char *kind, int size);

/* The images under dir (recursive, sorted, hidden entries skipped): *.png, *.jpg, *.jpeg
 * (any case) whose name does not contain "mask" (those are masks in the official layout).
 * Two images with the same path without extension (a.png, a.jpg) are an error naming both;
 * no image at all is an error. */
int lm_sweep_list_images(lm_file_list *out, const char *dir);

/* One image of the sweep: path read as RGB, resized so its shorter side is S (PIL bicubic,
 * antialiased when shrinking; output size round(side * S / shorter), as gen_mask_dataset),
 * center-cropped to S x S (offset floor((side - S) / 2)); mask (S x S, gray 0 / 255) from
 * lm_evalset_masks with the stream (0, S, FNV-1a-64 of rel, LM_RNG_MASK), so the same image
 * gets the same mask every run whatever else is in the folder. When all variants_n variants
 * of a round exceed max_tamper_area (gen_mask_dataset would drop the image; thick strokes of
 * up to 100 px on a 64 px image), further rounds are drawn from the same stream, up to 20;
 * after that the next variant is kept whatever its area and *over_area is set to 1. */
int lm_sweep_prepare(lm_image *img, lm_image *mask, int *over_area, const char *path, const char *rel,
                     int size, const lm_evalset_cfg *ev);

typedef struct lm_sweep_entry {
    int size;
    const char *masks;   /* "thick" */
    char preset[32];     /* "random_thick_256" */
    char dir[16];        /* "256", relative to the sweep's output folder */
    int images;          /* images evaluated */
    int over_area;       /* masks kept above max_tamper_area */
    double seconds;      /* prepare + predict + score */
    const lm_eval_result *r;
} lm_sweep_entry;

/* Writes dir/sweep.json ({"command", "sizes": [{"size", "masks", "preset", "dir", "images",
 * "masks_over_max_area", "seconds", "metrics": <as metrics.json>}]}) and dir/sweep.md
 * (metric x size, mean ± std of the totals), each atomically. */
int lm_sweep_write(const char *dir, const char *command, const lm_sweep_entry *e, int n);

#endif
