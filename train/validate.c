/* validate.c — validation during training (see validate.h). */
#include "train/validate.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/err.h"
#include "eval/metrics.h"
#include "eval/predict.h"
#include "model/lt_err.h"

static lt_tensor *to_tensor(const uint8_t *data, int h, int w, lt_device dev) {
    int64_t shp[4] = {1, h, w, 3}, perm[4] = {0, 3, 1, 2};
    lt_tensor *t = lt_from_buffer(data, shp, 4, LT_U8); // (1, H, W, 3)
    t = lt_contiguous(lt_mul_scalar(lt_to_dtype(lt_permute(t, perm, 4), LT_F32), 1.0 / 255.0)); // (1, 3, H, W)
    return dev == LT_CPU ? t : lt_to_device(t, dev);
}

static void add(lm_val_result *r, const char *metric, const char *group, lm_stat s) {
    if (s.n == 0 || r->n_metrics + 2 > LM_VAL_MAX_METRICS) return;
    for (int k = 0; k < 2; k++) {
        char *nm = r->names[r->n_metrics];
        snprintf(nm, sizeof r->names[0], "val_%s_%s_%s", metric, group, k ? "std" : "mean");
        r->metrics[r->n_metrics].key = nm;
        r->metrics[r->n_metrics].value = k ? s.std : s.mean;
        r->n_metrics++;
    }
}

int lm_validate(lm_val_result *r, lm_generator *g, const lm_valset *v, int64_t limit, int pad_multiple,
                lt_device dev) {
    memset(r, 0, sizeof *r);
    double t0 = lm_clock_now();
    int64_t n = lm_valset_count(v);
    if (limit >= 0 && limit < n) n = limit;
    double *ss = calloc((size_t)n + 1, sizeof *ss), *ll = calloc((size_t)n + 1, sizeof *ll);
    int *bin = calloc((size_t)n + 1, sizeof *bin);
    uint8_t *out = NULL;
    lm_image img = {0}, msk = {0};
    int rc = 0;
    if (!ss || !ll || !bin) {
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
        if ((rc = lm_predict_image(out, g, img.data, msk.data, img.w, img.h, &po)) < 0) {
            lm_err_prefix("validation: %s", lm_valset_mask_path(v, i));
            break;
        }
        bin[i] = lm_area_bin(lm_mask_area_u8(msk.data, np), LM_VAL_BINS, LM_BINS_ONLINE);
        lt_scope_push();
        lt_tensor *x = to_tensor(img.data, img.h, img.w, dev), *y = to_tensor(out, img.h, img.w, dev);
        lt_tensor *s = lm_ssim(y, x), *l = lm_l1(y, x); // (1)
        if (!s || !l) rc = lm_err_lt("validation: %s: metrics", lm_valset_mask_path(v, i));
        else ss[i] = lt_item(s), ll[i] = lt_item(l);
        lt_scope_pop();
        lm_image_free(&img);
        lm_image_free(&msk);
    }
    if (rc) goto cleanup;
    r->n = (int)n;
    r->ssim = lm_group_stat(ss, bin, (int)n, -1);
    r->l1 = lm_group_stat(ll, bin, (int)n, -1);
    add(r, "ssim", "total", r->ssim);
    add(r, "l1", "total", r->l1);
    for (int b = 0; b < LM_VAL_BINS; b++) {
        char nm[32];
        lm_bin_name(nm, sizeof nm, b, LM_VAL_BINS);
        r->ssim_bin[b] = lm_group_stat(ss, bin, (int)n, b);
        r->l1_bin[b] = lm_group_stat(ll, bin, (int)n, b);
        add(r, "ssim", nm, r->ssim_bin[b]);
        add(r, "l1", nm, r->l1_bin[b]);
    }
    r->seconds = lm_clock_now() - t0;
cleanup:
    lm_image_free(&img);
    lm_image_free(&msk);
    free(out);
    free(ss);
    free(ll);
    free(bin);
    return rc;
}

double lm_val_get(const lm_val_result *r, const char *name) {
    for (int i = 0; i < r->n_metrics; i++)
        if (!strcmp(r->metrics[i].key, name)) return r->metrics[i].value;
    return NAN;
}
