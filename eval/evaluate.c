/* evaluate.c — scoring a folder of predictions (official bin/evaluate_predicts.py +
 * InpaintingEvaluator + SSIMScore / LPIPSScore / FIDScore): the files listed and read here,
 * every image scored by the accumulator (eval/accum.h). */
#define _GNU_SOURCE
#include "eval/evaluate.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/err.h"
#include "core/progress.h"
#include "data/image.h"
#include "data/valset.h"
#include "eval/accum.h"

lm_eval_opts lm_eval_defaults(void) {
    return (lm_eval_opts){.bins = LM_BINS_DEFAULT, .rule = LM_BINS_OFFLINE, .pred_suffix = ".png",
                          .img_suffix = ".png", .lpips = 1, .lpips_net = LM_LPIPS_VGG, .fid = 1,
                          .batch = 8, .device = LT_CPU};
}

static const char *NAMES[LM_M_COUNT] = {"ssim", "psnr", "l1", "lpips", "fid", "ssim_fid100_f1",
                                        "lpips_fid100_f1"};

int lm_eval_dirs(lm_eval_result *r, const char *images, const char *preds, const lm_eval_opts *o) {
    return lm_eval_dirs_acc(r, NULL, images, preds, o);
}

/* acc NULL: one made from o for this call. */
int lm_eval_dirs_acc(lm_eval_result *r, lm_eval_acc *shared, const char *images, const char *preds,
                     const lm_eval_opts *o) {
    memset(r, 0, sizeof *r);
    r->bins = o->bins;
    r->rule = o->rule;
    for (int m = 0; m < LM_M_COUNT; m++) r->m[m].name = NAMES[m];
    if (o->bins < 1 || o->bins > LM_EVAL_MAX_BINS)
        return lm_err_code(LM_EINVAL, "evaluate: bins must be in 1..%d", LM_EVAL_MAX_BINS);
    double t0 = lm_clock_now();
    lm_progress prog;
    if (o->progress) lm_progress_start(&prog, o->progress, "evaluate", "images");
    lm_valset *vs = NULL;
    int rc = lm_valset_open(&vs, images, o->img_suffix);
    if (rc < 0) return lm_err_prefix("evaluate: --images %s", images);
    r->n_listed = (int)lm_valset_count(vs);

    lm_eval_acc *acc = shared;
    if (!acc && (rc = lm_eval_acc_new(&acc, o)) < 0) goto cleanup;
    size_t skip = strlen(images);
    while (skip > 1 && images[skip - 1] == '/') skip--;
    skip += 1;
    for (int64_t i = 0; i < r->n_listed; i++) {
        const char *mpath = lm_valset_mask_path(vs, i);
        char pp[8192];
        lm_image img = {0}, msk = {0}, pred = {0};
        const char *rel = strlen(mpath) >= skip ? mpath + skip : mpath;
        if (snprintf(pp, sizeof pp, "%s/%.*s%s", preds, (int)strlen(rel) - 4, rel, o->pred_suffix) >= (int)sizeof pp) {
            if ((rc = lm_eval_push_str(&r->skipped, &r->n_skipped, "%s: prediction path too long", mpath)) < 0) break;
            continue;
        }
        struct stat st;
        int bad = 0;
        if (stat(pp, &st) != 0) {
            bad = lm_eval_push_str(&r->skipped, &r->n_skipped, "%s: prediction missing: %s", mpath, pp) < 0 ? -1 : 1;
        } else if (lm_valset_read(vs, i, &img, &msk) < 0 || lm_image_read(&pred, pp, 3) < 0) {
            bad = lm_eval_push_str(&r->skipped, &r->n_skipped, "%s: %s", mpath, lm_err_msg()) < 0 ? -1 : 1;
        } else if (pred.w != img.w || pred.h != img.h) {
            bad = lm_eval_push_str(&r->skipped, &r->n_skipped, "%s: prediction %s is %dx%d but the image is %dx%d",
                                   mpath, pp, pred.w, pred.h, img.w, img.h) < 0 ? -1 : 1;
        }
        if (!bad) rc = lm_eval_acc_add(acc, mpath, lm_valset_image_path(vs, i), pp, img.data, msk.data, pred.data, img.w, img.h);
        lm_image_free(&img);
        lm_image_free(&msk);
        lm_image_free(&pred);
        if (bad < 0) rc = LM_ENOMEM;
        if (rc < 0) break;
        if (!bad && o->progress) lm_progress_update(&prog, lm_eval_acc_count(acc), r->n_listed);
    }
    int added = lm_eval_acc_count(acc);
    if (o->progress && added < r->n_listed) lm_progress_update(&prog, added, added);
    if (rc < 0) goto cleanup;
    if ((rc = lm_eval_acc_finish(acc, r)) < 0) goto cleanup;
    if (r->n_skipped)
        lm_eval_push_str(&r->warnings, &r->n_warnings, "%d of %d images could not be evaluated (see skipped_images)",
                         r->n_skipped, r->n_listed);
cleanup:
    r->seconds = lm_clock_now() - t0;
    if (shared) lm_eval_acc_clear(shared); /* empty for its next folder */
    else lm_eval_acc_free(acc);
    lm_valset_close(vs);
    return rc;
}

void lm_eval_result_free(lm_eval_result *r) {
    if (!r) return;
    for (int i = 0; i < r->n; i++) free(r->img[i].mask), free(r->img[i].image), free(r->img[i].pred);
    free(r->img);
    for (int i = 0; i < r->n_skipped; i++) free(r->skipped[i]);
    free(r->skipped);
    for (int i = 0; i < r->n_warnings; i++) free(r->warnings[i]);
    free(r->warnings);
    memset(r, 0, sizeof *r);
}
