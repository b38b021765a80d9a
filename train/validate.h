/* validate.h — validation during training, as the official trainer's validation_step with
 * the online evaluator (saicinpainting/training/trainers/base.py validation_step /
 * validation_epoch_end + evaluation/evaluator.py InpaintingEvaluatorOnline, built by
 * make_evaluator with SSIMScore, LPIPSScore, FIDScore): the generator in eval mode (running
 * BatchNorm statistics, no grad) inpaints every pair of the validation set (data/valset.h,
 * official layout) with the prediction semantics of eval/predict.h; each inpainted image goes
 * to the evaluator's accumulator (eval/accum.h, the same code as `lamac eval`), grouped by
 * masked area with the online evaluator's bin rule (eval/bins.h LM_BINS_ONLINE).
 *
 * Logged names follow the official ones (base.py logs flatten_dict of the evaluator's result
 * with the prefix val_): val_ssim_total_mean, val_ssim_total_std, val_ssim_0-10%_mean, ...,
 * the same for l1 (lamac's addition, logged since before LPIPS/FID) and lpips;
 * val_fid_total_mean and val_fid_<bin>_mean (FID has no std; a bin with one image is NaN, as
 * the official); the integrals val_ssim_fid100_f1_total_mean and
 * val_lpips_fid100_f1_total_mean (the official logs only evaluator.integral_kind's; both
 * here). LPIPS and FID need their weights (the accumulator's options): a metric whose
 * network is missing is absent from the record, and so are the integrals needing it. */
#ifndef LM_VALIDATE_H
#define LM_VALIDATE_H

#include <stdint.h>

#include "data/valset.h"
#include "eval/accum.h"
#include "eval/bins.h"
#include "model/generator.h"
#include "train/rundir.h"

#define LM_VAL_BINS 10
/* ssim, l1, lpips: mean + std per group (11 each); fid: mean per group; 2 integrals */
#define LM_VAL_MAX_METRICS (3 * 2 * (LM_VAL_BINS + 1) + (LM_VAL_BINS + 1) + 2)

typedef struct lm_val_result {
    int n;                        /* images evaluated */
    lm_stat ssim, l1;             /* total */
    lm_stat ssim_bin[LM_VAL_BINS], l1_bin[LM_VAL_BINS];
    lm_stat lpips;                /* total; n == 0 when not computed */
    double fid;                   /* total; NaN when not computed */
    /* the same as named metrics (keys point into names[]) */
    int n_metrics;
    lm_kv metrics[LM_VAL_MAX_METRICS];
    char names[LM_VAL_MAX_METRICS][64];
    double seconds;
} lm_val_result;

/* The accumulator's options for validation: lm_eval_defaults() with the online bin rule and
 * LM_VAL_BINS bins on dev; the caller sets the weights files (lpips_lin, lpips_backbone,
 * inception) or turns lpips / fid off. */
lm_eval_opts lm_val_eval_defaults(lt_device dev);

/* Inpaints the first min(limit, count) pairs (limit < 0: all) with g in eval mode; the input
 * is padded to a multiple of pad_multiple (2^n_downsampling). acc (eval/accum.h, made with
 * LM_VAL_BINS bins; reused between validations, so its networks load once) scores them and
 * is empty again afterwards. */
int lm_validate(lm_val_result *r, lm_generator *g, const lm_valset *v, int64_t limit, int pad_multiple,
                lt_device dev, lm_eval_acc *acc);
/* The value of a logged name ("val_ssim_total_mean"), NaN if absent. */
double lm_val_get(const lm_val_result *r, const char *name);

#endif
