/* accum.h — the official evaluator's per-image accumulation in memory
 * (saicinpainting/evaluation/evaluator.py InpaintingEvaluator / InpaintingEvaluatorOnline with
 * SSIMScore, LPIPSScore, FIDScore): images are added one at a time (the image, its mask and
 * the prediction), each gets SSIM, PSNR, L1 and LPIPS and its Inception features (for FID);
 * finishing groups them by masked area (eval/bins.h, the rule of the options: offline for
 * `lamac eval`, online for validation during training) and computes the per-bin and total
 * statistics, FID (total and per bin) and the integrals ssim_fid100_f1 and lpips_fid100_f1.
 * lm_eval_dirs (eval/evaluate.h) is "list the files, read each, add"; validation during
 * training (train/validate.h) adds the generator's inpainted output of every val pair.
 *
 * The metric networks are loaded once, by lm_eval_acc_new (a missing or mis-shaped weights
 * file makes that metric skipped with the reason, never fatal), and kept until
 * lm_eval_acc_free: lm_eval_acc_finish empties the accumulator for the next round but keeps
 * the networks. Memory per added image: a few doubles plus two 2048-d float32 feature rows
 * (16 KB) when FID is on. */
#ifndef LM_ACCUM_H
#define LM_ACCUM_H

#include <stdint.h>

#include "eval/evaluate.h"

typedef struct lm_eval_acc lm_eval_acc;

/* Loads the networks o asks for (o->lpips, o->fid); o->bins, o->rule, o->batch, o->device are
 * used; the file options are read now (not kept). Fails only on bad bins or no memory. */
int lm_eval_acc_new(lm_eval_acc **out, const lm_eval_opts *o);
void lm_eval_acc_free(lm_eval_acc *a); /* accepts NULL */

/* 1: the metric (LM_M_LPIPS, LM_M_FID) was disabled or its network could not be loaded;
 * lm_eval_acc_why says why (the path looked for and the fetch command when missing). */
int lm_eval_acc_skipped(const lm_eval_acc *a, int metric);
const char *lm_eval_acc_why(const lm_eval_acc *a, int metric);

/* Adds one image: img and pred RGB (h, w, 3) uint8, mask (h, w) uint8 (0 / 255); name is
 * stored as the image's mask path, image_path / pred_path (NULL: none) as the files the
 * report's example thumbnails are read from. Values are computed as (1, C, H, W) float / 255
 * on the accumulator's device. Fails on a libtorch error (nothing is added then). */
int lm_eval_acc_add(lm_eval_acc *a, const char *name, const char *image_path, const char *pred_path,
                    const uint8_t *img, const uint8_t *mask, const uint8_t *pred, int w, int h);
int lm_eval_acc_count(const lm_eval_acc *a); /* images added since the last finish */

/* on: the targets (img) repeat in the same order from round to round (validation during
 * training): the Inception features of the targets are kept, and a later round reuses them for
 * an Inception batch whose images have the same names (mask paths) at the same positions in a
 * batch of the same size; other batches are recomputed and re-cached. Results are bitwise those
 * of recomputing (the same batch of the same inputs). The cache holds 2048 floats plus the name
 * per row, kept until lm_eval_acc_free. Off by default. */
void lm_eval_acc_cache_targets(lm_eval_acc *a, int on);
/* Images passed through the FID Inception since lm_eval_acc_new (predictions and targets both
 * counted): the work the target cache saves, for tests and measurements. */
long long lm_eval_acc_inception_images(const lm_eval_acc *a);
/* Drops the images added since the last finish (networks and target cache kept). */
void lm_eval_acc_clear(lm_eval_acc *a);

/* Fills r's evaluation fields: bins, rule, n, img (moved out), bin_count, m (names, skip
 * reasons, statistics), w / n_w (the weights files used), and appends to r->warnings; leaves
 * n_listed, skipped and seconds to the caller. r must start zeroed (or as lm_eval_dirs left it
 * before adding). The accumulator is empty afterwards (networks kept). */
int lm_eval_acc_finish(lm_eval_acc *a, lm_eval_result *r);

/* lm_eval_dirs (eval/evaluate.h) scoring with acc's networks, bins and rule (loaded once for
 * several folders, as `lamac eval --sizes` does; o's lpips / fid / bins / rule / weights files
 * are not looked at, the rest is); acc is empty afterwards, also on failure. */
int lm_eval_dirs_acc(lm_eval_result *r, lm_eval_acc *acc, const char *images, const char *preds,
                     const lm_eval_opts *o);

/* Appends a printf-formatted string to the owned list (*v, *n) (r->warnings, r->skipped). */
int lm_eval_push_str(char ***v, int *n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif
