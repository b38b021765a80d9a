/* evaluate.h — scoring precomputed predictions as the official bin/evaluate_predicts.py with
 * configs/eval2*.yaml does (PrecomputedInpaintingResultsDataset + InpaintingEvaluator):
 * every *mask*.png under DIR (recursively) with its image NAME.png (data/valset.h), the prediction
 * PREDDIR/<mask path relative to DIR without .png> + pred_suffix, all read as RGB / 255 and
 * mask / 255; per image SSIM, PSNR, L1, LPIPS; FID over all images and per bin; groups by
 * masked area (eval/bins.h); the integral ssim_fid100_f1 and lpips_fid100_f1.
 *
 * A metric whose network cannot be loaded (weights file missing or mis-shaped) is reported as
 * skipped with the reason (the path looked for, the fetch command), never invented. An image
 * whose prediction is missing or whose sizes disagree is left out and listed with the reason.
 * Memory: per image a few doubles plus two 2048-d float32 feature rows (16 KB), which the
 * per-bin FID needs (the official code keeps the same activations). */
#ifndef LM_EVALUATE_H
#define LM_EVALUATE_H

#include <stdio.h>

#include "eval/bins.h"
#include "eval/lpips.h"
#include "shim/lt.h"

#define LM_EVAL_MAX_BINS 100

typedef struct lm_eval_opts {
    int bins;                  /* 10 */
    lm_bin_rule rule;          /* LM_BINS_OFFLINE */
    const char *pred_suffix;   /* ".png" (official eval2 inpainted_suffix) */
    const char *img_suffix;    /* ".png" */
    int lpips;                 /* 1: compute LPIPS */
    lm_lpips_net lpips_net;    /* LM_LPIPS_VGG (the official evaluator's) */
    const char *lpips_backbone;/* NULL: $TORCH_HOME/hub/checkpoints/<torchvision name> */
    const char *lpips_lin;     /* the LPIPS linear-layer file (required when lpips) */
    int fid;                   /* 1: compute FID */
    const char *inception;     /* NULL: $TORCH_HOME/hub/checkpoints/pt_inception-...pth */
    int batch;                 /* Inception batch (8) */
    lt_device device;
    FILE *progress;            /* progress line target (NULL: none) */
} lm_eval_opts;

lm_eval_opts lm_eval_defaults(void);

enum { LM_M_SSIM, LM_M_PSNR, LM_M_L1, LM_M_LPIPS, LM_M_FID, LM_M_SSIM_F1, LM_M_LPIPS_F1, LM_M_COUNT };

typedef struct lm_eval_metric {
    const char *name;       /* "ssim", "psnr", "l1", "lpips", "fid", "ssim_fid100_f1", ... */
    int skipped;            /* 1: not computed; why says why */
    char why[10240];         /* fits a 4096-byte path and a message */
    lm_stat total;
    lm_stat bin[LM_EVAL_MAX_BINS]; /* n == 0: no image in that bin (absent from the table) */
} lm_eval_metric;

typedef struct lm_eval_weights {
    char what[32];          /* "lpips_backbone", "lpips_lin", "inception" */
    char path[4096];
    char sha256[65];        /* "" if not hashed */
} lm_eval_weights;

typedef struct lm_eval_image {
    char *mask;             /* mask path (owned) */
    char *image;            /* its image path (owned) */
    char *pred;             /* the prediction's path (owned) */
    float area;
    int bin;
    double v[LM_M_FID];     /* per-image ssim, psnr, l1, lpips (NaN when not computed) */
} lm_eval_image;

typedef struct lm_eval_result {
    int bins;
    lm_bin_rule rule;
    int n_listed;           /* masks found */
    int n;                  /* images evaluated */
    lm_eval_image *img;     /* n */
    int bin_count[LM_EVAL_MAX_BINS];
    lm_eval_metric m[LM_M_COUNT];
    lm_eval_weights w[3];
    int n_w;
    char **skipped;         /* "MASK: reason" for images left out (owned) */
    int n_skipped;
    char **warnings;        /* owned */
    int n_warnings;
    double seconds;
} lm_eval_result;

/* Evaluates; fills r (free with lm_eval_result_free). Fails only when nothing can be done
 * (no image folder, no mask file); missing weights and bad images end up in r. */
int lm_eval_dirs(lm_eval_result *r, const char *images, const char *preds, const lm_eval_opts *o);
void lm_eval_result_free(lm_eval_result *r);

/* Writes metrics.json, metrics.csv, metrics.md, per_image.csv (mask as listed, area, bin,
 * ssim, psnr, l1, lpips, then image, pred, mask_file as absolute paths) and report.html
 * (eval/html.h) into dir (created).
 * command: the command line, stored in metrics.json. */
int lm_eval_write_reports(const lm_eval_result *r, const char *dir, const char *command);
/* Writes the object metrics.json holds under "metrics" ({"ssim": {"total": {"mean", "std",
 * "n"}, "<bin>": {...}}, ..., "fid": {"skipped": true, "reason": "..."}}) to f, from '{' to
 * '}'; indent: the indentation of the line holding its key (the entries get two more spaces).
 * metrics.json and `lamac eval --sizes`'s sweep.json both use it. */
void lm_eval_json_metrics(FILE *f, const lm_eval_result *r, const char *indent);
/* s as a JSON string literal (quotes, backslash and control characters escaped). */
void lm_eval_json_string(FILE *f, const char *s);

#endif
