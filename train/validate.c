/* validate.c — validation during training (see validate.h). */
#include "train/validate.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/err.h"
#include "eval/predict.h"

lm_eval_opts lm_val_eval_defaults(lt_device dev) {
    lm_eval_opts o = lm_eval_defaults();
    o.bins = LM_VAL_BINS;
    o.rule = LM_BINS_ONLINE;
    o.device = dev;
    o.progress = NULL;
    return o;
}

static void add1(lm_val_result *r, const char *metric, const char *group, const char *stat, double v) {
    if (r->n_metrics >= LM_VAL_MAX_METRICS) return;
    char *nm = r->names[r->n_metrics];
    snprintf(nm, sizeof r->names[0], "val_%s_%s_%s", metric, group, stat);
    r->metrics[r->n_metrics].key = nm;
    r->metrics[r->n_metrics].value = v;
    r->n_metrics++;
}

static void add(lm_val_result *r, const char *metric, const char *group, lm_stat s) {
    if (s.n == 0) return;
    add1(r, metric, group, "mean", s.mean);
    add1(r, metric, group, "std", s.std);
}

int lm_validate(lm_val_result *r, lm_generator *g, const lm_valset *v, int64_t limit, int pad_multiple,
                lt_device dev, lm_eval_acc *acc) {
    memset(r, 0, sizeof *r);
    r->fid = NAN;
    double t0 = lm_clock_now();
    int64_t n = lm_valset_count(v);
    if (limit >= 0 && limit < n) n = limit;
    uint8_t *out = NULL;
    lm_image img = {0}, msk = {0};
    lm_eval_result *er = calloc(1, sizeof *er);
    int rc = 0;
    if (!er) {
        rc = lm_err_code(LM_ENOMEM, "validation: out of memory");
        goto cleanup;
    }
    lm_predict_opts po = lm_predict_defaults();
    po.pad_multiple = pad_multiple;
    po.device = dev;
    for (int64_t i = 0; i < n && !rc; i++) {
        if ((rc = lm_valset_read(v, i, &img, &msk)) < 0) break;
        size_t np = (size_t)img.w * img.h;
        uint8_t *no = realloc(out, np * 3);
        if (!no) {
            rc = lm_err_code(LM_ENOMEM, "validation: out of memory");
            break;
        }
        out = no;
        if ((rc = lm_predict_image(out, g, img.data, msk.data, img.w, img.h, &po)) < 0 ||
            (rc = lm_eval_acc_add(acc, lm_valset_mask_path(v, i), lm_valset_image_path(v, i), NULL, img.data, msk.data, out, img.w, img.h)) < 0) {
            lm_err_prefix("validation: %s", lm_valset_mask_path(v, i));
            break;
        }
        lm_image_free(&img);
        lm_image_free(&msk);
    }
    /* always finish: the accumulator is empty for the next validation */
    int frc = lm_eval_acc_finish(acc, er);
    if (rc) goto cleanup;
    if ((rc = frc) < 0) {
        lm_err_prefix("validation");
        goto cleanup;
    }
    r->n = er->n;
    const lm_eval_metric *M = er->m;
    r->ssim = M[LM_M_SSIM].total;
    r->l1 = M[LM_M_L1].total;
    for (int b = 0; b < LM_VAL_BINS; b++) r->ssim_bin[b] = M[LM_M_SSIM].bin[b], r->l1_bin[b] = M[LM_M_L1].bin[b];
    /* the keys and order logged before LPIPS and FID joined, then the new ones */
    add(r, "ssim", "total", r->ssim);
    add(r, "l1", "total", r->l1);
    char nm[32];
    for (int b = 0; b < LM_VAL_BINS; b++) {
        lm_bin_name(nm, sizeof nm, b, LM_VAL_BINS);
        add(r, "ssim", nm, r->ssim_bin[b]);
        add(r, "l1", nm, r->l1_bin[b]);
    }
    if (!M[LM_M_LPIPS].skipped) {
        r->lpips = M[LM_M_LPIPS].total;
        add(r, "lpips", "total", r->lpips);
        for (int b = 0; b < LM_VAL_BINS; b++)
            add(r, "lpips", lm_bin_name(nm, sizeof nm, b, LM_VAL_BINS), M[LM_M_LPIPS].bin[b]);
    }
    if (!M[LM_M_FID].skipped) {
        r->fid = M[LM_M_FID].total.mean;
        add1(r, "fid", "total", "mean", r->fid);
        for (int b = 0; b < LM_VAL_BINS; b++)
            if (M[LM_M_FID].bin[b].n) add1(r, "fid", lm_bin_name(nm, sizeof nm, b, LM_VAL_BINS), "mean", M[LM_M_FID].bin[b].mean);
    }
    if (!M[LM_M_SSIM_F1].skipped) add1(r, "ssim_fid100_f1", "total", "mean", M[LM_M_SSIM_F1].total.mean);
    if (!M[LM_M_LPIPS_F1].skipped) add1(r, "lpips_fid100_f1", "total", "mean", M[LM_M_LPIPS_F1].total.mean);
    r->seconds = lm_clock_now() - t0;
cleanup:
    if (er) lm_eval_result_free(er);
    free(er);
    lm_image_free(&img);
    lm_image_free(&msk);
    free(out);
    return rc;
}

double lm_val_get(const lm_val_result *r, const char *name) {
    for (int i = 0; i < r->n_metrics; i++)
        if (!strcmp(r->metrics[i].key, name)) return r->metrics[i].value;
    return NAN;
}
