/* predict.c — one-image inpainting with the official prediction semantics (see predict.h;
 * official bin/predict.py, saicinpainting/evaluation/data.py pad_img_to_modulo,
 * saicinpainting/training/trainers/default.py forward). */
#include "eval/predict.h"

#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "model/lt_err.h"

lm_predict_opts lm_predict_defaults(void) {
    return (lm_predict_opts){.pad_multiple = 8, .device = LT_CPU, .precision = LT_F32};
}

int lm_ceil_modulo(int x, int m) {
    if (m <= 1 || x % m == 0) return x;
    return (x / m + 1) * m;
}

/* numpy 'symmetric': index i of a length-n axis padded at the end, period 2n. */
static int sym_index(int i, int n) {
    int j = i % (2 * n);
    return j < n ? j : 2 * n - 1 - j;
}

void lm_pad_symmetric_hwc(float *dst, const float *src, int h, int w, int c, int H, int W) {
    for (int y = 0; y < H; y++) {
        const float *srow = src + (size_t)sym_index(y, h) * w * c;
        float *drow = dst + (size_t)y * W * c;
        memcpy(drow, srow, (size_t)w * c * sizeof *drow);
        for (int x = w; x < W; x++)
            memcpy(drow + (size_t)x * c, srow + (size_t)sym_index(x, w) * c, (size_t)c * sizeof *drow);
    }
}

int lm_predict_image_float(float *out, lm_generator *g, const uint8_t *img, const uint8_t *mask,
                           int w, int h, const lm_predict_opts *o) {
    lm_predict_opts def = lm_predict_defaults();
    if (!o) o = &def;
    if (w <= 0 || h <= 0) return lm_err_code(LM_EINVAL, "predict: empty image (%dx%d)", w, h);
    int H = lm_ceil_modulo(h, o->pad_multiple), W = lm_ceil_modulo(w, o->pad_multiple);
    size_t n = (size_t)h * w, N = (size_t)H * W;
    float *src = malloc(n * 4 * sizeof *src);       /* (h, w, 4): r g b m */
    float *pad = malloc(N * 4 * sizeof *pad);       /* (H, W, 4) */
    float *pred = malloc(N * 3 * sizeof *pred);     /* (3, H, W) */
    int rc = 0;
    if (!src || !pad || !pred) {
        rc = lm_err_code(LM_ENOMEM, "predict: out of memory for a %dx%d image", w, h);
        goto cleanup;
    }
    for (size_t i = 0; i < n; i++) {
        for (int k = 0; k < 3; k++) src[i * 4 + k] = (float)img[i * 3 + k] / 255.0f;
        src[i * 4 + 3] = mask[i] > 0 ? 1.0f : 0.0f; /* gray / 255 > 0 */
    }
    lm_pad_symmetric_hwc(pad, src, h, w, 4, H, W);

    /* messages below must come from this forward, not from an earlier image's failure */
    lm_err_clear();
    lt_error_clear();
    lt_scope_push();
    lt_no_grad_push();
    int64_t shp[4] = {1, H, W, 4}, perm[4] = {0, 3, 1, 2};
    lt_tensor *x = lt_permute(lt_from_buffer(pad, shp, 4, LT_F32), perm, 4); /* (1, 4, H, W) */
    if (o->device != LT_CPU) x = lt_to_device(x, o->device);
    lt_tensor *m = lt_narrow(x, 1, 3, 1);                                 /* (1, 1, H, W) */
    lt_tensor *im = lt_narrow(x, 1, 0, 3);                                /* (1, 3, H, W) */
    lt_tensor *parts[2] = {lt_mul(im, lt_rsub_scalar(m, 1.0)), m};
    lt_tensor *in = lt_contiguous(lt_cat(parts, 2, 1));                   /* (1, 4, H, W) */
    if (o->precision == LT_F64) in = lt_to_dtype(in, LT_F64); /* the predictor's weights are float64 */
    int ac = o->precision == LT_BF16;
    if (ac && lt_autocast_enter(o->device, o->precision) < 0) in = NULL;
    lt_tensor *y = lm_generator_forward(g, in, 0);                        /* (1, 3, H, W) */
    if (ac && in) lt_autocast_exit();
    if (!y) {
        rc = lm_err_prefix("predict: %dx%d input", W, H); /* "...: generator forward: <shim message>" */
    } else if (lt_size(y, 1) != 3 || lt_size(y, 2) != H || lt_size(y, 3) != W) {
        rc = lm_err_set("predict: generator returned (%lld, %lld, %lld), expected (3, %d, %d)",
                        (long long)lt_size(y, 1), (long long)lt_size(y, 2),
                        (long long)lt_size(y, 3), H, W);
    } else if (lt_to_buffer(lt_to_dtype(y, LT_F32), pred, N * 3 * sizeof *pred) < 0) {
        rc = lm_err_lt("predict: output");
    }
    lt_no_grad_pop();
    lt_scope_pop();
    if (rc) goto cleanup;

    /* inpainted = mask * pred + (1 - mask) * img, cropped */
    for (int yy = 0; yy < h; yy++)
        for (int xx = 0; xx < w; xx++) {
            size_t i = (size_t)yy * w + xx, I = (size_t)yy * W + xx;
            float mk = src[i * 4 + 3];
            for (int k = 0; k < 3; k++)
                out[i * 3 + k] = mk * pred[(size_t)k * N + I] + (1.0f - mk) * src[i * 4 + k];
        }
cleanup:
    free(src);
    free(pad);
    free(pred);
    return rc;
}

int lm_predict_image(uint8_t *out, lm_generator *g, const uint8_t *img, const uint8_t *mask,
                     int w, int h, const lm_predict_opts *o) {
    size_t n = (size_t)(w > 0 ? w : 0) * (size_t)(h > 0 ? h : 0) * 3;
    float *f = malloc((n ? n : 1) * sizeof *f);
    if (!f) return lm_err_code(LM_ENOMEM, "predict: out of memory for a %dx%d image", w, h);
    int rc = lm_predict_image_float(f, g, img, mask, w, h, o);
    if (rc == 0) lm_predict_to_u8(out, f, n);
    free(f);
    return rc;
}

void lm_predict_to_u8(uint8_t *out, const float *f, size_t n) {
    for (size_t i = 0; i < n; i++) {
        float v = f[i] * 255.0f;                          /* uint8(clip(x * 255, 0, 255)) */
        v = v >= 0.0f ? (v > 255.0f ? 255.0f : v) : 0.0f; /* NaN -> 0, as numpy's cast */
        out[i] = (uint8_t)v;                              /* truncation */
    }
}
