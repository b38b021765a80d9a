/* validate.h — validation during training, as the official trainer's validation_step with
 * the online evaluator (saicinpainting/training/trainers/base.py validation_step /
 * validation_epoch_end + evaluation/evaluator.py InpaintingEvaluatorOnline): the generator in
 * eval mode (running BatchNorm statistics, no grad) inpaints every pair of the validation set
 * (data/valset.h, official layout) with the prediction semantics of eval/predict.h; SSIM and
 * L1 of the inpainted image against the original (eval/metrics.h), grouped by masked area
 * with the online evaluator's bin rule (eval/bins.h LM_BINS_ONLINE).
 *
 * Logged names follow the official ones: val_ssim_total_mean, val_ssim_total_std,
 * val_ssim_0-10%_mean, ... and the same for l1. FID and LPIPS are not computed during
 * training (lamac eval does them), so val_ssim_fid100_f1_total_mean does not exist here; the
 * trainer monitors val_ssim_total_mean instead and says so. */
#ifndef LM_VALIDATE_H
#define LM_VALIDATE_H

#include <stdint.h>

#include "data/valset.h"
#include "eval/bins.h"
#include "model/generator.h"
#include "train/rundir.h"

#define LM_VAL_BINS 10
#define LM_VAL_MAX_METRICS (2 * 2 * (LM_VAL_BINS + 1))

typedef struct lm_val_result {
    int n;                        /* images evaluated */
    lm_stat ssim, l1;             /* total */
    lm_stat ssim_bin[LM_VAL_BINS], l1_bin[LM_VAL_BINS];
    /* the same as named metrics (keys point into names[]) */
    int n_metrics;
    lm_kv metrics[LM_VAL_MAX_METRICS];
    char names[LM_VAL_MAX_METRICS][64];
    double seconds;
} lm_val_result;

/* Inpaints the first min(limit, count) pairs (limit < 0: all) with g in eval mode; the input
 * is padded to a multiple of pad_multiple (2^n_downsampling). */
int lm_validate(lm_val_result *r, lm_generator *g, const lm_valset *v, int64_t limit, int pad_multiple,
                lt_device dev);
/* The value of a logged name ("val_ssim_total_mean"), NaN if absent. */
double lm_val_get(const lm_val_result *r, const char *name);

#endif
